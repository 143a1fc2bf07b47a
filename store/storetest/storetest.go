// Package storetest is the conformance suite for implementations of
// [store.Store].
//
// # Usage
//
// Call [Run] from a test of the implementation's package with a function
// that opens a fresh, empty store and registers its cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s := memory.New()
//			t.Cleanup(func() { _ = s.Close() })
//			return s
//		})
//	}
//
// The cleanup must tolerate a store the test already closed (Close then
// returns an error wrapping [store.ErrClosed]). A store that serializes its
// Updates, and so promises that a function runs exactly once, calls
// [RunSerial] too.
//
// # What it checks
//
// Every case runs as its own subtest on its own store: not-found errors,
// read-your-writes inside a transaction, atomicity of failed Updates (a
// function's error or panic), snapshot isolation of View, whose function
// runs once, ordered and bounded scans in both directions (empty bounds
// too), buckets sharing a prefix, StopScan, reads inside a Scan callback
// and writes refused there, the bytes a transaction is given (copied by
// every call that keeps them) and hands out (keys and values unchanged
// until it ends, by its own writes and other Updates' too, and safe to
// append to), the sizes every store keeps (keys of 1,024 bytes, values of
// 1 MiB; a longer key refused by the write with ErrInvalid or kept, never
// failing the commit), the sentinel errors (ErrReadOnly, ErrTxDone,
// ErrInvalid, ErrClosed, on the optional calls too; ErrInvalid for a nil
// function given to Update or View), context cancellation,
// [store.Preload], and the optional capabilities a store's transactions
// have ([store.Adder], [store.Inserter], [store.Ensurer]) and a store has
// ([store.Prefetcher]: UpdatePrefetch is Update, a function seeing the
// writes of those before it over what the store read early;
// [store.Checker]: nil over undamaged data, the context's error,
// ErrClosed).
//
// Then the concurrent writers of the contract (see [store]): whether a
// store runs Updates one at a time or concurrently and runs a function
// again after a conflict, the suite checks what must hold either way. A
// counter incremented by many goroutines loses no increment; a function
// run again leaves one result, sees one snapshot in every run, and Update
// returns after its last run; bank transfers between random accounts keep
// the total and never overdraw; two transactions that read a range and
// insert into it under a rule that only one may do so never both succeed
// (no write skew); a View sees one total while transfers commit. Each of
// these cases says in a comment how a store without that isolation fails
// it, and the suite's own tests run them on such stores to see them fail.
//
// Run it with -race. The snapshot case commits an Update while a View is
// open, so an implementation whose writers wait for readers fails it by
// hanging; the concurrent cases need a store that runs at least two
// transactions at once (a pool of two connections or more).
package storetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/memberkit/membership/store"
)

// Run runs the conformance suite against the stores returned by open, which
// is called once per subtest and must return a fresh, empty store whose
// cleanup it registers on the given t.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, open(t))
		})
	}
}

var cases = []struct {
	name string
	fn   func(*testing.T, store.Store)
}{
	{"GetMissing", testGetMissing},
	{"ReadCommitted", testReadCommitted},
	{"ViewSnapshot", testViewSnapshot},
	{"ViewOnce", testViewOnce},
	{"FailedUpdateLeavesNothing", testFailedUpdateLeavesNothing},
	{"PanicLeavesNothing", testPanicLeavesNothing},
	{"ReadYourWrites", testReadYourWrites},
	{"PutCopies", testPutCopies},
	{"WritesCopy", testWritesCopy},
	{"ValuesStay", testValuesStay},
	{"ScannedKeysStay", testScannedKeysStay},
	{"ValuesStayOverUpdates", testValuesStayOverUpdates},
	{"EmptyValue", testEmptyValue},
	{"Sizes", testSizes},
	{"DeleteAbsent", testDeleteAbsent},
	{"ScanOrder", testScanOrder},
	{"ScanBucketPrefix", testScanBucketPrefix},
	{"EmptyBounds", testEmptyBounds},
	{"ScanStop", testScanStop},
	{"ScanError", testScanError},
	{"ScanOverlay", testScanOverlay},
	{"ReadInScan", testReadInScan},
	{"WriteInScan", testWriteInScan},
	{"ReadOnly", testReadOnly},
	{"ReadOnlyCapabilities", testReadOnlyCapabilities},
	{"TxDone", testTxDone},
	{"TxDoneCapabilities", testTxDoneCapabilities},
	{"Invalid", testInvalid},
	{"NilFunction", testNilFunction},
	{"CancelledContext", testCancelledContext},
	{"Preload", testPreload},
	{"Prefetcher", testPrefetcher},
	{"Adder", testAdder},
	{"Inserter", testInserter},
	{"Ensurer", testEnsurer},
	{"ConcurrentIncrements", testConcurrentIncrements},
	{"ConcurrentReadersSeeCommitted", testConcurrentReaders},
	{"RerunLeavesOneResult", testRerunLeavesOneResult},
	{"BankTransfers", testBankTransfers},
	{"WriteSkewOnRange", testWriteSkewOnRange},
	{"ViewSeesOneSnapshot", testViewSeesOneSnapshot},
	{"Close", testClose},
	{"ClosePrefetch", testClosePrefetch},
	{"Checker", testChecker},
}

