package p2p

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/mdns"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerbook"
)

func parseAddr(t *testing.T, s string) crypto.Address {
	t.Helper()
	a, err := crypto.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestMDNSHintAdmission checks what the node keeps of an mDNS answer: the
// addresses are hints under the rules of issue 10 for what peers report
// (filters, bans, our own ID, DNS names only when allowed, routability),
// except that a LAN's private addresses are admitted.
func TestMDNSHintAdmission(t *testing.T) {
	other := testIdentity(t, 2).ID().String()
	for _, tc := range []struct {
		name   string
		cfg    func(*Config)
		addr   string
		stored bool
	}{
		{"private IP without AllowPrivate", nil, other + "@192.168.1.20:26656", true},
		{"public IP", nil, other + "@11.1.1.1:26656", true},
		{"loopback with AllowLoopback", nil, other + "@127.0.0.9:26656", true},
		{"loopback without AllowLoopback", func(c *Config) { c.Book.AllowLoopback = false }, other + "@127.0.0.9:26656", false},
		{"reserved", nil, other + "@198.18.1.1:26656", false},
		{"DNS name refused", nil, other + "@node.example.org:26656", false},
		{"DNS name with AllowNetworkNames", func(c *Config) { c.AllowNetworkNames = true }, other + "@node.example.org:26656", true},
		{"denied by the filter", func(c *Config) { c.Filter.DenyCIDRs = []string{"192.168.9.0/24"} }, other + "@192.168.9.9:26656", false},
		{"our own ID", nil, testIdentity(t, 1).ID().String() + "@192.168.1.20:26656", false},
		{"banned ID", nil, testIdentity(t, 3).ID().String() + "@192.168.1.20:26656", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quietConfig(t, 1)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			n := startNode(t, cfg)
			if err := n.Ban(testIdentity(t, 3).ID(), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
			a := parseAddr(t, tc.addr)
			m := &mdnsState{}
			n.mdnsAnswer(m, []crypto.Address{a})
			e, ok := n.book.Get(a.ID)
			if ok != tc.stored || (ok && (e.Source.Kind != peerbook.SourceLocal || e.Addr != a)) {
				t.Fatalf("stored %v (%+v), want %v", ok, e, tc.stored)
			}
			if want := map[bool]uint64{true: 1}[tc.stored]; m.added.Load() != want || m.refused.Load() != 1-want {
				t.Fatalf("added %d, refused %d", m.added.Load(), m.refused.Load())
			}
		})
	}
}

// TestMDNSHintNeverMovesKnownPeer checks that an answer naming a known
// peer at another address (anyone on the LAN can send one) changes
// nothing.
func TestMDNSHintNeverMovesKnownPeer(t *testing.T) {
	n := startNode(t, quietConfig(t, 1))
	known := parseAddr(t, testIdentity(t, 2).ID().String()+"@11.1.1.1:26656")
	if err := n.book.Add(known, peerbook.Source{Kind: peerbook.SourceManual}); err != nil {
		t.Fatal(err)
	}
	n.mdnsAnswer(&mdnsState{}, []crypto.Address{parseAddr(t, known.ID.String()+"@192.168.1.66:26656")})
	if e, _ := n.book.Get(known.ID); e.Addr != known || e.Source.Kind != peerbook.SourceManual {
		t.Fatalf("entry is now %v from %v", e.Addr, e.Source.Kind)
	}
}

// TestMDNSHintDialPinned checks that hints are dialed by the fill service
// through the ID-pinned handshake: a true one connects, and a forged one
// (another ID at that node's address) fails the handshake, is counted,
// and connects nobody.
func TestMDNSHintDialPinned(t *testing.T) {
	b := startNode(t, testConfig(t, 2))
	cfg := testConfig(t, 1)
	cfg.Peers.MaxOutbound = 10
	a := startNode(t, cfg)
	ghost := testIdentity(t, 9).ID()
	forged := b.ListenAddr()
	forged.ID = ghost
	a.mdnsAnswer(&mdnsState{}, []crypto.Address{forged})
	a.mdnsAnswer(&mdnsState{}, []crypto.Address{b.ListenAddr()})
	testutil.Eventually(t, 10*time.Second, "A connected to B and the forged hint failed its handshake", func() bool {
		return connectedTo(a, b.ID()) && a.Stats().HandshakeFailures["unexpected-peer"] > 0
	})
	if connectedTo(a, ghost) {
		t.Fatal("connected to the forged ID")
	}
	if e, ok := a.book.Get(ghost); ok && e.Failures == 0 {
		t.Fatalf("forged entry kept without a failure: %+v", e)
	}
	if e, _ := a.book.Get(b.ID()); e.Source.Kind != peerbook.SourceLocal || !e.Tried {
		t.Fatalf("B's entry %+v, want a tried local one", e)
	}
}

// TestMDNSConfig checks that bad settings are refused naming the field,
// and that mDNS is off by default.
func TestMDNSConfig(t *testing.T) {
	for _, tc := range []struct {
		mc    MDNSConfig
		field string
	}{
		{MDNSConfig{Enabled: true, Interval: 10 * time.Millisecond}, "Config.MDNS.Interval"},
		{MDNSConfig{Enabled: true, Interval: 2 * time.Hour}, "Config.MDNS.Interval"},
		{MDNSConfig{Enabled: true, Interval: time.Second, QueryTimeout: 2 * time.Second}, "Config.MDNS.QueryTimeout"},
		{MDNSConfig{Enabled: true, QueryTimeout: time.Millisecond}, "Config.MDNS.QueryTimeout"},
	} {
		cfg := quietConfig(t, 1)
		cfg.MDNS = tc.mc
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%+v: %v, want an error naming %s", tc.mc, err, tc.field)
		}
	}
	cfg := quietConfig(t, 1)
	cfg.MDNS = MDNSConfig{Enabled: true, Interface: "nosuch0"}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "Config.MDNS.Interface") {
		t.Fatalf("Start with a missing interface: %v", err)
	}
	n.Stop(context.Background())
	off := startNode(t, quietConfig(t, 2))
	if _, on := off.MDNSStats(); on {
		t.Fatal("mDNS on by default")
	}
}

