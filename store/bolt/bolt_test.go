package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/storetest"
)

// openDB opens a DB in path and closes it at cleanup.
func openDB(t *testing.T, path string, opts *bolt.Options) *bolt.DB {
	t.Helper()
	return closedAtCleanup(t, path)(bolt.Open(path, opts))
}

// closedAtCleanup returns a function that takes what an Open of path
// returned, failing t on an error, and closes the DB at cleanup.
func closedAtCleanup(t *testing.T, path string) func(*bolt.DB, error) *bolt.DB {
	return func(db *bolt.DB, err error) *bolt.DB {
		t.Helper()
		if err != nil {
			t.Fatalf("Open(%s): %v", path, err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
				t.Errorf("Close: %v", err)
			}
		})
		return db
	}
}

func tempDB(t *testing.T, opts *bolt.Options) *bolt.DB {
	t.Helper()
	return openDB(t, filepath.Join(t.TempDir(), "store.db"), opts)
}

func TestConformance(t *testing.T) {
	open := func(t *testing.T) store.Store { return tempDB(t, nil) }
	storetest.Run(t, open)
	storetest.RunSerial(t, open)
}

func TestConformanceSmallBatches(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return tempDB(t, &bolt.Options{MaxBatch: 2, NoSync: true}) })
}

// TestConformanceCheckpoints runs the suite with a checkpoint after every
// batch: running beside the next batches, or waited for as the overlay is
// full.
func TestConformanceCheckpoints(t *testing.T) {
	for name, opts := range map[string]*bolt.Options{
		"Concurrent": {CheckpointSize: 1, MaxOverlaySize: 1 << 30, NoSync: true},
		"Waited":     {CheckpointSize: 1, MaxOverlaySize: 1, MaxBatch: 2},
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return tempDB(t, opts) })
		})
	}
	// With writes held back (see Held writes): for good, or put into
	// their buckets every few checkpoints.
	for name, holdMax := range map[string]int64{"Held": 1 << 40, "HeldPut": 1 << 10} {
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				return openHolding(t, filepath.Join(t.TempDir(), "store.db"), holdMax)
			})
		})
	}
}

// TestReopen checks that a file in use is refused to a second Open with
// ErrLocked, saying so, and opens again, with what it held, once closed.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// A second Open of the file in use, in the same process, waits for
	// its lock and fails with ErrLocked.
	if db2, err := bolt.Open(path, &bolt.Options{LockTimeout: 1}); !errors.Is(err, bolt.ErrLocked) {
		if err == nil {
			db2.Close()
		}
		t.Errorf("second Open of a file in use = %v; want an error wrapping ErrLocked", err)
	} else if want := "the file is open in another DB"; !strings.Contains(err.Error(), want) {
		t.Errorf("second Open of a file in use = %v; want it to say %q", err, want)
	}
	err = db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db = openDB(t, path, nil)
	err = db.View(t.Context(), func(tx store.Tx) error {
		v, err := tx.Get("b", []byte("k"))
		if err != nil || string(v) != "v" {
			t.Errorf("Get after reopen = %q, %v; want \"v\"", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// holdWriter makes the writer busy in an Update until the returned release
// function is called, so that later Updates queue up.
func holdWriter(t *testing.T, db *bolt.DB) (release func()) {
	t.Helper()
	// A View waits for the commit of the last Update answered to end, so
	// that the holding Update does not join a batch running beside it.
	if err := db.View(t.Context(), func(store.Tx) error { return nil }); err != nil {
		t.Fatalf("View: %v", err)
	}
	started, unblock, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.Update(context.Background(), func(tx store.Tx) error {
			close(started)
			<-unblock
			return tx.Put("hold", []byte("k"), nil)
		})
	}()
	<-started
	return func() {
		close(unblock)
		if err := <-done; err != nil {
			t.Errorf("holding Update: %v", err)
		}
	}
}

// waitQueued spins until n Updates are queued behind the writer.
func waitQueued(db *bolt.DB, n int) {
	for db.Stats().Queued < n {
		runtime.Gosched()
	}
}

func TestGroupCommit(t *testing.T) {
	for _, tc := range []struct {
		maxBatch, want int
	}{
		{0, 2},      // 1 holding + one batch of 63
		{8, 1 + 8},  // 63 = 7 full batches of 8 + 7
		{63, 1 + 1}, // exactly one batch
	} {
		t.Run(fmt.Sprint("MaxBatch", tc.maxBatch), func(t *testing.T) {
			db := tempDB(t, &bolt.Options{MaxBatch: tc.maxBatch})
			const n = 63
			release := holdWriter(t, db)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					err := db.Update(context.Background(), func(tx store.Tx) error {
						return tx.Put("b", fmt.Appendf(nil, "%03d", i), nil)
					})
					if err != nil {
						t.Errorf("Update %d: %v", i, err)
					}
				})
				if tc.maxBatch == 0 || i < tc.maxBatch {
					waitQueued(db, i+1) // keep queue order equal to i
				}
			}
			if tc.maxBatch > 0 && tc.maxBatch < n {
				// The queue holds MaxBatch requests; the rest block sending.
				waitQueued(db, tc.maxBatch)
			}
			release()
			wg.Wait()
			st := db.Stats()
			if st.Requests != n+1 {
				t.Errorf("Stats().Requests = %d; want %d", st.Requests, n+1)
			}
			if tc.maxBatch == 0 || tc.maxBatch >= n {
				if st.Commits != uint64(tc.want) {
					t.Errorf("Stats().Commits = %d for %d queued Updates; want %d", st.Commits, n+1, tc.want)
				}
			} else if st.Commits < uint64(tc.want) || st.Commits > n {
				// Blocked senders may trickle in one by one after release.
				t.Errorf("Stats().Commits = %d; want between %d and %d", st.Commits, tc.want, n)
			}
		})
	}
}

