package p2p

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestInboxHandOffBuffered: once the application reads a topic through its
// channel, the topic's goroutine hands messages over without waiting for
// each to be taken — up to inboxBuffer of them while their bytes allow
// (inboxBufferBytes: TestInboxBufferBytes) — and they arrive in order.
// Messages that arrive before the application has chosen how to receive
// wait outside the channel, so a handler registered late still gets every
// one of them.
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

// TestInboxBufferBytes: the inbox buffer holds many small messages (see
// TestInboxHandOffBuffered) but at most inboxBufferBytes of Data whose
// credit has returned: with the credit letting forty 64 KiB messages in
// and the application not reading, sixteen (1 MiB) are in the channel,
// delivered, a seventeenth is in it with its credit held (deliver) and
// the rest wait, charged to the sender's credit; read, they all arrive in
// order, the buffer never over that. A node stopped while its topic waits
// for room stops.
func TestInboxBufferBytes(t *testing.T) {
	const total, size = 40, 64 << 10
	fit := inboxBufferBytes / size // 16
	a := startNode(t, quietConfig(t, 1430))
	cfg := quietConfig(t, 1431)
	cfg.Topics[topicVotes-1].RecvWindow = 8 << 20 // room for all forty
	b := startNode(t, cfg)
	cfg = quietConfig(t, 1432)
	cfg.Topics[topicVotes-1].RecvWindow = 8 << 20
	c := startNode(t, cfg)
	dial(t, a, b)
	dial(t, a, c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inbox, ts := b.Inbox(topicVotes), b.topics[topicVotes]
	c.Inbox(topicVotes) // read through the channel, never read
	for i := range total {
		msg := make([]byte, size)
		binary.BigEndian.PutUint32(msg, uint32(i))
		for _, to := range []*Node{b, c} {
			if err := a.Send(ctx, to.ID(), topicVotes, msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The pump holds the seventeenth (depth counts it) until there is room.
	testutil.Eventually(t, 10*time.Second, "1 MiB and one more in the inbox buffer, the rest queued", func() bool {
		return len(inbox) == fit+1 && ts.depth() == total-fit
	})
	if got := b.Stats().Delivered; got != uint64(fit) {
		t.Fatalf("%d messages delivered (credit returned), want %d (1 MiB)", got, fit)
	}
	for i := range total {
		if l := len(inbox); l > fit+1 {
			t.Fatalf("before message %d: %d messages of %d bytes in the inbox buffer, over 1 MiB and one", i, l, size)
		}
		m := recv(t, inbox, 10*time.Second)
		if got := binary.BigEndian.Uint32(m.Data); got != uint32(i) || len(m.Data) != size {
			t.Fatalf("message %d arrived as %d, %d bytes", i, got, len(m.Data))
		}
	}

	tc := c.topics[topicVotes]
	testutil.Eventually(t, 10*time.Second, "c's topic waiting for room", func() bool {
		return len(c.Inbox(topicVotes)) == fit+1 && tc.depth() == total-fit
	})
	stopped := make(chan error, 1)
	go func() { stopped <- c.Stop(ctx) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Stop did not return while the topic waited for room in its inbox")
	}
}

// TestInboxLedger: the ledger's count of the bytes in a buffered channel
// matches what is in it, through sends and receives of random sizes that
// wrap its ring many times; room follows the 1 MiB bound. Buffers of 7
// and 1,023 messages take a ring of exactly k+1 totals, the fewest that
// work; 8 and 1,024 one nearly twice that.
func TestInboxLedger(t *testing.T) {
	for _, k := range []int{1, 7, 8, 1023, 1024} {
		t.Run(fmt.Sprint(k), func(t *testing.T) { testInboxLedger(t, k) })
	}
	var unbuffered inboxLedger
	if !unbuffered.room(make(chan *Message), 64<<20) {
		t.Fatal("no room in an unbuffered channel")
	}
}

func testInboxLedger(t *testing.T, k int) {
	ch := make(chan *Message, k)
	l := newInboxLedger(k)
	var fifo []int // the sizes in ch, oldest first
	rng := rand.New(rand.NewPCG(1, uint64(k)))
	for i := range 10_000 + 20*k {
		if len(ch) < k && rng.IntN(2) == 0 {
			size := rng.IntN(300 << 10)
			if l.room(ch, size) != (sum(fifo)+size <= inboxBufferBytes || len(fifo) == 0) {
				t.Fatalf("step %d: room for %d with %d bytes in: %v", i, size, sum(fifo), l.room(ch, size))
			}
			l.record(size)
			ch <- &Message{}
			fifo = append(fifo, size)
		} else if len(ch) > 0 {
			<-ch
			fifo = fifo[1:]
		}
		if got := l.bytes(ch); got != sum(fifo) {
			t.Fatalf("step %d: ledger says %d bytes in the channel, it holds %d", i, got, sum(fifo))
		}
	}
	for len(ch) > 0 {
		<-ch
	}
	if !l.room(ch, inboxBufferBytes+1) {
		t.Fatal("no room in an empty buffer for a message over 1 MiB: it would wait forever")
	}
}

func sum(s []int) int {
	n := 0
	for _, v := range s {
		n += v
	}
	return n
}

// TestInboxBufferSize: topics of messages up to 64 KiB get the ledger's
// many places; those of larger ones keep as many of their largest as fit
// in 1 MiB, so that a full buffer's pump waits in a blocking send, not
// for bytes; none over 1 MiB.
func TestInboxBufferSize(t *testing.T) {
	for _, c := range []struct{ maxMsg, want int }{
		{256, maxInboxBuffer}, {64 << 10, maxInboxBuffer}, {64<<10 + 1, 15}, {256 << 10, 4},
		{1 << 20, 1}, {0, 1}, {1<<20 + 1, 0}, {4 << 20, 0},
	} {
		if got := inboxBuffer(c.maxMsg); got != c.want {
			t.Errorf("inboxBuffer(%d) = %d, want %d", c.maxMsg, got, c.want)
		}
	}
}

// TestDirectMessageAllocation: a direct message the reader puts into an
// inbox itself is a Message of its own, which the connection's lent
// message (mux.Config.LendMessages), reused for the next one, leaves
// intact; one the topic's goroutine hands over (Handle) shares its
// allocation with the connection's message it came in (rxMessage).
// Release clears Data in both.
func TestDirectMessageAllocation(t *testing.T) {
	a := startNode(t, quietConfig(t, 1510))
	b := startNode(t, quietConfig(t, 1511))
	dial(t, a, b)
	handled := make(chan *Message, 2)
	if err := b.Handle(topicTxs, func(m *Message) { handled <- m }); err != nil {
		t.Fatal(err)
	}
	inbox := b.Inbox(topicVotes) // before the sends: the reader delivers
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		topic  uint8
		msgs   <-chan *Message
		shared bool
	}{
		{"inbox", topicVotes, inbox, false},
		{"handler", topicTxs, handled, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, second := []byte(tc.name+"-1"), []byte(tc.name+"-2")
			for _, d := range [][]byte{first, second} {
				if err := a.Send(ctx, b.ID(), tc.topic, d); err != nil {
					t.Fatal(err)
				}
			}
			m1, m2 := recv(t, tc.msgs, 5*time.Second), recv(t, tc.msgs, 5*time.Second)
			for i, c := range []struct {
				m    *Message
				want []byte
			}{{m1, first}, {m2, second}} {
				m := c.m
				if string(m.Data) != string(c.want) || m.From != a.ID() || m.Topic != tc.topic || m.Gossip || m.ReceivedAt.IsZero() {
					t.Fatalf("message %d: %q from %s on %d (gossip %v, at %v)", i+1, m.Data, m.From.Short(), m.Topic, m.Gossip, m.ReceivedAt)
				}
				if tc.shared {
					if r, ok := m.mm.Outer.(*rxMessage); !ok || &r.msg != m || &r.mm != m.mm {
						t.Fatalf("message %d is not the one allocated with its connection's message", i+1)
					}
				} else if m.mm != nil {
					t.Fatalf("message %d holds its connection's message", i+1)
				}
				m.Release()
				if m.Data != nil || m.mm != nil {
					t.Fatalf("message %d: Release left Data or the connection's message in place", i+1)
				}
			}
		})
	}
}
