package p2p

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/conntest"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// Benchmarks of the Node on loopback TCP, with the bare MultiConn measured
// in the same run as the baseline for Send:
//
//	go test -run '^$' -bench . -benchmem -count 3 ./p2p/

// benchTopicConfigs mirror conn's benchmark topics: a small-message topic
// and a bulk one with room for a few 1 MiB messages in flight.
func benchTopicConfigs() []TopicConfig {
	return []TopicConfig{
		{TopicConfig: mux.TopicConfig{ID: topicVotes, Name: "votes", Priority: 10, MaxMessageSize: 64 << 10, SendQueue: 4096, RecvWindow: 4 << 20}},
		{TopicConfig: mux.TopicConfig{ID: topicBlocks, Name: "blocks", MaxMessageSize: 1 << 20, SendQueue: 16, RecvWindow: 8 << 20}},
		{TopicConfig: mux.TopicConfig{ID: topicTxs, Name: "txs", Priority: 1, MaxMessageSize: 64 << 10, SendQueue: 4096, RecvWindow: 4 << 20}},
	}
}

func benchConfig(b *testing.B, i int) Config {
	cfg := quietConfig(b, i)
	cfg.Topics = benchTopicConfigs()
	return cfg
}

var sendSizes = []struct {
	name  string
	topic uint8
	size  int
}{
	{"256", topicVotes, 256},
	{"1MiB", topicBlocks, 1 << 20},
}

