// Package memory is an in-process implementation of [store.Store] built on
// copy-on-write B-trees. It is supported for real use where persistence is
// not needed, not only in tests.
//
// # Design
//
// Each bucket is its own ordered tree, found by name in a map, so a
// search compares keys only and a tree holds only its bucket's keys.
// Update takes the writer lock and changes the trees in place, keeping an
// undo log: when the function returns an error (or panics) the log is
// played back, so a failed Update leaves nothing behind.
//
// A View reads a snapshot: for each non-empty bucket, an O(1)
// copy-on-write clone of its tree. The first View after a committed write
// builds a new snapshot under the writer lock, cloning only the buckets
// written since their last clone and reusing the other clones; later Views
// reuse the whole snapshot, without taking the lock, until the next
// committed write. The writer copies a tree node only the first time it
// changes it after a clone, so a stream of Updates with no View in between
// pays no copying at all, readers read their snapshot without locks, and
// an Update never waits for a View.
//
// The trees are B+trees (internal/cowtree, which store/bolt's overlay
// uses too) written for keys that share long prefixes (a member id, a
// kind, a time): every node keeps the prefix all its keys
// share and, in a contiguous array, the 8 bytes of each key that follow
// it, so a search compares integers inside the node and loads a key only
// to confirm a match or to tell apart keys whose 8 bytes tie.
//
// Get in an Update uses the tree's Lookup, which leaves a finger at the
// leaf it searched: the Put of a counter or record read just before, or
// of the next key of an ascending sequence, goes to that leaf without a
// descent. Views use plain Get, which only reads, since Views share their
// snapshot's trees.
//
// Put copies the key and value into an arena of the leaf that holds the
// key: a byte slice the leaf only appends to (and only the tree that made
// it; a clone makes its own), so bytes a snapshot or a slice returned by
// Get refers to are never written again. An overwrite appends the new
// value and leaves the old bytes to whoever still refers to them; a split
// leaves the moved entries where they are, and the arena goes on with the
// half the key being inserted goes to. A full arena is replaced by a
// new one, empty while the arenas the leaf's entries are in add up to at
// most about twice their size (a split shares that count between the
// halves by their sizes, so it is an estimate), else holding copies of
// the live entries, after which the garbage collector frees the old
// arenas once no node (a snapshot's included) lists them and no slice
// refers to them. Entries over 1 KiB get an allocation of their own. The
// store is then a few objects per leaf of up to 64 entries instead of one
// per entry, and a node refers to its entries by an arena index and an
// offset rather than a pointer each, which is what saves the allocator
// and the garbage collector their work; the cost is spare arena space
// (about 15% more heap than an allocation per entry in BenchmarkReplay).
//
// # Caveats
//
// Nothing is persisted; the data is lost when the process ends. A View
// that needs a new snapshot (the first one after a committed write) waits
// for a running Update to finish, since the trees it clones are the ones
// that Update is changing; other Views do not wait. Update functions run
// on the caller's goroutine with the writer lock held, so an Update
// function must not call Update or View on the same store (it would
// deadlock). Values are copied on Put; slices returned by Get and passed
// to Scan callbacks must not be modified.
package memory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/memberkit/membership/store"
)

// bucket is one bucket's tree and its last clone.
type bucket struct {
	name string
	tree *btree // changed in place by Update
	snap *btree // a clone of tree as last committed; nil after a write
}

// snapshot is what a View reads: the tree of each non-empty bucket, none
// of them ever written.
type snapshot struct {
	trees map[string]*btree
}

// recentBits is the log2 of the number of slots of Store.recent.
const recentBits = 6

// maxKeptUndo is the largest undo log whose storage the next Update
// reuses; a bulk load's is left to the garbage collector.
const maxKeptUndo = 1 << 12

// errNotFound is what Get returns for a missing key: it wraps
// store.ErrNotFound without allocating on every miss (misses are common:
// absent counters, new members).
var errNotFound = fmt.Errorf("memory: get: %w", store.ErrNotFound)

// Store is an in-memory [store.Store]. The zero value is not usable; call
// [New]. A Store is safe for concurrent use.
type Store struct {
	mu      sync.Mutex // serializes writers and snapshot-taking
	buckets map[string]*bucket
	undo    []undo                   // the undo log's storage, reused by Updates
	recent  [1 << recentBits]*bucket // buckets by their name's address; see bucket
	snap    atomic.Pointer[snapshot] // what Views read; nil after a committed write
	closed  atomic.Bool
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{buckets: make(map[string]*bucket)} }

// snapshot returns a read-only snapshot of the last committed state.
func (s *Store) snapshot() (*snapshot, error) {
	if snap := s.snap.Load(); snap != nil {
		return snap, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, fmt.Errorf("memory: view: %w", store.ErrClosed)
	}
	if snap := s.snap.Load(); snap != nil {
		return snap, nil // made while this View waited
	}
	snap := &snapshot{trees: make(map[string]*btree, len(s.buckets))}
	for name, b := range s.buckets {
		if b.tree.Len() == 0 {
			continue
		}
		if b.snap == nil {
			// Clone changes the tree it is called on, so it is only called
			// here, under the writer lock; the clone is never written.
			b.snap = b.tree.Clone()
		}
		snap.trees[name] = b.snap
	}
	s.snap.Store(snap)
	return snap, nil
}

