package rule

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
)

// ValidityKind names how a [Validity] computes an expiry.
type ValidityKind string

// The validity kinds.
const (
	// Permanent never expires.
	Permanent ValidityKind = "permanent"
	// AnnualDate expires at 24:00 of the first (Month, Day) on or after the
	// start date; 29 February falls back to 28 February in other years.
	AnnualDate ValidityKind = "annual_date"
	// MonthEnds expires at 24:00 of the last day of the month N months after
	// the start's month (N = 0: the start's month): N = 1 from 24 November
	// ends at 24:00 of 31 December.
	MonthEnds ValidityKind = "month_ends"
	// MonthsAfter expires at 24:00 of the same day N months later, or of that
	// month's last day when the day does not exist: N = 1 from 1 March ends
	// at 24:00 of 1 April.
	MonthsAfter ValidityKind = "months_after"
	// FixedRange is valid from 00:00 of From to 24:00 of To.
	FixedRange ValidityKind = "fixed_range"
	// DaysAfter expires at 24:00 of the (N−1)th day after the start day, so
	// N = 1 means the start day itself: N = 30 from 1 March ends at 24:00 of
	// 30 March (the instant 31 March 00:00, the Expires a lot shows).
	DaysAfter ValidityKind = "days_after"
)

// Bounds on Validity.N: a hundred years, which is as good as permanent.
const (
	maxMonths = 1200
	maxDays   = 36600
)

// Validity says when something granted at a given instant expires: levels'
// terms, points lots and coupons. Which fields count depends on Kind.
type Validity struct {
	Kind ValidityKind `json:"kind"`
	// Month and Day are the date of an AnnualDate.
	Month time.Month `json:"month,omitempty"`
	Day   int        `json:"day,omitempty"`
	// N is the count of MonthEnds (≥ 0), MonthsAfter (≥ 1) and DaysAfter (≥ 1).
	N int `json:"n,omitempty"`
	// From and To are the first and last days of a FixedRange.
	From Date `json:"from,omitzero"`
	To   Date `json:"to,omitzero"`
}

// Expiry returns the instant at which something that starts at start
// expires: it is valid at every instant before end. ok is false for
// Permanent, and for a validity that fails [Validity.Check].
func (v Validity) Expiry(start time.Time, loc *time.Location) (end time.Time, ok bool) {
	if v.Kind == Permanent || v.Check() != nil {
		return time.Time{}, false
	}
	d := DateOf(start, loc)
	var last Date // the last valid day
	switch v.Kind {
	case AnnualDate:
		last = annual(d.Year, v.Month, v.Day)
		if last.Compare(d) < 0 {
			last = annual(d.Year+1, v.Month, v.Day)
		}
	case MonthEnds:
		last = civil(d.Year, d.Month+time.Month(v.N)+1, 0)
	case MonthsAfter:
		last = d.AddMonths(v.N)
	case DaysAfter:
		last = d.AddDays(v.N - 1)
	case FixedRange:
		last = v.To
	}
	return last.AddDays(1).Start(loc), true
}

// annual returns (m, day) in year y, with 29 February as 28 February in a
// year that has none.
func annual(y int, m time.Month, day int) Date {
	return Date{y, m, min(day, daysIn(y, m))}
}

// Begins returns when a FixedRange starts to be valid: 00:00 of From. ok
// is false for the other kinds, which start when granted.
func (v Validity) Begins(loc *time.Location) (time.Time, bool) {
	if v.Kind != FixedRange || !v.From.Valid() {
		return time.Time{}, false
	}
	return v.From.Start(loc), true
}

// Check returns nil, or a *[Problems] naming what is wrong: an unknown
// kind, a date that does not exist, N out of range, To before From.
func (v Validity) Check() error {
	var ps Problems
	switch v.Kind {
	case Permanent:
	case AnnualDate:
		switch {
		case v.Month < time.January || v.Month > time.December:
			ps.Addf("month", "must be 1 to 12, got %d", int(v.Month))
		case v.Day < 1 || v.Day > daysIn(2000, v.Month): // 2000: a leap year
			ps.Addf("day", "%d %s does not exist", v.Day, v.Month)
		}
	case MonthEnds:
		if v.N < 0 || v.N > maxMonths {
			ps.Addf("n", "must be 0 to %d for %s, got %d", maxMonths, v.Kind, v.N)
		}
	case MonthsAfter:
		checkN(&ps, v, maxMonths)
	case DaysAfter:
		checkN(&ps, v, maxDays)
	case FixedRange:
		okFrom, okTo := checkDate(&ps, "from", v.From), checkDate(&ps, "to", v.To)
		if okFrom && okTo && v.To.Compare(v.From) < 0 {
			ps.Addf("to", "%s is before from %s", v.To, v.From)
		}
	default:
		ps.Addf("kind", "unknown validity kind %q (want %s, %s, %s, %s, %s or %s)", v.Kind, Permanent, AnnualDate, MonthEnds, MonthsAfter, DaysAfter, FixedRange)
	}
	return errOf(ps)
}

func checkN(ps *Problems, v Validity, maxN int) {
	switch {
	case v.N < 1:
		ps.Addf("n", "must be >= 1 for %s", v.Kind)
	case v.N > maxN:
		ps.Addf("n", "must be <= %d for %s", maxN, v.Kind)
	}
}

func checkDate(ps *Problems, path string, d Date) bool {
	switch {
	case d.IsZero():
		ps.Add(path, fmt.Errorf("required"))
	case !d.Valid():
		ps.Addf(path, "%s does not exist", d)
	case d.Year < event.MinYear || d.Year > event.MaxYear:
		// Within the range of times a program takes, so that every
		// expiry it gives is one the store holds.
		ps.Add(path, fmt.Errorf("%w: %s is not from %d-01-01 to %d-12-31", event.ErrTimeRange, d, event.MinYear, event.MaxYear))
	default:
		return true
	}
	return false
}
