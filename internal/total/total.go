// Package total keeps the decimal totals that many members add to (a
// pool's balance, a day's earnings, the points expiring in a month, a
// tag's member count) split into stripes, by member or as the store
// chooses (store.StripeChooser): the writers of a store that runs Updates
// concurrently (store/postgres) then rarely touch the same key, and a
// reader sums the stripes. The engine, the ledger and
// the coupon book all lay their shared totals out this way; a store that
// runs Updates one at a time asks for one stripe (store.Striper), so the
// split costs it nothing.
//
// A total's stripes are stored under its key followed by a NUL and the
// stripe number (two bytes, big-endian), so that the stripes of one total
// sort together and a total's key is never a prefix of another's (keys
// end in keys.Sep or have a fixed length).
package total

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// ErrCorrupt is wrapped when a stripe's key or amount cannot be read. It
// wraps store.ErrCorrupt: the stripe is damaged.
var ErrCorrupt = fmt.Errorf("total: corrupt stripe: %w", store.ErrCorrupt)

// MaxStripes is the most stripes a total is split into.
const MaxStripes = 1 << 16

// suffixLen is the length of the stripe suffix: a NUL and two bytes.
const suffixLen = 3

// Stripes returns the number of stripes st asks for: its
// store.Striper answer, clamped to [1, MaxStripes]; 1 when it has none.
func Stripes(st store.Store) int {
	s, ok := st.(store.Striper)
	if !ok {
		return 1
	}
	return min(max(s.Stripes(), 1), MaxStripes)
}

// Stripe returns member's stripe among n: a hash of the member ID, so a
// member always writes the same stripe. It is 0 when n <= 1.
func Stripe(member string, n int) uint16 {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(member))
	return uint16(h.Sum32() % uint32(min(n, MaxStripes)))
}

// StripeOf returns the stripe, of n, that tx adds member's share of the
// totals to: the one tx chooses when it is a store.StripeChooser, else
// member's (Stripe). It is 0 when n <= 1.
func StripeOf(tx store.Tx, member string, n int) uint16 {
	if n <= 1 {
		return 0
	}
	if c, ok := tx.(store.StripeChooser); ok {
		m := min(n, MaxStripes)
		return uint16(int(c.Stripe(m)) % m) // in range whatever tx answers
	}
	return Stripe(member, n)
}

// Key appends the key of stripe s of the total under key to dst.
func Key(dst, key []byte, s uint16) []byte {
	return binary.BigEndian.AppendUint16(append(append(dst, key...), 0), s)
}

// Base returns the key of the total a stripe's key belongs to, and false
// when k is too short to be a stripe's key.
func Base(k []byte) ([]byte, bool) {
	n := len(k) - suffixLen
	if n < 0 || k[n] != 0 {
		return nil, false
	}
	return k[:n], true
}

// bounds returns the range of the stripes of the total under key.
func bounds(key []byte) (start, end []byte) {
	start = append(append(make([]byte, 0, len(key)+1), key...), 0)
	end = append(append(make([]byte, 0, len(key)+1), key...), 1)
	return start, end
}

// Add adds delta to stripe s of the total under key in bucket, deleting
// the stripe when it reaches zero. A Tx that is a store.Adder adds
// without reading (and keeps a zero). buf is room for the stripe's key and
// record (the store copies them); it may be nil.
func Add(tx store.Tx, bucket string, key []byte, s uint16, delta decimal.Decimal, buf []byte) error {
	k := Key(buf[:0], key, s)
	if a, ok := tx.(store.Adder); ok {
		return a.Add(bucket, k, delta)
	}
	old, err := tx.Get(bucket, k)
	switch {
	case errors.Is(err, store.ErrNotFound):
		old = nil
	case err != nil:
		return err
	}
	if isText(old) {
		d, err := Parse(old)
		if err != nil {
			return fmt.Errorf("%s %x: %w", bucket, key, err)
		}
		old = codec.Amount(d) // written by an Adder; rewritten in binary
	}
	rec, zero, err := codec.AddAmount(k[len(k):], old, delta)
	if err != nil { // old is no amount record
		return fmt.Errorf("%w: %s %x: %w", ErrCorrupt, bucket, key, err)
	}
	if zero {
		return tx.Delete(bucket, k)
	}
	return tx.Put(bucket, k, rec)
}

