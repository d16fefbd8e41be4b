package p2p

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerset"
)

// TestDHTTransient: a node at its inbound limit still answers a DHT query
// from a node at its outbound limit, over a transient connection that
// neither lists as a peer nor counts in its slots, that the next query
// reuses, and that closes once idle for TransientIdleTimeout.
func TestDHTTransient(t *testing.T) {
	clk := clock.NewFake()
	bc := dhtConfig(t, 0, DHTServer, nil)
	bc.Peers.MaxInbound = 1
	onFakeClock(&bc, clk)
	b := startNode(t, bc)
	c := startNode(t, dhtConfig(t, 2, DHTServer, nil))
	ac := dhtConfig(t, 1, DHTServer, nil)
	ac.Peers.MaxOutbound = 1
	onFakeClock(&ac, clk)
	a := startNode(t, ac)
	dial(t, c, b) // b: inbound 1/1
	dial(t, a, c) // a: outbound 1/1

	req, err := (&dht.Message{Type: dht.MsgPing}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		resp, err := dhtTransport{a}.Request(t.Context(), b.ListenAddr(), req)
		if err != nil {
			t.Fatalf("query %d to a node at its inbound limit, from one at its outbound limit: %v", i, err)
		}
		if m, err := dht.DecodeMessage(resp); err != nil || m.Type != dht.MsgPong {
			t.Fatalf("query %d answered %v, %v; want a PONG", i, m, err)
		}
	}
	if got := a.DHTStats().TransientDials; got != 1 {
		t.Errorf("%d transient dials for two queries, want 1 (the second reuses it)", got)
	}
	for _, p := range []struct {
		nd, other *Node
		slots     int
	}{{a, b, a.set.Counts().OutboundSlots}, {b, a, b.set.Counts().InboundSlots}} {
		if connectedTo(p.nd, p.other.ID()) || len(p.nd.Peers()) != 1 {
			t.Errorf("%s lists %d peers (the transient one: %v), want only its real one", p.nd.ID().Short(), len(p.nd.Peers()), connectedTo(p.nd, p.other.ID()))
		}
		if p.slots != 1 {
			t.Errorf("%s has %d slots taken, want 1 (the transient connection takes none)", p.nd.ID().Short(), p.slots)
		}
		if n := len(p.nd.transientConns()); n != 1 {
			t.Errorf("%s has %d transient connections, want 1", p.nd.ID().Short(), n)
		}
	}
	clk.Advance(TransientIdleTimeout - time.Second)
	if len(a.transientConns()) != 1 || len(b.transientConns()) != 1 {
		t.Fatal("a transient connection closed before TransientIdleTimeout")
	}
	clk.Advance(time.Second)
	testutil.Eventually(t, 10*time.Second, "the idle transient connection to close on both sides", func() bool {
		return len(a.transientConns()) == 0 && len(b.transientConns()) == 0
	})
}

// TestDHTTransientOnlyDHT: anything but DHT traffic on a transient
// connection is a protocol violation that closes it.
func TestDHTTransientOnlyDHT(t *testing.T) {
	b := startNode(t, dhtConfig(t, 0, DHTServer, nil))
	a := startNode(t, dhtConfig(t, 1, DHTServer, nil))
	req, err := (&dht.Message{Type: dht.MsgPing}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (dhtTransport{a}).Request(t.Context(), b.ListenAddr(), req); err != nil {
		t.Fatal(err)
	}
	pc := a.transientFor(b.ID())
	if pc == nil {
		t.Fatal("no transient connection after the query")
	}
	topic := testTopics()[0].ID
	if err := pc.mc.TrySend(topic, append([]byte{kindDirect}, "hello"...)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the violation to be counted and the connection closed", func() bool {
		return b.Stats().Violations == 1 && len(b.transientConns()) == 0 && len(a.transientConns()) == 0
	})
}

