package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A small SVG writer for the demo report's pictures: line charts,
// histograms and a graph. Every data series is a <polyline> with the
// class "series", its name in data-name and its points in data units in
// data-points ("x,y x,y ..."), so a reader (or a test) can check the
// figures without inverting the pixel scale.

// Chart geometry in pixels.
const (
	svgWidth   = 720
	svgHeight  = 360
	svgLeft    = 64 // room for the y axis labels
	svgRight   = 16
	svgTop     = 44 // room for the title and subtitle
	svgBottom  = 48 // room for the x axis labels
	svgTicks   = 5  // ticks per axis
	graphSize  = 520
	graphInset = 60
)

// chartPoint is one point in data units.
type chartPoint struct{ X, Y float64 }

// chartSeries is one named line.
type chartSeries struct {
	Name   string
	Color  string
	Width  float64
	Points []chartPoint
}

// svgDoc accumulates one SVG document.
type svgDoc struct{ b strings.Builder }

func newSVG(w, h int, title, subtitle string) *svgDoc {
	s := &svgDoc{}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&s.b, "<title>%s</title>\n", html.EscapeString(title))
	fmt.Fprintf(&s.b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&s.b, `<text x="10" y="16" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	fmt.Fprintf(&s.b, `<text x="10" y="30" fill="#555">%s</text>`+"\n", html.EscapeString(subtitle))
	return s
}

func (s *svgDoc) text(x, y float64, anchor, str string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>`+"\n", x, y, anchor, html.EscapeString(str))
}

func (s *svgDoc) String() string { return s.b.String() + "</svg>\n" }

// niceMax rounds v up to a round number: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6
// or 8 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// axes draws the frame, ticks and labels of a chart with data ranges
// [0, xmax] × [0, ymax], and returns the data-to-pixel mapping.
func (s *svgDoc) axes(xmax, ymax float64, xlabel, ylabel string, yfmt func(float64) string) func(chartPoint) (float64, float64) {
	pw, ph := float64(svgWidth-svgLeft-svgRight), float64(svgHeight-svgTop-svgBottom)
	px := func(p chartPoint) (float64, float64) {
		return svgLeft + p.X/xmax*pw, svgTop + ph - p.Y/ymax*ph
	}
	fmt.Fprintf(&s.b, `<g class="axes" stroke="#888" fill="none"><rect x="%d" y="%d" width="%.0f" height="%.0f"/></g>`+"\n", svgLeft, svgTop, pw, ph)
	for i := 0; i <= svgTicks; i++ {
		f := float64(i) / svgTicks
		x, _ := px(chartPoint{X: f * xmax})
		_, y := px(chartPoint{Y: f * ymax})
		fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`+"\n", x, svgTop, x, svgTop+int(ph))
		fmt.Fprintf(&s.b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", svgLeft, y, svgLeft+int(pw), y)
		s.text(x, float64(svgTop)+ph+16, "middle", trimFloat(f*xmax))
		s.text(svgLeft-6, y+4, "end", yfmt(f*ymax))
	}
	s.text(svgLeft+pw/2, svgHeight-10, "middle", xlabel)
	fmt.Fprintf(&s.b, `<text transform="translate(14 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", svgTop+ph/2, html.EscapeString(ylabel))
	return px
}

// trimFloat prints v with at most three significant decimals.
func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3g", v)
	if strings.ContainsAny(s, "e") {
		s = fmt.Sprintf("%.0f", v)
	}
	return s
}

// lineChart draws series over [0, xmax] × [0, ymax] (0 means: from the data).
func lineChart(title, subtitle, xlabel, ylabel string, xmax, ymax float64, yfmt func(float64) string, series []chartSeries) string {
	for _, sr := range series {
		for _, p := range sr.Points {
			if xmax == 0 || p.X > xmax {
				xmax = max(xmax, p.X)
			}
		}
	}
	if ymax == 0 {
		for _, sr := range series {
			for _, p := range sr.Points {
				ymax = max(ymax, p.Y)
			}
		}
		ymax = niceMax(ymax)
	}
	xmax = niceMax(xmax)
	s := newSVG(svgWidth, svgHeight, title, subtitle)
	px := s.axes(xmax, ymax, xlabel, ylabel, yfmt)
	for _, sr := range series {
		var pix, data strings.Builder
		for i, p := range sr.Points {
			if i > 0 {
				pix.WriteByte(' ')
				data.WriteByte(' ')
			}
			x, y := px(p)
			fmt.Fprintf(&pix, "%.1f,%.1f", x, y)
			fmt.Fprintf(&data, "%s,%s", trimData(p.X), trimData(p.Y))
		}
		fmt.Fprintf(&s.b, `<polyline class="series" data-name="%s" data-points="%s" points="%s" fill="none" stroke="%s" stroke-width="%.1f"/>`+"\n",
			html.EscapeString(sr.Name), data.String(), pix.String(), sr.Color, sr.Width)
	}
	return s.String()
}

