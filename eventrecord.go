package membership

import (
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
)

// errCorruptRecord is wrapped when a stored event record cannot be read.
var errCorruptRecord = errors.New("membership: corrupt event record")

// eventRecordV1 is the first byte of an event record.
const eventRecordV1 = 1

// eventRecord is what is kept of a processed event, to answer a repeat:
// the event itself, the keys of its ledger entries and its changes as
// already encoded for the feed (so nothing is encoded twice). It is stored
// in a binary form: it is written for every event.
type eventRecord struct {
	Event   event.Event
	Entries [][]byte
	Changes [][]byte
}

func newRecord(ev event.Event, t *txn) eventRecord {
	return eventRecord{Event: ev, Changes: t.feed.raw, Entries: ledger.RecordKeys(t.out.Entries)}
}

func (rec eventRecord) encode() []byte {
	n := 64
	for _, c := range rec.Changes {
		n += len(c) + 2
	}
	w := codec.Writer{B: make([]byte, 0, n+40*len(rec.Entries))}
	w.B = append(w.B, eventRecordV1)
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
		w.String(string(k))
	}
	w.Uint(uint64(len(rec.Changes)))
	for _, c := range rec.Changes {
		w.Uint(uint64(len(c)))
		w.B = append(w.B, c...)
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

func decodeValue(r *codec.Reader) event.Value {
	v := event.Value{Kind: event.Kind(r.String())}
	switch v.Kind {
	case event.String:
		v.Str = r.String()
	case event.Decimal:
		v.Dec = r.Decimal()
	case event.Integer:
		v.Int = int64(r.Uint())
	case event.Bool:
		v.Bool = r.Uint() == 1
	case event.Time:
		v.Time = r.Time()
	case event.Strings:
		n := r.Uint()
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			v.Strings = append(v.Strings, r.String())
		}
	}
	return v
}

// bytesField reads a length-prefixed byte string, copied.
func bytesField(r *codec.Reader) []byte {
	return []byte(r.String())
}

func decodeRecord(b []byte) (eventRecord, error) {
	if len(b) == 0 || b[0] != eventRecordV1 {
		return eventRecord{}, fmt.Errorf("%w: version", errCorruptRecord)
	}
	r := codec.Reader{B: b[1:]}
	var rec eventRecord
	ev := event.Event{ID: r.String(), Member: r.String(), Type: r.String(), Time: r.Time()}
	if n := r.Uint(); n > 0 && r.Err() == nil {
		ev.Attrs = make(event.Attrs, n)
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			name := r.String()
			ev.Attrs[name] = decodeValue(&r)
		}
	}
	rec.Event = ev
	for n, i := r.Uint(), uint64(0); i < n && r.Err() == nil; i++ {
		rec.Entries = append(rec.Entries, bytesField(&r))
	}
	for n, i := r.Uint(), uint64(0); i < n && r.Err() == nil; i++ {
		rec.Changes = append(rec.Changes, bytesField(&r))
	}
	if err := r.Err(); err != nil {
		return eventRecord{}, fmt.Errorf("%w: %v", errCorruptRecord, err)
	}
	return rec, nil
}

// outcome rebuilds the first outcome of a recorded event.
func (rec eventRecord) outcome(tx store.Tx, loc *time.Location) (*Outcome, error) {
	out := &Outcome{Event: rec.Event.ID, Member: rec.Event.Member, Time: rec.Event.Time, Duplicate: true}
	entries, err := ledger.New(tx, loc).EntriesAt(rec.Entries)
	if err != nil {
		return nil, err
	}
	out.Entries = entries
	for _, raw := range rec.Changes {
		c, err := decodeChange(raw)
		if err != nil {
			return nil, err
		}
		out.Changes = append(out.Changes, c)
	}
	return out, nil
}
