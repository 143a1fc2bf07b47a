package cowtree

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// treeKey returns a random key from a small alphabet, often sharing a
// long prefix with the keys before it, so that nodes have long common
// prefixes, heads tie and prefixes shrink when keys arrive.
func treeKey(rng *rand.Rand, prev []byte) []byte {
	alphabet := []byte{0x00, 0x01, 'a', 0x7f, 0x80, 0xff}
	var k []byte
	if len(prev) > 0 && rng.IntN(2) == 0 {
		n := rng.IntN(len(prev) + 1)
		k = append(k, prev[:n]...)
	}
	for range rng.IntN(14) {
		k = append(k, alphabet[rng.IntN(len(alphabet))])
	}
	if len(k) == 0 {
		k = append(k, alphabet[rng.IntN(len(alphabet))])
	}
	return k
}

// checkTree verifies t's structure: keys sorted and within their
// separators, prefixes shared by every key, heads matching the keys,
// nodes other than the root at least minItems full, leaves at one depth.
func checkTree[V any](t *testing.T, tr *Tree[V]) {
	t.Helper()
	if tr.root == nil {
		if tr.Len() != 0 {
			t.Fatalf("empty tree with Len %d", tr.Len())
		}
		return
	}
	count, leafDepth := 0, -1
	var walk func(n *node[V], lo, hi []byte, depth int)
	walk = func(n *node[V], lo, hi []byte, depth int) {
		if n != tr.root && n.n < minItems {
			t.Fatalf("node with %d items; want at least %d", n.n, minItems)
		}
		if n.n > maxItems || n.plen > maxPrefix {
			t.Fatalf("node with %d items, prefix %d", n.n, n.plen)
		}
		if len(n.ars) > maxArenas {
			t.Fatalf("node lists %d arenas; at most %d", len(n.ars), maxArenas)
		}
		if n.buf != nil && (int(n.bufAr) >= len(n.ars) || n.ars[n.bufAr] != unsafe.SliceData(n.buf)) {
			t.Fatalf("the leaf's arena is not listed at %d", n.bufAr)
		}
		for i := range n.n {
			if a := int(n.items[i].ref >> refShift); a >= len(n.ars) || n.ars[a] == nil {
				t.Fatalf("item %d refers to arena %d of %d listed, or an unlisted one", i, a, len(n.ars))
			}
			k := n.key(i)
			if !bytes.HasPrefix(k, n.pre[:n.plen]) {
				t.Fatalf("key %q lacks the node prefix %q", k, n.pre[:n.plen])
			}
			if n.heads[i] != head(k[n.plen:]) {
				t.Fatalf("key %q: head %x; want %x", k, n.heads[i], head(k[n.plen:]))
			}
			if i > 0 && bytes.Compare(n.key(i-1), k) >= 0 {
				t.Fatalf("keys out of order: %q then %q", n.key(i-1), k)
			}
			if (lo != nil && bytes.Compare(k, lo) < 0) || (hi != nil && bytes.Compare(k, hi) >= 0) {
				t.Fatalf("key %q outside [%q, %q)", k, lo, hi)
			}
		}
		if n.kids == nil {
			count += n.n
			if leafDepth >= 0 && depth != leafDepth {
				t.Fatalf("leaves at depths %d and %d", leafDepth, depth)
			}
			leafDepth = depth
			return
		}
		for i := 0; i <= n.n; i++ {
			clo, chi := lo, hi
			if i > 0 {
				clo = n.key(i - 1)
			}
			if i < n.n {
				chi = n.key(i)
			}
			walk(n.kids[i], clo, chi, depth+1)
		}
	}
	walk(tr.root, nil, nil, 0)
	if count != tr.Len() {
		t.Fatalf("%d keys in the leaves; Len %d", count, tr.Len())
	}
}

// marked reports whether TestTreeModel marks an item of value v.
func marked(v string) bool { return len(v)%3 == 1 }

// treeModel is what a tree should hold.
type treeModel map[string]string

