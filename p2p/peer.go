package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

// multiConfig builds the MultiConfig of one connection: its callbacks know
// their peerConn, so no lookup is needed per message.
func (n *Node) multiConfig(pc *peerConn) *mux.Config {
	cfg := &mux.Config{
		Topics:           n.s.connTopics,
		MaxPacketPayload: n.s.MaxPacketPayload,
		Features:         n.s.Features,
		PingInterval:     n.s.PingInterval,
		IdleTimeout:      n.s.IdleTimeout,
		SendRate:         n.s.SendRate,
		RecvRate:         n.s.RecvRate,
		OnMessage:        func(m *mux.Message) { n.onMessage(pc, m) },
		OnViolation:      func(_ *mux.MultiConn, v *mux.ViolationError) { n.onViolation(pc, v) },
		OnRateExcess:     func(_ *mux.MultiConn, topic uint8) { n.onRateExcess(pc, topic) },
		OnClose:          func(_ *mux.MultiConn, err error) { n.onClose(pc, err) },
		Logger:           n.s.connLog,
	}
	cfg.CreditStallTimeout, cfg.Clock = n.s.CreditStallTimeout, n.s.connClock
	return cfg
}

// acceptLoop accepts inbound connections until the listener closes.
func (n *Node) acceptLoop() {
	for {
		raw, err := n.ln.Accept()
		if err != nil {
			if n.stopped() || errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Warn("accept failed", "err", err)
			select {
			case <-time.After(50 * time.Millisecond): // e.g. out of file descriptors
			case <-n.ctx.Done():
				return
			}
			continue
		}
		n.admitRaw(raw)
	}
}

// admitRaw applies everything that can be judged before the handshake:
// filter rules, the per-IP attempt throttle and caps, IP bans, and the cap
// on handshakes in flight. It never blocks the accept loop.
func (n *Node) admitRaw(raw net.Conn) {
	ap := addrPortOf(raw.RemoteAddr())
	ip := ap.Addr()
	if d := n.filter.Check(ip, filter.Inbound); !d.Allowed() {
		n.st.refused(d.Reason.String())
		raw.Close()
		return
	}
	if n.book.IsIPBanned(ip) {
		n.st.refused("ip-banned")
		raw.Close()
		return
	}
	select {
	case n.handshakes <- struct{}{}:
	default:
		n.st.refused("handshakes-full")
		raw.Close()
		return
	}
	started := n.spawn(func() {
		defer func() { <-n.handshakes }()
		ec, err := conn.Server(n.ctx, raw, n.secureConfig())
		if err != nil {
			n.st.handshakeFailed(err)
			n.log.Debug("inbound handshake failed", "remote", ap.String(), "err", err)
			return
		}
		n.setupPeer(ec, peerset.Inbound, ap)
	})
	if !started { // the node is stopping
		<-n.handshakes
		raw.Close()
	}
}

