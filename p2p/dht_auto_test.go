package p2p

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
	"github.com/peerwire/peerwire/internal/clock"
)

// TestDHTAutoFollowsReachability drives an auto node's reachability
// verdict and advertised addresses and checks that its DHT follows:
// server on the routable-address guess while the verdict is unknown, its
// record re-signed when the advertised addresses change, a client (no
// answers, no addresses) once private, and a server advertising only the
// verified addresses once public.
func TestDHTAutoFollowsReachability(t *testing.T) {
	a := startNode(t, dhtConfig(t, 0, DHTServer, nil))
	cfg := dhtConfig(t, 1, DHTAuto, nil) // connected by the dial below only: a bootstrap dial would race it
	cfg.serviceClock = clock.NewFake()   // no dial-back check of its own
	n := startNode(t, cfg)
	dial(t, n, a)
	d := n.DHT()
	listen, _ := n.ListenAddr().AddrPort()
	findNode := func() error {
		req, _ := (&dht.Message{Type: dht.MsgFindNode, Target: a.ID()}).Encode()
		_, err := a.Request(t.Context(), n.ID(), DHTTopic, req)
		return err
	}
	check := func(step string, server bool, addrs []netip.AddrPort) {
		t.Helper()
		self := d.Self()
		if d.Server() != server || self.Server() != server || !slices.Equal(self.Addrs, addrs) {
			t.Fatalf("%s: Server() %v, record server %v addrs %v; want %v, %v", step, d.Server(), self.Server(), self.Addrs, server, addrs)
		}
		if err := findNode(); (err == nil) != server {
			t.Fatalf("%s: FIND_NODE answered %v (%v), want %v", step, err == nil, err, server)
		}
		if m := n.DHTStats().Mode; m != map[bool]string{true: "server", false: "client"}[server] {
			t.Fatalf("%s: DHTStats().Mode %q", step, m)
		}
	}
	check("unknown, loopback allowed", true, []netip.AddrPort{listen})

	// The port mapping reports an address: the record advertises it.
	ext := netip.MustParseAddrPort("127.98.0.1:7777")
	seq := d.Self().Seq
	n.nat.mu.Lock()
	n.nat.ext = ext
	n.storeAdverts()
	n.nat.mu.Unlock()
	check("new advertised address", true, []netip.AddrPort{listen, ext})
	if d.Self().Seq <= seq {
		t.Fatalf("record sequence %d after %d", d.Self().Seq, seq)
	}

	n.setVerdict(ReachPrivate, nil, nil)
	check("private", false, nil)

	verified := []crypto.Address{{ID: n.ID(), Host: ext.Addr().String(), Port: ext.Port()}}
	n.setVerdict(ReachPublic, verified, nil)
	check("public", true, []netip.AddrPort{ext})

	n.setVerdict(ReachUnknown, nil, nil)
	check("unknown again", true, []netip.AddrPort{listen, ext})
}