func (m treeModel) check(t *testing.T, tr *Tree[struct{}], rng *rand.Rand) {
	t.Helper()
	checkTree(t, tr)
	keys := slices.Sorted(maps.Keys(m))
	if tr.Len() != len(keys) {
		t.Fatalf("Len %d; want %d", tr.Len(), len(keys))
	}
	for _, k := range keys {
		if it, ok := tr.Get([]byte(k)); !ok || string(it.Value()) != m[k] || it.Marked() != marked(m[k]) {
			t.Fatalf("Get(%q) = %q, marked %v, %v; want %q", k, it.Value(), it.Marked(), ok, m[k])
		}
	}
	for range 20 {
		var start, end []byte
		if rng.IntN(3) > 0 {
			start = treeKey(rng, nil)
		}
		if rng.IntN(3) > 0 {
			end = treeKey(rng, start)
		}
		if rng.IntN(8) == 0 {
			start = []byte{} // empty but not nil: from the first key
		}
		var want []string
		for _, k := range keys {
			if (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
				want = append(want, k)
			}
		}
		limit := len(want)
		if rng.IntN(2) == 0 {
			limit = rng.IntN(len(want) + 1)
		}
		var got []string
		visit := func(it Item[struct{}]) bool {
			if len(got) == limit {
				return false
			}
			got = append(got, string(it.Key()))
			return true
		}
		tr.Ascend(start, end, visit)
		if !slices.Equal(got, want[:limit]) {
			t.Fatalf("Ascend(%q, %q) limit %d = %q; want %q", start, end, limit, got, want[:limit])
		}
		got = nil
		slices.Reverse(want)
		tr.Descend(start, end, visit)
		if !slices.Equal(got, want[:limit]) {
			t.Fatalf("Descend(%q, %q) limit %d = %q; want %q", start, end, limit, got, want[:limit])
		}
	}
	for range 50 {
		k := treeKey(rng, nil)
		_, want := m[string(k)]
		if _, ok := tr.Get(k); ok != want {
			t.Fatalf("Get(%q) found %v; want %v", k, ok, want)
		}
	}
}

// The tree agrees with a map through random inserts, overwrites and
// deletes, growing and shrinking, and its clones keep what they held when
// cloned while either side goes on changing.
func TestTreeModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr, m := New[struct{}](), treeModel{}
	type clone struct {
		tr *Tree[struct{}]
		m  treeModel
	}
	var clones []clone
	var prev []byte
	// Values read earlier must keep their bytes whatever the tree does
	// later: writes append to a leaf's arena, never overwrite it.
	type heldValue struct {
		got  []byte
		want string
	}
	var held []heldValue
	for round := range 40 {
		grow := round%4 != 3
		// Keys to delete are drawn from those present when the round
		// began (sorting them at every delete made the test slow); one
		// already deleted this round tests Delete of an absent key.
		ks := slices.Sorted(maps.Keys(m))
		for range 300 + rng.IntN(1500) {
			k := treeKey(rng, prev)
			prev = k
			if grow || rng.IntN(4) == 0 {
				v := fmt.Sprint(rng.IntN(1000))
				if rng.IntN(50) == 0 { // too large for a leaf's arena
					v = strings.Repeat(v, maxInline/2)
				}
				old, replaced := tr.PutMarked(k, []byte(v), marked(v))
				if ov, ok := m[string(k)]; ok != replaced || (ok && string(old.Value()) != ov) || (!ok && string(old.Value()) != v) {
					t.Fatalf("PutMarked(%q) replaced %q, %v; want %q, %v", k, old.Value(), replaced, ov, ok)
				}
				m[string(k)] = v
				if rng.IntN(20) == 0 {
					it, _ := tr.Get(k)
					held = append(held, heldValue{it.Value(), v})
				}
				continue
			}
			if len(ks) > 0 && rng.IntN(2) == 0 { // a key present when the round began
				k = []byte(ks[rng.IntN(len(ks))])
			}
			old, ok := tr.Delete(k)
			if ov, had := m[string(k)]; ok != had || (ok && string(old.Value()) != ov) {
				t.Fatalf("Delete(%q) = %q, %v; want %q, %v", k, old.Value(), ok, ov, had)
			}
			delete(m, string(k))
		}
		m.check(t, tr, rng)
		for _, h := range held {
			if string(h.got) != h.want {
				t.Fatalf("a value read earlier changed from %q to %q", h.want, h.got)
			}
		}
		if rng.IntN(2) == 0 {
			clones = append(clones, clone{tr.Clone(), maps.Clone(m)})
		}
		if len(clones) > 0 && rng.IntN(3) == 0 { // the clone goes on writing instead
			c := clones[rng.IntN(len(clones))]
			clones = append(clones, clone{tr, m})
			tr, m = c.tr.Clone(), maps.Clone(c.m)
		}
		for _, c := range clones {
			c.m.check(t, c.tr, rng)
		}
	}
	// Delete everything.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if _, ok := tr.Delete([]byte(k)); !ok {
			t.Fatalf("Delete(%q) found nothing", k)
		}
		delete(m, k)
	}
	m.check(t, tr, rng)
	for _, c := range clones {
		c.m.check(t, c.tr, rng)
	}
}

