package p2p

import (
	"sync"
	"testing"
)

// BenchmarkChunkedGossip: one 1 MiB message gossiped at a time from a
// random origin on a 20-node random graph (each node dials 4), chunked
// and flooded on the same nodes: an op is one message, until every node
// has it whole. It reports the payload bytes each node received per
// message over the message size (bytes/node) and, averaged over the
// messages, each message's median time from Gossip to a delivery
// (deliver-ms) and its time to the last node (all-ms). The issue's
// 50-node schedule is TestChunkedRandomGraph with PEERWIRE_BLOCK_BENCH
// (make block-bench); this is the same engine one message at a time.
func BenchmarkChunkedGossip(b *testing.B) {
	const size, n = 1 << 20, 20
	for _, tc := range []struct {
		name  string
		topic uint8
	}{{"chunked", topicChunked}, {"flood", topicFlooded}} {
		b.Run(tc.name, func(b *testing.B) {
			nodes := randomGraph(b, n, 4, 7, func(i int) Config { return largeChunkedConfig(b, 1600+i, size) })
			var mu sync.Mutex
			sums := map[MessageID][32]byte{}
			d := trackDeliveries(nodes, func(id MessageID) [32]byte { mu.Lock(); defer mu.Unlock(); return sums[id] }, tc.topic)
			payload := func() (p uint64) {
				for _, nd := range nodes {
					if tc.topic == topicChunked {
						p += nd.ChunkedStats().PayloadBytes
					} else {
						p += nd.Stats().GossipPayloadBytes
					}
				}
				return p
			}
			before := payload()
			var deliver, all float64
			seed, msgs := uint64(1), 0
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				s := disseminate(b, nodes, d, sums, &mu, tc.topic, 1, size, 0, seed)
				seed++
				msgs++
				deliver += s.deliveryP50.Seconds() * 1e3
				all += s.lastP50.Seconds() * 1e3
			}
			b.ReportMetric(float64(payload()-before)/float64(msgs*(n-1))/size, "bytes/node")
			b.ReportMetric(deliver/float64(msgs), "deliver-ms")
			b.ReportMetric(all/float64(msgs), "all-ms")
		})
	}
}