// BenchmarkNodeSend: Node.Send to one peer, received through the peer's
// inbox by an application goroutine. Compare with BenchmarkBareMultiConn.
func BenchmarkNodeSend(b *testing.B) {
	for _, sz := range sendSizes {
		b.Run(sz.name, func(b *testing.B) {
			a := startNode(b, benchConfig(b, 1))
			r := startNode(b, benchConfig(b, 2))
			dial(b, a, r)
			var got atomic.Int64
			done := make(chan struct{})
			want := int64(b.N)
			go func() {
				for range r.Inbox(sz.topic) {
					if got.Add(1) == want {
						close(done)
					}
				}
			}()
			msg, rid := make([]byte, sz.size), r.ID()
			ctx := context.Background()
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := a.Send(ctx, rid, sz.topic, msg); err != nil {
					b.Fatal(err)
				}
			}
			<-done
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// barePair connects two bare MultiConns over EncryptedConns on loopback
// with the topics a Node of benchConfig declares; r's messages go to onR.
func barePair(b *testing.B, topics []mux.TopicConfig, onR func(*mux.Message)) (s, r *mux.MultiConn) {
	secure := func(i int) *conn.SecureConfig {
		return &conn.SecureConfig{Identity: testIdentity(b, i), NetworkID: "test",
			Meta: &pb.PeerMeta{Topics: mux.TopicIDs(append([]mux.TopicConfig(nil), topics...))}}
	}
	hs := conntest.Handshaker[*conn.SecureConfig, *conn.EncryptedConn]{Client: conn.Client, Server: conn.Server}
	es, er := hs.Pair(b, secure(1), secure(2))
	ctx := context.Background()
	rs, rr := conntest.Both(
		func() (*mux.MultiConn, error) {
			return mux.New(ctx, es, &mux.Config{Topics: topics, OnMessage: func(m *mux.Message) { m.Done() }})
		},
		func() (*mux.MultiConn, error) { return mux.New(ctx, er, &mux.Config{Topics: topics, OnMessage: onR}) })
	if rs.Err != nil || rr.Err != nil {
		b.Fatal(rs.Err, rr.Err)
	}
	s, r = rs.Conn, rr.Conn
	r.Start()
	s.Start()
	b.Cleanup(func() {
		s.Abort(mux.GoAwayShutdown, "")
		r.Abort(mux.GoAwayShutdown, "")
		<-s.Done()
		<-r.Done()
	})
	return s, r
}

// nodeConnTopics returns the conn topics a Node of benchConfig declares.
func nodeConnTopics(b *testing.B) []mux.TopicConfig {
	cfg := benchConfig(b, 1)
	s, err := cfg.settings()
	if err != nil {
		b.Fatal(err)
	}
	return s.connTopics
}

// BenchmarkBareMultiConn: the baseline for BenchmarkNodeSend: a MultiConn
// with the same topics, whose receiver hands each message to an
// application goroutine through a channel, as the Node's inbox does.
func BenchmarkBareMultiConn(b *testing.B) {
	for _, sz := range sendSizes {
		b.Run(sz.name, func(b *testing.B) {
			inbox := make(chan *mux.Message, 1024) // credit bounds what queues here
			s, _ := barePair(b, nodeConnTopics(b), func(m *mux.Message) { inbox <- m })
			var got atomic.Int64
			done := make(chan struct{})
			want := int64(b.N)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case m := <-inbox:
						m.Done()
						if got.Add(1) == want {
							close(done)
						}
					case <-stop:
						return
					}
				}
			}()
			msg := make([]byte, sz.size)
			ctx := context.Background()
			b.SetBytes(int64(sz.size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.Send(ctx, sz.topic, msg); err != nil {
					b.Fatal(err)
				}
			}
			<-done
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkGossip50: the time for one gossip message to reach every node
// of a connected random 50-node loopback network (each node dialed about 3
// others), and the duplicate factor: copies each node received per message;
// signed (the default) and with UnsignedGossip.
func BenchmarkGossip50(b *testing.B) {
	for _, unsigned := range []bool{false, true} {
		name := "signed"
		if unsigned {
			name = "unsigned"
		}
		b.Run(name, func(b *testing.B) { benchGossip50(b, unsigned) })
	}
}

func benchGossip50(b *testing.B, unsigned bool) {
	const size = 50
	nodes := randomGraph(b, size, 3, 1, func(i int) Config {
		cfg := benchConfig(b, 100+i)
		cfg.Topics[topicVotes-1].UnsignedGossip = unsigned
		return cfg
	})
	var got, target atomic.Int64
	reached := make(chan struct{}, 1)
	for _, n := range nodes {
		ch := n.Inbox(topicVotes)
		go func() {
			for range ch {
				if got.Add(1) == target.Load() {
					reached <- struct{}{}
				}
			}
		}()
	}
	received := func() (sum uint64) {
		for _, n := range nodes {
			sum += n.Stats().GossipReceived
		}
		return sum
	}
	before := received()
	payload := make([]byte, 256)
	ctx := context.Background()
	k := 0
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		target.Store(got.Load() + size - 1)
		copy(payload, fmt.Sprint(k))
		if _, _, err := nodes[k%size].Gossip(ctx, topicVotes, payload); err != nil {
			b.Fatal(err)
		}
		k++
		select {
		case <-reached:
		case <-time.After(10 * time.Second):
			b.Fatalf("message %d reached %d of %d nodes", k, got.Load()-(target.Load()-size+1), size-1)
		}
	}
	elapsed := b.Elapsed()
	// Copies still in flight are duplicates; let them land before counting.
	testutil.Eventually(b, 10*time.Second, "no gossip in flight", func() bool {
		var fwd uint64
		for _, n := range nodes {
			fwd += n.Stats().GossipForwarded
		}
		return received() == fwd+directCopies(nodes)
	})
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(k), "ms/msg")
	b.ReportMetric(float64(received()-before)/float64(k*(size-1)), "copies/node")
}

// BenchmarkPeerCost: heap bytes and goroutines per connected peer of a
// node. The peers are bare MultiConns in this process, so the cost of one
// bare connection end (measured first, from pairs) is subtracted; it is
// reported too, as bare-B/conn.
func BenchmarkPeerCost(b *testing.B) {
	const peers = 40
	topics := nodeConnTopics(b)
	measure := func() (heap uint64, goroutines int) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, runtime.NumGoroutine()
	}
	b.ReportAllocs()
	var nodeHeap, bareHeap, nodeG, bareG float64
	for b.Loop() {
		h0, g0 := measure()
		var pairs []*mux.MultiConn
		for range peers {
			s, r := barePair(b, topics, func(m *mux.Message) { m.Done() })
			pairs = append(pairs, s, r)
		}
		h1, g1 := measure()
		bareHeap = float64(h1-h0) / (2 * peers)
		bareG = float64(g1-g0) / (2 * peers)
		for _, mc := range pairs {
			mc.Abort(mux.GoAwayShutdown, "")
			<-mc.Done()
		}

		cfg := benchConfig(b, 1)
		cfg.Peers.MaxInbound = peers
		hub := startNode(b, cfg)
		h2, g2 := measure()
		for i := range peers {
			if _, err := dialRaw(b, hub, testIdentity(b, 10+i), ""); err != nil {
				b.Fatal(err)
			}
		}
		testutil.Eventually(b, 10*time.Second, "all peers admitted", func() bool { return len(hub.Peers()) == peers })
		h3, g3 := measure()
		nodeHeap = float64(h3-h2)/peers - bareHeap
		nodeG = float64(g3-g2)/peers - bareG
		hub.Stop(context.Background())
	}
	b.ReportMetric(nodeHeap, "heap-B/peer")
	b.ReportMetric(nodeG, "goroutines/peer")
	b.ReportMetric(bareHeap, "bare-B/conn")
}

// BenchmarkSendRatio measures Node.Send and the bare MultiConn of
// BenchmarkBareMultiConn in alternating chunks on the same machine, so
// that load drifting on a shared machine hits both alike, and reports the
// node's throughput as a share of the bare connection's (target ≥ 0.9).
// Both receivers give each message back (Release), so that both reuse
// the buffers of large messages.
func BenchmarkSendRatio(b *testing.B) {
	for _, sz := range sendSizes {
		b.Run(sz.name, func(b *testing.B) {
			// Chunks of about 16 MiB, at most 4096 messages: long enough that
			// filling and draining the pipeline at each switch costs little.
			chunk := min(max(1, (16<<20)/sz.size), 4096)
			// The node pair, its receiver draining the inbox.
			a := startNode(b, benchConfig(b, 1))
			r := startNode(b, benchConfig(b, 2))
			dial(b, a, r)
			nodeGot := make(chan struct{}, 1)
			var nodeN atomic.Int64
			go func() {
				for m := range r.Inbox(sz.topic) {
					m.Release()
					if nodeN.Add(1)%int64(chunk) == 0 {
						nodeGot <- struct{}{}
					}
				}
			}()
			// The bare pair, its receiver draining a channel.
			inbox := make(chan *mux.Message, 1024)
			s, _ := barePair(b, nodeConnTopics(b), func(m *mux.Message) { inbox <- m })
			bareGot := make(chan struct{}, 1)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				var n int
				for {
					select {
					case m := <-inbox:
						m.Release()
						if n++; n%chunk == 0 {
							bareGot <- struct{}{}
						}
					case <-stop:
						return
					}
				}
			}()
			msg, rid := make([]byte, sz.size), r.ID()
			ctx := context.Background()
			var nodeT, bareT time.Duration
			b.SetBytes(int64(2 * chunk * sz.size))
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				for range chunk {
					if err := a.Send(ctx, rid, sz.topic, msg); err != nil {
						b.Fatal(err)
					}
				}
				<-nodeGot
				t1 := time.Now()
				for range chunk {
					if err := s.Send(ctx, sz.topic, msg); err != nil {
						b.Fatal(err)
					}
				}
				<-bareGot
				nodeT += t1.Sub(t0)
				bareT += time.Since(t1)
			}
			b.ReportMetric(bareT.Seconds()/nodeT.Seconds(), "node/bare")
			b.ReportMetric(float64(chunk)*float64(b.N)/nodeT.Seconds(), "node-msgs/s")
			b.ReportMetric(float64(chunk)*float64(b.N)/bareT.Seconds(), "bare-msgs/s")
		})
	}
}