func TestItemValue(t *testing.T) {
	big := strings.Repeat("v", maxInline) // with its key, an allocation of its own
	for _, tc := range []struct{ key, value string }{
		{"k", ""}, {"k", "v"}, {"12345678", "value"}, {"123456789", ""}, {"a longer key than eight bytes", "and a value"}, {"k", big},
	} {
		tr := New[struct{}]()
		tr.Put([]byte("a"), []byte("before")) // the entry shares the leaf's arena
		tr.Put([]byte(tc.key), []byte(tc.value))
		it, ok := tr.Get([]byte(tc.key))
		if !ok || string(it.Key()) != tc.key || string(it.Value()) != tc.value || it.Value() == nil {
			t.Errorf("Put(%q, %q), Get: key %q, value %q (nil: %v), found %v", tc.key, tc.value, it.Key(), it.Value(), it.Value() == nil, ok)
		}
		if cap(it.Key()) != len(tc.key) || cap(it.Value()) != len(tc.value) {
			t.Errorf("Put(%q, %q), Get: key and value slices have spare capacity; appending to one would overwrite the other", tc.key, tc.value)
		}
	}
}

// refModel is what a tree written with Set should hold.
type refModel map[string]int

func (m refModel) check(t *testing.T, tr *Tree[int], rng *rand.Rand) {
	t.Helper()
	checkTree(t, tr)
	keys := slices.Sorted(maps.Keys(m))
	if tr.Len() != len(keys) {
		t.Fatalf("Len %d; want %d", tr.Len(), len(keys))
	}
	for _, k := range keys {
		if it, ok := tr.Get([]byte(k)); !ok || it.Data != m[k] || string(it.Key()) != k {
			t.Fatalf("Get(%q) = %q %d, %v; want %d", k, it.Key(), it.Data, ok, m[k])
		}
	}
	if it, ok := tr.Min(); ok != (len(keys) > 0) || ok && string(it.Key()) != keys[0] {
		t.Fatalf("Min = %q, %v; want the first of %d keys", it.Key(), ok, len(keys))
	}
	for range 20 {
		var start, end []byte
		if rng.IntN(3) > 0 {
			start = treeKey(rng, nil)
		}
		if rng.IntN(3) > 0 {
			end = treeKey(rng, start)
		}
		var want []string
		for _, k := range keys {
			if (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
				want = append(want, fmt.Sprint(k, m[k]))
			}
		}
		var got []string
		visit := func(it Item[int]) bool {
			got = append(got, fmt.Sprint(string(it.Key()), it.Data))
			return true
		}
		tr.Ascend(start, end, visit)
		if !slices.Equal(got, want) {
			t.Fatalf("Ascend(%q, %q) = %q; want %q", start, end, got, want)
		}
		got = nil
		slices.Reverse(want)
		tr.Descend(start, end, visit)
		if !slices.Equal(got, want) {
			t.Fatalf("Descend(%q, %q) = %q; want %q", start, end, got, want)
		}
	}
}

