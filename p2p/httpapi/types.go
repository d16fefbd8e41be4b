package httpapi

import (
	"strings"
	"time"

	"github.com/peerwire/peerwire/p2p"
)

// Peer is a connected peer as GET /peers and GET /peers/{id} return it.
type Peer struct {
	ID          string      `json:"id"`
	Direction   string      `json:"direction"`
	Remote      string      `json:"remote"`
	ListenAddrs []string    `json:"listen_addrs"`
	Role        string      `json:"role"`
	Software    string      `json:"software,omitempty"`
	ConnectedAt time.Time   `json:"connected_at"`
	Score       float64     `json:"score"`
	MustConnect bool        `json:"must_connect"`
	RTT         RTT         `json:"rtt"`
	BytesIn     uint64      `json:"bytes_in"`
	BytesOut    uint64      `json:"bytes_out"`
	Topics      []PeerTopic `json:"topics"`
	// ProtocolVersion is the version negotiated with the peer; Features
	// the IDs of the features in use (docs/PROTOCOL.md §8.7).
	ProtocolVersion uint16   `json:"protocol_version"`
	Features        []uint16 `json:"features"`
}

// PeerList is what GET /peers returns: Count is len(Peers), after the
// role filter.
type PeerList struct {
	Count int    `json:"count"`
	Peers []Peer `json:"peers"`
}

// DisconnectResponse is what DELETE /peers/{id} returns.
type DisconnectResponse struct {
	ID string `json:"id"`
	// Disconnected: the peer was connected and has been sent a goaway.
	Disconnected bool `json:"disconnected"`
	// MustConnect: it is still a must-connect peer (redialed at once).
	MustConnect bool `json:"must_connect"`
	// MayRedial: it is still in the book, so the node (or the peer) may
	// reconnect; false after ?forget=true.
	MayRedial bool `json:"may_redial"`
	// Forgotten: ?forget=true removed it from the book.
	Forgotten bool   `json:"forgotten"`
	Note      string `json:"note"`
}

// BookRemoveResponse is what DELETE /book/{id} returns.
type BookRemoveResponse struct {
	ID      string `json:"id"`
	Removed bool   `json:"removed"`
}

// RTT is a peer's ping round-trip times in milliseconds.
type RTT struct {
	LastMs     float64 `json:"last_ms"`
	SmoothedMs float64 `json:"smoothed_ms"`
	MinMs      float64 `json:"min_ms"`
	Samples    uint64  `json:"samples"`
}

// PeerTopic is one topic's traffic with one peer.
type PeerTopic struct {
	Name         string `json:"name"`
	MessagesIn   uint64 `json:"messages_in"`
	MessagesOut  uint64 `json:"messages_out"`
	BytesIn      uint64 `json:"bytes_in"`
	BytesOut     uint64 `json:"bytes_out"`
	SendQueue    int    `json:"send_queue"`
	CreditStalls uint64 `json:"credit_stalls"`
}

