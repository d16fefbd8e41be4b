package p2p

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// randomGraph starts n nodes built by cfg and connects them: a random
// spanning tree (so the graph is connected) plus extra random edges until
// each node has dialed about perNode others. It returns the nodes and the
// edges.
func randomGraph(t testing.TB, n, perNode int, seed uint64, cfg func(i int) Config) []*Node {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = startNode(t, cfg(i))
	}
	type edge struct{ a, b int }
	have := map[edge]bool{}
	var edges []edge
	add := func(a, b int) {
		if a == b || have[edge{a, b}] || have[edge{b, a}] {
			return
		}
		have[edge{a, b}] = true
		edges = append(edges, edge{a, b})
	}
	for i := 1; i < n; i++ {
		add(i, rng.IntN(i)) // node i dials an earlier node: a spanning tree
	}
	for i := 0; i < n; i++ {
		for k := 1; k < perNode; k++ {
			add(i, rng.IntN(n))
		}
	}
	errs := make(chan error, len(edges))
	for _, e := range edges {
		go func() {
			_, err := nodes[e.a].Dial(context.Background(), nodes[e.b].ListenAddr().String())
			errs <- err
		}()
	}
	for range edges {
		if err := <-errs; err != nil {
			t.Fatalf("dial: %v", err)
		}
	}
	testutil.Eventually(t, 20*time.Second, "every edge admitted on both sides", func() bool {
		for _, e := range edges {
			if !connectedTo(nodes[e.a], nodes[e.b].ID()) || !connectedTo(nodes[e.b], nodes[e.a].ID()) {
				return false
			}
		}
		return true
	})
	return nodes
}

// TestGossipRandomGraph: on a connected random graph of 50 nodes, every
// gossip message reaches every node's inbox exactly once (the origin's
// excluded), whichever node originates it.
func TestGossipRandomGraph(t *testing.T) {
	const size, msgs = 50, 60
	nodes := randomGraph(t, size, 3, 1, func(i int) Config { return quietConfig(t, 100+i) })
	counters := make([]*inboxCounter, size)
	for i, n := range nodes {
		counters[i] = drainInboxes(n)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(2, 2))
	origins := make([]int, msgs)
	for k := 0; k < msgs; k++ {
		origins[k] = rng.IntN(size)
		topic := uint8(topicVotes + k%3)
		if _, _, err := nodes[origins[k]].Gossip(ctx, topic, []byte(fmt.Sprintf("gossip-%d", k))); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 30*time.Second, "every message at every node but its origin", func() bool {
		for i, c := range counters {
			if c.total() < msgs-countOf(origins, i) {
				return false
			}
		}
		return true
	})
	// Every copy a node received was delivered or dropped as a duplicate;
	// wait until the network is quiet before checking that none was
	// delivered twice.
	testutil.Eventually(t, 10*time.Second, "no gossip in flight", func() bool {
		var recv, fwd uint64
		for _, n := range nodes {
			s := n.Stats()
			recv += s.GossipReceived
			fwd += s.GossipForwarded
		}
		return recv == fwd+directCopies(nodes)
	})
	for i, c := range counters {
		for k := 0; k < msgs; k++ {
			want := 1
			if origins[k] == i {
				want = 0
			}
			if got := c.count(uint8(topicVotes+k%3), fmt.Sprintf("gossip-%d", k)); got != want {
				t.Fatalf("node %d got message %d %d times, want %d", i, k, got, want)
			}
		}
		for _, m := range c.messages() {
			if !m.Gossip || m.Origin != nodes[origins[msgIndex(t, m.Data)]].ID() {
				t.Fatalf("node %d: message %q has origin %s", i, m.Data, m.Origin.Short())
			}
			if !connectedTo(nodes[i], m.From) {
				t.Fatalf("node %d: message %q from %s, not a neighbour", i, m.Data, m.From.Short())
			}
		}
	}
}

// directCopies is how many gossip copies origins sent to their direct
// neighbours: each origin sends one per neighbour.
func directCopies(nodes []*Node) uint64 {
	var sum uint64
	for _, n := range nodes {
		s := n.Stats()
		sum += s.GossipOriginated * uint64(s.Inbound+s.Outbound)
	}
	return sum
}

func countOf(xs []int, x int) int {
	c := 0
	for _, v := range xs {
		if v == x {
			c++
		}
	}
	return c
}

func msgIndex(t testing.TB, data []byte) int {
	var k int
	if _, err := fmt.Sscanf(string(data), "gossip-%d", &k); err != nil {
		t.Fatalf("unexpected message %q", data)
	}
	return k
}