// A tree written with Set keeps the keys it is given and their data, and
// agrees with a map through random writes and deletes, as do its clones.
func TestTreeSetModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tr, m := New[int](), refModel{}
	type clone struct {
		tr *Tree[int]
		m  refModel
	}
	var clones []clone
	var prev []byte
	for round := range 16 {
		grow := round%4 != 3
		ks := slices.Sorted(maps.Keys(m)) // as in TestTreeModel
		for range 300 + rng.IntN(1500) {
			k := treeKey(rng, prev)
			prev = k
			if grow || rng.IntN(4) == 0 {
				v := rng.IntN(1000)
				old, replaced := tr.Set(k, v)
				if ov, ok := m[string(k)]; ok != replaced || (ok && old.Data != ov) || (!ok && old.Data != v) {
					t.Fatalf("Set(%q) replaced %d, %v; want %d, %v", k, old.Data, replaced, ov, ok)
				}
				if it, _ := tr.Get(k); unsafe.SliceData(it.Key()) != unsafe.SliceData(k) {
					t.Fatalf("Set(%q) did not keep the key it was given", k)
				}
				m[string(k)] = v
				continue
			}
			if len(ks) > 0 && rng.IntN(2) == 0 {
				k = []byte(ks[rng.IntN(len(ks))])
			}
			old, ok := tr.Delete(k)
			if ov, had := m[string(k)]; ok != had || (ok && old.Data != ov) {
				t.Fatalf("Delete(%q) = %d, %v; want %d, %v", k, old.Data, ok, ov, had)
			}
			delete(m, string(k))
		}
		m.check(t, tr, rng)
		if rng.IntN(2) == 0 {
			clones = append(clones, clone{tr.Clone(), maps.Clone(m)})
		}
		for _, c := range clones {
			c.m.check(t, c.tr, rng)
		}
	}
}

// A tree may go on writing while its clones are read on other goroutines
// (store/bolt's committer does): it never writes what a clone reads, node
// or arena byte. Run under -race.
func TestWriteWhileClonesRead(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tr := New[struct{}]()
	var prev []byte
	put := func() {
		k := treeKey(rng, prev)
		prev = k
		tr.PutMarked(k, []byte(fmt.Sprint(rng.IntN(1000))), rng.IntN(2) == 0)
	}
	for range 2000 {
		put()
	}
	done := make(chan struct{})
	for range 5 {
		c, m := tr.Clone(), map[string]string{}
		c.Ascend(nil, nil, func(it Item[struct{}]) bool {
			m[string(it.Key())] = string(it.Value())
			return true
		})
		go func() {
			defer func() { done <- struct{}{} }()
			for k, v := range m {
				if it, ok := c.Get([]byte(k)); !ok || string(it.Value()) != v {
					t.Errorf("clone: Get(%q) = %q, %v; want %q", k, it.Value(), ok, v)
					return
				}
			}
		}()
		for range 500 {
			put()
		}
	}
	for range 5 {
		<-done
	}
}

