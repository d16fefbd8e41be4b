package sim

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// pexAsk is how many addresses a PEX request asks for (p2p's pexAsk).
const pexAsk = 32

// seedLinger is how long a seed keeps a peer (p2p's seedLinger).
const seedLinger = 10 * time.Second

// node is one honest node: the real book, set and filter, and the p2p
// services that drive them.
type node struct {
	s         *Sim
	idx       int
	ep        *endpoint
	book      *peerbook.Book
	set       *peerset.Set
	filt      *filter.Filter
	rng       *rand.Rand
	must      []crypto.Address
	monitored bool
	validator bool
	churny    bool
	// seed is a bootstrap node in p2p's seed mode: it crawls, answers PEX
	// and drops every peer after answering (or after seedLinger).
	seed bool

	online  bool
	epoch   int // bumped at each restart: events of an older epoch are void
	links   []*link
	byID    map[crypto.ID]*link
	dialing map[crypto.ID]bool

	dht *dhtNode // Config.DHT: this epoch's DHT

	eclipsedAt time.Duration // first sample at which every peer was the attacker's; -1 never
}

// link is one connection; a dialed b.
type link struct {
	a, b       *endpoint
	pa, pb     *peerset.Peer // the Set's peer on each honest end
	up         bool
	since      time.Duration
	lastAnswer [2]time.Duration // when a (0) / b (1) last answered a PEX request over it; -1 never
}

func (l *link) other(e *endpoint) *endpoint {
	if l.a == e {
		return l.b
	}
	return l.a
}

// end returns 0 for a, 1 for b.
func (l *link) end(e *endpoint) int {
	if l.a == e {
		return 0
	}
	return 1
}

// counter adapts the filter's caps to peerset.Counter, as p2p's does.
type counter struct{ f *filter.Filter }

func (c counter) Acquire(ip netip.Addr) (func(), bool, string) {
	release, d := c.f.Acquire(ip)
	if !d.Allowed() {
		return nil, false, d.Reason.String()
	}
	return release, true, ""
}

func (c counter) AcquireExempt(ip netip.Addr) func() { return c.f.AcquireExempt(ip) }

// bookFilter adapts the filter's rules to peerbook.AddrFilter, as p2p's
// does.
type bookFilter struct{ f *filter.Filter }

func (b bookFilter) AllowPEX(ip netip.Addr) (bool, string) {
	d := b.f.Check(ip, filter.PEX)
	return d.Allowed(), d.Reason.String()
}

func (b bookFilter) AllowDial(ip netip.Addr) (bool, string) {
	d := b.f.CheckRules(ip)
	return d.Allowed(), d.Reason.String()
}

func newNode(s *Sim, idx int, ep *endpoint, monitored bool, must []crypto.Address, validator, churny bool) (*node, error) {
	n := &node{s: s, idx: idx, ep: ep, monitored: monitored, must: must, validator: validator, churny: churny,
		rng: rand.New(stream(s.cfg.Seed, kindNode, uint64(idx))), eclipsedAt: -1}
	ep.node = n
	var err error
	if n.filt, err = filter.New(filter.Config{}, filter.Deps{Clock: s.eng.clk}); err != nil {
		return nil, err
	}
	bd := peerbook.Deps{SelfID: ep.id, Filter: bookFilter{n.filt}, Clock: s.eng.clk, Rand: stream(s.cfg.Seed, kindBook, uint64(idx))}
	if n.book, err = peerbook.New(s.cfg.bookConfig(monitored), bd); err != nil {
		return nil, err
	}
	for _, a := range must {
		_ = n.book.Protect(a)
	}
	for _, a := range s.boot {
		_ = n.book.Add(a, peerbook.Source{Kind: peerbook.SourceBootstrap})
	}
	return n, nil
}

// start brings the node online with a fresh peer set (the book is kept,
// as a restarted node loads it from disk) and starts its services at
// random phases.
func (n *node) start() error {
	cfg := peerset.Config{MaxOutbound: n.s.cfg.MaxOutbound, MaxInbound: n.s.cfg.MaxInbound, MustConnect: n.must}
	deps := peerset.Deps{Self: n.ep.id, Counter: counter{n.filt}, Clock: n.s.eng.clk, Bans: n.book,
		Rand: stream(n.s.cfg.Seed, kindSet, uint64(n.idx)<<16|uint64(n.epoch))}
	if n.s.cfg.MaxInbound < 0 {
		cfg.MaxInbound = 0
	}
	if !n.ep.listening {
		cfg.MaxInbound = -1
	}
	set, err := peerset.New(cfg, deps)
	if err != nil {
		return err
	}
	n.set = set
	n.byID = map[crypto.ID]*link{}
	n.dialing = map[crypto.ID]bool{}
	n.online = true
	c := n.s.cfg
	n.every(c.FillInterval, n.fill)
	n.every(c.PexInterval, n.pexRound)
	n.every(c.MaintainInterval, n.maintain)
	n.every(c.ProbeInterval, n.probe)
	if c.DHT {
		if err := n.startDHT(); err != nil {
			return err
		}
	}
	if n.churny {
		d := time.Duration(n.rng.ExpFloat64() * float64(c.SessionMean))
		ep := n.epoch
		n.s.eng.after(d, func() {
			if n.epoch == ep && n.online {
				n.restart(time.Duration(n.rng.ExpFloat64() * float64(c.OfflineMean)))
			}
		})
	}
	return nil
}

