package p2p

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestOneClock: Config.Clock is the node's one clock, handed to its
// components. On a fake clock a ban's event carries the fake time, and the
// book saves when the fake clock passes SaveInterval, not on real time.
func TestOneClock(t *testing.T) {
	clk := clock.NewFake()
	dir := t.TempDir()
	cfg := quietConfig(t, 1950)
	cfg.Identity = nil
	cfg.DataDir = dir
	cfg.SaveInterval = time.Hour
	onFakeClock(&cfg, clk)
	n := startNode(t, cfg)
	sub := n.Subscribe()
	defer sub.Cancel()

	banned := testIdentity(t, 1951).ID()
	if err := n.Ban(banned, 24*time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, sub, 10*time.Second, "the ban's event", func(e Event) bool { return e.Kind == EventBanned && e.Peer == banned })
	if !e.Time.Equal(clk.Now()) {
		t.Fatalf("event at %v, want the node's clock, %v", e.Time, clk.Now())
	}

	// The book's saver ticks on the node's clock: once it is armed, one
	// SaveInterval of fake time writes the ban to disk.
	testutil.Eventually(t, 10*time.Second, "the book's save ticker on the node's clock", func() bool { return clk.Pending() == 1 }) // no country database, no dial waiting: the only timer
	path := filepath.Join(dir, bookFileName)
	if _, err := os.Stat(path); err == nil {
		t.Fatal("the book was saved before its interval passed")
	}
	clk.Advance(cfg.SaveInterval)
	testutil.Eventually(t, 10*time.Second, "the book saved with the ban", func() bool {
		data, err := os.ReadFile(path)
		return err == nil && strings.Contains(string(data), banned.String())
	})
}
