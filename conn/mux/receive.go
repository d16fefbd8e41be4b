package mux

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/peerwire/peerwire/conn"
)

// The receive path. One reader goroutine per connection reads packets from
// the transport: headers through a small fixed buffer, payloads through a
// pooled one or straight into the message being reassembled, so an idle
// connection holds no big buffer. A message passes through these functions,
// in this order:
//
//	Transport.Read              conn.EncryptedConn.Read: frames opened
//	readLoop                    (this file) the reader goroutine
//	  readPackets               packetReader.need/peek/skip, parsePacketHeader (packet.go)
//	  readData                  a data packet:
//	    topic checks            ours, packet and message size, credit (flow.go)
//	    checkInboundRate        ratelimit.go, per topic; checkRecvRate per connection
//	    reassembly.start/read   reassembly.go: the message's bytes
//	    dataRead                inflight.go: an ACK is due every ackEvery bytes
//	    Config.OnMessage        the complete *Message, to the application
//	  Message.Done              flow.go: credit goes back (consumed), and the
//	                            writer sends a WINDOW_UPDATE (send.go)
//	  readControl               a control message, decoded by its file:
//	                            ping.go, windowupdate.go (grantCredit),
//	                            ack.go (ackReceived), goaway.go (parseGoAway)
//	readFailed                  the end: a violation becomes a goaway (goaway.go)

// packetReader reads packets from the transport. While idle it blocks on a
// small fixed buffer; while data moves it reads through a pooled buffer.
// It is used by one goroutine at a time.
type packetReader struct {
	c     *MultiConn
	small [smallReadLen]byte
	big   *[]byte // pooled; nil while idle
	buf   []byte  // small[:] or *big
	r, w  int     // unread bytes are buf[r:w]
	at    int64   // offset (ns) of the last read's clock reading (Message.ReceivedAt)
}

func (pr *packetReader) init(c *MultiConn) {
	pr.c = c
	pr.buf = pr.small[:]
}

// read reads from the transport, noting that the peer is alive.
func (pr *packetReader) read(p []byte) (int, error) {
	n, err := pr.c.t.Read(p)
	if n > 0 {
		pr.at = pr.c.offset(pr.c.clock.Now())
		pr.c.lastRecv.Store(pr.at)
		pr.c.st.bytesRecv.Add(uint64(n))
	}
	return n, err
}

// need makes at least n bytes (n ≤ bufLen) readable at buf[r:].
func (pr *packetReader) need(n int) error {
	for pr.w-pr.r < n {
		if pr.r == pr.w {
			pr.r, pr.w = 0, 0
			if n <= smallReadLen {
				pr.release()
			}
		}
		switch {
		case len(pr.buf) < n:
			big := pr.big
			if big == nil {
				big = bufPool.Get().(*[]byte)
			}
			pr.w = copy(*big, pr.buf[pr.r:pr.w])
			pr.r = 0
			pr.big, pr.buf = big, *big
		case len(pr.buf)-pr.r < n:
			pr.w = copy(pr.buf, pr.buf[pr.r:pr.w])
			pr.r = 0
		}
		m, err := pr.read(pr.buf[pr.w:])
		pr.w += m
		if err != nil && pr.w-pr.r < n {
			return err
		}
	}
	return nil
}

// peek returns the next n readable bytes, which need made available.
func (pr *packetReader) peek(n int) []byte { return pr.buf[pr.r : pr.r+n] }

// skip consumes n readable bytes.
func (pr *packetReader) skip(n int) { pr.r += n }

// readFull fills dst: from the buffer, then straight from the transport
// for long remainders.
func (pr *packetReader) readFull(dst []byte) error {
	n := copy(dst, pr.buf[pr.r:pr.w])
	pr.r += n
	dst = dst[n:]
	if len(dst) == 0 {
		return nil
	}
	if len(dst) >= directReadMin {
		for len(dst) > 0 {
			m, err := pr.read(dst)
			dst = dst[m:]
			if err != nil && len(dst) > 0 {
				return err
			}
		}
		return nil
	}
	if err := pr.need(len(dst)); err != nil {
		return err
	}
	pr.r += copy(dst, pr.buf[pr.r:pr.w])
	return nil
}

