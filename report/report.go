// Package report builds a program's figures over time, per day, week
// (from Monday), month or year, from the totals the ledger and the domains keep as they go: the
// members at each level and their moves, the points issued, redeemed,
// expired and outstanding with the liability in money, the coupons of each
// template, the stored-value float and the completions of each task. As Go
// values ([Report]) and as CSV ([Report.WriteCSV]).
//
// # Where the figures come from
//
// It reads through the Program's calls, never the store: points and
// stored value from the ledger's daily totals per kind
// (membership.Program.Totals); levels from the level domain's daily moves
// and counts (level.Handle.Days); coupons from their daily statistics
// (coupon.Handle.Stats); tasks from their daily completions
// (task.Handle.Daily). Each of these keeps a counter per day, not per
// member, so a report's cost follows the period asked and not the number
// of members: a call per period and section, each reading the counters of
// its days. Two figures reach beyond the period: the points and the
// stored value outstanding at its start sum the daily totals of every day
// before it (one counter per day and kind), and the members at each level
// at its end are today's counts less the moves after it.
//
// The levels are the ladder's; paid plans are not in the report (today's
// holders are in level.Handle.Counts). The coupons and tasks are a row
// per template and task of the definition, then (by name) one per
// template or task a later version left out that has figures in the
// report's days: a report of the days before the version counts them as
// one built before it did, rather than leaving them out. A version that
// leaves out every task (or template) leaves the section out.
//
// Each section reads its own snapshot of the store, so a report built
// while events arrive may see an event in one section and not in another.
//
// # Liability
//
// The liability of a point program is its outstanding points (available,
// pending and frozen: every point held in a member account) times the money
// one point is worth: the program's points + cash rate
// (points.Payment.Rate) when its definition sets one, else the rate the
// query gives (Query.Rates). A program with neither has no liability
// figure (Points.HasRate is false, and the CSV leaves it out).
//
// The liability is that product exactly, not rounded: 333 points at
// 0.013 are 4.329. Rounded per member or per period, the liabilities of
// a report would no longer add up to the rate times the points; a reader
// shows it at its money's scale (points.Payment.MoneyPlaces: 2 places
// unless the definition sets MoneyScale, 0 for whole units such as yen,
// where 1069.95 shows as 1070), rounding once, when it displays the
// figure. Every other money figure is an amount the program took, so it
// is at the scale already; the CSV writes it as decimal.Decimal.String
// does, a whole amount as "700", never "700.00".
//
// # Errors
//
// A query Build cannot run is refused with an error wrapping
// [ErrInvalidQuery]; a nil program (Build) or writer ([Report.WriteCSV])
// with one wrapping [ErrInvalidArgument] that names it. Both are
// event.ErrInvalidArgument, and neither reads the store or writes a byte.
package report

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// ErrInvalidArgument is wrapped by the error of Build for a nil program
// and of WriteCSV for a nil writer, and by ErrInvalidQuery. It is
// event.ErrInvalidArgument, the sentinel every package of the module
// shares.
var ErrInvalidArgument = event.ErrInvalidArgument

// ErrInvalidQuery is wrapped by Build's error for a query it cannot run (a
// period that ends before it starts or lasts more than level.MaxDays, an
// unknown grain, a negative rate or one for an unknown point program).
// It wraps event.ErrInvalidArgument, as every malformed request does.
var ErrInvalidQuery = fmt.Errorf("report: invalid query: %w", ErrInvalidArgument)

// Grain is the length of a report's periods.
type Grain string

// The grains. A week starts on Monday (as rule.Week does); a month and a
// year are calendar ones. All are days in the program's zone.
const (
	Day   Grain = "day"
	Week  Grain = "week"
	Month Grain = "month"
	Year  Grain = "year"
)

// Query selects a report.
type Query struct {
	// From and To are the first and last days reported (inclusive, in the
	// program's zone).
	From, To rule.Date
	// Grain is the length of the periods: a row per day, per week from
	// Monday to Sunday, per calendar month or per calendar year (the
	// first and last weeks, months or years cut to From and To).
	Grain Grain
	// Rates is the money one point is worth, per point program, for the
	// programs whose definition sets no points + cash rate.
	Rates map[string]decimal.Decimal
}

// Report is a program's figures over a range of days, one Period per day,
// week, month or year.
type Report struct {
	Grain   Grain    `json:"grain"`
	Periods []Period `json:"periods"`
}

