package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// The plot is hand-written SVG: two panels side by side sharing a log-scale x
// axis (regions), the left one the success rate, the right one the mean
// reference age. One colour per decline probability; global runs dashed with
// square markers, regional runs solid with round markers.

const (
	svgW, svgH   = 1010, 450
	panelW       = 400
	panelH       = 280
	panelTop     = 80
	leftMargin   = 70
	panelGap     = 90
	legendTop    = panelTop + panelH + 50
	fontFamily   = "Helvetica, Arial, sans-serif"
	axisColor    = "#333"
	gridColor    = "#ddd"
	globalDash   = "6 4"
	markerRadius = 3.5
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// panel maps data to one plot area.
type panel struct {
	x0, y0       float64 // top-left corner of the plot area
	xMin, xMax   float64 // log10 of the region counts at the edges
	yMin, yMax   float64
	title, yName string
}

func (p panel) px(regions int) float64 {
	lx := math.Log10(float64(regions))
	if p.xMax == p.xMin {
		return p.x0 + panelW/2
	}
	return p.x0 + (lx-p.xMin)/(p.xMax-p.xMin)*panelW
}

func (p panel) py(v float64) float64 {
	return p.y0 + panelH - (v-p.yMin)/(p.yMax-p.yMin)*panelH
}

// writeSVG draws the plot of the results.
func writeSVG(w io.Writer, rs []result, subtitle string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="12">`+"\n",
		svgW, svgH, svgW, svgH, fontFamily)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	text(&b, svgW/2, 22, "middle", 16, "bold", "Checkpoint success and reference age, global vs regional (FLIP-600)")
	text(&b, svgW/2, 42, "middle", 11, "normal", subtitle)

	regions, ps := axes(rs)
	xMin, xMax := math.Log10(float64(regions[0])), math.Log10(float64(regions[len(regions)-1]))
	maxAge := 0.0
	for i := range rs {
		maxAge = math.Max(maxAge, rs[i].Stats.MeanRefAge())
	}
	left := panel{x0: leftMargin, y0: panelTop, xMin: xMin, xMax: xMax, yMin: 0, yMax: 1,
		title: "checkpoint success rate", yName: "completed / ended"}
	right := panel{x0: leftMargin + panelW + panelGap, y0: panelTop, xMin: xMin, xMax: xMax, yMin: 0,
		yMax: niceCeil(maxAge), title: "mean reference age (checkpoint ids)", yName: "mean over regions of id − ref"}
	for _, p := range []panel{left, right} {
		frame(&b, p, regions)
	}
	for pi, prob := range ps {
		color := palette[pi%len(palette)]
		for _, m := range modes {
			var pts [][2]float64
			var ages [][2]float64
			for i := range rs {
				r := &rs[i]
				if r.P != prob || r.Mode != m {
					continue
				}
				pts = append(pts, [2]float64{left.px(r.Regions), left.py(r.Stats.SuccessRate())})
				ages = append(ages, [2]float64{right.px(r.Regions), right.py(r.Stats.MeanRefAge())})
			}
			series(&b, pts, color, m)
			series(&b, ages, color, m)
		}
	}
	legend(&b, ps)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// axes returns the distinct region counts (ascending) and decline
// probabilities (in grid order) of the results.
func axes(rs []result) ([]int, []float64) {
	var regions []int
	var ps []float64
	for i := range rs {
		if !containsInt(regions, rs[i].Regions) {
			regions = append(regions, rs[i].Regions)
		}
		if !containsFloat(ps, rs[i].P) {
			ps = append(ps, rs[i].P)
		}
	}
	return regions, ps
}

func containsInt(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func containsFloat(xs []float64, v float64) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// niceCeil rounds a positive axis maximum up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e {
			return m * e
		}
	}
	return 10 * e
}

// frame draws a panel's grid, axes, ticks and labels.
func frame(b *strings.Builder, p panel, regions []int) {
	text(b, p.x0+panelW/2, p.y0-8, "middle", 13, "bold", p.title)
	for i := 0; i <= 5; i++ {
		v := p.yMin + float64(i)/5*(p.yMax-p.yMin)
		y := p.py(v)
		line(b, p.x0, y, p.x0+panelW, y, gridColor, "")
		text(b, p.x0-6, y+4, "end", 11, "normal", trimFloat(v))
	}
	for _, n := range regions {
		x := p.px(n)
		line(b, x, p.y0, x, p.y0+panelH, gridColor, "")
		text(b, x, p.y0+panelH+16, "middle", 11, "normal", fmt.Sprint(n))
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%d" height="%d" fill="none" stroke="%s"/>`+"\n",
		p.x0, p.y0, panelW, panelH, axisColor)
	text(b, p.x0+panelW/2, p.y0+panelH+34, "middle", 12, "normal", "regions (log scale)")
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n",
		p.x0-46, p.y0+panelH/2, p.x0-46, p.y0+panelH/2, esc(p.yName))
}

// series draws a polyline with markers: global dashed with squares, regional
// solid with circles.
func series(b *strings.Builder, pts [][2]float64, color string, m mode) {
	if len(pts) == 0 {
		return
	}
	dash := ""
	if m == global {
		dash = globalDash
	}
	var coords []string
	for _, pt := range pts {
		coords = append(coords, fmt.Sprintf("%.1f,%.1f", pt[0], pt[1]))
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n",
		strings.Join(coords, " "), color, dashAttr(dash))
	for _, pt := range pts {
		marker(b, pt[0], pt[1], color, m)
	}
}

func marker(b *strings.Builder, x, y float64, color string, m mode) {
	if m == global {
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="white" stroke="%s" stroke-width="1.5"/>`+"\n",
			x-markerRadius, y-markerRadius, 2*markerRadius, 2*markerRadius, color)
		return
	}
	fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s"/>`+"\n", x, y, markerRadius, color)
}

// legend explains line styles (mode) and colours (decline probability).
func legend(b *strings.Builder, ps []float64) {
	x, y := float64(leftMargin), float64(legendTop)
	for _, m := range modes {
		dash := ""
		if m == global {
			dash = globalDash
		}
		line(b, x, y, x+30, y, axisColor, dash)
		marker(b, x+15, y, axisColor, m)
		text(b, x+36, y+4, "start", 12, "normal", string(m))
		x += 110
	}
	x += 40
	for i, p := range ps {
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="14" height="14" fill="%s"/>`+"\n", x, y-7, palette[i%len(palette)])
		text(b, x+20, y+4, "start", 12, "normal", fmt.Sprintf("p = %g", p))
		x += 120
	}
	text(b, leftMargin, y+24, "start", 11, "normal",
		"p: probability that a subtask declines a checkpoint. Success rate = completed / (completed + aborted).")
}

func line(b *strings.Builder, x1, y1, x2, y2 float64, color, dash string) {
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1"%s/>`+"\n",
		x1, y1, x2, y2, color, dashAttr(dash))
}

func dashAttr(dash string) string {
	if dash == "" {
		return ""
	}
	return fmt.Sprintf(` stroke-dasharray="%s"`, dash)
}

func text(b *strings.Builder, x, y float64, anchor string, size int, weight, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d" font-weight="%s">%s</text>`+"\n",
		x, y, anchor, size, weight, esc(s))
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// esc escapes text for XML.
func esc(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}
