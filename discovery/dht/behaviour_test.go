package dht

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestRevalidation checks that revalidation, on its own schedule (a fake
// clock's ticks), removes an entry that stopped answering after
// MaxFailures pings, and keeps one that answers.
func TestRevalidation(t *testing.T) {
	mn := &memNet{}
	clk := clock.NewFake()
	a := mn.add(t, "net", testKey(t, 7, 0), memAddr(0), func(c *Config) { c.Clock = clk })
	live := mn.add(t, "net", testKey(t, 7, 1), memAddr(1), nil)
	dead := mn.add(t, "net", testKey(t, 7, 2), memAddr(2), nil)
	for _, n := range []*memNode{live, dead} {
		if _, err := a.dht.query(context.Background(), n.address(), &Message{Type: MsgPing}); err != nil {
			t.Fatal(err)
		}
	}
	if a.dht.Table().Len() != 2 {
		t.Fatalf("table has %d entries, want 2", a.dht.Table().Len())
	}
	dead.down.Store(true)
	a.dht.Start()
	defer a.dht.Stop()
	for _, n := range []*memNode{live, dead} {
		defer n.dht.Stop()
	}
	// The maintenance arms its tickers after the first bootstrap: a tick
	// advanced before would be lost.
	testutil.Eventually(t, 5*time.Second, "the maintenance tickers", func() bool { return clk.Pending() >= 2 })
	deadline := 20 // ticks: each pings a random bucket's oldest entry
	for !func() bool { _, ok := a.dht.Table().Get(dead.key.ID()); return !ok }() {
		if deadline--; deadline == 0 {
			t.Fatal("the unreachable entry is still in the table")
		}
		q := a.dht.Stats().Queries
		clk.Advance(DefaultRevalidateInterval)
		testutil.Eventually(t, 5*time.Second, "a revalidation ping", func() bool { return a.dht.Stats().Queries > q })
		// The ping's outcome is recorded after the query counter moves.
		testutil.Eventually(t, 5*time.Second, "the ping's outcome", func() bool {
			c, ok := a.dht.Table().Get(dead.key.ID())
			l, _ := a.dht.Table().Get(live.key.ID())
			return !ok || c.Fails > 0 || l.LastSeen.After(clock.Start) || a.dht.Stats().QueryFailures == 0
		})
	}
	if !a.dht.Table().Contains(live.key.ID()) {
		t.Fatal("the answering entry was removed")
	}
}

// TestUndialableNeverEnter checks that nodes that contact us but cannot be
// dialed (listening nowhere, or firewalled) never enter a table, while
// dialable ones do after our ping.
func TestUndialableNeverEnter(t *testing.T) {
	mn := &memNet{}
	honest := buildNetwork(t, mn, 3, 20, "net")
	hidden := mn.add(t, "net", testKey(t, 4, 0), memAddr(200), func(c *Config) { c.Bootstrap = []crypto.Address{honest[0].address()} })
	hidden.down.Store(true) // firewalled: its own requests go out, nothing comes in
	nowhere := mn.add(t, "net", testKey(t, 4, 1), memAddr(201), func(c *Config) {
		c.Bootstrap = []crypto.Address{honest[0].address()}
		c.Addrs = []netip.AddrPort{memAddr(202)} // advertises an address nobody listens on
	})
	defer hidden.dht.Stop()
	defer nowhere.dht.Stop()
	ctx := context.Background()
	for range 3 {
		hidden.dht.Refresh(ctx)
		nowhere.dht.Refresh(ctx)
	}
	settle(t, honest)
	if hidden.dht.Table().Len() == 0 {
		t.Fatal("the firewalled node's own lookups found nobody: the test does not test")
	}
	for _, h := range honest {
		for _, bad := range []*memNode{hidden, nowhere} {
			if h.dht.Table().Known(bad.key.ID()) {
				t.Errorf("honest %s holds undialable %s", h.key.ID().Short(), bad.key.ID().Short())
			}
		}
	}
}

// TestNetworksIsolated checks that two networks on the same hosts never
// see each other, even when one's bootstrap list names the other's nodes.
func TestNetworksIsolated(t *testing.T) {
	mn := &memNet{}
	a := buildNetwork(t, mn, 5, 15, "net-a")
	b := make([]*memNode, 15)
	for i := range b {
		b[i] = mn.add(t, "net-b", testKey(t, 6, i), memAddr(100+i), func(c *Config) {
			c.Bootstrap = []crypto.Address{a[0].address(), a[1].address()}
		})
		defer b[i].dht.Stop()
	}
	for _, n := range b[1:] {
		n.dht.cfg.Bootstrap = append(n.dht.cfg.Bootstrap, b[0].address())
	}
	parallel(b, func(n *memNode) { n.dht.Bootstrap(context.Background()) })
	settle(t, append(a, b...))
	if b[5].dht.Table().Len() == 0 {
		t.Fatal("network b formed no tables: the test does not test")
	}
	inA := map[crypto.ID]bool{}
	for _, n := range a {
		inA[n.key.ID()] = true
	}
	for _, n := range append(a, b...) {
		for _, c := range n.dht.Table().Entries() {
			if inA[c.ID()] != inA[n.key.ID()] {
				t.Errorf("%s (a: %v) holds %s of the other network", n.key.ID().Short(), inA[n.key.ID()], c.ID().Short())
			}
		}
	}
}

// TestEclipseTable offers an honest table 500 attacker IDs on one /24,
// then 500 on one /16, all answering: it holds at most the diversity bound
// of them, and its honest entries stay.
func TestEclipseTable(t *testing.T) {
	self := crypto.ID{0x42}
	for _, c := range []struct {
		name  string
		addr  func(i int) netip.AddrPort
		bound int
	}{
		{"one /24", func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{66, 66, 66, byte(i)}), uint16(i+1))
		}, DefaultPerTable24},
		{"one /16", func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{66, 66, byte(i / 2), byte(i)}), 1)
		}, DefaultPerTableGroup},
		{"one IPv6 /48", func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 0, 7, 6: byte(i >> 8), 7: byte(i), 15: 1}), 1)
		}, DefaultPerTable24},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := NewTable(self, DefaultLimits())
			var honest []crypto.ID
			for k := range 40 {
				r := fakeRec(self, k%8)
				if tb.Add(r, ip4(9, byte(k), 0, 1), t0) == Added {
					honest = append(honest, r.ID)
				}
			}
			for i := range 500 {
				tb.Add(fakeRec(self, i%12), c.addr(i), t0.Add(time.Minute))
			}
			if got := tb.Len() - len(honest); got > c.bound {
				t.Errorf("%d attacker entries, bound %d", got, c.bound)
			}
			for _, id := range honest {
				if !tb.Contains(id) {
					t.Errorf("honest entry %s lost", id.Short())
				}
			}
		})
	}
}

