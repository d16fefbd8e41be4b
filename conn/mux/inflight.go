package mux

import (
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
// measured from the ACKs), never below minInFlight; while the connection
// carries bulk data only, plus a quantum, at least a frame for each stage
// of the pipeline (inFlightQuantumTime). Higher priorities get
// inFlightHeadroom more per priority level above the lowest, so bulk data
// can never fill the pipe in front of a vote. The cap follows the link: it
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

	// urgentAt is when a packet of a priority above the lowest last went
	// out (urgent: one ever did). Until inFlightQuantumQuiet after it, the
	// cap goes without the quantum.
	urgentAt time.Duration
	urgent   bool
}

// limit returns how many bytes may be in flight at now before a packet of
// the class at position ci (0 = highest priority) waits.
func (f *inflight) limit(ci, classes int, now time.Duration) int64 {
	return f.capAt(now) + int64(classes-1-ci)*inFlightHeadroom
}

// capAt returns the lowest priority's cap at now: the measured cap, plus
// the quantum unless a higher priority sent within inFlightQuantumQuiet.
// Bulk data alone fills the pipeline's stages; next to urgent traffic it
// keeps to the measured cap, so an urgent message waits behind no more
// than that.
func (f *inflight) capAt(now time.Duration) int64 {
	if f.urgent && now-f.urgentAt < inFlightQuantumQuiet {
		return f.cap
	}
	return min(f.cap+f.quantum(), maxInFlight)
}

// quantum returns the bulk-only allowance: inFlightQuantumTime of the
// highest recent delivery rate, within [inFlightQuantumMin,
// inFlightQuantumMax] (the minimum until a rate is measured).
func (f *inflight) quantum() int64 {
	q := int64(f.maxRate * inFlightQuantumTime.Seconds())
	return min(max(q, inFlightQuantumMin), inFlightQuantumMax)
}

// sentUrgent notes that a packet of a priority above the lowest went out at now.
func (f *inflight) sentUrgent(now time.Duration) { f.urgentAt, f.urgent = now, true }

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
		f.cap = min(max(int64(inFlightGain*bdp), minInFlight), maxInFlight)
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
	if c.w.state != stateFinal {
		c.w.ackDue = true
		c.kickLocked()
	}
	c.w.Unlock()
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
