// Package cowtree is an ordered map from byte-string keys to entries: a
// B+tree with copy-on-write clones, written for keys that share long
// prefixes (a member id, a kind, a time). store/memory keeps its buckets in
// it, and store/bolt the writes of its overlay.
//
// Every node keeps the prefix all its keys share and, in a contiguous
// array, the 8 bytes of each key that follow it, so a search compares
// integers inside the node and loads a key only to confirm a match or to
// tell apart keys whose 8 bytes tie.
//
// The writer's searches leave fingers: the last two leaves they ended in,
// with the key range the separators above gave each. [Tree.Lookup], Put
// and Set go straight to a finger's leaf when the key is in its range
// (a Put after a Lookup of the same key finds even the index), so a
// counter read and then written, or the next key of an ascending run,
// costs one leaf search instead of a descent. A version that every node
// copy, split, merge and root change bumps retires them all; the heads of
// the bounds and key kept in the finger tell most keys it does not hold
// without loading memory of the leaf or the separators.
//
// A full leaf whose last inserts came in key order (the end of a
// sequence, one member's records of a kind, or ids numbered in decimal,
// which go in between older keys) splits at the insertion point rather
// than in the middle (within minItems of either end), so the part that
// gets no more keys stays about three quarters full instead of half.
//
// [Tree.Clone] is O(1): afterwards neither tree changes the nodes they
// share, each copying a node the first time it changes it. A tree never
// writes memory that a clone of it reads, so it may go on being written
// while its clones are read on other goroutines.
//
// A tree holds its entries in one of two ways, never both:
//
//   - [Tree.Put] copies the key and value into an arena of the leaf that
//     holds the key: a byte slice the leaf only appends to (and only the
//     tree that made it; a clone makes its own), so bytes a clone or a
//     slice returned by [Item.Value] refers to are never written again. An
//     overwrite appends the new value and leaves the old bytes to whoever
//     still refers to them; a split leaves the moved entries where they
//     are, and the arena goes on with the half that gets the key being
//     inserted. A full arena is replaced by a new one, empty while the arenas
//     the leaf's entries are in add up to at most about twice their size
//     (a split shares that count between the halves by their sizes, so it
//     is an estimate), else holding copies of the live entries, after
//     which the garbage collector frees the old arenas once no node lists
//     them. Entries over 1 KiB get an allocation of their own.
//   - [Tree.Set] keeps the key it is given, which must then never change,
//     and a value of type V, the caller's own.
//
// A node refers to the bytes of its items by an index into its list of
// arenas (a leaf's arenas, an entry's or a separator's own allocation, a
// key Set was given) and an offset, not by a pointer an item: a node then
// holds a few pointers rather than one an item, which the garbage
// collector would follow at every collection and record at every copy of
// a node made while it marks (a store/bolt overlay copies some four nodes
// an event). Nodes are smaller too: at a million members the memory store
// holds 1,006 bytes a member against 1,052, and builds in 8% less time.
package cowtree

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"unsafe"
)

// Node sizes. A node's heads are searched with one binary search over a
// contiguous array, so wide nodes cost little to search; they are also
// what a tree copies after a clone, so they are not wider.
const (
	maxItems  = 64               // keys of a leaf, separators of an inner node
	minItems  = maxItems / 4     // fewer and a node borrows from or merges with a sibling
	maxPrefix = 48               // longest common prefix a node keeps
	splitAt   = maxItems / 2     // where a full node splits, unless filled in order
	mergeMax  = maxItems * 3 / 4 // most items a merge may leave in one node
	maxInline = 1024             // larger entries of Put get an allocation of their own
	minRun    = 8                // ascending inserts in a row that make a leaf split where the next goes
	maxRun    = 255              // where a leaf stops counting them
	maxGap    = 1                // most older keys between two inserts of a run
)

// Item is one entry of a tree: p points to the key (klen bytes), followed
// by the value when Put made it, and Data is what Set stored with it. vlen
// is the value's length, with markBit set on a marked item. In an inner
// node an item is a separator, and only its key is used.
type Item[V any] struct {
	Data       V
	p          *byte
	klen, vlen uint32
}

// markBit is the bit of Item.vlen that marks an item (see Tree.PutMarked).
const markBit = 1 << 31

// slot is an item as a node keeps it: ref is the index of the arena its
// key lies in, in the node's list (see node.ars), shifted by refShift,
// and the key's offset in that arena. The value follows the key.
type slot[V any] struct {
	Data       V
	ref        uint32
	klen, vlen uint32
}

const (
	refShift  = 24                   // an arena is shorter than 16 MiB: an entry over maxInline has its own
	refOff    = 1<<refShift - 1      // the offset's bits of a ref
	maxArenas = 1<<(32-refShift) - 1 // arenas a node lists at most
)

// size returns the bytes of the slot's key and value.
func (s *slot[V]) size() int { return int(s.klen) + int(s.vlen&^markBit) }

// Key returns the item's key, which must not be modified.
func (it Item[V]) Key() []byte { return unsafe.Slice(it.p, it.klen) }

