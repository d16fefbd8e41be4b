package peerset

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// fixedSource returns v forever: 0 means no jitter, ^0 the most.
type fixedSource uint64

func (f fixedSource) Uint64() uint64 { return uint64(f) }

func TestMustConnectAdmittedWhenFull(t *testing.T) {
	mc := pid(100)
	tests := []struct {
		name  string
		fill  []PeerInfo // admitted first
		dir   Direction
		cfg   Config
		deps  Deps
		reuse bool // the must-connect peer comes from the last filler's IP
	}{
		{"inbound full", []PeerInfo{info(1, Inbound)}, Inbound, Config{MaxInbound: 1}, Deps{}, false},
		{"no inbound at all", nil, Inbound, Config{MaxInbound: -1}, Deps{}, false},
		{"outbound full", []PeerInfo{info(1, Outbound)}, Outbound, Config{MaxOutbound: 1}, Deps{}, false},
		{"outbound group taken", []PeerInfo{info(1, Outbound)}, Outbound, Config{}, Deps{}, true},
		{"per-IP cap", []PeerInfo{info(1, Inbound)}, Inbound, Config{}, Deps{Counter: newCounter(1, 1)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.MustConnect = []crypto.Address{{ID: mc, Host: "192.0.2.1", Port: 1}}
			s, clk := newSetWith(t, cfg, tt.deps)
			for _, in := range tt.fill {
				mustAdmit(t, s, in, clk.Now())
			}
			in := info(100, tt.dir)
			if tt.reuse {
				in.Remote = tt.fill[len(tt.fill)-1].Remote
			}
			// An ordinary peer in the same position is refused...
			other := in
			other.ID = pid(101)
			if _, _, err := s.Admit(other, clk.Now()); err == nil {
				t.Fatal("ordinary peer admitted; the case does not test the exemption")
			}
			// ...the must-connect one is not.
			before := s.Counts()
			p := mustAdmit(t, s, in, clk.Now())
			after := s.Counts()
			if after.InboundSlots != before.InboundSlots || after.OutboundSlots != before.OutboundSlots {
				t.Errorf("must-connect peer took a slot: %+v -> %+v", before, after)
			}
			if after.MustConnectUp != 1 || after.MustConnectTotal != 1 {
				t.Errorf("counts %+v", after)
			}
			if ctr, ok := tt.deps.Counter.(*fakeCounter); ok && ctr.total() != 2 {
				t.Errorf("must-connect peer not counted by the Counter: %d", ctr.total())
			}
			if st, _ := s.Get(mc); !st.MustConnect {
				t.Error("Status.MustConnect false")
			}
			s.Remove(p)
			if ctr, ok := tt.deps.Counter.(*fakeCounter); ok && ctr.total() != 1 {
				t.Errorf("Remove did not release: %d", ctr.total())
			}
		})
	}
}

func TestRedialBackoff(t *testing.T) {
	mc := mustAddr(7)
	s, clk := newSetWith(t, Config{MustConnect: []crypto.Address{mc}}, Deps{Rand: fixedSource(0)})
	now := clk.Now()

	// Dialed at start, once.
	if due := s.DueRedials(now); len(due) != 1 || due[0] != mc {
		t.Fatalf("DueRedials at start = %v", due)
	}
	if due := s.DueRedials(now); len(due) != 0 {
		t.Fatalf("handed out twice: %v", due)
	}
	// Without jitter the delays double from RedialBase up to RedialMax.
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		w *= time.Second
		next := s.RedialFailed(mc.ID, now)
		if got := next.Sub(now); got != w {
			t.Fatalf("failure %d: delay %v, want %v", i+1, got, w)
		}
		if at, ok := s.NextRedial(mc.ID, now); !ok || !at.Equal(next) {
			t.Fatalf("NextRedial = %v %v, want %v", at, ok, next)
		}
		if at, ok := s.EarliestRedial(now); !ok || !at.Equal(next) {
			t.Fatalf("EarliestRedial = %v %v, want %v", at, ok, next)
		}
		if due := s.DueRedials(next.Add(-time.Nanosecond)); len(due) != 0 {
			t.Fatalf("due early: %v", due)
		}
		now = next
		if due := s.DueRedials(now); len(due) != 1 {
			t.Fatalf("not due at %v", now)
		}
	}
	if got := s.RedialFailed(pid(99), now); !got.IsZero() {
		t.Fatalf("RedialFailed of an unknown peer = %v", got)
	}
	if _, ok := s.NextRedial(pid(99), now); ok {
		t.Fatal("NextRedial of an unknown peer")
	}
}

