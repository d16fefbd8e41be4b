package p2p

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerset"
)

// peerMC returns n's connection to id, or nil.
func peerMC(n *Node, id crypto.ID) *mux.MultiConn {
	if pc, err := n.peerConn(id); err == nil {
		return pc.mc
	}
	return nil
}

// TestCreditStallPeer: a peer whose application stops reading one topic
// (it answers pings, its other topics are idle) while the hub keeps sending
// on it is cut off with goaway "timeout" once the hub's queued messages have
// waited the credit-stall timeout, and loses reputation for it. Scored so
// that one stall reaches the ban threshold, an ordinary peer is banned;
// a must-connect peer is not banned and is redialed. The hub's connections
// run on a manual clock.
func TestCreditStallPeer(t *testing.T) {
	const interval, idle = time.Second, 5 * time.Second
	const delta = -150.0 // one stall takes a peer past the default threshold, -100
	for _, tc := range []struct {
		name string
		must bool
	}{
		{"ordinary peer is banned", false},
		{"must-connect peer is redialed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stalled := startNode(t, quietConfig(t, 900)) // nobody reads its inboxes
			stalledSub := stalled.Subscribe()
			defer stalledSub.Cancel()

			clk := clock.NewFake()
			hcfg := quietConfig(t, 901)
			hcfg.connClock, hcfg.PingInterval, hcfg.IdleTimeout = clk, interval, idle // CreditStallTimeout: idle
			hcfg.Peers.EventDeltas = map[peerset.Event]float64{peerset.EventCreditStall: delta}
			if tc.must {
				hcfg.MustConnect = []string{stalled.ListenAddr().String()}
			}
			hub := startNode(t, hcfg)
			sub := hub.Subscribe()
			defer sub.Cancel()
			if !tc.must {
				dial(t, hub, stalled)
			}
			testutil.Eventually(t, 10*time.Second, "the connection", func() bool { return peerMC(hub, stalled.ID()) != nil })
			mc := peerMC(hub, stalled.ID())

			// Fill the stalled peer's credit on txs, then the hub's queue,
			// which its byte bound (1 MiB) closes long before SendQueue
			// (256 messages) would.
			msg := bytes.Repeat([]byte{7}, 60<<10)
			queued := 0
			for ; queued < 200; queued++ {
				err := hub.TrySend(stalled.ID(), topicTxs, msg)
				if errors.Is(err, mux.ErrQueueFull) && txsStats(mc).CreditStalls > 0 {
					break
				}
				if err != nil {
					t.Fatalf("send %d: %v", queued, err)
				}
				// One at a time until the writer finds the stall, so the
				// queue cannot fill before the credit runs out.
				testutil.Eventually(t, 10*time.Second, "the writer", func() bool {
					st := txsStats(mc)
					return st.MsgsSent == uint64(queued+1) || st.CreditStalls > 0
				})
			}
			// The peer answers each ping; the stall timeout still runs out.
			for i := 1; i < int(idle/interval); i++ {
				clk.Advance(interval)
				testutil.Eventually(t, 10*time.Second, fmt.Sprintf("pong %d", i), func() bool { return mc.RTT().Samples == uint64(i) || mc.Err() != nil })
				if mc.Err() != nil {
					t.Fatalf("closed after %d pings: %v", i, mc.Err())
				}
			}
			clk.Advance(interval)
			testutil.Eventually(t, 10*time.Second, fmt.Sprintf("the stall timeout (%+v, %+v)", txsStats(mc), mc.Stats()), func() bool { return mc.Err() != nil })
			waitEvent(t, sub, 10*time.Second, "the hub drops the stalled peer", func(e Event) bool {
				return e.Kind == EventDisconnected && e.Peer == stalled.ID()
			})
			if err := mc.Err(); !errors.Is(err, mux.ErrCreditStall) {
				t.Fatalf("hub's connection ended with %v", err)
			}
			e := waitEvent(t, stalledSub, 10*time.Second, "the stalled peer hears why", func(e Event) bool { return e.Kind == EventDisconnected })
			if !strings.Contains(e.Reason, "goaway from peer: timeout: no credit on topic 3") {
				t.Fatalf("the stalled peer was told %q", e.Reason)
			}
			if score, _ := hub.Score(stalled.ID()); score > delta/2 {
				t.Fatalf("score %v after a credit stall", score)
			}
			banned := len(hub.Bans()) == 1 && hub.Bans()[0].ID == stalled.ID()
			if !tc.must {
				if !banned {
					t.Fatalf("an ordinary peer at score %v was not banned: bans %+v", delta, hub.Bans())
				}
				return
			}
			if len(hub.Bans()) != 0 {
				t.Fatalf("a must-connect peer was banned: %+v", hub.Bans())
			}
			waitEvent(t, sub, 10*time.Second, "the must-connect peer redialed", func(e Event) bool {
				return e.Kind == EventConnected && e.Peer == stalled.ID()
			})
			if p, ok := hub.Peer(stalled.ID()); !ok || !p.MustConnect || p.Direction != "outbound" {
				t.Fatalf("after the redial: %+v, %v", p, ok)
			}
		})
	}
}

// txsStats returns the txs topic's counters on mc.
func txsStats(mc *mux.MultiConn) mux.TopicStats {
	for _, ts := range mc.Stats().Topics {
		if ts.ID == topicTxs {
			return ts
		}
	}
	return mux.TopicStats{}
}

// TestStallConfig: the send-queue byte bound and the credit-stall timeout
// are checked when the node starts, by field name.
func TestStallConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"byte bound below a message", func(c *Config) { c.Topics[0].SendQueueBytes = c.Topics[0].MaxMessageSize - 1 }, "Config.Topics[0].SendQueueBytes"},
		{"stall timeout within a ping", func(c *Config) { c.PingInterval, c.CreditStallTimeout = 2*time.Second, time.Second }, "CreditStallTimeout 1s must exceed PingInterval 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quietConfig(t, 950)
			tc.edit(&cfg)
			n, err := New(cfg)
			if err == nil {
				err = n.Start(context.Background())
				n.Stop(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
