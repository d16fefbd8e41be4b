package dht

import (
	"bytes"
	"cmp"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerbook"
)

// Distance returns the XOR distance of two IDs.
func Distance(a, b crypto.ID) (d crypto.ID) {
	for i := range a {
		d[i] = a[i] ^ b[i]
	}
	return d
}

// CommonPrefixLen returns how many leading bits a and b share (IDBits if
// they are equal): the index of the bucket b takes in a's table.
func CommonPrefixLen(a, b crypto.ID) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return IDBits
}

// Closer reports whether a is strictly closer to target than b.
func Closer(target, a, b crypto.ID) bool {
	da, db := Distance(target, a), Distance(target, b)
	return bytes.Compare(da[:], db[:]) < 0
}

// SortByDistance sorts ids by distance to target, closest first.
func SortByDistance(target crypto.ID, ids []crypto.ID) {
	slices.SortFunc(ids, func(a, b crypto.ID) int {
		da, db := Distance(target, a), Distance(target, b)
		return bytes.Compare(da[:], db[:])
	})
}

// Limits are the table's IP diversity bounds. An address inside one of
// Exempt is not counted (explicit configuration only: nothing, not even
// loopback or a LAN, is exempt by default).
type Limits struct {
	PerBucket24   int // entries of one IPv4 /24 or IPv6 /48 in one bucket
	PerTable24    int // entries of one IPv4 /24 or IPv6 /48 in the table
	PerTableGroup int // entries of one network group (IPv4 /16, IPv6 /32 by default) in the table
	// ResultPer24 and ResultPerGroup bound the nodes of one /24 (/48) and
	// of one /16 (/32) among a lookup's closest nodes and results.
	ResultPer24, ResultPerGroup int
	// IPv4GroupBits and IPv6GroupBits are the prefix lengths of a network
	// group (1–32, 1–128), as the peer book's (peerbook.Config); 0 means
	// peerbook.DefaultIPv4GroupBits (16) and DefaultIPv6GroupBits (32).
	IPv4GroupBits, IPv6GroupBits int
	Exempt                       []netip.Prefix
}

// DefaultLimits returns the default diversity bounds.
func DefaultLimits() Limits {
	return Limits{PerBucket24: DefaultPerBucket24, PerTable24: DefaultPerTable24, PerTableGroup: DefaultPerTableGroup,
		ResultPer24: DefaultResultPerGroup, ResultPerGroup: DefaultResultPerGroup}
}

// Contact is a table entry: a node's record and the address at which an
// outbound request to it succeeded.
type Contact struct {
	Record   *Record
	Addr     netip.AddrPort
	Added    time.Time
	LastSeen time.Time
	// Fails counts consecutive failed revalidation pings.
	Fails int
	// id is Record.ID, kept here so that a scan of the table (Closest,
	// indexOf) reads no record: with many tables in one process (the
	// simulator) each record read was a cache miss.
	id crypto.ID
}

// ID returns the contact's peer ID.
func (c *Contact) ID() crypto.ID { return c.Record.ID }

type bucket struct {
	entries []*Contact // most recently seen first
	repl    []*Contact // replacement cache, newest first
}

// AddResult says what Table.Add did.
type AddResult uint8

// Add results.
const (
	Added       AddResult = iota // a new entry
	Updated                      // a known entry, seen again (its record kept if newer)
	Replacement                  // the bucket is full: kept in its replacement cache
	Refused                      // over a diversity bound, or our own ID
)

// Table is a Kademlia routing table. It is safe for concurrent use.
type Table struct {
	self   crypto.ID
	limits Limits

	mu      sync.Mutex
	buckets [IDBits]bucket
	n24     map[netip.Prefix]int
	nGroup  map[netip.Prefix]int
	size    int
	refused uint64
}

// NewTable returns an empty table for the node self.
func NewTable(self crypto.ID, limits Limits) *Table {
	return &Table{self: self, limits: limits, n24: map[netip.Prefix]int{}, nGroup: map[netip.Prefix]int{}}
}

// prefixes returns the /24 (/48) and group prefixes of ip, and whether ip
// is counted at all.
func (t *Table) prefixes(ip netip.Addr) (p24, group netip.Prefix, counted bool) {
	ip = ip.Unmap()
	for _, e := range t.limits.Exempt {
		if e.Contains(ip) {
			return p24, group, false
		}
	}
	if ip.Is4() {
		p24, _ = ip.Prefix(24)
		group, _ = ip.Prefix(cmp.Or(t.limits.IPv4GroupBits, peerbook.DefaultIPv4GroupBits))
	} else {
		p24, _ = ip.Prefix(48)
		group, _ = ip.Prefix(cmp.Or(t.limits.IPv6GroupBits, peerbook.DefaultIPv6GroupBits))
	}
	return p24, group, true
}

