package crypto

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"sync/atomic"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrNonceExhausted is returned by CipherState.Seal when the key has reached
// its hard limit of frames; the connection must end.
var ErrNonceExhausted = errors.New("crypto: nonce space exhausted for this key")

// ErrOpen is returned by CipherState.Open when a frame fails authentication.
var ErrOpen = errors.New("crypto: message authentication failed")

// CipherState is one direction's frame AEAD: a ChaCha20-Poly1305 key and the
// count of frames it has protected, which is the nonce of the next frame.
// The nonce is 4 zero bytes followed by the 64-bit little-endian counter
// (RFC 8439 §2.8 with a 96-bit nonce). Ratchet replaces the key with
// RatchetKey(key) and restarts the count at zero.
//
// Seal and Open must not be called concurrently with each other or Ratchet;
// Count may be called from any goroutine.
type CipherState struct {
	aead  cipher.AEAD
	key   [KeySize]byte
	nonce [NonceSize]byte
	n     atomic.Uint64
	limit uint64
}

// NewCipherState returns a CipherState for key that refuses to seal or open
// a frame once limit frames have used the current key. limit must be > 0.
func NewCipherState(key [KeySize]byte, limit uint64) *CipherState {
	if limit == 0 {
		panic("crypto: CipherState limit must be > 0")
	}
	s := &CipherState{key: key, limit: limit}
	s.aead = newAEAD(&s.key)
	return s
}

func newAEAD(key *[KeySize]byte) cipher.AEAD {
	a, err := chacha20poly1305.New(key[:])
	if err != nil {
		panic("crypto: " + err.Error()) // key length is fixed, cannot happen
	}
	return a
}

// Count returns how many frames the current key has sealed or opened.
func (s *CipherState) Count() uint64 { return s.n.Load() }

// Remaining returns how many more frames the current key may protect.
func (s *CipherState) Remaining() uint64 { return s.limit - s.n.Load() }

func (s *CipherState) nextNonce() ([]byte, error) {
	n := s.n.Load()
	if n >= s.limit {
		return nil, ErrNonceExhausted
	}
	s.n.Store(n + 1)
	binary.LittleEndian.PutUint64(s.nonce[4:], n)
	return s.nonce[:], nil
}

// Seal encrypts and authenticates plaintext with additional data ad, appends
// the result to dst and returns it. It does not allocate when dst has room
// for len(plaintext)+TagSize more bytes. plaintext and dst may overlap exactly.
func (s *CipherState) Seal(dst, plaintext, ad []byte) ([]byte, error) {
	nonce, err := s.nextNonce()
	if err != nil {
		return dst, err
	}
	return s.aead.Seal(dst, nonce, plaintext, ad), nil
}

// Open authenticates and decrypts ciphertext with additional data ad,
// appending the plaintext to dst. A failed frame still consumes its nonce:
// the stream is dead after any failure. It returns ErrOpen on failure.
func (s *CipherState) Open(dst, ciphertext, ad []byte) ([]byte, error) {
	nonce, err := s.nextNonce()
	if err != nil {
		return dst, err
	}
	out, err := s.aead.Open(dst, nonce, ciphertext, ad)
	if err != nil {
		return dst, ErrOpen
	}
	return out, nil
}

// Ratchet moves to the next key (RatchetKey) and restarts the frame count.
// The previous key is overwritten.
func (s *CipherState) Ratchet() {
	next := RatchetKey(s.key)
	s.key = next
	clear(next[:])
	s.aead = newAEAD(&s.key)
	s.n.Store(0)
}

// Destroy overwrites the key. The CipherState must not be used afterwards.
func (s *CipherState) Destroy() {
	clear(s.key[:])
	s.n.Store(s.limit)
}
