// Package memory is an in-process implementation of [store.Store] built on
// a copy-on-write B-tree. It is supported for real use where persistence is
// not needed, not only in tests.
//
// # Design
//
// All buckets live in one ordered tree keyed by (bucket, key). Update takes
// the writer lock and changes the tree in place, keeping an undo log: when
// the function returns an error (or panics) the log is played back, so a
// failed Update leaves nothing behind. A View takes a snapshot: an O(1)
// copy-on-write clone of the last committed tree, made under the writer
// lock and reused by later Views until the next write. The writer copies a
// node only the first time it changes it after a snapshot, so a stream of
// Updates with no View in between pays no copying at all, readers read
// their snapshot without locks, and an Update never waits for a View.
//
// # Caveats
//
// Nothing is persisted; the data is lost when the process ends. A View
// that starts while an Update runs waits for it to finish (to see only
// committed states). Update functions run on the caller's goroutine with
// the writer lock held, so an Update function must not call Update or View
// on the same store (it would deadlock). Values are copied on Put; slices
// returned by Get and passed to Scan callbacks must not be modified.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"github.com/memberkit/membership/store"
)

// degree is the B-tree degree. The writer copies the root-to-leaf paths
// it writes, so moderate nodes of item pointers keep that copy cheap.
const degree = 16

// item is one entry of the tree. A zero key with max set is a search pivot
// that sorts after every key of its bucket.
type item struct {
	bucket string
	key    []byte
	value  []byte
	max    bool
}

func less(a, b *item) bool {
	if a.bucket != b.bucket {
		return a.bucket < b.bucket
	}
	if a.max || b.max {
		return !a.max && b.max
	}
	return bytes.Compare(a.key, b.key) < 0
}

type tree = btree.BTreeG[*item]

// errNotFound is what Get returns for a missing key: it wraps
// store.ErrNotFound without allocating on every miss (misses are common:
// absent counters, new members).
var errNotFound = fmt.Errorf("memory: get: %w", store.ErrNotFound)

// Store is an in-memory [store.Store]. The zero value is not usable; call
// [New]. A Store is safe for concurrent use.
type Store struct {
	mu     sync.Mutex // serializes writers and snapshot-taking
	tree   *tree      // the committed tree, changed in place by Update
	snap   *tree      // the snapshot Views read; nil after a write
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{tree: btree.NewG(degree, less)} }

// snapshot returns a read-only snapshot of the committed tree.
func (s *Store) snapshot() (*tree, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, fmt.Errorf("memory: view: %w", store.ErrClosed)
	}
	if s.snap == nil {
		// Clone changes the tree it is called on, so it is only called
		// here, under the writer lock; the clone is never written.
		s.snap = s.tree.Clone()
	}
	return s.snap, nil
}

// View runs fn in a read-only transaction over the last committed state.
// It returns fn's error, ctx.Err() if ctx is done before fn runs, or an
// error wrapping [store.ErrClosed].
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return fmt.Errorf("memory: view: %w", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	snap, err := s.snapshot()
	if err != nil {
		return err
	}
	t := &tx{tree: snap}
	defer t.done.Store(true)
	return fn(t)
}

// Update runs fn once in a read-write transaction; its writes stay when fn
// returns nil. When fn returns an error (or panics) every write is undone
// and the error is returned as is (a panic goes on up). Updates are
// serialized; fn runs on the calling goroutine.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return fmt.Errorf("memory: update: %w", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return fmt.Errorf("memory: update: %w", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t := &tx{tree: s.tree, writable: true}
	committed := false
	defer func() {
		t.done.Store(true)
		if !committed {
			t.rollback()
		}
		if len(t.undo) > 0 {
			s.snap = nil // the next View needs a new snapshot
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	committed = true
	return nil
}

// Close releases the store. Every later call returns an error wrapping
// [store.ErrClosed], including a second Close. Transactions already running
// finish normally.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("memory: close: %w", store.ErrClosed)
	}
	return nil
}

