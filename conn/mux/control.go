package mux

import (
	"encoding/binary"
	"slices"
)

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

// Control body sizes in bytes.
const (
	// settingsFixedLen: version u8, max packet payload u16, inbound byte rate u32.
	settingsFixedLen = 1 + 2 + 4
	// settingsEntryLen: topic u8, max message size u32, receive window u32.
	settingsEntryLen = 1 + 4 + 4
	// nonceLen: ping and pong bodies.
	nonceLen = 8
	// windowEntryLen: topic u8, increment u32.
	windowEntryLen = 1 + 4
	// ackLen: cumulative data bytes read, u64.
	ackLen = 8
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

// settings is the body of a SETTINGS message: what its sender accepts.
type settings struct {
	maxPacket int    // longest data packet payload accepted
	recvRate  uint32 // inbound bytes/s the sender accepts; 0 = unlimited
	topics    []topicSettings
}

// topicSettings is the SETTINGS entry of one declared topic.
type topicSettings struct {
	id         uint8
	maxMessage int // longest message accepted
	window     int // initial (and maximal) credit granted
}

// appendSettings appends a SETTINGS control packet.
func appendSettings(b []byte, s *settings) []byte {
	b = appendControlHeader(b, ctrlSettings, settingsFixedLen+settingsEntryLen*len(s.topics))
	b = append(b, settingsVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(s.maxPacket))
	b = binary.BigEndian.AppendUint32(b, s.recvRate)
	for _, t := range s.topics {
		b = append(b, t.id)
		b = binary.BigEndian.AppendUint32(b, uint32(t.maxMessage))
		b = binary.BigEndian.AppendUint32(b, uint32(t.window))
	}
	return b
}

// parseSettings decodes and checks a SETTINGS body.
func parseSettings(body []byte) (settings, error) {
	var s settings
	if len(body) < settingsFixedLen || len(body) > maxControlBody || (len(body)-settingsFixedLen)%settingsEntryLen != 0 {
		return s, violation(ViolationMalformedControl, 0, "settings body of %d bytes", len(body))
	}
	if body[0] != settingsVersion {
		return s, violation(ViolationMalformedControl, 0, "settings version %d, want %d", body[0], settingsVersion)
	}
	s.maxPacket = int(binary.BigEndian.Uint16(body[1:3]))
	if s.maxPacket < MinPacketPayload || s.maxPacket > MaxPacketPayloadLimit {
		return s, violation(ViolationMalformedControl, 0, "settings max packet payload %d outside %d-%d", s.maxPacket, MinPacketPayload, MaxPacketPayloadLimit)
	}
	s.recvRate = binary.BigEndian.Uint32(body[3:7])
	n := (len(body) - settingsFixedLen) / settingsEntryLen
	s.topics = make([]topicSettings, n)
	for i := range n {
		e := body[settingsFixedLen+i*settingsEntryLen:]
		t := topicSettings{
			id:         e[0],
			maxMessage: int(binary.BigEndian.Uint32(e[1:5])),
			window:     int(binary.BigEndian.Uint32(e[5:9])),
		}
		switch {
		case t.id == 0 || (i > 0 && s.topics[i-1].id >= t.id):
			return s, violation(ViolationMalformedControl, 0, "settings topics not strictly ascending at %d", t.id)
		case t.maxMessage < 1 || t.maxMessage > MaxMessageSizeLimit:
			return s, violation(ViolationMalformedControl, t.id, "settings max message size %d outside 1-%d", t.maxMessage, MaxMessageSizeLimit)
		case t.window < t.maxMessage+MessageCreditOverhead || t.window > MaxRecvWindow:
			return s, violation(ViolationMalformedControl, t.id, "settings window %d outside %d-%d", t.window, t.maxMessage+MessageCreditOverhead, MaxRecvWindow)
		}
		s.topics[i] = t
	}
	return s, nil
}

// appendNonceMsg appends a PING or PONG control packet.
func appendNonceMsg(b []byte, typ uint8, nonce uint64) []byte {
	b = appendControlHeader(b, typ, nonceLen)
	return binary.BigEndian.AppendUint64(b, nonce)
}

// parseNonce decodes a PING or PONG body.
func parseNonce(body []byte) (uint64, error) {
	if len(body) != nonceLen {
		return 0, violation(ViolationMalformedControl, 0, "ping/pong body of %d bytes", len(body))
	}
	return binary.BigEndian.Uint64(body), nil
}

// WINDOW_UPDATE is encoded in place, as the writer walks its topics:
// startWindowUpdate, one appendWindowEntry per topic granted, then
// endWindowUpdate. The writer (MultiConn.appendWindowUpdates) and the
// fuzz target use exactly these.

// startWindowUpdate appends the header of a WINDOW_UPDATE control packet
// whose entries follow; endWindowUpdate fills in its length.
func startWindowUpdate(b []byte) []byte { return appendControlHeader(b, ctrlWindowUpdate, 0) }

// appendWindowEntry appends one WINDOW_UPDATE entry: inc more bytes of
// credit on topic.
func appendWindowEntry(b []byte, topic uint8, inc uint32) []byte {
	b = append(b, topic)
	return binary.BigEndian.AppendUint32(b, inc)
}

// endWindowUpdate completes the WINDOW_UPDATE started at b[start:] (by
// startWindowUpdate, then 1 to 255 entries), or removes it if it has no
// entries.
func endWindowUpdate(b []byte, start int) []byte {
	n := len(b) - start - packetHeaderLen
	if n == 0 {
		return b[:start]
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	return b
}

// parseWindowUpdates decodes a WINDOW_UPDATE body and calls fn for each
// entry in order, stopping at fn's first error. It does not allocate.
func parseWindowUpdates(body []byte, fn func(topic uint8, inc uint32) error) error {
	if len(body) == 0 || len(body) > 255*windowEntryLen || len(body)%windowEntryLen != 0 {
		return violation(ViolationMalformedControl, 0, "window update body of %d bytes", len(body))
	}
	for e := body; len(e) > 0; e = e[windowEntryLen:] {
		topic, inc := e[0], binary.BigEndian.Uint32(e[1:5])
		if topic == 0 || inc == 0 {
			return violation(ViolationMalformedControl, topic, "window update of %d on topic %d", inc, topic)
		}
		if err := fn(topic, inc); err != nil {
			return err
		}
	}
	return nil
}

// appendGoAwayMsg appends a GOAWAY control packet; text is cut to
// maxGoAwayText bytes of valid UTF-8.
func appendGoAwayMsg(b []byte, code GoAwayCode, text string) []byte {
	text = cutText(text)
	b = appendControlHeader(b, ctrlGoAway, 1+len(text))
	b = append(b, byte(code))
	return append(b, text...)
}

// parseGoAway decodes a GOAWAY body. Text from the peer is made valid UTF-8.
func parseGoAway(body []byte) (GoAwayCode, string, error) {
	if len(body) < 1 || len(body) > 1+maxGoAwayText {
		return 0, "", violation(ViolationMalformedControl, 0, "goaway body of %d bytes", len(body))
	}
	if body[0] == 0 {
		return 0, "", violation(ViolationMalformedControl, 0, "goaway code 0")
	}
	return GoAwayCode(body[0]), cutText(string(body[1:])), nil
}

// declares reports whether the settings declare exactly the topic list ids.
func (s *settings) declares(ids []byte) bool {
	return slices.EqualFunc(s.topics, ids, func(t topicSettings, id byte) bool { return t.id == id })
}
