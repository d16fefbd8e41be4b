// Package metrics exports a p2p.Node's statistics to Prometheus.
//
// It is the adapter that keeps github.com/prometheus/client_golang out of
// the core packages: NewCollector returns a prometheus.Collector that reads
// the node's Stats and Peers snapshots when it is scraped, and Handler
// serves them in the Prometheus text format.
//
// Per-connection counters (bytes and messages per topic, credit stalls) end
// with their connection, so the node's sums over connected peers can go
// down. The collector turns them into true counters: at each scrape it adds
// every live connection's growth since the previous scrape. Traffic a
// connection carried after the last scrape before it closed is not
// counted; scrape more often than connections live to keep that small.
package metrics

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/p2p"
)

// Namespace prefixes every metric name.
const Namespace = "peerwire"

// RTTBuckets are the upper bounds, in seconds, of the RTT histogram: from
// 100 µs (loopback) to 2 s (a congested intercontinental path).
var RTTBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2}

// Source is what the collector reads; *p2p.Node implements it.
type Source interface {
	Stats() p2p.Stats
	Peers() []p2p.PeerInfo
}

// mdnsSource is what the collector reads of mDNS discovery when the
// Source has it; *p2p.Node does.
type mdnsSource interface {
	MDNSStats() (p2p.MDNSStats, bool)
}

// connKey names one connection: a peer reconnecting is a new connection
// whose counters start again at zero.
type connKey struct {
	id    crypto.ID
	since time.Time
}

// connSnap is what the collector remembers of a connection between scrapes.
type connSnap struct {
	topics     map[uint8]topicCounts
	bytesIn    uint64
	bytesOut   uint64
	rttSamples uint64
}

type topicCounts struct {
	msgsIn, msgsOut, bytesIn, bytesOut, stalls uint64
}

// Collector is a prometheus.Collector over a node. It is safe for
// concurrent use; concurrent scrapes are serialised.
type Collector struct {
	src Source

	descs struct {
		peers, mustUp, mustTotal, book, bookByTable, bans                          *prometheus.Desc
		topicMsgs, topicBytes, queue, stalls, bytes                                *prometheus.Desc
		handshakes, admission, filter, gossip, dials, dialFailures, invalid        *prometheus.Desc
		gossipDrops, peerGossipDrops                                               *prometheus.Desc
		bookLocal, mdns, dhtTable, dhtLookups, dhtQueries, reachability, dialBacks *prometheus.Desc
	}

	mu struct {
		sync.Mutex // guards the fields below
		conns      map[connKey]*connSnap
		topics     map[string]*topicCounts // accumulated per topic name
		bytesIn    uint64
		bytesOut   uint64
		rtt        prometheus.Histogram
	}
}

