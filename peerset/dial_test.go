package peerset

import (
	"errors"
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

func TestDialExclusions(t *testing.T) {
	s, _ := newSet(t, Config{MustConnect: []crypto.Address{mustAddr(3)}})
	mustAdmit(t, s, info(1, Inbound), t0)
	done, err := s.BeginDial(pid(2))
	if err != nil {
		t.Fatal(err)
	}
	ex := s.DialExclusions()
	for _, n := range []int{1, 2, 3} {
		if _, ok := ex[pid(n)]; !ok {
			t.Errorf("peer %d not excluded", n)
		}
	}
	if _, ok := ex[pid(4)]; ok || len(ex) != 3 {
		t.Errorf("DialExclusions = %v", ex)
	}
	done()
	if _, ok := s.DialExclusions()[pid(2)]; ok {
		t.Error("ended dial still excluded")
	}
}
