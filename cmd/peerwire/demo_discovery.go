package main

import (
	"context"
	"fmt"
	"time"
)

// discovery is what the discovery phase found.
type discovery struct {
	converged bool
	took      time.Duration
	connected bool // the nodes' graph is connected
	detail    string
}

// converged reports whether every node has its outbound target among the
// other nodes (the seed does not count) or is connected to all of them,
// and whether the graph of nodes is connected.
func (d *demo) converged() (all, connected bool, lagging string) {
	adj := map[*demoNode][]*demoNode{}
	all = true
	for _, dn := range d.nodes {
		out, total := 0, 0
		for _, p := range dn.n.Peers() {
			other := d.ids[p.ID]
			if other == nil {
				continue // the seed
			}
			total++
			if p.Direction == "outbound" {
				out++
			}
			adj[dn] = append(adj[dn], other)
			adj[other] = append(adj[other], dn)
		}
		if out < d.o.outbound && total < len(d.nodes)-1 {
			all = false
			if lagging == "" {
				lagging = fmt.Sprintf("%s has %d outbound of %d wanted and %d of %d others", dn.name, out, d.o.outbound, total, len(d.nodes)-1)
			}
		}
	}
	seen := map[*demoNode]bool{d.nodes[0]: true}
	queue := []*demoNode{d.nodes[0]}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, y := range adj[x] {
			if !seen[y] {
				seen[y] = true
				queue = append(queue, y)
			}
		}
	}
	return all, len(seen) == len(d.nodes), lagging
}

// releaseSeed disconnects a node from the seed once its outbound slots are
// full and its book knows enough other nodes to fill them: a node that
// filled its slots before asking the seed for addresses keeps the seed in
// an outbound slot (the seed drops inbound peers only after answering a PEX
// request), so the slot would never go to a real peer.
func (d *demo) releaseSeed() {
	seedID := d.seed.n.ID()
	for _, dn := range d.nodes {
		p, ok := dn.n.Peer(seedID)
		if !ok || p.Direction != "outbound" {
			continue
		}
		st := dn.n.Stats()
		if st.Outbound >= d.o.outbound && st.BookSize > d.o.outbound {
			_ = dn.n.Disconnect(seedID, "demo: addresses learned, outbound slot freed")
			d.sent.Lock()
			d.sent.seedReleases++
			d.sent.Unlock()
		}
	}
}

func (d *demo) discover(ctx context.Context) discovery {
	d.setPhase("discovery")
	t0 := time.Now()
	deadline := time.NewTimer(d.o.convergeTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		d.releaseSeed()
		all, connected, lagging := d.converged()
		if all && connected {
			return discovery{converged: true, connected: true, took: time.Since(t0)}
		}
		select {
		case <-ctx.Done():
			return discovery{}
		case <-deadline.C:
			return discovery{converged: all, connected: connected, took: time.Since(t0), detail: lagging}
		case <-tick.C:
		}
	}
}
