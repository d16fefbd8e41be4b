package dht

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// countingTransport wraps a memNode's transport: it counts the queries in
// flight, and the nodes in hang never answer (until the query's context
// ends).
type countingTransport struct {
	n              *memNode
	inflight, peak atomic.Int32
	hang           map[crypto.ID]bool
}

func (c *countingTransport) Request(ctx context.Context, to crypto.Address, req []byte) ([]byte, error) {
	v := c.inflight.Add(1)
	defer c.inflight.Add(-1)
	for {
		p := c.peak.Load()
		if v <= p || c.peak.CompareAndSwap(p, v) {
			break
		}
	}
	if c.hang[to.ID] {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return c.n.Request(ctx, to, req)
}

// TestLookupAlphaTimeoutDrop: a lookup whose three closest nodes never
// answer and whose next three refuse connections keeps exactly Alpha
// queries in flight (the hanging three hold them), ends each hanging
// query at Config.QueryTimeout, and returns none of the six.
func TestLookupAlphaTimeoutDrop(t *testing.T) {
	mn := &memNet{}
	nodes := buildNetwork(t, mn, 40, 40, "net")
	a := nodes[1]
	target := nodes[7].key.ID()
	closest := trueClosest(idsOf(nodes), a.key.ID(), target, BucketSize)
	dead := map[crypto.ID]bool{}
	hang := map[crypto.ID]bool{}
	for _, id := range closest[:3] {
		hang[id], dead[id] = true, true
	}
	for _, nd := range nodes {
		for _, id := range closest[3:6] {
			if nd.key.ID() == id {
				nd.down.Store(true)
				dead[id] = true
			}
		}
	}
	ct := &countingTransport{n: a, hang: hang}
	a.dht.cfg.Transport = ct
	a.dht.cfg.QueryTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	found, st := a.dht.Lookup(ctx, target)
	took := time.Since(start)
	t.Logf("found %d, stats %+v, peak in flight %d, took %v", len(found), st, ct.peak.Load(), took)
	if p := ct.peak.Load(); p != Alpha {
		t.Errorf("peak %d queries in flight, want Alpha = %d", p, Alpha)
	}
	if st.Failures < 6 {
		t.Errorf("%d failed queries, want at least the 6 non-responders", st.Failures)
	}
	for _, r := range found {
		if dead[r.ID] {
			t.Errorf("non-responder %s in the results", r.ID.Short())
		}
	}
	if len(found) == 0 {
		t.Error("found nothing")
	}
	if took > 2*time.Second {
		t.Errorf("lookup took %v with a 200 ms query timeout", took)
	}
}
