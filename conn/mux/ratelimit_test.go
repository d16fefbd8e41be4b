package mux

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestSendRateLimit: outbound data keeps to the lower of our SendRate and
// the peer's announced RecvRate, while pings and pongs are never held back.
func TestSendRateLimit(t *testing.T) {
	const rateLimit = 1 << 20
	const total = 512 << 10
	for _, tc := range []struct {
		name       string
		send, recv int
	}{
		{"our SendRate", rateLimit, 0},
		{"peer's RecvRate", 0, rateLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topics := []TopicConfig{{ID: 1, MaxMessageSize: 64 << 10}}
			ca, _ := mcConfig(topics)
			cb, inb := mcConfig(topics)
			ca.SendRate, cb.RecvRate = tc.send, tc.recv
			ca.PingInterval, cb.PingInterval = 10*time.Millisecond, 10*time.Millisecond
			ca.PingRate, cb.PingRate = 1000, 1000
			a, _ := mcPair(t, ca, cb)
			ctx := context.Background()
			start := time.Now()
			go func() {
				for range total / (16 << 10) {
					if a.Send(ctx, 1, make([]byte, 16<<10)) != nil {
						return
					}
				}
			}()
			for range total / (16 << 10) {
				inb.recv(t, 1, 10*time.Second)
			}
			elapsed := time.Since(start)
			burst := max(rateLimit/sendRateBurstDiv, frameBudget)
			if min := time.Duration(float64(total-burst) / rateLimit * float64(time.Second)); elapsed < min*9/10 {
				t.Fatalf("512 KiB took %v at 1 MiB/s, want at least %v", elapsed, min)
			}
			st := a.Stats()
			if st.RateLimitWaits == 0 {
				t.Fatal("no rate-limit waits counted")
			}
			// Control traffic went through while data waited.
			if st.RTT.Samples < 5 || st.RTT.Min > 50*time.Millisecond {
				t.Fatalf("pings held back by the data limiter: %+v", st.RTT)
			}
			t.Logf("%v, %d waits, RTT %+v", elapsed, st.RateLimitWaits, st.RTT)
		})
	}
}

// TestInboundRateExcessIsReported: messages over a topic's InboundRate are
// still delivered; each excess is a reputation event, and the connection
// lives while the excess stays within the tolerance.
func TestInboundRateExcessIsReported(t *testing.T) {
	topics := []TopicConfig{{ID: 1, MaxMessageSize: 100, InboundRate: 5, InboundBurst: 1}}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	var excess atomic.Int32
	cb.OnRateExcess = func(c *MultiConn, topic uint8) {
		if topic == 1 {
			excess.Add(1)
		}
	}
	a, b := mcPair(t, ca, cb)
	for i := range 20 {
		if err := a.TrySend(1, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		if m := inb.recv(t, 1, 5*time.Second); m.Data[0] != byte(i) {
			t.Fatalf("message %d: %v", i, m.Data)
		}
	}
	if n := excess.Load(); n < 10 || n > 19 {
		t.Fatalf("%d excess events for 20 messages at 5/s burst 1", n)
	}
	if b.Err() != nil || b.Stats().Topics[0].RateExcess != uint64(excess.Load()) {
		t.Fatalf("err %v, stats %+v", b.Err(), b.Stats().Topics[0])
	}
}
