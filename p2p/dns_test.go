package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// fakeResolver answers lookups from a table: each host has a list of
// answers, one per call, the last one repeating. It counts the calls per
// host and remembers how long each call's context had left.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
	left    []time.Duration // time to the context's deadline at each call; -1 without one
	block   bool            // wait for the context to end instead of answering
}

func newFakeResolver() *fakeResolver {
	return &fakeResolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
}

// answer makes the next calls for host return ips; call it again for the
// answers of later calls.
func (r *fakeResolver) answer(host string, ips ...string) {
	var a []netip.Addr
	for _, s := range ips {
		a = append(a, netip.MustParseAddr(s))
	}
	r.mu.Lock()
	r.answers[host] = append(r.answers[host], a)
	r.mu.Unlock()
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	r.calls[host]++
	n := r.calls[host]
	left := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	r.left = append(r.left, left)
	ans, block := r.answers[host], r.block
	r.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if len(ans) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return append([]netip.Addr(nil), ans[min(n, len(ans))-1]...), nil
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

// tcpTarget is a bare TCP listener that counts and closes every connection:
// somewhere a node must not dial.
type tcpTarget struct {
	port     uint16
	accepted atomic.Int32
}

func listenTarget(t *testing.T, ip string) *tcpTarget {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	tt := &tcpTarget{port: uint16(ln.Addr().(*net.TCPAddr).Port)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tt.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return tt
}

// sendPex sends a PEX message from the raw peer.
func sendPex(t *testing.T, p *rawPeer, m *pb.PexMessage) {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.mc.Send(context.Background(), PexTopic, b); err != nil {
		t.Fatal(err)
	}
}

// TestNetworkNamesFromPex: a peer answers PEX with ID@name:port where the
// name resolves to 127.0.0.1, to a node that refuses loopback addresses
// from peers. With Book.AllowNetworkNames off the address is not stored
// and never dialed; with it on it is stored, but the dial (by fill or by
// the churn prober) resolves the name, finds the loopback address and is
// refused before any connection is made.
func TestNetworkNamesFromPex(t *testing.T) {
	for _, tt := range []struct {
		name        string
		allow       bool
		fill, churn bool
	}{
		{"names off", false, true, true},
		{"names on, fill", true, true, false},
		{"names on, churn", true, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := listenTarget(t, "127.0.0.1")
			res := newFakeResolver()
			res.answer("evil.example.org", "127.0.0.1")
			cfg := quietConfig(t, 2000)
			cfg.Resolver = res
			cfg.Book.AllowLoopback = false
			cfg.Book.AllowNetworkNames = tt.allow
			cfg.Book.BackoffBase, cfg.Book.BackoffCap = time.Hour, time.Hour // one attempt each
			cfg.PexInterval = 20 * time.Millisecond
			if tt.fill {
				cfg.FillInterval = 20 * time.Millisecond
			}
			if tt.churn {
				cfg.ChurnInterval = 20 * time.Millisecond
				cfg.Book.ProbeInterval = time.Millisecond
			}
			hub := startNode(t, cfg)
			p, err := dialRaw(t, hub, testIdentity(t, 2001), "")
			if err != nil {
				t.Fatal(err)
			}
			for m := waitPex(t, p); m.GetRequest() == nil; m = waitPex(t, p) {
			}
			evil := testIdentity(t, 2002).ID()
			sendPex(t, p, &pb.PexMessage{Msg: &pb.PexMessage_Response{Response: &pb.PexResponse{
				Addrs: []*pb.PeerAddress{{Id: evil[:], Host: "evil.example.org", Port: uint32(target.port)}}}}})
			// A PEX request after it, on the same topic (so in order): once
			// the hub answers it, the response before it has been ingested.
			sendPex(t, p, &pb.PexMessage{Msg: &pb.PexMessage_Request{Request: &pb.PexRequest{Max: 32}}})
			for m := waitPex(t, p); m.GetResponse() == nil; m = waitPex(t, p) {
			}
			e, stored := hub.book.Get(evil)
			if !tt.allow {
				if stored {
					t.Fatalf("PEX name stored with AllowNetworkNames off: %v", e.Addr)
				}
				if n := res.count("evil.example.org"); n != 0 {
					t.Fatalf("refused name resolved %d times", n)
				}
				return
			}
			if !stored {
				t.Fatal("PEX name not stored with AllowNetworkNames on")
			}
			testutil.Eventually(t, 10*time.Second, "the dial of the name refused", func() bool {
				e, ok := hub.book.Get(evil)
				return res.count("evil.example.org") >= 1 && ok && e.Failures >= 1
			})
			if n := target.accepted.Load(); n != 0 {
				t.Fatalf("node dialed the loopback address the name resolved to (%d connections)", n)
			}
			if n := res.count("evil.example.org"); n != 1 {
				t.Fatalf("name resolved %d times for one attempt", n)
			}
		})
	}
}

// TestNetworkNamesAdvertised: an inbound peer advertising a DNS name as its
// listen address does not get it into the book unless AllowNetworkNames is
// on.
func TestNetworkNamesAdvertised(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow=%v", allow), func(t *testing.T) {
			cfg := quietConfig(t, 2010)
			cfg.Resolver = newFakeResolver()
			cfg.Book.AllowNetworkNames = allow
			hub := startNode(t, cfg)
			sub := hub.Subscribe()
			defer sub.Cancel()
			id := testIdentity(t, 2011)
			adv := id.ID().String() + "@peer.example.org:26656"
			if _, err := dialRawAdvertising(t, hub, id, "", []string{adv}); err != nil {
				t.Fatal(err)
			}
			// The book learns advertised addresses before the connect event.
			waitEvent(t, sub, 10*time.Second, "raw peer connected", func(e Event) bool {
				return e.Kind == EventConnected && e.Peer == id.ID()
			})
			e, stored := hub.book.Get(id.ID())
			if stored != allow {
				t.Fatalf("advertised name stored = %v (%v) with AllowNetworkNames %v", stored, e.Addr, allow)
			}
		})
	}
}