func TestRedialJitter(t *testing.T) {
	// The most jitter takes RedialJitter off the delay.
	s, clk := newSetWith(t, Config{MustConnect: []crypto.Address{mustAddr(7)}}, Deps{Rand: fixedSource(^uint64(0))})
	now := clk.Now()
	d := s.RedialFailed(pid(7), now).Sub(now)
	if lo := time.Duration(float64(time.Second) * (1 - RedialJitter)); d < lo || d > lo+time.Millisecond {
		t.Fatalf("max-jitter delay %v, want about %v", d, lo)
	}

	// Random jitter stays within [cap*(1-RedialJitter), cap] and spreads.
	s, clk = newSetWith(t, Config{MustConnect: []crypto.Address{mustAddr(7)}}, Deps{Rand: rand.NewPCG(1, 2)})
	now = clk.Now()
	for range 10 {
		s.RedialFailed(pid(7), now)
	}
	lo, hi := time.Duration(float64(DefaultRedialMax)*(1-RedialJitter)), DefaultRedialMax
	minD, maxD := hi, lo
	for range 500 {
		d := s.RedialFailed(pid(7), now).Sub(now)
		if d < lo || d > hi {
			t.Fatalf("delay %v outside [%v, %v]", d, lo, hi)
		}
		minD, maxD = min(minD, d), max(maxD, d)
	}
	if maxD-minD < (hi-lo)*8/10 {
		t.Fatalf("jitter spread only over [%v, %v]", minD, maxD)
	}

	// The global source (Rand nil) jitters too.
	s, clk = newSet(t, Config{MustConnect: []crypto.Address{mustAddr(7)}})
	now = clk.Now()
	seen := map[time.Time]bool{}
	for range 20 {
		seen[s.RedialFailed(pid(7), now)] = true
	}
	if len(seen) < 2 {
		t.Fatal("no jitter from the default source")
	}
}

func TestRedialResetOnConnect(t *testing.T) {
	mc := mustAddr(7)
	s, clk := newSetWith(t, Config{MustConnect: []crypto.Address{mc}}, Deps{Rand: fixedSource(0)})
	for range 5 {
		s.RedialFailed(mc.ID, clk.Now()) // next delay would be 32 s
	}
	p := mustAdmit(t, s, info(7, Outbound), clk.Now())
	if _, ok := s.NextRedial(mc.ID, clk.Now()); ok {
		t.Fatal("connected peer has a redial scheduled")
	}
	if _, ok := s.EarliestRedial(clk.Now()); ok {
		t.Fatal("EarliestRedial with every must-connect peer up")
	}
	if due := s.DueRedials(clk.Now().Add(time.Hour)); len(due) != 0 {
		t.Fatalf("connected peer due: %v", due)
	}
	if got := s.RedialFailed(mc.ID, clk.Now()); !got.IsZero() {
		t.Fatal("RedialFailed counted for a connected peer")
	}

	// A connection that lasted RedialStablePeriod: redial at once, backoff reset.
	clk.Advance(RedialStablePeriod)
	s.Remove(p)
	now := clk.Now()
	if at, ok := s.NextRedial(mc.ID, now); !ok || !at.Equal(now) {
		t.Fatalf("after a stable connection NextRedial = %v, want now", at)
	}
	if due := s.DueRedials(now); len(due) != 1 {
		t.Fatal("not due after disconnect")
	}
	if d := s.RedialFailed(mc.ID, now).Sub(now); d != DefaultRedialBase {
		t.Fatalf("first failure after reset: %v, want %v", d, DefaultRedialBase)
	}

	// A connection shorter than RedialStablePeriod continues the backoff:
	// one failure before it, so the drop counts as the second.
	p = mustAdmit(t, s, info(7, Inbound), now)
	clk.Advance(RedialStablePeriod / 2)
	now = clk.Now()
	s.Remove(p)
	if at, _ := s.NextRedial(mc.ID, now); at.Sub(now) != 2*DefaultRedialBase {
		t.Fatalf("after a short connection the delay is %v, want %v", at.Sub(now), 2*DefaultRedialBase)
	}
}

func TestRedialAttemptTimeout(t *testing.T) {
	s, clk := newSet(t, Config{MustConnect: []crypto.Address{mustAddr(7)}})
	now := clk.Now()
	if len(s.DueRedials(now)) != 1 {
		t.Fatal("not due at start")
	}
	if at, ok := s.NextRedial(pid(7), now); !ok || at.Sub(now) != RedialAttemptTimeout {
		t.Fatalf("NextRedial while dialing = %v", at)
	}
	if len(s.DueRedials(now.Add(RedialAttemptTimeout-1))) != 0 {
		t.Fatal("handed out again before the attempt timeout")
	}
	if len(s.DueRedials(now.Add(RedialAttemptTimeout))) != 1 {
		t.Fatal("not handed out again after the attempt timeout")
	}
}

