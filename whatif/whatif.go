// Package whatif answers "what if the program had been another": it
// replays a program's input journal (membership.WithJournal) under a
// changed definition, beside the same journal replayed under the
// definition it ran, both in memory, and reports the difference month by
// month — members per level, joins, upgrades and downgrades, points
// issued, redeemed and expired, points outstanding and their liability in
// money, coupons issued and used and the amount off per template, task
// completions — with the inputs the changed program would have refused
// and the members whose level would differ, in pages.
//
// # How it runs
//
// [Run] reads the source store only through its journal, its definition
// record and, to find the coupons the journal names, its coupons: it never
// writes to it, and a live program may go on writing it meanwhile (Run
// replays the journal as it was when it started). It opens
// two memory stores (store/memory): the actual side replays the journal
// under the definition the source ran (membership.Program.ReplayWith, as
// Replay does: an input that does not do what it did on the source stops
// the run with membership.ErrReplayDiverged), the changed side under the
// changed definition (ReplayOptions.Changed: inputs it refuses are
// counted and listed, and the run goes on). With a period (Options.From),
// the changed side replays the journal before From under the actual
// definition, and the changed one from there on. Both sides hold the
// whole history in memory until Run returns; the report keeps only the
// figures and the members that differ.
//
// The figures come from each side's change feed (membership.Program.Feed),
// counted in the month of each change's time in the program's zone (a
// month runs from the first instant of its first day, 01:00 where a
// daylight-saving change skips midnight, to 24:00 on its last): a
// side's feed is the record of everything its replay did, due work
// included, so the report needs no query of its own. The stocks (members
// per level, points outstanding) are those at the end of each month: each
// member's last level change before it, and the net of every points
// change before it.
//
// # What a what-if cannot know
//
// The journal holds what the host did under the actual program: the
// orders, the coupons and points it chose to use. The changed side makes
// the same calls: a redemption of points the changed program never
// granted, or the use of a coupon it never issued, is refused (listed in
// Report.Refused), and a coupon only the changed program issued is never
// used. A coupon the journal names is the same member's k-th coupon of
// the same template on the changed side (see ReplayOptions.Changed).
// Coupon codes and random amounts are the journal's random bytes as long
// as the changed side draws what the actual one drew, then bytes of a
// fixed seed, so the same what-if gives the same report.
package whatif

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

// ErrInvalidArgument is wrapped by Run for a nil source, a source whose
// program ran without the journal, or a period that ends before it starts.
var ErrInvalidArgument = event.ErrInvalidArgument

// Options says which part of the journal a what-if replays and reports.
type Options struct {
	// From, when not zero, is when the changed definition takes effect:
	// inputs before it are replayed under the actual definition on both
	// sides, and the report's months start with From's. Zero: the
	// changed definition applies to the whole journal. Like every time a
	// call takes, it is in the years 1900 to 2099 (event.CheckTime).
	From time.Time
	// Until, when not zero, ends the replay before the first input whose
	// time is at or after it; the report's last month is the one before
	// Until. Zero: the whole journal. In the years 1900 to 2099 too.
	Until time.Time
	// Progress, when not nil, is called as the sides replay the journal
	// (after each input, or each batch of events), with the inputs done
	// and the total (twice the journal's length: both sides replay it),
	// and once more at the end with done equal to total.
	Progress func(done, total uint64)
}

// Report is what a what-if found: the figures of both sides month by
// month, the inputs the changed side refused, and the members whose level
// differs at the end.
type Report struct {
	// Months are the calendar months of the period, in the program's
	// zone, in order.
	Months []Month
	// Inputs is how many inputs of the journal were replayed (all of
	// them, or those before Options.Until); Applied how many of them the
	// changed side applied: Inputs − Applied were refused.
	Inputs, Applied uint64
	// Refused lists the inputs the changed side refused ("inputs that
	// would fail"), in the journal's order.
	Refused []membership.ReplayRefusal
	// members lists the members whose level differs at the end, by ID.
	members []MemberDiff
}

// Month is one month's figures on both sides.
type Month struct {
	// Start is the month's first instant in the program's zone (the end
	// of the gap where daylight saving skips the 1st's midnight).
	Start           time.Time
	Actual, Changed Figures
	// Refused is how many inputs of the month the changed side refused.
	Refused int
}

// Figures are one side's figures for one month.
type Figures struct {
	// Levels is the number of members holding each ladder level at the
	// end of the month (levels no member holds are left out).
	Levels map[string]int64
	// Joins counts members who got their first level in the month;
	// Upgrades and Downgrades the level changes up and down the ladder
	// (a term kept is neither).
	Joins, Upgrades, Downgrades int64
	// Points are the figures of each point program.
	Points map[string]Points
	// Coupons are the figures of each template that issued or used a
	// coupon in the month.
	Coupons map[string]Coupons
	// Tasks is the number of completions of each task in the month.
	Tasks map[string]int64
}

