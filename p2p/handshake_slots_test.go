package p2p

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestHandshakeFloodAdmitsKnownPeers fills a node's open inbound handshake
// slots with connections from a stranger that never speak, then checks who
// still gets in: a peer the node reached before (its address is in the
// tried table) takes a reserved slot, at most maxReservedPerIP per
// address, while a stranger is refused; with no reservation the known
// peer is refused too.
func TestHandshakeFloodAdmitsKnownPeers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int
		reserved int
		// heldByKnown is how many silent connections come from the first
		// known peer's own address before it dials.
		heldByKnown int
		// admitted: whether each known peer's dial gets in.
		admitted [2]bool
	}{
		{"reserved slots", 4, 1, 0, [2]bool{true, true}},
		{"no reservation", 4, -1, 0, [2]bool{false, false}},
		{"per-address cap", 6, 3, maxReservedPerIP, [2]bool{false, true}},
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
				return len(victim.handshakes)+len(victim.reserved.slots) == 0
			})

			listen, _ := victim.ListenAddr().AddrPort()
			hold := func(from string, k int) {
				for range k {
					d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
					c, err := d.Dial("tcp", listen.String())
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
				}
			}
			held := func() int { return len(victim.handshakes) + len(victim.reserved.slots) }
			hold("127.0.17.99", open)
			testutil.Eventually(t, 10*time.Second, "the stranger's connections in every open slot", func() bool {
				return len(victim.handshakes) == open
			})
			hold("127.171.0.1", tc.heldByKnown) // known[0]'s own address
			testutil.Eventually(t, 10*time.Second, "the known peer's silent connections held", func() bool {
				return held() == open+tc.heldByKnown
			})

			sc := quietConfig(t, 1710)
			sc.ListenAddr, sc.DialLocalIP = "127.0.17.50:0", netip.MustParseAddr("127.0.17.50")
			stranger := startNode(t, sc)
			if _, err := stranger.Dial(context.Background(), victim.ListenAddr().String()); err == nil {
				t.Fatal("a stranger got a handshake slot while the open ones were full")
			}
			for i, k := range known {
				_, err := k.Dial(context.Background(), victim.ListenAddr().String())
				if (err == nil) != tc.admitted[i] {
					t.Fatalf("known peer %d: Dial error %v, want admitted %v", i, err, tc.admitted[i])
				}
				if tc.admitted[i] {
					testutil.Eventually(t, 10*time.Second, "known peer admitted and its slot free again", func() bool {
						return connectedTo(victim, k.ID()) && held() == open+tc.heldByKnown
					})
				}
			}
			if got := victim.Stats().Refusals["handshakes-full"]; got == 0 {
				t.Fatal("no refusal counted as handshakes-full")
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
