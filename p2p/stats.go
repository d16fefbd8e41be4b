package p2p

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/peerbook"
)

// nodeCounters are the node's running totals.
type nodeCounters struct {
	delivered            atomic.Uint64
	discarded            atomic.Uint64
	malformed            atomic.Uint64
	violations           atomic.Uint64
	rateExcess           atomic.Uint64
	bans                 atomic.Uint64
	dials                atomic.Uint64
	dialFailures         atomic.Uint64
	dhtDials             atomic.Uint64 // connections dialed only for a DHT query
	dhtBookAdded         atomic.Uint64 // DHT records the book took
	dhtEvicted           atomic.Uint64 // transient connections evicted at the cap
	gossipOriginated     atomic.Uint64
	gossipReceived       atomic.Uint64
	gossipPayloadBytes   atomic.Uint64
	gossipDuplicates     atomic.Uint64
	gossipIgnored        atomic.Uint64
	gossipRejected       atomic.Uint64
	gossipForwarded      atomic.Uint64
	gossipForwardDropped atomic.Uint64
	gossipStale          atomic.Uint64
	gossipFuture         atomic.Uint64
	gossipSeenRefused    atomic.Uint64
	// gossipTopicDrops splits gossipForwardDropped by topic, ended
	// connections included.
	gossipTopicDrops [256]atomic.Uint64
	pexRequests      atomic.Uint64
	pexAnswers       atomic.Uint64
	pexAdded         atomic.Uint64

	mu         sync.Mutex // guards the maps below
	refusals   map[string]uint64
	handshakes map[string]uint64

	// closed holds the traffic of connections that have ended, so totals
	// never shrink when a peer leaves. Taken before peers' lock.
	closed struct {
		sync.Mutex // guards the fields below
		topics     map[uint8]*TopicStats
		bytesIn    uint64
		bytesOut   uint64
	}
}

// foldLocked adds an ended connection's counters to the closed totals; the
// caller holds c.closed.
func (c *nodeCounters) foldLocked(ms mux.Stats) {
	if c.closed.topics == nil {
		c.closed.topics = map[uint8]*TopicStats{}
	}
	for _, ts := range ms.Topics {
		t := c.closed.topics[ts.ID]
		if t == nil {
			t = &TopicStats{ID: ts.ID}
			c.closed.topics[ts.ID] = t
		}
		t.MessagesIn += ts.MsgsRecv
		t.MessagesOut += ts.MsgsSent
		t.BytesIn += ts.BytesRecv
		t.BytesOut += ts.BytesSent
	}
	c.closed.bytesIn += ms.BytesRecv
	c.closed.bytesOut += ms.BytesSent
}

func (c *nodeCounters) refused(reason string) {
	c.mu.Lock()
	if c.refusals == nil {
		c.refusals = map[string]uint64{}
	}
	c.refusals[reason]++
	c.mu.Unlock()
}

// handshakeFailed counts a failed handshake by the kind of its error.
func (c *nodeCounters) handshakeFailed(err error) {
	reason := "other"
	switch {
	case errors.Is(err, conn.ErrHandshakeTimeout):
		reason = "timeout"
	case errors.Is(err, conn.ErrAuthFailed):
		reason = "auth"
	case errors.Is(err, conn.ErrSelfConnection):
		reason = "self"
	case errors.Is(err, conn.ErrUnexpectedPeer):
		reason = "unexpected-peer"
	case errors.Is(err, conn.ErrIncompatible):
		reason = "incompatible"
	case errors.Is(err, conn.ErrNotPeerwire):
		reason = "not-peerwire"
	case errors.Is(err, conn.ErrReflection), errors.Is(err, conn.ErrBadKey):
		reason = "bad-key"
	case errors.Is(err, conn.ErrProtocol):
		reason = "protocol"
	}
	c.mu.Lock()
	if c.handshakes == nil {
		c.handshakes = map[string]uint64{}
	}
	c.handshakes[reason]++
	c.mu.Unlock()
}

