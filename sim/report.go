package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ReportOptions sizes `make sim`.
type ReportOptions struct {
	// Nodes, Seeds, Duration and Monitored size every scenario's runs.
	Nodes, Seeds, Monitored int
	Duration                time.Duration
	// Workers is how many runs go at once (default GOMAXPROCS).
	Workers int
	// BigNodes, if > 0, runs every attacker model again at that many nodes
	// (BigSeeds seeds of BigDuration, BigVictims victims, BigWorkers runs at a time
	// beside the small matrix: a 10,000-node run holds gigabytes); the
	// report leads with those figures and states their time and memory.
	BigNodes, BigSeeds, BigVictims, BigWorkers int
	// BigBooks adds the book-size check at BigNodes: the botnet model with
	// full default books for every node (about twice the memory).
	BigBooks    bool
	BigDuration time.Duration
	// DHTSeeds, if > 0, runs the DHT models (none, one-/16, botnet, sybil)
	// with Config.DHT at Nodes, Duration, DHTSeeds seeds each, for the
	// report's DHT section (WriteDHTSection runs them alone).
	DHTSeeds int
	// CalibrationSeeds is the number of seeds of the lab calibration.
	CalibrationSeeds int
	// SeedFrom is the first seed of every set of seeds (0: 1): a report's
	// seeds can be run in pieces (SeedFrom 1, Seeds 10; SeedFrom 11, Seeds
	// 10; ...), each saved, and RenderSaved merges the pieces.
	SeedFrom int
	// Dir is where SIMULATION.md is written; the SVGs go to Dir/sim/.
	Dir string
	// Save, if set, is a file the runs are written to before the report,
	// for RenderSaved.
	Save string
	// Command, if set, is the command line the report names.
	Command string
	// Log, if not nil, receives progress lines.
	Log func(format string, args ...any)
}

// firstSeed is the first seed of the report's sets.
func (o ReportOptions) firstSeed() int { return max(1, o.SeedFrom) }

// agg is a scenario's outcomes over seeds.
type agg struct {
	name, what                                       string
	eclV, eclAll, honOut, atkOutV, atkOut            Stat
	bookV, bookO, pickV, pickO                       Stat
	eclTime, conv, reach, dup, fullOut, refusedShare Stat
	runs                                             []*Result
}

func aggregate(name, what string, rs []*Result) agg {
	a := agg{name: name, what: what, runs: rs}
	col := func(f func(*Result) float64) Stat {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return stat(xs)
	}
	colIf := func(f func(*Result) (float64, bool)) Stat {
		var xs []float64
		for _, r := range rs {
			if x, ok := f(r); ok {
				xs = append(xs, x)
			}
		}
		return stat(xs)
	}
	a.eclV = col(func(r *Result) float64 { return r.Final.EclipsedVictims })
	a.eclAll = col(func(r *Result) float64 { return r.Final.Eclipsed })
	a.honOut = col(func(r *Result) float64 { return r.Final.HonestOut })
	a.atkOutV = col(func(r *Result) float64 { return r.Final.AttackerOutVictims })
	a.atkOut = col(func(r *Result) float64 { return r.Final.AttackerOut })
	a.bookV = col(func(r *Result) float64 { return r.BookShareVictims })
	a.bookO = col(func(r *Result) float64 { return r.BookShareOthers })
	a.pickV = col(func(r *Result) float64 { return r.PickShareVictims })
	a.pickO = col(func(r *Result) float64 { return r.PickShareOthers })
	a.fullOut = col(func(r *Result) float64 { return r.Final.FullOutbound })
	a.reach = col(func(r *Result) float64 { return r.GossipFinal })
	a.dup = col(func(r *Result) float64 { return r.GossipDup })
	a.refusedShare = col(func(r *Result) float64 {
		if r.Dials == 0 {
			return 0
		}
		return float64(r.Refused) / float64(r.Dials)
	})
	a.eclTime = colIf(func(r *Result) (float64, bool) { return secs(r.EclipseTime), r.EclipseTime >= 0 })
	a.conv = colIf(func(r *Result) (float64, bool) { return secs(r.Convergence), r.Convergence >= 0 })
	return a
}

