package engine

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/store"
)

// KindOpening is the ledger kind of an opening balance (a member's points,
// growth or stored value migrated from another system), posted against
// the asset's pool of that name, so that the ledger's identity holds after
// an import.
const KindOpening ledger.Kind = "opening"

// ErrKnownMember is wrapped by the refusal of an opening state for a
// member the program already has a history of.
var ErrKnownMember = fmt.Errorf("%w: the member is already known", event.ErrInvalidArgument)

// Opener is a part that sets its share of a member's opening state
// (migrate.Member): the points lots, the level, the coupons held.
// CheckOpen checks its share without the store, before any unit of work
// (so that a malformed row writes nothing, not even a refusal in the
// audit trail): its errors name the field (migrate.FieldError) and wrap
// event.ErrInvalidArgument. Open sets the share of a row that passed
// CheckOpen, and refuses what only the store can tell (a member already
// known, a code another coupon has).
type Opener interface {
	CheckOpen(m *migrate.Member) error
	Open(u *Unit, m *migrate.Member) error
}

// Recorder is a part that keeps records of members: MemberRecords
// appends to dst where the part keeps any of member's, a key or a range
// of keys of each of its buckets that holds them (store.Read), outside the
// ledger (Unit.Open reads the member's accounts itself). A member with a
// record in one of them is known to the program: Unit.Open refuses their
// opening state. A part lists every bucket it keeps a member's records
// in, unless another record it lists is always written with them.
type Recorder interface {
	MemberRecords(dst []store.Read, member string) []store.Read
}

// MemberRange is the read (for a Recorder) of the keys of bucket that
// begin with member's ID and a NUL, as keys.Builder.Str writes it.
func MemberRange(bucket, member string) store.Read {
	p := keys.New().Str(member)
	return store.Read{Bucket: bucket, Start: p, End: store.PrefixEnd(p)}
}

