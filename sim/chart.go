package sim

// LineChartSVG renders series as an SVG line chart on linear axes from 0,
// the y axis up to ymax (or the data's rounded maximum when ymax <= 0):
// the report's chart writer, for other figures of the project (make
// block-curve).
func LineChartSVG(title, subtitle, xlabel, ylabel string, series []Series, ymax float64) string {
	return lineChart(title, subtitle, xlabel, ylabel, series, false, ymax)
}
