package tag

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Buckets the package keeps its state in.
const (
	bMembers  = "tag.members"  // member → ""
	bAssigned = "tag.assigned" // member \0 tag → Assigned
	bIndex    = "tag.index"    // tag \0 member → ""
	bCount    = "tag.count"    // tag → members holding it (an engine total)
	bStats    = "tag.stats"    // member → the member's state (see statsV2)
	bDays     = "tag.days"     // member \0 date → Day, of the days before the state's (see statsV2)
	bAttrs    = "tag.attrs"    // member → attributes
	bEdge     = "tag.edge"     // member → scheduled window edge
)

// Assigned is one tag of a member: which, since when and why.
type Assigned struct {
	Tag string `json:"tag"`
	// Manual is set for a tag added by an operator; By is then the
	// operator. A rule's tag has By "rule".
	Manual bool   `json:"manual,omitempty"`
	By     string `json:"by"`
	// At is when the member got the tag, in the program's zone.
	At time.Time `json:"at"`
	// Event is the event or request that gave the tag.
	Event string `json:"event,omitempty"`
	Note  string `json:"note,omitempty"`
}

// AppendJSON appends a's JSON to b, as json.Marshal writes it, without
// reflection: every event that gives a member a rule's tag stores one.
// A time json.Marshal refuses (a year outside 0–9999) is left to it.
func (a Assigned) AppendJSON(b []byte) ([]byte, bool) {
	if y := a.At.Year(); y < 0 || y > 9999 {
		return b, false
	}
	o := engine.JSONObject{B: append(b, '{')}
	o.Str("tag", a.Tag, false)
	o.Bool("manual", a.Manual, true)
	o.Str("by", a.By, false)
	o.Time("at", a.At, false)
	o.Str("event", a.Event, true)
	o.Str("note", a.Note, true)
	return append(o.B, '}'), true
}

func pair(a, b string) []byte { return []byte(a + "\x00" + b) }

// after returns the scan start for keys prefix\0m with m > after.
func after(prefix, after string) []byte {
	if after == "" {
		return pair(prefix, "")
	}
	return append(pair(prefix, after), 0)
}

// touch records that the program has seen member, so a recompute reaches
// it.
func touch(tx store.Tx, member string) error {
	if _, err := tx.Get(bMembers, []byte(member)); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return tx.Put(bMembers, []byte(member), []byte{})
}

// knownMembers returns up to n known members after the member after, in
// order.
func knownMembers(tx store.Tx, after string, n int) ([]string, error) {
	var start []byte
	if after != "" {
		start = append([]byte(after), 0)
	}
	var out []string
	err := tx.Scan(bMembers, start, nil, false, func(k, _ []byte) error {
		if len(out) == n {
			return store.StopScan
		}
		out = append(out, string(k))
		return nil
	})
	return out, err
}

// loadStats returns a member's statistics (zero when there are none).
func loadStats(tx store.Tx, member string) (Stats, error) {
	raw, err := tx.Get(bStats, []byte(member))
	if errors.Is(err, store.ErrNotFound) {
		return Stats{}, nil
	}
	if err != nil {
		return Stats{}, err
	}
	s, err := decodeState(raw)
	if err != nil {
		return Stats{}, fmt.Errorf("record %s %q: %w", bStats, member, err)
	}
	return s.stats, nil
}

