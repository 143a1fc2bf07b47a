// Package drytx is a dry-run transaction: a [store.Tx] that reads through
// a read-only transaction of a store (one opened by store.Store.View) and
// keeps its own writes in memory, where they are dropped when it ends. The
// engine runs Program.Quote's unit of work on one, so that a quote runs
// exactly the code Process runs, on any store, and writes nothing.
//
// Reads see the transaction's writes, as a store's own transaction does:
// Get answers a key written or deleted here from the buffer, and Scan
// merges the buffered keys of its range with the underlying ones in key
// order, a buffered write or delete hiding the key it replaces.
//
// Over a transaction that is a [store.Adder], the Tx is one too: an
// addition to a total's stripe is kept as a delta (read as the
// underlying amount plus the delta) and handed back by [Tx.Adds], so that
// whoever puts the writes into a transaction of the store adds it there
// as well. Without that, the library's totals code would read the stripe
// and write the sum in internal/codec's binary form, which a store that
// adds on its server (store/postgres, in decimal text) cannot add to.
//
// The buffer is a slice kept sorted by bucket and key: a unit of work
// writes tens of keys, where a binary search and an insert by copy cost
// less than the B-tree of internal/cowtree, which is made for stores of
// millions of keys (each of its nodes holds 64 entries and an arena).
//
// # Caveats
//
// A Tx, like the transaction it reads, must not be used from several
// goroutines at once, nor after [Tx.End] (its calls then return
// store.ErrTxDone). Bytes it returns are valid while the underlying
// transaction is.
package drytx

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/shopspring/decimal"

	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
)

// Tx buffers writes over a read-only transaction; see the package
// documentation.
type Tx struct {
	base     store.Tx
	ents     []entry // sorted by bucket, then key
	arena    []byte  // copies of the written keys and values, only appended to
	scanning int
	done     bool
	// room holds what a unit of work usually writes, allocated with the
	// Tx: a quote then allocates its buffer once.
	room      [32]entry
	arenaRoom [2048]byte
}

// entry is one buffered write: a value, a delete, or an addition (add
// set, delta the amount added; val unused).
type entry struct {
	bucket   string
	key, val []byte
	del, add bool
	delta    decimal.Decimal
}

func compare(e entry, bucket string, key []byte) int {
	if c := cmp.Compare(e.bucket, bucket); c != 0 {
		return c
	}
	return bytes.Compare(e.key, key)
}

// New returns a Tx over base, which it only reads.
func New(base store.Tx) *Tx {
	t := &Tx{base: base}
	t.ents, t.arena = t.room[:0], t.arenaRoom[:0]
	return t
}

// Tx returns t as the store.Tx to hand out: t itself, or t with a Preload
// that passes through when base reads in round trips to a server
// (store.Preloader), and with an Add when base adds without reading
// (store.Adder). Callers find those capabilities by type assertion, so t
// claims them only when base has them.
func (t *Tx) Tx() store.Tx {
	_, preloads := t.base.(store.Preloader)
	_, adds := t.base.(store.Adder)
	switch {
	case preloads && adds:
		return preloadingAdding{preloading{t}}
	case preloads:
		return preloading{t}
	case adds:
		return adding{t}
	}
	return t
}

// adding is a Tx whose base is a store.Adder.
type adding struct{ *Tx }

// Add implements [store.Adder].
func (a adding) Add(bucket string, key []byte, delta decimal.Decimal) error {
	return a.add(bucket, key, delta)
}

// preloadingAdding is a Tx whose base is both.
type preloadingAdding struct{ preloading }

// Add implements [store.Adder].
func (p preloadingAdding) Add(bucket string, key []byte, delta decimal.Decimal) error {
	return p.add(bucket, key, delta)
}

// preloading is a Tx whose base is a store.Preloader.
type preloading struct{ *Tx }

// Preload implements [store.Preloader]: the keys are read from the base,
// and the buffered writes still take precedence over them.
func (p preloading) Preload(reads ...store.Read) error {
	if p.done {
		return fmt.Errorf("drytx: preload: %w", store.ErrTxDone)
	}
	return p.base.(store.Preloader).Preload(reads...)
}

