package p2p

import (
	"crypto/sha256"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

func TestSeenCache(t *testing.T) {
	t0 := time.Unix(1000, 0)
	k := func(i int) msgKey { return msgKey{byte(i), byte(i >> 8), byte(i >> 16)} }
	p, q := crypto.ID{1}, crypto.ID{2}
	c := newSeenCache(4, time.Minute)
	if c.Add(k(1), p, 2, t0) != seenNew || c.Add(k(1), q, 2, t0.Add(time.Second)) != seenDuplicate {
		t.Fatal("first Add must report new, second must report seen")
	}
	if c.Add(k(2), p, 2, t0) != seenNew || c.Add(k(3), p, 2, t0) != seenRefused {
		t.Fatal("a source over its budget must be refused")
	}
	if !c.Has(k(1), t0) || c.Has(k(3), t0) || c.Held(p) != 2 {
		t.Fatalf("a refusal evicted or recorded something: held %d", c.Held(p))
	}
	c.Add(k(4), q, 2, t0)
	c.Add(k(5), q, 2, t0)
	if c.Add(k(6), crypto.ID{3}, 2, t0) != seenRefused || c.Len() != 4 {
		t.Fatalf("a full cache must refuse, not evict: len %d", c.Len())
	}
	later := t0.Add(time.Minute)
	if c.Has(k(2), later) {
		t.Fatal("entry outlived its TTL")
	}
	if c.Add(k(3), p, 2, later) != seenNew || c.Len() != 1 || c.Held(p) != 1 || c.Held(q) != 0 {
		t.Fatalf("expired entries not dropped on Add: len %d, held %d/%d", c.Len(), c.Held(p), c.Held(q))
	}
}

// TestSeenCacheFlood: the audit's case at the unit level. One source adds
// M and then 100,001 fresh IDs within the TTL; M is still remembered, and
// another source's new IDs are still taken.
func TestSeenCacheFlood(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const size, peers = 100_000, 50
	budget := size / (peers + 1)
	attacker, honest := crypto.ID{1}, crypto.ID{2}
	c := newSeenCache(size, 2*time.Minute)
	m := msgKey{0xff, 0xff, 0xff, 0xff}
	c.Add(m, attacker, budget, t0)
	refused := 0
	for i := 0; i < 100_001; i++ {
		if c.Add(msgKey{byte(i), byte(i >> 8), byte(i >> 16)}, attacker, budget, t0.Add(time.Duration(i))) == seenRefused {
			refused++
		}
	}
	if !c.Has(m, t0.Add(time.Second)) {
		t.Fatal("the flood pushed M out")
	}
	if refused != 100_001-(budget-1) || c.Held(attacker) != budget {
		t.Fatalf("refused %d, held %d, want %d and %d", refused, c.Held(attacker), 100_001-(budget-1), budget)
	}
	if c.Add(msgKey{0xfe, 0xff, 0xff, 0xff}, honest, budget, t0.Add(time.Second)) != seenNew {
		t.Fatal("another peer's new ID was refused")
	}
}

func TestCheckEnvelope(t *testing.T) {
	seed := sha256.Sum256([]byte("origin"))
	origin, _ := crypto.IdentityFromSeed(seed[:])
	oid := origin.ID()
	const ts = 1_700_000_000_000
	signed := func(mut func(*pb.GossipEnvelope)) *pb.GossipEnvelope {
		env := &pb.GossipEnvelope{Hops: 3, Origin: oid[:], Nonce: 7, Payload: []byte("block"), TimeMs: ts}
		id := gossipID(5, oid, 7, ts, env.Payload)
		env.OriginKey = origin.PublicKey()
		env.Signature = origin.Sign(gossipSigningInput(id))
		if mut != nil {
			mut(env)
		}
		return env
	}
	tests := []struct {
		name     string
		env      *pb.GossipEnvelope
		sig      bool
		wantErr  error
		verified bool
	}{
		{"signed ok", signed(nil), true, nil, true},
		{"signed ok on an unsigned topic", signed(nil), false, nil, true},
		{"unsigned allowed", &pb.GossipEnvelope{Hops: 1, Origin: oid[:]}, false, nil, false},
		{"unsigned on a signed topic", &pb.GossipEnvelope{Hops: 1, Origin: oid[:]}, true, errGossipSignature, false},
		{"bad origin", &pb.GossipEnvelope{Hops: 1, Origin: []byte{1}}, false, errGossipOrigin, false},
		{"zero hops", &pb.GossipEnvelope{Hops: 0, Origin: oid[:]}, false, errGossipHops, false},
		{"too many hops", &pb.GossipEnvelope{Hops: 11, Origin: oid[:]}, false, errGossipHops, false},
		{"payload altered", signed(func(e *pb.GossipEnvelope) { e.Payload = []byte("forged") }), true, errGossipSignature, false},
		{"nonce altered", signed(func(e *pb.GossipEnvelope) { e.Nonce++ }), true, errGossipSignature, false},
		{"time altered", signed(func(e *pb.GossipEnvelope) { e.TimeMs++ }), true, errGossipSignature, false},
		{"time altered, unsigned topic", signed(func(e *pb.GossipEnvelope) { e.TimeMs++ }), false, errGossipSignature, false},
		{"key of another origin", signed(func(e *pb.GossipEnvelope) { e.OriginKey = make([]byte, 32) }), true, errGossipSignature, false},
		{"signature missing", signed(func(e *pb.GossipEnvelope) { e.Signature = nil }), true, errGossipSignature, false},
		{"signature without key, unsigned topic", signed(func(e *pb.GossipEnvelope) { e.OriginKey = nil }), false, errGossipSignature, false},
		{"hops may change", signed(func(e *pb.GossipEnvelope) { e.Hops = 1 }), true, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, o, err := checkEnvelope(5, tc.env, 10)
			verified := false
			if err == nil {
				verified, err = verifyOrigin(tc.env, id, o, tc.sig)
			}
			if !errors.Is(err, tc.wantErr) || verified != tc.verified {
				t.Fatalf("got %v verified=%v, want %v verified=%v", err, verified, tc.wantErr, tc.verified)
			}
		})
	}
	a := gossipID(5, oid, 1, ts, []byte("x"))
	if a == gossipID(6, oid, 1, ts, []byte("x")) || a == gossipID(5, oid, 2, ts, []byte("x")) ||
		a == gossipID(5, crypto.ID{}, 1, ts, []byte("x")) || a == gossipID(5, oid, 1, ts+1, []byte("x")) {
		t.Fatal("message ID ignores an input")
	}
}

func TestCheckGossipTime(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	const age, skew = 90 * time.Second, 30 * time.Second
	ms := func(d time.Duration) uint64 { return uint64(now.Add(d).UnixMilli()) }
	tests := []struct {
		name string
		ts   uint64
		want error
	}{
		{"now", ms(0), nil},
		{"oldest accepted", ms(-age), nil},
		{"a millisecond too old", ms(-age - time.Millisecond), errGossipStale},
		{"no timestamp", 0, errGossipStale},
		{"furthest ahead accepted", ms(skew), nil},
		{"a millisecond too far ahead", ms(skew + time.Millisecond), errGossipFuture},
		{"beyond int64", math.MaxUint64, errGossipFuture},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkGossipTime(tc.ts, now, age, skew); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
