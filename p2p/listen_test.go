package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

// hostPorts returns the host:port of each address.
func hostPorts(as []crypto.Address) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.HostPort()
	}
	return out
}

// TestListenAddrsDualStack: a node listening on 127.0.0.1 and [::1]
// accepts on both, advertises both, and one node dials it over IPv4,
// another over IPv6; messages flow over both.
func TestListenAddrsDualStack(t *testing.T) {
	cfg := quietConfig(t, 1700)
	cfg.ListenAddr = ""
	cfg.ListenAddrs = []string{"127.0.0.1:0", "[::1]:0"}
	hub := startNode(t, cfg)
	ls := hub.ListenAddrs()
	if len(ls) != 2 || ls[0].Host != "127.0.0.1" || ls[1].Host != "::1" || hub.ListenAddr() != ls[0] {
		t.Fatalf("ListenAddrs %v, ListenAddr %v", ls, hub.ListenAddr())
	}
	if got, want := hostPorts(hub.AdvertisedAddrs()), hostPorts(ls); !slices.Equal(got, want) {
		t.Fatalf("advertised %v, want %v", got, want)
	}
	v4 := startNode(t, quietConfig(t, 1701))
	cfg6 := quietConfig(t, 1702)
	cfg6.ListenAddr = "[::1]:0"
	v6 := startNode(t, cfg6)
	for _, d := range []struct {
		from *Node
		to   crypto.Address
	}{{v4, ls[0]}, {v6, ls[1]}} {
		if _, err := d.from.Dial(context.Background(), d.to.String()); err != nil {
			t.Fatalf("dial %s: %v", d.to, err)
		}
	}
	testutil.Eventually(t, 10*time.Second, "both admitted", func() bool {
		return connectedTo(hub, v4.ID()) && connectedTo(hub, v6.ID())
	})
	p4, _ := hub.Peer(v4.ID())
	p6, _ := hub.Peer(v6.ID())
	if !strings.HasPrefix(p4.Remote, "127.0.0.1:") || !strings.HasPrefix(p6.Remote, "[::1]:") {
		t.Fatalf("remotes %q and %q, want one over IPv4 and one over IPv6", p4.Remote, p6.Remote)
	}
	// Each dialer's Dial has returned, so each can send at once; the hub
	// hears both, one over each family.
	for _, from := range []*Node{v4, v6} {
		if err := from.Send(context.Background(), hub.ID(), topicVotes, []byte("hi from "+from.ID().Short())); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	for range 2 {
		m := recv(t, hub.Inbox(topicVotes), 10*time.Second)
		got[string(m.Data)] = true
	}
	if !got["hi from "+v4.ID().Short()] || !got["hi from "+v6.ID().Short()] {
		t.Fatalf("hub received %v", got)
	}
	// The hub learned v6's IPv6 address as advertised (unverified until
	// dialed). Its setup tells the book after the set, and after the
	// connection has started: the entry may lag the messages.
	testutil.Eventually(t, 10*time.Second, "the hub's book entry for the IPv6 node at ::1", func() bool {
		e, ok := hub.book.Get(v6.ID())
		return ok && e.Addr.Host == "::1"
	})
}

// TestListenWildcardsSharePort: with several listeners, 0.0.0.0:p and
// [::]:p bind together (IPv6 only on the second), both accept, and
// neither is advertised.
func TestListenWildcardsSharePort(t *testing.T) {
	var n *Node
	var port int
	// A port free a moment ago may be taken by another test in between:
	// then pick another (a bind race, not a timing one).
	for try := 0; n == nil; try++ {
		ln, err := net.Listen("tcp", "[::]:0")
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cfg := quietConfig(t, 1710)
		cfg.ListenAddr = ""
		cfg.ListenAddrs = []string{fmt.Sprintf("0.0.0.0:%d", port), fmt.Sprintf("[::]:%d", port)}
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			if !errors.Is(err, syscall.EADDRINUSE) || try == 5 {
				t.Fatal(err)
			}
			continue
		}
		t.Cleanup(func() { c.Stop(context.Background()) })
		n = c
	}
	ls := n.ListenAddrs()
	if len(ls) != 2 || int(ls[0].Port) != port || int(ls[1].Port) != port || ls[0].Host != "0.0.0.0" || ls[1].Host != "::" {
		t.Fatalf("ListenAddrs %v, want 0.0.0.0 and :: on %d", ls, port)
	}
	if a := n.AdvertisedAddrs(); len(a) != 0 {
		t.Fatalf("wildcards advertised: %v", a)
	}
	for i, host := range []string{"127.0.0.1", "::1"} {
		d := startNode(t, quietConfig(t, 1711+i))
		addr := crypto.Address{ID: n.ID(), Host: host, Port: uint16(port)}
		if _, err := d.Dial(context.Background(), addr.String()); err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
	}
}

