package p2p

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestInboxHandOffBuffered: once the application reads a topic through its
// channel, the topic's goroutine hands messages over without waiting for
// each to be taken — up to inboxBuffer of them, a number bounded by bytes
// (inboxBufferBytes of the topic's largest messages) — and they arrive in
// order. Messages that arrive before the application has chosen how to
// receive wait outside the channel, so a handler registered late still gets
// every one of them.
func TestInboxHandOffBuffered(t *testing.T) {
	a := startNode(t, quietConfig(t, 1400))
	b := startNode(t, quietConfig(t, 1401))
	dial(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := inboxBuffer(b.topics[topicVotes].cfg.MaxMessageSize)
	if k < 8 || k > maxInboxBuffer {
		t.Fatalf("inbox buffer of the 64 KiB vote topic: %d messages", k)
	}
	if big := inboxBuffer(b.topics[topicBlocks].cfg.MaxMessageSize); big != 0 {
		t.Fatalf("inbox buffer of the 4 MiB block topic: %d messages, want none", big)
	}
	total := k + 5
	for i := range total {
		if err := a.Send(ctx, b.ID(), topicVotes, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	inbox := b.Inbox(topicVotes)
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d messages buffered in the inbox", k), func() bool { return len(inbox) == k })
	for i := range total {
		m := recv(t, inbox, 10*time.Second)
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d arrived as %q", i, m.Data)
		}
	}

	c := startNode(t, quietConfig(t, 1402))
	dial(t, a, c)
	for i := range total {
		if err := a.Send(ctx, c.ID(), topicVotes, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	ts := c.topics[topicVotes]
	testutil.Eventually(t, 10*time.Second, "messages waiting for a receiver", func() bool { return ts.depth() >= total-1 })
	got := make(chan *Message, total)
	if err := c.Handle(topicVotes, func(m *Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	for i := range total {
		m := recv(t, got, 10*time.Second)
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("handler: message %d arrived as %q", i, m.Data)
		}
	}
}
