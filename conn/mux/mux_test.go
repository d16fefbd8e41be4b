package mux

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

func TestMultiConnRoundTrip(t *testing.T) {
	ca, ina := mcConfig(mcTestTopics())
	cb, inb := mcConfig(mcTestTopics())
	a, b := mcPair(t, ca, cb)
	ctx := context.Background()
	for _, n := range []int{0, 1, 100, DefaultMaxPacketPayload, DefaultMaxPacketPayload + 1, 3 << 20} {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		if err := a.Send(ctx, 2, msg); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(ctx, 2, msg); err != nil {
			t.Fatal(err)
		}
		for _, in := range []*mcInbox{inb, ina} {
			m := in.recv(t, 2, 10*time.Second)
			if !bytes.Equal(m.Data, msg) || m.Topic != 2 {
				t.Fatalf("size %d: got %d bytes on topic %d", n, len(m.Data), m.Topic)
			}
		}
	}
	if a.RemoteID() != b.Transport().(*conn.EncryptedConn).LocalID() {
		t.Fatal("RemoteID mismatch")
	}
	if err := a.Send(ctx, 9, nil); !errors.Is(err, ErrTopicNotConfigured) {
		t.Fatalf("send on unconfigured topic: %v", err)
	}
	if err := a.Send(ctx, 1, make([]byte, 64<<10+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized send: %v", err)
	}
}

// mcMessage deterministically generates message i of (direction, topic):
// its size follows mcSize and its bytes a seeded ChaCha8 stream.
func mcMessage(dir, topic uint8, i int, size int) []byte {
	var seed [32]byte
	seed[0], seed[1] = dir, topic
	binary.LittleEndian.PutUint64(seed[8:], uint64(i))
	msg := make([]byte, size)
	rand.NewChaCha8(seed).Read(msg)
	return msg
}

// mcSize draws the integrity test's message sizes: mostly small as real
// traffic is, with a tail up to 2 MiB — 78% 0–1 KiB, 20% 1–64 KiB, 2%
// 64 KiB–2 MiB, and the bounds 0 and 2 MiB exactly.
func mcSize(r *rand.Rand, i int) int {
	switch {
	case i == 0:
		return 0
	case i == 1:
		return 2 << 20
	}
	switch p := r.IntN(100); {
	case p < 79:
		return r.IntN(1 << 10)
	case p < 99:
		return 1<<10 + r.IntN(63<<10)
	default:
		return 64<<10 + r.IntN(2<<20-64<<10+1)
	}
}

// TestMultiConnIntegrity exchanges 10,000 messages of 0–2 MiB on three
// topics in both directions at once; each arrives once, in order per topic,
// with a matching SHA-256.
func TestMultiConnIntegrity(t *testing.T) {
	const total = 10_000
	topics := []TopicConfig{
		{ID: 1, Priority: 3, MaxMessageSize: 2 << 20},
		{ID: 2, Priority: 1, MaxMessageSize: 2 << 20},
		{ID: 3, Priority: 1, MaxMessageSize: 2 << 20, SendQueue: 8},
	}
	ca, ina := mcConfig(topics)
	cb, inb := mcConfig(topics)
	a, b := mcPair(t, ca, cb)
	perStream := total / (2 * len(topics)) // 1,666 per topic and direction
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	type stream struct {
		dir     uint8
		from    *MultiConn
		to      *mcInbox
		topicID uint8
	}
	var streams []stream
	for _, tc := range topics {
		streams = append(streams, stream{0, a, inb, tc.ID}, stream{1, b, ina, tc.ID})
	}
	errs := make(chan error, 2*len(streams))
	var total64 atomic.Int64
	for _, s := range streams {
		sizes := make([]int, perStream)
		r := rand.New(rand.NewPCG(uint64(s.dir), uint64(s.topicID)))
		for i := range sizes {
			sizes[i] = mcSize(r, i)
		}
		go func() { // sender
			for i, n := range sizes {
				if err := s.from.Send(ctx, s.topicID, mcMessage(s.dir, s.topicID, i, n)); err != nil {
					errs <- fmt.Errorf("dir %d topic %d send %d: %w", s.dir, s.topicID, i, err)
					return
				}
			}
			errs <- nil
		}()
		go func() { // receiver: regenerate each expected message and compare hashes
			for i, n := range sizes {
				var m *Message
				select {
				case m = <-s.to.ch[s.topicID]:
				case <-ctx.Done():
					errs <- fmt.Errorf("dir %d topic %d: message %d never arrived", s.dir, s.topicID, i)
					return
				}
				want := sha256.Sum256(mcMessage(s.dir, s.topicID, i, n))
				if got := sha256.Sum256(m.Data); got != want || len(m.Data) != n {
					errs <- fmt.Errorf("dir %d topic %d message %d: %d bytes, hash mismatch", s.dir, s.topicID, i, len(m.Data))
					return
				}
				total64.Add(int64(n))
				m.Done()
			}
			errs <- nil
		}()
	}
	for range 2 * len(streams) {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Nothing more may arrive: each message exactly once.
	for _, in := range []*mcInbox{ina, inb} {
		for id, ch := range in.ch {
			if len(ch) != 0 {
				t.Fatalf("topic %d: %d extra messages", id, len(ch))
			}
		}
		if in.overflow.Load() != 0 {
			t.Fatal("inbox overflowed: credit did not bound it")
		}
	}
	t.Logf("%d messages, %.1f MiB", perStream*len(streams), float64(total64.Load())/(1<<20))
}

// TestMultiConnPriority: while a 64 MiB message is being sent on a
// low-priority topic, a high-priority message sent afterwards arrives
// before the big one completes.
func TestMultiConnPriority(t *testing.T) {
	topics := []TopicConfig{
		{ID: 1, Name: "votes", Priority: 10, MaxMessageSize: 1 << 10},
		{ID: 2, Name: "blocks", Priority: 0, MaxMessageSize: 64 << 20},
	}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	var mu sync.Mutex
	type arrival struct {
		topic    uint8
		received uint64 // bytes b had read when the message completed
	}
	var order []arrival
	var b *MultiConn
	ready := make(chan struct{})
	cb.OnMessage = func(m *Message) {
		<-ready
		mu.Lock()
		order = append(order, arrival{m.Topic, b.Stats().BytesRecv})
		mu.Unlock()
		inb.onMessage(m)
	}
	a, b := mcPair(t, ca, cb)
	close(ready)
	ctx := context.Background()
	if err := a.Send(ctx, 2, make([]byte, 64<<20)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the big message to be under way", func() bool { return b.Stats().BytesRecv > 1<<20 })
	if err := a.Send(ctx, 1, []byte("vote")); err != nil {
		t.Fatal(err)
	}
	inb.recv(t, 1, 10*time.Second)
	inb.recv(t, 2, 60*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2 || order[0].topic != 1 {
		t.Fatalf("arrival order %v: the vote did not overtake the block", order)
	}
	t.Logf("vote arrived after %.1f MiB of the 64 MiB block", float64(order[0].received)/(1<<20))
}

// TestMultiConnSlowConsumer: one topic's consumer stops; the other topic
// and pings keep flowing; the connection outlives the idle timeout five
// times over (within the credit-stall timeout, set well above that here;
// TestCreditStallTimeout covers a consumer that never resumes); when the
// consumer resumes, every held message arrives in order. The sender's
// keepalive runs on a manual clock, advanced a ping interval at a time with
// each ping answered (a real 100 ms idle timeout died under load).
func TestMultiConnSlowConsumer(t *testing.T) {
	topics := []TopicConfig{
		{ID: 1, Name: "fast", Priority: 5, MaxMessageSize: 4 << 10},
		{ID: 2, Name: "slow", Priority: 5, MaxMessageSize: 4 << 10, RecvWindow: 16 << 10, SendQueue: 8},
	}
	ca, ina := mcConfig(topics)
	cb, inb := mcConfig(topics)
	clk := clock.NewFake()
	ca.Clock, ca.PingInterval, ca.IdleTimeout, ca.CreditStallTimeout = clk, time.Second, 5*time.Second, time.Minute
	cb.PingRate = 1000 // b: real clock, default (long) timers
	a, b := mcPair(t, ca, cb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const slowN = 200
	sent := make(chan error, 1)
	go func() {
		for i := range slowN {
			msg := binary.BigEndian.AppendUint32(make([]byte, 0, 1<<10), uint32(i))
			if err := a.Send(ctx, 2, msg[:cap(msg)]); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	// Topic 1 flows both ways while topic 2 is stalled.
	for i := range 200 {
		msg := []byte(fmt.Sprint(i))
		if err := a.Send(ctx, 1, msg); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(ctx, 1, msg); err != nil {
			t.Fatal(err)
		}
		if m := inb.recv(t, 1, 5*time.Second); string(m.Data) != string(msg) {
			t.Fatalf("topic 1 a→b message %d: %q", i, m.Data)
		}
		if m := ina.recv(t, 1, 5*time.Second); string(m.Data) != string(msg) {
			t.Fatalf("topic 1 b→a message %d: %q", i, m.Data)
		}
	}
	testutil.Eventually(t, 10*time.Second, "topic 2 to stall on credit", func() bool {
		return a.Stats().Topics[1].CreditStalls > 0
	})
	// Only pings now: five idle timeouts pass and nothing dies.
	for i := 1; i <= int(5*ca.IdleTimeout/ca.PingInterval); i++ {
		clk.Advance(ca.PingInterval)
		testutil.Eventually(t, 5*time.Second, fmt.Sprintf("pong %d", i), func() bool { return a.RTT().Samples == uint64(i) || a.Err() != nil })
		if a.Err() != nil || b.Err() != nil {
			t.Fatalf("connection died after %d pings while a consumer was slow: %v / %v", i, a.Err(), b.Err())
		}
	}
	held := b.Stats().Topics[1].RecvHeld
	if held == 0 || held >= slowN {
		t.Fatalf("%d topic 2 messages held, want some but not all", held)
	}
	// Resume: every message arrives, in order.
	for i := range slowN {
		m := inb.recv(t, 2, 5*time.Second)
		if got := binary.BigEndian.Uint32(m.Data); got != uint32(i) {
			t.Fatalf("topic 2 message %d arrived as %d", i, got)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	st := a.Stats()
	t.Logf("held %d, credit stalls %d, RTT %+v", held, st.Topics[1].CreditStalls, st.RTT)
}

// TestMultiConnBackpressure: 100,000 messages to a consumer that reads
// slowly all arrive, in order; senders block instead of anything being lost.
func TestMultiConnBackpressure(t *testing.T) {
	const n = 100_000
	topics := []TopicConfig{{ID: 7, MaxMessageSize: 256, RecvWindow: 8 << 10, SendQueue: 64}}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	a, _ := mcPair(t, ca, cb)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			msg := binary.BigEndian.AppendUint32(nil, uint32(i))
			msg = append(msg, make([]byte, i%200)...)
			if err := a.Send(ctx, 7, msg); err != nil {
				sent <- fmt.Errorf("send %d: %w", i, err)
				return
			}
		}
		sent <- nil
	}()
	for i := range n {
		m := inb.recv(t, 7, 10*time.Second)
		if got := binary.BigEndian.Uint32(m.Data); got != uint32(i) || len(m.Data) != 4+i%200 {
			t.Fatalf("message %d arrived as %d (%d bytes)", i, got, len(m.Data))
		}
		if i%5000 == 0 {
			time.Sleep(2 * time.Millisecond) // the slow reader
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if st := a.Stats().Topics[0]; st.CreditStalls == 0 {
		t.Fatalf("sender never waited for credit: %+v", st)
	}
}
