// Package testutil holds the helpers every peerwire package's tests share:
// one way to wait for a condition. It is imported only from test code
// (_test files, and the lab's test harness).
package testutil

import (
	"testing"
	"time"
)

// Polling bounds of Eventually. It looks at its condition after
// firstPoll, then twice as long after each miss, up to maxPoll: a
// condition that holds soon is seen soon, and a long wait (a lab network
// converging, each look an HTTP request to every node) does not spin.
const (
	firstPoll = 5 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// Eventually waits until cond holds and returns how long that took; it
// fails the test, naming what, if cond does not hold within the bound. It
// is for conditions another goroutine or process makes true (a connection
// closing, a counter moving, a network converging); every look re-reads
// observable state. Time-driven behaviour is driven with clock.Fake
// instead.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for poll := firstPoll; !cond(); poll = min(2*poll, maxPoll) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(poll)
	}
	return time.Since(start)
}
