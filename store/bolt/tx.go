package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"unsafe"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/internal/cowtree"
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

// tree is a bucket's part of an overlay generation: copies of the keys
// and values of logged writes in the arenas of its leaves, a tombstone
// marked (see cowtree.Tree.PutMarked).
type tree = cowtree.Tree[struct{}]

func newTree() *tree { return cowtree.New[struct{}]() }

// index is a bucket's sorted buffer: the entries themselves, whose values
// change as the batch writes, by their keys, which do not (see
// cowtree.Tree.Set).
type index = cowtree.Tree[*entry]

func sortEntries(es []*entry) {
	cmp := func(a, b *entry) int { return bytes.Compare(a.key, b.key) }
	// Entries are often written in key order (an import's members, the
	// feed, the audit trail): checking costs a pass, sorting many more.
	if !slices.IsSortedFunc(es, cmp) {
		slices.SortFunc(es, cmp)
	}
}

// bucketBuf holds the buffered writes of one bucket. Point reads and
// writes, nearly all of the traffic, go to a hash map: buffering the 39 gets
// and puts of a typical event cost about half as much as with the single
// B-tree over (bucket, key) that the overlays used before.
type bucketBuf struct {
	// entries finds an entry by key; each map key aliases its entry's key.
	entries map[string]*entry
	// order holds the same entries in the order they were first written,
	// which is often key order: sorting it is then a check.
	order []*entry
	// sorted orders the entries for Scan. It is built on the first Scan of
	// the bucket and from then on kept equal to entries; buckets that are
	// never scanned (most of them) skip its cost and are sorted once, when
	// the buffer is applied.
	sorted *index
	// peak is the most entries the map held in a batch since it was made.
	peak int
}

// index returns b.sorted, building it if needed.
func (b *bucketBuf) index() *index {
	if b.sorted == nil {
		b.sorted = cowtree.New[*entry]()
		for _, e := range b.inKeyOrder() {
			b.sorted.Set(e.key, e)
		}
	}
	return b.sorted
}

