package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// testViewOnce checks View's promises on its function: it runs once and
// its error comes back as is, also while Updates commit (a store that
// ran a View again, after a conflict say, would call it twice).
func testViewOnce(t *testing.T, s store.Store) {
	put(t, s, "b", "k", "1")
	calls := 0
	err := s.View(t.Context(), func(tx store.Tx) error {
		calls++
		wantValue(t, tx, "b", "k", "1", false)
		// Commit an Update while the View is open, as ViewSnapshot does.
		done := make(chan error, 1)
		go func() {
			done <- s.Update(context.Background(), func(tx store.Tx) error { return tx.Put("b", bs("k"), bs("2")) })
		}()
		if err := <-done; err != nil {
			t.Errorf("Update during View: %v", err)
		}
		wantValue(t, tx, "b", "k", "1", false)
		return errBoom
	})
	if err != errBoom {
		t.Errorf("View = %v; want the function's error %v as is", err, errBoom)
	}
	if calls != 1 {
		t.Errorf("View called its function %d times; want 1", calls)
	}
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k", "2", false)
		return nil
	})
}

// testReadInScan checks that a Scan callback may read the transaction
// (only writes are barred): a Get and a nested Scan, of the bucket being
// scanned and of another, answer as outside it, in a View and in an
// Update over its own writes.
func testReadInScan(t *testing.T, s store.Store) {
	put(t, s, "b", "1", "a", "2", "b", "3", "c")
	put(t, s, "c", "x", "y")
	check := func(tx store.Tx, reverse bool, want ...string) {
		t.Helper()
		var got []string
		err := tx.Scan("b", nil, nil, reverse, func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			wantValue(t, tx, "b", string(k), string(v), false)
			wantValue(t, tx, "c", "x", "y", false)
			inner := scan(t, tx, "b", k, nil, !reverse)
			if reverse {
				inner = scan(t, tx, "b", nil, store.PrefixEnd(k), false)
			}
			if len(inner) == 0 || inner[len(inner)-1] != string(k)+"="+string(v) {
				t.Errorf("a Scan nested at %q (towards it) saw %q; want it last", k, inner)
			}
			return nil
		})
		if err != nil || !equal(got, want) {
			t.Errorf("Scan(reverse=%v) reading inside its callback = %q, %v; want %q", reverse, got, err, want)
		}
	}
	view(t, s, func(tx store.Tx) error {
		check(tx, false, "1=a", "2=b", "3=c")
		check(tx, true, "3=c", "2=b", "1=a")
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", bs("0"), bs("z")); err != nil {
			return err
		}
		if err := tx.Delete("b", bs("2")); err != nil {
			return err
		}
		check(tx, false, "0=z", "1=a", "3=c")
		check(tx, true, "3=c", "1=a", "0=z")
		return nil
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// testTxDoneCapabilities checks ErrTxDone on the optional writes and
// reads of a Tx (store.Adder, store.Inserter, store.Ensurer, store.Preload)
// used after its function returned, as TxDone does on Get, Put, Delete
// and Scan, and that none of them wrote anything.
func testTxDoneCapabilities(t *testing.T, s store.Store) {
	var leaked []store.Tx
	update(t, s, func(tx store.Tx) error { leaked = append(leaked, tx); return nil })
	if err := s.Update(t.Context(), func(tx store.Tx) error { leaked = append(leaked, tx); return errBoom }); err != errBoom {
		t.Fatalf("Update = %v; want %v", err, errBoom)
	}
	view(t, s, func(tx store.Tx) error { leaked = append(leaked, tx); return nil })
	for i, tx := range leaked {
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrTxDone) {
				t.Errorf("tx %d: %s after the transaction ended = %v; want an error wrapping ErrTxDone", i, what, err)
			}
		}
		if _, ok := tx.(store.Preloader); ok {
			check("Preload", store.Preload(tx, store.Read{Bucket: "b", Key: bs("k")}))
		}
		if ad, ok := tx.(store.Adder); ok {
			check("Add", ad.Add("b", bs("n"), decimal.NewFromInt(1)))
		}
		if in, ok := tx.(store.Inserter); ok {
			check("Insert", in.Insert("b", bs("i"), bs("v")))
			if in.Fresh("b", bs("i")) {
				t.Errorf("tx %d: Fresh after the transaction ended = true; want false", i)
			}
		}
		if en, ok := tx.(store.Ensurer); ok {
			check("Ensure", en.Ensure("b", bs("e"), bs("v")))
		}
	}
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false)
		return nil
	})
}

