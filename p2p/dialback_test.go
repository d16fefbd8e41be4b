package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// startNodeAt starts a quiet node of identity seed that listens and
// dials from ip, a loopback address of its own network group.
func startNodeAt(t *testing.T, seed int, ip string) *Node {
	t.Helper()
	cfg := quietConfig(t, seed)
	cfg.ListenAddr = ip + ":0"
	cfg.DialLocalIP = netip.MustParseAddr(ip)
	return startNode(t, cfg)
}

// dialBackPeers starts k nodes at 127.(base+i).0.1, distinct /16 groups,
// and has n dial each of them.
func dialBackPeers(t *testing.T, n *Node, seed, base, k int) []*Node {
	t.Helper()
	var out []*Node
	for i := range k {
		p := startNodeAt(t, seed+i, fmt.Sprintf("127.%d.0.1", base+i))
		dial(t, n, p)
		out = append(out, p)
	}
	return out
}

// waitAskers waits until k peers in distinct groups have told n they see
// it at ip (their PEX answers carry it), so a check can ask them.
func waitAskers(t *testing.T, n *Node, ip string, k int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d peers see the node at %s", k, ip), func() bool {
		return len(n.askers(netip.MustParseAddr(ip))) == k
	})
}

func served(peers []*Node) (s, reached uint64) {
	for _, p := range peers {
		st := p.DialBackStats()
		s += st.Served
		reached += st.Reached
	}
	return s, reached
}

// TestDialBackPublic: a node whose listen address answers with its ID is
// judged public by three peers in distinct groups, over real TCP, and
// says so with an event.
func TestDialBackPublic(t *testing.T) {
	cfg := quietConfig(t, 1900)
	cfg.DialLocalIP = netip.MustParseAddr("127.0.0.1")
	n := startNode(t, cfg)
	events := n.Subscribe()
	defer events.Cancel()
	peers := dialBackPeers(t, n, 1901, 1, DialBackPeers)
	waitAskers(t, n, "127.0.0.1", DialBackPeers)
	r := n.CheckReachability(context.Background())
	if r.Verdict != ReachPublic || !slices.Equal(r.Verified, []crypto.Address{n.ListenAddr()}) {
		t.Fatalf("verdict %v, verified %v; want public, [%v]", r.Verdict, r.Verified, n.ListenAddr())
	}
	if s, reached := served(peers); s != DialBackPeers || reached != DialBackPeers {
		t.Fatalf("peers dialed back %d times, reached %d; want %d, %d", s, reached, DialBackPeers, DialBackPeers)
	}
	want, _ := n.ListenAddr().AddrPort()
	waitEvent(t, events, 10*time.Second, "the reachability event", func(e Event) bool {
		return e.Kind == EventReachability && e.Reason == "public" && e.Addr == want
	})
	if got := n.Reachability(); got.Verdict != ReachPublic || got.Checked.IsZero() {
		t.Fatalf("Reachability() = %+v", got)
	}
	// The dial-backs never reached SETTINGS: each peer still has its one
	// connection to the node, and the node one to each.
	for _, p := range peers {
		if !connectedTo(n, p.ID()) || len(p.Peers()) != 1 {
			t.Fatalf("peer %s: connected %v, %d peers", p.ID().Short(), connectedTo(n, p.ID()), len(p.Peers()))
		}
	}
}

// TestDialBackPrivate: a node whose candidate address does not answer
// (a closed port, another node's listener) is judged private.
func TestDialBackPrivate(t *testing.T) {
	other := startNode(t, quietConfig(t, 1910))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for i, tc := range []struct{ name, advertise string }{
		{"closed port", closed},
		{"another node's listener", other.ListenAddr().HostPort()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quietConfig(t, 1911+10*i)
			cfg.DialLocalIP = netip.MustParseAddr("127.0.0.1")
			cfg.AdvertiseAddrs = []string{tc.advertise}
			n := startNode(t, cfg)
			peers := dialBackPeers(t, n, 1912+10*i, 11+10*i, DialBackPeers)
			waitAskers(t, n, "127.0.0.1", DialBackPeers)
			r := n.CheckReachability(context.Background())
			if r.Verdict != ReachPrivate || len(r.Verified) != 0 {
				t.Fatalf("verdict %v, verified %v; want private, none", r.Verdict, r.Verified)
			}
			if s, reached := served(peers); s != DialBackPeers || reached != 0 {
				t.Fatalf("peers dialed back %d times, reached %d; want %d, 0", s, reached, DialBackPeers)
			}
		})
	}
}

