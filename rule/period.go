package rule

import (
	"fmt"
	"time"
)

// Period is a calendar bucket in the program's zone, for caps and limits.
type Period string

// The periods. Weeks start on Monday.
const (
	Day   Period = "day"
	Week  Period = "week"
	Month Period = "month"
	Year  Period = "year"
	Total Period = "total"
)

// Valid reports whether p is one of the periods.
func (p Period) Valid() bool {
	switch p {
	case Day, Week, Month, Year, Total:
		return true
	}
	return false
}

// first returns the first day of the period containing t; ok is false for
// Total and unknown periods.
func (p Period) first(t time.Time, loc *time.Location) (Date, bool) {
	d := DateOf(t, loc)
	switch p {
	case Day:
		return d, true
	case Week:
		return d.AddDays(-(int(d.Weekday()) + 6) % 7), true
	case Month:
		return Date{d.Year, d.Month, 1}, true
	case Year:
		return Date{d.Year, time.January, 1}, true
	}
	return Date{}, false
}

// Start returns the first instant of the period containing t in loc; the
// zero time for Total (and for an unknown period).
func (p Period) Start(t time.Time, loc *time.Location) time.Time {
	d, ok := p.first(t, loc)
	if !ok {
		return time.Time{}
	}
	return d.Start(loc)
}

// End returns the first instant of the period after the one containing t
// in loc; the zero time for Total (and for an unknown period).
func (p Period) End(t time.Time, loc *time.Location) time.Time {
	d, ok := p.first(t, loc)
	if !ok {
		return time.Time{}
	}
	switch p {
	case Day:
		d = d.AddDays(1)
	case Week:
		d = d.AddDays(7)
	case Month:
		d = d.AddMonths(1)
	case Year:
		d = d.AddMonths(12)
	}
	return d.Start(loc)
}

// Key returns a stable key for the period containing t in loc: "d2026-11-24",
// "w2026-11-23" (the week's Monday), "m2026-11", "y2026" or "total"; "" for
// an unknown period.
func (p Period) Key(t time.Time, loc *time.Location) string {
	if p == Total {
		return "total"
	}
	d, ok := p.first(t, loc)
	if !ok {
		return ""
	}
	switch p {
	case Day:
		return "d" + d.String()
	case Week:
		return "w" + d.String()
	case Month:
		return fmt.Sprintf("m%04d-%02d", d.Year, int(d.Month))
	}
	return fmt.Sprintf("y%04d", d.Year)
}