// Points are one point program's figures for one month.
type Points struct {
	// Issued is what earning rules and rewards credited (pending points
	// included; not the points a member migrated in brought, which
	// count in Outstanding only); Redeemed what members spent; Expired
	// what expired.
	Issued, Redeemed, Expired decimal.Decimal
	// Outstanding is the points members held at the end of the month
	// (the net of every points change before it), and Liability their
	// worth in money at the program's points + cash rate (zero for a
	// program without one): the product exactly, not rounded, as in
	// package report.
	Outstanding, Liability decimal.Decimal
}

// Coupons are one template's figures for one month.
type Coupons struct {
	// Issued and Used count the coupons issued and used (by an order or a
	// redemption); AmountOff is what the used ones took off.
	Issued, Used int64
	AmountOff    decimal.Decimal
}

// MemberDiff is a member whose ladder level at the end differs between
// the two sides ("" where the member holds none).
type MemberDiff struct {
	Member, Actual, Changed string
}

// Differing returns how many members' levels differ at the end.
func (r *Report) Differing() int { return len(r.members) }

// Members returns up to limit members whose level differs at the end,
// by member ID, after the member after ("": from the first), and the ID
// to pass as after for the next page ("" after the last page). A limit of
// 0 means 100 and one above 1,000 means 1,000, as for the library's
// other paged queries; having no error to return, Members also reads a
// negative limit as 100 (the one exception to event.PageSize).
func (r *Report) Members(after string, limit int) (page []MemberDiff, next string) {
	limit, err := event.PageSize(limit, 100, 1000)
	if err != nil {
		limit = 100
	}
	i := sort.Search(len(r.members), func(i int) bool { return r.members[i].Member > after })
	j := min(i+limit, len(r.members)) // limit ≤ 1,000: i+limit cannot overflow
	page = append([]MemberDiff(nil), r.members[i:j]...)
	if j < len(r.members) {
		next = page[len(page)-1].Member
	}
	return page, next
}

// Run replays the journal of source under actual (the definition source
// ran) and under changed, each in a memory store, and reports the
// difference (see the package documentation). It never writes to source.
// Errors wrap ErrInvalidArgument (a nil source, a source that holds a
// history but no journal, Until not after From, a From or Until outside the
// years 1900 to 2099, each named), the
// definitions' validation errors, membership.ErrDefinitionConflict and
// membership.ErrReplayDiverged (the journal did not run under actual),
// or ctx's error.
func Run(ctx context.Context, source store.Store, actual, changed membership.Definition, o Options) (*Report, error) {
	fail := func(err error) (*Report, error) { return nil, fmt.Errorf("whatif: %w", err) }
	if source == nil {
		return fail(fmt.Errorf("%w: nil source", ErrInvalidArgument))
	}
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"from", o.From}, {"until", o.Until}} {
		if !t.at.IsZero() {
			if err := event.CheckTime(t.at); err != nil {
				return fail(fmt.Errorf("%w: %s: %w", ErrInvalidArgument, t.name, err))
			}
		}
	}
	if !o.From.IsZero() && !o.Until.IsZero() && !o.From.Before(o.Until) {
		return fail(fmt.Errorf("%w: until: %s is not after from %s", ErrInvalidArgument, o.Until, o.From))
	}
	n, err := engine.JournalLength(ctx, source)
	if err != nil {
		return fail(err)
	}
	prog := func(base uint64) membership.ReplayProgress {
		return func(done, _ uint64) {
			if o.Progress != nil {
				o.Progress(base+done, 2*n)
			}
		}
	}

	// The actual side.
	sa := memory.New()
	defer sa.Close()
	a, err := membership.Open(sa, actual)
	if err != nil {
		return fail(fmt.Errorf("actual: %w", err))
	}
	ra, err := a.ReplayWith(ctx, source, membership.ReplayOptions{Until: o.Until, Through: n, Progress: prog(0)})
	if err != nil {
		return fail(fmt.Errorf("actual: %w", err))
	}

	// The changed side: the actual definition up to From, then the changed.
	var after, applied uint64
	st := memory.New()
	defer st.Close()
	if !o.From.IsZero() {
		before, err := membership.Open(st, actual)
		if err != nil {
			return fail(fmt.Errorf("changed: %w", err))
		}
		r, err := before.ReplayWith(ctx, source, membership.ReplayOptions{Until: o.From, Through: n, Progress: prog(n)})
		if err != nil {
			return fail(fmt.Errorf("changed, before %s: %w", o.From, err))
		}
		after, applied = r.Last, r.Applied
		if actual.Version > 0 && changed.Version <= actual.Version {
			changed.Version = actual.Version + 1 // replaces the actual one in this store
		}
	}
	// Beyond the journal's random bytes, the changed side draws from a
	// fixed seed, so that a what-if is reproducible.
	seed := [32]byte{'w', 'h', 'a', 't', '-', 'i', 'f'}
	c, err := membership.Open(st, changed, membership.WithRand(rand.NewChaCha8(seed)))
	if err != nil {
		return fail(fmt.Errorf("changed: %w", err))
	}
	rc, err := c.ReplayWith(ctx, source, membership.ReplayOptions{After: after, Until: o.Until, Through: n, Changed: true, Progress: prog(n)})
	if err != nil {
		return fail(fmt.Errorf("changed: %w", err))
	}
	if o.Progress != nil {
		o.Progress(2*n, 2*n)
	}

	rep := &Report{Inputs: ra.Applied, Applied: applied + rc.Applied, Refused: rc.Refused}
	ha, err := read(ctx, a)
	if err != nil {
		return fail(fmt.Errorf("actual: %w", err))
	}
	hc, err := read(ctx, c)
	if err != nil {
		return fail(fmt.Errorf("changed: %w", err))
	}
	loc := a.Location()
	first, last := o.From, o.Until.Add(-time.Nanosecond)
	if o.From.IsZero() {
		first = minTime(ha.first, hc.first)
	}
	if o.Until.IsZero() {
		last = maxTime(ha.last, hc.last)
	}
	if first.IsZero() || last.Before(first) {
		return rep, nil // nothing happened in the period
	}
	for m := rule.Month.Start(first, loc); !m.After(last); m = rule.Month.End(m, loc) {
		rep.Months = append(rep.Months, Month{Start: m, Actual: ha.figures(m, actual, loc), Changed: hc.figures(m, changed, loc)})
	}
	for _, rf := range rep.Refused {
		if i := monthIndex(rep.Months, rf.At); i >= 0 {
			rep.Months[i].Refused++
		}
	}
	rep.members = differing(ha.level, hc.level)
	return rep, nil
}

