package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerbook"
)

// holdListener accepts TCP connections and never answers their
// handshake, so a dial to it stays in flight until the test releases it.
type holdListener struct {
	ln net.Listener
	mu sync.Mutex // guards conns
	// conns are the accepted connections still held, oldest first; nil
	// entries were released.
	conns []net.Conn
}

func newHoldListener(t *testing.T) *holdListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &holdListener{ln: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			if c != nil {
				c.Close()
			}
		}
	})
	return h
}

// addr is the dial address of peer id at the listener.
func (h *holdListener) addr(id crypto.ID) string {
	return fmt.Sprintf("%s@%s", id, h.ln.Addr())
}

// accepted returns how many connections the listener has accepted.
func (h *holdListener) accepted() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// release closes the oldest held connection: its dial fails.
func (h *holdListener) release(t *testing.T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, c := range h.conns {
		if c != nil {
			c.Close()
			h.conns[i] = nil
			return
		}
	}
	t.Fatal("no held connection to release")
}

// dialCensus counts the goroutines inside Node.dialConn by where they are.
type dialCensus struct {
	slot      int // parked waiting for a dial slot (the select in dial)
	rate      int // parked in another select before the handshake: the dial rate
	handshake int // in handshakeOut: connecting or in the handshake
}

// censusDials takes a dialCensus of every goroutine. Goroutines not parked
// in a select at that instant are not counted unless in a handshake.
func censusDials() dialCensus {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	const dialFrame = "github.com/peerwire/peerwire/p2p.(*Node).dialConn("
	var c dialCensus
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, dialFrame) {
			continue
		}
		if strings.Contains(g, "github.com/peerwire/peerwire/p2p.(*Node).handshakeOut(") {
			c.handshake++
			continue
		}
		lines := strings.Split(g, "\n")
		// Parked goroutines' tracebacks omit the runtime frames: a select
		// right in dial shows dial on top. Any other select before the
		// handshake is the rate's wait (its timer is set by then).
		switch {
		case !strings.Contains(lines[0], "[select"):
		case strings.HasPrefix(lines[1], dialFrame):
			c.slot++
		default:
			c.rate++
		}
	}
	return c
}

// startDials starts n Dials to distinct peers at h and returns their results.
func startDials(t *testing.T, node *Node, h *holdListener, n int) <-chan error {
	results := make(chan error, n)
	for i := 0; i < n; i++ {
		addr := h.addr(testIdentity(t, 1600+i).ID())
		go func() {
			_, err := node.Dial(context.Background(), addr)
			results <- err
		}()
	}
	return results
}

// TestMaxConcurrentDials: with MaxConcurrentDials k and dials that hang in
// the handshake, exactly k are in flight and every other waits for a slot;
// when one fails, exactly one waiting dial takes its slot.
func TestMaxConcurrentDials(t *testing.T) {
	for _, k := range []int{1, 3} {
		t.Run(fmt.Sprintf("k=%d", k), func(t *testing.T) {
			h := newHoldListener(t)
			cfg := quietConfig(t, 1500)
			cfg.MaxConcurrentDials = k
			cfg.DialRate = 1e6                 // not the limit under test
			cfg.HandshakeTimeout = time.Minute // held handshakes outlast the test
			n := startNode(t, cfg)
			const waiting = 3
			results := startDials(t, n, h, k+waiting)
			want := dialCensus{slot: waiting, handshake: k}
			testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d dials in flight, %d waiting for a slot", k, waiting), func() bool {
				return censusDials() == want && h.accepted() == k
			})
			h.release(t)
			select {
			case err := <-results:
				if err == nil {
					t.Fatal("a dial to a released connection succeeded")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the released dial did not return")
			}
			want = dialCensus{slot: waiting - 1, handshake: k}
			testutil.Eventually(t, 10*time.Second, "one waiting dial in the freed slot", func() bool {
				return censusDials() == want && h.accepted() == k+1
			})
		})
	}
}

// TestDialRate: with DialRate r (burst max(1, r)) on the node's clock, the
// first burst dials start at once, the next wait, and each step of 1/r on
// the clock (Config.Clock; no real time passes) lets exactly one more start.
func TestDialRate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
		step  time.Duration
	}{
		{"3 per second", 3, 3, time.Second / 3},
		{"2 per hour", 2.0 / 3600, 1, 30 * time.Minute}, // real time would take half an hour a step
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHoldListener(t)
			clk := clock.NewFake()
			cfg := quietConfig(t, 1501)
			onFakeClock(&cfg, clk)
			cfg.DialRate = tc.rate
			cfg.MaxConcurrentDials = 16 // not the limit under test
			cfg.HandshakeTimeout = time.Minute
			n, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Stop(context.Background()) })
			const later = 2
			results := startDials(t, n, h, tc.burst+later)
			for started := tc.burst; started <= tc.burst+later; started++ {
				want := dialCensus{rate: tc.burst + later - started, handshake: started}
				testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d dials started, %d waiting for the rate", started, want.rate), func() bool {
					return censusDials() == want && h.accepted() == started
				})
				if started < tc.burst+later {
					clk.Advance(tc.step)
				}
			}

			// Stop ends a dial that waits for the rate: it does not wait
			// for the clock. (The held dials fail with the node.)
			waiter := make(chan error, 1)
			go func() {
				_, err := n.Dial(context.Background(), h.addr(testIdentity(t, 1699).ID()))
				waiter <- err
			}()
			want := dialCensus{rate: 1, handshake: tc.burst + later}
			testutil.Eventually(t, 10*time.Second, "one more dial waiting for the rate", func() bool { return censusDials() == want })
			stopped := make(chan error, 1)
			go func() { stopped <- n.Stop(context.Background()) }()
			select {
			case err := <-waiter:
				if !errors.Is(err, errStopped) {
					t.Fatalf("dial waiting for the rate ended with %v, want %v", err, errStopped)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Stop did not end a dial waiting for the rate")
			}
			<-stopped
			for i := 0; i < tc.burst+later; i++ {
				if err := <-results; err == nil {
					t.Fatal("a held dial succeeded")
				}
			}
		})
	}
}