// TestListenAddrsConfig: bad combinations name the field.
func TestListenAddrsConfig(t *testing.T) {
	tests := []struct {
		name   string
		one    string
		many   []string
		errHas string
	}{
		{"both", "127.0.0.1:0", []string{"127.0.0.1:0"}, "Config.ListenAddrs: set either"},
		{"bad entry", "", []string{"127.0.0.1:0", "nope"}, "Config.ListenAddrs[1]"},
		{"duplicate", "", []string{"127.0.0.1:7000", "127.0.0.1:7000"}, "Config.ListenAddrs[1]: \"127.0.0.1:7000\" is also ListenAddrs[0]"},
		{"too many", "", []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}, "at most 4"},
		{"bad one", "nope", nil, "Config.ListenAddr: \"nope\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := quietConfig(t, 1720)
			cfg.ListenAddr, cfg.ListenAddrs = tt.one, tt.many
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("New: %v, want an error with %q", err, tt.errHas)
			}
		})
	}
	// An unspecified address cannot be advertised.
	for _, a := range []string{"0.0.0.0:26656", "[::]:26656"} {
		cfg := quietConfig(t, 1720)
		cfg.AdvertiseAddrs = []string{"127.0.0.1:1", a}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "Config.AdvertiseAddrs[1]") {
			t.Fatalf("advertising %s: %v", a, err)
		}
	}
	// A listener that cannot be bound names its entry, and nothing stays bound.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := quietConfig(t, 1721)
	cfg.ListenAddr, cfg.ListenAddrs = "", []string{"127.0.0.1:0", busy.Addr().String()}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "Config.ListenAddrs[1]") {
		t.Fatalf("Start: %v, want Config.ListenAddrs[1]", err)
	}
	if ls := n.ListenAddrs(); ls != nil {
		t.Fatalf("ListenAddrs after a failed Start: %v", ls)
	}
}

// TestIPv6Rules: the filter's rules and caps and IP bans apply to IPv6
// peers as to IPv4 ones, on a node listening on both loopbacks; a PEX
// answer carries an IPv6 address as a bare host.
func TestIPv6Rules(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(cfg *Config)
		after   func(t *testing.T, hub *Node)
		refused []bool // per dialer over IPv6: refused?
	}{
		{"deny ::1", func(cfg *Config) { cfg.Filter.DenyCIDRs = []string{"::1/128"} }, nil, []bool{true}},
		{"one per IP", func(cfg *Config) {
			cfg.Filter.ExemptLoopback = false
			cfg.Filter.MaxPerIP = 1
			cfg.Filter.AttemptInterval = -1
		}, nil, []bool{false, true}},
		{"ban ::1", nil, func(t *testing.T, hub *Node) {
			if err := hub.BanIP(netip.MustParsePrefix("::1/128"), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
		}, []bool{true}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := 1730 + 10*i
			cfg := quietConfig(t, base)
			cfg.ListenAddr, cfg.ListenAddrs = "", []string{"127.0.0.1:0", "[::1]:0"}
			if tt.setup != nil {
				tt.setup(&cfg)
			}
			hub := startNode(t, cfg)
			if tt.after != nil {
				tt.after(t, hub)
			}
			v6 := hub.ListenAddrs()[1]
			for j, refuse := range tt.refused {
				dcfg := quietConfig(t, base+1+j)
				dcfg.ListenAddr = "[::1]:0"
				d := startNode(t, dcfg)
				_, err := d.Dial(context.Background(), v6.String())
				if refuse {
					if err == nil {
						testutil.Eventually(t, 5*time.Second, "refused peer gone", func() bool { return !connectedTo(d, hub.ID()) })
					}
					if connectedTo(hub, d.ID()) {
						t.Fatalf("dialer %d over IPv6 admitted", j)
					}
					continue
				}
				if err != nil {
					t.Fatalf("dialer %d over IPv6: %v", j, err)
				}
			}
			// IPv4 is not affected by the IPv6 rule.
			d4 := startNode(t, quietConfig(t, base+9))
			if _, err := d4.Dial(context.Background(), hub.ListenAddr().String()); err != nil {
				t.Fatalf("IPv4 dial: %v", err)
			}
		})
	}
}

// TestPexIPv6: a hub that reached a peer over IPv6 shares its address as
// the bare host "::1".
func TestPexIPv6(t *testing.T) {
	hub := startNode(t, quietConfig(t, 1780))
	cfg6 := quietConfig(t, 1781)
	cfg6.ListenAddr = "[::1]:0"
	v6 := startNode(t, cfg6)
	if _, err := hub.Dial(context.Background(), v6.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	asker, err := dialRaw(t, hub, testIdentity(t, 1782), "")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "asker admitted", func() bool { return connectedTo(hub, asker.id.ID()) })
	if got := askPex(t, asker); got[v6.ID()] != "::1" {
		t.Fatalf("PEX answer %v, want %s at ::1", got, v6.ID().Short())
	}
}
