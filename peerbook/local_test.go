package peerbook

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

var local = Source{Kind: SourceLocal}

// TestLocalAdmission checks the rules for addresses found on the local
// network: a private IP needs no AllowPrivate (a LAN is what mDNS finds),
// everything else follows the rules for peers' reports.
func TestLocalAdmission(t *testing.T) {
	nameAddr, err := crypto.ParseAddress(idN(9).String() + "@node.example.org:26656")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		addr crypto.Address
		want error
	}{
		{"private IPv4 without AllowPrivate", Config{}, addrOf(idN(2), "192.168.1.20", 26656), nil},
		{"private IPv6 (ULA)", Config{}, addrOf(idN(2), "fd12::20", 26656), nil},
		{"public", Config{}, addrOf(idN(2), "11.1.1.1", 26656), nil},
		{"loopback refused", Config{}, addrOf(idN(2), "127.0.0.1", 26656), ErrUnroutable},
		{"loopback allowed", Config{AllowLoopback: true}, addrOf(idN(2), "127.0.0.1", 26656), nil},
		{"reserved refused", Config{}, addrOf(idN(2), "198.18.1.1", 26656), ErrUnroutable},
		{"carrier-grade NAT needs AllowPrivate", Config{}, addrOf(idN(2), "100.64.1.1", 26656), ErrUnroutable},
		{"unspecified refused", Config{AllowPrivate: true}, addrOf(idN(2), "0.0.0.0", 26656), ErrUnroutable},
		{"DNS name refused", Config{}, nameAddr, ErrNetworkName},
		{"DNS name allowed", Config{AllowNetworkNames: true}, nameAddr, nil},
		{"self", Config{}, addrOf(testDeps(newClock()).SelfID, "192.168.1.20", 26656), ErrSelf},
		{"banned ID", Config{}, addrOf(idN(5), "192.168.1.20", 26656), ErrBanned},
		{"banned IP", Config{}, addrOf(idN(2), "192.168.7.7", 26656), ErrBanned},
		{"filtered", Config{}, addrOf(idN(2), "192.168.4.4", 26656), ErrInvalidAddress},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deps := testDeps(newClock())
			deps.Filter = fixedFilter{map[netip.Addr]bool{netip.MustParseAddr("192.168.4.4"): true}}
			b := newTestBook(t, tc.cfg, deps)
			if err := b.Ban(idN(5), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
			if err := b.BanIP(netip.MustParseAddr("192.168.7.7"), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
			err := b.Add(tc.addr, local)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Add(%v, local) = %v, want %v", tc.addr, err, tc.want)
			}
			_, stored := b.Get(tc.addr.ID)
			if stored != (tc.want == nil) {
				t.Fatalf("stored %v, want %v", stored, tc.want == nil)
			}
			if stored && b.Stats().Local != 1 {
				t.Fatalf("Stats().Local = %d, want 1", b.Stats().Local)
			}
			checkInvariants(t, b)
		})
	}
}

// TestLocalFilteredReason checks that a filtered local address is refused
// as filtered, not stored.
func TestLocalFilteredReason(t *testing.T) {
	deps := testDeps(newClock())
	deps.Filter = fixedFilter{map[netip.Addr]bool{netip.MustParseAddr("192.168.4.4"): true}}
	b := newTestBook(t, Config{}, deps)
	if r := b.checkLocal("192.168.4.4", netip.MustParseAddr("192.168.4.4")); r != IgnoreFiltered {
		t.Fatalf("checkLocal = %v, want filtered", r)
	}
}