// Size returns the bytes of the key and value of an item Put made.
func (it Item[V]) Size() int { return int(it.klen) + int(it.vlen&^markBit) }

// Marked reports whether PutMarked made the item with mark set.
func (it Item[V]) Marked() bool { return it.vlen&markBit != 0 }

// Value returns the value of an item Put made, never nil; it must not be
// modified.
func (it Item[V]) Value() []byte {
	n := it.vlen &^ markBit
	if n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(it.p), it.klen)), n)
}

// head returns the first 8 bytes of s, big-endian and zero-padded.
func head(s []byte) uint64 {
	if len(s) >= 8 {
		return binary.BigEndian.Uint64(s)
	}
	var b [8]byte
	copy(b[:], s)
	return binary.BigEndian.Uint64(b[:])
}

// cowToken marks the nodes a tree may change in place: those whose token
// is the tree's. It has a size so that each one has its own address.
type cowToken struct{ _ byte }

// node is a B+tree node. Every key in it starts with pre[:plen], and
// heads[i] is the head of items[i]'s key after that prefix, so a search
// compares integers in the node's own memory and loads a key only when
// two heads tie. A leaf (kids nil) holds the entries; an inner node holds
// n separators and n+1 children, where kids[i] holds the keys k with
// items[i-1] <= k < items[i].
//
// The fields a search reads first (whether the node is a leaf, its size,
// its prefix) come first, so that they share the node's first cache lines
// with the heads it then reads.
type node[V any] struct {
	kids  *[maxItems + 1]*node[V]
	n     int
	plen  int
	cow   *cowToken
	pre   [maxPrefix]byte
	heads [maxItems]uint64
	items [maxItems]slot[V]

	// ars lists the first bytes of the arenas the items refer to: an
	// arena of the leaf's, an entry's or a separator's own allocation, a
	// key of Set's. An arena no item refers to any more stays listed
	// until the node is compacted or its list is full (see tidy); an
	// item's own allocation is unlisted (nil) when the item goes. Copies
	// of a node share the list until one changes it: arsShared.
	ars       []*byte
	arsShared bool

	// A leaf's entries of at most maxInline bytes that Put made are
	// stored one after the other in buf, which only grows: a write
	// appends, so the bytes a clone or a returned slice sees never
	// change. Only the tree whose id is own appends to buf; any other
	// tree, or a full buf, gets a new buf holding only the live entries.
	// bufAr is buf's index in ars.
	buf    []byte
	own    *cowToken
	bufAr  uint32
	pinned int // bytes of the arenas the entries may be in, roughly

	// seq is 1 + the index of the key a leaf's last insert made (0 after
	// a split), and run the number of inserts in a row that each went
	// after the one before, right after it or past at most maxGap older
	// keys (see follows; capped at maxRun).
	seq, run uint8
}

// ptr returns where the key of s, an item of n, starts.
func (n *node[V]) ptr(s *slot[V]) *byte {
	return (*byte)(unsafe.Add(unsafe.Pointer(n.ars[s.ref>>refShift]), s.ref&refOff))
}

// keyOf returns the key of s, an item of n.
func (n *node[V]) keyOf(s *slot[V]) []byte { return unsafe.Slice(n.ptr(s), s.klen) }

// key returns the key of item i.
func (n *node[V]) key(i int) []byte { return n.keyOf(&n.items[i]) }

// item returns item i as the tree hands it out, pointing to its bytes.
func (n *node[V]) item(i int) Item[V] {
	s := &n.items[i]
	return Item[V]{Data: s.Data, p: n.ptr(s), klen: s.klen, vlen: s.vlen}
}

// ownArs gives n a list of arenas of its own, unless it has one.
func (n *node[V]) ownArs() {
	if n.arsShared {
		n.ars, n.arsShared = slices.Clone(n.ars), false
	}
}

// addArena lists the arena starting at base and returns its ref (its
// index, shifted). A list shared with another node, or full, is tidied
// first, which renumbers the arenas.
func (n *node[V]) addArena(base *byte) uint32 {
	if n.arsShared || len(n.ars) >= maxArenas {
		n.tidy(1)
	}
	n.ars = append(n.ars, base)
	return uint32(len(n.ars)-1) << refShift
}

// setArena replaces the arena of ref, which one item alone refers to, by
// the one starting at base.
func (n *node[V]) setArena(ref uint32, base *byte) {
	n.ownArs()
	n.ars[ref>>refShift] = base
}

// tidy lists only the arenas the items and buf are in, in a list of n's
// own with room for extra more, renumbering them.
func (n *node[V]) tidy(extra int) {
	var to [maxArenas + 1]uint32 // new index + 1, by old index; 1 marks one in use at first
	for i := range n.n {
		to[n.items[i].ref>>refShift] = 1
	}
	if n.buf != nil {
		to[n.bufAr] = 1
	}
	used := 0
	for _, u := range to[:len(n.ars)] {
		used += int(u)
	}
	ars := n.ars[:0] // in place, each arena moving down or staying
	if n.arsShared || cap(n.ars) < used+extra {
		ars = make([]*byte, 0, used+extra)
	}
	for i, a := range n.ars {
		if to[i] != 0 {
			ars = append(ars, a)
			to[i] = uint32(len(ars))
		}
	}
	if !n.arsShared {
		clear(n.ars[len(ars):]) // what n no longer lists, the collector may free
	}
	for i := range n.n {
		r := &n.items[i].ref
		*r = (to[*r>>refShift]-1)<<refShift | *r&refOff
	}
	if n.buf != nil {
		n.bufAr = to[n.bufAr] - 1
	} else {
		n.bufAr = 0
	}
	n.ars, n.arsShared = ars, false
}