// testClosePrefetch checks that UpdatePrefetch, on a store that has it,
// returns ErrClosed after Close without calling its function, as Update
// does (Close).
func testClosePrefetch(t *testing.T, s store.Store) {
	p, ok := s.(store.Prefetcher)
	if !ok {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	called := false
	err := p.UpdatePrefetch(t.Context(), []store.Read{{Bucket: "b"}}, func(store.Tx) error { called = true; return nil })
	if !errors.Is(err, store.ErrClosed) || called {
		t.Errorf("UpdatePrefetch after Close = %v (function called: %v); want an error wrapping ErrClosed and no call", err, called)
	}
}

// testScannedKeysStay checks the keys Scan passes as ValuesStay checks
// values: kept without a copy over the whole scan, they keep their bytes
// until the transaction ends, whatever it writes after (a Put of each key,
// its Delete), and appending to one changes nothing the store holds.
func testScannedKeysStay(t *testing.T, s store.Store) {
	put(t, s, "b", "k1", "1", "k2", "2", "k3", "3")
	for _, reverse := range []bool{false, true} {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			var keys, values [][]byte
			err := tx.Scan("b", nil, nil, reverse, func(k, v []byte) error {
				keys, values = append(keys, k), append(values, v)
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range []string{"k1", "k2", "k3", "k0", "k4"} {
				if err := tx.Put("b", bs(k), bs("new-"+k)); err != nil {
					return err
				}
			}
			if err := tx.Delete("b", bs("k2")); err != nil {
				return err
			}
			for _, k := range keys {
				_ = append(k, "XXXXXXXX"...)
			}
			want := []string{"k1=1", "k2=2", "k3=3"}
			if reverse {
				want = reversed(want)
			}
			var got []string
			for i := range keys {
				got = append(got, string(keys[i])+"="+string(values[i]))
			}
			if !equal(got, want) {
				t.Errorf("Scan(reverse=%v) passed %q, kept uncopied over later writes; want %q", reverse, got, want)
			}
			wantScan(t, tx, "b", nil, nil, false, "k0=new-k0", "k1=new-k1", "k3=new-k3", "k4=new-k4")
			return errBoom // leave the next direction the same keys
		})
		if err != errBoom {
			t.Errorf("Update = %v; want %v", err, errBoom)
		}
	}
}

// testEmptyBounds checks bounds that are empty but not nil: an empty
// start is below every key, as nil is, but an empty end is above none
// (start <= k < "" holds for no key), unlike nil, which is to the last;
// in a View and in an Update over its own write.
func testEmptyBounds(t *testing.T, s store.Store) {
	put(t, s, "b", "a", "1", "b", "2")
	checks := func(tx store.Tx, all ...string) {
		t.Helper()
		for _, reverse := range []bool{false, true} {
			want, first := all, all[:1]
			if reverse {
				want = reversed(all)
			}
			wantScan(t, tx, "b", []byte{}, nil, reverse, want...)
			wantScan(t, tx, "b", []byte{}, bs("b"), reverse, first...)
			wantScan(t, tx, "b", nil, []byte{}, reverse)
			wantScan(t, tx, "b", []byte{}, []byte{}, reverse)
		}
	}
	view(t, s, func(tx store.Tx) error { checks(tx, "a=1", "b=2"); return nil })
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", bs("c"), bs("3")); err != nil {
			return err
		}
		checks(tx, "a=1", "b=2", "c=3")
		return nil
	})
}

// testWriteInScan checks that a write from a Scan callback, which Scan's
// doc bars, is refused with an error wrapping ErrInvalid and writes
// nothing, also by the optional writes and from a nested Scan; once the
// Scan returns the transaction writes again.
func testWriteInScan(t *testing.T, s store.Store) {
	put(t, s, "b", "1", "a", "2", "b")
	update(t, s, func(tx store.Tx) error {
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s inside a Scan callback = %v; want an error wrapping ErrInvalid", what, err)
			}
		}
		writes := func() {
			t.Helper()
			check("Put", tx.Put("b", bs("3"), bs("c")))
			check("Put over the scanned key", tx.Put("b", bs("1"), bs("z")))
			check("Delete", tx.Delete("b", bs("2")))
			if ad, ok := tx.(store.Adder); ok {
				check("Add", ad.Add("t", bs("n"), decimal.NewFromInt(1)))
			}
			if in, ok := tx.(store.Inserter); ok {
				check("Insert", in.Insert("b", bs("4"), bs("d")))
			}
			if en, ok := tx.(store.Ensurer); ok {
				check("Ensure", en.Ensure("b", bs("5"), bs("e")))
			}
		}
		var keys []string
		err := tx.Scan("b", nil, nil, false, func(k, v []byte) error {
			keys = append(keys, string(k))
			writes()
			return tx.Scan("c", nil, nil, true, func(k, v []byte) error { return nil })
		})
		if err != nil {
			return err
		}
		err = tx.Scan("b", nil, bs("2"), true, func(k, v []byte) error {
			return tx.Scan("b", nil, nil, false, func(k, v []byte) error { writes(); return store.StopScan })
		})
		if err != nil {
			return err
		}
		if !equal(keys, []string{"1", "2"}) {
			t.Errorf("a Scan whose callback tried to write passed %q; want 1 and 2", keys)
		}
		wantScan(t, tx, "b", nil, nil, false, "1=a", "2=b")
		wantScan(t, tx, "t", nil, nil, false)
		return tx.Put("b", bs("3"), bs("c"))
	})
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, "1=a", "2=b", "3=c")
		wantScan(t, tx, "t", nil, nil, false)
		return nil
	})
}

