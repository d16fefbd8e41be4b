package main

import (
	"context"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report settings.
const (
	// bandwidthEvery is the interval between two bandwidth samples (250 ms):
	// fine enough to show each block passing, few enough points for small SVGs.
	bandwidthEvery = 250 * time.Millisecond
	// maxReportBlocks bounds the blocks drawn one by one in the propagation
	// picture (all blocks are in the aggregated curve).
	maxReportBlocks = 60
	// rttBins is the number of bars of the vote round-trip histogram.
	rttBins = 40
)

// bandwidthSamples are cumulative byte counts (sent plus received, every
// topic and control) per node at the sample times.
// A read of the counters takes a moment (seconds on a machine whose cores
// are busy): it happened between from and to, and a rate is taken over
// the widest window, from one read's from to the next one's to, so that
// a slow read never shows as a spike.
type bandwidthSamples struct {
	from, to [][]time.Duration // [sample][node]
	bytes    [][]uint64        // [sample][node], node 0 is the seed
}

// demoLink is one connection between two nodes, named by the dialer (From).
type demoLink struct {
	From, To string
	Seed     bool // one end is the seed
}

// reportNodes returns the seed and the nodes, in table order.
func (d *demo) reportNodes() []*demoNode { return append([]*demoNode{d.seed}, d.nodes...) }

// sampleBandwidth records every node's byte counters until ctx ends.
func (d *demo) sampleBandwidth(ctx context.Context) {
	t := time.NewTicker(bandwidthEvery)
	defer t.Stop()
	for {
		var row []uint64
		var from, to []time.Duration
		for _, dn := range d.reportNodes() {
			from = append(from, d.since())
			st := dn.n.Stats()
			to = append(to, d.since())
			row = append(row, st.BytesIn+st.BytesOut)
		}
		d.bw.from, d.bw.to = append(d.bw.from, from), append(d.bw.to, to)
		d.bw.bytes = append(d.bw.bytes, row)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// links lists the connections between the demo's nodes, once each.
func (d *demo) links() []demoLink {
	byID := map[string]*demoNode{}
	for _, dn := range d.reportNodes() {
		byID[dn.n.ID().String()] = dn
	}
	var out []demoLink
	for _, dn := range d.reportNodes() {
		for _, p := range dn.n.Peers() {
			other := byID[p.ID.String()]
			if other == nil || p.Direction != "outbound" {
				continue
			}
			out = append(out, demoLink{From: dn.name, To: other.name, Seed: dn == d.seed || other == d.seed})
		}
	}
	return out
}

// writeReport writes index.html, README.md, summary.json and four SVG
// pictures into dir.
func (d *demo) writeReport(dir string, r *demoResults, table, summary string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-report: %w", err)
	}
	pics := []struct{ file, alt, svg string }{
		{"topology.svg", "topology: nodes and links", d.topologySVG()},
		{"propagation.svg", "block propagation: share of nodes reached vs time", d.propagationSVG(r)},
		{"vote-rtt.svg", "vote round-trip distribution", d.rttSVG(r)},
		{"bandwidth.svg", "per-node bandwidth over time", d.bandwidthSVG()},
	}
	var js strings.Builder
	if err := writeJSON(&js, r); err != nil {
		return err
	}
	title := fmt.Sprintf("peerwire demo: a seed and %d nodes on 127.0.0.1", len(d.nodes))
	var h, md strings.Builder
	fmt.Fprintf(&h, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head><meta charset=\"utf-8\"/><title>%s</title></head>\n<body>\n<h1>%s</h1>\n", html.EscapeString(title), html.EscapeString(title))
	fmt.Fprintf(&md, "# %s\n\nWritten by `peerwire demo -report` (%s).\n\n", title, d.settings())
	fmt.Fprintf(&h, "<p>Written by <code>peerwire demo -report</code> (%s).</p>\n<pre>%s</pre>\n", html.EscapeString(d.settings()), html.EscapeString(summary))
	fmt.Fprintf(&md, "```\n%s```\n\n", summary)
	for _, p := range pics {
		fmt.Fprintf(&h, "<p><img src=\"%s\" alt=\"%s\"/></p>\n", p.file, html.EscapeString(p.alt))
		fmt.Fprintf(&md, "![%s](%s)\n\n", p.alt, p.file)
	}
	fmt.Fprintf(&h, "<h2>Final table</h2>\n<pre>%s</pre>\n<p><a href=\"summary.json\">summary.json</a></p>\n</body>\n</html>\n", html.EscapeString(table))
	fmt.Fprintf(&md, "## Final table\n\n```\n%s```\n\nThe figures as JSON: [summary.json](summary.json).\n", table)
	files := map[string]string{"index.html": h.String(), "README.md": md.String(), "summary.json": js.String()}
	for _, p := range pics {
		files[p.file] = p.svg
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("-report: %w", err)
		}
	}
	return nil
}

// settings describes the run's traffic in one line.
func (d *demo) settings() string {
	return fmt.Sprintf("-nodes %d -outbound %d -duration %v -block-size %d -block-interval %v -tx-rate %g -vote-interval %v",
		d.o.nodes, d.o.outbound, d.o.duration, d.o.blockSize, d.o.blockInterval, d.o.txRate, d.o.voteInterval)
}

func (d *demo) topologySVG() string {
	var nodes []graphNode
	for _, dn := range d.reportNodes() {
		nodes = append(nodes, graphNode{Name: dn.name, Center: dn == d.seed})
	}
	return topologyGraph(fmt.Sprintf("Topology after the run: %d links", len(d.topology)), "dashed: links to the seed (orange)", nodes, d.topology)
}

// stepPoints turns sorted delays into a cumulative step curve in percent
// of total.
func stepPoints(delays []time.Duration, total int) []chartPoint {
	pts := []chartPoint{{0, 0}}
	for i, x := range delays {
		v := ms(x)
		pts = append(pts, chartPoint{v, 100 * float64(i) / float64(total)}, chartPoint{v, 100 * float64(i+1) / float64(total)})
	}
	return pts
}

func (d *demo) propagationSVG(r *demoResults) string {
	var series []chartSeries
	var all []time.Duration
	others := len(d.nodes) - 1
	for i, delays := range r.blockDelay {
		all = append(all, delays...)
		if i < maxReportBlocks {
			series = append(series, chartSeries{Name: fmt.Sprintf("block %d", i+1), Color: "#bbb", Width: 1, Points: stepPoints(delays, others)})
		}
	}
	slices.Sort(all)
	series = append(series, chartSeries{Name: "all blocks", Color: "#c33", Width: 2.5, Points: stepPoints(all, others*len(r.blockDelay))})
	return lineChart(fmt.Sprintf("Block propagation: share of the %d other nodes that have a block", others),
		fmt.Sprintf("grey: each block; red: all %d blocks together", len(r.blockDelay)),
		"ms since the block was proposed", "% of nodes reached", 0, 100, func(v float64) string { return fmt.Sprintf("%.0f%%", v) }, series)
}

func (d *demo) rttSVG(r *demoResults) string {
	top := percentile(r.rtts, 0.999)
	width := niceMax(ms(top)) / rttBins
	counts := make([]int, rttBins)
	for _, x := range r.rtts {
		counts[min(int(ms(x)/width), rttBins-1)]++
	}
	marks := map[string]float64{"p50": r.Consensus.P50Ms, "p99": r.Consensus.P99Ms}
	return histogram(fmt.Sprintf("Vote round trips while blocks stream: %d", len(r.rtts)),
		fmt.Sprintf("request to answer between neighbours; the last bar counts all above %s ms", trimFloat(width*(rttBins-1))), "round trip, ms", width, counts, marks)
}

func (d *demo) bandwidthSVG() string {
	nodes := d.reportNodes()
	var series []chartSeries
	for j, dn := range nodes {
		sr := chartSeries{Name: dn.name, Color: seriesColor(j, len(nodes)), Width: 1.2}
		for i := 1; i < len(d.bw.bytes); i++ {
			t0, t1 := d.bw.from[i-1][j], d.bw.to[i][j]
			if t1 <= t0 || d.bw.bytes[i][j] < d.bw.bytes[i-1][j] {
				continue
			}
			rate := float64(d.bw.bytes[i][j]-d.bw.bytes[i-1][j]) / (t1 - t0).Seconds() / (1 << 20)
			sr.Points = append(sr.Points, chartPoint{((t0 + t1) / 2).Seconds(), rate})
		}
		series = append(series, sr)
	}
	return lineChart("Per-node bandwidth: bytes sent plus received, MiB/s",
		fmt.Sprintf("one line per node (%d, the seed included), sampled every %v", len(nodes), bandwidthEvery), "s since the demo started", "MiB/s", 0, 0,
		func(v float64) string { return trimFloat(v) }, series)
}
