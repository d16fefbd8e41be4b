package dht

import (
	"context"
	"flag"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

var (
	netNodes   = flag.Int("dht-nodes", 50, "nodes in TestNetwork (make dht-200 runs 200)")
	netLookups = flag.Int("dht-lookups", 1000, "random lookups in TestNetwork")
)

// buildNetwork starts n server nodes on mn, each knowing only node 0, and
// lets each bootstrap and then refresh once the whole network has joined
// (what the periodic refresh does in a running node).
func buildNetwork(t testing.TB, mn *memNet, set, n int, network string) []*memNode {
	t.Helper()
	nodes := make([]*memNode, n)
	for i := range n {
		nodes[i] = mn.add(t, network, testKey(t, set, i), memAddr(i), nil)
	}
	boot := nodes[0].address()
	for _, nd := range nodes[1:] {
		nd.dht.cfg.Bootstrap = []crypto.Address{boot}
	}
	t.Cleanup(func() { parallel(nodes, func(nd *memNode) { nd.dht.Stop() }) })
	ctx := context.Background()
	parallel(nodes[1:], func(nd *memNode) { nd.dht.Bootstrap(ctx) })
	settle(t, nodes)
	parallel(nodes, func(nd *memNode) { nd.dht.Refresh(ctx) })
	settle(t, nodes)
	return nodes
}

// settle waits until no node has a candidate ping in flight.
func settle(t testing.TB, nodes []*memNode) {
	testutil.Eventually(t, 10*time.Second, "candidate pings to end", func() bool {
		for _, nd := range nodes {
			if nd.dht.Verifying() > 0 {
				return false
			}
		}
		return true
	})
}

// parallel runs f for every node, a few at a time.
func parallel(nodes []*memNode, f func(*memNode)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, nd := range nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(nd)
		}()
	}
	wg.Wait()
}

// trueClosest returns the k IDs of ids closest to target, leaving out self.
func trueClosest(ids []crypto.ID, self, target crypto.ID, k int) []crypto.ID {
	out := slices.DeleteFunc(slices.Clone(ids), func(id crypto.ID) bool { return id == self })
	SortByDistance(target, out)
	return out[:min(k, len(out))]
}

func idsOf(nodes []*memNode) []crypto.ID {
	ids := make([]crypto.ID, len(nodes))
	for i, nd := range nodes {
		ids[i] = nd.key.ID()
	}
	return ids
}

// TestNetwork builds a network (50 nodes, -dht-nodes for more) where each
// node knows one bootstrap node, and checks that every table holds the
// node's k closest peers, that random lookups return the true k closest
// in at least 99% of cases, and that the median lookup takes at most
// log2(n) hops.
func TestNetwork(t *testing.T) {
	mn := &memNet{}
	n := *netNodes
	nodes := buildNetwork(t, mn, 1, n, "net-a")
	ids := idsOf(nodes)
	for _, nd := range nodes {
		for _, id := range trueClosest(ids, nd.key.ID(), nd.key.ID(), BucketSize) {
			if !nd.dht.Table().Contains(id) {
				t.Errorf("node %s: table (%d entries) lacks %s, one of its %d closest", nd.key.ID().Short(), nd.dht.Table().Len(), id.Short(), BucketSize)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	exact := 0
	var hops []int
	queries := 0
	for range *netLookups {
		nd := nodes[rng.IntN(n)]
		var target crypto.ID
		for j := range target {
			target[j] = byte(rng.Uint32())
		}
		found, st := nd.dht.Lookup(context.Background(), target)
		want := trueClosest(ids, nd.key.ID(), target, BucketSize)
		got := make([]crypto.ID, len(found))
		for i, r := range found {
			got[i] = r.ID
		}
		if slices.Equal(got, want) {
			exact++
		}
		hops = append(hops, st.Hops)
		queries += st.Queries
	}
	sort.Ints(hops)
	median := hops[len(hops)/2]
	t.Logf("%d nodes, %d lookups: %d exact, median hops %d, %.1f queries per lookup",
		n, *netLookups, exact, median, float64(queries)/float64(*netLookups))
	if exact*100 < *netLookups*99 {
		t.Errorf("%d of %d lookups returned the true %d closest, want at least 99%%", exact, *netLookups, BucketSize)
	}
	if float64(median) > math.Log2(float64(n)) {
		t.Errorf("median hops %d, want at most log2(%d) = %.1f", median, n, math.Log2(float64(n)))
	}
}