// Period is the figures of one day, week, month or year. A section whose
// domain the program does not define is nil (Levels, Value) or empty.
// Coupons and Tasks list the definition's templates and tasks, then those
// a later version left out that had figures in the report's days, by
// name.
type Period struct {
	// Name is the day ("2006-01-02"), the ISO week of its Monday
	// ("2025-W01", the week from Monday 30 December 2024), the month
	// ("2006-01") or the year ("2006").
	Name     string    `json:"name"`
	From, To rule.Date `json:"-"`
	Levels   *Levels   `json:"levels,omitempty"`
	Points   []Points  `json:"points,omitempty"`
	Coupons  []Coupons `json:"coupons,omitempty"`
	Value    *Value    `json:"value,omitempty"`
	Tasks    []Tasks   `json:"tasks,omitempty"`
}

// Levels is the ladder's figures of a period.
type Levels struct {
	// Members is the number of members at each ladder level (lowest
	// first) at the period's end.
	Members []level.Count `json:"members"`
	// Joins, Upgrades and Downgrades count the moves of the period (see
	// level.Move).
	Joins      int64 `json:"joins"`
	Upgrades   int64 `json:"upgrades"`
	Downgrades int64 `json:"downgrades"`
}

// Points is one point program's figures of a period. Opening + Issued −
// Redeemed − Expired + Other = Outstanding, the ledger's reconciliation.
type Points struct {
	Program string `json:"program"`
	// Opening and Outstanding are the points held in member accounts at
	// the period's start and end.
	Opening decimal.Decimal `json:"opening"`
	// Issued is what members earned (rules, gifts, task rewards: the
	// ledger's kind "earned"), net of corrections of that kind.
	Issued decimal.Decimal `json:"issued"`
	// Redeemed and Expired are what left member accounts that way, as
	// positive amounts.
	Redeemed decimal.Decimal `json:"redeemed"`
	Expired  decimal.Decimal `json:"expired"`
	// Other is the net of every other kind (reversals, adjustments,
	// exchanges, voided points, and the points of members migrated in:
	// Program.OpenMember, the ledger's kind "opening").
	Other       decimal.Decimal `json:"other"`
	Outstanding decimal.Decimal `json:"outstanding"`
	// Rate is the money one point is worth and Liability the outstanding
	// points in money, when HasRate (see the package documentation).
	Rate      decimal.Decimal `json:"rate,omitzero"`
	Liability decimal.Decimal `json:"liability,omitzero"`
	HasRate   bool            `json:"has_rate"`
}

// Coupons is one template's coupon figures of a period (see coupon.Stat).
type Coupons struct {
	Template string `json:"template"`
	coupon.Stat
}

// Value is the stored-value figures of a period: what members recharged,
// spent, were refunded and withdrew (recharged money paid back to them,
// value.Definition.Withdraw), and the float (every member's balance) at
// its start and end. Opening + Recharged − Spent + Refunded − Withdrawn +
// Other = Float, the ledger's reconciliation. Recharged is what was
// recharged, withdrawals apart: Recharged − Withdrawn is the period's
// net recharge.
type Value struct {
	Opening   decimal.Decimal `json:"opening"`
	Recharged decimal.Decimal `json:"recharged"`
	Spent     decimal.Decimal `json:"spent"`
	Refunded  decimal.Decimal `json:"refunded"`
	Withdrawn decimal.Decimal `json:"withdrawn"`
	// Other is the net of every other kind: the balances of members
	// migrated in (Program.OpenMember, the ledger's kind "opening").
	Other decimal.Decimal `json:"other"`
	Float decimal.Decimal `json:"float"`
}

// Tasks is one task's completions in a period.
type Tasks struct {
	Task        string `json:"task"`
	Completions int64  `json:"completions"`
}

// periods splits q's days by its grain.
func periods(q Query) []Period {
	var out []Period
	for d := q.From; d.Compare(q.To) <= 0; {
		p := Period{From: d, To: d, Name: d.String()}
		switch q.Grain {
		case Week:
			monday := d.AddDays(-(int(d.Weekday()) + 6) % 7)
			y, w := time.Date(monday.Year, monday.Month, monday.Day, 12, 0, 0, 0, time.UTC).ISOWeek()
			p.To, p.Name = monday.AddDays(6), fmt.Sprintf("%04d-W%02d", y, w)
		case Month:
			p.To, p.Name = rule.Date{Year: d.Year, Month: d.Month, Day: 1}.AddMonths(1).AddDays(-1), fmt.Sprintf("%04d-%02d", d.Year, int(d.Month))
		case Year:
			p.To, p.Name = rule.Date{Year: d.Year, Month: time.December, Day: 31}, fmt.Sprintf("%04d", d.Year)
		}
		if p.To.Compare(q.To) > 0 {
			p.To = q.To
		}
		out = append(out, p)
		d = p.To.AddDays(1)
	}
	return out
}

// maxPeriods bounds a report's rows: 100 years of days, as level.Days.
const maxPeriods = level.MaxDays