// newOwn returns an item of n holding copies of key and value in an
// allocation of its own (an entry too large for a leaf's arena, or a
// separator, which an inner node keeps apart from the leaves' arenas).
func (n *node[V]) newOwn(key, value []byte, vlen uint32) slot[V] {
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	return slot[V]{ref: n.addArena(&buf[0]), klen: uint32(len(key)), vlen: vlen}
}

// find returns the index of the first item whose key is >= k, and whether
// that key equals k.
func (n *node[V]) find(k []byte) (int, bool) {
	pre := n.pre[:n.plen]
	if len(k) < len(pre) || string(k[:len(pre)]) != string(pre) {
		// k is below or above every key of the node.
		if bytes.Compare(k, pre) < 0 {
			return 0, false
		}
		return n.n, false
	}
	s := k[len(pre):]
	h := head(s)
	lo, hi := 0, n.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.heads[m] < h {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == n.n || n.heads[lo] != h {
		return lo, false
	}
	// Keys lo to hi-1 tie with k on the head: search them by the bytes
	// after it (a run of tied keys can be long: a leaf holding one
	// member's entries of two kinds has both in its prefix).
	hi = lo + 1
	if hi < n.n && n.heads[hi] == h {
		for end := n.n; hi < end; {
			m := int(uint(hi+end) >> 1)
			if n.heads[m] == h {
				hi = m + 1
			} else {
				end = m
			}
		}
	}
	found := false
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c := n.cmpTied(m, s); c < 0 {
			lo = m + 1
		} else {
			hi, found = m, c == 0
		}
	}
	return lo, found
}

// cmpTied compares items[i]'s key after the prefix with s when their heads
// are equal. A suffix of at most 8 bytes is then a prefix of the other
// (padding zeros aside), so lengths decide; otherwise the bytes after the
// head do.
func (n *node[V]) cmpTied(i int, s []byte) int {
	a := int(n.items[i].klen) - n.plen
	if a <= 8 || len(s) <= 8 {
		return cmp.Compare(a, len(s))
	}
	return bytes.Compare(n.key(i)[n.plen+8:], s[8:])
}

// child returns the index of the child whose range holds k.
func (n *node[V]) child(k []byte) int {
	i, found := n.find(k)
	if found {
		i++
	}
	return i
}

// fitPrefix shortens the node's prefix to the part k shares with it,
// recomputing the heads from the prefix bytes and the old heads.
func (n *node[V]) fitPrefix(k []byte) {
	pl := 0
	for pl < n.plen && pl < len(k) && k[pl] == n.pre[pl] {
		pl++
	}
	shift := n.plen - pl
	if shift == 0 {
		return
	}
	// The new head is the shift bytes pre[pl:n.plen] followed by the old
	// head, truncated to 8 bytes.
	var b [16]byte
	for i := range n.n {
		copy(b[:], n.pre[pl:n.plen])
		binary.BigEndian.PutUint64(b[min(shift, 8):], n.heads[i])
		n.heads[i] = binary.BigEndian.Uint64(b[:8])
	}
	n.plen = pl
}

// insertAt inserts it, whose arena n lists, at index i, moving later
// items right (and, with kid, inserts kid right of the new separator).
func (n *node[V]) insertAt(i int, it slot[V], kid *node[V]) {
	k := n.keyOf(&it)
	if n.n == 0 {
		n.plen = copy(n.pre[:], k)
	} else {
		n.fitPrefix(k)
	}
	copy(n.heads[i+1:n.n+1], n.heads[i:n.n])
	copy(n.items[i+1:n.n+1], n.items[i:n.n])
	n.heads[i] = head(k[n.plen:])
	n.items[i] = it
	if kid != nil {
		copy(n.kids[i+2:n.n+2], n.kids[i+1:n.n+1])
		n.kids[i+1] = kid
	}
	n.n++
}

// removeAt removes item i (and, in an inner node, the child right of it).
func (n *node[V]) removeAt(i int) {
	copy(n.heads[i:], n.heads[i+1:n.n])
	copy(n.items[i:], n.items[i+1:n.n])
	n.items[n.n-1] = slot[V]{}
	if n.kids != nil {
		copy(n.kids[i+1:], n.kids[i+2:n.n+1])
		n.kids[n.n] = nil
	}
	n.n--
}

