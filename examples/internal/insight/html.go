package insight

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"strings"

	"github.com/shopspring/decimal"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WhatIf is the comparison of one changed rule: the members at each ladder
// level at the end of each month, as the program ran (Actual) and as it
// would have run under the change (Changed), from a what-if report.
type WhatIf struct {
	// Change says in plain words what was changed.
	Change string
	// Months are the compared months ("2006-01"); Actual[m][l] and
	// Changed[m][l] are month m's members at Page.Ladder[l].
	Months          []string
	Actual, Changed [][]int64
	// Differing is how many members hold another level at the end;
	// Refused how many inputs the changed program would have refused.
	Differing, Refused int64
}

// summary returns the last month's level counts that differ,
// "Gold 12 → 30, Silver 80 → 62", with the ladder's names.
func (w *WhatIf) summary(ladder []string) string {
	last := len(w.Months) - 1
	var parts []string
	for l := range w.Actual[last] {
		a, c := w.Actual[last][l], w.Changed[last][l]
		if a == c {
			continue
		}
		name := fmt.Sprint("level ", l+1)
		if l < len(ladder) {
			name = ladder[l]
		}
		parts = append(parts, fmt.Sprintf("%s %s → %s", name, count(a), count(c)))
	}
	if len(parts) == 0 {
		return "no level count changes"
	}
	return strings.Join(parts, ", ")
}

// WriteHTML writes the page: the headlines, then each chart with the
// figures it draws in a table beneath it. The charts are SVG inlined in
// the page, which loads nothing from elsewhere.
func (pg *Page) WriteHTML(w io.Writer) error {
	v := view{Page: pg, Headlines: pg.Headlines()}
	fonts := &fontDefs{}
	var err error
	if v.LevelChart, err = fonts.svg(pg.levelChart()); err != nil {
		return err
	}
	if v.PointsChart, err = fonts.svg(pg.pointsChart()); err != nil {
		return err
	}
	if v.CouponChart, err = fonts.svg(pg.couponChart()); err != nil {
		return err
	}
	if pg.WhatIf != nil {
		if v.WhatIfChart, err = fonts.svg(pg.whatIfChart()); err != nil {
			return err
		}
		v.WhatIfEnd = pg.end(pg.WhatIf.Months[len(pg.WhatIf.Months)-1])
	}
	v.Fonts = template.HTML(strings.Join(fonts.defs, "\n"))
	return page.Execute(w, v)
}

// view is what the template reads.
type view struct {
	*Page
	Headlines                                         []Headline
	LevelChart, PointsChart, CouponChart, WhatIfChart template.HTML
	// WhatIfEnd says when the what-if's figures were taken (Page.end).
	WhatIfEnd string
	// Fonts is the charts' font definitions, once each.
	Fonts template.HTML
}

// fontDefs keeps the fonts each chart embeds once in the page: a font
// declared in one inline SVG serves the whole page, and each is half a
// megabyte.
type fontDefs struct {
	seen map[string]bool
	defs []string
}

// svg renders p as SVG without its XML prologue, ready to inline, and
// moves its font definitions to f. The fonts are embedded: the plot lays
// its labels out with its own fonts' metrics, and a browser drawing them
// in another font would overlap them with the bars.
func (f *fontDefs) svg(p *plot.Plot, h vg.Length, err error) (template.HTML, error) {
	if err != nil {
		return "", err
	}
	c := vgsvg.NewWith(vgsvg.UseWH(chartW, h), vgsvg.EmbedFonts(true))
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("insight: render %q: %w", p.Title.Text, err)
	}
	s := b.String()
	i := strings.Index(s, "<svg")
	if i < 0 {
		return "", fmt.Errorf("insight: render %q: no <svg> element in the output", p.Title.Text)
	}
	s = s[i:]
	if a, z := strings.Index(s, "<defs>"), strings.Index(s, "</defs>"); a >= 0 && z > a {
		d := s[a : z+len("</defs>")]
		if f.seen == nil {
			f.seen = map[string]bool{}
		}
		if !f.seen[d] {
			f.seen[d] = true
			f.defs = append(f.defs, d)
		}
		s = s[:a] + s[z+len("</defs>"):]
	}
	// The SVG is the plotting library's output, drawn from figures only.
	return template.HTML(s), nil
}

