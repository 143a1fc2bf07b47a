package memory_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	s := memory.New()
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
	storetest.RunSerial(t, open)
}

func TestWriteInsideScan(t *testing.T) {
	s := open(t)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put("b", []byte("k"), []byte("v")); err != nil {
			return err
		}
		return tx.Scan("b", nil, nil, false, func(k, v []byte) error {
			if err := tx.Put("b", []byte("k2"), nil); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Put inside a Scan callback = %v; want an error wrapping ErrInvalid", err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// holdView starts a View and returns once its snapshot is taken; check
// runs inside the View when release is called, which waits for it.
func holdView(t *testing.T, s store.Store, check func(tx store.Tx)) (release func()) {
	t.Helper()
	started, proceed, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.View(context.Background(), func(tx store.Tx) error {
			close(started)
			<-proceed
			check(tx)
			return nil
		})
	}()
	<-started
	return func() {
		t.Helper()
		close(proceed)
		if err := <-done; err != nil {
			t.Errorf("View: %v", err)
		}
	}
}

func mustUpdate(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func putAll(tx store.Tx, bucket string, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := tx.Put(bucket, []byte(kv[i]), []byte(kv[i+1])); err != nil {
			return err
		}
	}
	return nil
}

// dump returns every bucket's contents as "bucket/key=value" strings.
func dump(t *testing.T, tx store.Tx, buckets ...string) []string {
	t.Helper()
	var out []string
	for _, b := range buckets {
		err := tx.Scan(b, nil, nil, false, func(k, v []byte) error {
			out = append(out, b+"/"+string(k)+"="+string(v))
			return nil
		})
		if err != nil {
			t.Errorf("Scan(%q): %v", b, err)
		}
	}
	return out
}

// A View keeps seeing the state it started on while later Updates
// overwrite existing keys in place (same and other lengths), delete keys,
// add keys and buckets; buckets a later Update leaves alone are shared.
func TestSnapshotBetweenUpdates(t *testing.T) {
	s := open(t)
	buckets := []string{"a", "b", "c"}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := putAll(tx, "a", "k1", "v1", "k2", "v2", "k3", "v3"); err != nil {
			return err
		}
		return putAll(tx, "b", "x", "1")
	})
	first := []string{"a/k1=v1", "a/k2=v2", "a/k3=v3", "b/x=1"}
	release1 := holdView(t, s, func(tx store.Tx) {
		if got := dump(t, tx, buckets...); !slices.Equal(got, first) {
			t.Errorf("first View sees %q; want %q", got, first)
		}
		if v, err := tx.Get("a", []byte("k1")); err != nil || string(v) != "v1" {
			t.Errorf("first View: Get(a, k1) = %q, %v; want v1", v, err)
		}
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := putAll(tx, "a", "k1", "V1", "k2", "a longer value", "k4", "v4"); err != nil {
			return err
		}
		if err := tx.Delete("a", []byte("k3")); err != nil {
			return err
		}
		return putAll(tx, "c", "new", "bucket")
	})
	second := []string{"a/k1=V1", "a/k2=a longer value", "a/k4=v4", "b/x=1", "c/new=bucket"}
	release2 := holdView(t, s, func(tx store.Tx) {
		if got := dump(t, tx, buckets...); !slices.Equal(got, second) {
			t.Errorf("second View sees %q; want %q", got, second)
		}
	})
	// Only bucket b changes now: the next View reuses the clones of a and c.
	mustUpdate(t, s, func(tx store.Tx) error { return putAll(tx, "b", "x", "2") })
	third := []string{"a/k1=V1", "a/k2=a longer value", "a/k4=v4", "b/x=2", "c/new=bucket"}
	release3 := holdView(t, s, func(tx store.Tx) {
		if got := dump(t, tx, buckets...); !slices.Equal(got, third) {
			t.Errorf("third View sees %q; want %q", got, third)
		}
	})
	mustUpdate(t, s, func(tx store.Tx) error { return putAll(tx, "a", "k1", "later") })
	release3()
	release2()
	release1()
}

