package p2p

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestStopEndsEverything: after Stop, no goroutine of the node remains,
// not even with connections in every state (admitted and busy, refused,
// stuck before the handshake), and the book is on disk: peerbook.Open
// reads back the peers the node knew.
func TestStopEndsEverything(t *testing.T) {
	dir := t.TempDir()
	cfg := quietConfig(t, 1100)
	cfg.Identity = nil
	cfg.DataDir = dir
	cfg.Peers.MaxInbound = 2
	hub, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var others []*Node
	for i := 0; i < 3; i++ {
		o, err := New(quietConfig(t, 1101+i))
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		others = append(others, o)
	}
	dial(t, others[0], hub) // inbound
	dial(t, others[1], hub) // inbound: now full
	dial(t, hub, others[2]) // outbound
	// A refused peer and a stranger that never says hello.
	refused := startNode(t, quietConfig(t, 1104))
	_, _ = refused.Dial(context.Background(), hub.ListenAddr().String())
	stuck, err := net.Dial("tcp", hub.ListenAddr().HostPort())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	// Traffic in flight on every connection.
	drainInboxes(others[0])
	for _, o := range others {
		for i := 0; i < 50; i++ {
			_ = hub.TrySend(o.ID(), topicBlocks, make([]byte, 32<<10))
		}
	}

	// The address the hub dialed itself is kept in its book, unless its
	// slot was taken (all loopback peers share one bucket): then adding
	// it again fails for that reason, where without it it would succeed.
	if _, ok := hub.book.Get(others[2].ID()); !ok {
		if err := hub.book.Add(others[2].ListenAddr(), peerbook.Source{Kind: peerbook.SourceManual}); !errors.Is(err, peerbook.ErrBucketFull) {
			t.Fatalf("dialed address not in the book (adding it now: %v)", err)
		}
	}
	known := hub.BookEntries()
	if len(known) == 0 {
		t.Fatal("hub's book is empty")
	}

	if err := refused.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, o := range others {
		if err := o.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := hub.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	stuck.Close()
	// Stop has returned for every node: nothing of theirs may still run,
	// not even briefly (goleak alone retries for a while).
	if left := peerwireGoroutines(); len(left) > 0 {
		t.Fatalf("%d goroutines still running peerwire code after Stop:\n\n%s", len(left), strings.Join(left, "\n\n"))
	}
	goleak.VerifyNone(t)

	if _, err := os.Stat(filepath.Join(dir, "peerbook.json")); err != nil {
		t.Fatalf("book not on disk: %v", err)
	}
	book, rep, err := peerbook.Open(filepath.Join(dir, "peerbook.json"), peerbook.Config{AllowLoopback: true}, peerbook.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer book.Close()
	inBook := map[string]bool{}
	for _, e := range book.Entries() {
		inBook[e.Addr.ID.String()] = true
	}
	for _, e := range known {
		if !inBook[e.Addr.ID.String()] {
			t.Errorf("%s in the book at Stop but not on disk (report %+v)", e.Addr, rep)
		}
	}
}

// peerwireGoroutines returns the stacks of the goroutines that run code of
// this module and were started by it, not by a test.
func peerwireGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the caller's own, listed first
		}
		lines := strings.Split(strings.TrimSpace(g), "\n")
		created := -1
		for i, l := range lines {
			if strings.HasPrefix(l, "created by ") {
				created = i
			}
		}
		if created < 0 || created+1 >= len(lines) || strings.Contains(lines[created+1], "_test.go:") ||
			strings.HasPrefix(lines[created], "created by testing.") {
			continue // the main goroutine, a test, or one a test started
		}
		if len(lines) > 1 && (strings.HasPrefix(lines[1], "github.com/peerwire/peerwire/p2p.(*Node).spawn.func1(") ||
			strings.HasPrefix(lines[1], "runtime.goexit")) {
			continue // its work is done: it called wg.Done and is exiting
		}
		if exitingConnGoroutine(lines[1:created]) {
			continue // its connection has ended and OnClose has run
		}
		if strings.Contains(g, "github.com/peerwire/peerwire/") {
			out = append(out, g)
		}
	}
	return out
}

