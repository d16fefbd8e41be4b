package mux

import "golang.org/x/time/rate"

// Control message types: the second header byte of a packet on topic 0.
const (
	// ctrlSettings is each side's first packet: its receive limits.
	ctrlSettings uint8 = 1
	// ctrlPing asks for a pong with the same 8-byte nonce.
	ctrlPing uint8 = 2
	// ctrlPong answers the most recent ping.
	ctrlPong uint8 = 3
	// ctrlWindowUpdate grants credit on one or more topics.
	ctrlWindowUpdate uint8 = 4
	// ctrlGoAway is the last packet its sender sends: code and text.
	ctrlGoAway uint8 = 5
	// ctrlAck acknowledges the data-packet bytes read so far.
	ctrlAck uint8 = 6
)

// ctrlIgnorable marks a control type that a receiver which does not know
// it skips (docs/PROTOCOL.md §8.3): new control messages that are safe to
// drop get a type 0x80-0xff, so they can be sent to peers of any version.
// Unknown types without it (0x01-0x7f) are violations: such a message is
// sent only to a peer that advertised the feature defining it.
const ctrlIgnorable uint8 = 0x80

// Control body sizes in bytes.
const (
	// settingsFixedLen: format u8, max packet payload u16, inbound byte rate u32.
	settingsFixedLen = 1 + 2 + 4
	// settingsEntryLen: topic u8, max message size u32, receive window u32.
	settingsEntryLen = 1 + 4 + 4
	// nonceLen: ping and pong bodies.
	nonceLen = 8
	// windowEntryLen: topic u8, increment u32.
	windowEntryLen = 1 + 4
	// ackLen: cumulative data bytes read, u64.
	ackLen = 8
	// featureEntryLen: feature ID u16, flags u8, value length u8 (the value follows).
	featureEntryLen = 2 + 1 + 1
)

// controlBodyBounds returns the shortest and longest valid body of control
// type typ, and false for an unknown type. The reader checks them before
// reading the body.
func controlBodyBounds(typ uint8) (lo, hi int, ok bool) {
	switch typ {
	case ctrlSettings:
		return settingsFixedLen, maxControlBody, true
	case ctrlPing, ctrlPong:
		return nonceLen, nonceLen, true
	case ctrlWindowUpdate:
		return windowEntryLen, 255 * windowEntryLen, true
	case ctrlGoAway:
		return 1, 1 + maxGoAwayText, true
	case ctrlAck:
		return ackLen, ackLen, true
	}
	return 0, 0, false
}

// WINDOW_UPDATE is encoded in place, as the writer walks its topics:
// startWindowUpdate, one appendWindowEntry per topic granted, then
// endWindowUpdate. The writer (MultiConn.appendWindowUpdates) and the
// fuzz target use exactly these.

// skipUnknownControl handles a control packet of a type controlBodyBounds
// does not know, whose header has been read: a type marked ctrlIgnorable
// is skipped, body unread, if its body is at most maxIgnoredControlBody
// bytes; any other is a violation. Skipped messages are limited like pings
// (PingRate, PingBurst) and counted; more is an inbound rate excess.
func (c *MultiConn) skipUnknownControl(h *packetHeader) error {
	if h.kind&ctrlIgnorable == 0 {
		return violation(ViolationMalformedControl, 0, "unknown control type %d", h.kind)
	}
	if h.length > maxIgnoredControlBody {
		return violation(ViolationMalformedControl, 0, "ignorable control type %d with a %d-byte body, at most %d", h.kind, h.length, maxIgnoredControlBody)
	}
	if err := c.rd.need(h.length); err != nil {
		return err
	}
	c.rd.skip(h.length)
	c.st.controlIgnored.Add(1)
	if c.ignoreLim == nil {
		c.ignoreLim = rate.NewLimiter(rate.Limit(c.p.pingRate), c.p.pingBurst)
	}
	if !c.ignoreLim.AllowN(c.clock.Now(), 1) {
		return c.excess(0)
	}
	return nil
}