// line starts n nodes connected in a chain, node i to node i+1.
func line(t testing.TB, n int, cfg func(i int) Config) []*Node {
	t.Helper()
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = startNode(t, cfg(i))
	}
	for i := 0; i+1 < n; i++ {
		dial(t, nodes[i], nodes[i+1])
	}
	return nodes
}

// sendMarker sends a direct message from a to b on topic and returns its
// data. Messages of one topic on one connection arrive in order and the
// receiving node handles them in order, so when b's inbox shows the marker,
// anything a sent on that topic before it has been handled.
func sendMarker(t testing.TB, a, b *Node, topic uint8) string {
	t.Helper()
	data := fmt.Sprintf("marker-%s-%s", a.ID().Short(), b.ID().Short())
	if err := a.Send(context.Background(), b.ID(), topic, []byte(data)); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGossipHopLimit: on a line with HopLimit 3, a message travels three
// hops and no further.
func TestGossipHopLimit(t *testing.T) {
	nodes := line(t, 6, func(i int) Config {
		cfg := quietConfig(t, 200+i)
		cfg.HopLimit = 3
		return cfg
	})
	counters := make([]*inboxCounter, len(nodes))
	for i, n := range nodes {
		counters[i] = drainInboxes(n)
	}
	if _, _, err := nodes[0].Gossip(context.Background(), topicTxs, []byte("hop")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "three hops reached", func() bool {
		return counters[1].count(topicTxs, "hop") == 1 && counters[2].count(topicTxs, "hop") == 1 &&
			counters[3].count(topicTxs, "hop") == 1
	})
	// Node 3 delivered it, so it had decided whether to forward; a marker
	// it sends next on the same topic arrives at node 4 after any copy.
	marker := sendMarker(t, nodes[3], nodes[4], topicTxs)
	testutil.Eventually(t, 10*time.Second, "marker at node 4", func() bool { return counters[4].count(topicTxs, marker) == 1 })
	for i := 4; i < len(nodes); i++ {
		if got := counters[i].count(topicTxs, "hop"); got != 0 {
			t.Fatalf("node %d, %d hops away, got the message", i, i)
		}
	}
	if s := nodes[3].Stats(); s.GossipForwarded != 0 {
		t.Fatalf("node 3 forwarded %d copies with no hops left", s.GossipForwarded)
	}
	if s := nodes[4].Stats(); s.GossipReceived != 0 {
		t.Fatalf("node 4 received %d gossip copies", s.GossipReceived)
	}
}

// TestGossipValidator: on a line a–b–c where b's validator rejects "bad"
// and ignores "meh", a rejected message is neither delivered nor forwarded
// and costs a its score at b; an ignored one costs nothing; an accepted one
// goes through.
func TestGossipValidator(t *testing.T) {
	nodes := line(t, 3, func(i int) Config {
		cfg := quietConfig(t, 300+i)
		if i == 1 {
			cfg.Topics[topicVotes-1].Validator = func(from, origin crypto.ID, data []byte) ValidationResult {
				switch string(data) {
				case "bad":
					return Reject
				case "meh":
					return Ignore
				}
				return Accept
			}
		}
		return cfg
	})
	a, b, c := nodes[0], nodes[1], nodes[2]
	cb, cc := drainInboxes(b), drainInboxes(c)
	ctx := context.Background()
	if _, _, err := a.Gossip(ctx, topicVotes, []byte("meh")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "b ignores", func() bool { return b.Stats().GossipIgnored == 1 })
	if s, _ := b.Score(a.ID()); s != 0 {
		t.Fatalf("an ignored message moved a's score to %v", s)
	}
	if _, _, err := a.Gossip(ctx, topicVotes, []byte("bad")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "b rejects", func() bool { return b.Stats().GossipRejected == 1 })
	if s, ok := b.Score(a.ID()); !ok || s >= 0 {
		t.Fatalf("a's score at b after a reject: %v %v, want negative", s, ok)
	}
	if _, _, err := a.Gossip(ctx, topicVotes, []byte("good")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "good message at c", func() bool { return cc.count(topicVotes, "good") == 1 })
	marker := sendMarker(t, b, c, topicVotes)
	testutil.Eventually(t, 10*time.Second, "marker at c", func() bool { return cc.count(topicVotes, marker) == 1 })
	for _, data := range []string{"bad", "meh"} {
		if cb.count(topicVotes, data) != 0 || cc.count(topicVotes, data) != 0 {
			t.Fatalf("%q was delivered or forwarded", data)
		}
	}
	if cb.count(topicVotes, "good") != 1 {
		t.Fatal("b did not deliver the accepted message")
	}
}

// TestGossipSignedForgery: on a signed topic (the default) a relay cannot forge or
// alter a message: a raw peer relaying an altered payload, a swapped key
// or no signature is refused (not delivered, counted as malformed, scored),
// while a faithful relay of the origin's signed message is delivered.
func TestGossipSignedForgery(t *testing.T) {
	v := startNode(t, quietConfig(t, 400))
	cv := drainInboxes(v)
	relay, err := dialRaw(t, v, testIdentity(t, 401), "")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "relay admitted", func() bool { return connectedTo(v, relay.id.ID()) })

	origin := testIdentity(t, 402)
	oid := origin.ID()
	envelope := func(payload string, nonce uint64, mut func(*pb.GossipEnvelope)) []byte {
		env := &pb.GossipEnvelope{Hops: 5, Origin: oid[:], Nonce: nonce, Payload: []byte(payload), TimeMs: uint64(time.Now().UnixMilli())}
		id := gossipID(topicBlocks, oid, nonce, env.TimeMs, env.Payload)
		env.OriginKey = origin.PublicKey()
		env.Signature = origin.Sign(gossipSigningInput(id))
		if mut != nil {
			mut(env)
		}
		b, err := encodeGossip(env)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	other := testIdentity(t, 403)
	forgeries := map[string][]byte{
		"altered payload": envelope("block 1", 1, func(e *pb.GossipEnvelope) { e.Payload = []byte("forged block") }),
		"altered nonce":   envelope("block 2", 2, func(e *pb.GossipEnvelope) { e.Nonce = 99 }),
		"altered time":    envelope("block 6", 6, func(e *pb.GossipEnvelope) { e.TimeMs-- }),
		"no signature":    envelope("block 3", 3, func(e *pb.GossipEnvelope) { e.Signature = nil; e.OriginKey = nil }),
		"relay's own key": envelope("block 4", 4, func(e *pb.GossipEnvelope) {
			e.OriginKey = other.PublicKey()
			e.Signature = other.Sign(gossipSigningInput(gossipID(topicBlocks, oid, e.Nonce, e.TimeMs, e.Payload)))
		}),
	}
	ctx := context.Background()
	for name, msg := range forgeries {
		if err := relay.mc.Send(ctx, topicBlocks, msg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	good := envelope("block 5", 5, nil)
	if err := relay.mc.Send(ctx, topicBlocks, good); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the faithful relay delivered", func() bool { return cv.count(topicBlocks, "block 5") == 1 })
	msgs := cv.messages()
	if len(msgs) != 1 || msgs[0].Origin != oid || !msgs[0].OriginVerified || msgs[0].From != relay.id.ID() {
		t.Fatalf("delivered %d messages, want only the faithful one from origin %s", len(msgs), oid.Short())
	}
	if s := v.Stats(); s.Malformed != uint64(len(forgeries)) {
		t.Fatalf("malformed %d, want %d", s.Malformed, len(forgeries))
	}
	if s, ok := v.Score(relay.id.ID()); !ok || s >= 0 {
		t.Fatalf("forging relay's score %v %v, want negative", s, ok)
	}
}

// TestGossipHopLimitsDiffer: a node's hop limit is its own setting. A
// neighbour configured with a higher limit is not punished for starting
// messages with more hops than ours: we deliver them and forward them
// with at most our own limit.
func TestGossipHopLimitsDiffer(t *testing.T) {
	nodes := line(t, 5, func(i int) Config {
		cfg := quietConfig(t, 250+i)
		cfg.HopLimit = 2
		if i == 0 {
			cfg.HopLimit = 20
		}
		return cfg
	})
	counters := make([]*inboxCounter, len(nodes))
	for i, n := range nodes {
		counters[i] = drainInboxes(n)
	}
	const msgs = 15 // beyond the ten malformed messages that would ban the origin
	for k := 0; k < msgs; k++ {
		if _, _, err := nodes[0].Gossip(context.Background(), topicTxs, []byte(fmt.Sprintf("gossip-%d", k))); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "every message two hops out", func() bool {
		return counters[1].total() == msgs && counters[2].total() == msgs
	})
	marker := sendMarker(t, nodes[2], nodes[3], topicTxs)
	testutil.Eventually(t, 10*time.Second, "marker at node 3", func() bool { return counters[3].count(topicTxs, marker) == 1 })
	if got := counters[3].total(); got != 1 {
		t.Fatalf("node 3 got %d messages; node 1's hop limit of 2 should have stopped them at node 2", got-1)
	}
	if s, _ := nodes[1].Score(nodes[0].ID()); s < 0 || nodes[1].Stats().Malformed != 0 {
		t.Fatalf("origin with a higher hop limit scored %v, %d messages counted malformed", s, nodes[1].Stats().Malformed)
	}
}
