package peerset

import "time"

// AdmitTransient admits a transient connection: one dialed only for a DHT
// query (PROTOCOL §8.7, feature "transient"), which the Node keeps outside
// the peer list. It is checked like a peer — valid, not this node, the Set
// open, not banned, the Counter's per-IP caps — but takes no inbound or
// outbound slot, no network group, and is never in Peers, Get, Trim or the
// duplicate rule, so it can neither replace nor be preferred over a real
// connection to the same peer. Instead at most MaxTransient transient
// connections per direction are open at once (ReasonTooManyPeers); the
// Node, before it takes that for an answer, evicts an idle one and frees
// its slot with its release (p2p/transient.go).
//
// The returned release, idempotent, frees the transient slot and the
// Counter's count; the Node calls it when the connection has ended.
func (s *Set) AdmitTransient(info PeerInfo, now time.Time) (release func(), err error) {
	id := info.ID
	switch {
	case id.IsZero():
		return nil, refused(id, ReasonInvalid, "zero peer ID")
	case info.Direction != Inbound && info.Direction != Outbound:
		return nil, refused(id, ReasonInvalid, "direction %v", info.Direction)
	case !info.Remote.Addr().IsValid():
		return nil, refused(id, ReasonInvalid, "invalid remote address")
	case id == s.cfg.self:
		return nil, refused(id, ReasonSelf, "")
	}
	ip := info.Remote.Addr().Unmap().WithZone("")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, refused(id, ReasonShutdown, "")
	}
	if until, ok := s.bannedLocked(id, now); ok {
		return nil, refused(id, ReasonBanned, "until %s", until.UTC().Format(time.RFC3339))
	}
	d := info.Direction
	if s.mu.transient[d] >= MaxTransient {
		return nil, refused(id, ReasonTooManyPeers, "transient %v %d/%d", d, s.mu.transient[d], MaxTransient)
	}
	var undo func()
	if c := s.cfg.counter; c != nil {
		r, ok, why := c.Acquire(ip)
		if !ok {
			if r != nil {
				r()
			}
			return nil, refused(id, ReasonAddressCap, "%s", why)
		}
		undo = r
	}
	s.mu.transient[d]++
	done := false
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if done {
			return
		}
		done = true
		s.mu.transient[d]--
		if undo != nil {
			undo()
		}
	}, nil
}