// TestTransientDialTakesNoMark: while a DHT query's transient dial to a
// peer is in its handshake, the set holds no in-flight mark for that peer,
// so the application's own dial to it is not refused as "already
// dialing".
func TestTransientDialTakesNoMark(t *testing.T) {
	h := newHoldListener(t)
	cfg := dhtConfig(t, 40, DHTServer, nil)
	cfg.DialRate = 1e6
	cfg.HandshakeTimeout = time.Minute // the held handshake outlasts the test
	n := startNode(t, cfg)
	peer := testIdentity(t, 1690).ID()
	to, err := crypto.ParseAddress(h.addr(peer))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := dhtTransport{n}.Request(ctx, to, []byte{0})
		done <- err
	}()
	testutil.Eventually(t, 10*time.Second, "the transient dial in its handshake", func() bool {
		return censusDials().handshake == 1 && h.accepted() == 1
	})
	release, err := n.set.BeginDial(peer)
	if err != nil {
		t.Fatalf("BeginDial during a transient dial: %v", err)
	}
	release()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the held transient dial succeeded")
	}
}

// TestRefusedForRoomBacksOff: a peer that answers a dial with "too many
// peers" stays a good address (no failure counted) but is not dialed
// again before the book's RefusedBackoff. The refusal can reach the
// dialer before its own admission has told the book of the contact: that
// contact's MarkSuccess must not undo the backoff (seen under load, and
// forced in the second case, where the connection has ended before the
// dialer's setup records it).
func TestRefusedForRoomBacksOff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		endsFirst bool
	}{
		{"refused after the contact is recorded", false},
		{"refused before the contact is recorded", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := quietConfig(t, 1730)
			full.Peers.MaxInbound = 1
			b := startNode(t, full)
			dial(t, startNode(t, quietConfig(t, 1731)), b) // takes b's one inbound slot

			clk := clock.NewFake()
			cfg := quietConfig(t, 1732)
			onFakeClock(&cfg, clk)
			ended := make(chan bool, 1)
			if tc.endsFirst {
				cfg.beforeContact = func(pc *peerConn) {
					<-pc.mc.Done() // b's goaway: it has no room
					// Give the connection's OnClose its chance to finish
					// first; it must wait for this setup instead.
					select {
					case <-pc.closed:
						ended <- true
					case <-time.After(200 * time.Millisecond):
						ended <- false
					}
				}
			}
			a := startNode(t, cfg)
			sub := a.Subscribe()
			_, err := a.Dial(context.Background(), b.ListenAddr().String()) // refused now or just after admission
			t.Logf("dial: %v", err)
			t.Cleanup(func() { // what the book and the set held, should the wait below time out
				if t.Failed() {
					e, ok := a.book.Get(b.ID())
					t.Logf("book entry %v: %+v; connected %v; a's stats %+v", ok, e, connectedTo(a, b.ID()), a.Stats())
				}
			})
			if tc.endsFirst {
				if <-ended {
					t.Fatal("the connection's close was recorded before its setup had recorded it")
				}
			}
			testutil.Eventually(t, 10*time.Second, "the refusal recorded in the book", func() bool {
				e, ok := a.book.Get(b.ID())
				return ok && e.NextAttempt.After(clk.Now()) && !connectedTo(a, b.ID())
			})
			e, _ := a.book.Get(b.ID())
			wait := e.NextAttempt.Sub(clk.Now())
			d := peerbook.DefaultRefusedBackoff
			if e.Failures != 0 || wait < d/2 || wait > d {
				t.Fatalf("after the refusal: %d failures, next attempt in %v; want none and a wait in [%v, %v]", e.Failures, wait, d/2, d)
			}
			// A subscriber sees the peer come, then go: never the reverse.
			var kinds []EventKind
			for len(kinds) < 2 {
				select {
				case ev := <-sub.C:
					if ev.Peer == b.ID() {
						kinds = append(kinds, ev.Kind)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("events for b: %v; want connected, then disconnected", kinds)
				}
			}
			if kinds[0] != EventConnected || kinds[1] != EventDisconnected {
				t.Fatalf("events for b: %v; want connected, then disconnected", kinds)
			}
		})
	}
}
