package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// queueBatch runs fns as one batch: it holds the writer, queues the
// functions in order and releases the writer. It returns their Updates'
// errors.
func queueBatch(t *testing.T, db *bolt.DB, fns ...func(store.Tx) error) []error {
	t.Helper()
	errs := make([]error, len(fns))
	release := holdWriter(t, db)
	before := db.Stats().Commits
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = db.Update(context.Background(), fn) })
		waitQueued(db, i+1) // keep queue order equal to i
	}
	release()
	wg.Wait()
	if got := db.Stats().Commits - before; got > 2 {
		t.Fatalf("%d commits for the holding Update and one batch; want at most 2", got)
	}
	return errs
}

// dump returns bucket's pairs as "key=value" strings, scanning in the given
// direction over [start, end).
func dump(t *testing.T, tx store.Tx, bucket string, start, end []byte, reverse bool) []string {
	t.Helper()
	var out []string
	err := tx.Scan(bucket, start, end, reverse, func(k, v []byte) error {
		out = append(out, string(k)+"="+string(v))
		return nil
	})
	if err != nil {
		t.Errorf("Scan(%q, %q, %q, %v): %v", bucket, start, end, reverse, err)
	}
	return out
}

func putAll(tx store.Tx, bucket string, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := tx.Put(bucket, []byte(kv[i]), []byte(kv[i+1])); err != nil {
			return err
		}
	}
	return nil
}

func deleteAll(tx store.Tx, bucket string, keys ...string) error {
	for _, k := range keys {
		if err := tx.Delete(bucket, []byte(k)); err != nil {
			return err
		}
	}
	return nil
}