// TestDialNameChecks: a name is resolved and every address it resolves to
// is checked against the rules, the IP bans, the caps and the outbound
// group rule; "localhost" (which the system resolver also knows) is
// refused exactly as 127.0.0.1 would be.
func TestDialNameChecks(t *testing.T) {
	for _, tt := range []struct {
		name    string
		host    string
		answers []string
		setup   func(t *testing.T, cfg *Config)
		prepare func(t *testing.T, hub *Node) // after Start
		want    error
	}{
		{name: "deny rule", host: "localhost", answers: []string{"127.0.0.1"},
			setup: func(t *testing.T, cfg *Config) { cfg.Filter.DenyCIDRs = []string{"127.0.0.1/32"} },
			want:  ErrFiltered},
		{name: "ip ban", host: "localhost", answers: []string{"127.0.0.1"},
			prepare: func(t *testing.T, hub *Node) {
				if err := hub.book.BanIP(netip.MustParseAddr("127.0.0.1"), time.Hour, "test"); err != nil {
					t.Fatal(err)
				}
			},
			want: ErrBanned},
		{name: "one of several denied", host: "multi.example.org", answers: []string{"127.0.0.5", "127.0.0.1"},
			setup: func(t *testing.T, cfg *Config) { cfg.Filter.DenyCIDRs = []string{"127.0.0.1/32"} },
			want:  ErrFiltered},
		{name: "ip cap", host: "cap.example.org", answers: []string{"127.0.0.1"},
			setup: func(t *testing.T, cfg *Config) {
				cfg.Filter.ExemptLoopback = false
				cfg.Filter.MaxPerIP = 1
			},
			prepare: func(t *testing.T, hub *Node) { dial(t, hub, startNode(t, quietConfig(t, 2022))) },
			want:    ErrFiltered},
		{name: "outbound group", host: "group.example.org", answers: []string{"127.0.0.1"},
			setup:   func(t *testing.T, cfg *Config) { cfg.Peers.MaxOutboundPerGroup = 1 },
			prepare: func(t *testing.T, hub *Node) { dial(t, hub, startNode(t, quietConfig(t, 2023))) },
			want:    ErrRefused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := newFakeResolver()
			res.answer(tt.host, tt.answers...)
			cfg := quietConfig(t, 2020)
			cfg.Resolver = res
			if tt.setup != nil {
				tt.setup(t, &cfg)
			}
			hub := startNode(t, cfg)
			target := startNode(t, quietConfig(t, 2021))
			if tt.prepare != nil {
				tt.prepare(t, hub)
			}
			addr := fmt.Sprintf("%s@%s:%d", target.ID(), tt.host, target.ListenAddr().Port)
			dials := hub.Stats().Dials
			_, err := hub.Dial(context.Background(), addr)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Dial(%s) = %v, want %v", addr, err, tt.want)
			}
			if n := hub.Stats().Dials - dials; n != 0 {
				t.Fatalf("refused only after %d TCP dial(s): the checks must come before", n)
			}
			if n := res.count(tt.host); n != 1 {
				t.Fatalf("name resolved %d times, want once", n)
			}
			if connectedTo(hub, target.ID()) {
				t.Fatal("connected to a refused address")
			}
		})
	}
}