// RunSerial checks, on stores returned by open as for [Run], the promise of
// a store that runs Updates one at a time: a function runs exactly once.
// Call it besides Run; a store that runs Updates concurrently must not.
func RunSerial(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	t.Run("CalledExactlyOnce", func(t *testing.T) {
		testCalledExactlyOnce(t, open(t))
	})
}

// errBoom is the error test functions return to abort an Update.
var errBoom = errors.New("storetest: boom")

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: unexpected error %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: unexpected error %v", err)
	}
}

// put commits key=value pairs (alternating strings) into bucket.
func put(t *testing.T, s store.Store, bucket string, kv ...string) {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := tx.Put(bucket, []byte(kv[i]), []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
}

// wantValue reports an error unless key holds want (or is absent when
// absent is set).
func wantValue(t *testing.T, tx store.Tx, bucket, key, want string, absent bool) {
	t.Helper()
	got, err := tx.Get(bucket, []byte(key))
	switch {
	case absent && !errors.Is(err, store.ErrNotFound):
		t.Errorf("Get(%q, %q) = %q, %v; want an error wrapping ErrNotFound", bucket, key, got, err)
	case !absent && err != nil:
		t.Errorf("Get(%q, %q): error %v; want %q", bucket, key, err, want)
	case !absent && string(got) != want:
		t.Errorf("Get(%q, %q) = %q; want %q", bucket, key, got, want)
	}
}

// scan returns the pairs Scan yields as "key=value" strings.
func scan(t *testing.T, tx store.Tx, bucket string, start, end []byte, reverse bool) []string {
	t.Helper()
	var out []string
	err := tx.Scan(bucket, start, end, reverse, func(k, v []byte) error {
		out = append(out, string(k)+"="+string(v))
		return nil
	})
	if err != nil {
		t.Errorf("Scan(%q, %q, %q, %v): unexpected error %v", bucket, start, end, reverse, err)
	}
	return out
}

func wantScan(t *testing.T, tx store.Tx, bucket string, start, end []byte, reverse bool, want ...string) {
	t.Helper()
	got := scan(t, tx, bucket, start, end, reverse)
	if !slices.Equal(got, want) {
		t.Errorf("Scan(%q, start=%q, end=%q, reverse=%v)\n got  %q\n want %q", bucket, start, end, reverse, got, want)
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func bs(s string) []byte { return []byte(s) }

func testGetMissing(t *testing.T, s store.Store) {
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "nobucket", "k", "", true)
		return nil
	})
	put(t, s, "b", "k1", "v1")
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k2", "", true)
		wantValue(t, tx, "nobucket", "k1", "", true)
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k2", "", true)
		return nil
	})
}

func testReadCommitted(t *testing.T, s store.Store) {
	put(t, s, "b", "k1", "v1", "k2", "v2")
	put(t, s, "c", "k1", "c1")
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k1", "v1", false)
		wantValue(t, tx, "b", "k2", "v2", false)
		wantValue(t, tx, "c", "k1", "c1", false)
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k1", "v1", false)
		return tx.Delete("b", bs("k1"))
	})
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k1", "", true)
		wantValue(t, tx, "b", "k2", "v2", false)
		return nil
	})
}