// End ends the transaction: its writes are dropped, and every call after
// it returns store.ErrTxDone.
func (t *Tx) End() {
	t.done = true
	t.ents, t.arena = nil, nil
}

// Writes calls fn for each buffered write in bucket and key order (del set
// for a delete), stopping at fn's first error, which it returns. The
// additions are not among them (see Adds).
func (t *Tx) Writes(fn func(bucket string, key, value []byte, del bool) error) error {
	for _, e := range t.ents {
		if e.add {
			continue
		}
		if err := fn(e.bucket, e.key, e.val, e.del); err != nil {
			return err
		}
	}
	return nil
}

// Adds calls fn for each buffered addition (made through the Tx's Add,
// which only a Tx over a store.Adder has) in bucket and key order,
// stopping at fn's first error, which it returns. A key is either written
// or added to: an Add to a key written here writes the sum.
func (t *Tx) Adds(fn func(bucket string, key []byte, delta decimal.Decimal) error) error {
	for _, e := range t.ents {
		if !e.add {
			continue
		}
		if err := fn(e.bucket, e.key, e.delta); err != nil {
			return err
		}
	}
	return nil
}

// add keeps delta as an addition to key, or, when the key was written
// here, writes the sum (as decimal text, the form a store.Adder writes).
func (t *Tx) add(bucket string, key []byte, delta decimal.Decimal) error {
	if err := t.check("add", bucket, key, true); err != nil {
		return err
	}
	i, ok := t.find(bucket, key)
	switch {
	case !ok:
		t.ents = slices.Insert(t.ents, i, entry{bucket: bucket, key: t.copyBytes(key), add: true, delta: delta})
	case t.ents[i].add:
		t.ents[i].delta = t.ents[i].delta.Add(delta)
	default:
		cur := decimal.Zero
		if e := t.ents[i]; !e.del {
			d, err := total.Parse(e.val)
			if err != nil {
				return fmt.Errorf("drytx: add to %q in %q: %w", key, bucket, err)
			}
			cur = d
		}
		t.put(bucket, key, []byte(cur.Add(delta).String()), false)
	}
	return nil
}

// sum returns the value of key, of which e is the buffered addition:
// base, the underlying value (nil when there is none), plus the delta, as
// decimal text in the arena.
func (t *Tx) sum(e entry, base []byte) ([]byte, error) {
	cur := decimal.Zero
	if base != nil {
		d, err := total.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("drytx: %q in %q: %w", e.key, e.bucket, err)
		}
		cur = d
	}
	return t.copyBytes([]byte(cur.Add(e.delta).String())), nil
}

func (t *Tx) check(op, bucket string, key []byte, write bool) error {
	switch {
	case t.done:
		return fmt.Errorf("drytx: %s: %w", op, store.ErrTxDone)
	case write && t.scanning > 0:
		return fmt.Errorf("drytx: %s inside a Scan callback: %w", op, store.ErrInvalid)
	case bucket == "":
		return fmt.Errorf("drytx: %s: empty bucket name: %w", op, store.ErrInvalid)
	case op != "scan" && len(key) == 0:
		return fmt.Errorf("drytx: %s: empty key: %w", op, store.ErrInvalid)
	}
	return nil
}

// find returns the index of (bucket, key) in the buffer, or where it would
// go, and whether it is there.
func (t *Tx) find(bucket string, key []byte) (int, bool) {
	return slices.BinarySearchFunc(t.ents, key, func(e entry, k []byte) int { return compare(e, bucket, k) })
}

