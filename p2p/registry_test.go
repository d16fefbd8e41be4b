package p2p

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestListedPeersCanBeSentTo: a peer that Peers or Peer lists is one the
// node can send to. The set admits a peer a moment before its connection
// becomes the one the node sends on; a peer listed inside that moment
// answered Send with "unknown peer" (seen under load in TestBroadcastAndOrder
// and TestTwoNodes).
func TestListedPeersCanBeSentTo(t *testing.T) {
	var (
		mu       sync.Mutex
		problems []string
	)
	cfg := testConfig(t, 1)
	var hub *Node
	cfg.afterAdmit = func(id crypto.ID) {
		_, listed := hub.Peer(id)
		inList := false
		for _, p := range hub.Peers() {
			inList = inList || p.ID == id
		}
		_, err := hub.peerConn(id)
		if (listed || inList) && err != nil {
			mu.Lock()
			problems = append(problems, "listed (Peer "+boolStr(listed)+", Peers "+boolStr(inList)+") but "+err.Error())
			mu.Unlock()
		}
	}
	hub = startNode(t, cfg)
	for i := range 3 {
		n := startNode(t, testConfig(t, 2+i))
		if _, err := n.Dial(context.Background(), hub.ListenAddr().String()); err != nil {
			t.Fatal(err)
		}
	}
	// Each Dial returns once the dialer admitted the hub; the hub's own
	// setup of that connection may finish a moment later.
	testutil.Eventually(t, 10*time.Second, "the hub lists 3 peers", func() bool { return len(hub.Peers()) == 3 })
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("%d listed peers could not be sent to: %v", len(problems), problems)
	}
	for _, p := range hub.Peers() {
		if err := hub.TrySend(p.ID, topicVotes, []byte("x")); err != nil {
			t.Fatalf("TrySend to listed %s: %v", p.ID.Short(), err)
		}
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
