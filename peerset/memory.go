package peerset

import (
	"math"

	"github.com/peerwire/peerwire/crypto"
)

// scoreMemory remembers the scores of disconnected peers, at most cap of
// them, dropping the oldest entry first. Neutral scores are not kept. Not
// safe for concurrent use: the Set's lock guards it.
//
// The order lives in a queue of (id, seq) references; an entry that is
// taken back or replaced leaves a stale reference behind, recognised by its
// sequence number and compacted away, so every operation is amortised O(1).
type scoreMemory struct {
	cap  int
	m    map[crypto.ID]memo
	q    []memoRef
	head int // q[:head] is consumed
	seq  uint64
}

type memo struct {
	score float64
	seq   uint64
}

type memoRef struct {
	id  crypto.ID
	seq uint64
}

func (m *scoreMemory) init(cap int) {
	m.cap = cap
	m.m = make(map[crypto.ID]memo)
}

func (m *scoreMemory) len() int { return len(m.m) }

// get returns the remembered score of id (0 when none).
func (m *scoreMemory) get(id crypto.ID) float64 { return m.m[id].score }

// take returns the remembered score of id and forgets it: the peer is
// connected again and carries its score itself.
func (m *scoreMemory) take(id crypto.ID) float64 {
	e, ok := m.m[id]
	if !ok {
		return 0
	}
	delete(m.m, id)
	return e.score
}

// put remembers score as the newest entry.
func (m *scoreMemory) put(id crypto.ID, score float64) {
	if m.cap == 0 || score == 0 {
		delete(m.m, id)
		return
	}
	m.seq++
	m.m[id] = memo{score: score, seq: m.seq}
	m.q = append(m.q, memoRef{id, m.seq})
	for len(m.m) > m.cap {
		r := m.q[m.head]
		m.head++
		if e, ok := m.m[r.id]; ok && e.seq == r.seq {
			delete(m.m, r.id)
		}
	}
	m.compact()
}

// update sets the score of id in place, keeping its age, or remembers it
// as the newest entry when it is not remembered yet.
func (m *scoreMemory) update(id crypto.ID, score float64) {
	e, ok := m.m[id]
	switch {
	case !ok:
		m.put(id, score)
	case score == 0:
		delete(m.m, id)
	default:
		e.score = score
		m.m[id] = e
	}
}

// scale multiplies every score by f, forgetting those that become neutral.
func (m *scoreMemory) scale(f float64) {
	for id, e := range m.m {
		e.score = snap(e.score * f)
		if e.score == 0 {
			delete(m.m, id)
		} else {
			m.m[id] = e
		}
	}
	m.compact()
}

// compact drops consumed and stale references once they outnumber the live
// ones, keeping the queue within a constant factor of the map.
func (m *scoreMemory) compact() {
	if len(m.q)-m.head <= 2*len(m.m)+64 && m.head <= len(m.q)/2 {
		return
	}
	n := 0
	for _, r := range m.q[m.head:] {
		if e, ok := m.m[r.id]; ok && e.seq == r.seq {
			m.q[n] = r
			n++
		}
	}
	clear(m.q[n:])
	m.q = m.q[:n]
	m.head = 0
}

// snap clamps a score to [MinScore, MaxScore] and rounds a near-neutral one
// to 0.
func snap(x float64) float64 {
	switch {
	case math.Abs(x) < scoreEpsilon:
		return 0
	case x < MinScore:
		return MinScore
	case x > MaxScore:
		return MaxScore
	}
	return x
}
