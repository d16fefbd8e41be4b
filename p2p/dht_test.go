package p2p

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerbook"
)

// dhtConfig is a quiet loopback node with the DHT on, listening on its
// own 127.x.0.1 (its own /16, and dialing from it), so the DHT's
// diversity bounds, which exempt nothing by default, do not bind.
func dhtConfig(t testing.TB, i int, mode DHTMode, boot *Node) Config {
	cfg := quietConfig(t, 600+i)
	ip := fmt.Sprintf("127.%d.0.1", 10+i)
	cfg.ListenAddr = ip + ":0"
	cfg.DialLocalIP = netip.MustParseAddr(ip)
	cfg.DHT = DHTConfig{Mode: mode}
	if boot != nil {
		cfg.Bootstrap = []string{boot.ListenAddr().String()}
	}
	return cfg
}

var (
	dhtLoopbackNodes   = flag.Int("dht-loopback-nodes", 8, "DHT servers in TestDHTLoopback, at most 240 (make dht-200-loopback runs 200)")
	dhtLoopbackLookups = flag.Int("dht-loopback-lookups", 100, "random lookups in TestDHTLoopback")
)

// TestDHTLoopback runs n DHT servers on loopback TCP (8, -dht-loopback-nodes
// for more), each knowing only node 0, and a client, with no other
// discovery. It checks what the in-memory TestNetwork (discovery/dht)
// checks: every table holds its node's k closest servers, computed from
// all IDs; random lookups (-dht-loopback-lookups) return the true k
// closest in at least 99% of cases; the median lookup takes at most
// log2(n) hops. And that the client enters no table, what lookups found
// reaches the books as source dht, and the query connections close.
func TestDHTLoopback(t *testing.T) {
	n := *dhtLoopbackNodes
	if n < 2 || n > 240 {
		t.Fatalf("-dht-loopback-nodes %d: want 2 to 240 (each node takes its own 127.x.0.1)", n)
	}
	start := time.Now()
	bc := dhtConfig(t, 0, DHTServer, nil)
	bc.Peers.MaxInbound = n + 1 // the one bootstrap node takes every fill link
	bc.DialRate = 1000
	nodes := []*Node{startNode(t, bc)}
	for i := 1; i < n; i++ {
		cfg := dhtConfig(t, i, DHTServer, nodes[0])
		// A lookup dials most of the ~20 nodes it asks: the default
		// DialRate (10/s) would make each take 2 s.
		cfg.DialRate = 1000
		nodes = append(nodes, startNode(t, cfg))
	}
	client := startNode(t, dhtConfig(t, n, DHTClient, nodes[0]))
	ids := make([]crypto.ID, n)
	for i, nd := range nodes {
		ids[i] = nd.ID()
	}
	missing := func(nd *Node) int {
		m := 0
		for _, id := range closestIDs(ids, nd.ID(), nd.ID(), dht.BucketSize) {
			if !nd.DHT().Table().Contains(id) {
				m++
			}
		}
		return m
	}
	// Progress every 10 s from its own goroutine, so a slow round of
	// refreshes below cannot hide it: a failing large run shows whether
	// the tables converge slowly or stall.
	stopLog := make(chan struct{})
	var logged sync.WaitGroup
	logged.Add(1)
	go func() {
		defer logged.Done()
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		var dials uint64
		for {
			select {
			case <-stopLog:
				return
			case <-tick.C:
			}
			short, lacking, d := 0, 0, uint64(0)
			var queries, failed, notSent uint64
			sizes := make([]int, 0, n)
			for _, nd := range nodes {
				if m := missing(nd); m > 0 {
					short++
					lacking += m
				}
				sizes = append(sizes, nd.DHT().Table().Len())
				st := nd.DHTStats()
				d += st.TransientDials
				queries, failed, notSent = queries+st.Queries, failed+st.QueryFailures, notSent+st.NotSent
			}
			slices.Sort(sizes)
			t.Logf("after %v: %d tables short of their %d closest, %d entries missing in all; table sizes min %d median %d; %.0f transient dials/s; %d queries, %d failed (%d not sent)",
				time.Since(start).Round(time.Second), short, dht.BucketSize, lacking, sizes[0], sizes[n/2], float64(d-dials)/10, queries, failed, notSent)
			dials = d
		}
	}()
	stop := sync.OnceFunc(func() { close(stopLog); logged.Wait() })
	defer stop() // also when the wait below fails the test
	// The deadline grows with n: the tables of the nodes that joined
	// first, when the network was small, fill mostly from the refreshes
	// below (their own refresh is 10 minutes away), run two at a time on
	// this 2-core machine, and each refresh is some ten lookups of ~20
	// queries, most over a new transient connection (a handshake each).
	// At 200 nodes, at a load average of 5-12, they filled in 114-174 s;
	// 2 s per node leaves room for a loaded machine, and the log above
	// tells a slow fill from a stall.
	testutil.Eventually(t, time.Duration(2*n)*time.Second, "every table to hold its node's k closest servers", func() bool {
		var short []*Node
		for _, nd := range nodes {
			if missing(nd) > 0 {
				short = append(short, nd)
			}
		}
		// Tables fill by bootstrap, revalidation and refresh; a refresh
		// of the tables still short speeds it.
		inParallel(short, func(nd *Node) { nd.DHT().Refresh(t.Context()) })
		return len(short) == 0
	})
	stop()
	built := time.Since(start)
	for _, nd := range nodes {
		if nd.DHT().Table().Known(client.ID()) {
			t.Errorf("%s holds the client in its table", nd.ID().Short())
		}
	}
	found, _ := client.DHT().Lookup(t.Context(), nodes[3%n].ID())
	if want := min(n, dht.BucketSize); len(found) != want || found[0].ID != nodes[3%n].ID() {
		t.Fatalf("client lookup found %d records (first %v), want %d starting with the target", len(found), found, want)
	}

	// Random lookups from random servers, a few at a time.
	rng := rand.New(rand.NewPCG(1, 2))
	type job struct {
		nd     *Node
		target crypto.ID
	}
	jobs := make([]job, *dhtLoopbackLookups)
	for i := range jobs {
		jobs[i].nd = nodes[rng.IntN(n)]
		for j := range jobs[i].target {
			jobs[i].target[j] = byte(rng.Uint32())
		}
	}
	var mu sync.Mutex
	exact, queries, failures := 0, 0, 0
	var hops []int
	var took []time.Duration
	lookStart := time.Now()
	inParallel(jobs, func(j job) {
		t0 := time.Now()
		found, st := j.nd.DHT().Lookup(t.Context(), j.target)
		d := time.Since(t0)
		want := closestIDs(ids, j.nd.ID(), j.target, dht.BucketSize)
		got := make([]crypto.ID, len(found))
		for i, r := range found {
			got[i] = r.ID
		}
		mu.Lock()
		defer mu.Unlock()
		if slices.Equal(got, want) {
			exact++
		}
		hops = append(hops, st.Hops)
		took = append(took, d)
		queries += st.Queries
		failures += st.Failures
	})
	lookTime := time.Since(lookStart)
	slices.Sort(hops)
	slices.Sort(took)
	if len(jobs) > 0 {
		median := hops[len(hops)/2]
		t.Logf("%d nodes on loopback TCP: tables built in %v; %d lookups in %v: %d exact, median hops %d, %.1f queries (%.1f failed) per lookup, lookup latency median %v p90 %v",
			n, built.Round(time.Millisecond), len(jobs), lookTime.Round(time.Millisecond), exact, median,
			float64(queries)/float64(len(jobs)), float64(failures)/float64(len(jobs)),
			took[len(took)/2].Round(time.Microsecond), took[len(took)*9/10].Round(time.Microsecond))
		if exact*100 < len(jobs)*99 {
			t.Errorf("%d of %d lookups returned the true %d closest, want at least 99%%", exact, len(jobs), dht.BucketSize)
		}
		if float64(median) > math.Log2(float64(n)) {
			t.Errorf("median hops %d, want at most log2(%d) = %.1f", median, n, math.Log2(float64(n)))
		}
	}

	// The books learn the servers from lookups (a self-lookup finds its
	// neighbourhood) and from PEX (each node's first link, to node 0,
	// asks it); a query's transient connection teaches the book nothing.
	inParallel(nodes, func(nd *Node) { nd.DHT().Lookup(t.Context(), nd.ID()) })
	fromDHT := 0
	for _, nd := range append(nodes, client) {
		if n <= dht.BucketSize {
			for _, other := range nodes {
				if _, ok := nd.book.Get(other.ID()); !ok && other != nd {
					t.Errorf("%s's book lacks %s", nd.ID().Short(), other.ID().Short())
				}
			}
		}
		for _, e := range nd.book.Entries() {
			if e.Source.Kind == peerbook.SourceDHT {
				fromDHT++
			}
			// A query's dial must not make its address the operator's word.
			if e.Source.Kind == peerbook.SourceManual {
				t.Errorf("%s's book has %s as a manual entry", nd.ID().Short(), e.Addr)
			}
		}
	}
	if fromDHT == 0 {
		t.Error("no book entry has source dht")
	}
	st := client.DHTStats()
	if st.Mode != "client" || st.Lookups == 0 || st.TransientDials == 0 {
		t.Errorf("client DHT stats %+v", st)
	}
	// Only the links the fill service made (each node to node 0) stay.
	testutil.Eventually(t, 10*time.Second, "the query connections to close", func() bool {
		for _, nd := range append(nodes[1:], client) {
			if s := nd.Stats(); s.Outbound > 1 {
				return false
			}
		}
		return true
	})
}

