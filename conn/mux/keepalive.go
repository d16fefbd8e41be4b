package mux

import (
	"fmt"
	"time"
)

// Keepalive: the writer sends a PING with a fresh nonce every PingInterval;
// the peer answers the most recent ping with a PONG echoing its nonce, and
// the round trip is measured. A connection dies after IdleTimeout when the
// peer sent nothing at all (any inbound bytes count as life), or when no
// pong answered our pings (a path dead in one direction only), or when one
// write made no progress. One timer per connection (Clock.AfterFunc) drives
// both pings and the idle check, so keepalive costs no goroutine.

// RTTStats is the round-trip time measured by pings.
type RTTStats struct {
	Last     time.Duration // the latest sample
	Smoothed time.Duration // exponentially weighted, 1/8 per sample (as TCP's SRTT)
	Min      time.Duration // the smallest sample
	Samples  uint64        // how many pongs were matched
}

// RTT returns the connection's round-trip time measurements. It is zero
// until the first pong.
func (c *MultiConn) RTT() RTTStats {
	c.ka.Lock()
	defer c.ka.Unlock()
	return c.ka.rtt
}

func (c *MultiConn) startKeepalive() {
	c.ka.Lock()
	defer c.ka.Unlock()
	c.ka.nextPing = c.p.pingInterval
	c.ka.timer = c.clock.AfterFunc(c.p.pingInterval, c.keepaliveTick)
}

func (c *MultiConn) stopKeepalive() {
	c.ka.Lock()
	defer c.ka.Unlock()
	c.ka.stopped = true
	if c.ka.timer != nil {
		c.ka.timer.Stop()
	}
}

// keepaliveTick runs on the timer: it closes a connection whose peer has
// been silent (or has not read) for IdleTimeout, sends the ping when due,
// and rearms the timer for the next event.
func (c *MultiConn) keepaliveTick() {
	now := c.clock.Now()
	off := time.Duration(c.offset(now))
	idle := c.p.idleTimeout
	last := time.Duration(c.lastRecv.Load())
	if off-last >= idle {
		c.timedOut(fmt.Sprintf("nothing received for %v", (off - last).Round(time.Millisecond)))
		return
	}
	next := last + idle
	c.ka.Lock()
	waiting, unanswered := c.ka.waiting, c.ka.unanswered
	c.ka.Unlock()
	if waiting {
		if off-unanswered >= idle {
			c.timedOut(fmt.Sprintf("no pong for %v", (off - unanswered).Round(time.Millisecond)))
			return
		}
		next = min(next, unanswered+idle)
	}
	if ws := c.writeStart.Load(); ws != 0 {
		started := time.Duration(ws - 1)
		if off-started >= idle {
			c.timedOut(fmt.Sprintf("a write blocked for %v", (off - started).Round(time.Millisecond)))
			return
		}
		next = min(next, started+idle)
	}
	if st := c.p.stallTimeout; st > 0 {
		text, waited, due := c.creditStallCheck(off, st)
		if due {
			c.creditStalled(text)
			return
		}
		if waited > 0 {
			next = min(next, off-waited+st)
		}
	}
	c.ka.Lock()
	if c.ka.stopped {
		c.ka.Unlock()
		return
	}
	due := off >= c.ka.nextPing
	if due {
		c.ka.nextPing = off + c.p.pingInterval
	}
	next = min(next, c.ka.nextPing)
	c.ka.timer.Reset(max(next-off, time.Millisecond))
	c.ka.Unlock()
	// Lock order: c.w before c.ka (the writer records pings holding c.w).
	if due {
		c.w.Lock()
		if c.w.state != stateFinal {
			c.w.pingDue = true
			c.kickLocked()
		}
		c.w.Unlock()
	}
}

