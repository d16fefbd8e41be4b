package sim

import (
	"fmt"
	"math"
	"time"
)

// Stat is a mean over seeds with its 95% confidence half-width (Student's
// t), and the smallest and largest value.
type Stat struct {
	N        int
	Mean, CI float64
	Min, Max float64
}

// tQuantile975 is the two-sided 95% quantile of Student's t for df degrees
// of freedom (1-30; larger df uses the normal 1.96).
var tQuantile975 = [...]float64{0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}

// stat summarises xs.
func stat(xs []float64) Stat {
	st := Stat{N: len(xs)}
	if len(xs) == 0 {
		return st
	}
	st.Min, st.Max = xs[0], xs[0]
	for _, x := range xs {
		st.Mean += x
		st.Min = math.Min(st.Min, x)
		st.Max = math.Max(st.Max, x)
	}
	st.Mean /= float64(len(xs))
	if len(xs) > 1 {
		v := 0.0
		for _, x := range xs {
			v += (x - st.Mean) * (x - st.Mean)
		}
		sd := math.Sqrt(v / float64(len(xs)-1))
		t := 1.96
		if df := len(xs) - 1; df < len(tQuantile975) {
			t = tQuantile975[df]
		}
		st.CI = t * sd / math.Sqrt(float64(len(xs)))
	}
	return st
}

// pct formats a share as a percentage with its interval.
func (s Stat) pct() string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf("%.1f%%", 100*s.Mean)
	}
	return fmt.Sprintf("%.1f%% ± %.1f", 100*s.Mean, 100*s.CI)
}

// dur formats seconds with its interval.
func (s Stat) dur() string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf("%.0f s", s.Mean)
	}
	return fmt.Sprintf("%.0f s ± %.0f", s.Mean, s.CI)
}

// num formats a plain number with its interval.
func (s Stat) num() string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf("%.2f", s.Mean)
	}
	return fmt.Sprintf("%.2f ± %.2f", s.Mean, s.CI)
}

func secs(d time.Duration) float64 { return d.Seconds() }
