package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
)

// demoArgs is a small, quick network: the race detector slows crypto
// several times, so blocks are smaller and the RTT bound is loose here.
var demoArgs = []string{"demo", "-nodes", "4", "-duration", "2s", "-block-size", "131072", "-block-interval", "250ms",
	"-tx-rate", "40", "-vote-interval", "40ms", "-refresh", "500ms", "-plain"}

func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), append(demoArgs, "-max-p99", "2s"), &out, &errb)
	text := out.String()
	for _, want := range []string{
		"discovery  OK    in ",
		"every node found 2 peers to dial",
		"gossip     OK",
		"time for a block to reach all 3 other nodes: p50 ",
		"each reached every one of the 3 other nodes exactly once",
		"consensus  OK",
		"p50 ", "p99 ",
		"demo OK",
		"node  id", // the table
		"seed ",
		"copies    MiB",
		"unique gossip: distinct blocks and transactions",
		"a block reaches all 3 other nodes in p50 ",
		"chunked gossip: each node received ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Chunked blocks cross about one link per node; flooded ones about
	// once per neighbour.
	if m := regexp.MustCompile(`each node received ([0-9.]+)× the block bytes`).FindStringSubmatch(text); m == nil {
		t.Error("output lacks the block bytes per node")
	} else if r, _ := strconv.ParseFloat(m[1], 64); r < 0.9 || r > 1.3 {
		t.Errorf("each node received %v× the block bytes it needed, want 0.9-1.3", r)
	}
	if strings.Contains(text, "\x1b[") {
		t.Error("ANSI sequences written to a non-terminal")
	}
	for _, cryptic := range []string{"converged", "outbound slot"} {
		if strings.Contains(text, cryptic) {
			t.Errorf("output still says %q", cryptic)
		}
	}
	if code != 0 || t.Failed() {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, text, errb.String())
	}
}

// TestDemoFailsCheck: an unmeetable RTT bound fails the consensus check
// and the exit status says so.
func TestDemoFailsCheck(t *testing.T) {
	var out, errb bytes.Buffer
	args := append(append([]string(nil), demoArgs...), "-max-p99", "1ns", "-sched-wakeups", "0", "-duration", "1s")
	code := run(context.Background(), args, &out, &errb)
	if code != 1 || !strings.Contains(out.String(), "consensus  FAIL") || !strings.Contains(out.String(), "demo FAILED") ||
		!strings.Contains(errb.String(), "consensus") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
}

func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"-nodes", "1"}, "-nodes"},
		{[]string{"-nodes", "x"}, "-nodes"},
		{[]string{"-block-size", "0"}, "-block-size"},
		{[]string{"-duration", "-1s"}, "-duration"},
		{[]string{"-tx-rate", "0"}, "-tx-rate"},
		{[]string{"-max-p99", "0"}, "-max-p99"},
		{[]string{"-refresh", "1ms"}, "-refresh"},
		{[]string{"-sched-wakeups", "-1"}, "-sched-wakeups"},
		{[]string{"-block-gossip", "push"}, "-block-gossip"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append([]string{"demo"}, tc.args...), &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.flag) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errb.String())
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(hundred...), 0.99, 99 * time.Millisecond},
		{ms(hundred...), 0.5, 50 * time.Millisecond},
		{ms(hundred...), 1, 100 * time.Millisecond},
	} {
		if got := percentile(tc.in, tc.q); got != tc.want {
			t.Errorf("percentile(%d samples, %v) = %v, want %v", len(tc.in), tc.q, got, tc.want)
		}
	}
}

// TestSettleWait: settling waits as long as deliveries keep arriving, even
// past the window, and gives up once the window passes without one.
func TestSettleWait(t *testing.T) {
	const window = time.Second
	for _, tc := range []struct {
		name  string
		steps []int // what missing returns, call by call; the last repeats
		want  bool
		// calls is how many times missing runs
		calls int
	}{
		// 200 ticks of 20ms (4s, four windows) each one delivery closer.
		{"slow but steady", countdown(200), true, 201},
		{"stalled", []int{5, 4, 3}, false, 3 + int(window/settleEvery)},
		{"done at once", []int{0}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake()
			tick := clk.NewTicker(settleEvery)
			defer tick.Stop()
			calls := make(chan struct{})
			n := 0
			missing := func() int {
				v := tc.steps[min(n, len(tc.steps)-1)]
				n++
				if n > 1 {
					calls <- struct{}{}
				}
				return v
			}
			done := make(chan bool, 1)
			go func() { done <- settleWait(context.Background(), clk, tick, window, missing) }()
			for {
				select {
				case got := <-done:
					if got != tc.want || n != tc.calls {
						t.Fatalf("settleWait = %v after %d calls, want %v after %d", got, n, tc.want, tc.calls)
					}
					return
				default:
				}
				clk.Advance(settleEvery)
				select {
				case <-calls:
				case got := <-done:
					done <- got
				}
			}
		})
	}
}

func countdown(n int) []int {
	out := make([]int, n+1)
	for i := range out {
		out[i] = n - i
	}
	return out
}