// trimData prints a data value compactly and exactly enough for checks.
func trimData(v float64) string { return fmt.Sprintf("%.4g", v) }

// histogram draws counts of bins of width binWidth starting at 0.
func histogram(title, subtitle, xlabel string, binWidth float64, counts []int, marks map[string]float64) string {
	xmax := binWidth * float64(len(counts))
	ymax := 0
	for _, c := range counts {
		ymax = max(ymax, c)
	}
	s := newSVG(svgWidth, svgHeight, title, subtitle)
	px := s.axes(xmax, niceMax(float64(ymax)), xlabel, "round trips", func(v float64) string { return fmt.Sprintf("%.0f", v) })
	fmt.Fprintf(&s.b, `<g class="bars" fill="#4a7ab7">`+"\n")
	for i, c := range counts {
		x0, y0 := px(chartPoint{X: float64(i) * binWidth, Y: float64(c)})
		x1, y1 := px(chartPoint{X: float64(i+1) * binWidth})
		fmt.Fprintf(&s.b, `<rect class="bar" data-from="%s" data-count="%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`+"\n",
			trimData(float64(i)*binWidth), c, x0, y0, max(x1-x0-1, 0.5), y1-y0)
	}
	s.b.WriteString("</g>\n")
	for name, v := range marks {
		x, _ := px(chartPoint{X: min(v, xmax)})
		fmt.Fprintf(&s.b, `<line class="mark" data-name="%s" data-value="%s" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c33" stroke-dasharray="4 3"/>`+"\n",
			name, trimData(v), x, svgTop, x, svgHeight-svgBottom)
		s.text(x+3, svgTop+12, "start", name)
	}
	return s.String()
}

// graphNode is a node of the topology picture.
type graphNode struct {
	Name   string
	Center bool // drawn in the middle (the seed)
}

// topologyGraph draws nodes on a circle (centre nodes in the middle) and
// a line per link.
func topologyGraph(title, subtitle string, nodes []graphNode, links []demoLink) string {
	s := newSVG(graphSize, graphSize+30, title, subtitle)
	pos := map[string][2]float64{}
	ring := 0
	for _, n := range nodes {
		if !n.Center {
			ring++
		}
	}
	c, r := float64(graphSize)/2, float64(graphSize)/2-graphInset
	i := 0
	for _, n := range nodes {
		if n.Center {
			pos[n.Name] = [2]float64{c, c + 30}
			continue
		}
		a := 2*math.Pi*float64(i)/float64(ring) - math.Pi/2
		pos[n.Name] = [2]float64{c + r*math.Cos(a), c + 30 + r*math.Sin(a)}
		i++
	}
	s.b.WriteString(`<g class="links" stroke="#777" stroke-width="1.5">` + "\n")
	for _, l := range links {
		a, b := pos[l.From], pos[l.To]
		dash := ""
		if l.Seed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&s.b, `<line class="link" data-from="%s" data-to="%s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"%s/>`+"\n",
			l.From, l.To, a[0], a[1], b[0], b[1], dash)
	}
	s.b.WriteString("</g>\n")
	for _, n := range nodes {
		p := pos[n.Name]
		fill := "#4a7ab7"
		if n.Center {
			fill = "#c77d1a"
		}
		fmt.Fprintf(&s.b, `<circle class="node" data-name="%s" cx="%.1f" cy="%.1f" r="14" fill="%s"/>`+"\n", n.Name, p[0], p[1], fill)
		fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="white" font-size="10">%s</text>`+"\n", p[0], p[1]+4, n.Name)
	}
	return s.String()
}

// seriesColor returns a distinct colour for series i of n.
func seriesColor(i, n int) string {
	return fmt.Sprintf("hsl(%d,65%%,45%%)", 360*i/max(n, 1))
}
