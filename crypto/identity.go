package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// IDLen is the length of a peer ID in bytes.
const IDLen = 20

// ID identifies a peer: the first 20 bytes of SHA-256 over its Ed25519 public
// key. Its printable form is 40 lowercase hex digits. The zero ID means "unknown".
type ID [IDLen]byte

// IDFromPublicKey derives the peer ID of an Ed25519 public key.
// It panics if pub is not 32 bytes long (a programmer error).
func IDFromPublicKey(pub ed25519.PublicKey) ID {
	if len(pub) != ed25519.PublicKeySize {
		panic("crypto: bad Ed25519 public key length")
	}
	sum := sha256.Sum256(pub)
	var id ID
	copy(id[:], sum[:IDLen])
	return id
}

// ParseID parses the 40-hex-digit form of a peer ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDLen {
		return id, fmt.Errorf("crypto: peer ID %q: want %d hex digits, have %d", s, 2*IDLen, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("crypto: peer ID %q: not hex", s)
	}
	return id, nil
}

// IDFromBytes converts a 20-byte slice, as carried in protobuf messages, to an ID.
func IDFromBytes(b []byte) (ID, error) {
	var id ID
	if len(b) != IDLen {
		return id, fmt.Errorf("crypto: peer ID is %d bytes, want %d", len(b), IDLen)
	}
	copy(id[:], b)
	return id, nil
}

// String returns the 40-hex-digit form of id.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hex digits of id, for logs and tables.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is the zero ("unknown") ID.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Identity is a node's long-term Ed25519 key pair. It is immutable and safe
// for concurrent use.
type Identity struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	id   ID
}

// GenerateIdentity makes a new identity from rand (crypto/rand.Reader when nil).
func GenerateIdentity(rnd io.Reader) (*Identity, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var seed [ed25519.SeedSize]byte
	if _, err := io.ReadFull(rnd, seed[:]); err != nil {
		return nil, fmt.Errorf("crypto: generating identity: %w", err)
	}
	return IdentityFromSeed(seed[:])
}

// IdentityFromSeed makes the identity whose Ed25519 private key has the given
// 32-byte seed (RFC 8032).
func IdentityFromSeed(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, errors.New("crypto: Ed25519 seed must be 32 bytes")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	return &Identity{priv: priv, pub: pub, id: IDFromPublicKey(pub)}, nil
}

// ID returns the identity's peer ID.
func (k *Identity) ID() ID { return k.id }

// PublicKey returns the Ed25519 public key. The caller must not modify it.
func (k *Identity) PublicKey() ed25519.PublicKey { return k.pub }

// Seed returns a copy of the 32-byte private seed.
func (k *Identity) Seed() []byte { return append([]byte(nil), k.priv.Seed()...) }

// Sign signs msg with the identity's private key.
func (k *Identity) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }
