package report

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"sort"
	"strings"

	"github.com/fnmgr/fnmgr/optimizer/search"
)

// Chart geometry.
const (
	chartW, chartH = 760, 440
	padL, padR     = 72, 84
	padT, padB     = 56, 64
)

// Colours.
const (
	colTime    = "#1f77b4"
	colCost    = "#ff7f0e"
	colChosen  = "#2ca02c"
	colFail    = "#d62728"
	colCurrent = "#7f7f7f"
	colPassive = "#9467bd"
)

// Chart draws the report as an SVG: the median duration at each measured
// size with its 95% interval (left axis), the cost per invocation in
// GB-seconds (right axis), infeasible sizes crossed out, real traffic's
// medians as diamonds, the current size dashed and the chosen size marked.
// It is hand-written SVG with no dependencies.
func Chart(r Report) []byte {
	var pts []search.Point
	if r.Active != nil {
		pts = r.Active.Points
	}
	var passive []search.Sample
	if r.Passive != nil {
		passive = r.Passive.Sizes
	}
	chosen := 0
	if r.Recommendation != nil {
		chosen = r.Recommendation.MemoryMB
	}
	c := newCanvas(pts, passive, r.Current.MemoryMB, chosen)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	title := r.Function + ": duration and cost against memory"
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", padL, esc(title))
	sub := fmt.Sprintf("objective %s", r.Objective)
	if r.Objective == search.MinResources {
		sub += fmt.Sprintf(" (tolerance %.0f%%)", 100*r.Tolerance)
	}
	if r.Recommendation != nil && r.Recommendation.MemoryMB > 0 {
		sub += fmt.Sprintf(" · chosen %d MB", r.Recommendation.MemoryMB)
	}
	sub += fmt.Sprintf(" · %d invocations, %.2f GB-s", r.Invocations, r.GBSeconds)
	fmt.Fprintf(&b, `<text x="%d" y="40" fill="#444">%s</text>`+"\n", padL, esc(sub))
	if c.empty {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#444">no measurement yet</text>`+"\n", chartW/2-60, chartH/2)
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	c.axes(&b)
	c.markers(&b, r.Current.MemoryMB, chosen)
	c.series(&b, pts)
	c.passive(&b, passive)
	c.legend(&b, len(passive) > 0)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

type canvas struct {
	xmin, xmax float64 // log2 memory
	tmax, cmax float64
	empty      bool
	ticks      []int
}

func newCanvas(pts []search.Point, passive []search.Sample, current, chosen int) *canvas {
	c := &canvas{xmin: math.Inf(1), xmax: math.Inf(-1)}
	seen := map[int]bool{}
	add := func(m int) {
		if m <= 0 {
			return
		}
		x := math.Log2(float64(m))
		c.xmin, c.xmax = math.Min(c.xmin, x), math.Max(c.xmax, x)
		if !seen[m] {
			seen[m] = true
			c.ticks = append(c.ticks, m)
		}
	}
	any := false
	for _, p := range pts {
		add(p.MemoryMB)
		any = true
		c.tmax = math.Max(c.tmax, math.Max(p.Stats.CIHighMs, p.Stats.MedianMs))
		c.cmax = math.Max(c.cmax, p.GBSeconds)
	}
	for _, s := range passive {
		add(s.MemoryMB)
		any = true
		c.tmax = math.Max(c.tmax, s.MedianMs)
		c.cmax = math.Max(c.cmax, search.GBSeconds(s.MemoryMB, s.MedianMs))
	}
	if !any {
		c.empty = true
		return c
	}
	add(current)
	add(chosen)
	if c.xmax-c.xmin < 1 {
		c.xmin, c.xmax = c.xmin-0.5, c.xmax+0.5
	}
	pad := 0.04 * (c.xmax - c.xmin)
	c.xmin, c.xmax = c.xmin-pad, c.xmax+pad
	c.tmax = niceCeil(math.Max(c.tmax*1.08, 1))
	c.cmax = niceCeil(math.Max(c.cmax*1.08, 1e-6))
	sort.Ints(c.ticks)
	c.ticks = thin(c.ticks, 14)
	return c
}

// thin keeps at most n ticks, spread out.
func thin(ticks []int, n int) []int {
	if len(ticks) <= n {
		return ticks
	}
	var out []int
	step := float64(len(ticks)-1) / float64(n-1)
	for i := 0; i < n; i++ {
		out = append(out, ticks[int(math.Round(float64(i)*step))])
	}
	return out
}

func niceCeil(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func (c *canvas) x(m int) float64 {
	return padL + (math.Log2(float64(m))-c.xmin)/(c.xmax-c.xmin)*float64(chartW-padL-padR)
}
func (c *canvas) yt(t float64) float64 {
	return float64(chartH-padB) - t/c.tmax*float64(chartH-padT-padB)
}
func (c *canvas) yc(v float64) float64 {
	return float64(chartH-padB) - v/c.cmax*float64(chartH-padT-padB)
}

func (c *canvas) axes(b *bytes.Buffer) {
	x0, x1, y0, y1 := padL, chartW-padR, padT, chartH-padB
	for i := 0; i <= 5; i++ {
		t := c.tmax * float64(i) / 5
		y := c.yt(t)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", x0, y, x1, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="%s">%s</text>`+"\n", x0-6, y+4, colTime, fmtNum(t))
		v := c.cmax * float64(i) / 5
		fmt.Fprintf(b, `<text x="%d" y="%.1f" fill="%s">%s</text>`+"\n", x1+6, c.yc(v)+4, colCost, fmtNum(v))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`+"\n", x0, y1, x1, y1)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`+"\n", x0, y0, x0, y1, colTime)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`+"\n", x1, y0, x1, y1, colCost)
	for _, m := range c.ticks {
		x := c.x(m)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>`+"\n", x, y1, x, y1+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="end" transform="rotate(-40 %.1f %d)">%d</text>`+"\n", x, y1+16, x, y1+16, m)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">memory (MB, log scale)</text>`+"\n", (x0+x1)/2, chartH-8)
	fmt.Fprintf(b, `<text x="16" y="%d" text-anchor="middle" fill="%s" transform="rotate(-90 16 %d)">median duration (ms), 95%% interval</text>`+"\n",
		(y0+y1)/2, colTime, (y0+y1)/2)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="%s" transform="rotate(90 %d %d)">GB-s per invocation</text>`+"\n",
		chartW-14, (y0+y1)/2, colCost, chartW-14, (y0+y1)/2)
}

func (c *canvas) markers(b *bytes.Buffer, current, chosen int) {
	if current > 0 {
		x := c.x(current)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 4"/>`+"\n", x, padT, x, chartH-padB, colCurrent)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="%s" text-anchor="middle">current %d MB</text>`+"\n", x, padT-4, colCurrent, current)
	}
	if chosen > 0 {
		x := c.x(chosen)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="2 3"/>`+"\n", x, padT, x, chartH-padB, colChosen)
		y := padT + 12
		if current == chosen {
			y += 14
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="%s" text-anchor="middle" font-weight="bold">chosen %d MB</text>`+"\n", x, y, colChosen, chosen)
	}
}

func (c *canvas) series(b *bytes.Buffer, pts []search.Point) {
	var tl, cl []string
	for _, p := range pts {
		x := c.x(p.MemoryMB)
		if p.Feasibility == search.Infeasible {
			y := float64(chartH - padB - 10)
			fmt.Fprintf(b, `<path d="M%.1f %.1f l8 8 m0 -8 l-8 8" transform="translate(-4 -4)" stroke="%s" stroke-width="2"/>`+"\n", x, y, colFail)
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="%s" text-anchor="middle" font-size="10">%s</text>`+"\n", x, y-8, colFail, esc(string(p.Failure)))
			continue
		}
		if p.Stats.N == 0 {
			continue
		}
		yt := c.yt(p.Stats.MedianMs)
		tl = append(tl, fmt.Sprintf("%.1f,%.1f", x, yt))
		if p.Stats.CIHighMs > 0 {
			lo, hi := c.yt(p.Stats.CILowMs), c.yt(p.Stats.CIHighMs)
			fmt.Fprintf(b, `<path d="M%.1f %.1f V%.1f M%.1f %.1f h8 M%.1f %.1f h8" stroke="%s"/>`+"\n", x, lo, hi, x-4, lo, x-4, hi, colTime)
		}
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%d MB: median %.0f ms (n=%d)</title></circle>`+"\n",
			x, yt, colTime, p.MemoryMB, p.Stats.MedianMs, p.Stats.N)
		yc := c.yc(p.GBSeconds)
		cl = append(cl, fmt.Sprintf("%.1f,%.1f", x, yc))
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="6" height="6" fill="%s"><title>%d MB: %.6f GB-s</title></rect>`+"\n",
			x-3, yc-3, colCost, p.MemoryMB, p.GBSeconds)
	}
	if len(tl) > 1 {
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.Join(tl, " "), colTime)
	}
	if len(cl) > 1 {
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="5 3"/>`+"\n", strings.Join(cl, " "), colCost)
	}
}

func (c *canvas) passive(b *bytes.Buffer, ss []search.Sample) {
	for _, s := range ss {
		if s.MedianMs <= 0 {
			continue
		}
		x, y := c.x(s.MemoryMB), c.yt(s.MedianMs)
		fmt.Fprintf(b, `<path d="M%.1f %.1f l5 5 l-5 5 l-5 -5 z" transform="translate(0 -5)" fill="none" stroke="%s"><title>traffic at %d MB: median %.0f ms over %d</title></path>`+"\n",
			x, y, colPassive, s.MemoryMB, s.MedianMs, s.Count)
	}
}

func (c *canvas) legend(b *bytes.Buffer, passive bool) {
	x, y := padL+10, padT+8
	items := []struct{ col, label string }{{colTime, "median duration"}, {colCost, "cost per invocation"}, {colFail, "infeasible"}}
	if passive {
		items = append(items, struct{ col, label string }{colPassive, "real traffic"})
	}
	for i, it := range items {
		yy := y + 14*i
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" fill="#333">%s</text>`+"\n",
			x, yy, it.col, x+14, yy+9, esc(it.label))
	}
}

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	case v >= 0.01:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2g", v)
}

func esc(s string) string { return html.EscapeString(s) }
