package main

import (
	"context"
	"slices"
	"sync"
	"time"
)

// The scheduling delay. A vote round trip is a chain of goroutine wake-ups
// on two nodes (application → connection writer → reader → inbox →
// application, and back). In the demo, 21 nodes share one process and the
// machine's cores, which other processes may keep busy too; each wake-up
// may wait for a core (the Go scheduler's, held by another node's work, or
// the OS's, held by another process), and then the round trip's tail is the
// run queue, not peerwire's queues. The demo measures that delay with a
// goroutine of its own that waits on a short timer, over and over, and notes
// how late it runs; the vote bound allows -sched-wakeups of its p99. A vote
// stuck behind blocks in a send queue or behind a reader busy decrypting
// them is not waiting for a core, so the check still catches it.
const (
	// schedProbeEvery is the probe's timer (2 ms).
	schedProbeEvery = 2 * time.Millisecond
	// voteWakeups is the default of -sched-wakeups: a round trip wakes
	// about eight goroutines in a row (four per direction: writer, reader,
	// inbox, application), and each may wait that long.
	voteWakeups = 8
)

// schedProbe collects how late a timer's goroutine runs.
type schedProbe struct {
	mu   sync.Mutex // guards late
	late []time.Duration
}

// run samples until ctx ends.
func (p *schedProbe) run(ctx context.Context) {
	t := time.NewTimer(schedProbeEvery)
	defer t.Stop()
	for {
		t0 := time.Now()
		t.Reset(schedProbeEvery)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		late := max(time.Since(t0)-schedProbeEvery, 0)
		p.mu.Lock()
		p.late = append(p.late, late)
		p.mu.Unlock()
	}
}

// p99 returns the 99th percentile of the lateness and the sample count.
func (p *schedProbe) p99() (time.Duration, int) {
	p.mu.Lock()
	s := slices.Clone(p.late)
	p.mu.Unlock()
	slices.Sort(s)
	return percentile(s, 0.99), len(s)
}
