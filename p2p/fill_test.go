package p2p

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerbook"
)

// TestFillSkipsRefusedEntries: one fill round dials every free slot even
// when most of the book is entries the peer set refuses — here a /16 that
// already holds an outbound peer (one per group) and was stuffed with
// addresses, as a PEX poisoner does. Before, the round's picks were mostly
// such entries, refused at the dial, so the node filled about one slot per
// round while the peers it could have dialed connected to it inbound first
// (lab TestPexPoisoning: the victim stayed below 4 honest outbound peers).
func TestFillSkipsRefusedEntries(t *testing.T) {
	const honest = 3
	cfg := testConfig(t, 0)
	cfg.ListenAddr = "127.100.0.1:0"
	cfg.Peers.MaxOutboundPerGroup = 1
	cfg.Peers.MaxOutbound = honest + 1
	// The test runs the one fill round; the services' own rounds (at Start,
	// then hourly) find nothing to do.
	cfg.FillInterval, cfg.PexInterval = time.Hour, time.Hour
	v := startNode(t, cfg)

	// The poisoner's /16 holds one outbound peer of v's: the group is full.
	pcfg := testConfig(t, 1)
	pcfg.ListenAddr = "127.200.0.1:0"
	p := startNode(t, pcfg)
	if _, err := v.Dial(t.Context(), p.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	// The honest nodes, each reported from its own /16 (so each lands in
	// a bucket of its own), go in first: a poison entry whose slot is
	// taken is dropped, never the other way round.
	var want []*Node
	for i := range honest {
		hcfg := testConfig(t, 10+i)
		hcfg.ListenAddr = fmt.Sprintf("127.%d.0.1:0", 1+i)
		h := startNode(t, hcfg)
		from := peerbook.Source{Kind: peerbook.SourcePEX, From: h.ID(), Host: fmt.Sprintf("127.%d.0.1", 50+i)}
		if err := v.book.Add(h.ListenAddr(), from); err != nil {
			t.Fatalf("book.Add(%v): %v", h.ListenAddr(), err)
		}
		want = append(want, h)
	}
	src := peerbook.Source{Kind: peerbook.SourcePEX, From: p.ID(), Host: "127.200.0.1"}
	poison := 0
	for i := range 200 {
		sum := sha256.Sum256(fmt.Appendf(nil, "poison-%d", i))
		id, err := crypto.IDFromBytes(sum[:crypto.IDLen])
		if err != nil {
			t.Fatal(err)
		}
		a := crypto.Address{ID: id, Host: fmt.Sprintf("127.200.%d.%d", 1+i/200, 1+i%200), Port: 26656}
		if v.book.Add(a, src) == nil { // some share a bucket slot and are dropped
			poison++
		}
	}
	t.Logf("book: %d poison entries in 127.200.0.0/16, %d honest", poison, honest)

	v.fill()
	testutil.Eventually(t, 10*time.Second, "every free outbound slot dialed by one fill round", func() bool {
		for _, h := range want {
			if p, ok := v.Peer(h.ID()); !ok || p.Direction != "outbound" {
				return false
			}
		}
		return true
	})
}

// TestFirstFillAtStart: the first fill runs in Start, not on the fill
// service's goroutine, whose first round waits a full interval. Here the
// services' goroutines are held until the test ends, yet the bootstrap
// peer is dialed; and a node whose first round ran late could dial what
// the application added to its book, or dialed and left, since Start
// (TestBanUntilExpiry's peer once redialed the hub that had just banned
// it that way, and the test's own dial met "already dialing").
func TestFirstFillAtStart(t *testing.T) {
	b := startNode(t, quietConfig(t, 660))
	hold := make(chan struct{})
	cfg := quietConfig(t, 661)
	cfg.Bootstrap = []string{b.ListenAddr().String()}
	cfg.beforeServices = func() { <-hold }
	a := startNode(t, cfg)
	t.Cleanup(func() { close(hold) }) // runs before a's Stop, which waits for them
	testutil.Eventually(t, 10*time.Second, "the bootstrap peer dialed", func() bool {
		return connectedTo(a, b.ID()) && connectedTo(b, a.ID())
	})
	if s := a.Stats(); s.Dials != 1 || s.Outbound != 1 {
		t.Fatalf("a: %d dials, %d outbound; want the one bootstrap dial", s.Dials, s.Outbound)
	}
}

// TestPexAskedOnceAtAdmission: a new outbound peer is asked for
// addresses once, when it is admitted; the PEX service, however late its
// goroutine gets to run, asks nothing before its first tick. (A first
// round at once that ran after the admission asked the peer again: the
// hub of TestObservedAddrTCP then counted four answers for three peers.)
func TestPexAskedOnceAtAdmission(t *testing.T) {
	b := startNode(t, quietConfig(t, 670))
	hold := make(chan struct{})
	pexIdle := make(chan struct{}, 1)
	cfg := quietConfig(t, 671)
	cfg.beforeServices = func() { <-hold }
	cfg.serviceIdle = func(name string) {
		if name == "pex" {
			select {
			case pexIdle <- struct{}{}:
			default:
			}
		}
	}
	a := startNode(t, cfg)
	released := false
	t.Cleanup(func() { // runs before a's Stop, which waits for them
		if !released {
			close(hold)
		}
	})
	dial(t, a, b)
	testutil.Eventually(t, 10*time.Second, "the new peer's PEX request answered", func() bool {
		return b.Stats().PexAnswers == 1 && a.Stats().PexRequests == 1
	})
	// Now the services run: the PEX one waits for its tick (an hour).
	close(hold)
	released = true
	select {
	case <-pexIdle:
	case <-time.After(10 * time.Second):
		t.Fatal("the PEX service did not start waiting for its tick")
	}
	if s := a.Stats(); s.PexRequests != 1 {
		t.Fatalf("%d PEX requests to the one peer, want the one at its admission", s.PexRequests)
	}
}