// topicDrops counts one connection's dropped gossip forwards per topic.
// Drops are the exception, so a mutex and a small map are enough.
type topicDrops struct {
	mu sync.Mutex // guards m
	m  map[uint8]uint64
}

func (d *topicDrops) add(topic uint8) {
	d.mu.Lock()
	if d.m == nil {
		d.m = map[uint8]uint64{}
	}
	d.m[topic]++
	d.mu.Unlock()
}

// snapshot returns a copy of the counts, nil when there were none.
func (d *topicDrops) snapshot() map[uint8]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.m) == 0 {
		return nil
	}
	out := make(map[uint8]uint64, len(d.m))
	for k, v := range d.m {
		out[k] = v
	}
	return out
}

// PeerInfo describes one connected peer.
type PeerInfo struct {
	ID          crypto.ID
	Direction   string // "inbound" or "outbound"
	Remote      string // remote TCP address
	ListenAddrs []string
	Role        string
	Software    string
	ConnectedAt time.Time
	Score       float64
	MustConnect bool
	RTT         mux.RTTStats
	// Conn are the connection's counters; Conn.Version is the protocol
	// version negotiated with the peer and Conn.Features the features in
	// use (Config.Features).
	Conn mux.Stats
	// FeatureValues holds the value the peer advertised for each feature
	// in use; nil when none is.
	FeatureValues map[uint16][]byte
	// GossipForwardDropped counts, per topic, gossip forwards to this peer
	// dropped because its send queue was full: messages it may never get
	// from us. Nil when there were none.
	GossipForwardDropped map[uint8]uint64
}

// TopicStats sums a topic's traffic over every connection since Start,
// ended ones included, so the counters only grow.
type TopicStats struct {
	ID                      uint8
	Name                    string
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
	QueueDepth              int // messages waiting for the application
	// GossipForwardDropped counts gossip forwards on this topic dropped
	// because a neighbour's send queue was full (PeerInfo says which).
	GossipForwardDropped uint64
}

// Stats is a snapshot for metrics and status lines.
type Stats struct {
	// DHT is the DHT's state and counters (Mode "off" when Config.DHT is).
	DHT                             DHTStats
	Inbound, Outbound               int
	MustConnectUp, MustConnectTotal int
	BookSize                        int
	Bans                            int
	Topics                          []TopicStats
	BytesIn, BytesOut               uint64
	Delivered                       uint64
	// Discarded counts messages read from peers the node had banned
	// while their connection closed: read, so the credit is returned, and
	// not delivered. A peer
	// refused at setup adds nothing: its MultiConn is never started, so
	// nothing it sends is read (mux.New, setupPeer).
	Discarded                        uint64
	Malformed, Violations            uint64
	RateExcess                       uint64
	Dials, DialFailures              uint64
	GossipOriginated, GossipReceived uint64
	// GossipPayloadBytes are the payload bytes of the flood gossip
	// messages received, duplicates included (chunked topics:
	// ChunkedStats.PayloadBytes).
	GossipPayloadBytes            uint64
	GossipDuplicates              uint64
	GossipIgnored, GossipRejected uint64
	GossipForwarded               uint64
	GossipForwardDropped          uint64
	// GossipStale and GossipFuture count gossip dropped for an origin
	// timestamp older than GossipMaxAge or further ahead than GossipMaxSkew.
	GossipStale, GossipFuture uint64
	// GossipSeenRefused counts new gossip dropped because its peer held
	// its full share of the seen-cache (or the cache was full).
	GossipSeenRefused       uint64
	PexRequests, PexAnswers uint64
	PexAdded                uint64
	// Refusals counts admissions refused, by reason.
	Refusals map[string]uint64
	// HandshakeFailures counts failed handshakes, by kind.
	HandshakeFailures map[string]uint64
	// Filter is the admission filter's own snapshot.
	Filter filter.Stats
	// Book is the peer book's snapshot.
	Book peerbook.Stats
	// Reachability is the last dial-back check's verdict and DialBack the
	// dial-backs this node did for its peers (dialback.go).
	Reachability Verdict
	DialBack     DialBackStats
}

