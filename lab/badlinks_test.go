package lab

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// waitDelivered waits until every node has every message every other node
// originated (the nodes must have paused generating), and returns how long
// that took and the final reports.
func waitDelivered(t testing.TB, nodes []*labNode, within time.Duration) (time.Duration, []*Report) {
	t.Helper()
	sentV := make([]uint64, len(nodes))
	sentB := make([]uint64, len(nodes))
	for i, n := range nodes {
		r := n.mustStats(t)
		sentV[i], sentB[i] = r.SentVotes, r.SentBlocks
	}
	var last []*Report
	var missing string
	start := time.Now()
	for {
		last, missing = last[:0], ""
		for j, n := range nodes {
			r, err := n.stats(context.Background())
			if err != nil {
				t.Fatalf("%s: %v", n.name, err)
			}
			last = append(last, r)
			for i := range nodes {
				k := strconv.Itoa(nodes[i].Host.Index)
				if i != j && (r.RecvVotes[k] != sentV[i] || r.RecvBlocks[k] != sentB[i]) {
					missing += fmt.Sprintf(" [%s from %s: votes %d/%d blocks %d/%d]", n.name, nodes[i].name, r.RecvVotes[k], sentV[i], r.RecvBlocks[k], sentB[i])
				}
			}
		}
		if missing == "" {
			return time.Since(start), last
		}
		if time.Since(start) > within {
			t.Fatalf("not every message reached every node within %v:%s", within, missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBadLinks gives two of six hosts 100 ms of delay and 1% loss on their
// egress (netem, or the userspace emulator where the kernel lacks netem) and runs vote gossip with a 1 MiB block every 15 s.
//
// Bounds: every vote and block reaches every node (exact counts). The
// consensus-topic echo RTT of each link is at least the netem delay on its
// path (100 ms per bad end: netem delay is a fixed added latency) and its
// minimum over the run is within 80 ms of that (the bridge adds well under
// 1 ms; the slack covers scheduling on a loaded 2-core machine). No
// connection drops, with a 1 s ping and a 5 s idle timeout (twelve times
// tighter than the default 60 s): the worst consensus-topic stall behind
// 1 MiB blocks and loss recovery on a 200 ms link measures about 1.5 s, and
// a timeout needs 5 s without any inbound byte or pong. Two nodes that
// dial each other at once keep one connection and close the other
// ("duplicate connection"); that is by design and counted apart.
func TestBadLinks(t *testing.T) {
	l := New(t, 6)
	bad := map[int]bool{0: true, 1: true}
	how := ""
	for i := range bad {
		how = l.Hosts[i].Impair(Impairment{Delay: 100 * time.Millisecond, Loss: 0.01})
	}
	names := make([]string, len(l.Hosts))
	for i := range names {
		names[i] = nodeName(i)
	}
	nodes := make([]*labNode, len(l.Hosts))
	for i, h := range l.Hosts {
		args := []string{"-bootstrap", ringBootstrap(names, l.Hosts, i), "-max-outbound", "3",
			"-ping", "1s", "-idle", "5s", "-vote-every", "100ms", "-probe-every", "500ms", "-paused"}
		if i == 5 {
			args = append(args, "-block-every", "15s")
		}
		nodes[i] = startLabNode(t, h, names[i], args...)
	}
	testutil.Eventually(t, 30*time.Second, "every node with ≥ 3 peers", func() bool {
		for _, n := range nodes {
			if r, err := n.stats(context.Background()); err != nil || len(r.Peers) < 3 {
				return false
			}
		}
		return true
	})
	for _, n := range nodes {
		n.get(t, "/resume")
	}
	time.Sleep(32 * time.Second) // the run: two blocks and ~300 votes per node
	for _, n := range nodes {
		n.get(t, "/pause")
	}
	took, reps := waitDelivered(t, nodes, 60*time.Second)
	var votes, blocks, disc uint64
	dupes := 0
	for i, r := range reps {
		votes += r.SentVotes
		blocks += r.SentBlocks
		n, d := r.unexpectedDisconnects()
		disc += n
		dupes += d
		if n != 0 {
			t.Errorf("%s: %d disconnects: %q", names[i], n, r.DisconnectReasons)
		}
	}
	idx := map[string]int{}
	for i, n := range nodes {
		idx[Identity(n.name).ID().String()] = i
	}
	type agg struct{ min, minMin, maxMax float64 }
	byDelay := map[int]*agg{}
	for i, r := range reps {
		for _, p := range r.Peers {
			j := idx[p.ID]
			if !p.AppRTTSamples {
				t.Errorf("%s → %s: no consensus-topic RTT sample", names[i], names[j])
				continue
			}
			want := 0
			if bad[i] {
				want += 100
			}
			if bad[j] {
				want += 100
			}
			if p.AppRTTMinms < float64(want) || p.AppRTTMinms > float64(want)+80 {
				t.Errorf("%s → %s: consensus RTT min %.1f ms, want %d–%d ms", names[i], names[j], p.AppRTTMinms, want, want+80)
			}
			a := byDelay[want]
			if a == nil {
				a = &agg{minMin: 1e9}
				byDelay[want] = a
			}
			a.minMin = min(a.minMin, p.AppRTTMinms)
			a.min = max(a.min, p.AppRTTMinms)
			a.maxMax = max(a.maxMax, p.AppRTTMaxms)
		}
	}
	for _, d := range []int{0, 100, 200} {
		if a := byDelay[d]; a != nil {
			figure(t, "links with %d ms of added delay: consensus-topic echo RTT minimum %.1f–%.1f ms across links, worst single probe %.0f ms (behind 1 MiB blocks and loss recovery)", d, a.minMin, a.min, a.maxMax)
		}
	}
	figure(t, "hosts 0 and 1 with 100 ms delay and 1%% loss on egress (%s; emulator on host 0: %+v): %d votes and %d blocks of 1 MiB, each delivered to all 5 other nodes (exact counts), last delivery %v after traffic stopped; disconnects %d (besides %d duplicate-connection closes from simultaneous dials at start)",
		how, l.Hosts[0].ImpairStats(), votes, blocks, took.Round(100*time.Millisecond), disc, dupes/2)
}
