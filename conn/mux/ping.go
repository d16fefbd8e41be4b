package mux

import (
	"encoding/binary"
)

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