// undo is what one write replaced: the old item, or (old nil) the key of
// an item that did not exist before.
type undo struct {
	old *item
	key *item
}

// tx is a transaction over one tree: a snapshot for a View, the committed
// tree itself for an Update.
type tx struct {
	tree     *tree
	writable bool
	scanning int // nesting depth of running Scan calls
	undo     []undo
	done     atomic.Bool
}

// rollback plays the undo log back, newest first.
func (t *tx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		if u.old != nil {
			t.tree.ReplaceOrInsert(u.old)
		} else {
			t.tree.Delete(u.key)
		}
	}
	t.undo = t.undo[:0]
}

// check validates a call named op on bucket and key; a nil key is not
// checked (Scan).
func (t *tx) check(op, bucket string, key []byte, write bool) error {
	if t.done.Load() {
		return fmt.Errorf("memory: %s: %w", op, store.ErrTxDone)
	}
	if write {
		if !t.writable {
			return fmt.Errorf("memory: %s: %w", op, store.ErrReadOnly)
		}
		if t.scanning > 0 {
			return fmt.Errorf("memory: %s inside a Scan callback: %w", op, store.ErrInvalid)
		}
	}
	if bucket == "" {
		return fmt.Errorf("memory: %s: empty bucket name: %w", op, store.ErrInvalid)
	}
	if op != "scan" && len(key) == 0 {
		return fmt.Errorf("memory: %s: empty key: %w", op, store.ErrInvalid)
	}
	return nil
}

// Get implements [store.Tx].
func (t *tx) Get(bucket string, key []byte) ([]byte, error) {
	if err := t.check("get", bucket, key, false); err != nil {
		return nil, err
	}
	it, ok := t.tree.Get(&item{bucket: bucket, key: key})
	if !ok {
		return nil, errNotFound
	}
	return it.value, nil
}

// Put implements [store.Tx]. The key and value are copied.
func (t *tx) Put(bucket string, key, value []byte) error {
	if err := t.check("put", bucket, key, true); err != nil {
		return err
	}
	it := &item{bucket: bucket, key: bytes.Clone(key), value: append([]byte{}, value...)}
	old, ok := t.tree.ReplaceOrInsert(it)
	if !ok {
		old = nil
	}
	t.undo = append(t.undo, undo{old: old, key: it})
	return nil
}

// Delete implements [store.Tx].
func (t *tx) Delete(bucket string, key []byte) error {
	if err := t.check("delete", bucket, key, true); err != nil {
		return err
	}
	if old, ok := t.tree.Delete(&item{bucket: bucket, key: key}); ok {
		t.undo = append(t.undo, undo{old: old})
	}
	return nil
}

// Scan implements [store.Tx].
func (t *tx) Scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	if err := t.check("scan", bucket, nil, false); err != nil {
		return err
	}
	t.scanning++
	defer func() { t.scanning-- }()

	var err error
	visit := func(it *item) bool {
		if err = fn(it.key, it.value); err != nil {
			return false
		}
		return true
	}
	if !reverse {
		lo := &item{bucket: bucket, key: start}
		t.tree.AscendGreaterOrEqual(lo, func(it *item) bool {
			if it.bucket != bucket || (end != nil && bytes.Compare(it.key, end) >= 0) {
				return false
			}
			return visit(it)
		})
	} else {
		hi := &item{bucket: bucket, max: true}
		if end != nil {
			hi = &item{bucket: bucket, key: end}
		}
		t.tree.DescendLessOrEqual(hi, func(it *item) bool {
			if it.bucket != bucket || (start != nil && bytes.Compare(it.key, start) < 0) {
				return false
			}
			if end != nil && bytes.Equal(it.key, end) {
				return true // end is exclusive
			}
			return visit(it)
		})
	}
	if errors.Is(err, store.StopScan) {
		return nil
	}
	return err
}