func TestRedialOrderAndBans(t *testing.T) {
	addrs := []crypto.Address{mustAddr(9), mustAddr(3), mustAddr(5)}
	s, clk := newSet(t, Config{MustConnect: addrs})
	now := clk.Now()
	if _, err := s.Ban(pid(5), time.Minute, "operator"); err != nil {
		t.Fatal(err)
	}
	due := s.DueRedials(now)
	if len(due) != 2 || due[0].ID != pid(3) || due[1].ID != pid(9) {
		t.Fatalf("DueRedials = %v, want 3 and 9 in order, 5 banned", due)
	}
	mustAdmit(t, s, info(3, Outbound), now)
	mustAdmit(t, s, info(9, Outbound), now)
	if at, ok := s.NextRedial(pid(5), now); !ok || !at.Equal(now.Add(time.Minute)) {
		t.Fatalf("banned peer's NextRedial = %v, want the ban's end", at)
	}
	if at, ok := s.EarliestRedial(now); !ok || !at.Equal(now.Add(time.Minute)) {
		t.Fatalf("EarliestRedial = %v", at)
	}
	// Admit refuses an explicitly banned must-connect peer.
	if _, _, err := s.Admit(info(5, Outbound), now); ReasonOf(err) != ReasonBanned {
		t.Fatalf("Admit banned must-connect: %v", err)
	}
	if due := s.DueRedials(now.Add(time.Minute)); len(due) != 1 || due[0].ID != pid(5) {
		t.Fatalf("after the ban: %v", due)
	}
	if got := s.MustConnect(); len(got) != 3 || got[0].ID != pid(3) || got[2].ID != pid(9) {
		t.Fatalf("MustConnect = %v", got)
	}
}

func TestMustConnectRuntime(t *testing.T) {
	s, clk := newSet(t, Config{MaxInbound: 1})
	now := clk.Now()
	p := mustAdmit(t, s, info(1, Inbound), now)
	if _, _, err := s.Admit(info(2, Inbound), now); ReasonOf(err) != ReasonTooManyPeers {
		t.Fatalf("want full: %v", err)
	}

	// Promoting a connected peer frees its slot.
	if err := s.AddMustConnect(mustAddr(1)); err != nil {
		t.Fatal(err)
	}
	if !s.IsMustConnect(pid(1)) || s.Counts().InboundSlots != 0 || s.Counts().MustConnectUp != 1 {
		t.Fatalf("after AddMustConnect: %+v", s.Counts())
	}
	if _, ok := s.NextRedial(pid(1), now); ok {
		t.Fatal("connected must-connect peer scheduled")
	}
	q := mustAdmit(t, s, info(2, Inbound), now)
	// Adding again updates the address only.
	moved := mustAddr(1)
	moved.Port = 999
	if err := s.AddMustConnect(moved); err != nil || s.MustConnect()[0].Port != 999 {
		t.Fatalf("re-add: %v %v", err, s.MustConnect())
	}

	// Demoting it puts it back into a slot, above the limit until it leaves.
	if !s.RemoveMustConnect(pid(1)) || s.RemoveMustConnect(pid(1)) {
		t.Fatal("RemoveMustConnect not exactly once")
	}
	if c := s.Counts(); c.InboundSlots != 2 || c.MustConnectTotal != 0 || c.MustConnectUp != 0 {
		t.Fatalf("after RemoveMustConnect: %+v", c)
	}
	s.Remove(p)
	s.Remove(q)
	if c := s.Counts(); c != (Counts{}) {
		t.Fatalf("after removing all: %+v", c)
	}

	// A new must-connect peer is due at once.
	if err := s.AddMustConnect(mustAddr(3)); err != nil {
		t.Fatal(err)
	}
	if due := s.DueRedials(now); len(due) != 1 || due[0].ID != pid(3) {
		t.Fatalf("DueRedials = %v", due)
	}

	// Bad addresses.
	for _, a := range []crypto.Address{
		{Host: "192.0.2.1", Port: 1},
		{ID: selfID, Host: "192.0.2.1", Port: 1},
		{ID: pid(4), Port: 1},
		{ID: pid(4), Host: "192.0.2.1"},
	} {
		if err := s.AddMustConnect(a); err == nil {
			t.Errorf("AddMustConnect(%v) succeeded", a)
		}
	}
}

func TestMustConnectLimitAndClose(t *testing.T) {
	s, _ := newSet(t, Config{})
	for i := range MaxMustConnect {
		if err := s.AddMustConnect(mustAddr(i + 1)); err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
	}
	if err := s.AddMustConnect(mustAddr(MaxMustConnect + 1)); err == nil {
		t.Fatal("beyond MaxMustConnect accepted")
	}
	if err := s.AddMustConnect(mustAddr(1)); err != nil {
		t.Fatalf("re-adding a known peer at the limit: %v", err)
	}
	s.Close()
	if err := s.AddMustConnect(crypto.Address{ID: pid(5000), Host: "h", Port: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if due := s.DueRedials(t0); due != nil {
		t.Fatalf("DueRedials after Close: %d", len(due))
	}
}

// TestMustConnectLiftsAutoBan: making a score-banned peer must-connect
// lifts that ban; an operator's ban stays.
func TestMustConnectLiftsAutoBan(t *testing.T) {
	s, clk := newSet(t, Config{})
	now := clk.Now()
	if b := s.Report(pid(1), -200, "spam"); b == nil {
		t.Fatal("no ban")
	}
	if _, err := s.Ban(pid(2), time.Hour, "operator"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2} {
		if err := s.AddMustConnect(mustAddr(n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.Banned(pid(1), now); ok {
		t.Error("score ban kept")
	}
	if _, ok := s.Banned(pid(2), now); !ok {
		t.Error("operator ban lifted")
	}
	in := info(1, Inbound)
	in.Remote = netip.MustParseAddrPort("192.0.2.1:1")
	mustAdmit(t, s, in, now)
}