// inKeyOrder returns a new slice of b's entries in key order.
func (b *bucketBuf) inKeyOrder() []*entry {
	es := slices.Clone(b.order)
	sortEntries(es)
	return es
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

// Sizes of the chunks a slab allocates.
const (
	// byteChunk is the size of a chunk of keys and values: the largest
	// size class of small allocations.
	byteChunk = 32 << 10
	// ownCopy is the length from which a key or value gets an allocation
	// of its own, so that a chunk wastes at most that much at its end.
	ownCopy = 2 << 10
	// entryChunk is the number of entries of a chunk.
	entryChunk = 128
)

// slab is where the writer allocates the keys, values and entries of the
// buffers: in chunks, a write costing no allocation of its own. A chunk is
// never reused: what it holds may be read (by the next batch, or through
// slices Get returned) after its batch is done, and the garbage collector
// frees it once nothing refers to it.
type slab struct {
	bytes []byte  // the current chunk of keys and values; len is what is used
	ents  []entry // the current chunk of entries; len is what is used
}

// empty is the copy of an empty value: not nil, as bbolt reads a nil value
// back as absent, and of no capacity, so that nothing is written through it.
var empty = []byte{}

// copy returns a copy of p, never nil.
func (a *slab) copy(p []byte) []byte {
	n := len(p)
	switch {
	case n == 0:
		return empty
	case n >= ownCopy:
		return clone(p)
	case cap(a.bytes)-len(a.bytes) < n:
		a.bytes = make([]byte, 0, byteChunk)
	}
	off := len(a.bytes)
	a.bytes = append(a.bytes, p...)
	return a.bytes[off:len(a.bytes):len(a.bytes)]
}

// entry returns a new entry.
func (a *slab) entry() *entry {
	if len(a.ents) == cap(a.ents) {
		a.ents = make([]entry, 0, entryChunk)
	}
	a.ents = a.ents[:len(a.ents)+1]
	return &a.ents[len(a.ents)-1]
}

// buffer holds the writes of the functions of one batch until the batch
// is handed to the committer, which logs it; from then on it is only read,
// and once the batch is logged the overlay copies its entries. A later write of a key replaces an earlier one,
// so a key rewritten by every function of a batch is written to bbolt once.
// Its keys, values and entries come from the writer's slab; its maps are
// reused by a later batch once the batch is done (see reset).
//
// While a function runs after others of its batch that succeeded (track
// set), each of its writes records how to undo it, so that when the
// function fails its writes are undone and the buffer holds exactly the
// writes of the functions that succeeded. Otherwise a function needs no
// undo log: its failure discards the whole buffer.
type buffer struct {
	buckets map[string]*bucketBuf
	slab    *slab
	track   bool
	undo    []undoRec
}

func newBuffer(a *slab) *buffer {
	return &buffer{buckets: make(map[string]*bucketBuf), slab: a}
}

// reset empties u for another batch, keeping its maps unless they are
// much larger than the batch needed.
func (u *buffer) reset() {
	for _, b := range u.buckets {
		n := len(b.entries)
		if n < b.peak/8 {
			b.entries, b.order, b.peak = make(map[string]*entry, n), make([]*entry, 0, n), n
		} else {
			clear(b.entries)
			clear(b.order) // not to keep the slab's chunks alive
			b.order = b.order[:0]
		}
		b.sorted = nil
	}
	u.track = false
	u.keep()
}

// clone returns a copy of p, never nil: bbolt reads a nil value back as
// absent.
func clone(p []byte) []byte { return append(make([]byte, 0, len(p)), p...) }

// bucket returns the buffer of bucket, made if needed.
func (u *buffer) bucket(bucket string) *bucketBuf {
	b := u.buckets[bucket]
	if b == nil {
		b = &bucketBuf{entries: make(map[string]*entry)}
		u.buckets[bucket] = b
	}
	return b
}

// write buffers in b a put of value, or a tombstone when del is set.
func (u *buffer) write(b *bucketBuf, key, value []byte, del bool) {
	if !del {
		value = u.slab.copy(value)
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
	k := u.slab.copy(key)
	e := u.slab.entry()
	*e = entry{key: k, value: value, del: del}
	b.entries[unsafe.String(unsafe.SliceData(k), len(k))] = e
	b.order = append(b.order, e)
	b.peak = max(b.peak, len(b.entries))
	if b.sorted != nil {
		b.sorted.Set(e.key, e)
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
			// The entries added since the log began are order's last,
			// and are undone latest first.
			r.b.order[len(r.b.order)-1] = nil
			r.b.order = r.b.order[:len(r.b.order)-1]
			if r.b.sorted != nil {
				r.b.sorted.Delete(r.e.key)
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

// layer is the buffer of the batch being committed as the functions of the
// next batch read it, between their own buffer and the overlay.
type layer struct {
	// buf is shared with the committer, which logs it meanwhile: both only
	// read it.
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
		es = b.inKeyOrder()
	}
	if l.sorted == nil {
		l.sorted = make(map[string][]*entry)
	}
	l.sorted[bucket] = es
	return es
}

// tx implements [store.Tx]. Reads see, from the top: in an Update, the
// batch's buffer (buf) and the buffer of the batch being committed
// (under); then the overlay's active generation and the generation being
// checkpointed (old), each a tree per bucket; then btx, a bbolt read-only
// transaction. In a View, buf and under are nil and the trees are a
// snapshot. Writes go to buf.
type tx struct {
	btx    *bbolt.Tx
	mapped span // the pages btx reads
	buf    *buffer
	under  *layer
	active map[string]*tree
	old    map[string]*tree
	held   *held // below old, above bbolt (see Held writes)
	// activeLay and oldLay are the generations' layouts (see gen.lay).
	activeLay, oldLay *layout
	nested            map[string]map[string]bool // see DB.nested
	refs              *refs                      // shared by the transactions of a batch; a View's made on first use
	scanning          int                        // nesting depth of running Scan calls
	done              atomic.Bool
	// cat caches the file's list of buckets (see DB.cat); nil reads it
	// from btx every time.
	cat     *atomic.Pointer[catalogue]
	scratch []byte // a colocated key's physical key, for a Get
}

// catalogue is the list of buckets of metaBuckets as of the bbolt
// transaction txid, or the error reading it.
type catalogue struct {
	txid  uint64
	names map[string]bool
	lay   *layout // the colocated buckets
	err   error
}

// bucketRefs are the levels of one bucket, as the transactions of a batch
// (or a View) read it, found once rather than on every call.
type bucketRefs struct {
	name        string
	buf         *bucketBuf // in the batch's buffer; nil until written
	under       *bucketBuf // in the buffer of the batch being committed, or nil
	active, old *tree      // nil when the generation has none
	held        *tree      // the bucket's held writes (see Held writes), or nil
	// atag and otag are the bucket's tag when active or old is the tree
	// of the generation's colocated buckets, keyed by physical keys (see
	// gen.lay); 0 otherwise.
	atag, otag uint16
	btx        *bbolt.Tx     // the read transaction bolt was looked up in
	bolt       *bbolt.Bucket // colocBucket when the bucket is colocated
	mapped     span          // where bolt's keys and values lie
	sum        uint32        // bucketSum(name), where its records' checksums start
	// tag is the bucket's tag in colocBucket, 0 when it is not colocated
	// in btx; lay is btx's layout.
	tag uint16
	lay *layout
	// missing is noBucket's answer for btx, when bolt is nil and
	// missingKnown is set.
	missing      error
	missingKnown bool
	// gapLo and gapHi, when gapKnown, are the records of bolt (not
	// colocated) on either side of the last key a Get found absent (nil:
	// none that side): no key between them is in btx, so the next new key
	// of a run (request IDs, due times) costs two comparisons, not a seek
	// and two checksums. They lie in btx's pages.
	gapLo, gapHi []byte
	gapKnown     bool
	// hits are the last records a Get found in bolt (not colocated), key
	// and value, in btx's pages: the keys every function of a batch reads
	// (the program's definition in meta) are sought once a read
	// transaction, not once a function.
	hits    [2]struct{ k, v []byte }
	lastHit int
	// cur is a cursor of bolt, made by the first Get that seeks: a
	// cursor is an allocation, and its stack another at each level
	// until it has grown (at a million members, with refs.coloc, 2% of
	// what the process allocated an event).
	cur *bbolt.Cursor
}

// cursor returns r's cursor of b, r.bolt.
func (r *bucketRefs) cursor(b *bbolt.Bucket) *bbolt.Cursor {
	if r.cur == nil {
		r.cur = b.Cursor()
	}
	return r.cur
}

// hit returns the value of key when it is one of r.hits.
func (r *bucketRefs) hit(key []byte) ([]byte, bool) {
	for _, h := range r.hits {
		if h.k != nil && bytes.Equal(h.k, key) {
			return h.v, true
		}
	}
	return nil, false
}

// inGap reports whether key lies between r.gapLo and r.gapHi.
func (r *bucketRefs) inGap(key []byte) bool {
	return r.gapKnown && (r.gapLo == nil || bytes.Compare(r.gapLo, key) < 0) && (r.gapHi == nil || bytes.Compare(key, r.gapHi) < 0)
}

// refs holds the bucketRefs of the buckets used. Bucket names are mostly
// string constants, whose bytes have one address, so a cache indexed by
// that address finds them without hashing the name (a hit still compares
// the names, which is quick when they share bytes).
type refs struct {
	byName map[string]*bucketRefs
	recent [16]*bucketRefs
	// absent holds groups (members) of which colocBucket in absentTx, the
	// read transaction, has no record: a Get found the records on either
	// side of its key to be other groups'. A new member's event or opening
	// then reads its dozen absent keys from bbolt once, not a dozen times
	// (each a seek and two neighbours' checksums).
	absent   map[string]struct{}
	absentTx *bbolt.Tx
	// last is the group a Get last read from colocBucket (see tx.pack).
	last groupRead
	// coloc is colocBucket in colocTx, shared by the colocated buckets'
	// refs: bbolt opens a bucket anew each time a read transaction asks.
	coloc   *bbolt.Bucket
	colocTx *bbolt.Tx
	// inTree notes, for the overlay's trees of colocated buckets (the
	// active generation's and the old one's), whether the group last
	// looked up has entries there. An event reads a dozen records of its
	// member, each of which searched both trees, in vain for all but the
	// members written since the last checkpoint began. At a million
	// members (Process, 64 callers) the searches took 4.4% of the
	// processor time, 3.2% with the note.
	inTree [2]treeGroup
}

// treeGroup is whether tr holds entries of group.
type treeGroup struct {
	tr    *tree
	group []byte
	holds bool
}

// holdsGroup reports whether tr, an overlay tree of colocated buckets,
// has an entry of group, noting the answer for the transaction's next
// reads. A tree the refs see does not change: a batch's (or a View's)
// trees are the ones installed when it began.
func (rs *refs) holdsGroup(tr *tree, group []byte) bool {
	for _, n := range rs.inTree {
		if n.tr == tr && string(n.group) == string(group) {
			return n.holds
		}
	}
	holds := false
	lo := append(append(make([]byte, 0, len(group)+1), group...), 0)
	tr.Ascend(lo, nil, func(it cowtree.Item[struct{}]) bool {
		holds = bytes.HasPrefix(it.Key(), lo)
		return false
	})
	i := 0 // the slot of tr, else the first, unless it is another tree's
	if rs.inTree[0].tr != nil && rs.inTree[0].tr != tr {
		i = 1
	}
	n := &rs.inTree[i]
	n.tr, n.group, n.holds = tr, append(n.group[:0], group...), holds
	return holds
}

// colocated returns colocBucket in btx (nil when the file has none).
func (rs *refs) colocated(btx *bbolt.Tx) *bbolt.Bucket {
	if rs.colocTx != btx {
		rs.coloc, rs.colocTx = btx.Bucket([]byte(colocBucket)), btx
	}
	return rs.coloc
}

// groupRead is what colocBucket holds of a group in a read transaction.
type groupRead struct {
	btx     *bbolt.Tx // nil: nothing read
	group   []byte
	state   int         // groupNone, groupPacked or groupSingle
	entries []packEntry // when packed, its records in order
}

// packSource walks the records of one bucket in a range of a group's
// pack, decoded (see tx.pack): a copy of them, as the next read of
// another group reuses the decoded entries.
type packSource struct {
	es   []packEntry
	desc bool
	arr  [8]packEntry // es's array for a few records
}

func newPackSource(es []packEntry, tag uint16, start, end []byte, desc bool) *packSource {
	cmp := func(e packEntry, t packEntry) int { return e.less(&t) }
	from, _ := slices.BinarySearchFunc(es, packEntry{tag: tag, key: start}, cmp)
	to := len(es)
	switch {
	case end != nil:
		to, _ = slices.BinarySearchFunc(es, packEntry{tag: tag, key: end}, cmp)
	case tag < 0xffff:
		to, _ = slices.BinarySearchFunc(es, packEntry{tag: tag + 1}, cmp)
	}
	s := &packSource{desc: desc}
	if from < to {
		s.es = append(s.arr[:0], es[from:to]...)
	}
	return s
}

func (s *packSource) err() error { return nil }

func (s *packSource) next() (key, value []byte, del, ok bool) {
	if len(s.es) == 0 {
		return nil, nil, false, false
	}
	var e packEntry
	if s.desc {
		e, s.es = s.es[len(s.es)-1], s.es[:len(s.es)-1]
	} else {
		e, s.es = s.es[0], s.es[1:]
	}
	return e.key, e.value, false, true
}

// The states of a groupRead.
const (
	groupNone   = iota // no record
	groupPacked        // a pack
	groupSingle        // records one by one
)

// groupAbsent reports whether group is known to have no record in
// colocBucket in btx.
func (c *refs) groupAbsent(btx *bbolt.Tx, group []byte) bool {
	if c.absentTx != btx {
		return false
	}
	_, ok := c.absent[string(group)]
	return ok
}

// markAbsent notes that group has no record in colocBucket in btx. The
// note of an earlier transaction is dropped: a checkpoint may have written
// the group since. Holding btx keeps its address from being reused.
func (c *refs) markAbsent(btx *bbolt.Tx, group []byte) {
	if c.absentTx != btx {
		c.absentTx = btx
		clear(c.absent)
	}
	if c.absent == nil {
		c.absent = make(map[string]struct{})
	}
	c.absent[string(group)] = struct{}{}
}

func newRefs() *refs { return &refs{byName: make(map[string]*bucketRefs)} }

// bucket returns the bucketRefs of name.
func (t *tx) bucket(name string) *bucketRefs {
	if t.refs == nil {
		t.refs = newRefs()
	}
	c := t.refs
	h := uint64(uintptr(unsafe.Pointer(unsafe.StringData(name)))) * 0x9e3779b97f4a7c15
	slot := &c.recent[h>>(64-4)]
	if r := *slot; r != nil && r.name == name {
		return r
	}
	r := c.byName[name]
	if r == nil {
		r = &bucketRefs{name: name, sum: bucketSum(name)}
		r.active, r.atag = overlayTree(t.active, t.activeLay, name)
		r.old, r.otag = overlayTree(t.old, t.oldLay, name)
		r.held = t.held.tree(name)
		if t.buf != nil {
			r.buf = t.buf.buckets[name]
		}
		if t.under != nil {
			r.under = t.under.buf.buckets[name]
		}
		c.byName[name] = r
	}
	*slot = r
	return r
}

// boltBucket returns r's bucket in t's read transaction, or nil.
func (t *tx) boltBucket(r *bucketRefs) *bbolt.Bucket {
	// r.btx refers to the transaction it names, so no later transaction
	// can have its address.
	if r.btx != t.btx {
		r.btx, r.mapped, r.cur = t.btx, t.mapped, nil
		r.missing, r.missingKnown = nil, false
		r.gapLo, r.gapHi, r.gapKnown = nil, nil, false
		r.hits = [2]struct{ k, v []byte }{}
		c := t.catalogue()
		if c.err != nil {
			r.bolt, r.tag, r.lay = nil, 0, nil
			r.missing, r.missingKnown = fmt.Errorf("bucket %q: %w", r.name, c.err), true
			return nil
		}
		var coloc bool
		r.lay = c.lay
		if r.tag, coloc = c.lay.tag(r.name); coloc {
			r.bolt = t.refs.colocated(t.btx)
		} else {
			r.bolt = t.btx.Bucket([]byte(r.name))
		}
		if r.bolt != nil && r.bolt.Root() == 0 {
			// An inline bucket, which bbolt copies to the heap when it is
			// not aligned in the file: at most a quarter of a page.
			if a := uintptr(unsafe.Pointer(r.bolt.InBucket)); !t.mapped.holdsAddr(a) {
				r.mapped = span{lo: a, hi: a + t.mapped.page, page: t.mapped.page, inline: true}
			}
		}
	}
	return r.bolt
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
	case bucket == metaBucket || bucket == colocBucket:
		return fmt.Errorf("bolt: %s: bucket name %q is reserved: %w", op, bucket, store.ErrInvalid)
	case len(bucket) > bbolt.MaxKeySize:
		return fmt.Errorf("bolt: %s: bucket name longer than %d bytes: %w", op, bbolt.MaxKeySize, store.ErrInvalid)
	case op != "scan" && len(key) == 0:
		return fmt.Errorf("bolt: %s: empty key: %w", op, store.ErrInvalid)
	case len(key) > bbolt.MaxKeySize:
		return fmt.Errorf("bolt: %s: key longer than %d bytes: %w", op, bbolt.MaxKeySize, store.ErrInvalid)
	}
	if write && len(key) > maxColocKey {
		// Any bucket may be colocated (see Colocate).
		return fmt.Errorf("bolt: %s: key longer than %d bytes: %w", op, maxColocKey, store.ErrInvalid)
	}
	if write && t.nested != nil && t.nested[bucket][string(key)] {
		// The checkpoint could not write it: refuse it now, to this
		// function alone.
		return fmt.Errorf("bolt: %s: bucket %q, key %q holds a nested bucket: %w", op, bucket, key, bbolt.ErrIncompatibleValue)
	}
	return nil
}

// span is a range of addresses [lo, hi) where the keys and values a bbolt
// read-only transaction returns lie: the pages of the file, in bbolt's
// memory map, or, with inline set, the copy of an inline bucket. page is
// the file's page size.
type span struct {
	lo, hi, page uintptr
	inline       bool
}

// holds reports whether p lies within s. An empty p holds nothing to read.
func (s span) holds(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	a := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	return s.holdsAddr(a) && uintptr(len(p)) <= s.hi-a
}

// holdsPair reports whether a pair a bbolt cursor returned lies within s:
// the value follows its key in a leaf (a pair laid out otherwise is not
// held), so one range is checked, as a Scan checks each pair.
func (s span) holdsPair(k, v []byte) bool {
	a := uintptr(unsafe.Pointer(unsafe.SliceData(k)))
	n := uintptr(len(k))
	if len(v) > 0 {
		if uintptr(unsafe.Pointer(unsafe.SliceData(v))) != a+n {
			return false
		}
		n += uintptr(len(v))
	}
	return a-s.lo < s.hi-s.lo && n <= s.hi-a
}

// holdsAddr reports whether a lies within s.
func (s span) holdsAddr(a uintptr) bool { return a >= s.lo && a < s.hi }

// pageOf returns 1 + the index of the page of the mapping s where k, a key
// s holds, starts; 0 for the copy of an inline bucket.
func (s span) pageOf(k []byte) uintptr {
	if s.page == 0 || s.inline || len(k) == 0 {
		return 0
	}
	return (uintptr(unsafe.Pointer(unsafe.SliceData(k)))-s.lo)/s.page + 1
}

// leafIntact checks the leaf page that holds k, a key s holds, for a lost
// element: a damaged count in its header would hide the page's last
// records, so that a key that lies after the record before it (k) is not
// found without an error. bbolt writes the elements' keys and values one
// after the other right after the last element (see checkPages): the
// first key must start there. It checks only a page whose header is in
// the page of k (not a value run over pages), and none in the copy of an
// inline bucket, whose page Open checked; a branch page's lost child
// Open finds (see checkBranches).
func (s span) leafIntact(k []byte) error {
	if s.page == 0 || s.inline || len(k) == 0 {
		return nil
	}
	a := uintptr(unsafe.Pointer(unsafe.SliceData(k)))
	off := (a - s.lo) % s.page
	// The page's start, a pointer into the mapping as k is.
	p := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(k)), -int(off))), int(s.page))
	if id := binary.LittleEndian.Uint64(p); uintptr(id) != (a-s.lo)/s.page || binary.LittleEndian.Uint16(p[8:]) != leafPage || binary.LittleEndian.Uint32(p[12:]) != 0 {
		return nil // k lies in a later page of a run, or not in a leaf's, or a run's
	}
	count := int(binary.LittleEndian.Uint16(p[10:]))
	first := pageHeaderSize + count*pageElemSize
	if count == 0 || first+pageElemSize > len(p) {
		return fmt.Errorf("%w: leaf page %d: %d elements, and key %q in it", ErrCorrupt, (a-s.lo)/s.page, count, k)
	}
	if pos := int(binary.LittleEndian.Uint32(p[pageHeaderSize+4:])); pageHeaderSize+pos != first {
		return fmt.Errorf("%w: leaf page %d: its first key is at %d, not right after its %d elements (%d)", ErrCorrupt, (a-s.lo)/s.page, pageHeaderSize+pos, count, first)
	}
	return nil
}