// TestLocalNeverReaddresses checks that an mDNS answer, which anyone on the
// LAN can forge, never moves a known peer to another address.
func TestLocalNeverReaddresses(t *testing.T) {
	b := newTestBook(t, Config{}, testDeps(newClock()))
	known := addrOf(idN(2), "11.1.1.1", 26656)
	if err := b.Add(known, Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(addrOf(idN(2), "192.168.1.66", 26656), local); err != nil {
		t.Fatal(err)
	}
	if e, _ := b.Get(idN(2)); e.Addr != known || e.Source.Kind != SourceManual {
		t.Fatalf("entry became %v from %v", e.Addr, e.Source.Kind)
	}
	if b.Stats().Local != 0 {
		t.Fatalf("Stats().Local = %d, want 0", b.Stats().Local)
	}
	checkInvariants(t, b)
}

// TestLocalCap checks that at most MaxLocal entries come from the local
// network, and that one expiring makes room again.
func TestLocalCap(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, Config{}, testDeps(clk))
	lan := func(i int) crypto.Address {
		return addrOf(idN(uint64(100+i)), fmt.Sprintf("10.%d.%d.1", i%256, i/256), 26656)
	}
	for i := range MaxLocal {
		if err := b.Add(lan(i), local); err != nil {
			t.Fatalf("local entry %d: %v", i, err)
		}
	}
	if err := b.Add(lan(MaxLocal), local); !errors.Is(err, ErrLocalFull) {
		t.Fatalf("entry %d: %v, want ErrLocalFull", MaxLocal+1, err)
	}
	// Other sources are not capped by it.
	if err := b.Add(addrOf(idN(99), "11.1.1.1", 26656), Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	for i := 1; i < MaxLocal; i++ {
		_ = b.Add(lan(i), local) // heard of again: refreshed
	}
	clk.Advance(time.Minute)
	if n := b.ExpireLocal(90 * time.Second); n != 1 {
		t.Fatalf("ExpireLocal removed %d, want 1 (the one not heard of again)", n)
	}
	if err := b.Add(lan(MaxLocal), local); err != nil {
		t.Fatalf("after an expiry: %v", err)
	}
	checkInvariants(t, b)
}

// TestExpireLocal checks the ageing rule: a local entry neither heard of
// again nor reached within maxAge leaves the book; other sources stay.
func TestExpireLocal(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, Config{}, testDeps(clk))
	stale, fresh, reached := addrOf(idN(2), "192.168.1.2", 1), addrOf(idN(3), "192.168.1.3", 1), addrOf(idN(4), "192.168.1.4", 1)
	manual := addrOf(idN(5), "11.1.1.5", 1)
	for _, a := range []crypto.Address{stale, fresh, reached} {
		if err := b.Add(a, local); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add(manual, Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * time.Second)
	if err := b.Add(fresh, local); err != nil {
		t.Fatal(err)
	}
	_ = b.MarkAttempt(reached.ID)
	if err := b.MarkSuccess(reached); err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * time.Second)
	if n := b.ExpireLocal(30 * time.Second); n != 1 {
		t.Fatalf("ExpireLocal removed %d, want 1", n)
	}
	for _, c := range []struct {
		a    crypto.Address
		want bool
	}{{stale, false}, {fresh, true}, {reached, true}, {manual, true}} {
		if _, ok := b.Get(c.a.ID); ok != c.want {
			t.Errorf("%v kept %v, want %v", c.a, ok, c.want)
		}
	}
	clk.Advance(time.Hour)
	if n := b.ExpireLocal(30 * time.Second); n != 2 {
		t.Fatalf("second ExpireLocal removed %d, want 2", n)
	}
	if _, ok := b.Get(manual.ID); !ok {
		t.Fatal("ExpireLocal removed a manual entry")
	}
	checkInvariants(t, b)
}

// TestLocalNotInPex checks that local-network entries are never shared
// through PEX, reached or not.
func TestLocalNotInPex(t *testing.T) {
	b := newTestBook(t, Config{AllowPrivate: true}, testDeps(newClock()))
	for i := range 20 {
		a := addrOf(idN(uint64(10+i)), fmt.Sprintf("192.168.1.%d", 10+i), 26656)
		if err := b.Add(a, local); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			_ = b.MarkAttempt(a.ID)
			_ = b.MarkSuccess(a)
		}
	}
	shared := addrOf(idN(99), "11.1.1.1", 26656)
	if err := b.Add(shared, Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	resp := b.AnswerPex(&pb.PexRequest{Max: 100}, idN(1000))
	if len(resp.Addrs) != 1 || resp.Addrs[0].GetHost() != shared.Host {
		t.Fatalf("PEX answer %v, want only %v", resp.Addrs, shared)
	}
}

// TestLocalOneLAN checks that the addresses of one LAN, all in one network
// group and one source group, so hashed into one bucket, are all kept up
// to the bucket's size, and kept again when the book is loaded.
func TestLocalOneLAN(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "peerbook.json")
	b, _, err := Open(path, Config{}, testDeps(clk))
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := range n {
		if err := b.Add(addrOf(idN(uint64(10+i)), fmt.Sprintf("192.168.1.%d", 10+i), 26656), local); err != nil {
			t.Fatalf("LAN host %d: %v", i, err)
		}
	}
	_ = b.MarkAttempt(idN(10))
	_ = b.MarkSuccess(addrOf(idN(10), "192.168.1.10", 26656))
	checkInvariants(t, b)
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b2, rep, err := Open(path, Config{}, testDeps(clk))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if rep.Dropped != 0 || b2.Len() != n || b2.Stats().Local != n {
		t.Fatalf("reloaded %d entries (%d local, %d dropped), want %d local", b2.Len(), b2.Stats().Local, rep.Dropped, n)
	}
	for _, e := range b2.Entries() {
		if e.Source.Kind != SourceLocal {
			t.Fatalf("%v reloaded with source %v", e.Addr, e.Source.Kind)
		}
	}
	if e, _ := b2.Get(idN(10)); !e.Tried {
		t.Fatal("reached local entry not tried after reload")
	}
	checkInvariants(t, b2)
	// The cap holds on load too, and the loaded ones still age out.
	clk.Advance(time.Hour)
	if got := b2.ExpireLocal(time.Minute); got != n {
		t.Fatalf("ExpireLocal after reload removed %d, want %d", got, n)
	}
}

// TestProtectLocal checks that protecting a local entry makes it the
// operator's: out of the local set, never expired.
func TestProtectLocal(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, Config{}, testDeps(clk))
	a := addrOf(idN(2), "192.168.1.2", 26656)
	if err := b.Add(a, local); err != nil {
		t.Fatal(err)
	}
	if err := b.Protect(a); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, b)
	clk.Advance(time.Hour)
	if b.ExpireLocal(time.Minute) != 0 {
		t.Fatal("a protected entry expired")
	}
	if err := b.Unprotect(a.ID); err != nil {
		t.Fatal(err)
	}
	if e, ok := b.Get(a.ID); !ok || e.Source.Kind != SourceManual {
		t.Fatalf("after Unprotect: %v %v", ok, e.Source.Kind)
	}
	checkInvariants(t, b)
}
