package storetest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/storetest"
)

// isolation is how an occ store validates a run of an Update function
// before it commits; the last three validate as serializable does and
// break a rule of the bytes a transaction is given or hands out instead.
type isolation int

const (
	// serializable validates what the run read, keys and ranges, and
	// wrote: the contract.
	serializable isolation = iota
	// snapshotIsolation validates the keys the run wrote only (first
	// committer wins), which lets write skew through.
	snapshotIsolation
	// noIsolation validates nothing: the last writer wins.
	noIsolation
	// readLatest takes no snapshot, Views included: every read sees the
	// last commit. It validates nothing.
	readLatest
	// keepDiscarded validates as serializable does, but commits the
	// writes of the first run of each Update that it discards and runs
	// again.
	keepDiscarded
	// keepsBuffers keeps the value a Put is given, not a copy.
	keepsBuffers
	// reusesValues writes a Put of a key the transaction wrote before
	// into the bytes of the value it replaces, when it fits.
	reusesValues
	// uncappedValues copies the values Put is given one after the
	// other into an arena of the transaction, and hands them out with
	// the arena's room after them.
	uncappedValues
)

var isolations = map[string]isolation{
	"Serializable":      serializable,
	"SnapshotIsolation": snapshotIsolation,
	"NoIsolation":       noIsolation,
	"ReadLatest":        readLatest,
	"KeepDiscarded":     keepDiscarded,
	"KeepsBuffers":      keepsBuffers,
	"ReusesValues":      reusesValues,
	"UncappedValues":    uncappedValues,
}

// occ is an in-memory store with optimistic transactions, the suite's
// test of itself: its Updates run concurrently, each on a snapshot, and
// are validated when they end; a run that fails validation is discarded
// and its function run again, as a store on a database server does. With
// serializable isolation it keeps the contract and passes the suite; with
// another it breaks one part of the contract, and the suite's case for
// that part must fail. Every call yields first, so that goroutines
// interleave.
type occ struct {
	iso    isolation
	closed atomic.Bool
	mu     sync.Mutex
	seq    uint64                          // sequence number of the last commit
	data   map[string]map[string][]version // bucket → key → versions, oldest first
	runs   atomic.Int64                    // runs of Update functions
}

type version struct {
	seq uint64
	val []byte
	del bool
}

func newOCC(iso isolation) *occ {
	return &occ{iso: iso, data: map[string]map[string][]version{}}
}

// latest returns the last version of key in b with seq <= at.
func (s *occ) latest(b, key string, at uint64) (version, bool) {
	vs := s.data[b][key]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].seq <= at {
			return vs[i], true
		}
	}
	return version{}, false
}

func (s *occ) changedSince(b, key string, snap uint64) bool {
	vs := s.data[b][key]
	return len(vs) > 0 && vs[len(vs)-1].seq > snap
}

func (s *occ) begin(writable bool) *occTx {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &occTx{s: s, snap: s.seq, writable: writable, writes: map[string]map[string]version{}}
	if s.iso == readLatest {
		t.snap = ^uint64(0)
	}
	return t
}

func (s *occ) View(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return store.ErrInvalid
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t := s.begin(false)
	defer t.done.Store(true)
	return fn(t)
}

func (s *occ) Update(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return store.ErrInvalid
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	leaked := false
	for range 1000 {
		t := s.begin(true)
		s.runs.Add(1)
		err := fn(t)
		t.done.Store(true)
		s.mu.Lock()
		valid := s.valid(t)
		leak := !valid && s.iso == keepDiscarded && !leaked
		if (valid || leak) && err == nil {
			s.commit(t)
			leaked = leaked || leak
		}
		s.mu.Unlock()
		if valid {
			return err
		}
		runtime.Gosched()
	}
	return fmt.Errorf("occ: gave up: %w", store.ErrConflict)
}

