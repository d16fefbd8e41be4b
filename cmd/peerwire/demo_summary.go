package main

import (
	"fmt"
	"io"
	"time"

	"github.com/peerwire/peerwire/p2p"
)

// percentile returns the q-th quantile (0-1) of sorted samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// printSummary prints the three checks: discovery converged, every
// gossiped message reached every other node exactly once, and the vote
// round trips' p99 stayed under the bound; and the time blocks took to
// reach every node.
func (d *demo) printSummary(w io.Writer, r *demoResults) {
	fmt.Fprintln(w, "\nsummary")
	if r.Discovery.OK {
		handed := ""
		if n := r.Discovery.SeedReleases; n > 0 {
			handed = fmt.Sprintf("; the demo closed %d seed connections so those nodes dialed real peers", n)
		}
		fmt.Fprintf(w, "  discovery  OK    in %v every node found %d peers to dial (or all %d others) by asking the seed, and the %d nodes form one connected network%s\n",
			r.disc.took.Round(10*time.Millisecond), d.o.outbound, len(d.nodes)-1, len(d.nodes), handed)
	} else {
		why := r.disc.detail
		if !r.disc.connected {
			why = "the nodes do not form one connected network; " + why
		}
		fmt.Fprintf(w, "  discovery  FAIL  nodes still looking for peers after %v: %s\n", d.o.convergeTimeout, why)
	}

	g := &r.Gossip
	switch {
	case g.Blocks+g.Transactions == 0:
		fmt.Fprintln(w, "  gossip     FAIL  nothing was gossiped")
	case g.Unsent > 0:
		fmt.Fprintf(w, "  gossip     FAIL  %d gossip messages could not leave their origin within %v (send queues full)\n", g.Unsent, gossipSendTimeout)
		d.explainMissing(w)
	case g.OK:
		fmt.Fprintf(w, "  gossip     OK    %d blocks (%.0f MiB) and %d transactions each reached every one of the %d other nodes exactly once (%d deliveries); %.0f%% of the %d copies received were duplicates, dropped\n",
			g.Blocks, float64(g.BlockBytes)/(1<<20), g.Transactions, len(d.nodes)-1, g.Deliveries, 100*g.DuplicateShare, g.CopiesReceived)
	default:
		fmt.Fprintf(w, "  gossip     FAIL  %d blocks and %d transactions: %d deliveries missing, %d duplicate deliveries (of %d expected)\n",
			g.Blocks, g.Transactions, g.Missing, g.Duplicates, (g.Blocks+g.Transactions)*(len(d.nodes)-1))
		d.explainMissing(w)
	}
	if bp := &r.BlockPropagation; bp.Blocks > 0 {
		fmt.Fprintf(w, "  blocks           time for a block to reach all %d other nodes: p50 %v, p99 %v, max %v (%d blocks)\n",
			len(d.nodes)-1, roundMs(bp.P50Ms), roundMs(bp.P99Ms), roundMs(bp.MaxMs), bp.Blocks)
	}
	if g.BlockBytes > 0 {
		fmt.Fprintf(w, "  blocks           %s gossip: each node received %.2f× the block bytes it needed on the blocks topic (1.00: each block crossed one link per node)\n",
			g.BlockGossip, g.BlockBytesPerNode)
	}

	c := &r.Consensus
	lost := ""
	if c.Refused > 0 {
		lost = fmt.Sprintf(", %d sends refused by a full queue", c.Refused)
	}
	switch {
	case c.RoundTrips == 0:
		fmt.Fprintf(w, "  consensus  FAIL  no vote round trip completed (%d votes sent%s)\n", c.Sent, lost)
	case c.OK:
		fmt.Fprintf(w, "  consensus  OK    %d vote round trips while %.0f MiB of blocks streamed: p50 %v, p99 %v, max %v (bound: p99 < %s)%s\n",
			c.RoundTrips, float64(g.BlockBytes)/(1<<20), roundMs(c.P50Ms), roundMs(c.P99Ms), roundMs(c.MaxMs), d.boundText(r), lost)
	default:
		fmt.Fprintf(w, "  consensus  FAIL  %d vote round trips while blocks streamed: p50 %v, p99 %v exceeds the bound %s%s\n",
			c.RoundTrips, roundMs(c.P50Ms), roundMs(c.P99Ms), d.boundText(r), lost)
	}
	if len(r.Failed) > 0 {
		fmt.Fprintln(w, "demo FAILED")
		return
	}
	fmt.Fprintf(w, "demo OK (%v)\n", d.since().Round(100*time.Millisecond))
}

// boundText explains the vote bound: -max-p99 plus the wake-ups' share of
// the machine's scheduling delay.
func (d *demo) boundText(r *demoResults) string {
	if d.o.schedWakeups == 0 {
		return d.o.maxP99.String()
	}
	return fmt.Sprintf("%v + %d × %v scheduling delay of this machine = %v", d.o.maxP99, d.o.schedWakeups, roundDur(r.sched), roundDur(r.bound))
}

// roundMs rounds a figure in milliseconds for printing.
func roundMs(x float64) time.Duration { return roundDur(time.Duration(x * float64(time.Millisecond))) }

func roundDur(x time.Duration) time.Duration {
	switch {
	case x >= 10*time.Millisecond:
		return x.Round(100 * time.Microsecond)
	case x >= time.Millisecond:
		return x.Round(10 * time.Microsecond)
	}
	return x.Round(time.Microsecond)
}

// explainMissing prints, per node, what it lacks and what its node counted
// as lost, to help find why gossip did not arrive.
func (d *demo) explainMissing(w io.Writer) {
	d.sent.Lock()
	ids := make(map[p2p.MessageID]*demoNode, len(d.sent.gossip))
	for id, origin := range d.sent.gossip {
		ids[id] = origin
	}
	d.sent.Unlock()
	d.sent.Lock()
	for _, drop := range d.sent.drops {
		fmt.Fprintf(w, "             link closed at %s\n", drop)
	}
	d.sent.Unlock()
	for _, dn := range d.nodes {
		missing := 0
		dn.mu.Lock()
		for id, origin := range ids {
			if origin != dn && dn.got[id] == 0 {
				missing++
			}
		}
		dn.mu.Unlock()
		st := dn.n.Stats()
		var unsent uint64
		for _, p := range dn.n.Peers() {
			unsent += p.Conn.Unsent
		}
		fmt.Fprintf(w, "             %s: %d missing; forward copies dropped on full queues: %d; messages lost with closed connections: %d\n",
			dn.name, missing, st.GossipForwardDropped, unsent)
		for _, p := range dn.n.Peers() {
			for _, t := range p.Conn.Topics {
				if t.SendQueue > 0 || t.RecvHeld > 0 {
					fmt.Fprintf(w, "               %s %s %s: queue %d credit %d stalls %d held %d; inflight %d/%d waits %d ackrtt %v\n",
						p.Direction, p.ID.Short(), t.Name, t.SendQueue, t.SendCredit, t.CreditStalls, t.RecvHeld,
						p.Conn.InFlight, p.Conn.InFlightCap, p.Conn.InFlightWaits, p.Conn.AckRTT)
				}
			}
		}
	}
}
