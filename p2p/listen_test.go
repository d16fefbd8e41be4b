package p2p

import (
	"context"
	"net"
	"slices"
	"strings"
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
	for _, to := range []crypto.ID{v4.ID(), v6.ID()} {
		if err := hub.Send(context.Background(), to, topicVotes, []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*Node{v4, v6} {
		if m := recv(t, n.Inbox(topicVotes), 10*time.Second); string(m.Data) != "hi" {
			t.Fatalf("got %q", m.Data)
		}
	}
	// The hub learned v6's IPv6 address as advertised (unverified until dialed).
	e, ok := hub.book.Get(v6.ID())
	if !ok || e.Addr.Host != "::1" {
		t.Fatalf("hub's book entry for the IPv6 node: %+v, %v", e.Addr, ok)
	}
}

// TestListenWildcardsSharePort: with several listeners, 0.0.0.0:p and
// [::]:p bind together (IPv6 only on the second), and neither is
// advertised.
func TestListenWildcardsSharePort(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // a port that was free a moment ago; a clash only fails the test
	cfg := quietConfig(t, 1710)
	cfg.ListenAddr = ""
	p := strings.TrimPrefix(ln.Addr().String(), "127.0.0.1")
	cfg.ListenAddrs = []string{"0.0.0.0" + p, "[::]" + p}
	n := startNode(t, cfg)
	ls := n.ListenAddrs()
	if len(ls) != 2 || int(ls[0].Port) != port || int(ls[1].Port) != port || ls[0].Host != "0.0.0.0" || ls[1].Host != "::" {
		t.Fatalf("ListenAddrs %v, want 0.0.0.0 and :: on %d", ls, port)
	}
	if a := n.AdvertisedAddrs(); len(a) != 0 {
		t.Fatalf("wildcards advertised: %v", a)
	}
	// Both accept: dial each family's loopback.
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
