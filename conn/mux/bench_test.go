package mux

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/conntest"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

// Benchmarks of MultiConn over real EncryptedConns on loopback TCP, with
// baselines measured in the same run:
//
//	go test -run '^$' -bench 'Multi' -benchmem -count 5 ./conn/
//
// The receiving application in the throughput benchmarks calls Done in
// OnMessage, so they measure the transport, not an inbox.

// benchTopics: a high-priority small-message topic and a low-priority bulk
// topic with room for a few 1 MiB messages in flight.
func benchTopics() []TopicConfig {
	return []TopicConfig{
		{ID: 1, Name: "votes", Priority: 10, MaxMessageSize: 64 << 10, SendQueue: 4096, RecvWindow: 4 << 20},
		{ID: 2, Name: "blocks", Priority: 0, MaxMessageSize: 1 << 20, SendQueue: 16, RecvWindow: 8 << 20},
	}
}

// benchPair returns a MultiConn pair whose receiver (b) hands each message
// to onB; a's messages go to onA.
func benchPair(tb testing.TB, onA, onB func(*Message)) (a, b *MultiConn) {
	ca := &Config{Topics: benchTopics(), OnMessage: onA}
	cb := &Config{Topics: benchTopics(), OnMessage: onB}
	return mcPair(tb, ca, cb)
}

// countingSink counts delivered messages, calls Done, and closes reached
// when want messages have arrived.
type countingSink struct {
	n       atomic.Int64
	want    int64
	reached chan struct{}
}

func newCountingSink(want int) *countingSink {
	return &countingSink{want: int64(want), reached: make(chan struct{})}
}

func (s *countingSink) onMessage(m *Message) {
	m.Done()
	if s.n.Add(1) == s.want {
		close(s.reached)
	}
}

func benchOneWay(b *testing.B, topic uint8, size int) {
	sink := newCountingSink(b.N)
	a, _ := benchPair(b, func(m *Message) { m.Done() }, sink.onMessage)
	defer reportInFlight(b, a)
	msg := make([]byte, size)
	ctx := context.Background()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := a.Send(ctx, topic, msg); err != nil {
			b.Fatal(err)
		}
	}
	<-sink.reached
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkMultiSend256 sends 256-byte messages one way (target ≥ 1,000,000/s).
func BenchmarkMultiSend256(b *testing.B) { benchOneWay(b, 1, 256) }

// BenchmarkMultiSend1MiB sends 1 MiB messages one way (target ≥ 50% of
// BenchmarkMultiBaselineRawTCP1MiB).
func BenchmarkMultiSend1MiB(b *testing.B) { benchOneWay(b, 2, 1<<20) }

// BenchmarkMultiBaselineRawTCP1MiB is plain loopback TCP moving 1 MiB
// writes one way: the ceiling for BenchmarkMultiSend1MiB.
func BenchmarkMultiBaselineRawTCP1MiB(b *testing.B) {
	c, s := conntest.TCPPair(b)
	defer s.Close()
	conntest.Stream(b, c, s, 1<<20)
}

// BenchmarkMultiBaselineEncrypted1MiB is an EncryptedConn moving 1 MiB
// writes one way: what MultiConn adds its framing to.
func BenchmarkMultiBaselineEncrypted1MiB(b *testing.B) {
	c, s := hs.Pair(b, testSecureConfig(b, 1), testSecureConfig(b, 2))
	conntest.Stream(b, c, s, 1<<20)
}

// BenchmarkMultiPingPong measures the round trip of a 64-byte message on the
// high-priority topic, echoed by the peer: idle (target p50 ≤ 2× raw TCP's)
// and while the low-priority topic streams 1 MiB messages continuously in
// the same direction (target p99 ≤ 1 ms, and the stream keeps ≥ 0.85× of
// its throughput without the pings). In the bulk case the stream runs the
// whole time and the pings come in ten rounds; before each round the
// stream runs alone for as long as the previous round took (the first:
// 50 ms), so its unloaded throughput is measured in the same run,
// interleaved with the loaded one, and load drifting on a shared machine
// hits both alike. It reports bulk-MiB/s (with the pings), idle-MiB/s
// (without) and their ratio, stream-ratio.
func BenchmarkMultiPingPong(b *testing.B) {
	for _, loaded := range []bool{false, true} {
		name := "idle"
		if loaded {
			name = "bulk"
		}
		b.Run(name, func(b *testing.B) {
			echo := make(chan *Message, 1)
			var bConn atomic.Pointer[MultiConn]
			onB := func(m *Message) {
				m.Done()
				if m.Topic == 1 {
					bConn.Load().TrySend(1, m.Data)
				}
			}
			a, bc := benchPair(b, func(m *Message) { m.Done(); echo <- m }, onB)
			bConn.Store(bc)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if loaded {
				wg.Add(1)
				go func() { // the bulk stream
					defer wg.Done()
					ctx, cancel := context.WithCancel(context.Background())
					go func() { <-stop; cancel() }()
					blk := make([]byte, 1<<20)
					for a.Send(ctx, 2, blk) == nil {
					}
				}()
				testutil.Eventually(b, 10*time.Second, "the bulk stream", func() bool { return bc.Stats().Topics[1].MsgsRecv >= 4 })
			}
			bulkBytes := func() uint64 { return bc.Stats().Topics[1].BytesRecv }
			msg := make([]byte, 64)
			rtts := make([]time.Duration, 0, b.N)
			ctx := context.Background()
			rounds := 1
			if loaded {
				rounds = 10
			}
			per := (b.N + rounds - 1) / rounds
			var idleBytes, busyBytes uint64
			var idleT, busyT time.Duration
			win := 50 * time.Millisecond
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				if loaded { // the stream alone
					b.StopTimer()
					n0, t0 := bulkBytes(), time.Now()
					time.Sleep(win)
					idleBytes += bulkBytes() - n0
					idleT += time.Since(t0)
					b.StartTimer()
				}
				k := min(per, b.N-done)
				n0, t0 := bulkBytes(), time.Now()
				for range k {
					start := time.Now()
					if err := a.Send(ctx, 1, msg); err != nil {
						b.Fatal(err)
					}
					<-echo
					rtts = append(rtts, time.Since(start))
				}
				win = time.Since(t0)
				busyBytes += bulkBytes() - n0
				busyT += win
				done += k
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(percentile(rtts, 0.50).Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(percentile(rtts, 0.99).Nanoseconds())/1e3, "p99-µs")
			if loaded {
				busy := float64(busyBytes) / busyT.Seconds() / (1 << 20)
				idle := float64(idleBytes) / idleT.Seconds() / (1 << 20)
				b.ReportMetric(busy, "bulk-MiB/s")
				b.ReportMetric(idle, "idle-MiB/s")
				b.ReportMetric(busy/idle, "stream-ratio")
			}
		})
	}
}

