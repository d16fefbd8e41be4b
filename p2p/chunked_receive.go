package p2p

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/peerset"
)

// The receiving side of chunked dissemination (chunked.go): headers,
// chunks, haves and don't-wants from neighbours, verified before they are
// stored or forwarded.

// onChunked handles a chunked message on the connection's reader
// goroutine; it never blocks.
func (n *Node) onChunked(pc *peerConn, t *topicState, m *mux.Message) {
	// A pushed chunk is copied where it is kept (storeLocked), so its
	// buffer can take the next one (mux.Message.Release); the other kinds
	// may keep slices of theirs.
	if m.Data[0] == kindChunk {
		defer m.Release()
	} else {
		defer m.Done()
	}
	e := t.ck
	if e == nil {
		n.malformed(pc, fmt.Sprintf("chunked message kind 0x%02x on a flood topic", m.Data[0]))
		return
	}
	var err error
	switch m.Data[0] {
	case kindChunkHeader:
		err = e.onHeader(pc, m.Data)
	case kindChunk:
		err = e.onChunk(pc, m.Data)
	case kindHave:
		err = e.onHave(pc, m.Data)
	case kindDontWant:
		err = e.onDontWant(pc, m.Data)
	case kindWant:
		err = e.onWant(pc, m.Data)
	}
	if err != nil {
		e.violation(pc, err.Error())
	}
}

// violation punishes a peer that broke the chunked protocol and closes its
// connection saying why; only the first of a connection counts.
func (e *chunkEngine) violation(pc *peerConn, why string) {
	n := e.n
	if c, err := n.rrConnOf(pc); err == nil && c.violated.Swap(true) {
		return
	}
	n.st.violations.Add(1)
	n.log.Info("protocol violation", "peer", pc.id.String(), "violation", why)
	n.applyBan(n.set.Record(pc.id, peerset.EventProtocolViolation))
	n.goAway(pc.mc, mux.GoAwayProtocolViolation, why)
}

func (e *chunkEngine) onHeader(pc *peerConn, data []byte) error {
	n := e.n
	h, hops, err := parseChunkHeader(data, e.t.cfg.MaxMessageSize, uint8(n.s.HopLimit))
	if err != nil {
		return err
	}
	id := chunkedID(e.topic, h)
	now := n.s.Now()
	e.mu.Lock()
	if e.msgs[id] != nil {
		e.mu.Unlock()
		n.ckst.headerDups.Add(1)
		return nil
	}
	e.mu.Unlock()
	if h.origin == n.ID() || n.seen.Has(id.key(), now) {
		n.ckst.headerDups.Add(1)
		return nil
	}
	if err := checkGossipTime(h.timeMs, now, n.s.GossipMaxAge, n.s.GossipMaxSkew); err != nil {
		n.ckst.headersStale.Add(1)
		return nil
	}
	if err := verifyChunkHeader(h, id); err != nil {
		return err
	}
	if v := e.cfg.HeaderValidator; v != nil {
		if r := v(pc.id, h.origin, int(h.total)); r != Accept {
			// Seen, so that the other copies are duplicates, not judged
			// (and penalised) again: a copy that another connection's
			// reader judged first is one.
			if n.seen.Add(id.key(), pc.id, n.seenBudget(), now) != seenNew {
				n.ckst.headerDups.Add(1)
				return nil
			}
			if r == Reject {
				n.applyBan(n.set.Record(pc.id, peerset.EventInvalidMessage))
			}
			n.ckst.headersRejected.Add(1)
			return nil
		}
	}
	e.mu.Lock()
	if e.msgs[id] != nil {
		e.mu.Unlock()
		n.ckst.headerDups.Add(1)
		return nil
	}
	if e.first[pc.id] >= maxChunkedPerPeer || !e.makeRoomLocked(int(h.total), now) {
		e.mu.Unlock()
		n.ckst.headersRefused.Add(1)
		return nil
	}
	if n.seen.Add(id.key(), pc.id, n.seenBudget(), now) != seenNew {
		e.mu.Unlock()
		n.ckst.headersRefused.Add(1)
		return nil
	}
	m := newCkMsg(id, h, hops, pc.id, now)
	e.msgs[id] = m
	e.first[pc.id]++
	nbs := e.neighbours()
	// Ask the header's sender, our parent in the header's tree, to push
	// us the chunks; it takes a few such children, the rest pull.
	m.wantPending = pc.mc.TrySend(e.topic, encodeWant(id)) != nil
	e.mu.Unlock()
	n.ckst.headers.Add(1)
	if hops > 1 {
		fwd := encodeChunkHeader(h, hops-1)
		e.mu.Lock()
		m.fwd = fwd
		for _, q := range nbs {
			if q.id != pc.id {
				m.peer(q.id).needHeader = true
			}
		}
		e.sendHeadersLocked(m, nbs)
		e.mu.Unlock()
	}
	return nil
}