// every runs f at a random phase within interval, then every interval,
// while the node stays in this epoch.
func (n *node) every(interval time.Duration, f func()) {
	ep := n.epoch
	var tick func()
	tick = func() {
		if n.epoch != ep || !n.online {
			return
		}
		f()
		n.s.eng.after(interval, tick)
	}
	n.s.eng.after(time.Duration(n.rng.Int64N(int64(interval))), tick)
}

// restart takes the node offline for off, dropping every connection, then
// starts it again with its book.
func (n *node) restart(off time.Duration) {
	for len(n.links) > 0 {
		n.s.disconnect(n.links[0])
	}
	n.set.Close()
	n.online = false
	n.epoch++
	n.s.res.Restarts++
	n.s.eng.after(off, func() { _ = n.start() })
}

func (n *node) busy(id crypto.ID) bool { return n.byID[id] != nil || n.dialing[id] }

// fill is p2p's fill: the shared decision, then a dial per pick.
func (n *node) fill() {
	free := n.s.cfg.MaxOutbound - n.set.Counts().OutboundSlots
	if free <= 0 { // FillPicks picks nothing: skip the view (a snapshot of the set, no effect)
		return
	}
	view := n.set.DialView() // as p2p's fill: busy IDs and full groups
	exclude := func(id crypto.ID, ip netip.Addr) bool {
		if n.busy(id) || view.Refuses(id, ip) {
			return true
		}
		view.Take(id, ip)
		return false
	}
	picks, _ := n.book.FillPicks(free, exclude, n.s.boot, n.busy)
	for _, a := range picks {
		n.dial(a, false, false)
	}
}

// pexRound is p2p's pexRound: ask one random peer while below the
// outbound target or with an empty book.
func (n *node) pexRound() {
	if !n.seed && n.set.Counts().OutboundSlots >= n.s.cfg.MaxOutbound && n.book.Len() > 0 {
		return
	}
	if len(n.links) == 0 {
		return
	}
	n.requestPex(n.links[n.rng.IntN(len(n.links))])
}

// maintain is p2p's maintain: decay, trim, must-connect redials.
func (n *node) maintain() {
	now := n.s.eng.clk.Now()
	n.set.Decay(now)
	for _, p := range n.set.Trim(now) {
		if l := n.byID[p.ID]; l != nil {
			n.s.res.Trimmed++
			n.s.disconnect(l)
		}
	}
	if n.seed { // p2p's seedSweep
		var old []*link
		for _, l := range n.links {
			if n.s.eng.now-l.since >= seedLinger && !n.set.IsMustConnect(l.other(n.ep).id) {
				old = append(old, l)
			}
		}
		for _, l := range old {
			n.s.disconnect(l)
		}
	}
	due := n.set.DueRedials(now)
	slices.SortFunc(due, func(a, b crypto.Address) int { return compareID(a.ID, b.ID) })
	for _, a := range due {
		n.dial(a, true, false)
	}
}

// probe is p2p's churn service: one due entry, a handshake, a clean close.
func (n *node) probe() {
	view := n.set.DialView() // as p2p's churn
	exclude := func(id crypto.ID, _ netip.Addr) bool { return n.busy(id) || view.Busy(id) }
	for _, a := range n.book.DueForProbe(1, exclude) {
		n.dial(a, false, true)
	}
}

