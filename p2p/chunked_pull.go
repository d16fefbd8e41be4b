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
	for _, m := range e.msgs {
		switch {
		case m.done && now.Sub(m.created) > chunkedRetain,
			!m.done && now.Sub(m.created) > partialTimeout:
			e.dropLocked(m)
			continue
		}
		if m.fwd != nil {
			e.sendHeadersLocked(m, nbs)
		}
		if m.nhave > 0 {
			e.announceLocked(m, nbs)
		}
		if !m.done {
			e.pullLocked(m, byID, now)
		}
	}
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
	load := map[crypto.ID]int{}
	limit := e.t.cfg.Requests.MaxConcurrent
	for i := range m.chunks {
		if m.pulls >= maxPullsPerMessage {
			return
		}
		if bitSet(m.have, i) || m.pulling[i] || m.seenAt[i].IsZero() || now.Sub(m.seenAt[i]) < pullGrace {
			continue
		}
		var best *peerConn
		for id, p := range m.peers {
			pc := byID[id]
			if pc == nil || p.punished || !bitSet(p.has, i) || slices.Contains(m.failed[i], id) || load[id] >= limit {
				continue
			}
			if best == nil || load[id] < load[best.id] {
				best = pc
			}
		}
		if best == nil {
			if len(m.failed[i]) > 0 {
				m.failed[i] = nil // everyone failed it once: try again
			}
			continue
		}
		load[best.id]++
		m.pulling[i] = true
		m.pulls++
		pc, idx := best, i
		if !e.n.spawn(func() { e.pull(m, pc, idx) }) {
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
	m.pulling[i] = false
	m.pulls--
	if e.msgs[m.id] != m {
		return
	}
	if err == nil {
		if err = e.storeLocked(m, pc, i, b, true); err != nil {
			e.violation(pc, err.Error())
		}
		return
	}
	n.ckst.pullsFailed.Add(1)
	m.failed[i] = append(m.failed[i], pc.id)
	p := m.peer(pc.id)
	if errors.Is(err, context.Canceled) && n.ctx.Err() != nil {
		return
	}
	if p.unserved++; p.unserved >= unservedLimit && !p.punished {
		p.punished = true
		n.log.Debug("announcer does not serve", "peer", pc.id.Short(), "message", m.id.String(), "err", err)
		// Counted once the peer has paid, so a reader of the counter
		// also sees the score it cost.
		n.applyBan(n.set.Record(pc.id, peerset.EventInvalidMessage))
		n.ckst.unservedPens.Add(1)
	}
}

// errNotHeld answers a pull of a chunk we do not hold.
var errNotHeld = errors.New("chunk not held")

// serve answers a pull request: the chunk, if we hold it.
func (e *chunkEngine) serve(_ context.Context, from crypto.ID, req []byte) ([]byte, error) {
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
