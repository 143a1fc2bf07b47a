package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// Member packs (file format 4).
//
// A member with one order has about a dozen colocated records. Kept one
// bbolt element each, under keys that repeat the member twice and a tag,
// they took some 800 bytes of leaf a member (1,100 with the pages' free
// space) for under 300 bytes of values: each element has bbolt's 16-byte
// header, each key 20 to 50 bytes. A checkpoint now keeps a group's
// colocated records in one element, its pack, under
//
//	group, 0x00, 0x00, 0x00
//
// (the tag 0, which no bucket has, so the pack sorts before every
// record the group could have one by one), its value the records in
// physical order, each
//
//	tag (uvarint), len(tail) (uvarint), tail, len(value) (uvarint), value
//
// where tail is the logical key after the group, and one checksum over
// the pack (of colocBucket and the pack's key). A group is packed while its
// records encode in at most packMax bytes; a larger one (a member with a
// long history) keeps its records one element each, as format 3 did, so
// that a checkpoint never rewrites much of a member to change a record of
// it, and a read never decodes much to find one. A group has a pack or
// records one by one, never both: each checkpoint that writes a group
// rewrites it whole in one bbolt transaction (a checkpoint's parts end
// between groups), and records of a file of format 3 are packed as their
// groups are written. The group "" (keys starting with 0x00: a pool's,
// which every member's event may write) is never packed.

// defaultPackMax is packMax when Options leave it unset: a member with one
// order packs in about 450 bytes, and each further order adds 150 to 250.
const defaultPackMax = 2048

// colocSum is the checksum base of a pack: it is of colocBucket's name.
var colocSum = bucketSum(colocBucket)

// packKey appends to dst the key of group's pack.
func packKey(dst, group []byte) []byte {
	dst = append(dst, group...)
	return append(dst, 0, 0, 0)
}

// packGroup returns the group of a pack's key; ok is false when p is not
// one.
func packGroup(p []byte) (group []byte, ok bool) {
	n := len(p) - 3
	if n <= 0 || p[n] != 0 || p[n+1] != 0 || p[n+2] != 0 || bytes.IndexByte(p[:n], 0) >= 0 {
		return nil, false
	}
	return p[:n], true
}

// isPack reports whether p is a pack's key.
func isPack(p []byte) bool {
	_, ok := packGroup(p)
	return ok
}

// packEntry is a record of a pack: key is the logical key (the group and
// the tail), value the record's value without a checksum.
type packEntry struct {
	tag        uint16
	key, value []byte
	del        bool // in a checkpoint's changes: a delete
}

// less orders entries as their physical keys: by tag, then key.
func (e *packEntry) less(o *packEntry) int {
	if e.tag != o.tag {
		if e.tag < o.tag {
			return -1
		}
		return 1
	}
	return bytes.Compare(e.key, o.key)
}

// decodePack appends to dst the entries of group's pack payload, unsealed,
// in order. Values are slices of payload; keys are built in one new buffer.
// It returns an error wrapping ErrCorrupt when the payload is malformed or
// names a tag lay lacks; its checksum held, so that is a fault of the
// program that wrote it, or a file of a later version.
func decodePack(dst []packEntry, group, payload []byte, lay *layout) ([]packEntry, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: the pack of group %q: %s", ErrCorrupt, group, why)
	}
	var keys []byte
	start := len(dst)
	var prev packEntry
	for p := payload; len(p) > 0; {
		tag, n := binary.Uvarint(p)
		if n <= 0 || tag == 0 || tag > 0xffff {
			return dst, bad("bad tag")
		}
		if _, _, ok := lay.bucketOf(uint16(tag)); !ok {
			return dst, bad(fmt.Sprintf("unknown tag %d", tag))
		}
		p = p[n:]
		tail, rest, ok := lenPrefixed(p)
		if !ok || len(tail) > 0 && tail[0] != 0 {
			return dst, bad("bad key")
		}
		value, rest, ok := lenPrefixed(rest)
		if !ok {
			return dst, bad("bad value")
		}
		p = rest
		if keys == nil {
			keys = make([]byte, 0, len(payload)) // holds every key: group + tail < payload each
		}
		off := len(keys)
		keys = append(keys, group...)
		keys = append(keys, tail...)
		e := packEntry{tag: uint16(tag), key: keys[off:len(keys):len(keys)], value: value[:len(value):len(value)]}
		if len(dst) > start && prev.less(&e) >= 0 {
			return dst, bad("records out of order")
		}
		prev = e
		dst = append(dst, e)
	}
	if len(dst) == start {
		return dst, bad("empty")
	}
	return dst, nil
}

