package p2p

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestSeedMode: a seed crawls — with one outbound slot it still reaches
// every address it learns by PEX, because it drops each outbound peer once
// that peer has answered —, answers an inbound peer's PEX request and then
// closes that connection, and keeps no peer that never asks for longer
// than seedLinger on its own clock. An ordinary node with one slot stays
// on its first peer, keeps an inbound peer that asked, and never drops an
// idle one.
func TestSeedMode(t *testing.T) {
	// a knows the others, which dialed it; the seed knows only a. All are
	// on 127.0.0.1, one network group, so an address may lose its book
	// slot to another: the crawl is judged on the addresses the seed holds.
	a := startNode(t, quietConfig(t, 1401))
	subs := map[crypto.ID]*Subscription{}
	for i := 0; i < 3; i++ {
		o := startNode(t, quietConfig(t, 1402+i))
		subs[o.ID()] = o.Subscribe()
		dial(t, o, a)
	}

	clk := clock.NewFake()
	cfg := testConfig(t, 1400)
	cfg.SeedMode = true
	onFakeClock(&cfg, clk)
	cfg.Peers.MaxOutbound = 1
	cfg.PexInterval = time.Hour // only the crawl asks for addresses
	cfg.DialRate = 1e6          // on the fake clock, which stands still
	cfg.Bootstrap = []string{a.ListenAddr().String()}
	seed := startNode(t, cfg)

	t.Run("crawls", func(t *testing.T) {
		learned := func() []crypto.ID {
			var ids []crypto.ID
			for _, e := range seed.BookEntries() {
				if subs[e.Addr.ID] != nil {
					ids = append(ids, e.Addr.ID)
				}
			}
			return ids
		}
		testutil.Eventually(t, 20*time.Second, "the seed learning addresses from a", func() bool { return len(learned()) > 0 })
		for _, id := range learned() {
			waitEvent(t, subs[id], 20*time.Second, "the seed connecting to "+id.Short(), func(e Event) bool {
				return e.Kind == EventConnected && e.Peer == seed.ID()
			})
		}
	})

	t.Run("answers PEX, then closes", func(t *testing.T) {
		p, err := dialRaw(t, seed, testIdentity(t, 1404), "")
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "raw peer admitted", func() bool { return connectedTo(seed, p.id.ID()) })
		req, err := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Request{Request: &pb.PexRequest{Max: 32}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.mc.Send(context.Background(), PexTopic, req); err != nil {
			t.Fatal(err)
		}
		if r := waitPex(t, p).GetResponse(); len(r.GetAddrs()) == 0 {
			t.Fatalf("request not answered with addresses: %v", r)
		}
		if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayShutdown || !strings.Contains(ge.Text, "seed") {
			t.Fatalf("after answering, the seed closed with %v", ge)
		}
	})

	t.Run("drops an idle peer after its linger", func(t *testing.T) {
		p, err := dialRaw(t, seed, testIdentity(t, 1405), "")
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "raw peer admitted", func() bool { return connectedTo(seed, p.id.ID()) })
		clk.Advance(seedLinger - time.Second)
		if dropped := seed.seedSweep(clk.Now()); len(dropped) != 0 {
			t.Fatalf("%d peers dropped before their linger", len(dropped))
		}
		clk.Advance(time.Second)
		// The maintain service sweeps on its own within MaintainInterval.
		select {
		case <-p.mc.Done():
		case <-time.After(5 * time.Second): // many sweeps; far less than seedLinger of real time
			t.Fatal("idle peer kept after its linger")
		}
		if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayShutdown || !strings.Contains(ge.Text, "seed") {
			t.Fatalf("idle peer dropped with %v", ge)
		}
	})
}

// TestSeedHeldBack: a seed whose visit taught the node no new address is
// left out of the fill, from the book's picks and from the fallback to the
// bootstrap list alike, whether its bootstrap address names its ID or not:
// for FillInterval after one such visit, twice that after the next. A
// visit that teaches an address leaves the seed free to be asked again.
func TestSeedHeldBack(t *testing.T) {
	const every = time.Minute
	for i, tc := range []struct {
		name         string
		plain, teach bool
	}{
		{name: "ID@host:port"},
		{name: "host:port", plain: true},
		{name: "a visit that teaches", teach: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scfg := quietConfig(t, 1410+10*i)
			scfg.SeedMode = true
			seed := startNode(t, scfg)
			if tc.teach {
				c := startNode(t, quietConfig(t, 1411+10*i)).ListenAddr()
				if err := seed.book.Add(c, peerbook.Source{Kind: peerbook.SourceManual}); err != nil {
					t.Fatal(err)
				}
				if err := seed.book.MarkSuccess(c); err != nil { // dialed: the seed may share it
					t.Fatal(err)
				}
			}
			boot := seed.ListenAddr().String()
			if tc.plain {
				boot = seed.ListenAddr().HostPort()
			}
			clk := clock.NewFake()
			cfg := quietConfig(t, 1412+10*i)
			onFakeClock(&cfg, clk)
			cfg.serviceClock = clock.NewFake() // the fill runs at Start and when the test says
			cfg.FillInterval = every
			cfg.DialRate = 1e6 // on the fake clock, which stands still
			cfg.Bootstrap = []string{boot}
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			sub := a.Subscribe()
			defer sub.Cancel()
			if err := a.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Stop(context.Background()) })

			visits := 0
			visit := func() { // the seed answers, then hangs up
				t.Helper()
				if visits > 0 {
					a.fill()
				}
				visits++
				waitEvent(t, sub, 10*time.Second, fmt.Sprintf("the end of visit %d to the seed", visits), func(e Event) bool {
					return e.Kind == EventDisconnected && e.Peer == seed.ID()
				})
				if d := a.Stats().Dials; d != uint64(visits) {
					t.Fatalf("%d dials after %d visits", d, visits)
				}
			}
			picked := func() bool {
				picks, _ := a.fillPicks()
				return slices.ContainsFunc(picks, func(p crypto.Address) bool { return p.ID == seed.ID() || p.String() == boot })
			}
			visit() // the first fill, in Start
			if tc.teach {
				if a.Stats().PexAdded == 0 {
					t.Fatal("the seed's answer taught nothing")
				}
				if !picked() {
					t.Fatal("a seed that taught an address is held back")
				}
				return
			}
			for _, hold := range []time.Duration{every, 2 * every} {
				if picked() {
					t.Fatalf("visit %d taught nothing, yet the seed is picked at once", visits)
				}
				clk.Advance(hold - time.Second)
				if picked() {
					t.Fatalf("visit %d: the seed picked before its hold of %v ended", visits, hold)
				}
				clk.Advance(time.Second)
				if !picked() {
					t.Fatalf("visit %d: the seed not picked once its hold of %v ended", visits, hold)
				}
				visit()
			}
		})
	}
}
