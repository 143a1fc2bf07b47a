package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// amountOf reads the amount under key (zero when absent).
func amountOf(tx store.Tx, bucket, key string) (decimal.Decimal, error) {
	v, err := tx.Get(bucket, bs(key))
	if err != nil {
		return decimal.Zero, err
	}
	return total.Parse(v)
}

func wantAmount(t *testing.T, tx store.Tx, bucket, key, want string) {
	t.Helper()
	got, err := amountOf(tx, bucket, key)
	if err != nil || !got.Equal(decimal.RequireFromString(want)) {
		t.Errorf("amount %s/%s = %s, %v; want %s", bucket, key, got, err, want)
	}
}

// testAdder checks store.Adder, for a store whose transactions have it
// (the capability is optional; other stores have nothing to check): an
// addition is seen by the transaction's reads (a Get in a Scan callback
// too), follows its Put and Delete of the key, and additions from many
// goroutines to one key are all kept.
func testAdder(t *testing.T, s store.Store) {
	isAdder := false
	view(t, s, func(tx store.Tx) error { _, isAdder = tx.(store.Adder); return nil })
	if !isAdder {
		update(t, s, func(tx store.Tx) error { _, isAdder = tx.(store.Adder); return nil })
	}
	if !isAdder {
		return
	}
	put(t, s, "t", "put", "5", "del", "7", "read", "1.5")
	put(t, s, "t2", "k", "v")
	update(t, s, func(tx store.Tx) error {
		a := tx.(store.Adder)
		for _, step := range []struct {
			key, delta string
		}{{"new", "1.10"}, {"new", "2"}, {"put", "-0.25"}, {"del", "3"}, {"read", "1"}} {
			if step.key == "del" {
				if err := tx.Delete("t", bs("del")); err != nil {
					return err
				}
			}
			if step.key == "read" {
				wantAmount(t, tx, "t", "read", "1.5")
			}
			if err := a.Add("t", bs(step.key), decimal.RequireFromString(step.delta)); err != nil {
				return err
			}
		}
		wantAmount(t, tx, "t", "new", "3.10")
		if err := tx.Put("t", bs("put"), bs("9")); err != nil { // a Put replaces what was added
			return err
		}
		// Scan settles the additions in its range.
		var keys []string
		err := tx.Scan("t", nil, nil, false, func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
		if fmt.Sprint(keys) != "[del new put read]" {
			t.Errorf("Scan = %v, %v", keys, err)
		}
		return err
	})
	view(t, s, func(tx store.Tx) error {
		wantAmount(t, tx, "t", "new", "3.10")
		wantAmount(t, tx, "t", "put", "9")
		wantAmount(t, tx, "t", "del", "3")
		wantAmount(t, tx, "t", "read", "2.5")
		return nil
	})
	// A Get inside a Scan callback (of another bucket) reads an addition
	// made before the Scan: a read, which the callback may make.
	update(t, s, func(tx store.Tx) error {
		if err := tx.(store.Adder).Add("t", bs("inscan"), decimal.NewFromInt(4)); err != nil {
			return err
		}
		return tx.Scan("t2", nil, nil, false, func(_, _ []byte) error {
			wantAmount(t, tx, "t", "inscan", "4")
			return nil
		})
	})
	view(t, s, func(tx store.Tx) error { wantAmount(t, tx, "t", "inscan", "4"); return nil })
	// An amount in internal/codec's binary form (as a transaction that is
	// no Adder writes it) is added to as one in text, in a transaction
	// that does not read it, alongside a key in text: 4 + 2.5 and 1.5 + 1.
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", bs("binary"), codec.Amount(decimal.NewFromInt(4))); err != nil {
			return err
		}
		return tx.Put("b", bs("text"), bs("1.5"))
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.(store.Adder).Add("b", bs("binary"), decimal.RequireFromString("2.5")); err != nil {
			return err
		}
		return tx.(store.Adder).Add("b", bs("text"), decimal.NewFromInt(1))
	})
	view(t, s, func(tx store.Tx) error {
		wantAmount(t, tx, "b", "binary", "6.5")
		wantAmount(t, tx, "b", "text", "2.5")
		return nil
	})
	// 16 goroutines add 0.01 twenty-five times each to one key and 1 to a
	// key of their own: 16 × 25 × 0.01 = 4.00, and 25 each.
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					a := tx.(store.Adder)
					if err := a.Add("c", bs("shared"), decimal.RequireFromString("0.01")); err != nil {
						return err
					}
					return a.Add("c", bs(fmt.Sprintf("own%02d", g)), decimal.NewFromInt(1))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	view(t, s, func(tx store.Tx) error {
		wantAmount(t, tx, "c", "shared", "4.00")
		for g := range 16 {
			wantAmount(t, tx, "c", fmt.Sprintf("own%02d", g), "25")
		}
		return nil
	})
}
