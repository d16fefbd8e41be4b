package p2p

import (
	"sync"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// msgKey is the part of a gossip message ID the seen-cache keeps: 16 bytes
// of SHA-256 make accidental collisions negligible at any cache size.
type msgKey [16]byte

// seenResult is what seenCache.Add did with an ID.
type seenResult uint8

const (
	// seenNew: the ID was new and is now remembered.
	seenNew seenResult = iota
	// seenDuplicate: the ID was already remembered.
	seenDuplicate
	// seenRefused: the ID was new but not remembered, because its source
	// is over its budget or the cache is full.
	seenRefused
)

// seenCache remembers gossip message IDs for a TTL, up to a bounded count.
// An entry leaves only when its TTL ends: nothing a peer sends can push
// another entry out early, so a message cannot be replayed within its TTL
// by flooding the cache. Each entry is charged to the source that brought
// it first (a peer, or the node itself); a source over its budget, or any
// source when the cache is full, has its new IDs refused, and the caller
// drops those messages. Entries expire in insertion order because the TTL
// is constant, so a FIFO ring gives O(1) insert, lookup and expiry. It is
// safe for concurrent use.
type seenCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex       // guards the fields below
	entries map[msgKey]int64 // expiry, Unix ns
	bySrc   map[crypto.ID]int
	ring    []seenEntry // FIFO of insertions, oldest at head
	head, n int
}

type seenEntry struct {
	key     msgKey
	src     crypto.ID
	expires int64 // Unix ns
}

func newSeenCache(max int, ttl time.Duration) *seenCache {
	return &seenCache{ttl: ttl, max: max, entries: make(map[msgKey]int64, min(max, 1024)),
		bySrc: map[crypto.ID]int{}, ring: make([]seenEntry, max)}
}

// Add records key as seen at now, charged to src, unless src already holds
// budget entries or the cache is full.
func (s *seenCache) Add(key msgKey, src crypto.ID, budget int, now time.Time) seenResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := now.UnixNano()
	s.expire(t)
	if _, ok := s.entries[key]; ok {
		return seenDuplicate
	}
	if s.n == s.max || s.bySrc[src] >= budget {
		return seenRefused
	}
	exp := t + int64(s.ttl)
	s.entries[key] = exp
	s.bySrc[src]++
	s.ring[(s.head+s.n)%s.max] = seenEntry{key, src, exp}
	s.n++
	return seenNew
}

// Has reports whether key was seen and has not expired.
func (s *seenCache) Has(key msgKey, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.entries[key]
	return ok && now.UnixNano() < exp
}

// Len returns the number of remembered IDs.
func (s *seenCache) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Held returns how many remembered IDs are charged to src.
func (s *seenCache) Held(src crypto.ID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySrc[src]
}

func (s *seenCache) expire(now int64) {
	for s.n > 0 && now >= s.ring[s.head].expires {
		e := s.ring[s.head]
		delete(s.entries, e.key) // keys are unique in the ring: no early eviction, no re-insertion while present
		if c := s.bySrc[e.src]; c <= 1 {
			delete(s.bySrc, e.src)
		} else {
			s.bySrc[e.src] = c - 1
		}
		s.ring[s.head] = seenEntry{}
		s.head = (s.head + 1) % s.max
		s.n--
	}
}
