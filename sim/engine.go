package sim

import (
	"encoding/binary"
	"math/rand/v2"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
)

// event is one scheduled action at virtual time at; seq breaks ties in
// scheduling order, so the run is deterministic.
type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

// engine is the discrete-event loop: a min-heap of events and the one
// clock every component reads, moved to each event's time before it runs.
type engine struct {
	now   time.Duration
	seq   uint64
	q     []event
	clk   *clock.Fake
	start time.Time
	ran   uint64
}

func newEngine() *engine {
	c := clock.NewFake()
	return &engine{clk: c, start: c.Now()}
}

// after schedules fn to run d from now (d < 0 counts as 0).
func (e *engine) after(d time.Duration, fn func()) {
	if d < 0 {
		d = 0
	}
	e.seq++
	e.q = append(e.q, event{at: e.now + d, seq: e.seq, fn: fn})
	e.up(len(e.q) - 1)
}

func (e *engine) less(i, j int) bool {
	a, b := &e.q[i], &e.q[j]
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (e *engine) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !e.less(i, p) {
			return
		}
		e.q[i], e.q[p] = e.q[p], e.q[i]
		i = p
	}
}

func (e *engine) down(i int) {
	n := len(e.q)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && e.less(r, l) {
			m = r
		}
		if !e.less(m, i) {
			return
		}
		e.q[i], e.q[m] = e.q[m], e.q[i]
		i = m
	}
}

// run executes events in time order until the queue is empty or the next
// event lies after until; the clock ends at until.
func (e *engine) run(until time.Duration) {
	for len(e.q) > 0 && e.q[0].at <= until {
		ev := e.q[0]
		last := len(e.q) - 1
		e.q[0] = e.q[last]
		e.q[last] = event{}
		e.q = e.q[:last]
		if last > 0 {
			e.down(0)
		}
		if ev.at > e.now {
			e.now = ev.at
			e.clk.Set(e.start.Add(e.now))
		}
		e.ran++
		ev.fn()
	}
	if until > e.now {
		e.now = until
		e.clk.Set(e.start.Add(e.now))
	}
}

// stream returns a deterministic random stream for (seed, kind, index):
// every component gets its own, so adding one does not shift the others.
func stream(seed uint64, kind, index uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[0:], seed)
	binary.LittleEndian.PutUint64(s[8:], kind)
	binary.LittleEndian.PutUint64(s[16:], index)
	binary.LittleEndian.PutUint64(s[24:], 0x7065657277697265) // "peerwire"
	return rand.NewChaCha8(s)
}

// Stream kinds.
const (
	kindWorld uint64 = iota + 1
	kindBook
	kindSet
	kindNode
	kindAttacker
	kindID
	kindDHT
	kindProbe
)
