package peerbook

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// populate gives b a bit of everything the file must carry.
func populate(t testing.TB, b *Book, clk *clock.Fake) {
	t.Helper()
	for i := range 50 {
		a := addrOf(idN(uint64(i+1)), publicIP(uint32(i)<<16), 26656)
		if err := b.Add(a, Source{Kind: SourceInbound}); errors.Is(err, ErrBucketFull) {
			continue // a slot collision; rare
		} else if err != nil {
			t.Fatal(err)
		}
		switch i % 5 {
		case 0:
			_ = b.MarkAttempt(a.ID)
			_ = b.MarkSuccess(a)
		case 1:
			_, _ = b.MarkFailure(a.ID)
			_, _ = b.MarkFailure(a.ID)
		}
	}
	ingest(t, b, addrOf(idN(900), "20.1.1.1", 1), pexResp(addrOf(idN(901), "21.1.1.1", 1)))
	if err := b.Add(crypto.Address{ID: idN(902), Host: "seed.example.org", Port: 26656}, Source{Kind: SourceBootstrap}); err != nil && !errors.Is(err, ErrBucketFull) {
		t.Fatal(err)
	}
	if err := b.Protect(addrOf(idN(903), "22.1.1.1", 26656)); err != nil {
		t.Fatal(err)
	}
	if err := b.SetMeta(idN(1), &pb.PeerMeta{ChainId: "test-1", ProtocolVersion: 2, Topics: []byte{0, 5}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban(idN(3), 24*time.Hour, "bad blocks"); err != nil {
		t.Fatal(err)
	}
	if err := b.BanIP(netip.MustParseAddr("2a01::7"), 2*time.Hour, "flood"); err != nil {
		t.Fatal(err)
	}
	if err := b.BanPrefix(netip.MustParsePrefix("30.7.0.0/16"), 3*time.Hour, "sybils"); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban(idN(4), time.Second, "short"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second) // the short ban expires before the save
}

func sameEntry(a, b Entry) bool {
	tm := func(x, y time.Time) bool { return x.Equal(y) }
	return a.Addr == b.Addr && a.Source == b.Source && a.Protected == b.Protected && a.Tried == b.Tried &&
		tm(a.FirstSeen, b.FirstSeen) && tm(a.LastSeen, b.LastSeen) && tm(a.LastAttempt, b.LastAttempt) &&
		tm(a.LastSuccess, b.LastSuccess) && tm(a.NextAttempt, b.NextAttempt) && a.Failures == b.Failures &&
		tm(a.BanUntil, b.BanUntil) && a.BanReason == b.BanReason &&
		a.Meta.ChainID == b.Meta.ChainID && a.Meta.ProtocolVersion == b.Meta.ProtocolVersion && bytes.Equal(a.Meta.Topics, b.Meta.Topics)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	path := filepath.Join(t.TempDir(), "peerbook.json")
	b, rep := openTestBook(t, path, cfg, deps)
	if rep.Origin != OriginEmpty || len(rep.Problems) != 0 {
		t.Fatalf("fresh: %+v", rep)
	}
	populate(t, b, clk)
	before := map[crypto.ID]Entry{}
	pos := map[crypto.ID][2]int{}
	for _, e := range b.Entries() {
		before[e.Addr.ID] = e
	}
	for id, e := range b.mu.byID {
		pos[id] = [2]int{int(e.table), e.pos}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal("second Close:", err)
	}

	deps.Rand = seeded(99) // a different generator: the secret must come from the file
	b2, rep := openTestBook(t, path, cfg, deps)
	defer b2.Close()
	if rep.Origin != OriginFile || rep.Entries != len(before) || rep.Bans != 3 || rep.Dropped != 0 || len(rep.Problems) != 0 {
		t.Fatalf("report %+v, want %d entries and 3 bans", rep, len(before))
	}
	if b2.secret != b.secret {
		t.Fatal("secret not restored")
	}
	for _, e := range b2.Entries() {
		if !sameEntry(e, before[e.Addr.ID]) {
			t.Fatalf("entry changed:\n have %+v\n want %+v", e, before[e.Addr.ID])
		}
	}
	for id, e := range b2.mu.byID {
		if p := pos[id]; p != [2]int{int(e.table), e.pos} {
			t.Fatalf("%s moved from %v to %d/%d", id.Short(), p, e.table, e.pos)
		}
	}
	if !b2.IsBanned(idN(3)) || !b2.IsIPBanned(netip.MustParseAddr("2a01::7")) || b2.IsBanned(idN(4)) ||
		!b2.IsIPBanned(netip.MustParseAddr("30.7.200.1")) || b2.IsIPBanned(netip.MustParseAddr("30.8.0.1")) {
		t.Fatal("bans not restored")
	}
	// Backoff survives: entries with failures are not picked until their time.
	for _, a := range b2.Pick(1000, nil) {
		if e := before[a.ID]; e.Failures > 0 {
			t.Fatalf("backed-off %v picked after reload", a)
		}
	}
	clk.Advance(DefaultBackoffCap)
	if n := len(b2.Pick(1000, nil)); n != len(before)-2 { // all but the protected and the banned
		t.Fatalf("after backoff: %d picked, want %d", n, len(before)-2)
	}
	checkInvariants(t, b2)
}

func TestSaveRotatesBackup(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "book.json")
	b, _ := openTestBook(t, path, Config{}, testDeps(clk))
	defer b.Close()
	if _, err := os.Stat(path + backupSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("backup before any save")
	}
	_ = b.Add(addrOf(idN(1), "11.1.1.1", 1), Source{Kind: SourceManual})
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	_ = b.Add(addrOf(idN(2), "12.1.1.1", 1), Source{Kind: SourceManual})
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	bak, _ := os.ReadFile(path + backupSuffix)
	if !bytes.Equal(first, bak) {
		t.Fatal("backup is not the previous file")
	}
	des, _ := os.ReadDir(filepath.Dir(path))
	if len(des) != 2 {
		t.Fatalf("stray files: %v", des)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func TestNoPath(t *testing.T) {
	b := newTestBook(t, Config{}, testDeps(newClock()))
	if err := b.Save(); !errors.Is(err, ErrNoPath) {
		t.Fatal(err)
	}
	if err := b.Run(context.Background()); !errors.Is(err, ErrNoPath) {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRun: the interval saver saves changes, a cancelled context saves once
// more, and Close ends Run. Synchronisation is by channels, not sleeps.
func TestRun(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	cfg.SaveInterval = time.Millisecond
	path := filepath.Join(t.TempDir(), "peerbook.json")
	b, _ := openTestBook(t, path, cfg, deps)
	saved := make(chan struct{}, 1)
	b.afterSave = func() {
		select {
		case saved <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	testutil.Eventually(t, 10*time.Second, "Run's save ticker", func() bool { return clk.Pending() == 1 })

	_ = b.Add(addrOf(idN(1), "11.1.1.1", 1), Source{Kind: SourceManual})
	waitFor := func(want int) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			clk.Advance(cfg.SaveInterval) // a tick: Run saves if the book changed
			select {
			case <-saved:
			case <-deadline:
				t.Fatalf("no save with %d entries", want)
			}
			if b2, rep, err := Open(path, Config{}, testDeps(clk)); err == nil {
				n := rep.Entries
				_ = b2.Close() // a book without changes does not write
				if n == want {
					return
				}
			}
		}
	}
	waitFor(1)
	_ = b.Add(addrOf(idN(2), "12.1.1.1", 1), Source{Kind: SourceManual})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, rep, _ := Open(path, Config{}, testDeps(clk)); rep.Entries != 2 {
		t.Fatalf("final save of Run: %d entries", rep.Entries)
	}

	go func() { done <- b.Run(context.Background()) }()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
