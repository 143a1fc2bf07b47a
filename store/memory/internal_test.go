package memory

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/memberkit/membership/store"
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
func checkTree(t *testing.T, tr *btree) {
	t.Helper()
	if tr.root == nil {
		if tr.Len() != 0 {
			t.Fatalf("empty tree with Len %d", tr.Len())
		}
		return
	}
	count, leafDepth := 0, -1
	var walk func(n *node, lo, hi []byte, depth int)
	walk = func(n *node, lo, hi []byte, depth int) {
		if n != tr.root && n.n < minItems {
			t.Fatalf("node with %d items; want at least %d", n.n, minItems)
		}
		if n.n > maxItems || n.plen > maxPrefix {
			t.Fatalf("node with %d items, prefix %d", n.n, n.plen)
		}
		for i := range n.n {
			k := n.items[i].key()
			if !bytes.HasPrefix(k, n.pre[:n.plen]) {
				t.Fatalf("key %q lacks the node prefix %q", k, n.pre[:n.plen])
			}
			if n.heads[i] != head(k[n.plen:]) {
				t.Fatalf("key %q: head %x; want %x", k, n.heads[i], head(k[n.plen:]))
			}
			if i > 0 && bytes.Compare(n.items[i-1].key(), k) >= 0 {
				t.Fatalf("keys out of order: %q then %q", n.items[i-1].key(), k)
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
				clo = n.items[i-1].key()
			}
			if i < n.n {
				chi = n.items[i].key()
			}
			walk(n.kids[i], clo, chi, depth+1)
		}
	}
	walk(tr.root, nil, nil, 0)
	if count != tr.Len() {
		t.Fatalf("%d keys in the leaves; Len %d", count, tr.Len())
	}
}

// treeModel is what a tree should hold.
type treeModel map[string]string

func (m treeModel) check(t *testing.T, tr *btree, rng *rand.Rand) {
	t.Helper()
	checkTree(t, tr)
	keys := slices.Sorted(maps.Keys(m))
	if tr.Len() != len(keys) {
		t.Fatalf("Len %d; want %d", tr.Len(), len(keys))
	}
	for _, k := range keys {
		if it, ok := tr.Get([]byte(k)); !ok || string(it.value()) != m[k] {
			t.Fatalf("Get(%q) = %q, %v; want %q", k, it.value(), ok, m[k])
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
		visit := func(it item) bool {
			if len(got) == limit {
				return false
			}
			got = append(got, string(it.key()))
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
	tr, m := newBtree(), treeModel{}
	type clone struct {
		tr *btree
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
		for range 300 + rng.IntN(1500) {
			k := treeKey(rng, prev)
			prev = k
			if grow || rng.IntN(4) == 0 {
				v := fmt.Sprint(rng.IntN(1000))
				if rng.IntN(50) == 0 { // too large for a leaf's arena
					v = strings.Repeat(v, maxInline/2)
				}
				old, replaced := tr.ReplaceOrInsert(k, []byte(v))
				if ov, ok := m[string(k)]; ok != replaced || (ok && string(old.value()) != ov) || (!ok && string(old.value()) != v) {
					t.Fatalf("ReplaceOrInsert(%q) replaced %q, %v; want %q, %v", k, old.value(), replaced, ov, ok)
				}
				m[string(k)] = v
				if rng.IntN(20) == 0 {
					it, _ := tr.Get(k)
					held = append(held, heldValue{it.value(), v})
				}
				continue
			}
			if len(m) > 0 && rng.IntN(2) == 0 { // an existing key
				ks := slices.Sorted(maps.Keys(m))
				k = []byte(ks[rng.IntN(len(ks))])
			}
			old, ok := tr.Delete(k)
			if ov, had := m[string(k)]; ok != had || (ok && string(old.value()) != ov) {
				t.Fatalf("Delete(%q) = %q, %v; want %q, %v", k, old.value(), ok, ov, had)
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
	for _, tc := range []struct{ key, value string }{
		{"k", ""}, {"k", "v"}, {"12345678", "value"}, {"123456789", ""}, {"a longer key than eight bytes", "and a value"},
	} {
		it := newItem([]byte(tc.key), []byte(tc.value))
		if string(it.key()) != tc.key || string(it.value()) != tc.value || it.value() == nil {
			t.Errorf("newItem(%q, %q): key %q, value %q (nil: %v)", tc.key, tc.value, it.key(), it.value(), it.value() == nil)
		}
		if cap(it.key()) != len(tc.key) || cap(it.value()) != len(tc.value) {
			t.Errorf("newItem(%q, %q): key and value slices have spare capacity; appending to one would overwrite the other", tc.key, tc.value)
		}
	}
}

// A failed Update drops the buckets it created, which would otherwise
// stay as empty trees.
func TestRollbackDropsNewBuckets(t *testing.T) {
	s := New()
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put("kept", []byte("k"), nil) }); err != nil {
		t.Fatal(err)
	}
	errRefused := errors.New("refused")
	err := s.Update(t.Context(), func(tx store.Tx) error {
		for _, b := range []string{"kept", "new1", "new2"} {
			if err := tx.Put(b, []byte("k2"), []byte("v")); err != nil {
				return err
			}
		}
		return errRefused
	})
	if err != errRefused {
		t.Fatalf("Update = %v; want %v", err, errRefused)
	}
	if got := slices.Sorted(maps.Keys(s.buckets)); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("buckets after a failed Update: %q; want only kept", got)
	}
}