// bucket returns the bucket named name, or nil; s.mu must be held.
// Bucket names are mostly string constants, whose bytes have one address,
// so a cache indexed by that address finds them without hashing the name
// (a hit still compares the names, which is quick when they share bytes).
// The address is mixed by a multiplication, since constants that sit
// close together would otherwise share slots.
func (s *Store) bucket(name string) *bucket {
	h := uint64(uintptr(unsafe.Pointer(unsafe.StringData(name)))) * 0x9e3779b97f4a7c15
	slot := &s.recent[h>>(64-recentBits)]
	if b := *slot; b != nil && b.name == name {
		return b
	}
	b := s.buckets[name]
	if b != nil {
		*slot = b
	}
	return b
}

// View runs fn in a read-only transaction over the last committed state.
// It returns fn's error, ctx.Err() if ctx is done before fn runs, an
// error wrapping [store.ErrClosed], or one wrapping [store.ErrInvalid] for
// a nil fn.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return fmt.Errorf("memory: view: nil function: %w", store.ErrInvalid)
	}
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
	t := &tx{snap: snap}
	defer t.done.Store(true)
	return fn(t)
}

// Update runs fn once in a read-write transaction; its writes stay when fn
// returns nil. When fn returns an error (or panics) every write is undone
// and the error is returned as is (a panic goes on up). Updates are
// serialized; fn runs on the calling goroutine. A nil fn is an error
// wrapping [store.ErrInvalid], changing nothing.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return fmt.Errorf("memory: update: nil function: %w", store.ErrInvalid)
	}
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
	t := &tx{s: s, writable: true, undo: s.undo[:0]}
	committed := false
	defer func() {
		t.done.Store(true)
		if !committed {
			t.rollback()
		} else if len(t.undo) > 0 {
			s.snap.Store(nil) // the next View needs a new snapshot
		}
		s.undo = nil
		if cap(t.undo) <= maxKeptUndo {
			clear(t.undo) // drop the replaced entries
			s.undo = t.undo[:0]
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

// undo is what one write to bucket b replaced: the old item, or (hadOld
// false) the new item, to delete.
type undo struct {
	b      *bucket
	old    item
	hadOld bool
}

// tx is a transaction: over a snapshot for a View, over the store's
// buckets for an Update.
type tx struct {
	s        *Store    // Update only
	snap     *snapshot // View only
	writable bool
	scanning int // nesting depth of running Scan calls
	undo     []undo
	done     atomic.Bool
}

// rollback plays the undo log back, newest first, and drops the buckets it
// leaves empty (those the transaction created).
func (t *tx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		if u.hadOld {
			u.b.tree.Put(u.old.Key(), u.old.Value())
		} else {
			u.b.tree.Delete(u.old.Key())
		}
	}
	for _, u := range t.undo {
		if u.b.tree.Len() == 0 {
			delete(t.s.buckets, u.b.name)
			t.s.recent = [len(t.s.recent)]*bucket{}
		}
	}
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

// tree returns the tree to read bucket name from, or nil.
func (t *tx) tree(name string) *btree {
	if !t.writable {
		return t.snap.trees[name]
	}
	if b := t.s.bucket(name); b != nil {
		return b.tree
	}
	return nil
}

// Get implements [store.Tx].
func (t *tx) Get(bucket string, key []byte) ([]byte, error) {
	if err := t.check("get", bucket, key, false); err != nil {
		return nil, err
	}
	if !t.writable {
		if tr := t.snap.trees[bucket]; tr != nil {
			if it, ok := tr.Get(key); ok {
				return it.Value(), nil
			}
		}
		return nil, errNotFound
	}
	// The writer's Lookup leaves a finger at the key's leaf, which the Put
	// that often follows (a counter, a balance, a record) goes straight to.
	if b := t.s.bucket(bucket); b != nil {
		if it, ok := b.tree.Lookup(key); ok {
			return it.Value(), nil
		}
	}
	return nil, errNotFound
}

// Put implements [store.Tx]. The key and value are copied.
func (t *tx) Put(name string, key, value []byte) error {
	if err := t.check("put", name, key, true); err != nil {
		return err
	}
	if uint64(len(key)) > math.MaxUint32 || uint64(len(value)) > math.MaxUint32 {
		return fmt.Errorf("memory: put: key or value of 4 GiB or more: %w", store.ErrInvalid)
	}
	b := t.s.bucket(name)
	if b == nil {
		b = &bucket{name: name, tree: newBtree()}
		t.s.buckets[name] = b
	}
	b.snap = nil
	old, ok := b.tree.Put(key, value) // or the new item, to delete on rollback
	t.undo = append(t.undo, undo{b: b, old: old, hadOld: ok})
	return nil
}

// Delete implements [store.Tx].
func (t *tx) Delete(bucket string, key []byte) error {
	if err := t.check("delete", bucket, key, true); err != nil {
		return err
	}
	b := t.s.bucket(bucket)
	if b == nil {
		return nil
	}
	if old, ok := b.tree.Delete(key); ok {
		b.snap = nil
		t.undo = append(t.undo, undo{b: b, old: old, hadOld: true})
	}
	return nil
}

// Scan implements [store.Tx].
func (t *tx) Scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	if err := t.check("scan", bucket, nil, false); err != nil {
		return err
	}
	tr := t.tree(bucket)
	if tr == nil {
		return nil
	}
	t.scanning++
	defer func() { t.scanning-- }()

	var err error
	visit := func(it item) bool {
		err = fn(it.Key(), it.Value())
		return err == nil
	}
	if reverse {
		tr.Descend(start, end, visit)
	} else {
		tr.Ascend(start, end, visit)
	}
	if errors.Is(err, store.StopScan) {
		return nil
	}
	return err
}