// reprefix sets the prefix to the longest one the node's keys share (the
// first and last key's, since they are sorted) and recomputes the heads.
func (n *node[V]) reprefix() {
	if n.n == 0 {
		n.plen = 0
		return
	}
	first, last := n.key(0), n.key(n.n-1)
	pl := 0
	for pl < maxPrefix && pl < len(first) && pl < len(last) && first[pl] == last[pl] {
		pl++
	}
	if pl == n.plen {
		return
	}
	copy(n.pre[:], first[:pl])
	n.plen = pl
	for i := range n.n {
		n.heads[i] = head(n.key(i)[pl:])
	}
}

// moved is an item on its way to another node, with the first byte of
// its arena.
type moved[V any] struct {
	s    slot[V]
	base *byte
}

// movedItem returns item i of n as a moved item.
func (n *node[V]) movedItem(i int) moved[V] {
	s := n.items[i]
	return moved[V]{s, n.ars[s.ref>>refShift]}
}

// key returns the moved item's key.
func (m *moved[V]) key() []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(m.base), m.s.ref&refOff)), m.s.klen)
}

// set fills the node with items (which may have been its own) and, for an
// inner node, kids; a leaf has no arena to append to afterwards.
//
// Each item gets an index of its own in the list, even when its arena
// starts where another's does: an item whose arena is its own (a key of
// Set's, which the caller may have cut from the same array as another
// key, or an allocation of its own) has its index unlisted or replaced
// when it goes. A leaf of Put's, whose items share arenas, is compacted
// right after.
func (n *node[V]) set(items []moved[V], kids []*node[V]) {
	var slots [maxItems]slot[V]
	ars := make([]*byte, len(items))
	for j, m := range items {
		ars[j] = m.base
		slots[j] = m.s
		slots[j].ref = uint32(j)<<refShift | m.s.ref&refOff
	}
	n.items = slots
	n.ars, n.arsShared = ars, false
	n.buf, n.own, n.bufAr = nil, nil, 0
	if n.kids != nil {
		if len(kids) < n.n+1 {
			clear(n.kids[len(kids) : n.n+1])
		}
		copy(n.kids[:], kids)
	}
	n.n = len(items)
	n.plen = -1 // recompute all heads
	n.reprefix()
}

// Tree is an ordered set of items by key, bytewise, with copy-on-write
// clones. Its zero value is not ready for use: call [New].
type Tree[V any] struct {
	root   *node[V]
	cow    *cowToken
	id     *cowToken // the owner of the leaf arenas this tree appends to
	length int
	refs   bool // Set made the entries: there are no arenas

	// version changes whenever a node is copied, split, merged or given
	// items of a sibling, or the root changes: what a finger of an older
	// version knows may no longer hold.
	version uint64
	fingers [2]finger[V]
	last    int // the finger used or set last; the other is replaced
}

// finger remembers a leaf that a search of the writer ended in, with the
// key range the separators above it gave it, so that the next search for
// a key in that range (a Put after a Get of the same key, the next key
// of an ascending run) goes straight to the leaf. It keeps the heads of
// the keys it compares with, so that telling a key it does not hold
// touches none of the leaf's or separators' memory.
type finger[V any] struct {
	n       *node[V]
	version uint64 // the tree's version when the finger was set
	lo, hi  []byte // n holds the keys k with lo <= k < hi; nil is no bound
	loHead  uint64 // head(lo), head(hi)
	hiHead  uint64
	i       int    // the index the search ended at: where key is or goes
	key     uint64 // head(key) and its length, of the key searched for
	klen    int
}

// New returns an empty tree.
func New[V any]() *Tree[V] { return &Tree[V]{cow: new(cowToken), id: new(cowToken), version: 1} }

// Len returns the number of items.
func (t *Tree[V]) Len() int { return t.length }

// Clone returns a copy of t in O(1). Afterwards neither tree changes the
// nodes they share: each copies a node the first time it changes it.
// Clone changes t (though not what t's readers read), so it must not run
// alongside another call that changes t or clones it.
func (t *Tree[V]) Clone() *Tree[V] {
	t.cow = new(cowToken)
	return &Tree[V]{root: t.root, cow: new(cowToken), id: new(cowToken), length: t.length, refs: t.refs, version: 1}
}

func (t *Tree[V]) newNode(inner bool) *node[V] {
	n := &node[V]{cow: t.cow}
	if inner {
		n.kids = new([maxItems + 1]*node[V])
	}
	return n
}

// mutable returns n itself when t may change it, else a copy t may change.
func (t *Tree[V]) mutable(n *node[V]) *node[V] {
	if n.cow == t.cow {
		return n
	}
	t.version++ // fingers may hold n, no longer in the tree
	c := new(node[V])
	*c = *n
	c.cow = t.cow
	c.arsShared = true
	if n.kids != nil {
		kids := *n.kids
		c.kids = &kids
	}
	return c
}

// Get returns the item with key k. It only reads t, so Gets may run
// alongside each other.
func (t *Tree[V]) Get(k []byte) (Item[V], bool) {
	if f, i, found := t.near(k); f != nil {
		return f.n.itemIf(i, found)
	}
	n, _, _ := t.descend(k, false)
	if n == nil {
		return Item[V]{}, false
	}
	return n.itemIf(n.find(k))
}

