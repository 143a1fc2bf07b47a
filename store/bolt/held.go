package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/internal/cowtree"
)

// Held writes (file format 5; see the package documentation). The held
// writes of a bucket are never below a later write of it: once a bucket has
// writes held, a checkpoint holds all of its writes, until they are put.
// Colocated buckets are never held (their pages are the members'), and a
// checkpoint that colocates buckets puts every held write first, as moving a
// bucket reads its records from the file.

// heldPrefix begins the keys of held records in metaBucket, followed by
// the seq of the last batch of the checkpoint that wrote it (8 bytes,
// big-endian), so that they are read in the order they were written.
var heldPrefix = []byte("held\x00")

// heldEntryMax is the most bytes a bucket's writes average (key and
// value) for a checkpoint to hold them: index records (a tag and a
// member, a due item) are 20 to 40 bytes, and a record larger than that
// fills its page's room with fewer writes anyway.
const heldEntryMax = 64

// held is the writes checkpoints held back, a tree per bucket, in memory
// (see Held writes). It is never changed once made: a checkpoint makes the
// next one. A bucket keeps its tree, empty or not, until every held write
// is put and every record deleted: while a record may hold writes of a
// bucket, its later writes must be held too, or a reopen would read the
// record's over them.
type held struct {
	trees map[string]*tree
	size  int64 // memory estimate, as gen.size
	sweep sweep // the rolling put under way, if any (see putSome)
}

// sweep is where a rolling put of the held writes stands: begun by the
// checkpoint of batch from, it goes on at key at (inclusive; nil: the
// first) of bucket. from is 0 when no put is under way.
type sweep struct {
	from   uint64
	bucket string
	at     []byte
}

// tree returns the held tree of bucket, or nil; h may be nil.
func (h *held) tree(bucket string) *tree {
	if h == nil {
		return nil
	}
	return h.trees[bucket]
}

// heldSize returns h's memory estimate; h may be nil.
func (h *held) heldSize() int64 {
	if h == nil {
		return 0
	}
	return h.size
}

// holds reports whether the checkpoint holds back t, the writes of bucket
// name, given h, the writes held before it.
func (c *ckptTx) holds(h *held, name string, t *tree) bool {
	if h.tree(name) != nil {
		return true
	}
	if c.nested[name] != nil || t.Len() == 0 {
		return false
	}
	b := c.btx.Bucket([]byte(name))
	if b == nil || appendOnly(b, t) {
		return false
	}
	bytes := 0
	t.Ascend(nil, nil, func(it cowtree.Item[struct{}]) bool {
		bytes += it.Size()
		return true
	})
	return bytes <= heldEntryMax*t.Len()
}

// hold takes g's trees of names, which the checkpoint held back, and
// returns the held writes after it: h with them added, recorded in the
// file, less those putSome puts back down to seven eighths of limit; or,
// when they reach limit (limit <= 0: always), nil, once every held write
// is put into its bucket and the records deleted.
func (c *ckptTx) hold(h *held, g *gen, names []string, limit int64) (*held, error) {
	if len(names) == 0 && (h == nil || limit > 0 && h.size < limit) {
		return h, nil // nothing new to hold, nothing to put
	}
	next := &held{trees: make(map[string]*tree), size: h.heldSize()}
	if h != nil {
		maps.Copy(next.trees, h.trees)
		next.sweep = h.sweep
	}
	for _, name := range names {
		t := g.trees[name]
		before := next.trees[name]
		if before == nil {
			// g's tree is never changed: the held writes may share it.
			next.trees[name] = t
			next.size += writesSize(t)
			continue
		}
		merged := before.Clone()
		t.Ascend(nil, nil, func(it cowtree.Item[struct{}]) bool {
			_, old := merged.PutMarked(it.Key(), it.Value(), it.Marked())
			next.size += int64(it.Size())
			if !old {
				next.size += entryOverhead
			}
			return true
		})
		next.trees[name] = merged
	}
	if limit > 0 && next.size < limit {
		rec := encodeHeld(nil, g.top, names, g.trees)
		if err := c.metaPut(heldKey(g.top), rec); err != nil {
			return nil, fmt.Errorf("held writes: %w", err)
		}
		// Seven eighths: a checkpoint adds about an eighth here (a
		// million members, 64 callers), so a key range is put every
		// seven checkpoints or so, each page taking their writes. At
		// three quarters a build of a million members wrote 6% more
		// file and ran 14% slower than with the puts at the bound.
		if err := c.putSome(next, g.top, limit/8*7); err != nil {
			return nil, err
		}
		return next, nil
	}
	for _, name := range slices.Sorted(maps.Keys(next.trees)) {
		if err := c.writeTree(name, next.trees[name]); err != nil {
			return nil, err
		}
	}
	if err := deleteHeld(c.btx); err != nil {
		return nil, fmt.Errorf("held writes: %w", err)
	}
	return nil, nil
}

