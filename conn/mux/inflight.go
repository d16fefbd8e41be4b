package mux

import (
	"runtime"
	"time"
)

// Connection-level in-flight limit. Per-topic credit bounds what the
// receiving application holds, not what sits in kernel buffers between the
// two MultiConns: with megabytes of bulk data queued there (loopback and LAN
// receive buffers grow to several MiB), an urgent message sent behind them
// waits for all of it. So the receiver acknowledges the data-packet bytes
// its reader has read (ACK, every ackEvery bytes), and the sender keeps the
// unacknowledged bytes under a cap sized like BBR's: twice the product of
// the highest recent delivery rate and the lowest recent round trip (both
// measured from the ACKs) plus inFlightQuantum, a frame for each stage of
// the pipeline. Higher priorities get inFlightHeadroom more per priority
// level above the lowest, so bulk data can never fill the pipe in front of
// a vote. The cap follows the link: it
// doubles per round trip while the path has no queue, and settles where
// about one bandwidth-delay product waits in buffers.

// inflight is the sender's in-flight state, guarded by MultiConn.w.
type inflight struct {
	sent    uint64 // data-packet bytes put into batches
	acked   uint64 // data-packet bytes the peer has read
	cap     int64  // current limit on sent - acked (lowest priority)
	samples [32]struct {
		cum uint64
		at  time.Duration // when the bytes up to cum went out
	}
	head, n int

	// Times are offsets from the connection's start (MultiConn.offset).
	minRTT     time.Duration
	minRTTAt   time.Duration
	maxRate    float64 // bytes per second
	maxRateAt  time.Duration
	rateFrom   uint64 // acked count at the start of the current rate sample
	rateFromAt time.Duration
	rateStart  bool // rateFrom is set
	lastAckRTT time.Duration
}

// limit returns how many bytes may be in flight before a packet of the
// class at position ci (0 = highest priority) waits.
func (f *inflight) limit(ci, classes int) int64 {
	return f.cap + int64(classes-1-ci)*inFlightHeadroom
}

// used returns the bytes sent and not yet acknowledged.
func (f *inflight) used() int64 { return int64(f.sent - f.acked) }

// record notes that the data bytes up to f.sent went out at now.
func (f *inflight) record(now time.Duration) {
	if f.n > 0 {
		last := &f.samples[(f.head+f.n-1)%len(f.samples)]
		if last.cum == f.sent {
			return
		}
		if f.n == len(f.samples) { // full: merge into the newest sample
			last.cum = f.sent
			return
		}
	}
	s := &f.samples[(f.head+f.n)%len(f.samples)]
	s.cum, s.at = f.sent, now
	f.n++
}

// ack applies the peer's acknowledgement of the first a data bytes at now
// and recomputes the cap. It reports false when a is impossible.
func (f *inflight) ack(a uint64, now time.Duration) bool {
	if a < f.acked || a > f.sent {
		return false
	}
	f.acked = a
	popped := false
	var sentAt time.Duration
	for f.n > 0 && f.samples[f.head].cum <= a {
		sentAt, popped = f.samples[f.head].at, true
		f.head = (f.head + 1) % len(f.samples)
		f.n--
	}
	if popped {
		rtt := max(now-sentAt, time.Microsecond)
		f.lastAckRTT = rtt
		if f.minRTT == 0 || rtt <= f.minRTT || now-f.minRTTAt > inFlightWindow {
			f.minRTT, f.minRTTAt = rtt, now
		}
	}
	if !f.rateStart {
		f.rateFrom, f.rateFromAt, f.rateStart = a, now, true
	} else if dt := now - f.rateFromAt; dt >= max(f.minRTT, time.Millisecond) {
		rate := float64(a-f.rateFrom) / dt.Seconds()
		if rate >= f.maxRate || now-f.maxRateAt > inFlightWindow {
			f.maxRate, f.maxRateAt = rate, now
		}
		f.rateFrom, f.rateFromAt = a, now
	}
	if f.minRTT > 0 && f.maxRate > 0 {
		bdp := f.maxRate * f.minRTT.Seconds()
		f.cap = min(int64(inFlightGain*bdp)+inFlightQuantum, maxInFlight)
	}
	return true
}

// dataRead counts n data-packet bytes read and asks the writer for an ACK
// every ackEvery bytes. Reader goroutine only.
func (c *MultiConn) dataRead(n int) {
	r := c.rxData.Add(uint64(n))
	if r < c.nextAck {
		return
	}
	c.nextAck = r + ackEvery
	c.w.Lock()
	woke := false
	if c.w.state != stateFinal {
		c.w.ackDue = true
		woke = c.w.idle
		c.kickLocked()
	}
	c.w.Unlock()
	if woke {
		// Let the writer send the ACK now: woken from this goroutine, it
		// would otherwise wait for a core until this reader blocks, that
		// is until it has read everything the sender could send, which
		// turns the in-flight cap into stop-and-go.
		runtime.Gosched()
	}
}

// ackReceived applies the peer's ACK.
func (c *MultiConn) ackReceived(n uint64) error {
	now := time.Duration(c.offset(c.clock.Now()))
	c.w.Lock()
	defer c.w.Unlock()
	before := c.w.fl.acked
	if !c.w.fl.ack(n, now) {
		return violation(ViolationMalformedControl, 0, "ack of %d bytes, %d acknowledged and %d sent before", n, c.w.fl.acked, c.w.fl.sent)
	}
	if c.w.fl.acked > before {
		c.w.ackWaitAt = now
	}
	c.kickLocked()
	return nil
}