func testViewSnapshot(t *testing.T, s store.Store) {
	put(t, s, "b", "x", "1", "y", "1")
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "x", "1", false)
		// Commit a change while this View is open; it must stay invisible.
		done := make(chan error, 1)
		go func() {
			done <- s.Update(context.Background(), func(tx store.Tx) error {
				if err := tx.Put("b", bs("x"), bs("2")); err != nil {
					return err
				}
				if err := tx.Put("b", bs("z"), bs("2")); err != nil {
					return err
				}
				return tx.Put("b", bs("y"), bs("2"))
			})
		}()
		if err := <-done; err != nil {
			t.Errorf("Update during View: %v", err)
		}
		wantValue(t, tx, "b", "x", "1", false)
		wantValue(t, tx, "b", "y", "1", false)
		wantValue(t, tx, "b", "z", "", true)
		wantScan(t, tx, "b", nil, nil, false, "x=1", "y=1")
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, "x=2", "y=2", "z=2")
		return nil
	})
}

func testFailedUpdateLeavesNothing(t *testing.T, s store.Store) {
	put(t, s, "b", "x", "1", "y", "1")
	err := s.Update(t.Context(), func(tx store.Tx) error {
		for _, op := range []func() error{
			func() error { return tx.Put("b", bs("x"), bs("2")) },
			func() error { return tx.Delete("b", bs("y")) },
			func() error { return tx.Put("b", bs("z"), bs("2")) },
			func() error { return tx.Put("new", bs("k"), bs("v")) },
		} {
			if err := op(); err != nil {
				t.Errorf("write in Update: %v", err)
			}
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update returned %v; want the function's error %v", err, errBoom)
	}
	if err != errBoom {
		t.Errorf("Update returned %v; want the function's error returned as is", err)
	}
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, "x=1", "y=1")
		wantScan(t, tx, "new", nil, nil, false)
		wantValue(t, tx, "new", "k", "", true)
		return nil
	})
}

func testReadYourWrites(t *testing.T, s store.Store) {
	put(t, s, "b", "a", "1", "c", "1")
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", bs("b"), bs("2")); err != nil {
			return err
		}
		wantValue(t, tx, "b", "b", "2", false)
		if err := tx.Put("b", bs("a"), bs("2")); err != nil {
			return err
		}
		wantValue(t, tx, "b", "a", "2", false)
		if err := tx.Delete("b", bs("c")); err != nil {
			return err
		}
		wantValue(t, tx, "b", "c", "", true)
		wantScan(t, tx, "b", nil, nil, false, "a=2", "b=2")
		if err := tx.Put("b", bs("c"), bs("3")); err != nil {
			return err
		}
		wantValue(t, tx, "b", "c", "3", false)
		if err := tx.Put("fresh", bs("k"), bs("v")); err != nil {
			return err
		}
		wantValue(t, tx, "fresh", "k", "v", false)
		wantScan(t, tx, "fresh", nil, nil, false, "k=v")
		wantScan(t, tx, "b", nil, nil, true, "c=3", "b=2", "a=2")
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, "a=2", "b=2", "c=3")
		wantScan(t, tx, "fresh", nil, nil, false, "k=v")
		return nil
	})
}

func testPutCopies(t *testing.T, s store.Store) {
	key, val := bs("key"), bs("value")
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", key, val); err != nil {
			return err
		}
		copy(val, "XXXXX")
		copy(key, "KKK")
		wantValue(t, tx, "b", "key", "value", false)
		wantValue(t, tx, "b", "KKK", "", true)
		return nil
	})
	copy(val, "YYYYY")
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "key", "value", false)
		wantScan(t, tx, "b", nil, nil, false, "key=value")
		return nil
	})
}

func testEmptyValue(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", bs("nil"), nil); err != nil {
			return err
		}
		if err := tx.Put("b", bs("empty"), []byte{}); err != nil {
			return err
		}
		wantValue(t, tx, "b", "nil", "", false)
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "nil", "", false)
		wantValue(t, tx, "b", "empty", "", false)
		wantScan(t, tx, "b", nil, nil, false, "empty=", "nil=")
		return nil
	})
}

func testDeleteAbsent(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		if err := tx.Delete("nobucket", bs("k")); err != nil {
			t.Errorf("Delete in a missing bucket: %v; want nil", err)
		}
		return nil
	})
	put(t, s, "b", "k", "v")
	update(t, s, func(tx store.Tx) error {
		if err := tx.Delete("b", bs("other")); err != nil {
			t.Errorf("Delete of an absent key: %v; want nil", err)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, "k=v")
		return nil
	})
}