// history is what one side's feed holds, kept by kind for the figures.
type history struct {
	first, last time.Time
	levels      map[string][]levelMove // by member, in feed order
	level       map[string]string      // each member's level at the end
	points      []pointsMove
	coupons     []couponMove
	tasks       []taskMove
}

type levelMove struct {
	at       time.Time
	from, to string
}

type pointsMove struct {
	at                      time.Time
	program                 string
	issued, redeemed, other decimal.Decimal // other: the rest of the net (expired counted apart)
	expired                 decimal.Decimal
}

type couponMove struct {
	at        time.Time
	template  string
	used      bool
	amountOff decimal.Decimal
}

type taskMove struct {
	at   time.Time
	task string
}

// read reads p's whole feed into a history.
func read(ctx context.Context, p *membership.Program) (*history, error) {
	h := &history{levels: map[string][]levelMove{}, level: map[string]string{}}
	var after uint64
	for {
		cs, err := p.Feed(ctx, after, 10000)
		if err != nil {
			return nil, err
		}
		if len(cs) == 0 {
			return h, nil
		}
		for _, c := range cs {
			if err := h.add(c); err != nil {
				return nil, fmt.Errorf("feed change %d (%s): %w", c.Seq, c.Kind, err)
			}
		}
		after = cs[len(cs)-1].Seq
	}
}