// A panicking Update leaves nothing, not even the bucket it created, and
// releases the writer lock.
func TestPanicLeavesNothing(t *testing.T) {
	s := open(t)
	mustUpdate(t, s, func(tx store.Tx) error { return putAll(tx, "b", "k", "v") })
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v; want the Update function's panic", r)
			}
		}()
		_ = s.Update(t.Context(), func(tx store.Tx) error {
			if err := putAll(tx, "b", "k", "changed", "k2", "v2"); err != nil {
				return err
			}
			if err := putAll(tx, "fresh", "k", "v"); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	mustUpdate(t, s, func(tx store.Tx) error {
		if got, want := dump(t, tx, "b", "fresh"), []string{"b/k=v"}; !slices.Equal(got, want) {
			t.Errorf("after a panicking Update: %q; want %q", got, want)
		}
		return nil
	})
}

// A value returned by Get keeps its contents until the transaction ends,
// even when the key is overwritten with a value of the same length.
func TestGetValueStable(t *testing.T) {
	s := open(t)
	mustUpdate(t, s, func(tx store.Tx) error { return putAll(tx, "b", "k", "old") })
	mustUpdate(t, s, func(tx store.Tx) error {
		v, err := tx.Get("b", []byte("k"))
		if err != nil {
			return err
		}
		if err := putAll(tx, "b", "k", "new"); err != nil {
			return err
		}
		if string(v) != "old" {
			t.Errorf("value from Get changed to %q after a Put of the same key; want old", v)
		}
		return nil
	})
}

// TestRandomOps runs random transactions against the store and a plain
// model: Updates that commit, fail or panic, each checked inside against
// the model, and Views held open across later Updates.
func TestRandomOps(t *testing.T) {
	s := open(t)
	rng := rand.New(rand.NewPCG(3, 4))
	type model map[string]map[string]string
	clone := func(m model) model {
		c := make(model, len(m))
		for b, kv := range m {
			c[b] = maps.Clone(kv)
		}
		return c
	}
	buckets := []string{"a", "ab", "b", "c\x00", "d"}
	// Keys are short or share long prefixes, as the domain packages'
	// do, so that tree nodes have long common prefixes and tied heads.
	prefixes := []string{"", "", "m12\x00points:mall\x00\x00", "m12\x00growth\x00\x00\x98\xea\xd8"}
	randKey := func() string {
		const alphabet = "\x00\x01mz\xff"
		k := []byte(prefixes[rng.IntN(len(prefixes))])
		for range 1 + rng.IntN(10) {
			k = append(k, alphabet[rng.IntN(len(alphabet))])
		}
		return string(k)
	}
	// compare checks everything tx sees against m: full and bounded
	// scans both ways, and Gets of present and absent keys. It may run in
	// a View's goroutine, so it reports with Errorf.
	compare := func(tx store.Tx, m model, what string) {
		t.Helper()
		for _, b := range buckets {
			keys := slices.Sorted(maps.Keys(m[b]))
			var lo, hi []byte
			if rng.IntN(2) == 0 {
				lo = []byte(randKey())
			}
			if rng.IntN(2) == 0 {
				hi = []byte(randKey())
			}
			var want []string
			for _, k := range keys {
				if (lo == nil || k >= string(lo)) && (hi == nil || k < string(hi)) {
					want = append(want, k+"="+m[b][k])
				}
			}
			for _, reverse := range []bool{false, true} {
				var got []string
				err := tx.Scan(b, lo, hi, reverse, func(k, v []byte) error {
					got = append(got, string(k)+"="+string(v))
					return nil
				})
				if reverse {
					slices.Reverse(got)
				}
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("%s: Scan(%q, %q, %q, reverse=%v) = %q, %v; want %q", what, b, lo, hi, reverse, got, err, want)
					return
				}
			}
			for range 3 {
				k := randKey()
				v, err := tx.Get(b, []byte(k))
				mv, ok := m[b][k]
				if ok && (err != nil || string(v) != mv) || !ok && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s: Get(%q, %q) = %q, %v; want %q (present: %v)", what, b, k, v, err, mv, ok)
					return
				}
			}
		}
	}
	committed := model{}
	var releases []func()
	for i := range 400 {
		if rng.IntN(8) == 0 { // hold a View over the next Updates
			m := clone(committed)
			releases = append(releases, holdView(t, s, func(tx store.Tx) { compare(tx, m, fmt.Sprintf("View held from step %d", i)) }))
		}
		if len(releases) > 3 || rng.IntN(10) == 0 && len(releases) > 0 {
			releases[0]()
			releases = releases[1:]
		}
		work := clone(committed)
		outcome := rng.IntN(6) // 0: error, 1: panic, else commit
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return s.Update(t.Context(), func(tx store.Tx) error {
				n := 1 + rng.IntN(30)
				if rng.IntN(10) == 0 {
					n = 500 // trees of several levels
				}
				for range n {
					b, k := buckets[rng.IntN(len(buckets))], randKey()
					if rng.IntN(3) == 0 && len(work[b]) > 0 { // read, then write the same key
						keys := slices.Sorted(maps.Keys(work[b]))
						k = keys[rng.IntN(len(keys))]
						if v, err := tx.Get(b, []byte(k)); err != nil || string(v) != work[b][k] {
							t.Fatalf("Get(%q, %q) = %q, %v; want %q", b, k, v, err, work[b][k])
						}
						if other := keys[rng.IntN(len(keys))]; other != k && rng.IntN(2) == 0 {
							// The tree may rebalance between the Get and the Put.
							if err := tx.Delete(b, []byte(other)); err != nil {
								return err
							}
							delete(work[b], other)
						}
					}
					if rng.IntN(4) == 0 {
						if err := tx.Delete(b, []byte(k)); err != nil {
							return err
						}
						delete(work[b], k)
						continue
					}
					v := fmt.Sprint(rng.IntN(1000))
					if err := tx.Put(b, []byte(k), []byte(v)); err != nil {
						return err
					}
					if work[b] == nil {
						work[b] = map[string]string{}
					}
					work[b][k] = v
				}
				compare(tx, work, fmt.Sprintf("Update at step %d", i))
				if t.Failed() {
					t.FailNow()
				}
				switch outcome {
				case 0:
					return errors.New("refused")
				case 1:
					panic("boom")
				}
				return nil
			})
		}()
		if outcome > 1 {
			if err != nil {
				t.Fatalf("step %d: Update: %v", i, err)
			}
			committed = work
		}
		if rng.IntN(3) == 0 {
			if err := s.View(t.Context(), func(tx store.Tx) error {
				compare(tx, committed, fmt.Sprintf("View at step %d", i))
				return nil
			}); err != nil {
				t.Fatalf("View: %v", err)
			}
		}
	}
	for _, release := range releases {
		release()
	}
}