// boltGet reads key from r's bbolt bucket: nil when absent, an error
// wrapping ErrCorrupt when the file is damaged (see guard; written out,
// as it is on the path of every Get the overlay does not answer) or the
// record's checksum does not hold. It seeks with a cursor, as bbolt's Get
// does, but sees a key flagged as a nested bucket, which it reads as
// absent only when Open found it (see DB.nested): a flipped flag is
// damage, not a missing record.
func (t *tx) boltGet(r *bucketRefs, key []byte) (v []byte, err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if p := recover(); p != nil {
			v, err = nil, corruptPanic("get", r.name, p)
		}
	}()
	b := t.boltBucket(r)
	if b == nil {
		return nil, t.noBucket("get", r)
	}
	logical := key
	var group []byte // the physical key's group and its 0x00, when colocated
	if r.tag == 0 {
		if r.inGap(key) {
			return nil, nil
		}
		if v, ok := r.hit(key); ok {
			return v, nil
		}
	} else {
		g := groupOf(key)
		if t.refs.groupAbsent(t.btx, g) {
			return nil, nil
		}
		if len(g) > 0 {
			p, err := t.pack(r, b, g)
			if err != nil {
				return nil, err
			}
			switch p.state {
			case groupNone:
				return nil, nil
			case groupPacked:
				if e, ok := findEntry(p.entries, r.tag, key); ok {
					return e.value, nil
				}
				return nil, nil
			}
			// Records one by one: seek the record.
		}
		t.scratch = physKey(t.scratch[:0], key, r.tag)
		key, group = t.scratch, t.scratch[:len(g)+1]
	}
	c := r.cursor(b)
	k, v := c.Seek(key)
	switch {
	case !bytes.Equal(k, key):
		alone, err := t.confirmMiss(r, c, key, k, v, group)
		if err == nil && alone {
			t.refs.markAbsent(t.btx, group[:len(group)-1])
		}
		return nil, err
	case !r.mapped.holdsPair(k, v):
		return nil, fmt.Errorf("%w: get: bucket %q, key %q: the value lies outside the file", ErrCorrupt, r.name, key)
	case v == nil:
		if r.tag == 0 && t.nested[r.name][string(key)] {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: get: bucket %q, key %q: flagged as a nested bucket", ErrCorrupt, r.name, logical)
	}
	v, good := unseal(r.sum, logical, v)
	if !good {
		return nil, badSum("get", r.name, logical)
	}
	if r.tag == 0 {
		r.lastHit = (r.lastHit + 1) % len(r.hits)
		r.hits[r.lastHit].k, r.hits[r.lastHit].v = k, v
	}
	return v, nil
}