// cpuTime returns the process's user+system CPU time and peak RSS.
func cpuTime() (time.Duration, int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	tv := func(t syscall.Timeval) time.Duration {
		return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
	}
	return tv(ru.Utime) + tv(ru.Stime), ru.Maxrss * 1024
}

// WriteReport runs the scenario matrix, the budget sweep, the book-size
// check, the lab calibration and the optional big run, and writes
// Dir/SIMULATION.md and its SVGs.
func WriteReport(o ReportOptions) error {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	base := baseConfig(o)
	var (
		big    *bigRuns
		bigErr error
		bigWG  sync.WaitGroup
	)
	if o.BigNodes > 0 {
		big = &bigRuns{}
		bigWG.Add(1)
		go func() {
			defer bigWG.Done()
			bigErr = runBig(o, base, big, logf)
		}()
	}
	wall0 := time.Now()
	cpu0, _ := cpuTime()
	var aggs []agg
	for _, sc := range Scenarios(o.Duration) {
		c := base
		c.Attack = sc.Attack
		c.Attack.Name = sc.Name
		c.PlainBootstrap = sc.PlainBootstrap
		t0 := time.Now()
		rs, err := runSeeds(c, o.firstSeed(), o.Seeds, o.Workers)
		if err != nil {
			return err
		}
		aggs = append(aggs, aggregate(sc.Name, sc.What, rs))
		logf("scenario %s: %d seeds in %v", sc.Name, o.Seeds, time.Since(t0).Round(time.Second))
	}
	var sweep []agg
	for _, g := range BudgetSweep {
		c := base
		c.Attack = budgetAttack(g)
		rs, err := runSeeds(c, o.firstSeed(), o.Seeds, o.Workers)
		if err != nil {
			return err
		}
		sweep = append(sweep, aggregate(c.Attack.Name, "", rs))
		logf("budget %d /16s done", g)
	}
	// Book size: the same point with scaled books for non-victims and
	// with full books for every node.
	bc := base
	bc.Attack = budgetAttack(64)
	scaled, err := runSeeds(bc, o.firstSeed(), o.Seeds, o.Workers)
	if err != nil {
		return err
	}
	bc.FullBooks = true
	full, err := runSeeds(bc, o.firstSeed(), o.Seeds, o.Workers)
	if err != nil {
		return err
	}
	books := [2]agg{aggregate("scaled books (victims full)", "", scaled), aggregate("full books everywhere", "", full)}
	logf("book-size check done")
	var cal []Calibration
	for seed := o.firstSeed(); seed < o.firstSeed()+o.CalibrationSeeds; seed++ {
		c, err := Calibrate(uint64(seed))
		if err != nil {
			return err
		}
		cal = append(cal, c)
	}
	var dhtAggs []agg
	if o.DHTSeeds > 0 {
		if dhtAggs, err = runDHT(base, o.firstSeed(), o.DHTSeeds, o.Workers, logf); err != nil {
			return err
		}
	}
	wall := time.Since(wall0)
	bigWG.Wait()
	if bigErr != nil {
		return bigErr
	}
	cpu1, _ := cpuTime()
	if big != nil {
		big.total = time.Since(wall0)
		_, big.rss = cpuTime()
	}
	if o.Save != "" {
		if err := save(o.Save, o, aggs, sweep, books, cal, big, dhtAggs, wall, cpu1-cpu0); err != nil {
			return err
		}
	}
	return writeFiles(o, aggs, sweep, books, cal, big, dhtAggs, wall, cpu1-cpu0)
}

// baseConfig is the configuration every run of the report starts from.
func baseConfig(o ReportOptions) Config {
	return Config{Nodes: o.Nodes, Monitored: o.Monitored, Duration: o.Duration, Validators: 10, ChurnShare: 0.3}
}

