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
		ProtocolFeatures: append(n.transientFeatures(pc.transient), n.chunkedFeatures()...),
		PingInterval:     n.s.PingInterval,
		IdleTimeout:      n.s.IdleTimeout,
		SendRate:         n.s.SendRate,
		RecvRate:         n.s.RecvRate,
		OnMessage:        func(m *mux.Message) { n.onMessage(pc, m) },
		NewMessage:       newRxMessage,
		LendMessages:     true,
		OnViolation:      func(_ *mux.MultiConn, v *mux.ViolationError) { n.onViolation(pc, v) },
		OnRateExcess:     func(_ *mux.MultiConn, topic uint8) { n.onRateExcess(pc, topic) },
		OnClose:          func(_ *mux.MultiConn, err error) { n.onClose(pc, err) },
		Logger:           n.s.connLog,
	}
	cfg.CreditStallTimeout, cfg.Clock = n.s.CreditStallTimeout, n.s.connClock
	return cfg
}

// acceptLoop accepts inbound connections on ln until it closes.
func (n *Node) acceptLoop(ln net.Listener) {
	for {
		raw, err := ln.Accept()
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
	slot, ok := n.handshakeSlot(ip, raw)
	if !ok {
		n.st.refused("handshakes-full")
		raw.Close()
		return
	}
	started := n.spawn(func() {
		defer slot.release()
		ec, err := conn.Server(n.ctx, raw, n.secureConfig())
		if err != nil {
			// An evicted handshake failed because its slot was taken:
			// counted once, as that refusal, not also as a failure.
			if slot.evicted() {
				n.st.refused("handshake-evicted")
			} else {
				n.st.handshakeFailed(err)
			}
			n.log.Debug("inbound handshake failed", "remote", ap.String(), "err", err)
			return
		}
		slot.settle()
		n.setupPeer(ec, peerset.Inbound, ap)
	})
	if !started { // the node is stopping
		slot.release()
		raw.Close()
	}
}

// setupPeer turns an authenticated connection into an admitted peer, or
// refuses it with a goaway that says why. It reports the admission error.
func (n *Node) setupPeer(ec *conn.EncryptedConn, dir peerset.Direction, ap netip.AddrPort) error {
	_, err := n.setupConn(ec, dir, ap, false)
	return err
}

// setupConn is setupPeer; transient asks, for an outbound connection, that
// it be a transient one (transient.go), which it returns once admitted.
// An inbound connection is transient when its dialer marked it so.
func (n *Node) setupConn(ec *conn.EncryptedConn, dir peerset.Direction, ap netip.AddrPort, transient bool) (*peerConn, error) {
	id := ec.RemoteID()
	now := n.s.Now()
	pc := &peerConn{n: n, ec: ec, id: id, meta: ec.RemoteMeta(), dir: dir, remote: ap, since: now,
		closed: make(chan struct{}), settled: make(chan struct{}), transient: transient && dir == peerset.Outbound}
	n.settingUp(pc)
	defer n.setupDone(pc)
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
		return nil, err
	}
	// The MultiConn is built, not started: nothing of the peer's is read
	// and no callback runs until it is admitted below. A refused one is
	// closed unstarted, so its messages never reach the node.
	pc.mc = mc
	if dir == peerset.Inbound && markedTransient(mc) {
		pc.transient = true
	}
	n.track(pc)
	if pc.refused.Load() {
		n.refuse(pc, mux.GoAwayBanned, "banned")
		return nil, ErrBanned
	}
	if ie, text := n.chunkedMismatch(mc); ie != nil {
		pc.refused.Store(true)
		n.st.handshakeFailed(ie) // counted as the multiplexer's refusals are
		n.refuse(pc, mux.GoAwayIncompatible, text)
		n.log.Debug("peer refused", "peer", id.String(), "dir", dir.String(), "reason", text)
		return nil, ie
	}
	if pc.transient {
		return pc, n.admitTransient(pc, now)
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
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	pc.peer = p
	defer close(pc.settled) // onClose waits for the rest of this function
	mc.Start()              // admitted: its callbacks see pc.peer
	if n.s.afterAdmit != nil {
		n.s.afterAdmit(id)
	}
	if replaced != nil {
		if old, ok := replaced.Conn.(*peerConn); ok {
			n.handOver(old, pc) // before its close can announce the peer gone
		}
		_ = replaced.Disconnect(peerset.ReasonDuplicate, "duplicate connection")
	}
	// Mark it current only while the set still holds this connection: a
	// duplicate admitted a moment later may already have replaced it.
	n.st.closed.Lock()
	if st, ok := n.set.Get(id); ok && st.Peer == p {
		pc.current.Store(true)
		n.setSendTo(pc.id, pc)
	}
	current := pc.current.Load()
	n.st.closed.Unlock()
	if !current {
		return pc, nil
	}
	if n.book.IsIPBanned(ap.Addr()) { // banned (BanIP) since the check above
		_ = p.Disconnect(peerset.ReasonBanned, "banned")
		return nil, ErrBanned
	}
	if n.s.beforeContact != nil {
		n.s.beforeContact(pc)
	}
	if pc.refused.Load() {
		// Banned since its admission (Ban, or its score for something
		// it sent at once): it is closing; the book and the subscribers
		// learn of the ban alone, not of a peer that came and went.
		return nil, ErrBanned
	}
	n.recordContact(pc)
	n.announce(pc, now)
	n.peerUp(pc)
	n.onAdmitted(pc)
	return pc, nil
}

// recordContact updates the book after a successful admission: outbound
// peers are marked reached; inbound peers' advertised addresses are learned.
func (n *Node) recordContact(pc *peerConn) {
	if pc.dir == peerset.Outbound {
		// The flag of an unverified advert clears only if it is the
		// address this connection reached (peerbook.MarkSuccess).
		_ = n.book.MarkSuccess(crypto.Address{ID: pc.id, Host: pc.remote.Addr().Unmap().String(), Port: pc.remote.Port()})
	} else {
		if a, ok := advertFor(pc); ok { // reach.go
			if n.book.Add(a, peerbook.Source{Kind: peerbook.SourceInbound, From: pc.id}) == nil {
				n.verifyAdvertised(pc, a)
			}
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
	// untrack is the last step of either closer: once it has run, Stop may
	// return, and the closer has nothing left to do (not even a deferred
	// cancel) but return.
	run := func(ctx context.Context, cancel context.CancelFunc) {
		_ = pc.mc.GoAway(ctx, code, text)
		cancel()
		n.untrack(pc)
	}
	if n.spawn(func() {
		run(context.WithTimeout(n.ctx, 2*time.Second))
	}) {
		return
	}
	// Stop is already waiting for the node's goroutines: linger no longer
	// than an abort would; waitConns waits for the untrack.
	go run(context.WithTimeout(context.Background(), time.Second))
}

// onClose runs when a connection has ended: the peer leaves the set and
// the registry, and the book learns of the outcome.
func (n *Node) onClose(pc *peerConn, err error) {
	defer n.untrack(pc)
	if pc.transient {
		n.closeTransient(pc)
		return
	}
	if pc.peer == nil {
		return
	}
	<-pc.settled
	if errors.Is(err, mux.ErrCreditStall) {
		// The peer pinned our send queue; it pays before it leaves the set,
		// so the hit lands on its live score. Must-connect peers are never
		// banned for it (the set spares them) and are redialed as usual.
		n.log.Info("peer stopped returning credit", "peer", pc.id.String(), "err", err)
		n.applyBan(n.set.Record(pc.id, peerset.EventCreditStall))
	}
	n.set.Remove(pc.peer)
	if pc.dir == peerset.Outbound && refusedForRoom(err) {
		// The peer admitted the handshake, then found no room: a good
		// address, a full node. recordContact's MarkSuccess came first
		// (settled), so this backoff stands. (A goaway that beats our own
		// admission leaves MarkAttempt's BackoffBase hold instead.)
		_ = n.book.MarkRefused(pc.id)
	}
	if pc.dir == peerset.Outbound {
		n.seedVisited(pc)
	}
	// Fold the connection's counters into the node's totals in the same
	// step that stops counting it live, so Stats never counts it twice or
	// not at all.
	n.st.closed.Lock()
	n.st.foldLocked(pc.mc.Stats())
	pc.current.Store(false)
	n.setSendTo(pc.id, nil)
	n.st.closed.Unlock()
	reason := ""
	if err != nil {
		reason = err.Error()
	}
	n.reach.observed.gone(pc.id, n.s.Now()) // observed.go: its report now ages
	n.unannounce(pc, reason)
	n.peerDown(pc, err)
}

// announce publishes EventConnected for pc's peer unless a connection of
// the peer is announced already (pc replaces it as a duplicate); pc is
// then the one whose end is announced.
func (n *Node) announce(pc *peerConn, now time.Time) {
	n.announced.Lock()
	defer n.announced.Unlock()
	if n.announced.m == nil {
		n.announced.m = make(map[crypto.ID]*peerConn)
	}
	_, already := n.announced.m[pc.id]
	n.announced.m[pc.id] = pc
	delete(n.announced.left, pc.id) // an inheritor arrived: the peer never left
	if !already {
		n.events.publish(Event{Kind: EventConnected, Peer: pc.id, Direction: pc.dir.String(), Time: now})
	}
}

// handOver makes pc, which replaces old as its peer's connection, the one
// whose end is announced, if old's was: the peer has not left.
func (n *Node) handOver(old, pc *peerConn) {
	n.announced.Lock()
	defer n.announced.Unlock()
	if n.announced.m[pc.id] == old {
		n.announced.m[pc.id] = pc
	}
}

// unannounce publishes EventDisconnected for the ended pc if it is its
// peer's announced connection: not for one a duplicate replaced, nor for
// one that was never announced (it ended, or lost to a duplicate, before
// its setup was done). While another connection of the peer is still in
// its setup (the peer replaced pc and told us so first, or is dialing
// again) that one inherits the announcement instead, with the event and
// its reason: the peer is announced gone, for that reason, only if the
// other ends too (setupDone, onClose).
func (n *Node) unannounce(pc *peerConn, reason string) {
	n.announced.Lock()
	defer n.announced.Unlock()
	if n.announced.m[pc.id] != pc {
		return
	}
	ev, inherited := n.announced.left[pc.id]
	if !inherited {
		ev = Event{Kind: EventDisconnected, Peer: pc.id, Direction: pc.dir.String(), Reason: reason}
	}
	for _, next := range n.announced.setup[pc.id] {
		if next != pc {
			n.announced.m[pc.id] = next
			if n.announced.left == nil {
				n.announced.left = make(map[crypto.ID]Event)
			}
			n.announced.left[pc.id] = ev
			return
		}
	}
	delete(n.announced.m, pc.id)
	delete(n.announced.left, pc.id)
	ev.Time = n.s.Now()
	n.events.publish(ev)
}

// settingUp records that pc's setup has begun (setupConn).
func (n *Node) settingUp(pc *peerConn) {
	n.announced.Lock()
	defer n.announced.Unlock()
	if n.announced.setup == nil {
		n.announced.setup = make(map[crypto.ID][]*peerConn)
	}
	n.announced.setup[pc.id] = append(n.announced.setup[pc.id], pc)
}

// setupDone records that pc's setup has ended. A pc that holds its
// peer's announcement but never started (refused, failed, transient)
// has no OnClose to pass it on: it is passed on, or the end announced,
// here.
func (n *Node) setupDone(pc *peerConn) {
	n.announced.Lock()
	list := n.announced.setup[pc.id]
	for i, p := range list {
		if p == pc {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(n.announced.setup, pc.id)
	} else {
		n.announced.setup[pc.id] = list
	}
	n.announced.Unlock()
	if pc.peer == nil {
		n.unannounce(pc, "connection setup ended")
	}
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

// applyBan carries out a ban decision of the peer set, which has already
// written the ban to the book: the connection is closed.
func (n *Node) applyBan(d *peerset.BanDecision) {
	if d == nil {
		return
	}
	now := n.s.Now()
	n.st.bans.Add(1)
	// Count the strike (which may ban the address) before the goaway, so
	// that once the peer is told it is banned every ban is in force.
	if d.Peer != nil {
		n.strike(d.Peer.Remote.Addr(), d.Until, now)
		_ = d.Peer.Disconnect(peerset.ReasonLowReputation, "banned: "+d.Reason)
	}
	n.closeBannedTransient(func(pc *peerConn) bool { return pc.id == d.ID }, d.Reason)
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

func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}