func check(q Query, def membership.Definition) error {
	var errs []error
	if !q.From.Valid() || !q.To.Valid() {
		errs = append(errs, fmt.Errorf("from %s, to %s: not dates", q.From, q.To))
	} else if q.To.Compare(q.From) < 0 {
		errs = append(errs, fmt.Errorf("to %s is before from %s", q.To, q.From))
	} else if q.From.AddDays(maxPeriods).Compare(q.To) <= 0 {
		errs = append(errs, fmt.Errorf("%s..%s: more than %d days", q.From, q.To, maxPeriods))
	}
	if !slices.Contains([]Grain{Day, Week, Month, Year}, q.Grain) {
		errs = append(errs, fmt.Errorf("grain %q: not %q, %q, %q or %q", q.Grain, Day, Week, Month, Year))
	}
	for _, name := range slices.Sorted(maps.Keys(q.Rates)) {
		if q.Rates[name].IsNegative() {
			errs = append(errs, fmt.Errorf("rates[%s]: %s is negative", name, q.Rates[name]))
		}
		if def.Points == nil || !slices.ContainsFunc(def.Points.Programs, func(p points.Program) bool { return p.Name == name }) {
			errs = append(errs, fmt.Errorf("rates[%s]: no such point program", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidQuery, err)
	}
	return nil
}

// Build reads p's figures for q. Errors wrap ErrInvalidQuery (and
// event.ErrInvalidArgument) for a malformed query, ErrInvalidArgument for
// a nil p, or are the store's.
func Build(ctx context.Context, p *membership.Program, q Query) (*Report, error) {
	if p == nil {
		return nil, fmt.Errorf("report: build: %w: p: nil program", ErrInvalidArgument)
	}
	full := p.Definition() // a copy, decoded once for the steps
	if err := check(q, full); err != nil {
		return nil, err
	}
	r := &Report{Grain: q.Grain, Periods: periods(q)}
	steps := []func() error{
		func() error { return addLevels(ctx, p, full, q, r) },
		func() error { return addPoints(ctx, p, full, q, r) },
		func() error { return addCoupons(ctx, p, full, r) },
		func() error { return addValue(ctx, p, full, q, r) },
		func() error { return addTasks(ctx, p, full, q, r) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("report %s..%s: %w", q.From, q.To, err)
		}
	}
	return r, nil
}

// index returns the period of r holding day d, or -1.
func (r *Report) index(d rule.Date) int {
	i, found := slices.BinarySearchFunc(r.Periods, d, func(p Period, d rule.Date) int {
		switch {
		case p.To.Compare(d) < 0:
			return -1
		case p.From.Compare(d) > 0:
			return 1
		}
		return 0
	})
	if !found {
		return -1
	}
	return i
}

func addLevels(ctx context.Context, p *membership.Program, full membership.Definition, q Query, r *Report) error {
	if full.Levels == nil || len(full.Levels.Ladder) == 0 {
		return nil
	}
	days, err := p.Levels().Days(ctx, q.From, q.To)
	if err != nil {
		return err
	}
	for _, d := range days {
		i := r.index(d.Day)
		if i < 0 {
			continue
		}
		lv := r.Periods[i].Levels
		if lv == nil {
			lv = &Levels{}
			r.Periods[i].Levels = lv
		}
		lv.Joins += d.Joins
		lv.Upgrades += d.Upgrades
		lv.Downgrades += d.Downgrades
		lv.Members = d.Members // the last day's end is the period's
	}
	return nil
}

// flows reads, for asset, the net amount per kind moved into member
// accounts before the report's first day (summed: the opening balance)
// and in each of its periods.
func flows(ctx context.Context, p *membership.Program, asset ledger.Asset, r *Report) (decimal.Decimal, []map[ledger.Kind]decimal.Decimal, error) {
	first := r.Periods[0].From
	before, err := p.Totals(ctx, asset, "", first.AddDays(-1).String())
	if err != nil {
		return decimal.Zero, nil, err
	}
	opening := decimal.Zero
	for _, k := range slices.Sorted(maps.Keys(before)) {
		opening = opening.Add(before[k])
	}
	per := make([]map[ledger.Kind]decimal.Decimal, len(r.Periods))
	for i, pd := range r.Periods {
		if per[i], err = p.Totals(ctx, asset, pd.From.String(), pd.To.String()); err != nil {
			return decimal.Zero, nil, err
		}
	}
	return opening, per, nil
}

func addPoints(ctx context.Context, p *membership.Program, full membership.Definition, q Query, r *Report) error {
	def := full.Points
	if def == nil {
		return nil
	}
	for _, prog := range def.Programs {
		rate, has := q.Rates[prog.Name]
		if prog.Payment != nil {
			rate, has = prog.Payment.Rate, true
		}
		bal, per, err := flows(ctx, p, ledger.Points(prog.Name), r)
		if err != nil {
			return err
		}
		for i, kinds := range per {
			pt := Points{Program: prog.Name, Opening: bal, Issued: decimal.Zero, Redeemed: decimal.Zero, Expired: decimal.Zero, Other: decimal.Zero}
			for _, k := range slices.Sorted(maps.Keys(kinds)) {
				amt := kinds[k]
				switch k {
				case points.KindEarned:
					pt.Issued = pt.Issued.Add(amt)
				case points.KindRedeemed:
					pt.Redeemed = pt.Redeemed.Sub(amt)
				case points.KindExpired:
					pt.Expired = pt.Expired.Sub(amt)
				default:
					pt.Other = pt.Other.Add(amt)
				}
				bal = bal.Add(amt)
			}
			pt.Outstanding = bal
			if has {
				pt.Rate, pt.Liability, pt.HasRate = rate, bal.Mul(rate), true
			}
			r.Periods[i].Points = append(r.Periods[i].Points, pt)
		}
	}
	return nil
}

func addCoupons(ctx context.Context, p *membership.Program, full membership.Definition, r *Report) error {
	def := full.Coupons
	if def == nil || len(def.Templates) == 0 {
		return nil
	}
	stats := make([]map[string]coupon.Stat, len(r.Periods))
	var names, retired []string
	for _, t := range def.Templates {
		names = append(names, t.Name)
	}
	for i, pd := range r.Periods {
		st, err := p.Coupons().Stats(ctx, coupon.StatsQuery{From: pd.From, To: pd.To})
		if err != nil {
			return err
		}
		stats[i] = st.ByTemplate
		for name := range st.ByTemplate {
			if !slices.Contains(names, name) && !slices.Contains(retired, name) {
				retired = append(retired, name)
			}
		}
	}
	// The definition's templates, then those a version left out that had
	// figures in the report's days (see the package documentation).
	slices.Sort(retired)
	names = append(names, retired...)
	for i := range r.Periods {
		for _, name := range names {
			s := stats[i][name]
			if s.AmountOff.IsZero() {
				s.AmountOff = decimal.Zero
			}
			r.Periods[i].Coupons = append(r.Periods[i].Coupons, Coupons{Template: name, Stat: s})
		}
	}
	return nil
}

func addValue(ctx context.Context, p *membership.Program, full membership.Definition, q Query, r *Report) error {
	if full.StoredValue == nil {
		return nil
	}
	bal, per, err := flows(ctx, p, ledger.Value, r)
	if err != nil {
		return err
	}
	for i, kinds := range per {
		v := &Value{Opening: bal, Recharged: decimal.Zero, Spent: decimal.Zero, Refunded: decimal.Zero, Withdrawn: decimal.Zero, Other: decimal.Zero}
		for _, k := range slices.Sorted(maps.Keys(kinds)) {
			amt := kinds[k]
			switch k {
			case value.KindRecharge:
				v.Recharged = v.Recharged.Add(amt)
			case value.KindSpend:
				v.Spent = v.Spent.Sub(amt)
			case value.KindRefund:
				v.Refunded = v.Refunded.Add(amt)
			case value.KindWithdraw:
				v.Withdrawn = v.Withdrawn.Sub(amt)
			default:
				v.Other = v.Other.Add(amt)
			}
			bal = bal.Add(amt)
		}
		v.Float = bal
		r.Periods[i].Value = v
	}
	return nil
}

func addTasks(ctx context.Context, p *membership.Program, full membership.Definition, q Query, r *Report) error {
	def := full.Tasks
	if def == nil || len(def.Tasks) == 0 {
		return nil
	}
	days, err := p.Tasks().Daily(ctx, q.From, q.To)
	if err != nil {
		return err
	}
	// The definition's tasks, then those a version left out that had
	// completions in the report's days: their completions stay counted.
	var names []string
	for _, t := range def.Tasks {
		names = append(names, t.Name)
	}
	var retired []string
	for _, d := range days {
		if !slices.Contains(names, d.Task) && !slices.Contains(retired, d.Task) {
			retired = append(retired, d.Task)
		}
	}
	slices.Sort(retired)
	names = append(names, retired...)
	for i := range r.Periods {
		for _, name := range names {
			r.Periods[i].Tasks = append(r.Periods[i].Tasks, Tasks{Task: name})
		}
	}
	for _, d := range days {
		i := r.index(d.Day)
		if i < 0 {
			continue
		}
		for j := range r.Periods[i].Tasks {
			if r.Periods[i].Tasks[j].Task == d.Task {
				r.Periods[i].Tasks[j].Completions += d.Completions
			}
		}
	}
	return nil
}