// TestDialBackUnknown: with no peers, or peers of one network group
// only, the node does not decide.
func TestDialBackUnknown(t *testing.T) {
	cfg := quietConfig(t, 1940)
	cfg.DialLocalIP = netip.MustParseAddr("127.0.0.1")
	n := startNode(t, cfg)
	if r := n.CheckReachability(context.Background()); r.Verdict != ReachUnknown {
		t.Fatalf("no peers: verdict %v", r.Verdict)
	}
	// Three peers, all in 127.41/16: one group, so one is asked.
	var peers []*Node
	for i := range DialBackPeers {
		c := quietConfig(t, 1941+i)
		ip := fmt.Sprintf("127.41.0.%d", i+1)
		c.ListenAddr = ip + ":0"
		c.DialLocalIP = netip.MustParseAddr(ip)
		p := startNode(t, c)
		dial(t, n, p)
		peers = append(peers, p)
	}
	testutil.Eventually(t, 10*time.Second, "the peers' reports", func() bool {
		for _, p := range peers {
			if _, ok := n.reach.observed.seenBy(p.ID()); !ok {
				return false
			}
		}
		return true
	})
	if r := n.CheckReachability(context.Background()); r.Verdict != ReachUnknown || len(r.Verified) != 0 {
		t.Fatalf("three peers in one group: verdict %v, verified %v; want unknown", r.Verdict, r.Verified)
	}
	if s, _ := served(peers); s != 1 {
		t.Fatalf("%d dial-backs by peers of one group, want 1", s)
	}
}

// TestDialBackAdvertisesObserved: a node listening on a wildcard has
// nothing to advertise; once four observers agree on its address it is a
// candidate, and it is advertised only after the dial-back verified it.
func TestDialBackAdvertisesObserved(t *testing.T) {
	cfg := quietConfig(t, 1950)
	cfg.ListenAddr = "0.0.0.0:0"
	n := startNode(t, cfg)
	port := n.ListenAddr().Port
	for i := range ObservedQuorum {
		o := startNodeAt(t, 1951+i, fmt.Sprintf("127.%d.0.1", 51+i))
		if _, err := o.Dial(context.Background(), fmt.Sprintf("%s@127.0.0.1:%d", n.ID(), port)); err != nil {
			t.Fatal(err)
		}
		if i < ObservedQuorum-1 {
			if got := n.AdvertisedAddrs(); len(got) != 0 {
				t.Fatalf("advertised %v before any verification", got)
			}
		}
	}
	want := crypto.Address{ID: n.ID(), Host: "127.0.0.1", Port: port}
	testutil.Eventually(t, 20*time.Second, "the verified observed address advertised", func() bool {
		return slices.Contains(n.AdvertisedAddrs(), want)
	})
	if r := n.Reachability(); r.Verdict != ReachPublic || !slices.Equal(r.Verified, []crypto.Address{want}) {
		t.Fatalf("Reachability() = %+v", r)
	}
}