func compareID(a, b crypto.ID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// dial runs p2p's checks on a (checkTarget's order), then connects after
// a round trip, or fails after DialTimeout when nobody answers there.
func (n *node) dial(a crypto.Address, must, probe bool) {
	s := n.s
	if a.ID == n.ep.id || a.ID.IsZero() {
		return
	}
	ap, ok := a.AddrPort()
	if !ok {
		return
	}
	ip := ap.Addr()
	now := s.eng.clk.Now()
	if d := n.filt.CheckRules(ip); !d.Allowed() {
		return
	}
	if !must {
		if d := n.filt.Check(ip, filter.Outbound); !d.Allowed() {
			return
		}
	}
	if n.book.IsIPBanned(ip) || n.book.CheckIP(ip) != nil {
		return
	}
	if !must && !probe {
		if err := n.set.CheckDial(a.ID, ip, now); err != nil {
			return
		}
	}
	if n.book.IsBanned(a.ID) || n.busy(a.ID) {
		return
	}
	n.dialing[a.ID] = true
	_ = n.book.MarkAttempt(a.ID)
	s.res.Dials++
	ep := n.epoch
	t := s.byID[a.ID]
	if t == nil || t.ip != ip || t.port != ap.Port() || !t.listening {
		s.eng.after(s.cfg.DialTimeout, func() {
			if n.epoch != ep {
				return
			}
			delete(n.dialing, a.ID)
			n.failed(a, must)
		})
		return
	}
	s.eng.after(3*oneWay(n.ep, t), func() { // TCP and handshake: 1.5 round trips
		if n.epoch != ep {
			return
		}
		delete(n.dialing, a.ID)
		if !t.online() {
			n.failed(a, must)
			return
		}
		if probe {
			_ = n.book.MarkSuccess(a)
			return
		}
		s.connect(n.ep, t, must)
	})
}

func (n *node) failed(a crypto.Address, must bool) {
	n.s.res.DialFailures++
	_, _ = n.book.MarkFailure(a.ID)
	if must {
		n.set.RedialFailed(a.ID, n.s.eng.clk.Now())
	}
}

// refusal is how an inbound connection was refused, as its dialer sees it.
type refusal int

const (
	admitted      refusal = iota
	refusedEarly          // before the handshake (filter, IP ban): a failed dial
	refusedBanned         // after it, goaway "banned": the address was reached
	refusedRoom           // after it, goaway "too many peers": reached, node full
)

// admitInbound runs an inbound connection from e through the filter (caps,
// throttle) and the set, in p2p's order (admitRaw before the handshake,
// setupConn after); it returns the Set's peer, or nil and how it refused.
func (n *node) admitInbound(e *endpoint) (*peerset.Peer, refusal) {
	if d := n.filt.Check(e.ip, filter.Inbound); !d.Allowed() {
		n.s.res.refusals["filter "+d.Reason.String()]++
		return nil, refusedEarly
	}
	if n.book.IsIPBanned(e.ip) {
		return nil, refusedEarly
	}
	if n.book.IsBanned(e.id) {
		return nil, refusedBanned
	}
	p, replaced, err := n.set.Admit(peerset.PeerInfo{ID: e.id, Direction: peerset.Inbound, Remote: netip.AddrPortFrom(e.ip, e.port)}, n.s.eng.clk.Now())
	if err != nil {
		r := peerset.ReasonOf(err)
		n.s.res.refusals[r.String()]++
		switch r {
		case peerset.ReasonTooManyPeers, peerset.ReasonAddressCap, peerset.ReasonNetworkGroup:
			return nil, refusedRoom // p2p's goAwayCode: "too many peers"
		}
		return nil, refusedBanned
	}
	if replaced != nil {
		if l := n.byID[e.id]; l != nil {
			n.s.disconnect(l)
		}
	}
	return p, admitted
}

// requestPex is p2p's requestPex: mark it in the book, send, and handle
// the answer when it arrives.
func (n *node) requestPex(l *link) {
	o := l.other(n.ep)
	if err := n.book.MarkPexRequested(o.id); err != nil {
		return
	}
	s := n.s
	s.res.PexRequests++
	ep := n.epoch
	s.eng.after(oneWay(n.ep, o), func() {
		if !l.up {
			return
		}
		var resp *pb.PexResponse
		if o.node != nil {
			resp = o.node.answerPex(l, n.ep)
		} else {
			resp = o.atk.answerPex(n.ep)
		}
		if resp == nil {
			return
		}
		// A seed's goaway follows its answer on the same stream, so the
		// answer arrives even though the seed has closed.
		fromSeed := o.node != nil && o.node.seed
		s.eng.after(oneWay(o, n.ep), func() {
			if n.epoch == ep && n.online && (l.up || fromSeed) {
				n.ingestPex(o, resp)
				if n.seed && l.a == n.ep { // a seed's crawl ends once answered
					s.disconnect(l)
				}
			}
		})
	})
}

// answerPex is p2p's answerPex: rate-limited per peer, then AnswerPex.
func (n *node) answerPex(l *link, from *endpoint) *pb.PexResponse {
	now := n.s.eng.now
	e := l.end(n.ep)
	if l.lastAnswer[e] >= 0 && now-l.lastAnswer[e] < n.s.cfg.PexAnswerInterval {
		n.applyBan(n.set.Record(from.id, peerset.EventRateExceeded))
		return nil
	}
	l.lastAnswer[e] = now
	resp := n.book.AnswerPex(&pb.PexRequest{Max: pexAsk}, from.id)
	if n.seed && l.b == n.ep { // a seed's job with an inbound peer ends once it has answered
		n.s.disconnect(l)
	}
	return resp
}

// ingestPex is p2p's ingestPex: the book validates and stores, the set
// scores the sender.
func (n *node) ingestPex(o *endpoint, resp *pb.PexResponse) {
	from := o.addr // {id, ip, port}, as the connection sees it
	res, err := n.book.IngestPex(from, resp)
	n.s.res.PexAdded += res.Added
	switch {
	case err != nil:
		n.applyBan(n.set.Record(o.id, peerset.EventBadPEX))
	case res.Added > 0:
		n.applyBan(n.set.Record(o.id, peerset.EventGoodPEX))
	}
}

// applyBan is p2p's applyBan without the IP strike.
func (n *node) applyBan(d *peerset.BanDecision) {
	if d == nil {
		return
	}
	n.s.res.Bans++
	_ = n.book.Ban(d.ID, d.Until.Sub(n.s.eng.clk.Now()), d.Reason)
	if l := n.byID[d.ID]; l != nil {
		n.s.disconnect(l)
	}
}