// NewCollector returns a collector reading src at scrape time.
func NewCollector(src Source) *Collector {
	c := &Collector{src: src}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	c.descs.peers = d("peers", "Connected peers by direction and role.", "direction", "role")
	c.descs.mustUp = d("must_connect_up", "Must-connect peers currently connected.")
	c.descs.mustTotal = d("must_connect_configured", "Must-connect peers configured.")
	c.descs.book = d("book_entries", "Entries in the peer book.")
	c.descs.bookByTable = d("book_table_entries", "Peer book entries by table (new, tried, protected).", "table")
	c.descs.bookLocal = d("book_local_entries", "Peer book entries found on the local network by mDNS (at most peerbook.MaxLocal).")
	c.descs.mdns = d("mdns_events_total", "mDNS discovery, when on: queries, query errors, answers, own answers, malformed answers, hints added, refused and expired.", "event")
	c.descs.bans = d("bans", "Bans in force.")
	c.descs.topicMsgs = d("topic_messages_total", "Messages per topic and direction (in, out).", "topic", "direction")
	c.descs.topicBytes = d("topic_bytes_total", "Message bytes per topic and direction (in, out).", "topic", "direction")
	c.descs.queue = d("topic_queue_depth", "Messages waiting per topic: 'inbox' for the application, 'send' summed over peers' send queues.", "topic", "queue")
	c.descs.stalls = d("topic_credit_stalls_total", "Times a message to a peer had to wait for flow-control credit, per topic.", "topic")
	c.descs.bytes = d("bytes_total", "Bytes on the wire, all topics and control, by direction (in, out).", "direction")
	c.descs.handshakes = d("handshake_failures_total", "Failed handshakes by reason.", "reason")
	c.descs.admission = d("admission_refusals_total", "Connections refused by the peer set after the handshake, by reason.", "reason")
	c.descs.filter = d("filter_refusals_total", "Addresses refused by the admission filter, by direction and reason.", "direction", "reason")
	c.descs.gossip = d("gossip_messages_total", "Gossip messages by event (originated, received, duplicate, ignored, rejected, forwarded, forward_dropped, stale, future, seen_refused).", "event")
	c.descs.gossipDrops = d("gossip_forward_dropped_total", "Gossip forwards dropped because a neighbour's send queue was full, per topic.", "topic")
	c.descs.peerGossipDrops = d("peer_gossip_forward_dropped_total",
		"Gossip forwards to one connected peer dropped because its send queue was full, per topic, since the connection began.", "peer", "topic")
	c.descs.dials = d("dials_total", "Outbound dials started.")
	c.descs.dialFailures = d("dial_failures_total", "Outbound dials that failed.")
	c.descs.reachability = d("reachability", "The last dial-back check's verdict: 1 for the verdict in force (unknown, public, private), 0 for the others.", "verdict")
	c.descs.dialBacks = d("dialbacks_total", "Dial-backs this node did for its peers' requests, by result (reached, unreachable) and refusals (third_party, limited).", "result")
	c.descs.invalid = d("peer_misbehaviour_total", "Peer misbehaviour by kind (malformed, violation, rate_excess).", "kind")
	c.descs.dhtTable = d("dht_table_entries", "Entries in the DHT's routing table (0 when the DHT is off).")
	c.descs.dhtLookups = d("dht_lookups_total", "DHT lookups by result (found, failed: found nothing).", "result")
	c.descs.dhtQueries = d("dht_queries_total", "DHT queries sent by result (answered, failed), connections dialed only for one (transient_dial), and such transient connections closed at their cap to admit a newer one (transient_evicted).", "result")
	c.mu.conns = map[connKey]*connSnap{}
	c.mu.topics = map[string]*topicCounts{}
	c.mu.rtt = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "rtt_seconds",
		Help:    "Ping round-trip times: each peer's latest sample, observed at scrape time when it is new.",
		Buckets: RTTBuckets,
	})
	return c
}

// Handler returns an http.Handler serving the node's metrics (and nothing
// else) in the Prometheus text format, from a registry of its own.
func Handler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.descs.peers, c.descs.mustUp, c.descs.mustTotal, c.descs.book, c.descs.bookByTable, c.descs.bans,
		c.descs.topicMsgs, c.descs.topicBytes, c.descs.queue, c.descs.stalls, c.descs.bytes,
		c.descs.handshakes, c.descs.admission, c.descs.filter, c.descs.gossip, c.descs.dials,
		c.descs.dialFailures, c.descs.invalid, c.descs.gossipDrops, c.descs.peerGossipDrops,
		c.descs.bookLocal, c.descs.mdns,
		c.descs.dhtTable, c.descs.dhtLookups, c.descs.dhtQueries,
		c.descs.reachability, c.descs.dialBacks,
	} {
		ch <- d
	}
	c.mu.rtt.Describe(ch)
}

