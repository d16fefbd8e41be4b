package p2p

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// replayRig is a node on a fake clock with one raw peer that can send any
// gossip envelope, for the replay tests. Topic txs is unsigned there (the
// flood would otherwise spend its time in Ed25519); votes and blocks are
// signed, the default.
type replayRig struct {
	t     *testing.T
	clock *clock.Fake
	v     *Node
	cv    *inboxCounter
	peer  *rawPeer
	orig  *crypto.Identity
	marks int
}

func newReplayRig(t *testing.T, seed int) *replayRig {
	clk := clock.NewFake()
	cfg := quietConfig(t, seed)
	onFakeClock(&cfg, clk)
	cfg.Topics[topicTxs-1].UnsignedGossip = true
	v := startNode(t, cfg)
	r := &replayRig{t: t, clock: clk, v: v, cv: drainInboxes(v), orig: testIdentity(t, seed+2)}
	p, err := dialRaw(t, v, testIdentity(t, seed+1), "")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "raw peer admitted", func() bool { return connectedTo(v, p.id.ID()) })
	r.peer = p
	return r
}

// envelope builds a one-hop gossip message of r's origin, timestamped at
// at, signed unless the topic is txs.
func (r *replayRig) envelope(topic uint8, payload string, nonce uint64, at time.Time) []byte {
	oid := r.orig.ID()
	env := &pb.GossipEnvelope{Hops: 1, Origin: oid[:], Nonce: nonce, Payload: []byte(payload), TimeMs: uint64(at.UnixMilli())}
	if topic != topicTxs {
		env.OriginKey = r.orig.PublicKey()
		env.Signature = r.orig.Sign(gossipSigningInput(gossipID(topic, oid, nonce, env.TimeMs, env.Payload)))
	}
	b, err := encodeGossip(env)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *replayRig) send(topic uint8, msg []byte) {
	if err := r.peer.mc.Send(context.Background(), topic, msg); err != nil {
		r.t.Fatal(err)
	}
}

// sync sends a direct marker behind everything sent so far on topic and
// waits until the node delivered it: every earlier message was handled.
func (r *replayRig) sync(topic uint8) {
	r.t.Helper()
	r.marks++
	data := fmt.Sprintf("marker-%d", r.marks)
	r.send(topic, append([]byte{kindDirect}, data...))
	testutil.Eventually(r.t, 60*time.Second, data+" delivered", func() bool { return r.cv.count(topic, data) == 1 })
}

// TestGossipReplayAfterJunkFlood is the audit's reproduction: one peer
// sends M, then 100,001 gossip messages with fresh IDs, then M again,
// all within M's lifetime. M is delivered once: the flood cannot push M
// out of the seen-cache; the peer's IDs beyond its share are refused.
func TestGossipReplayAfterJunkFlood(t *testing.T) {
	r := newReplayRig(t, 700)
	now := r.clock.Now()
	m := r.envelope(topicTxs, "M", 1, now)
	r.send(topicTxs, m)
	const junk = 100_001
	for i := 0; i < junk; i++ {
		r.send(topicTxs, r.envelope(topicTxs, "junk", uint64(i)+2, now))
	}
	r.send(topicTxs, m)
	r.sync(topicTxs)
	if got := r.cv.count(topicTxs, "M"); got != 1 {
		t.Fatalf("M delivered %d times, want once", got)
	}
	share := r.v.s.SeenCacheSize / 2 // one peer and the node itself
	s := r.v.Stats()
	if want := uint64(junk - (share - 1)); s.GossipSeenRefused != want || r.cv.count(topicTxs, "junk") != share-1 {
		t.Fatalf("refused %d, delivered %d junk; want %d and %d", s.GossipSeenRefused, r.cv.count(topicTxs, "junk"), want, share-1)
	}
	if sc, _ := r.v.Score(r.peer.id.ID()); sc < 0 {
		t.Fatalf("refusing over-budget gossip cost the peer score %v", sc)
	}
}

