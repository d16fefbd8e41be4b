package p2p

import (
	"fmt"
	"testing"
	"time"

	"github.com/peerwire/peerwire/discovery/dht"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestDHTTransient: a node at its inbound limit still answers a DHT query
// from a node at its outbound limit, over a transient connection that
// neither lists as a peer nor counts in its slots, that the next query
// reuses, and that closes once idle for TransientIdleTimeout.
func TestDHTTransient(t *testing.T) {
	clk := clock.NewFake()
	bc := dhtConfig(t, 0, DHTServer, nil)
	bc.Peers.MaxInbound = 1
	onFakeClock(&bc, clk)
	b := startNode(t, bc)
	c := startNode(t, dhtConfig(t, 2, DHTServer, nil))
	ac := dhtConfig(t, 1, DHTServer, nil)
	ac.Peers.MaxOutbound = 1
	onFakeClock(&ac, clk)
	a := startNode(t, ac)
	dial(t, c, b) // b: inbound 1/1
	dial(t, a, c) // a: outbound 1/1

	req, err := (&dht.Message{Type: dht.MsgPing}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		resp, err := dhtTransport{a}.Request(t.Context(), b.ListenAddr(), req)
		if err != nil {
			t.Fatalf("query %d to a node at its inbound limit, from one at its outbound limit: %v", i, err)
		}
		if m, err := dht.DecodeMessage(resp); err != nil || m.Type != dht.MsgPong {
			t.Fatalf("query %d answered %v, %v; want a PONG", i, m, err)
		}
	}
	if got := a.DHTStats().TransientDials; got != 1 {
		t.Errorf("%d transient dials for two queries, want 1 (the second reuses it)", got)
	}
	for _, p := range []struct {
		nd, other *Node
		slots     int
	}{{a, b, a.set.Counts().OutboundSlots}, {b, a, b.set.Counts().InboundSlots}} {
		if connectedTo(p.nd, p.other.ID()) || len(p.nd.Peers()) != 1 {
			t.Errorf("%s lists %d peers (the transient one: %v), want only its real one", p.nd.ID().Short(), len(p.nd.Peers()), connectedTo(p.nd, p.other.ID()))
		}
		if p.slots != 1 {
			t.Errorf("%s has %d slots taken, want 1 (the transient connection takes none)", p.nd.ID().Short(), p.slots)
		}
		if n := len(p.nd.transientConns()); n != 1 {
			t.Errorf("%s has %d transient connections, want 1", p.nd.ID().Short(), n)
		}
	}
	clk.Advance(TransientIdleTimeout - time.Second)
	if len(a.transientConns()) != 1 || len(b.transientConns()) != 1 {
		t.Fatal("a transient connection closed before TransientIdleTimeout")
	}
	clk.Advance(time.Second)
	testutil.Eventually(t, 10*time.Second, "the idle transient connection to close on both sides", func() bool {
		return len(a.transientConns()) == 0 && len(b.transientConns()) == 0
	})
}

// TestDHTTransientOnlyDHT: anything but DHT traffic on a transient
// connection is a protocol violation that closes it.
func TestDHTTransientOnlyDHT(t *testing.T) {
	b := startNode(t, dhtConfig(t, 0, DHTServer, nil))
	a := startNode(t, dhtConfig(t, 1, DHTServer, nil))
	req, err := (&dht.Message{Type: dht.MsgPing}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (dhtTransport{a}).Request(t.Context(), b.ListenAddr(), req); err != nil {
		t.Fatal(err)
	}
	pc := a.transientFor(b.ID())
	if pc == nil {
		t.Fatal("no transient connection after the query")
	}
	topic := testTopics()[0].ID
	if err := pc.mc.TrySend(topic, append([]byte{kindDirect}, "hello"...)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the violation to be counted and the connection closed", func() bool {
		return b.Stats().Violations == 1 && len(b.transientConns()) == 0 && len(a.transientConns()) == 0
	})
}

// TestDHTTransientRefused: a transient dial goes through the node's
// filters and bans like any other: a DHT query to a node whose address a
// rule denies, or whose ID or IP is banned, fails without a connection.
func TestDHTTransientRefused(t *testing.T) {
	req, err := (&dht.Message{Type: dht.MsgPing}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name    string
		deny    bool // a rule denies b's /16
		ban     func(t *testing.T, a, b *Node)
		refused bool
	}{
		{"allowed", false, nil, false},
		{"denied by a filter rule", true, nil, true},
		{"peer ID banned", false, func(t *testing.T, a, b *Node) {
			if err := a.Ban(b.ID(), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"IP banned", false, func(t *testing.T, a, b *Node) {
			ap, _ := b.ListenAddr().AddrPort()
			if err := a.book.BanIP(ap.Addr(), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startNode(t, dhtConfig(t, 3*i, DHTServer, nil))
			ac := dhtConfig(t, 3*i+1, DHTServer, nil)
			if tc.deny {
				ac.Filter.DenyCIDRs = []string{fmt.Sprintf("127.%d.0.0/16", 10+3*i)}
			}
			a := startNode(t, ac)
			if tc.ban != nil {
				tc.ban(t, a, b)
			}
			_, err := dhtTransport{a}.Request(t.Context(), b.ListenAddr(), req)
			if (err != nil) != tc.refused {
				t.Fatalf("query: %v, want refused %v", err, tc.refused)
			}
			dials, want := a.DHTStats().TransientDials, uint64(1)
			if tc.refused {
				want = 0
			}
			if dials != want || uint64(len(a.transientConns())) != want {
				t.Errorf("%d transient dials, %d transient connections; want %d", dials, len(a.transientConns()), want)
			}
		})
	}
}
