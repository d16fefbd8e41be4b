package lab

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// connectedGraph reports whether the peer graph of reps (by node index) is
// connected, and how many of the links in want are up.
func connectedGraph(reps []*Report, ids map[string]int) bool {
	adj := make([][]int, len(reps))
	for i, r := range reps {
		for _, p := range r.Peers {
			if j, ok := ids[p.ID]; ok {
				adj[i] = append(adj[i], j)
				adj[j] = append(adj[j], i)
			}
		}
	}
	seen := map[int]bool{0: true}
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range adj[i] {
			if !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	return len(seen) == len(reps)
}

func allStats(t testing.TB, nodes []*labNode) []*Report {
	t.Helper()
	out := make([]*Report, len(nodes))
	for i, n := range nodes {
		out[i] = n.mustStats(t)
	}
	return out
}

// TestPartitionHeal splits six hosts into two halves for 15 s and heals
// them. Nodes 0↔3 and 1↔4 are must-connect peers across the cut; the other
// links come from bootstrap lists.
//
// Bounds: the cross links drop within 10 s (idle timeout 5 s after the last
// inbound byte, plus the 1 s ping that would have kept it alive, plus
// margin). After healing, the must-connect links return within 8 s (redial
// backoff capped at 2 s, the 1 s maintenance tick, a dial and a handshake
// on a sub-millisecond bridge) and every pre-partition link within 15 s
// (book backoff capped at 4 s, 0.5 s fill interval); gossip started after
// the heal reaches every node.
func TestPartitionHeal(t *testing.T) {
	l := New(t, 6)
	names := make([]string, len(l.Hosts))
	for i := range names {
		names[i] = nodeName(i)
	}
	must := map[int]int{0: 3, 3: 0, 1: 4, 4: 1}
	ids := map[string]int{}
	for i, n := range names {
		ids[Identity(n).ID().String()] = i
	}
	nodes := make([]*labNode, len(l.Hosts))
	for i, h := range l.Hosts {
		args := []string{"-bootstrap", ringBootstrap(names, l.Hosts, i), "-max-outbound", "3",
			"-ping", "1s", "-idle", "5s", "-redial-max", "2s", "-backoff-cap", "4s", "-vote-every", "100ms", "-paused"}
		if j, ok := must[i]; ok {
			args = append(args, "-must-connect", NodeAddr(names[j], listenAddr(l.Hosts[j])))
		}
		nodes[i] = startLabNode(t, h, names[i], args...)
	}
	var before []*Report
	testutil.Eventually(t, 30*time.Second, "every node with ≥ 3 peers and its must-connect peer", func() bool {
		before = allStats(t, nodes)
		for i, r := range before {
			if len(r.Peers) < 3 || r.MustConnectUp != r.MustTotal {
				return false
			}
			_ = i
		}
		return true
	})
	links := map[[2]int]bool{}
	for i, r := range before {
		for _, p := range r.Peers {
			j := ids[p.ID]
			links[[2]int{min(i, j), max(i, j)}] = true
		}
	}
	side := map[int]bool{0: true, 1: true, 2: true}
	cross := 0
	for k := range links {
		if side[k[0]] != side[k[1]] {
			cross++
		}
	}
	l.Partition([]*Host{l.Hosts[3], l.Hosts[4], l.Hosts[5]})
	cut := time.Now()
	dropped := testutil.Eventually(t, 10*time.Second, "every cross-partition link dropped", func() bool {
		for i, r := range allStats(t, nodes) {
			for _, p := range r.Peers {
				if side[i] != side[ids[p.ID]] {
					return false
				}
			}
		}
		return true
	})
	time.Sleep(15*time.Second - time.Since(cut))
	l.Heal()
	mustBack := testutil.Eventually(t, 8*time.Second, "must-connect links back", func() bool {
		for _, r := range allStats(t, nodes) {
			if r.MustConnectUp != r.MustTotal {
				return false
			}
		}
		return true
	})
	connected := mustBack // the must-connect links alone join the halves
	allBack := testutil.Eventually(t, 15*time.Second, "every pre-partition link back", func() bool {
		up := map[[2]int]bool{}
		for i, r := range allStats(t, nodes) {
			for _, p := range r.Peers {
				j := ids[p.ID]
				up[[2]int{min(i, j), max(i, j)}] = true
			}
		}
		for k := range links {
			if !up[k] {
				return false
			}
		}
		return true
	})
	if !connectedGraph(allStats(t, nodes), ids) {
		t.Fatal("peer graph not connected after healing")
	}
	for _, n := range nodes {
		n.get(t, "/resume")
	}
	time.Sleep(5 * time.Second)
	for _, n := range nodes {
		n.get(t, "/pause")
	}
	took, _ := waitDelivered(t, nodes, 30*time.Second)
	_ = context.Background
	figure(t, "6 hosts split 3|3 for 15 s (%d links, %d across the cut): cross links dropped %v after the cut (idle timeout 5 s, ping 1 s); after healing, must-connect links 0↔3 and 1↔4 back in %v (graph connected), every pre-partition link back in %v; gossip after the heal reached all nodes (last delivery %v after traffic stopped)",
		len(links), cross, dropped.Round(100*time.Millisecond), mustBack.Round(100*time.Millisecond), allBack.Round(100*time.Millisecond), took.Round(100*time.Millisecond))
	_ = connected
}

// longLab skips t unless LAB_LONG=1 (make lab): scenarios that wait out
// production timeouts.
func longLab(t *testing.T) {
	t.Helper()
	if os.Getenv("LAB_LONG") == "" {
		t.Skip("long scenario: set LAB_LONG=1 (make lab)")
	}
}

// TestPartitionMustConnectOperator is the partition scenario with the
// operator binary and its production timeouts: two `peerwire node`
// processes that name each other with -must-connect, cut apart for 75 s
// (longer than the 60 s idle timeout, so the link really drops) and healed.
//
// Bounds: the link drops within 75 s of the cut (idle timeout 60 s after the
// last inbound byte, pings every 10 s). After healing it returns within
// 75 s: the redial backoff is capped at 60 s (minus up to 25% jitter),
// plus a 5 s dial timeout, plus margin.
func TestPartitionMustConnectOperator(t *testing.T) {
	longLab(t)
	l := New(t, 3)
	a := newPWNode(t, l.Hosts[0], "a")
	b := newPWNode(t, l.Hosts[1], "b")
	c := newPWNode(t, l.Hosts[2], "c", "-bootstrap", a.addr)
	a.args = append(a.args, "-must-connect", b.addr)
	b.args = append(b.args, "-must-connect", a.addr)
	a.start("run")
	b.start("run")
	c.start("run")
	testutil.Eventually(t, 30*time.Second, "a↔b and a↔c connected", func() bool {
		ps := a.peerSet()
		return ps[b.id()] && ps[c.id()]
	})
	l.Partition([]*Host{l.Hosts[1]})
	dropped := testutil.Eventually(t, 75*time.Second, "a sees b gone", func() bool { return !a.peerSet()[b.id()] })
	if !a.peerSet()[c.id()] {
		t.Fatal("a lost c, on its own side of the cut")
	}
	time.Sleep(75*time.Second - dropped)
	l.Heal()
	back := testutil.Eventually(t, 75*time.Second, "must-connect link a↔b back", func() bool {
		return a.peerSet()[b.id()] && b.peerSet()[a.id()]
	})
	figure(t, "two peerwire nodes with -must-connect to each other, cut apart for 75 s: link dropped %v after the cut (60 s idle timeout), back %v after healing (redial backoff cap 60 s); the third node on a's side stayed connected",
		dropped.Round(100*time.Millisecond), back.Round(100*time.Millisecond))
}
