package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/google/btree"
	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
)

// entry is one buffered write: a value or, with del set, a tombstone. Its
// key and value are private copies that are never modified: a new write to
// the key replaces value (and del) with a new slice, so a slice handed to a
// caller stays valid.
type entry struct {
	key   []byte
	value []byte
	del   bool
}

func entryLess(a, b *entry) bool { return bytes.Compare(a.key, b.key) < 0 }

func sortEntries(es []*entry) {
	slices.SortFunc(es, func(a, b *entry) int { return bytes.Compare(a.key, b.key) })
}

// bucketBuf holds the buffered writes of one bucket. Point reads and
// writes, nearly all of the traffic, go to a hash map: buffering the 39 gets
// and puts of a typical event cost about half as much as with the single
// B-tree over (bucket, key) that the overlays used before.
type bucketBuf struct {
	// entries finds an entry by key; each map key aliases its entry's key.
	entries map[string]*entry
	// sorted orders the entries for Scan. It is built on the first Scan of
	// the bucket and from then on kept equal to entries; buckets that are
	// never scanned (most of them) skip its cost and are sorted once, when
	// the buffer is applied.
	sorted *btree.BTreeG[*entry]
}

// index returns b.sorted, building it if needed.
func (b *bucketBuf) index() *btree.BTreeG[*entry] {
	if b.sorted == nil {
		es := make([]*entry, 0, len(b.entries))
		for _, e := range b.entries {
			es = append(es, e)
		}
		sortEntries(es)
		b.sorted = btree.NewG(32, entryLess)
		for _, e := range es {
			b.sorted.ReplaceOrInsert(e)
		}
	}
	return b.sorted
}

// undoRec undoes one write: it removes e from b when the write added it,
// and otherwise restores e's previous value and del.
type undoRec struct {
	b     *bucketBuf
	e     *entry
	value []byte
	del   bool
	added bool
}

// buffer holds the writes of the functions of one batch until the
// committer applies them to its bbolt transaction, just before Commit; from
// then on it is only read. A later write of a key replaces an earlier one,
// so a key rewritten by every function of a batch is written to bbolt once.
//
// While a function runs after others of its batch that succeeded (track
// set), each of its writes records how to undo it, so that when the
// function fails its writes are undone and the buffer holds exactly the
// writes of the functions that succeeded. Otherwise a function needs no
// undo log: its failure discards the whole buffer.
type buffer struct {
	buckets map[string]*bucketBuf
	track   bool
	undo    []undoRec
}

func newBuffer() *buffer {
	return &buffer{buckets: make(map[string]*bucketBuf)}
}

// clone returns a copy of p, never nil: bbolt reads a nil value back as
// absent.
func clone(p []byte) []byte { return append(make([]byte, 0, len(p)), p...) }

// get returns the entry of key in bucket, or nil.
func (u *buffer) get(bucket string, key []byte) *entry {
	if b := u.buckets[bucket]; b != nil {
		return b.entries[string(key)]
	}
	return nil
}

// write buffers a put of value, or a tombstone when del is set.
func (u *buffer) write(bucket string, key, value []byte, del bool) {
	b := u.buckets[bucket]
	if b == nil {
		b = &bucketBuf{entries: make(map[string]*entry)}
		u.buckets[bucket] = b
	}
	if !del {
		value = clone(value)
	} else {
		value = nil
	}
	if e := b.entries[string(key)]; e != nil {
		if u.track {
			u.undo = append(u.undo, undoRec{e: e, value: e.value, del: e.del})
		}
		e.value, e.del = value, del
		return
	}
	k := clone(key)
	e := &entry{key: k, value: value, del: del}
	b.entries[unsafe.String(unsafe.SliceData(k), len(k))] = e
	if b.sorted != nil {
		b.sorted.ReplaceOrInsert(e)
	}
	if u.track {
		u.undo = append(u.undo, undoRec{b: b, e: e, added: true})
	}
}

// keep forgets the undo log: the running function succeeded.
func (u *buffer) keep() {
	clear(u.undo)
	u.undo = u.undo[:0]
}

