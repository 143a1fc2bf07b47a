package tag

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// Buckets the package keeps its state in.
const (
	bMembers  = "tag.members"  // member → ""
	bAssigned = "tag.assigned" // member \0 tag → Assigned
	bIndex    = "tag.index"    // tag \0 member → ""
	bCount    = "tag.count"    // tag → count (uint64)
	bStats    = "tag.stats"    // member → Stats
	bDays     = "tag.days"     // member \0 date → Day
	bAttrs    = "tag.attrs"    // member → attributes
	bEdge     = "tag.edge"     // member → scheduled window edge
)

// Assigned is one tag of a member: which, since when and why.
type Assigned struct {
	Tag string `json:"tag"`
	// Manual is set for a tag added by an operator; By is then the
	// operator. A rule's tag has By "rule".
	Manual bool      `json:"manual,omitempty"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	// Event is the event or request that gave the tag.
	Event string `json:"event,omitempty"`
	Note  string `json:"note,omitempty"`
}

func pair(a, b string) []byte { return []byte(a + "\x00" + b) }

// after returns the scan start for keys prefix\0m with m > after.
func after(prefix, after string) []byte {
	if after == "" {
		return pair(prefix, "")
	}
	return append(pair(prefix, after), 0)
}

// Touch records that the program has seen member, so a recompute reaches
// it.
func Touch(tx store.Tx, member string) error {
	if _, err := tx.Get(bMembers, []byte(member)); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return tx.Put(bMembers, []byte(member), []byte{})
}

// Members returns up to n known members after the member after, in order.
func Members(tx store.Tx, after string, n int) ([]string, error) {
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

// LoadStats returns a member's statistics.
func LoadStats(tx store.Tx, member string) (Stats, error) {
	var s Stats
	_, err := record.Get(tx, bStats, []byte(member), &s)
	return s, err
}

// SaveStats stores a member's statistics.
func SaveStats(tx store.Tx, member string, s Stats) error {
	return record.Put(tx, bStats, []byte(member), s)
}

// AddDay adds an order to the member's bucket of its day in loc.
func AddDay(tx store.Tx, member string, o Order, loc *time.Location) error {
	date := rule.DateOf(o.Time, loc)
	key := pair(member, date.String())
	d := Day{Date: date}
	if _, err := record.Get(tx, bDays, key, &d); err != nil {
		return err
	}
	d.Orders++
	d.Amount = d.Amount.Add(o.Amount)
	return record.Put(tx, bDays, key, d)
}

// Days returns the member's order days from..to (inclusive), in order.
func Days(tx store.Tx, member string, from, to rule.Date) ([]Day, error) {
	var out []Day
	err := tx.Scan(bDays, pair(member, from.String()), pair(member, to.AddDays(1).String()), false, func(_, v []byte) error {
		var d Day
		if err := json.Unmarshal(v, &d); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// LoadAttrs returns a member's profile attributes.
func LoadAttrs(tx store.Tx, member string) (map[string]event.Value, error) {
	m := map[string]event.Value{}
	_, err := record.Get(tx, bAttrs, []byte(member), &m)
	return m, err
}

// SaveAttrs stores a member's profile attributes.
func SaveAttrs(tx store.Tx, member string, attrs map[string]event.Value) error {
	return record.Put(tx, bAttrs, []byte(member), attrs)
}

// CheckAttrs checks attribute values against the declarations; the error
// wraps ErrUnknownAttribute or ErrAttributeType and names the attribute.
func (d Definition) CheckAttrs(attrs map[string]event.Value) error {
	var errs []error
	for name, v := range attrs {
		var decl *event.Attr
		for i := range d.Attributes {
			if d.Attributes[i].Name == name {
				decl = &d.Attributes[i]
			}
		}
		switch {
		case decl == nil:
			errs = append(errs, errors.Join(ErrUnknownAttribute, errors.New("attribute "+name)))
		case v.Kind != decl.Kind:
			errs = append(errs, errors.Join(ErrAttributeType, errors.New("attribute "+name+": got "+string(v.Kind)+", want "+string(decl.Kind))))
		}
	}
	return errors.Join(errs...)
}

// Tags returns a member's tags in name order.
func Tags(tx store.Tx, member string) ([]Assigned, error) {
	var out []Assigned
	p := pair(member, "")
	err := tx.Scan(bAssigned, p, store.PrefixEnd(p), false, func(_, v []byte) error {
		var a Assigned
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// TagNames returns the names of a member's tags, in order.
func TagNames(tx store.Tx, member string) ([]string, error) {
	var out []string
	p := pair(member, "")
	err := tx.Scan(bAssigned, p, store.PrefixEnd(p), false, func(k, _ []byte) error {
		out = append(out, string(k[len(p):]))
		return nil
	})
	return out, err
}

// Has reports whether the member has the tag.
func Has(tx store.Tx, member, tag string) (Assigned, bool, error) {
	var a Assigned
	ok, err := record.Get(tx, bAssigned, pair(member, tag), &a)
	return a, ok, err
}

func exists(tx store.Tx, member, tag string) (bool, error) {
	_, err := tx.Get(bAssigned, pair(member, tag))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Assign gives the member a tag, keeping the index and counts; it reports
// false when the member already had it (then nothing changes).
func Assign(tx store.Tx, member string, a Assigned) (bool, error) {
	if ok, err := exists(tx, member, a.Tag); err != nil || ok {
		return false, err
	}
	if err := record.Put(tx, bAssigned, pair(member, a.Tag), a); err != nil {
		return false, err
	}
	if err := tx.Put(bIndex, pair(a.Tag, member), []byte{}); err != nil {
		return false, err
	}
	return true, addCount(tx, a.Tag, 1)
}

// Unassign takes a tag from the member; it reports false when the member
// did not have it.
func Unassign(tx store.Tx, member, tag string) (bool, error) {
	if ok, err := exists(tx, member, tag); err != nil || !ok {
		return false, err
	}
	if err := tx.Delete(bAssigned, pair(member, tag)); err != nil {
		return false, err
	}
	if err := tx.Delete(bIndex, pair(tag, member)); err != nil {
		return false, err
	}
	return true, addCount(tx, tag, -1)
}

func addCount(tx store.Tx, tag string, delta int64) error {
	n, err := Count(tx, tag)
	if err != nil {
		return err
	}
	return tx.Put(bCount, []byte(tag), binary.BigEndian.AppendUint64(nil, uint64(max(n+delta, 0))))
}

// Count returns the number of members with the tag.
func Count(tx store.Tx, tag string) (int64, error) {
	v, err := tx.Get(bCount, []byte(tag))
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil || len(v) != 8 {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Tagged returns up to n members with the tag after the member after, in
// order, from the index.
func Tagged(tx store.Tx, tag, afterMember string, n int) ([]string, error) {
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

// LoadEdge returns the window edge scheduled for the member (zero if none).
func LoadEdge(tx store.Tx, member string) (time.Time, error) {
	var t time.Time
	_, err := record.Get(tx, bEdge, []byte(member), &t)
	return t, err
}

// SaveEdge records the window edge scheduled for the member; a zero time
// deletes the record.
func SaveEdge(tx store.Tx, member string, at time.Time) error {
	if at.IsZero() {
		return tx.Delete(bEdge, []byte(member))
	}
	return record.Put(tx, bEdge, []byte(member), at)
}