// addDay adds an order to the member's record of its date (in the
// program's zone).
func addDay(tx store.Tx, member string, o Order, date rule.Date) error {
	key := pair(member, date.String())
	d := Day{Date: date}
	raw, err := tx.Get(bDays, key)
	switch {
	case err == nil:
		if d, err = decodeDay(raw); err != nil {
			return fmt.Errorf("record %s %q: %w", bDays, key, err)
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	d.Orders++
	d.Amount = codec.Add(d.Amount, o.Amount)
	return tx.Put(bDays, key, appendDay(nil, &d))
}

// putDays writes the member's records of days.
func putDays(tx store.Tx, member string, days []Day) error {
	for i := range days {
		if err := tx.Put(bDays, pair(member, days[i].Date.String()), appendDay(nil, &days[i])); err != nil {
			return err
		}
	}
	return nil
}

// loadDays returns the member's records of days from..to (inclusive), in
// order.
func loadDays(tx store.Tx, member string, from, to rule.Date) ([]Day, error) {
	var out []Day
	err := tx.Scan(bDays, pair(member, from.String()), pair(member, to.AddDays(1).String()), false, func(k, v []byte) error {
		d, err := decodeDay(v)
		if err != nil {
			return fmt.Errorf("record %s %q: %w", bDays, k, err)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// loadAttrs returns a member's profile attributes: nil when there are
// none (most members: every event reads them).
func loadAttrs(tx store.Tx, member string) (map[string]event.Value, error) {
	var m map[string]event.Value
	_, err := record.Get(tx, bAttrs, []byte(member), &m)
	return m, err
}

// saveAttrs stores a member's profile attributes.
func saveAttrs(tx store.Tx, member string, attrs map[string]event.Value) error {
	return record.Put(tx, bAttrs, []byte(member), attrs)
}

// CheckAttrs checks attribute values against the declarations, as
// SetProfile takes them: a value of empty kind removes the attribute and
// needs only be declared. The error wraps ErrUnknownAttribute,
// ErrAttributeType or event.ErrOutOfRange (a value below the declared
// minimum) and names each attribute at fault ("attributes.shoe: ..."), in
// name order, as an event's check does.
func (d Definition) CheckAttrs(attrs map[string]event.Value) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[name]
		var decl *event.Attr
		for i := range d.Attributes {
			if d.Attributes[i].Name == name {
				decl = &d.Attributes[i]
			}
		}
		switch {
		case decl == nil:
			errs = append(errs, fmt.Errorf("attributes.%s: %w", name, ErrUnknownAttribute))
		case v.Kind == "": // a removal
		case v.Kind != decl.Kind:
			errs = append(errs, fmt.Errorf("attributes.%s: %w: got %s, want %s", name, ErrAttributeType, v.Kind, decl.Kind))
		default:
			if err := decl.CheckValue(v); err != nil { // below its declared minimum
				errs = append(errs, fmt.Errorf("attributes.%s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// loadTags returns a member's tags in name order. A record that is not
// its key's tag's, or has no time, is damage (store.ErrCorrupt): every
// record written names its tag and when it was given.
func loadTags(tx store.Tx, member string) ([]Assigned, error) {
	var out []Assigned
	p := pair(member, "")
	err := tx.Scan(bAssigned, p, store.PrefixEnd(p), false, func(k, v []byte) error {
		var a Assigned
		if err := record.Decode(bAssigned, k, v, &a); err != nil {
			return err
		}
		switch {
		case a.Tag != string(k[len(p):]):
			return record.Corrupt(bAssigned, k, fmt.Errorf("the record is of tag %q", a.Tag))
		case a.At.IsZero():
			return record.Corrupt(bAssigned, k, errors.New("the record has no time"))
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// tagNames returns the names of a member's tags, in order.
func tagNames(tx store.Tx, member string) ([]string, error) {
	var out []string
	p := pair(member, "")
	err := tx.Scan(bAssigned, p, store.PrefixEnd(p), false, func(k, _ []byte) error {
		out = append(out, string(k[len(p):]))
		return nil
	})
	return out, err
}

var (
	one      = decimal.NewFromInt(1)
	minusOne = decimal.NewFromInt(-1)
)

// give gives the member a tag it does not have, keeping the index and
// counts; state.give calls it, keeping the member's state.
func give(u *engine.Unit, member string, a Assigned) error {
	tx := u.Tx()
	if err := record.Put(tx, bAssigned, pair(member, a.Tag), a); err != nil {
		return err
	}
	if err := tx.Put(bIndex, pair(a.Tag, member), []byte{}); err != nil {
		return err
	}
	return u.AddTotal(bCount, []byte(a.Tag), member, one)
}

// take takes from the member a tag it has, keeping the index and counts;
// state.take calls it, keeping the member's state.
func take(u *engine.Unit, member, tag string) error {
	tx := u.Tx()
	if err := tx.Delete(bAssigned, pair(member, tag)); err != nil {
		return err
	}
	if err := tx.Delete(bIndex, pair(tag, member)); err != nil {
		return err
	}
	return u.AddTotal(bCount, []byte(tag), member, minusOne)
}

// count returns the number of members with the tag.
func count(tx store.Tx, tag string) (int64, error) {
	n, err := engine.Count(tx, bCount, []byte(tag))
	if err == nil {
		err = checkCount(tag, n)
	}
	return n, err
}

// counts adds to out the number of members holding each tag counted in
// bCount: every tag a member ever held, declared or not.
func counts(tx store.Tx, out map[string]int64) error {
	return total.Counts(tx, bCount, nil, nil, func(name []byte, n int64) error {
		if err := checkCount(string(name), n); err != nil {
			return err
		}
		out[string(name)] += n
		return nil
	})
}

// checkCount refuses a negative number of members holding a tag: the
// total is only ever raised by a member gaining the tag and lowered by
// one losing it, so only damage takes it below zero.
func checkCount(tag string, n int64) error {
	if n < 0 {
		return fmt.Errorf("%w: %s %q: %d members", store.ErrCorrupt, bCount, tag, n)
	}
	return nil
}

// tagged returns up to n members with the tag after the member after, in
// order, from the index.
func tagged(tx store.Tx, tag, afterMember string, n int) ([]string, error) {
	var out []string
	p := pair(tag, "")
	err := tx.Scan(bIndex, after(tag, afterMember), store.PrefixEnd(p), false, func(k, _ []byte) error {
		if len(out) == n {
			return store.StopScan
		}
		out = append(out, string(k[len(p):]))
		return nil
	})
	return out, err
}

// edge is the window edge scheduled for a member: when, and when it was
// scheduled (the stamp of its due item, see due.Stamp). A record written
// before due items were stamped has no Scheduled: its item is the
// unstamped kind's, keyed by the member alone.
type edge struct {
	At, Scheduled time.Time
}

// item returns the kind and ID of the edge's due item.
func (e edge) item(member string) (kind, id string) {
	if e.Scheduled.IsZero() {
		return dueWindow, member
	}
	return dueWindowAt, due.Stamp(e.Scheduled, member)
}

// edgeV1 starts an edge record: its two times follow, 8 bytes each
// (keys.TimeU64). A record written before stamps is the edge's time in
// JSON, which starts with a quote. Edges are now kept in the member's
// state (see statsV2); these records are read for a state an older
// version wrote, and deleted when it is written back.
const edgeV1 = 1

// loadEdge returns the window edge scheduled for the member (a zero At if
// none).
func loadEdge(tx store.Tx, member string) (edge, error) {
	var e edge
	raw, err := tx.Get(bEdge, []byte(member))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return e, nil
	case err != nil:
		return e, err
	case len(raw) == 17 && raw[0] == edgeV1:
		e.At, e.Scheduled = keys.U64Time(keys.U64(raw, 1)), keys.U64Time(keys.U64(raw, 9))
		return e, nil
	case len(raw) > 0 && raw[0] == '"':
		if err := json.Unmarshal(raw, &e.At); err == nil {
			return e, nil
		}
	}
	return e, fmt.Errorf("%w: window edge of %q: %q", errRecord, member, raw)
}
