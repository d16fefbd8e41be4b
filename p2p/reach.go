package p2p

import (
	"context"
	"net"
	"net/netip"
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

	dialBacks atomic.Uint64 // verification dials started
	verified  atomic.Uint64 // of which reached the expected ID

	observed observedVotes // what peers see us at (observed.go)
}

// verifyAdvertised checks, in the background, the address a, which the
// inbound peer pc just advertised for itself and the book stored as
// unverified: a handshake expecting pc's ID, then a clean close (nothing
// is admitted, so the peer's existing connection is untouched: the
// dial-back never gets past the handshake to SETTINGS, so it never meets
// the peer's duplicate rule). Success makes the address shareable through
// PEX (peerbook.Book.MarkVerified).
//
// So that nobody can use the node to dial third parties, a dial-back goes
// only to the IP the peer's own connection comes from, at most once per
// admitted connection, only while a dial slot is free (MaxConcurrentDials;
// otherwise the address waits for an ordinary dial), and only to an
// address the node's dial rules allow. An address at another IP stays
// unverified until the node dials it as a book entry (fill, churn probe).
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
	select {
	case n.dials <- struct{}{}:
	default:
		return
	}
	n.reach.dialBacks.Add(1)
	started := n.spawn(func() {
		defer func() { <-n.dials }()
		ctx, cancel := context.WithTimeout(n.ctx, n.s.DialTimeout+n.s.HandshakeTimeout)
		defer cancel()
		ec, err := n.handshakeOut(ctx, a.ID, []netip.AddrPort{ap})
		if err != nil {
			n.log.Debug("advertised address did not answer", "addr", a.String(), "err", err)
			return
		}
		ec.Close()
		if n.book.MarkVerified(a) == nil {
			n.reach.verified.Add(1)
		}
	})
	if !started {
		<-n.dials
	}
}
