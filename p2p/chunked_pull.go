package p2p

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerset"
)

// The pull side of chunked dissemination (chunked.go): the tick that
// announces and pulls missing chunks, and the handler that serves pulls.

// tick announces what changed, starts pulls and evicts what expired.
func (e *chunkEngine) tick() {
	defer e.ticks.Add(1)
	n := e.n
	now := n.s.Now()
	nbs := e.neighbours()
	byID := make(map[crypto.ID]*peerConn, len(nbs))
	for _, pc := range nbs {
		byID[pc.id] = pc
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Oldest first: with pulls capped per node, the messages that started
	// first complete first instead of all progressing slowly.
	msgs := make([]*ckMsg, 0, len(e.msgs))
	for _, m := range e.msgs {
		msgs = append(msgs, m)
	}
	slices.SortFunc(msgs, func(a, b *ckMsg) int { return a.created.Compare(b.created) })
	for _, m := range msgs {
		switch {
		case m.done && now.Sub(m.created) > chunkedRetain && (m.allFull(byID) || now.Sub(m.created) > partialTimeout),
			!m.done && now.Sub(m.created) > partialTimeout:
			e.dropLocked(m)
			continue
		}
		if m.fwd != nil && m.headersDue > 0 {
			e.sendHeadersLocked(m, nbs)
		}
		if m.wantPending && !m.done {
			if pc := byID[m.from]; pc != nil {
				m.wantPending = pc.mc.TrySend(e.topic, encodeWant(m.id)) != nil
			}
		}
		if m.nhave > 0 {
			e.resumePushesLocked(m, byID)
		}
		if m.annDue() {
			e.announceLocked(m, nbs)
		}
		if !m.done {
			e.pullLocked(m, byID, now)
		}
	}
}

// allFull reports whether every neighbour of byID holds all of m: past
// chunkedRetain a complete message is kept only while one may still pull
// it from us (at most partialTimeout; the memory caps evict it sooner).
func (m *ckMsg) allFull(byID map[crypto.ID]*peerConn) bool {
	for id := range byID {
		if p := m.peers[id]; p == nil || !p.full {
			return false
		}
	}
	return true
}

// pullLocked starts pulls of m's missing chunks that a neighbour
// announced at least pullGrace ago, each from one announcer that has not
// failed it, spreading them over the announcers.
func (e *chunkEngine) pullLocked(m *ckMsg, byID map[crypto.ID]*peerConn, now time.Time) {
	if !m.pusher.IsZero() && !m.pusherDropped {
		if now.Sub(m.lastPush) < pushIdle {
			return // the pusher is sending: a pull would race it
		}
		// The pusher stalled: stop it, so what it would push late is not
		// a duplicate of what we pull now.
		m.pusherDropped = true
		if pc := byID[m.pusher]; pc != nil {
			e.dontWantLocked(m, pc)
		}
	}
	// We asked the header's sender to push to us; it does, or it
	// announces to us instead (it pushes to a few children only). Until
	// it has done one or the other, and for at most parentWait, we pull
	// nothing others announce: its pushes would duplicate our pulls.
	parent := m.peers[m.from]
	if m.pusher.IsZero() && !m.own && (parent == nil || parent.heardAt.IsZero()) && now.Sub(m.created) < parentWait {
		return
	}
	limit := min(e.t.cfg.Requests.MaxConcurrent, maxPullsPerPeer)
	for i := range m.chunks {
		if m.pulls >= maxPullsPerMessage || e.pulls >= maxPullsInFlight {
			return
		}
		if bitSet(m.have, i) || m.pulling[i] || m.seenAt[i].IsZero() || now.Sub(m.seenAt[i]) < pullGrace || now.Before(m.retryAt[i]) {
			continue
		}
		// The announcer with the fewest failures on this message, then
		// the fewest of our pulls in flight (all messages: the peer
		// refuses more than MaxConcurrent at once), that has not failed
		// this chunk.
		var best *peerConn
		var bp *ckPeer
		tried := false
		for id, p := range m.peers {
			pc := byID[id]
			if pc == nil || p.punished || !bitSet(p.has, i) {
				continue
			}
			if slices.Contains(m.failed[i], id) {
				tried = true
				continue
			}
			if e.inflight[id] >= limit {
				continue
			}
			if best == nil || p.failures < bp.failures || (p.failures == bp.failures && e.inflight[id] < e.inflight[best.id]) {
				best, bp = pc, p
			}
		}
		if best == nil {
			if tried {
				// Every announcer failed it once: ask them again after
				// a pause (they may have been overloaded).
				m.failed[i] = nil
				m.retryAt[i] = now.Add(pullRetry)
			}
			continue
		}
		e.inflight[best.id]++
		e.pulls++
		m.pulling[i] = true
		m.pulls++
		pc, idx := best, i
		if !e.n.spawn(func() { e.pull(m, pc, idx) }) {
			e.inflight[best.id]--
			e.pulls--
			m.pulling[i] = false
			m.pulls--
			return
		}
	}
}

// pull asks pc for chunk i of m.
func (e *chunkEngine) pull(m *ckMsg, pc *peerConn, i int) {
	n := e.n
	n.ckst.pullsSent.Add(1)
	ctx, cancel := context.WithTimeout(n.ctx, pullTimeout)
	b, err := n.Request(ctx, pc.id, e.topic, encodePull(m.id, i))
	cancel()
	if err == nil {
		n.ckst.payloadBytes.Add(uint64(len(b)))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inflight[pc.id]--; e.inflight[pc.id] <= 0 {
		delete(e.inflight, pc.id)
	}
	e.pulls--
	m.pulling[i] = false
	m.pulls--
	if e.msgs[m.id] != m {
		return
	}
	if err == nil {
		if err = e.storeLocked(m, pc, i, b, true); err != nil {
			e.violation(pc, err.Error())
			return
		}
		m.peer(pc.id).served++
		pc.pullAnswered.Store(true)
		return
	}
	if errors.Is(err, context.Canceled) && n.ctx.Err() != nil {
		return
	}
	n.ckst.pullsFailed.Add(1)
	m.failed[i] = append(m.failed[i], pc.id)
	p := m.peer(pc.id)
	p.failures++
	// A timeout or an overload is no fault by itself: a busy honest peer
	// does that. A timeout is judged once the chunk came from another
	// (noteServedLocked). Refusing a chunk it announced is a fault: the
	// announcer is asked nothing more of this message and, if it
	// announced within half the time a complete message is kept (so it
	// cannot have dropped it honestly), loses reputation, once.
	var re *RequestError
	if errors.As(err, &re) && re.unanswered && !p.punished {
		// Sent, and no answer: it may be busy; storeLocked judges it
		// once others have served the chunk (noteServedLocked).
		if p.unanswered == nil {
			p.unanswered = make([]byte, len(p.has))
		}
		setBit(p.unanswered, i)
		if bitSet(m.have, i) {
			// Another served the chunk while this pull waited: judged
			// now, as noteServedLocked would had it come later.
			e.judgeSilentLocked(m, pc.id, p)
		}
		return
	}
	if errors.As(err, &re) && re.Remote && re.Code == RequestRefused && !p.punished {
		p.punished = true
		if n.s.Now().Sub(p.heardAt) >= chunkedRetain/2 {
			return
		}
		n.log.Debug("announcer does not serve", "peer", pc.id.String(), "message", m.id.String(), "err", err)
		// Counted once the peer has paid, so a reader of the counter
		// also sees the score it cost.
		n.applyBan(n.set.Record(pc.id, peerset.EventInvalidMessage))
		n.ckst.unservedPens.Add(1)
	}
}

// noteServedLocked runs when chunk i of m came, from pc: an announcer
// that left a pull of the chunk unanswered, and has answered none of our
// pulls on its connection (a busy honest peer answers some, late or not),
// is silent once silentAfter such chunks came from others. It is asked
// nothing more of m and loses reputation (invalid-message), once per
// message, as one that refuses.
func (e *chunkEngine) noteServedLocked(m *ckMsg, pc *peerConn, i int) {
	for id, p := range m.peers {
		if id == pc.id || p.unanswered == nil || !bitSet(p.unanswered, i) {
			continue
		}
		e.judgeSilentLocked(m, id, p)
	}
}

// judgeSilentLocked counts one more chunk of m that announcer id (p) left
// unanswered and another served, unless p was punished already or has
// served us a chunk of m; at silentAfter, unless it has answered a pull
// on its connection, it is punished (noteServedLocked).
func (e *chunkEngine) judgeSilentLocked(m *ckMsg, id crypto.ID, p *ckPeer) {
	n := e.n
	if p.punished || p.served > 0 {
		return
	}
	if p.silent++; p.silent < silentAfter {
		return
	}
	if q, err := n.peerConn(id); err != nil || q.pullAnswered.Load() {
		return
	}
	p.punished = true
	n.log.Debug("announcer does not answer", "peer", id.String(), "message", m.id.String(), "unanswered", bitmapCount(p.unanswered))
	n.applyBan(n.set.Record(id, peerset.EventInvalidMessage))
	n.ckst.unservedPens.Add(1)
	n.ckst.silentPens.Add(1)
}

// errNotHeld answers a pull of a chunk we do not hold.
var errNotHeld = errors.New("chunk not held")

// serve answers a pull request: the chunk, if we hold it.
func (e *chunkEngine) serve(ctx context.Context, from crypto.ID, req []byte) ([]byte, error) {
	switch e.adversary {
	case advSilent:
		<-ctx.Done()
		return nil, ctx.Err()
	case advRefuse:
		return nil, errNotHeld
	}
	id, i, err := parsePull(req)
	if err != nil {
		e.n.ckst.pullsRefused.Add(1)
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.msgs[id]
	if m == nil || i >= len(m.chunks) || !bitSet(m.have, i) {
		e.n.ckst.pullsRefused.Add(1)
		return nil, errNotHeld
	}
	e.n.ckst.pullsServed.Add(1)
	return m.chunks[i][chunkHead:], nil
}
