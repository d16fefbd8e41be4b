package p2p

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"testing"

	"github.com/peerwire/peerwire/internal/testutil"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

var updateGossipVectors = flag.Bool("update-vectors", false, "rewrite testdata/gossip_vectors.json from this implementation")

// computeGossipVectors builds the gossip message of docs/PROTOCOL.md §9.3
// from its fixed inputs and returns every value by name, hex encoded.
func computeGossipVectors(t *testing.T) map[string]string {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = 0x80 + byte(i)
	}
	origin, err := crypto.IdentityFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	oid := origin.ID()
	const topic, nonce, timeMs = 2, 0x0102030405060708, 1_700_000_000_000
	payload := []byte("block 1")
	id := gossipID(topic, oid, nonce, timeMs, payload)
	input := gossipSigningInput(id)
	sig := origin.Sign(input)
	signed, err := encodeGossip(&pb.GossipEnvelope{Hops: 10, Origin: oid[:], Nonce: nonce, Payload: payload,
		OriginKey: origin.PublicKey(), Signature: sig, TimeMs: timeMs})
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := encodeGossip(&pb.GossipEnvelope{Hops: 10, Origin: oid[:], Nonce: nonce, Payload: payload, TimeMs: timeMs})
	if err != nil {
		t.Fatal(err)
	}
	// The decoder must take back what the encoder wrote, with the same ID.
	am, err := parseAppMessage(&TopicConfig{TopicConfig: mux.TopicConfig{ID: topic, MaxMessageSize: 1024}}, 10, signed)
	if err != nil || am.id != id {
		t.Fatalf("signed vector does not decode to its ID: %v", err)
	}
	if ok, err := verifyOrigin(am.env, am.id, am.origin, true); !ok || err != nil {
		t.Fatalf("signed vector does not verify: %v", err)
	}
	v := map[string]string{}
	h := func(name string, b []byte) { v[name] = hex.EncodeToString(b) }
	h("gossip_origin_public", origin.PublicKey())
	h("gossip_origin_peer_id", oid[:])
	pre := append([]byte(labelGossipID), topic)
	pre = append(pre, oid[:]...)
	pre = binary.BigEndian.AppendUint64(pre, nonce)
	pre = binary.BigEndian.AppendUint64(pre, timeMs)
	pre = append(pre, payload...)
	if sha256.Sum256(pre) != id {
		t.Fatal("the documented ID preimage does not hash to the ID")
	}
	h("gossip_id_preimage", pre)
	h("gossip_id", id[:])
	h("gossip_signing_input", input)
	h("gossip_signature", sig)
	h("gossip_message_signed", signed)
	h("gossip_message_unsigned", unsigned)
	return v
}

// TestGossipVectors checks this implementation against
// testdata/gossip_vectors.json and checks that docs/PROTOCOL.md quotes
// every value (go test ./p2p -run TestGossipVectors -update-vectors
// rewrites the file).
func TestGossipVectors(t *testing.T) {
	testutil.CheckVectors(t, computeGossipVectors(t), "testdata/gossip_vectors.json", "../docs/PROTOCOL.md", *updateGossipVectors)
}