func (c *MultiConn) timedOut(text string) {
	ge := &GoAwayError{Code: GoAwayTimeout, Text: text, Err: fmt.Errorf("%w: %s", ErrIdleTimeout, text)}
	c.p.log.Info("mux: peer timed out", "peer", c.remote.String(), "reason", text)
	c.fail(ge, ge, 0)
}

// creditStallCheck finds what has waited longest for the peer's credit at
// offset off — a topic with messages queued and too little credit for the
// next one, none returned since; or at least one ACK interval of data sent
// with no ACK since — and how long it has waited; due reports that it has
// waited at least the stall timeout st, and text says what it was. Only an
// open connection is judged; a closing one is bounded by its close timeout.
func (c *MultiConn) creditStallCheck(off, st time.Duration) (text string, waited time.Duration, due bool) {
	c.w.Lock()
	defer c.w.Unlock()
	if c.w.state != stateOpen {
		return "", 0, false
	}
	var stalled *topic
	for _, t := range c.topics {
		if t.stalled && t.waitsForCredit() && off-t.stallAt > waited {
			stalled, waited = t, off-t.stallAt
		}
	}
	if stalled != nil {
		text = fmt.Sprintf("no credit on topic %d for %v", stalled.id, waited.Round(time.Millisecond))
	}
	if u := c.w.fl.used(); u >= ackEvery && off-c.w.ackWaitAt > waited {
		waited = off - c.w.ackWaitAt
		text = fmt.Sprintf("no ack for %v, %d bytes unacknowledged", waited.Round(time.Millisecond), u)
	}
	return text, waited, waited >= st
}

// creditStalled closes the connection because the peer returned no credit
// (text says which) for the credit-stall timeout.
func (c *MultiConn) creditStalled(text string) {
	ge := &GoAwayError{Code: GoAwayTimeout, Text: text, Err: fmt.Errorf("%w: %s", ErrCreditStall, text)}
	c.p.log.Info("mux: peer stopped returning credit", "peer", c.remote.String(), "reason", text)
	c.fail(ge, ge, 0)
}

// pingSent records the ping the writer is sending; the caller holds c.w.
func (c *MultiConn) pingSent(nonce uint64, now time.Time) {
	c.ka.Lock()
	if !c.ka.waiting {
		c.ka.firstNonce, c.ka.unanswered = nonce, time.Duration(c.offset(now))
	}
	c.ka.outstanding, c.ka.outstandingAt, c.ka.waiting = nonce, now, true
	c.ka.Unlock()
	c.st.pingsSent.Add(1)
}

// pongReceived matches a pong against the unanswered pings and reports
// whether it answers one of them. Only the latest ping's pong is an RTT
// sample (the peer answers the latest ping it has seen), but any of them
// shows the path works both ways.
func (c *MultiConn) pongReceived(nonce uint64, now time.Time) bool {
	c.ka.Lock()
	defer c.ka.Unlock()
	if !c.ka.waiting || nonce-c.ka.firstNonce > c.ka.outstanding-c.ka.firstNonce {
		return false
	}
	if nonce != c.ka.outstanding {
		c.ka.firstNonce, c.ka.unanswered = nonce+1, time.Duration(c.offset(c.ka.outstandingAt)) // still waiting for newer ones
		return true
	}
	c.ka.waiting = false
	rtt := max(now.Sub(c.ka.outstandingAt), 0)
	r := &c.ka.rtt
	r.Last = rtt
	if r.Samples == 0 {
		r.Smoothed, r.Min = rtt, rtt
	} else {
		r.Smoothed += (rtt - r.Smoothed) / 8
		r.Min = min(r.Min, rtt)
	}
	r.Samples++
	return true
}

// queuePong asks the writer to answer a ping; a newer ping replaces an
// unanswered older one.
func (c *MultiConn) queuePong(nonce uint64) {
	c.w.Lock()
	if c.w.state != stateFinal {
		c.w.pongDue, c.w.pongNonce = true, nonce
		c.kickLocked()
	}
	c.w.Unlock()
}
