package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Role is a side of the handshake. It is signed into each side's auth
// message, so an identity proof made as one role cannot be replayed as the other.
type Role byte

// The two handshake roles, with the byte each contributes to the auth signing input.
const (
	RoleDialer   Role = 1
	RoleAcceptor Role = 2
)

// Opposite returns the other role.
func (r Role) Opposite() Role {
	if r == RoleDialer {
		return RoleAcceptor
	}
	return RoleDialer
}

func (r Role) String() string {
	switch r {
	case RoleDialer:
		return "dialer"
	case RoleAcceptor:
		return "acceptor"
	}
	return fmt.Sprintf("role(%d)", byte(r))
}

// NetworkTag returns the first 8 bytes of SHA-256("peerwire/1 network" ||
// networkID). It travels in the clear in the hello so that peers of different
// networks part with a clear error before any key is derived.
func NetworkTag(networkID string) [NetworkTagSize]byte {
	h := sha256.New()
	h.Write([]byte(labelNetworkTag))
	h.Write([]byte(networkID))
	var tag [NetworkTagSize]byte
	copy(tag[:], h.Sum(nil))
	return tag
}

// Transcript hashes what both sides sent in the clear: SHA-256 of the label,
// the network ID (16-bit big-endian length, then bytes), and the two hello
// messages in canonical order (the hello whose ephemeral key is bytewise
// smaller first). The caller passes each hello with its ephemeral key; the
// hellos are fixed-size, so their concatenation needs no length prefixes.
// The network ID is at most 64 bytes, so its 16-bit length never truncates.
func Transcript(networkID string, helloA, ephA, helloB, ephB []byte) [32]byte {
	if bytes.Compare(ephA, ephB) > 0 {
		helloA, helloB = helloB, helloA
	}
	// Hashed from one stack buffer: label, 2, at most 64 and two hellos
	// (52 bytes each today) fit, so no heap is used.
	var buf [256]byte
	b := append(buf[:0], labelTranscript...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(networkID)))
	b = append(b, networkID...)
	b = append(b, helloA...)
	b = append(b, helloB...)
	return sha256.Sum256(b)
}

// SessionKeys are what the handshake derives: one traffic key per direction
// and the challenge both sides sign.
type SessionKeys struct {
	// LowKey protects traffic sent by the side whose ephemeral key is
	// bytewise smaller; HighKey protects traffic sent by the other side.
	LowKey, HighKey [KeySize]byte
	// Challenge is signed by both identities to prove possession.
	Challenge [KeySize]byte
}

// DeriveSessionKeys runs HKDF-SHA256 (RFC 5869) with the transcript hash as
// salt and the X25519 shared secret as input keying material, expanding 96
// bytes under the label "peerwire/1 session keys": LowKey, HighKey, Challenge.
func DeriveSessionKeys(shared []byte, transcript [32]byte) (SessionKeys, error) {
	var okm [3 * KeySize]byte
	prk := hkdfExtract(transcript[:], shared)
	hkdfExpand(okm[:], prk, labelSession)
	clear(prk[:])
	var k SessionKeys
	copy(k.LowKey[:], okm[0:32])
	copy(k.HighKey[:], okm[32:64])
	copy(k.Challenge[:], okm[64:96])
	clear(okm[:])
	return k, nil
}

// RatchetKey returns the next traffic key after key: HKDF-Expand-SHA256 with
// key as the pseudorandom key, info "peerwire/1 rekey", 32 bytes out. The old
// key cannot be computed from the new one.
func RatchetKey(key [KeySize]byte) [KeySize]byte {
	var next [KeySize]byte
	hkdfExpand(next[:], key, labelRekey)
	return next
}

// AuthSigningInput returns the bytes an identity signs in the handshake:
// "peerwire/1 auth" || challenge || role byte || serialized PeerMeta. It
// appends to dst and returns the extended slice.
func AuthSigningInput(dst []byte, challenge [KeySize]byte, role Role, meta []byte) []byte {
	dst = append(dst, labelAuth...)
	dst = append(dst, challenge[:]...)
	dst = append(dst, byte(role))
	return append(dst, meta...)
}