const (
	chartW = 26 * vg.Centimeter
	chartH = 11 * vg.Centimeter
)

// wholeTicks are the default ticks labelled as whole numbers with
// thousands separated ("250", not "250.00"): the axes count members,
// coupons and yuan.
type wholeTicks struct{}

func (wholeTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = count(int64(math.Round(ts[i].Value)))
		}
	}
	return ts
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.X.Tick.Marker = wholeTicks{}
	p.Y.Tick.Marker = wholeTicks{}
	p.Add(plotter.NewGrid())
	return p
}

// levelChart stacks the members of each level, month by month.
func (pg *Page) levelChart() (*plot.Plot, vg.Length, error) {
	p := newPlot("Members per level, end of each month", "month", "members")
	width := chartW * 0.7 / vg.Length(len(pg.Months)+1)
	var below *plotter.BarChart
	for l, name := range pg.Ladder {
		vals := make(plotter.Values, len(pg.Months))
		for m := range pg.Months {
			vals[m] = float64(pg.LevelMix[m][l])
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, 0, fmt.Errorf("insight: level chart: %w", err)
		}
		b.Color = plotutil.Color(l)
		b.LineStyle.Width = 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(name, b)
	}
	// Room at the top for the legend.
	top := 0.0
	for _, mix := range pg.LevelMix {
		var sum int64
		for _, n := range mix {
			sum += n
		}
		top = max(top, float64(sum))
	}
	p.Y.Min, p.Y.Max = 0, max(top, 1)*1.3
	p.NominalX(shortMonths(pg.Months)...)
	return p, chartH, nil
}

