package timeline

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// Options shapes the page.
type Options struct {
	Title string
	// MaxRows is how many rows the regions get at most: with more regions,
	// each row aggregates consecutive regions. 0 means DefaultMaxRows.
	MaxRows int
	// Width of the plot in pixels; 0 sizes it to the number of checkpoints.
	Width int
}

// DefaultMaxRows keeps a job of any size readable: 10,000 regions become 64
// rows of 157.
const DefaultMaxRows = 64

// geometry of the plot.
const (
	labelW = 118 // row labels
	topM   = 22  // room for the vertical lines' tags
	axisH  = 30
	rightM = 16
)

// layout maps times and regions to pixels.
type layout struct {
	t0, t1      int64
	plotW       float64
	rows, per   int // rows, regions per row
	rowH, plotH float64
	regions     int
	markW       float64
	svgW, svgH  float64
}

func (b *Builder) layout(opts Options) layout {
	l := layout{t0: b.start, t1: b.now, regions: b.topo.NumRegions()}
	for _, c := range b.ckpts {
		l.t1 = max(l.t1, c.endAt)
	}
	if len(b.ckpts) > 0 {
		l.t0 = min(l.t0, b.ckpts[0].triggerAt)
	}
	if l.t1 <= l.t0 {
		l.t1 = l.t0 + 1
	}
	maxRows := opts.MaxRows
	if maxRows <= 0 {
		maxRows = DefaultMaxRows
	}
	l.per = (l.regions + maxRows - 1) / maxRows
	l.rows = (l.regions + l.per - 1) / l.per
	l.plotW = float64(opts.Width)
	if l.plotW <= 0 {
		l.plotW = math.Min(math.Max(float64(len(b.ckpts))*9, 720), 24000)
	}
	l.rowH = math.Min(math.Max(math.Floor(420/float64(l.rows)), 7), 24)
	l.plotH = l.rowH * float64(l.rows)
	l.markW = math.Min(math.Max(l.plotW/float64(max(len(b.ckpts), 1))*0.55, 1.5), 7)
	l.svgW = labelW + l.plotW + rightM
	l.svgH = topM + l.plotH + axisH
	return l
}

func (l *layout) x(t int64) float64 {
	return labelW + float64(t-l.t0)*l.plotW/float64(l.t1-l.t0)
}

func (l *layout) rowOf(region int) int { return region / l.per }

func (l *layout) rowY(row int) float64 { return topM + float64(row)*l.rowH }

func (l *layout) rowLabel(row int) string {
	lo, hi := row*l.per, min((row+1)*l.per, l.regions)-1
	if lo == hi {
		return fsm.RegionName(lo)
	}
	return fsm.RegionName(lo) + "–" + fsm.RegionName(hi)
}

// Render writes the page.
func (b *Builder) Render(w io.Writer, opts Options) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	bw := bufio.NewWriterSize(w, 64<<10)
	l := b.layout(opts)
	title := opts.Title
	if title == "" {
		title = "checkpoint timeline"
	}
	fmt.Fprintf(bw, pageHead, html.EscapeString(title))
	fmt.Fprintf(bw, "<h1>%s</h1>\n<div class=\"wrap\"><div class=\"plot\">\n", html.EscapeString(title))
	b.writeSVG(bw, &l)
	bw.WriteString("</div>\n<aside>\n")
	bw.WriteString(`<div id="details" class="details">Hover over a mark for its details.</div>` + "\n")
	b.writeSummary(bw, &l)
	bw.WriteString(legend)
	bw.WriteString("</aside></div>\n")
	bw.WriteString(pageScript)
	bw.WriteString("</body></html>\n")
	return bw.Flush()
}