// Lookup is Get for the tree's writer: it remembers the leaf where it
// looked, so that a Put of k or a nearby key right after it skips the
// descent. It changes t, like Put.
func (t *Tree[V]) Lookup(k []byte) (Item[V], bool) {
	if f, i, found := t.near(k); f != nil {
		t.use(f, k, i)
		return f.n.itemIf(i, found)
	}
	n, lo, hi := t.descend(k, true)
	if n == nil {
		return Item[V]{}, false
	}
	i, found := n.find(k)
	t.setFinger(n, lo, hi, k, i)
	return n.itemIf(i, found)
}

// descend returns the leaf whose range holds k (nil for an empty tree)
// and, when bounds is set, the keys that bound that range from the
// separators above it (nil: unbounded).
func (t *Tree[V]) descend(k []byte, bounds bool) (n *node[V], lo, hi []byte) {
	n = t.root
	if n == nil {
		return nil, nil, nil
	}
	for n.kids != nil {
		i := n.child(k)
		if bounds {
			lo, hi = n.bounds(i, lo, hi)
		}
		n = n.kids[i]
	}
	return n, lo, hi
}

// itemIf returns item i of the leaf n when found, else no item.
func (n *node[V]) itemIf(i int, found bool) (Item[V], bool) {
	if !found {
		return Item[V]{}, false
	}
	return n.item(i), true
}

// bounds narrows the key range lo to hi of the inner node n to that of
// its child i.
func (n *node[V]) bounds(i int, lo, hi []byte) ([]byte, []byte) {
	if i > 0 {
		lo = n.key(i - 1)
	}
	if i < n.n {
		hi = n.key(i)
	}
	return lo, hi
}

// near returns a finger whose leaf holds k's range, the index of the
// first key >= k in its leaf and whether that key is k; or a nil finger.
// It first looks for k itself at the index a finger was left at, which
// saves the leaf's search too when a Put follows a Get of its key. It
// only reads t (Get may run alongside other Gets); a writer passes the
// finger to use.
func (t *Tree[V]) near(k []byte) (*finger[V], int, bool) {
	h := head(k)
	for j := range t.fingers {
		f := &t.fingers[j]
		if f.version == t.version && f.key == h && f.klen == len(k) && f.i < f.n.n && string(f.n.key(f.i)) == string(k) {
			return f, f.i, true
		}
	}
	for j := range t.fingers {
		f := &t.fingers[j]
		if f.version == t.version && f.holds(k, h) {
			i, found := f.n.find(k)
			return f, i, found
		}
	}
	return nil, 0, false
}

// use records that the writer's search for k ended in finger f at index
// i.
func (t *Tree[V]) use(f *finger[V], k []byte, i int) {
	f.i, f.key, f.klen = i, head(k), len(k)
	if f == &t.fingers[0] {
		t.last = 0
	} else {
		t.last = 1
	}
}

// holds reports whether k, whose head is h, is in the finger's range. A
// head that differs from a bound's decides without loading the bound.
func (f *finger[V]) holds(k []byte, h uint64) bool {
	if f.lo != nil && (h < f.loHead || h == f.loHead && bytes.Compare(k, f.lo) < 0) {
		return false
	}
	return f.hi == nil || h < f.hiHead || h == f.hiHead && bytes.Compare(k, f.hi) < 0
}

// setFinger remembers that the leaf n holds the keys from lo to hi and
// that a search for k ended at index i, in the finger n is in already or
// in the one used less recently.
func (t *Tree[V]) setFinger(n *node[V], lo, hi, k []byte, i int) {
	j := t.last ^ 1
	if f := &t.fingers[t.last]; f.n == n && f.version == t.version {
		j = t.last
	}
	f := &t.fingers[j]
	*f = finger[V]{n: n, version: t.version, lo: lo, hi: hi, i: i, key: head(k), klen: len(k)}
	if lo != nil {
		f.loHead = head(lo)
	}
	if hi != nil {
		f.hiHead = head(hi)
	}
	t.last = j
}

// Min returns the item with the least key.
func (t *Tree[V]) Min() (Item[V], bool) {
	n := t.root
	if n == nil || n.n == 0 {
		return Item[V]{}, false
	}
	for n.kids != nil {
		n = n.kids[0]
	}
	return n.item(0), true
}

