package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peerwire/peerwire/p2p"
)

// ANSI sequences for refreshing the table in place on a terminal.
const (
	ansiHome  = "\x1b[H"
	ansiClear = "\x1b[2J"
)

// plainEvery is how many refresh intervals pass between two tables when
// stdout is not a terminal; in between, one status line per interval.
const plainEvery = 5

// liveTable redraws the table on a terminal, or prints plain lines, until
// ctx ends.
func (d *demo) liveTable(ctx context.Context) {
	t := time.NewTicker(d.o.refresh)
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch {
		case d.tty:
			d.printTable(true)
		case i%plainEvery == 0:
			d.printTable(false)
		default:
			d.printStatus()
		}
	}
}

// printStatus prints one line about the whole network.
func (d *demo) printStatus() {
	d.phase.Lock()
	phase := d.phase.name
	d.phase.Unlock()
	d.sent.Lock()
	blocks, txs, votes := d.sent.blocks, d.sent.txs, d.sent.votes
	d.sent.Unlock()
	conns := 0
	for _, dn := range d.nodes {
		conns += len(dn.n.Peers())
	}
	missing, _, _ := d.missing()
	fmt.Fprintf(d.out, "[%5.1fs] %-9s links %d  gossiped: %d blocks, %d txs  votes sent %d  deliveries pending %d\n",
		d.since().Seconds(), phase, conns/2, blocks, txs, votes, missing)
}

// printTable prints the table, in place on a terminal.
func (d *demo) printTable(inPlace bool) {
	t := d.tableText()
	if inPlace {
		t = ansiHome + ansiClear + t
	}
	fmt.Fprint(d.out, t)
}

// blockReach returns, over the blocks so far that reached every other
// node, the p50 and p99 time from proposal until the last node had it.
func (d *demo) blockReach() (n int, p50, p99 time.Duration) {
	d.sent.Lock()
	type blk struct {
		at     time.Duration
		origin *demoNode
	}
	blocks := map[p2p.MessageID]blk{}
	for _, id := range d.sent.blockIDs {
		blocks[id] = blk{d.sent.sentAt[id], d.sent.gossip[id]}
	}
	d.sent.Unlock()
	last := map[p2p.MessageID]time.Duration{}
	have := map[p2p.MessageID]int{}
	for _, dn := range d.nodes {
		dn.mu.Lock()
		for id, b := range blocks {
			if at, ok := dn.firstAt[id]; ok && b.origin != dn {
				have[id]++
				last[id] = max(last[id], at-b.at)
			}
		}
		dn.mu.Unlock()
	}
	var full []time.Duration
	for id, c := range have {
		if c == len(d.nodes)-1 {
			full = append(full, last[id])
		}
	}
	slices.Sort(full)
	return len(full), percentile(full, 0.5), percentile(full, 0.99)
}

// tableText returns one row per node: peers in/out, the gossip messages
// the node has (unique), messages and bytes per topic (copies sent plus
// received on its links, duplicates included), ping RTT, vote round trips
// and the share of received gossip copies dropped as duplicates; above
// it, the time blocks take to reach every node; below it, a legend.
func (d *demo) tableText() string {
	var b strings.Builder
	d.phase.Lock()
	phase := d.phase.name
	d.phase.Unlock()
	fmt.Fprintf(&b, "peerwire demo  t=%.1fs  phase: %s  (%d nodes + seed on 127.0.0.1)\n", d.since().Seconds(), phase, len(d.nodes))
	if n, p50, p99 := d.blockReach(); n > 0 {
		fmt.Fprintf(&b, "a block reaches all %d other nodes in p50 %.1f ms, p99 %.1f ms (%d blocks)\n", len(d.nodes)-1, ms(p50), ms(p99), n)
	} else {
		fmt.Fprintf(&b, "a block reaches all %d other nodes in: - (no block has reached every node yet)\n", len(d.nodes)-1)
	}
	fmt.Fprintf(&b, "%-5s %-8s %7s  %7s  %15s  %15s  %15s  %8s  %15s  %5s\n",
		"node", "id", "peers", "unique", "consensus", "blocks", "transactions", "ping", "vote rtt", "dup")
	fmt.Fprintf(&b, "%-5s %-8s %7s  %7s  %15s  %15s  %15s  %8s  %15s  %5s\n",
		"", "", "in/out", "gossip", "copies    KiB", "copies    MiB", "copies    KiB", "ms", "p50/p99 ms", "")
	for _, dn := range d.reportNodes() {
		st := dn.n.Stats()
		var cells [4]string
		for _, t := range st.Topics {
			msgs := t.MessagesIn + t.MessagesOut
			bytes := float64(t.BytesIn + t.BytesOut)
			switch t.ID {
			case topicConsensus:
				cells[1] = fmt.Sprintf("%6d %8.1f", msgs, bytes/1024)
			case topicBlocks:
				cells[2] = fmt.Sprintf("%6d %8.1f", msgs, bytes/(1<<20))
			case topicTransactions:
				cells[3] = fmt.Sprintf("%6d %8.1f", msgs, bytes/1024)
			}
		}
		var ping time.Duration
		var pinged int
		for _, p := range dn.n.Peers() {
			if p.RTT.Samples > 0 {
				ping += p.RTT.Smoothed
				pinged++
			}
		}
		pingCell := "-"
		if pinged > 0 {
			pingCell = fmt.Sprintf("%.2f", float64(ping/time.Duration(pinged))/1e6)
		}
		dn.mu.Lock()
		rtts := slices.Clone(dn.rtts)
		unique := len(dn.got)
		dn.mu.Unlock()
		voteCell := "-"
		if len(rtts) > 0 {
			slices.Sort(rtts)
			voteCell = fmt.Sprintf("%.2f/%.2f", float64(percentile(rtts, 0.5))/1e6, float64(percentile(rtts, 0.99))/1e6)
		}
		fmt.Fprintf(&b, "%-5s %-8s %3d/%-3d  %7d  %15s  %15s  %15s  %8s  %15s  %4.0f%%\n",
			dn.name, dn.n.ID().Short(), st.Inbound, st.Outbound, unique, cells[1], cells[2], cells[3], pingCell, voteCell, 100*st.DedupRatio())
	}
	b.WriteString("unique gossip: distinct blocks and transactions delivered to the node's application, each once.\n" +
		"copies: messages sent plus received on the node's links, every copy (a gossiped message reaches a node\n" +
		"once per peer that forwards it); KiB/MiB: their bytes. dup: share of received gossip copies dropped as\n" +
		"already seen. ping: mean smoothed RTT to its peers. vote rtt: its votes' round trips, request to answer.\n")
	return b.String()
}
