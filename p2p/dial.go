package p2p

// The dial path: a book entry, bootstrap address or operator dial becomes
// an admitted outbound peer. dial checks the target (resolve.go), takes
// the in-flight mark (peerset.Set.BeginDial), a dial slot and the dial
// rate, runs handshakeOut, and hands the connection to setupPeer (peer.go).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

// dial connects to addr (whose ID may be zero: then the identity is learned
// and pinned), runs the handshake and admits the peer; it returns the
// peer's ID. An IP address is checked at once; a DNS name is resolved and
// its addresses checked once a dial slot is free (see targets), and only
// a checked address is dialed.
func (n *Node) dial(ctx context.Context, addr crypto.Address, c dialCheck) (crypto.ID, error) {
	pc, err := n.dialConn(ctx, addr, c)
	if err != nil {
		return crypto.ID{}, err
	}
	return pc.id, nil
}

// precheckDial returns why a dial to addr would be refused before it
// starts, if it would: ourselves, an address the filters or an IP ban
// refuse, a network name we do not dial, a banned ID. For an IP address
// it returns the checked targets; for a name, nil (resolved later, in
// dialConn). A DHT query asks it before it takes a transient slot, so
// that a dial bound to be refused never evicts a connection for room.
func (n *Node) precheckDial(ctx context.Context, addr crypto.Address, c dialCheck) ([]netip.AddrPort, error) {
	if addr.ID == n.ID() {
		return nil, conn.ErrSelfConnection
	}
	var targets []netip.AddrPort
	if _, isIP := addr.AddrPort(); isIP {
		var err error
		if targets, err = n.targets(ctx, addr, c); err != nil {
			return nil, err
		}
	} else if c.origin != byOperator && !n.s.Book.AllowNetworkNames {
		return nil, fmt.Errorf("%w: %s: %w", ErrFiltered, addr.Host, peerbook.ErrNetworkName)
	}
	if !addr.ID.IsZero() && n.book.IsBanned(addr.ID) {
		return nil, ErrBanned
	}
	return targets, nil
}

// dialConn is dial, returning the admitted connection; with c.transient
// it is a transient one (transient.go).
func (n *Node) dialConn(ctx context.Context, addr crypto.Address, c dialCheck) (*peerConn, error) {
	if n.stopped() {
		return nil, errStopped
	}
	targets, err := n.precheckDial(ctx, addr, c)
	if err != nil {
		return nil, err
	}
	if !addr.ID.IsZero() {
		// A transient dial (a DHT query's) stays out of the set's in-flight
		// marks, as its connection stays out of the set: it must never make
		// the application's Dial or the fill see "already dialing". The
		// transient cap bounds how many there are.
		if !c.transient {
			done, err := n.set.BeginDial(addr.ID)
			if err != nil {
				return nil, err // ErrConnected or ErrDialing
			}
			defer done()
		}
	}
	select {
	case n.dials <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", errDialNotStarted, ctx.Err())
	case <-n.ctx.Done():
		return nil, errStopped
	}
	defer func() { <-n.dials }()
	if err := n.waitDialRate(ctx); err != nil {
		if err != errStopped {
			err = fmt.Errorf("%w: %w", errDialNotStarted, err)
		}
		return nil, err
	}
	if !addr.ID.IsZero() {
		_ = n.book.MarkAttempt(addr.ID)
	}
	if targets == nil {
		var err error
		if targets, err = n.targets(ctx, addr, c); err != nil {
			// A name that does not resolve, or resolves somewhere refused,
			// is a failed address: it backs off and is evicted in time.
			if !addr.ID.IsZero() {
				_, _ = n.book.MarkFailure(addr.ID)
			}
			return nil, err
		}
	}
	n.st.dials.Add(1)
	ec, err := n.handshakeOut(ctx, addr.ID, targets)
	if err != nil {
		n.st.dialFailures.Add(1)
		if !addr.ID.IsZero() {
			_, _ = n.book.MarkFailure(addr.ID)
		}
		return nil, err
	}
	remote := addrPortOf(ec.RemoteAddr())
	id := ec.RemoteID()
	if addr.ID.IsZero() {
		// A plain host:port bootstrap: pin the identity we found.
		pinned := addr
		pinned.ID = id
		if err := n.book.Add(pinned, peerbook.Source{Kind: peerbook.SourceBootstrap}); err == nil {
			_ = n.book.MarkSuccess(pinned)
		}
		n.pinBootstrap(addr, id)
	} else if _, known := n.book.Get(addr.ID); !known && !c.transient {
		// An address the application dialed (Dial) that the book did not
		// know: keep it, or the node forgets the peer at its next restart.
		if err := n.book.Add(addr, peerbook.Source{Kind: peerbook.SourceManual}); err == nil {
			_ = n.book.MarkSuccess(addr)
		}
	}
	pc, err := n.setupConn(ec, peerset.Outbound, remote, c.transient)
	if err != nil {
		if errors.Is(err, ErrIncompatible) {
			// It will not change its features soon: back off like any
			// address that failed.
			_, _ = n.book.MarkFailure(id)
		}
		return nil, err
	}
	return pc, nil
}

// waitDialRate waits until DialRate allows one more dial, measured on the
// node's clock (Config.Now), or until ctx ends or the node stops.
func (n *Node) waitDialRate(ctx context.Context) error {
	now := n.s.Now()
	r := n.dialLim.ReserveN(now, 1) // always OK: the burst is at least 1
	due := now.Add(r.DelayFrom(now))
	for now.Before(due) {
		wake := make(chan struct{})
		t := n.afterFunc(due.Sub(now), func() { close(wake) })
		select {
		case <-wake:
		case <-ctx.Done():
			t.Stop()
			r.CancelAt(n.s.Now())
			return ctx.Err()
		case <-n.ctx.Done():
			t.Stop()
			r.CancelAt(n.s.Now())
			return errStopped
		}
		now = n.s.Now()
	}
	return nil
}

// handshakeOut connects to the first of targets that accepts, each dial
// bounded by DialTimeout, and runs the client handshake expecting id (any
// identity when zero). targets are IP addresses already checked
// (targets), never names: nothing is resolved here. Every failure path
// closes the socket.
func (n *Node) handshakeOut(ctx context.Context, id crypto.ID, targets []netip.AddrPort) (*conn.EncryptedConn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(n.ctx, cancel)
	defer stop()
	d := net.Dialer{Timeout: n.s.DialTimeout}
	if n.s.DialLocalIP.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: n.s.DialLocalIP.AsSlice()}
	}
	var raw net.Conn
	err := errors.New("p2p: no address to dial")
	for _, t := range targets {
		if raw, err = d.DialContext(ctx, "tcp", t.String()); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	ec, err := conn.Client(ctx, raw, n.secureConfig(), id)
	if err != nil {
		n.st.handshakeFailed(err)
		return nil, err
	}
	return ec, nil
}

// refusedForRoom reports whether err ends a connection the peer refused
// for want of room (goaway "too many peers"): the address is good, the
// node full, so the book backs off (MarkRefused) without a failure.
func refusedForRoom(err error) bool {
	var g *mux.GoAwayError
	return errors.As(err, &g) && g.Remote && g.Code == mux.GoAwayTooManyPeers
}