func (h *history) add(c change.Change) error {
	if h.first.IsZero() || c.Time.Before(h.first) {
		h.first = c.Time
	}
	if c.Time.After(h.last) {
		h.last = c.Time
	}
	switch c.Kind {
	case level.ChangeLevel:
		var v level.LevelChange
		if err := c.Decode(&v); err != nil {
			return err
		}
		h.levels[c.Member] = append(h.levels[c.Member], levelMove{at: c.Time, from: v.From, to: v.To})
		h.level[c.Member] = v.To
	case points.ChangeEarned, points.ChangePending, points.ChangeRedeemed, points.ChangeExpired, points.ChangeVoided,
		points.ChangeReversed, points.ChangeAdjusted, points.ChangeExchanged, points.ChangeOpened:
		var v points.Change
		if err := c.Decode(&v); err != nil {
			return err
		}
		m := pointsMove{at: c.Time, program: v.Program}
		switch c.Kind {
		case points.ChangeOpened:
			m.other = v.Amount // migrated in: held, not issued
		case points.ChangeEarned, points.ChangePending:
			if c.Reason != nil && c.Reason.Rule == migrate.Rule {
				m.other = v.Amount // a pending lot migrated in
			} else {
				m.issued = v.Amount
			}
		case points.ChangeRedeemed:
			m.redeemed = v.Amount
		case points.ChangeExpired:
			m.expired = v.Amount
		case points.ChangeVoided:
			m.other = v.Amount.Neg()
		case points.ChangeReversed, points.ChangeAdjusted:
			m.other = v.Amount // signed: a refund's take-back is negative
		case points.ChangeExchanged:
			m.other = v.Amount.Neg()
			h.points = append(h.points, pointsMove{at: c.Time, program: v.To, other: v.ToAmount})
		}
		h.points = append(h.points, m)
	case coupon.ChangeIssued, coupon.ChangeUsed:
		var v coupon.Coupon
		if err := c.Decode(&v); err != nil {
			return err
		}
		h.coupons = append(h.coupons, couponMove{at: c.Time, template: v.Template, used: c.Kind == coupon.ChangeUsed, amountOff: v.AmountOff})
	case task.ChangeCompleted:
		var v task.Completed
		if err := c.Decode(&v); err != nil {
			return err
		}
		h.tasks = append(h.tasks, taskMove{at: c.Time, task: v.Task})
	}
	return nil
}

// figures returns the side's figures for the month starting at start in
// loc, read under def (its ladder ranks the levels, its programs' rates
// value the points).
func (h *history) figures(start time.Time, def membership.Definition, loc *time.Location) Figures {
	end := rule.Month.End(start, loc)
	in := func(t time.Time) bool { return !t.Before(start) && t.Before(end) }
	f := Figures{Levels: map[string]int64{}, Points: map[string]Points{}, Coupons: map[string]Coupons{}, Tasks: map[string]int64{}}
	rank := func(name string) int { return -1 }
	if def.Levels != nil {
		rank = def.Levels.Index
	}
	for _, moves := range h.levels {
		held := ""
		for _, mv := range moves {
			if !mv.at.Before(end) {
				continue // a later change; one after it in the feed may still be older
			}
			held = mv.to
			if !in(mv.at) {
				continue
			}
			switch from, to := rank(mv.from), rank(mv.to); {
			case mv.from == "":
				f.Joins++
			case to > from:
				f.Upgrades++
			case to < from:
				f.Downgrades++
			}
		}
		if held != "" {
			f.Levels[held]++
		}
	}
	rates := map[string]decimal.Decimal{}
	if def.Points != nil {
		for _, p := range def.Points.Programs {
			if p.Payment != nil {
				rates[p.Name] = p.Payment.Rate
			}
		}
	}
	for _, mv := range h.points {
		if !mv.at.Before(end) {
			continue
		}
		p := f.Points[mv.program]
		p.Outstanding = p.Outstanding.Add(mv.issued).Sub(mv.redeemed).Sub(mv.expired).Add(mv.other)
		if in(mv.at) {
			p.Issued = p.Issued.Add(mv.issued)
			p.Redeemed = p.Redeemed.Add(mv.redeemed)
			p.Expired = p.Expired.Add(mv.expired)
		}
		f.Points[mv.program] = p
	}
	for name, p := range f.Points {
		p.Liability = p.Outstanding.Mul(rates[name])
		f.Points[name] = p
	}
	for _, mv := range h.coupons {
		if !in(mv.at) {
			continue
		}
		c := f.Coupons[mv.template]
		if mv.used {
			c.Used++
			c.AmountOff = c.AmountOff.Add(mv.amountOff)
		} else {
			c.Issued++
		}
		f.Coupons[mv.template] = c
	}
	for _, mv := range h.tasks {
		if in(mv.at) {
			f.Tasks[mv.task]++
		}
	}
	return f
}

// differing lists the members whose level differs between a and c, by
// ID.
func differing(a, c map[string]string) []MemberDiff {
	var out []MemberDiff
	for m, l := range a {
		if c[m] != l {
			out = append(out, MemberDiff{Member: m, Actual: l, Changed: c[m]})
		}
	}
	for m, l := range c {
		if _, ok := a[m]; !ok {
			out = append(out, MemberDiff{Member: m, Changed: l})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Member < out[j].Member })
	return out
}

// monthIndex returns the index of the month holding t, or -1.
func monthIndex(ms []Month, t time.Time) int {
	for i, m := range ms {
		if !t.Before(m.Start) && t.Before(rule.Month.End(m.Start, m.Start.Location())) {
			return i
		}
	}
	return -1
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
