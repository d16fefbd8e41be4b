package peerset

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
)

// t0 is the fake clock's start.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// newClock returns the one shared fake clock (clock.Fake), set to t0.
func newClock() *clock.Fake {
	c := clock.NewFake()
	c.Set(t0)
	return c
}

// fakeConn records Close calls.
type fakeConn struct {
	name   string
	mu     sync.Mutex
	closes int
	reason DisconnectReason
}

func (c *fakeConn) Close(r DisconnectReason, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closes++
	if c.closes == 1 {
		c.reason = r
	}
	return nil
}

func (c *fakeConn) closed() (int, DisconnectReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closes, c.reason
}

// fakeCounter caps peers per IP and per /24 (IPv4) or /48 (IPv6), like the
// filter package does. A cap of 0 means none.
type fakeCounter struct {
	maxIP, maxSub int

	mu   sync.Mutex
	ips  map[netip.Addr]int
	subs map[netip.Prefix]int
}

func newCounter(maxIP, maxSub int) *fakeCounter {
	return &fakeCounter{maxIP: maxIP, maxSub: maxSub, ips: map[netip.Addr]int{}, subs: map[netip.Prefix]int{}}
}

func subnetOf(ip netip.Addr) netip.Prefix {
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}

func (c *fakeCounter) Acquire(ip netip.Addr) (func(), bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxIP > 0 && c.ips[ip] >= c.maxIP {
		return nil, false, "ip-cap"
	}
	if c.maxSub > 0 && c.subs[subnetOf(ip)] >= c.maxSub {
		return nil, false, "subnet-cap"
	}
	return c.add(ip), true, ""
}

func (c *fakeCounter) AcquireExempt(ip netip.Addr) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.add(ip)
}

func (c *fakeCounter) add(ip netip.Addr) func() {
	c.ips[ip]++
	c.subs[subnetOf(ip)]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.ips[ip]--
			c.subs[subnetOf(ip)]--
		})
	}
}

// total returns the number of peers counted.
func (c *fakeCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.ips {
		n += v
	}
	return n
}

// pid returns a test peer ID that sorts by n.
func pid(n int) crypto.ID {
	var id crypto.ID
	id[0] = byte(n >> 8)
	id[1] = byte(n)
	id[19] = 0x5a
	return id
}

// selfID is the default Self in tests: above every pid.
var selfID = func() crypto.ID {
	var id crypto.ID
	for i := range id {
		id[i] = 0xff
	}
	return id
}()

// addrOf returns a distinct address per n (n < 2560), each in its own /16
// network group so outbound peers do not collide.
func addrOf(n int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{20 + byte(n>>8), byte(n), 7, 1}), 26656)
}

func info(n int, dir Direction) PeerInfo {
	return PeerInfo{ID: pid(n), Direction: dir, Remote: addrOf(n), Conn: &fakeConn{name: fmt.Sprint(n)}}
}

// newSet returns a Set with the settings cfg on a fresh fake clock, wired
// as newSetWith does.
func newSet(t testing.TB, cfg Config) (*Set, *clock.Fake) {
	t.Helper()
	return newSetWith(t, cfg, Deps{})
}

// newSetWith returns a Set with the settings cfg and deps, whose zero
// fields become: Self selfID, Clock a fresh fake clock (returned), Bans a
// fakeBans on that clock.
func newSetWith(t testing.TB, cfg Config, deps Deps) (*Set, *clock.Fake) {
	t.Helper()
	c := newClock()
	if deps.Self.IsZero() {
		deps.Self = selfID
	}
	if deps.Clock == nil {
		deps.Clock = c
	}
	if deps.Bans == nil {
		deps.Bans = newFakeBans(deps.Clock.Now)
	}
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, c
}

func mustAdmit(t testing.TB, s *Set, in PeerInfo, now time.Time) *Peer {
	t.Helper()
	p, _, err := s.Admit(in, now)
	if err != nil {
		t.Fatalf("Admit %v: %v", in.ID.Short(), err)
	}
	return p
}

func mustAddr(n int) crypto.Address {
	ap := addrOf(n)
	return crypto.Address{ID: pid(n), Host: ap.Addr().String(), Port: ap.Port()}
}

// advance moves c on by d and returns the time it then shows.
func advance(c *clock.Fake, d time.Duration) time.Time {
	c.Advance(d)
	return c.Now()
}

// fakeMaxBan is the fake ban list's cap, the peer book's in the Node.
const fakeMaxBan = 30 * 24 * time.Hour

// fakeBans is a BanList in memory, on the test's clock, with the peer
// book's semantics: a ban never shortens one in force, d is bounded.
type fakeBans struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[crypto.ID]fakeBan
}

type fakeBan struct {
	until  time.Time
	reason string
}

func newFakeBans(now func() time.Time) *fakeBans {
	return &fakeBans{now: now, m: map[crypto.ID]fakeBan{}}
}

func (f *fakeBans) BannedUntil(id crypto.ID) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.m[id]
	if !ok || !b.until.After(f.now()) {
		return time.Time{}, false
	}
	return b.until, true
}

func (f *fakeBans) Ban(id crypto.ID, d time.Duration, reason string) error {
	if d <= 0 || d > fakeMaxBan {
		return fmt.Errorf("fake ban list: duration %v out of range", d)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	until := f.now().Add(d)
	if old, ok := f.m[id]; ok && old.until.After(until) {
		until = old.until
	}
	f.m[id] = fakeBan{until: until, reason: reason}
	return nil
}

func (f *fakeBans) Unban(id crypto.ID) bool {
	_, ok := f.BannedUntil(id)
	f.mu.Lock()
	delete(f.m, id)
	f.mu.Unlock()
	return ok
}

func (f *fakeBans) MaxBanDuration() time.Duration { return fakeMaxBan }

// inForce returns the number of bans in force.
func (f *fakeBans) inForce() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, b := range f.m {
		if b.until.After(f.now()) {
			n++
		}
	}
	return n
}

// reason returns the reason recorded with id's ban.
func (f *fakeBans) reason(id crypto.ID) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[id].reason
}

// bansOf returns the fake ban list newSet gave s.
func bansOf(s *Set) *fakeBans { return s.cfg.bans.(*fakeBans) }
