package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"maps"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/internal/cowtree"
	"github.com/memberkit/membership/store"
)

// Colocated buckets (file format 3, store.Colocator).
//
// The library keys a dozen buckets by member (balances, ledger entries,
// lots, level, tags…), and an event writes a key or two of one member in
// each. Kept in a bbolt bucket each, those keys lie on a dozen pages
// scattered over the file, and with a million members a checkpoint of
// twenty thousand events dirties a hundred thousand pages, each held in
// memory and written whole. A colocated bucket's records are kept instead
// in the one reserved bucket colocBucket, under
//
//	group, 0x00, tag (uint16, big-endian), key
//
// where group is the key up to its first 0x00 (the member) and tag names
// the bucket (metaColoc lists them in order, the first being tag 1). A
// member's records of every colocated bucket thus lie side by side, and
// the record's key is the physical key's tail, so reads return it without
// a copy. Physical keys sort as the logical keys do within a bucket: a
// logical key k >= start has a group >= start's group, so a Scan of
// [start, end) is a walk of [phys(start), phys(end)) that skips the other
// buckets' records (none, for a range within one member). Records keep the
// checksum of their logical bucket and key, so moving a bucket into
// colocBucket copies its values as they are.

// colocBucket is the bbolt bucket, reserved, that holds the colocated
// buckets' records.
const colocBucket = "\x00store/bolt/members"

// metaColoc lists the colocated buckets, the one with tag i at i-1 (each a
// uvarint length and the name). Absent when there are none.
var metaColoc = []byte("colocated")

// maxColocKey is the longest key Put and Delete take: a colocated
// bucket's physical key, which repeats the group, must fit bbolt's limit.
const maxColocKey = (bbolt.MaxKeySize - 3) / 2

// layout is the file's colocated buckets as of one bbolt transaction.
type layout struct {
	tags  map[string]uint16 // bucket → tag
	names []string          // tag-1 → bucket
	sums  []uint32          // tag-1 → bucketSum(bucket)
}

func (l *layout) tag(bucket string) (uint16, bool) {
	if l == nil {
		return 0, false
	}
	t, ok := l.tags[bucket]
	return t, ok
}

// bucketOf returns the name and checksum base of tag's bucket.
func (l *layout) bucketOf(tag uint16) (string, uint32, bool) {
	if l == nil || tag == 0 || int(tag) > len(l.names) {
		return "", 0, false
	}
	return l.names[tag-1], l.sums[tag-1], true
}

// with returns a copy of l with names added (those it lacks), in order.
func (l *layout) with(names []string) *layout {
	n := &layout{tags: make(map[string]uint16)}
	if l != nil {
		n.names = slices.Clone(l.names)
	}
	for _, name := range names {
		if !slices.Contains(n.names, name) {
			n.names = append(n.names, name)
		}
	}
	for i, name := range n.names {
		n.tags[name] = uint16(i + 1)
		n.sums = append(n.sums, bucketSum(name))
	}
	return n
}

// readLayout reads metaColoc: nil when the file has no colocated bucket.
func readLayout(btx *bbolt.Tx) (*layout, error) {
	b := btx.Bucket([]byte(metaBucket))
	if b == nil {
		return nil, nil
	}
	v := b.Get(metaColoc)
	if v == nil {
		return nil, nil
	}
	v, good := unseal(bucketSum(metaBucket), metaColoc, v)
	if !good {
		return nil, badSum("read meta", metaBucket, metaColoc)
	}
	var names []string
	for len(v) > 0 {
		name, rest, ok := cutBytes(v)
		if !ok || len(name) == 0 || slices.Contains(names, string(name)) || len(names) == 1<<16-1 {
			return nil, fmt.Errorf("%w: bad list of colocated buckets", ErrCorrupt)
		}
		names, v = append(names, string(name)), rest
	}
	return (*layout)(nil).with(names), nil
}

// writeLayout records l under metaColoc.
func writeLayout(btx *bbolt.Tx, l *layout) error {
	b, err := btx.CreateBucketIfNotExists([]byte(metaBucket))
	if err != nil {
		return err
	}
	var list []byte
	for _, name := range l.names {
		list = binary.AppendUvarint(list, uint64(len(name)))
		list = append(list, name...)
	}
	var s sealer
	return b.Put(metaColoc, s.seal(bucketSum(metaBucket), metaColoc, list))
}

// physKey appends to dst the key under which colocBucket holds key of the
// bucket with tag: physLen(key) bytes.
func physKey(dst, key []byte, tag uint16) []byte {
	dst = append(dst, groupOf(key)...)
	dst = append(dst, 0, byte(tag>>8), byte(tag))
	return append(dst, key...)
}