// A member's records overwritten event after event (its balances and
// counters) keep the store's memory bounded: each overwrite appends to
// its leaf's arena, and a full arena is replaced by a copy of the live
// entries once the old ones pin more than about twice their size, so the
// collector frees what is overwritten. 20 records of 60 bytes (1,200 live)
// written 20,000 times more (24 MB in all) must grow the heap by far less
// than 1 MiB; an arena kept for ever would hold all 24 MB. Views in
// between take snapshots, which the next write copies from and drops.
func TestOverwritesKeepMemoryBounded(t *testing.T) {
	s := open(t)
	write := func(rounds int) {
		for r := range rounds {
			mustUpdate(t, s, func(tx store.Tx) error {
				for k := range 20 {
					key := fmt.Appendf(nil, "m000001\x00rec%02d", k) // 12 bytes
					if err := tx.Put("b", key, fmt.Appendf(nil, "%048d", r)); err != nil {
						return err
					}
				}
				return nil
			})
			if r%100 == 0 {
				if err := s.View(t.Context(), func(tx store.Tx) error { _, err := tx.Get("b", []byte("m000001\x00rec00")); return err }); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	write(1000)
	before := heap()
	write(20000)
	after := heap()
	if after > before && after-before > 1<<20 {
		t.Errorf("20,000 overwrites of 20 records of 60 bytes grew the heap by %d bytes; want under 1 MiB", after-before)
	}
	if err := s.View(t.Context(), func(tx store.Tx) error {
		v, err := tx.Get("b", []byte("m000001\x00rec19"))
		if want := fmt.Sprintf("%048d", 19999); err != nil || string(v) != want {
			t.Errorf("Get(rec19) = %q, %v; want %q", v, err, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A View whose snapshot is made does not wait for a running Update (the
// package doc): with the snapshot of k=1 made, a View during an Update
// that has written k=2 and not returned reads 1 without the writer lock
// (were it to wait, the test would hang); once the Update commits, the
// next View makes a new snapshot and reads 2.
func TestViewDoesNotWaitForUpdate(t *testing.T) {
	s := open(t)
	mustUpdate(t, s, func(tx store.Tx) error { return putAll(tx, "b", "k", "1") })
	get := func() string {
		t.Helper()
		var got string
		if err := s.View(t.Context(), func(tx store.Tx) error {
			v, err := tx.Get("b", []byte("k"))
			got = string(v)
			return err
		}); err != nil {
			t.Fatalf("View: %v", err)
		}
		return got
	}
	if got := get(); got != "1" {
		t.Fatalf("View = %q; want 1", got)
	}
	inside, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- s.Update(context.Background(), func(tx store.Tx) error {
			if err := tx.Put("b", []byte("k"), []byte("2")); err != nil {
				return err
			}
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	got := get()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got != "1" {
		t.Errorf("View during an Update = %q; want the snapshot's 1", got)
	}
	if got := get(); got != "2" {
		t.Errorf("View after the Update = %q; want 2", got)
	}
}

// Close lets the transactions already running finish normally (Close's
// doc): an Update that Close is called in the middle of goes on reading
// and writing and commits, and a View open meanwhile reads its snapshot;
// every call after Close returns ErrClosed.
func TestCloseLetsRunningTransactionsFinish(t *testing.T) {
	s := open(t)
	mustUpdate(t, s, func(tx store.Tx) error { return putAll(tx, "b", "k", "1") })
	release := holdView(t, s, func(tx store.Tx) {
		if v, err := tx.Get("b", []byte("k")); err != nil || string(v) != "1" {
			t.Errorf("Get in the View after Close = %q, %v; want its snapshot's 1", v, err)
		}
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if v, err := tx.Get("b", []byte("k")); err != nil || string(v) != "1" {
			t.Errorf("Get in the Update after Close = %q, %v; want 1", v, err)
		}
		return tx.Put("b", []byte("k"), []byte("2"))
	})
	release()
	if err := s.View(t.Context(), func(store.Tx) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("View after Close = %v; want an error wrapping ErrClosed", err)
	}
}
