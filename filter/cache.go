package filter

import (
	"encoding/binary"
	"net/netip"
	"sync"
)

// countryCache maps addresses to country indexes (-1: unknown). It is
// bounded: a full shard drops an arbitrary entry (Go's map iteration starts at
// a random position) to make room. Safe for concurrent use; get and put do
// not allocate once a shard's map has grown to its bound.
type countryCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	sync.Mutex // protects m
	m          map[netip.Addr]int16
	_          [40]byte // keep shards on separate cache lines
}

func newCountryCache(size int) *countryCache {
	c := &countryCache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[netip.Addr]int16, c.perShard)
	}
	return c
}

func (c *countryCache) shard(a netip.Addr) *cacheShard {
	b := a.As16()
	x := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])
	x *= 0x9e3779b97f4a7c15 // Fibonacci hashing: the top bits mix every input bit
	return &c.shards[x>>(64-cacheShardBits)]
}

func (c *countryCache) get(a netip.Addr) (int16, bool) {
	s := c.shard(a)
	s.Lock()
	v, ok := s.m[a]
	s.Unlock()
	return v, ok
}

func (c *countryCache) put(a netip.Addr, v int16) {
	s := c.shard(a)
	s.Lock()
	if _, ok := s.m[a]; !ok && len(s.m) >= c.perShard {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[a] = v
	s.Unlock()
}
