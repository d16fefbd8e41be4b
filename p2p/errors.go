package p2p

import (
	"errors"
	"fmt"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/internal/errs"
	"github.com/peerwire/peerwire/peerbook"
)

// The errors an application matches with errors.Is. Each is defined once:
// the ones lower packages also return are aliases of the shared
// internal/errs vocabulary (peerbook.ErrBanned, peerset.ErrBanned and
// ErrBanned are one value), so a caller of the Node, like the admin API,
// matches these and imports no lower package.
var (
	// ErrClosed is returned by Node methods after Stop, and by the book,
	// filter or peer set once closed. A send call (Send, TrySend,
	// SendRandom, a peer's result from Broadcast or Gossip) on a
	// connection that closed under it returns an error matching it too,
	// wrapping the multiplexer's, which carries why.
	ErrClosed = errs.ErrClosed
	// ErrBanned is returned when a peer's ID or address is banned (by the
	// book or the peer set).
	ErrBanned = errs.ErrBanned
	// ErrSelf is returned when an address or ban names this node.
	ErrSelf = errs.ErrSelf
	// ErrUnknownPeer is returned for a peer the node is not connected to,
	// or the book does not hold.
	ErrUnknownPeer = errs.ErrUnknownPeer
	// ErrRefused is returned when the peer set's limits refuse a peer
	// (slots, per-address caps, network groups).
	ErrRefused = errs.ErrRefused
	// ErrConnected is returned by Dial to a peer already connected; a
	// duplicate refused by the peer set matches it too.
	ErrConnected = errs.ErrConnected
	// ErrDialing is returned by Dial to a peer already being dialed.
	ErrDialing = errs.ErrDialing
	// ErrFiltered is returned when the filter refuses an address.
	ErrFiltered = errors.New("p2p: address refused by the filter")
	// ErrUnknownTopic is returned for a topic the node did not declare.
	ErrUnknownTopic = errors.New("p2p: unknown topic")
	// ErrQueueFull is returned by TrySend when the topic's send queue to
	// the peer is full (Send and Broadcast wait instead). It is the
	// multiplexer's (mux.ErrQueueFull).
	ErrQueueFull = mux.ErrQueueFull
	// ErrMessageTooLarge is returned by the send calls and Gossip for a
	// message over the topic's MaxMessageSize, ours (checked before
	// anything is queued) or the peer's (refused by the multiplexer). It
	// is the multiplexer's (mux.ErrMessageTooLarge).
	ErrMessageTooLarge = mux.ErrMessageTooLarge
	// ErrTooManyBans is returned by Ban and BanIP when the book holds its
	// maximum of bans and none ends before the new one.
	ErrTooManyBans = peerbook.ErrTooManyBans
	// ErrTooManyProtected is returned by AddMustConnect when the book
	// holds its maximum of protected entries.
	ErrTooManyProtected = peerbook.ErrTooManyProtected
	// ErrIncompatible is matched by every *IncompatibleError: Dial
	// returns one for a peer of another network or chain, with no protocol
	// version in common, or refused over a required feature.
	ErrIncompatible = conn.ErrIncompatible
)

// IncompatibleError names what the node and a peer cannot agree on: the
// network, the chain, the protocol version (no common one) or a feature
// one side requires and the other does not speak. Dial returns it, and
// errors.As finds it whichever layer refused.
type IncompatibleError = conn.IncompatibleError

// Feature is an application capability advertised to peers
// (Config.Features).
type Feature = mux.Feature

// errStopped is what Node methods return after Stop; it matches ErrClosed.
var errStopped = fmt.Errorf("%w: node is stopped", ErrClosed)

// errDialNotStarted marks a dial that the node's own limits (concurrent
// dials, DialRate) held until its context ended: nothing was sent, so a
// DHT query it was for is not the queried node's failure (dht.ErrNotSent).
var errDialNotStarted = errors.New("p2p: dial not started")
