package sim

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
	"time"
)

// oneSlash16 is the CI's attacker: 64 IPs in one /16, PEX poisoning and
// 40 inbound connections held to each victim.
var oneSlash16 = Attack{Name: "one-/16", Groups: 1, IPsPerGroup: 64, PexPoison: true, InboundPerVictim: 40}

// TestDeterministic runs one scenario twice with the same seed and once
// with another: the first two Results are identical, the third is not.
func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 7, Nodes: 150, Monitored: 5, Validators: 4, ChurnShare: 0.3, Duration: 3 * time.Minute, Attack: oneSlash16}
	a, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different results:\n%+v\n%+v", a.Final, b.Final)
	}
	if a.Events == 0 || a.Dials == 0 || a.PexRequests == 0 || a.PoisonSent == 0 || a.Restarts == 0 {
		t.Fatalf("run did nothing: events %d dials %d pex %d poison %d restarts %d", a.Events, a.Dials, a.PexRequests, a.PoisonSent, a.Restarts)
	}
	cfg.Seed = 8
	c, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Samples, c.Samples) {
		t.Fatal("seeds 7 and 8 gave identical samples: the seed is not used")
	}
}

// TestCISize is the CI-size run: 1,000 nodes (half behind NAT, 30%
// churning, 10 validators, 20 victims with full books) against the one-/16
// attacker, two seeds of 4 min (one of 2 min under the race detector,
// race_test.go). Bounds: no honest node eclipsed, none with more
// than one attacker outbound peer (one outbound peer per /16), every
// online node with an honest outbound peer, the validators meshed, gossip
// reaching every node connected to the honest graph.
func TestCISize(t *testing.T) {
	for seed := uint64(1); seed <= ciSeeds; seed++ {
		start := time.Now()
		r, err := Run(Config{Seed: seed, Nodes: 1000, Monitored: 20, Validators: 10, ChurnShare: 0.3, Duration: ciDuration, Attack: oneSlash16})
		if err != nil {
			t.Fatal(err)
		}
		f := r.Final
		t.Logf("seed %d: %v, %d events; eclipsed %.3f (victims %.3f), honest outbound %.3f, attacker outbound share %.3f (victims %.3f), max %d per node, book share victims %.3f others %.3f, full outbound %.3f, gossip %.3f × %.2f",
			seed, time.Since(start).Round(time.Millisecond), r.Events, f.Eclipsed, f.EclipsedVictims, f.HonestOut, f.AttackerOut, f.AttackerOutVictims, f.MaxAttackerOut, r.BookShareVictims, r.BookShareOthers, f.FullOutbound, r.GossipFinal, r.GossipDup)
		if f.Eclipsed != 0 || f.EclipsedVictims != 0 {
			t.Errorf("seed %d: eclipsed share %.4f, victims %.4f; want 0", seed, f.Eclipsed, f.EclipsedVictims)
		}
		if f.MaxAttackerOut > 1 {
			t.Errorf("seed %d: a node has %d outbound peers in the attacker's one /16", seed, f.MaxAttackerOut)
		}
		if f.HonestOut < 0.99 {
			t.Errorf("seed %d: only %.3f of nodes have an honest outbound peer", seed, f.HonestOut)
		}
		if f.AttackerOutVictims == 0 || r.PoisonSent == 0 {
			t.Errorf("seed %d: the attacker never got an outbound slot (%.3f) or never poisoned (%d): the attack is not running", seed, f.AttackerOutVictims, r.PoisonSent)
		}
		if r.ValidatorsMeshed < 1 {
			t.Errorf("seed %d: validators meshed %.3f, want 1", seed, r.ValidatorsMeshed)
		}
		if r.GossipFinal < 0.99 {
			t.Errorf("seed %d: gossip reached %.3f", seed, r.GossipFinal)
		}
		if f.MeanOutbound < 9 {
			t.Errorf("seed %d: mean outbound %.2f, want ≥ 9 of 10", seed, f.MeanOutbound)
		}
	}
}

// TestCalibration runs the lab's PEX-poisoning scenario over 30 seeds (6
// under the race detector): the
// victim never has more than one outbound peer in the poison /16 (the
// one-per-group rule), and poison stays a bounded part of its book (one
// source group's reports of one group land in one bucket; honest peers
// relaying the victim's own answers add a few more).
func TestCalibration(t *testing.T) {
	reached := 0
	for seed := uint64(1); seed <= calibrationSeeds; seed++ {
		c, err := Calibrate(seed)
		if err != nil {
			t.Fatal(err)
		}
		if c.PoisonOut > 1 {
			t.Errorf("seed %d: %d outbound peers in the poison /16", seed, c.PoisonOut)
		}
		if c.Sent == 0 {
			t.Errorf("seed %d: poisoners sent nothing", seed)
		}
		if c.PoisonBook > 2*64+5 {
			t.Errorf("seed %d: %d poison entries in the victim's book", seed, c.PoisonBook)
		}
		if c.FourHonest >= 0 {
			reached++
		}
	}
	// The lab reached 4 honest /16s within 10 s in 3 of 3 runs; the
	// simulator is slower (docs/SIMULATION.md): at least half the seeds.
	if reached < calibrationSeeds/2 {
		t.Errorf("4 honest /16s reached within 60 s in only %d of %d seeds", reached, calibrationSeeds)
	}
}

// TestLineChart checks the SVG writer: well-formed XML whose series carry
// their data points.
func TestLineChart(t *testing.T) {
	svg := lineChart("t", "s", "x", "y", []Series{{Name: "a", Color: "#000", X: []float64{1, 2, 4}, Y: []float64{0, 0.5, 1}}}, true, 1)
	dec := xml.NewDecoder(strings.NewReader(svg))
	var points []string
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatal(err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			for _, a := range se.Attr {
				if a.Name.Local == "data-points" {
					points = append(points, a.Value)
				}
			}
		}
	}
	if len(points) != 1 || points[0] != "1,0 2,0.5 4,1" {
		t.Fatalf("series points %q", points)
	}
}

// TestStat checks the mean and the t-based interval on a known sample.
func TestStat(t *testing.T) {
	s := stat([]float64{1, 2, 3, 4})
	if s.Mean != 2.5 || s.Min != 1 || s.Max != 4 {
		t.Fatalf("%+v", s)
	}
	// sd = 1.291, t(3) = 3.182: CI = 3.182*1.291/2 = 2.054.
	if s.CI < 2.05 || s.CI > 2.06 {
		t.Fatalf("CI %.4f, want 2.054", s.CI)
	}
}
