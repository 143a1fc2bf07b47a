package engine

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
)

// Request records. A request's record (bOps, under its ID) answers a
// retry: its fingerprint tells the same request from another one under
// the ID, and the first outcome is rebuilt from it. Version 3, written
// now, is binary: the outcome's time, the SHA-256 of the request's JSON
// (its fingerprint), the outcome's event and member, the keys of the feed
// records the request wrote and the keys of its ledger entries, the
// changes and entries being read back from the feed and the ledger for a
// retry, as an event's are (retention prunes a feed record only after
// every request record that could name it: see retain.go). Version 2
// held the request's JSON and the changes themselves, in their feed form,
// and JSON records (version 1, an object: first byte '{') came before;
// both are still read. An import writes one record per member: version 3
// is a fifth of version 2's size (199 bytes a member, where version 2's
// was 1,014: a third of all an opening wrote), which the store logs, keeps
// in memory and checkpoints.
const (
	opRecordV2 = 2
	opRecordV3 = 3
)

// appendOpRecord appends the stored form of a request's record (version
// 3) to b: sum is the SHA-256 of the request's JSON, feed the keys of the
// feed records its unit wrote.
func appendOpRecord(b []byte, sum []byte, out *change.Outcome, feed [][]byte) []byte {
	w := codec.Writer{B: append(b, opRecordV3)}
	w.Time(out.Time)
	w.Bytes(sum)
	w.String(out.Event)
	w.String(out.Member)
	w.Uint(uint64(len(feed)))
	for _, k := range feed {
		w.Bytes(k)
	}
	keys := ledger.RecordKeys(out.Entries)
	w.Uint(uint64(len(keys)))
	for _, k := range keys {
		w.Bytes(k)
	}
	return w.B
}

// decodeOpRecord returns a request's fingerprint and first outcome from
// its record, any version: hashed reports that fp is the SHA-256 of the
// request's JSON (version 3), not the JSON itself.
func decodeOpRecord(tx store.Tx, loc *time.Location, v []byte) (fp []byte, hashed bool, out *change.Outcome, err error) {
	if len(v) > 0 && v[0] == '{' {
		var rec opRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return nil, false, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if rec.Outcome == nil {
			return nil, false, nil, fmt.Errorf("%w: no outcome", ErrCorrupt)
		}
		return rec.Request, false, rec.Outcome, nil
	}
	if len(v) == 0 || (v[0] != opRecordV2 && v[0] != opRecordV3) {
		return nil, false, nil, fmt.Errorf("%w: request record version", ErrCorrupt)
	}
	hashed = v[0] == opRecordV3
	r := codec.Reader{B: v[1:]}
	out = &change.Outcome{Time: r.Time()}
	fp = []byte(r.String())
	out.Event, out.Member = r.String(), r.String()
	var feed [][]byte
	n := r.Count(1)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		if hashed {
			feed = append(feed, bytesField(&r))
			continue
		}
		c, err := decodeChange([]byte(r.String()))
		if err != nil {
			return nil, false, nil, err
		}
		out.Changes = append(out.Changes, c)
	}
	var keys [][]byte
	n = r.Count(1)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		keys = append(keys, bytesField(&r))
	}
	if err := r.Err(); err != nil {
		return nil, false, nil, fmt.Errorf("%w: request record: %v", ErrCorrupt, err)
	}
	if len(r.B) > 0 {
		return nil, false, nil, fmt.Errorf("%w: request record: %d trailing bytes", ErrCorrupt, len(r.B))
	}
	if hashed && len(fp) != sha256.Size {
		return nil, false, nil, fmt.Errorf("%w: request record: a fingerprint of %d bytes", ErrCorrupt, len(fp))
	}
	if len(feed) > 0 {
		if out.Changes, err = recordChanges(tx, feed); err != nil {
			return nil, false, nil, err
		}
	}
	if len(keys) > 0 {
		if out.Entries, err = ledger.New(tx, loc).EntriesAt(keys); err != nil {
			return nil, false, nil, err
		}
	}
	return fp, hashed, out, nil
}

// opRecordTime returns the time of a request's record, either form.
func opRecordTime(v []byte) (time.Time, error) {
	if len(v) > 0 && (v[0] == opRecordV2 || v[0] == opRecordV3) {
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