// BenchmarkGossipSigning: what a signed gossip message costs per message
// beyond an unsigned one, 256-byte payload: at the origin, computing the
// ID and signing it; at every node that receives it, computing the ID and
// verifying the signature (duplicates are dropped before verification, so
// once per message per node, not per copy).
func BenchmarkGossipSigning(b *testing.B) {
	origin := testIdentity(b, 1)
	oid := origin.ID()
	payload := make([]byte, 256)
	const ts = 1_700_000_000_000
	b.Run("id", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			gossipID(topicVotes, oid, uint64(i), ts, payload)
		}
	})
	b.Run("origin-sign", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			origin.Sign(gossipSigningInput(gossipID(topicVotes, oid, uint64(i), ts, payload)))
		}
	})
	id := gossipID(topicVotes, oid, 1, ts, payload)
	env := &pb.GossipEnvelope{Hops: 3, Origin: oid[:], Nonce: 1, Payload: payload, TimeMs: ts,
		OriginKey: origin.PublicKey(), Signature: origin.Sign(gossipSigningInput(id))}
	b.Run("hop-verify", func(b *testing.B) {
		for b.Loop() {
			got := gossipID(topicVotes, oid, 1, ts, payload)
			if ok, err := verifyOrigin(env, got, oid, true); !ok || err != nil {
				b.Fatal("verify failed")
			}
		}
	})
}
