package drytx_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/drytx"
	"github.com/memberkit/membership/internal/testkit"
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
