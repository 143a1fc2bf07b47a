package tag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// A member's state is what every event of the member reads and most
// write: the statistics, the names of the member's tags, the window edge
// scheduled and the member's recent order days. It is one record, the
// member's in tag.stats (statsV2), so that an order reads one record and
// writes one where it read a record of statistics and one of its day,
// scanned the member's days and tags and read the edge, and wrote the
// statistics, the day and the edge (at a million members the tag part's
// records were a fifth of what an event cost the writer).
//
// The tags' names are also the keys of their records in tag.assigned,
// which keep who gave each and why, for the reads. The order days are
// split at a date, the state's from: the days before it are in tag.days,
// one record a day, and the days from it on in the state, which the
// rules' windows reach. Days leave the state for tag.days as the windows
// move past them; a rule given a longer window reads tag.days again.
// tag.days may still hold a record of a day the state holds (the state's
// is the day's count): the day went back into the state when a window
// reached further back.
//
// A record older versions wrote (statsV1 or JSON, holding the statistics
// only), or none, is read with the names from tag.assigned, the edge from
// tag.edge and every day in tag.days; the state written back replaces the
// edge record (deleted).
const statsV2 = 2

// recentMax is the most order days a state keeps: a member who ordered on
// more days within the rules' longest window has them in tag.days, read
// after each event, as a member's were before states.
const recentMax = 400

// firstDate is the first date there is: a state's days from it on are
// all the member's.
var firstDate = rule.Date{Year: 1, Month: time.January, Day: 1}

// state is a member's state (see statsV2).
type state struct {
	stats Stats
	names []string // the member's tags, in name order
	edge  edge
	// recent are the member's order days on or after from, in date
	// order: every one of them, tag.days holding the days before from.
	// A zero from keeps none: every day is in tag.days.
	from   rule.Date
	recent []Day

	// known is set when the member has a record in tag.stats: one that
	// does was touched first.
	known bool
	// legacy is set when the record was written by an older version, or
	// is absent: saving it deletes the edge record, when there is one.
	legacy, edgeRecord bool
	// changed is set when the state differs from its record.
	changed bool
}

// loadState reads a member's state (see statsV2).
func loadState(tx store.Tx, member string) (state, error) {
	raw, err := tx.Get(bStats, []byte(member))
	var s state
	switch {
	case errors.Is(err, store.ErrNotFound):
		// A member without a record has no day either (Process writes
		// both in one unit, the record first): the state holds them all.
		s.legacy, s.from = true, firstDate
	case err != nil:
		return s, err
	default:
		if s, err = decodeState(raw); err != nil {
			return s, fmt.Errorf("record %s %q: %w", bStats, member, err)
		}
		s.known = true
	}
	if !s.legacy {
		return s, nil
	}
	if s.names, err = tagNames(tx, member); err != nil {
		return s, err
	}
	if s.edge, err = loadEdge(tx, member); err != nil {
		return s, err
	}
	s.edgeRecord = !s.edge.At.IsZero()
	return s, nil
}

// save writes the state's record when it changed, or replaces an older
// version's.
func (s *state) save(tx store.Tx, member string) error {
	if !s.changed && !s.legacy {
		return nil
	}
	if s.edgeRecord {
		if err := tx.Delete(bEdge, []byte(member)); err != nil {
			return err
		}
	}
	if err := tx.Put(bStats, []byte(member), appendState(nil, s)); err != nil {
		return err
	}
	s.known, s.legacy, s.edgeRecord, s.changed = true, false, false, false
	return nil
}

// has reports whether the member has the tag.
func (s *state) has(tag string) bool {
	_, ok := slices.BinarySearch(s.names, tag)
	return ok
}

// give gives the member a tag it does not have, keeping its record, the
// index and the counts.
func (s *state) give(u *engine.Unit, member string, a Assigned) error {
	i, _ := slices.BinarySearch(s.names, a.Tag)
	s.names = slices.Insert(s.names, i, a.Tag)
	s.changed = true
	return give(u, member, a)
}

// take takes from the member a tag it has, keeping its record, the index
// and the counts.
func (s *state) take(u *engine.Unit, member, tag string) error {
	if i, ok := slices.BinarySearch(s.names, tag); ok {
		s.names = slices.Delete(s.names, i, i+1)
	}
	s.changed = true
	return take(u, member, tag)
}

// assign gives the member a tag, keeping the member's state, the index
// and the counts; it reports false when the member already had it (then
// nothing changes). The member must be known (touch).
func assign(u *engine.Unit, member string, a Assigned) (bool, error) {
	s, err := loadState(u.Tx(), member)
	if err != nil || s.has(a.Tag) {
		return false, err
	}
	if err := s.give(u, member, a); err != nil {
		return false, err
	}
	return true, s.save(u.Tx(), member)
}

// unassign takes a tag from the member; it reports false when the member
// did not have it.
func unassign(u *engine.Unit, member, tag string) (bool, error) {
	s, err := loadState(u.Tx(), member)
	if err != nil || !s.has(tag) {
		return false, err
	}
	if err := s.take(u, member, tag); err != nil {
		return false, err
	}
	return true, s.save(u.Tx(), member)
}

