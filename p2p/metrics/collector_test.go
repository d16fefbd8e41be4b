package metrics

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

// fakeSource returns whatever the test sets.
type fakeSource struct {
	mu    sync.Mutex
	stats p2p.Stats
	peers []p2p.PeerInfo
}

func (f *fakeSource) Stats() p2p.Stats { f.mu.Lock(); defer f.mu.Unlock(); return f.stats }
func (f *fakeSource) Peers() []p2p.PeerInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]p2p.PeerInfo(nil), f.peers...)
}

func (f *fakeSource) set(st p2p.Stats, peers ...p2p.PeerInfo) {
	f.mu.Lock()
	f.stats, f.peers = st, peers
	f.mu.Unlock()
}

func peer(id byte, since time.Time, dir, role string, votesIn, votesOut uint64, stalls uint64, rtt time.Duration, samples uint64) p2p.PeerInfo {
	return p2p.PeerInfo{
		ID: crypto.ID{id}, Direction: dir, Role: role, ConnectedAt: since,
		RTT: mux.RTTStats{Last: rtt, Samples: samples},
		Conn: mux.Stats{
			BytesRecv: votesIn * 10, BytesSent: votesOut * 10,
			Topics: []mux.TopicStats{
				{ID: 1, Name: "consensus", MsgsRecv: votesIn, MsgsSent: votesOut, BytesRecv: votesIn * 8, BytesSent: votesOut * 8, CreditStalls: stalls, SendQueue: 2},
				{ID: 255, Name: "pex", MsgsRecv: 1},
			},
		},
	}
}

