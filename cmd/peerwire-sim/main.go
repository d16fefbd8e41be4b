// Command peerwire-sim runs the deterministic large-scale simulation of
// package sim and writes docs/SIMULATION.md with its SVG figures
// (`make sim`).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"
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
	flag.IntVar(&o.BigNodes, "big", 0, "also run every attacker model at this many nodes and lead the report with it (0: none)")
	flag.IntVar(&o.BigSeeds, "big-seeds", 1, "seeds per attacker model of the -big runs")
	flag.IntVar(&o.BigWorkers, "big-workers", 1, "-big runs at once (each holds gigabytes at 10,000 nodes)")
	flag.BoolVar(&o.BigBooks, "big-books", false, "also run the botnet model at -big nodes with full books for every node (the book-size check at full size)")
	flag.IntVar(&o.BigVictims, "big-victims", 0, "monitored victims of the -big runs (0: -victims)")
	flag.DurationVar(&o.BigDuration, "big-duration", 0, "virtual time of the -big runs (0: -duration)")
	flag.IntVar(&o.DHTSeeds, "dht-seeds", 0, "also run the DHT models (the real discovery/dht on every honest node) with this many seeds each, for the report's DHT section (0: none)")
	dhtOnly := flag.Bool("dht-only", false, "run only the DHT models (-dht-seeds, at least 1) and write their section to <out>/SIMULATION-dht.md and <out>/sim/dht.svg")
	flag.IntVar(&o.CalibrationSeeds, "calibration-seeds", 30, "seeds of the lab calibration")
	flag.StringVar(&o.Dir, "out", "docs", "directory of SIMULATION.md (SVGs go to <out>/sim/)")
	flag.IntVar(&o.SeedFrom, "seed-from", 1, "first seed of every set of seeds: a report's seeds can be run in pieces (e.g. -seeds 10 -seed-from 1, then -seed-from 11, ...), each with -save, and -load merges them")
	flag.StringVar(&o.Save, "save", "", "also write the runs to this file (gob), for -load")
	load := flag.String("load", "", "write the report of the runs saved in this file (-save) and run nothing (but the -big-books check, if asked and missing); several files, comma-separated, or a directory of *.gob files are the pieces of one report (-seed-from), merged (with -save, the merged runs are written there too)")
	memLimit := flag.Int("mem-limit", 0, "GiB: collect garbage only near this heap size, not at every doubling (0: Go's default GOGC); the collector took a third of the CPU of a 2,000-node run")
	flag.Parse()
	if *memLimit > 0 {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(int64(*memLimit) << 30)
	}
	if *load != "" {
		var err error
		from := *load
		if o.Save != "" {
			err = sim.MergeSaved(from, o.Save)
			from = o.Save
		}
		if err == nil && o.BigBooks {
			err = sim.AddBigBooks(from, func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) })
		}
		if err == nil {
			err = sim.RenderSaved(from, o.Dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "peerwire-sim:", err)
			os.Exit(1)
		}
		return
	}
	if o.Nodes <= 0 || o.Seeds <= 0 || o.Duration <= 0 || o.BigSeeds <= 0 {
		fmt.Fprintln(os.Stderr, "peerwire-sim: -nodes, -seeds, -duration and -big-seeds must be positive")
		os.Exit(2)
	}
	o.Command = "peerwire-sim " + strings.Join(os.Args[1:], " ")
	o.Log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	if *dhtOnly {
		if err := sim.WriteDHTSection(o); err != nil {
			fmt.Fprintln(os.Stderr, "peerwire-sim:", err)
			os.Exit(1)
		}
		return
	}
	if err := sim.WriteReport(o); err != nil {
		fmt.Fprintln(os.Stderr, "peerwire-sim:", err)
		os.Exit(1)
	}
}
