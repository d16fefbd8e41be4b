package mux

import (
	"encoding/binary"
	"fmt"
)

// Packets are the unit of the MultiConn wire format (docs/PROTOCOL.md §8):
//
//	data packet     topic(1..255) flags  length:u16  [total:u32 if flags&first]  payload[length]
//	control packet  0             type   length:u16  body[length]
//
// Integers are big-endian. A message is sent as one first packet, which
// states the message's total length, followed by continuation packets until
// the payloads add up to the total. Packets of different topics interleave;
// within a topic, one message is sent at a time.

// flagFirst marks the first packet of a message; no other flag bit is defined.
const flagFirst = 0x01

// packetHeader is a decoded packet header.
type packetHeader struct {
	topic  uint8 // 0 for control
	kind   uint8 // flags of a data packet, type of a control packet
	length int   // payload (or control body) length in bytes
	total  int   // first packets: the message's total length in bytes
}

// first reports whether h starts a message.
func (h *packetHeader) first() bool { return h.topic != 0 && h.kind&flagFirst != 0 }

// headerLen returns the length of a header that starts with topic and kind.
func headerLen(topic, kind byte) int {
	if topic != 0 && kind&flagFirst != 0 {
		return firstHeaderLen
	}
	return packetHeaderLen
}

// parsePacketHeader decodes the header at the start of b, which must hold
// at least headerLen(b[0], b[1]) bytes. It checks what the header alone can
// tell: defined flag bits, a first packet's payload not longer than its
// message and not empty unless the message is, a continuation not empty.
// Limits that depend on configuration are the caller's. It does not allocate.
func parsePacketHeader(b []byte) (packetHeader, error) {
	h := packetHeader{topic: b[0], kind: b[1], length: int(binary.BigEndian.Uint16(b[2:4]))}
	if h.topic == 0 {
		return h, nil
	}
	if h.kind&^flagFirst != 0 {
		return h, violation(ViolationMalformedPacket, h.topic, "undefined flags 0x%02x", h.kind)
	}
	if h.kind&flagFirst == 0 {
		if h.length == 0 {
			return h, violation(ViolationMalformedPacket, h.topic, "empty continuation packet")
		}
		return h, nil
	}
	h.total = int(binary.BigEndian.Uint32(b[4:8]))
	if h.length > h.total {
		return h, violation(ViolationMalformedPacket, h.topic, "first packet of %d bytes for a %d-byte message", h.length, h.total)
	}
	if h.length == 0 && h.total > 0 {
		return h, violation(ViolationMalformedPacket, h.topic, "empty first packet of a %d-byte message", h.total)
	}
	return h, nil
}

// appendFirstHeader appends the header of the first packet of a message of
// total bytes whose first payload is length bytes.
func appendFirstHeader(b []byte, topic uint8, length, total int) []byte {
	b = append(b, topic, flagFirst)
	b = binary.BigEndian.AppendUint16(b, uint16(length))
	return binary.BigEndian.AppendUint32(b, uint32(total))
}

// appendContHeader appends the header of a continuation packet.
func appendContHeader(b []byte, topic uint8, length int) []byte {
	b = append(b, topic, 0)
	return binary.BigEndian.AppendUint16(b, uint16(length))
}

// appendControlHeader appends the header of a control packet.
func appendControlHeader(b []byte, typ uint8, length int) []byte {
	b = append(b, 0, typ)
	return binary.BigEndian.AppendUint16(b, uint16(length))
}

// String formats h for test failures and debug logs.
func (h packetHeader) String() string {
	if h.topic == 0 {
		return fmt.Sprintf("control type %d length %d", h.kind, h.length)
	}
	if h.first() {
		return fmt.Sprintf("topic %d first length %d total %d", h.topic, h.length, h.total)
	}
	return fmt.Sprintf("topic %d length %d", h.topic, h.length)
}
