package level

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/rule"
)

// A member's state is read and written several times per event, so it is
// stored in a compact binary form (first byte: version) instead of JSON.
const (
	memberV1 = 1
	memberV2 = 2 // V1 and the latest day's growth
	memberV3 = 3 // V2 and the rewards of gifts owed
	memberV4 = 4 // V2 and the rewards of gifts owed, each with its last refusal
	memberV5 = 5 // V4 and the time of the latest plan change
	memberV6 = 6 // V5, each gift owed with its place among its level's gifts of its target
)

// appendMember appends m's record to b.
func appendMember(b []byte, m *memberState) []byte {
	w := codec.Writer{B: b}
	// Version 2 while no gift is owed: the record of nearly every member
	// stays as an earlier release wrote and reads it.
	v := byte(memberV2)
	switch {
	case !numberedOwed(m.Owed):
		v = memberV6 // only members owed a gift that the order of those owed does not place
	case !m.PlanChanged.IsZero():
		v = memberV5 // only members who bought a plan
	case len(m.Owed) > 0:
		v = memberV4
	}
	w.B = append(w.B, v)
	w.String(m.Level)
	w.Time(m.Since)
	w.Time(m.TermEnd)
	w.Decimal(m.Lifetime)
	w.Uint(uint64(len(m.Frozen)))
	for _, f := range m.Frozen {
		w.String(f.Level)
		w.Time(f.Since)
		w.Time(f.Deadline)
		w.Decimal(f.Earned)
	}
	w.Uint(uint64(len(m.Gifted)))
	for _, g := range m.Gifted {
		w.String(g)
	}
	w.Uint(uint64(len(m.Plans)))
	for _, h := range m.Plans {
		w.String(h.Plan)
		w.Time(h.Since)
		w.Time(h.Expires)
	}
	w.Uint(m.Seq)
	w.Uint(uint64(m.Day.Year))
	w.Uint(uint64(m.Day.Month))
	w.Uint(uint64(m.Day.Day))
	w.Decimal(m.DayGrowth)
	if v >= memberV4 {
		w.Uint(uint64(len(m.Owed)))
		for _, o := range m.Owed {
			w.String(o.Level)
			w.String(o.Reward)
			w.Time(o.Refused)
			w.Uint(o.Version)
			w.Uint(o.Fingerprint)
			if v == memberV6 {
				w.Uint(uint64(o.N))
			}
		}
	}
	if v >= memberV5 {
		w.Time(m.PlanChanged)
	}
	return w.B
}

func decodeMember(b []byte) (memberState, error) {
	if len(b) > 0 && b[0] == '{' { // a record written as JSON
		return decodeMemberJSON(b)
	}
	var m memberState // apart from the JSON one, whose address escapes
	if len(b) == 0 || b[0] < memberV1 || b[0] > memberV6 {
		return m, fmt.Errorf("level: member record of unknown version")
	}
	r := codec.Reader{B: b[1:]}
	m.Level, m.Since, m.TermEnd, m.Lifetime = r.String(), r.Time(), r.Time(), r.Decimal()
	for n := r.Uint(); n > 0 && r.Err() == nil; n-- {
		m.Frozen = append(m.Frozen, Frozen{Level: r.String(), Since: r.Time(), Deadline: r.Time(), Earned: r.Decimal()})
	}
	for n := r.Uint(); n > 0 && r.Err() == nil; n-- {
		m.Gifted = append(m.Gifted, r.String())
	}
	for n := r.Uint(); n > 0 && r.Err() == nil; n-- {
		m.Plans = append(m.Plans, Held{Plan: r.String(), Since: r.Time(), Expires: r.Time()})
	}
	m.Seq = r.Uint()
	if b[0] >= memberV2 {
		y, mo, d := r.Uint(), r.Uint(), r.Uint()
		if y > 1<<20 || mo > 12 || d > 31 {
			return memberState{}, fmt.Errorf("level: member record: bad day %d-%d-%d", y, mo, d)
		}
		m.Day = rule.Date{Year: int(y), Month: time.Month(mo), Day: int(d)}
		m.DayGrowth = r.Decimal()
	}
	if b[0] >= memberV3 { // version 3's have no last refusal: the next event asks for them
		for n := r.Uint(); n > 0 && r.Err() == nil; n-- {
			o := owed{Level: r.String(), Reward: r.String()}
			if b[0] >= memberV4 {
				o.Refused, o.Version, o.Fingerprint = r.Time(), r.Uint(), r.Uint()
			}
			if b[0] == memberV6 {
				k := r.Uint()
				if k > math.MaxInt32 { // no level lists so many gifts; an int anywhere
					return memberState{}, fmt.Errorf("level: member record: gift owed %s of %s at place %d", o.Reward, o.Level, k)
				}
				o.N = int(k)
			}
			m.Owed = append(m.Owed, o)
		}
		if b[0] < memberV6 {
			numberOwed(m.Owed)
		}
	}
	if b[0] >= memberV5 {
		m.PlanChanged = r.Time()
	}
	if err := r.Err(); err != nil {
		return memberState{}, fmt.Errorf("level: member record: %w", err)
	}
	if len(r.B) != 0 { // a byte flipped or appended: a version 2 read as 1 would lose its day
		return memberState{}, fmt.Errorf("level: member record: %d bytes after the record", len(r.B))
	}
	if err := m.check(); err != nil {
		return memberState{}, err
	}
	return m, nil
}