// sendHeadersLocked forwards m's header to the neighbours still waiting
// for it. One whose queue is full gets it at a later tick: a header is
// never dropped, or the neighbour could miss the message.
func (e *chunkEngine) sendHeadersLocked(m *ckMsg, nbs []*peerConn) {
	due := 0
	for _, q := range nbs {
		p := m.peers[q.id]
		if p == nil || !p.needHeader {
			continue
		}
		if q.mc.TrySend(e.topic, m.fwd) == nil {
			p.needHeader = false
			m.annDirty()
			e.n.st.gossipForwarded.Add(1)
		} else {
			due++
		}
	}
	m.headersDue = due
}

// makeRoomLocked evicts what it must so another message of size bytes
// fits the caps, oldest complete messages first, and reports whether it
// fits.
func (e *chunkEngine) makeRoomLocked(size int, now time.Time) bool {
	for len(e.msgs) >= maxChunkedMessages || e.bytes+size > maxChunkedBytes {
		var victim *ckMsg
		for _, m := range e.msgs {
			if m.done && (victim == nil || m.created.Before(victim.created)) {
				victim = m
			}
		}
		if victim == nil {
			return false
		}
		e.dropLocked(victim)
	}
	return true
}

func (e *chunkEngine) dropLocked(m *ckMsg) {
	delete(e.msgs, m.id)
	for _, c := range m.chunks {
		e.bytes -= len(c)
	}
	if !m.done {
		e.n.ckst.evicted.Add(1)
		if e.first[m.from]--; e.first[m.from] <= 0 {
			delete(e.first, m.from)
		}
	}
	for id, p := range m.peers {
		if len(p.handles) > 0 {
			pc, _ := e.n.peerConn(id)
			e.cancelLocked(pc, p)
		}
	}
}

func (e *chunkEngine) onChunk(pc *peerConn, data []byte) error {
	id, i, b, err := parseChunk(data)
	if err != nil {
		return err
	}
	e.n.ckst.payloadBytes.Add(uint64(len(b)))
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.knownLocked(id)
	if m == nil {
		return nil
	}
	if err := e.storeLocked(m, pc, i, b, false); err != nil {
		return err
	}
	return nil
}

// storeLocked verifies chunk i of m from pc, stores a copy, forwards it to
// the eager set and, once m is whole, announces it and queues it for
// delivery. A duplicate earns pc a dont-want.
func (e *chunkEngine) storeLocked(m *ckMsg, pc *peerConn, i int, b []byte, pulled bool) error {
	n := e.n
	if i >= len(m.hdr.hashes) {
		return fmt.Errorf("chunk %d of a %d-chunk message", i, len(m.hdr.hashes))
	}
	if len(b) != m.hdr.chunkLen(i) || sha256.Sum256(b) != m.hdr.hashes[i] {
		n.ckst.bad.Add(1)
		return fmt.Errorf("chunk %d of message %s does not match its header's hash", i, m.id)
	}
	p := m.peer(pc.id)
	setBit(p.has, i)
	nbs := e.neighbours()
	if !pulled {
		m.lastPush = n.s.Now()
		if m.pusher.IsZero() {
			// One pusher per message is enough: the others are asked to
			// stop before they start, and serve by pull instead.
			m.pusher = pc.id
			for _, q := range nbs {
				if q.id != pc.id {
					e.dontWantLocked(m, q)
				}
			}
		} else if pc.id != m.pusher {
			e.dontWantLocked(m, pc)
		}
	}
	if bitSet(m.have, i) {
		n.ckst.dups.Add(1)
		return nil
	}
	if pulled {
		n.ckst.pulled.Add(1)
	} else {
		n.ckst.received.Add(1)
	}
	m.chunks[i] = append(chunkPrefix(m.id, i, len(b)), b...) // sent as is to the eager set
	e.bytes += len(m.chunks[i])
	setBit(m.have, i)
	m.nhave++
	e.noteServedLocked(m, pc, i)
	// In random order, so that while the eager set fills, different
	// neighbours get the message first at different nodes.
	for _, k := range rand.Perm(len(nbs)) {
		if q := nbs[k]; q.id != pc.id {
			e.pushLocked(m, q, i)
		}
	}
	if m.nhave < len(m.chunks) {
		return nil
	}
	m.done = true
	if e.first[m.from]--; e.first[m.from] <= 0 {
		delete(e.first, m.from)
	}
	n.ckst.completed.Add(1)
	e.announceLocked(m, nbs)
	e.t.push(inMsg{pc: pc, m: &mux.Message{}, at: n.s.Now(), ck: m})
	return nil
}

