package p2p

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/mmdbtest"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestInboundCap: with MaxInbound 2 filled, a third node is refused with a
// goaway "too many peers" that reaches the dialer: a Node sees it as the
// disconnect reason, a bare MultiConn as the goaway code.
func TestInboundCap(t *testing.T) {
	cfg := quietConfig(t, 600)
	cfg.Peers.MaxInbound = 2
	hub := startNode(t, cfg)
	for i := 0; i < 2; i++ {
		dial(t, startNode(t, quietConfig(t, 601+i)), hub)
	}
	extra := startNode(t, quietConfig(t, 603))
	sub := extra.Subscribe()
	defer sub.Cancel()
	if _, err := extra.Dial(context.Background(), hub.ListenAddr().String()); err != nil {
		t.Fatalf("dial: %v", err) // admitted on the dialer's side; the hub's refusal follows
	}
	e := waitEvent(t, sub, 10*time.Second, "disconnect from the full hub", func(e Event) bool {
		return e.Kind == EventDisconnected && e.Peer == hub.ID()
	})
	if !strings.Contains(e.Reason, "goaway from peer: too many peers") {
		t.Fatalf("disconnect reason %q does not carry the hub's goaway", e.Reason)
	}

	raw, err := dialRaw(t, hub, testIdentity(t, 604), "")
	if err != nil {
		t.Fatal(err)
	}
	if ge := goAwayOf(t, raw.mc); ge.Code != mux.GoAwayTooManyPeers || ge.Text != "too-many-peers" {
		t.Fatalf("goaway %v (code %d, text %q), want too many peers", ge, ge.Code, ge.Text)
	}
	if s := hub.Stats(); s.Inbound != 2 || s.Refusals["too-many-peers"] != 2 {
		t.Fatalf("hub: %d inbound, refusals %v", s.Inbound, s.Refusals)
	}
}

// capHub is a node that counts loopback peers against its caps: no
// loopback exemption and no attempt throttle (not under test here).
func capHub(t *testing.T, i int, f filter.Config) *Node {
	cfg := quietConfig(t, i)
	f.ExemptLoopback = false
	f.AttemptInterval = -1
	cfg.Filter = f
	return startNode(t, cfg)
}

// fromIP is a node that dials from a given 127.x.y.z source address.
func fromIP(t *testing.T, i int, ip string) *Node {
	cfg := quietConfig(t, i)
	cfg.DialLocalIP = netip.MustParseAddr(ip)
	return startNode(t, cfg)
}

// TestPerIPCap: with MaxPerIP 1, a second peer from the same source address
// is refused before its handshake; one from another address gets in.
func TestPerIPCap(t *testing.T) {
	hub := capHub(t, 610, filter.Config{MaxPerIP: 1, MaxPerSubnet: -1})
	dial(t, fromIP(t, 611, "127.0.0.2"), hub)
	second := fromIP(t, 612, "127.0.0.2")
	if _, err := second.Dial(context.Background(), hub.ListenAddr().String()); err == nil {
		t.Fatal("a second peer from 127.0.0.2 was admitted")
	}
	dial(t, fromIP(t, 613, "127.0.0.3"), hub)
	if s := hub.Stats(); s.Inbound != 2 || s.Refusals["ip-cap"] != 1 {
		t.Fatalf("hub: %d inbound, refusals %v", s.Inbound, s.Refusals)
	}
	if connectedTo(hub, second.ID()) {
		t.Fatal("capped peer connected")
	}
}

// TestPerSubnetCap: with MaxPerSubnet 1 over /24s, a second peer from
// 127.0.5.0/24 is refused; one from 127.0.6.0/24 gets in.
func TestPerSubnetCap(t *testing.T) {
	hub := capHub(t, 620, filter.Config{MaxPerIP: -1, MaxPerSubnet: 1, IPv4SubnetBits: 24})
	dial(t, fromIP(t, 621, "127.0.5.2"), hub)
	second := fromIP(t, 622, "127.0.5.3")
	if _, err := second.Dial(context.Background(), hub.ListenAddr().String()); err == nil {
		t.Fatal("a second peer from 127.0.5.0/24 was admitted")
	}
	dial(t, fromIP(t, 623, "127.0.6.2"), hub)
	if s := hub.Stats(); s.Inbound != 2 || s.Refusals["subnet-cap"] != 1 {
		t.Fatalf("hub: %d inbound, refusals %v", s.Inbound, s.Refusals)
	}
}

// countryDB writes a MaxMind-format country database placing 127.0.1.0/24
// in Germany and 127.0.2.0/24 in the United States.
func countryDB(t *testing.T) string {
	return mmdbtest.Write(t, []mmdbtest.Net{{CIDR: "127.0.1.0/24", Country: "DE"}, {CIDR: "127.0.2.0/24", Country: "US"}})
}

