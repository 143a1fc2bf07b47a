package due

import (
	"bytes"
	"time"

	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
)

// Range calls fn for each item due at or after from and before to,
// earliest first; fn may return store.StopScan to end early. Its cost is
// the number of items in the range (of every kind), not the size of the
// index.
func Range(tx store.Tx, from, to time.Time, fn func(Item) error) error {
	start := keys.New().Time(from)
	end := keys.New().Time(to)
	return tx.Scan(bucket, start, end, false, func(k, v []byte) error {
		if len(k) < 8 || len(v) == 0 {
			return errKey(k)
		}
		parts := bytes.SplitN(k[8:], []byte{keys.Sep}, 3)
		if len(parts) < 2 {
			return errKey(k)
		}
		return fn(Item{
			At:      keys.U64Time(keys.U64(k, 0)),
			Kind:    string(parts[0]),
			ID:      string(parts[1]),
			Payload: append([]byte(nil), v[1:]...),
		})
	})
}
