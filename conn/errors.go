package conn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// Sentinel errors of the secure channel. Typed errors below match them with errors.Is.
var (
	// ErrAuthFailed: a frame or the peer's identity proof failed authentication.
	ErrAuthFailed = errors.New("conn: authentication failed")
	// ErrHandshakeTimeout: the handshake did not finish before its deadline.
	ErrHandshakeTimeout = errors.New("conn: handshake timed out")
	// ErrUnexpectedPeer: the dialer expected a different identity.
	ErrUnexpectedPeer = errors.New("conn: unexpected peer identity")
	// ErrSelfConnection: the peer has our own identity (a self-dial or an echo).
	ErrSelfConnection = errors.New("conn: connected to self")
	// ErrReflection: the peer sent back our own ephemeral key.
	ErrReflection = errors.New("conn: peer reflected our hello")
	// ErrIncompatible: the peer is of another network or chain, speaks no
	// protocol version we speak, or requires a feature we do not (or we one
	// it does not).
	ErrIncompatible = errors.New("conn: incompatible peer")
	// ErrNotPeerwire: the peer's first bytes are not a peerwire hello.
	ErrNotPeerwire = errors.New("conn: peer did not send a peerwire hello")
	// ErrBadKey: the peer's ephemeral key is of low order or otherwise unusable.
	ErrBadKey = errors.New("conn: unusable ephemeral key")
	// ErrProtocol: the peer broke the frame protocol (bad length, unknown type…).
	ErrProtocol = errors.New("conn: protocol violation")
	// ErrTruncated: the stream ended without close-notify, so data may be
	// missing. It wraps io.ErrUnexpectedEOF.
	ErrTruncated = fmt.Errorf("conn: stream truncated without close-notify: %w", io.ErrUnexpectedEOF)
	// ErrNonceExhausted: a key reached its hard frame limit; the connection ended.
	ErrNonceExhausted = crypto.ErrNonceExhausted
	// ErrClosed is returned by operations on a closed EncryptedConn.
	ErrClosed = fmt.Errorf("conn: use of closed connection: %w", net.ErrClosed)
)

// HandshakeTimeoutError reports a handshake that exceeded its deadline.
// errors.Is(err, ErrHandshakeTimeout) holds; it also reports Timeout() true.
type HandshakeTimeoutError struct {
	After time.Duration // the configured handshake timeout
	Stage string        // what the handshake was doing: "hello", "auth"
}

func (e *HandshakeTimeoutError) Error() string {
	return fmt.Sprintf("conn: handshake timed out after %v waiting for %s", e.After, e.Stage)
}

// Is reports whether target is ErrHandshakeTimeout.
func (e *HandshakeTimeoutError) Is(target error) bool { return target == ErrHandshakeTimeout }

// Timeout reports true, as net.Error timeouts do.
func (e *HandshakeTimeoutError) Timeout() bool { return true }

// UnexpectedPeerError reports that the dialer reached a different identity than it asked for.
type UnexpectedPeerError struct {
	Expected, Got crypto.ID
}

func (e *UnexpectedPeerError) Error() string {
	return fmt.Sprintf("conn: expected peer %s, got %s", e.Expected, e.Got)
}

// Is reports whether target is ErrUnexpectedPeer.
func (e *UnexpectedPeerError) Is(target error) bool { return target == ErrUnexpectedPeer }

// IncompatibleError names what the peer and we cannot agree on. Field is
// "network_id" or "chain_id" (Local and Remote are the two values),
// "protocol_version" (no version both speak; Local and Remote are the
// ranges spoken, "1" or "1-3"), or "feature" (Feature is the feature's ID,
// docs/PROTOCOL.md §8.7; of Local and Remote one is "required", the side
// that requires it, and the other "not spoken"). The multiplexer returns it
// for features; both sides of a refused connection report the same one.
type IncompatibleError struct {
	Field         string
	Local, Remote string
	Feature       uint16
}

func (e *IncompatibleError) Error() string {
	switch e.Field {
	case "protocol_version":
		return fmt.Sprintf("conn: incompatible peer: no common protocol version: the peer speaks %s, we speak %s", e.Remote, e.Local)
	case "feature":
		return fmt.Sprintf("conn: incompatible peer: feature 0x%04x is %s by the peer and %s by us", e.Feature, e.Remote, e.Local)
	}
	return fmt.Sprintf("conn: incompatible peer: %s is %q, ours is %q", e.Field, e.Remote, e.Local)
}

// Is reports whether target is ErrIncompatible.
func (e *IncompatibleError) Is(target error) bool { return target == ErrIncompatible }

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

func authErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrAuthFailed}, args...)...)
}