// addDay adds an order to the member's day: in the state when it holds
// the day (without reading or writing a record of its own), else in
// tag.days.
func (s *state) addDay(tx store.Tx, member string, o Order, date rule.Date) error {
	if s.from.IsZero() || date.Compare(s.from) < 0 {
		return addDay(tx, member, o, date)
	}
	i, ok := slices.BinarySearchFunc(s.recent, date, compareDay)
	if !ok {
		s.recent = slices.Insert(s.recent, i, Day{Date: date})
	}
	d := &s.recent[i]
	d.Orders++
	d.Amount = codec.Add(d.Amount, o.Amount)
	s.changed = true
	if len(s.recent) > recentMax {
		return s.forget(tx, member)
	}
	return nil
}

func compareDay(d Day, t rule.Date) int { return d.Date.Compare(t) }

// days returns the member's order days from..to, to being the date of
// Member.Now (so that no order comes after it). They are the state's
// when it holds every day from from on; then the days before from
// leave it for tag.days, as no window reaches them any more. Else they
// are read from tag.days, and the state holds them from then on.
func (s *state) days(tx store.Tx, member string, from, to rule.Date) ([]Day, error) {
	if !s.from.IsZero() && from.Compare(s.from) >= 0 {
		i, _ := slices.BinarySearchFunc(s.recent, from, compareDay)
		if from != s.from {
			if err := putDays(tx, member, s.recent[:i]); err != nil {
				return nil, err
			}
			s.from, s.recent = from, s.recent[i:]
			s.changed = true
		}
		j, _ := slices.BinarySearchFunc(s.recent, to.AddDays(1), compareDay)
		return s.recent[:j:j], nil
	}
	end := to // the last day to read from tag.days
	if !s.from.IsZero() {
		end = s.from.AddDays(-1)
	}
	days, err := loadDays(tx, member, from, end)
	if err != nil {
		return nil, err
	}
	days = append(days, s.recent...)
	if len(days) > recentMax {
		return days, s.forget(tx, member)
	}
	s.from, s.recent, s.changed = from, days, true
	return days, nil
}

// forget moves the state's days to tag.days: there are too many of them,
// or no rule has a window.
func (s *state) forget(tx store.Tx, member string) error {
	if s.from.IsZero() {
		return nil
	}
	if err := putDays(tx, member, s.recent); err != nil {
		return err
	}
	s.from, s.recent, s.changed = rule.Date{}, nil, true
	return nil
}

// appendState appends s's record (statsV2) to b.
func appendState(b []byte, s *state) []byte {
	w := codec.Writer{B: append(b, statsV2)}
	appendStatsBody(&w, &s.stats)
	w.Uint(uint64(len(s.names)))
	for _, n := range s.names {
		w.String(n)
	}
	w.Time(s.edge.At)
	w.Time(s.edge.Scheduled)
	if s.from.IsZero() {
		w.Uint(0)
		return w.B
	}
	w.Uint(uint64(len(s.recent)) + 1)
	appendDate(&w, s.from)
	for i := range s.recent {
		appendDate(&w, s.recent[i].Date)
		w.B = binary.AppendVarint(w.B, s.recent[i].Orders)
		w.Decimal(s.recent[i].Amount)
	}
	return w.B
}

// decodeState reads a member's record in tag.stats: a state, or the
// statistics an older version wrote (the state then legacy). A record
// that does not decode is an error wrapping errRecord.
func decodeState(b []byte) (state, error) {
	if len(b) == 0 || b[0] != statsV2 {
		st, err := decodeStats(b)
		return state{stats: st, legacy: true}, err
	}
	var s state
	r := codec.Reader{B: b[1:]}
	var err error
	if s.stats, err = readStatsBody(&r); err != nil {
		return state{}, err
	}
	if n := r.Count(1); n > 0 {
		s.names = make([]string, 0, n)
		for ; n > 0 && r.Err() == nil; n-- {
			name := r.String()
			if len(s.names) > 0 && name <= s.names[len(s.names)-1] {
				return state{}, fmt.Errorf("%w: state: tags out of order", errRecord)
			}
			s.names = append(s.names, name)
		}
	}
	s.edge.At, s.edge.Scheduled = r.Time(), r.Time()
	if n := r.Count(3); n > 0 && r.Err() == nil {
		var ok bool
		if s.from, ok = readDate(&r); !ok && r.Err() == nil {
			return state{}, fmt.Errorf("%w: state: bad date", errRecord)
		}
		s.recent = make([]Day, 0, n-1)
		for n--; n > 0 && r.Err() == nil; n-- {
			var d Day
			d.Date, ok = readDate(&r)
			d.Orders, d.Amount = r.Int(), r.Decimal()
			before := len(s.recent) > 0 && d.Date.Compare(s.recent[len(s.recent)-1].Date) <= 0
			if r.Err() == nil && (!ok || before || d.Date.Compare(s.from) < 0) {
				return state{}, fmt.Errorf("%w: state: order day %s out of order", errRecord, d.Date)
			}
			s.recent = append(s.recent, d)
		}
	}
	if err := r.Err(); err != nil {
		return state{}, fmt.Errorf("%w: state: %w", errRecord, err)
	}
	if len(r.B) != 0 {
		return state{}, fmt.Errorf("%w: state: %d bytes after the record", errRecord, len(r.B))
	}
	return s, nil
}
