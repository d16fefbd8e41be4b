package conn

import (
	"encoding/binary"
	"fmt"

	"github.com/peerwire/peerwire/crypto"
)

// helloMagic opens every hello.
const helloMagic = "peerwire"

// hello is the fixed-size cleartext message each side sends first
// (docs/PROTOCOL.md §2):
//
//	0..8   "peerwire"
//	8..10  protocol version, big-endian
//	10..18 network tag (crypto.NetworkTag)
//	18..50 X25519 ephemeral public key
//	50..52 reserved, sent as zero, ignored
type hello struct {
	version    uint16
	networkTag [crypto.NetworkTagSize]byte
	ephemeral  [32]byte
}

// appendHello appends the wire form of h to dst.
func appendHello(dst []byte, h *hello) []byte {
	dst = append(dst, helloMagic...)
	dst = binary.BigEndian.AppendUint16(dst, h.version)
	dst = append(dst, h.networkTag[:]...)
	dst = append(dst, h.ephemeral[:]...)
	return append(dst, 0, 0)
}

// parseHello decodes a hello. It checks the magic only; the caller judges
// version and network tag so it can name what differs.
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
	return h, nil
}