// Collect implements prometheus.Collector: it reads the node's snapshots now.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	peers := c.src.Peers()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	// Peers by direction and role; every pair appears, zero or not.
	type dr struct{ dir, role string }
	byDR := map[dr]int{}
	for _, p := range peers {
		byDR[dr{p.Direction, RoleName(p.Role)}]++
	}
	for _, dir := range []string{"inbound", "outbound"} {
		for _, role := range Roles {
			gauge(c.descs.peers, float64(byDR[dr{dir, role}]), dir, role)
			delete(byDR, dr{dir, role})
		}
	}
	for k, v := range byDR { // a role this build does not know
		gauge(c.descs.peers, float64(v), k.dir, k.role)
	}
	gauge(c.descs.mustUp, float64(st.MustConnectUp))
	gauge(c.descs.mustTotal, float64(st.MustConnectTotal))
	gauge(c.descs.book, float64(st.BookSize))
	gauge(c.descs.bookByTable, float64(st.Book.New), "new")
	gauge(c.descs.bookByTable, float64(st.Book.Tried), "tried")
	gauge(c.descs.bookByTable, float64(st.Book.Protected), "protected")
	gauge(c.descs.bookLocal, float64(st.Book.Local))
	if m, ok := c.src.(mdnsSource); ok {
		if ms, on := m.MDNSStats(); on {
			for _, e := range []struct {
				name string
				v    uint64
			}{
				{"query", ms.Rounds}, {"query_error", ms.QueryErrors}, {"answer", ms.Answers}, {"own_answer", ms.Self},
				{"malformed", ms.Malformed}, {"added", ms.Added}, {"refused", ms.Refused}, {"expired", ms.Expired},
			} {
				counter(c.descs.mdns, e.v, e.name)
			}
		}
	}
	gauge(c.descs.bans, float64(st.Bans))
	gauge(c.descs.dhtTable, float64(st.DHT.Table.Entries))
	counter(c.descs.dhtLookups, st.DHT.Lookups-st.DHT.LookupFailures, "found")
	counter(c.descs.dhtLookups, st.DHT.LookupFailures, "failed")
	counter(c.descs.dhtQueries, st.DHT.Queries-st.DHT.QueryFailures, "answered")
	counter(c.descs.dhtQueries, st.DHT.QueryFailures, "failed")
	counter(c.descs.dhtQueries, st.DHT.TransientDials, "transient_dial")
	counter(c.descs.dhtQueries, st.DHT.TransientEvictions, "transient_evicted")
	for _, v := range []p2p.Verdict{p2p.ReachUnknown, p2p.ReachPublic, p2p.ReachPrivate} {
		in := 0.0
		if st.Reachability == v {
			in = 1
		}
		gauge(c.descs.reachability, in, v.String())
	}
	counter(c.descs.dialBacks, st.DialBack.Reached, "reached")
	counter(c.descs.dialBacks, st.DialBack.Served-st.DialBack.Reached, "unreachable")
	counter(c.descs.dialBacks, st.DialBack.ThirdParty, "third_party")
	counter(c.descs.dialBacks, st.DialBack.Limited, "limited")

	// Queue depths: the inbox from Stats, send queues summed over peers.
	sendQ := map[string]int{}
	for _, p := range peers {
		for _, t := range p.Conn.Topics {
			sendQ[t.Name] += t.SendQueue
		}
	}
	for _, t := range st.Topics {
		gauge(c.descs.queue, float64(t.QueueDepth), t.Name, "inbox")
		gauge(c.descs.queue, float64(sendQ[t.Name]), t.Name, "send")
	}

	// Per-connection counters, accumulated into monotonic totals.
	c.mu.Lock()
	c.accumulate(peers)
	names := make([]string, 0, len(c.mu.topics))
	for name := range c.mu.topics {
		names = append(names, name)
	}
	for _, t := range st.Topics { // declared topics appear before any traffic
		if _, ok := c.mu.topics[t.Name]; !ok {
			c.mu.topics[t.Name] = &topicCounts{}
			names = append(names, t.Name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		t := c.mu.topics[name]
		counter(c.descs.topicMsgs, t.msgsIn, name, "in")
		counter(c.descs.topicMsgs, t.msgsOut, name, "out")
		counter(c.descs.topicBytes, t.bytesIn, name, "in")
		counter(c.descs.topicBytes, t.bytesOut, name, "out")
		counter(c.descs.stalls, t.stalls, name)
	}
	counter(c.descs.bytes, c.mu.bytesIn, "in")
	counter(c.descs.bytes, c.mu.bytesOut, "out")
	c.mu.rtt.Collect(ch)
	c.mu.Unlock()

	for _, reason := range HandshakeReasons { // known reasons appear at zero
		counter(c.descs.handshakes, st.HandshakeFailures[reason], reason)
	}
	for reason, v := range st.HandshakeFailures {
		if !slices.Contains(HandshakeReasons, reason) {
			counter(c.descs.handshakes, v, reason)
		}
	}
	for reason, v := range st.Refusals {
		counter(c.descs.admission, v, reason)
	}
	for d := range st.Filter.Decisions {
		for r, v := range st.Filter.Decisions[d] {
			if v == 0 || filter.Reason(r) == filter.ReasonAllowed {
				continue
			}
			counter(c.descs.filter, v, filter.Direction(d).String(), filter.Reason(r).String())
		}
	}
	for r, v := range st.Filter.Refused {
		if v != 0 {
			counter(c.descs.filter, v, "cap", filter.Reason(r).String())
		}
	}
	for _, g := range []struct {
		event string
		v     uint64
	}{
		{"originated", st.GossipOriginated}, {"received", st.GossipReceived}, {"duplicate", st.GossipDuplicates},
		{"ignored", st.GossipIgnored}, {"rejected", st.GossipRejected}, {"forwarded", st.GossipForwarded},
		{"forward_dropped", st.GossipForwardDropped}, {"stale", st.GossipStale}, {"future", st.GossipFuture},
		{"seen_refused", st.GossipSeenRefused},
	} {
		counter(c.descs.gossip, g.v, g.event)
	}
	// Gossip drops per topic, and per peer for peers that had any (one
	// series per connected peer at most, so the cardinality is bounded).
	topicName := map[uint8]string{}
	for _, t := range st.Topics {
		topicName[t.ID] = t.Name
		counter(c.descs.gossipDrops, t.GossipForwardDropped, t.Name)
	}
	for _, p := range peers {
		for id, v := range p.GossipForwardDropped {
			name, ok := topicName[id]
			if !ok {
				name = strconv.Itoa(int(id))
			}
			counter(c.descs.peerGossipDrops, v, p.ID.String(), name)
		}
	}
	counter(c.descs.dials, st.Dials)
	counter(c.descs.dialFailures, st.DialFailures)
	counter(c.descs.invalid, st.Malformed, "malformed")
	counter(c.descs.invalid, st.Violations, "violation")
	counter(c.descs.invalid, st.RateExcess, "rate_excess")
}

// accumulate adds each live connection's growth since the last scrape to
// the totals, observes new RTT samples and forgets closed connections.
// c.mu must be held.
func (c *Collector) accumulate(peers []p2p.PeerInfo) {
	live := make(map[connKey]bool, len(peers))
	grow := func(now, before uint64) uint64 {
		if now < before { // cannot happen for one connection; be safe
			return now
		}
		return now - before
	}
	for _, p := range peers {
		k := connKey{p.ID, p.ConnectedAt}
		live[k] = true
		prev := c.mu.conns[k]
		if prev == nil {
			prev = &connSnap{topics: map[uint8]topicCounts{}}
			c.mu.conns[k] = prev
		}
		for _, t := range p.Conn.Topics {
			if t.Name == "pex" || t.Name == "" {
				continue
			}
			tot := c.mu.topics[t.Name]
			if tot == nil {
				tot = &topicCounts{}
				c.mu.topics[t.Name] = tot
			}
			before := prev.topics[t.ID]
			tot.msgsIn += grow(t.MsgsRecv, before.msgsIn)
			tot.msgsOut += grow(t.MsgsSent, before.msgsOut)
			tot.bytesIn += grow(t.BytesRecv, before.bytesIn)
			tot.bytesOut += grow(t.BytesSent, before.bytesOut)
			tot.stalls += grow(t.CreditStalls, before.stalls)
			prev.topics[t.ID] = topicCounts{t.MsgsRecv, t.MsgsSent, t.BytesRecv, t.BytesSent, t.CreditStalls}
		}
		c.mu.bytesIn += grow(p.Conn.BytesRecv, prev.bytesIn)
		c.mu.bytesOut += grow(p.Conn.BytesSent, prev.bytesOut)
		prev.bytesIn, prev.bytesOut = p.Conn.BytesRecv, p.Conn.BytesSent
		if p.RTT.Samples > prev.rttSamples {
			c.mu.rtt.Observe(p.RTT.Last.Seconds())
			prev.rttSamples = p.RTT.Samples
		}
	}
	for k := range c.mu.conns {
		if !live[k] {
			delete(c.mu.conns, k)
		}
	}
}

// HandshakeReasons are the reasons p2p.Stats.HandshakeFailures uses; each
// is exported from the start, at zero.
var HandshakeReasons = []string{"timeout", "auth", "self", "unexpected-peer", "incompatible", "not-peerwire", "bad-key", "protocol", "other"}

// Roles are the short role names, as RoleName returns them.
var Roles = []string{"validator", "full", "seed", "light", "unspecified"}

// RoleName turns a PeerMeta role as p2p.PeerInfo states it
// ("NODE_ROLE_VALIDATOR") into its short form ("validator"); "" and the
// unspecified role become "unspecified".
func RoleName(role string) string {
	role = strings.ToLower(strings.TrimPrefix(role, "NODE_ROLE_"))
	if role == "" {
		return "unspecified"
	}
	return role
}
