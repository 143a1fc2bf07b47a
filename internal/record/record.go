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

// Put encodes v as the record at bucket/key.
func Put(tx store.Tx, bucket string, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(bucket, key, raw)
}
