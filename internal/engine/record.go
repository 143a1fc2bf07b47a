package engine

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
)

// eventRecordV2 is the first byte of an event record (version 1 named one
// feed record by position).
const eventRecordV2 = 2

// eventRecord is what is kept of a processed event, to answer a repeat:
// the event itself, the keys of its ledger entries and the keys its feed
// records were written under (see feedUnit), so nothing is stored twice. It is stored in a binary form: it is written
// for every event, and a small record keeps the events bucket dense.
type eventRecord struct {
	Event   event.Event
	Entries [][]byte
	// Feed holds the keys of the event's pending feed records (one per
	// member it changed; none when it changed nothing).
	Feed [][]byte
}

func newRecord(ev event.Event, u *Unit) eventRecord {
	rec := eventRecord{Event: ev}
	if s := u.scratch; s != nil {
		// The keys live in the unit's scratch until the record is encoded.
		rec.Entries, _ = ledger.AppendRecordKeys(s.rkeys[:0], s.rbuf[:0], u.out.Entries)
	} else {
		rec.Entries = ledger.RecordKeys(u.out.Entries)
	}
	rec.Feed = u.feed.keys
	return rec
}

// appendTo appends the record's stored form to b.
func (rec eventRecord) appendTo(b []byte) []byte {
	w := codec.Writer{B: b}
	w.B = append(w.B, eventRecordV2)
	ev := rec.Event
	w.String(ev.ID)
	w.String(ev.Member)
	w.String(ev.Type)
	w.Time(ev.Time)
	w.Uint(uint64(len(ev.Attrs)))
	for name, v := range ev.Attrs {
		w.String(name)
		encodeValue(&w, v)
	}
	w.Uint(uint64(len(rec.Entries)))
	for _, k := range rec.Entries {
		w.Bytes(k)
	}
	w.Uint(uint64(len(rec.Feed)))
	for _, k := range rec.Feed {
		w.Bytes(k)
	}
	return w.B
}

func encodeValue(w *codec.Writer, v event.Value) {
	w.String(string(v.Kind))
	switch v.Kind {
	case event.String:
		w.String(v.Str)
	case event.Decimal:
		w.Decimal(v.Dec)
	case event.Integer:
		w.Uint(uint64(v.Int))
	case event.Bool:
		if v.Bool {
			w.Uint(1)
		} else {
			w.Uint(0)
		}
	case event.Time:
		w.Time(v.Time)
	case event.Strings:
		w.Uint(uint64(len(v.Strings)))
		for _, s := range v.Strings {
			w.String(s)
		}
	}
}

// decodeValue reads a value encodeValue wrote; a kind no value has, or a
// flag other than 0 or 1, is damage (ok false): read on, it would be a
// value the event did not hold.
func decodeValue(r *codec.Reader) (v event.Value, ok bool) {
	v = event.Value{Kind: event.Kind(r.String())}
	switch v.Kind {
	case event.String:
		v.Str = r.String()
	case event.Decimal:
		v.Dec = r.Decimal()
	case event.Integer:
		v.Int = int64(r.Uint())
	case event.Bool:
		b := r.Uint()
		v.Bool = b == 1
		return v, b <= 1
	case event.Time:
		v.Time = r.Time()
	case event.Strings:
		n := r.Uint()
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			v.Strings = append(v.Strings, r.String())
		}
	default:
		return v, false
	}
	return v, true
}

// bytesField reads a length-prefixed byte string, copied.
func bytesField(r *codec.Reader) []byte {
	return []byte(r.String())
}

func decodeRecord(b []byte) (eventRecord, error) {
	if len(b) == 0 || b[0] != eventRecordV2 {
		return eventRecord{}, fmt.Errorf("%w: version", ErrCorrupt)
	}
	r := codec.Reader{B: b[1:]}
	var rec eventRecord
	ev := event.Event{ID: r.String(), Member: r.String(), Type: r.String(), Time: r.Time()}
	if n := r.Count(2); n > 0 { // an attribute is a name and a value, a byte each at least
		ev.Attrs = make(event.Attrs, n)
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			name := r.String()
			v, ok := decodeValue(&r)
			if r.Err() != nil {
				break
			}
			if _, twice := ev.Attrs[name]; twice || !ok {
				return eventRecord{}, fmt.Errorf("%w: attribute %q", ErrCorrupt, name)
			}
			ev.Attrs[name] = v
		}
	}
	rec.Event = ev
	for n, i := r.Uint(), uint64(0); i < n && r.Err() == nil; i++ {
		rec.Entries = append(rec.Entries, bytesField(&r))
	}
	for n, i := r.Uint(), uint64(0); i < n && r.Err() == nil; i++ {
		rec.Feed = append(rec.Feed, bytesField(&r))
	}
	if err := r.Err(); err != nil {
		return eventRecord{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(r.B) != 0 {
		return eventRecord{}, fmt.Errorf("%w: %d bytes after the record", ErrCorrupt, len(r.B))
	}
	return rec, nil
}

// outcome rebuilds the first outcome of a recorded event.
func (rec eventRecord) outcome(tx store.Tx, loc *time.Location) (*change.Outcome, error) {
	out := &change.Outcome{Event: rec.Event.ID, Member: rec.Event.Member, Time: rec.Event.Time, Duplicate: true}
	entries, err := ledger.New(tx, loc).EntriesAt(rec.Entries)
	if err != nil {
		return nil, err
	}
	out.Entries = entries
	if out.Changes, err = recordChanges(tx, rec.Feed); err != nil {
		return nil, err
	}
	return out, nil
}
