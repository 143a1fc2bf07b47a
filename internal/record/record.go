// Package record reads and writes JSON records in a store transaction, for
// the domain packages' small state records (counters, days, orders): the
// one place that maps an absent key to "not found" and wraps decode errors.
// A stored record that does not decode is damage (a value edited by hand,
// a bug, a partial migration: store/memory and store/postgres keep no
// checksum), so its error wraps store.ErrCorrupt (Decode, Corrupt), never
// a bare decoding error that a caller would take for the input's refusal.
//
// # Versions
//
// A record is its JSON: version 1. A record holding a field that an
// earlier release does not know, and would drop were it to decode the
// record and write it back, is written as its version, a byte from 2 to
// MaxVersion, followed by its JSON (PutVersion). No JSON text starts with
// such a byte, so the earlier release's decoder refuses the record as
// damage (store.ErrCorrupt) and rewrites nothing, while this release reads
// the versions its caller knows (GetVersion). A record without such a
// field stays version 1, which every release reads: in a rolling deploy
// the instances of both releases go on sharing the store, and only those
// of the earlier one fail, on the records they would have misread.
package record

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/memberkit/membership/store"
)

// MaxVersion is the highest version a record may be written in: the bytes
// 2 to 8 are below the tab, and no JSON text starts with one.
const MaxVersion = 8

// Get decodes the record at bucket/key into v; found is false (and v
// untouched) when there is none. A record of a version above 1 is damage
// (GetVersion reads those).
func Get(tx store.Tx, bucket string, key []byte, v any) (found bool, err error) {
	return GetVersion(tx, bucket, key, v, 1)
}

// GetVersion is Get for a record written in versions up to max
// (PutVersion): one of a later version, written by a later release, is
// an error wrapping store.ErrCorrupt, as it is for this release's Get.
func GetVersion(tx store.Tx, bucket string, key []byte, v any, max byte) (found bool, err error) {
	raw, err := tx.Get(bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := DecodeVersion(bucket, key, raw, v, max); err != nil {
		return false, err
	}
	return true, nil
}

// Decode decodes raw, the JSON record stored at bucket/key, into v; a
// record that does not decode, or of a version above 1, is an error
// wrapping store.ErrCorrupt that names it.
func Decode(bucket string, key, raw []byte, v any) error {
	return DecodeVersion(bucket, key, raw, v, 1)
}

// DecodeVersion is Decode for a record written in versions up to max.
func DecodeVersion(bucket string, key, raw []byte, v any, max byte) error {
	if len(raw) > 0 && raw[0] < '\t' { // a version byte, not JSON
		if raw[0] < 2 || raw[0] > max {
			return Corrupt(bucket, key, fmt.Errorf("a record of version %d; this release reads versions 1 to %d", raw[0], max))
		}
		raw = raw[1:]
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return Corrupt(bucket, key, err)
	}
	return nil
}

// Corrupt returns err, met decoding the record stored at bucket/key, as
// an error wrapping store.ErrCorrupt that names the record. It is for the
// records a package decodes itself (binary ones); it allocates only on
// this error path.
func Corrupt(bucket string, key []byte, err error) error {
	if errors.Is(err, store.ErrCorrupt) { // the decoder said so already
		return fmt.Errorf("record %s %q: %w", bucket, key, err)
	}
	return fmt.Errorf("%w: record %s %q: %w", store.ErrCorrupt, bucket, key, err)
}

// Appender is a record that writes its own JSON, as json.Marshal would
// (the records every unit of work writes skip reflection); ok false means
// "use json.Marshal". engine.JSONAppender is the same method.
type Appender interface {
	AppendJSON(b []byte) (out []byte, ok bool)
}

// Put encodes v as the record at bucket/key (through its AppendJSON when
// v is an Appender).
func Put(tx store.Tx, bucket string, key []byte, v any) error {
	return PutVersion(tx, bucket, key, v, 1)
}

// PutVersion is Put writing v in version, from 1 (Put's JSON alone) to
// MaxVersion: see the package doc, Versions.
func PutVersion(tx store.Tx, bucket string, key []byte, v any, version byte) error {
	var b []byte
	switch {
	case version < 1 || version > MaxVersion:
		return fmt.Errorf("record %s %q: version %d, not 1 to %d", bucket, key, version, MaxVersion)
	case version > 1:
		b = []byte{version}
	}
	if a, ok := v.(Appender); ok {
		if raw, ok := a.AppendJSON(append(make([]byte, 0, 256), b...)); ok {
			return tx.Put(bucket, key, raw) // Put copies raw
		}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if b != nil {
		raw = append(b, raw...)
	}
	return tx.Put(bucket, key, raw)
}

// Rewrite decodes each record of bucket with start <= key < end (end nil:
// to the bucket's end) as a T, calls fn on it, and stores again those fn
// reports changed; it returns how many. It is how a domain erases a
// member's personal data from its records (fn blanks a note), so it
// writes only after the scan has ended.
func Rewrite[T any](tx store.Tx, bucket string, start, end []byte, fn func(*T) bool) (int, error) {
	type rec struct {
		k []byte
		v T
	}
	var recs []rec
	err := tx.Scan(bucket, start, end, false, func(k, raw []byte) error {
		var v T
		if err := Decode(bucket, k, raw, &v); err != nil {
			return err
		}
		if fn(&v) {
			recs = append(recs, rec{k: append([]byte(nil), k...), v: v})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range recs {
		if err := Put(tx, bucket, r.k, r.v); err != nil {
			return 0, err
		}
	}
	return len(recs), nil
}
