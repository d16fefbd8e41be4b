package conn

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/hex"
	"flag"
	"net"
	"sync"
	"testing"

	"github.com/peerwire/peerwire/internal/testutil"

	"github.com/peerwire/peerwire/internal/conntest"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

var updateVectors = flag.Bool("update-vectors", false, "rewrite testdata/vectors.json from this implementation")

// vectorInputs are the fixed inputs of docs/PROTOCOL.md §7.
func vectorInputs() (dialer, acceptor *SecureConfig) {
	seq := func(start byte) []byte {
		b := make([]byte, 32)
		for i := range b {
			b[i] = start + byte(i)
		}
		return b
	}
	idD, _ := crypto.IdentityFromSeed(seq(0x00))
	idA, _ := crypto.IdentityFromSeed(seq(0x20))
	meta := &pb.PeerMeta{Role: pb.NodeRole_NODE_ROLE_FULL, SoftwareVersion: "peerwire/test", Topics: []byte{1, 2, 3}}
	mk := func(id *crypto.Identity, eph []byte) *SecureConfig {
		return &SecureConfig{Identity: id, NetworkID: "peerwire-vectors", ChainID: "chain-v", Meta: meta, Rand: bytes.NewReader(eph)}
	}
	return mk(idD, seq(0x40)), mk(idA, seq(0x60))
}

// recorder keeps a copy of everything written to the connection.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.out.Write(p)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.out.Bytes())
}

// computeVectors runs the handshake on fixed inputs and returns every
// intermediate value by name, hex encoded.
func computeVectors(t *testing.T) map[string]string {
	dc, ac := vectorInputs()
	rawC, rawS := conntest.TCPPair(t)
	recC, recS := &recorder{Conn: rawC}, &recorder{Conn: rawS}
	c, s := hs.Run(context.Background(), recC, recS, dc, ac, crypto.ID{})
	if c.Err != nil || s.Err != nil {
		t.Fatalf("handshake: %v / %v", c.Err, s.Err)
	}
	defer c.Conn.Close()
	defer s.Conn.Close()
	handshakeC := recC.bytes()
	if _, err := c.Conn.Write([]byte("hello, peerwire")); err != nil {
		t.Fatal(err)
	}
	dataFrame := recC.bytes()[len(handshakeC):]

	v := map[string]string{}
	h := func(name string, b []byte) { v[name] = hex.EncodeToString(b) }
	dialerEph, _ := ecdh.X25519().NewPrivateKey(seqBytes(0x40))
	acceptorEph, _ := ecdh.X25519().NewPrivateKey(seqBytes(0x60))
	shared, _ := dialerEph.ECDH(acceptorEph.PublicKey())
	helloD, helloA := handshakeC[:HelloSize], recS.bytes()[:HelloSize]
	th := crypto.Transcript("peerwire-vectors", helloD, helloD[18:50], helloA, helloA[18:50])
	keys, _ := crypto.DeriveSessionKeys(shared, th)
	h("dialer_identity_public", dc.Identity.PublicKey())
	idD, idA := c.Conn.LocalID(), s.Conn.LocalID()
	h("dialer_peer_id", idD[:])
	h("acceptor_identity_public", ac.Identity.PublicKey())
	h("acceptor_peer_id", idA[:])
	h("dialer_ephemeral_public", dialerEph.PublicKey().Bytes())
	h("acceptor_ephemeral_public", acceptorEph.PublicKey().Bytes())
	tag := crypto.NetworkTag("peerwire-vectors")
	h("network_tag", tag[:])
	h("dialer_hello", helloD)
	h("acceptor_hello", helloA)
	h("shared_secret", shared)
	h("transcript_hash", th[:])
	h("low_key", keys.LowKey[:])
	h("high_key", keys.HighKey[:])
	h("challenge", keys.Challenge[:])
	r, _ := dc.resolve()
	h("dialer_meta", r.metaBytes)
	h("dialer_auth_signing_input", crypto.AuthSigningInput(nil, keys.Challenge, crypto.RoleDialer, r.metaBytes))
	h("dialer_auth_frame", handshakeC[HelloSize:])
	h("acceptor_auth_frame", recS.bytes()[HelloSize:])
	h("dialer_first_data_frame", dataFrame)
	next := crypto.RatchetKey(keys.LowKey)
	h("low_key_after_one_rekey", next[:])
	return v
}

func seqBytes(start byte) []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// TestVectors checks this implementation against testdata/vectors.json and
// checks that docs/PROTOCOL.md quotes every value, so the spec cannot drift
// from the code.
func TestVectors(t *testing.T) {
	testutil.CheckVectors(t, computeVectors(t), "testdata/vectors.json", "../docs/PROTOCOL.md", *updateVectors)
}
