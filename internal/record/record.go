// Package record reads and writes JSON records in a store transaction, for
// the domain packages' small state records (counters, days, orders): the
// one place that maps an absent key to "not found" and wraps decode errors.
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
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("record %s %q: %w", bucket, key, err)
	}
	return true, nil
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
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("record %s %q: %w", bucket, k, err)
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