func testScanOrder(t *testing.T, s store.Store) {
	// Inserted out of order; includes keys that are prefixes of others and
	// bytes that sort around common separators.
	put(t, s, "b", "k5", "5", "k1", "1", "k3", "3", "k\x00", "0", "k", "e", "k\xff", "f", "k30", "30")
	all := []string{"k=e", "k\x00=0", "k1=1", "k3=3", "k30=30", "k5=5", "k\xff=f"}
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, all...)
		wantScan(t, tx, "b", nil, nil, true, reversed(all)...)
		wantScan(t, tx, "b", bs("k1"), bs("k5"), false, "k1=1", "k3=3", "k30=30")
		wantScan(t, tx, "b", bs("k1"), bs("k5"), true, "k30=30", "k3=3", "k1=1")
		wantScan(t, tx, "b", bs("k2"), nil, false, "k3=3", "k30=30", "k5=5", "k\xff=f")
		wantScan(t, tx, "b", bs("k2"), nil, true, "k\xff=f", "k5=5", "k30=30", "k3=3")
		wantScan(t, tx, "b", nil, bs("k3"), false, "k=e", "k\x00=0", "k1=1")
		wantScan(t, tx, "b", nil, bs("k3"), true, "k1=1", "k\x00=0", "k=e")
		wantScan(t, tx, "b", bs("k3"), store.PrefixEnd(bs("k3")), false, "k3=3", "k30=30")
		wantScan(t, tx, "b", bs("k3"), store.PrefixEnd(bs("k3")), true, "k30=30", "k3=3")
		wantScan(t, tx, "b", bs("a"), bs("z"), false, all...)
		wantScan(t, tx, "b", bs("a"), bs("z"), true, reversed(all)...)
		wantScan(t, tx, "b", bs("k3"), bs("k3"), false)
		wantScan(t, tx, "b", bs("k3"), bs("k3"), true)
		wantScan(t, tx, "b", bs("k5"), bs("k1"), false)
		wantScan(t, tx, "b", bs("k5"), bs("k1"), true)
		wantScan(t, tx, "b", bs("l"), nil, false)
		wantScan(t, tx, "b", nil, bs("a"), true)
		wantScan(t, tx, "nobucket", nil, nil, false)
		wantScan(t, tx, "nobucket", nil, nil, true)
		return nil
	})
}

func testScanBucketPrefix(t *testing.T, s store.Store) {
	put(t, s, "a", "1", "a1", "2", "a2")
	put(t, s, "ab", "0", "ab0", "1", "ab1", "3", "ab3")
	put(t, s, "a\x00", "5", "a05")
	put(t, s, "b", "0", "b0")
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "a", nil, nil, false, "1=a1", "2=a2")
		wantScan(t, tx, "a", nil, nil, true, "2=a2", "1=a1")
		wantScan(t, tx, "ab", nil, nil, false, "0=ab0", "1=ab1", "3=ab3")
		wantScan(t, tx, "ab", nil, nil, true, "3=ab3", "1=ab1", "0=ab0")
		wantScan(t, tx, "a\x00", nil, nil, false, "5=a05")
		wantScan(t, tx, "a", bs("2"), nil, false, "2=a2")
		wantScan(t, tx, "a", nil, bs("2"), true, "1=a1")
		wantValue(t, tx, "a", "0", "", true)
		wantValue(t, tx, "ab", "2", "", true)
		return nil
	})
}

func testScanStop(t *testing.T, s store.Store) {
	put(t, s, "b", "1", "1", "2", "2", "3", "3", "4", "4")
	check := func(tx store.Tx, reverse bool, want ...string) {
		t.Helper()
		var got []string
		err := tx.Scan("b", nil, nil, reverse, func(k, v []byte) error {
			got = append(got, string(k))
			if len(got) == 2 {
				return store.StopScan
			}
			return nil
		})
		if err != nil {
			t.Errorf("Scan(reverse=%v) ended by StopScan returned %v; want nil", reverse, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Scan(reverse=%v) with StopScan after 2 keys visited %q; want %q", reverse, got, want)
		}
	}
	view(t, s, func(tx store.Tx) error {
		check(tx, false, "1", "2")
		check(tx, true, "4", "3")
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", bs("0"), bs("0")); err != nil {
			return err
		}
		check(tx, false, "0", "1")
		check(tx, true, "4", "3")
		return nil
	})
}