// f renders a pixel coordinate compactly.
func f(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func (b *Builder) writeSVG(w *bufio.Writer, l *layout) {
	fmt.Fprintf(w, `<svg id="tl" xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s">`+"\n",
		f(l.svgW), f(l.svgH), f(l.svgW), f(l.svgH))
	for r := 0; r < l.rows; r++ {
		y := l.rowY(r)
		fmt.Fprintf(w, `<rect class="row r%d" x="%d" y="%s" width="%s" height="%s"/>`, r%2, labelW, f(y), f(l.plotW), f(l.rowH))
		if l.rowH >= 9 || r%max(1, int(12/l.rowH)) == 0 {
			fmt.Fprintf(w, `<text class="lbl" x="%d" y="%s">%s</text>`, labelW-6, f(y+l.rowH*0.72), l.rowLabel(r))
		}
		w.WriteByte('\n')
	}
	b.writeAxis(w, l)
	for _, c := range b.ckpts {
		b.writeCheckpoint(w, l, c)
	}
	b.writeFailovers(w, l)
	for _, v := range b.lines {
		x := l.x(v.at)
		cls := [...]string{"config", "recover", "failjob", "finish"}[v.kind]
		fmt.Fprintf(w, `<g class="vl %s" data-d="%s"><line x1="%s" x2="%s" y1="%d" y2="%s"/><rect x="%s" y="4" width="8" height="10"/></g>`+"\n",
			cls, attr("+"+rel(v.at-l.t0)+" · "+v.text), f(x), f(x), topM-8, f(topM+l.plotH), f(x-4))
	}
	w.WriteString("</svg>\n")
}

func (b *Builder) writeAxis(w *bufio.Writer, l *layout) {
	span := l.t1 - l.t0
	step := niceStep(span / 10)
	y := topM + l.plotH
	fmt.Fprintf(w, `<line class="axis" x1="%d" x2="%s" y1="%s" y2="%s"/>`+"\n", labelW, f(labelW+l.plotW), f(y), f(y))
	minGap := 70.0 // pixels between tick labels
	every := int64(1)
	if px := float64(step) * l.plotW / float64(span); px < minGap {
		every = int64(math.Ceil(minGap / px))
	}
	for i, t := int64(0), int64(0); t <= span; i, t = i+1, t+step {
		x := l.x(l.t0 + t)
		fmt.Fprintf(w, `<line class="tick" x1="%s" x2="%s" y1="%d" y2="%s"/>`, f(x), f(x), topM, f(y+4))
		if i%every == 0 {
			fmt.Fprintf(w, `<text class="tlbl" x="%s" y="%s">+%s</text>`, f(x), f(y+18), rel(t))
		}
		w.WriteByte('\n')
	}
}

// niceStep rounds a duration up to 1, 2 or 5 times a power of ten.
func niceStep(d int64) int64 {
	if d < 1 {
		return 1
	}
	p := int64(1)
	for p*10 <= d {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= d {
			return m * p
		}
	}
	return 10 * p
}

func (b *Builder) writeCheckpoint(w *bufio.Writer, l *layout, c *checkpoint) {
	at := c.endAt
	cls := "ck "
	switch c.status {
	case completed:
		cls += "completed " + c.mode.String()
	case aborted:
		cls += "aborted"
	default:
		cls += "pending"
		at = l.t1
	}
	if c.kind.IsSavepoint() {
		cls += " savepoint"
	}
	if c.forced {
		cls += " forced"
	}
	x := l.x(at) - l.markW/2
	fmt.Fprintf(w, `<rect class="%s" data-id="%d" x="%s" y="%d" width="%s" height="%s" data-d="%s"/>`+"\n",
		cls, c.id, f(x), topM, f(l.markW), f(l.plotH), attr(b.describe(l, c)))
	if c.status != completed || len(c.refs) == 0 {
		return
	}
	// A mark in each row with a region that fell back, naming the checkpoint
	// it references; aggregated rows count their regions.
	for i := 0; i < len(c.refs); {
		row := l.rowOf(c.refs[i].Region)
		j, oldest := i, c.refs[i].Checkpoint
		var names []string
		for ; j < len(c.refs) && l.rowOf(c.refs[j].Region) == row; j++ {
			oldest = min(oldest, c.refs[j].Checkpoint)
			if len(names) < 8 {
				names = append(names, fsm.RegionName(c.refs[j].Region)+" → "+strconv.FormatInt(c.refs[j].Checkpoint, 10))
			}
		}
		d := fmt.Sprintf("checkpoint %d, %s: ", c.id, l.rowLabel(row))
		if l.per == 1 {
			d += fmt.Sprintf("uses the state of checkpoint %d (%d older)", oldest, c.id-oldest)
		} else {
			d += fmt.Sprintf("%d of %d regions fall back, oldest to %d: %s", j-i, min((row+1)*l.per, l.regions)-row*l.per, oldest, strings.Join(names, ", "))
			if j-i > len(names) {
				d += ", …"
			}
		}
		fmt.Fprintf(w, `<rect class="ref" data-ref="%d" x="%s" y="%s" width="%s" height="%s" data-d="%s"/>`+"\n",
			oldest, f(x-1), f(l.rowY(row)+1), f(l.markW+2), f(max(l.rowH-2, 1)), attr(d))
		i = j
	}
}

func (b *Builder) describe(l *layout, c *checkpoint) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s %d", c.kind, c.id)
	switch c.status {
	case completed:
		fmt.Fprintf(&s, " · completed %s", c.mode)
		if c.mode == fsm.ModeRegional {
			fmt.Fprintf(&s, " (consecutive %d, %d region(s) fall back)", c.consecutive, len(c.refs))
		}
	case aborted:
		fmt.Fprintf(&s, " · aborted: %s", c.reason)
		if c.counted {
			s.WriteString(" (counted)")
		}
		if c.message != "" {
			fmt.Fprintf(&s, " — %s", c.message)
		}
	default:
		s.WriteString(" · in progress")
	}
	if c.forced {
		s.WriteString(" · forced global (R25)")
	}
	fmt.Fprintf(&s, " · triggered +%s", rel(c.triggerAt-l.t0))
	if c.status != pending {
		fmt.Fprintf(&s, ", ended after %s", formatMs(c.endAt-c.triggerAt))
	}
	if c.stateSize > 0 {
		fmt.Fprintf(&s, " · state %s", bytesize(c.stateSize))
	}
	return s.String()
}

