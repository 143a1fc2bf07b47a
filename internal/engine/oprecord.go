package engine

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
)

// opRecordV2 is the first byte of a request's record in its binary form:
// the request's JSON (its fingerprint), the outcome's event, member and
// time, its changes in their feed form, and the keys of its ledger
// entries, which are read back from the ledger for a retry, as an event's
// are. JSON records (version 1, an object: first byte '{') written before
// are still read. An import writes one record per member, so the record
// skips JSON's encoding of every change and entry (a third of an
// import's time when it was JSON).
const opRecordV2 = 2

// appendOpRecord appends the stored form of a request's record to b.
func appendOpRecord(b []byte, fp []byte, out *change.Outcome) ([]byte, error) {
	w := codec.Writer{B: append(b, opRecordV2)}
	w.Time(out.Time)
	w.Bytes(fp)
	w.String(out.Event)
	w.String(out.Member)
	w.Uint(uint64(len(out.Changes)))
	var cb []byte
	for i := range out.Changes {
		var err error
		if cb, _, _, err = appendChange(cb[:0], &out.Changes[i], nil); err != nil {
			return b, err
		}
		w.Bytes(cb)
	}
	keys := ledger.RecordKeys(out.Entries)
	w.Uint(uint64(len(keys)))
	for _, k := range keys {
		w.Bytes(k)
	}
	return w.B, nil
}

// decodeOpRecord returns a request's fingerprint and first outcome from
// its record, either form.
func decodeOpRecord(tx store.Tx, loc *time.Location, v []byte) (fp []byte, out *change.Outcome, err error) {
	if len(v) > 0 && v[0] == '{' {
		var rec opRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if rec.Outcome == nil {
			return nil, nil, fmt.Errorf("%w: no outcome", ErrCorrupt)
		}
		return rec.Request, rec.Outcome, nil
	}
	if len(v) == 0 || v[0] != opRecordV2 {
		return nil, nil, fmt.Errorf("%w: request record version", ErrCorrupt)
	}
	r := codec.Reader{B: v[1:]}
	out = &change.Outcome{Time: r.Time()}
	fp = []byte(r.String())
	out.Event, out.Member = r.String(), r.String()
	n := r.Count(1)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		c, err := decodeChange([]byte(r.String()))
		if err != nil {
			return nil, nil, err
		}
		out.Changes = append(out.Changes, c)
	}
	var keys [][]byte
	n = r.Count(1)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		keys = append(keys, bytesField(&r))
	}
	if err := r.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: request record: %v", ErrCorrupt, err)
	}
	if len(r.B) > 0 {
		return nil, nil, fmt.Errorf("%w: request record: %d trailing bytes", ErrCorrupt, len(r.B))
	}
	if len(keys) > 0 {
		if out.Entries, err = ledger.New(tx, loc).EntriesAt(keys); err != nil {
			return nil, nil, err
		}
	}
	return fp, out, nil
}

// opRecordTime returns the time of a request's record, either form.
func opRecordTime(v []byte) (time.Time, error) {
	if len(v) > 0 && v[0] == opRecordV2 {
		r := codec.Reader{B: v[1:]}
		t := r.Time()
		if r.Err() != nil {
			return time.Time{}, fmt.Errorf("%w: request record", ErrCorrupt)
		}
		return t, nil
	}
	var rec struct {
		Outcome *struct {
			Time time.Time `json:"time"`
		} `json:"outcome"`
	}
	if err := json.Unmarshal(v, &rec); err != nil || rec.Outcome == nil {
		return time.Time{}, fmt.Errorf("%w: request record", ErrCorrupt)
	}
	return rec.Outcome.Time, nil
}
