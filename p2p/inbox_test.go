package p2p

import (
	"context"
	"testing"
	"time"

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
			ts.q.Lock()
			maxCap = max(maxCap, cap(ts.q.items))
			ts.q.Unlock()
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	t.Logf("largest queue array: %d entries for %d messages", maxCap, total)
	if maxCap > 8192 {
		t.Fatalf("queue array grew to %d entries; the credit allows about 1000 queued messages", maxCap)
	}
}
