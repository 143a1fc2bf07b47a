package tag

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/rule"
)

// A member's statistics and order days are written on every order and
// kept for every member, so they are stored in a compact binary form
// (first byte: version), about a quarter of their JSON. Records an older
// version wrote as JSON (first byte '{') are still read.
const (
	statsV1 = 1
	dayV1   = 1
)

// errRecord is what a record that does not decode wraps: damaged data,
// engine.ErrCorrupt, so that the event reading it fails as damaged rather
// than refused.
var errRecord = engine.ErrCorrupt

// The last order's time follows the first's as one of these forms: a
// member's orders are most often one, or days apart, so the difference
// takes a byte or a few where the time takes nine. Near 1970 a time takes
// fewer (its nanoseconds since 1970 are small), so appendLast writes the
// difference only when it is no longer than the time.
const (
	lastZero  = 0 // no last order
	lastAfter = 1 // nanoseconds after the first order, then the zone offset
	lastTime  = 2 // a time of its own (codec.Writer.ZonedTime)
)

// appendLast appends last, the time of the last order, after first's:
// as the difference when there is one (first not zero, last not before
// it, not so far apart that it saturates) no longer than the time, else
// as the time.
func appendLast(w *codec.Writer, first, last time.Time) {
	d := last.Sub(first) // saturates where the difference overflows
	switch {
	case last.IsZero():
		w.Uint(lastZero)
	case first.IsZero() || d < 0 || d == math.MaxInt64 || codec.UintSize(uint64(d)) > codec.TimeSize(last):
		w.Uint(lastTime)
		w.ZonedTime(last)
	default:
		w.Uint(lastAfter)
		w.Uint(uint64(d))
		w.Offset(last)
	}
}

// readLast reads what appendLast wrote; ok is false for an unknown form.
func readLast(r *codec.Reader, first time.Time) (last time.Time, ok bool) {
	switch r.Uint() {
	case lastZero:
		return time.Time{}, true
	case lastTime:
		return r.ZonedTime(), true
	case lastAfter:
		d := r.Uint()
		if d > math.MaxInt64 {
			return time.Time{}, false
		}
		return r.InOffset(first.Add(time.Duration(d))), !first.IsZero()
	}
	return time.Time{}, false
}

// appendStatsBody appends s to w, as the statistics of a record of either
// version. The tallies go by name, so that equal statistics make equal
// records.
func appendStatsBody(w *codec.Writer, s *Stats) {
	w.ZonedTime(s.FirstOrder) // their offsets show in reasons
	appendLast(w, s.FirstOrder, s.LastOrder)
	w.B = binary.AppendVarint(w.B, s.Orders)
	w.Decimal(s.Amount)
	w.Decimal(s.Recharged)
	for _, m := range []map[string]Tally{s.Brands, s.Categories, s.Products} {
		w.Uint(uint64(len(m)))
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			w.String(name)
			w.B = binary.AppendVarint(w.B, m[name].Orders)
			w.Decimal(m[name].Amount)
		}
	}
}

// decodeStats reads the statistics an older version wrote: statsV1 or
// JSON (a state, statsV2, is read by decodeState). A record that does not
// decode is an error wrapping errRecord.
func decodeStats(b []byte) (Stats, error) {
	var s Stats
	if len(b) > 0 && b[0] == '{' {
		if parseStats(b, &s) { // what an import wrote, without reflection
			return s, nil
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return Stats{}, fmt.Errorf("%w: %w", errRecord, err)
		}
		return s, nil
	}
	if len(b) == 0 || b[0] != statsV1 {
		return Stats{}, fmt.Errorf("%w: statistics of unknown version", errRecord)
	}
	r := codec.Reader{B: b[1:]}
	s, err := readStatsBody(&r)
	if err != nil {
		return Stats{}, err
	}
	if len(r.B) != 0 {
		return Stats{}, fmt.Errorf("%w: statistics: %d bytes after the record", errRecord, len(r.B))
	}
	return s, nil
}

// readStatsBody reads what appendStatsBody wrote.
func readStatsBody(r *codec.Reader) (Stats, error) {
	var s Stats
	s.FirstOrder = r.ZonedTime()
	last, ok := readLast(r, s.FirstOrder)
	if !ok {
		return Stats{}, fmt.Errorf("%w: statistics: bad last order", errRecord)
	}
	s.LastOrder = last
	s.Orders = r.Int()
	s.Amount, s.Recharged = r.Decimal(), r.Decimal()
	for _, m := range []*map[string]Tally{&s.Brands, &s.Categories, &s.Products} {
		// A tally is at least a name's length, a count and a decimal
		// (its form byte, coefficient and exponent).
		n := r.Count(5)
		for ; n > 0 && r.Err() == nil; n-- {
			if *m == nil {
				*m = map[string]Tally{}
			}
			name := r.String()
			(*m)[name] = Tally{Orders: r.Int(), Amount: r.Decimal()}
		}
	}
	if err := r.Err(); err != nil {
		return Stats{}, fmt.Errorf("%w: statistics: %w", errRecord, err)
	}
	return s, nil
}

// appendDay appends d's record to b.
func appendDay(b []byte, d *Day) []byte {
	w := codec.Writer{B: append(b, dayV1)}
	appendDate(&w, d.Date)
	w.B = binary.AppendVarint(w.B, d.Orders)
	w.Decimal(d.Amount)
	return w.B
}

// appendDate appends a date to w, for readDate.
func appendDate(w *codec.Writer, d rule.Date) {
	w.B = binary.AppendVarint(w.B, int64(d.Year))
	w.Uint(uint64(d.Month))
	w.Uint(uint64(d.Day))
}

// readDate reads a date appendDate wrote; ok is false for one out of the
// calendar's ranges (a month beyond 12), which appendDate did not write.
func readDate(r *codec.Reader) (d rule.Date, ok bool) {
	y, mo, dd := r.Int(), r.Uint(), r.Uint()
	if y < 1 || y > 9999 || mo < 1 || mo > 12 || dd < 1 || dd > 31 {
		return rule.Date{}, false
	}
	return rule.Date{Year: int(y), Month: time.Month(mo), Day: int(dd)}, true
}

// decodeDay reads a record written by appendDay or, as JSON, by an older
// version. A record that does not decode is an error wrapping errRecord.
func decodeDay(b []byte) (Day, error) {
	var d Day
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &d); err != nil {
			return Day{}, fmt.Errorf("%w: %w", errRecord, err)
		}
		if !d.Date.Valid() { // every order day has its date
			return Day{}, fmt.Errorf("%w: order day without a date", errRecord)
		}
		return d, nil
	}
	if len(b) == 0 || b[0] != dayV1 {
		return Day{}, fmt.Errorf("%w: order day of unknown version", errRecord)
	}
	r := codec.Reader{B: b[1:]}
	date, ok := readDate(&r)
	d.Orders, d.Amount = r.Int(), r.Decimal()
	if err := r.Err(); err != nil {
		return Day{}, fmt.Errorf("%w: order day: %w", errRecord, err)
	}
	if len(r.B) != 0 || !ok {
		return Day{}, fmt.Errorf("%w: order day %s", errRecord, date)
	}
	d.Date = date
	return d, nil
}
