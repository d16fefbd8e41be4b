package p2p

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerset"
)

// startServices starts the node's periodic services, each one goroutine
// that ends with the node.
//
// The first fill runs before Start returns: the first dials (the bootstrap
// list, a saved book) are under way by then, and what a node dials at its
// start depends on its configuration alone, never on how late a goroutine
// gets to run (a late first fill would see what the application added or
// dialed since Start).
//
// The PEX service has no first round: a node has no peer at Start to ask,
// and a new outbound peer is asked when it is admitted (onAdmitted). A
// first round that ran late, after an admission, asked that peer a
// second time.
func (n *Node) startServices() {
	n.fill()
	n.every("fill", n.s.FillInterval, n.fill, false)
	n.every("pex", n.s.PexInterval, n.pexRound, false)
	n.every("maintain", n.s.MaintainInterval, n.maintain, true)
	if n.s.ChurnInterval > 0 {
		n.every("churn", n.s.ChurnInterval, n.churn, true)
	}
	if n.s.StatusInterval > 0 {
		n.every("status", n.s.StatusInterval, n.status, true)
	}
	n.startHealth()
}

// every runs f on each tick of interval until the node stops, and first
// at once when now is set. name is for the tests' hooks.
func (n *Node) every(name string, interval time.Duration, f func(), now bool) {
	n.spawn(func() {
		t := n.s.serviceClock.NewTicker(interval)
		defer t.Stop()
		if n.s.beforeServices != nil {
			n.s.beforeServices()
		}
		for {
			if now {
				f()
			}
			now = true
			if n.s.serviceIdle != nil {
				n.s.serviceIdle(name)
			}
			select {
			case <-t.C():
			case <-n.ctx.Done():
				return
			}
		}
	})
}

func (n *Node) maxOutbound() int {
	switch m := n.s.Peers.MaxOutbound; {
	case m == 0:
		return peerset.DefaultMaxOutbound
	case m < 0:
		return 0
	default:
		return m
	}
}

// busy reports whether id is connected or being dialed.
func (n *Node) busy(id crypto.ID) bool {
	return n.set.Busy(id)
}

// fill dials book entries while outbound slots are free; with an empty
// book it dials the bootstrap peers (fillPicks).
func (n *Node) fill() {
	picks, fromBook := n.fillPicks()
	for i, a := range picks {
		c := dialCheck{origin: byOperator} // the bootstrap list
		if i < fromBook {
			c.origin = n.originOf(a)
		}
		n.spawn(func() {
			ctx, cancel := context.WithTimeout(n.ctx, n.s.DialTimeout+n.s.ResolveTimeout+n.s.HandshakeTimeout)
			defer cancel()
			if _, err := n.dial(ctx, a, c); err != nil {
				n.fillDialFailed(a, err)
			}
		})
	}
}

// fillPicks is fill's choice. It skips a seed whose last visits taught us
// nothing (seedhold.go), and what the peer set would refuse (connected,
// dialed, must-connect, a full network group), judged on one snapshot of
// the set, which also counts the round's own picks: a book stuffed with
// addresses of one group (a PEX poisoner's) does not use up the round's
// picks on dials refused at once, and one round does not dial more of a
// group than its share. The snapshot, because the exclude callback runs
// under the book's lock and the set calls the book under its own: the set
// must not be called from it.
func (n *Node) fillPicks() (picks []crypto.Address, fromBook int) {
	free := n.maxOutbound() - n.set.Counts().OutboundSlots
	if free <= 0 {
		return nil, 0
	}
	view, now := n.set.DialView(), n.s.Now()
	exclude := func(id crypto.ID, ip netip.Addr) bool {
		if view.Refuses(id, ip) || n.seedHeld(id, now) {
			return true
		}
		view.Take(id, ip) // Pick returns every candidate it does not exclude
		return false
	}
	picks, fromBook = n.book.FillPicks(free, exclude, n.s.bootstrap, n.busy)
	if fromBook == 0 {
		picks = slices.DeleteFunc(picks, func(a crypto.Address) bool { return n.bootstrapHeld(a, now) })
	}
	return picks, fromBook
}

// maintain decays reputation, trims above the high watermark, ends a
// seed's lingering peers and redials must-connect peers that are due.
func (n *Node) maintain() {
	now := n.s.Now()
	n.set.Decay(now)
	for _, p := range n.set.Trim(now) {
		_ = p.Disconnect(peerset.ReasonTrimmed, "trimmed: too many peers")
	}
	n.seedSweep(now)
	for _, a := range n.set.DueRedials(now) {
		n.spawn(func() {
			ctx, cancel := context.WithTimeout(n.ctx, n.s.DialTimeout+n.s.ResolveTimeout+n.s.HandshakeTimeout)
			defer cancel()
			if _, err := n.dial(ctx, a, dialCheck{origin: byOperator, must: true}); err != nil && err != ErrConnected {
				n.set.RedialFailed(a.ID, n.s.Now())
				n.dialFailed("must-connect", a, err)
			}
		})
	}
}

// churn probes one book entry that is due: a handshake, then a clean
// close. Success and failure go to the book, which evicts entries that keep
// failing (never must-connect ones).
func (n *Node) churn() {
	view := n.set.DialView() // a snapshot: see fill
	for _, a := range n.book.DueForProbe(1, func(id crypto.ID, _ netip.Addr) bool { return view.Busy(id) }) {
		c := dialCheck{origin: n.originOf(a), probe: true}
		var targets []netip.AddrPort
		if _, isIP := a.AddrPort(); isIP {
			var err error
			if targets, err = n.targets(n.ctx, a, c); err != nil {
				continue
			}
		}
		n.spawn(func() {
			ctx, cancel := context.WithTimeout(n.ctx, n.s.DialTimeout+n.s.ResolveTimeout+n.s.HandshakeTimeout)
			defer cancel()
			_ = n.book.MarkAttempt(a.ID)
			var err error
			if targets == nil { // a name: resolved once, its addresses checked
				targets, err = n.targets(ctx, a, c)
			}
			var ec *conn.EncryptedConn
			if err == nil {
				ec, err = n.handshakeOut(ctx, a.ID, targets)
			}
			if err != nil {
				if evicted, _ := n.book.MarkFailure(a.ID); evicted {
					n.log.Debug("book entry evicted after failed probes", "addr", a.String())
				}
				return
			}
			_ = n.book.MarkSuccess(a)
			ec.Close()
		})
	}
}

// status logs the one-line summary, with traffic rates since the last one.
func (n *Node) status() {
	s := n.Stats()
	now := n.s.serviceClock.Now() // a rate over the services' time, like its period
	var inRate, outRate float64
	if prev := n.lastStatus; !prev.at.IsZero() {
		if secs := now.Sub(prev.at).Seconds(); secs > 0 {
			inRate = float64(s.BytesIn-prev.in) / secs
			outRate = float64(s.BytesOut-prev.out) / secs
		}
	}
	n.lastStatus = statusMark{at: now, in: s.BytesIn, out: s.BytesOut}
	n.log.Info("status",
		"in", s.Inbound, "out", s.Outbound,
		"must", s.MustConnectUp, "must_total", s.MustConnectTotal,
		"book", s.BookSize,
		"recv_bytes_per_s", int64(inRate), "sent_bytes_per_s", int64(outRate),
		"gossip_dedup", s.DedupRatio())
}

// statusMark is what the previous status line saw; only the status
// goroutine touches it.
type statusMark struct {
	at      time.Time
	in, out uint64
}
