// Package memory is an in-process implementation of [store.Store] built on a
// copy-on-write B-tree.
//
// # Design
//
// All buckets live in one ordered tree keyed by (bucket, key). The tree
// published to readers is immutable: [Store.Update] takes the single writer
// lock, clones the tree (an O(1) lazy copy-on-write clone), runs the
// function against the clone and, when it returns nil, publishes the clone
// with an atomic pointer swap. A failed Update simply drops its clone, so it
// leaves nothing behind. [Store.View] loads the published tree and reads it
// without taking any lock: readers never block writers and writers never
// block readers.
//
// # Caveats
//
// Nothing is persisted; the data is lost when the process ends. Update
// functions run on the caller's goroutine while the writer lock is held, so
// an Update function must not call Update on the same store (it would
// deadlock). Values are copied on Put; slices returned by Get and passed to
// Scan callbacks must not be modified.
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

// degree is the B-tree degree. Every Update copies the root-to-leaf paths
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

// Store is an in-memory [store.Store]. The zero value is not usable; call
// [New]. A Store is safe for concurrent use.
type Store struct {
	mu     sync.Mutex // serializes writers; guards base
	base   *tree      // the writer's private copy of the last committed tree
	pub    atomic.Pointer[tree]
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	base := btree.NewG(degree, less)
	s := &Store{base: base}
	s.pub.Store(base.Clone())
	return s
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
	t := &tx{tree: s.pub.Load()}
	defer t.done.Store(true)
	return fn(t)
}

// Update runs fn once in a read-write transaction and publishes its writes
// when fn returns nil. When fn returns an error nothing is written and the
// error is returned as is. Updates are serialized; fn runs on the calling
// goroutine.
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
	// Clone mutates the tree it is called on, so it is only ever called on
	// trees no reader can see: base and the writer's working copy.
	t := &tx{tree: s.base.Clone(), writable: true}
	err := func() error {
		defer t.done.Store(true)
		return fn(t)
	}()
	if err != nil {
		return err
	}
	s.base = t.tree
	s.pub.Store(t.tree.Clone())
	return nil
}

// Close releases the store. Every later call returns an error wrapping
// [store.ErrClosed], including a second Close. Transactions already running
// finish normally.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return fmt.Errorf("memory: close: %w", store.ErrClosed)
	}
	s.mu.Lock()
	s.base = nil
	s.mu.Unlock()
	return nil
}

// tx is a transaction over one tree: the published snapshot for a View, a
// private clone for an Update.
type tx struct {
	tree     *tree
	writable bool
	scanning int // nesting depth of running Scan calls
	done     atomic.Bool
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
		return nil, fmt.Errorf("memory: get %q/%q: %w", bucket, key, store.ErrNotFound)
	}
	return it.value, nil
}

// Put implements [store.Tx]. The key and value are copied.
func (t *tx) Put(bucket string, key, value []byte) error {
	if err := t.check("put", bucket, key, true); err != nil {
		return err
	}
	t.tree.ReplaceOrInsert(&item{
		bucket: bucket,
		key:    bytes.Clone(key),
		value:  append([]byte{}, value...),
	})
	return nil
}

// Delete implements [store.Tx].
func (t *tx) Delete(bucket string, key []byte) error {
	if err := t.check("delete", bucket, key, true); err != nil {
		return err
	}
	t.tree.Delete(&item{bucket: bucket, key: key})
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