// setupPeer turns an authenticated connection into an admitted peer, or
// refuses it with a goaway that says why. It reports the admission error.
func (n *Node) setupPeer(ec *conn.EncryptedConn, dir peerset.Direction, ap netip.AddrPort) error {
	id := ec.RemoteID()
	now := n.s.Now()
	pc := &peerConn{n: n, ec: ec, id: id, meta: ec.RemoteMeta(), dir: dir, remote: ap, since: now,
		closed: make(chan struct{})}
	if n.book.IsBanned(id) || n.book.IsIPBanned(ap.Addr()) {
		// Still build the MultiConn so the refused peer learns why.
		pc.refused.Store(true)
	}
	// The setup has its own deadline rather than the node's context: a Stop
	// racing it then still ends the connection with a goaway, not a cut.
	setupCtx, cancel := context.WithTimeout(context.Background(), n.s.HandshakeTimeout)
	mc, err := mux.New(setupCtx, ec, n.multiConfig(pc))
	cancel()
	if err != nil {
		n.st.handshakeFailed(err)
		n.log.Debug("connection setup failed", "peer", id.String(), "err", err)
		var v *mux.ViolationError
		if errors.As(err, &v) { // a bad SETTINGS: charged like any violation
			n.st.violations.Add(1)
			n.applyBan(n.set.Record(id, peerset.EventProtocolViolation))
		}
		return err
	}
	// The MultiConn is built, not started: nothing of the peer's is read
	// and no callback runs until it is admitted below. A refused one is
	// closed unstarted, so its messages never reach the node.
	pc.mc = mc
	n.track(pc)
	if pc.refused.Load() {
		n.refuse(pc, mux.GoAwayBanned, "banned")
		return ErrBanned
	}
	p, replaced, err := n.set.Admit(peerset.PeerInfo{ID: id, Direction: dir, Remote: ap, Conn: pc, Meta: pc.meta}, now)
	if err != nil {
		pc.refused.Store(true)
		reason := peerset.ReasonOf(err)
		n.st.refused(reason.String())
		if n.stopped() {
			n.refuse(pc, mux.GoAwayShutdown, "node stopping")
		} else {
			n.refuse(pc, goAwayCode(reason), reason.String())
		}
		n.log.Debug("peer refused", "peer", id.String(), "dir", dir.String(), "reason", reason.String())
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	pc.peer = p
	mc.Start() // admitted: its callbacks see pc.peer
	if replaced != nil {
		_ = replaced.Disconnect(peerset.ReasonDuplicate, "duplicate connection")
	}
	// Register only while the set still holds this connection: a duplicate
	// admitted a moment later may already have replaced it, and must not be
	// overwritten by the loser.
	n.peers.Lock()
	current := false
	if st, ok := n.set.Get(id); ok && st.Peer == p {
		n.peers.byID[id] = pc
		current = true
	}
	n.peers.Unlock()
	if !current {
		return nil
	}
	if n.book.IsIPBanned(ap.Addr()) { // banned (BanIP) since the check above
		_ = p.Disconnect(peerset.ReasonBanned, "banned")
		return ErrBanned
	}
	n.recordContact(pc)
	n.events.publish(Event{Kind: EventConnected, Peer: id, Direction: dir.String(), Time: now})
	n.peerUp(pc)
	n.onAdmitted(pc)
	return nil
}

// recordContact updates the book after a successful admission: outbound
// peers are marked reached; inbound peers' advertised addresses are learned.
func (n *Node) recordContact(pc *peerConn) {
	if pc.dir == peerset.Outbound {
		_ = n.book.MarkSuccess(pc.id)
	} else {
		for _, s := range pc.meta.GetListenAddrs() {
			a, err := crypto.ParseAddress(s)
			if err != nil || a.ID != pc.id {
				continue
			}
			_ = n.book.Add(a, peerbook.Source{Kind: peerbook.SourceInbound, From: pc.id})
			break
		}
	}
	_ = n.book.SetMeta(pc.id, pc.meta)
}

// goAway closes mc gracefully in the background, bounded by the node's
// life: Stop aborts what is still flushing. Once Stop is waiting for the
// node's goroutines it aborts mc at once instead.
func (n *Node) goAway(mc *mux.MultiConn, code mux.GoAwayCode, text string) {
	started := n.spawn(func() {
		ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		defer cancel()
		_ = mc.GoAway(ctx, code, text)
	})
	if !started {
		mc.Abort(code, text)
	}
}

// refuse closes the unstarted MultiConn of a refused peer with a goaway, in
// the background as goAway does, and untracks it once it has ended: it
// never starts, so no OnClose does that. The goroutine that closes it is
// the one that untracks it, so nothing of it runs once waitConns is done.
func (n *Node) refuse(pc *peerConn, code mux.GoAwayCode, text string) {
	run := func(ctx context.Context) {
		_ = pc.mc.GoAway(ctx, code, text)
		n.untrack(pc)
	}
	if n.spawn(func() {
		ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
		defer cancel()
		run(ctx)
	}) {
		return
	}
	// Stop is already waiting for the node's goroutines: linger no longer
	// than an abort would; waitConns waits for the untrack.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		run(ctx)
	}()
}