// closestIDs returns the k IDs of ids closest to target, leaving out self.
func closestIDs(ids []crypto.ID, self, target crypto.ID, k int) []crypto.ID {
	out := slices.DeleteFunc(slices.Clone(ids), func(id crypto.ID) bool { return id == self })
	dht.SortByDistance(target, out)
	return out[:min(k, len(out))]
}

// inParallel runs f for each item, as many at a time as there are CPUs.
func inParallel[T any](items []T, f func(T)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(it)
		}()
	}
	wg.Wait()
}

// TestDHTInboundOnlyNeverEnters: a DHT server that dialed us and sends a
// FIND_NODE with its record becomes a candidate, pinged over a connection
// we dial to its record's address, never over its own inbound one. It
// enters our table when that address answers, and never when nothing
// listens there, though its inbound connection stays up.
func TestDHTInboundOnlyNeverEnters(t *testing.T) {
	for i, tc := range []struct {
		name  string
		dead  bool // advertise an address nobody listens on
		enter bool
	}{
		{"advertises an address nobody listens on", true, false},
		{"advertises its listen address", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startNode(t, dhtConfig(t, 4*i, DHTServer, nil))
			hc := dhtConfig(t, 4*i+1, DHTServer, nil)
			if tc.dead {
				l, err := net.Listen("tcp", fmt.Sprintf("127.%d.0.1:0", 10+4*i+2))
				if err != nil {
					t.Fatal(err)
				}
				hc.AdvertiseAddrs = []string{l.Addr().String()}
				l.Close()
			}
			h := startNode(t, hc)
			dial(t, h, a) // inbound at a
			req, err := (&dht.Message{Type: dht.MsgFindNode, Target: h.ID(), Self: h.DHT().Self().Bytes()}).Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.Request(t.Context(), a.ID(), DHTTopic, req); err != nil {
				t.Fatal(err)
			}
			// Handle starts the candidate's ping before it answers.
			testutil.Eventually(t, 10*time.Second, "a's ping of the candidate to end", func() bool {
				return a.DHTStats().Queries >= 1 && a.DHT().Verifying() == 0
			})
			st := a.DHTStats()
			c, entered := a.DHT().Table().Get(h.ID())
			if entered != tc.enter {
				t.Fatalf("h in a's table: %v (at %v), want %v; h advertises %v; a's stats %+v", entered, c.Addr, tc.enter, h.DHT().Self().Addrs, st)
			}
			if ap, _ := h.ListenAddr().AddrPort(); entered && c.Addr != ap {
				t.Errorf("h entered at %v, want its listen address %v", c.Addr, h.ListenAddr())
			}
			wantFails, wantDials := uint64(1), uint64(0)
			if tc.enter {
				wantFails, wantDials = 0, 1
			}
			if st.QueryFailures != wantFails || st.TransientDials != wantDials {
				t.Errorf("a's ping: %d failures, %d transient dials; want %d, %d", st.QueryFailures, st.TransientDials, wantFails, wantDials)
			}
			if !connectedTo(a, h.ID()) {
				t.Error("h's inbound connection to a is gone")
			}
		})
	}
}

