package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerset"
)

// TestSimultaneousDial: two nodes that dial each other at the same moment
// end with one connection, the same on both sides (outbound on one,
// inbound on the other, dialed by the lower ID), usable both ways.
func TestSimultaneousDial(t *testing.T) {
	for round := 0; round < 8; round++ {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			a := startNode(t, quietConfig(t, 500+2*round))
			b := startNode(t, quietConfig(t, 501+2*round))
			start := make(chan struct{})
			var wg sync.WaitGroup
			var errs [2]error
			for i, d := range []struct{ from, to *Node }{{a, b}, {b, a}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					// Either dial may lose to the other: only the end state counts.
					_, errs[i] = d.from.Dial(context.Background(), d.to.ListenAddr().String())
				}()
			}
			close(start)
			wg.Wait()
			// Both dials have returned, so each connection has finished its
			// handshake; once neither node has an inbound handshake or
			// admission in flight, both have judged both connections.
			testutil.Eventually(t, 10*time.Second, "inbound setups finished", func() bool {
				return a.open.len()+len(a.reserved.slots) == 0 && b.open.len()+len(b.reserved.slots) == 0
			})
			testutil.Eventually(t, 10*time.Second, "one connection on both sides", func() bool {
				pa, okA := a.Peer(b.ID())
				pb, okB := b.Peer(a.ID())
				return okA && okB && pa.Direction != pb.Direction &&
					len(a.connected()) == 1 && len(b.connected()) == 1
			})
			pa, _ := a.Peer(b.ID())
			ida, idb := a.ID(), b.ID()
			lowerIsA := bytes.Compare(ida[:], idb[:]) < 0
			// When both dials got through, two connections met and the
			// duplicate rule chose; when one dial found the other connection
			// already admitted, there was only one to keep.
			if errs[0] == nil && errs[1] == nil && (pa.Direction == "outbound") != lowerIsA {
				t.Fatalf("kept a's %s connection; a has the lower ID: %v", pa.Direction, lowerIsA)
			}
			for _, err := range errs {
				if err != nil && !errors.Is(err, peerset.ErrDuplicate) && !errors.Is(err, ErrConnected) && !errors.Is(err, ErrDialing) {
					t.Fatalf("dial failed for another reason than the other connection: %v", err)
				}
			}
			if s := a.Stats(); s.Inbound+s.Outbound != 1 {
				t.Fatalf("a holds %d connections", s.Inbound+s.Outbound)
			}
			if s := b.Stats(); s.Inbound+s.Outbound != 1 {
				t.Fatalf("b holds %d connections", s.Inbound+s.Outbound)
			}
			ca, cb := drainInboxes(a), drainInboxes(b)
			if err := a.Send(context.Background(), b.ID(), topicVotes, []byte("a→b")); err != nil {
				t.Fatalf("a→b on the kept connection: %v", err)
			}
			if err := b.Send(context.Background(), a.ID(), topicVotes, []byte("b→a")); err != nil {
				t.Fatalf("b→a on the kept connection: %v", err)
			}
			testutil.Eventually(t, 5*time.Second, "both messages", func() bool {
				return cb.count(topicVotes, "a→b") == 1 && ca.count(topicVotes, "b→a") == 1
			})
		})
	}
}