// bigRuns is the matrix at BigNodes: every attacker model, BigSeeds seeds.
type bigRuns struct {
	aggs  []agg
	walls []time.Duration // wall time of each run
	heap  uint64          // peak Go heap in use over the whole process
	total time.Duration   // wall time until the whole report was done
	rss   int64           // process peak RSS
	// scaled and full are the book check at full size: bookCheckModel as
	// run in aggs, and again with full books everywhere (if hasFull).
	scaled, full agg
	hasFull      bool
	fullWall     time.Duration
}

// runBig runs every scenario at o.BigNodes, one run at a time, and
// samples the heap while it does.
func runBig(o ReportOptions, base Config, big *bigRuns, logf func(string, ...any)) error {
	c := bigConfig(o, base)
	seeds := max(1, o.BigSeeds)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var p uint64
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			p = max(p, ms.HeapInuse)
			select {
			case <-stop:
				peak <- p
				return
			case <-tk.C:
			}
		}
	}()
	defer func() { close(stop); big.heap = <-peak }()
	scs := Scenarios(c.Duration)
	type job struct{ sc, seed int }
	var jobs []job
	for i := range scs {
		for seed := o.firstSeed(); seed < o.firstSeed()+seeds; seed++ {
			jobs = append(jobs, job{i, seed})
		}
	}
	out := make([]*Result, len(jobs))
	errs := make([]error, len(jobs))
	walls := make([]time.Duration, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, o.BigWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				sc := scs[jobs[k].sc]
				rc := c
				rc.Attack = sc.Attack
				rc.Attack.Name = sc.Name
				rc.PlainBootstrap = sc.PlainBootstrap
				rc.Seed = uint64(jobs[k].seed)
				t0 := time.Now()
				out[k], errs[k] = Run(rc)
				walls[k] = time.Since(t0)
				debug.FreeOSMemory() // hand the run's gigabytes back before the next
				if r := out[k]; r != nil {
					f := r.Final
					logf("big %s seed %d: %d nodes in %v: eclipsed victims %.3f all %.3f, honest outbound %.3f, attacker outbound victims %.3f all %.3f, book victims %.3f others %.3f, full outbound %.3f, gossip %.3f x %.2f",
						sc.Name, jobs[k].seed, o.BigNodes, walls[k].Round(time.Second), f.EclipsedVictims, f.Eclipsed, f.HonestOut, f.AttackerOutVictims, f.AttackerOut, r.BookShareVictims, r.BookShareOthers, f.FullOutbound, r.GossipFinal, r.GossipDup)
				}
			}
		}()
	}
	for k := range jobs {
		next <- k
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	big.walls = walls
	for i, sc := range scs {
		big.aggs = append(big.aggs, aggregate(sc.Name, sc.What, out[i*seeds:(i+1)*seeds]))
		if sc.Name == bookCheckModel {
			big.scaled = big.aggs[i]
		}
	}
	if !o.BigBooks {
		return nil
	}
	return runBigBooks(c, o.firstSeed(), seeds, big, logf)
}

// bigConfig is the configuration of the runs at o.BigNodes.
func bigConfig(o ReportOptions, base Config) Config {
	c := base
	c.Nodes = o.BigNodes
	c.Monitored = o.BigVictims
	if c.Monitored <= 0 {
		c.Monitored = o.Monitored
	}
	c.Duration = o.BigDuration
	if c.Duration <= 0 {
		c.Duration = o.Duration
	}
	return c
}

// runBigBooks is the book-size check at full size: bookCheckModel at c
// with full default books for every node, alone (it holds the most
// memory).
func runBigBooks(c Config, first, seeds int, big *bigRuns, logf func(string, ...any)) error {
	var full []*Result
	for seed := first; seed < first+seeds; seed++ {
		rc := c
		for _, sc := range Scenarios(c.Duration) {
			if sc.Name == bookCheckModel {
				rc.Attack = sc.Attack
				rc.Attack.Name = sc.Name
			}
		}
		rc.FullBooks = true
		rc.Seed = uint64(seed)
		t0 := time.Now()
		r, err := Run(rc)
		if err != nil {
			return err
		}
		debug.FreeOSMemory()
		big.fullWall = time.Since(t0)
		logf("big %s with full books, seed %d: %v", bookCheckModel, seed, big.fullWall.Round(time.Second))
		full = append(full, r)
	}
	big.full = aggregate("full books everywhere", "", full)
	big.hasFull = true
	return nil
}