func decodeMemberJSON(b []byte) (memberState, error) {
	var m memberState
	if err := json.Unmarshal(b, &m); err != nil {
		return memberState{}, err
	}
	numberOwed(m.Owed)
	if err := m.check(); err != nil {
		return memberState{}, err
	}
	return m, nil
}

// check refuses a damaged record: a gift owed without its refusal's time
// (owed.check), a gift owed twice (of one level, target and place: it
// would be paid twice), a lifetime growth below zero, which no writer
// writes (it is floored at zero), or a time the record cannot hold
// (checkTimes). A freeze's earned growth may be negative (see Earn).
func (m *memberState) check() error {
	if m.Lifetime.IsNegative() {
		return fmt.Errorf("level: member record: lifetime growth %s below zero", m.Lifetime)
	}
	if err := m.checkTimes(); err != nil {
		return fmt.Errorf("level: member record: %w", err)
	}
	for i, o := range m.Owed {
		if err := o.check(); err != nil {
			return fmt.Errorf("level: member record: %w", err)
		}
		if slices.ContainsFunc(m.Owed[:i], func(p owed) bool { return p.Level == o.Level && p.Reward == o.Reward && p.N == o.N }) {
			return fmt.Errorf("level: member record: gift owed %s of %s at place %d twice", o.Reward, o.Level, o.N)
		}
	}
	return nil
}