// The writer's fingers never lead a search astray: Lookups and Puts of
// keys near the last ones (the same key, the next in order, a neighbour)
// agree with a map while splits, merges, deletes and clones change the
// nodes the fingers point to, and clones keep what they held.
func TestFingersModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tr, m := New[struct{}](), treeModel{}
	type clone struct {
		tr *Tree[struct{}]
		m  treeModel
	}
	var clones []clone
	key := func(n int) []byte { return fmt.Appendf(nil, "m%03d\x00points\x00%06d", n%97, n) }
	last := 0
	for step := range 40000 {
		// Mostly keys near the last one, sometimes anywhere.
		n := last + rng.IntN(5) - 1
		if rng.IntN(8) == 0 {
			n = rng.IntN(20000)
		}
		n = max(n, 0)
		last = n
		k := key(n)
		switch op := rng.IntN(10); {
		case op < 4: // Get then Put, as counters do
			it, ok := tr.Lookup(k)
			if v, had := m[string(k)]; ok != had || ok && string(it.Value()) != v {
				t.Fatalf("step %d: Lookup(%q) = %q, %v; want %q, %v", step, k, it.Value(), ok, v, had)
			}
			v := fmt.Sprint(rng.IntN(1000))
			tr.PutMarked(k, []byte(v), marked(v))
			m[string(k)] = v
		case op < 7: // Put alone
			v := fmt.Sprint(rng.IntN(1000))
			tr.PutMarked(k, []byte(v), marked(v))
			m[string(k)] = v
		case op < 9:
			_, ok := tr.Delete(k)
			if _, had := m[string(k)]; ok != had {
				t.Fatalf("step %d: Delete(%q) = %v; want %v", step, k, ok, had)
			}
			delete(m, string(k))
		default:
			if it, ok := tr.Get(k); ok != (m[string(k)] != "") || ok && string(it.Value()) != m[string(k)] {
				t.Fatalf("step %d: Get(%q) = %q, %v; want %q", step, k, it.Value(), ok, m[string(k)])
			}
		}
		if rng.IntN(3000) == 0 {
			clones = append(clones, clone{tr.Clone(), maps.Clone(m)})
		}
		if step%10000 == 9999 {
			m.check(t, tr, rng)
		}
	}
	// Delete all in order, with Lookups in between, down to an empty tree
	// and up again.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		tr.Lookup([]byte(k))
		if _, ok := tr.Delete([]byte(k)); !ok {
			t.Fatalf("Delete(%q) found nothing", k)
		}
		delete(m, k)
	}
	m.check(t, tr, rng)
	for n := range 500 {
		k := key(n)
		if _, ok := tr.Lookup(k); ok {
			t.Fatalf("Lookup(%q) in an emptied tree found it", k)
		}
		tr.PutMarked(k, []byte("vv"), marked("vv"))
		m[string(k)] = "vv"
	}
	m.check(t, tr, rng)
	for _, c := range clones {
		c.m.check(t, c.tr, rng)
	}
}

// A leaf filled in key order splits at the insertion point, so the
// leaves it leaves behind are fuller than half.
func TestOrderedFill(t *testing.T) {
	tr := New[struct{}]()
	for n := range 10000 {
		tr.Put(fmt.Appendf(nil, "feed%08d", n), []byte("v"))
	}
	checkTree(t, tr)
	leaves := 0
	var walk func(n *node[struct{}])
	walk = func(n *node[struct{}]) {
		if n.kids == nil {
			leaves++
			return
		}
		for i := 0; i <= n.n; i++ {
			walk(n.kids[i])
		}
	}
	walk(tr.root)
	if fill := 10000 / leaves; fill < maxItems-minItems-1 {
		t.Errorf("%d keys in ascending order fill %d leaves, %d keys each; want at least %d", 10000, leaves, fill, maxItems-minItems-1)
	}
}

// leafStats returns the number of leaves of tr, the bytes of its entries
// and the bytes of arena its leaves count as pinned.
func leafStats[V any](tr *Tree[V]) (leaves, live, pinned int) {
	var walk func(n *node[V])
	walk = func(n *node[V]) {
		if n.kids == nil {
			leaves++
			live += n.liveBytes(-1)
			pinned += n.pinned
			return
		}
		for i := 0; i <= n.n; i++ {
			walk(n.kids[i])
		}
	}
	if tr.root != nil {
		walk(tr.root)
	}
	return leaves, live, pinned
}

