package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// commitHolds is a commit hook that makes the next commit reaching a stage
// wait there until released.
type commitHolds struct {
	mu   sync.Mutex
	next map[string]*commitHold
}

type commitHold struct {
	entered chan struct{} // closed when a commit waits at the stage
	release chan struct{}
}

func (h *commitHolds) hook(stage string) {
	h.mu.Lock()
	x := h.next[stage]
	delete(h.next, stage)
	h.mu.Unlock()
	if x != nil {
		close(x.entered)
		<-x.release
	}
}

// hold makes the next commit reaching stage ("begin" or "committed") wait
// there until release is called; release is safe to call twice.
func (h *commitHolds) hold(stage string) (entered <-chan struct{}, release func()) {
	x := &commitHold{entered: make(chan struct{}), release: make(chan struct{})}
	h.mu.Lock()
	if h.next == nil {
		h.next = map[string]*commitHold{}
	}
	h.next[stage] = x
	h.mu.Unlock()
	var once sync.Once
	return x.entered, func() { once.Do(func() { close(x.release) }) }
}

// openHeld opens path with a commitHolds hook.
func openHeld(t *testing.T, path string, opts *bolt.Options) (*bolt.DB, *commitHolds) {
	t.Helper()
	db := openDB(t, path, opts)
	h := &commitHolds{}
	bolt.SetCommitHook(db, h.hook)
	return db, h
}

// async runs an Update on its own goroutine; its result arrives on the
// returned channel.
func async(db *bolt.DB, fn func(store.Tx) error) <-chan error {
	c := make(chan error, 1)
	go func() { c <- db.Update(context.Background(), fn) }()
	return c
}

// answered reports whether c has an answer, without taking it.
func answered(c <-chan error) bool { return len(c) > 0 }