// split moves the items of the full node n from index at on into a new
// node and returns the separator's key between them (for the parent to
// copy) and the new node. The halves keep their heads unless their keys
// share a longer prefix than n's. A leaf's arena goes to the half that k,
// the key about to go in, goes to, since the other may get no more keys.
func (t *Tree[V]) split(n *node[V], at int, k []byte) ([]byte, *node[V]) {
	t.version++
	right := t.newNode(n.kids != nil)
	right.pre, right.plen = n.pre, n.plen
	sep := n.key(at)
	right.ars, right.bufAr = n.ars, n.bufAr
	n.arsShared, right.arsShared = true, true
	from := at
	if n.kids != nil {
		from++ // the separator moves up
		copy(right.kids[:], n.kids[from:n.n+1])
		clear(n.kids[from : n.n+1])
	}
	right.n = copy(right.items[:], n.items[from:n.n])
	copy(right.heads[:], n.heads[from:n.n])
	clear(n.items[at:n.n])
	n.n = at
	n.seq, right.seq = 0, 0
	n.run, right.run = 0, 0
	n.reprefix()
	right.reprefix()
	if n.kids == nil {
		if !t.refs {
			// The moved entries stay where they are; the half k goes
			// to goes on appending to n's arena, the other gets one of
			// its own when written to, and each half takes its share
			// of what n's entries pinned.
			lr, ln := right.liveBytes(-1), n.liveBytes(-1)
			right.pinned = n.pinned * lr / max(lr+ln, 1)
			n.pinned -= right.pinned
			if bytes.Compare(k, sep) >= 0 {
				right.buf, right.own = n.buf, n.own
				n.buf, n.own = nil, nil
			}
		}
	}
	// Each half lists only its own arenas, so that neither keeps the
	// other's from the collector.
	n.tidy(0)
	right.tidy(0)
	return sep, right
}

// splitPoint returns where to split the full node n before k goes in.
// A leaf filled in key order (the keys of a sequence, or of one member
// and kind, arrive ascending) splits at the insertion point, within
// limits, so that the left part, which gets no more keys, stays full
// rather than half empty. The keys need not be adjacent: ids numbered in
// decimal ("m1000", "m10000", "m1001", "m10010", …) go in ascending but
// between older keys (see follows), and the left part gets no more of
// them either. It takes minRun such inserts in a row, so that a leaf
// filled at random still splits in the middle.
func (n *node[V]) splitPoint(k []byte) int {
	if n.kids != nil || n.run < minRun {
		return splitAt
	}
	if i, _ := n.find(k); n.follows(i) {
		return min(max(i, minItems), maxItems-minItems)
	}
	return splitAt
}

// liveBytes returns the bytes of the leaf's entries in arenas, but entry
// skip's.
func (n *node[V]) liveBytes(skip int) int {
	live := 0
	for i := range n.n {
		if sz := n.items[i].size(); sz <= maxInline && i != skip {
			live += sz
		}
	}
	return live
}

// newArena gives the leaf n a new arena with room for extra bytes: an
// empty one while what n's entries pin is within twice their size
// (copying cold entries costs more than the memory), else one holding
// copies of the entries, which frees the old arenas for the collector.
func (t *Tree[V]) newArena(n *node[V], extra, skip int) {
	live := n.liveBytes(skip) + extra
	if n.pinned <= 2*live+2048 {
		if len(n.ars) >= 4 {
			// Drop the arenas no entry is in any more, as the collector
			// would were the entries pointers.
			n.tidy(1)
		}
		c := max(extra, min(max(live/4, 256), 4096))
		buf := make([]byte, 0, c)
		n.bufAr = n.addArena(unsafe.SliceData(buf)) >> refShift // before buf is n's: see tidy
		n.buf, n.own = buf, t.id
		n.pinned += c
		return
	}
	t.compact(n, extra, skip)
}

// compact gives the leaf n a new arena holding its entries (but entry
// skip's, whose item the caller replaces) with room for extra more bytes
// and more, and a list of arenas holding it and the entries' own
// allocations only.
func (t *Tree[V]) compact(n *node[V], extra, skip int) {
	if t.refs {
		return
	}
	live := n.liveBytes(skip) + extra
	buf := make([]byte, 0, live+live/2+256)
	ars := []*byte{nil} // buf's, set below
	for i := range n.n {
		s := &n.items[i]
		switch sz := s.size(); {
		case i == skip:
			s.ref = 0 // replaced by the caller
		case sz <= maxInline:
			off := len(buf)
			buf = append(buf, unsafe.Slice(n.ptr(s), sz)...)
			s.ref = uint32(off)
		default:
			ars = append(ars, n.ars[s.ref>>refShift])
			s.ref = uint32(len(ars)-1)<<refShift | s.ref&refOff
		}
	}
	ars[0] = unsafe.SliceData(buf)
	n.ars, n.arsShared = ars, false
	n.buf, n.own, n.bufAr, n.pinned = buf, t.id, 0, cap(buf)
}

// newEntry copies key and value into the leaf n's arena, or an
// allocation of their own when large; index i is the entry it replaces,
// or -1. vlen is the item's vlen: len(value), with markBit when marked.
func (t *Tree[V]) newEntry(n *node[V], key, value []byte, vlen uint32, i int) slot[V] {
	sz := len(key) + len(value)
	if i >= 0 && n.items[i].size() > maxInline {
		// The entry replaced had an allocation of its own: unlisted, or
		// replaced in the list by the new entry's.
		ref := n.items[i].ref
		if sz > maxInline {
			buf := append(append(make([]byte, 0, sz), key...), value...)
			n.setArena(ref, &buf[0])
			return slot[V]{ref: ref &^ refOff, klen: uint32(len(key)), vlen: vlen}
		}
		n.setArena(ref, nil)
	}
	if sz > maxInline {
		return n.newOwn(key, value, vlen)
	}
	if n.own != t.id || len(n.buf)+sz > cap(n.buf) {
		t.newArena(n, sz, i)
	}
	off := len(n.buf)
	n.buf = append(append(n.buf, key...), value...)
	return slot[V]{ref: n.bufAr<<refShift | uint32(off), klen: uint32(len(key)), vlen: vlen}
}

