package mux

import (
	"testing"
	"time"
)

// simulateLink drives the in-flight estimator with a link of the given
// rate (bytes/s) and round trip: 64 KiB batches at the link rate, each
// acknowledged one RTT after it was sent.
func simulateLink(t *testing.T, rate float64, rtt time.Duration) *inflight {
	f := &inflight{cap: initialInFlight}
	var now time.Duration
	type pending struct {
		cum uint64
		at  time.Duration
	}
	var q []pending
	step := time.Duration(float64(64<<10) / rate * float64(time.Second))
	for range 2000 {
		now += step
		for len(q) > 0 && q[0].at+rtt <= now {
			if !f.ack(q[0].cum, now) {
				t.Fatal("valid ack refused")
			}
			q = q[1:]
		}
		f.sent += 64 << 10
		f.record(now)
		q = append(q, pending{f.sent, now})
	}
	return f
}

// TestInFlightCapQuantum: on a fast link with a tiny round trip (loopback)
// the cap of a connection carrying bulk data only leaves room beyond the
// measured cap (there its 128 KiB floor, with which the pipe ran empty
// between ACKs: issue 13, 0.55× of the transport's throughput) for what
// the link delivers in inFlightQuantumTime, at least a whole frame for
// each stage of the pipeline (the sender sealing, the kernel, the receiver
// opening, its ACK) and at most inFlightQuantumMax. A packet of a higher
// priority withholds the quantum for inFlightQuantumQuiet, so urgent
// messages wait behind the measured cap only.
func TestInFlightCapQuantum(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rate    float64
		quantum func(maxRate float64) int64
	}{
		{"100 MB/s: the 3-frame floor", 100e6, func(float64) int64 { return 3 * frameBudget }},
		{"1 GB/s: 500 µs of the rate", 1e9, func(r float64) int64 { return int64(r * inFlightQuantumTime.Seconds()) }},
		{"10 GB/s: the 16-frame ceiling", 10e9, func(float64) int64 { return 16 * frameBudget }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := simulateLink(t, tc.rate, 40*time.Microsecond)
			q := tc.quantum(f.maxRate)
			if q < 3*frameBudget || q > 16*frameBudget {
				t.Fatalf("quantum %d out of [3, 16] frames (measured rate %.3g)", q, f.maxRate)
			}
			now := 10 * time.Second
			if got := f.capAt(now); got != f.cap+q {
				t.Fatalf("bulk-only cap %d, want the measured %d + %d", got, f.cap, q)
			}
			f.sentUrgent(now)
			for _, d := range []time.Duration{0, inFlightQuantumQuiet - time.Millisecond} {
				if got := f.limit(1, 2, now+d); got != f.cap {
					t.Fatalf("cap %d %v after an urgent packet, want the measured %d", got, d, f.cap)
				}
			}
			if got := f.capAt(now + inFlightQuantumQuiet); got != f.cap+q {
				t.Fatalf("cap %d a quiet period after the urgent packet, want %d", got, f.cap+q)
			}
		})
	}
	var fresh inflight // no rate measured yet
	if got := fresh.quantum(); got != inFlightQuantumMin {
		t.Fatalf("quantum %d before any measurement, want %d", got, inFlightQuantumMin)
	}
}

// TestInFlightCap: the cap converges on twice the bandwidth-delay product,
// never goes below the floor, gives higher priorities headroom, and
// impossible ACKs are refused.
func TestInFlightCap(t *testing.T) {
	f := simulateLink(t, 100e6, 20*time.Millisecond)
	bdp := 100e6 * 0.020
	if got := float64(f.cap); got < 1.5*bdp || got > 2.5*bdp {
		t.Fatalf("cap %d on a 100 MB/s, 20 ms link; want about 2 × BDP %.0f (min RTT %v, rate %.0f)", f.cap, bdp, f.minRTT, f.maxRate)
	}
	if g := simulateLink(t, 500e6, 50*time.Microsecond); g.cap != minInFlight {
		t.Fatalf("cap %d on a loopback-like link, want the floor %d", g.cap, minInFlight)
	}
	if f.limit(0, 3, 0)-f.limit(2, 3, 0) != 2*inFlightHeadroom {
		t.Fatal("no headroom for higher priorities")
	}
	now := 100 * time.Second
	if f.ack(f.sent+1, now) || f.ack(f.acked-1, now) {
		t.Fatal("impossible ack accepted")
	}
}
