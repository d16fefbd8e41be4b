package mux

import (
	"encoding/binary"
)

// appendAck appends an ACK control packet acknowledging n data bytes.
func appendAck(b []byte, n uint64) []byte {
	b = appendControlHeader(b, ctrlAck, ackLen)
	return binary.BigEndian.AppendUint64(b, n)
}

// parseAck decodes an ACK body.
func parseAck(body []byte) (uint64, error) {
	if len(body) != ackLen {
		return 0, violation(ViolationMalformedControl, 0, "ack body of %d bytes", len(body))
	}
	return binary.BigEndian.Uint64(body), nil
}