// connExitPath is the call path by which a MultiConn's goroutines return
// once the connection has ended: the last to exit runs OnClose, whose last
// step tells Stop the connection is gone. A goroutine with no frame
// outside it has nothing left to do but return.
var connExitPath = []string{
	"github.com/peerwire/peerwire/p2p.(*Node).untrack(",
	"github.com/peerwire/peerwire/p2p.(*Node).onClose(",
	"github.com/peerwire/peerwire/p2p.(*Node).multiConfig.func", // the OnClose closure
	"github.com/peerwire/peerwire/p2p.(*Node).refuse.func",      // a refused connection's closer, after untrack
	"github.com/peerwire/peerwire/conn/mux.(*MultiConn).closed(",
	"github.com/peerwire/peerwire/conn/mux.(*MultiConn).Start.func1(", // Start after a close: runs OnClose
	"github.com/peerwire/peerwire/conn/mux.(*MultiConn).exited(",
	"github.com/peerwire/peerwire/conn/mux.(*MultiConn).readLoop(",
	"github.com/peerwire/peerwire/conn/mux.(*MultiConn).writeLoop.func1(",
	"github.com/peerwire/peerwire/conn/mux.(*MultiConn).writeLoop(",
}

// exitingConnGoroutine reports whether frames (function and file lines
// alternating, innermost first) are all on connExitPath.
func exitingConnGoroutine(frames []string) bool {
	if len(frames) == 0 {
		return false
	}
	for i := 0; i < len(frames); i += 2 {
		on := false
		for _, f := range connExitPath {
			if strings.HasPrefix(frames[i], f) {
				on = true
				break
			}
		}
		if !on {
			return false
		}
	}
	return true
}

// TestStopDuringDials: Stop while the application is dialing many peers
// at once returns promptly, every Dial returns, and nothing of the node
// keeps running.
func TestStopDuringDials(t *testing.T) {
	for round := 0; round < 5; round++ {
		hub, err := New(quietConfig(t, 1150))
		if err != nil {
			t.Fatal(err)
		}
		if err := hub.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var peers []*Node
		for i := 0; i < 12; i++ {
			p, err := New(quietConfig(t, 1151+i))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			peers = append(peers, p)
		}
		dialed := make(chan error, len(peers))
		for _, p := range peers {
			go func() {
				_, err := hub.Dial(context.Background(), p.ListenAddr().String())
				dialed <- err
			}()
		}
		<-dialed // at least one through: the rest are anywhere in the dial path
		start := time.Now()
		if err := hub.Stop(context.Background()); err != nil {
			t.Logf("stop: %v", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("Stop took %v", took)
		}
		for range peers[1:] {
			select {
			case <-dialed:
			case <-time.After(5 * time.Second):
				t.Fatal("a Dial did not return after Stop")
			}
		}
		for _, p := range peers {
			p.Stop(context.Background())
		}
		if left := peerwireGoroutines(); len(left) > 0 {
			t.Fatalf("round %d: %d goroutines still running peerwire code after Stop:\n\n%s", round, len(left), strings.Join(left, "\n\n"))
		}
	}
}

// stallSettings plays the far end of a connection whose MultiConn setup
// is held: it reads the node's SETTINGS from ec, closes inSetup (the node
// now waits in NewMultiConn), and once release is closed sends the same
// SETTINGS back, which is a valid reply since it declares the same topics.
// Then it neither reads nor closes, so the node's close lingers.
func stallSettings(ec *conn.EncryptedConn, inSetup, release chan struct{}) error {
	var hdr [4]byte // topic, kind, 16-bit length: docs/PROTOCOL.md §8
	if _, err := io.ReadFull(ec, hdr[:]); err != nil {
		return err
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[2:]))
	if _, err := io.ReadFull(ec, body); err != nil {
		return err
	}
	close(inSetup)
	<-release
	_, err := ec.Write(append(hdr[:], body...))
	return err
}

