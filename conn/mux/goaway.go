package mux

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// GoAwayCode says why a MultiConn was closed. It travels in the GOAWAY
// control message so the other side can log it and decide when to come back.
// Codes not listed here may arrive from newer peers; they print as numbers.
type GoAwayCode uint8

// Goaway codes. The numbers are part of the wire protocol.
const (
	// GoAwayShutdown: the node is stopping or the application closed the
	// connection normally.
	GoAwayShutdown GoAwayCode = 1
	// GoAwayTooManyPeers: the node has no room; try again later.
	GoAwayTooManyPeers GoAwayCode = 2
	// GoAwayBanned: the peer is banned; do not come back soon.
	GoAwayBanned GoAwayCode = 3
	// GoAwayProtocolViolation: the peer broke the MultiConn protocol.
	GoAwayProtocolViolation GoAwayCode = 4
	// GoAwayRateLimit: the peer persistently exceeded an inbound rate limit.
	GoAwayRateLimit GoAwayCode = 5
	// GoAwayTimeout: the peer was silent for longer than the idle timeout,
	// did not read what we wrote, or returned no credit on a topic with
	// queued messages for the credit-stall timeout.
	GoAwayTimeout GoAwayCode = 6
	// GoAwayDuplicate: another connection to the same peer was kept.
	GoAwayDuplicate GoAwayCode = 7
	// GoAwayTrimmed: the node is above its connection high watermark and
	// dropped this peer (lowest score first).
	GoAwayTrimmed GoAwayCode = 8
	// GoAwayIncompatible: the peer speaks no topic we need or an
	// unsupported version.
	GoAwayIncompatible GoAwayCode = 9
	// GoAwayInternal: a local error unrelated to the peer.
	GoAwayInternal GoAwayCode = 10
)

var goAwayNames = [...]string{
	GoAwayShutdown:          "shutdown",
	GoAwayTooManyPeers:      "too many peers",
	GoAwayBanned:            "banned",
	GoAwayProtocolViolation: "protocol violation",
	GoAwayRateLimit:         "rate limit",
	GoAwayTimeout:           "timeout",
	GoAwayDuplicate:         "duplicate connection",
	GoAwayTrimmed:           "trimmed",
	GoAwayIncompatible:      "incompatible",
	GoAwayInternal:          "internal error",
}

// String returns the code's name, or "code N" for codes this version does
// not know.
func (c GoAwayCode) String() string {
	if int(c) < len(goAwayNames) && goAwayNames[c] != "" {
		return goAwayNames[c]
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// GoAwayError is why a MultiConn ended with a goaway: either the peer sent
// one (Remote) or we did. MultiConn.Err returns it, and send calls on the
// closed connection wrap it, so errors.As(err, &ge) finds the code.
type GoAwayError struct {
	Code GoAwayCode
	// Text is the free-form explanation, at most 256 bytes; from a peer it
	// is made valid UTF-8 but otherwise untrusted.
	Text string
	// Remote is true when the peer sent the goaway.
	Remote bool
	// Err is the local cause (a *ViolationError, a timeout…), nil for a
	// remote goaway or a plain close.
	Err error
}

func (e *GoAwayError) Error() string {
	var b strings.Builder
	if e.Remote {
		b.WriteString("conn: goaway from peer: ")
	} else {
		b.WriteString("conn: goaway sent: ")
	}
	b.WriteString(e.Code.String())
	if e.Text != "" {
		b.WriteString(": ")
		b.WriteString(e.Text)
	}
	return b.String()
}

// Unwrap returns the local cause, if any.
func (e *GoAwayError) Unwrap() error { return e.Err }

// cutText makes s valid UTF-8 and cuts it, at a rune boundary, to at most
// maxGoAwayText bytes.
func cutText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxGoAwayText {
		n := maxGoAwayText
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}
