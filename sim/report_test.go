package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWriteReport writes a tiny report with a "big" matrix and saves its
// runs: the report leads with every attacker model at the big size, the
// saved runs render the same files again, and AddBigBooks adds the
// full-size book check to them. The DHT models run too (one seed): the
// report has their section and figure.
func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	o := ReportOptions{Nodes: 30, Seeds: reportSeeds, Monitored: 3, Duration: reportDuration, Workers: 2,
		BigNodes: 40, BigSeeds: reportSeeds, BigWorkers: 2, CalibrationSeeds: 1, DHTSeeds: 1,
		Dir: filepath.Join(dir, "a"), Save: filepath.Join(dir, "runs.gob")}
	if err := WriteReport(o); err != nil {
		t.Fatal(err)
	}
	md := read(t, filepath.Join(o.Dir, "SIMULATION.md"))
	i := strings.Index(md, "## Outcomes by attacker model at 40 nodes")
	j := strings.Index(md, fmt.Sprintf("## Outcomes by attacker model at 30 nodes, %d seeds", reportSeeds))
	if i < 0 || j < i {
		t.Fatalf("the big matrix does not lead the report (%d, %d)", i, j)
	}
	for _, sc := range Scenarios(o.Duration) {
		if n := strings.Count(md[i:j], "\n| "+sc.Name+" |"); n != 2 {
			t.Errorf("model %s: %d rows in the 40-node tables, want 2", sc.Name, n)
		}
	}
	if strings.Contains(md, "The same question at 40 nodes") {
		t.Error("a book-size check at the big size that was not asked for")
	}
	k := strings.Index(md, "\n## The DHT\n")
	if k < 0 {
		t.Fatal("no DHT section")
	}
	for _, m := range dhtModels {
		if !strings.Contains(md[k:], "\n| "+m+" | ") {
			t.Errorf("DHT section: no row for %s", m)
		}
	}
	if err := RenderSaved(o.Save, filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"SIMULATION.md", "sim/eclipse-budget.svg", "sim/discovery.svg", "sim/gossip.svg", "sim/dht.svg"} {
		if a, b := read(t, filepath.Join(dir, "a", f)), read(t, filepath.Join(dir, "b", f)); a != b {
			t.Errorf("%s: the saved runs render differently", f)
		}
	}
	// The full-size book check added to the saved runs afterwards.
	if err := AddBigBooks(o.Save, nil); err != nil {
		t.Fatal(err)
	}
	if err := RenderSaved(o.Save, filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	md = read(t, filepath.Join(dir, "c", "SIMULATION.md"))
	if !strings.Contains(md, "The same question at 40 nodes") || strings.Count(md, "| full books everywhere |") != 2 {
		t.Error("no book-size check at the big size after AddBigBooks")
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWriteDHTSection runs the DHT models alone and checks their section
// and figure: a row per model, a recall series per model.
func TestWriteDHTSection(t *testing.T) {
	dir := t.TempDir()
	if err := WriteDHTSection(ReportOptions{Nodes: 30, Monitored: 3, Duration: 40 * time.Second, DHTSeeds: 1, Workers: 2, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	md := read(t, filepath.Join(dir, "SIMULATION-dht.md"))
	svg := read(t, filepath.Join(dir, "sim", "dht.svg"))
	for _, m := range dhtModels {
		if !strings.Contains(md, "\n| "+m+" | ") {
			t.Errorf("no row for %s", m)
		}
		if !strings.Contains(svg, "recall ("+m+")") {
			t.Errorf("no recall series for %s", m)
		}
	}
}

// TestMergeSaved runs a report's seeds in two pieces (SeedFrom) and
// checks that their saved runs, merged, render the report of one process
// running all the seeds: same tables, same figures (the measured times
// aside, which differ from run to run). A seed saved twice is refused.
func TestMergeSaved(t *testing.T) {
	dir := t.TempDir()
	n := reportSeeds
	opts := func(from, seeds int, name string) ReportOptions {
		return ReportOptions{Nodes: 30, Seeds: seeds, Monitored: 3, Duration: reportDuration, Workers: 2,
			BigNodes: 40, BigSeeds: seeds, BigWorkers: 2, BigBooks: true, CalibrationSeeds: seeds, DHTSeeds: seeds,
			SeedFrom: from, Dir: filepath.Join(dir, "out-"+name), Save: filepath.Join(dir, name+".gob")}
	}
	for _, o := range []ReportOptions{opts(1, 2*n, "whole"), opts(1, n, "a"), opts(1+n, n, "b")} {
		if err := WriteReport(o); err != nil {
			t.Fatal(err)
		}
		zeroTimes(t, o.Save)
	}
	if err := os.Mkdir(filepath.Join(dir, "pieces"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a.gob", "b.gob"} {
		if err := os.Rename(filepath.Join(dir, f), filepath.Join(dir, "pieces", f)); err != nil {
			t.Fatal(err)
		}
	}
	pa, pb := filepath.Join(dir, "pieces", "a.gob"), filepath.Join(dir, "pieces", "b.gob")
	if err := RenderSaved(filepath.Join(dir, "whole.gob"), filepath.Join(dir, "whole")); err != nil {
		t.Fatal(err)
	}
	for name, from := range map[string]string{"list": pb + "," + pa, "dir": filepath.Join(dir, "pieces")} {
		if err := RenderSaved(from, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"SIMULATION.md", "sim/eclipse-budget.svg", "sim/discovery.svg", "sim/gossip.svg", "sim/dht.svg"} {
			if a, b := read(t, filepath.Join(dir, "whole", f)), read(t, filepath.Join(dir, name, f)); a != b {
				t.Errorf("%s: pieces merged (%s) render differently from the whole run", f, name)
			}
		}
	}
	if err := RenderSaved(pa+","+pa, filepath.Join(dir, "twice")); err == nil {
		t.Error("a piece merged with itself: no error")
	}

	// The 10,000-node matrix and the DHT models may be in one piece only:
	// the whole run split so that its lower seeds' piece holds neither
	// renders the same.
	w, err := load(filepath.Join(dir, "whole.gob"))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := splitSaved(w, n)
	pl, ph := filepath.Join(dir, "lo.gob"), filepath.Join(dir, "hi.gob")
	for p, r := range map[string]*savedReport{pl: &lo, ph: &hi} {
		if err := store(p, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := RenderSaved(ph+","+pl, filepath.Join(dir, "split")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"SIMULATION.md", "sim/eclipse-budget.svg", "sim/discovery.svg", "sim/gossip.svg", "sim/dht.svg"} {
		if a, b := read(t, filepath.Join(dir, "whole", f)), read(t, filepath.Join(dir, "split", f)); a != b {
			t.Errorf("%s: a piece without the -big matrix and the DHT models, merged, renders differently from the whole run", f)
		}
	}
	// Two -big matrices of different sizes are not one report's.
	other := hi
	other.Opts.BigNodes++
	if _, err := merge([]savedReport{lo, hi, other}); err == nil || !strings.Contains(err.Error(), "different sizes") {
		t.Errorf("-big matrices of %d and %d nodes merged: err = %v", hi.Opts.BigNodes, other.Opts.BigNodes, err)
	}
}

// splitSaved splits the saved runs of a whole report at seed n: lo holds
// the small matrix's seeds up to n and nothing of the -big matrix or the
// DHT models, hi the later seeds and every -big and DHT run.
func splitSaved(w savedReport, n int) (lo, hi savedReport) {
	part := func(as []savedAgg, low bool) []savedAgg {
		out := cloneAggs(as)
		for i := range out {
			out[i].Runs = slices.DeleteFunc(out[i].Runs, func(r *Result) bool { return (r.Config.Seed <= uint64(n)) != low })
		}
		return out
	}
	lo, hi = w, w
	for _, p := range []*savedReport{&lo, &hi} {
		low := p == &lo
		p.Aggs, p.Sweep = part(w.Aggs, low), part(w.Sweep, low)
		p.Books = [2]savedAgg(part(w.Books[:], low))
		p.Opts.Seeds, p.Opts.CalibrationSeeds = n, n
	}
	lo.Cal, hi.Cal = w.Cal[:n:n], w.Cal[n:]
	hi.Opts.SeedFrom = n + 1
	lo.HasBig, lo.Big, lo.BigWalls, lo.HasBigFull, lo.BigFull, lo.DHT = false, nil, nil, false, nil, nil
	lo.Opts.BigNodes, lo.Opts.BigBooks, lo.Opts.DHTSeeds = 0, false, 0
	return lo, hi
}

// zeroTimes clears the measured times of the runs saved at path.
func zeroTimes(t *testing.T, path string) {
	t.Helper()
	r, err := load(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Wall, r.CPU, r.BigHeap, r.BigTotal, r.BigRSS, r.BigFullWall = 0, 0, 0, 0, 0, 0
	for i := range r.BigWalls {
		r.BigWalls[i] = 0
	}
	if err := store(path, &r); err != nil {
		t.Fatal(err)
	}
}

// TestShownCommand: the report's command drops -save and -out (and their
// values) from every piece and keeps every other flag.
func TestShownCommand(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"peerwire-sim -nodes 10 -save /tmp/a.gob -out /tmp/o", "peerwire-sim -nodes 10"},
		{"peerwire-sim -save=/x.gob -seeds 3 -out=docs", "peerwire-sim -seeds 3"},
		{"peerwire-sim -seeds 1 -save a.gob` + `peerwire-sim -seed-from 2 -out d -big 5", "peerwire-sim -seeds 1` + `peerwire-sim -seed-from 2 -big 5"},
		{"peerwire-sim -nodes 5", "peerwire-sim -nodes 5"},
	} {
		if got := shownCommand(tc.in); got != tc.want {
			t.Errorf("shownCommand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCommittedReport: docs/SIMULATION.md and its figures are what the
// committed runs (docs/sim/runs) render to with this generator, so the
// report's numbers and text never drift from the runs or the code (after
// a change of either: make sim-render).
func TestCommittedReport(t *testing.T) {
	out := t.TempDir()
	if err := RenderSaved(filepath.Join("..", "docs", "sim", "runs"), out); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"SIMULATION.md", "sim/eclipse-budget.svg", "sim/discovery.svg", "sim/gossip.svg", "sim/dht.svg"} {
		if read(t, filepath.Join(out, f)) != read(t, filepath.Join("..", "docs", f)) {
			t.Errorf("docs/%s is not what docs/sim/runs renders to: run make sim-render", f)
		}
	}
}
