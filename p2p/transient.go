package p2p

// Transient connections: a connection made only for DHT queries, to a
// node we are not connected to. The dialer marks it in its SETTINGS with
// the protocol feature featureTransient (docs/PROTOCOL.md §8.7), so both
// sides know. Both admit it with peerset.Set.AdmitTransient — bans and
// per-IP caps apply, and at most peerset.MaxTransient per direction — but
// outside the peer set: it takes no inbound or outbound slot, is never
// in Peers, never current (no gossip, PEX, application messages, no
// duplicate rule), and carries only DHT requests and answers; anything
// else on it is a protocol violation. The dial goes through the node's
// filters, bans and dial rate like any (dialConn). It closes after
// TransientIdleTimeout without DHT traffic, on the node's clock.
//
// At the cap a newcomer evicts rather than being refused: the least
// recently used transient connection of its direction that carries no DHT
// request in flight (ours awaiting an answer, or the peer's being handled)
// gets a goaway (trimmed, "transient connection evicted"), its slot is
// freed at once, and the newcomer takes it; only when every one of them is
// busy is the newcomer refused (too-many-peers). Our own queries do not
// meet that refusal: a query's dial first reserves an outbound slot
// (reserveTransient), evicting an idle connection for it or, when every
// one is busy, waiting for one to come free, until the query's deadline;
// only then, with nothing sent, does it fail, with an error wrapping
// dht.ErrNotSent, which the DHT does not charge to the queried node's
// table entry. A refusal would be for
// good: revalidation keeps the open ones from idling, so a node could never
// query more than MaxTransient nodes it has no peer connection to, and the
// DHT stopped growing at about 16 nodes. So at most MaxTransient transient
// connections per direction are admitted at any time; an evicted one
// lingers only while its goaway drains (bounded by the mux's close
// timeout), no longer usable for a query.
//
// The cost: a stranger can make us evict our idle inbound transient
// connections by dialing transient ones of its own (outbound ones are
// evicted only by our own queries). That is bounded by what bounds any
// inbound connection — the accept rate limit, the handshake slots and the
// per-IP caps (peerset.Counter) — and what it costs the evicted peer is
// one redial on its next query, never a query in flight.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/peerset"
)

// transientMark is featureTransient's value on a connection its dialer
// made transient; an empty value only says the sender knows the mark.
const transientMark = 0x01

// transientState is what a transient connection keeps beside its peerConn.
type transientState struct {
	release func() // frees its AdmitTransient count

	mu      sync.Mutex
	last    time.Time   // last DHT request or answer, or our request's start
	uses    int         // our requests in flight on it (begin, end)
	timer   clock.Timer // the idle check
	closed  bool
	evicted bool // evictTransient took its slot: no new request starts on it
}

// begin notes a request of ours starting on the connection at now, which
// keeps it from eviction until end. It reports false when the connection
// is evicted or closed: the request must find another.
func (tr *transientState) begin(now time.Time) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.evicted || tr.closed {
		return false
	}
	tr.uses++
	tr.last = now
	return true
}

// end notes the end, at now, of a request begin let start.
func (tr *transientState) end(now time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.uses--
	tr.last = now
}

// transientFeatures returns the protocol features of a connection:
// featureTransient, with the mark when transient, if the DHT is on. A node
// without the DHT advertises nothing, so its SETTINGS stay format 1 for
// implementations older than feature negotiation.
func (n *Node) transientFeatures(transient bool) []mux.Feature {
	if n.s.DHT.Mode == DHTOff {
		return nil
	}
	f := mux.Feature{ID: featureTransient}
	if transient {
		f.Value = []byte{transientMark}
	}
	return []mux.Feature{f}
}

// markedTransient reports whether the dialer of mc marked it transient.
func markedTransient(mc *mux.MultiConn) bool {
	v, ok := mc.PeerFeature(featureTransient)
	return ok && len(v) == 1 && v[0] == transientMark
}

