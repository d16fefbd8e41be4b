package crypto

import (
	"crypto/subtle"
	"errors"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// X25519 (RFC 7748) for the handshake's ephemeral keys, without the heap.
// crypto/ecdh computes a key's public half with the Montgomery ladder
// whenever a private key is made, also when only a shared secret is
// wanted; here the public key comes from the Ed25519 base point's
// precomputed table (a fixed-base multiplication, about a third of the
// ladder's cost) mapped to the Montgomery u-coordinate, and the shared
// secret from a ladder over the same field arithmetic. Both are checked
// against crypto/ecdh in x25519_test.go.

// ErrLowOrderPoint is returned by X25519 when the peer's point has small
// order, so the shared secret would be all zeros (RFC 7748 §6.1).
var ErrLowOrderPoint = errors.New("crypto: X25519 with a low-order point")

// X25519PublicKey returns the X25519 public key of the private key priv:
// priv, clamped, times the base point u = 9. It runs in constant time.
func X25519PublicKey(priv *[32]byte) [32]byte {
	var s edwards25519.Scalar
	// Clamping as X25519 does; the Ed25519 base point has prime order ℓ,
	// so reducing the scalar mod ℓ does not change the product.
	if _, err := s.SetBytesWithClamping(priv[:]); err != nil {
		panic("crypto: " + err.Error()) // 32 bytes: cannot happen
	}
	var p edwards25519.Point
	p.ScalarBaseMult(&s)
	// The birational map u = (1 + y) / (1 - y) takes the Ed25519 base
	// point to u = 9 (RFC 7748 §4.1).
	var pub [32]byte
	copy(pub[:], p.BytesMontgomery())
	return pub
}

// X25519 returns the shared secret of the private key priv and the peer's
// public key peer (RFC 7748 §5: priv clamped, peer's top bit ignored,
// non-canonical values accepted). It returns ErrLowOrderPoint if the
// result is all zeros. It runs in constant time.
func X25519(priv, peer *[32]byte) ([32]byte, error) {
	var k [32]byte
	copy(k[:], priv[:])
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64

	var x1, x2, z2, x3, z3 field.Element
	if _, err := x1.SetBytes(peer[:]); err != nil {
		panic("crypto: " + err.Error()) // 32 bytes: cannot happen
	}
	x2.One()
	z2.Zero()
	x3.Set(&x1)
	z3.One()
	var a, aa, b, bb, e, c, d, da, cb, t field.Element
	swap := 0
	for i := 254; i >= 0; i-- {
		bit := int(k[i/8]>>(i%8)) & 1
		swap ^= bit
		x2.Swap(&x3, swap)
		z2.Swap(&z3, swap)
		swap = bit

		a.Add(&x2, &z2)
		aa.Square(&a)
		b.Subtract(&x2, &z2)
		bb.Square(&b)
		e.Subtract(&aa, &bb)
		c.Add(&x3, &z3)
		d.Subtract(&x3, &z3)
		da.Multiply(&d, &a)
		cb.Multiply(&c, &b)
		x3.Add(&da, &cb)
		x3.Square(&x3)
		z3.Subtract(&da, &cb)
		z3.Square(&z3)
		z3.Multiply(&z3, &x1)
		x2.Multiply(&aa, &bb)
		t.Mult32(&e, 121665)
		t.Add(&t, &aa)
		z2.Multiply(&e, &t)
	}
	x2.Swap(&x3, swap)
	z2.Swap(&z3, swap)
	z2.Invert(&z2)
	x2.Multiply(&x2, &z2)
	clear(k[:])

	var out [32]byte
	copy(out[:], x2.Bytes())
	var zero [32]byte
	if subtle.ConstantTimeCompare(out[:], zero[:]) == 1 {
		return out, ErrLowOrderPoint
	}
	return out, nil
}