// Put sets key, which must not be empty, to a copy of value, with a zero
// Data. It returns the item it replaced, or the new item when there was
// none. A tree that Set wrote to must not be given Put.
func (t *Tree[V]) Put(key, value []byte) (Item[V], bool) {
	return t.PutMarked(key, value, false)
}

// PutMarked is Put that also sets whether the item is marked (see
// Item.Marked), a bit of its own the tree keeps for the caller; value
// must be shorter than 2 GiB.
func (t *Tree[V]) PutMarked(key, value []byte, mark bool) (Item[V], bool) {
	vlen := uint32(len(value))
	if mark {
		vlen |= markBit
	}
	f, i, found := t.leafFor(key)
	n := f.n
	if found {
		old := n.item(i)
		n.items[i] = t.newEntry(n, key, value, vlen, i) // same key: the head stays
		return old, true
	}
	it := t.newEntry(n, key, value, vlen, -1)
	n.noteInsert(i)
	n.insertAt(i, it, nil)
	t.length++
	return n.item(i), false
}

// Set sets key, which must not be empty, to v. The tree keeps key itself,
// which must never change afterwards; keys may share an array (cut from
// one buffer, say, each a prefix of the next). It returns the item it replaced, or
// the new item when there was none. A tree that Put wrote to must not be
// given Set.
func (t *Tree[V]) Set(key []byte, v V) (Item[V], bool) {
	t.refs = true
	f, i, found := t.leafFor(key)
	n := f.n
	if found {
		old := n.item(i)
		// The key is the item's arena, and the item's alone.
		ref := n.items[i].ref
		n.setArena(ref, unsafe.SliceData(key))
		n.items[i] = slot[V]{Data: v, ref: ref &^ refOff, klen: uint32(len(key))} // same key: the head stays
		return old, true
	}
	it := slot[V]{Data: v, ref: n.addArena(unsafe.SliceData(key)), klen: uint32(len(key))}
	n.noteInsert(i)
	n.insertAt(i, it, nil)
	t.length++
	return n.item(i), false
}

// follows reports whether an insert at index i of the leaf n continues an
// ascending run: after the last insert, with at most maxGap older keys
// between. Ids numbered in decimal mostly have one between ("m10009",
// "m1001", "m10010"); a key put after each of many members' records in
// turn has all that member's records between, and the part an
// insertion-point split left behind would get more keys on the next
// round.
func (n *node[V]) follows(i int) bool {
	return i >= int(n.seq) && i-int(n.seq) <= maxGap
}

// noteInsert records in the leaf n whether an insert at index i continues
// an ascending run.
func (n *node[V]) noteInsert(i int) {
	if n.follows(i) {
		n.run = min(n.run+1, maxRun)
	} else {
		n.run = 0
	}
	n.seq = uint8(i + 1)
}

// leafFor returns a finger to the mutable leaf where key belongs, which
// has room for one more item unless key is there, the index of key in it,
// and whether key is there. The finger's index is left at key's.
func (t *Tree[V]) leafFor(k []byte) (*finger[V], int, bool) {
	// A leaf t may change is in the tree with all its ancestors t's own
	// too, as long as the version holds (copies, splits and merges
	// change it).
	if f, i, found := t.near(k); f != nil && f.n.cow == t.cow && (found || f.n.n < maxItems) {
		t.use(f, k, i)
		return f, i, found
	}
	if t.root == nil {
		t.version++
		t.root = t.newNode(false)
	} else {
		t.root = t.mutable(t.root)
	}
	if t.root.n == maxItems {
		left := t.root
		sep, right := t.split(left, left.splitPoint(k), k)
		t.root = t.newNode(true)
		t.root.kids[0] = left
		t.root.insertAt(0, t.root.newOwn(sep, nil, 0), right)
	}
	n := t.root
	var lo, hi []byte
	for n.kids != nil {
		i := n.child(k)
		c := t.mutable(n.kids[i])
		n.kids[i] = c
		if c.n == maxItems {
			sep, right := t.split(c, c.splitPoint(k), k)
			n.insertAt(i, n.newOwn(sep, nil, 0), right)
			if bytes.Compare(k, sep) >= 0 {
				c = right
				i++
			}
		}
		lo, hi = n.bounds(i, lo, hi)
		n = c
	}
	i, found := n.find(k)
	t.setFinger(n, lo, hi, k, i)
	return &t.fingers[t.last], i, found
}

// Delete removes the item with key k and returns it.
func (t *Tree[V]) Delete(k []byte) (Item[V], bool) {
	if _, ok := t.Get(k); !ok {
		return Item[V]{}, false // nothing to copy
	}
	t.root = t.mutable(t.root)
	old := t.remove(t.root, k)
	if t.root.n == 0 {
		t.version++
		if t.root.kids != nil {
			t.root = t.root.kids[0]
		} else {
			t.root = nil
		}
	}
	t.length--
	return old, true
}

