// Package clock is the one source of time and timers shared by every
// peerwire package: conn, peerset, peerbook, filter and p2p take a Clock
// where behaviour depends on time (rekey, keepalive, backoff, bans, TTLs,
// decay, reload polling), so tests drive them with one Fake instead of
// sleeping.
package clock

import "time"

// Clock is a source of time and timers. Implementations must be safe for
// concurrent use. The zero value of a Clock-typed field means Real (see Or).
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, like time.AfterFunc.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTicker returns a ticker that sends the time on its channel every
	// d, like time.NewTicker; d must be positive.
	NewTicker(d time.Duration) Ticker
}

// Timer is a timer made by Clock.AfterFunc; *time.Timer implements it.
type Timer interface {
	// Stop prevents the timer from firing and reports whether it was
	// pending; see time.Timer.Stop.
	Stop() bool
	// Reset makes the timer fire after d and reports whether it was
	// pending; see time.Timer.Reset.
	Reset(d time.Duration) bool
}

// Ticker is a ticker made by Clock.NewTicker.
type Ticker interface {
	// C returns the channel the ticks arrive on. Like time.Ticker's, it
	// holds at most one pending tick: slow readers miss ticks.
	C() <-chan time.Time
	// Stop turns the ticker off; no tick is sent after Stop returns.
	Stop()
	// Reset stops the ticker and restarts it with period d.
	Reset(d time.Duration)
}

// Real returns the system clock.
func Real() Clock { return realClock{} }

// Or returns c, or Real when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return realClock{}
	}
	return c
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
func (realClock) NewTicker(d time.Duration) Ticker          { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time   { return r.t.C }
func (r realTicker) Stop()                 { r.t.Stop() }
func (r realTicker) Reset(d time.Duration) { r.t.Reset(d) }