// Sum returns the total under key in bucket: the sum of its stripes (zero
// when it has none).
func Sum(tx store.Tx, bucket string, key []byte) (decimal.Decimal, error) {
	start, end := bounds(key)
	sum := decimal.Zero
	err := tx.Scan(bucket, start, end, false, func(k, v []byte) error {
		if len(k) != len(key)+suffixLen {
			return fmt.Errorf("%w: %s %x: not a stripe of %x", ErrCorrupt, bucket, k, key)
		}
		d, err := Parse(v)
		if err != nil {
			return fmt.Errorf("%s %x: %w", bucket, k, err)
		}
		sum = sum.Add(d)
		return nil
	})
	return sum, err
}

// Count returns the total under key in bucket as a count (Sum's): a sum
// that is not a whole number an int64 holds is damage (ErrCorrupt), not
// truncated or wrapped to some count.
func Count(tx store.Tx, bucket string, key []byte) (int64, error) {
	n, err := Sum(tx, bucket, key)
	if err != nil {
		return 0, err
	}
	return asCount(bucket, key, n)
}

// asCount returns n, the sum of the total under key in bucket, as a
// count: a sum that is not a whole number an int64 holds is ErrCorrupt.
func asCount(bucket string, key []byte, n decimal.Decimal) (int64, error) {
	c, ok := CountOf(n)
	if !ok {
		return 0, fmt.Errorf("%w: %s %x: a count of %v", ErrCorrupt, bucket, key, n)
	}
	return c, nil
}

// CountOf returns n as a count; ok is false when n is not a whole number
// an int64 holds (IntPart would truncate it, or wrap it past an int64).
func CountOf(n decimal.Decimal) (c int64, ok bool) {
	c = n.IntPart()
	return c, decimal.NewFromInt(c).Equal(n)
}

// Counts calls fn with each total of bucket whose stripes are in [start,
// end) (nil: unbounded, as for store.Tx.Scan), in key order, as a count
// (Count's: its stripes summed, and a sum that is not a whole number an
// int64 holds is ErrCorrupt). A key in the range that is no stripe's is
// ErrCorrupt too. key is valid until fn returns; fn's error ends the scan
// and is returned. It relies on the stripes of one total being adjacent
// (see the package comment).
func Counts(tx store.Tx, bucket string, start, end []byte, fn func(key []byte, n int64) error) error {
	var key []byte
	var sum decimal.Decimal
	held := false // key and sum hold a total not yet given to fn
	flush := func() error {
		if !held {
			return nil
		}
		held = false
		n, err := asCount(bucket, key, sum)
		if err != nil {
			return err
		}
		return fn(key, n)
	}
	err := tx.Scan(bucket, start, end, false, func(k, v []byte) error {
		base, ok := Base(k)
		if !ok {
			return fmt.Errorf("%w: %s %x: not a stripe's key", ErrCorrupt, bucket, k)
		}
		d, err := Parse(v)
		if err != nil {
			return fmt.Errorf("%s %x: %w", bucket, k, err)
		}
		if held && bytes.Equal(base, key) {
			sum = sum.Add(d)
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		key, sum, held = append(key[:0], base...), d, true
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// Parse reads the amount of a stripe: the binary record internal/codec
// writes, or the decimal text a store.Adder writes. Its error wraps
// ErrCorrupt.
func Parse(v []byte) (decimal.Decimal, error) {
	if isText(v) {
		d, err := decimal.NewFromString(string(v))
		if err != nil {
			return d, fmt.Errorf("%w: %q: %v", ErrCorrupt, v, err)
		}
		return d, nil
	}
	d, err := codec.ParseAmount(v)
	if err != nil {
		return d, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return d, nil
}

// isText reports whether v is an amount as decimal text: a binary record
// starts with 0 or 1.
func isText(v []byte) bool { return len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) }

// Read returns the reads of st.Preload that cover the total under key.
func Read(bucket string, key []byte) store.Read {
	start, end := bounds(key)
	return store.Read{Bucket: bucket, Start: start, End: end}
}
