package peerset

import (
	"bytes"
	"cmp"
	"slices"
	"time"
)

// Trim enforces the watermarks: when more than Config.HighWatermark peers
// occupy slots (must-connect peers do not), it removes peers until
// Config.LowWatermark remain, or until none is eligible, and returns them
// for the Node to close with ReasonTrimmed. Eligible are peers that are not
// must-connect and connected at least Config.GracePeriod before now. Victims
// go lowest score first; among equal scores inbound before outbound (we
// chose our outbound peers for diversity), then the most recently
// connected first, then by ID bytewise, so the choice is deterministic.
// Victims' scores are remembered. Trim returns nil when nothing is to be
// done, without allocating. Safe for concurrent use.
func (s *Set) Trim(now time.Time) []*Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.mu.in + s.mu.out
	if s.cfg.high < 0 || n <= s.cfg.high {
		return nil
	}
	cands := s.mu.scratch[:0]
	for _, p := range s.mu.peers {
		if !p.must && now.Sub(p.ConnectedAt) >= s.cfg.grace {
			cands = append(cands, p)
		}
	}
	slices.SortFunc(cands, trimOrder)
	k := min(n-s.cfg.low, len(cands))
	var victims []*Peer
	if k > 0 {
		victims = make([]*Peer, k)
		copy(victims, cands)
		for _, p := range victims {
			s.dropLocked(p, now)
		}
	}
	clear(cands) // do not keep removed peers alive
	s.mu.scratch = cands[:0]
	return victims
}

// trimOrder orders trimming candidates, first victim first.
func trimOrder(a, b *Peer) int {
	if c := cmp.Compare(a.score, b.score); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Direction, b.Direction); c != 0 {
		return c // Inbound < Outbound
	}
	if c := b.ConnectedAt.Compare(a.ConnectedAt); c != 0 {
		return c // newer first
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}
