package mux

import (
	"context"
	"fmt"
	"time"

	"github.com/peerwire/peerwire/conn"
)

// The send path. One writer goroutine per connection builds batches of
// packets into one pooled buffer and hands each batch to the transport in
// one Write, which EncryptedConn turns into one frame and one syscall. A
// batch holds, in order: a goaway, a pong, an ACK, window updates, a ping,
// then data packets of the highest priority that has a packet ready,
// taking turns packet by packet among topics of that priority. Lower
// priorities go into the next batch, so an urgent message is never padded
// out with bulk data; a message of any size thus delays a higher-priority
// one by at most the packets of the batch being written.
//
// A message passes through these functions, in this order:
//
//	MultiConn.Send / TrySend    (this file) the caller's goroutine
//	  sendTopic                 our topic, declared by the peer, size limits
//	  enqueueLocked             onto the topic's msgQueue
//	  kickLocked                wake the writer
//	writeLoop                   (this file) the writer goroutine, one batch per turn
//	  fillLocked                control messages first:
//	    appendGoAwayMsg         goaway.go
//	    appendNonceMsg          ping.go (pong, ping)
//	    appendAck               ack.go
//	    appendWindowUpdates     windowupdate.go encoders, flow.go credit
//	  appendData                then data, by priority:
//	    nextReadyLocked         credit (flow.go), in-flight cap (inflight.go),
//	                            outbound rate (ratelimit.go, rateWaitLocked)
//	    appendPacket            header (packet.go), credit and in-flight charged
//	  Transport.Write           conn.EncryptedConn.WriteFrame (or Write): one
//	                            frame sealed in the writer's buffer, one syscall
//	finish                      after the goaway (goaway.go), the writer ends

// Send queues msg on topic, blocking while the topic's send queue is full
// (SendQueue messages, or msg would take it past SendQueueBytes), until ctx
// ends (returning ctx's error) or the connection closes. It returns at once
// an error matching ErrTopicNotConfigured, ErrTopicNotDeclared or
// ErrMessageTooLarge if msg can never be sent. Send does not copy msg: the
// caller must not modify it afterwards. A nil error means the message will
// be sent unless the connection ends first (counted in Stats.Unsent).
// Messages of one topic are sent in the order their Send calls returned.
func (c *MultiConn) Send(ctx context.Context, topic uint8, msg []byte) error {
	m := outMsg{data: msg}
	return c.send(ctx, topic, &m)
}

// SendPrefixed is Send of the message prefix followed by msg, without
// building it: prefix (at most MaxSendPrefix bytes, e.g. a kind byte or a
// request ID of the protocol above) is copied, msg is not. The size
// limits apply to their sum.
func (c *MultiConn) SendPrefixed(ctx context.Context, topic uint8, prefix, msg []byte) error {
	var m outMsg
	if err := m.setPrefixed(prefix, msg); err != nil {
		return err
	}
	return c.send(ctx, topic, &m)
}

// TrySendPrefixed is TrySend of prefix followed by msg, as SendPrefixed.
func (c *MultiConn) TrySendPrefixed(topic uint8, prefix, msg []byte) error {
	var m outMsg
	if err := m.setPrefixed(prefix, msg); err != nil {
		return err
	}
	return c.trySend(topic, &m)
}

// setPrefixed makes m the message prefix followed by msg. The send path
// passes an outMsg (56 bytes) by pointer down to the queue, where it is
// copied once: copied by value at each call, it cost a 256-byte Node.Send
// about 20 ns (issue 13).
func (m *outMsg) setPrefixed(prefix, msg []byte) error {
	if len(prefix) > MaxSendPrefix {
		return fmt.Errorf("mux: a %d-byte prefix, limit %d", len(prefix), MaxSendPrefix)
	}
	m.data, m.npre = msg, uint8(len(prefix))
	copy(m.pre[:], prefix)
	return nil
}

