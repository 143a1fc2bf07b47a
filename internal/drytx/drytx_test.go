package drytx_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/drytx"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/store/storetest"
)

// dryStore is a store whose Updates run on a drytx.Tx over a View of a
// memory store, and then commit what it buffered in an Update of their
// own, one at a time. The conformance suite run on it checks what a
// transaction's reads see of its own writes (Get, Scan in both orders,
// deletes, empty values, copies, stops, errors): a drytx.Tx must read as a
// store's own transaction does.
type dryStore struct {
	base *memory.Store
	mu   sync.Mutex
}

func (s *dryStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.base.View(ctx, fn)
}

func (s *dryStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return s.base.Update(ctx, nil) // the base store's refusal
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var d *drytx.Tx
	err := s.base.View(ctx, func(tx store.Tx) error {
		d = drytx.New(tx)
		return fn(d.Tx())
	})
	if err != nil {
		if d != nil {
			d.End()
		}
		return err
	}
	defer d.End()
	return s.base.Update(ctx, func(tx store.Tx) error {
		return d.Writes(func(bucket string, key, value []byte, del bool) error {
			if del {
				return tx.Delete(bucket, key)
			}
			return tx.Put(bucket, key, value)
		})
	})
}

func (s *dryStore) Close() error { return s.base.Close() }

