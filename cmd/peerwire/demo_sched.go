package main

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"
)

// The machine's scheduling delay. A vote round trip is a chain of
// goroutine wake-ups on two nodes (application → connection writer →
// kernel → reader → inbox → application, and back); on a machine whose
// cores other processes keep busy, each wake-up may wait for the OS to
// give the process a core, and the round trip's tail is the OS run queue,
// not peerwire. The demo measures that delay with a thread of its own that
// sleeps in the kernel and notes how late it wakes, and widens the vote
// bound by it (-sched-wakeups).
const (
	// schedProbeEvery is how long the probe thread sleeps per sample (2 ms).
	schedProbeEvery = 2 * time.Millisecond
	// voteWakeups is the default of -sched-wakeups: how many wake-ups of
	// the scheduling delay's p99 the vote bound allows on top of -max-p99: a round trip wakes about eight
	// goroutines in a row (four per direction: writer, reader, inbox,
	// application), and each may wait that long.
	voteWakeups = 8
)

// schedProbe collects how late a sleeping thread wakes.
type schedProbe struct {
	mu   sync.Mutex // guards late
	late []time.Duration
}

// run samples on a thread of its own until ctx ends.
func (p *schedProbe) run(ctx context.Context) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for ctx.Err() == nil {
		t0 := time.Now()
		kernelSleep(schedProbeEvery)
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
