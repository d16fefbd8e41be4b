package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
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

// printTable prints one row per node: peers in/out, messages and bytes per
// topic (sent plus received, every copy on the wire), ping RTT, vote round
// trips and the share of gossip copies dropped as duplicates.
func (d *demo) printTable(inPlace bool) {
	var b strings.Builder
	if inPlace {
		b.WriteString(ansiHome + ansiClear)
	}
	d.phase.Lock()
	phase := d.phase.name
	d.phase.Unlock()
	fmt.Fprintf(&b, "peerwire demo  t=%.1fs  phase: %s  (%d nodes + seed on 127.0.0.1)\n", d.since().Seconds(), phase, len(d.nodes))
	fmt.Fprintf(&b, "%-5s %-8s %7s  %15s  %15s  %15s  %8s  %15s  %5s\n",
		"node", "id", "peers", "consensus", "blocks", "transactions", "ping", "vote rtt", "dedup")
	fmt.Fprintf(&b, "%-5s %-8s %7s  %15s  %15s  %15s  %8s  %15s  %5s\n",
		"", "", "in/out", "msgs    KiB", "msgs    MiB", "msgs    KiB", "ms", "p50/p99 ms", "")
	rows := append([]*demoNode{d.seed}, d.nodes...)
	for _, dn := range rows {
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
		dn.mu.Unlock()
		voteCell := "-"
		if len(rtts) > 0 {
			slices.Sort(rtts)
			voteCell = fmt.Sprintf("%.2f/%.2f", float64(percentile(rtts, 0.5))/1e6, float64(percentile(rtts, 0.99))/1e6)
		}
		fmt.Fprintf(&b, "%-5s %-8s %3d/%-3d  %15s  %15s  %15s  %8s  %15s  %4.0f%%\n",
			dn.name, dn.n.ID().Short(), st.Inbound, st.Outbound, cells[1], cells[2], cells[3], pingCell, voteCell, 100*st.DedupRatio())
	}
	fmt.Fprint(d.out, b.String())
}
