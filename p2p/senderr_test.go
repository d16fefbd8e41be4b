package p2p

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/peerwire/peerwire/conn/mux"
)

// TestSendErrors: what Send and TrySend return matches p2p's sentinels, so
// an application imports no lower package to tell the failures apart: a
// message over our topic's maximum or the peer's, a full queue, and a
// connection that closed under the call.
func TestSendErrors(t *testing.T) {
	a := startNode(t, quietConfig(t, 960))
	bcfg := quietConfig(t, 961) // nobody reads its inboxes
	for i := range bcfg.Topics {
		if bcfg.Topics[i].ID == topicVotes {
			bcfg.Topics[i].MaxMessageSize = 1 << 10 // the peer takes smaller votes than a sends
		}
	}
	b := startNode(t, bcfg)
	dial(t, a, b)
	ctx := context.Background()

	// closed aborts a's connection to b, keeping it a's current one for
	// Send (its OnClose waits on a.st.closed until the test ends), so the
	// call reaches the closed MultiConn rather than finding no peer.
	var closeOnce sync.Once
	parent := t
	closed := func(t *testing.T) {
		closeOnce.Do(func() {
			pc, err := a.peerConn(b.ID())
			if err != nil {
				t.Fatal(err)
			}
			a.st.closed.Lock()
			// Held until the whole test ends, before the nodes' Stop
			// (cleanups run last first).
			parent.Cleanup(a.st.closed.Unlock)
			pc.mc.Abort(mux.GoAwayShutdown, "test")
		})
	}
	vote := func(n int) []byte { return bytes.Repeat([]byte{1}, n) }

	for _, tc := range []struct {
		name string
		send func(t *testing.T) error
		want error
	}{
		{"Send over our maximum", func(*testing.T) error { return a.Send(ctx, b.ID(), topicVotes, vote(64<<10+1)) }, ErrMessageTooLarge},
		{"TrySend over our maximum", func(*testing.T) error { return a.TrySend(b.ID(), topicVotes, vote(64<<10+1)) }, ErrMessageTooLarge},
		{"Send over the peer's maximum", func(*testing.T) error { return a.Send(ctx, b.ID(), topicVotes, vote(2<<10)) }, ErrMessageTooLarge},
		{"TrySend on a full queue", func(t *testing.T) error {
			// b reads nothing: its credit, then a's queue run out.
			msg := vote(60 << 10)
			for i := 0; i < 1000; i++ {
				if err := a.TrySend(b.ID(), topicTxs, msg); err != nil {
					return err
				}
			}
			t.Fatal("1000 messages of 60 KiB queued to a peer that reads nothing")
			return nil
		}, ErrQueueFull},
		{"Send on a closed connection", func(t *testing.T) error {
			closed(t)
			return a.Send(ctx, b.ID(), topicVotes, vote(10))
		}, ErrClosed},
		{"TrySend on a closed connection", func(t *testing.T) error {
			closed(t)
			return a.TrySend(b.ID(), topicVotes, vote(10))
		}, ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.send(t)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want one matching %v", err, tc.want)
			}
		})
	}
}