// CheckOpening runs each Opener part's CheckOpen on m, in the order the
// parts were added, and returns the first error.
func (e *Engine) CheckOpening(m *migrate.Member) error {
	for _, p := range e.parts {
		if o, ok := p.(Opener); ok {
			if err := o.CheckOpen(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// Open sets a member's opening state, each Opener part its share, in the
// order the parts were added. The member must be new to the program: one
// with a ledger account or a record a part keeps (Recorder), or erased,
// is refused (ErrKnownMember in a migrate.FieldError naming "member",
// ErrErased), before any part writes.
func (u *Unit) Open(m *migrate.Member) error {
	if accts, err := u.led.Accounts(m.Member); err != nil {
		return err
	} else if len(accts) > 0 {
		return migrate.Fieldf("member", "%w: %q has ledger accounts", ErrKnownMember, m.Member)
	}
	if bucket, err := u.e.recordOf(u.tx, m.Member); err != nil {
		return err
	} else if bucket != "" {
		return migrate.Fieldf("member", "%w: %q has records in %s", ErrKnownMember, m.Member, bucket)
	}
	for _, p := range u.e.parts {
		if o, ok := p.(Opener); ok {
			if err := o.Open(u, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordOf returns the bucket of a record the Recorder parts keep of
// member, "" when there is none. On a store whose reads are round trips,
// it reads them all in one first.
func (e *Engine) recordOf(tx store.Tx, member string) (string, error) {
	var reads []store.Read
	for _, p := range e.parts {
		if r, ok := p.(Recorder); ok {
			reads = r.MemberRecords(reads, member)
		}
	}
	if err := store.Preload(tx, reads...); err != nil {
		return "", err
	}
	for _, r := range reads {
		found := false
		if r.Key != nil {
			_, err := tx.Get(r.Bucket, r.Key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return "", err
			}
			found = err == nil
		} else if err := tx.Scan(r.Bucket, r.Start, r.End, false, func(_, _ []byte) error {
			found = true
			return store.StopScan
		}); err != nil {
			return "", err
		}
		if found {
			return r.Bucket, nil
		}
	}
	return "", nil
}

// MemberJSON returns m's JSON, byte for byte as json.Marshal writes it
// (the request's fingerprint: a retry's, written by any release, must
// match), or ok false when m holds what it leaves to json.Marshal: text
// that JSON escapes, a time json.Marshal refuses. An import fingerprints
// every row, and reflection was a third of the caller's share of it.
func MemberJSON(m *migrate.Member) (b []byte, ok bool) {
	o := memberJSON{JSONObject{B: make([]byte, 0, 384)}, true}
	o.B = append(o.B, '{')
	o.str("request_id", m.RequestID, true)
	o.str("member", m.Member, false)
	o.str("operator", m.Operator, true)
	o.time("at", m.At, false)
	if len(m.Profile) > 0 {
		o.field("profile")
		names := make([]string, 0, len(m.Profile))
		for name := range m.Profile {
			names = append(names, name)
		}
		slices.Sort(names) // as json.Marshal orders a map's keys
		o.object(func() {
			for _, name := range names {
				o.str(name, m.Profile[name], false)
			}
		})
	}
	o.array("tags", len(m.Tags), func(i int) { o.text(m.Tags[i]) })
	o.str("level", m.Level, true)
	o.time("term_end", m.TermEnd, true)
	o.Dec("growth", m.Growth, true)
	o.Dec("lifetime", m.Lifetime, true)
	o.array("growth_days", len(m.GrowthDays), func(i int) {
		gd := &m.GrowthDays[i]
		if !gd.Day.Valid() {
			o.ok = false // json.Marshal refuses it, or writes "" for the zero date
			return
		}
		o.object(func() {
			o.Str("day", gd.Day.String(), false)
			o.Dec("growth", gd.Growth, false)
		})
	})
	if m.GiftedLevels != nil { // omitzero: an empty list is written
		o.list("gifted_levels", len(m.GiftedLevels), func(i int) { o.text(m.GiftedLevels[i]) })
	}
	o.array("owed_gifts", len(m.OwedGifts), func(i int) {
		g := &m.OwedGifts[i]
		o.object(func() {
			o.str("level", g.Level, false)
			o.str("reward", g.Reward, false)
			o.Int("place", int64(g.Place), true)
		})
	})
	o.array("plans", len(m.Plans), func(i int) {
		pl := &m.Plans[i]
		o.object(func() {
			o.str("plan", pl.Plan, false)
			o.time("expires", pl.Expires, true)
			o.time("since", pl.Since, true)
		})
	})
	o.array("points", len(m.Points), func(i int) {
		p := &m.Points[i]
		o.object(func() {
			o.str("program", p.Program, false)
			o.lots("lots", p.Lots)
			o.lots("pending", p.Pending)
		})
	})
	if v := m.Value; v != nil {
		o.field("value")
		o.object(func() {
			o.Dec("balance", v.Balance, false)
			o.Dec("recharged", v.Recharged, true)
			o.Dec("spent", v.Spent, true)
			o.Dec("refunded", v.Refunded, true)
			o.Dec("withdrawn", v.Withdrawn, true)
		})
	}
	o.array("coupons", len(m.Coupons), func(i int) {
		c := &m.Coupons[i]
		o.object(func() {
			o.str("template", c.Template, false)
			o.time("expires", c.Expires, true)
			o.str("code", c.Code, true)
		})
	})
	o.array("achievements", len(m.Achievements), func(i int) {
		a := &m.Achievements[i]
		o.object(func() {
			o.str("achievement", a.Achievement, false)
			o.time("at", a.At, true)
			o.str("source", a.Source, true)
			o.str("by", a.By, true)
		})
	})
	o.B = append(o.B, '}')
	return o.B, o.ok
}

// memberJSON writes MemberJSON's fields; ok turns false at the first
// value json.Marshal would write otherwise.
type memberJSON struct {
	JSONObject
	ok bool
}

// plain reports whether json.Marshal writes s as is, between quotes:
// printable ASCII but the characters it escapes (quote, backslash, and
// <, > and & for HTML).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// text writes s as a JSON string.
func (o *memberJSON) text(s string) {
	if !plain(s) {
		o.ok = false
		return
	}
	o.B = append(append(append(o.B, '"'), s...), '"')
}

// field writes the name of the next field (a profile attribute's is the
// row's).
func (o *memberJSON) field(name string) {
	if !plain(name) {
		o.ok = false
		return
	}
	o.key(name)
}

func (o *memberJSON) str(name, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	o.field(name)
	o.text(v)
}

func (o *memberJSON) time(name string, t time.Time, omitZero bool) {
	if omitZero && t.IsZero() {
		return
	}
	_, off := t.Zone()
	if y := t.Year(); y < 0 || y > 9999 || off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		o.ok = false // json.Marshal refuses it, or writes it otherwise
		return
	}
	o.Time(name, t, false)
}

func (o *memberJSON) lots(name string, lots []migrate.Lot) {
	o.array(name, len(lots), func(i int) {
		l := &lots[i]
		o.object(func() {
			o.Dec("amount", l.Amount, false)
			o.time("expires", l.Expires, true)
			o.time("release", l.Release, true)
		})
	})
}

// array writes the field name, an array of n elements (none when n is
// 0: the fields are omitempty), each written by elem.
func (o *memberJSON) array(name string, n int, elem func(i int)) {
	if n == 0 {
		return
	}
	o.list(name, n, elem)
}

// list writes the field name and an array of n elements, each written by
// elem; "[]" when n is 0.
func (o *memberJSON) list(name string, n int, elem func(i int)) {
	o.field(name)
	o.B = append(o.B, '[')
	for i := range n {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		elem(i)
	}
	o.B = append(o.B, ']')
}

// object writes an object whose fields fields writes.
func (o *memberJSON) object(fields func()) {
	o.B = append(o.B, '{')
	fields()
	o.B = append(o.B, '}')
}