// lenPrefixed splits p into the bytes its uvarint length prefix counts and
// the rest.
func lenPrefixed(p []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return nil, nil, false
	}
	return p[k : k+int(n)], p[k+int(n):], true
}

// packSize returns how many bytes es take in a pack of group.
func packSize(group []byte, es []packEntry) int {
	n := 0
	for i := range es {
		tail := len(es[i].key) - len(group)
		n += uvarintLen(uint64(es[i].tag)) + uvarintLen(uint64(tail)) + tail + uvarintLen(uint64(len(es[i].value))) + len(es[i].value)
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// encodePack appends to dst the payload of group's pack of es (in order).
func encodePack(dst, group []byte, es []packEntry) []byte {
	for i := range es {
		dst = binary.AppendUvarint(dst, uint64(es[i].tag))
		tail := es[i].key[len(group):]
		dst = binary.AppendUvarint(dst, uint64(len(tail)))
		dst = append(dst, tail...)
		dst = binary.AppendUvarint(dst, uint64(len(es[i].value)))
		dst = append(dst, es[i].value...)
	}
	return dst
}

// findEntry returns the entry of es (in order) with tag and key.
func findEntry(es []packEntry, tag uint16, key []byte) (*packEntry, bool) {
	lo, hi := 0, len(es)
	want := packEntry{tag: tag, key: key}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if es[m].less(&want) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(es) && es[lo].tag == tag && bytes.Equal(es[lo].key, key) {
		return &es[lo], true
	}
	return nil, false
}

// groupWriter writes a checkpoint's changes of colocated records into
// colocBucket, a group at a time (see writeColocated).
type groupWriter struct {
	c   *ckptTx
	max int // packMax; below 0, nothing is packed
	// the group's records as the file holds them and with the changes;
	// reused from group to group, as are the buffers below.
	old, merged       []packEntry
	single            [][]byte // the physical keys of the group's records one by one
	pk, phys, payload []byte
}

// write writes the changes (in physical order) of group's records into
// b (colocBucket, created when nil and a record is to be put) and returns
// it.
func (w *groupWriter) write(b *bbolt.Bucket, group []byte, changes []packEntry) (*bbolt.Bucket, error) {
	c := w.c
	if b == nil {
		live := false
		for i := range changes {
			live = live || !changes[i].del
		}
		if !live {
			return nil, nil
		}
		var err error
		if b, err = c.btx.CreateBucket([]byte(colocBucket)); err != nil {
			return nil, fmt.Errorf("bucket %q: %w", colocBucket, err)
		}
		c.created = append(c.created, colocBucket)
	}
	b.FillPercent = colocFill
	if len(group) == 0 || w.max < 0 {
		return b, w.putSingle(b, changes)
	}
	packed, small, err := w.read(b, group)
	if err != nil {
		return b, err
	}
	if !packed && !small {
		// Too large to pack already: change its records where they are.
		return b, w.putSingle(b, changes)
	}
	w.merged = mergeEntries(w.merged[:0], w.old, changes)
	size := packSize(group, w.merged) // w.pk is the pack's key (see read)
	switch {
	case len(w.merged) > 0 && size > w.max && !packed:
		// Stays one by one.
		return b, w.putSingle(b, changes)
	case len(w.merged) == 0:
		if packed {
			err = b.Delete(w.pk)
		}
	case size <= w.max:
		w.payload = encodePack(w.payload[:0], group, w.merged)
		err = b.Put(w.pk, c.s.seal(colocSum, w.pk, w.payload))
	default:
		// Grown past packMax: its records one by one.
		for i := range w.merged {
			e := &w.merged[i]
			w.phys = physKey(w.phys[:0], e.key, e.tag)
			if err = b.Put(w.phys, c.s.seal(c.lay.sums[e.tag-1], e.key, e.value)); err != nil {
				break
			}
		}
		if err == nil {
			err = b.Delete(w.pk)
		}
	}
	if err != nil {
		return b, fmt.Errorf("bucket %q, group %q: %w", colocBucket, group, err)
	}
	// Packed or gone: the records it had one by one go.
	for _, k := range w.single {
		if err := b.Delete(k); err != nil {
			return b, fmt.Errorf("bucket %q, key %q: %w", colocBucket, k, err)
		}
	}
	return b, nil
}

// read reads group's records in b into w.old: packed reports that it has a
// pack, small that its records one by one (their physical keys in
// w.single) encode in at most twice packMax bytes, so that deletes may
// bring them under packMax. Neither is set when it has more than that: its
// records are not read further.
func (w *groupWriter) read(b *bbolt.Bucket, group []byte) (packed, small bool, err error) {
	w.old, w.single = w.old[:0], w.single[:0]
	w.pk = packKey(w.pk[:0], group)
	prefix := w.pk[:len(group)+1]
	cur := b.Cursor()
	k, v := cur.Seek(w.pk)
	if bytes.Equal(k, w.pk) {
		payload, good := unseal(colocSum, k, v)
		if !good {
			return false, false, badSum("checkpoint", colocBucket, k)
		}
		w.old, err = decodePack(w.old, group, payload, w.c.lay)
		return err == nil, false, err
	}
	size := 0
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		name, base, key, ok := w.c.lay.record(k)
		if !ok || v == nil {
			return false, false, fmt.Errorf("%w: checkpoint: key %q of %q is not a colocated record's", ErrCorrupt, k, colocBucket)
		}
		value, good := unseal(base, key, v)
		if !good {
			return false, false, badSum("checkpoint", name, key)
		}
		tag, _ := w.c.lay.tag(name)
		w.old = append(w.old, packEntry{tag: tag, key: key, value: value})
		w.single = append(w.single, k)
		if size += packSize(group, w.old[len(w.old)-1:]); size > 2*w.max {
			return false, false, nil
		}
	}
	return false, true, nil
}

// putSingle writes changes as records one by one.
func (w *groupWriter) putSingle(b *bbolt.Bucket, changes []packEntry) error {
	for i := range changes {
		e := &changes[i]
		w.phys = physKey(w.phys[:0], e.key, e.tag)
		var err error
		if e.del {
			err = b.Delete(w.phys)
		} else {
			err = b.Put(w.phys, w.c.s.seal(w.c.lay.sums[e.tag-1], e.key, e.value))
		}
		if err != nil {
			return fmt.Errorf("bucket %q, key %q: %w", colocBucket, w.phys, err)
		}
	}
	return nil
}

// mergeEntries appends to dst old (in order, no deletes) with changes (in
// order) applied: a change replaces or deletes the entry with its tag and
// key.
func mergeEntries(dst, old, changes []packEntry) []packEntry {
	i, j := 0, 0
	for i < len(old) || j < len(changes) {
		var cmp int
		switch {
		case i == len(old):
			cmp = 1
		case j == len(changes):
			cmp = -1
		default:
			cmp = old[i].less(&changes[j])
		}
		switch {
		case cmp < 0:
			dst = append(dst, old[i])
			i++
			continue
		case cmp == 0:
			i++
		}
		if !changes[j].del {
			dst = append(dst, changes[j])
		}
		j++
	}
	return dst
}
