package p2p

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// TestReceiveUnknownTopic: every way of receiving refuses a topic that is
// not in Config.Topics with ErrUnknownTopic (Inbox panics with it), never
// a nil channel that would hang a range loop.
func TestReceiveUnknownTopic(t *testing.T) {
	n := startNode(t, quietConfig(t, 1300))
	const unknown = 99
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"InboxOf", func() error { ch, err := n.InboxOf(unknown); _ = ch; return err }},
		{"Next", func() error { _, err := n.Next(ctx, unknown); return err }},
		{"Handle", func() error { return n.Handle(unknown, func(*Message) {}) }},
		{"Inbox", func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err, _ = r.(error)
				}
			}()
			if ch := n.Inbox(unknown); ch == nil {
				return errors.New("nil channel")
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrUnknownTopic) {
				t.Fatalf("%s(%d) = %v, want ErrUnknownTopic", tc.name, unknown, err)
			}
		})
	}
}

// TestReceiveModesExclusive: a topic is read one way only; the second way
// is refused with ErrReceiveMode, and the first way keeps working.
func TestReceiveModesExclusive(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Next only claims the topic here; it must not wait
	inbox := func(n *Node) error { _, err := n.InboxOf(topicVotes); return err }
	next := func(n *Node) error {
		_, err := n.Next(ctx, topicVotes)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	handle := func(n *Node) error { return n.Handle(topicVotes, func(*Message) {}) }
	ways := map[string]func(*Node) error{"Inbox": inbox, "Next": next, "Handle": handle}
	for i, tc := range []struct{ first, second string }{
		{"Inbox", "Handle"}, {"Inbox", "Next"}, {"Next", "Inbox"}, {"Next", "Handle"},
		{"Handle", "Inbox"}, {"Handle", "Next"}, {"Handle", "Handle"},
	} {
		t.Run(tc.first+"Then"+tc.second, func(t *testing.T) {
			n := startNode(t, quietConfig(t, 1310+i))
			if err := ways[tc.first](n); err != nil {
				t.Fatalf("%s: %v", tc.first, err)
			}
			if err := ways[tc.second](n); !errors.Is(err, ErrReceiveMode) {
				t.Fatalf("%s after %s = %v, want ErrReceiveMode", tc.second, tc.first, err)
			}
			if tc.first != "Handle" {
				if err := ways[tc.first](n); err != nil {
					t.Fatalf("%s again: %v", tc.first, err)
				}
			}
		})
	}
}

// TestNext: Next returns sent messages in order over TCP, returns the
// context's error when it ends first, and ErrClosed after Stop.
func TestNext(t *testing.T) {
	a := startNode(t, quietConfig(t, 1320))
	b := startNode(t, quietConfig(t, 1321))
	dial(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []string{"one", "two", "three"} {
		if err := a.Send(ctx, b.ID(), topicVotes, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"one", "two", "three"} {
		m, err := b.Next(ctx, topicVotes)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != want || m.From != a.ID() || m.Gossip {
			t.Fatalf("got %q from %s gossip=%v, want %q from a, direct", m.Data, m.From.Short(), m.Gossip, want)
		}
	}
	short, cancelShort := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := b.Next(short, topicVotes); done <- err }()
	cancelShort()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel = %v, want context.Canceled", err)
	}
	b.Stop(context.Background())
	if _, err := b.Next(ctx, topicVotes); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Stop = %v, want ErrClosed", err)
	}
}

// TestHandle: a handler registered after a message already waits gets it,
// then every later one, in order, over TCP.
func TestHandle(t *testing.T) {
	a := startNode(t, quietConfig(t, 1330))
	b := startNode(t, quietConfig(t, 1331))
	dial(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Send(ctx, b.ID(), topicBlocks, []byte("early")); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Message, 8)
	if err := b.Handle(topicBlocks, func(m *Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"late1", "late2"} {
		if err := a.Send(ctx, b.ID(), topicBlocks, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"early", "late1", "late2"} {
		m := recv(t, got, 10*time.Second)
		if string(m.Data) != want || m.Topic != topicBlocks || m.From != a.ID() {
			t.Fatalf("handler got %q on topic %d, want %q on %d", m.Data, m.Topic, want, topicBlocks)
		}
	}
}

// TestMessageGossipFlag: a message sent directly and one gossiped are told
// apart by Message.Gossip; a gossiped one names its verified origin and ID.
func TestMessageGossipFlag(t *testing.T) {
	a := startNode(t, quietConfig(t, 1340))
	b := startNode(t, quietConfig(t, 1341))
	dial(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Send(ctx, b.ID(), topicTxs, []byte("direct")); err != nil {
		t.Fatal(err)
	}
	direct, err := b.Next(ctx, topicTxs)
	if err != nil {
		t.Fatal(err)
	}
	if direct.Gossip || direct.Origin != (crypto.ID{}) || direct.ID != (MessageID{}) {
		t.Fatalf("direct message: gossip=%v origin=%s id=%x", direct.Gossip, direct.Origin.Short(), direct.ID)
	}
	id, _, err := a.Gossip(ctx, topicTxs, []byte("gossiped"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := b.Next(ctx, topicTxs)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Gossip || g.Origin != a.ID() || !g.OriginVerified || g.ID != id || string(g.Data) != "gossiped" {
		t.Fatalf("gossiped message: gossip=%v origin=%s verified=%v id=%x data=%q", g.Gossip, g.Origin.Short(), g.OriginVerified, g.ID, g.Data)
	}
}

// TestWaitPeers: WaitPeers returns once the count is reached, returns the
// context's error when it ends first, and ErrClosed once the node stops.
func TestWaitPeers(t *testing.T) {
	hub := startNode(t, quietConfig(t, 1350))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hub.WaitPeers(ctx, 0); err != nil {
		t.Fatalf("WaitPeers(0) = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- hub.WaitPeers(ctx, 2) }()
	for i := 0; i < 2; i++ {
		p := startNode(t, quietConfig(t, 1351+i))
		if _, err := p.Dial(ctx, hub.ListenAddr().String()); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitPeers(2) = %v", err)
	}
	if got := len(hub.Peers()); got < 2 {
		t.Fatalf("WaitPeers(2) returned with %d peers", got)
	}

	short, cancelShort := context.WithCancel(ctx)
	go func() { done <- hub.WaitPeers(short, 10) }()
	cancelShort()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitPeers after cancel = %v, want context.Canceled", err)
	}

	go func() { done <- hub.WaitPeers(ctx, 10) }()
	hub.Stop(context.Background())
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitPeers at Stop = %v, want ErrClosed", err)
	}
}
