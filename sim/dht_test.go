package sim

import (
	"reflect"
	"testing"
	"time"
)

// dhtSybil is the DHT tests' attacker: 4 /16s × 4 IPs × 4 identities,
// every one a DHT server answering with the attacker's records.
var dhtSybil = Attack{Name: "sybil", Groups: 4, IPsPerGroup: 4, IDsPerIP: 4}

// TestDHTDeterministic runs a scenario with the real DHT on twice with
// the same seed: the Results are identical (the DHT's randomness, every
// request and its timing come from the seed), and the DHT did work.
func TestDHTDeterministic(t *testing.T) {
	cfg := Config{Seed: 5, Nodes: dhtTestNodes / 2, Monitored: 3, ChurnShare: 0.3, SessionMean: time.Minute, OfflineMean: 20 * time.Second, Duration: dhtTestDuration, DHT: true, Attack: dhtSybil}
	a, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.DHTQueries == 0 || a.Restarts == 0 {
		t.Fatalf("no DHT queries (%d) or no restarts (%d)", a.DHTQueries, a.Restarts)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different results with the DHT on:\n%+v\n%+v", a.Final, b.Final)
	}
}

// TestDHTOutcomes checks the DHT outcomes are measured: without an
// attacker the probe lookups converge to the ideal result and no table
// entry is the attacker's; with Sybil servers answering queries, they
// hold a share of honest tables and of lookup results, within the table's
// diversity bound (16 per /16: at most 4 × 16 entries of a table).
func TestDHTOutcomes(t *testing.T) {
	base := Config{Seed: 2, Nodes: dhtTestNodes, Monitored: 3, Duration: dhtTestDuration, DHT: true}
	r, err := Run(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("none: entries %.1f, recall %.3f, convergence %v, hops %.2f, lookup %v, %d queries, %d book entries", r.DHTEntries, r.DHTRecall, r.DHTConvergence, r.DHTHops, r.DHTLookupTime, r.DHTQueries, r.DHTBookAdded)
	if r.DHTTableShare != 0 || r.DHTResultShare != 0 {
		t.Errorf("no attacker, yet attacker shares %.3f, %.3f", r.DHTTableShare, r.DHTResultShare)
	}
	if r.DHTEntries < 10 || r.DHTRecall < 0.9 || r.DHTConvergence < 0 || r.DHTHops < 1 || r.DHTBookAdded == 0 {
		t.Errorf("the DHT did not converge: entries %.1f, recall %.3f, convergence %v, hops %.2f, book entries %d", r.DHTEntries, r.DHTRecall, r.DHTConvergence, r.DHTHops, r.DHTBookAdded)
	}
	base.Attack = dhtSybil
	r, err = Run(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sybil: table share %.3f (victims %.3f), entries %.1f, result share %.3f, recall %.3f, %d attacker records sent", r.DHTTableShare, r.DHTTableShareVictims, r.DHTEntries, r.DHTResultShare, r.DHTRecall, r.DHTPoisonSent)
	if r.DHTTableShare == 0 || r.DHTTableShareVictims == 0 || r.DHTResultShare == 0 || r.DHTPoisonSent == 0 {
		t.Errorf("Sybil servers answering queries, yet table share %.3f (victims %.3f), result share %.3f, %d records sent", r.DHTTableShare, r.DHTTableShareVictims, r.DHTResultShare, r.DHTPoisonSent)
	}
	if max := 4 * 16 / r.DHTEntries; r.DHTTableShare > max {
		t.Errorf("table share %.3f over the diversity bound %.3f", r.DHTTableShare, max)
	}
	// One per /16 in a lookup's results.
	if r.DHTMaxResultAttackers > dhtSybil.Groups {
		t.Errorf("a lookup's result holds %d attacker records, over one per /16 (%d)", r.DHTMaxResultAttackers, dhtSybil.Groups)
	}
}
