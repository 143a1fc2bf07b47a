// Package insight is the operator's view of an example run: the headline
// figures an operator asks for, in plain words (how many coupons were
// used, how many points expired unused, what the points members hold are
// worth), and an HTML page with charts — the level mix month by month, the
// points liability curve, the coupon funnel of each template and a what-if
// comparison of one changed rule.
//
// Every figure comes from the library's reports: the monthly report
// (report.Build) and, for the comparison, the what-if report (whatif.Run).
// This package only arranges and draws them; it computes no figure of its
// own beyond sums over the months and ratios of those sums, so the page
// shows what the program's ledger holds. The charts are drawn by
// gonum.org/v1/plot as SVG inlined in the page, so the page needs no
// network to display.
//
// The headlines and the what-if say when their figures were taken: at
// the end of the report's last month, or, when Page.AsOf is set, as of
// that time. The examples set it to their run's end ("as of 2025-04-01
// 00:00" for January to March 2025), whose report ends with the day
// after the run; they said "at the end of 2025-04".
package insight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/whatif"
	"github.com/shopspring/decimal"
)

// ErrNoFigures is returned by FromReport for a report without a month, or
// whose months lack the levels section the page draws.
var ErrNoFigures = errors.New("insight: the report has no monthly figures to show")

// Page is what the operator's page and the headlines show.
type Page struct {
	// Title names the program ("Retail chain"); Span says what ran.
	Title, Span string
	// Currency is the money unit the amounts are in ("yuan").
	Currency string
	// Months are the report's months ("2006-01"), in order.
	Months []string
	// Ladder is the ladder's levels, lowest first, and LevelMix the
	// members at each level at the end of each month: LevelMix[m][l] is
	// month m's members at Ladder[l].
	Ladder   []string
	LevelMix [][]int64
	// Points is a series per point program.
	Points []Points
	// Coupons is the funnel of each template over the whole report, in
	// the report's order.
	Coupons []Funnel
	// WhatIf is the comparison of one changed rule, when the page has one.
	WhatIf *WhatIf
	// AsOf, when set, is when the figures were taken ("2025-04-01
	// 00:00"), and the page says "as of" it rather than "at the end of"
	// the last month: an example's run ends at midnight after its last
	// day, and its report takes that day in (for what falls due then) as
	// a last month of one day, so "at the end of 2025-04" would name a
	// month the run never reached.
	AsOf string
}

// end says when the figures of month, the page's or the what-if's last,
// were taken: "as of" AsOf, or "at the end of" month.
func (pg *Page) end(month string) string {
	if pg.AsOf != "" {
		return "as of " + pg.AsOf
	}
	return "at the end of " + month
}

// Points is one point program's figures: per month, what members held at
// the month's end and its worth in money; over the report, what was
// issued, redeemed and expired.
type Points struct {
	Program string
	// Rate is the money a point is worth; RateAssumed says it is the
	// example's own valuation (the program sets no points + cash rate).
	Rate        decimal.Decimal
	HasRate     bool
	RateAssumed bool
	// Outstanding and Liability are per month, as Page.Months.
	Outstanding, Liability []decimal.Decimal
	// Issued, Redeemed, Expired and Other sum the months (Other: the
	// points exchanged, voided, reversed or adjusted, net).
	Issued, Redeemed, Expired, Other decimal.Decimal
}

// Funnel is one coupon template's figures over the report: the coupons
// issued, and of them the ones used, expired unused and revoked, with the
// amount the used ones took off.
type Funnel struct {
	Template                       string
	Issued, Used, Expired, Revoked int64
	AmountOff                      decimal.Decimal
}