// checkTimes refuses a time out of the years 1678 to 2261 (keys.InRange):
// the binary record holds a time as its nanoseconds since 1970, which
// overflow outside them, so one read from a JSON record ("0000-01-01")
// would be written back as another instant (1753-08-29). No writer
// writes one: an event's time is in the years event.MinYear to
// event.MaxYear, and a time derived from it (a term's end, a freeze's
// deadline, a plan's expiry) that the store cannot hold fails the unit
// when it is scheduled (due.Schedule). So it is damage, as for the other
// stored times (a release time in points, a task's latest completion).
func (m *memberState) checkTimes() error {
	switch {
	case outOfRange(m.Since):
		return fmt.Errorf("since %s out of range", m.Since.Format(time.RFC3339Nano))
	case outOfRange(m.TermEnd):
		return fmt.Errorf("term end %s out of range", m.TermEnd.Format(time.RFC3339Nano))
	case outOfRange(m.PlanChanged):
		return fmt.Errorf("plan change %s out of range", m.PlanChanged.Format(time.RFC3339Nano))
	}
	for _, f := range m.Frozen {
		if outOfRange(f.Since) || outOfRange(f.Deadline) {
			return fmt.Errorf("frozen %s since %s, deadline %s: out of range", f.Level, f.Since.Format(time.RFC3339Nano), f.Deadline.Format(time.RFC3339Nano))
		}
	}
	for _, h := range m.Plans {
		if outOfRange(h.Since) || outOfRange(h.Expires) {
			return fmt.Errorf("plan %s since %s, expiring %s: out of range", h.Plan, h.Since.Format(time.RFC3339Nano), h.Expires.Format(time.RFC3339Nano))
		}
	}
	for _, o := range m.Owed {
		if outOfRange(o.Refused) {
			return fmt.Errorf("gift owed %s of %s refused at %s: out of range", o.Reward, o.Level, o.Refused.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// outOfRange reports whether t is neither zero nor in keys.InRange.
func outOfRange(t time.Time) bool { return !t.IsZero() && !keys.InRange(t) }

// A member's level history grows by a record for every change of level,
// kept for as long as the member, so it is stored in binary form too
// (first byte: version). Records an older version wrote as JSON are still
// read. Times are stored in UTC: History gives them in the program's
// zone.
const historyV1 = 1

// appendRecord appends r's history record to b.
func appendRecord(b []byte, r *Record) []byte {
	w := codec.Writer{B: append(b, historyV1)}
	w.Uint(r.Seq)
	w.Time(r.Time)
	w.String(string(r.Cause))
	w.String(r.From)
	w.String(r.To)
	w.Time(r.TermEnd)
	w.String(r.Event)
	w.String(r.Operator)
	w.String(r.Note)
	if r.Window == nil {
		w.B = append(w.B, 0)
	} else {
		w.B = append(w.B, 1)
		w.Decimal(*r.Window)
	}
	w.String(r.Plan)
	w.Time(r.Expires)
	return w.B
}

// decodeRecord reads a history record written by appendRecord or, as
// JSON, by an older version. A record of a cause that is none of the
// causes (or of none) is refused: it is damaged.
func decodeRecord(b []byte) (Record, error) {
	rec, err := decodeAnyRecord(b)
	switch {
	case err != nil:
		return Record{}, err
	case !rec.Cause.valid():
		return Record{}, fmt.Errorf("level: history record: unknown cause %q", rec.Cause)
	}
	// A time the binary form cannot hold (see checkTimes) is damage: a
	// JSON record holding one would be written back as another instant.
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"time", rec.Time}, {"term end", rec.TermEnd}, {"expiry", rec.Expires}} {
		if outOfRange(t.at) {
			return Record{}, fmt.Errorf("level: history record: %s %s out of range", t.name, t.at.Format(time.RFC3339Nano))
		}
	}
	return rec, nil
}

// decodeAnyRecord is decodeRecord, whatever the record's cause.
func decodeAnyRecord(b []byte) (Record, error) {
	var rec Record
	if len(b) > 0 && b[0] == '{' {
		err := json.Unmarshal(b, &rec)
		return rec, err
	}
	if len(b) == 0 || b[0] != historyV1 {
		return Record{}, fmt.Errorf("level: history record of unknown version")
	}
	r := codec.Reader{B: b[1:]}
	rec.Seq, rec.Time = r.Uint(), r.Time()
	rec.Cause, rec.From, rec.To = Cause(r.String()), r.String(), r.String()
	rec.TermEnd = r.Time()
	rec.Event, rec.Operator, rec.Note = r.String(), r.String(), r.String()
	switch window := r.Uint(); {
	case r.Err() != nil:
	case window == 1:
		d := r.Decimal()
		rec.Window = &d
	case window != 0:
		return Record{}, fmt.Errorf("level: history record: window flag %d", window)
	}
	rec.Plan, rec.Expires = r.String(), r.Time()
	if err := r.Err(); err != nil {
		return Record{}, fmt.Errorf("level: history record: %w", err)
	}
	if len(r.B) != 0 {
		return Record{}, fmt.Errorf("level: history record: %d bytes after the record", len(r.B))
	}
	return rec, nil
}
