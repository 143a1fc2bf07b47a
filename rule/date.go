package rule

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
)

// Date is a civil date, without a time or a zone. Its JSON form is
// "2006-01-02"; the zero Date is "".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// zone returns loc, or UTC when loc is nil.
func zone(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// civil returns the date (y, m, d), normalized the way time.Date normalizes
// (so day 0 is the last day of the previous month).
func civil(y int, m time.Month, d int) Date {
	y, m, d = time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date()
	return Date{y, m, d}
}

// DateOf returns the date of t in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(zone(loc)).Date()
	return Date{y, m, d}
}

// ParseDate parses a date in the form "2006-01-02"; the error for any other
// text wraps event.ErrInvalidArgument.
func ParseDate(s string) (Date, error) {
	d, ok := parseDate(s)
	if !ok {
		return Date{}, fmt.Errorf("rule: %w: date %q: want YYYY-MM-DD", event.ErrInvalidArgument, s)
	}
	return d, nil
}

// parseDate parses a date in the form "2006-01-02".
func parseDate(s string) (Date, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, false
	}
	y, m, d := t.Date()
	return Date{y, m, d}, true
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// Valid reports whether d is an existing date in the years 1 to 9999.
func (d Date) Valid() bool {
	return d.Year >= 1 && d.Year <= 9999 && d.Month >= time.January && d.Month <= time.December &&
		d.Day >= 1 && d.Day <= daysIn(d.Year, d.Month)
}

// daysIn returns the number of days of month m of year y.
func daysIn(y int, m time.Month) int { return civil(y, m+1, 0).Day }

// AddDays returns the date n days after d (before, for a negative n).
func (d Date) AddDays(n int) Date { return civil(d.Year, d.Month, d.Day+n) }

// AddMonths returns the same day n months after d, or the last day of that
// month when it is shorter (31 January + 1 month is 28 or 29 February).
func (d Date) AddMonths(n int) Date {
	first := civil(d.Year, d.Month+time.Month(n), 1)
	first.Day = min(d.Day, daysIn(first.Year, first.Month))
	return first
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmpInt(d.Year, e.Year)
	case d.Month != e.Month:
		return cmpInt(int(d.Month), int(e.Month))
	}
	return cmpInt(d.Day, e.Day)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Start returns the first instant of d in loc: 00:00, or the first instant
// that exists where a daylight-saving change skips midnight, or the first
// of the two midnights where the clocks go back across it.
func (d Date) Start(loc *time.Location) time.Time { return d.At(0, 0, 0, 0, loc) }

// At returns the instant of d in loc whose wall clock reads
// hour:min:sec.nsec; where the clocks go back across that wall time, the
// first of its two instants; where a daylight-saving change skips it, the
// end of the gap, the first instant whose wall clock reads it or later
// (02:30 on a day the clocks go from 02:00 to 03:00 is 03:00). time.Date
// leaves both cases to chance: it may give 01:30 there, an hour early.
func (d Date) At(hour, min, sec, nsec int, loc *time.Location) time.Time {
	loc = zone(loc)
	t := time.Date(d.Year, d.Month, d.Day, hour, min, sec, nsec, loc)
	want := time.Date(d.Year, d.Month, d.Day, hour, min, sec, nsec, time.UTC)
	got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	start, end := t.ZoneBounds()
	switch {
	case got.Before(want) && !end.IsZero():
		// In a gap, and time.Date took the zone period before it: the
		// wall time is first reached where that period ends.
		return end
	case got.After(want) && !start.IsZero():
		// In a gap, and time.Date took the period after it, which starts
		// where the gap ends.
		return start
	case !start.IsZero():
		// Where the clocks went back (Asia/Gaza, 2021-10-29, from 01:00
		// to 00:00), time.Date may give the second of two instants of the
		// wall time: the first is as far before it as the clocks went
		// back, in the period before.
		_, cur := t.Zone()
		_, prev := start.Add(-time.Nanosecond).Zone()
		if first := t.Add(-time.Duration(prev-cur) * time.Second); prev > cur && first.Before(start) {
			return first
		}
	}
	return t
}

// String formats d as "2006-01-02".
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText formats d as "2006-01-02", or "" for the zero Date. It fails
// for a date that is not [Date.Valid], with an error wrapping
// ErrInvalidDefinition.
func (d Date) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	if !d.Valid() {
		return nil, fmt.Errorf("%w: invalid date %s", ErrInvalidDefinition, d)
	}
	return []byte(d.String()), nil
}

// UnmarshalText parses "2006-01-02"; "" gives the zero Date. The error
// wraps ErrInvalidDefinition (a date out of its form is found in a
// definition).
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, ok := parseDate(string(b))
	if !ok {
		return fmt.Errorf("%w: date %q: want YYYY-MM-DD", ErrInvalidDefinition, b)
	}
	*d = v
	return nil
}