// TestBatchLayers checks what a function sees in a batch: the committed
// state, overlaid by the writes of the earlier functions of the batch that
// succeeded (not those of one that failed, though it wrote over them and
// built the bucket's scan index first), overlaid by its own writes, with
// tombstones at each level.
func TestBatchLayers(t *testing.T) {
	db := tempDB(t, nil)
	errReject := errors.New("rejected")
	err := db.Update(t.Context(), func(tx store.Tx) error {
		return putAll(tx, "b", "a", "1", "c", "1", "e", "1", "g", "1", "i", "1")
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := []string{"a=1", "b=0", "c=2", "e=0", "f=2", "i=1"}
	checks := func(tx store.Tx) {
		t.Helper()
		for key, want := range map[string]string{"a": "1", "b": "0", "c": "2", "d": "", "e": "0", "f": "2", "g": "", "i": "1", "k": "", "z": ""} {
			v, err := tx.Get("b", []byte(key))
			if want == "" && !errors.Is(err, store.ErrNotFound) || want != "" && (err != nil || string(v) != want) {
				t.Errorf("Get(%q) = %q, %v; want %q", key, v, err, want)
			}
		}
		for _, c := range []struct {
			start, end string
			want       []string
		}{
			{"", "", want},
			{"b", "g", []string{"b=0", "c=2", "e=0", "f=2"}},
			{"c", "f", []string{"c=2", "e=0"}},
			{"d", "f", []string{"e=0"}},
			{"g", "i", nil},
			{"h", "", []string{"i=1"}},
			{"", "b", []string{"a=1"}},
			{"j", "", nil},
		} {
			var start, end []byte
			if c.start != "" {
				start = []byte(c.start)
			}
			if c.end != "" {
				end = []byte(c.end)
			}
			if got := dump(t, tx, "b", start, end, false); !slices.Equal(got, c.want) {
				t.Errorf("Scan [%q, %q)\n got  %q\n want %q", c.start, c.end, got, c.want)
			}
			rev := slices.Clone(c.want)
			slices.Reverse(rev)
			if got := dump(t, tx, "b", start, end, true); !slices.Equal(got, rev) {
				t.Errorf("reverse Scan [%q, %q)\n got  %q\n want %q", c.start, c.end, got, rev)
			}
		}
		if got := dump(t, tx, "new", nil, nil, false); got != nil {
			t.Errorf("Scan of a bucket only a failed function wrote = %q; want nothing", got)
		}
	}
	errs := queueBatch(t, db,
		func(tx store.Tx) error {
			if err := putAll(tx, "b", "b", "0", "e", "0", "k", "0"); err != nil {
				return err
			}
			return deleteAll(tx, "b", "c")
		},
		func(tx store.Tx) error {
			dump(t, tx, "b", nil, nil, false) // builds the scan index
			if err := putAll(tx, "b", "b", "X", "d", "X", "c", "X", "z", "X", "b", "Y"); err != nil {
				return err
			}
			if err := deleteAll(tx, "b", "e", "a", "z", "i"); err != nil {
				return err
			}
			if err := putAll(tx, "new", "k", "X"); err != nil {
				return err
			}
			return errReject
		},
		func(tx store.Tx) error {
			if err := putAll(tx, "b", "f", "2", "c", "2"); err != nil {
				return err
			}
			if err := deleteAll(tx, "b", "g", "k", "absent"); err != nil {
				return err
			}
			checks(tx)
			return nil
		},
	)
	if errs[0] != nil || errs[1] != errReject || errs[2] != nil {
		t.Fatalf("Updates = %v; want nil, %v, nil", errs, errReject)
	}
	err = db.View(t.Context(), func(tx store.Tx) error {
		checks(tx)
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// TestNoWritesNoCommit checks that a batch whose functions wrote nothing
// (or whose writers all failed) is answered without a commit.
func TestNoWritesNoCommit(t *testing.T) {
	db := tempDB(t, nil)
	errReject := errors.New("rejected")
	before := db.Stats().Commits
	err := db.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get("b", []byte("k"))
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read-only Update: %v", err)
	}
	err = db.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put("b", []byte("k"), []byte("v")); err != nil {
			return err
		}
		return errReject
	})
	if err != errReject {
		t.Fatalf("failed Update = %v; want %v", err, errReject)
	}
	if got := db.Stats().Commits - before; got != 0 {
		t.Errorf("%d commits for Updates that wrote nothing; want 0", got)
	}
}

// nestedFile creates a bbolt file whose bucket "b" holds the key x and a
// nested bucket under the key "nested", which store.Tx cannot see as such:
// a Put or Delete of that key fails only when the buffer is applied.
func nestedFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	err = raw.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		if _, err := b.CreateBucket([]byte("nested")); err != nil {
			return err
		}
		return b.Put([]byte("x"), []byte("0"))
	})
	if err != nil {
		t.Fatalf("bbolt.Update: %v", err)
	}
	if err := raw.Close(); err != nil {
		t.Fatalf("bbolt.Close: %v", err)
	}
	return path
}

// TestNestedBucketKeyRefused checks that a Put or Delete of a key holding
// a nested bucket (made by another program), which a checkpoint could not
// write, fails in the function that makes it, leaving the others of its
// batch alone, also after a reopen.
func TestNestedBucketKeyRefused(t *testing.T) {
	path := nestedFile(t)
	db := openDB(t, path, nil)
	errs := queueBatch(t, db,
		func(tx store.Tx) error { return tx.Put("b", []byte("k0"), []byte("v")) },
		func(tx store.Tx) error { return tx.Put("b", []byte("nested"), []byte("v")) },
		func(tx store.Tx) error { return tx.Delete("b", []byte("nested")) },
		func(tx store.Tx) error {
			if err := tx.Delete("b", []byte("x")); err != nil {
				return err
			}
			return tx.Put("c", []byte("k3"), []byte("v"))
		},
	)
	for i, err := range errs {
		if refused := i == 1 || i == 2; refused != errors.Is(err, bbolt.ErrIncompatibleValue) || !refused && err != nil {
			t.Errorf("Update %d = %v; want refused: %v", i, err, refused)
		}
	}
	check := func(db *bolt.DB) {
		t.Helper()
		err := db.View(t.Context(), func(tx store.Tx) error {
			if got, want := dump(t, tx, "b", nil, nil, false), []string{"k0=v", "nested="}; !slices.Equal(got, want) {
				t.Errorf("bucket b = %q; want %q", got, want)
			}
			if got, want := dump(t, tx, "c", nil, nil, false), []string{"k3=v"}; !slices.Equal(got, want) {
				t.Errorf("bucket c = %q; want %q", got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("View: %v", err)
		}
	}
	check(db)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db = openDB(t, path, nil)
	check(db)
	err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("nested"), []byte("v")) })
	if !errors.Is(err, bbolt.ErrIncompatibleValue) {
		t.Errorf("Put over the nested bucket after reopen = %v; want an error wrapping bbolt.ErrIncompatibleValue", err)
	}
}