func TestCollectorFromSnapshots(t *testing.T) {
	src := &fakeSource{}
	t0 := time.Unix(1000, 0)
	st := p2p.Stats{
		MustConnectUp: 1, MustConnectTotal: 2, BookSize: 7, Bans: 1,
		Book:              peerbook.Stats{New: 5, Tried: 2, Protected: 2},
		Topics:            []p2p.TopicStats{{ID: 1, Name: "consensus", QueueDepth: 3}, {ID: 2, Name: "blocks"}},
		HandshakeFailures: map[string]uint64{"timeout": 4, "auth": 1},
		Refusals:          map[string]uint64{"too many peers": 2},
		GossipDuplicates:  9, GossipReceived: 12, GossipStale: 4, GossipFuture: 5, GossipSeenRefused: 6,
		Reachability: p2p.ReachPrivate, DialBack: p2p.DialBackStats{Served: 5, Reached: 3, ThirdParty: 1, Limited: 2},
	}
	st.Filter.Decisions[filter.Inbound][filter.ReasonCIDRDenied] = 3
	st.Filter.Decisions[filter.Inbound][filter.ReasonAllowed] = 100
	src.set(st,
		peer(1, t0, "outbound", "NODE_ROLE_VALIDATOR", 10, 20, 1, 2*time.Millisecond, 1),
		peer(2, t0, "inbound", "NODE_ROLE_FULL", 5, 5, 0, 0, 0))
	c := NewCollector(src)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)

	want := `
# HELP peerwire_topic_messages_total Messages per topic and direction (in, out).
# TYPE peerwire_topic_messages_total counter
peerwire_topic_messages_total{direction="in",topic="blocks"} 0
peerwire_topic_messages_total{direction="in",topic="consensus"} 15
peerwire_topic_messages_total{direction="out",topic="blocks"} 0
peerwire_topic_messages_total{direction="out",topic="consensus"} 25
# HELP peerwire_topic_credit_stalls_total Times a message to a peer had to wait for flow-control credit, per topic.
# TYPE peerwire_topic_credit_stalls_total counter
peerwire_topic_credit_stalls_total{topic="blocks"} 0
peerwire_topic_credit_stalls_total{topic="consensus"} 1
# HELP peerwire_handshake_failures_total Failed handshakes by reason.
# TYPE peerwire_handshake_failures_total counter
peerwire_handshake_failures_total{reason="auth"} 1
peerwire_handshake_failures_total{reason="bad-key"} 0
peerwire_handshake_failures_total{reason="incompatible"} 0
peerwire_handshake_failures_total{reason="not-peerwire"} 0
peerwire_handshake_failures_total{reason="other"} 0
peerwire_handshake_failures_total{reason="protocol"} 0
peerwire_handshake_failures_total{reason="self"} 0
peerwire_handshake_failures_total{reason="timeout"} 4
peerwire_handshake_failures_total{reason="unexpected-peer"} 0
# HELP peerwire_must_connect_up Must-connect peers currently connected.
# TYPE peerwire_must_connect_up gauge
peerwire_must_connect_up 1
# HELP peerwire_must_connect_configured Must-connect peers configured.
# TYPE peerwire_must_connect_configured gauge
peerwire_must_connect_configured 2
# HELP peerwire_book_entries Entries in the peer book.
# TYPE peerwire_book_entries gauge
peerwire_book_entries 7
# HELP peerwire_bans Bans in force.
# TYPE peerwire_bans gauge
peerwire_bans 1
# HELP peerwire_reachability The last dial-back check's verdict: 1 for the verdict in force (unknown, public, private), 0 for the others.
# TYPE peerwire_reachability gauge
peerwire_reachability{verdict="private"} 1
peerwire_reachability{verdict="public"} 0
peerwire_reachability{verdict="unknown"} 0
# HELP peerwire_dialbacks_total Dial-backs this node did for its peers' requests, by result (reached, unreachable) and refusals (third_party, limited).
# TYPE peerwire_dialbacks_total counter
peerwire_dialbacks_total{result="limited"} 2
peerwire_dialbacks_total{result="reached"} 3
peerwire_dialbacks_total{result="third_party"} 1
peerwire_dialbacks_total{result="unreachable"} 2
`
	names := []string{"peerwire_topic_messages_total", "peerwire_topic_credit_stalls_total", "peerwire_handshake_failures_total",
		"peerwire_must_connect_up", "peerwire_must_connect_configured", "peerwire_book_entries", "peerwire_bans",
		"peerwire_reachability", "peerwire_dialbacks_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}

	// Peer 2 disconnects and peer 1 reconnects (new connection, counters
	// from zero): the totals keep what was counted and grow by the new
	// connection's traffic, never shrink.
	src.set(st, peer(1, t0.Add(time.Minute), "outbound", "NODE_ROLE_VALIDATOR", 4, 1, 0, 3*time.Millisecond, 1))
	want2 := `
# HELP peerwire_topic_messages_total Messages per topic and direction (in, out).
# TYPE peerwire_topic_messages_total counter
peerwire_topic_messages_total{direction="in",topic="blocks"} 0
peerwire_topic_messages_total{direction="in",topic="consensus"} 19
peerwire_topic_messages_total{direction="out",topic="blocks"} 0
peerwire_topic_messages_total{direction="out",topic="consensus"} 26
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want2), "peerwire_topic_messages_total"); err != nil {
		t.Fatal(err)
	}

	// Gauges and the remaining families, checked by value.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range m.GetLabel() {
				key += "," + lp.GetName() + "=" + lp.GetValue()
			}
			switch {
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, v := range map[string]float64{
		"peerwire_peers,direction=outbound,role=validator":                    1,
		"peerwire_peers,direction=inbound,role=full":                          0,
		"peerwire_topic_queue_depth,queue=inbox,topic=consensus":              3,
		"peerwire_topic_queue_depth,queue=send,topic=consensus":               2,
		"peerwire_filter_refusals_total,direction=inbound,reason=cidr-denied": 3,
		"peerwire_gossip_messages_total,event=duplicate":                      9,
		"peerwire_gossip_messages_total,event=stale":                          4,
		"peerwire_gossip_messages_total,event=future":                         5,
		"peerwire_gossip_messages_total,event=seen_refused":                   6,
		"peerwire_admission_refusals_total,reason=too many peers":             2,
		"peerwire_rtt_seconds":                                                2, // one sample per connection
		"peerwire_book_table_entries,table=tried":                             2,
	} {
		if g, ok := got[key]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", key, g, ok, v)
		}
	}
	if t.Failed() {
		for k, v := range got {
			t.Logf("%s %v", k, v)
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
}

func testNode(t *testing.T, i int) *p2p.Node {
	t.Helper()
	seed := sha256.Sum256([]byte(fmt.Sprintf("metrics-%d", i)))
	id, err := crypto.IdentityFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	n, err := p2p.New(p2p.Config{
		Identity: id, ListenAddr: "127.0.0.1:0", NetworkID: "metrics-test",
		Topics:       []p2p.TopicConfig{{TopicConfig: mux.TopicConfig{ID: 1, Name: "consensus", Priority: 10}}},
		Peers:        peerset.Config{MaxOutboundPerGroup: -1},
		Filter:       filter.Config{ExemptLoopback: true},
		Book:         peerbook.Config{AllowLoopback: true},
		PingInterval: time.Second, ChurnInterval: -1, StatusInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	return n
}

// TestHandlerRealNode scrapes a node that exchanged messages with another.
func TestHandlerRealNode(t *testing.T) {
	a, b := testNode(t, 1), testNode(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Dial(ctx, b.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := a.Send(ctx, b.ID(), 1, []byte("vote")); err != nil {
			t.Fatal(err)
		}
		<-b.Inbox(1)
	}
	// Wait for a ping round trip so the histogram has a sample.
	for {
		p, ok := a.Peer(b.ID())
		if ok && p.RTT.Samples > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no RTT sample")
		case <-time.After(10 * time.Millisecond):
		}
	}
	srv := httptest.NewServer(Handler(a))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`peerwire_topic_messages_total{direction="out",topic="consensus"} 5`,
		`peerwire_peers{direction="outbound",role="unspecified"} 1`,
		`peerwire_rtt_seconds_count 1`,
		`# TYPE peerwire_rtt_seconds histogram`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}

// TestCollectorGossipDrops: gossip forwards dropped to full neighbours are
// exported per topic (node-wide, ended connections included) and per
// connected peer and topic.
func TestCollectorGossipDrops(t *testing.T) {
	src := &fakeSource{}
	t0 := time.Unix(1000, 0)
	st := p2p.Stats{Topics: []p2p.TopicStats{{ID: 1, Name: "consensus", GossipForwardDropped: 7}, {ID: 2, Name: "blocks"}}}
	slow := peer(1, t0, "outbound", "NODE_ROLE_FULL", 0, 0, 0, 0, 0)
	slow.GossipForwardDropped = map[uint8]uint64{1: 4}
	src.set(st, slow, peer(2, t0, "inbound", "NODE_ROLE_FULL", 0, 0, 0, 0, 0))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(src))
	want := fmt.Sprintf(`
# HELP peerwire_gossip_forward_dropped_total Gossip forwards dropped because a neighbour's send queue was full, per topic.
# TYPE peerwire_gossip_forward_dropped_total counter
peerwire_gossip_forward_dropped_total{topic="blocks"} 0
peerwire_gossip_forward_dropped_total{topic="consensus"} 7
# HELP peerwire_peer_gossip_forward_dropped_total Gossip forwards to one connected peer dropped because its send queue was full, per topic, since the connection began.
# TYPE peerwire_peer_gossip_forward_dropped_total counter
peerwire_peer_gossip_forward_dropped_total{peer="%s",topic="consensus"} 4
`, crypto.ID{1})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"peerwire_gossip_forward_dropped_total", "peerwire_peer_gossip_forward_dropped_total"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
}

