package sim

import (
	"encoding/gob"
	"os"
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
	if err := runBigBooks(bigConfig(o, baseConfig(o)), max(1, o.BigSeeds), big, logf); err != nil {
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
// ReportOptions.Save) to dir, without running anything.
func RenderSaved(path, dir string) error {
	r, err := load(path)
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