func testScanError(t *testing.T, s store.Store) {
	put(t, s, "b", "1", "1", "2", "2", "3", "3")
	check := func(tx store.Tx, reverse bool) {
		t.Helper()
		n := 0
		err := tx.Scan("b", nil, nil, reverse, func(k, v []byte) error {
			n++
			return fmt.Errorf("wrapped: %w", errBoom)
		})
		if !errors.Is(err, errBoom) {
			t.Errorf("Scan(reverse=%v) whose callback fails returned %v; want an error wrapping %v", reverse, err, errBoom)
		}
		if n != 1 {
			t.Errorf("Scan(reverse=%v) called the callback %d times after it failed once; want 1", reverse, n)
		}
	}
	view(t, s, func(tx store.Tx) error {
		check(tx, false)
		check(tx, true)
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", bs("0"), bs("0")); err != nil {
			return err
		}
		check(tx, false)
		check(tx, true)
		return nil
	})
}

func testScanOverlay(t *testing.T, s store.Store) {
	put(t, s, "b", "k1", "1", "k3", "3", "k5", "5", "k7", "7", "k9", "9")
	put(t, s, "c", "k1", "c1")
	want := []string{"k0=new", "k1=1", "k4=new", "k5=over", "k6=new", "k7=7", "k9=9", "kz=new"}
	writes := func(tx store.Tx) error {
		for _, err := range []error{
			tx.Delete("b", bs("k3")),
			tx.Put("b", bs("k5"), bs("over")),
			tx.Put("b", bs("k4"), bs("new")),
			tx.Put("b", bs("k6"), bs("new")),
			tx.Put("b", bs("k0"), bs("new")),
			tx.Put("b", bs("kz"), bs("new")),
			tx.Put("b", bs("k8"), bs("tmp")),
			tx.Delete("b", bs("k8")),
			tx.Delete("b", bs("k2")), // absent
			tx.Delete("c", bs("k1")),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}
	checks := func(tx store.Tx) {
		t.Helper()
		wantScan(t, tx, "b", nil, nil, false, want...)
		wantScan(t, tx, "b", nil, nil, true, reversed(want)...)
		wantScan(t, tx, "b", bs("k3"), bs("k7"), false, "k4=new", "k5=over", "k6=new")
		wantScan(t, tx, "b", bs("k3"), bs("k7"), true, "k6=new", "k5=over", "k4=new")
		wantScan(t, tx, "b", bs("k5"), bs("k6"), false, "k5=over")
		wantScan(t, tx, "b", bs("k5"), bs("k6"), true, "k5=over")
		wantScan(t, tx, "b", bs("k2"), bs("k4"), false)
		wantScan(t, tx, "b", bs("k2"), bs("k4"), true)
		wantScan(t, tx, "b", bs("k1"), nil, false, want[1:]...)
		wantScan(t, tx, "b", nil, bs("kz"), true, reversed(want[:len(want)-1])...)
		wantScan(t, tx, "c", nil, nil, false)
		wantScan(t, tx, "c", nil, nil, true)
	}
	// Within the transaction, then committed.
	update(t, s, func(tx store.Tx) error {
		if err := writes(tx); err != nil {
			return err
		}
		checks(tx)
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		checks(tx)
		return nil
	})
	// Deleting every key inside a transaction hides them all.
	err := s.Update(t.Context(), func(tx store.Tx) error {
		for _, kv := range want {
			if err := tx.Delete("b", bs(strings.SplitN(kv, "=", 2)[0])); err != nil {
				return err
			}
		}
		wantScan(t, tx, "b", nil, nil, false)
		wantScan(t, tx, "b", nil, nil, true)
		return errBoom
	})
	if err != errBoom {
		t.Errorf("Update = %v; want %v", err, errBoom)
	}
	view(t, s, func(tx store.Tx) error {
		checks(tx)
		return nil
	})
}

func testReadOnly(t *testing.T, s store.Store) {
	put(t, s, "b", "k", "v")
	view(t, s, func(tx store.Tx) error {
		if err := tx.Put("b", bs("k"), bs("w")); !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("Put in View = %v; want an error wrapping ErrReadOnly", err)
		}
		if err := tx.Put("new", bs("k"), bs("w")); !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("Put of a new bucket in View = %v; want an error wrapping ErrReadOnly", err)
		}
		if err := tx.Delete("b", bs("k")); !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("Delete in View = %v; want an error wrapping ErrReadOnly", err)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k", "v", false)
		wantScan(t, tx, "new", nil, nil, false)
		return nil
	})
}

