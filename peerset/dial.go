package peerset

import (
	"net/netip"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/errs"
)

// BeginDial marks id as being dialed, so that one identity is dialed at
// most once at a time and never while connected. It returns
// errs.ErrConnected when id is connected and errs.ErrDialing when a dial to
// it is already in flight; otherwise the caller dials and calls done once
// the dial has ended (admitted or failed). done is idempotent. A zero id
// (the identity is learned at the handshake) is never tracked: BeginDial
// returns a no-op done. BeginDial complements CheckDial, which applies the
// admission policy.
func (s *Set) BeginDial(id crypto.ID) (done func(), err error) {
	if id.IsZero() {
		return func() {}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mu.peers[id]; ok {
		return nil, errs.ErrConnected
	}
	if s.mu.dialing[id] {
		return nil, errs.ErrDialing
	}
	s.mu.dialing[id] = true
	var ended bool
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !ended {
			ended = true
			delete(s.mu.dialing, id)
		}
	}, nil
}

// Busy reports whether id is connected or being dialed (between BeginDial
// and its done).
func (s *Set) Busy(id crypto.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, connected := s.mu.peers[id]
	return connected || s.mu.dialing[id]
}

// DialView returns a snapshot of what the Set would refuse to dial, for
// a dialer choosing from the peer book: IDs connected, being dialed or
// must-connect (dialed by the redial service), and network groups holding
// MaxOutboundPerGroup outbound peers already. It is a snapshot, for
// callbacks that run under another lock (the book's Pick): calling the Set
// there would invert the lock order, since the Set calls its BanList under
// its own lock.
func (s *Set) DialView() *DialView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := &DialView{
		busy:        make(map[crypto.ID]struct{}, len(s.mu.peers)+len(s.mu.dialing)+len(s.mu.must)),
		groups:      make(map[netip.Prefix]int, len(s.mu.groups)),
		maxPerGroup: s.cfg.maxPerGroup,
	}
	for id := range s.mu.peers {
		v.busy[id] = struct{}{}
	}
	for id := range s.mu.dialing {
		v.busy[id] = struct{}{}
	}
	for id := range s.mu.must {
		v.busy[id] = struct{}{}
	}
	for g, n := range s.mu.groups {
		v.groups[g] = n
	}
	return v
}

// DialView is what the Set would refuse to dial at the time of its
// snapshot (Set.DialView), plus the dials its holder has chosen since
// (Take). It is not safe for concurrent use: one dialer fills it in one
// round.
type DialView struct {
	busy        map[crypto.ID]struct{}
	groups      map[netip.Prefix]int // outbound slot peers per group, plus Take's
	maxPerGroup int                  // -1: no limit
}

// Busy reports whether id was connected, being dialed or must-connect, or
// has been taken since.
func (v *DialView) Busy(id crypto.ID) bool {
	_, ok := v.busy[id]
	return ok
}

// Refuses reports whether a dial to id at ip would be refused for a reason
// the view knows: id is busy, or ip's network group holds its share of
// outbound peers (counting the dials taken). An invalid ip (a DNS name,
// resolved at the dial) skips the group check, as CheckDial does.
func (v *DialView) Refuses(id crypto.ID, ip netip.Addr) bool {
	if v.Busy(id) {
		return true
	}
	return ip.IsValid() && v.maxPerGroup >= 0 && v.groups[Group(ip)] >= v.maxPerGroup
}

// Take records that the holder dials id at ip, so that Refuses counts it:
// one round does not dial one identity twice, nor more of a group than its
// share.
func (v *DialView) Take(id crypto.ID, ip netip.Addr) {
	v.busy[id] = struct{}{}
	if ip.IsValid() {
		v.groups[Group(ip)]++
	}
}