// onClose runs when a connection has ended: the peer leaves the set and
// the registry, and the book learns of the outcome.
func (n *Node) onClose(pc *peerConn, err error) {
	defer n.untrack(pc)
	if pc.peer == nil {
		return
	}
	if errors.Is(err, mux.ErrCreditStall) {
		// The peer pinned our send queue; it pays before it leaves the set,
		// so the hit lands on its live score. Must-connect peers are never
		// banned for it (the set spares them) and are redialed as usual.
		n.log.Info("peer stopped returning credit", "peer", pc.id.String(), "err", err)
		n.applyBan(n.set.Record(pc.id, peerset.EventCreditStall))
	}
	n.set.Remove(pc.peer)
	// Fold the connection's counters into the node's totals in the same
	// step that unregisters it, so Stats never counts it twice or not at all.
	n.st.closed.Lock()
	n.st.foldLocked(pc.mc.Stats())
	n.peers.Lock()
	if n.peers.byID[pc.id] == pc {
		delete(n.peers.byID, pc.id)
	}
	n.peers.Unlock()
	n.st.closed.Unlock()
	reason := ""
	if err != nil {
		reason = err.Error()
	}
	n.events.publish(Event{Kind: EventDisconnected, Peer: pc.id, Direction: pc.dir.String(), Reason: reason, Time: n.s.Now()})
	n.peerDown(pc, err)
}

// onViolation records a protocol violation: a heavy reputation hit.
func (n *Node) onViolation(pc *peerConn, v *mux.ViolationError) {
	n.st.violations.Add(1)
	n.log.Info("protocol violation", "peer", pc.id.String(), "remote", pc.remote.String(), "violation", v.Error())
	n.applyBan(n.set.Record(pc.id, peerset.EventProtocolViolation))
}

func (n *Node) onRateExcess(pc *peerConn, topic uint8) {
	n.st.rateExcess.Add(1)
	n.applyBan(n.set.Record(pc.id, peerset.EventRateExceeded))
}

// applyBan carries out a ban decision of the peer set: the book keeps the
// ban across restarts and the connection is closed.
func (n *Node) applyBan(d *peerset.BanDecision) {
	if d == nil {
		return
	}
	now := n.s.Now()
	_ = n.book.Ban(d.ID, d.Until.Sub(now), d.Reason)
	n.st.bans.Add(1)
	// Count the strike (which may ban the address) before the goaway, so
	// that once the peer is told it is banned every ban is in force.
	if d.Peer != nil {
		n.strike(d.Peer.Remote.Addr(), d.Until, now)
		_ = d.Peer.Disconnect(peerset.ReasonLowReputation, "banned: "+d.Reason)
	}
	n.events.publish(Event{Kind: EventBanned, Peer: d.ID, Reason: d.Reason, Time: now})
	n.log.Info("peer banned", "peer", d.ID.String(), "until", d.Until, "reason", d.Reason)
}

// strike counts an automatic ID ban of a peer connected from ip. The
// IPBanAfter-th within IPBanWindow from one IPv4 address or IPv6 /64 bans
// that address or /64 until the ID ban ends, unless a must-connect peer
// uses it.
func (n *Node) strike(ip netip.Addr, until, now time.Time) {
	if n.s.IPBanAfter < 0 || !ip.IsValid() {
		return
	}
	ip = ip.Unmap()
	bits := 32
	if !ip.Is4() {
		bits = strikeBits6
	}
	p, _ := ip.Prefix(bits)
	n.strikes.Lock()
	times := n.strikes.m[p]
	kept := times[:0]
	for _, t := range times {
		if now.Sub(t) < n.s.IPBanWindow {
			kept = append(kept, t)
		}
	}
	kept = append(kept, now)
	fire := len(kept) >= n.s.IPBanAfter
	if fire {
		delete(n.strikes.m, p)
	} else {
		if _, known := n.strikes.m[p]; !known && len(n.strikes.m) >= maxStrikeAddrs {
			n.forgetStrikeLocked(now)
		}
		n.strikes.m[p] = kept
	}
	n.strikes.Unlock()
	if !fire {
		return
	}
	if n.mustConnectIn(p) {
		n.log.Info("address not banned: a must-connect peer uses it", "prefix", p.String(), "bans", len(kept))
		return
	}
	reason := fmt.Sprintf("%d identities banned within %v", len(kept), n.s.IPBanWindow)
	d := min(until.Sub(now), MaxBanDuration)
	if d <= 0 {
		return
	}
	if err := n.banPrefix(p, d, reason); err != nil {
		n.log.Warn("automatic address ban failed", "prefix", p.String(), "err", err)
	}
}

