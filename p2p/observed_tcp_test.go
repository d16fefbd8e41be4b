package p2p

// The observed-address tests over real TCP on loopback (observed_test.go
// has the vote's unit tests, the decoder's and the benchmark): nodes and raw
// peers report the hub's address through PEX.

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
	"google.golang.org/protobuf/proto"
)

// TestObservedAddrTCP, over real TCP on loopback with observers in
// distinct /16s of 127/8: four nodes that dial the hub from 127.1-4.0.1
// make it believe the address they reached it at, port included; three
// raw peers in one /16 claiming another address in their PEX requests do
// not move it, and neither does a malformed claim, which costs its sender.
func TestObservedAddrTCP(t *testing.T) {
	hub := startNode(t, quietConfig(t, 1800))
	events := hub.Subscribe()
	defer events.Cancel()
	liarsHub := startNode(t, quietConfig(t, 1801))
	// Three liars in 127.9/16 tell liarsHub it is at 198.51.100.9:1.
	lie := netip.MustParseAddrPort("198.51.100.9:1")
	req, err := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Request{Request: &pb.PexRequest{Max: 32}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		p, err := dialRaw(t, liarsHub, testIdentity(t, 1810+i), fmt.Sprintf("127.9.0.%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "liar admitted", func() bool { return connectedTo(liarsHub, p.id.ID()) })
		if err := p.mc.Send(context.Background(), PexTopic, appendObserved(append([]byte(nil), req...), lie)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "the liars' requests answered", func() bool { return liarsHub.Stats().PexAnswers == 3 })
	if got := liarsHub.ObservedAddr(); got.IsValid() || got.Addr().IsValid() {
		t.Fatalf("three liars in one group moved the observed address to %v", got)
	}
	// A malformed observed field is a malformed message.
	bad, err := dialRaw(t, liarsHub, testIdentity(t, 1815), "127.9.0.9")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "bad peer admitted", func() bool { return connectedTo(liarsHub, bad.id.ID()) })
	if err := bad.mc.Send(context.Background(), PexTopic, append(append([]byte(nil), req...), 0x7a, 0x02, 0x01, 0x02)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "malformed observed field punished", func() bool { return liarsHub.Stats().Malformed == 1 })

	// Four honest observers in 127.1/16 … 127.4/16 dial the hub; each asks
	// for addresses at once, telling the hub where it reached it.
	for i := range ObservedQuorum {
		o := startNodeAt(t, 1820+i, fmt.Sprintf("127.%d.0.1", i+1))
		if i < ObservedQuorum-1 {
			dial(t, o, hub)
			continue
		}
		testutil.Eventually(t, 10*time.Second, "three observers heard", func() bool { return hub.Stats().PexAnswers == 3 })
		if got := hub.ObservedAddr(); got.Addr().IsValid() {
			t.Fatalf("believed %v from three observers", got)
		}
		dial(t, o, hub)
	}
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), hub.ListenAddr().Port)
	testutil.Eventually(t, 10*time.Second, "the hub believes its observed address", func() bool { return hub.ObservedAddr() == want })
	waitEvent(t, events, 10*time.Second, "the observed-address event", func(e Event) bool {
		return e.Kind == EventObservedAddress && e.Addr == want
	})
	// The observers, who dialed out, learn only their IP from the hub's
	// answer (their source port was ephemeral), and from one group only.
	if got := hub.ObservedAddr(); got != want {
		t.Fatalf("observed %v, want %v", got, want)
	}
	// Once the hub believes its address, three liars in one /16 tell it
	// another: it keeps the honest quorum's.
	answered := hub.Stats().PexAnswers
	for i := range 3 {
		p, err := dialRaw(t, hub, testIdentity(t, 1830+i), fmt.Sprintf("127.9.1.%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "liar admitted by the hub", func() bool { return connectedTo(hub, p.id.ID()) })
		if err := p.mc.Send(context.Background(), PexTopic, appendObserved(append([]byte(nil), req...), lie)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "the liars' requests to the hub answered", func() bool { return hub.Stats().PexAnswers == answered+3 })
	for i := range 3 {
		if seen, ok := hub.reach.observed.seenBy(testIdentity(t, 1830+i).ID()); !ok || seen != lie {
			t.Fatalf("liar %d's report: %v %v", i, seen, ok)
		}
	}
	if got := hub.ObservedAddr(); got != want {
		t.Fatalf("three liars in one group moved the hub's observed address to %v, want %v", got, want)
	}
}

// TestObservedExpiryTCP, over real TCP on loopback: a node that verified
// its observed address from four observers keeps believing and
// advertising it when no PEX message arrives for longer than observedTTL
// (as at every node's outbound target) and a newcomer then reports;
// once the observers have gone, their reports expire observedTTL later.
func TestObservedExpiryTCP(t *testing.T) {
	clk := clock.NewFake()
	cfg := quietConfig(t, 2970)
	onFakeClock(&cfg, clk)
	cfg.ListenAddr = "0.0.0.0:0"
	n := startNode(t, cfg)
	port := n.ListenAddr().Port
	target := fmt.Sprintf("%s@127.0.0.1:%d", n.ID(), port)
	newcomer := func(i int) *Node {
		o := startNodeAt(t, 2971+i, fmt.Sprintf("127.%d.0.1", 171+i))
		if _, err := o.Dial(context.Background(), target); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the observer's report heard", func() bool {
			_, ok := n.reach.observed.seenBy(o.ID())
			return ok
		})
		return o
	}
	var observers []*Node
	for i := range ObservedQuorum {
		observers = append(observers, newcomer(i))
	}
	wantObs := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	want := crypto.Address{ID: n.ID(), Host: "127.0.0.1", Port: port}
	testutil.Eventually(t, 20*time.Second, "verified observed address advertised", func() bool {
		return slices.Contains(n.AdvertisedAddrs(), want)
	})

	// Quiet for longer than the TTL, then one newcomer reports.
	clk.Advance(observedTTL + time.Minute)
	newcomer(ObservedQuorum)
	if got := n.ObservedAddr(); got != wantObs {
		t.Fatalf("connected observers' reports expired: observed %v, want %v", got, wantObs)
	}
	if !slices.Contains(n.AdvertisedAddrs(), want) || n.Reachability().Verdict != ReachPublic {
		t.Fatalf("advertised %v, verdict %v", n.AdvertisedAddrs(), n.Reachability().Verdict)
	}

	// The observers leave; their reports count observedTTL longer. The
	// disconnect event comes after the report's age restarted.
	events := n.Subscribe()
	defer events.Cancel()
	for _, o := range observers {
		o.Stop(context.Background())
		waitEvent(t, events, 10*time.Second, "the observer's disconnect", func(e Event) bool {
			return e.Kind == EventDisconnected && e.Peer == o.ID()
		})
	}
	clk.Advance(observedTTL - time.Minute)
	newcomer(ObservedQuorum + 1)
	if got := n.ObservedAddr(); got != wantObs {
		t.Fatalf("within the TTL of the disconnect: observed %v, want %v", got, wantObs)
	}
	clk.Advance(2 * time.Minute)
	newcomer(ObservedQuorum + 2)
	if got := n.ObservedAddr(); got.Addr().IsValid() {
		t.Fatalf("past the TTL of the disconnect: observed %v, want none", got)
	}
}

// TestObservedDualStackTCP, over real TCP on loopback: four nodes in
// distinct /16s report the hub's IPv4 address and four raw peers in four
// other /16s its IPv6 address. The hub believes both (neither family
// outvotes the other), offers both to dial-back checks, and publishes an
// event for each family.
func TestObservedDualStackTCP(t *testing.T) {
	cfg := quietConfig(t, 2980)
	cfg.ListenAddr = "0.0.0.0:0"
	hub := startNode(t, cfg)
	events := hub.Subscribe()
	defer events.Cancel()
	port := hub.ListenAddr().Port
	for i := range ObservedQuorum {
		o := startNodeAt(t, 2981+i, fmt.Sprintf("127.%d.0.1", 181+i))
		if _, err := o.Dial(context.Background(), fmt.Sprintf("%s@127.0.0.1:%d", hub.ID(), port)); err != nil {
			t.Fatal(err)
		}
	}
	want4 := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	testutil.Eventually(t, 10*time.Second, "the IPv4 address believed", func() bool { return hub.ObservedAddr() == want4 })

	want6 := netip.AddrPortFrom(netip.MustParseAddr("2001:db8::7"), port)
	req, err := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Request{Request: &pb.PexRequest{Max: 32}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ObservedQuorum {
		p, err := dialRaw(t, hub, testIdentity(t, 2990+i), fmt.Sprintf("127.%d.0.1", 191+i))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "raw observer admitted", func() bool { return connectedTo(hub, p.id.ID()) })
		if err := p.mc.Send(context.Background(), PexTopic, appendObserved(append([]byte(nil), req...), want6)); err != nil {
			t.Fatal(err)
		}
	}
	want := []netip.AddrPort{want4, want6}
	testutil.Eventually(t, 10*time.Second, "both families believed", func() bool { return slices.Equal(hub.ObservedAddrs(), want) })
	if got := hub.ObservedAddr(); got != want4 {
		t.Fatalf("ObservedAddr %v, want the IPv4 %v", got, want4)
	}
	waitEvent(t, events, 10*time.Second, "the IPv6 observed-address event", func(e Event) bool {
		return e.Kind == EventObservedAddress && e.Addr == want6 && e.Reason == "ipv6"
	})
	var obs []netip.AddrPort
	for _, c := range hub.candidates() {
		if c.observed {
			obs = append(obs, c.ap)
		}
	}
	if !slices.Equal(obs, want) {
		t.Fatalf("observed dial-back candidates %v, want %v", obs, want)
	}
}
