package peerset

import (
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// Conn is a connected peer's connection as the Set sees it. The Node adapts
// its MultiConn, mapping the DisconnectReason onto a goaway code.
type Conn interface {
	// Close ends the connection, telling the peer reason and text (text is
	// free-form and may be cut by the transport). It must be safe for
	// concurrent use and idempotent; later calls return nil or the first
	// call's error. The Set never calls it: Peer.Disconnect does, from the
	// Node, without holding any Set lock.
	Close(reason DisconnectReason, text string) error
}

// Counter enforces per-IP and per-subnet caps across the node (the filter
// package's Filter, adapted by the Node). Its methods must be safe for
// concurrent use and must not call back into the Set, which calls them with
// its lock held.
type Counter interface {
	// Acquire counts a peer from ip unless that would exceed a cap; the
	// check and the count are one atomic step. When ok is false, reason
	// says which cap ("ip-cap", "subnet-cap") and release may be nil.
	// When ok is true, release is non-nil and idempotent, and undoes the
	// count.
	Acquire(ip netip.Addr) (release func(), ok bool, reason string)
	// AcquireExempt counts a peer from ip without checking the caps, for
	// must-connect peers and for a connection replacing a duplicate.
	// release is non-nil and idempotent.
	AcquireExempt(ip netip.Addr) (release func())
}

// PeerInfo describes a connection the Node wants admitted: who the peer is
// (from the handshake), who dialed, and from where.
type PeerInfo struct {
	// ID is the peer's authenticated ID; the zero ID is refused.
	ID crypto.ID
	// Direction is Inbound or Outbound; the zero value is refused.
	Direction Direction
	// Remote is the remote TCP address; its IP is counted by the Counter
	// and, for outbound peers, grouped. An invalid address is refused.
	Remote netip.AddrPort
	// Conn is the connection, closed through Peer.Disconnect. It may be
	// nil (then Disconnect does nothing), which tests use.
	Conn Conn
	// Meta is opaque to the Set: the Node keeps the handshake's PeerMeta
	// (role, version, listen address) here.
	Meta any
}

// Peer is one admitted connection. Its exported fields are set by Admit and
// never change, so a *Peer may be read from any goroutine; the score and
// must-connect flag change and are read through the Set (Get, Peers). A peer
// that reconnects gets a new *Peer, which is how Remove tells a stale
// connection from the current one.
type Peer struct {
	// ID is the peer's ID.
	ID crypto.ID
	// Direction says who dialed.
	Direction Direction
	// Remote is the remote address, IPv4-mapped addresses unmapped.
	Remote netip.AddrPort
	// Conn is the connection given to Admit.
	Conn Conn
	// Meta is PeerInfo.Meta.
	Meta any
	// ConnectedAt is the time passed to Admit.
	ConnectedAt time.Time

	// Guarded by Set.mu.
	score   float64
	must    bool         // a must-connect peer: not in the counts, never trimmed or auto-banned
	group   netip.Prefix // network group of Remote, for outbound diversity
	release func()       // undoes the Counter's count; nil without a Counter
}

// Disconnect closes p's connection with reason and text, through
// Conn.Close. It does nothing and returns nil when p or its Conn is nil.
// Safe for concurrent use if the Conn is, as its contract requires.
func (p *Peer) Disconnect(reason DisconnectReason, text string) error {
	if p == nil || p.Conn == nil {
		return nil
	}
	return p.Conn.Close(reason, text)
}

// Status is a snapshot of one connected peer, as Peers and Get return it.
type Status struct {
	// ID, Direction, Remote and ConnectedAt are the Peer's.
	ID          crypto.ID
	Direction   Direction
	Remote      netip.AddrPort
	ConnectedAt time.Time
	// Score is the reputation at the time of the snapshot (as of the last
	// Decay, plus reports since).
	Score float64
	// MustConnect reports whether the peer is a must-connect peer.
	MustConnect bool
	// Peer is the admitted connection, for Disconnect and Meta.
	Peer *Peer `json:"-"`
}

// Counts are the Set's numbers for status lines and metrics.
type Counts struct {
	// Inbound and Outbound count connected peers by direction, must-connect
	// peers included.
	Inbound, Outbound int
	// InboundSlots and OutboundSlots count the peers that occupy an
	// inbound or outbound slot: the same without must-connect peers. These
	// are what MaxInbound, MaxOutbound and the watermarks bound.
	InboundSlots, OutboundSlots int
	// MustConnectUp is the number of must-connect peers connected, of
	// MustConnectTotal configured.
	MustConnectUp, MustConnectTotal int
	// Remembered is the number of disconnected peers whose score is kept.
	Remembered int
}

func (p *Peer) status() Status {
	return Status{
		ID:          p.ID,
		Direction:   p.Direction,
		Remote:      p.Remote,
		ConnectedAt: p.ConnectedAt,
		Score:       p.score,
		MustConnect: p.must,
		Peer:        p,
	}
}