// TestDialBackThirdParty: a peer that asks for a dial-back to another IP
// than its connection's is refused, counted and penalised, and nothing
// is dialed; a request at its own IP is served.
func TestDialBackThirdParty(t *testing.T) {
	n := startNode(t, quietConfig(t, 1960))
	victim, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	p, err := dialRaw(t, n, testIdentity(t, 1961), "127.61.0.1")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "raw peer admitted", func() bool { return connectedTo(n, p.id.ID()) })
	before, _ := n.Score(p.id.ID())
	target := netip.MustParseAddrPort(victim.Addr().String())
	w := rawRequest(t, p, 1, encodeDialBackRequest(target))
	if w.kind != kindError || w.code != RequestRefused {
		t.Fatalf("third-party request answered %+v, want refused", w)
	}
	st := n.DialBackStats()
	if st.ThirdParty != 1 || st.Served != 0 {
		t.Fatalf("stats %+v, want 1 third-party refusal, 0 served", st)
	}
	if after, _ := n.Score(p.id.ID()); after > before+DeltaDialBackThirdParty/2 {
		t.Fatalf("score %v → %v: not penalised", before, after)
	}
	// The victim was never dialed.
	victim.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := victim.Accept(); err == nil {
		c.Close()
		t.Fatal("the node dialed the third party")
	}
	// At its own IP (a port with nothing behind it) the peer is served.
	w = rawRequest(t, p, 2, encodeDialBackRequest(netip.MustParseAddrPort(closedPortAt(t, "127.61.0.1"))))
	if w.kind != kindResponse || len(w.body) != 1 || w.body[0] != dialBackUnreachable {
		t.Fatalf("own-IP request answered %+v, want unreachable", w)
	}
	if st := n.DialBackStats(); st.Served != 1 {
		t.Fatalf("stats %+v, want 1 served", st)
	}
}

// TestDialBackRateLimit: a peer gets DialBackPerPeerPerMinute dial-backs
// a minute, then "overloaded" until the minute has passed on the node's
// clock.
func TestDialBackRateLimit(t *testing.T) {
	clk := clock.NewFake()
	cfg := quietConfig(t, 1970)
	onFakeClock(&cfg, clk)
	n := startNode(t, cfg)
	p, err := dialRaw(t, n, testIdentity(t, 1971), "127.71.0.1")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "raw peer admitted", func() bool { return connectedTo(n, p.id.ID()) })
	body := encodeDialBackRequest(netip.MustParseAddrPort(closedPortAt(t, "127.71.0.1")))
	id := uint64(0)
	ask := func() rrMsg { id++; return rawRequest(t, p, id, body) }
	for i := range DialBackPerPeerPerMinute {
		if w := ask(); w.kind != kindResponse {
			t.Fatalf("request %d answered %+v, want a response", i+1, w)
		}
	}
	if w := ask(); w.kind != kindError || w.code != RequestOverloaded {
		t.Fatalf("request over the limit answered %+v, want overloaded", w)
	}
	clk.Advance(59 * time.Second)
	if w := ask(); w.kind != kindError || w.code != RequestOverloaded {
		t.Fatalf("request within the minute answered %+v, want overloaded", w)
	}
	clk.Advance(time.Second)
	if w := ask(); w.kind != kindResponse {
		t.Fatalf("request in the next minute answered %+v, want a response", w)
	}
	if st := n.DialBackStats(); st.Served != DialBackPerPeerPerMinute+1 || st.Limited != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDialBackLimits checks the total bound across peers.
func TestDialBackLimits(t *testing.T) {
	var l dialBackLimits
	now := time.Unix(1_700_000_000, 0)
	allowed := 0
	for i := range 2 * DialBackTotalPerMinute {
		var id crypto.ID
		id[0], id[1] = byte(i), byte(i>>8)
		if l.allow(id, now) {
			allowed++
		}
	}
	if allowed != DialBackTotalPerMinute {
		t.Fatalf("%d allowed across peers in one minute, want %d", allowed, DialBackTotalPerMinute)
	}
	if !l.allow(crypto.ID{0xff}, now.Add(time.Minute)) {
		t.Fatal("refused in the next minute")
	}
}

