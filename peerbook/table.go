package peerbook

import (
	"container/heap"
	"time"
)

// The two tables are flat slot arrays, bucket-major: slot s of bucket k is
// index k*BucketSize+s. Besides the slots, three indexes keep the hot paths
// free of scans:
//
//   - all holds every entry in a table, for uniform PEX samples;
//   - ready[t] holds the entries of table t whose backoff has passed, for
//     dial picks;
//   - waiting is a min-heap by next attempt of the others; picks first move
//     the entries whose time has come from waiting to ready.
//
// Every entry in a table is in all and in exactly one of ready and waiting.
// Each index records an entry's position in the entry, so removal is O(1)
// (O(log n) from the heap). All of it is guarded by the book's lock.

// link puts e into slot pos of table t and into the indexes.
func (b *Book) link(e *entry, t table, pos int, now time.Time) {
	m := &b.mu
	m.slots[t][pos] = e
	m.count[t]++
	e.table, e.pos = t, pos
	if t == tableTried {
		b.noteKnown(e.ip, 1)
	}
	e.allIdx = len(m.all)
	m.all = append(m.all, e)
	e.readyIdx, e.heapIdx = -1, -1
	b.schedule(e, now)
}

// unlink takes e out of its table and the indexes.
func (b *Book) unlink(e *entry) {
	m := &b.mu
	if e.table == tableNone {
		return
	}
	m.slots[e.table][e.pos] = nil
	m.count[e.table]--
	if e.table == tableTried {
		b.noteKnown(e.ip, -1)
	}
	b.unready(e)
	if e.heapIdx >= 0 {
		heap.Remove(&m.waiting, e.heapIdx)
	}
	last := len(m.all) - 1
	m.all[e.allIdx] = m.all[last]
	m.all[e.allIdx].allIdx = e.allIdx
	m.all[last] = nil
	m.all = m.all[:last]
	e.table, e.pos, e.allIdx = tableNone, -1, -1
}

// schedule files a linked e under ready or waiting according to its next
// attempt. Call it after changing e.nextAttempt.
func (b *Book) schedule(e *entry, now time.Time) {
	m := &b.mu
	if e.table == tableNone {
		return
	}
	if !e.nextAttempt.After(now) {
		if e.heapIdx >= 0 {
			heap.Remove(&m.waiting, e.heapIdx)
		}
		if e.readyIdx < 0 {
			e.readyIdx = len(m.ready[e.table])
			m.ready[e.table] = append(m.ready[e.table], e)
		}
		return
	}
	b.unready(e)
	if e.heapIdx >= 0 {
		heap.Fix(&m.waiting, e.heapIdx)
	} else {
		heap.Push(&m.waiting, e)
	}
}

func (b *Book) unready(e *entry) {
	if e.readyIdx < 0 {
		return
	}
	r := b.mu.ready[e.table]
	last := len(r) - 1
	r[e.readyIdx] = r[last]
	r[e.readyIdx].readyIdx = e.readyIdx
	r[last] = nil
	b.mu.ready[e.table] = r[:last]
	e.readyIdx = -1
}

// promoteDue moves the entries whose backoff has passed to ready. Each entry
// moves once per backoff, so the cost is amortised O(log n) per failure.
func (b *Book) promoteDue(now time.Time) {
	w := &b.mu.waiting
	for len(*w) > 0 && !(*w)[0].nextAttempt.After(now) {
		e := heap.Pop(w).(*entry)
		e.readyIdx = len(b.mu.ready[e.table])
		b.mu.ready[e.table] = append(b.mu.ready[e.table], e)
	}
}

// newPos returns e's slot in the new table.
func (b *Book) newPos(e *entry) int {
	k := b.newBucket(e.group, e.srcGroup)
	return k*b.cfg.BucketSize + b.slotIn(tableNew, k, e.addr.ID)
}

// triedPos returns e's slot in the tried table.
func (b *Book) triedPos(e *entry) int {
	k := b.triedBucket(e.group, e.addr.ID)
	return k*b.cfg.BucketSize + b.slotIn(tableTried, k, e.addr.ID)
}

// terrible reports whether e may give its slot to a newcomer: it keeps
// failing, has not been seen for staleAfter, or is banned.
func (b *Book) terrible(e *entry, now time.Time) bool {
	if e.protected {
		return false
	}
	if e.lastSuccess.IsZero() && e.failures >= terribleFailures {
		return true
	}
	if e.failures >= max(terribleFailures, b.cfg.MaxFailures/2) {
		return true
	}
	last := e.lastSeen
	if e.lastSuccess.After(last) {
		last = e.lastSuccess
	}
	if now.Sub(last) > staleAfter {
		return true
	}
	return b.bannedLocked(e, now)
}

// evict removes e from the book.
func (b *Book) evict(e *entry) {
	b.unlink(e)
	if e.protected {
		delete(b.mu.protected, e.addr.ID)
		b.noteKnown(e.ip, -1)
	}
	delete(b.mu.byID, e.addr.ID)
	delete(b.mu.local, e.addr.ID)
}

// makeRoomNew frees slot pos of the new table for a newcomer, evicting a
// terrible occupant, and keeps the book within MaxEntries by evicting a
// terrible entry of the same bucket. It reports why it could not.
func (b *Book) makeRoomNew(pos int, now time.Time) IgnoreReason {
	m := &b.mu
	if occ := m.slots[tableNew][pos]; occ != nil {
		if !b.terrible(occ, now) {
			return IgnoreBucketFull
		}
		b.evict(occ)
	}
	if len(m.all) < b.cfg.MaxEntries {
		return ignoreNone
	}
	start := pos - pos%b.cfg.BucketSize
	for _, e := range m.slots[tableNew][start : start+b.cfg.BucketSize] {
		if e != nil && b.terrible(e, now) {
			b.evict(e)
			return ignoreNone
		}
	}
	return IgnoreBookFull
}

// moveToTried moves a newly reached e from the new table to the tried one.
// A tried occupant reached within triedKeepWindow keeps its slot (e stays
// new); an older one goes back to the new table, evicting the new entry in
// its way.
func (b *Book) moveToTried(e *entry, now time.Time) {
	m := &b.mu
	if e.table != tableNew {
		return
	}
	pos := b.triedPos(e)
	occ := m.slots[tableTried][pos]
	if occ != nil && now.Sub(occ.lastSuccess) < triedKeepWindow {
		return
	}
	b.unlink(e)
	if occ != nil {
		b.unlink(occ)
		npos := b.newPos(occ)
		if x := m.slots[tableNew][npos]; x != nil {
			b.evict(x)
		}
		b.link(occ, tableNew, npos, now)
	}
	b.link(e, tableTried, pos, now)
}

// waitHeap orders waiting entries by next attempt.
type waitHeap []*entry

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].nextAttempt.Before(h[j].nextAttempt) }
func (h waitHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *waitHeap) Push(x any) {
	e := x.(*entry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}
func (h *waitHeap) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	old[n] = nil
	*h = old[:n]
	e.heapIdx = -1
	return e
}
