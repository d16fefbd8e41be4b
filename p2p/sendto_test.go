package p2p

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestSendToFollowsConnection: Send's lock-free map of current connections
// (Node.sendTo) holds a peer while it is connected, the connection it
// holds is the one the set has, and it lets go of a disconnected peer, so
// it neither keeps a closed connection alive nor sends to one.
func TestSendToFollowsConnection(t *testing.T) {
	a := startNode(t, quietConfig(t, 1500))
	b := startNode(t, quietConfig(t, 1501))
	dial(t, a, b)
	ctx := context.Background()
	entry := func() *peerConn {
		if p := a.sendTo.Load(); p != nil {
			return (*p)[b.ID()]
		}
		return nil
	}
	testutil.Eventually(t, 5*time.Second, "b in the send map", func() bool { return entry() != nil })
	st, ok := a.set.Get(b.ID())
	if !ok || connOf(st.Peer) != entry() {
		t.Fatalf("send map holds %p, the set %v", entry(), st.Peer)
	}
	if err := a.Send(ctx, b.ID(), topicTxs, []byte("x")); err != nil {
		t.Fatal(err)
	}
	recv(t, b.Inbox(topicTxs), 5*time.Second)
	if err := a.Disconnect(b.ID(), "test"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "b out of the send map", func() bool { return entry() == nil })
	if err := a.Send(ctx, b.ID(), topicTxs, []byte("x")); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("send after disconnect: %v, want ErrUnknownPeer", err)
	}
}