// TestDHTTransientRefused: a DHT query's transient dial obeys the
// node's filters and bans like any dial, and is refused with the error
// naming why (ErrFiltered, ErrBanned) before it takes a transient slot:
// with the one slot held by an idle connection to c, a refused query
// dials nothing and evicts nothing, and the allowed query evicts c's.
func TestDHTTransientRefused(t *testing.T) {
	req, err := (&dht.Message{Type: dht.MsgPing}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name string
		deny bool // a rule denies b's /16
		ban  func(t *testing.T, a, b *Node)
		want error // nil: allowed
	}{
		{"allowed", false, nil, nil},
		{"denied by a filter rule", true, nil, ErrFiltered},
		{"peer ID banned", false, func(t *testing.T, a, b *Node) {
			if err := a.Ban(b.ID(), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
		}, ErrBanned},
		{"IP banned", false, func(t *testing.T, a, b *Node) {
			ap, _ := b.ListenAddr().AddrPort()
			if err := a.book.BanIP(ap.Addr(), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
		}, ErrBanned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startNode(t, dhtConfig(t, 3*i, DHTServer, nil))
			c := startNode(t, dhtConfig(t, 3*i+2, DHTServer, nil))
			ac := dhtConfig(t, 3*i+1, DHTServer, nil)
			ac.maxTransient = 1
			if tc.deny {
				ac.Filter.DenyCIDRs = []string{fmt.Sprintf("127.%d.0.0/16", 10+3*i)}
			}
			a := startNode(t, ac)
			if tc.ban != nil {
				tc.ban(t, a, b)
			}
			if _, err := (dhtTransport{a}).Request(t.Context(), c.ListenAddr(), req); err != nil {
				t.Fatalf("query to c, to fill the slot: %v", err)
			}
			_, err := dhtTransport{a}.Request(t.Context(), b.ListenAddr(), req)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("query: %v, want %v", err, tc.want)
			}
			st, want := a.DHTStats(), uint64(2)
			evicted, toC := uint64(1), false
			if tc.want != nil {
				want, evicted, toC = 1, 0, true
			}
			if st.TransientDials != want || st.TransientEvictions != evicted || (a.transientFor(c.ID()) != nil) != toC {
				t.Errorf("%d transient dials, %d evictions, connection to c kept %v; want %d, %d, %v",
					st.TransientDials, st.TransientEvictions, a.transientFor(c.ID()) != nil, want, evicted, toC)
			}
		})
	}
}