// physLen returns the length of key's physical key (physKey).
func physLen(key []byte) int { return len(groupOf(key)) + 3 + len(key) }

// groupOf returns key's group: the bytes before its first 0x00, or the
// whole key.
func groupOf(key []byte) []byte {
	if i := bytes.IndexByte(key, 0); i >= 0 {
		return key[:i]
	}
	return key
}

// splitPhys returns the tag and the logical key of a key of colocBucket;
// ok is false when it is not one physKey makes.
func splitPhys(p []byte) (tag uint16, key []byte, ok bool) {
	i := bytes.IndexByte(p, 0)
	if i < 0 || len(p) < i+3 {
		return 0, nil, false
	}
	tag, key = binary.BigEndian.Uint16(p[i+1:]), p[i+3:]
	if tag == 0 || len(key) < i || !bytes.Equal(key[:i], p[:i]) || len(key) > i && key[i] != 0 {
		return 0, nil, false
	}
	return tag, key, true
}

// Colocate implements [store.Colocator]: the named buckets' records are
// kept side by side, member by member, from the next checkpoint on, which
// moves the records bbolt holds of them (once: the file records the list,
// and Open keeps it). Put and Delete refuse keys longer than maxColocKey
// (16,382 bytes) in every bucket, so that any may be colocated; a bucket
// holding a longer key (of a file an older version or another program
// wrote) or a nested bucket stays as it is. It returns an error wrapping store.ErrInvalid for an empty or reserved
// name, and one wrapping store.ErrClosed after Close.
func (d *DB) Colocate(buckets ...string) error {
	for _, name := range buckets {
		if name == "" || name == metaBucket || name == colocBucket || len(name) > bbolt.MaxKeySize {
			return fmt.Errorf("bolt: colocate %q: %w", name, store.ErrInvalid)
		}
	}
	if d.closed.Load() {
		return fmt.Errorf("bolt: colocate: %w", store.ErrClosed)
	}
	d.colocMu.Lock()
	defer d.colocMu.Unlock()
	want := maps.Clone(d.colocWant)
	if want == nil {
		want = make(map[string]bool)
	}
	for _, name := range buckets {
		want[name] = true
	}
	d.colocWant = want
	return nil
}

// colocTook notes that a checkpoint took want: its buckets are colocated
// now, or stay out for good.
func (d *DB) colocTook(want []string) {
	if len(want) == 0 {
		return
	}
	d.colocMu.Lock()
	defer d.colocMu.Unlock()
	d.colocWant = maps.Clone(d.colocWant)
	for _, name := range want {
		delete(d.colocWant, name)
	}
}

// colocWanted returns the buckets Colocate named, sorted.
func (d *DB) colocWanted() []string {
	d.colocMu.Lock()
	defer d.colocMu.Unlock()
	return slices.Sorted(maps.Keys(d.colocWant))
}

// extendLayout adds to the layout of the checkpoint's transaction the
// buckets of want it lacks, moving the records bbolt holds of each into
// colocBucket (packed as a checkpoint packs them). A bucket with a nested
// bucket or a key too long stays out. It sets c.lay to the layout to write
// g with, and notes the buckets it created and emptied.
func extendLayout(c *ckptTx, before *layout, want []string, g *gen, nested map[string]map[string]bool) error {
	btx := c.btx
	var add []string
	for _, name := range want {
		if _, ok := before.tag(name); ok || len(nested[name]) > 0 || !colocable(btx.Bucket([]byte(name)), g.trees[name]) {
			continue
		}
		add = append(add, name)
	}
	c.lay = before
	if len(add) == 0 {
		return nil
	}
	c.lay = before.with(add)
	w := &groupWriter{c: c, max: c.packMax}
	dst := btx.Bucket([]byte(colocBucket))
	for _, name := range add {
		b := btx.Bucket([]byte(name))
		if b == nil {
			continue
		}
		tag, _ := c.lay.tag(name)
		base := bucketSum(name)
		var group []byte
		var changes []packEntry
		flush := func() (err error) {
			if len(changes) > 0 {
				dst, err = w.write(dst, group, changes)
				changes = changes[:0]
			}
			if err != nil {
				return fmt.Errorf("move bucket %q: %w", name, err)
			}
			return nil
		}
		cur := b.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			value, good := unseal(base, k, v)
			if !good {
				return badSum("move", name, k)
			}
			if grp := groupOf(k); len(changes) == 0 || !bytes.Equal(grp, group) {
				if err := flush(); err != nil {
					return err
				}
				group = grp
			}
			changes = append(changes, packEntry{tag: tag, key: k, value: value})
		}
		if err := flush(); err != nil {
			return err
		}
		if err := btx.DeleteBucket([]byte(name)); err != nil {
			return fmt.Errorf("move bucket %q: %w", name, err)
		}
		c.dropped = append(c.dropped, name)
	}
	return nil
}

