package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDemoTerminal: on a terminal the live table redraws in place and the
// final table replaces the last live one, so after the last screen clear
// exactly one table is shown.
func TestDemoTerminal(t *testing.T) {
	outputIsTerminal = func(io.Writer) bool { return true }
	defer func() { outputIsTerminal = isTerminal }()
	args := []string{"demo", "-nodes", "3", "-duration", "1s", "-block-size", "65536", "-block-interval", "250ms",
		"-tx-rate", "20", "-vote-interval", "40ms", "-refresh", "100ms", "-max-p99", "2s"}
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	text := out.String()
	i := strings.LastIndex(text, ansiHome+ansiClear)
	if code != 0 || i < 0 {
		t.Fatalf("exit %d, clear at %d\nstdout:\n%q\nstderr:\n%s", code, i, text, errb.String())
	}
	last := text[i:]
	if n := strings.Count(last, "node  id"); n != 1 {
		t.Errorf("after the last screen clear %d tables are shown, want 1:\n%s", n, last)
	}
	if !strings.Contains(last, "summary") || !strings.Contains(last, "demo OK") {
		t.Errorf("the summary is not on the final screen:\n%s", last)
	}
}

// TestDemoReportAndJSON runs the demo with -report and -json: the JSON
// summary on stdout decodes into the documented fields, and the report's
// HTML and SVG files parse as XML and hold the expected pictures with
// plausible data.
func TestDemoReportAndJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	var out, errb bytes.Buffer
	args := append(append([]string(nil), demoArgs...), "-max-p99", "2s", "-report", dir, "-json")
	code := run(context.Background(), args, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "demo OK") || strings.Contains(out.String(), "demo OK") {
		t.Errorf("with -json the text belongs on stderr and only JSON on stdout")
	}

	// The JSON summary, decoded by field name as a script would.
	var js struct {
		OK        bool     `json:"ok"`
		Failed    []string `json:"failed"`
		Nodes     int      `json:"nodes"`
		Discovery struct {
			OK bool    `json:"ok"`
			Ms float64 `json:"ms"`
		} `json:"discovery"`
		Gossip struct {
			OK         bool `json:"ok"`
			Blocks     int  `json:"blocks"`
			Deliveries int  `json:"deliveries"`
			Missing    int  `json:"missing"`
		} `json:"gossip"`
		BlockPropagation struct {
			Blocks int     `json:"blocks"`
			P50Ms  float64 `json:"p50_ms"`
			P99Ms  float64 `json:"p99_ms"`
		} `json:"block_propagation"`
		Consensus struct {
			OK         bool    `json:"ok"`
			RoundTrips int     `json:"round_trips"`
			P50Ms      float64 `json:"p50_ms"`
			P99Ms      float64 `json:"p99_ms"`
			BoundMs    float64 `json:"bound_ms"`
			MaxP99Ms   float64 `json:"max_p99_ms"`
			SchedP99Ms float64 `json:"sched_p99_ms"`
			Samples    int     `json:"sched_samples"`
			Wakeups    int     `json:"sched_wakeups"`
		} `json:"consensus"`
	}
	var full map[string]any
	if err := json.Unmarshal(out.Bytes(), &full); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	if err := json.Unmarshal(out.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if !js.OK || len(js.Failed) != 0 || js.Nodes != 4 || !js.Discovery.OK || !js.Gossip.OK || !js.Consensus.OK {
		t.Errorf("verdicts: %+v", js)
	}
	if js.Gossip.Blocks == 0 || js.Gossip.Missing != 0 || js.Gossip.Deliveries == 0 || js.Consensus.RoundTrips == 0 {
		t.Errorf("counts: %+v", js)
	}
	bp := js.BlockPropagation
	if bp.Blocks != js.Gossip.Blocks || bp.P50Ms <= 0 || bp.P99Ms < bp.P50Ms {
		t.Errorf("block propagation %+v for %d blocks", bp, js.Gossip.Blocks)
	}
	if c := js.Consensus; c.P50Ms <= 0 || c.P99Ms < c.P50Ms || c.MaxP99Ms != 2000 || c.Wakeups != voteWakeups || c.Samples == 0 ||
		math.Abs(c.BoundMs-(c.MaxP99Ms+float64(c.Wakeups)*c.SchedP99Ms)) > 0.01 {
		t.Errorf("consensus %+v", c)
	}

	// The HTML page references the four pictures; each parses.
	page := parseXML(t, filepath.Join(dir, "index.html"))
	imgs := map[string]bool{}
	for _, e := range page.all("img") {
		imgs[e.attr("src")] = true
	}
	for _, want := range []string{"topology.svg", "propagation.svg", "vote-rtt.svg", "bandwidth.svg"} {
		if !imgs[want] {
			t.Errorf("index.html lacks <img src=%q>; has %v", want, imgs)
		}
		md, err := os.ReadFile(filepath.Join(dir, "README.md"))
		if err != nil || !strings.Contains(string(md), "]("+want+")") {
			t.Errorf("README.md lacks a link to %s (%v)", want, err)
		}
	}

	// Topology: the seed and the 4 nodes, links between named nodes, and
	// every node has one.
	topo := parseXML(t, filepath.Join(dir, "topology.svg"))
	names := map[string]bool{}
	for _, c := range topo.all("circle") {
		names[c.attr("data-name")] = true
	}
	if len(names) != 5 || !names["seed"] || !names["n4"] {
		t.Errorf("topology nodes %v", names)
	}
	linked := map[string]bool{}
	for _, l := range topo.all("line") {
		if l.attr("class") != "link" {
			continue
		}
		from, to := l.attr("data-from"), l.attr("data-to")
		if !names[from] || !names[to] || from == to {
			t.Errorf("link %s-%s", from, to)
		}
		linked[from], linked[to] = true, true
	}
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		if !linked[n] {
			t.Errorf("topology: %s has no link", n)
		}
	}

	// Propagation: one curve per block and the aggregate, each rising to
	// 100% of the other nodes, never falling, times non-negative.
	prop := seriesOf(t, parseXML(t, filepath.Join(dir, "propagation.svg")))
	if len(prop) != js.Gossip.Blocks+1 {
		t.Errorf("propagation: %d series for %d blocks", len(prop), js.Gossip.Blocks)
	}
	agg, ok := prop["all blocks"]
	if !ok {
		t.Fatalf("propagation lacks the aggregate series; has %d", len(prop))
	}
	for name, pts := range prop {
		last := pts[len(pts)-1]
		if last[1] != 100 {
			t.Errorf("propagation %q ends at %v%%, want 100%%", name, last[1])
		}
		for i := 1; i < len(pts); i++ {
			if pts[i][0] < pts[i-1][0] || pts[i][1] < pts[i-1][1] || pts[i][0] < 0 {
				t.Errorf("propagation %q goes back at point %d: %v after %v", name, i, pts[i], pts[i-1])
				break
			}
		}
	}
	// The aggregate's last point is the slowest block's last node.
	if got := agg[len(agg)-1][0]; got < bp.P99Ms*0.999 {
		t.Errorf("aggregate reaches 100%% at %v ms, before the p99 %v ms", got, bp.P99Ms)
	}

	// Vote RTT histogram: the bars count every round trip; p50 and p99 marked.
	rtt := parseXML(t, filepath.Join(dir, "vote-rtt.svg"))
	total := 0
	bars := 0
	for _, r := range rtt.all("rect") {
		if r.attr("class") != "bar" {
			continue
		}
		bars++
		c, err := strconv.Atoi(r.attr("data-count"))
		if err != nil {
			t.Fatal(err)
		}
		total += c
	}
	if bars != rttBins || total != js.Consensus.RoundTrips {
		t.Errorf("histogram: %d bars counting %d, want %d bars counting %d", bars, total, rttBins, js.Consensus.RoundTrips)
	}
	marks := map[string]bool{}
	for _, l := range rtt.all("line") {
		if l.attr("class") == "mark" {
			marks[l.attr("data-name")] = true
		}
	}
	if !marks["p50"] || !marks["p99"] {
		t.Errorf("histogram marks %v", marks)
	}

	// Bandwidth: one series per node, rates non-negative, and blocks
	// flowed (some node above 0.1 MiB/s at some point).
	bw := seriesOf(t, parseXML(t, filepath.Join(dir, "bandwidth.svg")))
	if len(bw) != 5 {
		t.Errorf("bandwidth: %d series, want 5", len(bw))
	}
	peak := 0.0
	for name, pts := range bw {
		if len(pts) < 4 {
			t.Errorf("bandwidth %q: %d points", name, len(pts))
		}
		for _, p := range pts {
			if p[1] < 0 {
				t.Errorf("bandwidth %q: negative rate %v", name, p)
			}
			peak = max(peak, p[1])
		}
	}
	// Loopback on this machine moves well under 4 GiB/s per node (every
	// byte is encrypted and decrypted); more is a sampling error.
	if peak < 0.1 || peak > 4096 {
		t.Errorf("bandwidth peaks at %v MiB/s while blocks streamed", peak)
	}
}

