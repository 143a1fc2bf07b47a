package value

import (
	"context"
	"errors"
	"testing"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// A stripe of a member's cumulative total (value.totals), on arbitrary
// bytes: it reads as the amount whose record (as total.Add writes it)
// reads as it again, and adding to it (as the next recharge does) gives
// the sum; or both fail with an error wrapping store.ErrCorrupt; never
// panic or hang. A stripe is binary (total.Add) or decimal text (a
// store.Adder). CI runs the seeds and testdata/fuzz; go test
// -fuzz=FuzzTotalRecord looks further.
func FuzzTotalRecord(f *testing.F) {
	f.Add(codec.Amount(decimal.RequireFromString("100.50")))
	f.Add(codec.Amount(decimal.RequireFromString("-12345678901234567890.125")))
	f.Add([]byte("250.5"))
	k := totalKey("m1", KindRecharge)
	ten := decimal.NewFromInt(10)
	// stored puts b as the first stripe of m1's recharges, then runs fn.
	stored := func(t *testing.T, b []byte, fn func(store.Tx) error) error {
		st := memory.New()
		defer st.Close()
		ctx := context.Background()
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.Put(bTotals, total.Key(nil, k, 0), b) }); err != nil {
			t.Fatal(err)
		}
		return st.Update(ctx, fn)
	}
	read := func(t *testing.T, b []byte) (d decimal.Decimal, err error) {
		err = stored(t, b, func(tx store.Tx) error {
			d, err = engine.Total(tx, bTotals, k)
			return err
		})
		return d, err
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := read(t, b)
		var sum decimal.Decimal
		aerr := stored(t, b, func(tx store.Tx) error {
			if err := total.Add(tx, bTotals, k, 0, ten, nil); err != nil {
				return err
			}
			var err error
			sum, err = engine.Total(tx, bTotals, k)
			return err
		})
		if err != nil || aerr != nil {
			if !errors.Is(err, store.ErrCorrupt) || !errors.Is(aerr, store.ErrCorrupt) {
				t.Fatalf("total stripe %x reads as %v, %v; adds as %v; want store.ErrCorrupt for both", b, d, err, aerr)
			}
			return
		}
		if !sum.Equal(d.Add(ten)) {
			t.Fatalf("total stripe %x reads as %v; plus 10: %v", b, d, sum)
		}
		again := codec.Amount(d)
		if got, err := read(t, again); err != nil || !got.Equal(d) {
			t.Fatalf("total stripe %x reads as %v; its record %x as %v, %v", b, d, again, got, err)
		}
	})
}