// valid reports whether t may commit; s.mu is held.
func (s *occ) valid(t *occTx) bool {
	switch s.iso {
	case noIsolation, readLatest:
		return true
	}
	for b, ws := range t.writes {
		for k := range ws {
			if s.changedSince(b, k, t.snap) {
				return false
			}
		}
	}
	if s.iso == snapshotIsolation {
		return true
	}
	for _, r := range t.reads {
		for k := range s.data[r.bucket] {
			if (r.key != nil && k != string(r.key)) || (r.key == nil && !inRange([]byte(k), r.start, r.end)) {
				continue
			}
			if s.changedSince(r.bucket, k, t.snap) {
				return false
			}
		}
	}
	return true
}

// commit applies t's writes as a new version; s.mu is held.
func (s *occ) commit(t *occTx) {
	s.seq++
	for b, ws := range t.writes {
		if s.data[b] == nil {
			s.data[b] = map[string][]version{}
		}
		for k, v := range ws {
			v.seq = s.seq
			s.data[b][k] = append(s.data[b][k], v)
		}
	}
}

func (s *occ) Close() error {
	if s.closed.Swap(true) {
		return store.ErrClosed
	}
	return nil
}

func inRange(k, start, end []byte) bool {
	return (start == nil || bytes.Compare(k, start) >= 0) && (end == nil || bytes.Compare(k, end) < 0)
}

type occRead struct {
	bucket          string
	key, start, end []byte // key, or the range [start, end) when key is nil
}

type occTx struct {
	s        *occ
	snap     uint64
	writable bool
	done     atomic.Bool
	scanning int
	writes   map[string]map[string]version
	reads    []occRead
	arena    []byte // uncappedValues: the values Put copied
}

func (t *occTx) check(bucket string, key []byte, write bool) error {
	runtime.Gosched()
	switch {
	case t.done.Load():
		return store.ErrTxDone
	case write && !t.writable:
		return store.ErrReadOnly
	case bucket == "" || len(key) == 0 || (write && t.scanning > 0):
		return store.ErrInvalid
	}
	return nil
}

func (t *occTx) Get(bucket string, key []byte) ([]byte, error) {
	if err := t.check(bucket, key, false); err != nil {
		return nil, err
	}
	if w, ok := t.writes[bucket][string(key)]; ok {
		if w.del {
			return nil, store.ErrNotFound
		}
		return w.val, nil
	}
	t.reads = append(t.reads, occRead{bucket: bucket, key: slices.Clone(key)})
	t.s.mu.Lock()
	v, ok := t.s.latest(bucket, string(key), t.snap)
	t.s.mu.Unlock()
	if !ok || v.del {
		return nil, store.ErrNotFound
	}
	return v.val, nil
}

func (t *occTx) write(bucket string, key []byte, v version) error {
	if err := t.check(bucket, key, true); err != nil {
		return err
	}
	if t.writes[bucket] == nil {
		t.writes[bucket] = map[string]version{}
	}
	t.writes[bucket][string(key)] = v
	return nil
}

func (t *occTx) Put(bucket string, key, value []byte) error {
	switch t.s.iso {
	case keepsBuffers:
		return t.write(bucket, key, version{val: value})
	case reusesValues:
		if w, ok := t.writes[bucket][string(key)]; ok && !w.del && cap(w.val) >= len(value) {
			return t.write(bucket, key, version{val: append(w.val[:0], value...)})
		}
	case uncappedValues:
		if t.arena == nil {
			t.arena = make([]byte, 0, 1<<16) // never regrown in the suite's cases
		}
		n := len(t.arena)
		t.arena = append(t.arena, value...)
		return t.write(bucket, key, version{val: t.arena[n:len(t.arena)]})
	}
	return t.write(bucket, key, version{val: append([]byte{}, value...)})
}

func (t *occTx) Delete(bucket string, key []byte) error {
	return t.write(bucket, key, version{del: true})
}

