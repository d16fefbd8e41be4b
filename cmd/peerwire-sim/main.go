// Command peerwire-sim runs the deterministic large-scale simulation of
// package sim and writes docs/SIMULATION.md with its SVG figures
// (`make sim`).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/peerwire/peerwire/sim"
)

func main() {
	var o sim.ReportOptions
	flag.IntVar(&o.Nodes, "nodes", 1000, "honest nodes per run")
	flag.IntVar(&o.Seeds, "seeds", 30, "seeds per scenario")
	flag.IntVar(&o.Monitored, "victims", 20, "monitored victims (full books) per run")
	flag.DurationVar(&o.Duration, "duration", 10*time.Minute, "virtual time per run")
	flag.IntVar(&o.Workers, "workers", 0, "runs at once (0: GOMAXPROCS)")
	flag.IntVar(&o.BigNodes, "big", 0, "also run one seed of this many nodes and report its time and memory (0: none)")
	flag.IntVar(&o.CalibrationSeeds, "calibration-seeds", 30, "seeds of the lab calibration")
	flag.StringVar(&o.Dir, "out", "docs", "directory of SIMULATION.md (SVGs go to <out>/sim/)")
	flag.Parse()
	if o.Nodes <= 0 || o.Seeds <= 0 || o.Duration <= 0 {
		fmt.Fprintln(os.Stderr, "peerwire-sim: -nodes, -seeds and -duration must be positive")
		os.Exit(2)
	}
	o.Command = "peerwire-sim " + strings.Join(os.Args[1:], " ")
	o.Log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	if err := sim.WriteReport(o); err != nil {
		fmt.Fprintln(os.Stderr, "peerwire-sim:", err)
		os.Exit(1)
	}
}
