// Command blockcurve draws the propagation curves that p2p's
// TestChunkedRandomGraph writes when PEERWIRE_BLOCK_CURVE names a file
// (make block-curve): for each dissemination mode, the share of all
// deliveries made by each time after the origin sent, as an SVG chart.
//
//	blockcurve -in /tmp/peerwire-block-curve.txt -out docs/block-curve.svg -subtitle "20 nodes…"
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/peerwire/peerwire/sim"
)

func main() {
	in := flag.String("in", "/tmp/peerwire-block-curve.txt", "curve file written by TestChunkedRandomGraph (PEERWIRE_BLOCK_CURVE)")
	out := flag.String("out", "docs/block-curve.svg", "SVG file to write")
	subtitle := flag.String("subtitle", "", "the chart's second line: the run it shows")
	flag.Parse()
	if err := run(*in, *out, *subtitle); err != nil {
		fmt.Fprintln(os.Stderr, "blockcurve:", err)
		os.Exit(1)
	}
}

func run(in, out, subtitle string) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("-in: %w", err)
	}
	defer f.Close()
	series, err := parse(io.LimitReader(f, maxInput+1))
	if err != nil {
		return fmt.Errorf("-in %s: %w", in, err)
	}
	svg := sim.LineChartSVG("Share of deliveries made vs time since the origin sent", subtitle,
		"seconds after the origin sent", "share of all deliveries", series, 1)
	if err := os.WriteFile(out, []byte(svg), 0o644); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	return nil
}

// maxInput bounds the curve file: a 50-node run writes about 40 KB.
const maxInput = 16 << 20

var colors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}

// parse reads "mode seconds share" lines, one per delivery, in the order
// written (seconds ascending within a mode), into one series per mode in
// order of first appearance. A blank line is skipped; anything else that
// is not three fields, a finite non-negative time, and a share in (0, 1]
// is an error naming its line.
func parse(r io.Reader) ([]sim.Series, error) {
	var series []sim.Series
	idx := map[string]int{}
	sc := bufio.NewScanner(r)
	total, line := 0, 1
	for ; sc.Scan(); line++ {
		total += len(sc.Bytes()) + 1
		if total > maxInput {
			return nil, fmt.Errorf("larger than %d bytes", maxInput)
		}
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fs := strings.Fields(text)
		if len(fs) != 3 {
			return nil, fmt.Errorf("line %d: %d fields, want mode, seconds, share", line, len(fs))
		}
		sec, err1 := strconv.ParseFloat(fs[1], 64)
		share, err2 := strconv.ParseFloat(fs[2], 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if math.IsNaN(sec) || math.IsInf(sec, 0) || sec < 0 || !(share > 0 && share <= 1) {
			return nil, fmt.Errorf("line %d: seconds %v, share %v out of range", line, sec, share)
		}
		i, ok := idx[fs[0]]
		if !ok {
			if len(series) == len(colors) {
				return nil, fmt.Errorf("line %d: more than %d modes", line, len(colors))
			}
			i = len(series)
			idx[fs[0]] = i
			series = append(series, sim.Series{Name: fs[0], Color: colors[i]})
		}
		s := &series[i]
		if n := len(s.X); n > 0 && (sec < s.X[n-1] || share < s.Y[n-1]) {
			return nil, fmt.Errorf("line %d: %s goes back in time or share", line, fs[0])
		}
		s.X, s.Y = append(s.X, sec), append(s.Y, share)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line, err)
	}
	if len(series) == 0 {
		return nil, errors.New("no curve in it")
	}
	return series, nil
}
