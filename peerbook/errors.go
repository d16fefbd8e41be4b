package peerbook

import (
	"errors"

	"github.com/peerwire/peerwire/internal/errs"
)

// Errors returned by Book methods. They are sentinels for errors.Is; some
// are wrapped with detail. ErrClosed, ErrUnknownPeer, ErrSelf and ErrBanned
// are aliases of the shared internal/errs vocabulary, which p2p re-exports.
var (
	// ErrClosed is returned by operations on a closed Book that need the file.
	ErrClosed = errs.ErrClosed
	// ErrNoPath is returned by Save on a Book made by New, which has no file.
	ErrNoPath = errors.New("peerbook: book has no file")
	// ErrUnknownPeer is returned for a peer ID the book does not hold.
	ErrUnknownPeer = errs.ErrUnknownPeer
	// ErrSelf is returned when an address carries this node's own ID.
	ErrSelf = errs.ErrSelf
	// ErrBanned is returned when an address's ID or IP is banned.
	ErrBanned = errs.ErrBanned
	// ErrInvalidAddress is returned for an address without an ID, host or port.
	ErrInvalidAddress = errors.New("peerbook: invalid address")
	// ErrUnroutable is returned for an address the configuration does not
	// allow (loopback, private, reserved or unspecified).
	ErrUnroutable = errors.New("peerbook: address is not routable")
	// ErrNetworkName is returned for a DNS name reported by a peer (an
	// inbound advert) while Config.AllowNetworkNames is off.
	ErrNetworkName = errors.New("peerbook: DNS names from peers are not allowed")
	// ErrBucketFull is returned when an address's slot is taken by an entry
	// that is still good, so the address was not stored.
	ErrBucketFull = errors.New("peerbook: bucket slot is taken")
	// ErrBookFull is returned when the book holds Config.MaxEntries entries
	// and the address's bucket has nothing to evict.
	ErrBookFull = errors.New("peerbook: book is full")
	// ErrLocalFull is returned when MaxLocal entries with a local source
	// (SourceLocal) are already held.
	ErrLocalFull = errors.New("peerbook: too many local-network entries")
	// ErrTooManyProtected is returned by Protect beyond MaxProtected entries.
	ErrTooManyProtected = errors.New("peerbook: too many protected entries")
	// ErrTooManyBans is returned by Ban and BanIP when MaxBans bans are in
	// force and none expires before the new one.
	ErrTooManyBans = errors.New("peerbook: too many bans")
	// ErrPexUnsolicited is returned by IngestPex for a response nobody asked
	// for (or that came after Config.PexResponseTimeout). The node should
	// treat it as misbehaviour.
	ErrPexUnsolicited = errors.New("peerbook: unsolicited PEX response")
	// ErrPexTooMany is returned (wrapped) by IngestPex for a response with
	// more than Config.MaxPexAddrs addresses. The node should treat it as
	// misbehaviour.
	ErrPexTooMany = errors.New("peerbook: PEX response has too many addresses")
	// ErrPexBusy is returned by MarkPexRequested when too many requests are
	// outstanding.
	ErrPexBusy = errors.New("peerbook: too many outstanding PEX requests")
)
