package p2p

import (
	"fmt"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestChurnEvictsDeadEntries: churn probes find book entries that no
// longer answer and evict them after MaxFailures, keep entries that do
// answer, and never evict a must-connect peer however dead.
func TestChurnEvictsDeadEntries(t *testing.T) {
	live := startNode(t, quietConfig(t, 1601))
	var dead []crypto.ID
	cfg := quietConfig(t, 1600)
	cfg.ChurnInterval = 10 * time.Millisecond
	cfg.Book.ProbeInterval = 10 * time.Millisecond
	cfg.Book.BackoffBase = 10 * time.Millisecond
	cfg.Book.BackoffCap = 20 * time.Millisecond
	cfg.Book.MaxFailures = 2
	cfg.Bootstrap = []string{live.ListenAddr().String()}
	for i := 0; i < 3; i++ {
		id := testIdentity(t, 1610+i).ID()
		dead = append(dead, id)
		cfg.Bootstrap = append(cfg.Bootstrap, fmt.Sprintf("%s@127.0.0.1:%d", id, closedPort(t)))
	}
	mustID := testIdentity(t, 1620).ID()
	cfg.MustConnect = []string{fmt.Sprintf("%s@127.0.0.1:%d", mustID, closedPort(t))}
	hub := startNode(t, cfg)
	testutil.Eventually(t, 20*time.Second, "dead entries evicted", func() bool {
		for _, id := range dead {
			if _, ok := hub.book.Get(id); ok {
				return false
			}
		}
		return true
	})
	e, ok := hub.book.Get(live.ID())
	if !ok || e.Failures != 0 {
		t.Fatalf("live entry: %+v, %v", e, ok)
	}
	if e, ok := hub.book.Get(mustID); !ok || !e.Protected {
		t.Fatalf("must-connect entry evicted: %+v %v", e, ok)
	}
}