// putSome puts held writes of next, which hold has just made (so it may
// change it), into their buckets until its estimate is at most target:
// in order of bucket and key from where the checkpoint before left off,
// taking them out of next. Putting them all at once when they reach their
// bound made that checkpoint two or three times as long as the others, and
// the calls during it the slowest of a run (BENCHMARKS.md, "Latency at a
// set rate"); a little a checkpoint, the put is spread evenly, each page
// still taking several checkpoints' writes. Once the put has gone through
// every bucket, every record written before it began (seq up to
// sweep.from) holds only writes put since, or written again in a later
// record: those records are deleted, the estimate is counted again (it
// counts overwritten values until then), and the put begins again. seq is
// the checkpoint's.
func (c *ckptTx) putSome(next *held, seq uint64, target int64) error {
	if next.size <= target {
		return nil
	}
	names := slices.Sorted(maps.Keys(next.trees))
	sw := &next.sweep
	if sw.from == 0 {
		*sw = sweep{from: seq, bucket: names[0]}
	}
	for next.size > target {
		i, found := slices.BinarySearch(names, sw.bucket)
		if !found {
			// Cannot be, as a held bucket keeps its tree; should it be,
			// a put begun again only keeps the records longer.
			*sw = sweep{from: seq, bucket: names[0]}
			i = 0
		}
		name := names[i]
		t := next.trees[name]
		put, rest := newTree(), t.Clone()
		var stop []byte // the first key left held
		t.Ascend(sw.at, nil, func(it cowtree.Item[struct{}]) bool {
			if next.size <= target {
				stop = bytes.Clone(it.Key())
				return false
			}
			put.PutMarked(it.Key(), it.Value(), it.Marked())
			rest.Delete(it.Key())
			next.size -= int64(it.Size()) + entryOverhead
			return true
		})
		if err := c.writeTree(name, put); err != nil {
			return err
		}
		next.trees[name] = rest
		switch {
		case stop != nil:
			sw.at = stop
		case i+1 < len(names):
			sw.bucket, sw.at = names[i+1], nil
		default:
			// Every bucket gone through: the records before the put
			// began hold nothing left to put.
			if err := deleteHeldThrough(c.btx, sw.from); err != nil {
				return fmt.Errorf("held writes: %w", err)
			}
			next.size = 0
			for _, t := range next.trees {
				next.size += writesSize(t)
			}
			*sw = sweep{from: seq, bucket: names[0]}
		}
	}
	return nil
}

// writesSize returns the memory estimate of the writes of t, as held.
func writesSize(t *tree) int64 {
	var n int64
	t.Ascend(nil, nil, func(it cowtree.Item[struct{}]) bool {
		n += int64(it.Size()) + entryOverhead
		return true
	})
	return n
}

// deleteHeldThrough deletes the held records of btx of batches up to seq.
func deleteHeldThrough(btx *bbolt.Tx, seq uint64) error {
	b := btx.Bucket([]byte(metaBucket))
	if b == nil {
		return nil
	}
	var keys [][]byte
	c := b.Cursor()
	end := heldKey(seq)
	for k, _ := c.Seek(heldPrefix); k != nil && bytes.HasPrefix(k, heldPrefix) && bytes.Compare(k, end) <= 0; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// metaPut puts a record into the reserved bucket.
func (c *ckptTx) metaPut(key, value []byte) error {
	b, err := c.btx.CreateBucketIfNotExists([]byte(metaBucket))
	if err != nil {
		return err
	}
	return b.Put(key, value)
}

// heldKey returns the key of the held record of the checkpoint of seq.
func heldKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(heldPrefix), seq)
}

// encodeHeld appends the held record of writes up to seq to dst: the
// trees of names, in the layout of a log record (see encodeRecord), whose
// checksum covers it.
func encodeHeld(dst []byte, seq uint64, names []string, trees map[string]*tree) []byte {
	dst = append(dst, make([]byte, recHeader)...)
	body := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, name := range names {
		t := trees[name]
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
		dst = binary.AppendUvarint(dst, uint64(t.Len()))
		t.Ascend(nil, nil, func(it cowtree.Item[struct{}]) bool {
			dst = appendWrite(dst, it.Key(), it.Value(), it.Marked())
			return true
		})
	}
	return frameRecord(dst, body)
}

// readHeld reads the held records of btx in the order they were written
// and returns the writes they hold, or nil when there are none. A record
// that does not decode whole, with its checksum, or whose key and seq
// disagree is an error wrapping ErrCorrupt.
func readHeld(btx *bbolt.Tx) (*held, error) {
	b := btx.Bucket([]byte(metaBucket))
	if b == nil {
		return nil, nil
	}
	var h *held
	c := b.Cursor()
	for k, v := c.Seek(heldPrefix); k != nil && bytes.HasPrefix(k, heldPrefix); k, v = c.Next() {
		seq, n, writes, err := decodeRecord(v)
		if err != nil || n != len(v) || len(k) != len(heldPrefix)+8 || binary.BigEndian.Uint64(k[len(heldPrefix):]) != seq {
			return nil, fmt.Errorf("%w: the held writes of batch %x: %v", ErrCorrupt, k[len(heldPrefix):], err)
		}
		if h == nil {
			h = &held{trees: make(map[string]*tree)}
		}
		for _, w := range writes {
			t := h.trees[w.bucket]
			if t == nil {
				t = newTree()
				h.trees[w.bucket] = t
			}
			_, old := t.PutMarked(w.e.key, w.e.value, w.e.del)
			h.size += putSize(w.e, old)
		}
	}
	return h, nil
}

// deleteHeld deletes every held record of btx.
func deleteHeld(btx *bbolt.Tx) error { return deleteHeldThrough(btx, math.MaxUint64) }
