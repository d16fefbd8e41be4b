package p2p

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
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