func (b *Builder) writeFailovers(w *bufio.Writer, l *layout) {
	type key struct {
		row int
		at  int64
	}
	seen := map[key]bool{}
	rad := math.Min(3.5, l.rowH/3)
	for _, fo := range b.failovers {
		k := key{l.rowOf(fo.region), fo.at}
		if seen[k] {
			continue
		}
		seen[k] = true
		fmt.Fprintf(w, `<circle class="fo" cx="%s" cy="%s" r="%s" data-d="%s"/>`+"\n", f(l.x(fo.at)),
			f(l.rowY(k.row)+l.rowH/2), f(rad),
			attr(fmt.Sprintf("+%s · %s fails over: %s failed", rel(fo.at-l.t0), fsm.RegionName(fo.region), b.topo.TaskName(fo.task))))
	}
}

func (b *Builder) writeSummary(w *bufio.Writer, l *layout) {
	row := func(k, v string) { fmt.Fprintf(w, "<tr><th>%s</th><td>%s</td></tr>\n", k, html.EscapeString(v)) }
	w.WriteString("<table class=\"sum\">\n")
	job := b.job.String()
	if b.failReason != "" {
		job += " (" + string(b.failReason) + ")"
	}
	row("job", job)
	row("regions", fmt.Sprintf("%d (%d per row)", l.regions, l.per))
	row("time", "+"+rel(l.t1-l.t0))
	row("triggered", strconv.Itoa(b.triggered))
	row("completed global", strconv.Itoa(b.completedGlobal))
	row("completed regional", strconv.Itoa(b.completedRegional))
	if b.savepoints > 0 {
		row("savepoints", strconv.Itoa(b.savepoints))
	}
	row("forced global", strconv.Itoa(b.forced))
	row("aborted", counts(b.aborted))
	row("trigger failures", counts(b.triggerFailed))
	row("max reference age", strconv.FormatInt(b.maxRefAge, 10))
	cfg := "interval " + ms(b.interval) + ", timeout " + ms(b.timeout)
	if b.overrides {
		cfg += " (FLIP-571 overrides)"
	}
	row("configuration", cfg)
	if len(b.warnings) > 0 {
		row("warnings", counts(b.warnings))
	}
	v := "none"
	if len(b.violations) > 0 {
		v = strings.Join(b.violations, "; ")
	}
	row("invariant violations", v)
	w.WriteString("</table>\n")
}

func counts[K ~string](m map[K]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	total := 0
	for k, n := range m {
		keys = append(keys, string(k))
		total += n
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + " " + strconv.Itoa(m[K(k)])
	}
	return strconv.Itoa(total) + ": " + strings.Join(keys, ", ")
}

// attr escapes a data attribute's value.
func attr(s string) string { return html.EscapeString(s) }