// pack returns what colocBucket b holds of group (not "") in t's read
// transaction: a pack, decoded, records one by one, or nothing (then noted
// in refs.absent). The last group read is kept in t.refs, so that the
// dozen Gets of an event's member seek and decode once a read transaction.
func (t *tx) pack(r *bucketRefs, b *bbolt.Bucket, group []byte) (*groupRead, error) {
	p := &t.refs.last
	if p.btx == t.btx && bytes.Equal(p.group, group) {
		return p, nil
	}
	p.btx, p.group, p.entries = nil, append(p.group[:0], group...), p.entries[:0]
	t.scratch = packKey(t.scratch[:0], group)
	pk := t.scratch
	c := r.cursor(b)
	k, v := c.Seek(pk)
	switch {
	case bytes.Equal(k, pk):
		if !r.mapped.holdsPair(k, v) {
			return nil, fmt.Errorf("%w: get: bucket %q, group %q: the pack lies outside the file", ErrCorrupt, r.name, group)
		}
		payload, good := unseal(colocSum, k, v)
		if !good {
			return nil, badSum("get", colocBucket, k)
		}
		var err error
		if p.entries, err = decodePack(p.entries, group, payload, r.lay); err != nil {
			return nil, fmt.Errorf("get: bucket %q: %w", r.name, err)
		}
		p.state = groupPacked
	case k != nil && bytes.HasPrefix(k, pk[:len(group)+1]):
		p.state = groupSingle
	default:
		if _, err := t.confirmMiss(r, c, pk, k, v, pk[:len(group)+1]); err != nil {
			return nil, err
		}
		t.refs.markAbsent(t.btx, group)
		p.state = groupNone
	}
	p.btx = t.btx
	return p, nil
}