// bookCheckModel is the attacker model of the full-size book check.
const bookCheckModel = "botnet"

func writeFiles(o ReportOptions, aggs, sweep []agg, books [2]agg, cal []Calibration, big *bigRuns, dhtAggs []agg, wall, cpu time.Duration) error {
	svgDir := filepath.Join(o.Dir, "sim")
	if err := os.MkdirAll(svgDir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Simulation: peer discovery and eclipse resistance at scale\n\n")
	p("Generated by `make sim` (package `sim/`, `cmd/peerwire-sim`); do not edit by hand: change the\n")
	p("generator. Every figure is a mean over seeds with its 95%% confidence interval (Student's t).\n")
	if big != nil {
		bc := big.aggs[0].runs[0].Config
		p("The headline table is from %d-node runs of %v virtual time, every attacker model, %d seed(s) each\n", bc.Nodes, bc.Duration, len(big.aggs[0].runs))
		p("(%d victims with full books per run); the other sections ", bc.Monitored)
	} else {
		p("Every section ")
	}
	p("are from %d-node runs of %v virtual time, %d seeds per\n", o.Nodes, o.Duration, o.Seeds)
	p("point (%d victims). The runs took %v of wall time (the pieces' added, for a report run in pieces)\n", o.Monitored, wall.Round(time.Second))
	p("and %v of CPU, %d small run(s) at once, load shared with other jobs.\n\n", cpu.Round(time.Second), o.Workers)
	if o.Command != "" {
		p("Command: `%s`.\n\n", shownCommand(o.Command))
	}
	p("## What runs\n\n")
	p("Each honest node runs the **real** `peerbook.Book` (buckets, `IngestPex` validation, `AnswerPex`,\n")
	p("`Pick`, backoff, probes), the fill decision `Book.FillPicks` that `p2p`'s fill calls too, the real\n")
	p("`peerset.Set` (slots, one outbound peer per /16, must-connect peers, PEX reputation events, trimming)\n")
	p("and the real `filter.Filter` (per-IP and per-/24 caps, inbound attempt throttle), all on one\n")
	p("`clock.Fake` moved by a discrete-event loop and seeded randomness: the same seed gives the same\n")
	p("result (`TestDeterministic`). The node's services are mirrored from `p2p`: fill every 2 s, a PEX\n")
	p("round every 10 s while below the outbound target, a PEX request to each new outbound peer, PEX\n")
	p("answers at most one per 5 s per peer, a probe every 30 s, maintain (decay, trim, must-connect\n")
	p("redials) every 10 s (the node's 1 s, to save events). The handshake and multiplexer are not run: a\n")
	p("connection costs 1.5 round trips; a dial to an address where nobody listens fails after 3 s.\n")
	p("Attackers are scripted: they accept every connection, answer every PEX request with their own\n")
	p("addresses and dial victims to hold inbound slots. The DHT models (section *The DHT*) also run the\n")
	p("real `discovery/dht` on every honest node, driven through its stepping API (`StartLookup`,\n")
	p("`RevalidateCalls`, `Config.Carry`) on the same loop with a seeded `Config.Rand`: each query is one\n")
	p("event after the path's latency (and a dial when there is no connection), answered by the target's\n")
	p("real `Handle`; the other models run PEX only.\n\n")
	p("## Population model and assumptions\n\n")
	if big != nil {
		p("- %d honest nodes in %d /16s in the headline runs, %d in %d in the others; a node's /16 follows a\n", o.BigNodes, max(16, o.BigNodes/4), o.Nodes, max(16, o.Nodes/4))
		p("  Zipf law (exponent 1.1): a few providers\n")
	} else {
		p("- %d honest nodes in %d /16s; a node's /16 follows a Zipf law (exponent 1.1): a few providers\n", o.Nodes, max(16, o.Nodes/4))
	}
	p("  hold many nodes. 50%% are behind NAT: they dial out, never accept inbound, advertise nothing.\n")
	p("- 30%% of the ordinary nodes churn: sessions exponential with mean 30 min, offline mean 5 min; a\n")
	p("  restart keeps the book (as loaded from disk) and starts a new peer set.\n")
	p("- 8 stable listening bootstrap nodes everyone starts from; 10 validators with must-connect links\n")
	p("  to each other; %d monitored victims (listening, no churn) that the attacker targets.\n", o.Monitored)
	p("- Nodes join within the first minute. One-way latency is the sum of two per-node log-normal\n")
	p("  access delays (median 20 ms each, σ 0.6).\n")
	p("- Books: victims have default books (1024 new + 256 tried buckets × 64 slots); the other nodes\n")
	p("  have the default bucket *counts* with 4 slots per bucket, so every share-of-table bound of the\n")
	p("  book (64 new buckets per source group, 8 tried buckets per group) is the same and only the\n")
	p("  absolute capacity shrinks (5,120 entries). The book-size check below runs one point both ways.\n")
	p("- Attacker addresses are in /16s of their own (no honest node shares them); each identity also\n")
	p("  keeps one connection into a random honest listening node, so it is heard of beyond the victims.\n")
	p("- Eclipsed: an online honest node with at least one peer, every one of them the attacker's.\n\n")
	if big != nil {
		bc := big.aggs[0].runs[0].Config
		n := len(big.aggs[0].runs)
		p("## Outcomes by attacker model at %d nodes\n\n", bc.Nodes)
		p("%d seed(s) per model (%s), %v virtual time, %d victims with full books, %d run(s) at a time.\n", n, seedNote(n), bc.Duration, bc.Monitored, max(1, o.BigWorkers))
		ws := make([]float64, len(big.walls))
		for i, w := range big.walls {
			ws[i] = w.Seconds()
		}
		wst := stat(ws)
		p("A run took %.0f s of wall time on average (%.0f–%.0f s, beside the small runs), the process's peak Go heap in use\n", wst.Mean, wst.Min, wst.Max)
		p("was %.0f MiB and its peak RSS %.0f MiB.\n\n", float64(big.heap)/(1<<20), float64(big.rss)/(1<<20))
		outcomeTables(p, big.aggs)
		p("\n")
	}
	p("## Outcomes by attacker model at %d nodes, %d seeds\n\n", o.Nodes, o.Seeds)
	outcomeTables(p, aggs)
	// Figures.
	var ev, ov []float64
	var xs []float64
	for i, g := range BudgetSweep {
		xs = append(xs, float64(g))
		ev = append(ev, sweep[i].eclV.Mean)
		ov = append(ov, sweep[i].atkOutV.Mean)
	}
	var ea []float64
	for i := range BudgetSweep {
		ea = append(ea, sweep[i].bookV.Mean)
	}
	eclSVG := lineChart("Eclipse vs attacker budget", fmt.Sprintf("botnet (1 IP per /16), PEX poisoning + 40 inbound per victim; %d nodes, %d seeds", o.Nodes, o.Seeds),
		"attacker /16s", "share", []Series{
			{Name: "eclipsed victims", Color: palette[1], X: xs, Y: ev},
			{Name: "attacker outbound share", Color: palette[0], X: xs, Y: ov},
			{Name: "attacker book share", Color: palette[2], X: xs, Y: ea},
		}, true, 1)
	p("\n## Eclipse share vs attacker budget\n\n![eclipse vs budget](sim/eclipse-budget.svg)\n\n")
	p("| attacker /16s | eclipsed victims | attacker share of victims' outbound | of victims' book | of victims' picks | ≥ 1 honest outbound (all) |\n|---|---|---|---|---|---|\n")
	for i, g := range BudgetSweep {
		a := sweep[i]
		p("| %d | %s | %s | %s | %s | %s |\n", g, a.eclV.pct(), a.atkOutV.pct(), a.bookV.pct(), a.pickV.pct(), a.honOut.pct())
	}
	// Discovery curve: baseline.
	base := aggs[0]
	conv := meanCurve(base.runs, func(s Sample) float64 { return s.FullOutbound })
	meanOut := meanCurve(base.runs, func(s Sample) float64 { return s.MeanOutbound / 10 })
	atkConv := meanCurve(aggs[1].runs, func(s Sample) float64 { return s.FullOutbound })
	discSeries := []Series{
		{Name: fmt.Sprintf("full outbound (none, %d)", o.Nodes), Color: palette[0], X: conv[0], Y: conv[1]},
		{Name: fmt.Sprintf("mean outbound / 10 (%d)", o.Nodes), Color: palette[2], X: meanOut[0], Y: meanOut[1]},
		{Name: fmt.Sprintf("full outbound (one-/16, %d)", o.Nodes), Color: palette[1], X: atkConv[0], Y: atkConv[1]},
	}
	gs := []Series{gossipSeries(fmt.Sprintf("none (%d)", o.Nodes), palette[0], base.runs)}
	if big != nil {
		bn := big.aggs[0].runs[0].Config.Nodes
		bconv := meanCurve(big.aggs[0].runs, func(s Sample) float64 { return s.FullOutbound })
		bmean := meanCurve(big.aggs[0].runs, func(s Sample) float64 { return s.MeanOutbound / 10 })
		discSeries = append(discSeries,
			Series{Name: fmt.Sprintf("full outbound (none, %d)", bn), Color: palette[3], X: bconv[0], Y: bconv[1]},
			Series{Name: fmt.Sprintf("mean outbound / 10 (%d)", bn), Color: palette[4], X: bmean[0], Y: bmean[1]})
		gs = append(gs, gossipSeries(fmt.Sprintf("none (%d)", bn), palette[len(gs)], big.aggs[0].runs))
		for _, a := range big.aggs {
			if a.name == "botnet" {
				gs = append(gs, gossipSeries(fmt.Sprintf("botnet (%d)", bn), palette[len(gs)], a.runs))
			}
		}
	}
	discSVG := lineChart("Discovery convergence", fmt.Sprintf("mean of %d seeds (%d nodes) and of the %d-node seeds", o.Seeds, o.Nodes, o.BigNodes), "time (s)", "share", discSeries, false, 1)
	p("\n## Discovery convergence\n\n![discovery convergence](sim/discovery.svg)\n\n")
	p("Share of online honest nodes with all %d outbound slots taken, and mean outbound peers / 10, over\n", 10)
	p("time. 95%% full outbound: %s without attacker.\n", convStr(base))
	// Gossip curve.
	for _, a := range aggs {
		if a.name == "botnet" || a.name == "restart" {
			gs = append(gs, gossipSeries(fmt.Sprintf("%s (%d)", a.name, o.Nodes), palette[len(gs)], a.runs))
		}
	}
	gossipSVG := lineChart("Gossip reach", "share of online honest nodes reached by one flooded message (mean over origins and seeds)", "time (ms)", "share reached", gs, false, 1)
	p("\n## Gossip reach\n\n![gossip reach](sim/gossip.svg)\n\n")
	p("Flooding to every peer but the sender (p2p's forward) over the final graph; attacker identities drop.\n")
	p("Reach %s with %s copies per node reached (no attacker).\n", base.reach.pct(), base.dup.num())
	dhtSVG := dhtSection(p, dhtAggs, o)
	// Book size.
	p("\n## Does the conclusion depend on the book size?\n\n")
	p("The botnet of 64 /16s (poisoning + occupation), run with scaled books for non-victims and with full\n")
	p("default books for every node, same seeds:\n\n")
	p("| books | eclipsed victims | ≥ 1 honest outbound | attacker share of victims' outbound | of all outbound | of others' book |\n|---|---|---|---|---|---|\n")
	for _, a := range books {
		p("| %s | %s | %s | %s | %s | %s |\n", a.name, a.eclV.pct(), a.honOut.pct(), a.atkOutV.pct(), a.atkOut.pct(), a.bookO.pct())
	}
	if big != nil && big.hasFull {
		bc := big.aggs[0].runs[0].Config
		p("\nThe same question at %d nodes, where a scaled book (5,120 slots) is smaller than the number of\n", bc.Nodes)
		p("listening addresses: the %s model, %d seed(s), scaled books as in the headline table and full books\n", bookCheckModel, len(big.full.runs))
		p("for every node (that run took %v of wall time):\n\n", big.fullWall.Round(time.Second))
		p("| books | eclipsed victims | eclipsed (all) | ≥ 1 honest outbound | attacker share of victims' outbound | of all outbound | of victims' book | of others' book | full outbound |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, a := range []agg{big.scaled, big.full} {
			name := a.name
			if a.name == bookCheckModel {
				name = "scaled books (victims full)"
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, a.eclV.pct(), a.eclAll.pct(), a.honOut.pct(), a.atkOutV.pct(), a.atkOut.pct(), a.bookV.pct(), a.bookO.pct(), a.fullOut.pct())
		}
	}
	// Calibration.
	p("\n## Calibration against the lab (PEX poisoning)\n\n")
	p("`lab/pex_test.go` TestPexPoisoning (docs/RELIABILITY.md): a victim with 8 outbound slots, 8 honest\n")
	p("nodes each in its own /16, 5 poisoners in one /16 answering every PEX request with 32 addresses of\n")
	p("that /16 where nobody listens; the victim bootstraps to one honest node and one poisoner, the other\n")
	p("poisoners dial in. The same scenario in the simulator (`Calibrate`), %d seeds, 60 s + 20 s:\n\n", len(cal))
	var pb, bl, hg, po, hog, ft []float64
	never := 0
	for _, c := range cal {
		pb = append(pb, float64(c.PoisonBook))
		bl = append(bl, float64(c.BookLen))
		hg = append(hg, float64(c.HonestGroups))
		po = append(po, float64(c.PoisonOut))
		hog = append(hog, float64(c.HonestOutGroups))
		if c.FourHonest >= 0 {
			ft = append(ft, secs(c.FourHonest))
		} else {
			never++
		}
	}
	sp, sf := stat(pb), stat(ft)
	p("| measure | lab (3 runs) | simulator |\n|---|---|---|\n")
	p("| poison entries in the victim's book (lab bound 64 + 5) | 28–62 | %s (range %.0f–%.0f) |\n", sp.num(), sp.Min, sp.Max)
	p("| victim's book entries | – | %s |\n", stat(bl).num())
	p("| honest /16s in the book | all 8 | %s |\n", stat(hg).num())
	p("| outbound peers in the poison /16 | 1 | %s |\n", stat(po).num())
	p("| honest /16s among outbound peers at the end | 4–7 | %s |\n", stat(hog).num())
	p("| time to 4 honest /16s (lab bound 60 s) | 1.9–10 s | %s (range %.1f–%.1f s); never within 60 s in %d of %d seeds |\n", sf.num(), sf.Min, sf.Max, never, len(cal))
	p("\n%s", findings)
	files := map[string]string{
		filepath.Join(o.Dir, "SIMULATION.md"):       b.String(),
		filepath.Join(svgDir, "eclipse-budget.svg"): eclSVG,
		filepath.Join(svgDir, "discovery.svg"):      discSVG,
		filepath.Join(svgDir, "gossip.svg"):         gossipSVG,
	}
	if dhtSVG != "" {
		files[filepath.Join(svgDir, "dht.svg")] = dhtSVG
	}
	for path, s := range files {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// outcomeTables writes the two per-model tables of aggs.
func outcomeTables(p func(string, ...any), aggs []agg) {
	p("| model | what | eclipsed victims | eclipsed (all) | ≥ 1 honest outbound | attacker share of victims' outbound | of all outbound | of victims' book | of others' book | of victims' picks | of others' picks | time to eclipse |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, a := range aggs {
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", a.name, a.what, a.eclV.pct(), a.eclAll.pct(), a.honOut.pct(),
			a.atkOutV.pct(), a.atkOut.pct(), a.bookV.pct(), a.bookO.pct(), a.pickV.pct(), a.pickO.pct(), eclTime(a))
	}
	p("\n| model | full outbound at end | 95%% full outbound after | gossip reach | gossip copies per node | dials refused by the peer |\n|---|---|---|---|---|---|\n")
	for _, a := range aggs {
		p("| %s | %s | %s | %s | %s | %s |\n", a.name, a.fullOut.pct(), convStr(a), a.reach.pct(), a.dup.num(), a.refusedShare.pct())
	}
}

// seedNote says what a seed count allows.
func seedNote(n int) string {
	switch {
	case n == 1:
		return "one seed: no confidence interval"
	case n < 30:
		return fmt.Sprintf("%d seeds fitted the time budget; intervals from %d seeds are wide", n, n)
	}
	return "intervals over 30+ seeds"
}

func eclTime(a agg) string {
	if a.eclTime.N == 0 {
		return "never"
	}
	return fmt.Sprintf("%s (%d of %d runs)", a.eclTime.dur(), a.eclTime.N, len(a.runs))
}

func convStr(a agg) string {
	if a.conv.N == 0 {
		return "never"
	}
	s := a.conv.dur()
	if a.conv.N < len(a.runs) {
		s += fmt.Sprintf(" (%d of %d runs)", a.conv.N, len(a.runs))
	}
	return s
}

// meanCurve averages a per-sample value over runs, sample by sample.
func meanCurve(rs []*Result, f func(Sample) float64) [2][]float64 {
	return averageCurve(rs, f, false)
}

// averageCurve averages f over runs, sample by sample; with skipNegative
// a negative value means "none in this run" and is left out, and a sample
// with none in any run is dropped.
func averageCurve(rs []*Result, f func(Sample) float64, skipNegative bool) [2][]float64 {
	var out [2][]float64
	if len(rs) == 0 {
		return out
	}
	n := len(rs[0].Samples)
	for _, r := range rs {
		n = min(n, len(r.Samples))
	}
	for i := range n {
		y, k := 0.0, 0
		for _, r := range rs {
			if v := f(r.Samples[i]); v >= 0 || !skipNegative {
				y += v
				k++
			}
		}
		if k > 0 {
			out[0] = append(out[0], secs(rs[0].Samples[i].T))
			out[1] = append(out[1], y/float64(k))
		}
	}
	return out
}

// gossipSeries averages the runs' reach curves on the first run's steps.
func gossipSeries(name, color string, rs []*Result) Series {
	s := Series{Name: name, Color: color}
	if len(rs) == 0 {
		return s
	}
	var step time.Duration
	for _, r := range rs {
		step = max(step, r.GossipStep)
	}
	for i := 0; i <= 40; i++ {
		t := step * time.Duration(i)
		y := 0.0
		for _, r := range rs {
			k := min(int(t/r.GossipStep), len(r.GossipReach)-1)
			y += r.GossipReach[k]
		}
		s.X = append(s.X, float64(t)/float64(time.Millisecond))
		s.Y = append(s.Y, y/float64(len(rs)))
	}
	return s
}

// findings is the hand-written part of the report: what the figures above
// meant in the committed runs (docs/sim/runs, which TestCommittedReport
// holds the report to). A rerun with other SIM_FLAGS updates every table,
// not this text.
const findings = findingsText

// shownCommand is the report's command line (for a report run in
// pieces, the pieces' joined by "` + `") without the -save and -out
// flags, which name files of the machine that ran it and change no
// result.
func shownCommand(cmd string) string {
	pieces := strings.Split(cmd, "` + `")
	for i, c := range pieces {
		f := strings.Fields(c)
		kept := f[:0]
		for j := 0; j < len(f); j++ {
			switch {
			case f[j] == "-save" || f[j] == "-out":
				j++ // and its value
			case strings.HasPrefix(f[j], "-save=") || strings.HasPrefix(f[j], "-out="):
			default:
				kept = append(kept, f[j])
			}
		}
		pieces[i] = strings.Join(kept, " ")
	}
	return strings.Join(pieces, "` + `")
}
