package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestHandshakeFloodAdmitsKnownPeers fills a node's open inbound handshake
// slots with connections from a stranger that never speak, then checks how
// each newcomer gets in: a stranger takes the slot of the oldest silent
// connection, which is closed; a peer the node reached before (its address
// is in the tried table) takes a reserved slot and closes nothing, at most
// maxReservedPerIP per address; with no reservation the known peer takes
// an open slot like a stranger.
func TestHandshakeFloodAdmitsKnownPeers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int
		reserved int
		// heldByKnown is how many silent connections come from the first
		// known peer's own address before it dials.
		heldByKnown int
		// evicts: whether each known peer's dial closes a silent connection.
		evicts [2]bool
	}{
		{"reserved slots", 4, 1, 0, [2]bool{false, false}},
		{"no reservation", 4, -1, 0, [2]bool{true, true}},
		{"per-address cap", 6, 3, maxReservedPerIP, [2]bool{true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quietConfig(t, 1700)
			cfg.MaxHandshakes, cfg.ReservedHandshakes = tc.max, tc.reserved
			cfg.HandshakeTimeout = time.Minute // held handshakes outlast the test
			victim := startNode(t, cfg)
			open := tc.max - max(tc.reserved, 0)

			// Two peers the victim reached before, then let go.
			var known [2]*Node
			for i := range known {
				// Two /16s, so the two never compete for one tried slot.
				ip := fmt.Sprintf("127.%d.0.1", 171+i)
				kc := quietConfig(t, 1701+i)
				kc.ListenAddr, kc.DialLocalIP = ip+":0", netip.MustParseAddr(ip)
				known[i] = startNode(t, kc)
				dial(t, victim, known[i])
				// Each book records the contact just after its set admits the
				// peer: the victim marks the known peer reached, and the known
				// peer dials back to verify the victim's advertised address
				// (an inbound handshake of the victim's). Let both happen
				// before the connection is cut and the slots are counted.
				testutil.Eventually(t, 10*time.Second, ip+" known and the victim's address verified", func() bool {
					e, ok := known[i].book.Get(victim.ID())
					return victim.book.KnownIP(netip.MustParseAddr(ip)) && ok && !e.Unverified
				})
				if err := victim.Disconnect(known[i].ID(), "test"); err != nil {
					t.Fatal(err)
				}
				testutil.Eventually(t, 10*time.Second, "disconnected", func() bool {
					return !connectedTo(victim, known[i].ID()) && !connectedTo(known[i], victim.ID())
				})
			}
			testutil.Eventually(t, 10*time.Second, "no inbound handshake in flight", func() bool {
				return victim.open.len()+len(victim.reserved.slots) == 0
			})

			listen, _ := victim.ListenAddr().AddrPort()
			hold := func(from string, k int) []net.Conn {
				var cs []net.Conn
				for range k {
					d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
					c, err := d.Dial("tcp", listen.String())
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					cs = append(cs, c)
				}
				return cs
			}
			held := func() int { return victim.open.len() + len(victim.reserved.slots) }
			// fill tops the open slots up with the stranger's silent
			// connections.
			fill := func() []net.Conn {
				cs := hold("127.0.17.99", open-victim.open.len())
				testutil.Eventually(t, 10*time.Second, "the stranger's connections in every open slot", func() bool {
					return victim.open.len() == open
				})
				return cs
			}
			evicted := func() uint64 { return victim.Stats().Refusals["handshake-evicted"] }
			failures := func() (sum uint64) {
				for _, v := range victim.Stats().HandshakeFailures {
					sum += v
				}
				return sum
			}
			silent := fill()
			hold("127.171.0.1", tc.heldByKnown) // known[0]'s own address
			testutil.Eventually(t, 10*time.Second, "the known peer's silent connections held", func() bool {
				return held() == open+tc.heldByKnown
			})

			sc := quietConfig(t, 1710)
			sc.ListenAddr, sc.DialLocalIP = "127.0.17.50:0", netip.MustParseAddr("127.0.17.50")
			stranger := startNode(t, sc)
			failed := failures()
			if _, err := stranger.Dial(context.Background(), victim.ListenAddr().String()); err != nil {
				t.Fatalf("a stranger was refused while the open slots held only silent connections: %v", err)
			}
			// The evicted handshake is counted once its goroutine sees it
			// fail: as the eviction, not also as a failed handshake.
			testutil.Eventually(t, 10*time.Second, "the eviction counted", func() bool { return evicted() >= 1 })
			if got := evicted(); got != 1 {
				t.Fatalf("the stranger's dial evicted %d connections, want 1", got)
			}
			if got := failures() - failed; got != 0 {
				t.Fatalf("the eviction also counted %d failed handshakes (%v), want it counted once", got, victim.Stats().HandshakeFailures)
			}
			testutil.Eventually(t, 10*time.Second, "the stranger admitted and its slot free again", func() bool {
				return connectedTo(victim, stranger.ID()) && victim.open.len() == open-1
			})
			// The oldest silent connection is the one closed.
			silent[0].SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := silent[0].Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the oldest silent connection is still open after the eviction")
			}
			for i, k := range known {
				fill()
				before := evicted()
				if _, err := k.Dial(context.Background(), victim.ListenAddr().String()); err != nil {
					t.Fatalf("known peer %d: Dial: %v", i, err)
				}
				testutil.Eventually(t, 10*time.Second, "known peer admitted and its slot free again", func() bool {
					want := open + tc.heldByKnown
					if tc.evicts[i] {
						want--
					}
					return connectedTo(victim, k.ID()) && held() == want && (evicted() > before) == tc.evicts[i]
				})
				if got := evicted() - before; (got == 1) != tc.evicts[i] || got > 1 {
					t.Fatalf("known peer %d's dial evicted %d connections, want evicting %v", i, got, tc.evicts[i])
				}
			}
		})
	}
}