// confirmMiss checks that key (physical, in colocBucket when r is
// colocated) is absent from r's bbolt bucket, where the
// cursor c, sought to key, found k and v (nil at the end of the bucket): k
// follows key, and the record before key precedes it, and both records'
// checksums hold. A record whose key was damaged lies there, and a damaged
// branch page sends the search to another leaf, whose neighbours are out
// of order: either is an error wrapping ErrCorrupt, not a missing record.
// (Costs a step back and two checksums a miss.) With group, the physical
// key's group and its 0x00, it reports whether neither record is of the
// group, which then has no record in the bucket; in a bucket not
// colocated it notes the two records as r's gap.
func (t *tx) confirmMiss(r *bucketRefs, c *bbolt.Cursor, key, k, v, group []byte) (alone bool, err error) {
	alone = group != nil
	next := k
	if k != nil {
		if err := t.neighbour(r, key, k, v, 1); err != nil {
			return false, err
		}
		alone = alone && !bytes.HasPrefix(k, group)
		k, v = c.Prev()
	} else {
		k, v = c.Last()
	}
	if k != nil {
		if err := t.neighbour(r, key, k, v, -1); err != nil {
			return false, err
		}
		if err := r.mapped.leafIntact(k); err != nil {
			return false, fmt.Errorf("get: bucket %q, key %q: %w", r.name, key, err)
		}
		alone = alone && !bytes.HasPrefix(k, group)
	}
	if r.tag == 0 {
		r.gapLo, r.gapHi, r.gapKnown = k, next, true
	}
	return alone, nil
}

// neighbour checks the record k, v found next to where key would be, on
// its side (1 after, -1 before).
func (t *tx) neighbour(r *bucketRefs, key, k, v []byte, side int) error {
	switch {
	case bytes.Compare(k, key) != side:
		return fmt.Errorf("%w: get: bucket %q, key %q: the keys around it are out of order", ErrCorrupt, r.name, key)
	case !r.mapped.holdsPair(k, v):
		return fmt.Errorf("%w: get: bucket %q, key %q: a key or value lies outside the file", ErrCorrupt, r.name, key)
	case r.tag != 0 && isPack(k):
		if _, good := unseal(colocSum, k, v); !good {
			return badSum("get", colocBucket, k)
		}
		return nil
	case r.tag != 0:
		name, base, lk, ok := r.lay.record(k)
		if !ok || v == nil {
			return fmt.Errorf("%w: get: bucket %q, key %q: a neighbour's key %q is not a colocated record's", ErrCorrupt, r.name, key, k)
		}
		if _, good := unseal(base, lk, v); !good {
			return badSum("get", name, lk)
		}
		return nil
	case v == nil:
		if !t.nested[r.name][string(k)] {
			return fmt.Errorf("%w: get: bucket %q, key %q: flagged as a nested bucket", ErrCorrupt, r.name, k)
		}
		return nil
	}
	if _, good := unseal(r.sum, k, v); !good {
		return badSum("get", r.name, k)
	}
	return nil
}

// noBucket checks that r's bucket, which the bbolt file does not hold, is
// missing from the file's list of buckets too (see metaBuckets): a bucket
// whose entry in the file was damaged is an error wrapping ErrCorrupt,
// not an empty bucket. The answer is kept for r's transaction: buckets
// that no checkpoint wrote yet are missing on every Get. The caller
// guards it.
func (t *tx) noBucket(op string, r *bucketRefs) error {
	if !r.missingKnown {
		r.missingKnown = true
		c := t.catalogue()
		name := r.name
		if r.tag != 0 {
			name = colocBucket
		}
		switch {
		case c.err != nil:
			r.missing = fmt.Errorf("bucket %q: %w", r.name, c.err)
		case c.names[name]:
			r.missing = fmt.Errorf("%w: bucket %q is missing from the file", ErrCorrupt, name)
		}
	}
	if r.missing != nil {
		return fmt.Errorf("%s: %w", op, r.missing)
	}
	return nil
}

// catalogue returns the list of buckets and the layout of t's bbolt
// transaction, cached in t.cat.
func (t *tx) catalogue() *catalogue {
	var c *catalogue
	if t.cat != nil {
		c = t.cat.Load()
	}
	if txid := uint64(t.btx.ID()); c == nil || c.txid != txid {
		c = &catalogue{txid: txid}
		if c.names, _, c.err = readCatalogue(t.btx); c.err == nil {
			c.lay, c.err = readLayout(t.btx)
		}
		if t.cat != nil {
			t.cat.Store(c)
		}
	}
	return c
}

// find looks key up in tr, which may be nil, under its physical key when
// tag is not 0 (see gen.lay).
func (t *tx) find(tr *tree, tag uint16, key []byte) (value []byte, del, ok bool) {
	if tr == nil {
		return nil, false, false
	}
	if tag != 0 {
		if !t.refs.holdsGroup(tr, groupOf(key)) {
			return nil, false, false
		}
		t.scratch = physKey(t.scratch[:0], key, tag)
		key = t.scratch
	}
	it, ok := tr.Get(key)
	if !ok {
		return nil, false, false
	}
	return it.Value(), it.Marked(), true
}

// Get implements [store.Tx].
func (t *tx) Get(bucket string, key []byte) ([]byte, error) {
	if err := t.check("get", bucket, key, false); err != nil {
		return nil, err
	}
	r := t.bucket(bucket)
	if v, del, ok := t.recent(r, key); ok {
		if del {
			return nil, errNotFound
		}
		return v, nil
	}
	v, err := t.boltGet(r, key)
	switch {
	case err != nil:
		return nil, err
	case v == nil:
		return nil, errNotFound
	}
	return v, nil
}

// recent looks key up in what t and the overlay hold, newest first: the
// batch's buffer, the batch before it, the generations and the held
// writes. ok is false when none of them holds key (the file may).
func (t *tx) recent(r *bucketRefs, key []byte) (v []byte, del, ok bool) {
	e := (*entry)(nil)
	if r.buf != nil {
		e = r.buf.entries[string(key)]
	}
	if e == nil && r.under != nil {
		e = r.under.entries[string(key)]
	}
	if e != nil {
		return e.value, e.del, true
	}
	v, del, ok = t.find(r.active, r.atag, key)
	if !ok {
		v, del, ok = t.find(r.old, r.otag, key)
	}
	if !ok {
		v, del, ok = t.find(r.held, 0, key)
	}
	return v, del, ok
}

var _ store.Peeker = (*tx)(nil)

// Peek implements [store.Peeker]: Get without reading the bbolt file. An
// invalid bucket or key has no value (the write that follows reports it).
func (t *tx) Peek(bucket string, key []byte) ([]byte, bool) {
	if t.check("get", bucket, key, false) != nil {
		return nil, false
	}
	v, del, ok := t.recent(t.bucket(bucket), key)
	return v, ok && !del
}

