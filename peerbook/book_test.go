package peerbook

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

func TestAddValidation(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	b := newTestBook(t, cfg, deps)
	id := idN(7)
	tests := []struct {
		name string
		addr crypto.Address
		src  Source
		want error
	}{
		{"ok bootstrap", addrOf(id, "11.2.3.4", 26656), Source{Kind: SourceBootstrap}, nil},
		{"zero ID", crypto.Address{Host: "11.2.3.4", Port: 1}, Source{Kind: SourceManual}, ErrInvalidAddress},
		{"zero port", crypto.Address{ID: idN(8), Host: "11.2.3.4"}, Source{Kind: SourceManual}, ErrInvalidAddress},
		{"empty host", crypto.Address{ID: idN(8), Port: 1}, Source{Kind: SourceManual}, ErrInvalidAddress},
		{"bad host", crypto.Address{ID: idN(8), Host: "a b", Port: 1}, Source{Kind: SourceManual}, ErrInvalidAddress},
		{"mapped not canonical", crypto.Address{ID: idN(8), Host: "::ffff:11.2.3.4", Port: 1}, Source{Kind: SourceManual}, ErrInvalidAddress},
		{"self", addrOf(deps.SelfID, "11.2.3.5", 1), Source{Kind: SourceManual}, ErrSelf},
		{"loopback manual is trusted", addrOf(idN(9), "127.0.0.1", 1), Source{Kind: SourceManual}, nil},
		{"loopback inbound", addrOf(idN(10), "127.0.0.1", 1), Source{Kind: SourceInbound}, ErrUnroutable},
		{"private inbound", addrOf(idN(11), "192.168.1.1", 1), Source{Kind: SourceInbound}, ErrUnroutable},
		{"test-net inbound", addrOf(idN(12), "203.0.113.9", 1), Source{Kind: SourceInbound}, ErrUnroutable},
		{"dns inbound", crypto.Address{ID: idN(13), Host: "node.example.org", Port: 26656}, Source{Kind: SourceInbound}, ErrNetworkName},
		{"localhost name inbound", crypto.Address{ID: idN(14), Host: "localhost", Port: 26656}, Source{Kind: SourceInbound}, ErrUnroutable},
		{"ipv6 inbound", addrOf(idN(15), "2a01:4f8::1", 26656), Source{Kind: SourceInbound}, nil},
		{"ipv6 documentation inbound", addrOf(idN(16), "2001:db8::1", 26656), Source{Kind: SourceInbound}, ErrUnroutable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Add(tt.addr, tt.src)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Add(%v) = %v, want %v", tt.addr, err, tt.want)
			}
			if _, ok := b.Get(tt.addr.ID); ok != (tt.want == nil) {
				t.Fatalf("stored = %v, want %v", ok, tt.want == nil)
			}
		})
	}
	checkInvariants(t, b)
}