// TestLogFailureFailsBatch checks the one path where a request fails for
// another's sake: when its batch cannot be logged, nothing of the batch is
// written and every request whose function succeeded gets the error; a
// function that failed on its own gets its own error. The log is cut back
// to its last good record, so later batches are logged and replayed.
func TestLogFailureFailsBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, nil)
	errDisk := errors.New("disk on fire")
	var failSeq atomic.Uint64 // the seq of the batch to fail, once
	bolt.SetLogFault(db, func(seq uint64) error {
		if failSeq.CompareAndSwap(seq, 0) {
			return errDisk
		}
		return nil
	})
	if err := db.Update(t.Context(), func(tx store.Tx) error { return putAll(tx, "b", "x", "0") }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	failSeq.Store(3) // after the Update above and the one holding the writer
	errReject := errors.New("rejected")
	errs := queueBatch(t, db,
		func(tx store.Tx) error { return tx.Put("b", []byte("k0"), []byte("v")) },
		func(tx store.Tx) error {
			if err := tx.Put("b", []byte("k2"), []byte("v")); err != nil {
				return err
			}
			return errReject
		},
		func(tx store.Tx) error {
			if err := tx.Delete("b", []byte("x")); err != nil {
				return err
			}
			return tx.Put("c", []byte("k3"), []byte("v"))
		},
	)
	for i, err := range errs {
		switch {
		case i == 1:
			if err != errReject {
				t.Errorf("Update %d = %v; want its own error %v", i, err, errReject)
			}
		case !errors.Is(err, bolt.ErrCommitFailed) || !errors.Is(err, errDisk):
			t.Errorf("Update %d = %v; want an error wrapping ErrCommitFailed and the log's error", i, err)
		}
	}
	check := func(db *bolt.DB, want ...string) {
		t.Helper()
		err := db.View(t.Context(), func(tx store.Tx) error {
			if got := dump(t, tx, "b", nil, nil, false); !slices.Equal(got, want) {
				t.Errorf("bucket b = %q; want %q", got, want)
			}
			if got := dump(t, tx, "c", nil, nil, false); got != nil {
				t.Errorf("bucket c = %q; want nothing", got)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("View: %v", err)
		}
	}
	check(db, "x=0")

	// The writer carries on, and the log after the failure replays.
	err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k1"), []byte("v")) })
	if err != nil {
		t.Fatalf("Update after a failed batch: %v", err)
	}
	check(db, "k1=v", "x=0")
	check(openDB(t, copyStore(t, path), nil), "k1=v", "x=0")
}

// model is the expected content of the store: bucket -> key -> value.
// wantCommitted checks that the buckets randomOps writes hold, as
// committed, what m says; what names the check in failures.
func wantCommitted(t *testing.T, db *bolt.DB, m model, what string) {
	t.Helper()
	err := db.View(t.Context(), func(tx store.Tx) error {
		for _, b := range []string{"p", "q", "p\x00"} {
			if got, want := dump(t, tx, b, nil, nil, false), m.pairs(b, "", "", false); !slices.Equal(got, want) {
				t.Errorf("%s: committed bucket %q\n got  %q\n want %q", what, b, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

type model map[string]map[string]string

func (m model) clone() model {
	c := make(model, len(m))
	for b, kv := range m {
		c[b] = maps.Clone(kv)
	}
	return c
}

// pairs returns bucket's pairs of m in [start, end) as "key=value", in the
// given direction.
func (m model) pairs(bucket, start, end string, reverse bool) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m[bucket])) {
		if k >= start && (end == "" || k < end) {
			out = append(out, k+"="+m[bucket][k])
		}
	}
	if reverse {
		slices.Reverse(out)
	}
	return out
}

// randomValue returns a value made of tag and i, of a random length: at
// times empty, at times longer than the buffers copy into shared chunks.
func randomValue(rng *rand.Rand, tag string, i int) string {
	v := fmt.Sprintf("%s.%d", tag, i)
	switch rng.IntN(10) {
	case 0:
		return ""
	case 1:
		return v + strings.Repeat(".", 2<<10+rng.IntN(100))
	}
	return v
}

// randomOps makes n random writes and reads on tx, applying the writes to m
// and checking the reads against it. It writes from a scratch buffer that
// it overwrites after each write, and checks before returning that every
// value Get returned is unchanged.
func randomOps(t *testing.T, rng *rand.Rand, tx store.Tx, m model, n int, tag string) error {
	buckets := []string{"p", "q", "p\x00"}
	key := func() string { return fmt.Sprintf("k%02d", rng.IntN(40)) }
	var scratch []byte
	type held struct{ got, want []byte }
	var hs []held
	defer func() {
		for _, h := range hs {
			if !bytes.Equal(h.got, h.want) {
				t.Errorf("%s: a value Get returned changed during its transaction: %.40q, was %.40q", tag, h.got, h.want)
			}
		}
	}()
	for i := range n {
		bucket := buckets[rng.IntN(len(buckets))]
		switch op := rng.IntN(10); {
		case op < 4:
			k, v := key(), randomValue(rng, tag, i)
			scratch = append(append(scratch[:0], k...), v...)
			if err := tx.Put(bucket, scratch[:len(k)], scratch[len(k):]); err != nil {
				return err
			}
			for j := range scratch {
				scratch[j] = '#'
			}
			if m[bucket] == nil {
				m[bucket] = map[string]string{}
			}
			m[bucket][k] = v
		case op < 6:
			k := key()
			if err := tx.Delete(bucket, []byte(k)); err != nil {
				return err
			}
			delete(m[bucket], k)
		case op < 8:
			k := key()
			v, err := tx.Get(bucket, []byte(k))
			want, ok := m[bucket][k]
			if ok && (err != nil || string(v) != want) || !ok && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: Get(%q, %q) = %q, %v; want %q (present: %v)", tag, bucket, k, v, err, want, ok)
			}
			if err == nil {
				hs = append(hs, held{v, bytes.Clone(v)})
			}
		default:
			start, end := "", ""
			if rng.IntN(3) > 0 {
				start = key()
			}
			if rng.IntN(3) > 0 {
				end = key()
			}
			var s, e []byte
			if start != "" {
				s = []byte(start)
			}
			if end != "" {
				e = []byte(end)
			}
			reverse := rng.IntN(2) == 0
			got, want := dump(t, tx, bucket, s, e, reverse), m.pairs(bucket, start, end, reverse)
			if !slices.Equal(got, want) {
				t.Errorf("%s: Scan(%q, %q, %q, reverse=%v)\n got  %q\n want %q", tag, bucket, start, end, reverse, got, want)
			}
		}
	}
	return nil
}

// TestRandomBatches runs batches of functions making random writes, reads
// and scans, some of them failing, against a model of the store.
func TestRandomBatches(t *testing.T) {
	db := tempDB(t, &bolt.Options{NoSync: true})
	rng := rand.New(rand.NewPCG(1, 2))
	errReject := errors.New("rejected")
	m := model{}
	for round := range 30 {
		size := 1 + rng.IntN(6)
		if round%10 == 0 {
			size = 1 // a lone request, with a larger function
		}
		// The functions run one after another on the writer, in queue
		// order, so they can share m.
		fns := make([]func(store.Tx) error, size)
		wantErr := make([]bool, size)
		for i := range fns {
			wantErr[i] = rng.IntN(3) == 0
			n, seed := 20+rng.IntN(40), rng.Uint64()
			if size == 1 {
				n = 400
			}
			tag := fmt.Sprintf("round %d fn %d", round, i)
			fns[i] = func(tx store.Tx) error {
				own := m.clone()
				if err := randomOps(t, rand.New(rand.NewPCG(seed, 0)), tx, own, n, tag); err != nil {
					return err
				}
				if wantErr[i] {
					return errReject
				}
				m = own
				return nil
			}
		}
		errs := queueBatch(t, db, fns...)
		for i, err := range errs {
			if wantErr[i] && err != errReject || !wantErr[i] && err != nil {
				t.Fatalf("round %d: Update %d = %v; want failure %v", round, i, err, wantErr[i])
			}
		}
		wantCommitted(t, db, m, fmt.Sprintf("round %d", round))
		if t.Failed() {
			return
		}
	}
}

// TestValuesOutliveLaterBatches checks that the values a View's Gets and
// Scans return stay as they were until the View ends, while later batches,
// some of whose functions fail, overwrite and delete their keys: the
// buffers those batches reuse and the chunks they copy into must leave them
// alone.
func TestValuesOutliveLaterBatches(t *testing.T) {
	db := tempDB(t, &bolt.Options{NoSync: true, MaxBatch: 8})
	rng := rand.New(rand.NewPCG(3, 4))
	errReject := errors.New("rejected")
	m := model{}
	write := func(round int) {
		t.Helper()
		var fns []func(store.Tx) error
		for f := range 6 {
			fail := rng.IntN(3) == 0
			seed := rng.Uint64()
			tag := fmt.Sprintf("round %d function %d", round, f)
			fns = append(fns, func(tx store.Tx) error {
				own := m.clone()
				if err := randomOps(t, rand.New(rand.NewPCG(seed, 0)), tx, own, 30, tag); err != nil {
					return err
				}
				if fail {
					return errReject
				}
				m = own
				return nil
			})
		}
		for i, err := range queueBatch(t, db, fns...) {
			if err != nil && err != errReject {
				t.Fatalf("round %d, Update %d: %v", round, i, err)
			}
		}
	}
	write(0)
	type held struct{ got, want []byte }
	var hs []held
	var views sync.WaitGroup
	began, done := make(chan struct{}), make(chan struct{})
	views.Go(func() {
		err := db.View(context.Background(), func(tx store.Tx) error {
			for _, b := range []string{"p", "q", "p\x00"} {
				for k := range 40 {
					if v, err := tx.Get(b, fmt.Appendf(nil, "k%02d", k)); err == nil {
						hs = append(hs, held{v, bytes.Clone(v)})
					}
				}
				err := tx.Scan(b, nil, nil, false, func(k, v []byte) error {
					hs = append(hs, held{k, bytes.Clone(k)}, held{v, bytes.Clone(v)})
					return nil
				})
				if err != nil {
					return err
				}
			}
			close(began)
			<-done
			for _, h := range hs {
				if !bytes.Equal(h.got, h.want) {
					t.Errorf("a View's key or value changed: %.40q, was %.40q", h.got, h.want)
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("View: %v", err)
		}
	})
	<-began
	for round := 1; round <= 40; round++ {
		write(round)
	}
	close(done)
	views.Wait()
	if len(hs) == 0 {
		t.Fatalf("the View read nothing")
	}
}