// Member ids numbered in decimal arrive in ascending order of their
// numbers but not of their bytes: "m1000" < "m10000" < … < "m10009" <
// "m1001", so each new key goes between older ones. A leaf still sees an
// ascending run and splits where the next key goes: the part left behind,
// which gets no more keys, keeps up to maxItems-minItems keys instead of
// half a leaf. And the split hands the leaf's arena to the part that gets
// the next keys, so the part left behind holds no spare arena room.
func TestInterleavedAscendingFill(t *testing.T) {
	tr := New[struct{}]()
	const n = 100000
	val := []byte("0123456789abcdef0123456789")
	for i := range n {
		tr.Put(fmt.Appendf(nil, "m%d", i), val)
	}
	checkTree(t, tr)
	leaves, live, pinned := leafStats(tr)
	// Split in the middle, the leaves would hold 32 keys each, and 33 on
	// average counting the ones still filling: at least 40 means the
	// parts left behind are kept fuller than half.
	if fill := n / leaves; fill < 40 {
		t.Errorf("%d interleaved ascending keys fill %d leaves, %d keys each; want at least 40", n, leaves, fill)
	}
	// Arenas are filled before the next one is made, so what they hold
	// beyond the entries is the room an entry did not fit in at their end
	// and the room left in the arenas of the leaves being filled: about a
	// ninth of the entries' bytes here. Were the arena left to the part
	// left behind, its room would stay empty too (a fifth).
	if limit := live + live/8; pinned > limit {
		t.Errorf("leaves of %d entry bytes pin %d arena bytes; want at most %d", live, pinned, limit)
	}
}

// A leaf splits at the insertion point after minRun inserts in a row that
// each went at most maxGap older keys after the one before; otherwise (a
// key put after each member's records in turn, with all the member's
// records between) in the middle.
func TestSplitPointRuns(t *testing.T) {
	for _, gap := range []int{0, 1, 3} {
		tr := New[struct{}]()
		// 64/(gap+1) members of gap records each, then a record after
		// each member's in turn: gap older keys lie between one insert
		// and the next, and the leaf is full.
		members := maxItems / (gap + 1)
		for m := range members {
			for r := range gap {
				tr.Put(fmt.Appendf(nil, "m%02d/%d", m, r), nil)
			}
		}
		for m := range members {
			tr.Put(fmt.Appendf(nil, "m%02d/~", m), nil)
		}
		leaf := tr.root
		if leaf.kids != nil || leaf.n != maxItems {
			t.Fatalf("gap %d: want one full leaf, got %d items", gap, leaf.n)
		}
		// The next key goes at the end, right after the last insert.
		want := maxItems - minItems
		if gap > maxGap {
			want = splitAt
		}
		if got := leaf.splitPoint([]byte("m99")); got != want {
			t.Errorf("gap %d: split at %d; want %d", gap, got, want)
		}
	}
}

// TestArenaListBounded churns one leaf through more entries with
// allocations of their own than a node can list (each insert lists one,
// each delete unlists it): the list is tidied, never longer than
// maxArenas, and the items keep their bytes.
func TestArenaListBounded(t *testing.T) {
	big := strings.Repeat("v", maxInline)
	tr, refs := New[struct{}](), New[int]()
	tr.Put([]byte("a"), []byte("kept"))
	refs.Set([]byte("a"), -1)
	for i := range 3 * maxArenas {
		k := []byte(fmt.Sprintf("b%04d", i))
		tr.Put(k, []byte(big))
		tr.Put(append(k, 's'), k) // beside it, in the leaf's arena
		refs.Set(k, i)
		if i%2 == 0 {
			tr.Delete(k)
			refs.Delete(k)
		}
		for _, n := range []int{len(tr.root.ars), len(refs.root.ars)} {
			if n > maxArenas {
				t.Fatalf("after %d inserts a leaf lists %d arenas; at most %d", i+1, n, maxArenas)
			}
		}
	}
	checkTree(t, tr)
	checkTree(t, refs)
	if it, _ := tr.Get([]byte("a")); string(it.Value()) != "kept" {
		t.Fatalf(`Get("a") = %q; want "kept"`, it.Value())
	}
	for i := 1; i < 3*maxArenas; i += 2 {
		k := fmt.Sprintf("b%04d", i)
		if it, _ := tr.Get([]byte(k)); string(it.Value()) != big {
			t.Fatalf("Get(%q): %d bytes; want %d", k, len(it.Value()), len(big))
		}
		if it, _ := tr.Get([]byte(k + "s")); string(it.Value()) != k {
			t.Fatalf("Get(%q) = %q; want %q", k+"s", it.Value(), k)
		}
		if it, _ := refs.Get([]byte(k)); it.Data != i || string(it.Key()) != k {
			t.Fatalf("Get(%q) of the Set tree: %q, %d", k, it.Key(), it.Data)
		}
	}
}