// dontWantLocked tells pc, once per message, to push m no more. A
// neighbour that holds the whole message is told too: it pushes to us if
// we asked it (want), however late the want reached it.
func (e *chunkEngine) dontWantLocked(m *ckMsg, pc *peerConn) {
	p := m.peer(pc.id)
	if p.dwSent {
		return
	}
	if pc.mc.TrySend(e.topic, encodeDontWant(m.id)) == nil {
		p.dwSent = true
		e.n.ckst.dontWants.Add(1)
	}
}

// onKnown is what a have, don't-want and want from a neighbour share: a
// message that did not parse is the neighbour's violation (err), one we
// do not know is counted and ignored (knownLocked), and f runs on a known
// one with e.mu held.
func (e *chunkEngine) onKnown(id MessageID, err error, f func(m *ckMsg) error) error {
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.knownLocked(id)
	if m == nil {
		return nil
	}
	return f(m)
}

func (e *chunkEngine) onHave(pc *peerConn, data []byte) error {
	id, bm, err := parseHave(data)
	return e.onKnown(id, err, func(m *ckMsg) error {
		if err := checkBitmap(bm, len(m.chunks)); err != nil {
			return err
		}
		p := m.peer(pc.id)
		now := e.n.s.Now()
		p.heardAt = now
		for i := range m.chunks {
			if bitSet(bm, i) {
				setBit(p.has, i)
				if m.seenAt[i].IsZero() {
					m.seenAt[i] = now
				}
			}
		}
		if !p.full && bitmapCount(p.has) == len(m.chunks) {
			p.full = true
			e.cancelLocked(pc, p)
		}
		return nil
	})
}

func (e *chunkEngine) onDontWant(pc *peerConn, data []byte) error {
	id, err := parseDontWant(data)
	return e.onKnown(id, err, func(m *ckMsg) error {
		p := m.peer(pc.id)
		p.noPush = true
		m.annDirty()
		e.cancelLocked(pc, p)
		return nil
	})
}

// onWant makes pc, which asked for m's chunks, eager if m has room for
// another, and pushes it what we hold; otherwise pc pulls (it gets our
// haves).
func (e *chunkEngine) onWant(pc *peerConn, data []byte) error {
	id, err := parseWant(data)
	return e.onKnown(id, err, func(m *ckMsg) error {
		p := m.peer(pc.id)
		if e.adversary != advNone || p.eager || p.full || p.noPush || p.lazy || m.eager >= e.cfg.EagerPeers {
			return nil
		}
		// The k-th neighbour to ask starts at chunk k·N/EagerPeers of
		// what we hold and wraps, as the origin does.
		p.start = m.eager * len(m.chunks) / e.cfg.EagerPeers
		p.eager = true
		m.eager++
		p.needHeader = false // it has the header: it asked for the chunks
		m.annDirty()
		for s := range m.chunks {
			if i := (p.start + s) % len(m.chunks); bitSet(m.have, i) {
				e.pushLocked(m, pc, i)
			}
		}
		return nil
	})
}

// knownLocked returns the message id, or nil when there is none (evicted,
// finished long ago, or never announced to us), counted in
// ChunkedStats.ChunksUnknown. Call it with e.mu held.
func (e *chunkEngine) knownLocked(id MessageID) *ckMsg {
	m := e.msgs[id]
	if m == nil {
		e.n.ckst.unknown.Add(1)
	}
	return m
}
