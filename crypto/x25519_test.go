package crypto

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
)

// TestX25519MatchesECDH: for random private keys, X25519PublicKey equals
// crypto/ecdh's public key, and X25519 equals crypto/ecdh's shared secret
// with random peers' keys, also with the top bit set and with
// non-canonical u-coordinates (p to 2^255 - 1).
func TestX25519MatchesECDH(t *testing.T) {
	curve := ecdh.X25519()
	peers := map[string]func() [32]byte{
		"public key": func() [32]byte {
			var s [32]byte
			rand.Read(s[:])
			k, _ := curve.NewPrivateKey(s[:])
			return [32]byte(k.PublicKey().Bytes())
		},
		"random bytes, top bit set": func() [32]byte {
			var u [32]byte
			rand.Read(u[:])
			u[31] |= 0x80
			return u
		},
		"non-canonical": func() [32]byte {
			u := [32]byte{0: 0xed + byte(randByte()%18)} // p .. p+17
			for i := 1; i < 31; i++ {
				u[i] = 0xff
			}
			u[31] = 0x7f
			return u
		},
	}
	for name, peerKey := range peers {
		t.Run(name, func(t *testing.T) {
			for range 100 {
				var priv [32]byte
				rand.Read(priv[:])
				k, err := curve.NewPrivateKey(priv[:])
				if err != nil {
					t.Fatal(err)
				}
				if got, want := X25519PublicKey(&priv), k.PublicKey().Bytes(); string(got[:]) != string(want) {
					t.Fatalf("public key of %x: %x, want %x", priv, got, want)
				}
				peer := peerKey()
				pk, err := curve.NewPublicKey(peer[:])
				if err != nil {
					t.Fatal(err)
				}
				want, wantErr := k.ECDH(pk)
				got, err := X25519(&priv, &peer)
				if (err != nil) != (wantErr != nil) {
					t.Fatalf("X25519(%x, %x): error %v, crypto/ecdh %v", priv, peer, err, wantErr)
				}
				if err == nil && string(got[:]) != string(want) {
					t.Fatalf("X25519(%x, %x) = %x, want %x", priv, peer, got, want)
				}
			}
		})
	}
}

func randByte() byte {
	var b [1]byte
	rand.Read(b[:])
	return b[0]
}

// TestX25519LowOrder: points of small order give ErrLowOrderPoint, as
// crypto/ecdh refuses them.
func TestX25519LowOrder(t *testing.T) {
	low := [][32]byte{
		{},  // 0
		{1}, // 1
		{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // p - 1
	}
	var priv [32]byte
	rand.Read(priv[:])
	for _, u := range low {
		if _, err := X25519(&priv, &u); !errors.Is(err, ErrLowOrderPoint) {
			t.Errorf("X25519 with u = %x: %v, want ErrLowOrderPoint", u, err)
		}
	}
}

// TestX25519Allocations: neither function allocates.
func TestX25519Allocations(t *testing.T) {
	var priv, peer [32]byte
	rand.Read(priv[:])
	peer = X25519PublicKey(&priv)
	if n := testing.AllocsPerRun(20, func() {
		_ = X25519PublicKey(&priv)
		_, _ = X25519(&priv, &peer)
	}); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

// TestX25519RFC7748 checks the ladder and the fixed-base public key against
// RFC 7748's own vectors: §5.2's two scalar multiplications and its
// iterated one (1 and 1,000 rounds, which catch a carry that random inputs
// rarely hit), and §6.1's Diffie-Hellman.
func TestX25519RFC7748(t *testing.T) {
	h := func(s string) [32]byte {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("bad vector %q", s)
		}
		return [32]byte(b)
	}
	for _, v := range []struct{ k, u, want string }{
		{"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4", "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
		{"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d", "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493", "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
	} {
		k, u := h(v.k), h(v.u)
		if got, err := X25519(&k, &u); err != nil || got != h(v.want) {
			t.Errorf("X25519(%s, %s) = %x, %v; want %s", v.k, v.u, got, err, v.want)
		}
	}
	k, u := [32]byte{9}, [32]byte{9}
	for i := 1; i <= 1000; i++ {
		r, err := X25519(&k, &u)
		if err != nil {
			t.Fatal(err)
		}
		u, k = k, r
		if i == 1 && k != h("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079") {
			t.Fatalf("iterated once: %x", k)
		}
	}
	if k != h("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51") {
		t.Fatalf("iterated 1000 times: %x", k)
	}
	alice, bob := h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"), h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
	alicePub, bobPub := X25519PublicKey(&alice), X25519PublicKey(&bob)
	if alicePub != h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a") || bobPub != h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f") {
		t.Fatalf("public keys %x, %x", alicePub, bobPub)
	}
	s1, err1 := X25519(&alice, &bobPub)
	s2, err2 := X25519(&bob, &alicePub)
	if err1 != nil || err2 != nil || s1 != s2 || s1 != h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742") {
		t.Fatalf("shared %x (%v), %x (%v)", s1, err1, s2, err2)
	}
}
