package p2p

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

func (n *Node) info(pc *peerConn, st peerset.Status) PeerInfo {
	pi := PeerInfo{
		ID: pc.id, Direction: pc.dir.String(), Remote: pc.remote.String(),
		ListenAddrs: pc.meta.GetListenAddrs(), Role: pc.meta.GetRole().String(), Software: pc.meta.GetSoftwareVersion(),
		ConnectedAt: pc.since, Score: st.Score, MustConnect: st.MustConnect,
		RTT: pc.mc.RTT(), Conn: pc.mc.Stats(), GossipForwardDropped: pc.gossipDrops.snapshot(),
	}
	for _, f := range pi.Conn.Features {
		if pi.FeatureValues == nil {
			pi.FeatureValues = map[uint16][]byte{}
		}
		v, _ := pc.mc.PeerFeature(f)
		pi.FeatureValues[f] = bytes.Clone(v)
	}
	return pi
}

// Peers returns the connected peers, ordered by ID: those admitted whose
// connection is the one the node sends on, so each can be sent to.
func (n *Node) Peers() []PeerInfo {
	var out []PeerInfo
	for _, st := range n.set.Peers() {
		if pc := connOf(st.Peer); pc != nil && pc.current.Load() {
			out = append(out, n.info(pc, st))
		}
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].ID[:]) < string(out[j].ID[:]) })
	return out
}

// Peer returns one connected peer.
func (n *Node) Peer(id crypto.ID) (PeerInfo, bool) {
	st, ok := n.set.Get(id)
	if !ok {
		return PeerInfo{}, false
	}
	pc := connOf(st.Peer)
	if pc == nil || !pc.current.Load() {
		return PeerInfo{}, false
	}
	return n.info(pc, st), true
}

// Dial connects to addr ("ID@host:port", or "host:port" to learn and pin
// the identity) and admits the peer as outbound. It returns the peer's ID
// when the peer is admitted, or why the attempt failed; ctx bounds it. A
// DNS name is resolved once (Config.Resolver, within ResolveTimeout) and
// every address it resolves to must pass the filter, the IP bans and the
// peer set's limits; the node then dials exactly a checked address.
func (n *Node) Dial(ctx context.Context, addr string) (crypto.ID, error) {
	a, err := crypto.ParseDialAddress(addr)
	if err != nil {
		return crypto.ID{}, err
	}
	// The dial runs on the caller's goroutine: Stop must wait for it, and
	// for the connection it may set up while Stop runs.
	if !n.enter() {
		return crypto.ID{}, errStopped
	}
	defer n.wg.Done()
	return n.dial(ctx, a, dialCheck{origin: byOperator, must: n.set.IsMustConnect(a.ID)})
}

// AddMustConnect makes addr ("ID@host:port") a must-connect peer: kept in
// the book, exempt from caps, trimming, churn and automatic bans, and
// dialed now and redialed forever.
func (n *Node) AddMustConnect(addr string) error {
	a, err := crypto.ParseAddress(addr)
	if err != nil {
		return err
	}
	if err := n.set.AddMustConnect(a); err != nil {
		return err
	}
	if err := n.book.Protect(a); err != nil {
		n.log.Warn("must-connect peer not kept in the book", "addr", a.String(), "err", err)
	}
	if n.state.Load() == 1 {
		n.maintain()
	}
	return nil
}

// RemoveMustConnect makes a must-connect peer an ordinary one again.
func (n *Node) RemoveMustConnect(id crypto.ID) bool {
	_ = n.book.Unprotect(id)
	return n.set.RemoveMustConnect(id)
}

// RemoveFromBook deletes id's book entry, protected or not, and reports
// whether there was one. Bans on it stay; the peer can be learned again
// (from PEX, or when it connects), so use Ban to keep it out.
func (n *Node) RemoveFromBook(id crypto.ID) bool { return n.book.Remove(id) }

// MustConnect lists the must-connect peers.
func (n *Node) MustConnect() []crypto.Address { return n.set.MustConnect() }

// Disconnect closes the connection to id gracefully with a goaway carrying
// reason. The peer may reconnect; use Ban to keep it away.
func (n *Node) Disconnect(id crypto.ID, reason string) error {
	pc, err := n.peerConn(id)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "disconnected by operator"
	}
	n.goAway(pc.mc, goAwayCode(peerset.ReasonShutdown), reason)
	return nil
}

