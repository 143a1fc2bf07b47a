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
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"github.com/memberkit/membership/store"
)

// degree is the B-tree degree. The writer copies the root-to-leaf paths
// it writes after a snapshot, so moderate nodes keep that copy cheap.
const degree = 16

// item is one entry of the tree, in one allocation: buf holds the bucket
// name's length (a uvarint), the name, the key and then the value;
// buf[:kend] is the sort key, and each bucket's keys share one prefix that
// no other bucket's keys start with. One
// pointer per entry keeps the garbage collector's work on a large store
// small.
type item struct {
	buf    []byte
	kstart int32 // where the key starts (after the bucket prefix)
	kend   int32 // where the key ends and the value starts
}

func (it item) key() []byte   { return it.buf[it.kstart:it.kend:it.kend] }
func (it item) value() []byte { return it.buf[it.kend:] }

func less(a, b item) bool { return bytes.Compare(a.buf[:a.kend], b.buf[:b.kend]) < 0 }

// newItem lays out bucket, key and value in one buffer.
func newItem(bucket string, key, value []byte) item {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(bucket)+len(key)+len(value))
	buf = append(binary.AppendUvarint(buf, uint64(len(bucket))), bucket...)
	kstart := len(buf)
	buf = append(buf, key...)
	kend := len(buf)
	buf = append(buf, value...)
	return item{buf: buf, kstart: int32(kstart), kend: int32(kend)}
}

// probe returns a search item for key in bucket.
func probe(bucket string, key []byte) item { return newItem(bucket, key, nil) }

type tree = btree.BTreeG[item]

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
	old    item
	hadOld bool
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
		if u.hadOld {
			t.tree.ReplaceOrInsert(u.old)
		} else {
			t.tree.Delete(u.old)
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
	it, ok := t.tree.Get(probe(bucket, key))
	if !ok {
		return nil, errNotFound
	}
	return it.value(), nil
}

// Put implements [store.Tx]. The key and value are copied.
func (t *tx) Put(bucket string, key, value []byte) error {
	if err := t.check("put", bucket, key, true); err != nil {
		return err
	}
	it := newItem(bucket, key, value)
	old, ok := t.tree.ReplaceOrInsert(it)
	if !ok {
		old = it // its key, to delete on rollback
	}
	t.undo = append(t.undo, undo{old: old, hadOld: ok})
	return nil
}

// Delete implements [store.Tx].
func (t *tx) Delete(bucket string, key []byte) error {
	if err := t.check("delete", bucket, key, true); err != nil {
		return err
	}
	if old, ok := t.tree.Delete(probe(bucket, key)); ok {
		t.undo = append(t.undo, undo{old: old, hadOld: true})
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

	lo := probe(bucket, start)
	var hi item
	if end != nil {
		hi = probe(bucket, end)
	} else {
		hi = probe(bucket, nil)
		hi.buf = store.PrefixEnd(hi.buf) // past every key of the bucket
		hi.kend = int32(len(hi.buf))
	}
	var err error
	visit := func(it item) bool {
		err = fn(it.key(), it.value())
		return err == nil
	}
	if !reverse {
		t.tree.AscendRange(lo, hi, visit)
	} else {
		t.tree.DescendLessOrEqual(hi, func(it item) bool {
			if less(it, lo) {
				return false
			}
			if !less(it, hi) {
				return true // hi is exclusive
			}
			return visit(it)
		})
	}
	if errors.Is(err, store.StopScan) {
		return nil
	}
	return err
}