// Get implements [store.Tx].
func (t *Tx) Get(bucket string, key []byte) ([]byte, error) {
	if err := t.check("get", bucket, key, false); err != nil {
		return nil, err
	}
	if i, ok := t.find(bucket, key); ok {
		e := t.ents[i]
		switch {
		case e.del:
			return nil, fmt.Errorf("drytx: get %q: %w", key, store.ErrNotFound)
		case e.add:
			v, err := t.base.Get(bucket, key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			return t.sum(e, v)
		}
		return e.val, nil
	}
	return t.base.Get(bucket, key)
}

// copyBytes returns a copy of b in the arena, never nil. The arena is only
// appended to: a slice handed out earlier keeps its bytes even when the
// arena moves.
func (t *Tx) copyBytes(b []byte) []byte {
	n := len(t.arena)
	t.arena = append(t.arena, b...)
	return t.arena[n:len(t.arena):len(t.arena)] // never nil: the arena starts in arenaRoom
}

func (t *Tx) put(bucket string, key, value []byte, del bool) {
	i, ok := t.find(bucket, key)
	if ok {
		e := &t.ents[i]
		e.del, e.val, e.add, e.delta = del, nil, false, decimal.Decimal{}
		if !del {
			e.val = t.copyBytes(value)
		}
		return
	}
	e := entry{bucket: bucket, key: t.copyBytes(key), del: del}
	if !del {
		e.val = t.copyBytes(value)
	}
	t.ents = slices.Insert(t.ents, i, e)
}

// Put implements [store.Tx]: the write is kept in memory.
func (t *Tx) Put(bucket string, key, value []byte) error {
	if err := t.check("put", bucket, key, true); err != nil {
		return err
	}
	t.put(bucket, key, value, false)
	return nil
}

// Delete implements [store.Tx]: the delete is kept in memory.
func (t *Tx) Delete(bucket string, key []byte) error {
	if err := t.check("delete", bucket, key, true); err != nil {
		return err
	}
	t.put(bucket, key, nil, true)
	return nil
}

// Scan implements [store.Tx], merging the buffered writes of the range with
// the base's keys.
func (t *Tx) Scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) error {
	if err := t.check("scan", bucket, nil, false); err != nil {
		return err
	}
	lo, _ := t.find(bucket, start)
	hi := len(t.ents)
	if end != nil {
		hi, _ = t.find(bucket, end)
	} else {
		hi, _ = slices.BinarySearchFunc(t.ents, bucket, func(e entry, b string) int {
			if c := cmp.Compare(e.bucket, b); c != 0 {
				return c
			}
			return -1 // every key of the bucket is before its end
		})
	}
	t.scanning++
	defer func() { t.scanning-- }()
	if lo >= hi {
		return t.base.Scan(bucket, start, end, reverse, fn)
	}
	// Writes are refused while scanning, so buf stays as it is.
	buf := t.ents[lo:hi]
	stopped := false
	call := func(k, v []byte) error {
		err := fn(k, v)
		if err != nil {
			stopped = true
		}
		return err
	}
	// before reports whether the buffered key b comes before the base's k
	// in the scan's order.
	before := func(b, k []byte) bool {
		if reverse {
			return bytes.Compare(b, k) > 0
		}
		return bytes.Compare(b, k) < 0
	}
	i, step := 0, 1
	if reverse {
		i, step = len(buf)-1, -1
	}
	more := func() bool { return i >= 0 && i < len(buf) }
	// value returns what the scan sees of the buffered e, over base's
	// value v (nil when base has none there).
	value := func(e entry, v []byte) ([]byte, error) {
		if e.add {
			return t.sum(e, v)
		}
		return e.val, nil
	}
	err := t.base.Scan(bucket, start, end, reverse, func(k, v []byte) error {
		for ; more() && before(buf[i].key, k); i += step {
			if !buf[i].del {
				bv, err := value(buf[i], nil)
				if err != nil {
					return err
				}
				if err := call(buf[i].key, bv); err != nil {
					return err
				}
			}
		}
		if more() && bytes.Equal(buf[i].key, k) {
			e := buf[i]
			i += step
			if e.del {
				return nil
			}
			bv, err := value(e, v)
			if err != nil {
				return err
			}
			return call(e.key, bv)
		}
		return call(k, v)
	})
	if err != nil || stopped {
		return err
	}
	for ; more(); i += step {
		if buf[i].del {
			continue
		}
		bv, err := value(buf[i], nil)
		if err != nil {
			return err
		}
		if err := fn(buf[i].key, bv); err != nil {
			if errors.Is(err, store.StopScan) {
				return nil
			}
			return err
		}
	}
	return nil
}
