package conn

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/peerwire/peerwire/crypto"
)

// helloMagic opens every hello.
const helloMagic = "peerwire"

// hello is the fixed-size cleartext message each side sends first
// (docs/PROTOCOL.md §2). Its layout is the same in every protocol version:
// it is sent before either side knows the other's.
//
//	0..8   "peerwire"
//	8..10  highest protocol version spoken, big-endian
//	10..18 network tag (crypto.NetworkTag)
//	18..50 X25519 ephemeral public key
//	50..52 oldest protocol version spoken, big-endian; 0 (sent by
//	       implementations older than version negotiation) means the
//	       same as the highest
type hello struct {
	version    uint16
	networkTag [crypto.NetworkTagSize]byte
	ephemeral  [32]byte
	minVersion uint16 // as sent: 0 stays 0
}

// appendHello appends the wire form of h to dst.
func appendHello(dst []byte, h *hello) []byte {
	dst = append(dst, helloMagic...)
	dst = binary.BigEndian.AppendUint16(dst, h.version)
	dst = append(dst, h.networkTag[:]...)
	dst = append(dst, h.ephemeral[:]...)
	return binary.BigEndian.AppendUint16(dst, h.minVersion)
}

// parseHello decodes a hello. It checks the magic only; the caller judges
// versions and network tag so it can name what differs.
func parseHello(b []byte) (hello, error) {
	var h hello
	if len(b) != HelloSize {
		return h, fmt.Errorf("%w: hello is %d bytes, want %d", ErrNotPeerwire, len(b), HelloSize)
	}
	if string(b[:8]) != helloMagic {
		return h, fmt.Errorf("%w: first bytes %q", ErrNotPeerwire, b[:8])
	}
	h.version = binary.BigEndian.Uint16(b[8:10])
	copy(h.networkTag[:], b[10:18])
	copy(h.ephemeral[:], b[18:50])
	h.minVersion = binary.BigEndian.Uint16(b[50:52])
	return h, nil
}

// speaks returns the range of protocol versions h's sender speaks.
func (h *hello) speaks() (lo, hi uint16) {
	if h.minVersion == 0 {
		return h.version, h.version
	}
	return h.minVersion, h.version
}

// negotiateVersion returns the protocol version two sides use: the highest
// both speak. ok is false when their ranges do not overlap (an empty range,
// lo > hi, overlaps nothing). Both sides compute it from the same two
// hellos, so they agree without another message.
func negotiateVersion(ourLo, ourHi, peerLo, peerHi uint16) (v uint16, ok bool) {
	v = min(ourHi, peerHi)
	if v == 0 || v < max(ourLo, peerLo) {
		return 0, false
	}
	return v, true
}

// versionRange prints a range of versions: "1", or "1-3".
func versionRange(lo, hi uint16) string {
	if lo == hi {
		return strconv.Itoa(int(lo))
	}
	return strconv.Itoa(int(lo)) + "-" + strconv.Itoa(int(hi))
}
