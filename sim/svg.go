package sim

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A small SVG line-chart writer for the report. Every series is a
// <polyline class="series"> whose data-name is its name and data-points its
// points in data units, so a test (or a reader) can check the figures.

// Series is one named line of a chart, in data units.
type Series struct {
	Name  string
	Color string
	X, Y  []float64
}

const (
	chartW, chartH         = 720, 380
	padL, padR, padT, padB = 70, 170, 44, 52
	chartTicks             = 5
)

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*1.0000001 {
			return m * p
		}
	}
	return 10 * p
}

// lineChart renders series on linear axes from 0 (or on a log2 x axis when
// logX) to the data's maxima (ymax forces the y range when > 0).
func lineChart(title, subtitle, xlabel, ylabel string, series []Series, logX bool, ymax float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, "<title>%s</title>\n", html.EscapeString(title))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="10" y="34" fill="#555">%s</text>`+"\n", html.EscapeString(subtitle))
	xmin, xmax, ym := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range series {
		for i := range s.X {
			xmin = math.Min(xmin, s.X[i])
			xmax = math.Max(xmax, s.X[i])
			ym = math.Max(ym, s.Y[i])
		}
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	fx := func(x float64) float64 { return x }
	if logX {
		fx = func(x float64) float64 { return math.Log2(math.Max(x, 1e-9)) }
	} else {
		xmin, xmax = 0, niceCeil(xmax)
	}
	if ymax <= 0 {
		ymax = niceCeil(ym)
	}
	x0, x1 := fx(xmin), fx(xmax)
	if x1 <= x0 {
		x1 = x0 + 1
	}
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	px := func(x, y float64) (float64, float64) {
		return padL + (fx(x)-x0)/(x1-x0)*pw, padT + ph - math.Min(y, ymax)/ymax*ph
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`+"\n", padL, padT, pw, ph)
	for i := 0; i <= chartTicks; i++ {
		y := ymax * float64(i) / chartTicks
		_, yy := px(xmin, y)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`+"\n", padL, yy, padL+pw, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", padL-6, yy+4, trimFloat(y))
	}
	var xt []float64
	if logX {
		for x := xmin; x <= xmax*1.0000001; x *= 2 {
			xt = append(xt, x)
		}
	} else {
		for i := 0; i <= chartTicks; i++ {
			xt = append(xt, xmax*float64(i)/chartTicks)
		}
	}
	for _, x := range xt {
		xx, _ := px(x, 0)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", xx, padT+ph+16, trimFloat(x))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">%s</text>`+"\n", padL+pw/2, chartH-12, html.EscapeString(xlabel))
	fmt.Fprintf(&b, `<text x="14" y="%.0f" text-anchor="middle" transform="rotate(-90 14 %.0f)">%s</text>`+"\n", padT+ph/2, padT+ph/2, html.EscapeString(ylabel))
	for i, s := range series {
		var pts, data []string
		for j := range s.X {
			x, y := px(s.X[j], s.Y[j])
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			data = append(data, fmt.Sprintf("%g,%g", s.X[j], s.Y[j]))
		}
		fmt.Fprintf(&b, `<polyline class="series" data-name="%s" data-points="%s" points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n",
			html.EscapeString(s.Name), strings.Join(data, " "), strings.Join(pts, " "), s.Color)
		ly := float64(padT + 14 + 18*i)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"/>`+"\n", padL+pw+10, ly-4, padL+pw+30, ly-4, s.Color)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", padL+pw+34, ly, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3g", v)
	return s
}

// palette colours series in order.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"}