// rollback undoes the writes recorded in the undo log, latest first: the
// running function failed.
func (u *buffer) rollback() {
	for i := len(u.undo) - 1; i >= 0; i-- {
		r := u.undo[i]
		if r.added {
			delete(r.b.entries, string(r.e.key))
			if r.b.sorted != nil {
				r.b.sorted.Delete(r.e)
			}
			continue
		}
		r.e.value, r.e.del = r.value, r.del
	}
	u.keep()
}

// empty reports whether the buffer holds no write.
func (u *buffer) empty() bool {
	for _, b := range u.buckets {
		if len(b.entries) > 0 {
			return false
		}
	}
	return true
}

// apply writes the buffer into btx in (bucket, key) order, creating
// buckets as needed. Sorted writes walk bbolt's B+tree in order, each Put
// landing next to the previous one.
func (u *buffer) apply(btx *bbolt.Tx) error {
	names := make([]string, 0, len(u.buckets))
	for name, b := range u.buckets {
		if len(b.entries) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var es []*entry
	for _, name := range names {
		b := u.buckets[name]
		es = es[:0]
		if b.sorted != nil {
			b.sorted.Ascend(func(e *entry) bool { es = append(es, e); return true })
		} else {
			for _, e := range b.entries {
				es = append(es, e)
			}
			sortEntries(es)
		}
		bb := btx.Bucket([]byte(name))
		if bb == nil {
			if !slices.ContainsFunc(es, func(e *entry) bool { return !e.del }) {
				continue // only deletes in a bucket that does not exist
			}
			var err error
			if bb, err = btx.CreateBucket([]byte(name)); err != nil {
				return fmt.Errorf("bucket %q: %w", name, err)
			}
		}
		for _, e := range es {
			var err error
			if e.del {
				err = bb.Delete(e.key)
			} else {
				err = bb.Put(e.key, e.value)
			}
			if err != nil {
				return fmt.Errorf("bucket %q, key %q: %w", name, e.key, err)
			}
		}
	}
	return nil
}

// layer is the buffer of the batch being committed as the functions of the
// next batch read it, between their own buffer and bbolt.
type layer struct {
	// buf is shared with the committer, which applies it meanwhile: both
	// only read it.
	buf *buffer
	// sorted holds the entries of the buckets of buf that the next batch
	// scanned, in key order. It is the writer's own: buf's B-trees are
	// left alone.
	sorted map[string][]*entry
}

// entries returns the entries of bucket in key order.
func (l *layer) entries(bucket string) []*entry {
	es, ok := l.sorted[bucket]
	if ok {
		return es
	}
	if b := l.buf.buckets[bucket]; b != nil && len(b.entries) > 0 {
		es = make([]*entry, 0, len(b.entries))
		for _, e := range b.entries {
			es = append(es, e)
		}
		sortEntries(es)
	}
	if l.sorted == nil {
		l.sorted = make(map[string][]*entry)
	}
	l.sorted[bucket] = es
	return es
}

// tx implements [store.Tx] over a bbolt transaction. In an Update, writes
// go to the buffer of the batch (shared by the functions of the batch and
// applied to bbolt by the committer), and reads see the buffer, over the
// buffer of the batch being committed when under is set, over btx, a
// read-only transaction. In a View, buf and under are nil.
type tx struct {
	btx      *bbolt.Tx
	buf      *buffer
	under    *layer
	scanning int // nesting depth of running Scan calls
	done     atomic.Bool
}

// check validates a call named op; a nil key is not checked (Scan).
func (t *tx) check(op, bucket string, key []byte, write bool) error {
	if t.done.Load() {
		return fmt.Errorf("bolt: %s: %w", op, store.ErrTxDone)
	}
	if write {
		if t.buf == nil {
			return fmt.Errorf("bolt: %s: %w", op, store.ErrReadOnly)
		}
		if t.scanning > 0 {
			return fmt.Errorf("bolt: %s inside a Scan callback: %w", op, store.ErrInvalid)
		}
	}
	switch {
	case bucket == "":
		return fmt.Errorf("bolt: %s: empty bucket name: %w", op, store.ErrInvalid)
	case len(bucket) > bbolt.MaxKeySize:
		return fmt.Errorf("bolt: %s: bucket name longer than %d bytes: %w", op, bbolt.MaxKeySize, store.ErrInvalid)
	case op != "scan" && len(key) == 0:
		return fmt.Errorf("bolt: %s: empty key: %w", op, store.ErrInvalid)
	case len(key) > bbolt.MaxKeySize:
		return fmt.Errorf("bolt: %s: key longer than %d bytes: %w", op, bbolt.MaxKeySize, store.ErrInvalid)
	}
	return nil
}

// Get implements [store.Tx].
func (t *tx) Get(bucket string, key []byte) ([]byte, error) {
	if err := t.check("get", bucket, key, false); err != nil {
		return nil, err
	}
	if t.buf != nil {
		if e := t.buf.get(bucket, key); e != nil {
			if e.del {
				return nil, errNotFound
			}
			return e.value, nil
		}
		if t.under != nil {
			if e := t.under.buf.get(bucket, key); e != nil {
				if e.del {
					return nil, errNotFound
				}
				return e.value, nil
			}
		}
	}
	if b := t.btx.Bucket([]byte(bucket)); b != nil {
		if v := b.Get(key); v != nil {
			return v, nil
		}
	}
	return nil, errNotFound
}

// errNotFound is what Get returns for a missing key; it is made once
// because misses are frequent (absent counters, new members).
var errNotFound = fmt.Errorf("bolt: get: %w", store.ErrNotFound)

// Put implements [store.Tx]. The key and value are copied.
func (t *tx) Put(bucket string, key, value []byte) error {
	if err := t.check("put", bucket, key, true); err != nil {
		return err
	}
	if int64(len(value)) > bbolt.MaxValueSize {
		return fmt.Errorf("bolt: put: value longer than %d bytes: %w", bbolt.MaxValueSize, store.ErrInvalid)
	}
	t.buf.write(bucket, key, value, false)
	return nil
}

// Delete implements [store.Tx].
func (t *tx) Delete(bucket string, key []byte) error {
	if err := t.check("delete", bucket, key, true); err != nil {
		return err
	}
	t.buf.write(bucket, key, nil, true)
	return nil
}

// Scan implements [store.Tx]: it merges the buffered writes of the bucket
// with what lies below them (a bbolt cursor, under the buffered writes of
// the batch being committed, if any), the upper level winning on equal keys
// and its tombstones hiding keys.
func (t *tx) Scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	if err := t.check("scan", bucket, nil, false); err != nil {
		return err
	}
	t.scanning++
	defer func() { t.scanning-- }()

	var ov *btree.BTreeG[*entry]
	if t.buf != nil {
		if b := t.buf.buckets[bucket]; b != nil && len(b.entries) > 0 {
			ov = b.index()
		}
	}
	lo := t.below(bucket, start, end, reverse)
	var err error
	if reverse {
		err = scanDesc(ov, lo, start, end, fn)
	} else {
		err = scanAsc(ov, lo, start, end, fn)
	}
	if errors.Is(err, store.StopScan) {
		return nil
	}
	return err
}