func (t *occTx) Scan(bucket string, start, end []byte, reverse bool, fn func(k, v []byte) error) error {
	if err := t.check(bucket, []byte("-"), false); err != nil {
		return err
	}
	t.reads = append(t.reads, occRead{bucket: bucket, start: slices.Clone(start), end: slices.Clone(end)})
	seen := map[string][]byte{}
	t.s.mu.Lock()
	for k := range t.s.data[bucket] {
		if v, ok := t.s.latest(bucket, k, t.snap); ok && !v.del && inRange([]byte(k), start, end) {
			seen[k] = v.val
		}
	}
	t.s.mu.Unlock()
	for k, w := range t.writes[bucket] {
		switch {
		case !inRange([]byte(k), start, end):
		case w.del:
			delete(seen, k)
		default:
			seen[k] = w.val
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range seen {
			if !yield(k) {
				return
			}
		}
	})
	if reverse {
		slices.Reverse(keys)
	}
	t.scanning++
	defer func() { t.scanning-- }()
	for _, k := range keys {
		if err := fn([]byte(k), seen[k]); err == store.StopScan {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

func openOCC(iso isolation) func(t *testing.T) store.Store {
	return func(t *testing.T) store.Store {
		s := newOCC(iso)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}

// TestConformance runs the suite on an occ store with serializable
// isolation: a store that runs Updates concurrently and runs functions
// again, which the suite must accept.
func TestConformance(t *testing.T) {
	storetest.Run(t, openOCC(serializable))
	t.Run("Reran", func(t *testing.T) {
		// The suite accepts discarded runs only if the store makes them:
		// count them where increments contend.
		s := newOCC(serializable)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 20 {
					err := s.Update(t.Context(), func(tx store.Tx) error {
						v, _ := tx.Get("b", []byte("k"))
						runtime.Gosched()
						return tx.Put("b", []byte("k"), append(slices.Clone(v), 1))
					})
					if err != nil {
						t.Errorf("Update: %v", err)
					}
				}
			})
		}
		wg.Wait()
		if s.runs.Load() <= 8*20 {
			t.Errorf("an occ store ran %d functions for %d Updates on one key; want more (discarded runs)", s.runs.Load(), 8*20)
		}
	})
}

// brokenEnv names, in a child process of TestSuiteCatches, the isolation
// of the store TestBroken runs the suite on.
const brokenEnv = "STORETEST_BROKEN_ISOLATION"

// TestBroken runs the suite on an occ store that breaks the contract; it
// runs only in a child process of TestSuiteCatches.
func TestBroken(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("run by TestSuiteCatches in a child process")
	}
	storetest.Run(t, openOCC(isolations[name]))
}

// TestSuiteCatches runs cases of the suite on stores that break the
// contract, each kind in a child process (the cases fail their test), and
// checks that each case fails: the suite's concurrent cases can fail.
// (That a broken store fails other cases too is fine.)
func TestSuiteCatches(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("in a child process")
	}
	for _, c := range []struct {
		isolation string
		cases     []string
	}{
		{"NoIsolation", []string{"ConcurrentIncrements", "RerunLeavesOneResult", "BankTransfers"}},
		{"SnapshotIsolation", []string{"WriteSkewOnRange"}},
		{"ReadLatest", []string{"ViewSnapshot", "ViewSeesOneSnapshot"}},
		{"KeepDiscarded", []string{"ConcurrentIncrements", "RerunLeavesOneResult"}},
		{"KeepsBuffers", []string{"PutCopies"}},
		{"ReusesValues", []string{"ValuesStay"}},
		{"UncappedValues", []string{"ValuesStay"}},
	} {
		t.Run(c.isolation, func(t *testing.T) {
			t.Parallel()
			run := "^TestBroken$/^(" + strings.Join(c.cases, "|") + ")$"
			// A broken store fails a case when goroutines interleave
			// in a way the case makes likely, not certain (about 99
			// runs in 100): three runs make a pass by chance rare.
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+run, "-test.count=3")
			cmd.Env = append(os.Environ(), brokenEnv+"="+c.isolation)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Errorf("the cases %q passed on a store with %s; want each to fail:\n%s", c.cases, c.isolation, out)
				return
			}
			for _, name := range c.cases {
				if !bytes.Contains(out, []byte("--- FAIL: TestBroken/"+name+" ")) {
					t.Errorf("case %s passed on a store with %s; want it to fail:\n%s", name, c.isolation, out)
				}
			}
		})
	}
}
