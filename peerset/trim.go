package peerset

import (
	"bytes"
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
// Victims' scores are remembered.
//
// Trim costs O(n log k) for n peers and k victims, and returns nil when
// nothing is to be done, without allocating. Safe for concurrent use.
func (s *Set) Trim(now time.Time) []*Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.mu.in + s.mu.out
	if s.cfg.high < 0 || n <= s.cfg.high {
		return nil
	}
	k := n - s.cfg.low
	// h keeps the k first victims seen so far as a heap whose root is the
	// last of them, so each further candidate costs one comparison unless
	// it displaces the root.
	h := s.mu.scratch[:0]
	for _, p := range s.mu.peers {
		if p.must || now.Sub(p.ConnectedAt) < s.cfg.grace {
			continue
		}
		if len(h) < k {
			h = append(h, p)
			heapUp(h, len(h)-1)
		} else if trimOrder(p, h[0]) < 0 {
			h[0] = p
			heapDown(h, 0)
		}
	}
	var victims []*Peer
	if len(h) > 0 {
		victims = slices.Clone(h)
		slices.SortFunc(victims, trimOrder)
		for _, p := range victims {
			s.dropLocked(p, now)
		}
	}
	clear(h) // do not keep removed peers alive
	s.mu.scratch = h[:0]
	return victims
}

// trimOrder orders trimming candidates, first victim first.
func trimOrder(a, b *Peer) int {
	switch {
	case a.score < b.score:
		return -1
	case a.score > b.score:
		return 1
	case a.Direction != b.Direction:
		return int(a.Direction) - int(b.Direction) // Inbound first
	}
	if c := b.ConnectedAt.Compare(a.ConnectedAt); c != 0 {
		return c // newer first
	}
	return bytes.Compare(a.ID[:], b.ID[:])
}

// heapUp and heapDown maintain h as a heap with the last victim (by
// trimOrder) at the root.
func heapUp(h []*Peer, i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if trimOrder(h[i], h[parent]) <= 0 {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func heapDown(h []*Peer, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && trimOrder(h[r], h[l]) > 0 {
			c = r
		}
		if trimOrder(h[c], h[i]) <= 0 {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