// TestEclipse runs an honest network with 500 attacker nodes on one /24
// (then one /16) that join it and look up everything: no honest table
// holds more than the diversity bound of them, and lookups for targets
// next to attacker IDs return at most 5% attackers.
func TestEclipse(t *testing.T) {
	for _, c := range []struct {
		name  string
		addr  func(i int) netip.AddrPort
		bound int
	}{
		{"one /24", func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{66, 66, 66, byte(i)}), uint16(5000+i))
		}, DefaultPerTable24},
		{"one /16", func(i int) netip.AddrPort {
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte{66, 66, byte(i / 2), byte(i)}), 5000)
		}, DefaultPerTableGroup},
	} {
		t.Run(c.name, func(t *testing.T) {
			mn := &memNet{}
			honest := buildNetwork(t, mn, 8, 30, "net")
			attackers := make([]*memNode, 500)
			bad := map[crypto.ID]bool{}
			for i := range attackers {
				attackers[i] = mn.add(t, "net", testKey(t, 9, i), c.addr(i), func(cfg *Config) {
					cfg.Bootstrap = []crypto.Address{honest[i%len(honest)].address()}
					cfg.Limits = Limits{PerBucket24: 1000, PerTable24: 1000, PerTableGroup: 1000, ResultPer24: 1000, ResultPerGroup: 1000}
				})
				bad[attackers[i].key.ID()] = true
			}
			t.Cleanup(func() { parallel(attackers, func(n *memNode) { n.dht.Stop() }) })
			// Each attacker joins with a bootstrap query and one lookup of
			// itself (a full refresh each would only cost time).
			parallel(attackers, func(n *memNode) {
				n.dht.query(context.Background(), n.dht.cfg.Bootstrap[0], &Message{Type: MsgFindNode, Target: n.key.ID()})
				n.dht.Lookup(context.Background(), n.key.ID())
			})
			settle(t, append(honest, attackers...))
			parallel(honest, func(n *memNode) { n.dht.Refresh(context.Background()) })
			settle(t, append(honest, attackers...))
			for _, h := range honest {
				n := 0
				for _, e := range h.dht.Table().Entries() {
					if bad[e.ID()] {
						n++
					}
				}
				if n > c.bound {
					t.Errorf("honest %s holds %d attackers, bound %d", h.key.ID().Short(), n, c.bound)
				}
			}
			results, evil := 0, 0
			for i := range 100 {
				target := attackers[i*len(attackers)/100].key.ID()
				target[19] ^= 1 // next to an attacker's ID
				found, st := honest[i%len(honest)].dht.Lookup(context.Background(), target)
				if len(found) < BucketSize {
					t.Errorf("lookup found %d nodes (%+v), want %d", len(found), st, BucketSize)
				}
				for _, r := range found {
					results++
					if bad[r.ID] {
						evil++
					}
				}
			}
			t.Logf("%d of %d lookup results are attackers", evil, results)
			if evil*20 > results {
				t.Errorf("%d of %d lookup results are attackers, want at most 5%%", evil, results)
			}
		})
	}
}

