package filter

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// throttle limits inbound attempts per IP address with one token bucket
// (rate.Limiter) each. The table is bounded by maxTracked: when it is full,
// buckets that have refilled completely (indistinguishable from new ones)
// are dropped, at most once per idleAfter; if it is still full, an arbitrary
// entry is dropped. An attacker with many addresses can therefore reset
// buckets, but never grow memory. Safe for concurrent use.
type throttle struct {
	limit      rate.Limit
	burst      int
	maxTracked int
	idleAfter  time.Duration

	mu        sync.Mutex // protects the fields below
	m         map[netip.Addr]*rate.Limiter
	lastSweep time.Time
	swept     uint64 // idle entries dropped
	evicted   uint64 // busy entries dropped because the table was full
}

func newThrottle(s *settings) *throttle {
	return &throttle{
		limit:      s.limit,
		burst:      s.burst,
		maxTracked: s.maxTracked,
		idleAfter:  s.idleAfter,
		m:          make(map[netip.Addr]*rate.Limiter),
	}
}

// allow records an attempt from a at now and reports whether it is within
// the rate. It allocates only when a is not tracked yet.
func (t *throttle) allow(a netip.Addr, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	lim := t.m[a]
	if lim == nil {
		if len(t.m) >= t.maxTracked {
			t.makeRoom(now)
		}
		lim = rate.NewLimiter(t.limit, t.burst)
		t.m[a] = lim
	}
	return lim.AllowN(now, 1)
}

// makeRoom drops at least one entry. t.mu is held.
func (t *throttle) makeRoom(now time.Time) {
	if t.lastSweep.IsZero() || now.Sub(t.lastSweep) >= t.idleAfter || now.Before(t.lastSweep) {
		t.lastSweep = now
		full := float64(t.burst)
		for a, lim := range t.m {
			if lim.TokensAt(now) >= full {
				delete(t.m, a)
				t.swept++
			}
		}
	}
	for a := range t.m {
		if len(t.m) < t.maxTracked {
			break
		}
		delete(t.m, a)
		t.evicted++
	}
}

func (t *throttle) stats() (tracked int, swept, evicted uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m), t.swept, t.evicted
}
