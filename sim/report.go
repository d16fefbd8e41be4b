package sim

import (
	"runtime"
	"runtime/debug"
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