// colocable reports whether no key of b, nor of t, is too long to
// colocate.
func colocable(b *bbolt.Bucket, t *tree) bool {
	ok := true
	if t != nil {
		t.Ascend(nil, nil, func(it cowtree.Item[struct{}]) bool {
			ok = len(it.Key()) <= maxColocKey
			return ok
		})
	}
	if b != nil && ok {
		c := b.Cursor()
		for k, _ := c.First(); k != nil && ok; k, _ = c.Next() {
			ok = len(k) <= maxColocKey
		}
	}
	return ok
}

// record returns the bucket, checksum base and logical key of the record
// of colocBucket under p; ok is false when p is not a colocated record's
// key of l.
func (l *layout) record(p []byte) (name string, base uint32, key []byte, ok bool) {
	tag, key, ok := splitPhys(p)
	if !ok {
		return "", 0, nil, false
	}
	name, base, ok = l.bucketOf(tag)
	return name, base, key, ok
}

// colocFill is how full bbolt fills colocBucket's pages when it splits
// them (its default is half). A checkpoint of members new to the file
// puts them into a few nodes, which split into pages filled so and that
// few later writes come to: at half, a built file held about 2,300 bytes
// of pages a member for 1,000 of records.
const colocFill = 0.9

// writeColocated writes the trees of g's colocated buckets names into
// colocBucket, creating it when a record is to be put there, group by
// group (see pack.go), in the order of their physical keys: a merge of the
// trees, each in that order already. bbolt inserts a key into its node's
// array, moving the array's tail, and a node takes every key put into its
// page in a transaction before it splits: bucket after bucket, the keys
// of a new file's or a busy region's nodes would go in out of order, each
// moving thousands (a build of 100,000 members spent 80% of its time so).
// A part of the checkpoint ends between groups only, so that a group is
// never half written.
func writeColocated(c *ckptTx, g *gen, names []string) (err error) {
	// A stream is a tree of one bucket, keyed by logical keys, or the
	// generation's tree of the colocated buckets (tag 0), keyed by
	// physical keys already.
	type stream struct {
		tag  uint16
		next func() (cowtree.Item[struct{}], bool)
		it   cowtree.Item[struct{}]
		pk   []byte
		itag uint16 // the item's tag
		key  []byte // the item's logical key
	}
	var streams []*stream
	for _, name := range names {
		t := g.trees[name]
		var tag uint16
		if name != colocBucket {
			tag, _ = c.lay.tag(name)
		}
		next, stop := iter.Pull(func(yield func(cowtree.Item[struct{}]) bool) { t.Ascend(nil, nil, yield) })
		defer stop()
		streams = append(streams, &stream{tag: tag, next: next})
	}
	var bad error // a key of the tree of colocated buckets that is not a physical key of c.lay
	advance := func(st *stream) bool {
		it, ok := st.next()
		switch {
		case !ok:
		case st.tag != 0:
			st.it, st.pk, st.itag, st.key = it, physKey(st.pk[:0], it.Key(), st.tag), st.tag, it.Key()
		default:
			var known bool
			st.it, st.pk = it, it.Key()
			if st.itag, st.key, known = splitPhys(st.pk); !known || int(st.itag) > len(c.lay.names) {
				bad = fmt.Errorf("checkpoint: overlay key %q is not a colocated record's", st.pk)
				return false
			}
		}
		return ok
	}
	live := streams[:0]
	for _, st := range streams {
		if advance(st) {
			live = append(live, st)
		}
	}
	if bad != nil {
		return bad
	}
	w := &groupWriter{c: c, max: c.packMax}
	b := c.btx.Bucket([]byte(colocBucket))
	var group []byte
	var changes []packEntry
	flush := func() error {
		if len(changes) == 0 {
			return nil
		}
		var err error
		if b, err = w.write(b, group, changes); err != nil {
			return err
		}
		changes = changes[:0]
		renewed, err := c.wrote()
		if renewed {
			b = c.btx.Bucket([]byte(colocBucket))
		}
		return err
	}
	for len(live) > 0 {
		min := 0
		for i := 1; i < len(live); i++ {
			if bytes.Compare(live[i].pk, live[min].pk) < 0 {
				min = i
			}
		}
		st := live[min]
		key := st.key
		if grp := groupOf(key); len(changes) == 0 || !bytes.Equal(grp, group) {
			if err := flush(); err != nil {
				return err
			}
			group = grp
		}
		changes = append(changes, packEntry{tag: st.itag, key: key, value: st.it.Value(), del: st.it.Marked()})
		if !advance(st) {
			live = append(live[:min], live[min+1:]...)
		}
	}
	if bad != nil {
		return bad
	}
	return flush()
}