// TestMDNSAddrs checks what the responder would announce: the advertised
// addresses, else the listen address, else (0.0.0.0) the interfaces'
// addresses with the listen port, IPv4 ones only unless the socket is
// dual-stack (Go listens on [::] for "0.0.0.0" where it can); nothing
// when not listening.
func TestMDNSAddrs(t *testing.T) {
	cfg := quietConfig(t, 1)
	n := startNode(t, cfg)
	if got := n.mdnsAddrs(nil); len(got) != 1 || got[0] != n.ListenAddr() {
		t.Fatalf("listen address: %v, want %v", got, n.ListenAddr())
	}
	cfg = quietConfig(t, 2)
	cfg.AdvertiseAddrs = []string{"192.168.1.5:1000", "[fd00::5]:1000"}
	n = startNode(t, cfg)
	if got := n.mdnsAddrs(nil); len(got) != 2 || got[0].String() != n.ID().String()+"@192.168.1.5:1000" || got[1].Host != "fd00::5" {
		t.Fatalf("advertised: %v", got)
	}
	cfg = quietConfig(t, 3)
	cfg.ListenAddr = "0.0.0.0:0"
	n = startNode(t, cfg)
	got := n.mdnsAddrs(nil)
	want := 0
	dual := n.ln.Addr().(*net.TCPAddr).AddrPort().Addr().Is6()
	for _, ip := range mdns.InterfaceIPs(nil) {
		if ip.Is4() || dual {
			want++
		}
	}
	if len(got) != want {
		t.Fatalf("0.0.0.0: %v, want %d interface addresses", got, want)
	}
	for _, a := range got {
		ap, ok := a.AddrPort()
		if !ok || (!dual && !ap.Addr().Is4()) || ap.Addr().IsUnspecified() || ap.Port() != n.ListenAddr().Port || a.ID != n.ID() {
			t.Fatalf("0.0.0.0: announced %v", a)
		}
	}
	cfg = quietConfig(t, 4)
	cfg.ListenAddr = "-"
	if n = startNode(t, cfg); n.mdnsAddrs(nil) != nil {
		t.Fatal("announces without listening")
	}
}
