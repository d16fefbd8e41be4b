package lab

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// soakParams sizes a soak run. The short run is the default; LAB_SOAK=long
// (make soak) runs the long one.
type soakParams struct {
	nodes      int
	duration   time.Duration
	voteEvery  time.Duration // per node
	blockEvery time.Duration // per node
	sample     time.Duration
}

func soakConfig() soakParams {
	if os.Getenv("LAB_SOAK") == "long" {
		p := soakParams{nodes: 20, duration: 10 * time.Minute, voteEvery: 500 * time.Millisecond, blockEvery: 40 * time.Second, sample: 10 * time.Second}
		if d, err := time.ParseDuration(os.Getenv("LAB_SOAK_DURATION")); err == nil {
			p.duration = d
		}
		return p
	}
	return soakParams{nodes: 8, duration: envDur("LAB_SOAK_DURATION", 60*time.Second), voteEvery: 250 * time.Millisecond, blockEvery: 16 * time.Second, sample: 5 * time.Second}
}

// ringBootstrap gives node i the addresses of nodes i+1, i+2 and i+4 (mod
// n): a connected graph of degree about 6 once inbound links count, since
// 198.18.0.0/15 is reserved and the book keeps only the operator's own
// (bootstrap) entries there, not PEX-learned ones.
func ringBootstrap(names []string, hosts []*Host, i int) string {
	n := len(names)
	out := ""
	for _, d := range []int{1, 2, 4} {
		j := (i + d) % n
		if j == i {
			continue
		}
		if out != "" {
			out += ","
		}
		out += NodeAddr(names[j], listenAddr(hosts[j]))
	}
	return out
}

type sample struct {
	at      time.Duration
	rssKiB  []int
	fds     []int
	gor     []int
	heapKiB []int
}