// BookEntry is a peer book entry as GET /book returns it.
type BookEntry struct {
	Addr        string    `json:"addr"`
	ID          string    `json:"id"`
	Source      string    `json:"source"`
	Role        string    `json:"role"`
	Protected   bool      `json:"protected"`
	Tried       bool      `json:"tried"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	Failures    int       `json:"failures"`
	BanUntil    time.Time `json:"ban_until,omitzero"`
	Unverified  bool      `json:"unverified,omitempty"` // a peer's own advert not yet reached: not shared through PEX
}

// Ban is a ban in force as GET /bans returns it: by ID, by one IP address
// (IP), or by an IP prefix (Prefix, CIDR); the other two are empty.
type Ban struct {
	ID     string    `json:"id,omitempty"`
	IP     string    `json:"ip,omitempty"`
	Prefix string    `json:"prefix,omitempty"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// DialRequest is the body of POST /peers.
type DialRequest struct {
	// Addr is "ID@host:port", or "host:port" to dial and learn the ID
	// (not with MustConnect).
	Addr string `json:"addr"`
	// MustConnect adds the peer as must-connect (dialed in the background
	// and redialed forever) instead of dialing it once now.
	MustConnect bool `json:"must_connect"`
}

// DialResponse is the answer to POST /peers.
type DialResponse struct {
	ID          string `json:"id"`
	MustConnect bool   `json:"must_connect"`
	// Connected says whether the peer is connected now: after a dial,
	// always; after adding a must-connect peer, only if it already was.
	Connected bool `json:"connected"`
}

// BanRequest is the body of POST /bans: exactly one of ID (a peer), IP
// (one address) and Prefix (a CIDR prefix, e.g. "192.0.2.0/24").
type BanRequest struct {
	ID       string `json:"id,omitempty"`
	IP       string `json:"ip,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Duration string `json:"duration"` // Go duration, e.g. "1h"
	Reason   string `json:"reason"`
}

// Health is the answer to GET /healthz: status 200 with Status "ok", or
// 503 with Status "degraded" and the reasons in Problems. It is an object
// of named fields so that more can be added.
type Health struct {
	Status   string `json:"status"`
	ID       string `json:"id"`
	Listen   string `json:"listen,omitempty"`
	Inbound  int    `json:"inbound"`
	Outbound int    `json:"outbound"`
	// Advertise are the addresses peers are told to dial (ID@host:port),
	// never a wildcard; empty when the node has nothing dialable.
	Advertise []string `json:"advertise"`
	// Observed is the address peers see the node at once enough of them
	// agree (p2p.Node.ObservedAddr), "" before; its port is 0 until
	// enough peers that dialed it agree on one.
	Observed string `json:"observed,omitempty"`
	// ObservedAddrs is every observed address, one per address family,
	// IPv4 first (p2p.Node.ObservedAddrs): a dual-stack node has two,
	// and Observed is the first. Empty before any quorum.
	ObservedAddrs []string `json:"observed_addrs"`
	// Reachability is the last dial-back check's verdict
	// (p2p.Node.Reachability): "unknown", "public" or "private".
	Reachability string `json:"reachability"`
	// Verified is the candidate addresses peers in distinct groups
	// reached (ID@host:port); empty when none.
	Verified []string `json:"verified"`
	// ReachabilityChecked is when the last check ended; absent before the
	// first.
	ReachabilityChecked *time.Time `json:"reachability_checked,omitempty"`
	// NoPeersSince is when the node was last left without a peer; absent
	// while one is connected.
	NoPeersSince *time.Time `json:"no_peers_since,omitempty"`
	// Book is how the peer book's saves have gone.
	Book HealthBook `json:"book"`
	// Problems says why the node is degraded, one entry each; empty when
	// Status is "ok". Codes: not_running, no_peers, book_not_saving.
	Problems []Error `json:"problems"`
}

// HealthBook is the peer book's part of Health.
type HealthBook struct {
	// LastSaved is the last successful save; absent before the first.
	LastSaved *time.Time `json:"last_saved,omitempty"`
	// Failures counts the failed saves in a row; 0 when the last succeeded.
	Failures int `json:"failures"`
	// LastError and FailingSince describe the current run of failures.
	LastError    string     `json:"last_error,omitempty"`
	FailingSince *time.Time `json:"failing_since,omitempty"`
}

// Error is every error's body.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// roleName turns "NODE_ROLE_VALIDATOR" into "validator".
func roleName(role string) string {
	role = strings.ToLower(strings.TrimPrefix(role, "NODE_ROLE_"))
	if role == "" {
		return "unspecified"
	}
	return role
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func peerJSON(p p2p.PeerInfo) Peer {
	out := Peer{
		ID: p.ID.String(), Direction: p.Direction, Remote: p.Remote, ListenAddrs: p.ListenAddrs,
		Role: roleName(p.Role), Software: p.Software, ConnectedAt: p.ConnectedAt, Score: p.Score, MustConnect: p.MustConnect,
		RTT:     RTT{LastMs: ms(p.RTT.Last), SmoothedMs: ms(p.RTT.Smoothed), MinMs: ms(p.RTT.Min), Samples: p.RTT.Samples},
		BytesIn: p.Conn.BytesRecv, BytesOut: p.Conn.BytesSent, Topics: []PeerTopic{},
		ProtocolVersion: p.Conn.Version, Features: p.Conn.Features,
	}
	if out.Features == nil {
		out.Features = []uint16{}
	}
	if out.ListenAddrs == nil {
		out.ListenAddrs = []string{}
	}
	for _, t := range p.Conn.Topics {
		out.Topics = append(out.Topics, PeerTopic{Name: t.Name, MessagesIn: t.MsgsRecv, MessagesOut: t.MsgsSent,
			BytesIn: t.BytesRecv, BytesOut: t.BytesSent, SendQueue: t.SendQueue, CreditStalls: t.CreditStalls})
	}
	return out
}

func bookJSON(e p2p.BookEntry) BookEntry {
	return BookEntry{
		Addr: e.Addr.String(), ID: e.Addr.ID.String(), Source: e.Source.Kind.String(), Role: roleName(e.Meta.Role.String()),
		Protected: e.Protected, Tried: e.Tried, FirstSeen: e.FirstSeen, LastSeen: e.LastSeen, LastSuccess: e.LastSuccess,
		Failures: e.Failures, BanUntil: e.BanUntil, Unverified: e.Unverified,
	}
}

func banJSON(b p2p.Ban) Ban {
	out := Ban{Until: b.Until, Reason: b.Reason}
	if !b.ID.IsZero() {
		out.ID = b.ID.String()
	}
	switch {
	case !b.Prefix.IsValid():
	case b.Prefix.IsSingleIP():
		out.IP = b.Prefix.Addr().String()
	default:
		out.Prefix = b.Prefix.String()
	}
	return out
}