// remove removes k, which is present, from the subtree of the mutable
// node n, leaving every node below n with at least minItems items.
func (t *Tree[V]) remove(n *node[V], k []byte) Item[V] {
	if n.kids == nil {
		i, _ := n.find(k)
		old := n.item(i)
		if t.refs || n.items[i].size() > maxInline {
			n.setArena(n.items[i].ref, nil) // the item's alone
		}
		n.removeAt(i)
		return old
	}
	i := n.child(k)
	c := t.mutable(n.kids[i])
	n.kids[i] = c
	old := t.remove(c, k)
	if c.n < minItems {
		t.rebalance(n, i)
	}
	return old
}

// rebalance merges the underfull child i of n with a sibling, or moves
// items over from the sibling when both do not fit in one node.
func (t *Tree[V]) rebalance(n *node[V], i int) {
	t.version++
	if i == n.n {
		i-- // merge with the left sibling instead
	}
	left, right := t.mutable(n.kids[i]), t.mutable(n.kids[i+1])
	n.kids[i], n.kids[i+1] = left, right
	var items [2*maxItems + 1]moved[V]
	var kids [2*maxItems + 2]*node[V]
	all := items[:0]
	for j := range left.n {
		all = append(all, left.movedItem(j))
	}
	var allKids []*node[V]
	if left.kids != nil {
		all = append(all, n.movedItem(i)) // the separator comes down
		allKids = append(append(kids[:0], left.kids[:left.n+1]...), right.kids[:right.n+1]...)
	}
	for j := range right.n {
		all = append(all, right.movedItem(j))
	}
	if len(all) <= mergeMax {
		left.set(all, allKids)
		if left.kids == nil {
			t.compact(left, 0, -1)
		}
		n.setArena(n.items[i].ref, nil) // the separator's alone
		n.removeAt(i)
		return
	}
	m := len(all) / 2
	if left.kids == nil {
		left.set(all[:m], nil)
		right.set(all[m:], nil)
		t.compact(left, 0, -1)
		t.compact(right, 0, -1)
		n.replaceSep(i, right.key(0))
		return
	}
	sep := all[m].key()
	left.set(all[:m], allKids[:m+1])
	right.set(all[m+1:], allKids[m+1:])
	n.replaceSep(i, sep)
}

// replaceSep replaces separator i by a copy of k, keeping the children.
func (n *node[V]) replaceSep(i int, k []byte) {
	ref := n.items[i].ref // the separator's alone
	k = bytes.Clone(k)
	n.setArena(ref, &k[0])
	n.fitPrefix(k)
	n.items[i] = slot[V]{ref: ref &^ refOff, klen: uint32(len(k))}
	n.heads[i] = head(k[n.plen:])
}

// Ascend calls fn for each item with start <= key < end, in ascending
// order, until fn returns false. A nil start or end is no bound.
func (t *Tree[V]) Ascend(start, end []byte, fn func(Item[V]) bool) {
	if t.root != nil {
		ascend(t.root, start, end, fn)
	}
}

func ascend[V any](n *node[V], start, end []byte, fn func(Item[V]) bool) bool {
	if n.kids == nil {
		i := 0
		if start != nil {
			i, _ = n.find(start)
		}
		for ; i < n.n; i++ {
			if end != nil && bytes.Compare(n.key(i), end) >= 0 {
				return false
			}
			if !fn(n.item(i)) {
				return false
			}
		}
		return true
	}
	i := 0
	if start != nil {
		i = n.child(start)
	}
	for ; i <= n.n; i++ {
		if !ascend(n.kids[i], start, end, fn) {
			return false
		}
		start = nil
		if end != nil && i < n.n && bytes.Compare(n.key(i), end) >= 0 {
			return false // the next children's keys are >= end
		}
	}
	return true
}

// Descend calls fn for each item with start <= key < end, in descending
// order, until fn returns false. A nil start or end is no bound.
func (t *Tree[V]) Descend(start, end []byte, fn func(Item[V]) bool) {
	if t.root != nil {
		descend(t.root, start, end, fn)
	}
}

func descend[V any](n *node[V], start, end []byte, fn func(Item[V]) bool) bool {
	i := n.n
	if end != nil {
		i, _ = n.find(end)
	}
	if n.kids == nil {
		for i--; i >= 0; i-- {
			if start != nil && bytes.Compare(n.key(i), start) < 0 {
				return false
			}
			if !fn(n.item(i)) {
				return false
			}
		}
		return true
	}
	// kids[i] is the last child with keys below end: kids[i+1]'s are
	// >= items[i] >= end.
	for ; i >= 0; i-- {
		if !descend(n.kids[i], start, end, fn) {
			return false
		}
		end = nil
		if start != nil && i > 0 && bytes.Compare(n.key(i-1), start) <= 0 {
			return false // the previous children's keys are < start
		}
	}
	return true
}
