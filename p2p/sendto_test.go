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
			return p.get(b.ID())
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

// TestSendIndexCollision: of two current peers whose IDs begin with the
// same 8 bytes, the index keeps the first and never answers for the
// second (which Send then finds through the Set); dropping the second
// leaves the first in place, and once the first is gone the second can
// take the key.
func TestSendIndexCollision(t *testing.T) {
	var n Node
	mk := func(last byte) *peerConn {
		pc := &peerConn{}
		pc.id[0], pc.id[7], pc.id[19] = 0xaa, 0xbb, last
		pc.current.Store(true)
		return pc
	}
	first, second := mk(1), mk(2)
	get := func(pc *peerConn) *peerConn { return n.sendTo.Load().get(pc.id) }
	n.setSendTo(first.id, first)
	n.setSendTo(second.id, second)
	if get(first) != first || get(second) != nil {
		t.Fatalf("after both: first %p (want %p), second %p (want nil)", get(first), first, get(second))
	}
	n.setSendTo(second.id, nil)
	if get(first) != first {
		t.Fatal("dropping the second peer dropped the first")
	}
	first.current.Store(false)
	n.setSendTo(first.id, nil)
	n.setSendTo(second.id, second)
	if get(first) != nil || get(second) != second {
		t.Fatalf("after the first left: first %p (want nil), second %p (want %p)", get(first), get(second), second)
	}
}
