package p2p

import "github.com/peerwire/peerwire/internal/clock"

// The node's clock at the public surface. The one Clock type lives in
// internal/clock, where every package beneath p2p takes it; these aliases
// let code outside the module implement Config.Clock, name its timers and
// drive a node with the fake clock the tests use.

// Clock is a source of time and timers (Config.Clock): Now, AfterFunc and
// NewTicker, as package time's. Implementations must be safe for
// concurrent use. It is internal/clock's Clock.
type Clock = clock.Clock

// Timer is a timer made by Clock.AfterFunc; *time.Timer implements it.
type Timer = clock.Timer

// Ticker is a ticker made by Clock.NewTicker.
type Ticker = clock.Ticker

// FakeClock is a manually advanced Clock for tests: time stands still
// until Advance or Set moves it, and timers and tickers fire then, in
// time order. It is safe for concurrent use; make one with NewFakeClock.
type FakeClock = clock.Fake

// RealClock returns the system clock, what a nil Config.Clock means.
func RealClock() Clock { return clock.Real() }

// NewFakeClock returns a FakeClock standing at a fixed instant (the same
// in every run, so tests are reproducible).
func NewFakeClock() *FakeClock { return clock.NewFake() }