// TestDHTPlainBootstrap: a DHT client whose only bootstrap entry is a
// plain host:port (no ID), or the ID@host:port form, starts its table
// from it once connected: the fill's dial pins the ID, the bootstrap
// answers, and a lookup finds the rest of the network.
func TestDHTPlainBootstrap(t *testing.T) {
	for i, tc := range []struct {
		name string
		boot func(a *Node) string
	}{
		{"host:port", func(a *Node) string { ap, _ := a.ListenAddr().AddrPort(); return ap.String() }},
		{"ID@host:port", func(a *Node) string { return a.ListenAddr().String() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startNode(t, dhtConfig(t, 3*i, DHTServer, nil))
			b := startNode(t, dhtConfig(t, 3*i+1, DHTServer, a))
			testutil.Eventually(t, 20*time.Second, "b in a's table", func() bool { return a.DHT().Table().Contains(b.ID()) })
			cc := dhtConfig(t, 3*i+2, DHTClient, nil)
			cc.Bootstrap = []string{tc.boot(a)}
			cc.FillInterval = 100 * time.Millisecond
			c := startNode(t, cc)
			testutil.Eventually(t, 20*time.Second, "c connected to a", func() bool { return connectedTo(c, a.ID()) })
			if !c.DHT().Bootstrap(t.Context()) {
				t.Fatalf("no bootstrap node answered; c's DHT stats %+v", c.DHTStats())
			}
			found, _ := c.DHT().Lookup(t.Context(), b.ID())
			if len(found) != 2 || found[0].ID != b.ID() {
				t.Fatalf("lookup of b found %d records (%v), want b and a", len(found), found)
			}
			if !c.DHT().Table().Contains(a.ID()) {
				t.Error("the bootstrap node is not in c's table")
			}
		})
	}
}

