package sim

import (
	"cmp"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"
)

// savedAgg is one scenario's runs as written by ReportOptions.Save.
type savedAgg struct {
	Name, What string
	Runs       []*Result
}

// savedReport is everything writeFiles needs: a report's runs, so that
// a change of the report's text or plots does not need the hour of runs
// again (`peerwire-sim -load`).
type savedReport struct {
	Opts        ReportOptions
	Aggs, Sweep []savedAgg
	Books       [2]savedAgg
	Cal         []Calibration
	HasBig      bool
	Big         []savedAgg
	BigWalls    []time.Duration
	BigHeap     uint64
	BigTotal    time.Duration
	BigRSS      int64
	HasBigFull  bool
	BigFull     []*Result
	BigFullWall time.Duration
	DHT         []savedAgg
	Wall, CPU   time.Duration
}

func toSaved(as []agg) []savedAgg {
	out := make([]savedAgg, len(as))
	for i, a := range as {
		out[i] = savedAgg{a.name, a.what, a.runs}
	}
	return out
}

func fromSaved(ss []savedAgg) []agg {
	out := make([]agg, len(ss))
	for i, s := range ss {
		out[i] = aggregate(s.Name, s.What, s.Runs)
	}
	return out
}

// save writes the report's inputs to path (gob).
func save(path string, o ReportOptions, aggs, sweep []agg, books [2]agg, cal []Calibration, big *bigRuns, dhtAggs []agg, wall, cpu time.Duration) error {
	r := savedReport{Opts: o, Aggs: toSaved(aggs), Sweep: toSaved(sweep), Cal: cal, DHT: toSaved(dhtAggs), Wall: wall, CPU: cpu}
	bs := toSaved(books[:])
	r.Books = [2]savedAgg{bs[0], bs[1]}
	if big != nil {
		r.HasBig, r.Big, r.BigWalls, r.BigHeap, r.BigTotal, r.BigRSS = true, toSaved(big.aggs), big.walls, big.heap, big.total, big.rss
		r.HasBigFull, r.BigFull, r.BigFullWall = big.hasFull, big.full.runs, big.fullWall
	}
	return store(path, &r)
}

