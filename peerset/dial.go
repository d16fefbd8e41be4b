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
