package peerbook

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// Book is the bounded, bucketed, persistent book of known peers. It is safe
// for concurrent use; every method takes one lock for a bounded amount of
// work, except Entries, Bans, Save and Open, which are O(n).
type Book struct {
	cfg    Config // immutable after construction
	deps   Deps   // immutable after construction, defaults filled in
	path   string // "" for a book made by New
	secret [32]byte

	done      chan struct{} // closed by Close; ends Run
	closeOnce sync.Once

	save struct {
		sync.Mutex        // serialises Save; protects gen
		gen        uint64 // generation of the last successful save
	}
	afterSave func()     // test hook called by Run after each save; nil normally
	saveSt    saveStatus // SaveStatus's record of the saves

	mu struct {
		sync.Mutex // protects everything below
		byID       map[crypto.ID]*entry
		slots      [3][]*entry // by table; slots[tableNone] is unused
		all        []*entry
		ready      [3][]*entry
		waiting    waitHeap
		count      [3]int               // entries per table
		protected  map[crypto.ID]*entry // must-connect entries, outside the tables
		local      map[crypto.ID]*entry // entries with a local source (SourceLocal), not protected
		bans       map[crypto.ID]banInfo
		ipBans     map[netip.Prefix]banInfo // masked, IPv4 unmapped
		ipBanLens4 []uint8                  // prefix lengths in ipBans, IPv4
		ipBanLens6 []uint8                  // and IPv6, ascending
		pexOut     map[crypto.ID]pexAsk     // outstanding PEX requests per peer
		known      map[netip.Addr]int       // tried and protected entries per IP (KnownIP)
		rng        *rand.Rand
		gen        uint64 // bumped by every change worth saving
		closed     bool
	}
}

// New returns an empty in-memory Book with the settings cfg, wired to deps.
// Its Save returns ErrNoPath; use Open for a book backed by a file.
func New(cfg Config, deps Deps) (*Book, error) {
	b, err := newBook(cfg, deps)
	if err != nil {
		return nil, err
	}
	if err := b.newSecret(); err != nil {
		return nil, err
	}
	return b, nil
}

func newBook(cfg Config, deps Deps) (*Book, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	deps = deps.withDefaults()
	b := &Book{cfg: cfg, deps: deps, done: make(chan struct{})}
	var seed [32]byte
	if _, err := io.ReadFull(deps.Rand, seed[:]); err != nil {
		return nil, fmt.Errorf("peerbook: reading Deps.Rand: %w", err)
	}
	b.mu.rng = rand.New(rand.NewChaCha8(seed))
	b.reset()
	return b, nil
}

// reset empties the book's state (not its secret).
func (b *Book) reset() {
	m := &b.mu
	m.byID = make(map[crypto.ID]*entry)
	m.slots[tableNew] = make([]*entry, b.cfg.NewBuckets*b.cfg.BucketSize)
	m.slots[tableTried] = make([]*entry, b.cfg.TriedBuckets*b.cfg.BucketSize)
	m.all, m.ready[tableNew], m.ready[tableTried], m.waiting = nil, nil, nil, nil
	m.count = [3]int{}
	m.protected = make(map[crypto.ID]*entry)
	m.local = make(map[crypto.ID]*entry)
	m.bans = make(map[crypto.ID]banInfo)
	m.ipBans = make(map[netip.Prefix]banInfo)
	m.ipBanLens4, m.ipBanLens6 = nil, nil
	m.pexOut = make(map[crypto.ID]pexAsk)
	m.known = make(map[netip.Addr]int)
}

func (b *Book) newSecret() error {
	if _, err := io.ReadFull(b.deps.Rand, b.secret[:]); err != nil {
		return fmt.Errorf("peerbook: reading Deps.Rand: %w", err)
	}
	return nil
}

func (b *Book) touch() { b.mu.gen++ }

// Add records addr, learned from src, as a candidate for dialing. addr must
// be in the canonical form crypto.ParseAddress returns. It is for
// bootstrap, manual, inbound and local sources; PEX responses go through
// IngestPex.
//
// A local source (SourceLocal, an mDNS answer) is checked like a peer's
// report: routability (private addresses admitted, see SourceLocal),
// DNS names only with Config.AllowNetworkNames, Deps.Filter's AllowPEX,
// self and bans. It never changes a known peer's address; re-adding the
// same address refreshes its last-seen time, which ExpireLocal reads.
// Beyond MaxLocal local entries it returns ErrLocalFull.
//
// A new peer enters the new table if its slot is free (or held by a failing
// entry) and the book has room. For a known peer, a bootstrap or manual
// source replaces the address; so does an inbound source (the peer's own
// authenticated word) unless the entry is protected; a PEX source never
// does. Add returns nil if the peer is stored, and otherwise ErrSelf,
// ErrBanned, ErrInvalidAddress, ErrUnroutable or ErrNetworkName (inbound
// sources only, the latter for a DNS name while Config.AllowNetworkNames
// is off; the operator's own addresses are trusted), ErrBucketFull or
// ErrBookFull.
func (b *Book) Add(addr crypto.Address, src Source) error {
	ip, err := validAddress(addr)
	if err != nil {
		return err
	}
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	switch src.Kind {
	case SourceInbound, SourcePEX:
		if r := b.checkHost(addr.Host, ip); r != ignoreNone {
			return r.err()
		}
	case SourceLocal:
		if r := b.checkLocal(addr.Host, ip); r != ignoreNone {
			return r.err()
		}
	}
	r := b.addLocked(addr, ip, src, now)
	if r == IgnoreKnown {
		return nil
	}
	return r.err()
}