// FromReport arranges a monthly report (report.Build with Grain Month).
// assumed names the point programs whose rate the caller gave in the
// report's query (Query.Rates) rather than the definition. Errors wrap
// ErrNoFigures.
func FromReport(title, span, currency string, r *report.Report, assumed map[string]bool) (*Page, error) {
	if r == nil || r.Grain != report.Month || len(r.Periods) == 0 {
		return nil, fmt.Errorf("%w: want a monthly report with at least one month", ErrNoFigures)
	}
	pg := &Page{Title: title, Span: span, Currency: currency}
	funnels := map[string]int{} // index in pg.Coupons
	progs := map[string]int{}   // index in pg.Points
	for i, pd := range r.Periods {
		if pd.Levels == nil {
			return nil, fmt.Errorf("%w: month %s has no levels section", ErrNoFigures, pd.Name)
		}
		pg.Months = append(pg.Months, pd.Name)
		mix := make([]int64, 0, len(pd.Levels.Members))
		for j, lc := range pd.Levels.Members {
			if i == 0 {
				pg.Ladder = append(pg.Ladder, lc.Name)
			} else if j >= len(pg.Ladder) || pg.Ladder[j] != lc.Name {
				return nil, fmt.Errorf("%w: month %s lists the levels in another order", ErrNoFigures, pd.Name)
			}
			mix = append(mix, lc.Members)
		}
		if len(mix) != len(pg.Ladder) {
			return nil, fmt.Errorf("%w: month %s lists %d levels, not %d", ErrNoFigures, pd.Name, len(mix), len(pg.Ladder))
		}
		pg.LevelMix = append(pg.LevelMix, mix)
		for _, pt := range pd.Points {
			k, ok := progs[pt.Program]
			if !ok {
				if i != 0 {
					return nil, fmt.Errorf("%w: point program %s starts in month %s", ErrNoFigures, pt.Program, pd.Name)
				}
				k = len(pg.Points)
				progs[pt.Program] = k
				pg.Points = append(pg.Points, Points{Program: pt.Program, Rate: pt.Rate, HasRate: pt.HasRate,
					RateAssumed: assumed[pt.Program], Issued: decimal.Zero, Redeemed: decimal.Zero, Expired: decimal.Zero, Other: decimal.Zero})
			}
			s := &pg.Points[k]
			s.Outstanding = append(s.Outstanding, pt.Outstanding)
			s.Liability = append(s.Liability, pt.Liability)
			s.Issued = s.Issued.Add(pt.Issued)
			s.Redeemed = s.Redeemed.Add(pt.Redeemed)
			s.Expired = s.Expired.Add(pt.Expired)
			s.Other = s.Other.Add(pt.Other)
		}
		for _, c := range pd.Coupons {
			k, ok := funnels[c.Template]
			if !ok {
				k = len(pg.Coupons)
				funnels[c.Template] = k
				pg.Coupons = append(pg.Coupons, Funnel{Template: c.Template, AmountOff: decimal.Zero})
			}
			f := &pg.Coupons[k]
			f.Issued += c.Issued
			f.Used += c.Used
			f.Expired += c.Expired
			f.Revoked += c.Revoked
			f.AmountOff = f.AmountOff.Add(c.AmountOff)
		}
	}
	for _, s := range pg.Points {
		if len(s.Outstanding) != len(pg.Months) {
			return nil, fmt.Errorf("%w: point program %s lacks months", ErrNoFigures, s.Program)
		}
	}
	return pg, nil
}

// Headline is one figure in plain words.
type Headline struct {
	Label, Value string
	// Note says how the figure is worked out, for the page's reader.
	Note string
}

// Headlines returns the figures an operator asks first, in plain words:
// the members per level at the end, for each point program the points
// issued, spent and expired, the breakage (the share of issued points
// that expired unused) and what the points still held are worth, and for
// the coupons the use rate (used ÷ issued), the ones that expired unused
// and the discount they gave.
func (pg *Page) Headlines() []Headline {
	var h []Headline
	last := len(pg.Months) - 1
	var on int64
	var mix []string
	for l, name := range pg.Ladder {
		on += pg.LevelMix[last][l]
		mix = append(mix, fmt.Sprintf("%s %s", name, count(pg.LevelMix[last][l])))
	}
	h = append(h, Headline{"Members holding a level at the end", count(on), strings.Join(mix, ", ")})
	for _, s := range pg.Points {
		name := "Points"
		if len(pg.Points) > 1 {
			name = fmt.Sprintf("Points (%s)", s.Program)
		}
		h = append(h,
			Headline{name + " given to members", amount(s.Issued), ""},
			Headline{name + " spent by members", amount(s.Redeemed), ""},
			Headline{name + " that expired unused", amount(s.Expired), ""},
			Headline{name + " breakage", percent(s.Expired, s.Issued), "points that expired unused, as a share of the points given"},
		)
		if !s.Other.IsZero() {
			h = append(h, Headline{name + " moved otherwise", amount(s.Other), "net of points exchanged, voided, reversed or corrected"})
		}
		h = append(h, Headline{name + " still held by members", amount(s.Outstanding[last]), pg.end(pg.Months[last])})
		if s.HasRate {
			note := fmt.Sprintf("the points still held, at %s %s a point", s.Rate, pg.Currency)
			if s.RateAssumed {
				note += "; the example's valuation: the program sets no points + cash rate"
			}
			h = append(h, Headline{"What members' " + strings.ToLower(name) + " are worth (liability)",
				money(s.Liability[last]) + " " + pg.Currency, note})
		}
	}
	var t Funnel
	t.AmountOff = decimal.Zero
	for _, f := range pg.Coupons {
		t.Issued += f.Issued
		t.Used += f.Used
		t.Expired += f.Expired
		t.AmountOff = t.AmountOff.Add(f.AmountOff)
	}
	h = append(h,
		Headline{"Coupons given out", count(t.Issued), ""},
		Headline{"Coupon use rate", percent(decimal.NewFromInt(t.Used), decimal.NewFromInt(t.Issued)),
			fmt.Sprintf("%s of the %s coupons given out were used", count(t.Used), count(t.Issued))},
		Headline{"Coupons that expired unused", count(t.Expired), ""},
		Headline{"Discount given by coupons", money(t.AmountOff) + " " + pg.Currency, ""},
	)
	if w := pg.WhatIf; w != nil {
		note := fmt.Sprintf("if %s: %s, %s", w.Change, pg.end(w.Months[len(w.Months)-1]), w.summary(pg.Ladder))
		if w.Refused > 0 {
			note += fmt.Sprintf("; %s recorded inputs would have been refused", count(w.Refused))
		}
		h = append(h, Headline{"What-if", fmt.Sprintf("%s members would hold another level", count(w.Differing)), note})
	}
	return h
}

