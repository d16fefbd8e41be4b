package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
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

// TestDuplicateEvents: a newer connection that replaces a peer's older one
// (the same dialer's: the newer wins) is no change in the node's peers:
// subscribers see the peer connect once and never leave, whether the
// older connection had been announced or lost before its setup was done.
func TestDuplicateEvents(t *testing.T) {
	for i, tc := range []struct {
		name  string
		early bool // the second connection is made inside the first's setup
	}{
		{"older announced", false},
		{"older replaced before its announcement", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a, b *Node
			second := func() {
				// The rule "same dialer: the newer wins" holds when b admits
				// the two in the order a dialed them, as a node's dialer,
				// which never dials a peer it is connected to or dialing,
				// ensures: the first must be b's before the second starts.
				for deadline := time.Now().Add(10 * time.Second); !connectedTo(b, a.ID()); {
					if time.Now().After(deadline) {
						t.Error("b did not admit the first connection")
						return
					}
					time.Sleep(time.Millisecond) // polling, as testutil.Eventually does
				}
				ap, _ := b.ListenAddr().AddrPort()
				ec, err := a.handshakeOut(context.Background(), b.ID(), []netip.AddrPort{ap})
				if err != nil {
					t.Error(err)
					return
				}
				if err := a.setupPeer(ec, peerset.Outbound, addrPortOf(ec.RemoteAddr())); err != nil {
					t.Errorf("second connection: %v", err)
				}
			}
			cfg := quietConfig(t, 520+2*i)
			if tc.early {
				var made atomic.Bool // the second's own setup runs afterAdmit too
				cfg.afterAdmit = func(crypto.ID) {
					if made.CompareAndSwap(false, true) {
						second()
					}
				}
			}
			var first atomic.Pointer[peerConn]
			if !tc.early {
				// The second connection's setup waits for the first's
				// OnClose: the older one's end comes before the newer one is
				// announced, and must not be announced as the peer leaving.
				cfg.beforeContact = func(pc *peerConn) {
					if f := first.Load(); f != nil && f != pc {
						select {
						case <-f.closed:
						case <-time.After(5 * time.Second):
							t.Error("the replaced connection did not close")
						}
					}
				}
			}
			a = startNode(t, cfg)
			b = startNode(t, quietConfig(t, 521+2*i))
			sub := a.Subscribe()
			dial(t, a, b)
			if !tc.early {
				pc, err := a.peerConn(b.ID())
				if err != nil {
					t.Fatal(err)
				}
				first.Store(pc)
				second()
			}
			t.Cleanup(func() {
				if t.Failed() {
					a.conns.Lock()
					for pc := range a.conns.live {
						t.Logf("live: %s %v transient %v peer %v current %v done %v", pc.id.Short(), pc.dir, pc.transient, pc.peer != nil, pc.current.Load(), pc.mc.Err())
					}
					a.conns.Unlock()
					_, bHas := b.Peer(a.ID())
					t.Logf("b holds a: %v; a refusals %+v", bHas, a.Stats().Refusals)
					for more := true; more; {
						select {
						case ev := <-sub.C:
							t.Logf("event %v %s %s", ev.Kind, ev.Direction, ev.Reason)
						default:
							more = false
						}
					}
				}
			})
			// Once a holds one connection to b, the other's OnClose is done.
			testutil.Eventually(t, 10*time.Second, "one live connection to b", func() bool {
				return liveConns(a, b.ID()) == 1 && connectedTo(a, b.ID())
			})
			kinds := pendingKinds(sub, b.ID())
			if len(kinds) != 1 || kinds[0] != EventConnected {
				t.Fatalf("events for b: %v; want one connected", kinds)
			}
		})
	}
}
