package conn

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/peerwire/peerwire/crypto"
)

// BenchmarkHandshakePrimitives measures the CPU cost of each cryptographic
// step one side of a handshake takes, so that BenchmarkHandshake's rate
// can be read against what bounds it.
func BenchmarkHandshakePrimitives(b *testing.B) {
	cfg := testSecureConfig(b, 1)
	id := cfg.Identity
	var seed [32]byte
	rand.Read(seed[:])
	eph, _ := ecdh.X25519().NewPrivateKey(seed[:])
	peer, _ := ecdh.X25519().NewPrivateKey(seed[:])
	hello := make([]byte, HelloSize)
	var challenge [crypto.KeySize]byte
	var in [authInputBuf]byte
	input := crypto.AuthSigningInput(in[:0], challenge, crypto.RoleDialer, []byte("meta"))
	sig := id.Sign(input)
	peerPub := [32]byte(peer.PublicKey().Bytes())
	steps := []struct {
		name string
		run  func()
	}{
		{"x25519-keygen", func() { _ = crypto.X25519PublicKey(&seed) }},
		{"x25519-keygen-ecdh", func() { _, _ = ecdh.X25519().NewPrivateKey(seed[:]) }},
		{"x25519-shared", func() { _, _ = crypto.X25519(&seed, &peerPub) }},
		{"x25519-shared-ecdh", func() { _, _ = eph.ECDH(peer.PublicKey()) }},
		{"ed25519-sign", func() { _ = id.Sign(input) }},
		{"ed25519-verify", func() { _ = ed25519.Verify(id.PublicKey(), input, sig) }},
		{"hkdf", func() {
			th := crypto.Transcript("bench", hello, hello[18:50], hello, hello[18:50])
			_, _ = crypto.DeriveSessionKeys(seed[:], th)
		}},
	}
	for _, s := range steps {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.run()
			}
		})
	}
}

// BenchmarkHandshakeFloor runs the cryptographic work of one handshake,
// both ends, on one goroutine and without I/O: ephemeral keys, shared
// secrets, key schedules, signatures and verifications. Its ns/op is the
// CPU a handshake cannot do without; "floor-1core" is the rate one core
// could reach, "floor-2core" the rate with the two ends on two cores in
// perfect overlap (each end's steps depend on the other's, so the
// critical path is one end's work).
func BenchmarkHandshakeFloor(b *testing.B) {
	idA, idB := testSecureConfig(b, 1).Identity, testSecureConfig(b, 2).Identity
	hello := make([]byte, HelloSize)
	side := func(id *crypto.Identity, role crypto.Role, peerPub *[32]byte, peerKey ed25519.PublicKey, peerSig []byte) ([32]byte, []byte) {
		var seed [32]byte
		rand.Read(seed[:])
		pub := crypto.X25519PublicKey(&seed)
		if peerPub == nil {
			peerPub = &pub
		}
		shared, _ := crypto.X25519(&seed, peerPub)
		th := crypto.Transcript("bench", hello, hello[18:50], hello, hello[18:50])
		keys, _ := crypto.DeriveSessionKeys(shared[:], th)
		var in [authInputBuf]byte
		sig := id.Sign(crypto.AuthSigningInput(in[:0], keys.Challenge, role, nil))
		if peerSig != nil {
			_ = ed25519.Verify(peerKey, crypto.AuthSigningInput(in[:0], keys.Challenge, role.Opposite(), nil), peerSig)
		}
		return pub, sig
	}
	_, sigB := side(idB, crypto.RoleAcceptor, nil, nil, nil)
	b.ReportAllocs()
	for b.Loop() {
		pubA, sigA := side(idA, crypto.RoleDialer, nil, idB.PublicKey(), sigB)
		side(idB, crypto.RoleAcceptor, &pubA, idA.PublicKey(), sigA)
	}
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(1/perOp, "floor-1core/s")
	b.ReportMetric(2/perOp, "floor-2core/s")
}
