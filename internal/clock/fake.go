package clock

import (
	"sync"
	"time"
)

// Fake is a manually advanced Clock for tests: time stands still until
// Advance or Set moves it, and timers and tickers fire then, in time
// order. It is safe for concurrent use. The zero value is not usable; call
// NewFake.
type Fake struct {
	mu      sync.Mutex // guards the fields below
	now     time.Time
	timers  []*fakeTimer
	tickers []*fakeTicker
}

// Start is the instant a NewFake clock shows: fixed, so tests are
// reproducible, and far from the zero time, so durations subtract cleanly.
var Start = time.Unix(1_700_000_000, 0)

// NewFake returns a Fake showing Start.
func NewFake() *Fake { return &Fake{now: Start} }

// Now returns the fake current time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arranges for f to run, in the goroutine that calls Advance,
// once the clock has moved on by d.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f, live: true, listed: true}
	c.timers = append(c.timers, t)
	return t
}

// NewTicker returns a ticker that ticks each time the clock passes a
// multiple of d after now.
func (c *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: c, period: d, next: c.now.Add(d), ch: make(chan time.Time, 1), live: true}
	c.tickers = append(c.tickers, t)
	return t
}

// Advance moves the clock on by d, firing every timer and ticker that falls
// due on the way in time order; timer functions run in the calling
// goroutine, so when Advance returns they have run.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	c.advanceTo(end)
}

// Set moves the clock to t (never backwards), firing what falls due.
func (c *Fake) Set(t time.Time) { c.advanceTo(t) }

func (c *Fake) advanceTo(end time.Time) {
	for {
		c.mu.Lock()
		var due *fakeTimer
		for _, t := range c.timers {
			if t.live && !t.at.After(end) && (due == nil || t.at.Before(due.at)) {
				due = t
			}
		}
		var tick *fakeTicker
		for _, t := range c.tickers {
			if t.live && !t.next.After(end) && (tick == nil || t.next.Before(tick.next)) {
				tick = t
			}
		}
		switch {
		case due != nil && (tick == nil || !tick.next.Before(due.at)):
			if due.at.After(c.now) {
				c.now = due.at
			}
			due.live = false
			c.compact()
			c.mu.Unlock()
			due.f()
		case tick != nil:
			if tick.next.After(c.now) {
				c.now = tick.next
			}
			tick.next = tick.next.Add(tick.period)
			select {
			case tick.ch <- c.now:
			default: // the reader is behind: drop the tick, like time.Ticker
			}
			c.mu.Unlock()
		default:
			if end.After(c.now) {
				c.now = end
			}
			c.mu.Unlock()
			return
		}
	}
}

// compact drops timers that can no longer fire; c.mu is held.
func (c *Fake) compact() {
	live := c.timers[:0]
	for _, t := range c.timers {
		if t.live {
			live = append(live, t)
		} else {
			t.listed = false
		}
	}
	clear(c.timers[len(live):])
	c.timers = live
}

// Pending returns how many timers and tickers are armed: a test can wait
// for the code under test to arm its timer before advancing past it.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.live {
			n++
		}
	}
	for _, t := range c.tickers {
		if t.live {
			n++
		}
	}
	return n
}

type fakeTimer struct {
	c      *Fake
	at     time.Time
	f      func()
	live   bool // guarded by c.mu
	listed bool // in c.timers; guarded by c.mu
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.live
	t.live = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.live
	t.at = t.c.now.Add(d)
	t.live = true
	if !t.listed {
		t.listed = true
		t.c.timers = append(t.c.timers, t)
	}
	return was
}

type fakeTicker struct {
	c      *Fake
	period time.Duration // guarded by c.mu
	next   time.Time     // guarded by c.mu
	ch     chan time.Time
	live   bool // guarded by c.mu
}

func (t *fakeTicker) C() <-chan time.Time { return t.ch }

func (t *fakeTicker) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.live = false
}

func (t *fakeTicker) Reset(d time.Duration) {
	if d <= 0 {
		panic("clock: non-positive interval for Ticker.Reset")
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.period, t.next, t.live = d, t.c.now.Add(d), true
}
