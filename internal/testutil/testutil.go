// Package testutil holds the helpers every peerwire package's tests share:
// one way to wait for a condition. It is imported only from _test files.
package testutil

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually looks at its condition: often enough
// that a test waits little past the moment the condition holds.
const pollEvery = 5 * time.Millisecond

// Eventually waits until cond holds and fails the test, naming what, if it
// does not within the bound. It is for conditions another goroutine makes
// true (a connection closing, a counter moving); time-driven behaviour is
// driven with clock.Fake instead.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(pollEvery)
	}
}