// TestSoak runs nodes with continuous vote gossip and 1 MiB blocks and
// checks that every message reaches every node exactly once and that
// memory, goroutines and open files stay flat.
//
// Bounds: delivery is exact (the count must match after traffic stops; a
// quiet period of 60 s is far above the seconds a block needs to cross a
// graph of diameter ≤ 3 on a bridge). Flatness compares the last third of
// the run with the middle third (the first third is warm-up). A leak shows
// in the live heap measured after a forced GC, whose floor (the smallest
// sample of a third) may grow by at most 50% + 16 MiB. What moves a single
// sample legitimately is how many 1 MiB blocks are in flight at its
// instant: one CI run on a loaded machine saw 6 MiB become 42 MiB in one
// sample, with the floor flat; a leak raises every later sample. RSS also follows the allocator's
// retention and the machine's load (queues fill when nodes are starved of
// CPU), so it is reported with its slope and held only to rssCap.
// Goroutines may grow by at most 8 (connection churn would show as dozens:
// each peer costs several) and open files by at most 2.
func TestSoak(t *testing.T) {
	p := soakConfig()
	l := New(t, p.nodes)
	names := make([]string, p.nodes)
	for i := range names {
		names[i] = nodeName(i)
	}
	nodes := make([]*labNode, p.nodes)
	for i, h := range l.Hosts {
		nodes[i] = startLabNode(t, h, names[i],
			"-bootstrap", ringBootstrap(names, l.Hosts, i), "-max-outbound", "3",
			"-vote-every", p.voteEvery.String(), "-block-every", p.blockEvery.String(),
			"-block-size", strconv.Itoa(1<<20), "-probe-every", "0", "-paused")
	}
	testutil.Eventually(t, 30*time.Second, "every node with ≥ 3 peers", func() bool {
		for _, n := range nodes {
			if r, err := n.stats(context.Background()); err != nil || len(r.Peers) < 3 {
				return false
			}
		}
		return true
	})
	// Gossip is a flood without retransmission: a message sent before the
	// graph is whole reaches only the part that exists, so traffic starts
	// once every node has its peers.
	for _, n := range nodes {
		n.get(t, "/resume")
	}
	start := time.Now()
	var samples []sample
	for time.Since(start) < p.duration {
		time.Sleep(p.sample)
		s := sample{at: time.Since(start)}
		for _, n := range nodes {
			ps, err := n.Stats()
			if err != nil {
				t.Fatalf("%s: %v (exited: %v)", n.name, err, n.Exited())
			}
			r, err := n.statsGC(context.Background())
			if err != nil {
				t.Fatalf("%s: %v", n.name, err)
			}
			s.rssKiB = append(s.rssKiB, ps.RSSKiB)
			s.fds = append(s.fds, ps.FDs)
			s.gor = append(s.gor, r.Goroutines)
			s.heapKiB = append(s.heapKiB, int(r.LiveHeapKiB))
		}
		samples = append(samples, s)
	}
	for _, n := range nodes {
		n.get(t, "/pause")
	}
	// Every message from every origin at every other node.
	var sentV, sentB [256]uint64
	var totalV, totalB uint64
	for i, n := range nodes {
		r := n.mustStats(t)
		sentV[i], sentB[i] = r.SentVotes, r.SentBlocks
		totalV += r.SentVotes
		totalB += r.SentBlocks
	}
	var last []*Report
	var missing string
	defer func() {
		if t.Failed() && missing != "" {
			t.Logf("missing deliveries: %s", missing)
		}
	}()
	took := testutil.Eventually(t, 60*time.Second, "every message at every node", func() bool {
		last = last[:0]
		missing = ""
		ok := true
		for j, n := range nodes {
			r, err := n.stats(context.Background())
			if err != nil {
				return false
			}
			last = append(last, r)
			for i := range nodes {
				if i == j {
					continue
				}
				k := strconv.Itoa(i)
				if r.RecvVotes[k] != sentV[i] || r.RecvBlocks[k] != sentB[i] {
					ok = false
					missing += fmt.Sprintf(" [n%d from n%d: votes %d/%d blocks %d/%d]", j, i, r.RecvVotes[k], sentV[i], r.RecvBlocks[k], sentB[i])
				}
			}
		}
		return ok
	})
	var dups, fwdDropped, disc uint64
	for _, r := range last {
		dups += r.Dups
		fwdDropped += r.GossipForwardDropped
		n, _ := r.unexpectedDisconnects()
		disc += n
	}
	if dups != 0 {
		t.Errorf("%d duplicate deliveries", dups)
	}
	if disc != 0 {
		t.Errorf("%d disconnects during the soak", disc)
	}
	figure(t, "%d nodes, %v: %d votes and %d blocks of 1 MiB originated; %d vote and %d block deliveries, all exact (each origin's count at each of the other %d nodes), last ones within %v after traffic stopped; duplicates %d, forward drops %d, disconnects %d",
		p.nodes, p.duration, totalV, totalB, totalV*uint64(p.nodes-1), totalB*uint64(p.nodes-1), p.nodes-1, took.Round(100*time.Millisecond), dups, fwdDropped, disc)

	// Flatness: middle third against last third, per node.
	n := len(samples)
	if n < 6 {
		t.Fatalf("only %d samples", n)
	}
	mid, end := samples[n/3:2*n/3], samples[2*n/3:]
	maxOf := func(ss []sample, f func(sample) int) int {
		m := 0
		for _, s := range ss {
			m = max(m, f(s))
		}
		return m
	}
	minOf := func(ss []sample, f func(sample) int) int {
		m := f(ss[0])
		for _, s := range ss[1:] {
			m = min(m, f(s))
		}
		return m
	}
	var worstRSSSlope, worstHeapSlope, worstGorSlope, worstFDSlope float64
	for i := range nodes {
		rss := func(s sample) int { return s.rssKiB[i] }
		heap := func(s sample) int { return s.heapKiB[i] }
		gor := func(s sample) int { return s.gor[i] }
		fd := func(s sample) int { return s.fds[i] }
		// The live heap's floor, not its peak: a sample taken while a few
		// 1 MiB blocks sit in queues is legitimately tens of MiB above the
		// others, while a leak raises every later sample.
		if a, b := minOf(mid, heap), minOf(end, heap); float64(b) > 1.5*float64(a)+16<<10 {
			t.Errorf("%s: live heap grew from %d KiB (middle third min) to %d KiB (last third min)", names[i], a, b)
		}
		if b := maxOf(samples, rss); b > rssCap<<10 {
			t.Errorf("%s: RSS reached %d KiB, above the %d MiB cap", names[i], b, rssCap)
		}
		if a, b := maxOf(mid, gor), maxOf(end, gor); b > a+8 {
			t.Errorf("%s: goroutines grew from %d to %d", names[i], a, b)
		}
		if a, b := maxOf(mid, fd), maxOf(end, fd); b > a+2 {
			t.Errorf("%s: open files grew from %d to %d", names[i], a, b)
		}
		worstRSSSlope = max(worstRSSSlope, slope(samples[n/3:], rss))
		worstHeapSlope = max(worstHeapSlope, slope(samples[n/3:], heap))
		worstGorSlope = max(worstGorSlope, slope(samples[n/3:], gor))
		worstFDSlope = max(worstFDSlope, slope(samples[n/3:], fd))
	}
	first, final := samples[0], samples[n-1]
	figure(t, "after warm-up (last two thirds, %d samples every %v) the steepest per-node slopes are live heap (after GC) %+.0f KiB/min, RSS %+.0f KiB/min, goroutines %+.2f/min, open files %+.2f/min; live heap %s → %s MiB, RSS %s → %s MiB (peak %.0f MiB), goroutines %s → %s, fds %s → %s",
		n-n/3, p.sample, worstHeapSlope, worstRSSSlope, worstGorSlope, worstFDSlope,
		rangeKiB(first.heapKiB), rangeKiB(final.heapKiB), rangeKiB(first.rssKiB), rangeKiB(final.rssKiB), float64(peakRSS(samples))/1024, rangeInt(first.gor), rangeInt(final.gor), rangeInt(first.fds), rangeInt(final.fds))
}

// rssCap bounds any node's RSS in MiB. Queues are bounded, not small: a
// peer's send queue holds up to 256 messages per topic and a receive window
// of 1 MiB blocks is several MiB per peer, so a node with ten peers may
// legitimately hold tens of MiB of blocks when the machine is loaded.
const rssCap = 256

func peakRSS(ss []sample) int {
	m := 0
	for _, s := range ss {
		for _, v := range s.rssKiB {
			m = max(m, v)
		}
	}
	return m
}

// slope is the least-squares slope of f over the samples, per minute.
func slope(ss []sample, f func(sample) int) float64 {
	var sx, sy, sxx, sxy float64
	for _, s := range ss {
		x, y := s.at.Minutes(), float64(f(s))
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	k := float64(len(ss))
	den := k*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (k*sxy - sx*sy) / den
}

func rangeKiB(v []int) string {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return fmt.Sprintf("%.0f–%.0f", float64(lo)/1024, float64(hi)/1024)
}

func rangeInt(v []int) string {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

func envDur(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}