// admitTransient admits pc, whose MultiConn is built and not started, as a
// transient connection, or refuses it with a goaway saying why.
// At the cap it evicts an idle one of pc's direction to make room
// (evictTransient). An outbound pc is returned busy: the dial's query
// holds it (transientState.begin) until the caller's end.
func (n *Node) admitTransient(pc *peerConn, now time.Time) error {
	// One admission at a time, so the slot an eviction frees goes to the
	// connection that caused it.
	n.transientAdmit.Lock()
	info := peerset.PeerInfo{ID: pc.id, Direction: pc.dir, Remote: pc.remote, Meta: pc.meta}
	var release func()
	var err error
	limit := n.transientLimit()
	taken := len(n.openTransient(pc.dir))
	if pc.dir == peerset.Outbound {
		// The dials in progress hold reservations, this one's among them
		// (reserveTransient): it takes its own, not another's.
		taken += n.transientReserved - 1
	}
	full := taken >= limit
	if !full {
		release, err = n.set.AdmitTransient(info, now)
		full = peerset.ReasonOf(err) == peerset.ReasonTooManyPeers
	}
	if full {
		if v := n.transientVictim(pc.dir); v != nil && n.evictTransient(v) {
			release, err = n.set.AdmitTransient(info, now)
		} else {
			err = &peerset.RefusedError{ID: pc.id, Reason: peerset.ReasonTooManyPeers,
				Detail: fmt.Sprintf("transient %v %d/%d, all with a request in flight", pc.dir, limit, limit)}
		}
	}
	if err == nil {
		tr := &transientState{release: release, last: now}
		if pc.dir == peerset.Outbound {
			tr.uses = 1 // the dial's query
		}
		n.conns.Lock() // transientConns reads tr under it
		pc.tr = tr
		n.conns.Unlock()
	}
	n.transientAdmit.Unlock()
	if err != nil {
		pc.refused.Store(true)
		reason := peerset.ReasonOf(err)
		n.st.refused("transient-" + reason.String())
		n.refuse(pc, goAwayCode(reason), reason.String())
		if pc.dir == peerset.Outbound && reason == peerset.ReasonTooManyPeers {
			err = fmt.Errorf("%w: %w", dht.ErrNotSent, err) // our cap, not the peer's fault
		}
		return err
	}
	n.armTransient(pc, TransientIdleTimeout)
	if pc.dir == peerset.Outbound {
		n.transientOut.Store(pc.id, pc)
	}
	pc.mc.Start()
	return nil
}

// reserveTransient holds an outbound transient slot for a query's dial,
// until the release it returns (after the dial, whose admission turns the
// reservation into the connection's slot) — or, with every slot open and
// busy, waits for one to come free until ctx ends, and then fails with an
// error wrapping dht.ErrNotSent and peerset.ErrTooManyPeers: nothing was
// sent, so the DHT does not hold it against the queried node. A slot is
// free when fewer than the cap are open or reserved, or when an open one
// is idle: that one is evicted for the dial (evictTransient), before the
// handshake, so a dial never completes only to be refused for room here.
func (n *Node) reserveTransient(ctx context.Context) (release func(), err error) {
	limit := n.transientLimit()
	for {
		// The wake channel is taken before the check, so a slot freed
		// after the check closes the channel this waits on.
		n.transientWakeMu.Lock()
		if n.transientWake == nil {
			n.transientWake = make(chan struct{})
		}
		wake := n.transientWake
		n.transientWakeMu.Unlock()

		n.transientAdmit.Lock()
		ok := len(n.openTransient(peerset.Outbound))+n.transientReserved < limit
		if !ok {
			if v := n.transientVictim(peerset.Outbound); v != nil {
				ok = n.evictTransient(v)
			}
		}
		if ok {
			n.transientReserved++
		}
		n.transientAdmit.Unlock()
		if ok {
			var once sync.Once
			return func() {
				once.Do(func() {
					n.transientAdmit.Lock()
					n.transientReserved--
					n.transientAdmit.Unlock()
					n.transientFreed()
				})
			}, nil
		}

		n.transientWakeMu.Lock()
		n.transientWaiting++
		n.transientWakeMu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			err = fmt.Errorf("%w: %w", dht.ErrNotSent, &peerset.RefusedError{Reason: peerset.ReasonTooManyPeers,
				Detail: fmt.Sprintf("transient outbound %d/%d, all with a request in flight until the query's deadline", limit, limit)})
		case <-n.ctx.Done():
			err = errStopped
		}
		n.transientWakeMu.Lock()
		n.transientWaiting--
		n.transientWakeMu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// transientFreed wakes the queries waiting in reserveTransient to look
// again: a request on a transient connection ended (ours, or the peer's
// that we answered), one closed, or a reservation was released.
func (n *Node) transientFreed() {
	n.transientWakeMu.Lock()
	if n.transientWake != nil {
		close(n.transientWake)
		n.transientWake = nil
	}
	n.transientWakeMu.Unlock()
}

// transientWaiters returns how many queries wait in reserveTransient.
func (n *Node) transientWaiters() int {
	n.transientWakeMu.Lock()
	defer n.transientWakeMu.Unlock()
	return n.transientWaiting
}

// transientFor returns our open transient connection to id, if any.
func (n *Node) transientFor(id crypto.ID) *peerConn {
	v, ok := n.transientOut.Load(id)
	if !ok {
		return nil
	}
	pc := v.(*peerConn)
	select {
	case <-pc.mc.Done():
		return nil
	default:
		return pc
	}
}

// transientConns returns the transient connections started and not yet
// closed, both directions, for Stop to close.
func (n *Node) transientConns() []*peerConn {
	n.conns.Lock()
	defer n.conns.Unlock()
	var out []*peerConn
	for pc := range n.conns.live {
		if pc.transient && pc.tr != nil && !pc.refused.Load() {
			out = append(out, pc)
		}
	}
	return out
}

// closeBannedTransient ends, with goaway "banned", the open transient
// connections that match: a ban reaches them as it reaches the set's
// peers, and no later query reuses one (transientFor no longer finds it).
// What they still read while they close is discarded (refused).
func (n *Node) closeBannedTransient(match func(*peerConn) bool, reason string) {
	for _, pc := range n.transientConns() {
		if !match(pc) {
			continue
		}
		pc.refused.Store(true)
		n.transientOut.CompareAndDelete(pc.id, pc)
		n.log.Info("transient connection of a banned peer closed", "peer", pc.id.String(), "remote", pc.remote.String())
		n.goAway(pc.mc, mux.GoAwayBanned, "banned: "+reason)
	}
}

// transientLimit is the transient connections allowed per direction:
// peerset.MaxTransient, or less when a test says so.
func (n *Node) transientLimit() int {
	if m := n.s.maxTransient; m > 0 && m < peerset.MaxTransient {
		return m
	}
	return peerset.MaxTransient
}

// openTransient returns the admitted transient connections of direction
// dir that are not evicted or closed: those holding a slot.
func (n *Node) openTransient(dir peerset.Direction) []*peerConn {
	var out []*peerConn
	for _, pc := range n.transientConns() {
		if pc.dir != dir {
			continue
		}
		pc.tr.mu.Lock()
		open := !pc.tr.evicted && !pc.tr.closed
		pc.tr.mu.Unlock()
		if open {
			out = append(out, pc)
		}
	}
	return out
}

// transientVictim returns the least recently used transient connection
// of direction dir with no DHT request in flight, or nil when all are
// busy. The caller holds transientAdmit.
func (n *Node) transientVictim(dir peerset.Direction) *peerConn {
	var victim *peerConn
	var oldest time.Time
	for _, pc := range n.openTransient(dir) {
		tr := pc.tr
		tr.mu.Lock()
		idle, last := tr.uses == 0, tr.last
		tr.mu.Unlock()
		if !idle || n.rrInFlight(pc) {
			continue
		}
		if victim == nil || last.Before(oldest) {
			victim, oldest = pc, last
		}
	}
	return victim
}

// evictTransient closes pc, an idle transient connection, to free its
// slot for a newcomer: the slot is free when it returns, and no request
// of ours starts on pc any more. A request of ours that began since
// transientVictim chose it keeps it; evictTransient then frees nothing,
// reports false, and the newcomer is refused.
func (n *Node) evictTransient(pc *peerConn) bool {
	tr := pc.tr
	tr.mu.Lock()
	if tr.uses > 0 || tr.evicted || tr.closed {
		tr.mu.Unlock()
		return false
	}
	tr.evicted = true
	tr.mu.Unlock()
	tr.release() // idempotent: closeTransient calls it again
	n.transientOut.CompareAndDelete(pc.id, pc)
	n.st.dhtEvicted.Add(1)
	n.log.Debug("transient connection evicted", "peer", pc.id.String(), "dir", pc.dir.String())
	n.goAway(pc.mc, mux.GoAwayTrimmed, "transient connection evicted")
	return true
}

// armTransient schedules pc's idle check in d.
func (n *Node) armTransient(pc *peerConn, d time.Duration) {
	tr := pc.tr
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		return
	}
	tr.timer = n.afterFunc(d, func() { n.transientIdle(pc) })
}

