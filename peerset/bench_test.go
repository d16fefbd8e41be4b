package peerset

import (
	"math/rand/v2"
	"testing"
	"time"
)

const benchPeers = 1000

// benchSet returns a Set holding benchPeers inbound peers with spread
// scores, connected an hour before the returned time.
func benchSet(b *testing.B, cfg Config) (*Set, time.Time) {
	b.Helper()
	cfg.MaxInbound = 2 * benchPeers
	cfg.MaxOutbound = benchPeers
	cfg.MaxOutboundPerGroup = -1
	s, clk := newSet(b, cfg)
	r := rand.New(rand.NewPCG(1, 1))
	for i := 1; i <= benchPeers; i++ {
		mustAdmit(b, s, info(i, Inbound), clk.Now())
		s.Report(pid(i), r.Float64()*40-20, "")
	}
	return s, clk.Now().Add(time.Hour)
}

// BenchmarkAdmitRemove admits and removes one peer next to 1,000 others.
func BenchmarkAdmitRemove(b *testing.B) {
	s, now := benchSet(b, Config{HighWatermark: -1})
	in := info(benchPeers+1, Inbound)
	b.ReportAllocs()
	for b.Loop() {
		p, _, err := s.Admit(in, now)
		if err != nil {
			b.Fatal(err)
		}
		s.Remove(p)
	}
}

// BenchmarkReport moves the score of one of 1,000 connected peers.
func BenchmarkReport(b *testing.B) {
	s, _ := benchSet(b, Config{BanThreshold: MinScore})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		s.Report(pid(1+i%benchPeers), 0.25-float64(i&1)*0.5, "bench")
	}
}

// BenchmarkTrim trims 1,000 peers down by two and re-admits the two
// victims (two Admits, about 1 µs, are inside the timing: stopping the
// timer would cost more than they do).
func BenchmarkTrim(b *testing.B) {
	s, now := benchSet(b, Config{HighWatermark: benchPeers - 1, LowWatermark: benchPeers - 2})
	b.ReportAllocs()
	for b.Loop() {
		victims := s.Trim(now)
		if len(victims) != 2 {
			b.Fatalf("%d victims", len(victims))
		}
		for _, v := range victims {
			mustAdmit(b, s, PeerInfo{ID: v.ID, Direction: v.Direction, Remote: v.Remote}, now.Add(-time.Hour))
		}
	}
}

// BenchmarkTrimIdle is Trim's cost when below the high watermark.
func BenchmarkTrimIdle(b *testing.B) {
	s, now := benchSet(b, Config{HighWatermark: benchPeers})
	b.ReportAllocs()
	for b.Loop() {
		s.Trim(now)
	}
}

// BenchmarkDecay decays 1,000 connected scores (and the remembered ones).
func BenchmarkDecay(b *testing.B) {
	s, now := benchSet(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		s.Decay(now)
	}
}

// BenchmarkCounts reads the counts of a Set of 1,000 peers (p2p's fill and
// PEX round read them every time).
func BenchmarkCounts(b *testing.B) {
	s, _ := benchSet(b, Config{})
	b.ReportAllocs()
	for b.Loop() {
		if s.Counts().InboundSlots != benchPeers {
			b.Fatal("counts")
		}
	}
}
