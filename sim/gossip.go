package sim

// The gossip measurement at the end of a run (run.go's finish calls it):
// a flood over the final graph, timed by shortest paths.

import (
	"sort"
	"time"
)

// gossipHop is the per-hop processing delay added to a link's latency.
const gossipHop = time.Millisecond

// gossip floods GossipOrigins messages over the final graph: each honest
// node forwards a message once, to every peer but the one it came from
// (p2p's forward); attacker identities drop it. Arrival times are the
// shortest paths (Dijkstra), copies are counted per forward.
func (s *Sim) gossip() {
	r := s.res
	var online []*node
	for _, n := range s.nodes {
		if n.online {
			online = append(online, n)
		}
	}
	if len(online) == 0 {
		return
	}
	const steps = 40
	var arrivals []time.Duration
	reachSum, dupSum := 0.0, 0.0
	idx := map[*node]int{}
	for i, n := range online {
		idx[n] = i
	}
	dist := make([]time.Duration, len(online))
	parent := make([]int, len(online))
	for o := 0; o < s.cfg.GossipOrigins; o++ {
		src := online[s.rng.IntN(len(online))]
		for i := range dist {
			dist[i] = -1
			parent[i] = -1
		}
		h := &durHeap{}
		dist[idx[src]] = 0
		h.push(idx[src], 0)
		done := make([]bool, len(online))
		for h.len() > 0 {
			u, d := h.pop()
			if done[u] {
				continue
			}
			done[u] = true
			un := online[u]
			for _, l := range un.links {
				oe := l.other(un.ep)
				if oe.node == nil || !oe.node.online {
					continue
				}
				v := idx[oe.node]
				nd := d + oneWay(un.ep, oe) + gossipHop
				if dist[v] < 0 || nd < dist[v] {
					dist[v] = nd
					parent[v] = u
					h.push(v, nd)
				}
			}
		}
		reached, copies := 0, 0
		for u, d := range dist {
			if d < 0 {
				continue
			}
			reached++
			if u != idx[src] {
				arrivals = append(arrivals, d)
			}
			un := online[u]
			for _, l := range un.links {
				oe := l.other(un.ep)
				if oe.node == nil || !oe.node.online || (parent[u] >= 0 && online[parent[u]] == oe.node) {
					continue
				}
				copies++
			}
		}
		reachSum += float64(reached) / float64(len(online))
		if reached > 1 {
			dupSum += float64(copies) / float64(reached-1)
		}
	}
	r.GossipFinal = reachSum / float64(s.cfg.GossipOrigins)
	r.GossipDup = dupSum / float64(s.cfg.GossipOrigins)
	sort.Slice(arrivals, func(i, j int) bool { return arrivals[i] < arrivals[j] })
	var maxT time.Duration
	if len(arrivals) > 0 {
		maxT = arrivals[len(arrivals)-1]
	}
	r.GossipStep = max(time.Millisecond, (maxT+steps-1)/steps)
	r.GossipReach = make([]float64, steps+1)
	total := float64(s.cfg.GossipOrigins * len(online))
	j := 0
	for i := range r.GossipReach {
		t := r.GossipStep * time.Duration(i)
		for j < len(arrivals) && arrivals[j] <= t {
			j++
		}
		r.GossipReach[i] = (float64(j) + float64(s.cfg.GossipOrigins)) / total
	}
}

// durHeap is a min-heap of (node, time) for Dijkstra.
type durHeap struct {
	n []int
	d []time.Duration
}

func (h *durHeap) len() int { return len(h.n) }

func (h *durHeap) push(n int, d time.Duration) {
	h.n = append(h.n, n)
	h.d = append(h.d, d)
	i := len(h.n) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h.d[p] <= h.d[i] {
			break
		}
		h.n[p], h.n[i] = h.n[i], h.n[p]
		h.d[p], h.d[i] = h.d[i], h.d[p]
		i = p
	}
}

func (h *durHeap) pop() (int, time.Duration) {
	n, d := h.n[0], h.d[0]
	last := len(h.n) - 1
	h.n[0], h.d[0] = h.n[last], h.d[last]
	h.n, h.d = h.n[:last], h.d[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h.n) {
			break
		}
		m := l
		if l+1 < len(h.n) && h.d[l+1] < h.d[l] {
			m = l + 1
		}
		if h.d[i] <= h.d[m] {
			break
		}
		h.n[i], h.n[m] = h.n[m], h.n[i]
		h.d[i], h.d[m] = h.d[m], h.d[i]
		i = m
	}
	return n, d
}