// TestDialNameRebinding: a resolver that answers an allowed address first
// and the denied 127.0.0.1 afterwards cannot switch a dial to 127.0.0.1:
// each dial resolves once and connects to exactly the address it checked.
func TestDialNameRebinding(t *testing.T) {
	res := newFakeResolver()
	res.answer("rebind.example.org", "127.0.0.2")
	res.answer("rebind.example.org", "127.0.0.1")
	cfg := quietConfig(t, 2030)
	cfg.Resolver = res
	cfg.Filter.DenyCIDRs = []string{"127.0.0.1/32"}
	hub := startNode(t, cfg)
	tcfg := quietConfig(t, 2031)
	tcfg.ListenAddr = "127.0.0.2:0"
	target := startNode(t, tcfg)
	addr := fmt.Sprintf("%s@rebind.example.org:%d", target.ID(), target.ListenAddr().Port)
	if _, err := hub.Dial(context.Background(), addr); err != nil {
		t.Fatalf("first dial: %v", err)
	}
	if n := res.count("rebind.example.org"); n != 1 {
		t.Fatalf("first dial resolved the name %d times, want once", n)
	}
	p, ok := hub.Peer(target.ID())
	if want := fmt.Sprintf("127.0.0.2:%d", target.ListenAddr().Port); !ok || p.Remote != want {
		t.Fatalf("connected to %q (%v), want exactly the checked %s", p.Remote, ok, want)
	}
	if err := hub.Disconnect(target.ID(), "again"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "disconnected", func() bool { return !connectedTo(hub, target.ID()) })
	if _, err := hub.Dial(context.Background(), addr); !errors.Is(err, ErrFiltered) {
		t.Fatalf("second dial, name now 127.0.0.1: %v, want ErrFiltered", err)
	}
	if n := res.count("rebind.example.org"); n != 2 {
		t.Fatalf("two dials resolved the name %d times, want twice", n)
	}
}