// release gives the pooled buffer back; only when nothing is buffered.
func (pr *packetReader) release() {
	if pr.big != nil {
		bufPool.Put(pr.big)
		pr.big = nil
	}
	pr.buf, pr.r, pr.w = pr.small[:], 0, 0
}

// readLoop is the reader goroutine: it reads packets until the transport
// fails or the peer breaks the protocol.
func (c *MultiConn) readLoop() {
	err := c.readPackets()
	c.rd.release()
	c.readFailed(err)
	for _, t := range c.topics {
		t.rx.reset()
	}
	close(c.readerDone)
	c.exited()
}

// readFailed ends the connection after the reader stopped with err.
func (c *MultiConn) readFailed(err error) {
	var v *ViolationError
	var ge *GoAwayError
	switch {
	case !errors.As(err, &v) && errors.Is(err, conn.ErrProtocol):
		// The transport's frame layer refused an authentic frame and has
		// closed the socket: a violation, but no goaway can go out.
		v = violation(ViolationMalformedFrame, 0, "%s", strings.TrimPrefix(err.Error(), conn.ErrProtocol.Error()+": "))
		c.st.violations.Add(1)
		c.p.log.Info("mux: peer broke the frame protocol", "peer", c.remote.String(), "violation", v)
		if c.p.onViolation != nil {
			c.p.onViolation(c, v)
		}
		c.fail(v, nil, 0)
	case errors.As(err, &v):
		code := GoAwayProtocolViolation
		if v.Kind == ViolationRateExcess {
			code = GoAwayRateLimit
		}
		c.st.violations.Add(1)
		c.p.log.Info("mux: peer broke the protocol", "peer", c.remote.String(), "violation", v)
		if c.p.onViolation != nil {
			c.p.onViolation(c, v)
		}
		g := &GoAwayError{Code: code, Text: cutText(v.text()), Err: v}
		c.fail(g, g, 0)
	case errors.As(err, &ge):
		c.fail(ge, nil, 0)
	case errors.Is(err, io.EOF):
		c.fail(fmt.Errorf("mux: peer closed the connection without goaway: %w", err), nil, 0)
	default:
		c.fail(fmt.Errorf("mux: read: %w", err), nil, 0)
	}
}

// readPackets reads and handles packets until an error.
func (c *MultiConn) readPackets() error {
	pr := &c.rd
	for {
		if err := pr.need(packetHeaderLen); err != nil {
			return err
		}
		b := pr.peek(packetHeaderLen)
		if hl := headerLen(b[0], b[1]); hl > packetHeaderLen {
			if err := pr.need(hl); err != nil {
				return err
			}
			b = pr.peek(hl)
		}
		h, err := parsePacketHeader(b)
		if err != nil {
			return err
		}
		pr.skip(headerLen(h.topic, h.kind))
		if h.topic == 0 {
			err = c.readControl(&h)
		} else {
			err = c.readData(&h)
		}
		if err != nil {
			return err
		}
	}
}

// readData handles one data packet whose header has been read.
func (c *MultiConn) readData(h *packetHeader) error {
	t := c.topicByID(h.topic)
	if t == nil {
		return violation(ViolationUnknownTopic, h.topic, "not declared by us")
	}
	if h.length > c.p.maxPacket {
		return violation(ViolationPacketTooLarge, h.topic, "%d-byte payload, limit %d", h.length, c.p.maxPacket)
	}
	if h.first() {
		if t.inMsg {
			return violation(ViolationMalformedPacket, h.topic, "new message before the previous one is complete")
		}
		if h.total > t.cfg.MaxMessageSize {
			return violation(ViolationMessageTooLarge, h.topic, "%d-byte message, limit %d", h.total, t.cfg.MaxMessageSize)
		}
		cost := int64(h.total) + MessageCreditOverhead
		if avail := t.avail.Load(); cost > avail {
			return violation(ViolationCreditExceeded, h.topic, "%d-byte message with %d bytes of credit", h.total, avail)
		}
		t.avail.Add(-cost)
		if err := c.checkInboundRate(t); err != nil {
			return err
		}
		t.rx.start(h.total, h.length, &c.rxBudget)
		t.inMsg = true
	} else if !t.inMsg {
		return violation(ViolationMalformedPacket, h.topic, "continuation without a first packet")
	} else if rest := t.rx.rest(); h.length > rest {
		return violation(ViolationMalformedPacket, h.topic, "packet runs %d bytes past the message end", h.length-rest)
	}
	if err := c.checkRecvRate(h.length + headerLen(h.topic, h.kind)); err != nil {
		return err
	}
	if err := t.rx.read(&c.rd, h.length, &c.rxBudget); err != nil {
		return err
	}
	c.dataRead(h.length + headerLen(h.topic, h.kind))
	if !t.rx.complete() {
		return nil
	}
	t.rx.finish(&c.rxBudget)
	data, full := t.rx.take()
	t.inMsg = false
	var m *Message
	if c.p.lend {
		m = &c.lent
		m.done.Store(false)
	} else {
		m = c.newMessage()
	}
	m.Topic, m.Data, m.full = t.id, data, full
	m.t, m.c, m.cost, m.at = t, c, int32(len(data)+MessageCreditOverhead), c.rd.at
	t.held.Add(1)
	t.st.msgsRecv.Add(1)
	t.st.bytesRecv.Add(uint64(len(data)))
	c.p.onMessage(m)
	if m == &c.lent {
		m.Done() // nothing if OnMessage kept it or was done with it
		m.Data, m.full, m.t = nil, nil, nil
	}
	return nil
}

