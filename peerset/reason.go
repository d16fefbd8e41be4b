package peerset

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/errs"
)

// Direction says who opened a connection. The zero value is invalid, so a
// PeerInfo with no direction set is refused rather than guessed.
type Direction uint8

const (
	// Inbound is a connection the remote peer dialed.
	Inbound Direction = iota + 1
	// Outbound is a connection this node dialed.
	Outbound
)

// String returns "inbound" or "outbound".
func (d Direction) String() string {
	switch d {
	case Inbound:
		return "inbound"
	case Outbound:
		return "outbound"
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// DisconnectReason says why the Set refused or dropped a peer. The Node maps
// it onto the goaway code it sends (ReasonTooManyPeers, ReasonAddressCap and
// ReasonNetworkGroup onto "too many peers"; ReasonBanned and
// ReasonLowReputation onto "banned"; and so on). The zero value means no
// reason.
type DisconnectReason uint8

const (
	// ReasonNone is the zero value: not refused.
	ReasonNone DisconnectReason = iota
	// ReasonShutdown: the Set was closed; the node is stopping.
	ReasonShutdown
	// ReasonTooManyPeers: no inbound (or outbound) slot is free.
	ReasonTooManyPeers
	// ReasonDuplicate: another connection to the same peer was kept.
	ReasonDuplicate
	// ReasonBanned: the peer is banned.
	ReasonBanned
	// ReasonSelf: the peer has this node's own ID.
	ReasonSelf
	// ReasonAddressCap: the Counter refused the peer's IP (per-IP or
	// per-subnet cap).
	ReasonAddressCap
	// ReasonNetworkGroup: an outbound peer from the same network group is
	// already connected.
	ReasonNetworkGroup
	// ReasonTrimmed: the Set was above its high watermark and dropped this
	// peer, lowest score first.
	ReasonTrimmed
	// ReasonLowReputation: the peer's score reached the ban threshold; it
	// is disconnected and banned.
	ReasonLowReputation
	// ReasonInvalid: the PeerInfo is unusable (zero ID, no direction,
	// invalid remote address).
	ReasonInvalid

	numReasons = iota
)

var reasonNames = [numReasons]string{
	"none",
	"shutdown",
	"too-many-peers",
	"duplicate",
	"banned",
	"self",
	"address-cap",
	"network-group",
	"trimmed",
	"low-reputation",
	"invalid",
}

// String returns the reason's stable lower-case label, e.g. "too-many-peers",
// suitable for logs, metrics and goaway text.
func (r DisconnectReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Sentinel errors, one per refusal reason. A *RefusedError matches the one
// of its Reason with errors.Is. ErrClosed, ErrDuplicate, ErrBanned and
// ErrSelf are the shared internal/errs vocabulary (which p2p re-exports);
// ErrTooManyPeers, ErrAddressCap and ErrNetworkGroup wrap errs.ErrRefused,
// so errors.Is(err, p2p.ErrRefused) matches any of them.
var (
	// ErrClosed matches ReasonShutdown; AddMustConnect returns it after Close.
	ErrClosed = errs.ErrClosed
	// ErrTooManyPeers matches ReasonTooManyPeers.
	ErrTooManyPeers = fmt.Errorf("%w: too many peers", errs.ErrRefused)
	// ErrDuplicate matches ReasonDuplicate.
	ErrDuplicate = errs.ErrConnected
	// ErrBanned matches ReasonBanned.
	ErrBanned = errs.ErrBanned
	// ErrSelf matches ReasonSelf.
	ErrSelf = errs.ErrSelf
	// ErrAddressCap matches ReasonAddressCap.
	ErrAddressCap = fmt.Errorf("%w: per-IP or per-subnet cap reached", errs.ErrRefused)
	// ErrNetworkGroup matches ReasonNetworkGroup.
	ErrNetworkGroup = fmt.Errorf("%w: outbound network group taken", errs.ErrRefused)
	// ErrInvalid matches ReasonInvalid.
	ErrInvalid = errors.New("peerset: invalid peer info")
)

var reasonErrs = [numReasons]error{
	ReasonShutdown:     ErrClosed,
	ReasonTooManyPeers: ErrTooManyPeers,
	ReasonDuplicate:    ErrDuplicate,
	ReasonBanned:       ErrBanned,
	ReasonSelf:         ErrSelf,
	ReasonAddressCap:   ErrAddressCap,
	ReasonNetworkGroup: ErrNetworkGroup,
	ReasonInvalid:      ErrInvalid,
}

// RefusedError is why Admit or CheckDial refused a peer. Reason travels to
// the peer in the goaway the Node sends; Detail is for logs.
type RefusedError struct {
	// ID is the refused peer (zero when unknown).
	ID crypto.ID
	// Reason is the refusal reason; never ReasonNone.
	Reason DisconnectReason
	// Detail says more, e.g. "inbound 40/40" or the Counter's reason.
	Detail string
}

// Error returns e.g. "peerset: refused 1a2b3c4d: too-many-peers (inbound 40/40)".
func (e *RefusedError) Error() string {
	s := "peerset: refused " + e.ID.Short() + ": " + e.Reason.String()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Is reports whether target is the sentinel error of e.Reason, or one that
// sentinel wraps, so errors.Is(err, ErrTooManyPeers) and
// errors.Is(err, errs.ErrRefused) both work.
func (e *RefusedError) Is(target error) bool {
	return int(e.Reason) < len(reasonErrs) && reasonErrs[e.Reason] != nil && errors.Is(reasonErrs[e.Reason], target)
}

// ReasonOf returns the DisconnectReason carried by err (a *RefusedError
// anywhere in its chain), or ReasonNone.
func ReasonOf(err error) DisconnectReason {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ReasonNone
}

func refused(id crypto.ID, r DisconnectReason, format string, args ...any) *RefusedError {
	e := &RefusedError{ID: id, Reason: r}
	if format != "" {
		e.Detail = fmt.Sprintf(format, args...)
	}
	return e
}