// lower walks, in one direction, the live pairs of a bucket in [start, end)
// below a batch's own buffer: bbolt's, under the entries of the batch being
// committed, which win on equal keys and whose tombstones hide keys.
type lower struct {
	desc       bool
	start, end []byte
	c          *bbolt.Cursor
	ck, cv     []byte   // bbolt's next pair in range; ck nil when done
	pend       []*entry // the committing batch's entries in range, left to walk
	key, value []byte   // the current pair; key nil when done
}

// below returns a lower positioned on the first pair of bucket in range.
func (t *tx) below(bucket string, start, end []byte, reverse bool) *lower {
	lo := &lower{desc: reverse, start: start, end: end}
	if b := t.btx.Bucket([]byte(bucket)); b != nil {
		lo.c = b.Cursor()
		switch {
		case !reverse && start == nil:
			lo.ck, lo.cv = lo.c.First()
		case !reverse:
			lo.ck, lo.cv = lo.c.Seek(start)
		case end == nil:
			lo.ck, lo.cv = lo.c.Last()
		default:
			if lo.ck, lo.cv = lo.c.Seek(end); lo.ck == nil {
				lo.ck, lo.cv = lo.c.Last()
			} else {
				lo.ck, lo.cv = lo.c.Prev()
			}
		}
		lo.clip()
	}
	if t.under != nil {
		es := t.under.entries(bucket)
		from, to := 0, len(es)
		if start != nil {
			from, _ = slices.BinarySearchFunc(es, start, func(e *entry, k []byte) int { return bytes.Compare(e.key, k) })
		}
		if end != nil {
			to, _ = slices.BinarySearchFunc(es, end, func(e *entry, k []byte) int { return bytes.Compare(e.key, k) })
		}
		if from < to {
			lo.pend = es[from:to]
		}
	}
	lo.next()
	return lo
}