func testTxDone(t *testing.T, s store.Store) {
	put(t, s, "b", "k", "v")
	var leaked []store.Tx
	update(t, s, func(tx store.Tx) error { leaked = append(leaked, tx); return nil })
	if err := s.Update(t.Context(), func(tx store.Tx) error { leaked = append(leaked, tx); return errBoom }); err != errBoom {
		t.Fatalf("Update = %v; want %v", err, errBoom)
	}
	view(t, s, func(tx store.Tx) error { leaked = append(leaked, tx); return nil })
	for i, tx := range leaked {
		if _, err := tx.Get("b", bs("k")); !errors.Is(err, store.ErrTxDone) {
			t.Errorf("tx %d: Get after the transaction ended = %v; want an error wrapping ErrTxDone", i, err)
		}
		if err := tx.Put("b", bs("k"), bs("w")); !errors.Is(err, store.ErrTxDone) {
			t.Errorf("tx %d: Put after the transaction ended = %v; want an error wrapping ErrTxDone", i, err)
		}
		if err := tx.Delete("b", bs("k")); !errors.Is(err, store.ErrTxDone) {
			t.Errorf("tx %d: Delete after the transaction ended = %v; want an error wrapping ErrTxDone", i, err)
		}
		called := false
		err := tx.Scan("b", nil, nil, false, func(k, v []byte) error { called = true; return nil })
		if !errors.Is(err, store.ErrTxDone) || called {
			t.Errorf("tx %d: Scan after the transaction ended = %v (callback called: %v); want an error wrapping ErrTxDone and no call", i, err, called)
		}
	}
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k", "v", false)
		return nil
	})
}

func testInvalid(t *testing.T, s store.Store) {
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s = %v; want an error wrapping ErrInvalid", what, err)
		}
	}
	update(t, s, func(tx store.Tx) error {
		_, err := tx.Get("", bs("k"))
		check(`Get("", "k")`, err)
		_, err = tx.Get("b", nil)
		check(`Get("b", nil)`, err)
		_, err = tx.Get("b", []byte{})
		check(`Get("b", "")`, err)
		check(`Put("", "k")`, tx.Put("", bs("k"), bs("v")))
		check(`Put("b", nil)`, tx.Put("b", nil, bs("v")))
		check(`Put("b", "")`, tx.Put("b", []byte{}, bs("v")))
		check(`Delete("", "k")`, tx.Delete("", bs("k")))
		check(`Delete("b", nil)`, tx.Delete("b", nil))
		check(`Scan("")`, tx.Scan("", nil, nil, false, func(k, v []byte) error { return nil }))
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		_, err := tx.Get("", bs("k"))
		check(`Get("", "k") in View`, err)
		_, err = tx.Get("b", nil)
		check(`Get("b", nil) in View`, err)
		check(`Scan("") in View`, tx.Scan("", nil, nil, true, func(k, v []byte) error { return nil }))
		wantScan(t, tx, "b", nil, nil, false)
		return nil
	})
}

// testNilFunction checks that a nil function is the caller's error:
// Update, View and UpdatePrefetch (on a store that has it) return an
// error wrapping ErrInvalid, without a panic, and the store goes on as
// it was.
func testNilFunction(t *testing.T, s store.Store) {
	put(t, s, "b", "k", "v")
	check := func(what string, call func() error) {
		t.Helper()
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("%s panicked: %v; want an error wrapping ErrInvalid", what, p)
			}
		}()
		if err := call(); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s = %v; want an error wrapping ErrInvalid", what, err)
		}
	}
	check("Update(nil)", func() error { return s.Update(t.Context(), nil) })
	check("View(nil)", func() error { return s.View(t.Context(), nil) })
	if p, ok := s.(store.Prefetcher); ok {
		reads := []store.Read{{Bucket: "b", Key: bs("k")}}
		check("UpdatePrefetch(nil)", func() error { return p.UpdatePrefetch(t.Context(), reads, nil) })
	}
	put(t, s, "b", "k2", "v2")
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, "k=v", "k2=v2")
		return nil
	})
}

func testCancelledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.Update(ctx, func(tx store.Tx) error { called = true; return tx.Put("b", bs("k"), bs("v")) })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("Update with a cancelled context = %v (fn called: %v); want context.Canceled and no call", err, called)
	}
	err = s.View(ctx, func(tx store.Tx) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("View with a cancelled context = %v (fn called: %v); want context.Canceled and no call", err, called)
	}
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k", "", true)
		return nil
	})
}