func TestFailureIsolatedInBatch(t *testing.T) {
	db := tempDB(t, nil)
	errReject := errors.New("rejected")
	const n = 64
	release := holdWriter(t, db)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := db.Update(context.Background(), func(tx store.Tx) error {
				// Read what earlier members of the batch wrote.
				if err := tx.Scan("b", nil, nil, true, func(k, v []byte) error { return store.StopScan }); err != nil {
					return err
				}
				if err := tx.Put("b", fmt.Appendf(nil, "%03d", i), []byte("v")); err != nil {
					return err
				}
				if err := tx.Delete("b", []byte("000")); err != nil {
					return err
				}
				if i%8 == 0 {
					return fmt.Errorf("request %d: %w", i, errReject)
				}
				return nil
			})
			if (i%8 == 0) != errors.Is(err, errReject) || (i%8 != 0 && err != nil) {
				t.Errorf("Update %d = %v", i, err)
			}
		})
	}
	waitQueued(db, n)
	release()
	wg.Wait()
	if st := db.Stats(); st.Commits != 2 {
		t.Errorf("Stats().Commits = %d; want 2 (the test expects one batch)", st.Commits)
	}
	err := db.View(t.Context(), func(tx store.Tx) error {
		var got []string
		err := tx.Scan("b", nil, nil, false, func(k, v []byte) error {
			got = append(got, string(k))
			return nil
		})
		var want []string
		for i := range n {
			if i%8 != 0 {
				want = append(want, fmt.Sprintf("%03d", i))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("committed keys\n got  %v\n want %v", got, want)
		}
		return err
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

func TestPanicIsolated(t *testing.T) {
	db := tempDB(t, nil)
	release := holdWriter(t, db)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			errs[i] = db.Update(context.Background(), func(tx store.Tx) error {
				if err := tx.Put("b", fmt.Append(nil, i), nil); err != nil {
					return err
				}
				if i == 1 {
					panic("boom")
				}
				return nil
			})
		})
		waitQueued(db, i+1)
	}
	release()
	wg.Wait()
	if !errors.Is(errs[1], bolt.ErrPanic) {
		t.Errorf("panicking Update = %v; want an error wrapping ErrPanic", errs[1])
	}
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("Updates batched with a panicking one = %v, %v; want nil, nil", errs[0], errs[2])
	}
	// The writer survived.
	err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("after"), nil) })
	if err != nil {
		t.Fatalf("Update after a panic: %v", err)
	}
	err = db.View(t.Context(), func(tx store.Tx) error {
		for key, want := range map[string]bool{"0": true, "1": false, "2": true, "after": true} {
			if _, err := tx.Get("b", []byte(key)); (err == nil) != want {
				t.Errorf("Get(%q) = %v; want present=%v", key, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// TestScanCallbackPanic checks that a panic in a Scan's callback is the
// function's, answered with ErrPanic, and not taken for a damaged bbolt
// page (Scan recovers only the panics of its bbolt reads): whether the key
// came from the bbolt file, or the bucket is not in the file at all.
func TestScanCallbackPanic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, nil)
	if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db = openDB(t, path, nil) // "b" is in the file now, not the overlay
	for _, bucket := range []string{"b", "new"} {
		err := db.Update(t.Context(), func(tx store.Tx) error {
			if bucket == "new" {
				if err := tx.Put("new", []byte("k"), []byte("v")); err != nil {
					return err
				}
			}
			return tx.Scan(bucket, nil, nil, false, func(k, v []byte) error { panic("callback") })
		})
		if !errors.Is(err, bolt.ErrPanic) || errors.Is(err, bolt.ErrCorrupt) {
			t.Errorf("Update whose Scan of %q panics in the callback = %v; want ErrPanic, not ErrCorrupt", bucket, err)
		}
	}
}

func TestCancelledWhileQueued(t *testing.T) {
	db := tempDB(t, nil)
	release := holdWriter(t, db)
	ctx, cancel := context.WithCancel(t.Context())
	called := false
	done := make(chan error, 1)
	go func() {
		done <- db.Update(ctx, func(store.Tx) error { called = true; return nil })
	}()
	waitQueued(db, 1)
	cancel()
	release()
	if err := <-done; !errors.Is(err, context.Canceled) || called {
		t.Errorf("Update cancelled while queued = %v (fn called: %v); want context.Canceled and no call", err, called)
	}
}

func TestCloseFinishesQueued(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "store.db"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	release := holdWriter(t, db)
	done := make(chan error, 1)
	go func() {
		done <- db.Update(context.Background(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), nil) })
	}()
	waitQueued(db, 1)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	release()
	if err := <-done; err != nil {
		t.Errorf("Update queued before Close = %v; want nil", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
}

func TestInvalidSizes(t *testing.T) {
	db := tempDB(t, nil)
	err := db.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put("b", make([]byte, 40000), nil); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Put of a 40000-byte key = %v; want an error wrapping ErrInvalid", err)
		}
		if err := tx.Put(string(make([]byte, 40000)), []byte("k"), nil); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Put into a bucket with a 40000-byte name = %v; want an error wrapping ErrInvalid", err)
		}
		return tx.Scan("b", nil, nil, false, func(k, v []byte) error { return nil })
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}
