package level

import (
	"errors"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Reach returns the index of the highest level whose upgrade threshold is
// at most growth (0, the entry level, for any growth; -1 for an empty
// ladder).
func (d Definition) Reach(growth decimal.Decimal) int {
	at := -1
	for i, l := range d.Ladder {
		if l.Upgrade.GreaterThan(growth) {
			break
		}
		at = i
	}
	return at
}

// Upgrade returns the levels crossed, lowest first, when a member at level
// cur has growth: every level above cur up to the highest one growth
// reaches. It is empty when growth reaches nothing above cur: an upgrade
// never lowers a level.
func (d Definition) Upgrade(cur int, growth decimal.Decimal) []int {
	var crossed []int
	for i := cur + 1; i <= d.Reach(growth); i++ {
		crossed = append(crossed, i)
	}
	return crossed
}

// TermEnd returns when a term of the level starting at start ends: the
// level's validity applied to start in loc, or the zero time for a
// permanent level.
func (l Level) TermEnd(start time.Time, loc *time.Location) time.Time {
	end, ok := l.Validity.Expiry(start, loc)
	if !ok {
		return time.Time{}
	}
	return end
}

// WindowStart returns the start of a retention window of months months
// ending at end: the same wall-clock instant months months earlier in loc
// (term ends are day starts, so this is 00:00 of the same day, or of the
// month's last day where that day does not exist).
func WindowStart(end time.Time, months int, loc *time.Location) time.Time {
	d := rule.DateOf(end, loc).AddMonths(-months)
	return d.Start(loc)
}

// FirstWindowDay returns the first day (in loc) that the retention window
// of a term end at or after at can read, whichever level ends its term
// there: the start of the longest window of the ladder (at least a
// month, as term ends read) ending at at's day. The growth of the days
// before it counts in no such window; without a ladder, no window reads
// any day, and it returns at's day.
func (d Definition) FirstWindowDay(at time.Time, loc *time.Location) rule.Date {
	months := 0
	for _, l := range d.Ladder {
		months = max(months, l.Window, 1)
	}
	return rule.DateOf(at, loc).AddMonths(-months)
}

// Retain decides a term end of level cur given the net growth g of the
// retention window: kept when g reaches the level's retention threshold,
// otherwise the level the downgrade mode gives. g may be negative (refunds
// in the window took more than it earned): it is then below a retention
// threshold of 0 too, so such a level is lost, and the matching mode gives
// the entry level. The entry level is always kept; a level meant never to
// be lost takes a permanent validity (no term end, so no Retain).
func (d Definition) Retain(cur int, g decimal.Decimal) (to int, kept bool) {
	if cur <= 0 || cur >= len(d.Ladder) {
		return max(cur, 0), true
	}
	l := d.Ladder[cur]
	if g.GreaterThanOrEqual(l.Retention) {
		return cur, true
	}
	switch l.Downgrade {
	case Lowest:
		return 0, false
	case Matching:
		return max(min(d.Reach(g), cur), 0), false
	}
	return cur - 1, false
}

// Frozen is a level frozen for a member after a downgrade from it.
type Frozen struct {
	Level string    `json:"level"`
	Since time.Time `json:"since"`
	// Deadline ends a fixed-duration freeze; zero for a long-term one.
	Deadline time.Time `json:"deadline,omitzero"`
	// Earned is the net growth earned since the downgrade: growth dated
	// before it (a late event) does not count, and a reversal dated from
	// it on takes off what it took of the member's growth, whatever the
	// date of the order it reverses. It is not floored at 0: refunds that
	// took more than was earned since leave it negative.
	Earned decimal.Decimal `json:"earned"`
	// Unfreeze and Needed are what Handle.Status and StatusAt add (the
	// member's record and the functions of this file leave them zero):
	// the level's unfreeze threshold in the definition in force, and the
	// growth still to earn to return to the level, Unfreeze − Earned and
	// never below 0 (more than Unfreeze after refunds took the count
	// below 0), to be earned before Deadline when there is one. Both are
	// zero when that definition no longer freezes the level: no growth
	// returns the member to it then (see Definition.Needed).
	Unfreeze decimal.Decimal `json:"unfreeze"`
	Needed   decimal.Decimal `json:"needed"`
}

// Needed returns the unfreeze threshold of f's level and the growth still
// to earn to reach it, threshold − f.Earned, never below 0 (0 when the
// count reaches it and the member's next growth returns them); ok is
// false, and both zero, when d does not freeze the level (left out of the
// ladder, or its strategy removed), so that no growth returns the member
// to it.
func (d Definition) Needed(f Frozen) (unfreeze, needed decimal.Decimal, ok bool) {
	i := d.Index(f.Level)
	if i < 0 || d.Ladder[i].Freeze == nil {
		return decimal.Zero, decimal.Zero, false
	}
	unfreeze = d.Ladder[i].Freeze.Unfreeze
	return unfreeze, decimal.Max(unfreeze.Sub(f.Earned), decimal.Zero), true
}

// Live reports whether the freeze still holds at t.
func (f Frozen) Live(t time.Time) bool { return f.Deadline.IsZero() || t.Before(f.Deadline) }

// Freeze returns frozen with the level from frozen at t after a downgrade
// from it, when that level has a freeze strategy (an earlier freeze of the
// same level is replaced), and the new entry (nil when none).
func (d Definition) Freeze(frozen []Frozen, from int, t time.Time, loc *time.Location) ([]Frozen, *Frozen) {
	if from < 0 || from >= len(d.Ladder) || d.Ladder[from].Freeze == nil {
		return frozen, nil
	}
	l := d.Ladder[from]
	f := Frozen{Level: l.Name, Since: t, Earned: decimal.Zero}
	if l.Freeze.Kind == FixedDuration {
		f.Deadline, _ = l.Freeze.Duration.Expiry(t, loc)
	}
	out := make([]Frozen, 0, len(frozen)+1)
	for _, e := range frozen {
		if e.Level != l.Name {
			out = append(out, e)
		}
	}
	out = append(out, f)
	return out, &out[len(out)-1]
}

// Earn adds amount (negative: what a reversal took) to the growth counted
// by each freeze still live at t. Growth dated before a freeze's downgrade
// (a late event) was not earned since it, and counts nothing. The count is
// net, not floored at zero, as the retention window's is: flooring it at
// each step made the same movements count differently in another order
// (earning 50 then a refund taking 60 left 0, the refund first left 50).
func Earn(frozen []Frozen, amount decimal.Decimal, t time.Time) []Frozen {
	out := make([]Frozen, len(frozen))
	for i, f := range frozen {
		if f.Live(t) && !t.Before(f.Since) {
			f.Earned = f.Earned.Add(amount)
		}
		out[i] = f
	}
	return out
}

// Unfreeze returns the highest frozen level above cur whose freeze is live
// at t and whose unfreeze threshold the growth earned since its downgrade
// reaches; ok is false when there is none.
func (d Definition) Unfreeze(frozen []Frozen, cur int, t time.Time) (to int, ok bool) {
	to = cur
	for _, f := range frozen {
		i := d.Index(f.Level)
		if i <= to || !f.Live(t) || d.Ladder[i].Freeze == nil {
			continue
		}
		if f.Earned.GreaterThanOrEqual(d.Ladder[i].Freeze.Unfreeze) {
			to, ok = i, true
		}
	}
	return to, ok
}

// Thaw returns frozen without the freezes of levels at or below level:
// a member who reaches a level no longer needs its freeze.
func (d Definition) Thaw(frozen []Frozen, level int) (kept, released []Frozen) {
	for _, f := range frozen {
		if d.Index(f.Level) <= level {
			released = append(released, f)
		} else {
			kept = append(kept, f)
		}
	}
	return kept, released
}

// Applies reports whether the rule acts on ev for a member at level: the
// event's type, every condition, the effective period (at the event's
// time) and the rule's levels.
func (g GrowthRule) Applies(ev event.Event, level string) bool {
	if ev.Type != g.Event || !g.Effective.Contains(ev.Time) || !event.MatchAll(g.Conditions, ev) {
		return false
	}
	if len(g.Levels) == 0 {
		return true
	}
	for _, l := range g.Levels {
		if l == level {
			return true
		}
	}
	return false
}

// Earning is what a growth rule computes for an event, before caps.
type Earning struct {
	// Amount is Raw rounded to the growth scale: positive earns growth,
	// negative takes it away, zero does nothing.
	Amount decimal.Decimal
	// Raw is the formula's exact result.
	Raw decimal.Decimal
	// Base is the base attribute the formula read, for the reason (zero
	// for the kinds that read none).
	Base decimal.Decimal
}

// Amount computes the growth ev earns under the rule, rounded to the
// growth scale r, before caps. It is what the part runs for every event
// the rule applies to, so it builds no reason and allocates nothing: the
// part makes the reason from the rule's formula text, kept once. An event
// without the formula's base attribute (an optional one) earns nothing:
// a zero Earning and no error (the part then publishes the rule as
// skipped, see rule.Formula.Absent). Other errors are those of
// rule.Formula.Eval (an attribute of the wrong type wraps
// event.ErrAttributeType, an unknown kind rule.ErrInvalidDefinition).
func (g GrowthRule) Amount(ev event.Event, r rule.Rounding) (Earning, error) {
	raw, base, err := g.Formula.Eval(ev)
	if errors.Is(err, event.ErrMissingAttribute) {
		return Earning{}, nil
	}
	if err != nil {
		return Earning{}, err
	}
	return Earning{Amount: r.Round(raw), Raw: raw, Base: base}, nil
}

// Reversal returns the growth to take back for a refund of refund on an
// order of amount orderAmount that earned granted, when refundedBefore was
// refunded and reversedBefore reversed earlier: the share of granted
// matching all refunds so far, rounded to the growth scale, less what was
// already reversed, never below zero nor beyond granted. An order amount
// that is not positive reverses everything left.
func Reversal(granted, orderAmount, refundedBefore, refund, reversedBefore decimal.Decimal, r rule.Rounding) decimal.Decimal {
	target := granted
	if orderAmount.IsPositive() {
		refunded := decimal.Min(refundedBefore.Add(refund), orderAmount)
		target = r.Round(granted.Mul(refunded).DivRound(orderAmount, rule.MaxScale+8))
		target = decimal.Min(target, granted)
	}
	return decimal.Max(target.Sub(reversedBefore), decimal.Zero)
}

// Extend returns the expiry of the plan bought or renewed at from (the
// later of the purchase time and the current expiry): from plus the period
// in calendar months or days in loc, at the same wall-clock time. Where the
// day does not exist in the target month (31 January + 1 month) it is the
// month's last day; where a daylight-saving change skips that wall time on
// the last day, the end of the gap (rule.Date.At: 02:30 on a day the
// clocks go from 02:00 to 03:00 is 03:00, never an hour early). A renewal
// extends from the expiry as it stands, so it keeps such a day or time
// (the 28th, 03:00) as its own.
func (p Plan) Extend(from time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	w := from.In(loc)
	d := rule.DateOf(w, loc)
	switch p.Period {
	case Monthly:
		d = d.AddMonths(1)
	case Quarterly:
		d = d.AddMonths(3)
	case Yearly:
		d = d.AddMonths(12)
	case Days:
		d = d.AddDays(p.Days)
	}
	return d.At(w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
}
