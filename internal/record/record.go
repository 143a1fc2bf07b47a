// Package record reads and writes JSON records in a store transaction, for
// the domain packages' small state records (counters, days, orders): the
// one place that maps an absent key to "not found" and wraps decode errors.
// A stored record that does not decode is damage (a value edited by hand,
// a bug, a partial migration: store/memory and store/postgres keep no
// checksum), so its error wraps store.ErrCorrupt (Decode, Corrupt), never
// a bare decoding error that a caller would take for the input's refusal.
package record

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/memberkit/membership/store"
)

// Get decodes the record at bucket/key into v; found is false (and v
// untouched) when there is none.
func Get(tx store.Tx, bucket string, key []byte, v any) (found bool, err error) {
	raw, err := tx.Get(bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := Decode(bucket, key, raw, v); err != nil {
		return false, err
	}
	return true, nil
}

// Decode decodes raw, the JSON record stored at bucket/key, into v; a
// record that does not decode is an error wrapping store.ErrCorrupt that
// names it.
func Decode(bucket string, key, raw []byte, v any) error {
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
	if a, ok := v.(Appender); ok {
		if raw, ok := a.AppendJSON(make([]byte, 0, 256)); ok {
			return tx.Put(bucket, key, raw) // Put copies raw
		}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
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
