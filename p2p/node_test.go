package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestTwoNodes: two nodes connect, exchange on every topic both ways, see
// the right sender in their inboxes, and stop cleanly.
func TestTwoNodes(t *testing.T) {
	a := startNode(t, testConfig(t, 1))
	b := startNode(t, testConfig(t, 2))
	ctx := context.Background()
	if _, err := a.Dial(ctx, b.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "both sides connected", func() bool { return connectedTo(a, b.ID()) && connectedTo(b, a.ID()) })
	for _, topic := range []uint8{topicVotes, topicBlocks, topicTxs} {
		for _, dir := range []struct{ from, to *Node }{{a, b}, {b, a}} {
			payload := bytes.Repeat([]byte{topic}, 1000*int(topic))
			if err := dir.from.Send(ctx, dir.to.ID(), topic, payload); err != nil {
				t.Fatalf("send on %d: %v", topic, err)
			}
			m := recv(t, dir.to.Inbox(topic), 5*time.Second)
			if m.From != dir.from.ID() || m.Topic != topic || !bytes.Equal(m.Data, payload) || m.Gossip {
				t.Fatalf("topic %d: got from %s topic %d %d bytes", topic, m.From.Short(), m.Topic, len(m.Data))
			}
			if m.Meta.GetNetworkId() != "test" {
				t.Fatalf("sender meta missing: %v", m.Meta)
			}
		}
	}
	// Gossip on every topic both ways: delivered once, marked as gossip,
	// with the origin and the last hop both the sender.
	for _, topic := range []uint8{topicVotes, topicBlocks, topicTxs} {
		for _, dir := range []struct{ from, to *Node }{{a, b}, {b, a}} {
			payload := []byte(fmt.Sprintf("gossip %d from %s", topic, dir.from.ID().Short()))
			id, res, err := dir.from.Gossip(ctx, topic, payload)
			if err != nil || len(res) != 1 || res[dir.to.ID()] != nil {
				t.Fatalf("gossip on %d: %v %v", topic, err, res)
			}
			m := recv(t, dir.to.Inbox(topic), 5*time.Second)
			if !m.Gossip || m.ID != id || m.Origin != dir.from.ID() || m.From != dir.from.ID() || !bytes.Equal(m.Data, payload) {
				t.Fatalf("topic %d: got gossip %v from %s origin %s %q", topic, m.Gossip, m.From.Short(), m.Origin.Short(), m.Data)
			}
		}
	}
	if err := a.Send(ctx, b.ID(), 99, []byte("x")); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-a.Inbox(topicVotes); ok {
		t.Fatal("inbox not closed after Stop")
	}
	testutil.Eventually(t, 5*time.Second, "b notices a left", func() bool { return !connectedTo(b, a.ID()) })
}

// TestBroadcastAndOrder: Broadcast reaches every peer, and many messages on
// one topic arrive in order.
func TestBroadcastAndOrder(t *testing.T) {
	hub := startNode(t, testConfig(t, 10))
	var leaves []*Node
	for i := 0; i < 3; i++ {
		n := startNode(t, testConfig(t, 11+i))
		if _, err := n.Dial(context.Background(), hub.ListenAddr().String()); err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, n)
	}
	testutil.Eventually(t, 5*time.Second, "hub has 3 peers", func() bool { return len(hub.Peers()) == 3 })
	const count = 2000
	go func() {
		for i := 0; i < count; i++ {
			res, err := hub.Broadcast(context.Background(), topicTxs, []byte(fmt.Sprint(i)))
			if err != nil || len(res) != 3 {
				t.Errorf("broadcast %d: %v %v", i, err, res)
				return
			}
			for id, err := range res {
				if err != nil {
					t.Errorf("broadcast %d to %s: %v", i, id.Short(), err)
				}
			}
		}
	}()
	for _, n := range leaves {
		for i := 0; i < count; i++ {
			m := recv(t, n.Inbox(topicTxs), 10*time.Second)
			if string(m.Data) != fmt.Sprint(i) {
				t.Fatalf("message %d out of order: %q", i, m.Data)
			}
		}
	}
	if _, err := hub.SendRandom(context.Background(), topicVotes, []byte("r")); err != nil {
		t.Fatal(err)
	}
	if err := hub.TrySend(leaves[0].ID(), topicVotes, make([]byte, 70<<10)); err == nil {
		t.Fatal("oversized message accepted")
	}
	var _ = mux.ErrQueueFull
}