// TestGossipReplayAfterTTL: M replayed once the seen-cache has forgotten
// it carries its old timestamp, so it is dropped as stale and counted, on
// a signed and on an unsigned topic, and the peer keeps its standing.
func TestGossipReplayAfterTTL(t *testing.T) {
	for _, topic := range []uint8{topicBlocks, topicTxs} {
		t.Run(fmt.Sprint("topic ", topic), func(t *testing.T) {
			r := newReplayRig(t, 710+int(topic)*3)
			m := r.envelope(topic, "M", 1, r.clock.Now())
			r.send(topic, m)
			r.sync(topic)
			r.clock.Advance(r.v.s.SeenTTL + time.Second)
			r.send(topic, m)
			r.sync(topic)
			if got := r.cv.count(topic, "M"); got != 1 {
				t.Fatalf("M delivered %d times, want once", got)
			}
			s := r.v.Stats()
			if s.GossipStale != 1 || s.Malformed != 0 {
				t.Fatalf("stale %d, malformed %d; want 1 and 0", s.GossipStale, s.Malformed)
			}
			if sc, _ := r.v.Score(r.peer.id.ID()); sc < 0 || !connectedTo(r.v, r.peer.id.ID()) {
				t.Fatalf("a stale message cost the peer: score %v", sc)
			}
		})
	}
}

// TestGossipTimestampBounds: a message is taken up to GossipMaxAge old
// and GossipMaxSkew ahead of the node's clock, and dropped (counted, no
// penalty) a millisecond beyond either.
func TestGossipTimestampBounds(t *testing.T) {
	r := newReplayRig(t, 730)
	age, skew := r.v.s.GossipMaxAge, r.v.s.GossipMaxSkew
	tests := []struct {
		name         string
		offset       time.Duration
		delivered    bool
		stale, futur uint64
	}{
		{"oldest accepted", -age, true, 0, 0},
		{"too old", -age - time.Millisecond, false, 1, 0},
		{"furthest ahead accepted", skew, true, 1, 0},
		{"too far ahead", skew + time.Millisecond, false, 1, 1},
	}
	for i, tc := range tests {
		payload := "msg " + tc.name
		r.send(topicBlocks, r.envelope(topicBlocks, payload, uint64(i)+1, r.clock.Now().Add(tc.offset)))
		r.sync(topicBlocks)
		if got := r.cv.count(topicBlocks, payload) == 1; got != tc.delivered {
			t.Errorf("%s: delivered %v, want %v", tc.name, got, tc.delivered)
		}
		if s := r.v.Stats(); s.GossipStale != tc.stale || s.GossipFuture != tc.futur {
			t.Errorf("%s: stale %d future %d, want %d %d", tc.name, s.GossipStale, s.GossipFuture, tc.stale, tc.futur)
		}
	}
	if sc, _ := r.v.Score(r.peer.id.ID()); sc < 0 || r.v.Stats().Malformed != 0 {
		t.Fatalf("timestamps out of range cost the peer: score %v", sc)
	}
}

// TestGossipOriginVerified: a delivered message says whether its origin
// was verified: on a signed topic (the default) it always is, and an
// unsigned claim is refused; on an UnsignedGossip topic a relay's claim of
// any origin is delivered, marked unverified.
func TestGossipOriginVerified(t *testing.T) {
	r := newReplayRig(t, 740)
	claimed := testIdentity(t, 745).ID() // never signs anything here
	unsigned := func(topic uint8, payload string) []byte {
		env := &pb.GossipEnvelope{Hops: 1, Origin: claimed[:], Nonce: 1, Payload: []byte(payload), TimeMs: uint64(r.clock.Now().UnixMilli())}
		b, err := encodeGossip(env)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	r.send(topicVotes, unsigned(topicVotes, "spoofed vote"))
	r.send(topicVotes, r.envelope(topicVotes, "signed vote", 2, r.clock.Now()))
	r.send(topicTxs, unsigned(topicTxs, "spoofed tx"))
	r.sync(topicVotes)
	r.sync(topicTxs)
	got := map[string]*Message{}
	for _, m := range r.cv.messages() {
		got[string(m.Data)] = m
	}
	if m := got["spoofed vote"]; m != nil {
		t.Fatal("an unsigned claim was delivered on a signed topic")
	}
	if m := got["signed vote"]; m == nil || !m.OriginVerified || m.Origin != r.orig.ID() {
		t.Fatalf("signed vote: %+v", m)
	}
	if m := got["spoofed tx"]; m == nil || m.OriginVerified || m.Origin != claimed {
		t.Fatalf("unsigned tx: %+v, want delivered with the claimed origin, unverified", m)
	}
	if s := r.v.Stats(); s.Malformed != 1 {
		t.Fatalf("malformed %d, want 1 (the unsigned vote)", s.Malformed)
	}
}