// errNotFound is what Get returns for a missing key; it is made once
// because misses are frequent (absent counters, new members).
var errNotFound = fmt.Errorf("bolt: get: %w", store.ErrNotFound)

// Put implements [store.Tx]. The key and value are copied.
func (t *tx) Put(bucket string, key, value []byte) error {
	if err := t.check("put", bucket, key, true); err != nil {
		return err
	}
	if int64(len(value)) > bbolt.MaxValueSize-sumSize {
		return fmt.Errorf("bolt: put: value longer than %d bytes: %w", bbolt.MaxValueSize-sumSize, store.ErrInvalid)
	}
	t.write(bucket, key, value, false)
	return nil
}

// Delete implements [store.Tx].
func (t *tx) Delete(bucket string, key []byte) error {
	if err := t.check("delete", bucket, key, true); err != nil {
		return err
	}
	t.write(bucket, key, nil, true)
	return nil
}

// write buffers a put of value, or a tombstone when del is set.
func (t *tx) write(bucket string, key, value []byte, del bool) {
	r := t.bucket(bucket)
	if r.buf == nil {
		r.buf = t.buf.bucket(bucket)
	}
	t.buf.write(r.buf, key, value, del)
}

// Scan implements [store.Tx]: it merges, in key order, the levels a Get
// reads (see tx), the upper level winning on equal keys and its tombstones
// hiding keys. Each level is walked lazily, so a Scan that stops early
// reads little of each.
//
// The bbolt level is guarded as guard does, but with one guard for the
// whole Scan that recovers only the panics of the bbolt lookup and cursor
// moves (cursorSource.reading): a panic in fn goes on as it is. (A guard
// around each move made a Scan of bbolt's pairs 15-40% slower.)
func (t *tx) Scan(bucket string, start, end []byte, reverse bool, fn func(key, value []byte) error) (err error) {
	if err := t.check("scan", bucket, nil, false); err != nil {
		return err
	}
	t.scanning++
	defer func() { t.scanning-- }()
	var cs *cursorSource // the bbolt level, when it has one
	set := false         // the bbolt level is set up
	old := debug.SetPanicOnFault(true)
	defer func() {
		if set && (cs == nil || !cs.reading) {
			return // not bbolt's panic: not recovered
		}
		debug.SetPanicOnFault(old)
		if p := recover(); p != nil {
			err = corruptPanic("scan", bucket, p)
		}
	}()

	var arr [6]source // the levels: kept on the stack
	srcs := arr[:0]
	if t.buf != nil {
		if b := t.buf.buckets[bucket]; b != nil && len(b.entries) > 0 {
			srcs = append(srcs, newTreeSource(b.index(), start, end, reverse, entryOf))
		}
	}
	if t.under != nil {
		if es := t.under.entries(bucket); len(es) > 0 {
			srcs = append(srcs, newSliceSource(es, start, end, reverse))
		}
	}
	r := t.bucket(bucket)
	g, oneG := oneGroup(start, end)
	for _, lv := range [3]struct {
		tr  *tree
		tag uint16
	}{{r.active, r.atag}, {r.old, r.otag}, {r.held, 0}} {
		switch {
		case lv.tr == nil || lv.tr.Len() == 0:
		case lv.tag != 0 && oneG && !t.refs.holdsGroup(lv.tr, g):
		case lv.tag != 0:
			srcs = append(srcs, newPhysTreeSource(lv.tr, lv.tag, start, end, reverse))
		default:
			srcs = append(srcs, newTreeSource(lv.tr, start, end, reverse, entryIn))
		}
	}
	b := t.boltBucket(r)
	in := groupSingle // what bbolt holds of the range's group, when it has one
	if b != nil && r.tag != 0 && oneG && len(g) > 0 && !t.refs.groupAbsent(t.btx, g) {
		p, err := t.pack(r, b, g)
		if err != nil {
			return err
		}
		in = p.state
	}
	if b != nil && r.tag != 0 && (in == groupNone || t.absentRange(start, end)) {
		// The range's group has no record in bbolt.
	} else if b != nil && in == groupPacked {
		// The range lies in a pack, read once a read transaction.
		srcs = append(srcs, newPackSource(t.refs.last.entries, r.tag, start, end, reverse))
	} else if b != nil {
		if r.tag != 0 {
			// Walk the bucket's physical range (see coloc.go), from the
			// pack of start's group, which lies before start.
			var pstart, pend, lo []byte
			if start != nil {
				pstart, lo = physKey(nil, start, r.tag), packKey(nil, groupOf(start))
			}
			if end != nil {
				pend = physKey(nil, end, r.tag)
			}
			cs = newCursorSource(b.Cursor(), r, t.nested[bucket], pstart, pend, reverse)
			cs.lo, cs.lstart, cs.lend = lo, start, end
		} else {
			cs = newCursorSource(b.Cursor(), r, t.nested[bucket], start, end, reverse)
		}
		cs.begin()
		srcs = append(srcs, cs)
	} else {
		if err := t.noBucket("scan", r); err != nil {
			return err
		}
	}
	set = true
	err = merge(srcs, reverse, fn)
	if errors.Is(err, store.StopScan) {
		return nil
	}
	return err
}

// oneGroup returns the group of start when every key of the logical range
// [start, end) of a colocated bucket has that group: the keys from a
// group g up to g, 0x01 all have group g (an empty range too).
func oneGroup(start, end []byte) ([]byte, bool) {
	if start == nil || end == nil {
		return nil, false
	}
	g := groupOf(start)
	if !bytes.HasPrefix(end, g) {
		return g, bytes.Compare(end, g) < 0 // an empty range
	}
	rest := end[len(g):]
	return g, len(rest) == 0 || rest[0] == 0 || rest[0] == 1 && len(rest) == 1
}

// absentRange reports whether the logical range [start, end) of a
// colocated bucket lies within one group that colocBucket has no record
// of in t.btx (see refs.absent).
func (t *tx) absentRange(start, end []byte) bool {
	g, ok := oneGroup(start, end)
	return ok && t.refs.groupAbsent(t.btx, g)
}

// source walks one level of a bucket in [start, end), in one direction.
type source interface {
	// next returns the next entry; ok is false when the walk is over. The
	// slices stay valid until the transaction ends.
	next() (key, value []byte, del, ok bool)
	// err returns the error that ended the walk early, if any.
	err() error
}

// head is a source and its current entry.
type head struct {
	src        source
	key, value []byte
	del, ok    bool
}

// advance moves h to its source's next entry, returning the source's
// error when it failed.
func (h *head) advance() error {
	if h.key, h.value, h.del, h.ok = h.src.next(); !h.ok {
		return h.src.err()
	}
	return nil
}