// forgetStrikeLocked drops the tracked address whose latest strike is
// oldest; the caller holds n.strikes.
func (n *Node) forgetStrikeLocked(now time.Time) {
	var oldest netip.Prefix
	var at time.Time
	for p, times := range n.strikes.m {
		last := times[len(times)-1]
		if now.Sub(last) >= n.s.IPBanWindow {
			delete(n.strikes.m, p)
			continue
		}
		if at.IsZero() || last.Before(at) {
			oldest, at = p, last
		}
	}
	if len(n.strikes.m) >= maxStrikeAddrs {
		delete(n.strikes.m, oldest)
	}
}

// mustConnectIn reports whether a must-connect peer's configured address,
// or the address it is connected from, lies inside p.
func (n *Node) mustConnectIn(p netip.Prefix) bool {
	for _, a := range n.set.MustConnect() {
		if ap, isIP := a.AddrPort(); isIP && p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	for _, st := range n.set.Peers() {
		if st.MustConnect && p.Contains(st.Remote.Addr()) {
			return true
		}
	}
	return false
}

// dial connects to addr (whose ID may be zero: then the identity is learned
// and pinned), runs the handshake and admits the peer; it returns the
// peer's ID. An IP address is checked at once; a DNS name is resolved and
// its addresses checked once a dial slot is free (see targets), and only
// a checked address is dialed.
func (n *Node) dial(ctx context.Context, addr crypto.Address, c dialCheck) (crypto.ID, error) {
	if n.stopped() {
		return crypto.ID{}, errStopped
	}
	if addr.ID == n.ID() {
		return crypto.ID{}, conn.ErrSelfConnection
	}
	var targets []netip.AddrPort
	if _, isIP := addr.AddrPort(); isIP {
		var err error
		if targets, err = n.targets(ctx, addr, c); err != nil {
			return crypto.ID{}, err
		}
	} else if c.origin == byNetwork && !n.s.Book.AllowNetworkNames {
		return crypto.ID{}, fmt.Errorf("%w: %s: %w", ErrFiltered, addr.Host, peerbook.ErrNetworkName)
	}
	if !addr.ID.IsZero() {
		if n.book.IsBanned(addr.ID) {
			return crypto.ID{}, ErrBanned
		}
		n.peers.Lock()
		_, connected := n.peers.byID[addr.ID]
		busy := n.peers.dialing[addr.ID]
		if !connected && !busy {
			n.peers.dialing[addr.ID] = true
		}
		n.peers.Unlock()
		if connected {
			return crypto.ID{}, ErrConnected
		}
		if busy {
			return crypto.ID{}, ErrDialing
		}
		defer func() {
			n.peers.Lock()
			delete(n.peers.dialing, addr.ID)
			n.peers.Unlock()
		}()
	}
	select {
	case n.dials <- struct{}{}:
	case <-ctx.Done():
		return crypto.ID{}, ctx.Err()
	case <-n.ctx.Done():
		return crypto.ID{}, errStopped
	}
	defer func() { <-n.dials }()
	if err := n.waitDialRate(ctx); err != nil {
		return crypto.ID{}, err
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
			return crypto.ID{}, err
		}
	}
	n.st.dials.Add(1)
	ec, err := n.handshakeOut(ctx, addr.ID, targets)
	if err != nil {
		n.st.dialFailures.Add(1)
		if !addr.ID.IsZero() {
			_, _ = n.book.MarkFailure(addr.ID)
		}
		return crypto.ID{}, err
	}
	remote := addrPortOf(ec.RemoteAddr())
	id := ec.RemoteID()
	if addr.ID.IsZero() {
		// A plain host:port bootstrap: pin the identity we found.
		pinned := addr
		pinned.ID = id
		if err := n.book.Add(pinned, peerbook.Source{Kind: peerbook.SourceBootstrap}); err == nil {
			_ = n.book.MarkSuccess(pinned.ID)
		}
	} else if _, known := n.book.Get(addr.ID); !known && !c.transient {
		// An address the application dialed (Dial) that the book did not
		// know: keep it, or the node forgets the peer at its next restart.
		if err := n.book.Add(addr, peerbook.Source{Kind: peerbook.SourceManual}); err == nil {
			_ = n.book.MarkSuccess(addr.ID)
		}
	}
	if err := n.setupPeer(ec, peerset.Outbound, remote); err != nil {
		if errors.Is(err, ErrIncompatible) {
			// It will not change its features soon: back off like any
			// address that failed.
			_, _ = n.book.MarkFailure(id)
		}
		return crypto.ID{}, err
	}
	return id, nil
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

func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
