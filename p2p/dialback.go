package p2p

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
)

// Dial-back verification (docs/PROTOCOL.md §9.6). The node asks
// DialBackPeers connected peers, each in its own network group, to dial
// each of its candidate addresses (the observed address, the port
// mapping's, the advertised ones) and to complete a handshake expecting
// its ID; from their answers it decides whether it is reachable (public,
// private or unknown) and which addresses answer. The observed address is
// advertised only once verified. The exchange runs on DialBackTopic, a
// request/response topic of the node's own: the request is the address to
// dial, the response one byte.

// Reachability verdicts.
const (
	// ReachUnknown: too few peers answered to decide, or the node has no
	// candidate address.
	ReachUnknown Verdict = iota
	// ReachPublic: at least one candidate was reached by DialBackQuorum
	// peers in distinct groups.
	ReachPublic
	// ReachPrivate: every candidate was tested by at least DialBackQuorum
	// peers in distinct groups and none of them reached it.
	ReachPrivate
)

// Verdict is the node's reachability verdict.
type Verdict uint8

var verdictNames = [...]string{"unknown", "public", "private"}

// String returns the verdict's stable label: "unknown", "public" or
// "private".
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "unknown"
}

// Reachability is the outcome of the node's last dial-back check.
type Reachability struct {
	Verdict Verdict
	// Verified is the candidate addresses that DialBackQuorum peers
	// reached, with the node's ID.
	Verified []crypto.Address
	// Checked is when the last check ended; zero before the first.
	Checked time.Time
}

// Dial-back response bytes.
const (
	dialBackReached     byte = 0x01 // the handshake completed with the expected ID
	dialBackUnreachable byte = 0x02 // no connection, or the handshake failed
)

// encodeDialBackRequest is the body of a dial-back request for ap: the IP
// (4 or 16 bytes) then the port (2 bytes, big endian).
func encodeDialBackRequest(ap netip.AddrPort) []byte {
	v := ap.Addr().Unmap().AsSlice()
	return binary.BigEndian.AppendUint16(v, ap.Port())
}

// decodeDialBackRequest parses a dial-back request's body: exactly 6 or
// 18 bytes, an IP that is neither unspecified nor multicast, a nonzero
// port. It never panics on any input.
func decodeDialBackRequest(b []byte) (netip.AddrPort, error) {
	if len(b) != 6 && len(b) != 18 {
		return netip.AddrPort{}, fmt.Errorf("dial-back request of %d bytes, want 6 or 18", len(b))
	}
	ip, _ := netip.AddrFromSlice(b[:len(b)-2])
	port := binary.BigEndian.Uint16(b[len(b)-2:])
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsMulticast() || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("dial-back request for %v port %d", ip, port)
	}
	return netip.AddrPortFrom(ip, port), nil
}

// decodeDialBackResponse parses a dial-back response's body: one byte,
// dialBackReached or dialBackUnreachable.
func decodeDialBackResponse(b []byte) (reached bool, err error) {
	if len(b) != 1 || (b[0] != dialBackReached && b[0] != dialBackUnreachable) {
		return false, fmt.Errorf("dial-back response %x, want 01 or 02", b)
	}
	return b[0] == dialBackReached, nil
}

// dialBackState is the node's side of dial-back verification.
type dialBackState struct {
	topic   *topicState   // DialBackTopic: a request/response topic the application never sees
	serving chan struct{} // capacity 1: the node dials back one peer at a time
	limits  dialBackLimits
	kick    chan struct{} // capacity 1: a check is wanted now

	check sync.Mutex // one check at a time

	mu       sync.Mutex // guards the fields below
	verdict  Verdict
	verified []crypto.Address
	checked  time.Time
	observed []crypto.Address // verified observed addresses: advertised

	served, reached, thirdParty, limited atomic.Uint64
}

// DialBackStats counts the dial-backs this node did for its peers.
type DialBackStats struct {
	// Served is dial-backs done; Reached those that completed the
	// handshake.
	Served, Reached uint64
	// ThirdParty is requests refused because they named another IP than
	// the requester's connection's (each cost the requester
	// DeltaDialBackThirdParty); Limited those refused over
	// DialBackPerPeerPerMinute or DialBackTotalPerMinute.
	ThirdParty, Limited uint64
}

