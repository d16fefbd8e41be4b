// Package errs is peerwire's one vocabulary of the sentinel errors more
// than one package returns: closed, banned, self, unknown peer, refused,
// already connected, already dialing. Each is defined here once; filter,
// peerbook, peerset and p2p re-export the ones they return as aliases
// (var ErrBanned = errs.ErrBanned), so errors.Is(err, p2p.ErrBanned) matches
// a ban refused by the book, the peer set or the node alike, and an
// application (or the admin API) matches one set of sentinels: p2p's.
package errs

import "errors"

var (
	// ErrClosed is returned by an operation on a stopped node or a closed
	// component (filter, book, peer set).
	ErrClosed = errors.New("peerwire: closed")
	// ErrBanned is returned when a peer's ID or address is banned.
	ErrBanned = errors.New("peerwire: peer or address is banned")
	// ErrSelf is returned when a peer or address is this node's own.
	ErrSelf = errors.New("peerwire: peer or address is this node's own")
	// ErrUnknownPeer is returned for a peer ID the component does not hold.
	ErrUnknownPeer = errors.New("peerwire: unknown peer")
	// ErrRefused is returned when the peer set's limits refuse a peer
	// (slots, per-address caps, network groups).
	ErrRefused = errors.New("peerwire: peer refused by the peer set")
	// ErrConnected is returned for a second connection to a connected peer.
	ErrConnected = errors.New("peerwire: already connected to that peer")
	// ErrDialing is returned for a dial to a peer already being dialed.
	ErrDialing = errors.New("peerwire: already dialing that peer")
)
