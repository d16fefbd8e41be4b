package peerset

import (
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

func TestTrim(t *testing.T) {
	type peer struct {
		n     int
		dir   Direction
		age   time.Duration // connected this long before Trim
		score float64
		must  bool
	}
	old := 2 * DefaultGracePeriod
	tests := []struct {
		name      string
		high, low int
		peers     []peer
		want      []int // victims in order
	}{
		{"at high: nothing", 3, 2, []peer{{1, Inbound, old, -5, false}, {2, Inbound, old, 0, false}, {3, Outbound, old, 0, false}}, nil},
		{"lowest score first", 3, 1, []peer{
			{1, Inbound, old, 5, false}, {2, Outbound, old, -7, false}, {3, Inbound, old, -1, false}, {4, Inbound, old, 2, false},
		}, []int{2, 3, 4}},
		{"grace period spares newcomers", 2, 1, []peer{
			{1, Inbound, old, 5, false}, {2, Inbound, time.Second, -50, false}, {3, Inbound, old, 1, false},
		}, []int{3, 1}},
		{"must-connect spared and not counted", 2, 1, []peer{
			{1, Inbound, old, -90, true}, {2, Inbound, old, 0, true}, {3, Inbound, old, 1, false}, {4, Outbound, old, 2, false}, {5, Inbound, old, 3, false},
		}, []int{3, 4}},
		{"ties: inbound first, then newest, then ID", 1, 0, []peer{
			{1, Outbound, old + time.Second, 0, false},
			{2, Outbound, old, 0, false},
			{3, Inbound, old + time.Minute, 0, false},
			{4, Inbound, old, 0, false},
			{5, Inbound, old, 0, false},
		}, []int{4, 5, 3, 2, 1}},
		{"not enough eligible", 1, 0, []peer{
			{1, Inbound, time.Second, 0, false}, {2, Inbound, old, 0, false}, {3, Inbound, 0, 0, false},
		}, []int{2}},
		{"disabled", -1, 0, []peer{{1, Inbound, old, -5, false}, {2, Inbound, old, -5, false}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{HighWatermark: tt.high, LowWatermark: tt.low, MaxInbound: 100, MaxOutbound: 100}
			for _, p := range tt.peers {
				if p.must {
					cfg.MustConnect = append(cfg.MustConnect, mustAddr(p.n))
				}
			}
			if tt.high < 0 {
				cfg.LowWatermark = 0
			}
			s, clk := newSet(t, cfg)
			now := clk.Now().Add(time.Hour)
			for _, p := range tt.peers {
				mustAdmit(t, s, info(p.n, p.dir), now.Add(-p.age))
				s.Report(pid(p.n), p.score, "")
			}
			victims := s.Trim(now)
			var got []int
			for _, v := range victims {
				got = append(got, int(v.ID[0])<<8|int(v.ID[1]))
				if _, ok := s.Get(v.ID); ok {
					t.Errorf("victim %d still in the set", got[len(got)-1])
				}
				if s.Remove(v) {
					t.Error("Remove of a victim found it")
				}
			}
			if !equalInts(got, tt.want) {
				t.Fatalf("victims %v, want %v", got, tt.want)
			}
			if again := s.Trim(now); len(tt.want) > 0 && again != nil {
				t.Fatalf("second Trim removed %d more", len(again))
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTrimRemembersAndDoesNotAllocate(t *testing.T) {
	s, clk := newSet(t, Config{HighWatermark: 2, LowWatermark: 1, GracePeriod: -1})
	for i := 1; i <= 3; i++ {
		mustAdmit(t, s, info(i, Inbound), clk.Now())
	}
	s.Report(pid(1), -20, "")
	v := s.Trim(clk.Now())
	if len(v) != 2 || v[0].ID != pid(1) {
		t.Fatalf("victims %v", v)
	}
	if sc, ok := s.Score(pid(1)); !ok || sc != -20 {
		t.Fatalf("victim's score not remembered: %v %v", sc, ok)
	}
	if n := testing.AllocsPerRun(100, func() { s.Trim(clk.Now()) }); n != 0 {
		t.Fatalf("Trim below the high watermark allocates %v times", n)
	}
	for _, p := range s.mu.scratch[:cap(s.mu.scratch)] {
		if p != nil {
			t.Fatal("Trim's scratch keeps peers alive")
		}
	}
}

// TestTrimMixedWithMustConnectRuntime: a peer promoted to must-connect
// leaves the watermark count.
func TestTrimPromoted(t *testing.T) {
	s, clk := newSet(t, Config{HighWatermark: 1, LowWatermark: 1, GracePeriod: -1})
	mustAdmit(t, s, info(1, Inbound), clk.Now())
	mustAdmit(t, s, info(2, Inbound), clk.Now())
	s.Report(pid(1), -10, "")
	if err := s.AddMustConnect(crypto.Address{ID: pid(1), Host: "192.0.2.1", Port: 1}); err != nil {
		t.Fatal(err)
	}
	if v := s.Trim(clk.Now()); v != nil {
		t.Fatalf("Trim = %v with one slot peer", v)
	}
}