// TestReservedHandshakesConfig: the reservation defaults to a quarter of
// MaxHandshakes, negative reserves none, and one that leaves strangers no
// slot is refused naming the field.
func TestReservedHandshakesConfig(t *testing.T) {
	for _, tc := range []struct {
		max, reserved int
		want          int // -1: refused
	}{
		{0, 0, DefaultMaxHandshakes / 4},
		{10, 0, 2},
		{10, -1, 0},
		{10, 9, 9},
		{10, 10, -1},
		{3, 0, 0},
	} {
		cfg := quietConfig(t, 1720)
		cfg.MaxHandshakes, cfg.ReservedHandshakes = tc.max, tc.reserved
		n, err := New(cfg)
		if tc.want < 0 {
			if err == nil || !strings.Contains(err.Error(), "Config.ReservedHandshakes") {
				t.Errorf("%+v: error %v does not name Config.ReservedHandshakes", tc, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if n.s.ReservedHandshakes != tc.want {
			t.Errorf("%+v: %d reserved, want %d", tc, n.s.ReservedHandshakes, tc.want)
		}
	}
}

// TestOpenSlots runs the open handshake slots' rules on pipes: a newcomer
// takes a free slot, else the oldest unsettled one's (closing that
// connection), and is refused only when every slot is settled; a released
// or evicted slot is given back once.
func TestOpenSlots(t *testing.T) {
	type step struct {
		op string // "take", "settle", "release"
		i  int    // which connection (take: its index in conns)
		// take: want ok and which connection it evicted (-1 none).
		ok      bool
		evicted int
	}
	for _, tc := range []struct {
		name  string
		max   int
		steps []step
		held  int // slots held at the end
	}{
		{"free slots", 2, []step{{"take", 0, true, -1}, {"take", 1, true, -1}}, 2},
		{"evicts the oldest", 2, []step{{"take", 0, true, -1}, {"take", 1, true, -1}, {"take", 2, true, 0}, {"take", 3, true, 1}}, 2},
		{"skips settled", 2, []step{{"take", 0, true, -1}, {"take", 1, true, -1}, {"settle", 0, false, 0}, {"take", 2, true, 1}}, 2},
		{"refused when all settled", 2, []step{{"take", 0, true, -1}, {"take", 1, true, -1}, {"settle", 0, false, 0}, {"settle", 1, false, 0}, {"take", 2, false, -1}}, 2},
		{"release frees", 1, []step{{"take", 0, true, -1}, {"settle", 0, false, 0}, {"release", 0, false, 0}, {"take", 1, true, -1}}, 1},
		{"evicted release is a no-op", 1, []step{{"take", 0, true, -1}, {"take", 1, true, 0}, {"release", 0, false, 0}, {"release", 0, false, 0}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &openSlots{max: tc.max}
			var conns [4]net.Conn
			var far [4]net.Conn
			for i := range conns {
				conns[i], far[i] = net.Pipe()
				t.Cleanup(func() { conns[i].Close(); far[i].Close() })
			}
			slots := map[int]*openSlot{}
			evicted := map[int]bool{}
			closed := func(i int) bool {
				far[i].SetReadDeadline(time.Now().Add(time.Millisecond))
				_, err := far[i].Read(make([]byte, 1))
				return !errors.Is(err, os.ErrDeadlineExceeded)
			}
			for k, st := range tc.steps {
				switch st.op {
				case "take":
					s, ok := o.take(conns[st.i])
					if ok != st.ok {
						t.Fatalf("step %d: take(%d) = ok %v, want %v", k, st.i, ok, st.ok)
					}
					if st.evicted >= 0 {
						if !o.wasEvicted(slots[st.evicted]) || !closed(st.evicted) {
							t.Fatalf("step %d: connection %d not evicted and closed", k, st.evicted)
						}
						evicted[st.evicted] = true
					}
					slots[st.i] = s
				case "settle":
					o.settle(slots[st.i])
				case "release":
					o.release(slots[st.i])
				}
			}
			if got := o.len(); got != tc.held {
				t.Fatalf("%d slots held, want %d", got, tc.held)
			}
			for i := range conns {
				if s := slots[i]; s != nil && !s.gone && closed(i) {
					t.Fatalf("connection %d holds a slot but was closed", i)
				}
				if s := slots[i]; s != nil && o.wasEvicted(s) != evicted[i] {
					t.Fatalf("connection %d: evicted %v, want %v", i, o.wasEvicted(s), evicted[i])
				}
			}
		})
	}
}