// clip ends the bbolt side when its key left the range.
func (lo *lower) clip() {
	if lo.ck == nil {
		return
	}
	if lo.desc && lo.start != nil && bytes.Compare(lo.ck, lo.start) < 0 ||
		!lo.desc && lo.end != nil && bytes.Compare(lo.ck, lo.end) >= 0 {
		lo.ck, lo.cv = nil, nil
	}
}

// step moves the bbolt side on.
func (lo *lower) step() {
	if lo.desc {
		lo.ck, lo.cv = lo.c.Prev()
	} else {
		lo.ck, lo.cv = lo.c.Next()
	}
	lo.clip()
}

// next moves to the next live pair.
func (lo *lower) next() {
	for {
		if len(lo.pend) == 0 {
			lo.key, lo.value = lo.ck, lo.cv
			if lo.ck != nil {
				lo.step()
			}
			return
		}
		var e *entry
		if lo.desc {
			e = lo.pend[len(lo.pend)-1]
		} else {
			e = lo.pend[0]
		}
		cmp := 1 // bbolt's key comes after e's in scan order
		if lo.ck != nil {
			if cmp = bytes.Compare(lo.ck, e.key); lo.desc {
				cmp = -cmp
			}
		}
		if cmp < 0 {
			lo.key, lo.value = lo.ck, lo.cv
			lo.step()
			return
		}
		if lo.desc {
			lo.pend = lo.pend[:len(lo.pend)-1]
		} else {
			lo.pend = lo.pend[1:]
		}
		if cmp == 0 {
			lo.step() // e replaces bbolt's pair
		}
		if !e.del {
			lo.key, lo.value = e.key, e.value
			return
		}
	}
}

func scanAsc(ov *btree.BTreeG[*entry], lo *lower, start, end []byte, fn func(key, value []byte) error) error {
	var err error
	if ov != nil {
		ov.AscendGreaterOrEqual(&entry{key: start}, func(e *entry) bool {
			if end != nil && bytes.Compare(e.key, end) >= 0 {
				return false
			}
			// Emit the lower keys before e.key; skip an equal one.
			for lo.key != nil {
				cmp := bytes.Compare(lo.key, e.key)
				if cmp > 0 {
					break
				}
				if cmp < 0 {
					if err = fn(lo.key, lo.value); err != nil {
						return false
					}
				}
				lo.next()
			}
			if !e.del {
				err = fn(e.key, e.value)
			}
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	for ; lo.key != nil; lo.next() {
		if err := fn(lo.key, lo.value); err != nil {
			return err
		}
	}
	return nil
}

func scanDesc(ov *btree.BTreeG[*entry], lo *lower, start, end []byte, fn func(key, value []byte) error) error {
	var err error
	if ov != nil {
		visit := func(e *entry) bool {
			if start != nil && bytes.Compare(e.key, start) < 0 {
				return false
			}
			if end != nil && bytes.Compare(e.key, end) >= 0 {
				return true // end is exclusive
			}
			for lo.key != nil {
				cmp := bytes.Compare(lo.key, e.key)
				if cmp < 0 {
					break
				}
				if cmp > 0 {
					if err = fn(lo.key, lo.value); err != nil {
						return false
					}
				}
				lo.next()
			}
			if !e.del {
				err = fn(e.key, e.value)
			}
			return err == nil
		}
		if end == nil {
			ov.Descend(visit)
		} else {
			ov.DescendLessOrEqual(&entry{key: end}, visit)
		}
		if err != nil {
			return err
		}
	}
	for ; lo.key != nil; lo.next() {
		if err := fn(lo.key, lo.value); err != nil {
			return err
		}
	}
	return nil
}
