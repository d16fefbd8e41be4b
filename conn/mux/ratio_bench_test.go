package mux

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkMultiRatio measures MultiConn's one-way throughput of 1 MiB and
// 16 MiB messages as a share of the EncryptedConn beneath it streaming
// 64 KiB writes (one frame each), in alternating chunks of 32 MiB on the
// same machine, so that load drifting on a shared machine hits both alike
// (target ≥ 0.90). The receiving application Releases each message, so
// its buffer is reused; in 1MiB-keep it calls Done only and keeps Data,
// so every message is a fresh allocation:
//
//	go test -run '^$' -bench 'MultiRatio' -count 5 ./conn/mux/
func BenchmarkMultiRatio(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		b.Run(strconv.Itoa(size>>20)+"MiB", func(b *testing.B) { benchRatio(b, size, true) })
	}
	b.Run("1MiB-keep", func(b *testing.B) { benchRatio(b, 1<<20, false) })
}

func benchRatio(b *testing.B, size int, release bool) {
	const chunkBytes = 32 << 20
	const encWrite = 64 << 10
	// The encrypted baseline: a reader drains and signals every chunk.
	ec, es := hs.Pair(b, testSecureConfig(b, 1), testSecureConfig(b, 2))
	encGot := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64<<10)
		var n int
		for {
			m, err := es.Read(buf)
			if n += m; n >= chunkBytes {
				n -= chunkBytes
				encGot <- struct{}{}
			}
			if err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() { ec.Close(); es.Close() })
	// The MultiConn pair on its own EncryptedConns.
	topics := []TopicConfig{{ID: 2, Name: "blocks", MaxMessageSize: size, SendQueue: 16, RecvWindow: 8 * size}}
	msgs := chunkBytes / size
	var muxN atomic.Int64
	muxGot := make(chan struct{}, 1)
	ca := &Config{Topics: topics, OnMessage: func(m *Message) { m.Done() }}
	cb := &Config{Topics: topics, OnMessage: func(m *Message) {
		if release {
			m.Release()
		} else {
			m.Done()
		}
		if muxN.Add(1)%int64(msgs) == 0 {
			muxGot <- struct{}{}
		}
	}}
	a, _ := mcPair(b, ca, cb)
	msg := make([]byte, size)
	wbuf := make([]byte, encWrite)
	ctx := context.Background()
	var encT, muxT time.Duration
	b.SetBytes(2 * chunkBytes)
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		for range chunkBytes / encWrite {
			if _, err := ec.Write(wbuf); err != nil {
				b.Fatal(err)
			}
		}
		<-encGot
		t1 := time.Now()
		for range msgs {
			if err := a.Send(ctx, 2, msg); err != nil {
				b.Fatal(err)
			}
		}
		<-muxGot
		encT += t1.Sub(t0)
		muxT += time.Since(t1)
	}
	b.ReportMetric(encT.Seconds()/muxT.Seconds(), "mux/enc")
	b.ReportMetric(float64(chunkBytes)*float64(b.N)/muxT.Seconds()/1e6, "mux-MB/s")
	b.ReportMetric(float64(chunkBytes)*float64(b.N)/encT.Seconds()/1e6, "enc-MB/s")
	reportInFlight(b, a)
}