// DedupRatio is the share of received gossip copies that were duplicates.
func (s Stats) DedupRatio() float64 {
	if s.GossipReceived == 0 {
		return 0
	}
	return float64(s.GossipDuplicates) / float64(s.GossipReceived)
}

// Stats returns a snapshot of the node's counters and its peers' traffic.
func (n *Node) Stats() Stats {
	c := n.set.Counts()
	s := Stats{
		Inbound: c.Inbound, Outbound: c.Outbound, MustConnectUp: c.MustConnectUp, MustConnectTotal: c.MustConnectTotal,
		BookSize: n.book.Len(), Bans: len(n.book.Bans()), DHT: n.DHTStats(),
		Delivered: n.st.delivered.Load(), Discarded: n.st.discarded.Load(), Malformed: n.st.malformed.Load(), Violations: n.st.violations.Load(),
		RateExcess: n.st.rateExcess.Load(), Dials: n.st.dials.Load(), DialFailures: n.st.dialFailures.Load(),
		GossipOriginated: n.st.gossipOriginated.Load(), GossipReceived: n.st.gossipReceived.Load(),
		GossipPayloadBytes: n.st.gossipPayloadBytes.Load(),
		GossipDuplicates:   n.st.gossipDuplicates.Load(), GossipIgnored: n.st.gossipIgnored.Load(),
		GossipRejected: n.st.gossipRejected.Load(), GossipForwarded: n.st.gossipForwarded.Load(),
		GossipForwardDropped: n.st.gossipForwardDropped.Load(),
		GossipStale:          n.st.gossipStale.Load(), GossipFuture: n.st.gossipFuture.Load(),
		GossipSeenRefused: n.st.gossipSeenRefused.Load(),
		PexRequests:       n.st.pexRequests.Load(), PexAnswers: n.st.pexAnswers.Load(), PexAdded: n.st.pexAdded.Load(),
		Filter: n.filter.Stats(), Book: n.book.Stats(),
		Reachability: n.Reachability().Verdict, DialBack: n.DialBackStats(), // dialback.go
	}
	n.st.mu.Lock()
	s.Refusals = copyMap(n.st.refusals)
	s.HandshakeFailures = copyMap(n.st.handshakes)
	n.st.mu.Unlock()
	byID := map[uint8]*TopicStats{}
	for _, tc := range n.s.appTopics {
		s.Topics = append(s.Topics, TopicStats{ID: tc.ID, Name: tc.Name, QueueDepth: n.topics[tc.ID].depth(),
			GossipForwardDropped: n.st.gossipTopicDrops[tc.ID].Load()})
	}
	for i := range s.Topics {
		byID[s.Topics[i].ID] = &s.Topics[i]
	}
	n.st.closed.Lock()
	defer n.st.closed.Unlock()
	for id, ct := range n.st.closed.topics {
		if t := byID[id]; t != nil {
			t.MessagesIn += ct.MessagesIn
			t.MessagesOut += ct.MessagesOut
			t.BytesIn += ct.BytesIn
			t.BytesOut += ct.BytesOut
		}
	}
	s.BytesIn, s.BytesOut = n.st.closed.bytesIn, n.st.closed.bytesOut
	for _, pc := range n.currentConns() {
		ms := pc.mc.Stats()
		for _, ts := range ms.Topics {
			if t := byID[ts.ID]; t != nil {
				t.MessagesIn += ts.MsgsRecv
				t.MessagesOut += ts.MsgsSent
				t.BytesIn += ts.BytesRecv
				t.BytesOut += ts.BytesSent
			}
		}
		s.BytesIn += ms.BytesRecv
		s.BytesOut += ms.BytesSent
	}
	return s
}

func copyMap(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
