package peerset

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/errs"
)

func TestBeginDial(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, s *Set) // state before BeginDial(pid(1))
		want    error
	}{
		{"free", func(*testing.T, *Set) {}, nil},
		{"connected", func(t *testing.T, s *Set) { mustAdmit(t, s, info(1, Inbound), t0) }, errs.ErrConnected},
		{"dialing", func(t *testing.T, s *Set) {
			if _, err := s.BeginDial(pid(1)); err != nil {
				t.Fatal(err)
			}
		}, errs.ErrDialing},
		{"dial ended", func(t *testing.T, s *Set) {
			done, err := s.BeginDial(pid(1))
			if err != nil {
				t.Fatal(err)
			}
			done()
		}, nil},
		{"other peer dialing", func(t *testing.T, s *Set) {
			if _, err := s.BeginDial(pid(2)); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"connection removed", func(t *testing.T, s *Set) {
			s.Remove(mustAdmit(t, s, info(1, Inbound), t0))
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newSet(t, Config{})
			tc.prepare(t, s)
			done, err := s.BeginDial(pid(1))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("BeginDial = %v, want %v", err, tc.want)
			}
			if err != nil {
				if done != nil {
					t.Error("a refused BeginDial returned a done func")
				}
				return
			}
			if !s.Busy(pid(1)) {
				t.Error("Busy = false during the dial")
			}
			done()
			done() // idempotent
			if s.Busy(pid(1)) {
				t.Error("Busy = true after done")
			}
		})
	}
}

func TestBeginDialZeroID(t *testing.T) {
	s, _ := newSet(t, Config{})
	for range 2 {
		done, err := s.BeginDial(crypto.ID{})
		if err != nil {
			t.Fatalf("BeginDial(zero) = %v", err)
		}
		defer done()
	}
	if s.Busy(crypto.ID{}) {
		t.Error("a zero ID is tracked")
	}
}

// TestBeginDialConcurrent checks that of many goroutines dialing one ID at
// once exactly one wins each round, and that a done frees the ID again.
func TestBeginDialConcurrent(t *testing.T) {
	s, _ := newSet(t, Config{})
	const workers, rounds = 8, 50
	for r := range rounds {
		var wins, dialing atomic.Int32
		var dones sync.Map
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				done, err := s.BeginDial(pid(1))
				switch {
				case err == nil:
					wins.Add(1)
					dones.Store(w, done)
				case errors.Is(err, errs.ErrDialing):
					dialing.Add(1)
				default:
					t.Errorf("round %d: BeginDial = %v", r, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || dialing.Load() != workers-1 {
			t.Fatalf("round %d: %d won, %d saw ErrDialing; want 1 and %d", r, wins.Load(), dialing.Load(), workers-1)
		}
		dones.Range(func(_, v any) bool { v.(func())(); return true })
		if s.Busy(pid(1)) {
			t.Fatalf("round %d: still busy after done", r)
		}
	}
}

// TestDialView: the view skips what the set would refuse to dial —
// connected, being dialed, must-connect, a full network group — and what
// its holder took since, and nothing else.
func TestDialView(t *testing.T) {
	s, _ := newSet(t, Config{MustConnect: []crypto.Address{mustAddr(3)}, MaxOutboundPerGroup: 1})
	mustAdmit(t, s, info(1, Inbound), t0)
	mustAdmit(t, s, info(5, Outbound), t0) // fills addrOf(5)'s group
	done, err := s.BeginDial(pid(2))
	if err != nil {
		t.Fatal(err)
	}
	v := s.DialView()
	free := netip.MustParseAddr("198.51.100.7")
	for _, n := range []int{1, 2, 3, 5} {
		if !v.Busy(pid(n)) || !v.Refuses(pid(n), free) {
			t.Errorf("peer %d not excluded", n)
		}
	}
	if v.Busy(pid(4)) || v.Refuses(pid(4), free) || v.Refuses(pid(4), netip.Addr{}) {
		t.Error("a free peer at a free address is excluded")
	}
	if !v.Refuses(pid(4), addrOf(5).Addr()) {
		t.Error("an address in a full group is not refused")
	}
	// Taking a dial counts it: its ID and its group's share.
	v.Take(pid(4), free)
	if !v.Busy(pid(4)) || !v.Refuses(pid(6), free) {
		t.Error("a taken dial is not counted")
	}
	if v.Refuses(pid(6), netip.Addr{}) || v.Refuses(pid(6), addrOf(6).Addr()) {
		t.Error("a taken dial's group refuses other groups or names")
	}
	// The view is a snapshot: the set's state moves on without it.
	done()
	if !v.Busy(pid(2)) {
		t.Error("the snapshot changed with the set")
	}
	if s.DialView().Busy(pid(2)) || s.DialView().Busy(pid(4)) {
		t.Error("a new view keeps an ended dial or the old view's take")
	}
	// Without a group limit no address is refused for its group.
	u, _ := newSet(t, Config{MaxOutboundPerGroup: -1})
	mustAdmit(t, u, info(5, Outbound), t0)
	if u.DialView().Refuses(pid(6), addrOf(5).Addr()) {
		t.Error("group refused with MaxOutboundPerGroup -1")
	}
}