// The node is a source of mDNS counters.
var _ mdnsSource = (*p2p.Node)(nil)

// mdnsFake is a fakeSource with mDNS discovery on.
type mdnsFake struct {
	fakeSource
	st p2p.MDNSStats
}

func (f *mdnsFake) MDNSStats() (p2p.MDNSStats, bool) { return f.st, true }

// TestCollectorMDNS: the local entries of the book always, the mDNS
// counters when the source has discovery on.
func TestCollectorMDNS(t *testing.T) {
	src := &mdnsFake{}
	src.set(p2p.Stats{Book: peerbook.Stats{Local: 4}})
	src.st.Rounds, src.st.QueryErrors, src.st.Answers, src.st.Self, src.st.Malformed = 9, 1, 8, 9, 2
	src.st.Added, src.st.Refused, src.st.Expired = 7, 3, 1
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(src))
	want := `
# HELP peerwire_book_local_entries Peer book entries found on the local network by mDNS (at most peerbook.MaxLocal).
# TYPE peerwire_book_local_entries gauge
peerwire_book_local_entries 4
# HELP peerwire_mdns_events_total mDNS discovery, when on: queries, query errors, answers, own answers, malformed answers, hints added, refused and expired.
# TYPE peerwire_mdns_events_total counter
peerwire_mdns_events_total{event="added"} 7
peerwire_mdns_events_total{event="answer"} 8
peerwire_mdns_events_total{event="expired"} 1
peerwire_mdns_events_total{event="malformed"} 2
peerwire_mdns_events_total{event="own_answer"} 9
peerwire_mdns_events_total{event="query"} 9
peerwire_mdns_events_total{event="query_error"} 1
peerwire_mdns_events_total{event="refused"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "peerwire_book_local_entries", "peerwire_mdns_events_total"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	// Off (a plain source): no mDNS series at all.
	off := &fakeSource{}
	off.set(p2p.Stats{})
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(off))
	if n, err := testutil.GatherAndCount(reg, "peerwire_mdns_events_total"); err != nil || n != 0 {
		t.Fatalf("mDNS series without mDNS: %d %v", n, err)
	}
}
