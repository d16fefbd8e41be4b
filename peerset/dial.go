package peerset

import (
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

// DialExclusions returns the IDs a dialer picking from the peer book skips:
// connected, being dialed, or must-connect (dialed by the redial service).
// It is a snapshot, for callbacks that run under another lock (the book's
// Pick): calling the Set there would invert the lock order, since the Set
// calls its BanList under its own lock.
func (s *Set) DialExclusions() map[crypto.ID]struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[crypto.ID]struct{}, len(s.mu.peers)+len(s.mu.dialing)+len(s.mu.must))
	for id := range s.mu.peers {
		out[id] = struct{}{}
	}
	for id := range s.mu.dialing {
		out[id] = struct{}{}
	}
	for id := range s.mu.must {
		out[id] = struct{}{}
	}
	return out
}
