package p2p

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
	"google.golang.org/protobuf/proto"
)

// The asking side of dial-back verification (dialback.go): candidate
// addresses, the peers asked about each, the verdict, the re-check loop
// and the addresses advertised from it.

// candidate is an address of ours to verify.
type candidate struct {
	ap       netip.AddrPort
	observed bool // from the observed-address vote: advertised only once verified
}

// candidates returns the addresses a check tests: the port mapping's
// external address, the advertised IP addresses, and each observed IP
// (IPv4 and IPv6 on a dual-stack node) with its observed port or else
// each listener's port; at most maxDialBackCandidates.
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
	for _, o := range n.ObservedAddrs() { // one per family, both on a dual-stack node
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
	n.setVerdict(v, verified, verifiedObs)
	return n.Reachability(), asked
}

// setVerdict records a check's outcome: the verdict, the verified
// addresses and, of them, the observed ones (advertised from now on). A
// change republishes the advertised addresses, brings the DHT in line
// (syncDHT) and publishes EventReachability.
func (n *Node) setVerdict(v Verdict, verified, verifiedObs []crypto.Address) {
	d := &n.reach.db
	now := n.s.Now()
	d.mu.Lock()
	changed := v != d.verdict || !slices.Equal(verified, d.verified)
	obsChanged := !slices.Equal(verifiedObs, d.observed)
	d.verdict, d.verified, d.checked, d.observed = v, verified, now, verifiedObs
	d.mu.Unlock()
	if obsChanged {
		n.republishAdverts() // syncs the DHT too
	}
	if changed {
		n.syncDHT() // dht.go: the mode in auto, the verified addresses
		n.log.Info("reachability changed", "verdict", v.String(), "verified", fmt.Sprint(verified))
		ev := Event{Kind: EventReachability, Reason: v.String(), Time: now}
		if len(verified) > 0 {
			ev.Addr, _ = verified[0].AddrPort()
		}
		n.events.publish(ev)
	}
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
				n.log.Debug("dial-back request failed", "peer", pc.id.String(), "addr", ap.String(), "err", err)
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
	n.syncDHT() // dht.go: the DHT record advertises the new addresses
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