// TestDHTNetworksIsolated checks that a node of another network never
// enters a DHT table, though it bootstraps from this network's node.
func TestDHTNetworksIsolated(t *testing.T) {
	a := startNode(t, dhtConfig(t, 0, DHTServer, nil))
	a1 := startNode(t, dhtConfig(t, 1, DHTServer, a))
	cfg := dhtConfig(t, 2, DHTServer, a)
	cfg.NetworkID = "other"
	b := startNode(t, cfg)
	testutil.Eventually(t, 20*time.Second, "a1 to enter a's table", func() bool { return a.DHT().Table().Contains(a1.ID()) })
	b.DHT().Bootstrap(t.Context())
	if b.DHT().Table().Len() != 0 || a.DHT().Table().Known(b.ID()) {
		t.Fatalf("networks mixed: b's table %d, a knows b %v", b.DHT().Table().Len(), a.DHT().Table().Known(b.ID()))
	}
}

// TestDHTConfig checks that the DHT is off by default, declares its
// topic when on, and that an application topic on its ID is refused.
func TestDHTConfig(t *testing.T) {
	n, err := New(quietConfig(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if n.topics[DHTTopic] != nil || n.DHTStats().Mode != "off" {
		t.Error("the DHT is on by default")
	}
	n.closeStores()
	cfg := quietConfig(t, 2)
	cfg.DHT.Mode = DHTAuto
	cfg.Topics = append(cfg.Topics, TopicConfig{})
	cfg.Topics[len(cfg.Topics)-1].ID = DHTTopic
	cfg.Topics[len(cfg.Topics)-1].Name = "mine"
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "Topics[3].ID: 254") {
		t.Errorf("topic 254 with the DHT on: %v", err)
	}
	cfg.DHT.Mode = DHTOff // reserved all the same
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "Topics[3].ID: 254") {
		t.Errorf("topic 254 with the DHT off: %v", err)
	}
	if _, err := ParseDHTMode("sever"); err == nil {
		t.Error("ParseDHTMode took a typo")
	}
}

// TestDHTMalformedRequest checks that a malformed DHT request is refused
// and counted as a malformed message of the peer.
func TestDHTMalformedRequest(t *testing.T) {
	a := startNode(t, dhtConfig(t, 0, DHTServer, nil))
	b := startNode(t, dhtConfig(t, 1, DHTServer, nil))
	dial(t, b, a)
	before := a.Stats().Malformed
	_, err := b.Request(t.Context(), a.ID(), DHTTopic, []byte{0x09, 1, 2})
	var re *RequestError
	if !errors.As(err, &re) || re.Code != RequestRefused || !re.Remote {
		t.Fatalf("malformed request answered %v, want a refusal", err)
	}
	testutil.Eventually(t, 5*time.Second, "the malformed count", func() bool { return a.Stats().Malformed > before })
	if got := a.DHTStats().BadRequests; got != 1 {
		t.Errorf("BadRequests %d, want 1", got)
	}
}

// TestDHTGroupBitsFromBook: the DHT table's per-group cap groups IPv4
// addresses as the book is configured to (Book.IPv4GroupBits), not by a
// fixed /16: 40 entries in 40 /16s of one /8 all enter by default, 16
// (dht.DefaultPerTableGroup) with 8-bit groups.
func TestDHTGroupBitsFromBook(t *testing.T) {
	for i, tc := range []struct{ bits, want int }{{0, 40}, {8, dht.DefaultPerTableGroup}} {
		cfg := dhtConfig(t, 100+i, DHTServer, nil)
		cfg.Book.IPv4GroupBits = tc.bits
		nd := startNode(t, cfg)
		tb := nd.DHT().Table()
		for k := range 40 {
			rec := &dht.Record{ID: dht.RandomIDInBucket(nd.ID(), k%4), Roles: dht.RoleServer}
			tb.Add(rec, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(k), 3, 4}), 4000), time.Now())
		}
		if got := tb.Len(); got != tc.want {
			t.Errorf("IPv4GroupBits %d: %d entries, want %d", tc.bits, got, tc.want)
		}
	}
}
