package p2p

import (
	"sync"
	"time"
)

// msgKey is the part of a gossip message ID the seen-cache keeps: 16 bytes
// of SHA-256 make accidental collisions negligible at any cache size.
type msgKey [16]byte

// seenCache remembers gossip message IDs for a TTL, up to a bounded count;
// beyond the bound the oldest entries go first. Entries expire in insertion
// order because the TTL is constant, so a FIFO ring gives O(1) insert,
// lookup and expiry. It is safe for concurrent use.
type seenCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex // guards the fields below
	entries map[msgKey]time.Time
	ring    []seenEntry // FIFO of insertions, oldest at head
	head, n int
}

type seenEntry struct {
	key     msgKey
	expires time.Time
}

func newSeenCache(max int, ttl time.Duration) *seenCache {
	return &seenCache{ttl: ttl, max: max, entries: make(map[msgKey]time.Time, min(max, 1024)), ring: make([]seenEntry, max)}
}

// Add records key as seen at now and reports whether it was new.
func (s *seenCache) Add(key msgKey, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if _, ok := s.entries[key]; ok {
		return false
	}
	if s.n == s.max {
		s.pop()
	}
	exp := now.Add(s.ttl)
	s.entries[key] = exp
	s.ring[(s.head+s.n)%s.max] = seenEntry{key, exp}
	s.n++
	return true
}

// Has reports whether key was seen and has not expired.
func (s *seenCache) Has(key msgKey, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.entries[key]
	return ok && now.Before(exp)
}

// Len returns the number of remembered IDs.
func (s *seenCache) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *seenCache) expire(now time.Time) {
	for s.n > 0 && !now.Before(s.ring[s.head].expires) {
		s.pop()
	}
}

func (s *seenCache) pop() {
	e := s.ring[s.head]
	if exp, ok := s.entries[e.key]; ok && exp.Equal(e.expires) {
		delete(s.entries, e.key)
	}
	s.ring[s.head] = seenEntry{}
	s.head = (s.head + 1) % s.max
	s.n--
}