func TestAddAllowPrivateLoopback(t *testing.T) {
	cfg, deps := Config{}, testDeps(newClock())
	cfg.AllowPrivate, cfg.AllowLoopback = true, true
	b := newTestBook(t, cfg, deps)
	for i, h := range []string{"127.0.0.1", "10.1.2.3", "100.64.0.1", "fd00::1", "::1"} {
		if err := b.Add(addrOf(idN(uint64(i+1)), h, 1000), Source{Kind: SourceInbound}); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	for i, h := range []string{"0.0.0.0", "224.0.0.1", "169.254.1.1", "255.255.255.255", "fe80::1"} {
		if err := b.Add(addrOf(idN(uint64(i+100)), h, 1000), Source{Kind: SourceInbound}); !errors.Is(err, ErrUnroutable) {
			t.Errorf("%s: %v, want ErrUnroutable", h, err)
		}
	}
}

// TestKnownAddressKept: a report from someone else never moves a known peer.
func TestKnownAddressKept(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, Config{}, testDeps(clk))
	victim := addrOf(idN(1), "11.1.1.1", 26656)
	if err := b.Add(victim, Source{Kind: SourceBootstrap}); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkSuccess(victim); err != nil {
		t.Fatal(err)
	}
	liar := addrOf(idN(99), "66.6.6.6", 26656)
	forged := addrOf(victim.ID, "66.6.6.7", 26656)
	res := ingest(t, b, liar, pexResp(forged))
	if res.Added != 0 || res.Ignored[IgnoreKnown] != 1 {
		t.Fatalf("result %+v", res)
	}
	// Also a peer never reached: the first address wins against PEX reports.
	fresh := addrOf(idN(2), "12.1.1.1", 26656)
	ingest(t, b, addrOf(idN(98), "13.1.1.1", 1), pexResp(fresh))
	ingest(t, b, liar, pexResp(addrOf(fresh.ID, "66.6.6.8", 26656)))
	for _, want := range []crypto.Address{victim, fresh} {
		e, ok := b.Get(want.ID)
		if !ok || e.Addr != want {
			t.Fatalf("entry %v, want address %v", e.Addr, want)
		}
	}
	e, _ := b.Get(victim.ID)
	if !e.Tried || e.LastSuccess.IsZero() {
		t.Fatalf("victim lost its history: %+v", e)
	}
	// The operator, and the peer itself, may move it.
	moved := addrOf(victim.ID, "11.1.1.2", 26657)
	if err := b.Add(moved, Source{Kind: SourceInbound, Host: "11.1.1.2"}); err != nil {
		t.Fatal(err)
	}
	if e, _ := b.Get(victim.ID); e.Addr != moved || e.Tried || e.Failures != 0 {
		t.Fatalf("inbound readdress: %+v", e)
	}
	manual := addrOf(victim.ID, "14.1.1.1", 26656)
	if err := b.Add(manual, Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	if e, _ := b.Get(victim.ID); e.Addr != manual {
		t.Fatalf("manual readdress: %+v", e)
	}
	checkInvariants(t, b)
}

func TestProtect(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, Config{}, testDeps(clk))
	p := addrOf(idN(1), "11.1.1.1", 26656)
	if err := b.Add(p, Source{Kind: SourceBootstrap}); err != nil {
		t.Fatal(err)
	}
	if err := b.Protect(addrOf(idN(1), "11.1.1.9", 26656)); err != nil {
		t.Fatal(err)
	}
	e, _ := b.Get(p.ID)
	if !e.Protected || e.Addr.Host != "11.1.1.9" {
		t.Fatalf("%+v", e)
	}
	// The peer's own inbound word does not move a protected entry.
	if err := b.Add(addrOf(idN(1), "15.1.1.1", 26656), Source{Kind: SourceInbound}); err != nil {
		t.Fatal(err)
	}
	if e, _ := b.Get(p.ID); e.Addr.Host != "11.1.1.9" {
		t.Fatalf("inbound moved a protected entry: %v", e.Addr)
	}
	// Protected entries are not picked or shared.
	if got := b.Pick(10, nil); len(got) != 0 {
		t.Fatalf("picked protected %v", got)
	}
	if r := b.AnswerPex(&pb.PexRequest{}, idN(5)); len(r.Addrs) != 0 {
		t.Fatalf("shared protected %v", r.Addrs)
	}
	if ps := b.Protected(); len(ps) != 1 || ps[0].Addr.Host != "11.1.1.9" {
		t.Fatalf("Protected() = %+v", ps)
	}
	if err := b.Protect(addrOf(b.deps.SelfID, "11.1.1.1", 1)); !errors.Is(err, ErrSelf) {
		t.Fatalf("Protect(self) = %v", err)
	}
	checkInvariants(t, b)
	if err := b.Unprotect(p.ID); err != nil {
		t.Fatal(err)
	}
	if e, _ := b.Get(p.ID); e.Protected {
		t.Fatal("still protected")
	}
	if got := b.Pick(10, nil); len(got) != 1 {
		t.Fatalf("unprotected entry not picked: %v", got)
	}
	if err := b.Unprotect(idN(77)); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("Unprotect(unknown) = %v", err)
	}
	checkInvariants(t, b)
}

func TestProtectLimit(t *testing.T) {
	b := newTestBook(t, Config{}, testDeps(newClock()))
	for i := range MaxProtected {
		if err := b.Protect(addrOf(idN(uint64(i+1)), publicIP(uint32(i)), 1)); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := b.Protect(addrOf(idN(1<<40), "11.1.1.1", 1)); !errors.Is(err, ErrTooManyProtected) {
		t.Fatalf("over the limit: %v", err)
	}
	// Re-protecting an existing one is fine.
	if err := b.Protect(addrOf(idN(1), publicIP(0), 2)); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, b)
}

