package due

import (
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
		it, err := parse(k, v)
		if err != nil {
			return err
		}
		return fn(it)
	})
}