// fits reports whether an entry at addr may join bucket b under the
// diversity bounds.
func (t *Table) fits(b *bucket, addr netip.AddrPort) bool {
	p24, group, counted := t.prefixes(addr.Addr())
	if !counted {
		return true
	}
	if t.n24[p24] >= t.limits.PerTable24 || t.nGroup[group] >= t.limits.PerTableGroup {
		return false
	}
	n := 0
	for _, e := range b.entries {
		if q, _, ok := t.prefixes(e.Addr.Addr()); ok && q == p24 {
			n++
		}
	}
	return n < t.limits.PerBucket24
}

func (t *Table) count(addr netip.AddrPort, d int) {
	p24, group, counted := t.prefixes(addr.Addr())
	if !counted {
		return
	}
	t.n24[p24] += d
	t.nGroup[group] += d
	if t.n24[p24] == 0 {
		delete(t.n24, p24)
	}
	if t.nGroup[group] == 0 {
		delete(t.nGroup, group)
	}
}

func (t *Table) bucketOf(id crypto.ID) *bucket {
	return &t.buckets[CommonPrefixLen(t.self, id)]
}

// Add records that an outbound request to rec's node at addr succeeded
// now. A known entry is moved to the front of its bucket (its record
// replaced only by a newer one; a changed address only within the
// bounds). A new node enters a bucket with room if the diversity bounds
// allow (a full one too, up to MaxBucketSize, if the node would be one of
// our BucketSize closest entries), and otherwise waits in the bucket's
// replacement cache: a full bucket never evicts an entry for a newcomer.
func (t *Table) Add(rec *Record, addr netip.AddrPort, now time.Time) AddResult {
	if rec.ID == t.self {
		return Refused
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucketOf(rec.ID)
	if i := indexOf(b.entries, rec.ID); i >= 0 {
		e := b.entries[i]
		if rec.Seq >= e.Record.Seq {
			e.Record = rec
		}
		if addr != e.Addr {
			t.count(e.Addr, -1)
			b.entries = slices.Delete(b.entries, i, i+1)
			if t.fits(b, addr) {
				e.Addr = addr
			}
			t.count(e.Addr, +1)
		} else {
			b.entries = slices.Delete(b.entries, i, i+1)
		}
		e.LastSeen, e.Fails = now, 0
		b.entries = slices.Insert(b.entries, 0, e)
		return Updated
	}
	if !t.fits(b, addr) {
		t.refused++
		return Refused
	}
	c := &Contact{Record: rec, Addr: addr, Added: now, LastSeen: now, id: rec.ID}
	if len(b.entries) < BucketSize || (len(b.entries) < MaxBucketSize && t.neighbourLocked(rec.ID)) {
		b.entries = slices.Insert(b.entries, 0, c)
		t.count(addr, +1)
		t.size++
		return Added
	}
	if i := indexOf(b.repl, rec.ID); i >= 0 {
		b.repl = slices.Delete(b.repl, i, i+1)
	}
	b.repl = slices.Insert(b.repl, 0, c)
	if len(b.repl) > ReplacementSize {
		b.repl = b.repl[:ReplacementSize]
	}
	return Replacement
}

// neighbourLocked reports whether id would be one of the BucketSize
// entries closest to us: those are kept even when their bucket is full
// (up to MaxBucketSize), as the bucket holding our own ID splits in
// Kademlia, so a node always knows its neighbourhood. Nothing is evicted.
func (t *Table) neighbourLocked(id crypto.ID) bool {
	i := CommonPrefixLen(t.self, id)
	closer := 0
	for j := i + 1; j < IDBits; j++ {
		closer += len(t.buckets[j].entries)
	}
	for _, e := range t.buckets[i].entries {
		if Closer(t.self, e.Record.ID, id) {
			closer++
		}
	}
	return closer < BucketSize
}

func indexOf(cs []*Contact, id crypto.ID) int {
	for i, c := range cs {
		if c.id == id {
			return i
		}
	}
	return -1
}

// Failed records a failed ping of id. After maxFailures consecutive ones
// the entry is removed and the newest replacement that fits the bounds
// takes its slot; Failed reports whether it was removed.
func (t *Table) Failed(id crypto.ID, maxFailures int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucketOf(id)
	i := indexOf(b.entries, id)
	if i < 0 {
		if j := indexOf(b.repl, id); j >= 0 {
			b.repl = slices.Delete(b.repl, j, j+1)
		}
		return false
	}
	e := b.entries[i]
	e.Fails++
	if e.Fails < maxFailures {
		return false
	}
	t.removeLocked(b, i)
	return true
}

// Remove drops id from the table (and its replacement caches), promoting
// a replacement into a freed slot.
func (t *Table) Remove(id crypto.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucketOf(id)
	if j := indexOf(b.repl, id); j >= 0 {
		b.repl = slices.Delete(b.repl, j, j+1)
	}
	i := indexOf(b.entries, id)
	if i < 0 {
		return false
	}
	t.removeLocked(b, i)
	return true
}

func (t *Table) removeLocked(b *bucket, i int) {
	e := b.entries[i]
	b.entries = slices.Delete(b.entries, i, i+1)
	t.count(e.Addr, -1)
	t.size--
	for j, r := range b.repl {
		if t.fits(b, r.Addr) {
			b.repl = slices.Delete(b.repl, j, j+1)
			r.Fails = 0
			b.entries = append(b.entries, r) // least recently seen: revalidated next
			t.count(r.Addr, +1)
			t.size++
			return
		}
	}
}

// Oldest returns a copy of the least recently seen entry of bucket i, if
// the bucket has any.
func (t *Table) Oldest(i int) (Contact, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := &t.buckets[i]
	if len(b.entries) == 0 {
		return Contact{}, false
	}
	return *b.entries[len(b.entries)-1], true
}

// Closest returns copies of the n entries closest to target, closest first.
//
// Every FIND_NODE answered and every lookup started calls it, so it does
// not sort the whole table: each entry's distance is computed once and
// only the n best so far are kept in order (distinct IDs have distinct
// distances, so the result is the one a full sort gives).
func (t *Table) Closest(target crypto.ID, n int) []Contact {
	type cand struct {
		d crypto.ID
		e *Contact
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n = max(0, min(n, t.size))
	cmpCand := func(c cand, d crypto.ID) int { return bytes.Compare(c.d[:], d[:]) }
	best := make([]cand, 0, n)
	if n == t.size { // all of them (Entries): one sort
		for i := range t.buckets {
			for _, e := range t.buckets[i].entries {
				best = append(best, cand{Distance(target, e.id), e})
			}
		}
		slices.SortFunc(best, func(a, b cand) int { return cmpCand(a, b.d) })
	} else {
		for i := range t.buckets {
			for _, e := range t.buckets[i].entries {
				d := Distance(target, e.id)
				if len(best) == n && (n == 0 || bytes.Compare(d[:], best[n-1].d[:]) >= 0) {
					continue
				}
				j, _ := slices.BinarySearchFunc(best, d, cmpCand)
				if len(best) == n {
					best = best[:n-1]
				}
				best = slices.Insert(best, j, cand{d, e})
			}
		}
	}
	out := make([]Contact, len(best))
	for i, c := range best {
		out[i] = *c.e
	}
	return out
}

// Get returns a copy of id's entry, if it is one.
func (t *Table) Get(id crypto.ID) (Contact, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucketOf(id)
	if i := indexOf(b.entries, id); i >= 0 {
		return *b.entries[i], true
	}
	return Contact{}, false
}

// Contains reports whether id is an entry (not a replacement).
func (t *Table) Contains(id crypto.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return indexOf(t.bucketOf(id).entries, id) >= 0
}

// Known reports whether id is an entry or waits in a replacement cache.
func (t *Table) Known(id crypto.ID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucketOf(id)
	return indexOf(b.entries, id) >= 0 || indexOf(b.repl, id) >= 0
}

// Len returns the number of entries.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.size
}

// TableStats describes a table.
type TableStats struct {
	// Entries and Replacements are the table's sizes; Buckets counts the
	// non-empty buckets.
	Entries, Replacements, Buckets int
	// Refused counts additions refused by a diversity bound.
	Refused uint64
	// Depth is one more than the highest non-empty bucket's index (0 for
	// an empty table).
	Depth int
}

// Stats returns the table's sizes.
func (t *Table) Stats() TableStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := TableStats{Entries: t.size, Refused: t.refused}
	for i := range t.buckets {
		b := &t.buckets[i]
		s.Replacements += len(b.repl)
		if len(b.entries) > 0 {
			s.Buckets++
			s.Depth = i + 1
		}
	}
	return s
}

// Entries returns copies of all entries, bucket by bucket.
func (t *Table) Entries() []Contact {
	return t.Closest(t.self, IDBits*BucketSize)
}
