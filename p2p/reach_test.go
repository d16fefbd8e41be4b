package p2p

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// askPex sends a PEX request from the raw peer and returns the IDs of the
// answer.
func askPex(t *testing.T, p *rawPeer) map[crypto.ID]string {
	t.Helper()
	b, err := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Request{Request: &pb.PexRequest{Max: 32}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.mc.Send(context.Background(), PexTopic, b); err != nil {
		t.Fatal(err)
	}
	resp := waitPex(t, p).GetResponse()
	if resp == nil {
		t.Fatal("PEX request not answered")
	}
	out := map[crypto.ID]string{}
	for _, pa := range resp.GetAddrs() {
		id, err := crypto.IDFromBytes(pa.GetId())
		if err != nil {
			t.Fatal(err)
		}
		out[id] = pa.GetHost()
	}
	return out
}

// TestPexUnverifiedInbound: the address an inbound peer advertises enters
// the hub's book unverified and is not in the hub's PEX answers until the
// hub has dialed it successfully: by a dial-back right after the peer
// connected, when the address is at the connection's own IP (the
// connection stays as it was), or by an ordinary dial otherwise. An
// address nobody answers at stays out; an address at another IP than the
// connection's is never dialed back.
func TestPexUnverifiedInbound(t *testing.T) {
	clk := clock.NewFake()
	cfg := quietConfig(t, 1600)
	onFakeClock(&cfg, clk)
	// One group per IP: the peers here, all in 127.0/16, would otherwise
	// share one new-table bucket and could lose a slot to each other.
	cfg.Book.IPv4GroupBits = 32
	hub := startNode(t, cfg)
	events := hub.Subscribe()
	defer events.Cancel()
	connected := func(id crypto.ID) {
		t.Helper()
		waitEvent(t, events, 10*time.Second, "hub admits "+id.Short(), func(e Event) bool {
			return e.Kind == EventConnected && e.Peer == id
		})
	}

	// elsewhere listens on 127.0.0.1 but dials from 127.0.0.3: no dial-back.
	ecfg := quietConfig(t, 1601)
	ecfg.DialLocalIP = netip.MustParseAddr("127.0.0.3")
	elsewhere := startNode(t, ecfg)
	dial(t, elsewhere, hub)
	// honest listens and dials on 127.0.0.4: dialed back at once.
	hcfg := quietConfig(t, 1602)
	hcfg.ListenAddr = "127.0.0.4:0"
	hcfg.DialLocalIP = netip.MustParseAddr("127.0.0.4")
	honest := startNode(t, hcfg)
	dial(t, honest, hub)
	// liar advertises a port of its own IP where nothing listens.
	liarID := testIdentity(t, 1603)
	if _, err := dialRawAdvertising(t, hub, liarID, "127.0.0.5", []string{liarID.ID().String() + "@127.0.0.5:9"}); err != nil {
		t.Fatal(err)
	}
	connected(liarID.ID())
	// aimer advertises a third party's address: never dialed back.
	third, err := net.Listen("tcp", "127.0.0.7:0")
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	var thirdHits atomic.Int32
	go func() {
		for {
			c, err := third.Accept()
			if err != nil {
				return
			}
			thirdHits.Add(1)
			c.Close()
		}
	}()
	before := hub.reach.dialBacks.Load()
	aimerID := testIdentity(t, 1604)
	if _, err := dialRawAdvertising(t, hub, aimerID, "127.0.0.6", []string{aimerID.ID().String() + "@" + third.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	connected(aimerID.ID()) // the hub has stored the advert and decided about a dial-back
	if n := hub.reach.dialBacks.Load(); n != before {
		t.Fatalf("a dial-back to another IP than the connection's was started (%d → %d)", before, n)
	}
	asker, err := dialRaw(t, hub, testIdentity(t, 1605), "")
	if err != nil {
		t.Fatal(err)
	}
	connected(asker.id.ID())

	remoteAtHub := func() string { p, _ := hub.Peer(honest.ID()); return p.Remote }()
	testutil.Eventually(t, 10*time.Second, "honest verified by a dial-back", func() bool {
		e, ok := hub.book.Get(honest.ID())
		return ok && !e.Unverified && hub.reach.verified.Load() == 1
	})
	for id, want := range map[crypto.ID]bool{elsewhere.ID(): true, liarID.ID(): true, aimerID.ID(): true} {
		if e, ok := hub.book.Get(id); !ok || e.Unverified != want {
			t.Fatalf("%s in the hub's book: %v, unverified %v, want unverified %v", id.Short(), ok, e.Unverified, want)
		}
	}
	got := askPex(t, asker)
	if _, ok := got[honest.ID()]; !ok {
		t.Fatalf("address verified by a dial-back not shared: %v", got)
	}
	for _, id := range []crypto.ID{elsewhere.ID(), liarID.ID(), aimerID.ID()} {
		if _, ok := got[id]; ok {
			t.Fatalf("unverified address of %s shared: %v", id.Short(), got)
		}
	}
	if p, _ := hub.Peer(honest.ID()); p.Remote != remoteAtHub || !connectedTo(honest, hub.ID()) {
		t.Fatalf("the dial-back disturbed the connection: remote %q, was %q", p.Remote, remoteAtHub)
	}
	if n := thirdHits.Load(); n != 0 {
		t.Fatalf("the third party was dialed %d times", n)
	}

	// The hub dials elsewhere as a book entry: verified, then shared.
	if err := hub.Disconnect(elsewhere.ID(), "test: dial it"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "elsewhere disconnected", func() bool {
		return !connectedTo(hub, elsewhere.ID()) && !connectedTo(elsewhere, hub.ID())
	})
	if _, err := hub.Dial(context.Background(), elsewhere.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	if e, _ := hub.book.Get(elsewhere.ID()); e.Unverified {
		t.Fatal("a successful dial left the address unverified")
	}
	clk.Advance(time.Minute) // past PexAnswerInterval
	got = askPex(t, asker)
	if host, ok := got[elsewhere.ID()]; !ok || host != "127.0.0.1" {
		t.Fatalf("dialed address not shared: %v", got)
	}
	if _, ok := got[liarID.ID()]; ok {
		t.Fatalf("address that failed its dial-back shared: %v", got)
	}
}

// TestAdvertPrefersConnectionIP: of the addresses an inbound peer
// advertises (one per listener of a dual-stack node, say), the book keeps
// the one at the IP the peer connects from, the only one a dial-back may
// verify; otherwise the first.
func TestAdvertPrefersConnectionIP(t *testing.T) {
	cfg := quietConfig(t, 1650)
	cfg.Book.IPv4GroupBits = 32 // as in TestPexUnverifiedInbound: no slot collisions
	hub := startNode(t, cfg)
	for i, tt := range []struct {
		local    string
		adverts  []string
		wantHost string
	}{
		{"127.0.0.51", []string{"127.0.0.50:9", "127.0.0.51:9"}, "127.0.0.51"},
		{"127.0.0.52", []string{"127.0.0.53:9", "127.0.0.54:9"}, "127.0.0.53"},
	} {
		id := testIdentity(t, 1651+i)
		var adverts []string
		for _, a := range tt.adverts {
			adverts = append(adverts, id.ID().String()+"@"+a)
		}
		if _, err := dialRawAdvertising(t, hub, id, tt.local, adverts); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "advert stored", func() bool {
			_, ok := hub.book.Get(id.ID())
			return ok
		})
		if e, _ := hub.book.Get(id.ID()); e.Addr.Host != tt.wantHost {
			t.Fatalf("from %s advertising %v: book holds %s, want host %s", tt.local, tt.adverts, e.Addr, tt.wantHost)
		}
	}
}