// merge calls fn for each live pair of the sources, which are given from
// the top level down, in ascending key order or descending when desc is
// set. A source's error ends it, before fn sees a pair past it.
func merge(srcs []source, desc bool, fn func(key, value []byte) error) error {
	var arr [5]head // as many as Scan's levels: kept on the stack
	hs := arr[:]
	if len(srcs) > len(arr) {
		hs = make([]head, len(srcs))
	}
	hs = hs[:len(srcs)]
	for i, s := range srcs {
		hs[i].src = s
		if err := hs[i].advance(); err != nil {
			return err
		}
	}
	for {
		w := -1
		for i := range hs {
			if !hs[i].ok {
				continue
			}
			if w < 0 {
				w = i
				continue
			}
			c := bytes.Compare(hs[i].key, hs[w].key)
			if desc {
				c = -c
			}
			if c < 0 {
				w = i // strictly first in scan order; on a tie the upper level stays
			}
		}
		if w < 0 {
			return nil
		}
		key, value, del := hs[w].key, hs[w].value, hs[w].del
		for i := w + 1; i < len(hs); i++ {
			if hs[i].ok && bytes.Equal(hs[i].key, key) {
				// Shadowed by level w.
				if err := hs[i].advance(); err != nil {
					return err
				}
			}
		}
		if err := hs[w].advance(); err != nil {
			return err
		}
		if !del {
			if err := fn(key, value); err != nil {
				return err
			}
		}
	}
}

// sliceSource walks a sorted slice of entries.
type sliceSource struct {
	es   []*entry // the entries in range, left to walk
	desc bool
}

func newSliceSource(es []*entry, start, end []byte, desc bool) *sliceSource {
	from, to := 0, len(es)
	cmp := func(e *entry, k []byte) int { return bytes.Compare(e.key, k) }
	if start != nil {
		from, _ = slices.BinarySearchFunc(es, start, cmp)
	}
	if end != nil {
		to, _ = slices.BinarySearchFunc(es, end, cmp)
	}
	if from > to {
		from = to
	}
	return &sliceSource{es: es[from:to], desc: desc}
}

func (s *sliceSource) err() error { return nil }

func (s *sliceSource) next() (key, value []byte, del, ok bool) {
	if len(s.es) == 0 {
		return nil, nil, false, false
	}
	var e *entry
	if s.desc {
		e, s.es = s.es[len(s.es)-1], s.es[:len(s.es)-1]
	} else {
		e, s.es = s.es[0], s.es[1:]
	}
	return e.key, e.value, e.del, true
}

// treeSource walks a B-tree that does not change meanwhile. The B-tree
// only walks with callbacks, so it is read in chunks, each resuming after
// the last key of the one before; chunks start small, for Scans that stop
// early, and grow.
type treeSource[V any] struct {
	t          *cowtree.Tree[V]
	start, end []byte
	desc       bool
	entryOf    func(cowtree.Item[V]) (key, value []byte, del bool)
	chunk      []cowtree.Item[V]
	i          int
	n          int  // the next chunk's size
	more       bool // the tree may hold entries after the chunk
	// tag, when not 0, is the bucket's in a tree of colocated buckets:
	// the walk skips the entries of other tags.
	tag uint16
}

// entryOf reads an item of an index.
func entryOf(it cowtree.Item[*entry]) (key, value []byte, del bool) {
	return it.Data.key, it.Data.value, it.Data.del
}

// entryIn reads an item of a tree.
func entryIn(it cowtree.Item[struct{}]) (key, value []byte, del bool) {
	return it.Key(), it.Value(), it.Marked()
}

func newTreeSource[V any](t *cowtree.Tree[V], start, end []byte, desc bool, entryOf func(cowtree.Item[V]) ([]byte, []byte, bool)) *treeSource[V] {
	s := &treeSource[V]{t: t, start: start, end: end, desc: desc, entryOf: entryOf, n: 4, more: true}
	s.fill(nil)
	return s
}

// newPhysTreeSource walks the logical range [start, end) of the bucket with
// tag in t, a generation's tree of colocated buckets (see gen.lay): the
// physical range, the other buckets' entries skipped.
func newPhysTreeSource(t *tree, tag uint16, start, end []byte, desc bool) *treeSource[struct{}] {
	s := &treeSource[struct{}]{t: t, desc: desc, entryOf: entryPhys, n: 4, more: true, tag: tag}
	if start != nil {
		s.start = physKey(nil, start, tag)
	}
	if end != nil {
		s.end = physKey(nil, end, tag)
	}
	s.fill(nil)
	return s
}

// entryPhys reads an item of a tree of colocated buckets: its logical key
// is the tail of its physical key.
func entryPhys(it cowtree.Item[struct{}]) (key, value []byte, del bool) {
	_, key, _ = splitPhys(it.Key())
	return key, it.Value(), it.Marked()
}

// fill reads the next chunk: the entries after last (none when last is
// nil) in scan order.
func (s *treeSource[V]) fill(last []byte) {
	s.chunk, s.i = s.chunk[:0], 0
	full := false
	visit := func(it cowtree.Item[V]) bool {
		if s.tag != 0 {
			if tag, _, _ := splitPhys(it.Key()); tag != s.tag {
				return true
			}
		}
		s.chunk = append(s.chunk, it)
		if len(s.chunk) == s.n {
			full = true
			return false
		}
		return true
	}
	switch {
	case s.desc && last != nil:
		s.t.Descend(s.start, last, visit) // the end is exclusive
	case s.desc:
		s.t.Descend(s.start, s.end, visit)
	case last != nil:
		s.t.Ascend(last, s.end, func(it cowtree.Item[V]) bool {
			return string(it.Key()) == string(last) || visit(it)
		})
	default:
		s.t.Ascend(s.start, s.end, visit)
	}
	s.more = full
	if s.n < 256 {
		s.n *= 4
	}
}

func (s *treeSource[V]) err() error { return nil }

func (s *treeSource[V]) next() (key, value []byte, del, ok bool) {
	if s.i == len(s.chunk) {
		if !s.more || len(s.chunk) == 0 {
			return nil, nil, false, false
		}
		s.fill(s.chunk[len(s.chunk)-1].Key())
		if len(s.chunk) == 0 {
			return nil, nil, false, false
		}
	}
	key, value, del = s.entryOf(s.chunk[s.i])
	s.i++
	return key, value, del, true
}

// cursorSource walks a bbolt bucket. Its caller guards it (see Scan): a
// damaged page makes it panic, or its pairs lie outside the file, or a
// record's checksum does not hold, which ends the walk with an error
// wrapping ErrCorrupt. Its pairs are read one ahead, so that the pair a
// Scan is at is never reread.
type cursorSource struct {
	c          *bbolt.Cursor
	bucket     string
	mapped     span            // where the pairs lie
	sum        uint32          // bucketSum(bucket)
	nested     map[string]bool // the keys holding nested buckets (see DB.nested)
	start, end []byte          // physical, for a colocated bucket
	desc       bool
	// tag is the bucket's tag when it is colocated (0 otherwise), and lay
	// the file's layout: the walk skips the other buckets' records.
	tag  uint16
	lay  *layout
	k, v []byte // the next pair, k the logical key; nil when done
	// lstart and lend are the logical range of a colocated bucket, and lo
	// the key of the pack of lstart's group, where the walk starts (or
	// ends, going down): a pack lies before its group's records.
	lstart, lend, lo []byte
	// pend holds the records of the pack the cursor is at that are still
	// to come, in the walk's order, after k.
	pend   []packEntry
	failed error
	// reading is set while the cursor moves: a panic meanwhile is bbolt's.
	reading bool
	// page is 1 + the index of the page of the last key checked by
	// leafIntact: each page the walk enters is checked once.
	page uintptr
	// last is the cursor's key before k, as bbolt returned it.
	last []byte
}