// xmlElem is a parsed XML element: enough of a DOM for the checks.
type xmlElem struct {
	name     string
	attrs    []xml.Attr
	children []*xmlElem
}

func (e *xmlElem) attr(name string) string {
	for _, a := range e.attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// all returns every element named name below e, in document order.
func (e *xmlElem) all(name string) []*xmlElem {
	var out []*xmlElem
	for _, c := range e.children {
		if c.name == name {
			out = append(out, c)
		}
		out = append(out, c.all(name)...)
	}
	return out
}

// parseXML parses a file strictly as XML, failing the test if it is not.
func parseXML(t *testing.T, path string) *xmlElem {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	root := &xmlElem{}
	stack := []*xmlElem{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &xmlElem{name: tok.Name.Local, attrs: tok.Attr}
			top := stack[len(stack)-1]
			top.children = append(top.children, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(root.children) != 1 {
		t.Fatalf("%s: %d root elements", path, len(root.children))
	}
	return root
}

// seriesOf returns the data points of every polyline series by name.
func seriesOf(t *testing.T, doc *xmlElem) map[string][][2]float64 {
	t.Helper()
	out := map[string][][2]float64{}
	for _, p := range doc.all("polyline") {
		if p.attr("class") != "series" {
			continue
		}
		var pts [][2]float64
		for _, xy := range strings.Fields(p.attr("data-points")) {
			x, y, ok := strings.Cut(xy, ",")
			fx, err1 := strconv.ParseFloat(x, 64)
			fy, err2 := strconv.ParseFloat(y, 64)
			if !ok || err1 != nil || err2 != nil {
				t.Fatalf("series %q: bad point %q", p.attr("data-name"), xy)
			}
			pts = append(pts, [2]float64{fx, fy})
		}
		if n := len(strings.Fields(p.attr("points"))); n != len(pts) || n == 0 {
			t.Errorf("series %q: %d pixel points for %d data points", p.attr("data-name"), n, len(pts))
		}
		out[p.attr("data-name")] = pts
	}
	return out
}
