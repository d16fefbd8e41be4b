package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// Topic IDs used across the tests.
const (
	topicVotes  = 1
	topicBlocks = 2
	topicTxs    = 3
)

func testTopics() []TopicConfig {
	return []TopicConfig{
		{TopicConfig: mux.TopicConfig{ID: topicVotes, Name: "votes", Priority: 10, MaxMessageSize: 64 << 10}},
		{TopicConfig: mux.TopicConfig{ID: topicBlocks, Name: "blocks", Priority: 5, MaxMessageSize: 4 << 20}},
		{TopicConfig: mux.TopicConfig{ID: topicTxs, Name: "txs", Priority: 1, MaxMessageSize: 64 << 10}},
	}
}

func testIdentity(t testing.TB, i int) *crypto.Identity {
	seed := sha256.Sum256([]byte(fmt.Sprintf("node-%d", i)))
	id, err := crypto.IdentityFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testConfig is a loopback node with fast services: many nodes share
// 127.0.0.0/8, so loopback is exempt from caps and groups are unlimited.
func testConfig(t testing.TB, i int) Config {
	return Config{
		Identity:   testIdentity(t, i),
		ListenAddr: "127.0.0.1:0",
		NetworkID:  "test",
		ChainID:    "chain",
		Topics:     testTopics(),
		Peers: peerset.Config{
			MaxOutboundPerGroup: -1,
			MaxInbound:          20,
			MaxOutbound:         4,
			RedialBase:          50 * time.Millisecond,
			RedialMax:           500 * time.Millisecond,
		},
		Filter:            filter.Config{ExemptLoopback: true},
		Book:              peerbook.Config{AllowLoopback: true, BackoffBase: 50 * time.Millisecond, BackoffCap: 500 * time.Millisecond},
		FillInterval:      100 * time.Millisecond,
		PexInterval:       200 * time.Millisecond,
		MaintainInterval:  50 * time.Millisecond,
		PexAnswerInterval: 100 * time.Millisecond,
		ChurnInterval:     -1,
		StatusInterval:    -1,
	}
}

// startNode starts a node and stops it when the test ends.
func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	return n
}

// recv reads one message from ch within d.
func recv(t testing.TB, ch <-chan *Message, d time.Duration) *Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("inbox closed")
		}
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
	}
	return nil
}

func connectedTo(n *Node, id crypto.ID) bool {
	_, ok := n.Peer(id)
	return ok
}

// onFakeClock puts cfg's measured time (bans, backoff, TTLs, decay, the
// dial rate, a seed's linger) on clk, the one fake clock: it stands still
// until the test advances it. The connections' keepalive and the
// services' periods keep real time (connClock, serviceClock), as a live
// network needs.
func onFakeClock(cfg *Config, clk *clock.Fake) {
	cfg.Clock, cfg.connClock, cfg.serviceClock = clk, clock.Real(), clock.Real()
}

// quietConfig is testConfig without automatic dialing: the fill and PEX
// services tick once an hour, so the test alone decides the topology.
func quietConfig(t testing.TB, i int) Config {
	cfg := testConfig(t, i)
	cfg.FillInterval = time.Hour
	cfg.PexInterval = time.Hour
	cfg.MaintainInterval = 200 * time.Millisecond
	cfg.Peers.MaxOutbound = 20
	cfg.Peers.MaxInbound = 40
	return cfg
}

// penaltyAfterDecay is the highest score a peer can have now that lost
// delta (< 0) at or after since and gained nothing: a Node decays scores
// toward 0 every MaintainInterval (half-life peerset.DefaultDecayHalfLife),
// so a penalty read back a few seconds later is a little smaller in size
// than it was. Call it after reading the score.
func penaltyAfterDecay(delta float64, since time.Time) float64 {
	return delta * math.Exp2(-float64(time.Since(since))/float64(peerset.DefaultDecayHalfLife))
}

// inboxCounter drains every topic's inbox of a node until it closes at
// Stop, counting each message by topic and data, and keeping the order
// of arrival.
type inboxCounter struct {
	mu   sync.Mutex
	seen map[string]int
	all  []*Message
}

func drainInboxes(n *Node) *inboxCounter {
	c := &inboxCounter{seen: map[string]int{}}
	for _, tc := range n.s.appTopics {
		ch := n.Inbox(tc.ID)
		go func() {
			for m := range ch {
				c.mu.Lock()
				c.seen[fmt.Sprintf("%d/%s", m.Topic, m.Data)]++
				c.all = append(c.all, m)
				c.mu.Unlock()
			}
		}()
	}
	return c
}