// transientIdle closes pc when it has carried no DHT traffic for
// TransientIdleTimeout, else checks again when that would be.
func (n *Node) transientIdle(pc *peerConn) {
	tr := pc.tr
	tr.mu.Lock()
	left := TransientIdleTimeout - n.s.Now().Sub(tr.last)
	tr.mu.Unlock()
	if left > 0 {
		n.armTransient(pc, left)
		return
	}
	n.goAway(pc.mc, mux.GoAwayTrimmed, "transient connection idle")
}

// transientMessage lets through the DHT requests and answers of a
// transient connection, noting the activity, and treats anything else as a
// protocol violation. It reports whether m goes on to be handled.
func (n *Node) transientMessage(pc *peerConn, m *mux.Message) bool {
	if m.Topic == DHTTopic && len(m.Data) > 0 && isRRKind(m.Data[0]) {
		pc.tr.mu.Lock()
		pc.tr.last = n.s.Now()
		pc.tr.mu.Unlock()
		return true
	}
	topic := m.Topic
	m.Done()
	if pc.refused.Swap(true) {
		return false
	}
	n.st.violations.Add(1)
	n.log.Info("protocol violation", "peer", pc.id.String(), "remote", pc.remote.String(), "violation", "non-DHT message on a transient connection")
	n.applyBan(n.set.Record(pc.id, peerset.EventProtocolViolation))
	n.goAway(pc.mc, mux.GoAwayProtocolViolation, "topic "+strconv.Itoa(int(topic))+" on a transient connection")
	return false
}

// closeTransient is OnClose for a transient connection: the idle check
// stops, its AdmitTransient count is freed, its counters join the totals.
func (n *Node) closeTransient(pc *peerConn) {
	if tr := pc.tr; tr != nil {
		tr.mu.Lock()
		tr.closed = true
		if tr.timer != nil {
			tr.timer.Stop()
		}
		tr.mu.Unlock()
		tr.release()
		n.transientOut.CompareAndDelete(pc.id, pc)
		if pc.dir == peerset.Outbound {
			n.transientFreed()
		}
	}
	n.st.closed.Lock()
	n.st.foldLocked(pc.mc.Stats())
	n.st.closed.Unlock()
}
