package peerset

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// mustPeer is the redial state of one must-connect peer. Guarded by Set.mu.
type mustPeer struct {
	addr     crypto.Address
	failures int       // consecutive failed attempts
	next     time.Time // when the next attempt is due (zero: now)
	dialing  bool      // handed out by DueRedials, no outcome reported yet
	dialAt   time.Time // when it was handed out
	up       bool      // connected
	upAt     time.Time // when it connected
	// failuresAtUp is failures when the peer connected: a connection
	// shorter than RedialStablePeriod resumes the backoff from there.
	failuresAtUp int
}

func (mp *mustPeer) connected(now time.Time) {
	mp.up, mp.upAt = true, now
	mp.dialing = false
	mp.failuresAtUp, mp.failures = mp.failures, 0
}

func (mp *mustPeer) disconnected(now time.Time, backoff func(int) time.Duration) {
	mp.up = false
	mp.dialing = false
	if now.Sub(mp.upAt) >= RedialStablePeriod {
		mp.failures, mp.failuresAtUp = 0, 0
		mp.next = now
		return
	}
	mp.failures = mp.failuresAtUp + 1
	mp.next = now.Add(backoff(mp.failures))
}

// due returns when mp may be handed out next.
func (mp *mustPeer) due() time.Time {
	if mp.dialing {
		return mp.dialAt.Add(RedialAttemptTimeout)
	}
	return mp.next
}

func checkMustConnect(self crypto.ID, a crypto.Address) error {
	switch {
	case a.ID.IsZero():
		return errors.New("needs a peer ID (ID@host:port)")
	case a.ID == self:
		return errors.New("is this node's own ID")
	case a.Host == "" || a.Port == 0:
		return errors.New("needs host:port")
	}
	return nil
}

// AddMustConnect makes addr.ID a must-connect peer dialed at addr: exempt
// from slots, caps, trimming and score bans, and redialed forever while
// disconnected (due at once). Adding a known one updates its address and
// keeps its schedule. A connected peer becomes must-connect in place and
// frees its slot. An automatic (score) ban on it is lifted; a ban from Ban
// stays. It fails for an address without an ID, this node's ID, beyond
// MaxMustConnect peers, or after Close. Safe for concurrent use.
func (s *Set) AddMustConnect(addr crypto.Address) error {
	if err := checkMustConnect(s.cfg.self, addr); err != nil {
		return fmt.Errorf("peerset: must-connect peer %v %w", addr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	id := addr.ID
	if mp := s.mu.must[id]; mp != nil {
		mp.addr = addr
		return nil
	}
	if len(s.mu.must) >= MaxMustConnect {
		return fmt.Errorf("peerset: more than %d must-connect peers", MaxMustConnect)
	}
	mp := &mustPeer{addr: addr}
	s.mu.must[id] = mp
	if _, ok := s.mu.scoreBans[id]; ok {
		delete(s.mu.scoreBans, id)
		if s.cfg.bans != nil {
			s.cfg.bans.Unban(id)
		}
	}
	if p := s.mu.peers[id]; p != nil {
		s.setMustLocked(p, true)
		mp.connected(p.ConnectedAt)
	}
	return nil
}

// RemoveMustConnect makes id an ordinary peer again and reports whether it
// was must-connect. A connected one stays connected and occupies a slot
// again (possibly above the limit until Trim or a disconnect). Safe for
// concurrent use.
func (s *Set) RemoveMustConnect(id crypto.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.must[id] == nil {
		return false
	}
	delete(s.mu.must, id)
	if p := s.mu.peers[id]; p != nil {
		s.setMustLocked(p, false)
	}
	return true
}

// IsMustConnect reports whether id is a must-connect peer.
func (s *Set) IsMustConnect(id crypto.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.must[id] != nil
}

// MustConnect returns the must-connect addresses, ordered by ID.
func (s *Set) MustConnect() []crypto.Address {
	s.mu.Lock()
	out := make([]crypto.Address, 0, len(s.mu.must))
	for _, mp := range s.mu.must {
		out = append(out, mp.addr)
	}
	s.mu.Unlock()
	sortAddrs(out)
	return out
}

// DueRedials returns, ordered by ID, the must-connect peers to dial now:
// disconnected, not banned, and due (never attempted, or their backoff has
// elapsed). Each is marked as being dialed and not returned again until the
// Node reports the outcome, RedialFailed or Admit, or RedialAttemptTimeout
// passes. The Node's redial service calls it when EarliestRedial says so.
// Safe for concurrent use.
func (s *Set) DueRedials(now time.Time) []crypto.Address {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil
	}
	var out []crypto.Address
	for id, mp := range s.mu.must {
		if mp.up || mp.due().After(now) {
			continue
		}
		if _, banned := s.bannedLocked(id, now); banned {
			continue
		}
		mp.dialing, mp.dialAt = true, now
		out = append(out, mp.addr)
	}
	sortAddrs(out)
	return out
}

// RedialFailed records a failed attempt to reach must-connect peer id
// (dial, handshake or admission failure) and returns when the next attempt
// is due: RedialBase doubled per consecutive failure, capped at RedialMax,
// minus up to RedialJitter of it at random. It returns the zero time when
// id is not must-connect or is connected. Safe for concurrent use.
func (s *Set) RedialFailed(id crypto.ID, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.mu.must[id]
	if mp == nil || mp.up {
		return time.Time{}
	}
	mp.dialing = false
	mp.failures++
	mp.next = now.Add(s.backoffLocked(mp.failures))
	return mp.next
}

// NextRedial returns when must-connect peer id is next handed out by
// DueRedials (now when it is due already); ok is false when id is not
// must-connect or is connected. Safe for concurrent use.
func (s *Set) NextRedial(id crypto.ID, now time.Time) (at time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mp := s.mu.must[id]
	if mp == nil || mp.up {
		return time.Time{}, false
	}
	return s.dueLocked(id, mp, now), true
}

// EarliestRedial returns the earliest time DueRedials will return a peer
// (now when one is due already), so the redial service can sleep until
// then; ok is false when every must-connect peer is connected (sleep until
// a disconnect or AddMustConnect). Safe for concurrent use.
func (s *Set) EarliestRedial(now time.Time) (at time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, mp := range s.mu.must {
		if mp.up {
			continue
		}
		t := s.dueLocked(id, mp, now)
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	return at, ok
}

// dueLocked returns when mp is due, not before now nor before a ban ends.
func (s *Set) dueLocked(id crypto.ID, mp *mustPeer, now time.Time) time.Time {
	t := mp.due()
	if until, banned := s.bannedLocked(id, now); banned && until.After(t) {
		t = until
	}
	if t.Before(now) {
		t = now
	}
	return t
}

// backoffLocked returns the jittered redial delay after n consecutive
// failures (n >= 1).
func (s *Set) backoffLocked(n int) time.Duration {
	d := s.cfg.redialBase
	for i := 1; i < n && d < s.cfg.redialMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.redialMax)
	var r float64
	if s.cfg.rng != nil {
		r = s.cfg.rng.Float64()
	} else {
		r = rand.Float64()
	}
	return d - time.Duration(float64(d)*RedialJitter*r)
}

func sortAddrs(a []crypto.Address) {
	slices.SortFunc(a, func(x, y crypto.Address) int { return bytes.Compare(x.ID[:], y.ID[:]) })
}
