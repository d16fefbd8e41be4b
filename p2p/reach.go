package p2p

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/peerwire/peerwire/crypto"
)

// reachState is the node's reachability bookkeeping: its listeners
// (listen.go), the dial-backs that verify inbound peers' advertised
// addresses, and the observed-address votes (observed.go). lns and addrs are written only by Start, before anything
// reads them.
type reachState struct {
	lns   []net.Listener
	addrs []crypto.Address // with our ID, in the order of Config.ListenAddrs

	once      sync.Once     // starts dialBackLoop at the first dial-back
	queue     chan dialBack // pending dial-backs, set by once
	running   bool          // dialBackLoop was started; set by once
	dialBacks atomic.Uint64 // dial-backs queued
	verified  atomic.Uint64 // of which reached the expected ID

	observed observedVotes // what peers see us at (observed.go)
	db       dialBackState // dial-back verification of our addresses (dialback.go)
}

// advertFor picks the address of the inbound peer pc to keep in the
// book, among those it advertised with its own ID: the first at the IP
// its connection comes from (the one a dial-back may verify), else the
// first.
func advertFor(pc *peerConn) (crypto.Address, bool) {
	var first crypto.Address
	found := false
	for _, s := range pc.meta.GetListenAddrs() {
		a, err := crypto.ParseAddress(s)
		if err != nil || a.ID != pc.id {
			continue
		}
		if ap, ok := a.AddrPort(); ok && ap.Addr() == pc.remote.Addr() {
			return a, true
		}
		if !found {
			first, found = a, true
		}
	}
	return first, found
}

// dialBack is one pending verification of an inbound peer's advert.
type dialBack struct {
	addr crypto.Address
	to   netip.AddrPort
}

// verifyAdvertised queues a dial-back to the address a, which the inbound
// peer pc just advertised for itself and the book stored as unverified: a
// handshake expecting pc's ID, then a clean close. Nothing is admitted, so
// the peer's existing connection is untouched: the dial-back never gets
// past the handshake to SETTINGS, so it never meets the peer's duplicate
// rule. Success makes the address shareable through PEX
// (peerbook.Book.MarkVerified).
//
// So that nobody can use the node to dial third parties, a dial-back goes
// only to the IP the peer's own connection comes from, at most once per
// admitted connection, and only to an address the node's dial rules
// allow. Dial-backs run one at a time (dialBackLoop), each on a dial slot,
// from a queue of maxDialBackQueue; when the queue is full the address
// waits for an ordinary dial (fill, churn probe), as does an address at
// another IP than the connection's.
func (n *Node) verifyAdvertised(pc *peerConn, a crypto.Address) {
	e, ok := n.book.Get(a.ID)
	if !ok || e.Addr != a || !e.Unverified {
		return
	}
	ap, isIP := a.AddrPort()
	if !isIP || ap.Addr() != pc.remote.Addr() {
		return
	}
	if err := n.checkTarget(a.ID, ap.Addr(), dialCheck{origin: byNetwork, probe: true}); err != nil {
		return
	}
	n.reach.once.Do(func() {
		n.reach.queue = make(chan dialBack, maxDialBackQueue)
		n.reach.running = n.spawn(n.dialBackLoop)
	})
	if !n.reach.running {
		return
	}
	select {
	case n.reach.queue <- dialBack{addr: a, to: ap}:
		n.reach.dialBacks.Add(1)
	default:
	}
}

// dialBackLoop runs the queued dial-backs one at a time until the node
// stops.
func (n *Node) dialBackLoop() {
	for {
		var d dialBack
		select {
		case d = <-n.reach.queue:
		case <-n.ctx.Done():
			return
		}
		select {
		case n.dials <- struct{}{}:
		case <-n.ctx.Done():
			return
		}
		ctx, cancel := context.WithTimeout(n.ctx, n.s.DialTimeout+n.s.HandshakeTimeout)
		ec, err := n.handshakeOut(ctx, d.addr.ID, []netip.AddrPort{d.to})
		cancel()
		<-n.dials
		if err != nil {
			n.log.Debug("advertised address did not answer", "addr", d.addr.String(), "err", err)
			continue
		}
		ec.Close()
		if n.book.MarkVerified(d.addr) == nil {
			n.reach.verified.Add(1)
		}
	}
}