// heldHandler answers every request on the DHT topic of a client-mode
// node (which serves none of its own) at once, except those hold picks,
// which it holds until release is closed, saying on entered that one is
// being held.
func heldHandler(t *testing.T, nd *Node, hold func(from crypto.ID) bool, entered chan<- crypto.ID, release <-chan struct{}) {
	t.Helper()
	if err := nd.HandleRequests(DHTTopic, func(ctx context.Context, from crypto.ID, req []byte) ([]byte, error) {
		if hold(from) {
			entered <- from
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return []byte("pong"), nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTransientEvictOutbound: at its transient cap a node's next DHT
// query evicts its least recently used transient connection with no
// request in flight — not the oldest, not one a query holds — and is
// refused only when every one is busy; at most the cap are ever open.
func TestTransientEvictOutbound(t *testing.T) {
	const limit = 3
	clk := clock.NewFake()
	ac := dhtConfig(t, 40, DHTClient, nil)
	ac.maxTransient = limit
	onFakeClock(&ac, clk)
	a := startNode(t, ac)
	held := map[int]bool{0: true, 5: true, 6: true}
	entered := make(chan crypto.ID, 8)
	release := make(chan struct{})
	var ts []*Node
	for i := range 8 {
		c := dhtConfig(t, 41+i, DHTClient, nil)
		onFakeClock(&c, clk)
		nd := startNode(t, c)
		var answered atomic.Bool
		heldHandler(t, nd, func(crypto.ID) bool {
			return held[i] && !answered.Swap(true)
		}, entered, release)
		ts = append(ts, nd)
	}
	open := func(step string, want ...int) {
		t.Helper()
		got := a.openTransient(peerset.Outbound)
		if len(got) > limit {
			t.Fatalf("%s: %d transient connections open, over the cap of %d", step, len(got), limit)
		}
		var ids []int
		for i, nd := range ts {
			if a.transientFor(nd.ID()) != nil {
				ids = append(ids, i)
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("%s: transient connections to %v, want %v", step, ids, want)
		}
	}
	query := func(i int) error {
		clk.Advance(100 * time.Millisecond) // a distinct last use; refills the dial rate
		_, err := dhtTransport{a}.Request(t.Context(), ts[i].ListenAddr(), []byte{1})
		return err
	}
	mustQuery := func(i int) {
		t.Helper()
		if err := query(i); err != nil {
			t.Fatalf("query to %d: %v", i, err)
		}
	}
	errs := make(chan error, 3)
	hold := func(i int) {
		t.Helper()
		clk.Advance(100 * time.Millisecond)
		go func() {
			_, err := dhtTransport{a}.Request(t.Context(), ts[i].ListenAddr(), []byte{1})
			errs <- err
		}()
		if got := <-entered; got != a.ID() {
			t.Fatalf("held request from %s", got.Short())
		}
	}

	hold(0) // in flight until release
	mustQuery(1)
	mustQuery(2)
	open("at the cap", 0, 1, 2)
	mustQuery(3) // evicts 1: 0 is older but busy
	open("after the first eviction", 0, 2, 3)
	mustQuery(2) // reused: now 3 is the least recently used
	if got := a.DHTStats().TransientDials; got != 4 {
		t.Fatalf("%d transient dials, want 4 (the query to 2 reuses its connection)", got)
	}
	mustQuery(4) // evicts 3, not 2 (dialed before it, used after)
	open("after the second eviction", 0, 2, 4)
	hold(5) // evicts 2
	hold(6) // evicts 4
	open("all busy", 0, 5, 6)
	// With every slot busy a query waits for one, dialing nothing; one
	// whose context ends first fails as not sent, a local refusal.
	dials := a.DHTStats().TransientDials
	waiting := func(what string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, what, func() bool { return a.transientWaiters() == 1 })
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		_, err := dhtTransport{a}.Request(ctx, ts[7].ListenAddr(), []byte{1})
		errs <- err
	}()
	waiting("the query to 7 to wait for a slot")
	cancel()
	if err := <-errs; !errors.Is(err, dht.ErrNotSent) || !errors.Is(err, peerset.ErrTooManyPeers) {
		t.Fatalf("query with every transient connection busy until its context ended: %v, want not sent, too-many-peers", err)
	}
	open("after the query that gave up", 0, 5, 6)
	if got := a.DHTStats().TransientDials; got != dials {
		t.Fatalf("%d transient dials while every slot was busy, want %d", got, dials)
	}
	late := make(chan error, 1)
	go func() {
		_, err := dhtTransport{a}.Request(t.Context(), ts[7].ListenAddr(), []byte{1})
		late <- err
	}()
	waiting("the second query to 7 to wait for a slot")
	open("while the query to 7 waits", 0, 5, 6)
	if got := a.DHTStats().TransientEvictions; got != 4 {
		t.Errorf("%d evictions, want 4", got)
	}
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("held query: %v", err)
		}
	}
	if err := <-late; err != nil {
		t.Fatalf("query to 7 that waited for a slot: %v", err)
	}
	// It took the slot of whichever of 0, 5 and 6 ended first.
	var evicted int
	switch {
	case a.transientFor(ts[0].ID()) == nil:
		open("after the release", 5, 6, 7)
	case a.transientFor(ts[5].ID()) == nil:
		evicted = 5
		open("after the release", 0, 6, 7)
	default:
		evicted = 6
		open("after the release", 0, 5, 7)
	}
	if got := a.DHTStats().TransientEvictions; got != 5 {
		t.Errorf("%d evictions, want 5", got)
	}
	for _, i := range []int{1, 2, 3, 4, evicted} {
		testutil.Eventually(t, 10*time.Second, "an evicted connection to close at its far end", func() bool {
			return len(ts[i].transientConns()) == 0
		})
	}
}

// TestTransientEvictInbound: a node with peerset.MaxTransient inbound
// transient connections admits one more by evicting the least recently
// used with no request in flight; one whose request it is still handling
// stays.
func TestTransientEvictInbound(t *testing.T) {
	clk := clock.NewFake()
	bc := dhtConfig(t, 60, DHTClient, nil)
	onFakeClock(&bc, clk)
	b := startNode(t, bc)
	var as []*Node
	for i := range peerset.MaxTransient + 3 {
		c := dhtConfig(t, 61+i, DHTClient, nil)
		onFakeClock(&c, clk)
		as = append(as, startNode(t, c))
	}
	entered := make(chan crypto.ID, 1)
	release := make(chan struct{})
	heldHandler(t, b, func(from crypto.ID) bool { return from == as[0].ID() }, entered, release)
	inbound := func() map[crypto.ID]bool {
		m := map[crypto.ID]bool{}
		for _, pc := range b.openTransient(peerset.Inbound) {
			m[pc.id] = true
		}
		return m
	}
	errs := make(chan error, 1)
	go func() {
		_, err := dhtTransport{as[0]}.Request(t.Context(), b.ListenAddr(), []byte{1})
		errs <- err
	}()
	<-entered
	for i := 1; i < len(as); i++ {
		clk.Advance(100 * time.Millisecond)
		if _, err := (dhtTransport{as[i]}).Request(t.Context(), b.ListenAddr(), []byte{1}); err != nil {
			t.Fatalf("query %d of %d: %v", i, len(as), err)
		}
		open := inbound()
		if len(open) > peerset.MaxTransient {
			t.Fatalf("after query %d: %d inbound transient connections, over %d", i, len(open), peerset.MaxTransient)
		}
		if !open[as[0].ID()] {
			t.Fatalf("after query %d: the connection with a request in flight was evicted", i)
		}
		// Queries 1–15 fill the cap with 0's; from 16 on each evicts the
		// least recently used idle one: 1, then 2, ...
		for j := 1; j <= i; j++ {
			evicted := j <= i-peerset.MaxTransient+1
			if open[as[j].ID()] == evicted {
				t.Fatalf("after query %d: connection of %d open %v, want %v", i, j, open[as[j].ID()], !evicted)
			}
		}
	}
	if got, want := b.DHTStats().TransientEvictions, uint64(len(as)-peerset.MaxTransient); got != want {
		t.Errorf("%d evictions, want %d", got, want)
	}
	close(release)
	if err := <-errs; err != nil {
		t.Fatalf("held query: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "the evicted connections to close at the dialer", func() bool {
		return as[1].transientFor(b.ID()) == nil && as[2].transientFor(b.ID()) == nil && as[3].transientFor(b.ID()) == nil
	})
}

// TestTransientReuseClosedRetries: a query that reuses a transient
// connection which the far end closes before answering (as it does when
// it evicts that connection as idle at its cap while our next query is
// on its way) is asked again over a new dial and answered, so the DHT
// does not count a live node as failed.
func TestTransientReuseClosedRetries(t *testing.T) {
	a := startNode(t, dhtConfig(t, 60, DHTClient, nil))
	b := startNode(t, dhtConfig(t, 61, DHTClient, nil))
	entered := make(chan crypto.ID, 1)
	var calls atomic.Int32
	heldHandler(t, b, func(crypto.ID) bool { return calls.Add(1) == 2 }, entered, make(chan struct{}))
	if _, err := (dhtTransport{a}).Request(t.Context(), b.ListenAddr(), []byte{1}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	go func() {
		_, err := dhtTransport{a}.Request(t.Context(), b.ListenAddr(), []byte{1})
		errs <- err
	}()
	<-entered // the second query, on the reused connection, is at b
	trs := b.transientConns()
	if len(trs) != 1 {
		t.Fatalf("b has %d transient connections, want 1", len(trs))
	}
	trs[0].mc.Abort(mux.GoAwayTrimmed, "closed under the query")
	if err := <-errs; err != nil {
		t.Fatalf("query whose reused connection the far end closed: %v, want it asked again and answered", err)
	}
	if got, want := a.DHTStats().TransientDials, uint64(2); got != want || calls.Load() != 3 {
		t.Errorf("%d transient dials, %d requests at b; want %d and 3 (the query asked again over a new dial)", got, calls.Load(), want)
	}
}

// TestDHTQueryHeldByDialRate: a DHT query that the node's own dial rate
// holds until its context ends fails as not sent (dht.ErrNotSent), so the
// DHT does not count it against the queried node; one that reached the
// node and found nothing there does not.
func TestDHTQueryHeldByDialRate(t *testing.T) {
	req, err := (&dht.Message{Type: dht.MsgPing}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	b := startNode(t, dhtConfig(t, 30, DHTServer, nil))
	c := startNode(t, dhtConfig(t, 31, DHTServer, nil))
	ac := dhtConfig(t, 32, DHTServer, nil)
	ac.DialRate = 1.0 / 3600 // one dial, then none for an hour
	a := startNode(t, ac)
	if _, err := (dhtTransport{a}).Request(t.Context(), b.ListenAddr(), req); err != nil {
		t.Fatalf("the first query, within the rate: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = dhtTransport{a}.Request(ctx, c.ListenAddr(), req)
	if !errors.Is(err, dht.ErrNotSent) {
		t.Fatalf("a query held by our dial rate: %v, want dht.ErrNotSent", err)
	}
	if n := len(c.transientConns()); n != 0 {
		t.Fatalf("the held query reached c (%d transient connections)", n)
	}
	dead := c.ListenAddr()
	dead.ID = testIdentity(t, 33).ID() // c answers, but not as this ID
	ctx2, cancel2 := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel2()
	x := startNode(t, dhtConfig(t, 34, DHTServer, nil))
	if _, err := (dhtTransport{x}).Request(ctx2, dead, req); err == nil || errors.Is(err, dht.ErrNotSent) {
		t.Fatalf("a query to the wrong ID: %v, want a failure that is not ErrNotSent", err)
	}
}

// TestTransientWakeOnInboundEnd: with the one outbound slot held by a
// connection busy with the peer's request (which we serve), a query of
// ours waits for a slot; when that request ends, the query is woken, evicts
// the now idle connection and goes out. The clock the idle timers run on
// stands still, so nothing else could wake it before its deadline.
func TestTransientWakeOnInboundEnd(t *testing.T) {
	clk := clock.NewFake()
	node := func(i int) *Node {
		c := dhtConfig(t, i, DHTClient, nil)
		if i == 90 {
			c.maxTransient = 1
		}
		onFakeClock(&c, clk)
		return startNode(t, c)
	}
	a, x, y := node(90), node(91), node(92)
	never := func(crypto.ID) bool { return false }
	heldHandler(t, x, never, nil, nil)
	heldHandler(t, y, never, nil, nil)
	entered := make(chan crypto.ID, 1)
	release := make(chan struct{})
	heldHandler(t, a, func(from crypto.ID) bool { return from == x.ID() }, entered, release)
	if _, err := (dhtTransport{a}).Request(t.Context(), x.ListenAddr(), []byte{1}); err != nil {
		t.Fatalf("query to x: %v", err)
	}
	var back *peerConn // x's end of a's connection
	testutil.Eventually(t, 10*time.Second, "x to admit a's transient connection", func() bool {
		for _, pc := range x.openTransient(peerset.Inbound) {
			if pc.id == a.ID() {
				back = pc
			}
		}
		return back != nil
	})
	go func() { _, _ = x.requestOn(t.Context(), x.topics[DHTTopic], back, []byte{2}) }()
	if got := <-entered; got != x.ID() {
		t.Fatalf("held request from %s", got.Short())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	errs := make(chan error, 1)
	go func() {
		_, err := dhtTransport{a}.Request(ctx, y.ListenAddr(), []byte{1})
		errs <- err
	}()
	testutil.Eventually(t, 10*time.Second, "the query to y to wait for a slot", func() bool { return a.transientWaiters() == 1 })
	close(release)
	if err := <-errs; err != nil {
		t.Fatalf("query to y after x's request ended: %v", err)
	}
	if a.transientFor(y.ID()) == nil || a.DHTStats().TransientEvictions != 1 {
		t.Fatalf("connection to y %v, %d evictions; want the connection and 1", a.transientFor(y.ID()) != nil, a.DHTStats().TransientEvictions)
	}
}

// TestBanClosesTransient: a ban of a peer we hold a transient connection
// to (by ID, by address, for its score) closes that connection with goaway
// "banned", as it closes a set peer's, and the next query does not reuse
// it: it is refused like any dial to a banned peer.
func TestBanClosesTransient(t *testing.T) {
	req, err := (&dht.Message{Type: dht.MsgPing}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		name string
		ban  func(t *testing.T, a, b *Node)
	}{
		{"Ban", func(t *testing.T, a, b *Node) {
			if err := a.Ban(b.ID(), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
		}},
		{"BanIP", func(t *testing.T, a, b *Node) {
			ap, _ := b.ListenAddr().AddrPort()
			if err := a.BanIP(netip.PrefixFrom(ap.Addr(), 32), time.Hour, "test"); err != nil {
				t.Fatal(err)
			}
		}},
		{"score", func(t *testing.T, a, b *Node) {
			a.Report(b.ID(), peerset.MinScore, "test")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startNode(t, dhtConfig(t, 70+2*i, DHTServer, nil))
			a := startNode(t, dhtConfig(t, 71+2*i, DHTServer, nil))
			if _, err := (dhtTransport{a}).Request(t.Context(), b.ListenAddr(), req); err != nil {
				t.Fatal(err)
			}
			tp := a.transientFor(b.ID())
			if tp == nil {
				t.Fatal("no transient connection after the query")
			}
			tc.ban(t, a, b)
			if a.transientFor(b.ID()) != nil {
				t.Fatal("the banned peer's transient connection is still offered for queries")
			}
			<-tp.mc.Done()
			var ge *mux.GoAwayError
			if err := tp.mc.Err(); !errors.As(err, &ge) || ge.Code != mux.GoAwayBanned {
				t.Fatalf("transient connection ended with %v, want our goaway %q", err, mux.GoAwayBanned)
			}
			if _, err := (dhtTransport{a}).Request(t.Context(), b.ListenAddr(), req); err == nil {
				t.Fatal("a query to the banned peer succeeded")
			}
			if got := a.DHTStats().TransientDials; got != 1 {
				t.Fatalf("%d transient dials, want 1: the query after the ban must not dial", got)
			}
		})
	}
}