// pointsChart draws each point program's liability in money month by
// month, or its outstanding points when it has no rate.
func (pg *Page) pointsChart() (*plot.Plot, vg.Length, error) {
	money := true
	for _, s := range pg.Points {
		money = money && s.HasRate
	}
	y := "points held by members"
	title := "Points held by members, end of each month"
	if money {
		y = "liability (" + pg.Currency + ")"
		title = "Points liability: what members' points are worth, end of each month"
	}
	p := newPlot(title, "month", y)
	for i, s := range pg.Points {
		xys := make(plotter.XYs, len(pg.Months))
		for m := range pg.Months {
			v := s.Outstanding[m]
			if money {
				v = s.Liability[m]
			}
			xys[m] = plotter.XY{X: float64(m), Y: v.InexactFloat64()}
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, 0, fmt.Errorf("insight: points chart: %w", err)
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(2)
		pts.Color = plotutil.Color(i)
		pts.Shape = plotutil.Shape(i)
		p.Add(line, pts)
		p.Legend.Add(s.Program, line, pts)
	}
	p.Y.Min = 0
	p.Y.Max *= 1.2 // room for the legend
	p.X.Min, p.X.Max = -0.5, float64(len(pg.Months))-0.5
	p.NominalX(shortMonths(pg.Months)...)
	return p, chartH, nil
}

// couponChart draws the funnel of each template: issued, used and expired
// unused as horizontal bars, the report's first template at the top.
func (pg *Page) couponChart() (*plot.Plot, vg.Length, error) {
	p := newPlot("Coupon funnel per template: issued → used / expired unused", "coupons", "")
	n := len(pg.Coupons)
	names := make([]string, n)
	series := []struct {
		name string
		of   func(Funnel) int64
	}{
		{"issued", func(f Funnel) int64 { return f.Issued }},
		{"used", func(f Funnel) int64 { return f.Used }},
		{"expired unused", func(f Funnel) int64 { return f.Expired }},
	}
	h := 3*vg.Centimeter + vg.Length(n)*1.4*vg.Centimeter
	bw := 0.35 * vg.Centimeter
	top := 0.0
	for i, s := range series {
		vals := make(plotter.Values, n)
		for t, f := range pg.Coupons {
			names[n-1-t] = f.Template
			vals[n-1-t] = float64(s.of(f))
			top = max(top, vals[n-1-t])
		}
		b, err := plotter.NewBarChart(vals, bw)
		if err != nil {
			return nil, 0, fmt.Errorf("insight: coupon chart: %w", err)
		}
		b.Horizontal = true
		b.Color = funnelColors[i]
		b.LineStyle.Width = 0
		b.Offset = vg.Length(1-i) * bw
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	// Room on the right for the legend, and around the end groups.
	p.X.Min, p.X.Max = 0, max(top, 1)*1.25
	p.Y.Min, p.Y.Max = -0.7, float64(n)-0.3
	p.Legend.Left = false
	p.NominalY(names...)
	return p, h, nil
}

var funnelColors = []color.Color{
	color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff},
	color.RGBA{R: 0x55, G: 0xa8, B: 0x68, A: 0xff},
	color.RGBA{R: 0xc4, G: 0x4e, B: 0x52, A: 0xff},
}

// whatIfChart draws, for each level, the members at the end of the last
// month as the program ran and under the change, side by side.
func (pg *Page) whatIfChart() (*plot.Plot, vg.Length, error) {
	w := pg.WhatIf
	last := len(w.Months) - 1
	p := newPlot("What-if: "+w.Change+" — members per level "+pg.end(w.Months[last]), "level", "members")
	bw := chartW * 0.25 / vg.Length(len(pg.Ladder))
	for i, side := range []struct {
		name string
		of   [][]int64
	}{{"as it ran", w.Actual}, {"with the change", w.Changed}} {
		vals := make(plotter.Values, len(pg.Ladder))
		for l := range pg.Ladder {
			vals[l] = float64(side.of[last][l])
		}
		b, err := plotter.NewBarChart(vals, bw)
		if err != nil {
			return nil, 0, fmt.Errorf("insight: what-if chart: %w", err)
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = 0
		b.Offset = vg.Length(2*i-1) * bw / 2
		p.Add(b)
		p.Legend.Add(side.name, b)
	}
	top := 0.0
	for l := range pg.Ladder {
		top = max(top, float64(w.Actual[last][l]), float64(w.Changed[last][l]))
	}
	p.Y.Min, p.Y.Max = 0, max(top, 1)*1.2
	p.Legend.Left = false
	p.NominalX(pg.Ladder...)
	return p, chartH, nil
}

// shortMonths labels months "Jan '25" so that eighteen of them fit.
func shortMonths(ms []string) []string {
	names := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	out := make([]string, len(ms))
	for i, m := range ms {
		var y, mo int
		if _, err := fmt.Sscanf(m, "%d-%d", &y, &mo); err != nil || mo < 1 || mo > 12 {
			out[i] = m
			continue
		}
		out[i] = fmt.Sprintf("%s '%02d", names[mo-1], y%100)
	}
	return out
}

var funcs = template.FuncMap{
	"count":  count,
	"money":  money,
	"points": amount,
	"raw":    func(d decimal.Decimal) string { return d.String() },
	"at":     func(rows [][]int64, m, l int) int64 { return rows[m][l] },
	"last":   func(n int) int { return n - 1 },
}

var page = template.Must(template.New("page").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}} — membership report</title>
<style>
body { font-family: sans-serif; margin: 24px auto; max-width: 1100px; color: #222; background: #fff; }
h1 { margin-bottom: 4px; } .span { color: #666; margin-top: 0; }
h2 { margin-top: 36px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #666; font-size: 13px; }
.headline td:nth-child(2) { font-weight: bold; font-size: 16px; }
.headline td:first-child { white-space: nowrap; }
svg { display: block; max-width: 100%; height: auto; }
details { margin-bottom: 12px; }
</style>
</head>
<body>
<svg width="0" height="0" style="position:absolute" aria-hidden="true">{{.Fonts}}</svg>
<h1>{{.Title}}</h1>
<p class="span">{{.Span}}</p>

<h2>At a glance</h2>
<table class="headline">
{{range .Headlines}}<tr><td>{{.Label}}</td><td class="n">{{.Value}}</td><td class="note">{{.Note}}</td></tr>
{{end}}</table>

<h2 id="levels">Level mix, month by month</h2>
{{.LevelChart}}
<details><summary>Figures</summary>
<table id="level-mix"><tr><th>month</th>{{range .Ladder}}<th class="n">{{.}}</th>{{end}}</tr>
{{range $m, $name := .Months}}<tr data-month="{{$name}}"><td>{{$name}}</td>{{range $l, $_ := $.Ladder}}<td class="n" data-level="{{$_}}">{{at $.LevelMix $m $l}}</td>{{end}}</tr>
{{end}}</table></details>

<h2 id="points">Points liability</h2>
{{.PointsChart}}
<details><summary>Figures</summary>
{{range .Points}}{{$p := .}}<table id="points-{{.Program}}"><tr><th>month</th><th class="n">{{.Program}} points held</th>{{if .HasRate}}<th class="n">worth ({{$.Currency}}, at {{.Rate}} a point)</th>{{end}}</tr>
{{range $m, $name := $.Months}}<tr data-month="{{$name}}" data-outstanding="{{raw (index $p.Outstanding $m)}}"{{if $p.HasRate}} data-liability="{{raw (index $p.Liability $m)}}"{{end}}><td>{{$name}}</td><td class="n">{{points (index $p.Outstanding $m)}}</td>{{if $p.HasRate}}<td class="n">{{money (index $p.Liability $m)}}</td>{{end}}</tr>
{{end}}</table>
{{end}}</details>

<h2 id="coupons">Coupon funnel per template</h2>
{{.CouponChart}}
<details><summary>Figures</summary>
<table id="coupon-funnel"><tr><th>template</th><th class="n">issued</th><th class="n">used</th><th class="n">expired unused</th><th class="n">revoked</th><th class="n">discount given ({{.Currency}})</th></tr>
{{range .Coupons}}<tr data-template="{{.Template}}" data-issued="{{.Issued}}" data-used="{{.Used}}" data-expired="{{.Expired}}" data-amount-off="{{raw .AmountOff}}"><td>{{.Template}}</td><td class="n">{{count .Issued}}</td><td class="n">{{count .Used}}</td><td class="n">{{count .Expired}}</td><td class="n">{{count .Revoked}}</td><td class="n">{{money .AmountOff}}</td></tr>
{{end}}</table></details>
{{with .WhatIf}}
<h2 id="whatif">What-if: {{.Change}}</h2>
<p>The program's recorded history replayed under the change, beside the same history replayed as it ran.
{{count .Differing}} members would hold another level {{$.WhatIfEnd}};
the changed program would have refused {{count .Refused}} of the recorded inputs.</p>
{{$.WhatIfChart}}
<details><summary>Figures</summary>
<table id="whatif-levels"><tr><th>month</th>{{range $.Ladder}}<th class="n">{{.}} as it ran</th><th class="n">{{.}} with the change</th>{{end}}</tr>
{{range $m, $name := .Months}}<tr data-month="{{$name}}"><td>{{$name}}</td>{{range $l, $lv := $.Ladder}}<td class="n" data-level="{{$lv}}" data-side="actual">{{at $.WhatIf.Actual $m $l}}</td><td class="n" data-level="{{$lv}}" data-side="changed">{{at $.WhatIf.Changed $m $l}}</td>{{end}}</tr>
{{end}}</table></details>
{{end}}
<p class="note">Figures from the program's monthly report (report.Build){{if .WhatIf}} and its what-if report (whatif.Run){{end}}; charts drawn with gonum.org/v1/plot.</p>
</body>
</html>
`))
