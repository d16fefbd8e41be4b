package mux

import (
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// Flow control (docs/PROTOCOL.md §8): every topic has its own byte
// credit in each direction. The receiver announces a window per topic in
// SETTINGS; a message costs its length plus MessageCreditOverhead, charged
// whole at its first packet, so a receiver never allocates a message it has
// not granted credit for. The receiver grants the credit back in
// WINDOW_UPDATE messages as the application calls Message.Done. A topic
// whose consumer is slow thus stalls only itself: other topics, pings and
// pongs keep flowing, and nothing is ever dropped.

// Message is one complete message received from a peer. Its Data belongs
// to the receiver (until Release). The message's bytes stay charged to the
// peer's credit for its topic until Done is called, so the receiving
// application bounds what a peer can make it hold simply by not calling
// Done.
type Message struct {
	// Topic is the topic the message arrived on.
	Topic uint8
	done  atomic.Bool // beside Topic, in what was padding: at costs no size class
	cost  int32       // and so does cost (a message is at most 1 GiB: MaxMessageSizeLimit)
	// Data is the message.
	Data []byte
	// Outer is what Config.NewMessage made this Message part of, for the
	// layer above to find it from the Message; nil otherwise. The
	// MultiConn never reads it.
	Outer any

	t    *topic
	c    *MultiConn
	at   int64   // offset (ns) from c.base of the transport read that completed it
	full *[]byte // the pooled buffer behind Data (newMsgBuf), for Release; or nil
}

// From returns the sender's authenticated identity (MultiConn.RemoteID),
// or the zero ID for a Message not made by a MultiConn. It is a method,
// not a field, to keep the 32 bytes out of every message received.
func (m *Message) From() crypto.ID {
	if m.c == nil {
		return crypto.ID{}
	}
	return m.c.remote
}

// ReceivedAt returns when the reader took the message's last bytes from
// the transport, by the connection's clock (Config.Clock): one clock
// reading per transport read, shared by every message that read
// completed, so the times of one connection's messages never decrease.
// It is the zero time for a Message not made by a MultiConn.
func (m *Message) ReceivedAt() time.Time {
	if m.c == nil {
		return time.Time{}
	}
	return m.c.base.Add(time.Duration(m.at))
}

// Done tells the sender's MultiConn that the application has consumed m,
// so its credit can be granted back to the peer. Call it once the message
// has left the application's inbox (it need not be processed yet). Only the
// first call has an effect; it is safe for concurrent use and a no-op on a
// Message not made by a MultiConn or whose connection has closed.
func (m *Message) Done() {
	if m.t == nil || !m.done.CompareAndSwap(false, true) {
		return
	}
	m.c.consumed(m.t, int64(m.cost))
}

// Release is Done for an application that has also finished with m.Data
// (decoded it, copied it, written it out): it gives the buffer back, to be
// reused for a later message of 64 KiB or more from any connection, and
// sets m.Data to nil. The application must not use m.Data, or any slice of
// it, after calling Release. Only buffers of 64 KiB to 64 MiB that the
// MultiConn allocated are kept (Data replaced by the application is not).
// Receiving large messages into reused buffers
// spares an allocation, its zeroing and the garbage collections they
// cause: 1 MiB messages stream ~1.4× as fast (docs/BENCHMARKS.md, issue 13).
// A second call does nothing (m.Data is nil by then), and so does a call
// on a Message not made by a MultiConn. Unlike Done, Release is not safe
// for concurrent use, with itself or with readers of m.Data.
func (m *Message) Release() {
	if m.t == nil {
		return
	}
	m.Done()
	putMsgBuf(m.full)
	m.Data, m.full = nil, nil
}

// consumed grants cost bytes of credit back on t, asking the writer for a
// window update once the pending credit reaches the topic's threshold.
func (c *MultiConn) consumed(t *topic, cost int64) {
	t.held.Add(-1)
	p := t.pending.Add(cost)
	if p >= t.threshold && p-cost < t.threshold || t.threshold <= 0 {
		c.w.Lock()
		if c.w.state != stateFinal {
			c.w.windowDue = true
			c.kickLocked()
		}
		c.w.Unlock()
	}
}

// grantCredit applies one window update entry from the peer: inc more
// bytes of credit on a topic we send on. Credit beyond the window the peer
// announced is a violation.
func (c *MultiConn) grantCredit(id uint8, inc uint32) error {
	if !c.peer.has(id) {
		return violation(ViolationMalformedControl, id, "window update for a topic the peer did not declare")
	}
	t := c.topicByID(id)
	if t == nil || !t.sendable {
		return nil // the peer serves a topic we do not: nothing to send on it
	}
	c.w.Lock()
	defer c.w.Unlock()
	if t.credit+int64(inc) > t.window {
		return violation(ViolationWindowOverflow, id, "credit %d + %d exceeds the window %d", t.credit, inc, t.window)
	}
	t.credit += int64(inc)
	if t.stalled {
		// Credit came back: the stall clock restarts, even if it is not
		// yet enough for the next message.
		t.stallAt = time.Duration(c.offset(c.clock.Now()))
		c.kickLocked()
	}
	return nil
}
