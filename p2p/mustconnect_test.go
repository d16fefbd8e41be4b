package p2p

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestMustConnectRestart: a must-connect peer that is stopped and started
// again on the same address, with the same identity, is redialed and
// reconnected within the redial cap (plus a maintenance tick and a
// handshake), even after failed redials have pushed the backoff up.
func TestMustConnectRestart(t *testing.T) {
	bcfg := quietConfig(t, 801)
	b, err := New(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	baddr := b.ListenAddr()
	acfg := testConfig(t, 800) // redial base 50 ms, cap 500 ms, maintenance every 50 ms
	acfg.MustConnect = []string{baddr.String()}
	a := startNode(t, acfg)
	testutil.Eventually(t, 10*time.Second, "a reaches its must-connect peer", func() bool { return connectedTo(a, b.ID()) })

	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a notices", func() bool { return !connectedTo(a, b.ID()) })
	failed := a.Stats().DialFailures
	testutil.Eventually(t, 10*time.Second, "several failed redials", func() bool { return a.Stats().DialFailures >= failed+3 })
	if s := a.Stats(); s.MustConnectUp != 0 || s.MustConnectTotal != 1 {
		t.Fatalf("must-connect up %d of %d while the peer is down", s.MustConnectUp, s.MustConnectTotal)
	}

	bcfg.ListenAddr = baddr.HostPort()
	start := time.Now()
	startNode(t, bcfg)
	testutil.Eventually(t, 10*time.Second, "a reconnects", func() bool { return connectedTo(a, b.ID()) })
	took := time.Since(start)
	limit := acfg.Peers.RedialMax + acfg.MaintainInterval + time.Second // cap + tick + handshake under -race
	t.Logf("reconnected %v after the restart (cap %v)", took, acfg.Peers.RedialMax)
	if took > limit {
		t.Fatalf("reconnected after %v, beyond the redial cap's %v", took, limit)
	}
	if p, _ := a.Peer(b.ID()); !p.MustConnect || p.Direction != "outbound" {
		t.Fatalf("peer info %+v", p)
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestMustConnectWhenInboundFull: with its inbound slots taken, a node
// refuses an ordinary newcomer but admits a must-connect peer that dials
// in, without dropping anyone.
func TestMustConnectWhenInboundFull(t *testing.T) {
	must := quietConfig(t, 811)
	must.ListenAddr = "-" // it only dials; the hub's own redials to it fail
	mustID := must.Identity.ID()
	cfg := quietConfig(t, 810)
	cfg.Peers.MaxInbound = 2
	cfg.MustConnect = []string{fmt.Sprintf("%s@127.0.0.1:%d", mustID, closedPort(t))}
	hub := startNode(t, cfg)
	c1, c2 := startNode(t, quietConfig(t, 812)), startNode(t, quietConfig(t, 813))
	dial(t, c1, hub)
	dial(t, c2, hub)

	ordinary := startNode(t, quietConfig(t, 814))
	sub := ordinary.Subscribe()
	defer sub.Cancel()
	if _, err := ordinary.Dial(context.Background(), hub.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, sub, 10*time.Second, "ordinary peer refused", func(e Event) bool { return e.Kind == EventDisconnected })

	m := startNode(t, must)
	dial(t, m, hub)
	s := hub.Stats()
	if s.Inbound != 3 || s.MustConnectUp != 1 || !connectedTo(hub, c1.ID()) || !connectedTo(hub, c2.ID()) {
		t.Fatalf("hub: inbound %d, must-connect up %d, c1 %v c2 %v", s.Inbound, s.MustConnectUp, connectedTo(hub, c1.ID()), connectedTo(hub, c2.ID()))
	}
	if p, _ := hub.Peer(mustID); !p.MustConnect || p.Direction != "inbound" {
		t.Fatalf("must-connect peer info %+v", p)
	}
}