// count returns how many times data arrived on topic.
func (c *inboxCounter) count(topic uint8, data string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[fmt.Sprintf("%d/%s", topic, data)]
}

// total returns how many messages arrived.
func (c *inboxCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.all)
}

// messages returns a copy of what arrived, in order.
func (c *inboxCounter) messages() []*Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Message(nil), c.all...)
}

// dial connects from to to and waits until both sides have admitted it.
func dial(t testing.TB, from, to *Node) {
	t.Helper()
	if _, err := from.Dial(context.Background(), to.ListenAddr().String()); err != nil {
		t.Fatalf("dial %s → %s: %v", from.ID().Short(), to.ID().Short(), err)
	}
	testutil.Eventually(t, 10*time.Second, "connection admitted on both sides", func() bool {
		return connectedTo(from, to.ID()) && connectedTo(to, from.ID())
	})
}

// rawPeer is a hand-driven peer: a conn.Client handshake and a bare
// MultiConn speaking the node's topics, so a test can send what a Node
// never would. Its EncryptedConn is exposed for writing raw packets.
type rawPeer struct {
	id    *crypto.Identity
	ec    *conn.EncryptedConn
	mc    *mux.MultiConn
	inbox chan *mux.Message
}

// dialRaw connects a rawPeer with identity id to n, declaring extra topics
// beyond the node's own when given. It does not wait for n to admit it.
func dialRaw(t testing.TB, n *Node, id *crypto.Identity, localIP string) (*rawPeer, error) {
	t.Helper()
	return dialRawAdvertising(t, n, id, localIP, nil)
}

// dialRawAdvertising is dialRaw with listen addresses in the peer's
// handshake PeerMeta, as a peer advertises where to dial it.
func dialRawAdvertising(t testing.TB, n *Node, id *crypto.Identity, localIP string, listen []string) (*rawPeer, error) {
	t.Helper()
	topics := append([]mux.TopicConfig(nil), n.s.connTopics...)
	secure := &conn.SecureConfig{Identity: id, NetworkID: n.s.NetworkID, ChainID: n.s.ChainID,
		Meta: &pb.PeerMeta{Topics: mux.TopicIDs(topics), ListenAddrs: listen}}
	d := net.Dialer{Timeout: 5 * time.Second}
	if localIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	raw, err := d.Dial("tcp", n.ListenAddr().HostPort())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ec, err := conn.Client(ctx, raw, secure, n.ID())
	if err != nil {
		return nil, err
	}
	p := &rawPeer{id: id, ec: ec, inbox: make(chan *mux.Message, 1024)}
	// The raw peer declares n's topics as n does, chunked ones included.
	mc, err := mux.New(ctx, ec, &mux.Config{Topics: topics, ProtocolFeatures: n.chunkedFeatures(), OnMessage: func(m *mux.Message) {
		m.Done()
		select {
		case p.inbox <- m:
		default:
		}
	}})
	if err != nil {
		return nil, err
	}
	mc.Start()
	p.mc = mc
	t.Cleanup(func() { mc.Abort(mux.GoAwayShutdown, "test over"); <-mc.Done() })
	return p, nil
}

// goAwayOf returns the goaway the peer sent on mc once it has ended.
func goAwayOf(t testing.TB, mc *mux.MultiConn) *mux.GoAwayError {
	t.Helper()
	select {
	case <-mc.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection not closed by the node")
	}
	var ge *mux.GoAwayError
	if !errors.As(mc.Err(), &ge) || !ge.Remote {
		t.Fatalf("connection ended without a goaway from the node: %v", mc.Err())
	}
	return ge
}

// waitEvent reads events from sub until one matches want, within d.
func waitEvent(t testing.TB, sub *Subscription, d time.Duration, what string, want func(Event) bool) Event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				t.Fatalf("subscription closed while waiting for %s", what)
			}
			if want(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no event %s within %v", what, d)
		}
	}
}

// pendingKinds returns the kinds of the events for id already waiting in
// sub, in order, without waiting for more.
func pendingKinds(sub *Subscription, id crypto.ID) []EventKind {
	var kinds []EventKind
	for {
		select {
		case ev := <-sub.C:
			if ev.Peer == id {
				kinds = append(kinds, ev.Kind)
			}
		default:
			return kinds
		}
	}
}

// liveConns counts n's connections to id that have not run their OnClose.
func liveConns(n *Node, id crypto.ID) int {
	n.conns.Lock()
	defer n.conns.Unlock()
	k := 0
	for pc := range n.conns.live {
		if pc.id == id {
			k++
		}
	}
	return k
}
