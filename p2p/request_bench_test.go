package p2p

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// Request/response round trips of 256 B beside their baselines, in one run:
//
//	go test -run '^$' -bench 'Request256|PingPong256|SendRoundTrip256|RequestRatio256' -count 5 ./p2p/
//
// Each is sequential (one round trip in flight) and reports round trips
// per second and the p50/p99 latency of one round trip.

// benchRRConfig is benchConfig with the request/response topic topicRPC.
func benchRRConfig(b *testing.B, i int) Config {
	cfg := benchConfig(b, i)
	cfg.Topics = append(cfg.Topics, TopicConfig{TopicConfig: mux.TopicConfig{ID: topicRPC, Name: "rpc", Priority: 10,
		MaxMessageSize: 64 << 10, SendQueue: 4096, RecvWindow: 4 << 20}, Requests: &RequestConfig{}})
	return cfg
}

// reportLatency reports round trips per second and the p50 and p99 of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "rt/s")
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// runRoundTrips runs b.N sequential round trips of rt and reports them.
func runRoundTrips(b *testing.B, rt func()) {
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rt()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// requestRoundTrip returns one Node.Request of 256 B answered with 256 B
// by a handler on the peer.
func requestRoundTrip(b *testing.B) func() {
	a := startNode(b, benchRRConfig(b, 1))
	r := startNode(b, benchRRConfig(b, 2))
	if err := r.HandleRequests(topicRPC, func(_ context.Context, _ crypto.ID, req []byte) ([]byte, error) { return req, nil }); err != nil {
		b.Fatal(err)
	}
	dial(b, a, r)
	req := make([]byte, 256)
	ctx := context.Background()
	return func() {
		resp, err := a.Request(ctx, r.ID(), topicRPC, req)
		if err != nil || len(resp) != len(req) {
			b.Fatal(len(resp), err)
		}
	}
}

// sendRoundTrip returns the same exchange made by hand with Node.Send both
// ways (the peer's Handle sends each message back), without IDs, timeouts
// or concurrency limits.
func sendRoundTrip(b *testing.B) func() {
	a := startNode(b, benchRRConfig(b, 3))
	r := startNode(b, benchRRConfig(b, 4))
	ctx := context.Background()
	if err := r.Handle(topicVotes, func(m *Message) { _ = r.Send(ctx, m.From, topicVotes, m.Data) }); err != nil {
		b.Fatal(err)
	}
	dial(b, a, r)
	back := a.Inbox(topicVotes)
	msg := make([]byte, 256)
	return func() {
		if err := a.Send(ctx, r.ID(), topicVotes, msg); err != nil {
			b.Fatal(err)
		}
		<-back
	}
}

// bareRoundTrip returns the floor: two bare MultiConns over EncryptedConns
// on loopback, the receiver sending each 256 B message back from a
// goroutine, the sender waiting for it.
func bareRoundTrip(b *testing.B) func() {
	topics := nodeConnTopicsOf(b, benchRRConfig(b, 1))
	toEcho := make(chan *mux.Message, 1024)
	back := make(chan *mux.Message, 1024)
	s, r := pingPair(b, topics, func(m *mux.Message) { back <- m }, func(m *mux.Message) { toEcho <- m })
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	ctx := context.Background()
	go func() {
		for {
			select {
			case m := <-toEcho:
				m.Done()
				_ = r.Send(ctx, m.Topic, m.Data)
			case <-stop:
				return
			}
		}
	}()
	msg := make([]byte, 256)
	return func() {
		if err := s.Send(ctx, topicRPC, msg); err != nil {
			b.Fatal(err)
		}
		(<-back).Done()
	}
}

// BenchmarkRequest256: Node.Request of 256 B answered with 256 B.
func BenchmarkRequest256(b *testing.B) { runRoundTrips(b, requestRoundTrip(b)) }

// BenchmarkSendRoundTrip256: a 256 B round trip made of two Node.Sends.
func BenchmarkSendRoundTrip256(b *testing.B) { runRoundTrips(b, sendRoundTrip(b)) }

// BenchmarkMultiPingPong256: a 256 B round trip over bare MultiConns.
func BenchmarkMultiPingPong256(b *testing.B) { runRoundTrips(b, bareRoundTrip(b)) }

// BenchmarkRequestRatio256 runs the three round trips above in alternating
// chunks of 200, so that load drifting on a shared machine hits all alike,
// and reports each one's medians and Request's throughput as a share of the
// others' (request/bare, request/send).
func BenchmarkRequestRatio256(b *testing.B) {
	rts := []func(){requestRoundTrip(b), sendRoundTrip(b), bareRoundTrip(b)}
	names := []string{"request", "send", "bare"}
	const chunk = 200
	lat := make([][]time.Duration, len(rts))
	total := make([]time.Duration, len(rts))
	b.ReportAllocs()
	for b.Loop() {
		for i, rt := range rts {
			for range chunk {
				start := time.Now()
				rt()
				d := time.Since(start)
				lat[i] = append(lat[i], d)
				total[i] += d
			}
		}
	}
	for i, l := range lat {
		slices.Sort(l)
		b.ReportMetric(float64(l[len(l)/2].Microseconds()), names[i]+"-p50-µs")
		b.ReportMetric(float64(l[(len(l)-1)*99/100].Microseconds()), names[i]+"-p99-µs")
	}
	b.ReportMetric(total[2].Seconds()/total[0].Seconds(), "request/bare")
	b.ReportMetric(total[1].Seconds()/total[0].Seconds(), "request/send")
	b.ReportMetric(float64(len(lat[0]))/total[0].Seconds(), "request-rt/s")
}

// nodeConnTopicsOf returns the conn topics a Node of cfg declares.
func nodeConnTopicsOf(b *testing.B, cfg Config) []mux.TopicConfig {
	s, err := cfg.settings()
	if err != nil {
		b.Fatal(err)
	}
	return s.connTopics
}

// pingPair connects two bare MultiConns over EncryptedConns on loopback;
// s's messages go to onS and r's to onR.
func pingPair(b *testing.B, topics []mux.TopicConfig, onS, onR func(*mux.Message)) (s, r *mux.MultiConn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	secure := func(i int) *conn.SecureConfig {
		return &conn.SecureConfig{Identity: testIdentity(b, i), NetworkID: "test",
			Meta: &pb.PeerMeta{Topics: mux.TopicIDs(append([]mux.TopicConfig(nil), topics...))}}
	}
	ctx := context.Background()
	type res struct {
		mc  *mux.MultiConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			ch <- res{nil, err}
			return
		}
		ec, err := conn.Server(ctx, raw, secure(2))
		if err != nil {
			ch <- res{nil, err}
			return
		}
		mc, err := mux.New(ctx, ec, &mux.Config{Topics: topics, OnMessage: onR})
		if err == nil {
			mc.Start()
		}
		ch <- res{mc, err}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	ec, err := conn.Client(ctx, raw, secure(1), crypto.ID{})
	if err != nil {
		b.Fatal(err)
	}
	s, err = mux.New(ctx, ec, &mux.Config{Topics: topics, OnMessage: onS})
	if err != nil {
		b.Fatal(err)
	}
	s.Start()
	rr := <-ch
	if rr.err != nil {
		b.Fatal(rr.err)
	}
	b.Cleanup(func() {
		s.Abort(mux.GoAwayShutdown, "")
		rr.mc.Abort(mux.GoAwayShutdown, "")
		<-s.Done()
		<-rr.mc.Done()
	})
	return s, rr.mc
}
