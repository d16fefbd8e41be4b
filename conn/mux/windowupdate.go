package mux

import (
	"encoding/binary"
)

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
