package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerwire/peerwire/discovery/dht"
)

// dhtModels are the attacker models the DHT section runs with Config.DHT.
var dhtModels = []string{"none", "one-/16", "botnet", "sybil"}

// runDHT runs the DHT models at base with Config.DHT, seeds seeds each.
func runDHT(base Config, first, seeds, workers int, logf func(string, ...any)) ([]agg, error) {
	var out []agg
	for _, sc := range Scenarios(base.Duration) {
		keep := false
		for _, m := range dhtModels {
			keep = keep || sc.Name == m
		}
		if !keep {
			continue
		}
		c := base
		c.DHT = true
		c.Attack = sc.Attack
		c.Attack.Name = sc.Name
		t0 := time.Now()
		rs, err := runSeeds(c, first, seeds, workers)
		if err != nil {
			return nil, err
		}
		out = append(out, aggregate(sc.Name, sc.What, rs))
		logf("DHT model %s: %d seeds in %v", sc.Name, seeds, time.Since(t0).Round(time.Second))
	}
	return out, nil
}

// WriteDHTSection runs only the DHT models (ReportOptions.DHTSeeds seeds,
// at least one) and writes their section of the report to
// Dir/SIMULATION-dht.md and its figure to Dir/sim/dht.svg: the part a full
// report with DHTSeeds includes, for when the rest is not run again.
func WriteDHTSection(o ReportOptions) error {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	seeds := max(1, o.DHTSeeds)
	t0 := time.Now()
	aggs, err := runDHT(baseConfig(o), o.firstSeed(), seeds, max(1, o.Workers), logf)
	if err != nil {
		return err
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	svg := dhtSection(p, aggs, o)
	p("\n(The section's runs took %v of wall time", time.Since(t0).Round(time.Second))
	if o.Command != "" {
		p("; command: `%s`", o.Command)
	}
	p(".)\n")
	if err := os.MkdirAll(filepath.Join(o.Dir, "sim"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "sim", "dht.svg"), []byte(svg), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.Dir, "SIMULATION-dht.md"), []byte(b.String()), 0o644)
}

// dhtSection writes the DHT section of the report and returns its figure.
func dhtSection(p func(string, ...any), aggs []agg, o ReportOptions) string {
	n := 0
	if len(aggs) > 0 {
		n = len(aggs[0].runs)
	}
	p("\n## The DHT\n\n")
	if len(aggs) == 0 {
		p("The DHT models were not run (`peerwire-sim -dht-seeds N`).\n")
		return ""
	}
	c := aggs[0].runs[0].Config
	p("The real `discovery/dht` on every honest node (`Config.DHT`, `peerwire-sim -dht-seeds`): %d nodes,\n", c.Nodes)
	p("%v virtual time, %d seed(s) per model (%s). Servers are the listening nodes, clients the NATed\n", c.Duration, n, seedNote(n))
	p("ones; every attacker identity is a DHT server that answers FIND_NODE with the %d attacker\n", dht.MaxNodes)
	p("identities closest to the target (signed records of its own), PING with its record, and queries\n")
	p("each victim and one other listening node with its record once per refresh interval, so the\n")
	p("honest node pings it as a candidate. Outcomes:\n\n")
	p("- *table share*: the attacker's share of the table entries of online honest nodes at the end\n")
	p("  (all of them, and the victims'); the table's bounds allow 2 per /24 per bucket, 10 per /24 and\n")
	p("  16 per /16 in a table.\n")
	p("- *result share*: the attacker's share of the records the probe lookups returned (16 online\n")
	p("  honest nodes, each a lookup of a random target at every 30 s sample), over the last quarter of\n")
	p("  the probe rounds; a lookup keeps one node per /24 and per /16 among its 20 results.\n")
	p("- *recall*: the share of the ideal result a probe lookup found: the 20 online honest servers\n")
	p("  closest to the target, the closest of each /24 and /16 only (what a perfect lookup under the\n")
	p("  same bound returns); over the last quarter of the probe rounds.\n")
	p("- *DHT convergence*: the start of the first probe round whose mean recall reached 90%%\n")
	p("  (\"never\" if none did); nodes join within the first minute.\n\n")
	p("| model | table share (all) | (victims) | result share | most attacker records in one result | recall | DHT convergence | table entries | hops | lookup time | queries per node |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, a := range aggs {
		col := func(f func(*Result) float64) Stat {
			var xs []float64
			for _, r := range a.runs {
				xs = append(xs, f(r))
			}
			return stat(xs)
		}
		var conv []float64
		mostAtk := 0
		for _, r := range a.runs {
			if r.DHTConvergence >= 0 {
				conv = append(conv, secs(r.DHTConvergence))
			}
			mostAtk = max(mostAtk, r.DHTMaxResultAttackers)
		}
		cs := "never"
		if len(conv) > 0 {
			cs = stat(conv).dur()
			if len(conv) < len(a.runs) {
				cs += fmt.Sprintf(" (%d of %d runs)", len(conv), len(a.runs))
			}
		}
		p("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", a.name,
			col(func(r *Result) float64 { return r.DHTTableShare }).pct(),
			col(func(r *Result) float64 { return r.DHTTableShareVictims }).pct(),
			col(func(r *Result) float64 { return r.DHTResultShare }).pct(), mostAtk,
			col(func(r *Result) float64 { return r.DHTRecall }).pct(), cs,
			col(func(r *Result) float64 { return r.DHTEntries }).num(),
			col(func(r *Result) float64 { return r.DHTHops }).num(),
			col(func(r *Result) float64 { return secs(r.DHTLookupTime) }).dur(),
			col(func(r *Result) float64 { return float64(r.DHTQueries) / float64(r.Config.Nodes) }).num())
	}
	p("\n![DHT convergence](sim/dht.svg)\n")
	var series []Series
	for i, a := range aggs {
		rec := dhtCurve(a.runs, func(s Sample) float64 { return s.DHTRecall })
		sh := dhtCurve(a.runs, func(s Sample) float64 { return s.DHTAttackerShare })
		series = append(series, Series{Name: "recall (" + a.name + ")", Color: palette[len(series)%len(palette)], X: rec[0], Y: rec[1]})
		if i > 0 { // no attacker in the first model
			series = append(series, Series{Name: "table share (" + a.name + ")", Color: palette[len(series)%len(palette)], X: sh[0], Y: sh[1]})
		}
	}
	return lineChart("DHT convergence", fmt.Sprintf("probe lookups' recall and attacker share of honest tables; %d nodes, %d seed(s)", c.Nodes, n),
		"time (s)", "share", series, false, 1)
}

// dhtCurve averages a per-sample value over runs, sample by sample,
// leaving out samples where it is negative (no probe finished).
func dhtCurve(rs []*Result, f func(Sample) float64) [2][]float64 {
	return averageCurve(rs, f, true)
}
