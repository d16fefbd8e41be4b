package p2p

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

func (n *Node) info(pc *peerConn, st peerset.Status) PeerInfo {
	return PeerInfo{
		ID: pc.id, Direction: pc.dir.String(), Remote: pc.remote.String(),
		ListenAddrs: pc.meta.GetListenAddrs(), Role: pc.meta.GetRole().String(), Software: pc.meta.GetSoftwareVersion(),
		ConnectedAt: pc.since, Score: st.Score, MustConnect: st.MustConnect,
		RTT: pc.mc.RTT(), Conn: pc.mc.Stats(), GossipForwardDropped: pc.gossipDrops.snapshot(),
	}
}

// Peers returns the connected peers, ordered by ID.
func (n *Node) Peers() []PeerInfo {
	var out []PeerInfo
	for _, st := range n.set.Peers() {
		if pc, ok := st.Peer.Conn.(*peerConn); ok {
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
	pc, ok := st.Peer.Conn.(*peerConn)
	if !ok {
		return PeerInfo{}, false
	}
	return n.info(pc, st), true
}

// Dial connects to addr ("ID@host:port", or "host:port" to learn and pin
// the identity) and admits the peer as outbound. It returns when the peer
// is admitted or the attempt failed; ctx bounds it.
func (n *Node) Dial(ctx context.Context, addr string) (crypto.ID, error) {
	a, err := crypto.ParseDialAddress(addr)
	if err != nil {
		return crypto.ID{}, err
	}
	if err := n.dial(ctx, a, n.set.IsMustConnect(a.ID)); err != nil {
		return crypto.ID{}, err
	}
	if a.ID.IsZero() {
		// Learned at the handshake: find it among the peers by address.
		for _, p := range n.Peers() {
			if p.Remote == a.HostPort() {
				return p.ID, nil
			}
		}
	}
	return a.ID, nil
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
		n.log.warn("must-connect peer not kept in the book", "addr", a.String(), "err", err)
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

// Ban disconnects id and refuses it for d, across restarts (the ban is
// kept in the peer book). It applies to must-connect peers too.
func (n *Node) Ban(id crypto.ID, d time.Duration, reason string) error {
	if d <= 0 {
		return fmt.Errorf("p2p: ban duration %v must be positive", d)
	}
	if err := n.book.Ban(id, d, reason); err != nil {
		return err
	}
	p, err := n.set.Ban(id, d, reason)
	if err != nil {
		return err
	}
	n.st.bans.Add(1)
	if p != nil {
		_ = p.Disconnect(peerset.ReasonBanned, "banned: "+reason)
	}
	n.events.publish(Event{Kind: EventBanned, Peer: id, Reason: reason, Time: n.s.Now()})
	return nil
}

// Unban lifts a ban on id; it reports whether there was one.
func (n *Node) Unban(id crypto.ID) bool {
	a := n.book.Unban(id)
	b := n.set.Unban(id)
	return a || b
}

// Bans lists the bans in force.
func (n *Node) Bans() []peerbook.Ban { return n.book.Bans() }

// BookEntries lists the peer book.
func (n *Node) BookEntries() []peerbook.Entry { return n.book.Entries() }

// Report moves id's reputation by delta (negative for misbehaviour) on the
// application's behalf. Below the ban threshold the peer is disconnected
// and banned (never a must-connect peer).
func (n *Node) Report(id crypto.ID, delta float64, reason string) {
	n.applyBan(n.set.Report(id, delta, reason))
}

// Score returns id's reputation score.
func (n *Node) Score(id crypto.ID) (float64, bool) { return n.set.Score(id) }
