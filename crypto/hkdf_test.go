package crypto

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHKDFVectors: the stack HKDF-SHA256 gives RFC 5869's Appendix A.1–A.3
// answers (A.3 has an empty salt and info).
func TestHKDFVectors(t *testing.T) {
	seq := func(from, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(from + i)
		}
		return hex.EncodeToString(b)
	}
	tests := []struct {
		name, ikm, salt, info, prk, okm string
	}{
		{"A.1 basic", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", seq(0, 13), seq(0xf0, 10),
			"077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"A.2 long inputs", seq(0, 80), seq(0x60, 80), seq(0xb0, 80),
			"06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
			"b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
		{"A.3 empty salt and info", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
			"19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
			"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prk := hkdfExtract(unhex(t, tc.salt), unhex(t, tc.ikm))
			if got := hex.EncodeToString(prk[:]); got != tc.prk {
				t.Fatalf("PRK %s, want %s", got, tc.prk)
			}
			want := unhex(t, tc.okm)
			okm := make([]byte, len(want))
			hkdfExpand(okm, prk, string(unhex(t, tc.info)))
			if !bytes.Equal(okm, want) {
				t.Fatalf("OKM %x, want %x", okm, want)
			}
		})
	}
}

// TestHKDFMatchesStdlib: for random inputs of the sizes the schedule uses
// (and a long key, hashed first by HMAC), the stack HKDF equals crypto/hkdf.
func TestHKDFMatchesStdlib(t *testing.T) {
	for _, keyLen := range []int{0, 32, 64, 65, 100} {
		for range 20 {
			salt, ikm := make([]byte, keyLen), make([]byte, 32)
			rand.Read(salt)
			rand.Read(ikm)
			want, err := hkdf.Key(sha256.New, ikm, salt, labelSession, 96)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 96)
			hkdfExpand(got, hkdfExtract(salt, ikm), labelSession)
			if !bytes.Equal(got, want) {
				t.Fatalf("salt of %d bytes: %x, want %x", keyLen, got, want)
			}
		}
	}
}

// TestScheduleAllocations: deriving the session keys, the transcript and a
// ratchet allocate nothing.
func TestScheduleAllocations(t *testing.T) {
	shared := make([]byte, 32)
	hello := make([]byte, 52)
	n := testing.AllocsPerRun(100, func() {
		th := Transcript("some-network", hello, hello[18:50], hello, hello[18:50])
		k, _ := DeriveSessionKeys(shared, th)
		_ = RatchetKey(k.LowKey)
	})
	if n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}