func TestConformance(t *testing.T) {
	open := func(t *testing.T) store.Store {
		s := &dryStore{base: memory.New()}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.Run(t, open)
	storetest.RunSerial(t, open)
}

// TestMatchesStoreTx runs the same random writes and reads on a memory
// store's own transaction and on a drytx.Tx over a snapshot of the same
// data, and compares every answer; the store is unchanged afterwards.
func TestMatchesStoreTx(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.IntN(40)) }
	buckets := []string{"a", "b", "c"}
	for round := range 50 {
		st := memory.New()
		err := st.Update(ctx, func(tx store.Tx) error {
			for range rng.IntN(60) {
				if err := tx.Put(buckets[rng.IntN(2)], key(), fmt.Appendf(nil, "base%d", rng.IntN(100))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		before := testkit.Dump(t, st, buckets...)
		type op struct {
			kind          int
			bucket        string
			key, end, val []byte
			reverse       bool
			stopAfter     int
		}
		var ops []op
		for range 200 {
			o := op{kind: rng.IntN(4), bucket: buckets[rng.IntN(3)], key: key(), val: fmt.Appendf(nil, "v%d", rng.IntN(1000))}
			if rng.IntN(5) == 0 {
				o.key = nil
			}
			if rng.IntN(2) == 0 {
				o.end = key()
			}
			o.reverse = rng.IntN(2) == 0
			o.stopAfter = rng.IntN(8)
			if o.kind != 3 && o.key == nil {
				o.key = []byte("k00")
			}
			ops = append(ops, o)
		}
		run := func(tx store.Tx) []string {
			var log []string
			for _, o := range ops {
				switch o.kind {
				case 0:
					log = append(log, fmt.Sprint(tx.Put(o.bucket, o.key, o.val)))
				case 1:
					log = append(log, fmt.Sprint(tx.Delete(o.bucket, o.key)))
				case 2:
					v, err := tx.Get(o.bucket, o.key)
					log = append(log, fmt.Sprintf("get %s %s: %q %v", o.bucket, o.key, v, errors.Is(err, store.ErrNotFound)))
				case 3:
					var seen []string
					err := tx.Scan(o.bucket, o.key, o.end, o.reverse, func(k, v []byte) error {
						seen = append(seen, string(k)+"="+string(v))
						if len(seen) == o.stopAfter {
							return store.StopScan
						}
						return nil
					})
					log = append(log, fmt.Sprintf("scan %s [%s,%s) %v: %v %v", o.bucket, o.key, o.end, o.reverse, seen, err))
				}
			}
			return log
		}
		var want, got []string
		errStop := errors.New("roll back")
		if err := st.Update(ctx, func(tx store.Tx) error { want = run(tx); return errStop }); !errors.Is(err, errStop) {
			t.Fatal(err)
		}
		if err := st.View(ctx, func(tx store.Tx) error {
			d := drytx.New(tx)
			defer d.End()
			got = run(d.Tx())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round %d: drytx answers differ from the store's transaction (-want +got):\n%s", round, diff)
		}
		if diff := cmp.Diff(before, testkit.Dump(t, st, buckets...)); diff != "" {
			t.Fatalf("round %d: the store changed (-before +after):\n%s", round, diff)
		}
	}
}

// TestEndDropsAndRefuses checks that calls after End return ErrTxDone.
func TestEndDropsAndRefuses(t *testing.T) {
	st := memory.New()
	err := st.View(context.Background(), func(tx store.Tx) error {
		d := drytx.New(tx)
		if err := d.Put("b", []byte("k"), []byte("v")); err != nil {
			return err
		}
		d.End()
		for _, err := range []error{
			func() error { _, err := d.Get("b", []byte("k")); return err }(),
			d.Put("b", []byte("k"), nil),
			d.Delete("b", []byte("k")),
			d.Scan("b", nil, nil, false, func(k, v []byte) error { return nil }),
		} {
			if !errors.Is(err, store.ErrTxDone) {
				t.Errorf("call after End = %v; want ErrTxDone", err)
			}
		}
		var n int
		_ = d.Writes(func(string, []byte, []byte, bool) error { n++; return nil })
		if n != 0 {
			t.Errorf("Writes after End saw %d writes; want none", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// adderTx is a store's transaction that adds as store/postgres does
// (store.Adder): an addition writes the sum as decimal text, over a value
// that is decimal text or internal/codec's binary amount.
type adderTx struct{ store.Tx }

func (a adderTx) Add(bucket string, key []byte, delta decimal.Decimal) error {
	v, err := a.Get(bucket, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	cur := decimal.Zero
	if v != nil {
		if cur, err = total.Parse(v); err != nil {
			return err
		}
	}
	return a.Put(bucket, key, []byte(cur.Add(delta).String()))
}

// preloadingAdderTx is an adderTx that is a store.Preloader too.
type preloadingAdderTx struct{ adderTx }

func (preloadingAdderTx) Preload(...store.Read) error { return nil }

// preloader is a store.Preloader that is no store.Adder.
type preloader struct{ store.Tx }

func (preloader) Preload(...store.Read) error { return nil }

// TestAddsOverAnAdder runs random additions, writes, deletes and reads of
// amounts on a transaction that adds (adderTx) and on a drytx.Tx over a
// snapshot of the same data, and compares every answer: the drytx.Tx adds
// too, reads an addition as the amount under it plus the delta, and hands
// its additions back by Adds, not as written sums by Writes (the form a
// store that adds on its server cannot add to). Putting its writes and
// adding its additions in a transaction leaves what the adder's own left.
func TestAddsOverAnAdder(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	key := func() []byte { return fmt.Appendf(nil, "k%d", rng.IntN(12)) }
	amount := func() decimal.Decimal { return decimal.New(rng.Int64N(2001)-1000, -int32(rng.IntN(3))) }
	for round := range 50 {
		st := memory.New()
		err := st.Update(ctx, func(tx store.Tx) error {
			for range rng.IntN(10) {
				v := []byte(amount().String())
				if rng.IntN(2) == 0 {
					v = codec.Amount(amount()) // as bolt's totals are written
				}
				if err := tx.Put("t", key(), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		type op struct {
			kind      int
			key, end  []byte
			d         decimal.Decimal
			reverse   bool
			stopAfter int
		}
		var ops []op
		for range 60 {
			o := op{kind: rng.IntN(5), key: key(), d: amount(), reverse: rng.IntN(2) == 0, stopAfter: rng.IntN(6)}
			if rng.IntN(2) == 0 {
				o.end = key()
			}
			if o.kind == 1 && rng.IntN(3) > 0 {
				o.kind = 0 // additions, the subject, are most of the writes
			}
			ops = append(ops, o)
		}
		// amountOf shows a value as the amount it holds.
		amountOf := func(v []byte) string {
			d, err := total.Parse(v)
			if err != nil {
				return "not an amount: " + err.Error()
			}
			return d.String()
		}
		run := func(tx store.Tx) []string {
			var log []string
			for _, o := range ops {
				switch o.kind {
				case 0:
					log = append(log, fmt.Sprint(tx.(store.Adder).Add("t", o.key, o.d)))
				case 1:
					log = append(log, fmt.Sprint(tx.Put("t", o.key, codec.Amount(o.d))))
				case 2:
					log = append(log, fmt.Sprint(tx.Delete("t", o.key)))
				case 3:
					v, err := tx.Get("t", o.key)
					log = append(log, fmt.Sprintf("get %s: %s %v", o.key, amountOf(v), errors.Is(err, store.ErrNotFound)))
				case 4:
					var seen []string
					err := tx.Scan("t", o.key, o.end, o.reverse, func(k, v []byte) error {
						seen = append(seen, string(k)+"="+amountOf(v))
						if len(seen) == o.stopAfter {
							return store.StopScan
						}
						return nil
					})
					log = append(log, fmt.Sprintf("scan [%s,%s) %v: %v %v", o.key, o.end, o.reverse, seen, err))
				}
			}
			return log
		}
		var want, got []string
		errStop := errors.New("roll back")
		if err := st.Update(ctx, func(tx store.Tx) error { want = run(adderTx{tx}); return errStop }); !errors.Is(err, errStop) {
			t.Fatal(err)
		}
		// wantStore is what the adder's own run leaves.
		wantStore := memory.New()
		copyTo := func(dst *memory.Store, extra func(tx store.Tx) error) {
			t.Helper()
			err := st.View(ctx, func(src store.Tx) error {
				return dst.Update(ctx, func(tx store.Tx) error {
					err := src.Scan("t", nil, nil, false, func(k, v []byte) error { return tx.Put("t", k, v) })
					if err != nil {
						return err
					}
					return extra(tx)
				})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		copyTo(wantStore, func(tx store.Tx) error { run(adderTx{tx}); return nil })
		var d *drytx.Tx
		if err := st.View(ctx, func(tx store.Tx) error {
			d = drytx.New(adderTx{tx})
			got = run(d.Tx())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round %d: drytx answers differ from the adder's (-want +got):\n%s", round, diff)
		}
		gotStore := memory.New()
		copyTo(gotStore, func(tx store.Tx) error {
			err := d.Writes(func(bucket string, key, value []byte, del bool) error {
				if del {
					return tx.Delete(bucket, key)
				}
				return tx.Put(bucket, key, value)
			})
			if err != nil {
				return err
			}
			return d.Adds(func(bucket string, key []byte, delta decimal.Decimal) error {
				return adderTx{tx}.Add(bucket, key, delta)
			})
		})
		d.End()
		amounts := func(s *memory.Store) []string {
			var out []string
			err := s.View(ctx, func(tx store.Tx) error {
				return tx.Scan("t", nil, nil, false, func(k, v []byte) error {
					out = append(out, string(k)+"="+amountOf(v))
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		if diff := cmp.Diff(amounts(wantStore), amounts(gotStore)); diff != "" {
			t.Fatalf("round %d: the writes and additions put in a transaction leave (-adder's own +drytx's):\n%s", round, diff)
		}
	}
}

// TestCapabilities checks that a Tx claims Add and Preload exactly when
// its base has them, and that a Tx over no Adder has no additions: its
// totals are read and written as the base's would be.
func TestCapabilities(t *testing.T) {
	err := memory.New().View(context.Background(), func(tx store.Tx) error {
		for _, c := range []struct {
			base           store.Tx
			adds, preloads bool
		}{
			{tx, false, false},
			{adderTx{tx}, true, false},
			{preloader{tx}, false, true},
			{preloadingAdderTx{adderTx{tx}}, true, true},
		} {
			d := drytx.New(c.base)
			_, adds := d.Tx().(store.Adder)
			_, preloads := d.Tx().(store.Preloader)
			if adds != c.adds || preloads != c.preloads {
				t.Errorf("over %T: Adder %v, Preloader %v; want %v, %v", c.base, adds, preloads, c.adds, c.preloads)
			}
			if adds {
				if err := d.Tx().(store.Adder).Add("t", []byte("k"), decimal.NewFromInt(3)); err != nil {
					t.Fatal(err)
				}
				if err := d.Tx().(store.Adder).Add("t", []byte("k"), decimal.NewFromInt(4)); err != nil {
					t.Fatal(err)
				}
				var adds []string
				_ = d.Adds(func(b string, k []byte, delta decimal.Decimal) error {
					adds = append(adds, fmt.Sprintf("%s %s %s", b, k, delta))
					return nil
				})
				var writes int
				_ = d.Writes(func(string, []byte, []byte, bool) error { writes++; return nil })
				if diff := cmp.Diff([]string{"t k 7"}, adds); diff != "" || writes != 0 {
					t.Errorf("over %T: additions (-want +got):\n%s\nand %d writes, want none", c.base, diff, writes)
				}
			}
			d.End()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
