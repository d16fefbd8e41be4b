package peerbook

import (
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// SourceKind says how the book learned an address.
type SourceKind uint8

// Source kinds. Bootstrap and manual sources are the operator's word and may
// change a known peer's address; an inbound source is the peer's own
// (authenticated) word and may too, unless the entry is protected; a PEX
// report or a DHT record never changes a known peer's address.
const (
	SourceUnknown   SourceKind = iota
	SourceBootstrap            // configured seed or bootstrap list
	SourcePEX                  // reported by another peer through PEX
	SourceManual               // added by the operator (admin API, config)
	SourceInbound              // advertised by the peer itself on an inbound connection
	// SourceLocal is an address found on the local network by multicast
	// DNS (package discovery/mdns): an unauthenticated hint that the
	// ID-pinned handshake checks. At most MaxLocal entries have it; they
	// are never shared through PEX, may be private (RFC 1918, fc00::/7)
	// without Config.AllowPrivate, and leave the book when the node stops
	// hearing of them (ExpireLocal).
	SourceLocal
	SourceDHT // found by a DHT lookup (the peer's own signed record)
)

var sourceNames = [...]string{"unknown", "bootstrap", "pex", "manual", "inbound", "local", "dht"}

// String returns the kind's lower-case name, as used in the book file.
func (k SourceKind) String() string {
	if int(k) < len(sourceNames) {
		return sourceNames[k]
	}
	return "unknown"
}

func parseSourceKind(s string) SourceKind {
	for i, n := range sourceNames {
		if n == s {
			return SourceKind(i)
		}
	}
	return SourceUnknown
}

// Source says where an address came from.
type Source struct {
	Kind SourceKind
	// From is the reporting peer for SourcePEX.
	From crypto.ID
	// Host is the IP of the reporting connection (SourcePEX, SourceInbound).
	// It decides the source group that, together with the address's own
	// group, picks the new bucket. Empty for bootstrap and manual sources,
	// which share one local group.
	Host string
}

// Meta is what the book keeps of a peer's handshake PeerMeta. It only ever
// comes from the peer's own authenticated handshake, never from PEX.
type Meta struct {
	NetworkID       string      `json:"network_id,omitempty"`
	ChainID         string      `json:"chain_id,omitempty"`
	ProtocolVersion uint32      `json:"protocol_version,omitempty"`
	Role            pb.NodeRole `json:"role,omitempty"`
	SoftwareVersion string      `json:"software_version,omitempty"`
	Topics          []byte      `json:"topics,omitempty"`
}

// MetaFromPB converts a handshake PeerMeta, truncating over-long fields to
// the book's bounds. A nil m gives the zero Meta. It is safe for concurrent
// use.
func MetaFromPB(m *pb.PeerMeta) Meta {
	return Meta{
		NetworkID:       truncate(m.GetNetworkId(), maxMetaString),
		ChainID:         truncate(m.GetChainId(), maxMetaString),
		ProtocolVersion: m.GetProtocolVersion(),
		Role:            m.GetRole(),
		SoftwareVersion: truncate(m.GetSoftwareVersion(), maxMetaString),
		Topics:          append([]byte(nil), m.GetTopics()[:min(len(m.GetTopics()), maxMetaTopics)]...),
	}
}

func (m Meta) bounded() Meta {
	m.NetworkID = truncate(m.NetworkID, maxMetaString)
	m.ChainID = truncate(m.ChainID, maxMetaString)
	m.SoftwareVersion = truncate(m.SoftwareVersion, maxMetaString)
	if len(m.Topics) > maxMetaTopics {
		m.Topics = m.Topics[:maxMetaTopics]
	}
	return m
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Entry is a snapshot of what the book knows about one peer. Changing it
// does not change the book.
type Entry struct {
	Addr      crypto.Address // Addr.ID is the peer ID
	Source    Source
	Meta      Meta
	Protected bool // must-connect: never evicted, not in the buckets
	Tried     bool // in the tried table: we have reached this address
	// Unverified is set for an address a peer advertised for itself on an
	// inbound connection until a dial to it succeeds (MarkSuccess) or it is
	// verified otherwise (MarkVerified). AnswerPex leaves it out.
	Unverified bool

	FirstSeen   time.Time // when the book first learned the peer
	LastSeen    time.Time // last time the address was added, confirmed or reached
	LastAttempt time.Time // last dial attempt
	LastSuccess time.Time // last successful dial
	NextAttempt time.Time // no dial pick before this (backoff)
	Failures    int       // consecutive failed attempts

	BanUntil  time.Time // zero if not banned by ID
	BanReason string
}

// table says which table an entry lives in.
type table uint8

const (
	tableNone  table = iota // protected, outside the buckets
	tableNew                // heard of
	tableTried              // reached
)

// entry is the book's record of one peer. Every field is guarded by the
// book's lock.
type entry struct {
	addr      crypto.Address
	ip        netip.Addr // zero for DNS names
	group     groupKey
	srcGroup  groupKey
	src       Source
	meta      Meta
	protected bool
	// unverified: advertised by the peer on an inbound connection and not
	// yet reached at this address; only ever set with src.Kind ==
	// SourceInbound.
	unverified bool

	firstSeen, lastSeen, lastAttempt, lastSuccess, nextAttempt time.Time
	failures                                                   int

	table    table
	pos      int // slot index in its table, -1 outside
	allIdx   int // index in book.all, -1 outside
	readyIdx int // index in book.ready[table], -1 outside
	heapIdx  int // index in book.waiting, -1 outside
}

func (e *entry) snapshot() Entry {
	meta := e.meta
	meta.Topics = append([]byte(nil), meta.Topics...)
	return Entry{
		Addr: e.addr, Source: e.src, Meta: meta, Protected: e.protected, Tried: e.table == tableTried,
		FirstSeen: e.firstSeen, LastSeen: e.lastSeen, LastAttempt: e.lastAttempt,
		LastSuccess: e.lastSuccess, NextAttempt: e.nextAttempt, Failures: e.failures, Unverified: e.unverified,
	}
}
