package p2p

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

func TestSeenCache(t *testing.T) {
	t0 := time.Unix(1000, 0)
	k := func(i byte) msgKey { return msgKey{i} }
	c := newSeenCache(3, time.Minute)
	if !c.Add(k(1), t0) || c.Add(k(1), t0.Add(time.Second)) {
		t.Fatal("first Add must report new, second must report seen")
	}
	c.Add(k(2), t0)
	c.Add(k(3), t0)
	c.Add(k(4), t0) // over the bound: k(1) goes
	if c.Has(k(1), t0) || !c.Has(k(4), t0) || c.Len() != 3 {
		t.Fatalf("bound not kept: len %d", c.Len())
	}
	later := t0.Add(time.Minute)
	if c.Has(k(2), later) {
		t.Fatal("entry outlived its TTL")
	}
	if !c.Add(k(2), later) || c.Len() != 1 {
		t.Fatalf("expired entries not dropped on Add: len %d", c.Len())
	}
}

func TestCheckEnvelope(t *testing.T) {
	seed := sha256.Sum256([]byte("origin"))
	origin, _ := crypto.IdentityFromSeed(seed[:])
	oid := origin.ID()
	signed := func(mut func(*pb.GossipEnvelope)) *pb.GossipEnvelope {
		env := &pb.GossipEnvelope{Hops: 3, Origin: oid[:], Nonce: 7, Payload: []byte("block")}
		id := gossipID(5, oid, 7, env.Payload)
		env.OriginKey = origin.PublicKey()
		env.Signature = origin.Sign(gossipSigningInput(id))
		if mut != nil {
			mut(env)
		}
		return env
	}
	tests := []struct {
		name    string
		env     *pb.GossipEnvelope
		sig     bool
		wantErr error
	}{
		{"signed ok", signed(nil), true, nil},
		{"unsigned allowed", &pb.GossipEnvelope{Hops: 1, Origin: oid[:]}, false, nil},
		{"bad origin", &pb.GossipEnvelope{Hops: 1, Origin: []byte{1}}, false, errGossipOrigin},
		{"zero hops", &pb.GossipEnvelope{Hops: 0, Origin: oid[:]}, false, errGossipHops},
		{"too many hops", &pb.GossipEnvelope{Hops: 11, Origin: oid[:]}, false, errGossipHops},
		{"payload altered", signed(func(e *pb.GossipEnvelope) { e.Payload = []byte("forged") }), true, errGossipSignature},
		{"nonce altered", signed(func(e *pb.GossipEnvelope) { e.Nonce++ }), true, errGossipSignature},
		{"key of another origin", signed(func(e *pb.GossipEnvelope) { e.OriginKey = make([]byte, 32) }), true, errGossipSignature},
		{"signature missing", signed(func(e *pb.GossipEnvelope) { e.Signature = nil }), true, errGossipSignature},
		{"hops may change", signed(func(e *pb.GossipEnvelope) { e.Hops = 1 }), true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := checkEnvelope(5, tc.env, 10, tc.sig)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
	a := gossipID(5, oid, 1, []byte("x"))
	if a == gossipID(6, oid, 1, []byte("x")) || a == gossipID(5, oid, 2, []byte("x")) || a == gossipID(5, crypto.ID{}, 1, []byte("x")) {
		t.Fatal("message ID ignores an input")
	}
}