// TestPipelinedBatchSeesCommittingBatch checks that the writer runs a batch
// while the one before is being committed, that the batch reads that one's
// writes over the committed state, and that neither is answered before it is
// committed, whether the commit is held before it begins or after the log
// was synced (the batch is answered, and enters the overlay, only once the
// writer has seen its commit end).
func TestPipelinedBatchSeesCommittingBatch(t *testing.T) {
	for _, stage := range []string{"begin", "committed"} {
		t.Run(stage, func(t *testing.T) {
			db, h := openHeld(t, filepath.Join(t.TempDir(), "store.db"), nil)
			err := db.Update(t.Context(), func(tx store.Tx) error {
				return putAll(tx, "b", "a", "0", "c", "0", "d", "0")
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			commits := db.Stats().Commits
			entered, release := h.hold(stage)
			defer release()
			errA := async(db, func(tx store.Tx) error {
				if err := putAll(tx, "b", "a", "1", "e", "1"); err != nil {
					return err
				}
				return deleteAll(tx, "b", "c")
			})
			<-entered // A is being committed

			ran := make(chan struct{})
			errB := async(db, func(tx store.Tx) error {
				defer close(ran)
				if answered(errA) {
					t.Errorf("batch A answered while held in its commit")
				}
				if !bolt.Layered(tx) {
					t.Errorf("batch B does not read A's buffer")
				}
				for key, want := range map[string]string{"a": "1", "c": "", "d": "0", "e": "1"} {
					v, err := tx.Get("b", []byte(key))
					if want == "" && !errors.Is(err, store.ErrNotFound) || want != "" && (err != nil || string(v) != want) {
						t.Errorf("B: Get(%q) = %q, %v; want %q", key, v, err, want)
					}
				}
				want := []string{"a=1", "d=0", "e=1"}
				if got := dump(t, tx, "b", nil, nil, false); !slices.Equal(got, want) {
					t.Errorf("B: Scan = %q; want %q", got, want)
				}
				if err := putAll(tx, "b", "a", "2", "f", "1"); err != nil {
					return err
				}
				want = []string{"f=1", "e=1", "d=0", "a=2"}
				if got := dump(t, tx, "b", nil, nil, true); !slices.Equal(got, want) {
					t.Errorf("B: reverse Scan = %q; want %q", got, want)
				}
				return nil
			})
			<-ran
			{
				// Nothing of A is visible yet.
				err := db.View(t.Context(), func(tx store.Tx) error {
					if got, want := dump(t, tx, "b", nil, nil, false), []string{"a=0", "c=0", "d=0"}; !slices.Equal(got, want) {
						t.Errorf("committed while A is held = %q; want %q", got, want)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("View: %v", err)
				}
			}
			if answered(errA) || answered(errB) {
				t.Errorf("answered while A is held: A %v, B %v", answered(errA), answered(errB))
			}
			release()
			if err := <-errA; err != nil {
				t.Errorf("Update A: %v", err)
			}
			if err := <-errB; err != nil {
				t.Errorf("Update B: %v", err)
			}
			if got := db.Stats().Commits - commits; got != 2 {
				t.Errorf("%d commits; want 2", got)
			}
			wantBucket(t, db, "b", "a=2", "d=0", "e=1", "f=1")
		})
	}
}

// TestBatchGrowsWhileCommitting checks that requests arriving one by one
// while a batch is being committed run at once, in one batch, which is
// committed after it.
func TestBatchGrowsWhileCommitting(t *testing.T) {
	db, h := openHeld(t, filepath.Join(t.TempDir(), "store.db"), nil)
	entered, release := h.hold("begin")
	defer release()
	errA := async(db, func(tx store.Tx) error { return putAll(tx, "b", "a", "1") })
	<-entered
	commits := db.Stats().Commits
	const n = 5
	var errs []<-chan error
	for i := range n {
		ran := make(chan struct{})
		errs = append(errs, async(db, func(tx store.Tx) error {
			defer close(ran)
			v, err := tx.Get("b", []byte("a"))
			if err != nil || string(v) != fmt.Sprint(1+i) {
				t.Errorf("request %d: Get(a) = %q, %v; want %d", i, v, err, 1+i)
			}
			return putAll(tx, "b", "a", fmt.Sprint(2+i))
		}))
		<-ran // runs while A is held
	}
	release()
	if err := <-errA; err != nil {
		t.Errorf("Update A: %v", err)
	}
	for i, c := range errs {
		if err := <-c; err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	}
	if got := db.Stats().Commits - commits; got != 2 {
		t.Errorf("%d commits for A and the requests behind it; want 2", got)
	}
	wantBucket(t, db, "b", fmt.Sprintf("a=%d", n+1))
}

// wantBucket checks that bucket holds, as committed, exactly the pairs
// want ("key=value", in key order).
func wantBucket(t *testing.T, db *bolt.DB, bucket string, want ...string) {
	t.Helper()
	err := db.View(t.Context(), func(tx store.Tx) error {
		if got := dump(t, tx, bucket, nil, nil, false); !slices.Equal(got, want) {
			t.Errorf("committed %q = %q; want %q", bucket, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// TestCommitFailureFailsNextBatch checks that when a batch's commit fails,
// the requests of the batch that ran on top of it fail too, read-only ones
// included, those that failed on their own keep their own error, nothing of
// either batch is written, and the batch after starts afresh.
func TestCommitFailureFailsNextBatch(t *testing.T) {
	db, h := openHeld(t, filepath.Join(t.TempDir(), "store.db"), nil)
	errDisk := errors.New("disk on fire")
	var failed atomic.Bool
	bolt.SetLogFault(db, func(seq uint64) error {
		if seq == 2 && failed.CompareAndSwap(false, true) {
			return errDisk
		}
		return nil
	})
	err := db.Update(t.Context(), func(tx store.Tx) error { return putAll(tx, "b", "x", "0") })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	errReject := errors.New("rejected")
	entered, release := h.hold("begin")
	defer release()
	// Batch A, the second logged: its log append fails. Its function holds
	// the writer until batch B is queued.
	started, unblock := make(chan struct{}), make(chan struct{})
	errA := async(db, func(tx store.Tx) error {
		close(started)
		<-unblock
		return putAll(tx, "b", "a", "1")
	})
	<-started

	// Batch B runs while A's commit is held.
	ran := make(chan struct{})
	fns := []func(store.Tx) error{
		func(tx store.Tx) error { return putAll(tx, "g", "k", "v") },
		func(tx store.Tx) error { return putAll(tx, "b", "k1", "v") },
		func(tx store.Tx) error {
			if err := putAll(tx, "b", "k2", "v"); err != nil {
				return err
			}
			return errReject
		},
		func(tx store.Tx) error { // read-only, reads A's write
			defer close(ran)
			if !bolt.Layered(tx) {
				t.Errorf("batch B does not read A's buffer")
			}
			if v, err := tx.Get("b", []byte("a")); err != nil || string(v) != "1" {
				t.Errorf("B: Get(a) = %q, %v; want \"1\"", v, err)
			}
			return nil
		},
	}
	var errs []<-chan error
	for i, fn := range fns {
		errs = append(errs, async(db, fn))
		waitQueued(db, i+1)
	}
	close(unblock)
	<-entered
	<-ran
	release()

	if err := <-errA; !errors.Is(err, bolt.ErrCommitFailed) || !errors.Is(err, errDisk) || !errors.Is(err, store.ErrFailed) {
		t.Errorf("Update A = %v; want an error wrapping ErrCommitFailed, store.ErrFailed and the log's error", err)
	}
	for i, c := range errs {
		err := <-c
		if i == 2 {
			if err != errReject {
				t.Errorf("B's Update %d = %v; want its own error %v", i, err, errReject)
			}
			continue
		}
		if !errors.Is(err, bolt.ErrCommitFailed) || !errors.Is(err, errDisk) {
			t.Errorf("B's Update %d = %v; want an error wrapping ErrCommitFailed and A's cause", i, err)
		}
	}
	if st := db.Stats(); st.Commits != 2 {
		t.Errorf("Stats().Commits = %d; want 2 (the first Update's, A's failed one, none for B)", st.Commits)
	}
	check := func(want ...string) {
		t.Helper()
		err := db.View(t.Context(), func(tx store.Tx) error {
			if got := dump(t, tx, "b", nil, nil, false); !slices.Equal(got, want) {
				t.Errorf("bucket b = %q; want %q", got, want)
			}
			if got := dump(t, tx, "g", nil, nil, false); got != nil {
				t.Errorf("bucket g = %q; want nothing", got)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("View: %v", err)
		}
	}
	check("x=0")

	// The next batch reads the committed state only.
	err = db.Update(t.Context(), func(tx store.Tx) error {
		if bolt.Layered(tx) {
			t.Errorf("the batch after a failed one reads a buffer under its own")
		}
		if _, err := tx.Get("b", []byte("a")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(a) after the failure = %v; want ErrNotFound", err)
		}
		return putAll(tx, "b", "k1", "v")
	})
	if err != nil {
		t.Fatalf("Update after the failure: %v", err)
	}
	check("k1=v", "x=0")
}

// copyStore copies the bbolt file at path and its log segments, open or
// not, as a crash would leave them, into a new directory, and returns the
// copy's path.
func copyStore(t *testing.T, path string) string {
	t.Helper()
	// A background checkpoint may recycle or remove a log segment between
	// the listing and the read: copy everything again then.
	for attempt := 0; ; attempt++ {
		dir, err := copyFiles(t, path)
		if err == nil {
			return filepath.Join(dir, filepath.Base(path))
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 10 {
			t.Fatal(err)
		}
	}
}

// copyFiles copies the files of the store at path to a new directory.
func copyFiles(t *testing.T, path string) (string, error) {
	files, err := filepath.Glob(path + "*")
	if err != nil {
		return "", err
	}
	dir := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// copyKeys returns the keys of bucket in a copy of the store at path,
// opened as after a crash.
func copyKeys(t *testing.T, path, bucket string) []string {
	t.Helper()
	db, err := bolt.Open(copyStore(t, path), nil)
	if err != nil {
		t.Fatalf("Open(copy): %v", err)
	}
	defer db.Close()
	var keys []string
	err = db.View(t.Context(), func(tx store.Tx) error {
		return tx.Scan(bucket, nil, nil, false, func(k, v []byte) error { keys = append(keys, string(k)); return nil })
	})
	if err != nil {
		t.Fatalf("View(copy): %v", err)
	}
	return keys
}

// TestDurableWhenAnswered checks that an Update's writes are in the files
// (bbolt's and the log) when it returns, also for a batch that ran while the one before was being
// committed, and that Close drains a commit in flight and the batch behind.
func TestDurableWhenAnswered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, h := openHeld(t, path, nil)
	if err := db.Update(t.Context(), func(tx store.Tx) error { return putAll(tx, "b", "k0", "v") }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := copyKeys(t, path, "b"); !slices.Equal(got, []string{"k0"}) {
		t.Errorf("file after Update = %q; want [k0]", got)
	}

	entered, release := h.hold("begin")
	defer release()
	errA := async(db, func(tx store.Tx) error { return putAll(tx, "b", "k1", "v") })
	<-entered
	ran := make(chan struct{})
	errB := async(db, func(tx store.Tx) error { defer close(ran); return putAll(tx, "b", "k2", "v") })
	<-ran
	if got := copyKeys(t, path, "b"); !slices.Equal(got, []string{"k0"}) {
		t.Errorf("file while A is held = %q; want [k0]", got)
	}
	release()
	if err := <-errA; err != nil {
		t.Fatalf("Update A: %v", err)
	}
	if err := <-errB; err != nil {
		t.Fatalf("Update B: %v", err)
	}
	if got := copyKeys(t, path, "b"); !slices.Equal(got, []string{"k0", "k1", "k2"}) {
		t.Errorf("file after A and B = %q; want [k0 k1 k2]", got)
	}

	// Close while a commit is held and a batch waits behind it.
	entered, release = h.hold("begin")
	defer release()
	errA = async(db, func(tx store.Tx) error { return putAll(tx, "b", "k3", "v") })
	<-entered
	ran = make(chan struct{})
	errB = async(db, func(tx store.Tx) error { defer close(ran); return putAll(tx, "b", "k4", "v") })
	<-ran
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	for !errors.Is(db.View(t.Context(), func(store.Tx) error { return nil }), store.ErrClosed) {
		runtime.Gosched() // until Close has begun
	}
	release()
	if err := <-errA; err != nil {
		t.Errorf("Update A held at Close: %v", err)
	}
	if err := <-errB; err != nil {
		t.Errorf("Update B behind it: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	db = openDB(t, path, nil)
	err := db.View(t.Context(), func(tx store.Tx) error {
		want := []string{"k0=v", "k1=v", "k2=v", "k3=v", "k4=v"}
		if got := dump(t, tx, "b", nil, nil, false); !slices.Equal(got, want) {
			t.Errorf("after reopen = %q; want %q", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// TestRandomPipelined runs random functions from concurrent callers, commits
// slowed down at random so that batches run on top of batches being
// committed, against a model of the store that the functions, run one after
// another by the writer, keep.
func TestRandomPipelined(t *testing.T) {
	db, _ := openHeld(t, filepath.Join(t.TempDir(), "store.db"), &bolt.Options{NoSync: true, MaxBatch: 4})
	var slow atomic.Uint64
	bolt.SetCommitHook(db, func(stage string) {
		if n := slow.Add(1); n%3 != 0 {
			time.Sleep(time.Duration(n%5) * 100 * time.Microsecond)
		}
	})
	errReject := errors.New("rejected")
	m := model{} // touched by the functions only, on the writer
	var layered atomic.Int64
	const callers, each = 6, 40
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for i := range each {
				fail := rng.IntN(4) == 0
				n, seed := 5+rng.IntN(30), rng.Uint64()
				tag := fmt.Sprintf("caller %d update %d", c, i)
				err := db.Update(context.Background(), func(tx store.Tx) error {
					if bolt.Layered(tx) {
						layered.Add(1)
					}
					own := m.clone()
					if err := randomOps(t, rand.New(rand.NewPCG(seed, 0)), tx, own, n, tag); err != nil {
						return err
					}
					if fail {
						return errReject
					}
					m = own
					return nil
				})
				if fail && err != errReject || !fail && err != nil {
					t.Errorf("%s = %v; want failure %v", tag, err, fail)
				}
			}
		})
	}
	wg.Wait()
	if layered.Load() == 0 {
		t.Errorf("no function ran on top of a batch being committed")
	}
	t.Logf("%d of %d functions read a committing batch's buffer; %d commits", layered.Load(), callers*each, db.Stats().Commits)
	wantCommitted(t, db, m, "at the end")
}

// TestRandomCheckpoints runs random functions from concurrent callers with
// checkpoints after nearly every batch (some running beside the next
// batches, some waited for as the overlay is full) and Views running all
// along, against a model: every View must see the state after some batch,
// whole, no older than the last Update answered before it began.
func TestRandomCheckpoints(t *testing.T) {
	db := tempDB(t, &bolt.Options{NoSync: true, MaxBatch: 4, CheckpointSize: 256, MaxOverlaySize: 2048})
	errReject := errors.New("rejected")
	m := model{} // touched by the functions only, on the writer
	var (
		mu       sync.Mutex
		versions = map[uint64]model{0: {}} // the model after each version
		answered atomic.Uint64             // the highest version answered
		version  uint64                    // the committed version; on the writer
	)
	const callers, each = 6, 40
	var wg, views sync.WaitGroup
	stop := make(chan struct{})
	for v := range 2 {
		views.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					if n == 0 {
						t.Errorf("viewer %d ran no View", v)
					}
					return
				default:
				}
				least := answered.Load()
				err := db.View(context.Background(), func(tx store.Tx) error {
					got := uint64(0)
					if b, err := tx.Get("v", []byte("v")); err == nil {
						got = binary.BigEndian.Uint64(b)
					}
					if got < least {
						t.Errorf("View sees version %d; an Update answered before it began made %d", got, least)
					}
					mu.Lock()
					want := versions[got]
					mu.Unlock()
					for _, b := range []string{"p", "q", "p\x00"} {
						for _, rev := range []bool{false, true} {
							if g, w := dump(t, tx, b, nil, nil, rev), want.pairs(b, "", "", rev); !slices.Equal(g, w) {
								t.Errorf("View of version %d, bucket %q reverse %v\n got  %q\n want %q", got, b, rev, g, w)
							}
						}
					}
					return nil
				})
				if err != nil {
					t.Errorf("View: %v", err)
				}
			}
		})
	}
	for c := range callers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 9))
			for i := range each {
				fail := rng.IntN(4) == 0
				n, seed := 5+rng.IntN(30), rng.Uint64()
				tag := fmt.Sprintf("caller %d update %d", c, i)
				var made uint64
				err := db.Update(context.Background(), func(tx store.Tx) error {
					own := m.clone()
					if err := randomOps(t, rand.New(rand.NewPCG(seed, 0)), tx, own, n, tag); err != nil {
						return err
					}
					if fail {
						return errReject
					}
					made = version + 1
					if err := tx.Put("v", []byte("v"), binary.BigEndian.AppendUint64(nil, made)); err != nil {
						return err
					}
					version, m = made, own
					mu.Lock()
					versions[made] = own
					mu.Unlock()
					return nil
				})
				if fail && err != errReject || !fail && err != nil {
					t.Errorf("%s = %v; want failure %v", tag, err, fail)
				}
				if err == nil {
					for {
						a := answered.Load()
						if a >= made || answered.CompareAndSwap(a, made) {
							break
						}
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	views.Wait()
	st := db.Stats()
	if st.Checkpoints < 10 {
		t.Errorf("Stats().Checkpoints = %d; want many", st.Checkpoints)
	}
	t.Logf("%d commits, %d checkpoints, peak overlay %d bytes", st.Commits, st.Checkpoints, st.PeakOverlaySize)
	wantCommitted(t, db, m, "at the end")
}

// TestViewKeepsSnapshot checks that a View open while later batches rewrite
// and add keys of the trees it reads, each going into clones of them while
// it is logged, keeps reading the state it began on, and that Views begun
// while batches are being committed see whole batches.
func TestViewKeepsSnapshot(t *testing.T) {
	db := tempDB(t, &bolt.Options{NoSync: true})
	write := func(round int) error {
		return db.Update(t.Context(), func(tx store.Tx) error {
			for k := range 50 {
				key := fmt.Sprintf("k%03d", k*(round%3+1))
				if err := tx.Put("b", []byte(key), fmt.Appendf(nil, "%d", round)); err != nil {
					return err
				}
			}
			return tx.Put("b", []byte("round"), fmt.Appendf(nil, "%d", round))
		})
	}
	if err := write(0); err != nil {
		t.Fatalf("Update: %v", err)
	}
	began, done := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := db.View(context.Background(), func(tx store.Tx) error {
			before := dump(t, tx, "b", nil, nil, false)
			close(began)
			<-done
			if after := dump(t, tx, "b", nil, nil, false); !slices.Equal(before, after) {
				t.Errorf("a View's snapshot changed while batches committed:\n before %q\n after  %q", before, after)
			}
			return nil
		})
		if err != nil {
			t.Errorf("View: %v", err)
		}
	})
	<-began
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			err := db.View(context.Background(), func(tx store.Tx) error {
				v, err := tx.Get("b", []byte("round"))
				if err != nil {
					return err
				}
				return tx.Scan("b", nil, []byte("round"), false, func(k, got []byte) error {
					// Every key a round writes holds that round or a later one.
					if string(k) == "k000" && string(got) != string(v) {
						t.Errorf("View of round %s: k000 = %s", v, got)
					}
					return nil
				})
			})
			if err != nil {
				t.Errorf("View: %v", err)
			}
		}
	})
	for round := 1; round <= 30; round++ {
		if err := write(round); err != nil {
			t.Fatalf("Update %d: %v", round, err)
		}
	}
	close(done)
	close(stop)
	wg.Wait()
}

// TestAnsweredBeforeOverlay checks that an Update is answered once its
// batch is logged, before the batch's trees are in the overlay: an Update
// run meanwhile reads the batch's buffer, and a View begun meanwhile waits
// for the trees and sees the batch (and, or not, that of an Update
// running at the same time).
func TestAnsweredBeforeOverlay(t *testing.T) {
	db, h := openHeld(t, filepath.Join(t.TempDir(), "store.db"), nil)
	if err := db.Update(t.Context(), func(tx store.Tx) error { return putAll(tx, "b", "a", "0") }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	// That Update was answered before its batch passed the "answered"
	// stage; a View waits for the batch to finish, so that the hold below
	// catches A's stage, not this one's.
	if err := db.View(t.Context(), func(store.Tx) error { return nil }); err != nil {
		t.Fatalf("View: %v", err)
	}
	entered, release := h.hold("answered")
	defer release()
	if err := db.Update(t.Context(), func(tx store.Tx) error { return putAll(tx, "b", "a", "1", "b", "1") }); err != nil {
		t.Fatalf("Update A: %v", err)
	}
	<-entered // A is answered, its trees held back

	ran := make(chan struct{})
	errB := async(db, func(tx store.Tx) error {
		defer close(ran)
		if !bolt.Layered(tx) {
			t.Errorf("the Update after A does not read A's buffer")
		}
		if got, want := dump(t, tx, "b", nil, nil, false), []string{"a=1", "b=1"}; !slices.Equal(got, want) {
			t.Errorf("the Update after A reads %q; want %q", got, want)
		}
		return putAll(tx, "b", "c", "1")
	})
	<-ran
	viewed := make(chan []string, 1)
	go func() {
		var got []string
		err := db.View(context.Background(), func(tx store.Tx) error {
			got = dump(t, tx, "b", nil, nil, false)
			return nil
		})
		if err != nil {
			t.Errorf("View: %v", err)
		}
		viewed <- got
	}()
	// Give the View a chance to read too early, were it possible: it would
	// see a=0, from the trees before A.
	for i := 0; i < 1000 && len(viewed) == 0; i++ {
		runtime.Gosched()
	}
	if len(viewed) > 0 {
		t.Errorf("a View begun after A was answered returned before A's trees were in the overlay")
	}
	release()
	// B's Update ran before the View began but was not answered yet: the
	// View, concurrent with it, may see its c=1 or not (B's batch can
	// reach the overlay while the View waits for A's trees); it must see
	// A's writes.
	got := <-viewed
	if want, withB := []string{"a=1", "b=1"}, []string{"a=1", "b=1", "c=1"}; !slices.Equal(got, want) && !slices.Equal(got, withB) {
		t.Errorf("View after A = %q; want %q, or %q with B's write", got, want, withB)
	}
	if err := <-errB; err != nil {
		t.Errorf("Update after A: %v", err)
	}
}

// TestMapGrowsUnderLoad runs concurrent callers and Views on a store whose
// bbolt memory map starts at 64 KiB, so that checkpoints grow it again and
// again while the writer holds its read transaction waiting for the next
// request (a growth waits for every read transaction): every call returns,
// and every write is read back.
func TestMapGrowsUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{NoSync: true, InitialMmapSize: 1 << 16, CheckpointSize: 32 << 10})
	const callers, each = 16, 150
	value := bytes.Repeat([]byte("v"), 1000)
	var wg, views sync.WaitGroup
	stop := make(chan struct{})
	views.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.View(context.Background(), func(tx store.Tx) error {
				_, err := tx.Get("b", []byte("c00/000"))
				if errors.Is(err, store.ErrNotFound) {
					err = nil
				}
				return err
			}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				err := db.Update(context.Background(), func(tx store.Tx) error {
					return tx.Put("b", fmt.Appendf(nil, "c%02d/%03d", c, i), value)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	views.Wait()
	if s := db.Stats(); s.Checkpoints < 10 {
		t.Errorf("%d checkpoints, want at least 10", s.Checkpoints)
	}
	err := db.View(context.Background(), func(tx store.Tx) error {
		n := 0
		err := tx.Scan("b", nil, nil, false, func(_, v []byte) error {
			if !bytes.Equal(v, value) {
				return fmt.Errorf("value of %d bytes", len(v))
			}
			n++
			return nil
		})
		if err == nil && n != callers*each {
			err = fmt.Errorf("%d records, want %d", n, callers*each)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The file outgrew the first map many times over.
	if fi, err := os.Stat(path); err != nil || fi.Size() < 2<<20 {
		t.Errorf("file of %v bytes (%v), want 2 MiB or more", fi.Size(), err)
	}
}

// Peek (store.Peeker) reads a key from the batch, the batches before it and
// the held writes, never from the file: after a reopen, a key only the file
// holds has no value for Peek, and Get still reads it.
func TestPeek(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{NoSync: true})
	peek := func(tx store.Tx, bucket, key string) string {
		v, ok := tx.(store.Peeker).Peek(bucket, []byte(key))
		if !ok {
			return "none"
		}
		return string(v)
	}
	err := db.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put("b", []byte("k1"), []byte("v1")); err != nil {
			return err
		}
		if err := tx.Put("b", []byte("k2"), []byte("v2")); err != nil {
			return err
		}
		if got := peek(tx, "b", "k1") + "|" + peek(tx, "b", "k3") + "|" + peek(tx, "", "k1"); got != "v1|none|none" {
			t.Errorf("in the batch: %s, want v1|none|none", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Delete("b", []byte("k2")); err != nil {
			return err
		}
		if got := peek(tx, "b", "k1") + "|" + peek(tx, "b", "k2"); got != "v1|none" {
			t.Errorf("the batch after: %s, want v1|none", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, path, &bolt.Options{NoSync: true})
	err = db.View(t.Context(), func(tx store.Tx) error {
		if got := peek(tx, "b", "k1"); got != "none" {
			t.Errorf("a key only the file holds: Peek %s, want none", got)
		}
		v, err := tx.Get("b", []byte("k1"))
		if err != nil || string(v) != "v1" {
			t.Errorf("Get = %q, %v; want v1", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
