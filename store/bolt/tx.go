package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/google/btree"
	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
)

// ovItem is one overlay entry: a value written by the transaction or, with
// del set, a tombstone. A zero key with max set is a search pivot that sorts
// after every key of its bucket.
type ovItem struct {
	bucket string
	key    []byte
	value  []byte
	del    bool
	max    bool
}

func ovLess(a, b ovItem) bool {
	if a.bucket != b.bucket {
		return a.bucket < b.bucket
	}
	if a.max || b.max {
		return !a.max && b.max
	}
	return bytes.Compare(a.key, b.key) < 0
}

// overlay holds the writes of one Update function until it returns.
type overlay struct {
	t *btree.BTreeG[ovItem]
}

func newOverlay() *overlay {
	return &overlay{t: btree.NewG(16, ovLess)}
}

// apply writes the overlay into btx, creating buckets as needed.
func (o *overlay) apply(btx *bbolt.Tx) error {
	var (
		err  error
		name string
		b    *bbolt.Bucket
	)
	o.t.Ascend(func(it ovItem) bool {
		if it.bucket != name || b == nil {
			name = it.bucket
			b = btx.Bucket([]byte(name))
		}
		if it.del {
			if b != nil {
				err = b.Delete(it.key)
			}
			return err == nil
		}
		if b == nil {
			if b, err = btx.CreateBucketIfNotExists([]byte(name)); err != nil {
				err = fmt.Errorf("bucket %q: %w", name, err)
				return false
			}
		}
		err = b.Put(it.key, it.value)
		return err == nil
	})
	return err
}

// tx implements [store.Tx] over a bbolt transaction. In an Update its
// writes go to an overlay that is applied to the bbolt transaction only if
// the function returns nil; reads consult the overlay first.
type tx struct {
	btx      *bbolt.Tx
	writable bool
	ov       *overlay // nil until the first write
	// direct sends writes straight to btx: set when the function is alone
	// in its bbolt transaction, so a failure can roll the whole of it back
	// and no overlay is needed.
	direct   bool
	scanning int // nesting depth of running Scan calls
	done     atomic.Bool
}

// check validates a call named op; a nil key is not checked (Scan).
func (t *tx) check(op, bucket string, key []byte, write bool) error {
	if t.done.Load() {
		return fmt.Errorf("bolt: %s: %w", op, store.ErrTxDone)
	}
	if write {
		if !t.writable {
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
	if t.ov != nil {
		if it, ok := t.ov.t.Get(ovItem{bucket: bucket, key: key}); ok {
			if it.del {
				return nil, errNotFound
			}
			return it.value, nil
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
	if t.direct {
		b, err := t.btx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return fmt.Errorf("bolt: put: %w", err)
		}
		// bbolt keeps the slices until commit: copy them, as the caller may
		// reuse its own.
		return b.Put(bytes.Clone(key), append([]byte{}, value...))
	}
	if t.ov == nil {
		t.ov = newOverlay()
	}
	// A non-nil empty value: bbolt reads a nil value back as absent.
	t.ov.t.ReplaceOrInsert(ovItem{bucket: bucket, key: bytes.Clone(key), value: append([]byte{}, value...)})
	return nil
}

// Delete implements [store.Tx].
func (t *tx) Delete(bucket string, key []byte) error {
	if err := t.check("delete", bucket, key, true); err != nil {
		return err
	}
	if t.direct {
		if b := t.btx.Bucket([]byte(bucket)); b != nil {
			return b.Delete(key)
		}
		return nil
	}
	if t.ov == nil {
		t.ov = newOverlay()
	}
	t.ov.t.ReplaceOrInsert(ovItem{bucket: bucket, key: bytes.Clone(key), del: true})
	return nil
}

// Scan implements [store.Tx]: it merges the overlay with a bbolt cursor,
// the overlay winning on equal keys and its tombstones hiding keys.
func (t *tx) Scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	if err := t.check("scan", bucket, nil, false); err != nil {
		return err
	}
	t.scanning++
	defer func() { t.scanning-- }()

	var err error
	if reverse {
		err = t.scanDesc(bucket, start, end, fn)
	} else {
		err = t.scanAsc(bucket, start, end, fn)
	}
	if errors.Is(err, store.StopScan) {
		return nil
	}
	return err
}

func (t *tx) scanAsc(bucket string, start, end []byte, fn func(key, value []byte) error) error {
	// The bbolt side: ck is the next bbolt key in range, nil when done.
	var (
		c      *bbolt.Cursor
		ck, cv []byte
	)
	if b := t.btx.Bucket([]byte(bucket)); b != nil {
		c = b.Cursor()
		if start == nil {
			ck, cv = c.First()
		} else {
			ck, cv = c.Seek(start)
		}
	}
	inRange := func() bool { return ck != nil && (end == nil || bytes.Compare(ck, end) < 0) }

	var err error
	if t.ov != nil {
		t.ov.t.AscendGreaterOrEqual(ovItem{bucket: bucket, key: start}, func(it ovItem) bool {
			if it.bucket != bucket || (end != nil && bytes.Compare(it.key, end) >= 0) {
				return false
			}
			// Emit the bbolt keys before it.key; skip an equal one.
			for inRange() {
				cmp := bytes.Compare(ck, it.key)
				if cmp > 0 {
					break
				}
				if cmp < 0 {
					if err = fn(ck, cv); err != nil {
						return false
					}
				}
				ck, cv = c.Next()
			}
			if !it.del {
				err = fn(it.key, it.value)
			}
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	for ; inRange(); ck, cv = c.Next() {
		if err := fn(ck, cv); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) scanDesc(bucket string, start, end []byte, fn func(key, value []byte) error) error {
	var (
		c      *bbolt.Cursor
		ck, cv []byte
	)
	if b := t.btx.Bucket([]byte(bucket)); b != nil {
		c = b.Cursor()
		if end == nil {
			ck, cv = c.Last()
		} else if ck, cv = c.Seek(end); ck == nil {
			ck, cv = c.Last()
		} else {
			ck, cv = c.Prev()
		}
	}
	inRange := func() bool { return ck != nil && (start == nil || bytes.Compare(ck, start) >= 0) }

	var err error
	if t.ov != nil {
		hi := ovItem{bucket: bucket, max: true}
		if end != nil {
			hi = ovItem{bucket: bucket, key: end}
		}
		t.ov.t.DescendLessOrEqual(hi, func(it ovItem) bool {
			if it.bucket != bucket || (start != nil && bytes.Compare(it.key, start) < 0) {
				return false
			}
			if end != nil && bytes.Equal(it.key, end) {
				return true // end is exclusive
			}
			for inRange() {
				cmp := bytes.Compare(ck, it.key)
				if cmp < 0 {
					break
				}
				if cmp > 0 {
					if err = fn(ck, cv); err != nil {
						return false
					}
				}
				ck, cv = c.Prev()
			}
			if !it.del {
				err = fn(it.key, it.value)
			}
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	for ; inRange(); ck, cv = c.Prev() {
		if err := fn(ck, cv); err != nil {
			return err
		}
	}
	return nil
}
