package p2p

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// linkSent returns how many messages n has handed to the transport on
// topic over its connection to peer.
func linkSent(t testing.TB, n *Node, peer crypto.ID, topic uint8) uint64 {
	t.Helper()
	pi, ok := n.Peer(peer)
	if !ok {
		t.Fatalf("%s is not connected to %s", n.ID().Short(), peer.Short())
	}
	for _, ts := range pi.Conn.Topics {
		if ts.ID == topic {
			return ts.MsgsSent
		}
	}
	t.Fatalf("topic %d not on the link", topic)
	return 0
}

// TestGossipForwardSkipsSender: on a star (hub b, leaves a, c, d) a
// gossips k messages. b forwards each to c and d and never back to a; the
// leaves, whose only neighbour is b, forward nothing. Sends are counted
// per link, so an echo that the seen-cache would absorb still shows.
func TestGossipForwardSkipsSender(t *testing.T) {
	const k = 20
	b := startNode(t, quietConfig(t, 800))
	leaves := make([]*Node, 3)
	counters := make([]*inboxCounter, 3)
	for i := range leaves {
		leaves[i] = startNode(t, quietConfig(t, 801+i))
		counters[i] = drainInboxes(leaves[i])
		dial(t, leaves[i], b)
	}
	cb := drainInboxes(b)
	a := leaves[0]
	for i := 0; i < k; i++ {
		if _, _, err := a.Gossip(context.Background(), topicTxs, []byte(fmt.Sprintf("gossip-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// A node delivers a message after its forward loop for it ran; a
	// marker behind the forwards on each link flushes them to the wire.
	testutil.Eventually(t, 10*time.Second, "every message delivered at b, c and d", func() bool {
		return cb.total() == k && counters[1].total() == k && counters[2].total() == k
	})
	mark := func(from, to *Node, c *inboxCounter) {
		m := sendMarker(t, from, to, topicTxs)
		testutil.Eventually(t, 10*time.Second, "marker", func() bool { return c.count(topicTxs, m) == 1 })
	}
	mark(b, a, counters[0])
	mark(leaves[1], b, cb)
	mark(leaves[2], b, cb)

	tests := []struct {
		name     string
		from, to *Node
		want     uint64
	}{
		{"origin a to b", a, b, k},
		{"b back to a (the sender)", b, a, 1}, // the marker only
		{"b to c", b, leaves[1], k},
		{"b to d", b, leaves[2], k},
		{"c back to b", leaves[1], b, 1},
		{"d back to b", leaves[2], b, 1},
	}
	for _, tc := range tests {
		if got := linkSent(t, tc.from, tc.to.ID(), topicTxs); got != tc.want {
			t.Errorf("%s: %d messages sent on the link, want %d", tc.name, got, tc.want)
		}
	}
	if s := a.Stats(); s.GossipReceived != 0 {
		t.Errorf("a received %d copies of its own gossip", s.GossipReceived)
	}
	if s := b.Stats(); s.GossipReceived != k || s.GossipDuplicates != 0 {
		t.Errorf("b received %d copies (%d duplicates), want %d and none", s.GossipReceived, s.GossipDuplicates, k)
	}
}

// slowPeer is a raw peer that does not read its inbox: it holds every
// message it receives (so the node's credit on the link is never returned)
// until release.
type slowPeer struct {
	id *crypto.Identity
	mc *mux.MultiConn

	mu       sync.Mutex // guards the fields below
	held     []*mux.Message
	holding  bool
	received map[uint8]int
}

func dialSlow(t testing.TB, n *Node, id *crypto.Identity) *slowPeer {
	t.Helper()
	topics := append([]mux.TopicConfig(nil), n.s.connTopics...)
	secure := &conn.SecureConfig{Identity: id, NetworkID: n.s.NetworkID, ChainID: n.s.ChainID,
		Meta: &pb.PeerMeta{Topics: mux.TopicIDs(topics)}}
	raw, err := net.DialTimeout("tcp", n.ListenAddr().HostPort(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ec, err := conn.Client(ctx, raw, secure, n.ID())
	if err != nil {
		t.Fatal(err)
	}
	p := &slowPeer{id: id, holding: true, received: map[uint8]int{}}
	mc, err := mux.New(ctx, ec, &mux.Config{Topics: topics, OnMessage: func(m *mux.Message) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.received[m.Topic]++
		if p.holding {
			p.held = append(p.held, m)
			return
		}
		m.Done()
	}})
	if err != nil {
		t.Fatal(err)
	}
	mc.Start()
	p.mc = mc
	t.Cleanup(func() { mc.Abort(mux.GoAwayShutdown, "test over"); <-mc.Done() })
	return p
}

// release returns the credit of everything held and stops holding.
func (p *slowPeer) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = false
	for _, m := range p.held {
		m.Done()
	}
	p.held = nil
}

// total returns how many messages arrived on topic.
func (p *slowPeer) total(topic uint8) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.received[topic]
}

// TestGossipForwardDropsToSlowNeighbour: a relays k gossip messages
// through b to a neighbour s that does not read. b's queue to s fills and
// the rest of the forwards are dropped. Once s reads again and b's queue
// to it is empty, what s missed (k minus what it received) equals the drops
// b counts for s on that topic, in PeerInfo and in the topic's Stats; a's
// link, which kept up, shows none.
func TestGossipForwardDropsToSlowNeighbour(t *testing.T) {
	const k, size = 100, 1 << 10
	cfgB := quietConfig(t, 900)
	cfgB.Topics[topicTxs-1].MaxMessageSize = 4 << 10
	cfgB.Topics[topicTxs-1].RecvWindow = 16 << 10
	cfgB.Topics[topicTxs-1].SendQueue = 8
	b := startNode(t, cfgB)
	a := startNode(t, quietConfig(t, 901))
	cb := drainInboxes(b)
	drainInboxes(a)
	dial(t, a, b)
	s := dialSlow(t, b, testIdentity(t, 902))
	testutil.Eventually(t, 10*time.Second, "s admitted", func() bool { return connectedTo(b, s.id.ID()) })

	payload := make([]byte, size)
	for i := 0; i < k; i++ {
		payload[0], payload[1] = byte(i), byte(i>>8)
		if _, _, err := a.Gossip(context.Background(), topicTxs, payload); err != nil {
			t.Fatal(err)
		}
	}
	// b delivers a message after trying to forward it.
	testutil.Eventually(t, 20*time.Second, "b handled every message", func() bool { return cb.total() == k })
	s.release()
	testutil.Eventually(t, 20*time.Second, "b's queue to s drained", func() bool {
		pi, ok := b.Peer(s.id.ID())
		if !ok {
			t.Fatal("s disconnected")
		}
		for _, ts := range pi.Conn.Topics {
			if ts.ID == topicTxs {
				return ts.SendQueue == 0 && int(ts.MsgsSent) == s.total(topicTxs)
			}
		}
		return false
	})
	missed := uint64(k - s.total(topicTxs))
	if missed == 0 {
		t.Fatal("s missed nothing: the test did not fill b's queue")
	}
	pi, _ := b.Peer(s.id.ID())
	if got := pi.GossipForwardDropped[topicTxs]; got != missed {
		t.Errorf("b counts %d drops for s on txs, s missed %d", got, missed)
	}
	for topic, v := range pi.GossipForwardDropped {
		if topic != topicTxs && v != 0 {
			t.Errorf("b counts %d drops for s on topic %d", v, topic)
		}
	}
	if pa, _ := b.Peer(a.ID()); len(pa.GossipForwardDropped) != 0 {
		t.Errorf("b counts drops for a: %v", pa.GossipForwardDropped)
	}
	st := b.Stats()
	for _, ts := range st.Topics {
		want := uint64(0)
		if ts.ID == topicTxs {
			want = missed
		}
		if ts.GossipForwardDropped != want {
			t.Errorf("topic %d: Stats counts %d forward drops, want %d", ts.ID, ts.GossipForwardDropped, want)
		}
	}
	if st.GossipForwardDropped != missed {
		t.Errorf("node-wide forward drops %d, want %d", st.GossipForwardDropped, missed)
	}
}