// validAddress checks that addr is what crypto.ParseAddress would return for
// its string form, and returns its IP (zero for a DNS name). IP hosts are
// checked without allocating.
func validAddress(addr crypto.Address) (netip.Addr, error) {
	if addr.ID.IsZero() || addr.Port == 0 || addr.Host == "" {
		return netip.Addr{}, fmt.Errorf("%w: %q needs an ID, a host and a port", ErrInvalidAddress, addr.String())
	}
	if ip, err := netip.ParseAddr(addr.Host); err == nil {
		var buf [64]byte
		if ip.Zone() != "" || ip.Is4In6() || string(ip.AppendTo(buf[:0])) != addr.Host {
			return netip.Addr{}, fmt.Errorf("%w: host %q is not in canonical form", ErrInvalidAddress, addr.Host)
		}
		return ip, nil
	}
	p, err := crypto.ParseAddress(addr.String())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %v", ErrInvalidAddress, err)
	}
	if p != addr {
		return netip.Addr{}, fmt.Errorf("%w: %q is not in canonical form (%q)", ErrInvalidAddress, addr.String(), p.String())
	}
	ap, _ := addr.AddrPort()
	return ap.Addr(), nil
}

// checkHost applies the rules for addresses reported by peers: an IP must
// be routable (unless allowed); a DNS name must be allowed at all
// (Config.AllowNetworkNames), since it can be checked only once resolved,
// and must not plainly stay local.
func (b *Book) checkHost(host string, ip netip.Addr) IgnoreReason {
	if ip.IsValid() {
		return b.checkIP(ip)
	}
	if r := b.checkName(host); r != ignoreNone {
		return r
	}
	if !b.cfg.AllowNetworkNames {
		return IgnoreName
	}
	return ignoreNone
}

// CheckIP reports whether an address of ip reported by a peer may be used
// under the configuration's routability rules (AllowLoopback,
// AllowPrivate): nil, or ErrUnroutable. The node applies it to every
// address a peer-reported DNS name resolves to before dialing it. It is
// safe for concurrent use and does not lock the book.
func (b *Book) CheckIP(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid IP", ErrInvalidAddress)
	}
	return b.checkIP(ip).err()
}

// networkName reports whether an entry of ip (zero for a DNS name) from
// src is a name reported by a peer that the configuration does not allow.
// Every source other than the operator's counts as a peer's.
func (b *Book) networkName(ip netip.Addr, src Source) bool {
	if ip.IsValid() || b.cfg.AllowNetworkNames {
		return false
	}
	return src.Kind != SourceBootstrap && src.Kind != SourceManual
}

// srcGroupOf returns the source group for an address of host reported by src.
func (b *Book) srcGroupOf(src Source, host string) groupKey {
	switch src.Kind {
	case SourcePEX:
		if src.Host != "" {
			return b.groupOf(src.Host)
		}
		return peerGroup(src.From)
	case SourceInbound, SourceDHT:
		if src.Host != "" {
			return b.groupOf(src.Host)
		}
		return b.groupOf(host)
	case SourceLocal:
		g := b.groupOf("")
		g[1] = 1 // a group of its own, apart from the operator's
		return g
	}
	return b.groupOf("")
}

// addLocked stores addr or says why not. IgnoreKnown means the peer was
// already there with this address, or with another one that src may not
// replace.
func (b *Book) addLocked(addr crypto.Address, ip netip.Addr, src Source, now time.Time) IgnoreReason {
	m := &b.mu
	id := addr.ID
	if id == b.deps.SelfID {
		return IgnoreSelf
	}
	if b.isBannedLocked(id, ip, now) {
		return IgnoreBanned
	}
	if e, ok := m.byID[id]; ok {
		if e.addr == addr || src.Kind == SourcePEX || src.Kind == SourceLocal || src.Kind == SourceDHT || src.Kind == SourceUnknown ||
			(src.Kind == SourceInbound && e.protected) {
			if src.Kind != SourcePEX && e.addr == addr {
				e.lastSeen = now
				b.touch()
			}
			return IgnoreKnown
		}
		return b.readdress(e, addr, ip, src, now)
	}
	e := &entry{
		addr: addr, ip: ip, src: src, unverified: src.Kind == SourceInbound,
		group:     b.groupOf(addr.Host),
		srcGroup:  b.srcGroupOf(src, addr.Host),
		firstSeen: now, lastSeen: now,
		pos: -1, allIdx: -1, readyIdx: -1, heapIdx: -1,
	}
	if src.Kind == SourceLocal && len(m.local) >= MaxLocal {
		return IgnoreLocalFull
	}
	pos := b.freeSlot(b.newPos(e))
	if r := b.makeRoomNew(pos, now); r != ignoreNone {
		return r
	}
	m.byID[id] = e
	if src.Kind == SourceLocal {
		m.local[id] = e
	}
	b.link(e, tableNew, pos, now)
	b.touch()
	return ignoreNone
}