// TestModeAuto checks that auto mode serves when the node listens on a
// routable address, or one Config.AllowAddr allows, and is a client
// otherwise (loopback and private addresses are not exempt by default);
// a client refuses every request and advertises no address.
func TestModeAuto(t *testing.T) {
	mn := &memNet{}
	loop := netip.MustParseAddrPort("127.0.0.1:4000")
	cases := []struct {
		name   string
		addr   netip.AddrPort
		allow  func(netip.AddrPort) bool
		server bool
	}{
		{"routable", memAddr(1), nil, true},
		{"loopback", loop, nil, false},
		{"private", netip.MustParseAddrPort("10.1.2.3:4000"), nil, false},
		{"loopback allowed", loop, func(netip.AddrPort) bool { return true }, true},
	}
	for i, c := range cases {
		n := mn.add(t, "net", testKey(t, 20, i), c.addr, func(cfg *Config) { cfg.Mode = ModeAuto; cfg.AllowAddr = c.allow })
		if n.dht.Server() != c.server || n.dht.Self().Server() != c.server {
			t.Errorf("%s: server %v (record %v), want %v", c.name, n.dht.Server(), n.dht.Self().Server(), c.server)
		}
		if !c.server {
			if len(n.dht.Self().Addrs) != 0 {
				t.Errorf("%s: a client's record advertises %v", c.name, n.dht.Self().Addrs)
			}
			if _, err := n.dht.Handle(context.Background(), crypto.ID{1}, []byte{byte(MsgPing), 0, 0}); err == nil {
				t.Errorf("%s: a client answered a ping", c.name)
			}
		}
	}
}

// garbage answers every request with bytes that are no DHT message.
type garbage struct{}

func (garbage) Request(context.Context, crypto.Address, []byte) ([]byte, error) {
	return []byte{0x02, 0xff}, nil
}

// TestBadAnswerReported checks that an answer that does not decode fails
// the query, keeps the node out of the table, and is reported.
func TestBadAnswerReported(t *testing.T) {
	var bad []crypto.ID
	d, err := New(Config{Identity: testKey(t, 30, 0), Network: "net", Transport: garbage{}, Mode: ModeServer,
		Addrs: []netip.AddrPort{memAddr(0)}, OnBadAnswer: func(id crypto.ID, err error) { bad = append(bad, id) }})
	if err != nil {
		t.Fatal(err)
	}
	peer := testKey(t, 30, 1).ID()
	addr := crypto.Address{ID: peer, Host: "20.1.0.1", Port: 4000}
	if _, err := d.query(context.Background(), addr, &Message{Type: MsgPing}); err == nil {
		t.Fatal("a garbage answer was taken")
	}
	if len(bad) != 1 || bad[0] != peer || d.Table().Len() != 0 {
		t.Fatalf("reported %v, table %d; want the peer reported and an empty table", bad, d.Table().Len())
	}
}

// switchTransport is a node's transport that, while fail holds an error,
// returns it instead of sending.
type switchTransport struct {
	Transport
	fail atomic.Pointer[error]
}

func (s *switchTransport) Request(ctx context.Context, to crypto.Address, req []byte) ([]byte, error) {
	if e := s.fail.Load(); e != nil {
		return nil, *e
	}
	return s.Transport.Request(ctx, to, req)
}

// TestRevalidateNotSent: a revalidation ping that the transport could not
// send (ErrNotSent, as when every connection slot of ours is busy) leaves
// the entry alone however often it happens, and is counted in NotSent; a
// ping sent and failed counts toward the entry's removal.
func TestRevalidateNotSent(t *testing.T) {
	var mn memNet
	b := mn.add(t, "net", testKey(t, 31, 1), memAddr(1), nil)
	tr := &switchTransport{}
	a := mn.add(t, "net", testKey(t, 31, 0), memAddr(0), func(c *Config) {
		tr.Transport = c.Transport
		c.Transport = tr
	})
	if _, err := a.dht.query(t.Context(), b.address(), &Message{Type: MsgPing}); err != nil {
		t.Fatal(err)
	}
	notSent := fmt.Errorf("%w: every transient connection busy", ErrNotSent)
	tr.fail.Store(&notSent)
	for range 3 * DefaultMaxFailures {
		a.dht.Revalidate(t.Context())
	}
	c, ok := a.dht.Table().Get(b.key.ID())
	if !ok || c.Fails != 0 {
		t.Fatalf("after %d pings not sent: in the table %v, fails %d; want in, 0", 3*DefaultMaxFailures, ok, c.Fails)
	}
	if st := a.dht.Stats(); st.NotSent != 3*DefaultMaxFailures || st.QueryFailures != st.NotSent {
		t.Errorf("stats: %d not sent, %d failures; want %d of each", st.NotSent, st.QueryFailures, 3*DefaultMaxFailures)
	}
	sent := errors.New("connection reset")
	tr.fail.Store(&sent)
	for range DefaultMaxFailures {
		a.dht.Revalidate(t.Context())
	}
	if a.dht.Table().Contains(b.key.ID()) {
		t.Fatalf("still in the table after %d failed pings", DefaultMaxFailures)
	}
}