// TestDialNameBounds: only the first maxResolvedAddrs answers of a lookup
// are kept and checked (a denied address beyond them is never looked at,
// and the rule checks stay bounded); a lookup is cut off at ResolveTimeout.
func TestDialNameBounds(t *testing.T) {
	t.Run("answers", func(t *testing.T) {
		res := newFakeResolver()
		ips := []string{"127.0.0.2"}
		for i := 0; i < 1000; i++ {
			ips = append(ips, fmt.Sprintf("127.0.%d.%d", 10+i/250, 1+i%250))
		}
		ips = append(ips, "127.0.0.1")
		res.answer("many.example.org", ips...)
		cfg := quietConfig(t, 2040)
		cfg.Resolver = res
		cfg.Filter.DenyCIDRs = []string{"127.0.0.1/32"}
		hub := startNode(t, cfg)
		tcfg := quietConfig(t, 2041)
		tcfg.ListenAddr = "127.0.0.2:0"
		target := startNode(t, tcfg)
		before := hub.filter.Stats().RulesDecisions
		addr := fmt.Sprintf("%s@many.example.org:%d", target.ID(), target.ListenAddr().Port)
		if _, err := hub.Dial(context.Background(), addr); err != nil {
			t.Fatalf("dial: %v", err)
		}
		after := hub.filter.Stats().RulesDecisions
		var checks uint64
		for r := range after {
			checks += after[r] - before[r]
		}
		if checks != maxResolvedAddrs {
			t.Fatalf("%d rule checks for 1002 answers, want %d", checks, maxResolvedAddrs)
		}
		if p, _ := hub.Peer(target.ID()); p.Remote != fmt.Sprintf("127.0.0.2:%d", target.ListenAddr().Port) {
			t.Fatalf("connected to %q", p.Remote)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		res := newFakeResolver()
		res.block = true
		cfg := quietConfig(t, 2042)
		cfg.Resolver = res
		cfg.ResolveTimeout = 50 * time.Millisecond
		hub := startNode(t, cfg)
		// The caller's own bound is far longer: the lookup must end at
		// ResolveTimeout, well before it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := hub.Dial(ctx, testIdentity(t, 2043).ID().String()+"@slow.example.org:1")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Dial with a resolver that never answers: %v, want a deadline error", err)
		}
		res.mu.Lock()
		defer res.mu.Unlock()
		if len(res.left) != 1 || res.left[0] < 0 || res.left[0] > cfg.ResolveTimeout {
			t.Fatalf("lookup deadlines %v, want one within %v", res.left, cfg.ResolveTimeout)
		}
	})
}

// TestOperatorNames: names the operator typed — bootstrap, must-connect
// and Dial, with or without an ID — are dialed with AllowNetworkNames off,
// through the injected resolver.
func TestOperatorNames(t *testing.T) {
	boot := startNode(t, quietConfig(t, 2051))
	must := startNode(t, quietConfig(t, 2052))
	plain := startNode(t, quietConfig(t, 2053))
	res := newFakeResolver()
	for _, h := range []string{"boot.example.org", "must.example.org", "plain.example.org"} {
		res.answer(h, "127.0.0.1")
	}
	cfg := quietConfig(t, 2050)
	cfg.Resolver = res
	cfg.FillInterval = 20 * time.Millisecond
	cfg.Bootstrap = []string{fmt.Sprintf("%s@boot.example.org:%d", boot.ID(), boot.ListenAddr().Port)}
	cfg.MustConnect = []string{fmt.Sprintf("%s@must.example.org:%d", must.ID(), must.ListenAddr().Port)}
	hub := startNode(t, cfg)
	testutil.Eventually(t, 10*time.Second, "bootstrap and must-connect peers dialed by name", func() bool {
		return connectedTo(hub, boot.ID()) && connectedTo(hub, must.ID())
	})
	id, err := hub.Dial(context.Background(), fmt.Sprintf("plain.example.org:%d", plain.ListenAddr().Port))
	if err != nil || id != plain.ID() {
		t.Fatalf("Dial of a plain name: %v, %v; want %v", id.Short(), err, plain.ID().Short())
	}
	for _, h := range []string{"boot.example.org", "must.example.org", "plain.example.org"} {
		if res.count(h) == 0 {
			t.Fatalf("%s not resolved through Config.Resolver", h)
		}
	}

	// The operator's own names are not held to the routability rules of
	// addresses from peers, just as the operator's IP addresses are not.
	res.answer("local.example.org", "127.0.0.1")
	lcfg := quietConfig(t, 2054)
	lcfg.Resolver = res
	lcfg.Book.AllowLoopback = false
	strict := startNode(t, lcfg)
	addr := crypto.Address{ID: plain.ID(), Host: "local.example.org", Port: plain.ListenAddr().Port}
	if _, err := strict.Dial(context.Background(), addr.String()); err != nil {
		t.Fatalf("operator Dial of a loopback name without AllowLoopback: %v", err)
	}
}