// percent returns part ÷ whole as a percentage with one decimal, or
// "none given" when whole is zero.
func percent(part, whole decimal.Decimal) string {
	if whole.IsZero() {
		return "none given"
	}
	return part.Mul(decimal.NewFromInt(100)).DivRound(whole, 1).StringFixed(1) + "%"
}

// money returns an amount with two decimals and thousands separated.
func money(d decimal.Decimal) string { return group(d.StringFixed(2)) }

// amount returns a number of points, thousands separated, with the
// decimals the ledger keeps (up to two shown).
func amount(d decimal.Decimal) string {
	s := d.Round(2).String()
	return group(s)
}

// count returns an integer, thousands separated.
func count(n int64) string { return group(fmt.Sprint(n)) }

// group puts a comma between each group of three digits of a number's
// integer part: "-12345.5" → "-12,345.5".
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, dot := strings.Cut(s, ".")
	var b []byte
	for i := range len(whole) {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, whole[i])
	}
	out := sign + string(b)
	if dot {
		out += "." + frac
	}
	return out
}

// WriteText writes the headlines as an aligned list, the "At a glance"
// section of an example's printed report.
func (pg *Page) WriteText(w io.Writer) {
	hs := pg.Headlines()
	width := 0
	for _, h := range hs {
		width = max(width, len([]rune(h.Label)))
	}
	fmt.Fprintf(w, "\nAt a glance\n")
	for _, h := range hs {
		line := fmt.Sprintf("  %-*s  %s", width, h.Label, h.Value)
		if h.Note != "" {
			line += "  (" + h.Note + ")"
		}
		fmt.Fprintln(w, line)
	}
}

// Monthly builds p's monthly report over the days from..to (report.Build)
// and arranges it as a page. rates values the point programs whose
// definition sets no points + cash rate (report.Query.Rates); the page
// says those valuations are assumed.
func Monthly(ctx context.Context, p *membership.Program, title, span, currency string, from, to rule.Date,
	rates map[string]decimal.Decimal) (*Page, error) {
	r, err := report.Build(ctx, p, report.Query{From: from, To: to, Grain: report.Month, Rates: rates})
	if err != nil {
		return nil, err
	}
	assumed := map[string]bool{}
	for name := range rates {
		assumed[name] = true
	}
	return FromReport(title, span, currency, r, assumed)
}

// WriteFile writes the page's HTML to path.
func (pg *Page) WriteFile(path string) error {
	var b bytes.Buffer
	if err := pg.WriteHTML(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// CompareLevels runs a what-if of changed against the definition source
// ran (whatif.Run over source's whole journal, in memory, never writing
// source) and sets pg.WhatIf to the members per ladder level, month by
// month, on both sides. change says in plain words what changed; progress
// is whatif.Options.Progress.
func (pg *Page) CompareLevels(ctx context.Context, source store.Store, actual, changed membership.Definition,
	change string, progress func(done, total uint64)) (*whatif.Report, error) {
	r, err := whatif.Run(ctx, source, actual, changed, whatif.Options{Progress: progress})
	if err != nil {
		return nil, err
	}
	if len(r.Months) == 0 {
		return nil, fmt.Errorf("%w: the what-if replayed no month", ErrNoFigures)
	}
	w := &WhatIf{Change: change, Differing: int64(r.Differing()), Refused: int64(len(r.Refused))}
	for _, m := range r.Months {
		w.Months = append(w.Months, m.Start.Format("2006-01"))
		a, c := make([]int64, len(pg.Ladder)), make([]int64, len(pg.Ladder))
		for l, name := range pg.Ladder {
			a[l], c[l] = m.Actual.Levels[name], m.Changed.Levels[name]
		}
		w.Actual, w.Changed = append(w.Actual, a), append(w.Changed, c)
	}
	pg.WhatIf = w
	return r, nil
}

// ErrNoLevel is wrapped by WithThreshold's error for a level the ladder
// does not have.
var ErrNoLevel = errors.New("insight: no such ladder level")

// WithThreshold returns a copy of def whose ladder level name is reached
// with growth at least to (its retention threshold lowered to match when
// it was above), and says the change in plain words. def is left as it
// was: the ladder is copied.
func WithThreshold(def membership.Definition, name string, to decimal.Decimal) (membership.Definition, string, error) {
	if def.Levels == nil || def.Levels.Index(name) < 0 {
		return def, "", fmt.Errorf("%w: %q", ErrNoLevel, name)
	}
	lv := *def.Levels
	lv.Ladder = append(lv.Ladder[:0:0], def.Levels.Ladder...)
	l := &lv.Ladder[lv.Index(name)]
	change := fmt.Sprintf("%s from %s of growth instead of %s", name, amount(to), amount(l.Upgrade))
	l.Upgrade = to
	if l.Retention.GreaterThan(to) {
		change += fmt.Sprintf(" (kept with %s instead of %s)", amount(to), amount(l.Retention))
		l.Retention = to
	}
	def.Levels = &lv
	return def, change, nil
}
