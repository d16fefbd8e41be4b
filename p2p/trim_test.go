package p2p

import (
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestTrimLowestScoreFirst: above the high watermark the node trims to the
// low one, lowest score first, and never a must-connect peer, whatever its
// score.
func TestTrimLowestScoreFirst(t *testing.T) {
	mustNode := startNode(t, quietConfig(t, 900))
	cfg := quietConfig(t, 901)
	cfg.MaintainInterval = 20 * time.Millisecond
	cfg.Peers.HighWatermark = 4
	cfg.Peers.LowWatermark = 2
	cfg.Peers.GracePeriod = -1
	cfg.MustConnect = []string{mustNode.ListenAddr().String()}
	hub := startNode(t, cfg)
	testutil.Eventually(t, 10*time.Second, "must-connect peer up", func() bool { return connectedTo(hub, mustNode.ID()) })

	scores := []float64{-50, -30, 10, 20} // peers 0-3; peer 4 joins at 0
	var peers []*Node
	for i, sc := range scores {
		p := startNode(t, quietConfig(t, 902+i))
		dial(t, p, hub)
		hub.Report(p.ID(), sc, "test")
		peers = append(peers, p)
	}
	sub := peers[0].Subscribe()
	defer sub.Cancel()
	hub.Report(mustNode.ID(), -90, "test: must-connect peers are never trimmed")
	if len(hub.Peers()) != 5 {
		t.Fatalf("%d peers before crossing the watermark", len(hub.Peers()))
	}
	last := startNode(t, quietConfig(t, 906))
	if _, err := last.Dial(t.Context(), hub.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	peers = append(peers, last)
	testutil.Eventually(t, 10*time.Second, "trimmed to the low watermark", func() bool {
		s := hub.Stats()
		return s.Inbound+s.Outbound == 3 // two slots plus the must-connect peer
	})
	want := map[crypto.ID]bool{peers[2].ID(): true, peers[3].ID(): true, mustNode.ID(): true}
	for _, p := range hub.Peers() {
		if !want[p.ID] {
			t.Fatalf("kept %s (score %v); want the two best and the must-connect peer", p.ID.Short(), p.Score)
		}
	}
	if len(hub.Peers()) != 3 {
		t.Fatalf("%d peers kept", len(hub.Peers()))
	}
	e := waitEvent(t, sub, 5*time.Second, "the worst peer learns why", func(e Event) bool { return e.Kind == EventDisconnected })
	if !strings.Contains(e.Reason, "goaway from peer: trimmed") {
		t.Fatalf("trimmed peer's disconnect reason %q", e.Reason)
	}
}
