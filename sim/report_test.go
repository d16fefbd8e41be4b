package sim

import (
	"fmt"
	"os"
	"path/filepath"
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