// newCursorSource returns the source of r's bbolt bucket in [start,
// end), physical keys; nil bounds are open. Its caller sets the fields of
// a colocated bucket, then calls begin.
func newCursorSource(c *bbolt.Cursor, r *bucketRefs, nested map[string]bool, start, end []byte, desc bool) *cursorSource {
	return &cursorSource{c: c, bucket: r.name, mapped: r.mapped, sum: r.sum, nested: nested, start: start, end: end, desc: desc,
		tag: r.tag, lay: r.lay}
}

// begin moves the cursor to the walk's first pair.
func (s *cursorSource) begin() {
	s.reading = true
	c, first := s.c, s.start
	if s.lo != nil {
		first = s.lo
	}
	switch {
	case !s.desc && first == nil:
		s.k, s.v = c.First()
	case !s.desc:
		s.k, s.v = c.Seek(first)
	case s.end == nil:
		s.k, s.v = c.Last()
	default:
		if s.k, s.v = c.Seek(s.end); s.k == nil {
			s.k, s.v = c.Last()
		} else {
			s.k, s.v = c.Prev()
		}
	}
	s.clip()
	s.reading = false
}

// clip ends the walk when its key left the range, or lies outside the
// file, as may its value, or its record's checksum does not hold; it
// strips the checksum from the value. A key of a nested bucket that Open
// found is passed on with a nil value. In colocBucket it steps over the
// other buckets' records (checking their checksums too) and leaves the
// logical key in k.
func (s *cursorSource) clip() {
	for s.clipOne() {
		if s.desc {
			s.k, s.v = s.c.Prev()
		} else {
			s.k, s.v = s.c.Next()
		}
	}
}

// clipOne is clip for the pair at hand; it reports whether the pair is
// another colocated bucket's, to step over.
func (s *cursorSource) clipOne() (skip bool) {
	if s.k == nil {
		return false
	}
	if !s.mapped.holdsPair(s.k, s.v) {
		s.k, s.v = nil, nil
		s.failed = fmt.Errorf("%w: scan: bucket %q: a key or value lies outside the file", ErrCorrupt, s.bucket)
		return false
	}
	// bbolt's cursor returns keys in order; a key at or behind the one
	// before is a damaged branch page's (two children swapped, or a child
	// pointing back up the tree, which had a Scan go round for ever).
	if s.last != nil {
		if c := bytes.Compare(s.k, s.last); c == 0 || (c < 0) != s.desc {
			s.failed = fmt.Errorf("%w: scan: bucket %q: key %q comes after %q, out of order", ErrCorrupt, s.bucket, s.k, s.last)
			s.k, s.v = nil, nil
			return false
		}
	}
	s.last = s.k
	// A page whose count lost elements would end the walk's part of it
	// early, without an error.
	if pg := s.mapped.pageOf(s.k); pg != s.page {
		s.page = pg
		if err := s.mapped.leafIntact(s.k); err != nil {
			s.k, s.v = nil, nil
			s.failed = fmt.Errorf("scan: bucket %q: %w", s.bucket, err)
			return false
		}
	}
	low := s.start
	if s.lo != nil {
		low = s.lo
	}
	if s.desc && low != nil && bytes.Compare(s.k, low) < 0 ||
		!s.desc && s.end != nil && bytes.Compare(s.k, s.end) >= 0 {
		s.k, s.v = nil, nil
		return false
	}
	if s.tag != 0 {
		if group, ok := packGroup(s.k); ok {
			return s.unpack(group)
		}
		name, base, key, ok := s.lay.record(s.k)
		switch {
		case !ok || s.v == nil:
			s.failed = fmt.Errorf("%w: scan: bucket %q: key %q is not a colocated record's", ErrCorrupt, s.bucket, s.k)
			s.k, s.v = nil, nil
			return false
		case name != s.bucket || s.start != nil && bytes.Compare(s.k, s.start) < 0:
			// Another bucket's, or one of start's group before start.
			if _, good := unseal(base, key, s.v); !good {
				s.failed = badSum("scan", name, key)
				s.k, s.v = nil, nil
				return false
			}
			return true
		}
		s.k = key
	} else if s.v == nil {
		if !s.nested[string(s.k)] {
			s.failed = fmt.Errorf("%w: scan: bucket %q, key %q: flagged as a nested bucket", ErrCorrupt, s.bucket, s.k)
			s.k = nil
		}
		return false
	}
	v, good := unseal(s.sum, s.k, s.v)
	if !good {
		s.failed = badSum("scan", s.bucket, s.k)
		s.k, s.v = nil, nil
		return false
	}
	s.v = v
	return false
}

func (s *cursorSource) err() error { return s.failed }

// unpack reads the pack of group the cursor is at: it leaves its first
// record of the bucket in the range in k and v and the others in pend, or
// reports that it has none, to step over.
func (s *cursorSource) unpack(group []byte) (skip bool) {
	payload, good := unseal(colocSum, s.k, s.v)
	if !good {
		s.failed = badSum("scan", colocBucket, s.k)
		s.k, s.v = nil, nil
		return false
	}
	es, err := decodePack(s.pend[:0], group, payload, s.lay)
	if err != nil {
		s.failed = fmt.Errorf("scan: bucket %q: %w", s.bucket, err)
		s.k, s.v = nil, nil
		return false
	}
	n := 0
	for _, e := range es {
		if e.tag == s.tag && (s.lstart == nil || bytes.Compare(e.key, s.lstart) >= 0) && (s.lend == nil || bytes.Compare(e.key, s.lend) < 0) {
			es[n] = e
			n++
		}
	}
	es = es[:n]
	if n == 0 {
		s.pend = es
		return true
	}
	if s.desc {
		slices.Reverse(es)
	}
	s.k, s.v, s.pend = es[0].key, es[0].value, es[1:]
	return false
}

func (s *cursorSource) next() (key, value []byte, del, ok bool) {
	if s.k == nil {
		return nil, nil, false, false
	}
	key, value = s.k, s.v
	if len(s.pend) > 0 {
		s.k, s.v, s.pend = s.pend[0].key, s.pend[0].value, s.pend[1:]
		return key, value, false, true
	}
	s.reading = true
	if s.desc {
		s.k, s.v = s.c.Prev()
	} else {
		s.k, s.v = s.c.Next()
	}
	s.clip()
	s.reading = false
	return key, value, false, true
}