// BenchmarkMultiBaselineRawTCPPingPong is a 64-byte echo over plain
// loopback TCP: the reference for BenchmarkMultiPingPong/idle.
func BenchmarkMultiBaselineRawTCPPingPong(b *testing.B) {
	c, s := conntest.TCPPair(b)
	benchEcho(b, c, s)
}

// BenchmarkMultiBaselineEncryptedPingPong is a 64-byte echo over an
// EncryptedConn, to tell what the encryption costs from what MultiConn does.
func BenchmarkMultiBaselineEncryptedPingPong(b *testing.B) {
	c, s := hs.Pair(b, testSecureConfig(b, 1), testSecureConfig(b, 2))
	benchEcho(b, c, s)
}

func benchEcho(b *testing.B, c, s net.Conn) {
	defer c.Close()
	go func() {
		defer s.Close()
		buf := make([]byte, 64)
		for {
			if _, err := io.ReadFull(s, buf); err != nil {
				return
			}
			if _, err := s.Write(buf); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64)
	rtts := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(rtts, 0.50).Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(percentile(rtts, 0.99).Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkMultiIdleConns opens 500 MultiConn pairs over EncryptedConns on
// loopback TCP and reports, per connection end, the heap they hold once
// idle (sockets, EncryptedConn and MultiConn together; target ≤ 8 KiB) and
// their goroutines (target ≤ 2).
func BenchmarkMultiIdleConns(b *testing.B) {
	const pairs = 500
	topics := mcTestTopics()
	cfgA := &Config{Topics: topics, OnMessage: func(m *Message) { m.Done() }}
	cfgB := &Config{Topics: topics, OnMessage: func(m *Message) { m.Done() }}
	scA, scB := mcSecureConfig(b, 1, topics), mcSecureConfig(b, 2, topics)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	b.ReportAllocs()
	for range b.N {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap0, g0 := ms.HeapAlloc, runtime.NumGoroutine()

		conns := make([]*MultiConn, 0, 2*pairs)
		for range pairs {
			rawC, rawS := conntest.DialAccept(b, ln)
			ctx := context.Background()
			ec, es := hs.Run(ctx, rawC, rawS, scA, scB, crypto.ID{})
			if ec.Err != nil || es.Err != nil {
				b.Fatal(ec.Err, es.Err)
			}
			ch := make(chan *MultiConn, 1)
			go func() {
				c, err := newStarted(ctx, es.Conn, cfgB)
				if err != nil {
					panic(err)
				}
				ch <- c
			}()
			c, err := newStarted(ctx, ec.Conn, cfgA)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c, <-ch)
		}
		// Idle: every writer parked, every reader blocked on its header.
		testutil.Eventually(b, 10*time.Second, "goroutines to settle", func() bool {
			return runtime.NumGoroutine()-g0 <= 2*len(conns)
		})
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap1, g1 := ms.HeapAlloc, runtime.NumGoroutine()
		b.ReportMetric(float64(int64(heap1)-int64(heap0))/float64(len(conns)), "heap-B/conn")
		b.ReportMetric(float64(g1-g0)/float64(len(conns)), "goroutines/conn")

		for _, c := range conns {
			c.Abort(GoAwayShutdown, "")
		}
		for _, c := range conns {
			<-c.Done()
		}
		runtime.KeepAlive(conns)
	}
}

// reportInFlight reports the sender's in-flight state at the end of a
// throughput benchmark: what the cap settled at and what sized it.
func reportInFlight(b *testing.B, a *MultiConn) {
	st := a.Stats()
	b.ReportMetric(float64(st.InFlightCap)/1024, "cap-KiB")
	b.ReportMetric(float64(st.MinAckRTT.Nanoseconds())/1e3, "minrtt-µs")
	b.ReportMetric(st.DeliveryRate/1e6, "rate-MB/s")
	b.ReportMetric(float64(st.InFlightWaits)/float64(b.N), "waits/op")
}