// testReadOnlyCapabilities checks ErrReadOnly on the optional writes of a
// View's Tx (store.Adder, store.Inserter, store.Ensurer), as ReadOnly does
// on Put and Delete, and that none of them wrote anything; Fresh reports
// false (a View may take no key as absent to write it).
func testReadOnlyCapabilities(t *testing.T, s store.Store) {
	put(t, s, "b", "k", "v")
	view(t, s, func(tx store.Tx) error {
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrReadOnly) {
				t.Errorf("%s in View = %v; want an error wrapping ErrReadOnly", what, err)
			}
		}
		if ad, ok := tx.(store.Adder); ok {
			check("Add", ad.Add("t", bs("n"), decimal.NewFromInt(1)))
		}
		if in, ok := tx.(store.Inserter); ok {
			check("Insert", in.Insert("b", bs("i"), bs("v")))
			if in.Fresh("b", bs("j")) {
				t.Errorf("Fresh in View = true; want false")
			}
		}
		if en, ok := tx.(store.Ensurer); ok {
			check("Ensure", en.Ensure("b", bs("e"), bs("v")))
		}
		wantScan(t, tx, "b", nil, nil, false, "k=v")
		wantScan(t, tx, "t", nil, nil, false)
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, "k=v")
		wantScan(t, tx, "t", nil, nil, false)
		return nil
	})
}

// testValuesStayOverUpdates checks that the bytes a View's Get returns and
// its Scan passes keep their value until the View ends while Updates
// commit meanwhile, overwriting their keys with values of other lengths,
// deleting them and adding keys around them (a store that reuses the
// memory of what it wrote, after writing it out say, would change them).
func testValuesStayOverUpdates(t *testing.T, s store.Store) {
	put(t, s, "b", "k1", "one", "k2", "two", "k3", "three")
	view(t, s, func(tx store.Tx) error {
		got, err := tx.Get("b", bs("k2"))
		if err != nil {
			return err
		}
		var keys, values [][]byte
		err = tx.Scan("b", nil, nil, false, func(k, v []byte) error {
			keys, values = append(keys, k), append(values, v)
			return nil
		})
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			for i := range 50 {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					for _, k := range []string{"k1", "k2", "k3"} {
						if err := tx.Put("b", bs(k), fmt.Appendf(nil, "%s-%0*d", k, i%7+1, i)); err != nil {
							return err
						}
					}
					if err := tx.Put("b", fmt.Appendf(nil, "k2-%02d", i), bs("x")); err != nil {
						return err
					}
					return tx.Delete("b", bs("k1"))
				})
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		if err := <-done; err != nil {
			t.Errorf("Update during View: %v", err)
		}
		if string(got) != "two" {
			t.Errorf("a value Get returned = %q after Updates committed; want two", got)
		}
		var kept []string
		for i := range keys {
			kept = append(kept, string(keys[i])+"="+string(values[i]))
		}
		if want := []string{"k1=one", "k2=two", "k3=three"}; !equal(kept, want) {
			t.Errorf("what Scan passed = %q after Updates committed; want %q", kept, want)
		}
		wantScan(t, tx, "b", nil, nil, false, "k1=one", "k2=two", "k3=three")
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k1", "", true)
		wantValue(t, tx, "b", "k2", "k2-49", false) // 49 % 7 + 1 = 1 digit at least
		wantValue(t, tx, "b", "k2-49", "x", false)
		return nil
	})
}

// testChecker checks store.Checker's answers on a store that has it: nil
// over undamaged data (committed writes and deletes, several buckets),
// the context's error for a cancelled context, and ErrClosed after Close.
func testChecker(t *testing.T, s store.Store) {
	c, ok := s.(store.Checker)
	if !ok {
		return
	}
	put(t, s, "b", "k1", "1", "k2", "2")
	put(t, s, "c", "k", "")
	update(t, s, func(tx store.Tx) error { return tx.Delete("b", bs("k1")) })
	if err := c.Check(t.Context()); err != nil {
		t.Errorf("Check of undamaged data = %v; want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Check with a cancelled context = %v; want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Check(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Check after Close = %v; want an error wrapping ErrClosed", err)
	}
}
