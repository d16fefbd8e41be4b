package lab

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// lossyRun is what one dissemination mode of TestChunkedLossyLinks
// measured.
type lossyRun struct {
	// ratio is, per receiving node, the block payload bytes it received
	// (duplicates included) over the bytes of the blocks it was due;
	// wire the same with the blocks topic's wire bytes.
	ratio, wire   []float64
	took          time.Duration // from resume to the last node's last block
	disconnects   uint64
	dupConns      int
	reps          []*Report
	impairDropped uint64
}

// lossyGraph returns, for each of n nodes, the nodes it dials: the next
// one on a ring (so the graph is connected) and two others drawn from a
// fixed seed (so every run has the same graph).
func lossyGraph(n int) [][]int {
	r := rand.New(rand.NewPCG(14, 5))
	out := make([][]int, n)
	for i := range n {
		out[i] = []int{(i + 1) % n}
		for len(out[i]) < 3 {
			j := r.IntN(n)
			if j != i && !slices.Contains(out[i], j) {
				out[i] = append(out[i], j)
			}
		}
	}
	return out
}

// runLossy runs one mode of TestChunkedLossyLinks on a lab of its own.
func runLossy(t *testing.T, mode string, hosts int, impaired, origins []int, slow map[int]time.Duration, perOrigin, blockSize int) *lossyRun {
	l := New(t, hosts)
	for _, i := range impaired {
		l.Hosts[i].Impair(Impairment{Delay: 50 * time.Millisecond, Loss: 0.05})
	}
	names := make([]string, hosts)
	for i := range names {
		names[i] = nodeName(i)
	}
	dials := lossyGraph(hosts)
	nodes := make([]*labNode, hosts)
	for i, h := range l.Hosts {
		var boot []string
		for _, j := range dials[i] {
			boot = append(boot, NodeAddr(names[j], listenAddr(l.Hosts[j])))
		}
		args := []string{"-bootstrap", strings.Join(boot, ","), "-max-outbound", "3", "-probe-every", "0",
			"-block-mode", mode, "-block-size", strconv.Itoa(blockSize), "-paused"}
		if slices.Contains(origins, i) {
			args = append(args, "-block-every", "300ms", "-block-count", strconv.Itoa(perOrigin))
		}
		if d := slow[i]; d > 0 {
			args = append(args, "-read-delay", d.String())
		}
		nodes[i] = startLabNode(t, h, names[i], args...)
	}
	// Every link of the graph up (PEX may add others: the fill dials
	// from the book when a simultaneous dial left a node short).
	ids := map[string]int{}
	for i, n := range names {
		ids[Identity(n).ID().String()] = i
	}
	testutil.Eventually(t, 30*time.Second, "every link of the graph up", func() bool {
		adj := make([]map[int]bool, hosts)
		for i, n := range nodes {
			r, err := n.stats(context.Background())
			if err != nil {
				return false
			}
			adj[i] = map[int]bool{}
			for _, p := range r.Peers {
				adj[i][ids[p.ID]] = true
			}
		}
		for i, ds := range dials {
			for _, j := range ds {
				if !adj[i][j] || !adj[j][i] {
					return false
				}
			}
		}
		return true
	})
	start := time.Now()
	for _, i := range origins {
		nodes[i].get(t, "/resume")
	}
	// Every node has every block of every other origin, each once
	// (labnode counts a block per origin and sequence number, and counts
	// a second copy delivered to the application in Dups).
	var missing string
	defer func() {
		if t.Failed() && missing != "" {
			t.Logf("missing:%s", missing)
		}
	}()
	var reps []*Report
	testutil.Eventually(t, 90*time.Second, "every block at every node", func() bool {
		reps, missing = reps[:0], ""
		for j, n := range nodes {
			r, err := n.stats(context.Background())
			if err != nil {
				missing = fmt.Sprintf(" %s: %v", n.name, err)
				return false
			}
			reps = append(reps, r)
			for _, i := range origins {
				k := strconv.Itoa(l.Hosts[i].Index)
				if i != j && r.RecvBlocks[k] != uint64(perOrigin) {
					missing += fmt.Sprintf(" [%s from %s: %d/%d]", n.name, names[i], r.RecvBlocks[k], perOrigin)
				}
			}
		}
		return missing == ""
	})
	res := &lossyRun{took: time.Since(start), reps: reps}
	for j, r := range reps {
		if r.Dups != 0 {
			t.Errorf("%s: %d blocks delivered twice", names[j], r.Dups)
		}
		if slices.Contains(origins, j) && r.SentBlocks != uint64(perOrigin) {
			t.Errorf("%s: sent %d blocks, want %d", names[j], r.SentBlocks, perOrigin)
		}
		due := 0
		for _, i := range origins {
			if i != j {
				due += perOrigin * blockSize
			}
		}
		// A node gets every byte it was due at least once, so a ratio
		// below 1 means the counter is not the mode's (or the mode not
		// in use); chunked mode delivers every block it was due through
		// the chunked engine.
		if r.BlockMode != mode || r.BlockPayloadBytes < uint64(due) {
			t.Errorf("%s: mode %q, %d block payload bytes received; want mode %q and at least the %d bytes due", names[j], r.BlockMode, r.BlockPayloadBytes, mode, due)
		}
		if mode == "chunked" && r.Chunked.Delivered != uint64(due/blockSize) {
			t.Errorf("%s: %d blocks delivered by the chunked engine, want %d", names[j], r.Chunked.Delivered, due/blockSize)
		}
		res.ratio = append(res.ratio, float64(r.BlockPayloadBytes)/float64(due))
		res.wire = append(res.wire, float64(r.BlockWireBytesIn)/float64(due))
		what := fmt.Sprintf("%d gossip forwards dropped (queue full)", r.GossipForwardDropped)
		if mode == "chunked" {
			c := r.Chunked
			what = fmt.Sprintf("chunks %d pushed, %d pulled, %d duplicate; %d pulls failed; %d dont-wants sent; %d pushes cancelled",
				c.ChunksReceived, c.ChunksPulled, c.ChunkDuplicates, c.PullsFailed, c.DontWants, c.Cancelled)
		}
		imp := ""
		if slices.Contains(impaired, j) {
			imp = " (impaired)"
		}
		if slow[j] > 0 {
			imp = " (slow reader)"
		}
		t.Logf("%s%s, %d peers: %.2f× payload, %.2f× wire; %s", names[j], imp, len(r.Peers), res.ratio[j], res.wire[j], what)
		n, d := r.unexpectedDisconnects()
		res.disconnects += n
		res.dupConns += d
		if n != 0 {
			t.Logf("%s: %d disconnects: %q", names[j], n, r.DisconnectReasons)
		}
	}
	for _, i := range impaired {
		res.impairDropped += l.Hosts[i].ImpairStats().Dropped
	}
	return res
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// TestChunkedLossyLinks gossips 1 MiB blocks on a 9-host graph where 3
// hosts send with 5% loss and 50 ms of delay (issue 14: "the same with 5%
// packet loss and 50 ms delay on some links in the netns lab"), once with
// the blocks topic flooded and once chunked (p2p.Chunked, 64 KiB chunks,
// 4 eager peers), each on a fresh lab with the same graph: each node dials
// the next on a ring and two others drawn from a fixed seed (mean degree
// about 4.7). Three clean hosts originate 5 blocks each, one every 300 ms.
// One more clean host (node 4) is a slow reader: its application reads
// the blocks inbox at a tenth of the rate blocks come (labnode
// -read-delay 1s). Announcers that never serve are not played here: that
// takes a hook inside p2p's chunked engine, so they are covered on
// loopback only (p2p's TestChunkedSlowAndUnserving, TestChunkedAdversary
// and TestChunkedSilentAnnouncer).
//
// Bounds: in both modes every node receives every block of every other
// origin exactly once (labnode's per-origin counts, no second delivery)
// within 90 s (measured with the slow reader: 14.2 s chunked, 16.2 s
// flood under the race detector at load 12, bounded by the slow reader's
// 1 s per block: it is due 12; before it, under 14 s, and flood 20–27 s
// under make test's race detector, which slows the emulator in the test
// process). Chunked costs the nodes on average
// at most 1.3× the bytes they were due in block payload (issue 14's
// target; chunk bytes pushed or pulled, duplicates included; measured
// 1.08–1.11×), less than flood's average (2.8–3.4×), and no single node
// pays flood's average. The impaired hosts pay the most (up to 1.4×):
// their wants, haves and dont-wants leave late, so a neighbour pushes
// chunks they have meanwhile pulled or had from another pusher.
func TestChunkedLossyLinks(t *testing.T) {
	const (
		hosts     = 9
		perOrigin = 5
		blockSize = 1 << 20
	)
	impaired := []int{2, 5, 7}
	origins := []int{0, 3, 6}
	// A tenth of the rate the blocks come at (one per 100 ms, all origins
	// together), as the slow nodes of p2p's TestChunkedSlowAndUnserving.
	slow := map[int]time.Duration{4: time.Second}
	runs := map[string]*lossyRun{}
	for _, mode := range []string{"flood", "chunked"} {
		if !t.Run(mode, func(t *testing.T) {
			runs[mode] = runLossy(t, mode, hosts, impaired, origins, slow, perOrigin, blockSize)
		}) {
			return
		}
	}
	fl, ck := runs["flood"], runs["chunked"]
	if fl == nil || ck == nil {
		return // a -run pattern chose one mode
	}
	for _, mode := range []string{"flood", "chunked"} {
		r := runs[mode]
		figure(t, "%s: %d blocks of 1 MiB from %d origins to all %d nodes exactly once; block payload per node per message %.2f× the block (max %.2f×), blocks-topic wire bytes %.2f× (max %.2f×); last delivery %v after the origins started; disconnects %d (besides %d duplicate-connection closes); emulator dropped %d packets",
			mode, perOrigin*len(origins), len(origins), hosts, mean(r.ratio), slices.Max(r.ratio), mean(r.wire), slices.Max(r.wire),
			r.took.Round(100*time.Millisecond), r.disconnects, r.dupConns/2, r.impairDropped)
	}
	var c struct{ pushed, pulled, dups, pullsFailed, skipped, cancelled, dontWants uint64 }
	for _, r := range ck.reps {
		c.pushed += r.Chunked.ChunksReceived
		c.pulled += r.Chunked.ChunksPulled
		c.dups += r.Chunked.ChunkDuplicates
		c.pullsFailed += r.Chunked.PullsFailed
		c.skipped += r.Chunked.PushesSkipped
		c.cancelled += r.Chunked.Cancelled
		c.dontWants += r.Chunked.DontWants
	}
	figure(t, "chunked, all nodes: %d chunks new by push, %d by pull, %d duplicates; %d pulls failed (asked elsewhere); %d pushes skipped (queue full); %d dont-wants, %d queued pushes cancelled",
		c.pushed, c.pulled, c.dups, c.pullsFailed, c.skipped, c.dontWants, c.cancelled)
	if m := mean(ck.ratio); m > 1.3 || m >= mean(fl.ratio) {
		t.Errorf("chunked: %.2f× the block per node per message, want ≤ 1.3× and below flood's %.2f×", m, mean(fl.ratio))
	}
	for j, x := range ck.ratio {
		if x >= mean(fl.ratio) {
			t.Errorf("chunked: %s received %.2f× the blocks it was due, not below flood's average %.2f×", nodeName(j), x, mean(fl.ratio))
		}
	}
}
