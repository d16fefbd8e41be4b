package mux

import (
	"errors"
	"fmt"

	"github.com/peerwire/peerwire/conn"
)

// Errors returned by MultiConn's send calls.
var (
	// ErrQueueFull is returned by TrySend when the topic's send queue is full.
	ErrQueueFull = errors.New("mux: send queue full")
	// ErrTopicNotConfigured is returned when sending on a topic that is not
	// in our Config.Topics.
	ErrTopicNotConfigured = errors.New("mux: topic not configured")
	// ErrTopicNotDeclared is returned at once when sending on a topic the
	// peer did not declare in its PeerMeta: it would refuse the message.
	ErrTopicNotDeclared = errors.New("mux: topic not declared by peer")
	// ErrMessageTooLarge is returned when a message exceeds the topic's
	// MaxMessageSize, ours or the peer's.
	ErrMessageTooLarge = errors.New("mux: message too large for topic")
	// ErrIdleTimeout is the cause of a connection whose peer sent nothing for
	// longer than Config.IdleTimeout, or did not read what we wrote for
	// as long.
	ErrIdleTimeout = errors.New("mux: peer timed out")
	// ErrCreditStall is the cause of a connection closed because the peer
	// returned no credit on a topic with queued messages, or acknowledged
	// none of our in-flight data, for longer than
	// Config.CreditStallTimeout. The goaway sent is "timeout".
	ErrCreditStall = errors.New("mux: peer returned no credit")
	// ErrClosed is wrapped by every send call on a closed or closing
	// MultiConn, together with the reason it closed. It wraps net.ErrClosed
	// through conn.ErrClosed.
	ErrClosed = fmt.Errorf("mux: MultiConn closed: %w", conn.ErrClosed)
)

// ViolationKind classifies a protocol violation by a peer.
type ViolationKind uint8

// Protocol violations. Each one closes the connection with goaway
// GoAwayProtocolViolation (GoAwayRateLimit for ViolationRateExcess) and is
// reported through Config.OnViolation.
const (
	// ViolationUnknownTopic: a packet for a topic we did not declare.
	ViolationUnknownTopic ViolationKind = iota + 1
	// ViolationMessageTooLarge: a first packet announcing a message longer
	// than the topic's MaxMessageSize.
	ViolationMessageTooLarge
	// ViolationPacketTooLarge: a packet payload longer than the maximum we
	// announced in SETTINGS.
	ViolationPacketTooLarge
	// ViolationCreditExceeded: data beyond the credit we granted.
	ViolationCreditExceeded
	// ViolationMalformedPacket: a bad packet header or packet sequence.
	ViolationMalformedPacket
	// ViolationMalformedControl: a bad or unexpected control message.
	ViolationMalformedControl
	// ViolationWindowOverflow: a window update beyond the announced window.
	ViolationWindowOverflow
	// ViolationPingFlood: pings or pongs faster than the ping rate limit.
	ViolationPingFlood
	// ViolationRateExcess: persistent excess over an inbound rate limit.
	ViolationRateExcess
	// ViolationMalformedFrame: the secure channel beneath broke its frame
	// protocol (docs/PROTOCOL.md §4.2: an unknown frame type, a rekey or
	// close-notify frame with a body, a bad frame length). The
	// EncryptedConn has closed the socket, so no goaway can follow.
	ViolationMalformedFrame
)

var violationNames = [...]string{
	ViolationUnknownTopic:     "unknown topic",
	ViolationMessageTooLarge:  "message too large",
	ViolationPacketTooLarge:   "packet too large",
	ViolationCreditExceeded:   "credit exceeded",
	ViolationMalformedPacket:  "malformed packet",
	ViolationMalformedControl: "malformed control message",
	ViolationWindowOverflow:   "window overflow",
	ViolationPingFlood:        "ping flood",
	ViolationRateExcess:       "rate limit exceeded",
	ViolationMalformedFrame:   "malformed frame",
}

// String returns the kind's name.
func (k ViolationKind) String() string {
	if int(k) < len(violationNames) && violationNames[k] != "" {
		return violationNames[k]
	}
	return fmt.Sprintf("violation %d", uint8(k))
}

// ViolationError is a protocol violation by the peer. It matches ErrProtocol
// with errors.Is.
type ViolationError struct {
	Kind   ViolationKind
	Topic  uint8  // the topic concerned; 0 for control or the whole connection
	Detail string // what exactly was wrong
}

func (e *ViolationError) Error() string {
	return "mux: protocol violation: " + e.text()
}

// text is the goaway text for e: kind, topic and detail.
func (e *ViolationError) text() string {
	s := e.Kind.String()
	if e.Topic != 0 {
		s += fmt.Sprintf(" (topic %d)", e.Topic)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is reports whether target is ErrProtocol.
func (e *ViolationError) Is(target error) bool { return target == conn.ErrProtocol }

func violation(kind ViolationKind, topic uint8, format string, args ...any) *ViolationError {
	return &ViolationError{Kind: kind, Topic: topic, Detail: fmt.Sprintf(format, args...)}
}
