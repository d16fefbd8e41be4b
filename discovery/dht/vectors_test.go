package dht

import (
	"bytes"
	"encoding/hex"
	"flag"
	"net/netip"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

var updateVectors = flag.Bool("update-vectors", false, "rewrite testdata/dht_vectors.json from this implementation")

const vectorNetwork = "peerwire-test"

// vectorKey returns the identity whose seed is the 32 bytes first, first+1, ….
func vectorKey(t *testing.T, first byte) *crypto.Identity {
	t.Helper()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = first + byte(i)
	}
	k, err := crypto.IdentityFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// computeVectors builds the records and messages of docs/PROTOCOL.md
// §10.4 from their fixed inputs, checks that the decoders take each back,
// and returns them by name, hex encoded.
func computeVectors(t *testing.T) map[string]string {
	a := vectorKey(t, 0xa0)
	b := vectorKey(t, 0xc0)
	recA, err := NewRecord(a, vectorNetwork, 1700000000000, RoleServer, []netip.AddrPort{
		netip.MustParseAddrPort("203.0.113.7:26656"), netip.MustParseAddrPort("[2001:db8::7]:26656")})
	if err != nil {
		t.Fatal(err)
	}
	recB, err := NewRecord(b, vectorNetwork, 5, RoleServer|0x80, []netip.AddrPort{netip.MustParseAddrPort("198.51.100.9:9000")})
	if err != nil {
		t.Fatal(err)
	}
	var target crypto.ID
	for i := range target {
		target[i] = 0x11
	}
	msgs := map[string]*Message{
		"dht_find_node":        {Type: MsgFindNode, Target: target, Self: recA.Bytes()},
		"dht_find_node_client": {Type: MsgFindNode, Target: target},
		"dht_nodes":            {Type: MsgNodes, Self: recB.Bytes(), Nodes: [][]byte{recA.Bytes()}},
		"dht_ping":             {Type: MsgPing},
		"dht_pong":             {Type: MsgPong, Self: recB.Bytes()},
	}
	v := map[string]string{
		"dht_record_a_peer_id":       a.ID().String(),
		"dht_record_a_signing_input": hex.EncodeToString(signingInput(vectorNetwork, recA.Bytes()[:len(recA.Bytes())-64])),
		"dht_record_a":               hex.EncodeToString(recA.Bytes()),
		"dht_record_b":               hex.EncodeToString(recB.Bytes()),
	}
	for _, r := range []*Record{recA, recB} {
		got, err := DecodeRecord(vectorNetwork, r.Bytes())
		if err != nil || got.ID != r.ID || got.Seq != r.Seq || got.Roles != r.Roles || len(got.Addrs) != len(r.Addrs) {
			t.Fatalf("record %s does not decode back: %+v, %v", r.ID.Short(), got, err)
		}
	}
	for name, m := range msgs {
		enc, err := m.Encode()
		if err != nil {
			t.Fatal(name, err)
		}
		got, err := DecodeMessage(enc)
		if err != nil {
			t.Fatalf("%s does not decode: %v", name, err)
		}
		if got.Type != m.Type || got.Target != m.Target || !bytes.Equal(got.Self, m.Self) || len(got.Nodes) != len(m.Nodes) {
			t.Fatalf("%s decodes to %+v, want %+v", name, got, m)
		}
		v[name] = hex.EncodeToString(enc)
	}
	return v
}

// TestVectors checks this implementation against testdata/dht_vectors.json
// and checks that docs/PROTOCOL.md quotes every value (go test
// ./discovery/dht -run TestVectors -update-vectors rewrites the file).
func TestVectors(t *testing.T) {
	testutil.CheckVectors(t, computeVectors(t), "testdata/dht_vectors.json", "../../docs/PROTOCOL.md", *updateVectors)
}