// AddBigBooks runs the full-size book check (ReportOptions.BigBooks) for
// the runs saved at path, if they lack it, and saves them again: a report
// whose big matrix was run without -big-books gets it without the hour of
// runs again.
func AddBigBooks(path string, logf func(string, ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	r, err := load(path)
	if err != nil {
		return err
	}
	if !r.HasBig || r.HasBigFull {
		return nil
	}
	o := r.Opts
	o.BigBooks = true
	big := &bigRuns{}
	if err := runBigBooks(bigConfig(o, baseConfig(o)), o.firstSeed(), max(1, o.BigSeeds), big, logf); err != nil {
		return err
	}
	r.Opts = o
	r.HasBigFull, r.BigFull, r.BigFullWall = true, big.full.runs, big.fullWall
	return store(path, &r)
}

func load(path string) (savedReport, error) {
	var r savedReport
	f, err := os.Open(path)
	if err != nil {
		return r, err
	}
	defer f.Close()
	err = gob.NewDecoder(f).Decode(&r)
	return r, err
}

func store(path string, r *savedReport) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gob.NewEncoder(f).Encode(r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// RenderSaved writes the report of the runs saved at path (see
// ReportOptions.Save) to dir, without running anything. path may name
// several files, comma-separated, or a directory (its *.gob files): the
// pieces of one report run with different ReportOptions.SeedFrom, which
// are merged as MergeSaved does.
func RenderSaved(path, dir string) error {
	r, err := loadAll(path)
	if err != nil {
		return err
	}
	bs := fromSaved(r.Books[:])
	var big *bigRuns
	if r.HasBig {
		big = &bigRuns{aggs: fromSaved(r.Big), walls: r.BigWalls, heap: r.BigHeap, total: r.BigTotal, rss: r.BigRSS}
		for _, a := range big.aggs {
			if a.name == bookCheckModel {
				big.scaled = a
			}
		}
		if r.HasBigFull {
			big.hasFull, big.full, big.fullWall = true, aggregate("full books everywhere", "", r.BigFull), r.BigFullWall
		}
	}
	o := r.Opts
	o.Dir = dir
	return writeFiles(o, fromSaved(r.Aggs), fromSaved(r.Sweep), [2]agg{bs[0], bs[1]}, r.Cal, big, fromSaved(r.DHT), r.Wall, r.CPU)
}

// MergeSaved merges the runs saved at path (several files or a directory,
// as for RenderSaved) and writes them to out, as one report's -save.
func MergeSaved(path, out string) error {
	r, err := loadAll(path)
	if err != nil {
		return err
	}
	return store(out, &r)
}

// savedPaths lists the files path names: comma-separated, or the *.gob
// files of a directory (in name order).
func savedPaths(path string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(path, ",") {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			ms, err := filepath.Glob(filepath.Join(p, "*.gob"))
			if err != nil {
				return nil, err
			}
			if len(ms) == 0 {
				return nil, fmt.Errorf("sim: no *.gob file in %s", p)
			}
			out = append(out, ms...)
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sim: no saved runs in %q", path)
	}
	return out, nil
}

// loadAll loads and merges the saved runs path names.
func loadAll(path string) (savedReport, error) {
	paths, err := savedPaths(path)
	if err != nil {
		return savedReport{}, err
	}
	var rs []savedReport
	for _, p := range paths {
		r, err := load(p)
		if err != nil {
			return savedReport{}, fmt.Errorf("%s: %w", p, err)
		}
		rs = append(rs, r)
	}
	return merge(rs)
}

// sameReport is the part of ReportOptions the pieces of one report share:
// everything but the seeds, how they were run and the -big matrix, which
// one piece may hold alone (sameBig).
func sameReport(o ReportOptions) ReportOptions {
	o.Seeds, o.BigSeeds, o.DHTSeeds, o.CalibrationSeeds, o.SeedFrom = 0, 0, 0, 0, 0
	o.Workers, o.BigWorkers, o.Dir, o.Save, o.Command, o.Log = 0, 0, "", "", "", nil
	o.BigNodes, o.BigVictims, o.BigBooks, o.BigDuration = 0, 0, false, 0
	return o
}

// bigOf is the part of ReportOptions that sizes the -big matrix, which
// two pieces that both ran it must share.
func bigOf(o ReportOptions) bigSize {
	return bigSize{o.BigNodes, o.BigVictims, o.BigDuration}
}

type bigSize struct {
	Nodes, Victims int
	Duration       time.Duration
}

// takeBig gives m the -big matrix of r, a piece that ran it where m did
// not.
func takeBig(m *savedReport, r savedReport) {
	m.HasBig, m.Big, m.BigWalls = true, cloneAggs(r.Big), slices.Clone(r.BigWalls)
	m.BigHeap, m.BigTotal, m.BigRSS = r.BigHeap, r.BigTotal, r.BigRSS
	m.HasBigFull, m.BigFull, m.BigFullWall = r.HasBigFull, slices.Clone(r.BigFull), r.BigFullWall
	m.Opts.BigNodes, m.Opts.BigVictims, m.Opts.BigDuration = r.Opts.BigNodes, r.Opts.BigVictims, r.Opts.BigDuration
	m.Opts.BigBooks, m.Opts.BigSeeds = r.Opts.BigBooks, r.Opts.BigSeeds
}

// merge joins the pieces of one report, each run with its own
// ReportOptions.SeedFrom: every scenario's runs are put together in seed
// order (a seed run twice is an error), so the pieces render the report
// one process running all their seeds would. The -big matrix and the DHT
// models may be in some pieces only (a long small matrix is split, the
// 10,000-node runs go in one piece); where two pieces hold them, their
// seeds are joined the same way. Times add up; the peak heap and RSS are
// the largest piece's; the command is every piece's.
func merge(rs []savedReport) (savedReport, error) {
	if len(rs) == 1 {
		return rs[0], nil
	}
	slices.SortStableFunc(rs, func(a, b savedReport) int { return cmp.Compare(a.Opts.firstSeed(), b.Opts.firstSeed()) })
	m := rs[0]
	// Deep enough copies that appending does not write into rs[0].
	m.Aggs, m.Sweep, m.Big, m.DHT = cloneAggs(m.Aggs), cloneAggs(m.Sweep), cloneAggs(m.Big), cloneAggs(m.DHT)
	m.Books = [2]savedAgg(cloneAggs(m.Books[:]))
	m.Cal = slices.Clone(m.Cal)
	m.BigWalls = slices.Clone(m.BigWalls)
	m.BigFull = slices.Clone(m.BigFull)
	for _, r := range rs[1:] {
		if !reflect.DeepEqual(sameReport(r.Opts), sameReport(m.Opts)) {
			return m, fmt.Errorf("sim: saved runs of different reports: %+v and %+v", sameReport(m.Opts), sameReport(r.Opts))
		}
		bigToo := r.HasBig && m.HasBig
		if bigToo && bigOf(r.Opts) != bigOf(m.Opts) {
			return m, fmt.Errorf("sim: saved -big matrices of different sizes: %+v and %+v", bigOf(m.Opts), bigOf(r.Opts))
		}
		if r.HasBig && !m.HasBig {
			takeBig(&m, r)
		}
		dhtToo := len(r.DHT) > 0 && len(m.DHT) > 0
		if len(r.DHT) > 0 && len(m.DHT) == 0 {
			m.DHT, m.Opts.DHTSeeds = cloneAggs(r.DHT), r.Opts.DHTSeeds
		}
		var err error
		join := func(dst, src []savedAgg, what string) {
			if err != nil {
				return
			}
			if len(dst) != len(src) {
				err = fmt.Errorf("sim: saved %s: %d and %d scenarios", what, len(dst), len(src))
				return
			}
			for i := range dst {
				if dst[i].Name != src[i].Name {
					err = fmt.Errorf("sim: saved %s: scenario %q and %q", what, dst[i].Name, src[i].Name)
					return
				}
				dst[i].Runs = append(dst[i].Runs, src[i].Runs...)
			}
		}
		join(m.Aggs, r.Aggs, "scenarios")
		join(m.Sweep, r.Sweep, "budget sweep")
		join(m.Books[:], r.Books[:], "book-size check")
		if bigToo {
			join(m.Big, r.Big, "big matrix")
		}
		if dhtToo {
			join(m.DHT, r.DHT, "DHT models")
		}
		if err != nil {
			return m, err
		}
		if r.Opts.Command != "" {
			m.Opts.Command = strings.TrimPrefix(m.Opts.Command+"` + `"+r.Opts.Command, "` + `")
		}
		m.Opts.Seeds += r.Opts.Seeds
		m.Opts.CalibrationSeeds += r.Opts.CalibrationSeeds
		m.Cal = append(m.Cal, r.Cal...)
		m.Wall += r.Wall
		m.CPU += r.CPU
		if dhtToo {
			m.Opts.DHTSeeds += r.Opts.DHTSeeds
		}
		if bigToo {
			m.Opts.BigSeeds += r.Opts.BigSeeds
			m.BigWalls = append(m.BigWalls, r.BigWalls...)
			m.BigHeap, m.BigRSS = max(m.BigHeap, r.BigHeap), max(m.BigRSS, r.BigRSS)
			m.BigTotal += r.BigTotal
			if r.HasBigFull {
				m.Opts.BigBooks, m.HasBigFull = true, true
				m.BigFull = append(m.BigFull, r.BigFull...)
				m.BigFullWall = max(m.BigFullWall, r.BigFullWall)
			}
		}
	}
	var err error
	for _, as := range [][]savedAgg{m.Aggs, m.Sweep, m.Books[:], m.Big, m.DHT} {
		for i := range as {
			if e := sortRuns(as[i].Runs); e != nil && err == nil {
				err = fmt.Errorf("sim: saved scenario %q: %w", as[i].Name, e)
			}
		}
	}
	if e := sortRuns(m.BigFull); e != nil && err == nil {
		err = fmt.Errorf("sim: saved full-book check: %w", e)
	}
	return m, err
}

func cloneAggs(as []savedAgg) []savedAgg {
	out := slices.Clone(as)
	for i := range out {
		out[i].Runs = slices.Clone(out[i].Runs)
	}
	return out
}

// sortRuns puts runs in seed order; a seed twice is an error.
func sortRuns(runs []*Result) error {
	slices.SortStableFunc(runs, func(a, b *Result) int { return cmp.Compare(a.Config.Seed, b.Config.Seed) })
	for i := 1; i < len(runs); i++ {
		if runs[i].Config.Seed == runs[i-1].Config.Seed {
			return fmt.Errorf("seed %d in two pieces", runs[i].Config.Seed)
		}
	}
	return nil
}
