package crypto

import (
	"crypto/ecdh"
	"crypto/rand"
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