// Ban disconnects id with goaway "banned" and refuses it for d (0 < d <=
// MaxBanDuration), across restarts (the ban is kept in the peer book). It
// applies to must-connect peers too. Either all of that happens or Ban
// returns an error and changes nothing.
func (n *Node) Ban(id crypto.ID, d time.Duration, reason string) error {
	if err := checkBan(d); err != nil {
		return err
	}
	if id.IsZero() {
		return fmt.Errorf("%w: the zero ID names no peer", ErrUnknownPeer)
	}
	if id == n.ID() {
		return fmt.Errorf("%w: cannot ban this node", ErrSelf)
	}
	// The set writes the ban to the book, the one store, and refuses it
	// (ErrTooManyBans) before changing anything.
	p, err := n.set.Ban(id, d, reason)
	if err != nil {
		return err
	}
	n.st.bans.Add(1)
	if p != nil {
		_ = p.Disconnect(peerset.ReasonBanned, "banned: "+reason)
	}
	n.closeBannedTransient(func(pc *peerConn) bool { return pc.id == id }, reason)
	n.events.publish(Event{Kind: EventBanned, Peer: id, Reason: reason, Time: n.s.Now()})
	return nil
}

// checkBan validates a ban's duration against the node's one cap.
func checkBan(d time.Duration) error {
	if d <= 0 || d > MaxBanDuration {
		return fmt.Errorf("p2p: ban duration %v is outside (0, %v]", d, MaxBanDuration)
	}
	return nil
}

// Unban lifts a ban on id; it reports whether there was one.
func (n *Node) Unban(id crypto.ID) bool {
	return n.set.Unban(id) // lifts it in the book
}

// BanIP bans every address inside prefix (one address is a /32 or /128;
// IPv4-mapped prefixes count as IPv4) for d (0 < d <= MaxBanDuration),
// across restarts: connections from it are refused, it is not dialed, and
// connected peers inside it are disconnected with goaway "banned". It
// applies to must-connect peers too. Prefixes broader than
// peerbook.MinBanPrefixBits4 / MinBanPrefixBits6 are refused. Either all
// of that happens or BanIP returns an error and changes nothing.
func (n *Node) BanIP(prefix netip.Prefix, d time.Duration, reason string) error {
	if err := checkBan(d); err != nil {
		return err
	}
	p, err := peerbook.NormPrefix(prefix)
	if err != nil {
		return fmt.Errorf("p2p: ban prefix: %w", err)
	}
	return n.banPrefix(p, d, reason)
}

// banPrefix bans the normalised prefix p in the book, then disconnects
// the connected peers inside it.
func (n *Node) banPrefix(p netip.Prefix, d time.Duration, reason string) error {
	if err := n.book.BanPrefix(p, d, reason); err != nil {
		return err
	}
	n.st.bans.Add(1)
	for _, st := range n.set.Peers() {
		if p.Contains(st.Remote.Addr()) {
			_ = st.Peer.Disconnect(peerset.ReasonBanned, "banned: "+reason)
		}
	}
	n.closeBannedTransient(func(pc *peerConn) bool { return p.Contains(pc.remote.Addr().Unmap()) }, reason)
	n.events.publish(Event{Kind: EventBanned, Prefix: p, Reason: reason, Time: n.s.Now()})
	n.log.Info("address banned", "prefix", p.String(), "for", d, "reason", reason)
	return nil
}

// UnbanIP lifts the ban on exactly prefix (not a broader or narrower one)
// and reports whether there was one.
func (n *Node) UnbanIP(prefix netip.Prefix) bool { return n.book.UnbanPrefix(prefix) }

// Ban is one ban in force, as the peer book (which owns bans) keeps it.
type Ban = peerbook.Ban

// BookEntry is one address in the peer book.
type BookEntry = peerbook.Entry

// The narrowest prefix lengths BanIP accepts: the peer book's bounds.
const (
	MinBanPrefixBits4 = peerbook.MinBanPrefixBits4
	MinBanPrefixBits6 = peerbook.MinBanPrefixBits6
)

// NormPrefix returns the form BanIP keeps prefix in (masked; IPv4-mapped
// as IPv4), or an error for a prefix BanIP would refuse.
func NormPrefix(prefix netip.Prefix) (netip.Prefix, error) { return peerbook.NormPrefix(prefix) }

// ParseBanPrefix parses an IP address (as a full-length prefix) or a CIDR
// prefix into the form UnbanIP and BanIP take.
func ParseBanPrefix(s string) (netip.Prefix, error) { return peerbook.ParseBanPrefix(s) }

// Bans lists the bans in force.
func (n *Node) Bans() []Ban { return n.book.Bans() }

// BookEntries lists the peer book.
func (n *Node) BookEntries() []BookEntry { return n.book.Entries() }

// Report moves id's reputation by delta (negative for misbehaviour) on the
// application's behalf. Below the ban threshold the peer is disconnected
// and banned (never a must-connect peer).
func (n *Node) Report(id crypto.ID, delta float64, reason string) {
	n.applyBan(n.set.Report(id, delta, reason))
}

// Score returns id's reputation score.
func (n *Node) Score(id crypto.ID) (float64, bool) { return n.set.Score(id) }