// DialBackStats returns the node's dial-back counters.
func (n *Node) DialBackStats() DialBackStats {
	d := &n.reach.db
	return DialBackStats{Served: d.served.Load(), Reached: d.reached.Load(), ThirdParty: d.thirdParty.Load(), Limited: d.limited.Load()}
}

// dialBackLimits bounds the dial-backs a node does, per fixed minute: at
// most DialBackPerPeerPerMinute for one peer and DialBackTotalPerMinute in
// all. perPeer holds at most DialBackTotalPerMinute entries.
type dialBackLimits struct {
	mu      sync.Mutex
	window  time.Time
	total   int
	perPeer map[crypto.ID]int
}

// allow reports whether a dial-back for id may run at now, and counts it.
func (l *dialBackLimits) allow(id crypto.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perPeer == nil || now.Sub(l.window) >= time.Minute || now.Before(l.window) {
		l.window, l.total = now, 0
		l.perPeer = map[crypto.ID]int{}
	}
	if l.total >= DialBackTotalPerMinute || l.perPeer[id] >= DialBackPerPeerPerMinute {
		return false
	}
	l.total++
	l.perPeer[id]++
	return true
}

// initDialBack sets up DialBackTopic and its handler; called by New.
func (n *Node) initDialBack() {
	tc := &TopicConfig{TopicConfig: mux.TopicConfig{ID: DialBackTopic, Name: "dialback", MaxMessageSize: dialBackMaxMessage},
		Requests: &RequestConfig{MaxRequestSize: 18, MaxResponseSize: 1, MaxConcurrent: 1, Timeout: dialBackTimeout}}
	d := &n.reach.db
	d.topic = &topicState{cfg: tc}
	d.serving = make(chan struct{}, 1)
	d.kick = make(chan struct{}, 1)
	h := RequestHandler(n.serveDialBack)
	n.rr.handlers[DialBackTopic].Store(&h)
}

// onDialBackMessage takes a message of DialBackTopic from the reader
// goroutine: request/response only, anything else is malformed.
func (n *Node) onDialBackMessage(pc *peerConn, m *mux.Message) {
	if len(m.Data) > 0 && isRRKind(m.Data[0]) {
		n.onRR(pc, n.reach.db.topic, m)
		return
	}
	m.Done()
	n.malformed(pc, "dial-back topic: not a request/response message")
}

// serveDialBack answers a peer's dial-back request: it dials the address
// named and runs the client handshake expecting the peer's ID, then
// closes before SETTINGS, so nothing is admitted. The IP must be the one
// the peer's connection comes from (any port): a request naming another
// IP is refused and costs the peer DeltaDialBackThirdParty. Over the rate
// limits the request is refused "overloaded"; the node dials back one
// peer at a time.
func (n *Node) serveDialBack(ctx context.Context, from crypto.ID, req []byte) ([]byte, error) {
	pc, err := n.peerConn(from)
	if err != nil {
		return nil, err
	}
	d := &n.reach.db
	target, err := decodeDialBackRequest(req)
	if err != nil {
		n.malformed(pc, err.Error())
		return nil, &RequestError{Code: RequestRefused, Message: "malformed dial-back request"}
	}
	if target.Addr() != pc.remote.Addr().Unmap() {
		d.thirdParty.Add(1)
		n.log.Info("dial-back to a third party refused", "peer", from.String(), "target", target.String(), "conn", pc.remote.String())
		n.applyBan(n.set.Report(from, DeltaDialBackThirdParty, "dialback-third-party"))
		return nil, &RequestError{Code: RequestRefused, Message: "dial-back only to the IP your connection comes from"}
	}
	if !d.limits.allow(from, n.s.Now()) {
		d.limited.Add(1)
		return nil, &RequestError{Code: RequestOverloaded, Message: "dial-back rate limit"}
	}
	select {
	case d.serving <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-d.serving }()
	select {
	case n.dials <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ec, err := n.handshakeOut(ctx, from, []netip.AddrPort{target})
	<-n.dials
	d.served.Add(1)
	if err != nil {
		n.log.Debug("dial-back did not reach the peer", "peer", from.String(), "target", target.String(), "err", err)
		return []byte{dialBackUnreachable}, nil
	}
	ec.Close()
	d.reached.Add(1)
	return []byte{dialBackReached}, nil
}
