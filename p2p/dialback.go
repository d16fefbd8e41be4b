package p2p

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
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
		n.log.Info("dial-back to a third party refused", "peer", from.Short(), "target", target.String(), "conn", pc.remote.String())
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
		n.log.Debug("dial-back did not reach the peer", "peer", from.Short(), "target", target.String(), "err", err)
		return []byte{dialBackUnreachable}, nil
	}
	ec.Close()
	d.reached.Add(1)
	return []byte{dialBackReached}, nil
}

// candidate is an address of ours to verify.
type candidate struct {
	ap       netip.AddrPort
	observed bool // from the observed-address vote: advertised only once verified
}

// candidates returns the addresses a check tests: the observed IP with
// its observed port or else each listener's port, the port mapping's
// external address, and the advertised IP addresses; at most
// maxDialBackCandidates.
func (n *Node) candidates() []candidate {
	var out []candidate
	add := func(ap netip.AddrPort, obs bool) {
		if !ap.IsValid() || ap.Port() == 0 || ap.Addr().IsUnspecified() || len(out) >= maxDialBackCandidates {
			return
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		for _, c := range out {
			if c.ap == ap {
				return
			}
		}
		out = append(out, candidate{ap: ap, observed: obs})
	}
	if ext := n.ExternalAddr(); ext.IsValid() {
		add(ext, false)
	}
	for _, a := range n.baseAdverts() {
		if ap, ok := a.AddrPort(); ok {
			add(ap, false)
		}
	}
	if o := n.ObservedAddr(); o.Addr().IsValid() {
		if o.Port() != 0 {
			add(o, true)
		} else {
			for _, l := range n.reach.addrs {
				add(netip.AddrPortFrom(o.Addr(), l.Port), true)
			}
		}
	}
	return out
}

// baseAdverts is what the node advertises before any dial-back: the
// configured and listener addresses (not the NAT's or the observed).
func (n *Node) baseAdverts() []crypto.Address {
	if n.secure == nil {
		return nil
	}
	var out []crypto.Address
	for _, s := range n.secure.Meta.GetListenAddrs() {
		if a, err := crypto.ParseAddress(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// askers returns up to DialBackPeers connected peers, each in its own
// network group, that declared DialBackTopic and report seeing us at ip:
// only they can dial ip back under the responder's rule.
func (n *Node) askers(ip netip.Addr) []*peerConn {
	pcs := n.connected()
	rand.Shuffle(len(pcs), func(i, j int) { pcs[i], pcs[j] = pcs[j], pcs[i] })
	groups := map[netip.Prefix]bool{}
	var out []*peerConn
	for _, pc := range pcs {
		if len(out) >= DialBackPeers {
			break
		}
		g := observerGroup(pc.remote.Addr())
		if groups[g] || !pc.mc.CanSend(DialBackTopic) {
			continue
		}
		seen, ok := n.reach.observed.seenBy(pc.id)
		if !ok || seen.Addr().Unmap() != ip {
			continue
		}
		groups[g] = true
		out = append(out, pc)
	}
	return out
}

// CheckReachability runs a dial-back check now and returns its outcome;
// the node also checks on its own (after Start, every 15 minutes, sooner
// while the verdict is unknown, and when the observed or the mapped
// address changes). For each candidate address it asks DialBackPeers
// peers in distinct groups that see the node at the candidate's IP; a
// candidate DialBackQuorum of them reached is verified. The verdict is
// public when one is, private when every candidate was answered by at
// least DialBackQuorum peers and none reached it, unknown otherwise.
// Checks run one at a time.
func (n *Node) CheckReachability(ctx context.Context) Reachability {
	r, _ := n.checkReachability(ctx)
	return r
}

// checkReachability is CheckReachability, also returning how many
// requests it sent.
func (n *Node) checkReachability(ctx context.Context) (Reachability, int) {
	d := &n.reach.db
	d.check.Lock()
	defer d.check.Unlock()
	cands := n.candidates()
	var verified []crypto.Address
	var verifiedObs []crypto.Address
	decided, asked := 0, 0
	for _, c := range cands {
		reached, answered, k := n.askDialBack(ctx, c.ap)
		asked += k
		switch {
		case reached >= DialBackQuorum:
			a := crypto.Address{ID: n.ID(), Host: c.ap.Addr().String(), Port: c.ap.Port()}
			verified = append(verified, a)
			if c.observed {
				verifiedObs = append(verifiedObs, a)
			}
		case answered >= DialBackQuorum && reached == 0:
			decided++
		}
	}
	v := ReachUnknown
	switch {
	case len(verified) > 0:
		v = ReachPublic
	case len(cands) > 0 && decided == len(cands):
		v = ReachPrivate
	}
	now := n.s.Now()
	d.mu.Lock()
	changed := v != d.verdict || !slices.Equal(verified, d.verified)
	obsChanged := !slices.Equal(verifiedObs, d.observed)
	d.verdict, d.verified, d.checked, d.observed = v, verified, now, verifiedObs
	d.mu.Unlock()
	if obsChanged {
		n.republishAdverts()
	}
	if changed {
		n.log.Info("reachability changed", "verdict", v.String(), "verified", fmt.Sprint(verified))
		ev := Event{Kind: EventReachability, Reason: v.String(), Time: now}
		if len(verified) > 0 {
			ev.Addr, _ = verified[0].AddrPort()
		}
		n.events.publish(ev)
	}
	return n.Reachability(), asked
}

// askDialBack asks the peers that see us at ap's IP to dial ap, at once,
// and returns how many reached it, how many answered and how many it
// asked.
func (n *Node) askDialBack(ctx context.Context, ap netip.AddrPort) (reached, answered, asked int) {
	pcs := n.askers(ap.Addr())
	type result struct{ ok, answered bool }
	res := make(chan result, len(pcs))
	body := encodeDialBackRequest(ap)
	for _, pc := range pcs {
		go func() {
			rctx, cancel := context.WithTimeout(ctx, dialBackTimeout)
			defer cancel()
			resp, err := n.request(rctx, n.reach.db.topic, pc.id, body)
			if err != nil {
				n.log.Debug("dial-back request failed", "peer", pc.id.Short(), "addr", ap.String(), "err", err)
				res <- result{}
				return
			}
			ok, err := decodeDialBackResponse(resp)
			if err != nil {
				n.malformed(pc, err.Error())
				res <- result{}
				return
			}
			res <- result{ok: ok, answered: true}
		}()
	}
	for range pcs {
		r := <-res
		if r.answered {
			answered++
		}
		if r.ok {
			reached++
		}
	}
	return reached, answered, len(pcs)
}

// Reachability returns the outcome of the last dial-back check.
func (n *Node) Reachability() Reachability {
	d := &n.reach.db
	d.mu.Lock()
	defer d.mu.Unlock()
	return Reachability{Verdict: d.verdict, Verified: slices.Clone(d.verified), Checked: d.checked}
}

// kickReachability asks the checker to run soon (the observed or the
// mapped address changed); it never blocks.
func (n *Node) kickReachability() {
	select {
	case n.reach.db.kick <- struct{}{}:
	default:
	}
}

// reachabilityLoop runs the node's own checks until it stops: after
// reachabilityRetry, then every reachabilityInterval once decided (every
// reachabilityRetry while unknown), and at each kick, but never within
// reachabilityMinGap of the last that asked peers.
func (n *Node) reachabilityLoop() {
	d := &n.reach.db
	wake := make(chan struct{}, 1)
	arm := func(after time.Duration) func() bool {
		return n.s.serviceClock.AfterFunc(after, func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		}).Stop
	}
	stop := arm(reachabilityRetry)
	var last time.Time // the start of the last check that asked peers
	for {
		select {
		case <-n.ctx.Done():
			stop()
			return
		case <-wake:
		case <-d.kick:
			// A kick within reachabilityMinGap of the last check waits
			// for the gap: an address that flaps must not make the node
			// ask its peers more often than their limits allow.
			if wait := reachabilityMinGap - n.s.serviceClock.Now().Sub(last); !last.IsZero() && wait > 0 {
				stop()
				stop = arm(wait)
				continue
			}
		}
		stop()
		began := n.s.serviceClock.Now()
		r, asked := n.checkReachability(n.ctx)
		if asked > 0 {
			last = began
		}
		next := reachabilityInterval
		if r.Verdict == ReachUnknown {
			next = reachabilityRetry
		}
		stop = arm(next)
	}
}

// republishAdverts rebuilds the handshake configuration from advertMeta;
// it reports false (and logs) when the result does not validate.
func (n *Node) republishAdverts() bool {
	n.nat.mu.Lock() // serialises rebuilds with onExternal
	defer n.nat.mu.Unlock()
	return n.storeAdverts()
}

// storeAdverts is republishAdverts with n.nat.mu held.
func (n *Node) storeAdverts() bool {
	if n.secure == nil { // not started
		return false
	}
	sc := n.secureWith(n.advertMetaLocked())
	if err := sc.Validate(); err != nil {
		n.log.Warn("addresses not advertised", "err", err)
		return false
	}
	n.nat.secure.Store(sc)
	return true
}

// advertMetaLocked returns the handshake metadata's listen addresses:
// the base ones, the port mapping's and the verified observed addresses,
// without duplicates. n.nat.mu is held.
func (n *Node) advertMetaLocked() *pb.PeerMeta {
	meta := proto.Clone(n.secure.Meta).(*pb.PeerMeta)
	var extra []crypto.Address
	if ext := n.nat.ext; ext.IsValid() {
		extra = append(extra, crypto.Address{ID: n.ID(), Host: ext.Addr().String(), Port: ext.Port()})
	}
	n.reach.db.mu.Lock()
	extra = append(extra, n.reach.db.observed...)
	n.reach.db.mu.Unlock()
	for _, a := range extra {
		s := a.String()
		if !slices.Contains(meta.ListenAddrs, s) {
			meta.ListenAddrs = append(meta.ListenAddrs, s)
		}
	}
	return meta
}