// TestDialBackDecode checks the request and response decoders.
func TestDialBackDecode(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string // "" for an error
	}{
		{encodeDialBackRequest(netip.MustParseAddrPort("192.0.2.1:26656")), "192.0.2.1:26656"},
		{encodeDialBackRequest(netip.MustParseAddrPort("[2001:db8::1]:26656")), "[2001:db8::1]:26656"},
		{[]byte{192, 0, 2, 1, 0}, ""},
		{[]byte{0, 0, 0, 0, 1, 2}, ""},
		{[]byte{192, 0, 2, 1, 0, 0}, ""},
		{[]byte{224, 0, 0, 1, 1, 2}, ""},
		{nil, ""},
	} {
		got, err := decodeDialBackRequest(tc.in)
		if (err == nil) != (tc.want != "") || (err == nil && got.String() != tc.want) {
			t.Errorf("decode %x = %v, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in      []byte
		reached bool
		ok      bool
	}{{[]byte{1}, true, true}, {[]byte{2}, false, true}, {[]byte{0}, false, false}, {[]byte{1, 1}, false, false}, {nil, false, false}} {
		got, err := decodeDialBackResponse(tc.in)
		if (err == nil) != tc.ok || got != tc.reached {
			t.Errorf("response %x = %v, %v", tc.in, got, err)
		}
	}
}

// FuzzDialBackDecode runs the dial-back decoders on any input: they never
// panic, and what the request decoder takes it encodes back to the same
// bytes (IPv4-mapped IPv6 aside, which it unmaps).
func FuzzDialBackDecode(f *testing.F) {
	f.Add(encodeDialBackRequest(netip.MustParseAddrPort("192.0.2.1:26656")))
	f.Add(encodeDialBackRequest(netip.MustParseAddrPort("[2001:db8::1]:1")))
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeDialBackResponse(b)
		ap, err := decodeDialBackRequest(b)
		if err != nil {
			return
		}
		if ap.Port() == 0 || ap.Addr().IsUnspecified() {
			t.Fatalf("took %v", ap)
		}
		if e := encodeDialBackRequest(ap); len(b) == len(e) && string(e) != string(b) {
			t.Fatalf("%x decodes to %v, which encodes to %x", b, ap, e)
		}
	})
}

// rawRequest sends a dial-back request with id from p and returns the
// node's answer.
func rawRequest(t *testing.T, p *rawPeer, id uint64, body []byte) rrMsg {
	t.Helper()
	if err := p.mc.Send(context.Background(), DialBackTopic, encodeRequest(id, 10*time.Second, body)); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m := <-p.inbox:
			if m.Topic != DialBackTopic {
				continue
			}
			w, err := parseRR(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if w.id != id {
				t.Fatalf("answer to %d, want %d", w.id, id)
			}
			w.body = append([]byte(nil), w.body...)
			return w
		case <-deadline:
			t.Fatal("no answer")
		}
	}
}

// closedPortAt returns ip:port where nothing listens.
func closedPortAt(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	return a
}

// TestReachabilityLoop: the node checks on its own, on the services'
// clock: reachabilityRetry after Start, then every reachabilityInterval
// once it has a verdict.
func TestReachabilityLoop(t *testing.T) {
	clk := clock.NewFake()
	cfg := quietConfig(t, 1980)
	cfg.DialLocalIP = netip.MustParseAddr("127.0.0.1")
	cfg.serviceClock = clk
	n := startNode(t, cfg)
	peers := dialBackPeers(t, n, 1981, 81, DialBackPeers)
	waitAskers(t, n, "127.0.0.1", DialBackPeers)
	if r := n.Reachability(); !r.Checked.IsZero() || r.Verdict != ReachUnknown {
		t.Fatalf("checked before the first interval: %+v", r)
	}
	testutil.Eventually(t, 10*time.Second, "the first check", func() bool {
		clk.Advance(reachabilityRetry)
		return n.Reachability().Verdict == ReachPublic
	})
	if s, _ := served(peers); s != DialBackPeers {
		t.Fatalf("%d dial-backs after the first check, want %d", s, DialBackPeers)
	}
	testutil.Eventually(t, 10*time.Second, "the re-check", func() bool {
		clk.Advance(reachabilityInterval)
		s, _ := served(peers)
		return s == 2*DialBackPeers
	})
}
