package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	hmdns "github.com/hashicorp/mdns"

	"github.com/peerwire/peerwire/discovery/mdns"
	"github.com/peerwire/peerwire/internal/testutil"
)

// mdnsBookEntry is the part of GET /book the mDNS test reads.
type mdnsBookEntry struct {
	ID       string    `json:"id"`
	Source   string    `json:"source"`
	LastSeen time.Time `json:"last_seen"`
}

func (n *pwNode) book() map[string]mdnsBookEntry {
	b, err := n.Host.Get(context.Background(), pwAdmin+"/book")
	if err != nil {
		return nil
	}
	var es []mdnsBookEntry
	if json.Unmarshal(b, &es) != nil {
		return nil
	}
	m := map[string]mdnsBookEntry{}
	for _, e := range es {
		m[e.ID] = e
	}
	return m
}

var unexpectedPeerRE = regexp.MustCompile(`(?m)^peerwire_handshake_failures_total\{reason="unexpected-peer"\} (\d+)`)

// unexpectedPeers reads the node's count of handshakes that met another
// ID than the one dialed.
func (n *pwNode) unexpectedPeers() int {
	b, err := n.Host.Get(context.Background(), pwAdmin+"/metrics")
	if err != nil {
		return -1
	}
	m := unexpectedPeerRE.FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// TestMDNS runs six `peerwire node -mdns` processes on one bridge with no
// bootstrap peers, each host on a private address of its own /16 (so the
// peer book's and the peer set's per-group rules do not get in the way)
// and a multicast route on eth0.
//
//   - Partition: hosts 0-2 and 3-5 start on separate bridges. Each side
//     finds and connects its own side, and no node has a local entry of
//     the other side: multicast does not cross the cut.
//   - Forgery: a responder in host 0's namespace (in this process) answers
//     for the network with a record naming an ID nobody has ("ghost") at
//     the address of a plain node on host 6 (no -mdns). The nodes of its
//     side dial it expecting the ghost, the handshake meets host 6's ID and
//     fails (counted as unexpected-peer), and nobody connects to the ghost.
//   - Heal: the sides find each other; every node connects to the other
//     five within the bound.
//   - Stop: one node stops; its local entries leave the others' books
//     (3 intervals of silence) and no entry of it is refreshed after.
func TestMDNS(t *testing.T) {
	l := New(t, 7)
	for i, h := range l.Hosts {
		h.AddAddr(fmt.Sprintf("10.%d.0.1/8", i+1))
		l.must("ip", "-n", h.NS, "route", "add", "224.0.0.0/4", "dev", "eth0")
	}
	lanAddr := func(i int) string { return fmt.Sprintf("10.%d.0.1:%s", i+1, p2pPort) }
	sideB := []*Host{l.Hosts[3], l.Hosts[4], l.Hosts[5]}
	l.Partition(sideB)

	target := newPWNode(t, l.Hosts[6], "target", "-listen", lanAddr(6))
	target.start("run1")
	ghost := Identity("ghost").ID().String()
	startForger(t, l.Hosts[0], ghost+"@"+lanAddr(6))

	nodes := make([]*pwNode, 6)
	for i := range nodes {
		nodes[i] = newPWNode(t, l.Hosts[i], fmt.Sprintf("m%d", i), "-listen", lanAddr(i),
			"-mdns", "-mdns-interval", "1s", "-mdns-interface", "eth0")
	}
	started := time.Now()
	for _, n := range nodes {
		n.start("run1")
	}
	connectedTo := func(n *pwNode, want []*pwNode) bool {
		ps := n.peerSet()
		for _, w := range want {
			if w != n && !ps[w.id()] {
				return false
			}
		}
		return true
	}
	halves := [][]*pwNode{nodes[:3], nodes[3:]}
	// A node's book learns a same-side peer from that peer's mDNS record,
	// which may arrive after the peer's own dial connected them: wait for
	// both.
	knowsAll := func(n *pwNode, want []*pwNode) bool {
		book := n.book()
		for _, w := range want {
			if _, ok := book[w.id()]; w != n && !ok {
				return false
			}
		}
		return true
	}
	took := testutil.Eventually(t, 20*time.Second, "each side of the partition connected within itself and in every book", func() bool {
		for _, side := range halves {
			for _, n := range side {
				if !connectedTo(n, side) || !knowsAll(n, side) {
					return false
				}
			}
		}
		return true
	})
	figure(t, "partitioned 3+3: each side connected within itself (and in every book) %v after its nodes had started (%v after the first start)",
		took, time.Since(started).Round(time.Millisecond))
	for s, side := range halves {
		for _, n := range side {
			book := n.book()
			for _, o := range halves[1-s] {
				if e, ok := book[o.id()]; ok {
					t.Fatalf("%s knows %s across the partition (source %s)", n.name, o.name, e.Source)
				}
			}
		}
	}
	// The forged record reached side A only, and failed there.
	testutil.Eventually(t, 15*time.Second, "side A dialed the forged record and failed the handshake", func() bool {
		for _, n := range halves[0] {
			if n.unexpectedPeers() < 1 {
				return false
			}
		}
		return true
	})
	for _, n := range append(nodes, target) {
		if n.peerSet()[ghost] {
			t.Fatalf("%s connected to the forged ID", n.name)
		}
	}
	for _, n := range halves[1] {
		if _, ok := n.book()[ghost]; ok {
			t.Fatalf("%s heard the forger across the partition", n.name)
		}
	}
	figure(t, "forged record (ghost ID at the target's address): unexpected-peer handshake failures on side A: %d, %d, %d; no connection to the ghost",
		nodes[0].unexpectedPeers(), nodes[1].unexpectedPeers(), nodes[2].unexpectedPeers())

	l.Heal()
	took = testutil.Eventually(t, 20*time.Second, "all six connected to each other after the heal", func() bool {
		for _, n := range nodes {
			if !connectedTo(n, nodes) {
				return false
			}
		}
		return true
	})
	figure(t, "6 hosts, no bootstrap, -mdns-interval 1s: all connected to all %v after the partition healed", took)

	gone := nodes[5]
	local := 0
	for _, n := range nodes[:5] {
		if e := n.book()[gone.id()]; e.Source == "local" {
			local++
		}
	}
	if local == 0 {
		t.Fatalf("no node holds %s as a local entry", gone.name)
	}
	gone.Stop(10 * time.Second)
	stopped := time.Now()
	took = testutil.Eventually(t, 20*time.Second, "the stopped node's local entries aged out and none refreshed", func() bool {
		for _, n := range nodes[:5] {
			e, ok := n.book()[gone.id()]
			if ok && (e.Source == "local" || !e.LastSeen.Before(stopped)) {
				return false
			}
		}
		return true
	})
	figure(t, "stopped node: its local entries (%d of 5 books) left the books %v after it exited (interval 1s, expiry after 3 silent intervals)", local, took)
}

// startForger runs, inside h's namespace, an mDNS responder for the lab
// network whose record names forged (ID@host:port) under the instance of
// that ID: a well-formed record that lies about who listens there.
func startForger(t *testing.T, h *Host, forged string) {
	t.Helper()
	id := forged[:40]
	var srv *hmdns.Server
	var serr error
	if err := h.inNS(func() {
		eth0, err := net.InterfaceByName("eth0")
		if err != nil {
			serr = err
			return
		}
		zone, err := hmdns.NewMDNSService(id, mdns.ServiceName("peerwire-lab"), "local.", "forger.local.", 26656,
			[]net.IP{net.ParseIP(h.Addr.String())}, []string{forged})
		if err != nil {
			serr = err
			return
		}
		srv, serr = hmdns.NewServer(&hmdns.Config{Zone: zone, Iface: eth0, Logger: log.New(io.Discard, "", 0)})
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("forger: %v", serr)
	}
	t.Cleanup(func() { srv.Shutdown() })
}
