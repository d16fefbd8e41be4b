package peerbook

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// TestBackoff: each failure pushes the next pick out by a capped,
// jittered, doubling delay; time comes from the fake clock.
func TestBackoff(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	cfg.BackoffBase, cfg.BackoffCap, cfg.MaxFailures = time.Second, 30*time.Second, 20
	b := newTestBook(t, cfg, deps)
	a := addrOf(idN(1), "11.1.1.1", 1)
	if err := b.Add(a, Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	wantMax := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, d := range wantMax {
		d *= time.Second
		if err := b.MarkAttempt(a.ID); err != nil {
			t.Fatal(err)
		}
		if got := b.Pick(1, nil); len(got) != 0 {
			t.Fatalf("picked during a dial: %v", got)
		}
		if evicted, err := b.MarkFailure(a.ID); err != nil || evicted {
			t.Fatal(evicted, err)
		}
		e, _ := b.Get(a.ID)
		wait := e.NextAttempt.Sub(clk.Now())
		if e.Failures != i+1 || wait < d/2 || wait > d {
			t.Fatalf("failure %d: %d failures, wait %v, want in [%v, %v]", i+1, e.Failures, wait, d/2, d)
		}
		clk.Advance(wait - time.Millisecond)
		if got := b.Pick(1, nil); len(got) != 0 {
			t.Fatalf("failure %d: picked %v before the backoff ended", i+1, got)
		}
		if got := b.DueForProbe(1, nil); len(got) != 0 {
			t.Fatalf("failure %d: probe %v before the backoff ended", i+1, got)
		}
		clk.Advance(time.Millisecond)
		if got := b.Pick(1, nil); len(got) != 1 || got[0] != a {
			t.Fatalf("failure %d: not picked after the backoff: %v", i+1, got)
		}
		checkInvariants(t, b)
	}
	if err := b.MarkSuccess(a); err != nil {
		t.Fatal(err)
	}
	e, _ := b.Get(a.ID)
	if e.Failures != 0 || !e.NextAttempt.IsZero() || !e.Tried || e.LastSuccess != clk.Now() {
		t.Fatalf("after success: %+v", e)
	}
	if got := b.Pick(1, nil); len(got) != 1 {
		t.Fatal("not picked after success")
	}
}

func TestBackoffJitterSpreads(t *testing.T) {
	b := newTestBook(t, Config{}, testDeps(newClock()))
	seen := map[time.Duration]bool{}
	for range 50 {
		seen[b.backoff(3)] = true
	}
	if len(seen) < 40 {
		t.Fatalf("only %d distinct delays in 50", len(seen))
	}
}

// TestEvictAfterFailures: an ordinary entry leaves after MaxFailures
// consecutive failures; a protected one never does.
func TestEvictAfterFailures(t *testing.T) {
	for _, protected := range []bool{false, true} {
		clk := newClock()
		cfg, deps := Config{}, testDeps(clk)
		cfg.MaxFailures = 4
		b := newTestBook(t, cfg, deps)
		a := addrOf(idN(1), "11.1.1.1", 1)
		var err error
		if protected {
			err = b.Protect(a)
		} else {
			err = b.Add(a, Source{Kind: SourceManual})
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 100; i++ {
			evicted, err := b.MarkFailure(a.ID)
			if err != nil {
				if !protected && errors.Is(err, ErrUnknownPeer) && i == cfg.MaxFailures+1 {
					break
				}
				t.Fatal(i, err)
			}
			if want := !protected && i == cfg.MaxFailures; evicted != want {
				t.Fatalf("protected=%v failure %d: evicted %v", protected, i, evicted)
			}
			clk.Advance(time.Hour)
		}
		e, ok := b.Get(a.ID)
		if ok != protected {
			t.Fatalf("protected=%v: still in book %v", protected, ok)
		}
		if protected && e.Failures != cfg.MaxFailures {
			t.Fatalf("protected failures %d", e.Failures)
		}
		checkInvariants(t, b)
	}
}

func TestMarkUnknown(t *testing.T) {
	b := newTestBook(t, Config{}, testDeps(newClock()))
	id := idN(1)
	if err := b.MarkAttempt(id); !errors.Is(err, ErrUnknownPeer) {
		t.Fatal(err)
	}
	if err := b.MarkSuccess(crypto.Address{ID: id, Host: "11.1.1.1", Port: 26656}); !errors.Is(err, ErrUnknownPeer) {
		t.Fatal(err)
	}
	if _, err := b.MarkFailure(id); !errors.Is(err, ErrUnknownPeer) {
		t.Fatal(err)
	}
}

// TestDueForProbe: entries not attempted for ProbeInterval are due.
func TestDueForProbe(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	cfg.ProbeInterval = 10 * time.Minute
	b := newTestBook(t, cfg, deps)
	var addrs []crypto.Address
	for i := range 20 {
		a := addrOf(idN(uint64(i+1)), publicIP(uint32(i)<<16), 1)
		addrs = append(addrs, a)
		if err := b.Add(a, Source{Kind: SourceInbound}); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.DueForProbe(100, nil); len(got) != 20 {
		t.Fatalf("never attempted: %d due, want 20", len(got))
	}
	for _, a := range addrs[:15] {
		_ = b.MarkAttempt(a.ID)
		_ = b.MarkSuccess(a)
	}
	if got := b.DueForProbe(100, nil); len(got) != 5 {
		t.Fatalf("after probing 15: %d due, want 5", len(got))
	}
	clk.Advance(11 * time.Minute)
	if got := b.DueForProbe(100, func(id crypto.ID, _ netip.Addr) bool { return id == addrs[0].ID }); len(got) != 19 {
		t.Fatalf("after the interval: %d due, want 19", len(got))
	}
	checkInvariants(t, b)
}

// TestMarkRefused: a reached peer that had no room is not picked for
// RefusedBackoff (within [d/2, d]) but keeps its table, its zero
// failures and its place however often it refuses; it is picked again
// once the backoff passes.
func TestMarkRefused(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	cfg.RefusedBackoff, cfg.MaxFailures = time.Minute, 3
	b := newTestBook(t, cfg, deps)
	a := addrOf(idN(1), "11.1.1.1", 1)
	if err := b.Add(a, Source{Kind: SourceManual}); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkSuccess(a); err != nil {
		t.Fatal(err)
	}
	for i := range 2 * cfg.MaxFailures { // more refusals than failures would evict
		if err := b.MarkRefused(a.ID); err != nil {
			t.Fatal(err)
		}
		e, ok := b.Get(a.ID)
		wait := e.NextAttempt.Sub(clk.Now())
		if !ok || e.Failures != 0 || !e.Tried || wait < cfg.RefusedBackoff/2 || wait > cfg.RefusedBackoff {
			t.Fatalf("refusal %d: %+v, wait %v, want a tried entry, no failures, wait in [%v, %v]", i+1, e, wait, cfg.RefusedBackoff/2, cfg.RefusedBackoff)
		}
		clk.Advance(wait - time.Millisecond)
		if got := b.Pick(1, nil); len(got) != 0 {
			t.Fatalf("refusal %d: picked %v during the backoff", i+1, got)
		}
		clk.Advance(time.Millisecond)
		if got := b.Pick(1, nil); len(got) != 1 || got[0] != a {
			t.Fatalf("refusal %d: not picked after the backoff: %v", i+1, got)
		}
		checkInvariants(t, b)
	}
	if err := b.MarkRefused(idN(9)); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("MarkRefused(unknown) = %v", err)
	}
}