// testConcurrentIncrements checks that no update is lost: goroutines
// increment one counter, each increment a Get and a Put in one Update, and
// the counter ends at the number of increments. A store without isolation
// between Updates fails it: two functions read the same n and both write
// n+1 (the yield between the Get and the Put widens that window).
func testConcurrentIncrements(t *testing.T, s store.Store) {
	const goroutines, increments = 32, 10
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range increments {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					var n uint64
					v, err := tx.Get("counter", bs("n"))
					switch {
					case err == nil:
						n = binary.BigEndian.Uint64(v)
					case !errors.Is(err, store.ErrNotFound):
						return err
					}
					runtime.Gosched()
					return tx.Put("counter", bs("n"), binary.BigEndian.AppendUint64(nil, n+1))
				})
				if err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	view(t, s, func(tx store.Tx) error {
		v, err := tx.Get("counter", bs("n"))
		if err != nil {
			t.Fatalf("Get counter: %v", err)
		}
		if got, want := binary.BigEndian.Uint64(v), uint64(goroutines*increments); got != want {
			t.Errorf("counter after %d×%d concurrent increments = %d; want %d (lost updates)", goroutines, increments, got, want)
		}
		return nil
	})
}

func testConcurrentReaders(t *testing.T, s store.Store) {
	const writes, readers = 200, 4
	put(t, s, "pair", "a", "0", "b", "0")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	for range readers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := s.View(context.Background(), func(tx store.Tx) error {
					a, err := tx.Get("pair", bs("a"))
					if err != nil {
						return err
					}
					b, err := tx.Get("pair", bs("b"))
					if err != nil {
						return err
					}
					if !bytes.Equal(a, b) {
						t.Errorf("View saw a=%q b=%q; keys always written together must be equal", a, b)
					}
					got := scan(t, tx, "pair", nil, nil, false)
					if len(got) != 2 || got[0] != "a="+string(a) || got[1] != "b="+string(a) {
						t.Errorf("Scan in View saw %q; want a and b both %q", got, a)
					}
					return nil
				})
				if err != nil {
					t.Errorf("View: %v", err)
					return
				}
			}
		})
	}
	for i := 1; i <= writes; i++ {
		v := fmt.Append(nil, i)
		update(t, s, func(tx store.Tx) error {
			if err := tx.Put("pair", bs("a"), v); err != nil {
				return err
			}
			return tx.Put("pair", bs("b"), v)
		})
	}
}

// testCalledExactlyOnce checks that Update runs its function exactly once
// and returns only after the function has returned (for [RunSerial]).
func testCalledExactlyOnce(t *testing.T, s store.Store) {
	const n = 64
	var calls [n]atomic.Int32
	var returned [n]atomic.Bool
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.Update(context.Background(), func(tx store.Tx) error {
				defer returned[i].Store(true)
				calls[i].Add(1)
				if i%4 == 0 {
					return errBoom
				}
				return tx.Put("once", fmt.Appendf(nil, "%03d", i), nil)
			})
			if !returned[i].Load() {
				t.Errorf("Update %d returned before its function did", i)
			}
			if i%4 == 0 && err != errBoom {
				t.Errorf("Update %d = %v; want %v", i, err, errBoom)
			}
			if i%4 != 0 && err != nil {
				t.Errorf("Update %d = %v; want nil", i, err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if got := calls[i].Load(); got != 1 {
			t.Errorf("Update %d called its function %d times; want exactly 1", i, got)
		}
	}
	view(t, s, func(tx store.Tx) error {
		if got, want := len(scan(t, tx, "once", nil, nil, false)), n-n/4; got != want {
			t.Errorf("%d keys committed; want %d", got, want)
		}
		return nil
	})
}

func testClose(t *testing.T, s store.Store) {
	put(t, s, "b", "k", "v")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	called := false
	if err := s.Update(t.Context(), func(store.Tx) error { called = true; return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Update after Close = %v; want an error wrapping ErrClosed", err)
	}
	if err := s.View(t.Context(), func(store.Tx) error { called = true; return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("View after Close = %v; want an error wrapping ErrClosed", err)
	}
	if called {
		t.Errorf("a function passed to Update or View after Close was called")
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close = %v; want an error wrapping ErrClosed", err)
	}
}
