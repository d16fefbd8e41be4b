package dht

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/peerwire/peerwire/crypto"
)

// BenchmarkLookup measures a lookup of a random ID on a built in-memory
// network of 50 and 200 nodes: the time (the network costs nothing, so
// this is the DHT's own work: encoding, signature checks of new records,
// the table) and the messages per lookup (msgs/op).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{50, 200} {
		b.Run(map[int]string{50: "nodes=50", 200: "nodes=200"}[n], func(b *testing.B) {
			mn := &memNet{}
			nodes := buildNetwork(b, mn, 11, n, "bench")
			rng := rand.New(rand.NewPCG(3, 4))
			var msgs uint64
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var target crypto.ID
				for j := range target {
					target[j] = byte(rng.Uint32())
				}
				before := mn.msgs.Load()
				nodes[rng.IntN(n)].dht.Lookup(context.Background(), target)
				msgs += mn.msgs.Load() - before
			}
			b.ReportMetric(float64(msgs)/float64(b.N), "msgs/op")
		})
	}
}

// BenchmarkTableMemory measures the heap one full routing table takes: a
// table of 200 nodes' worth of entries (each a ~150-byte record), as a
// node of a 200-node network holds, reported as bytes per table.
func BenchmarkTableMemory(b *testing.B) {
	mn := &memNet{}
	nodes := buildNetwork(b, mn, 12, 200, "bench")
	recs := make([]*Record, len(nodes))
	for i, nd := range nodes {
		recs[i] = nd.dht.Self()
	}
	self := nodes[0].key.ID()
	var perTable float64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		tb := NewTable(self, DefaultLimits())
		for i, r := range recs[1:] {
			tb.Add(r, memAddr(i+1), t0)
		}
		runtime.ReadMemStats(&m1)
		perTable = float64(m1.HeapAlloc - m0.HeapAlloc)
		b.ReportMetric(float64(tb.Len()), "entries")
		runtime.KeepAlive(tb)
	}
	b.ReportMetric(perTable, "B/table")
}

// BenchmarkQuery is the baseline for BenchmarkLookup, in the same run:
// one FIND_NODE query and its answer between two nodes of a 50-node
// network (encode, handle, decode, the cached record checks).
func BenchmarkQuery(b *testing.B) {
	mn := &memNet{}
	nodes := buildNetwork(b, mn, 13, 50, "bench")
	from, to := nodes[1], nodes[2]
	rng := rand.New(rand.NewPCG(5, 6))
	b.ReportAllocs()
	for b.Loop() {
		var target crypto.ID
		for j := range target {
			target[j] = byte(rng.Uint32())
		}
		if _, err := from.dht.query(context.Background(), to.address(), &Message{Type: MsgFindNode, Target: target}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTableClosest measures Closest on a table of 200 nodes' records
// (what every FIND_NODE answer and every lookup start calls): the
// BucketSize closest to a random target, and every entry (Entries).
func BenchmarkTableClosest(b *testing.B) {
	mn := &memNet{}
	nodes := buildNetwork(b, mn, 12, 200, "bench")
	tb := NewTable(nodes[0].key.ID(), DefaultLimits())
	for i, nd := range nodes[1:] {
		tb.Add(nd.dht.Self(), memAddr(i+1), t0)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{BucketSize, IDBits * BucketSize} {
		b.Run(map[int]string{BucketSize: "n=k", IDBits * BucketSize: "n=all"}[n], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var target crypto.ID
				for j := range target {
					target[j] = byte(rng.Uint32())
				}
				if len(tb.Closest(target, n)) == 0 {
					b.Fatal("no contact")
				}
			}
			b.ReportMetric(float64(tb.Len()), "entries")
		})
	}
}