// freeSlot returns the slot an address takes in the new table, given its
// hashed slot pos: pos if it is free, else the next free slot of the same
// bucket, else pos (and the usual rules decide). On a small network (one
// host, one LAN) every address shares one network group and one source
// group, so all hash into one bucket, and a hashed collision dropped a
// newcomer that the rest of the network then never learned of (the 8-node
// demo lost a node about 1 run in 8). Buckets, chosen by group, are what
// bound an attacker's share; a free slot of a bucket is no one's.
func (b *Book) freeSlot(pos int) int {
	size := b.cfg.BucketSize
	start := pos - pos%size
	for i := range size {
		if p := start + (pos-start+i)%size; b.mu.slots[tableNew][p] == nil {
			return p
		}
	}
	return pos
}

// readdress gives the known peer e a new address from src. The peer starts
// over in the new table at its new position (its success and failure
// history was for the old address); if that slot is taken, nothing changes.
func (b *Book) readdress(e *entry, addr crypto.Address, ip netip.Addr, src Source, now time.Time) IgnoreReason {
	upd := *e
	if e.src.Kind == SourceLocal && src.Kind != SourceLocal {
		delete(b.mu.local, e.addr.ID)
	}
	upd.addr, upd.ip, upd.src = addr, ip, src
	upd.unverified = src.Kind == SourceInbound
	upd.group = b.groupOf(addr.Host)
	upd.srcGroup = b.srcGroupOf(src, addr.Host)
	upd.lastSeen = now
	upd.failures, upd.nextAttempt = 0, time.Time{}
	if e.protected {
		b.noteKnown(e.ip, -1)
		*e = upd
		b.noteKnown(e.ip, 1)
		b.touch()
		return ignoreNone
	}
	pos := b.newPos(&upd)
	if occ := b.mu.slots[tableNew][pos]; occ != nil && occ != e && !b.terrible(occ, now) {
		return IgnoreBucketFull
	}
	b.unlink(e)
	if occ := b.mu.slots[tableNew][pos]; occ != nil {
		b.evict(occ)
	}
	upd.table, upd.pos, upd.allIdx, upd.readyIdx, upd.heapIdx = tableNone, -1, -1, -1, -1
	*e = upd
	b.link(e, tableNew, pos, now)
	b.touch()
	return ignoreNone
}

// Remove deletes the peer, protected or not, and reports whether it was
// there. Bans on it stay.
func (b *Book) Remove(id crypto.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.mu.byID[id]
	if ok {
		b.evict(e)
		b.touch()
	}
	return ok
}

// Get returns a snapshot of the peer's entry.
func (b *Book) Get(id crypto.ID) (Entry, bool) {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.mu.byID[id]
	if !ok {
		return Entry{}, false
	}
	return b.snapshotLocked(e, now), true
}

func (b *Book) snapshotLocked(e *entry, now time.Time) Entry {
	s := e.snapshot()
	if ban, ok := b.mu.bans[e.addr.ID]; ok && ban.until.After(now) {
		s.BanUntil, s.BanReason = ban.until, ban.reason
	}
	return s
}

// Protected returns snapshots of the protected (must-connect) entries, for
// the peer set to dial. It is O(number of protected entries).
func (b *Book) Protected() []Entry {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Entry, 0, len(b.mu.protected))
	for _, e := range b.mu.protected {
		out = append(out, b.snapshotLocked(e, now))
	}
	return out
}

// Entries returns snapshots of every entry, in no particular order. It is
// O(n) and meant for admin views, not hot paths.
func (b *Book) Entries() []Entry {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Entry, 0, len(b.mu.byID))
	for _, e := range b.mu.byID {
		out = append(out, b.snapshotLocked(e, now))
	}
	return out
}

// Len returns the number of entries, protected ones included.
func (b *Book) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.mu.byID)
}

// Stats is a snapshot of the book's counters for metrics.
type Stats struct {
	New, Tried, Protected int // entries per place
	Ready, Waiting        int // table entries dialable now / in backoff
	Local                 int // entries with a local source (SourceLocal), at most MaxLocal
	Bans, IPBans          int // bans in force (expired ones may linger until the next save)
	PexOutstanding        int // PEX requests awaiting a response
}

// Stats returns the book's counters. It is O(1).
func (b *Book) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := &b.mu
	return Stats{
		New:            m.count[tableNew],
		Tried:          m.count[tableTried],
		Protected:      len(m.protected),
		Local:          len(m.local),
		Ready:          len(m.ready[tableNew]) + len(m.ready[tableTried]),
		Waiting:        len(m.waiting),
		Bans:           len(m.bans),
		IPBans:         len(m.ipBans),
		PexOutstanding: len(m.pexOut),
	}
}
