package main

import (
	"fmt"
	"slices"
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

// summary prints the three checks and returns an error naming those that
// failed: discovery converged, every gossiped message reached every other
// node exactly once, and the vote round trips' p99 stayed under the bound.
func (d *demo) summary(disc discovery) error {
	var fails []string
	w := d.out
	fmt.Fprintln(w, "\nsummary")

	// Discovery.
	if disc.converged && disc.connected {
		d.sent.Lock()
		released := d.sent.seedReleases
		d.sent.Unlock()
		fmt.Fprintf(w, "  discovery  OK    converged in %v: every node has %d outbound peers or all %d others, and the %d nodes form one connected graph (%d seed connections holding an outbound slot closed by the demo)\n",
			disc.took.Round(10*time.Millisecond), d.o.outbound, len(d.nodes)-1, len(d.nodes), released)
	} else {
		why := disc.detail
		if !disc.connected {
			why = "the nodes' graph is not connected; " + why
		}
		fmt.Fprintf(w, "  discovery  FAIL  not converged after %v: %s\n", d.o.convergeTimeout, why)
		fails = append(fails, "discovery")
	}

	// Gossip.
	missing, dups, delivered := d.missing()
	d.sent.Lock()
	blocks, txs, blockBytes, votes, voteErrs := d.sent.blocks, d.sent.txs, d.sent.blockBytes, d.sent.votes, d.sent.voteErrors
	unsent := d.sent.unsent
	d.sent.Unlock()
	var dupCopies, received uint64
	for _, dn := range d.nodes {
		st := dn.n.Stats()
		dupCopies += st.GossipDuplicates
		received += st.GossipReceived
	}
	ratio := 0.0
	if received > 0 {
		ratio = float64(dupCopies) / float64(received)
	}
	switch {
	case blocks+txs == 0:
		fmt.Fprintln(w, "  gossip     FAIL  nothing was gossiped")
		fails = append(fails, "gossip")
	case unsent > 0:
		fmt.Fprintf(w, "  gossip     FAIL  %d gossip messages could not leave their origin within %v (send queues full)\n", unsent, gossipSendTimeout)
		fails = append(fails, "gossip")
		d.explainMissing()
	case missing == 0 && dups == 0:
		fmt.Fprintf(w, "  gossip     OK    %d blocks (%.0f MiB) and %d transactions each reached every one of the %d other nodes exactly once (%d deliveries); %.0f%% of received copies were duplicates, dropped\n",
			blocks, float64(blockBytes)/(1<<20), txs, len(d.nodes)-1, delivered, 100*ratio)
	default:
		fmt.Fprintf(w, "  gossip     FAIL  %d blocks and %d transactions: %d deliveries missing, %d duplicate deliveries (of %d expected)\n",
			blocks, txs, missing, dups, (blocks+txs)*(len(d.nodes)-1))
		fails = append(fails, "gossip")
		d.explainMissing()
	}

	// Consensus round trips.
	var rtts []time.Duration
	for _, dn := range d.nodes {
		dn.mu.Lock()
		rtts = append(rtts, dn.rtts...)
		dn.mu.Unlock()
	}
	slices.Sort(rtts)
	p50, p99 := percentile(rtts, 0.50), percentile(rtts, 0.99)
	lost := ""
	if voteErrs > 0 {
		lost = fmt.Sprintf(", %d sends refused by a full queue", voteErrs)
	}
	switch {
	case len(rtts) == 0:
		fmt.Fprintf(w, "  consensus  FAIL  no vote round trip completed (%d votes sent%s)\n", votes, lost)
		fails = append(fails, "consensus")
	case p99 < d.o.maxP99:
		fmt.Fprintf(w, "  consensus  OK    %d vote round trips while %.0f MiB of blocks streamed: p50 %v, p99 %v, max %v (bound: p99 < %v)%s\n",
			len(rtts), float64(blockBytes)/(1<<20), roundDur(p50), roundDur(p99), roundDur(rtts[len(rtts)-1]), d.o.maxP99, lost)
	default:
		fmt.Fprintf(w, "  consensus  FAIL  %d vote round trips while blocks streamed: p50 %v, p99 %v exceeds the bound %v%s\n",
			len(rtts), roundDur(p50), roundDur(p99), d.o.maxP99, lost)
		fails = append(fails, "consensus")
	}
	if len(fails) > 0 {
		fmt.Fprintln(w, "demo FAILED")
		return fmt.Errorf("checks failed: %v", fails)
	}
	fmt.Fprintf(w, "demo OK (%v)\n", d.since().Round(100*time.Millisecond))
	return nil
}

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
func (d *demo) explainMissing() {
	d.sent.Lock()
	ids := make(map[p2p.MessageID]*demoNode, len(d.sent.gossip))
	for id, origin := range d.sent.gossip {
		ids[id] = origin
	}
	d.sent.Unlock()
	d.sent.Lock()
	for _, drop := range d.sent.drops {
		fmt.Fprintf(d.out, "             link closed at %s\n", drop)
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
		fmt.Fprintf(d.out, "             %s: %d missing; forward copies dropped on full queues: %d; messages lost with closed connections: %d\n",
			dn.name, missing, st.GossipForwardDropped, unsent)
		for _, p := range dn.n.Peers() {
			for _, t := range p.Conn.Topics {
				if t.SendQueue > 0 || t.RecvHeld > 0 {
					fmt.Fprintf(d.out, "               %s %s %s: queue %d credit %d stalls %d held %d; inflight %d/%d waits %d ackrtt %v\n",
						p.Direction, p.ID.Short(), t.Name, t.SendQueue, t.SendCredit, t.CreditStalls, t.RecvHeld,
						p.Conn.InFlight, p.Conn.InFlightCap, p.Conn.InFlightWaits, p.Conn.AckRTT)
				}
			}
		}
	}
}
