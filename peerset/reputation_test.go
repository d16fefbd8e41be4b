package peerset

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

func TestReportMovesScore(t *testing.T) {
	tests := []struct {
		name   string
		must   bool
		deltas []float64
		want   float64
	}{
		{"up and down", false, []float64{5, -3, 0.5}, 2.5},
		{"capped above", false, []float64{80, 80}, MaxScore},
		{"floored below", true, []float64{-900, -900}, MinScore},
		{"NaN ignored", false, []float64{3, math.NaN()}, 3},
		{"infinities clamp", true, []float64{math.Inf(1), math.Inf(-1)}, MinScore},
		{"near zero is zero", false, []float64{0.001}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}
			if tt.must {
				cfg.MustConnect = []crypto.Address{mustAddr(1)}
			}
			s, clk := newSet(t, cfg)
			mustAdmit(t, s, info(1, Inbound), clk.Now())
			for _, d := range tt.deltas {
				if b := s.Report(pid(1), d, "test"); b != nil {
					t.Fatalf("unexpected ban %+v", b)
				}
			}
			if got, ok := s.Score(pid(1)); !ok || got != tt.want {
				t.Fatalf("score = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRecordEvents(t *testing.T) {
	s, clk := newSet(t, Config{EventDeltas: map[Event]float64{EventGoodPEX: 10}})
	mustAdmit(t, s, info(1, Inbound), clk.Now())
	steps := []struct {
		ev   Event
		want float64
	}{
		{EventGoodPEX, 10},
		{EventRateExceeded, 10 + DeltaRateExceeded},
		{EventGoodMessage, 10 + DeltaRateExceeded + DeltaGoodMessage},
		{EventInvalidMessage, 10 + DeltaRateExceeded + DeltaGoodMessage + DeltaInvalidMessage},
		{EventBadPEX, 10 + DeltaRateExceeded + DeltaGoodMessage + DeltaInvalidMessage + DeltaBadPEX},
		{Event(0), 10 + DeltaRateExceeded + DeltaGoodMessage + DeltaInvalidMessage + DeltaBadPEX},
		{Event(200), 10 + DeltaRateExceeded + DeltaGoodMessage + DeltaInvalidMessage + DeltaBadPEX},
	}
	for _, st := range steps {
		s.Record(pid(1), st.ev)
		if got, _ := s.Score(pid(1)); math.Abs(got-st.want) > 1e-9 {
			t.Fatalf("after %v: score %v, want %v", st.ev, got, st.want)
		}
	}
	// Reports about ourselves or the zero ID go nowhere.
	if s.Report(selfID, -1000, "") != nil || s.Report(crypto.ID{}, -1000, "") != nil {
		t.Fatal("ban of self or zero ID")
	}
	if _, ok := s.Score(selfID); ok {
		t.Fatal("score kept for self")
	}
}

func TestDecayHalfLife(t *testing.T) {
	s, clk := newSet(t, Config{DecayHalfLife: time.Minute})
	mustAdmit(t, s, info(1, Inbound), clk.Now())
	mustAdmit(t, s, info(2, Inbound), clk.Now())
	s.Report(pid(1), -80, "")
	s.Report(pid(2), 64, "")
	s.Report(pid(3), -16, "") // disconnected: remembered

	want := func(id crypto.ID, v float64) {
		t.Helper()
		if got, _ := s.Score(id); math.Abs(got-v) > 1e-9 {
			t.Fatalf("%s score %v, want %v", id.Short(), got, v)
		}
	}
	s.Decay(advance(clk, time.Minute))
	want(pid(1), -40)
	want(pid(2), 32)
	want(pid(3), -8)

	// Many small steps decay exactly as much as one big one.
	for range 60 {
		s.Decay(advance(clk, time.Second))
	}
	want(pid(1), -20)
	want(pid(2), 16)

	// A clock that does not move (or goes back) changes nothing.
	s.Decay(clk.Now())
	s.Decay(clk.Now().Add(-time.Hour))
	want(pid(1), -20)

	// Scores reach neutral; a neutral remembered score is forgotten.
	s.Decay(advance(clk, 20*time.Minute))
	want(pid(1), 0)
	want(pid(2), 0)
	if _, ok := s.Score(pid(3)); ok {
		t.Fatal("neutral score still remembered")
	}
	if s.Counts().Remembered != 0 {
		t.Fatalf("counts %+v", s.Counts())
	}
}

func TestBanThreshold(t *testing.T) {
	tests := []struct {
		name      string
		threshold float64
		deltas    []float64
		banAt     int // index of the report that bans, -1 for none
	}{
		{"three violations", 0, []float64{DeltaProtocolViolation, DeltaProtocolViolation, DeltaProtocolViolation}, 2},
		{"exactly at threshold", -50, []float64{-25, -25}, 1},
		{"just above", -50, []float64{-25, -24.9}, -1},
		{"goodwill delays it", -50, []float64{30, -60, -30}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctr := newCounter(0, 0)
			s, clk := newSetWith(t, Config{BanThreshold: tt.threshold, BanDuration: 10 * time.Minute}, Deps{Counter: ctr})
			p := mustAdmit(t, s, info(1, Inbound), clk.Now())
			for i, d := range tt.deltas {
				b := s.Report(pid(1), d, "why")
				if i != tt.banAt {
					if b != nil {
						t.Fatalf("report %d banned: %+v", i, b)
					}
					continue
				}
				if b == nil {
					t.Fatalf("report %d did not ban", i)
				}
				if b.ID != pid(1) || b.Peer != p || !b.Until.Equal(clk.Now().Add(10*time.Minute)) || b.Score > s.cfg.banThreshold {
					t.Fatalf("decision %+v", b)
				}
				if !strings.Contains(b.Reason, "why") {
					t.Fatalf("reason %q", b.Reason)
				}
				if s.Len() != 0 || ctr.total() != 0 || s.Remove(p) {
					t.Fatal("banned peer not removed and released")
				}
				if b.Peer.Disconnect(ReasonLowReputation, b.Reason) != nil {
					t.Fatal("Disconnect failed")
				}
				if n, r := p.Conn.(*fakeConn).closed(); n != 1 || r != ReasonLowReputation {
					t.Fatalf("conn closed %d times with %v", n, r)
				}
			}
			if tt.banAt < 0 {
				return
			}
			// No second decision while banned.
			if b := s.Report(pid(1), -100, "again"); b != nil {
				t.Fatalf("banned twice: %+v", b)
			}
			// Refused until the ban ends, then admitted with its remembered score.
			clk.Advance(10*time.Minute - 1)
			if _, _, err := s.Admit(info(1, Inbound), clk.Now()); ReasonOf(err) != ReasonBanned {
				t.Fatalf("Admit while banned: %v", err)
			}
			clk.Advance(1)
			p2 := mustAdmit(t, s, info(1, Inbound), clk.Now())
			if st, _ := s.Get(p2.ID); st.Score > tt.threshold {
				t.Fatalf("score %v forgotten over the ban (no Decay ran)", st.Score)
			}
		})
	}
}

func TestReportDisconnectedPeer(t *testing.T) {
	s, clk := newSet(t, Config{})
	b := s.Report(pid(1), -150, "bad gossip")
	if b == nil || b.Peer != nil || b.ID != pid(1) {
		t.Fatalf("decision %+v", b)
	}
	if _, ok := s.Banned(pid(1), clk.Now()); !ok {
		t.Fatal("not banned")
	}
	if err := s.CheckDial(pid(1), addrOf(1).Addr(), clk.Now()); ReasonOf(err) != ReasonBanned {
		t.Fatalf("CheckDial = %v", err)
	}
}

func TestMustConnectNeverAutoBanned(t *testing.T) {
	s, clk := newSet(t, Config{MustConnect: []crypto.Address{mustAddr(1)}, MaxInbound: 1, HighWatermark: 1, LowWatermark: 1, GracePeriod: -1})
	p := mustAdmit(t, s, info(1, Inbound), clk.Now())
	for range 50 {
		if b := s.Record(pid(1), EventProtocolViolation); b != nil {
			t.Fatalf("must-connect peer banned: %+v", b)
		}
	}
	if sc, _ := s.Score(pid(1)); sc != MinScore {
		t.Fatalf("score %v, want tracked down to %v", sc, MinScore)
	}
	if _, ok := s.Banned(pid(1), clk.Now()); ok {
		t.Fatal("banned")
	}
	// Still connected, and Trim spares it though it has the lowest score.
	mustAdmit(t, s, info(2, Inbound), clk.Now())
	mustAdmit(t, s, info(3, Outbound), clk.Now())
	victims := s.Trim(clk.Now())
	if len(victims) != 1 || victims[0].ID == pid(1) {
		t.Fatalf("Trim = %v", victims)
	}
	if st, ok := s.Get(pid(1)); !ok || st.Peer != p {
		t.Fatal("must-connect peer disconnected")
	}
	// Disconnected, it is still never banned.
	s.Remove(p)
	if b := s.Report(pid(1), -100, ""); b != nil {
		t.Fatal("disconnected must-connect peer banned")
	}
}

func TestScoreMemory(t *testing.T) {
	s, clk := newSet(t, Config{ScoreMemory: 3})
	now := clk.Now()
	for i := 1; i <= 5; i++ {
		p := mustAdmit(t, s, info(i, Inbound), now)
		s.Report(pid(i), float64(-i), "")
		s.Remove(p)
	}
	for i := 1; i <= 5; i++ {
		sc, ok := s.Score(pid(i))
		if wantKept := i > 2; ok != wantKept || ok && sc != float64(-i) {
			t.Errorf("peer %d: score %v kept %v", i, sc, ok)
		}
	}
	// A reconnecting peer gets its score back (so it cannot wash it).
	p := mustAdmit(t, s, info(4, Inbound), now)
	if st, _ := s.Get(p.ID); st.Score != -4 {
		t.Fatalf("score after reconnect %v", st.Score)
	}
	if s.Counts().Remembered != 2 {
		t.Fatalf("remembered %d", s.Counts().Remembered)
	}

	// ScoreMemory < 0 remembers nothing.
	s, clk = newSet(t, Config{ScoreMemory: -1})
	p = mustAdmit(t, s, info(1, Inbound), clk.Now())
	s.Report(pid(1), -50, "")
	s.Remove(p)
	if _, ok := s.Score(pid(1)); ok {
		t.Fatal("remembered with ScoreMemory < 0")
	}
	if b := s.Report(pid(2), -200, ""); b == nil {
		t.Fatal("no ban without memory")
	}
}

// TestScoreMemoryQueueBounded: reconnect churn must not grow the queue.
func TestScoreMemoryQueueBounded(t *testing.T) {
	var m scoreMemory
	m.init(8)
	for i := range 100_000 {
		id := pid(i % 20)
		m.put(id, -1)
		if i%3 == 0 {
			m.take(pid((i + 7) % 20))
		}
		if i%5 == 0 {
			m.update(pid(i%30), -2)
		}
		if len(m.m) > 8 {
			t.Fatalf("step %d: %d entries", i, len(m.m))
		}
		if len(m.q)-m.head > 2*len(m.m)+64+1 {
			t.Fatalf("step %d: queue %d for %d entries", i, len(m.q)-m.head, len(m.m))
		}
	}
	if cap(m.q) > 1024 {
		t.Fatalf("queue capacity grew to %d", cap(m.q))
	}
}

func TestManualBan(t *testing.T) {
	s, clk := newSet(t, Config{MustConnect: []crypto.Address{mustAddr(2)}})
	now := clk.Now()
	p := mustAdmit(t, s, info(1, Inbound), now)
	got, err := s.Ban(pid(1), time.Hour, strings.Repeat("x", 1000))
	if err != nil || got != p || s.Len() != 0 {
		t.Fatalf("Ban = %v, %v", got, err)
	}
	if bansOf(s).reason(pid(1)) != strings.Repeat("x", MaxReasonLen) {
		t.Fatal("reason not cut")
	}
	// Never shortened.
	if _, err := s.Ban(pid(1), time.Minute, "short"); err != nil {
		t.Fatal(err)
	}
	if until, ok := s.Banned(pid(1), now); !ok || !until.Equal(now.Add(time.Hour)) {
		t.Fatalf("Banned = %v %v", until, ok)
	}
	// Applies to must-connect peers.
	mc := mustAdmit(t, s, info(2, Outbound), now)
	if got, _ := s.Ban(pid(2), time.Hour, "operator"); got != mc {
		t.Fatal("must-connect peer not disconnected by Ban")
	}
	if !s.Unban(pid(2)) || s.Unban(pid(2)) {
		t.Fatal("Unban not exactly once")
	}
	mustAdmit(t, s, info(2, Outbound), now)
	for _, bad := range []struct {
		id crypto.ID
		d  time.Duration
	}{{pid(3), 0}, {pid(3), -time.Second}, {pid(3), fakeMaxBan + 1}, {crypto.ID{}, time.Hour}, {selfID, time.Hour}} {
		if _, err := s.Ban(bad.id, bad.d, ""); err == nil {
			t.Errorf("Ban(%s, %v) succeeded", bad.id.Short(), bad.d)
		}
	}
	// Expired bans are no longer in force.
	s.Decay(advance(clk, time.Hour))
	if n := bansOf(s).inForce(); n != 0 {
		t.Fatalf("bans after expiry: %d", n)
	}
}

// refusingBans is a BanList that records nothing, as a full ban table does.
type refusingBans struct{ *fakeBans }

func (refusingBans) Ban(crypto.ID, time.Duration, string) error { return errors.New("ban table full") }

// TestScoreBanNotRecordedLogged: when the BanList refuses a score ban the
// peer is still disconnected, and the Set says so on Deps.Logger (it used
// to be silent, and had no logger).
func TestScoreBanNotRecordedLogged(t *testing.T) {
	var logs bytes.Buffer
	bans := refusingBans{newFakeBans(time.Now)}
	s, clk := newSetWith(t, Config{}, Deps{Bans: bans, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	mustAdmit(t, s, info(1, Inbound), clk.Now())
	b := s.Report(pid(1), -1000, "test")
	if b == nil || b.Peer == nil {
		t.Fatalf("Report = %+v, want a decision that disconnects the peer", b)
	}
	if _, ok := s.Get(pid(1)); ok {
		t.Error("peer still in the set")
	}
	if !strings.Contains(logs.String(), "score ban not recorded") || !strings.Contains(logs.String(), "ban table full") {
		t.Errorf("log = %q", logs.String())
	}
}
