package httpapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestHealthAdvertiseAndUnverified: /healthz lists the addresses the node
// advertises; /book marks an inbound peer's advert that nobody reached as
// unverified, and a dialed peer's address as not.
func TestHealthAdvertiseAndUnverified(t *testing.T) {
	a := startNode(t, 31, pb.NodeRole_NODE_ROLE_FULL)
	// liar advertises a port of its IP where nothing listens.
	liar := startTestPeer(t, "httpapi-reach-liar", func(c *p2p.Config) {
		c.ListenAddr, c.AdvertiseAddrs = "-", []string{"127.0.0.1:9"}
	})
	if _, err := liar.Dial(context.Background(), a.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	b := startNode(t, 32, pb.NodeRole_NODE_ROLE_FULL)
	if _, err := a.Dial(context.Background(), b.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(a, Options{}))
	defer srv.Close()
	api := client{t: t, base: srv.URL}
	var h Health
	api.expect("GET", "/healthz", "", 200, "", &h)
	if len(h.Advertise) != 1 || h.Advertise[0] != a.ListenAddr().String() || h.Observed != "" {
		t.Fatalf("health %+v", h)
	}
	testutil.Eventually(t, 10*time.Second, "both in a's book", func() bool {
		var book []BookEntry
		api.expect("GET", "/book", "", 200, "", &book)
		got := map[string]bool{}
		for _, e := range book {
			got[e.ID] = e.Unverified
		}
		u1, ok1 := got[liar.ID().String()]
		u2, ok2 := got[b.ID().String()]
		return ok1 && ok2 && u1 && !u2
	})
}

// TestHealthReachability: /healthz says "unknown" with no verified
// address before any dial-back check, and "public" with the listen
// address once three peers in distinct groups reached it.
func TestHealthReachability(t *testing.T) {
	a := startNode(t, 33, pb.NodeRole_NODE_ROLE_FULL)
	srv := httptest.NewServer(New(a, Options{}))
	defer srv.Close()
	api := client{t: t, base: srv.URL}
	var h Health
	api.expect("GET", "/healthz", "", 200, "", &h)
	if h.Reachability != "unknown" || h.Verified == nil || len(h.Verified) != 0 || h.ReachabilityChecked != nil {
		t.Fatalf("before a check: %+v", h)
	}
	for i := range p2p.DialBackPeers {
		p := startPeerAt(t, "httpapi-reach-%d", i, fmt.Sprintf("127.%d.0.1", 33+i))
		if _, err := a.Dial(context.Background(), p.ListenAddr().String()); err != nil {
			t.Fatal(err)
		}
	}
	// Until the peers' PEX answers say where they see a, a check has
	// nobody to ask and sends nothing.
	testutil.Eventually(t, 10*time.Second, "a judged public", func() bool {
		return a.CheckReachability(context.Background()).Verdict == p2p.ReachPublic
	})
	api.expect("GET", "/healthz", "", 200, "", &h)
	if h.Reachability != "public" || len(h.Verified) != 1 || h.Verified[0] != a.ListenAddr().String() || h.ReachabilityChecked == nil {
		t.Fatalf("after the check: %+v", h)
	}
}

// TestHealthObservedAddrs: /healthz lists every observed address in
// observed_addrs, an empty list before any quorum, and keeps observed,
// a string, as the first of them.
func TestHealthObservedAddrs(t *testing.T) {
	a := startNode(t, 36, pb.NodeRole_NODE_ROLE_FULL)
	srv := httptest.NewServer(New(a, Options{}))
	defer srv.Close()
	api := client{t: t, base: srv.URL}
	var raw map[string]any
	api.expect("GET", "/healthz", "", 200, "", &raw)
	if got, ok := raw["observed_addrs"].([]any); !ok || len(got) != 0 {
		t.Fatalf("observed_addrs before a quorum: %#v", raw["observed_addrs"])
	}
	for i := range p2p.ObservedQuorum {
		p := startPeerAt(t, "httpapi-observer-%d", i, fmt.Sprintf("127.%d.0.1", 40+i))
		if _, err := p.Dial(context.Background(), a.ListenAddr().String()); err != nil {
			t.Fatal(err)
		}
	}
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.ListenAddr().Port).String()
	var h Health
	testutil.Eventually(t, 10*time.Second, "the observed address in /healthz", func() bool {
		api.expect("GET", "/healthz", "", 200, "", &h)
		return h.Observed != ""
	})
	if h.Observed != want || len(h.ObservedAddrs) != 1 || h.ObservedAddrs[0] != want {
		t.Fatalf("observed %q, observed_addrs %q, want %q", h.Observed, h.ObservedAddrs, want)
	}
}

// startPeerAt starts a node of identity name (a format with one %d, for
// i) listening and dialing from ip, on the test's network.
func startPeerAt(t *testing.T, name string, i int, ip string) *p2p.Node {
	t.Helper()
	return startTestPeer(t, fmt.Sprintf(name, i), func(c *p2p.Config) {
		c.ListenAddr, c.DialLocalIP = ip+":0", netip.MustParseAddr(ip)
	})
}