// TestStopWaitsForRacingSetups: a connection whose setup completes while
// Stop runs — dialed by a Dial that raced with Stop, or accepted and still
// exchanging SETTINGS — is refused and closed, and Stop returns only once
// it has ended, linger included (the far end never closes, so a Stop that
// does not wait leaves the node's writer lingering for a second).
func TestStopWaitsForRacingSetups(t *testing.T) {
	for _, tc := range []struct {
		name string
		// ready reports when the far end may answer: Stop is far enough.
		ready func(n *Node) bool
		// connect makes the stalled connection with n and returns the
		// Dial's result channel, if a Dial made it.
		connect func(t *testing.T, n *Node, inSetup, release chan struct{}) <-chan error
	}{
		{
			name:  "Dial racing Stop",
			ready: func(n *Node) bool { return n.ctx.Err() != nil },
			connect: func(t *testing.T, n *Node, inSetup, release chan struct{}) <-chan error {
				far := testIdentity(t, 1171)
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				secure := &conn.SecureConfig{Identity: far, NetworkID: n.s.NetworkID, ChainID: n.s.ChainID,
					Meta: &pb.PeerMeta{Topics: mux.TopicIDs(append([]mux.TopicConfig(nil), n.s.connTopics...))}}
				go func() {
					raw, err := ln.Accept()
					if err != nil {
						return
					}
					t.Cleanup(func() { raw.Close() })
					ec, err := conn.Server(context.Background(), raw, secure)
					if err != nil {
						t.Errorf("far end handshake: %v", err)
						return
					}
					if err := stallSettings(ec, inSetup, release); err != nil {
						t.Errorf("far end: %v", err)
					}
				}()
				dialed := make(chan error, 1)
				addr := crypto.Address{ID: far.ID(), Host: "127.0.0.1", Port: uint16(ln.Addr().(*net.TCPAddr).Port)}
				go func() {
					_, err := n.Dial(context.Background(), addr.String())
					dialed <- err
				}()
				return dialed
			},
		},
		{
			name: "inbound in setup",
			ready: func(n *Node) bool {
				n.spawning.Lock()
				defer n.spawning.Unlock()
				return n.spawning.closed
			},
			connect: func(t *testing.T, n *Node, inSetup, release chan struct{}) <-chan error {
				secure := &conn.SecureConfig{Identity: testIdentity(t, 1172), NetworkID: n.s.NetworkID, ChainID: n.s.ChainID,
					Meta: &pb.PeerMeta{Topics: mux.TopicIDs(append([]mux.TopicConfig(nil), n.s.connTopics...))}}
				raw, err := net.Dial("tcp", n.ListenAddr().HostPort())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { raw.Close() })
				ec, err := conn.Client(context.Background(), raw, secure, n.ID())
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					if err := stallSettings(ec, inSetup, release); err != nil {
						t.Errorf("far end: %v", err)
					}
				}()
				return nil
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := New(quietConfig(t, 1170))
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			inSetup, release := make(chan struct{}), make(chan struct{})
			dialed := tc.connect(t, n, inSetup, release)
			select {
			case <-inSetup:
			case <-time.After(10 * time.Second):
				t.Fatal("the node never sent its SETTINGS")
			}
			stopped := make(chan error, 1)
			go func() { stopped <- n.Stop(context.Background()) }()
			testutil.Eventually(t, 10*time.Second, "Stop under way", func() bool { return tc.ready(n) })
			close(release)
			if dialed != nil {
				select {
				case err := <-dialed:
					if err == nil {
						t.Error("Dial admitted a peer while the node stopped")
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Dial did not return")
				}
			}
			select {
			case <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatal("Stop did not return")
			}
			if left := peerwireGoroutines(); len(left) > 0 {
				t.Fatalf("%d goroutines still running peerwire code after Stop:\n\n%s", len(left), strings.Join(left, "\n\n"))
			}
		})
	}
}