// TestCountryRule: a node denying "US" refuses a peer dialing from
// 127.0.2.0/24, admits one from 127.0.1.0/24, and will not dial a US
// address itself.
func TestCountryRule(t *testing.T) {
	db := countryDB(t)
	hub := capHub(t, 630, filter.Config{CountryDB: db, DenyCountries: []string{"us"}, DBCheckInterval: -1})
	dial(t, fromIP(t, 631, "127.0.1.5"), hub)
	us := fromIP(t, 632, "127.0.2.5")
	if _, err := us.Dial(context.Background(), hub.ListenAddr().String()); err == nil {
		t.Fatal("a peer from a denied country was admitted")
	}
	if s := hub.Stats(); s.Inbound != 1 || s.Refusals["country-denied"] != 1 {
		t.Fatalf("hub: %d inbound, refusals %v", s.Inbound, s.Refusals)
	}
	// Outbound: a node listening in the denied range is not dialed.
	cfg := quietConfig(t, 633)
	cfg.ListenAddr = "127.0.2.9:0"
	usListener := startNode(t, cfg)
	if _, err := hub.Dial(context.Background(), usListener.ListenAddr().String()); !errors.Is(err, ErrFiltered) {
		t.Fatalf("dial to a denied country: %v, want ErrFiltered", err)
	}
}

// TestBanUntilExpiry: a banned peer is disconnected, is refused (goaway
// "banned") while the ban lasts, and gets back in once the node's clock
// passes its end.
func TestBanUntilExpiry(t *testing.T) {
	clk := clock.NewFake()
	cfg := quietConfig(t, 640)
	onFakeClock(&cfg, clk)
	hub := startNode(t, cfg)
	peer := startNode(t, quietConfig(t, 641))
	dial(t, peer, hub)
	sub := peer.Subscribe()
	defer sub.Cancel()
	if err := hub.Ban(peer.ID(), time.Hour, "test ban"); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, sub, 10*time.Second, "disconnect by the ban", func(e Event) bool { return e.Kind == EventDisconnected })
	if !strings.Contains(e.Reason, "banned") {
		t.Fatalf("disconnect reason %q", e.Reason)
	}
	if bans := hub.Bans(); len(bans) != 1 || bans[0].ID != peer.ID() || bans[0].Reason != "test ban" {
		t.Fatalf("bans %+v", bans)
	}
	testutil.Eventually(t, 5*time.Second, "hub drops the peer", func() bool { return !connectedTo(hub, peer.ID()) })

	clk.Advance(59 * time.Minute)
	raw, err := dialRaw(t, hub, testIdentity(t, 641), "")
	if err != nil {
		t.Fatal(err)
	}
	if ge := goAwayOf(t, raw.mc); ge.Code != mux.GoAwayBanned {
		t.Fatalf("goaway %v, want banned", ge)
	}
	if connectedTo(hub, peer.ID()) {
		t.Fatal("banned peer admitted")
	}

	clk.Advance(2 * time.Minute)
	dial(t, peer, hub)
	if len(hub.Bans()) != 0 {
		t.Fatalf("ban still listed after expiry: %+v", hub.Bans())
	}
}

// TestBannedDuringSetup: a peer banned between its admission and the end
// of its setup (by the operator, or for what it sent at once) is not
// announced: subscribers see the ban alone, the book does not record the
// admission, and the dial reports ErrBanned.
func TestBannedDuringSetup(t *testing.T) {
	b := startNode(t, quietConfig(t, 650))
	cfg := quietConfig(t, 651)
	var a *Node
	cfg.beforeContact = func(pc *peerConn) {
		if err := a.Ban(pc.id, time.Hour, "test ban"); err != nil {
			t.Error(err)
		}
	}
	a = startNode(t, cfg)
	sub := a.Subscribe()
	defer sub.Cancel()
	if _, err := a.Dial(context.Background(), b.ListenAddr().String()); !errors.Is(err, ErrBanned) {
		t.Fatalf("dial: %v, want ErrBanned", err)
	}
	testutil.Eventually(t, 10*time.Second, "the banned connection ended", func() bool { return liveConns(a, b.ID()) == 0 })
	kinds := pendingKinds(sub, b.ID())
	if len(kinds) != 1 || kinds[0] != EventBanned {
		t.Fatalf("events for b: %v; want the ban alone", kinds)
	}
	// The dial's own bookkeeping added the address; the admission's
	// (recordContact: the peer's meta) must not have run.
	if e, ok := a.book.Get(b.ID()); ok && e.Meta.NetworkID != "" {
		t.Fatalf("book entry %+v: the banned peer's contact recorded", e)
	}
}
