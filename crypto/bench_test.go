package crypto

import (
	"fmt"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// benchSizes are frame payload sizes; 64 KiB-16 is the largest plaintext
// whose ciphertext fits a 64 KiB frame.
var benchSizes = []int{64, 1 << 10, 16 << 10, 64<<10 - TagSize}

func sizeName(n int) string {
	switch {
	case n == 64<<10-TagSize:
		return "64KiB-16"
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkCipherState seals and opens one frame in place per iteration.
// Bytes are plaintext bytes per iteration (each is sealed and opened once).
func BenchmarkCipherState(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			send, recv := NewCipherState(testKey, 1<<62), NewCipherState(testKey, 1<<62)
			buf := make([]byte, size, size+TagSize)
			ad := []byte{byte(size >> 8), byte(size)}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				ct, err := send.Seal(buf[:0], buf, ad)
				if err != nil {
					b.Fatal(err)
				}
				if buf, err = recv.Open(ct[:0], ct, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawChaCha20Poly1305 is the baseline for BenchmarkCipherState:
// x/crypto ChaCha20-Poly1305 Seal and Open in place with the same nonce
// layout, without CipherState's counting.
func BenchmarkRawChaCha20Poly1305(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			aead, err := chacha20poly1305.New(testKey[:])
			if err != nil {
				b.Fatal(err)
			}
			var nonce [NonceSize]byte
			buf := make([]byte, size, size+TagSize)
			ad := []byte{byte(size >> 8), byte(size)}
			var n uint64
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				nonce[4], nonce[5], nonce[6], nonce[7] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
				n++
				ct := aead.Seal(buf[:0], nonce[:], buf, ad)
				if buf, err = aead.Open(ct[:0], nonce[:], ct, ad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDeriveSessionKeys(b *testing.B) {
	th := Transcript(vecNetwork, vecHelloLow, vecEphLow, vecHelloHigh, vecEphHigh)
	b.ReportAllocs()
	b.SetBytes(3 * KeySize)
	for b.Loop() {
		if _, err := DeriveSessionKeys(vecShared, th); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRatchet measures CipherState.Ratchet: one HKDF-Expand and a new
// AEAD instance.
func BenchmarkRatchet(b *testing.B) {
	s := NewCipherState(testKey, 1<<20)
	b.ReportAllocs()
	b.SetBytes(KeySize)
	for b.Loop() {
		s.Ratchet()
	}
}
