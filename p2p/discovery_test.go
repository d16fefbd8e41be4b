package p2p

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// discoveryConfig is node i of a discovery network: its identity comes from
// the key file in its own data directory, and its book is saved there.
//
// Its inbound slots keep the defaults' ratio to the outbound ones (40:10).
// With room for the whole network, the first nodes to start (the first a
// newcomer learns of) could take every other node inbound and have nobody
// left to dial: node 0 once held 27 of the 29 others inbound and 2
// outbound, so it could never reach its target. At 16 a node refuses the
// rest ("too many peers"): at most 7 nodes can be full, so a node below its
// target has at least 29-16-3-7 = 3 others it can dial. A refusal holds
// the full node back for RefusedBackoff, short here.
func discoveryConfig(t *testing.T, i int, dir string) Config {
	cfg := testConfig(t, i)
	cfg.Identity = nil
	cfg.DataDir = dir
	cfg.Peers.MaxInbound = 4 * cfg.Peers.MaxOutbound
	cfg.Book.RefusedBackoff = 500 * time.Millisecond
	return cfg
}

// TestDiscovery: 30 nodes that know only a seed reach their outbound
// targets through PEX, with the seed as an ordinary node or in seed mode;
// each saves its book at Stop; restarted on the same addresses without any
// bootstrap list, they reach their targets again from their books alone.
func TestDiscovery(t *testing.T) {
	for _, seedMode := range []bool{false, true} {
		t.Run(fmt.Sprintf("seedMode=%v", seedMode), func(t *testing.T) { discovery(t, seedMode) })
	}
}

func discovery(t *testing.T, seedMode bool) {
	const size = 30
	scfg := testConfig(t, 1000)
	scfg.SeedMode = seedMode
	scfg.Peers.MaxInbound = 40
	seed := startNode(t, scfg)
	ctx := context.Background()

	dirs := make([]string, size)
	cfgs := make([]Config, size)
	nodes := make([]*Node, size)
	for i := range nodes {
		dirs[i] = t.TempDir()
		cfgs[i] = discoveryConfig(t, 1001+i, dirs[i])
		cfgs[i].Bootstrap = []string{seed.ListenAddr().String()}
		n, err := New(cfgs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Stop(context.Background()) }) // a no-op after the Stop below
		nodes[i] = n
	}
	target := cfgs[0].Peers.MaxOutbound
	t.Cleanup(func() {
		if t.Failed() {
			discoveryDiag(t, seed, nodes, target)
		}
	})
	reached := func() bool {
		for _, n := range nodes {
			if n.Stats().Outbound < target {
				return false
			}
		}
		return true
	}
	testutil.Eventually(t, 60*time.Second, "every node at its outbound target through PEX", reached)
	var pexAdded uint64
	for _, n := range nodes {
		pexAdded += n.Stats().PexAdded
	}
	if pexAdded == 0 {
		t.Fatal("targets reached without an address learned through PEX")
	}
	ports := make([]string, size)
	for i, n := range nodes {
		ports[i] = n.ListenAddr().HostPort()
		if err := n.Stop(ctx); err != nil {
			t.Fatalf("node %d: stop: %v", i, err)
		}
	}
	if err := seed.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// Restart without a bootstrap list, each on its old address, so the
	// addresses in the others' books still lead to it.
	for i := range nodes {
		cfg := cfgs[i]
		cfg.Bootstrap = nil
		cfg.ListenAddr = ports[i]
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if n.ID() != nodes[i].ID() {
			t.Fatalf("node %d: identity not reloaded from its key file", i)
		}
		if rep := n.LoadReport(); rep == nil || n.book.Len() < target {
			t.Fatalf("node %d: book of %d entries after restart, report %+v", i, n.book.Len(), rep)
		}
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Stop(context.Background()) })
		nodes[i] = n
	}
	testutil.Eventually(t, 60*time.Second, "every node back at its outbound target from its book", reached)
}

// discoveryDiag logs, for a failed run, what each node below its target
// held: its connections, dials and PEX counters, and its book by kind.
func discoveryDiag(t *testing.T, seed *Node, nodes []*Node, target int) {
	line := func(name string, n *Node) {
		st := n.Stats()
		var tried, unverified, waiting, failing int
		now := n.s.Now()
		for _, e := range n.book.Entries() {
			if e.Tried {
				tried++
			}
			if e.Unverified {
				unverified++
			}
			if e.NextAttempt.After(now) {
				waiting++
			}
			if e.Failures > 0 {
				failing++
			}
		}
		t.Logf("%s: out %d in %d; dials %d failed %d; pex req %d ans %d added %d; refusals %v; handshake failures %v; dial-back %+v; book %d (tried %d, unverified %d, waiting %d, failing %d)",
			name, st.Outbound, st.Inbound, st.Dials, st.DialFailures, st.PexRequests, st.PexAnswers, st.PexAdded,
			st.Refusals, st.HandshakeFailures, st.DialBack, st.BookSize, tried, unverified, waiting, failing)
	}
	line("seed", seed)
	for i, n := range nodes {
		if n != nil && n.Stats().Outbound < target {
			line(fmt.Sprintf("node %d", i), n)
		}
	}
}