// Keep returns a Message that stays valid after OnMessage returns: m
// itself, unless m is lent (Config.LendMessages), when it is a new one
// holding the same message, Done already if m was. Only OnMessage may
// keep a lent message, once, and m must not be used afterwards.
func (m *Message) Keep() *Message {
	if m.c == nil || m != &m.c.lent || m.t == nil {
		return m
	}
	k := m.c.newMessage()
	k.Topic, k.Data, k.full, k.t, k.c, k.cost, k.at = m.Topic, m.Data, m.full, m.t, m.c, m.cost, m.at
	if m.done.Load() {
		k.done.Store(true)
	}
	m.t = nil // the reader's Done after OnMessage does nothing
	return k
}

// Pooled reports whether m.Data is a buffer the MultiConn reuses once m
// is released (Release: messages of 64 KiB or more), which a lent
// message not kept does not give back.
func (m *Message) Pooled() bool { return m.full != nil }

// newMessage returns a new, zero Message for the reader to fill: from
// Config.NewMessage when set.
func (c *MultiConn) newMessage() *Message {
	if c.p.newMessage != nil {
		return c.p.newMessage()
	}
	return new(Message)
}

// readControl handles one control packet whose header has been read.
func (c *MultiConn) readControl(h *packetHeader) error {
	lo, hi, ok := controlBodyBounds(h.kind)
	if !ok {
		return c.skipUnknownControl(h)
	}
	if h.length < lo || h.length > hi {
		return violation(ViolationMalformedControl, 0, "control type %d with a %d-byte body", h.kind, h.length)
	}
	if err := c.rd.need(h.length); err != nil {
		return err
	}
	body := c.rd.peek(h.length)
	c.rd.skip(h.length)
	switch h.kind {
	case ctrlSettings:
		return violation(ViolationMalformedControl, 0, "second SETTINGS")
	case ctrlPing, ctrlPong:
		nonce, err := parseNonce(body)
		if err != nil {
			return err
		}
		now := c.clock.Now()
		// Pings, and pongs that answer no ping of ours, are rate-limited.
		if (h.kind == ctrlPing || !c.pongReceived(nonce, now)) && !c.pingLim.AllowN(now, 1) {
			return violation(ViolationPingFlood, 0, "pings or unsolicited pongs beyond %d at once or %v per second", c.p.pingBurst, c.p.pingRate)
		}
		if h.kind == ctrlPing {
			c.st.pingsRecv.Add(1)
			c.queuePong(nonce)
		}
		return nil
	case ctrlWindowUpdate:
		return parseWindowUpdates(body, c.grantCredit)
	case ctrlAck:
		n, err := parseAck(body)
		if err != nil {
			return err
		}
		return c.ackReceived(n)
	case ctrlGoAway:
		code, text, err := parseGoAway(body)
		if err != nil {
			return err
		}
		return &GoAwayError{Code: code, Text: text, Remote: true}
	}
	return nil
}
