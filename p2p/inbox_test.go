package p2p

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestInboxQueueStaysBounded: while the application keeps reading but
// never quite empties a topic's queue (each message read returns credit
// and the sender refills), the queue's memory stays bounded by what the
// credit lets in, however many messages pass through it.
func TestInboxQueueStaysBounded(t *testing.T) {
	cfg := quietConfig(t, 1200)
	a := startNode(t, cfg)
	cfg = quietConfig(t, 1201)
	cfg.Topics[topicTxs-1].MaxMessageSize = 1024
	cfg.Topics[topicTxs-1].RecvWindow = 64 << 10 // at most ~1000 one-byte messages in the queue
	b := startNode(t, cfg)
	dial(t, a, b)
	const total = 30_000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < total; i++ {
			if err := a.Send(ctx, b.ID(), topicTxs, []byte{byte(i)}); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	ts := b.topics[topicTxs]
	inbox := b.Inbox(topicTxs)
	// Let the credit fill the queue, then read: the sender refills as
	// credit returns, so the queue rarely if ever empties.
	testutil.Eventually(t, 10*time.Second, "queue filled by the credit", func() bool { return ts.depth() > 500 })
	maxCap := 0
	for i := 0; i < total; i++ {
		select {
		case <-inbox:
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d not delivered", i)
		}
		if i%100 == 0 {
			maxCap = max(maxCap, queueEntries(ts))
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	t.Logf("largest queue: %d entries for %d messages", maxCap, total)
	if maxCap > 8192 {
		t.Fatalf("queue grew to %d entries; the credit allows about 1000 queued messages", maxCap)
	}
}

// queueEntries returns the room, in messages, of the blocks ts's queue
// and its pump's burst hold.
func queueEntries(ts *topicState) int {
	ts.q.Lock()
	defer ts.q.Unlock()
	blocks := 0
	for b := ts.q.items.head; b != nil; b = b.next {
		blocks++
	}
	held := int(ts.held.Load())
	return (blocks + (held+inBlockLen-1)/inBlockLen + 1) * inBlockLen
}

// TestInboxBurstOrderAndTime: two peers each send a burst that queues
// far past one block of the topic's queue before the application reads;
// every message then arrives once, in order per sender, and ReceivedAt,
// the connection's read time, never decreases per sender and lies
// between the first send and the last receipt.
func TestInboxBurstOrderAndTime(t *testing.T) {
	const perPeer = 3000 // ~47 queue blocks each; ~216 KiB of each one's credit
	b := startNode(t, quietConfig(t, 1210))
	senders := []*Node{startNode(t, quietConfig(t, 1211)), startNode(t, quietConfig(t, 1212))}
	for _, s := range senders {
		dial(t, s, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	errs := make(chan error, len(senders))
	for _, s := range senders {
		go func() {
			for i := range perPeer {
				if err := s.Send(ctx, b.ID(), topicVotes, binary.BigEndian.AppendUint32(nil, uint32(i))); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ts := b.topics[topicVotes]
	testutil.Eventually(t, 10*time.Second, "the bursts queued", func() bool { return ts.depth() == 2*perPeer })
	inbox := b.Inbox(topicVotes)
	next := map[crypto.ID]uint32{}
	last := map[crypto.ID]time.Time{}
	for range 2 * perPeer {
		m := recv(t, inbox, 10*time.Second)
		if got := binary.BigEndian.Uint32(m.Data); got != next[m.From] {
			t.Fatalf("from %s: message %d arrived when %d was due", m.From.Short(), got, next[m.From])
		}
		next[m.From]++
		if m.ReceivedAt.Before(last[m.From]) || m.ReceivedAt.Before(start) || m.ReceivedAt.After(time.Now()) {
			t.Fatalf("from %s: message %d received at %v, after %v, sent from %v", m.From.Short(), next[m.From]-1, m.ReceivedAt, last[m.From], start)
		}
		last[m.From] = m.ReceivedAt
	}
	for _, s := range senders {
		if next[s.ID()] != perPeer {
			t.Fatalf("from %s: %d messages, want %d", s.ID().Short(), next[s.ID()], perPeer)
		}
	}
	select {
	case m := <-inbox:
		t.Fatalf("an extra message: %x", m.Data)
	default:
	}
}

// TestInboxQueueAllocs: a burst of thousands of messages through a topic's
// queue — pushed, taken whole, delivered, its blocks released — allocates
// nothing once the block pool is warm. The queue was a slice, which a
// burst past 1,024 messages regrew from nothing, copying it about twice.
func TestInboxQueueAllocs(t *testing.T) {
	const burst = 5000
	// The race detector (make test) makes sync.Pool drop a quarter of what
	// is put back, at random: then a burst may allocate about a quarter of
	// its blocks, never nearly all of them as it does without the pool.
	limit := 1.0
	if raceDetector {
		limit = float64((burst+inBlockLen-1)/inBlockLen) * 3 / 4
	}
	ts := newTopicState(&TopicConfig{})
	m := &mux.Message{}
	allocs := testing.AllocsPerRun(20, func() {
		for range burst {
			ts.push(inMsg{m: m})
		}
		<-ts.wake
		b := ts.popAll()
		n := 0
		for b != nil {
			n += b.n
			next := b.next
			b.release()
			b = next
		}
		if n != burst {
			t.Fatalf("took %d messages of %d", n, burst)
		}
		if ts.popAll() != nil {
			t.Fatal("the queue is not empty after popAll")
		}
	})
	if allocs >= limit {
		t.Fatalf("%.1f allocations per burst of %d messages, want fewer than %.0f", allocs, burst, limit)
	}
}