func TestRemoveGetEntriesStats(t *testing.T) {
	b := newTestBook(t, Config{}, testDeps(newClock()))
	a := addrOf(idN(1), "11.1.1.1", 1)
	if err := b.Add(a, Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	if err := b.Protect(addrOf(idN(2), "12.1.1.1", 1)); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 2 || len(b.Entries()) != 2 {
		t.Fatalf("Len %d, Entries %d", b.Len(), len(b.Entries()))
	}
	if s := b.Stats(); s.New != 1 || s.Protected != 1 || s.Ready != 1 {
		t.Fatalf("stats %+v", s)
	}
	if !b.Remove(a.ID) || b.Remove(a.ID) {
		t.Fatal("Remove")
	}
	if !b.Remove(idN(2)) || b.Len() != 0 {
		t.Fatal("Remove protected")
	}
	checkInvariants(t, b)
}

// TestBucketBounds: one (group, source group) pair fills one bucket at most,
// and MaxEntries holds.
func TestBucketBounds(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	cfg.NewBuckets, cfg.TriedBuckets, cfg.BucketSize = 64, 16, 8
	cfg.MaxEntries = 100
	b := newTestBook(t, cfg, deps)
	// 1,000 addresses of one /16 from one reporter land in one bucket.
	n := 0
	for i := range 1000 {
		if b.Add(addrOf(idN(uint64(i+1)), publicIP(uint32(i)), 1), Source{Kind: SourceManual}) == nil {
			n++
		}
	}
	if n > cfg.BucketSize {
		t.Fatalf("%d entries of one group from one source, bucket size %d", n, cfg.BucketSize)
	}
	// Many groups: the total cap holds.
	r := rand.New(rand.NewPCG(1, 2))
	var full int
	for i := range 5000 {
		err := b.Add(addrOf(idN(uint64(i+5000)), randomPublicIP(r), 1), Source{Kind: SourceInbound})
		if errors.Is(err, ErrBookFull) {
			full++
		}
	}
	if b.Len() != cfg.MaxEntries || full == 0 {
		t.Fatalf("Len %d (max %d), %d ErrBookFull", b.Len(), cfg.MaxEntries, full)
	}
	checkInvariants(t, b)
}

// TestTerribleReplaced: a failing occupant gives its slot to a newcomer, a
// good one does not.
func TestTerribleReplaced(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	cfg.NewBuckets, cfg.TriedBuckets, cfg.BucketSize = 1, 1, 1
	b := newTestBook(t, cfg, deps)
	first := addrOf(idN(1), "11.1.1.1", 1)
	if err := b.Add(first, Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	second := addrOf(idN(2), "12.1.1.1", 1)
	if err := b.Add(second, Source{Kind: SourceManual}); !errors.Is(err, ErrBucketFull) {
		t.Fatalf("good occupant replaced: %v", err)
	}
	for range terribleFailures {
		if _, err := b.MarkFailure(first.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add(second, Source{Kind: SourceManual}); err != nil {
		t.Fatalf("terrible occupant kept: %v", err)
	}
	if _, ok := b.Get(first.ID); ok {
		t.Fatal("terrible occupant still there")
	}
	// Stale entries are terrible too.
	clk.Advance(staleAfter + time.Hour)
	if err := b.Add(first, Source{Kind: SourceManual}); err != nil {
		t.Fatalf("stale occupant kept: %v", err)
	}
	checkInvariants(t, b)
}

// TestTriedCollision: a recently reached tried entry keeps its slot; an old
// one is moved back to the new table.
func TestTriedCollision(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	cfg.NewBuckets, cfg.TriedBuckets, cfg.BucketSize = 16, 1, 1
	b := newTestBook(t, cfg, deps)
	a1 := addrOf(idN(1), "11.1.1.1", 1)
	a2 := addrOf(idN(2), "12.1.1.1", 1)
	for _, a := range []crypto.Address{a1, a2} {
		if err := b.Add(a, Source{Kind: SourceInbound}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.MarkSuccess(a1); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkSuccess(a2); err != nil {
		t.Fatal(err)
	}
	e1, _ := b.Get(a1.ID)
	e2, _ := b.Get(a2.ID)
	if !e1.Tried || e2.Tried {
		t.Fatalf("fresh tried entry displaced: %v %v", e1.Tried, e2.Tried)
	}
	clk.Advance(triedKeepWindow + time.Minute)
	if err := b.MarkSuccess(a2); err != nil {
		t.Fatal(err)
	}
	e1, _ = b.Get(a1.ID)
	e2, _ = b.Get(a2.ID)
	if !e2.Tried || e1.Tried {
		t.Fatalf("old tried entry not displaced: %v %v", e1.Tried, e2.Tried)
	}
	checkInvariants(t, b)
}

func TestSetMeta(t *testing.T) {
	b := newTestBook(t, Config{}, testDeps(newClock()))
	a := addrOf(idN(1), "11.1.1.1", 1)
	if err := b.Add(a, Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	long := string(make([]byte, 500))
	err := b.SetMeta(a.ID, &pb.PeerMeta{ChainId: "c", ProtocolVersion: 3, Role: pb.NodeRole_NODE_ROLE_VALIDATOR, SoftwareVersion: long, Topics: []byte{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := b.Get(a.ID)
	if e.Meta.ChainID != "c" || e.Meta.ProtocolVersion != 3 || len(e.Meta.SoftwareVersion) != maxMetaString || len(e.Meta.Topics) != 2 {
		t.Fatalf("meta %+v", e.Meta)
	}
	if err := b.SetMeta(idN(2), nil); !errors.Is(err, ErrUnknownPeer) {
		t.Fatal(err)
	}
}

// TestConcurrentUse runs every kind of call at once under the race detector,
// with Run saving in the background.
func TestConcurrentUse(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	cfg.SaveInterval = 20 * time.Millisecond
	b, _, err := Open(t.TempDir()+"/peerbook.json", cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- b.Run(ctx) }()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 0))
			from := addrOf(idN(uint64(1<<50+w)), "15.1.1.1", 1)
			for i := range 300 {
				a := addrOf(idN(uint64(w*1000+i+1)), randomPublicIP(r), 26656)
				_ = b.Add(a, Source{Kind: SourceInbound})
				switch i % 6 {
				case 0:
					_ = b.MarkSuccess(a)
				case 1:
					_, _ = b.MarkFailure(a.ID)
				case 2:
					_ = b.MarkPexRequested(from.ID)
					_, _ = b.IngestPex(from, pexResp(addrOf(idN(uint64(w*1000+i+500)), randomPublicIP(r), 1)))
				case 3:
					_ = b.Ban(a.ID, time.Minute, "x")
					_ = b.AnswerPex(&pb.PexRequest{}, a.ID)
				case 4:
					_ = b.Pick(4, nil)
					_ = b.DueForProbe(4, nil)
					clk.Advance(time.Second)
				case 5:
					_ = b.Stats()
					_ = b.Entries()
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestKnownIP follows one address through the states that make it known
// (reached: the tried table; named by the operator: protected) and those
// that do not (new, removed, moved away), with the index checked against
// the entries at every step by checkInvariants.
func TestKnownIP(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, Config{}, testDeps(clk))
	ip := netip.MustParseAddr("11.1.1.1")
	mapped := netip.AddrFrom16(ip.As16())
	a := addrOf(idN(1), "11.1.1.1", 1)
	other := addrOf(idN(2), "11.1.1.1", 2) // a second peer at the same IP
	steps := []struct {
		name  string
		do    func() error
		known bool
	}{
		{"empty", func() error { return nil }, false},
		{"new", func() error { return b.Add(a, Source{Kind: SourceBootstrap}) }, false},
		{"reached", func() error { return b.MarkSuccess(a) }, true},
		{"second peer at the IP, new", func() error { return b.Add(other, Source{Kind: SourceBootstrap}) }, true},
		{"first removed", func() error { b.Remove(a.ID); return nil }, false},
		{"second protected", func() error { return b.Protect(other) }, true},
		{"protected moved away", func() error { return b.Protect(addrOf(idN(2), "12.1.1.1", 2)) }, false},
		{"protected moved back", func() error { return b.Protect(other) }, true},
		{"unprotected, never reached", func() error { return b.Unprotect(other.ID) }, false},
		{"reached", func() error { return b.MarkSuccess(other) }, true},
		{"readdressed away", func() error {
			clk.Advance(staleAfter + time.Hour) // the old address goes stale
			return b.Add(addrOf(idN(2), "13.1.1.1", 2), Source{Kind: SourceManual})
		}, false},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		checkInvariants(t, b)
		if got := b.KnownIP(ip); got != s.known {
			t.Fatalf("%s: KnownIP(%v) = %v, want %v", s.name, ip, got, s.known)
		}
		if got := b.KnownIP(mapped); got != s.known {
			t.Fatalf("%s: KnownIP(%v) = %v, want %v", s.name, mapped, got, s.known)
		}
	}
}