// rel renders a time since the start.
func rel(d int64) string { return formatMs(d) }

func formatMs(d int64) string {
	switch {
	case d < 1000:
		return strconv.FormatInt(d, 10) + " ms"
	case d < 60_000:
		return strconv.FormatFloat(float64(d)/1000, 'f', -1, 64) + " s"
	case d < 3_600_000:
		return strconv.FormatFloat(float64(d)/60_000, 'f', 1, 64) + " min"
	}
	return strconv.FormatFloat(float64(d)/3_600_000, 'f', 1, 64) + " h"
}

func bytesize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, u := float64(n), 0
	for v >= unit && u < 4 {
		v /= unit
		u++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + [...]string{"B", "KiB", "MiB", "GiB", "TiB"}[u]
}

const pageHead = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:16px;color:#1d2430;background:#fff}
h1{font-size:17px;margin:0 0 10px}
.wrap{display:flex;gap:18px;align-items:flex-start}
.plot{overflow-x:auto;border:1px solid #d9dee7;border-radius:4px;max-width:calc(100vw - 420px)}
aside{width:360px;flex:none}
.row.r0{fill:#f6f8fb}.row.r1{fill:#eef1f6}
.lbl{font-size:10px;text-anchor:end;fill:#566070}
.axis{stroke:#8a93a3}.tick{stroke:#e1e5ec}.tlbl{font-size:10px;text-anchor:middle;fill:#566070}
.ck.completed.global{fill:#2e9e5b}.ck.completed.regional{fill:#1c8fa8}
.ck.aborted{fill:#d8434e}.ck.pending{fill:#b9c0cc}.ck.savepoint{fill:#6b5bd2}
.ck.forced{stroke:#7a2fb0;stroke-width:1.5}
.ref{fill:#f2a33a;stroke:#b86e0a;stroke-width:.6}
.fo{fill:#222;stroke:#fff;stroke-width:.6}
.vl line{stroke-width:1.4}.vl rect{stroke:none}
.vl.config line{stroke:#2f6fd6;stroke-dasharray:4 3}.vl.config rect{fill:#2f6fd6}
.vl.recover line{stroke:#222}.vl.recover rect{fill:#222}
.vl.failjob line{stroke:#b0121f}.vl.failjob rect{fill:#b0121f}
.vl.finish line{stroke:#566070}.vl.finish rect{fill:#566070}
[data-d]:hover{opacity:.75;cursor:pointer}
.details{min-height:54px;padding:8px 10px;border:1px solid #d9dee7;border-radius:4px;background:#fbfcfe;margin-bottom:12px;white-space:pre-wrap}
table.sum{border-collapse:collapse;width:100%%;margin-bottom:12px}
.sum th{text-align:left;font-weight:600;padding:3px 8px 3px 0;color:#3a4352;vertical-align:top;width:42%%}
.sum td{padding:3px 0}
.legend{list-style:none;padding:0;margin:0}.legend li{margin:3px 0}
.sw{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-2px;border-radius:2px}
</style></head><body>
`

const legend = `<ul class="legend">
<li><span class="sw" style="background:#2e9e5b"></span>completed, global</li>
<li><span class="sw" style="background:#1c8fa8"></span>completed, regional</li>
<li><span class="sw" style="background:#f2a33a"></span>region falls back (hover: referenced checkpoint)</li>
<li><span class="sw" style="background:#d8434e"></span>aborted (hover: reason)</li>
<li><span class="sw" style="background:#fff;border:2px solid #7a2fb0"></span>forced global (R25)</li>
<li><span class="sw" style="background:#6b5bd2"></span>savepoint</li>
<li><span class="sw" style="background:#b9c0cc"></span>in progress</li>
<li><span class="sw" style="background:#222;border-radius:6px"></span>region failover</li>
<li><span class="sw" style="background:#2f6fd6"></span>configuration change (FLIP-571)</li>
<li><span class="sw" style="background:#222"></span>coordinator recovery</li>
</ul>
`

const pageScript = `<script>
(function () {
  var details = document.getElementById("details");
  document.getElementById("tl").addEventListener("mouseover", function (e) {
    var el = e.target.closest("[data-d]");
    if (el) { details.textContent = el.getAttribute("data-d"); }
  });
})();
</script>
`