func (c *MultiConn) send(ctx context.Context, topic uint8, msg *outMsg) error {
	size := msg.size()
	t, err := c.sendTopic(topic, size)
	if err != nil {
		return err
	}
	c.w.Lock()
	for {
		if c.w.state != stateOpen {
			c.w.Unlock()
			return c.closedErr()
		}
		if t.hasRoom(size) {
			c.enqueueLocked(t, msg)
			c.w.Unlock()
			return nil
		}
		if t.space == nil {
			t.space = make(chan struct{})
		}
		space := t.space
		c.w.Unlock()
		select {
		case <-space:
		case <-c.closing:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.w.Lock()
	}
}

// TrySend queues msg on topic like Send but never blocks: it returns
// ErrQueueFull when the topic's send queue is full, in messages or bytes.
func (c *MultiConn) TrySend(topic uint8, msg []byte) error {
	m := outMsg{data: msg}
	return c.trySend(topic, &m)
}

func (c *MultiConn) trySend(topic uint8, msg *outMsg) error {
	size := msg.size()
	t, err := c.sendTopic(topic, size)
	if err != nil {
		return err
	}
	c.w.Lock()
	defer c.w.Unlock()
	if c.w.state != stateOpen {
		return c.closedErr()
	}
	if t.q.n >= t.cfg.SendQueue {
		return fmt.Errorf("%w: topic %d holds %d messages", ErrQueueFull, topic, t.q.n)
	}
	if !t.hasRoom(size) {
		return fmt.Errorf("%w: topic %d holds %d bytes, %d more exceed SendQueueBytes %d",
			ErrQueueFull, topic, t.qBytes, size, t.cfg.SendQueueBytes)
	}
	c.enqueueLocked(t, msg)
	return nil
}

// hasRoom reports whether t's send queue takes another n-byte message.
// The caller holds MultiConn.w.
func (t *topic) hasRoom(n int) bool {
	return t.q.n < t.cfg.SendQueue && t.qBytes+n <= t.cfg.SendQueueBytes
}

// waitsForCredit reports whether t's next message cannot start for lack of
// credit. The caller holds MultiConn.w.
func (t *topic) waitsForCredit() bool {
	return t.q.n > 0 && !t.started && t.credit < int64(t.q.front().size())+MessageCreditOverhead
}

// sendTopic returns the topic to send an n-byte message on, or why not.
func (c *MultiConn) sendTopic(id uint8, n int) (*topic, error) {
	t := c.topicByID(id)
	switch {
	case t == nil:
		return nil, fmt.Errorf("%w: %d", ErrTopicNotConfigured, id)
	case !t.sendable:
		return nil, fmt.Errorf("%w: %d (peer %s)", ErrTopicNotDeclared, id, c.remote.Short())
	case n > t.sendMax:
		return nil, fmt.Errorf("%w: %d bytes on topic %d, limit %d", ErrMessageTooLarge, n, id, t.sendMax)
	}
	return t, nil
}

func (c *MultiConn) enqueueLocked(t *topic, msg *outMsg) {
	t.q.push(msg)
	t.qBytes += msg.size()
	c.kickLocked()
}

// kickLocked wakes the writer if it is idle.
func (c *MultiConn) kickLocked() {
	if c.w.idle {
		c.w.idle = false
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// kick wakes the writer if it is idle.
func (c *MultiConn) kick() {
	c.w.Lock()
	c.kickLocked()
	c.w.Unlock()
}

// dropQueuesLocked empties every send queue, waking blocked senders, and
// returns how many messages were dropped.
func (c *MultiConn) dropQueuesLocked() int {
	n := 0
	for _, t := range c.topics {
		n += t.q.n
		t.q, t.qBytes = msgQueue{}, 0
		t.started, t.off = false, 0
	}
	return n
}

// writeLoop is the writer goroutine. Over a *conn.EncryptedConn it builds
// each batch at conn.FrameHeadroom in a frameBufPool buffer and has the
// connection seal it in place (WriteFrame), saving Write's copy. Only the
// concrete type qualifies: a wrapper that embeds an EncryptedConn and
// overrides Write must see every batch.
func (c *MultiConn) writeLoop() {
	fw, _ := c.t.(*conn.EncryptedConn)
	pool, base := &bufPool, 0
	if fw != nil {
		pool, base = &frameBufPool, conn.FrameHeadroom
	}
	var bp *[]byte
	defer func() {
		if bp != nil {
			pool.Put(bp)
		}
		c.exited()
	}()
	for {
		if bp == nil {
			bp = pool.Get().(*[]byte)
		}
		c.w.Lock()
		now := c.clock.Now()
		batch, final := c.fillLocked((*bp)[base:base], now)
		if len(batch) == 0 && !final {
			c.w.idle = true
			c.w.Unlock()
			pool.Put(bp)
			bp = nil
			<-c.wake
			continue
		}
		goaway := c.w.goawaySent
		linger := c.w.linger
		c.w.Unlock()
		if len(batch) > 0 {
			c.writeStart.Store(c.offset(now) + 1)
			var err error
			if fw != nil && &batch[0] == &(*bp)[base] {
				_, err = fw.WriteFrame((*bp)[:base+len(batch)])
			} else {
				_, err = c.t.Write(batch)
			}
			c.writeStart.Store(0)
			if err != nil {
				c.fail(fmt.Errorf("mux: write: %w", err), nil, 0)
				return
			}
			c.st.bytesSent.Add(uint64(len(batch)))
		}
		if final {
			c.finish(goaway, linger)
			return
		}
	}
}

// finish ends the writer's work: after a goaway, it half-closes the
// transport and gives the peer until linger to close its side, reading
// (and delivering) what still arrives; then it closes the transport.
func (c *MultiConn) finish(goaway bool, linger time.Duration) {
	if goaway && linger > 0 {
		if cw, ok := c.t.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		t := time.NewTimer(linger)
		select {
		case <-c.readerDone:
		case <-t.C:
		}
		t.Stop()
	}
	c.t.Close()
}

// fillLocked appends the next batch to b. final reports that the writer
// must stop after writing it.
func (c *MultiConn) fillLocked(b []byte, now time.Time) (batch []byte, final bool) {
	if c.w.state == stateFinal {
		if c.w.goaway != nil && !c.w.goawaySent {
			b = appendGoAwayMsg(b, c.w.goaway.Code, c.w.goaway.Text)
			c.w.goawaySent = true
		}
		return b, true
	}
	if c.w.pongDue {
		b = appendNonceMsg(b, ctrlPong, c.w.pongNonce)
		c.w.pongDue = false
	}
	if c.w.ackDue {
		c.w.ackDue = false
		b = appendAck(b, c.rxData.Load())
	}
	if c.w.windowDue {
		c.w.windowDue = false
		b = c.appendWindowUpdates(b)
	}
	if c.w.pingDue {
		c.w.pingDue = false
		c.w.pingNonce++
		b = appendNonceMsg(b, ctrlPing, c.w.pingNonce)
		c.pingSent(c.w.pingNonce, now)
	}
	sent := c.w.fl.sent
	b = c.appendData(b, now)
	if c.w.fl.sent != sent {
		c.w.fl.record(time.Duration(c.offset(now)))
		if int64(sent-c.w.fl.acked) < ackEvery && c.w.fl.used() >= ackEvery {
			c.w.ackWaitAt = time.Duration(c.offset(now)) // an ACK is due from now on
		}
	}
	if c.w.state == stateClosing && c.queuesEmptyLocked() {
		b = appendGoAwayMsg(b, c.w.goaway.Code, c.w.goaway.Text)
		c.w.goawaySent = true
		c.w.state = stateFinal
		return b, true
	}
	return b, false
}

// appendWindowUpdates appends one WINDOW_UPDATE granting back the credit
// consumed on every topic that reached its threshold.
func (c *MultiConn) appendWindowUpdates(b []byte) []byte {
	start := len(b)
	b = startWindowUpdate(b)
	for _, t := range c.topics {
		if p := t.pending.Load(); p > 0 && p >= t.threshold {
			inc := t.pending.Swap(0)
			t.avail.Add(inc)
			b = appendWindowEntry(b, t.id, uint32(inc))
		}
	}
	return endWindowUpdate(b, start)
}

func (c *MultiConn) queuesEmptyLocked() bool {
	for _, t := range c.topics {
		if t.q.n > 0 {
			return false
		}
	}
	return true
}

// appendData appends data packets: strict priority, round-robin within a
// priority, one priority per batch.
func (c *MultiConn) appendData(b []byte, now time.Time) []byte {
	if c.sendLim != nil && now.Before(c.w.rateUntil) {
		return b
	}
	for ci := range c.w.classes {
		cl := &c.w.classes[ci]
		off := time.Duration(c.offset(now))
		limit := c.w.fl.limit(ci, len(c.w.classes), off)
		sent := false
		for {
			if c.w.fl.used() >= limit {
				c.st.inFlightWaits.Add(1)
				return b // lower priorities have lower limits
			}
			t := c.nextReadyLocked(cl, now)
			if t == nil {
				break
			}
			nb, ok := c.appendPacket(b, t, now)
			if !ok {
				return b
			}
			b = nb
			sent = true
		}
		if sent {
			if ci < len(c.w.classes)-1 {
				c.w.fl.sentUrgent(off)
			}
			return b
		}
	}
	return b
}

// nextReadyLocked returns the class's next topic with a packet that may go
// now, advancing the turn, or nil. A topic found waiting for credit starts
// its credit-stall clock.
func (c *MultiConn) nextReadyLocked(cl *prioClass, now time.Time) *topic {
	for i := range cl.topics {
		j := (cl.next + i) % len(cl.topics)
		t := cl.topics[j]
		if t.q.n == 0 {
			continue
		}
		if t.waitsForCredit() {
			if !t.stalled {
				t.stalled = true
				t.stallAt = time.Duration(c.offset(now))
				t.st.creditStalls.Add(1)
			}
			continue
		}
		t.stalled = false
		cl.next = (j + 1) % len(cl.topics)
		return t
	}
	return nil
}

// appendPacket appends t's next packet if it fits in b and the rate limit
// allows it; ok is false when it does not (the batch is full or the writer
// must wait).
func (c *MultiConn) appendPacket(b []byte, t *topic, now time.Time) (_ []byte, ok bool) {
	msg := t.q.front()
	size := msg.size()
	hl := packetHeaderLen
	if !t.started {
		hl = firstHeaderLen
	}
	rest := size - t.off
	room := frameBudget - len(b) - hl
	n := min(rest, c.sendMax, room)
	if n < rest && n < minBatchRoom || n < 0 || (n == 0 && rest > 0) {
		return b, false
	}
	if c.sendLim != nil {
		r := c.sendLim.ReserveN(now, hl+n)
		if d := r.DelayFrom(now); d > 0 {
			r.CancelAt(now)
			c.rateWaitLocked(now, d)
			return b, false
		}
	}
	if !t.started {
		t.credit -= int64(size) + MessageCreditOverhead
		t.started = true
		b = appendFirstHeader(b, t.id, n, size)
	} else {
		b = appendContHeader(b, t.id, n)
	}
	b = msg.appendRange(b, t.off, n)
	t.off += n
	c.w.fl.sent += uint64(hl + n)
	if t.off == size {
		t.st.msgsSent.Add(1)
		t.st.bytesSent.Add(uint64(size))
		t.q.pop()
		t.qBytes -= size
		t.started, t.off = false, 0
		if t.space != nil {
			close(t.space)
			t.space = nil
		}
	}
	return b, true
}

// rateWaitLocked holds data back for d and arms a timer to wake the writer.
func (c *MultiConn) rateWaitLocked(now time.Time, d time.Duration) {
	c.w.rateUntil = now.Add(d)
	c.st.rateWaits.Add(1)
	c.st.rateWaitNanos.Add(uint64(d))
	if c.w.rateTimer == nil {
		c.w.rateTimer = c.clock.AfterFunc(d, c.kick)
	} else {
		c.w.rateTimer.Reset(d)
	}
}
