package cowtree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// keyGen makes keys of the shapes store/bolt and store/memory write: a
// member id, a kind and a time, one member's records in ascending time,
// ids numbered in decimal in ascending order, keys sharing a prefix about
// maxPrefix long, and keys from a tiny alphabet; and again keys it made.
type keyGen struct {
	rng    *rand.Rand
	seq    int      // the next of an ascending run of decimal ids
	when   uint64   // the next time of a member's ascending records
	recent [][]byte // keys made lately, as given out
}

var kinds = []string{"points", "pointsx", "coupon", "tier"}

func (g *keyGen) next() []byte {
	rng := g.rng
	var k []byte
	switch c := rng.IntN(20); {
	case c < 6: // a member's record of a kind at a time
		k = fmt.Appendf(nil, "m%07d\x00%s\x00", rng.IntN(200), kinds[rng.IntN(len(kinds))])
		k = binary.BigEndian.AppendUint64(k, uint64(rng.IntN(4))<<40|uint64(rng.IntN(3)))
	case c < 9: // one member's records in ascending time
		g.when += uint64(1 + rng.IntN(2))
		k = binary.BigEndian.AppendUint64([]byte("m0000042\x00points\x00"), g.when)
	case c < 11: // ids in decimal, ascending by number, not by bytes
		g.seq++
		k = fmt.Appendf(nil, "m%d", g.seq)
	case c < 14: // a prefix about maxPrefix long, then a short tail
		pl := maxPrefix - 3 + rng.IntN(7)
		k = append(bytes.Repeat([]byte{'p'}, pl-1), "qr"[rng.IntN(2)])
		for range rng.IntN(11) {
			k = append(k, []byte{0x00, 0x01, 'a', 0xff}[rng.IntN(4)])
		}
	case c < 16: // a tiny alphabet: heads tie, keys are prefixes of others
		for range 1 + rng.IntN(10) {
			k = append(k, []byte{0x00, 'a', 0xff}[rng.IntN(3)])
		}
	default: // a key made before
		if len(g.recent) > 0 {
			return g.recent[rng.IntN(len(g.recent))]
		}
		k = []byte("m")
	}
	if len(g.recent) < 512 {
		g.recent = append(g.recent, k)
	} else {
		g.recent[rng.IntN(len(g.recent))] = k
	}
	return k
}

// value returns a value for key k: empty, short, or such that key and
// value together are one byte under, at or over maxInline, or far over.
func (g *keyGen) value(k []byte) []byte {
	n := 0
	switch c := g.rng.IntN(12); {
	case c == 0:
	case c < 8:
		n = 1 + g.rng.IntN(20)
	case c < 11:
		n = max(maxInline-len(k)+c-9, 0)
	default:
		n = 2*maxInline + g.rng.IntN(100)
	}
	v := make([]byte, n)
	for i := range v {
		v[i] = byte(g.rng.IntN(256))
	}
	return v
}

// putEntry is what the model of a Put tree holds for a key.
type putEntry struct {
	value string
	mark  bool
}

// checkPut checks tr against the model m item by item, in order and in
// ranges whose bounds are nil, equal, reversed, keys present or absent.
func checkPut(t *testing.T, tr *Tree[struct{}], m map[string]putEntry, g *keyGen) {
	t.Helper()
	checkTree(t, tr)
	keys := slices.Sorted(maps.Keys(m))
	if tr.Len() != len(keys) {
		t.Fatalf("Len %d; want %d", tr.Len(), len(keys))
	}
	var got []string
	tr.Ascend(nil, nil, func(it Item[struct{}]) bool {
		e, ok := m[string(it.Key())]
		if !ok || string(it.Value()) != e.value || it.Marked() != e.mark {
			t.Fatalf("Ascend: item %q, %d bytes, marked %v; want %v, %d bytes, marked %v", it.Key(), len(it.Value()), it.Marked(), ok, len(e.value), e.mark)
		}
		got = append(got, string(it.Key()))
		return true
	})
	if !slices.Equal(got, keys) {
		t.Fatalf("Ascend gave %d keys, not the %d of the model in order", len(got), len(keys))
	}
	for _, k := range keys {
		if it, ok := tr.Get([]byte(k)); !ok || string(it.Value()) != m[k].value || it.Marked() != m[k].mark {
			t.Fatalf("Get(%q): %d bytes, marked %v, found %v; want %d bytes, marked %v", k, len(it.Value()), it.Marked(), ok, len(m[k].value), m[k].mark)
		}
	}
	if it, ok := tr.Min(); ok != (len(keys) > 0) || ok && string(it.Key()) != keys[0] {
		t.Fatalf("Min = %q, %v", it.Key(), ok)
	}
	for range 30 {
		checkRange(t, keys, g, func(start, end []byte, fn func([]byte) bool, desc bool) {
			visit := func(it Item[struct{}]) bool { return fn(it.Key()) }
			if desc {
				tr.Descend(start, end, visit)
			} else {
				tr.Ascend(start, end, visit)
			}
		})
		k := g.next()
		_, want := m[string(k)]
		if _, ok := tr.Get(k); ok != want {
			t.Fatalf("Get(%q) found %v; want %v", k, ok, want)
		}
	}
}

// checkRange draws bounds and a limit and checks that scan, an Ascend or
// Descend, visits keys (sorted) in that range up to the limit.
func checkRange(t *testing.T, keys []string, g *keyGen, scan func(start, end []byte, fn func([]byte) bool, desc bool)) {
	t.Helper()
	rng := g.rng
	bound := func() []byte {
		switch rng.IntN(5) {
		case 0:
			return nil
		case 1:
			if len(keys) > 0 {
				return []byte(keys[rng.IntN(len(keys))])
			}
		case 2:
			if len(keys) > 0 { // a prefix of a present key
				k := keys[rng.IntN(len(keys))]
				return []byte(k[:rng.IntN(len(k)+1)])
			}
		}
		return g.next()
	}
	start, end := bound(), bound()
	switch rng.IntN(6) {
	case 0:
		end = start // equal: nothing, unless both are nil
	case 1:
		start, end = end, start // reversed, half the time
	}
	var want []string
	for _, k := range keys {
		if (start == nil || k >= string(start)) && (end == nil || k < string(end)) {
			want = append(want, k)
		}
	}
	limit := len(want)
	if rng.IntN(3) == 0 {
		limit = rng.IntN(len(want) + 1)
	}
	for _, desc := range []bool{false, true} {
		var got []string
		scan(start, end, func(k []byte) bool {
			if len(got) == limit {
				return false
			}
			got = append(got, string(k))
			return true
		}, desc)
		w := want[:limit]
		if desc {
			w = slices.Clone(want)
			slices.Reverse(w)
			w = w[:limit]
		}
		if !slices.Equal(got, w) {
			t.Fatalf("scan(%q, %q), descending %v, limit %d: %d keys %q; want %d", start, end, desc, limit, len(got), got, len(w))
		}
	}
}

// A tree written with Put and PutMarked agrees with a sorted map through
// writes of the shapes the stores write (member, kind and time keys,
// ascending runs, long shared prefixes, values around maxInline and
// empty), Lookups followed by Puts, deletes down to merges, and clones
// taken at random points, each checked against the model as it was then
// while the original goes on; and a value handed out is never changed by
// a later write.
func TestPutTreeShapes(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			g := &keyGen{rng: rng}
			tr, m := New[struct{}](), map[string]putEntry{}
			type clone struct {
				tr *Tree[struct{}]
				m  map[string]putEntry
			}
			var clones []clone
			type heldValue struct {
				key, value []byte
				wantKey    string
				want       string
			}
			var held []heldValue
			var present []string // the model's keys, lately
			hold := func(it Item[struct{}], want string) {
				if rng.IntN(8) == 0 {
					held = append(held, heldValue{it.Key(), it.Value(), string(it.Key()), want})
				}
			}
			td := newTide()
			for step := range 20000 {
				grow := td.next(len(m), rng)
				k := g.next()
				if step%200 == 0 {
					present = slices.Collect(maps.Keys(m))
				}
				if !grow && len(present) > 0 && rng.IntN(4) > 0 {
					k = []byte(present[rng.IntN(len(present))])
				}
				put, look := 8, 11 // of 16: puts, Lookups, deletes to 14, Gets
				if !grow {
					put, look = 1, 4
				}
				switch op := rng.IntN(16); {
				case op < put:
					v, mark := g.value(k), rng.IntN(3) == 0
					var old Item[struct{}]
					var replaced bool
					if mark || rng.IntN(2) == 0 {
						old, replaced = tr.PutMarked(k, v, mark)
					} else {
						old, replaced = tr.Put(k, v)
					}
					e, had := m[string(k)]
					if replaced != had || had && (string(old.Value()) != e.value || old.Marked() != e.mark) ||
						!had && (string(old.Value()) != string(v) || old.Marked() != mark) || string(old.Key()) != string(k) {
						t.Fatalf("step %d: Put(%q) = %d bytes, marked %v, replaced %v; want %v", step, k, len(old.Value()), old.Marked(), replaced, had)
					}
					if had {
						hold(old, e.value)
					} else {
						hold(old, string(v))
					}
					m[string(k)] = putEntry{string(v), mark}
				case op < look: // a Lookup, then a Put of it or of the next key
					it, ok := tr.Lookup(k)
					e, had := m[string(k)]
					if ok != had || ok && (string(it.Value()) != e.value || it.Marked() != e.mark) {
						t.Fatalf("step %d: Lookup(%q) found %v; want %v", step, k, ok, had)
					}
					if !grow {
						break
					}
					if rng.IntN(3) == 0 {
						k = append(bytes.Clone(k), 0)
					}
					v := g.value(k)
					tr.PutMarked(k, v, false)
					m[string(k)] = putEntry{string(v), false}
				case op < 14:
					old, ok := tr.Delete(k)
					e, had := m[string(k)]
					if ok != had || ok && (string(old.Value()) != e.value || old.Marked() != e.mark) {
						t.Fatalf("step %d: Delete(%q) found %v; want %v", step, k, ok, had)
					}
					if ok {
						hold(old, e.value)
					}
					delete(m, string(k))
				default:
					it, ok := tr.Get(k)
					e, had := m[string(k)]
					if ok != had || ok && (string(it.Value()) != e.value || it.Marked() != e.mark) {
						t.Fatalf("step %d: Get(%q) found %v; want %v", step, k, ok, had)
					}
					if ok {
						hold(it, e.value)
					}
				}
				if rng.IntN(700) == 0 {
					clones = append(clones, clone{tr.Clone(), maps.Clone(m)})
					if rng.IntN(3) == 0 { // the clone is written from now on
						c := &clones[len(clones)-1]
						c.tr, tr = tr, c.tr
					}
				}
				if step%1000 == 999 {
					checkPut(t, tr, m, g)
					for _, c := range clones {
						checkPut(t, c.tr, c.m, g)
					}
					if len(clones) > 3 { // checked: keep the last three
						clones = slices.Delete(clones, 0, len(clones)-3)
					}
					for _, h := range held {
						if string(h.key) != h.wantKey || string(h.value) != h.want {
							t.Fatalf("step %d: an item handed out earlier changed: key %q, %d bytes; was %q, %d bytes", step, h.key, len(h.value), h.wantKey, len(h.want))
						}
					}
				}
			}
		})
	}
}

// A tree written with Set agrees with a sorted map through writes of the
// same shapes, Lookups before Sets, deletes and clones, and keeps the keys
// it is given: among them keys cut from one array, each a prefix of the
// next, which start at the same address.
func TestSetTreeShapes(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 12))
			g := &keyGen{rng: rng}
			tr, m := New[int](), map[string]int{}
			type clone struct {
				tr *Tree[int]
				m  map[string]int
			}
			var clones []clone
			cut := binary.BigEndian.AppendUint64([]byte("m0000007\x00points\x00"), 1<<40)
			var present []string // the model's keys, lately
			td := newTide()
			for step := range 20000 {
				grow := td.next(len(m), rng)
				k := g.next()
				switch rng.IntN(8) {
				case 0: // cut from one array: all start at one address
					k = cut[:1+rng.IntN(len(cut))]
				case 1:
					if len(k) > 1 {
						k = k[:1+rng.IntN(len(k)-1)] // shares k's first byte's address
					}
				}
				if step%200 == 0 {
					present = slices.Collect(maps.Keys(m))
				}
				if !grow && len(present) > 0 && rng.IntN(4) > 0 {
					k = []byte(present[rng.IntN(len(present))])
				}
				put := 9 // of 16: Sets, deletes to 14, Gets
				if !grow {
					put = 2
				}
				switch op := rng.IntN(16); {
				case op < put:
					if op < 3 {
						if it, ok := tr.Lookup(k); ok != (m[string(k)] != 0) || ok && it.Data != m[string(k)] {
							t.Fatalf("step %d: Lookup(%q) = %d, %v; want %d", step, k, it.Data, ok, m[string(k)])
						}
					}
					v := 1 + rng.IntN(1000)
					old, replaced := tr.Set(k, v)
					if w, had := m[string(k)]; replaced != had || had && old.Data != w || !had && old.Data != v {
						t.Fatalf("step %d: Set(%q) = %d, %v; want %d, %v", step, k, old.Data, replaced, w, had)
					}
					m[string(k)] = v
				case op < 14:
					old, ok := tr.Delete(k)
					if w, had := m[string(k)]; ok != had || ok && (old.Data != w || string(old.Key()) != string(k)) {
						t.Fatalf("step %d: Delete(%q) = %q %d, %v; want %d, %v", step, k, old.Key(), old.Data, ok, w, had)
					}
					delete(m, string(k))
				default:
					if it, ok := tr.Get(k); ok != (m[string(k)] != 0) || ok && it.Data != m[string(k)] {
						t.Fatalf("step %d: Get(%q) = %d, %v; want %d", step, k, it.Data, ok, m[string(k)])
					}
				}
				if rng.IntN(700) == 0 {
					clones = append(clones, clone{tr.Clone(), maps.Clone(m)})
				}
				if step%1000 == 999 {
					checkSet(t, tr, m, g)
					for _, c := range clones {
						checkSet(t, c.tr, c.m, g)
					}
					if len(clones) > 3 {
						clones = slices.Delete(clones, 0, len(clones)-3)
					}
				}
			}
		})
	}
}

// checkSet checks tr against the model m as checkPut does.
func checkSet(t *testing.T, tr *Tree[int], m map[string]int, g *keyGen) {
	t.Helper()
	checkTree(t, tr)
	keys := slices.Sorted(maps.Keys(m))
	if tr.Len() != len(keys) {
		t.Fatalf("Len %d; want %d", tr.Len(), len(keys))
	}
	var got []string
	tr.Ascend(nil, nil, func(it Item[int]) bool {
		if it.Data != m[string(it.Key())] {
			t.Fatalf("Ascend: %q = %d; want %d", it.Key(), it.Data, m[string(it.Key())])
		}
		got = append(got, string(it.Key()))
		return true
	})
	if !slices.Equal(got, keys) {
		t.Fatalf("Ascend gave %d keys, not the %d of the model in order", len(got), len(keys))
	}
	for _, k := range keys {
		if it, ok := tr.Get([]byte(k)); !ok || it.Data != m[k] {
			t.Fatalf("Get(%q) = %d, %v; want %d", k, it.Data, ok, m[k])
		}
	}
	for range 30 {
		checkRange(t, keys, g, func(start, end []byte, fn func([]byte) bool, desc bool) {
			visit := func(it Item[int]) bool { return fn(it.Key()) }
			if desc {
				tr.Descend(start, end, visit)
			} else {
				tr.Ascend(start, end, visit)
			}
		})
	}
}

// Readers of clones on other goroutines see what each clone held when it
// was made, item by item, in order and in ranges, while the writer goes
// on putting, overwriting with values small and large, looking up and
// deleting down to merges and compactions. Run under -race: the writer
// never writes a byte or a node a clone reads.
func TestClonesReadWhileWriting(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	g := &keyGen{rng: rng}
	tr, m := New[struct{}](), map[string]putEntry{}
	var wg sync.WaitGroup
	for round := range 8 {
		for step := range 1500 {
			k := g.next()
			switch op := rng.IntN(10); {
			case op < 5 || round%3 != 2 && op < 7:
				v := g.value(k)
				mark := rng.IntN(2) == 0
				tr.PutMarked(k, v, mark)
				m[string(k)] = putEntry{string(v), mark}
			case op < 7:
				tr.Lookup(k)
				v := []byte(strings.Repeat("l", step%40))
				tr.Put(k, v)
				m[string(k)] = putEntry{string(v), false}
			default:
				tr.Delete(k)
				delete(m, string(k))
			}
		}
		c, cm := tr.Clone(), maps.Clone(m)
		if round%2 == 1 { // the writer goes on with the clone instead
			c, tr = tr, c
		}
		// Two readers a tree: Gets may run alongside each other.
		for range 2 {
			wg.Add(1)
			go readClone(t, &wg, round, c, cm)
		}
	}
	wg.Wait()
	checkPut(t, tr, m, g)
}

// readClone checks c against the model cm: all items ascending,
// descending and ascending again, and each by Get.
func readClone(t *testing.T, wg *sync.WaitGroup, round int, c *Tree[struct{}], cm map[string]putEntry) {
	defer wg.Done()
	keys := slices.Sorted(maps.Keys(cm))
	for pass := range 3 {
		i := 0
		visit := func(it Item[struct{}]) bool {
			if j := len(keys) - 1 - i; pass == 1 && string(it.Key()) != keys[j] || pass != 1 && string(it.Key()) != keys[i] {
				t.Errorf("clone %d: key %d is %q, not the model's", round, i, it.Key())
				return false
			}
			if e := cm[string(it.Key())]; string(it.Value()) != e.value || it.Marked() != e.mark {
				t.Errorf("clone %d: %q has %d bytes, marked %v; want %d, %v", round, it.Key(), len(it.Value()), it.Marked(), len(e.value), e.mark)
				return false
			}
			i++
			return true
		}
		if pass == 1 {
			c.Descend(nil, nil, visit)
		} else {
			c.Ascend(nil, nil, visit)
		}
		if i != len(keys) {
			t.Errorf("clone %d: pass %d visited %d of %d keys", round, pass, i, len(keys))
		}
		for _, k := range keys {
			if it, ok := c.Get([]byte(k)); !ok || string(it.Value()) != cm[k].value {
				t.Errorf("clone %d: Get(%q) found %v, %d bytes; want %d", round, k, ok, len(it.Value()), len(cm[k].value))
				return
			}
		}
	}
}

// Keys given to Set may start at one address: "a", "aa", "aaa"… cut from
// one array. Each is an arena of its own, so deleting or replacing one
// leaves the others' keys alone, after the leaves holding them merged
// too.
func TestSetKeysAtOneAddress(t *testing.T) {
	a := bytes.Repeat([]byte{'a'}, 100)
	tr := New[int]()
	for n := 1; n <= 100; n++ {
		tr.Set(a[:n], n)
	}
	for n := 100; n > 40; n-- { // the two leaves merge on the way
		if _, ok := tr.Delete(a[:n]); !ok {
			t.Fatalf("Delete of %d a's found nothing", n)
		}
	}
	tr.Delete(a[:1])
	tr.Set(a[:3], 33)
	checkTree(t, tr)
	// Left: 2 to 40 a's, each with its length but 3 a's with 33.
	if tr.Len() != 39 {
		t.Fatalf("Len %d; want 39", tr.Len())
	}
	n := 2
	tr.Ascend(nil, nil, func(it Item[int]) bool {
		want := n
		if n == 3 {
			want = 33
		}
		if string(it.Key()) != string(a[:n]) || it.Data != want {
			t.Fatalf("item %d: %q = %d; want %d a's = %d", n-2, it.Key(), it.Data, n, want)
		}
		n++
		return true
	})
	if n != 41 {
		t.Fatalf("Ascend stopped before %d a's; want 41", n)
	}
}

// An inner node that falls under minItems separators takes some of a
// sibling's when both do not fit in one. Filled in key order, inner nodes
// split in the middle and are left about half full, but for the last,
// which goes on filling; deleting the keys under the ones before it
// leaves one underfull beside a sibling too full to merge with.
func TestInnerBorrow(t *testing.T) {
	tr, m := New[struct{}](), map[string]putEntry{}
	key := func(n int) []byte { return fmt.Appendf(nil, "k%07d", n) }
	const n = 6000
	for i := range n {
		tr.Put(key(i), []byte{byte(i)})
		m[string(key(i))] = putEntry{value: string([]byte{byte(i)})}
	}
	g := &keyGen{rng: rand.New(rand.NewPCG(31, 32))}
	checkPut(t, tr, m, g)
	for i := 1600; i < 3200; i++ {
		if _, ok := tr.Delete(key(i)); !ok {
			t.Fatalf("Delete(%q) found nothing", key(i))
		}
		delete(m, string(key(i)))
		if i%50 == 0 {
			checkPut(t, tr, m, g)
		}
	}
	checkPut(t, tr, m, g)
}

// FuzzTree runs the operations data spells out (a byte for the operation,
// one for the key, one for the value's size) on a tree and a map, cloning
// now and then, and checks the tree, its clones and the values it handed
// out against the map. Its seeds run with the tests; go test -fuzz
// FuzzTree looks further.
func FuzzTree(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0, 2, 3, 1, 1, 0, 4, 5, 6})
	f.Add(bytes.Repeat([]byte{0, 7, 3, 0, 9, 4, 2, 7, 0, 5, 9, 1}, 40))
	f.Add(bytes.Repeat([]byte{3, 200, 2, 0, 201, 3, 1, 202, 0}, 60))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Keys share a prefix 46 bytes long and differ in a few bytes
		// around maxPrefix and in their length; value sizes put key and
		// value just under, at and over maxInline.
		key := func(b byte) []byte {
			k := bytes.Repeat([]byte{'p'}, 46)
			return append(k, b>>6, b>>3&7, b&7)[:47+int(b)%3]
		}
		sizes := []int{0, 1, 9, maxInline - 49, maxInline - 48, maxInline - 47, 3 * maxInline}
		tr, m := New[struct{}](), map[string]putEntry{}
		type clone struct {
			tr *Tree[struct{}]
			m  map[string]putEntry
		}
		var clones []clone
		type heldValue struct{ got, want string }
		var held []heldValue
		for ; len(data) >= 3; data = data[3:] {
			k := key(data[1])
			switch data[0] % 5 {
			case 0, 1: // Put, marked on 1; after a Lookup when the size is odd
				if data[2]&1 == 1 {
					tr.Lookup(k)
				}
				v := bytes.Repeat([]byte{data[2]}, sizes[int(data[2])%len(sizes)])
				it, _ := tr.PutMarked(k, v, data[0]%5 == 1)
				held = append(held, heldValue{unsafe.String(unsafe.SliceData(it.Value()), len(it.Value())), string(it.Value())})
				m[string(k)] = putEntry{string(v), data[0]%5 == 1}
			case 2:
				tr.Delete(k)
				delete(m, string(k))
			case 3: // a run of ten keys in order
				for i := range byte(10) {
					k := key(data[1] + i)
					tr.Put(k, []byte{i})
					m[string(k)] = putEntry{value: string([]byte{i})}
				}
			case 4:
				clones = append(clones, clone{tr.Clone(), maps.Clone(m)})
			}
		}
		g := &keyGen{rng: rand.New(rand.NewPCG(uint64(len(m)), 1))}
		checkPut(t, tr, m, g)
		for _, c := range clones {
			checkPut(t, c.tr, c.m, g)
		}
		for _, h := range held {
			if h.got != h.want {
				t.Fatalf("a value handed out changed from %d bytes to %d", len(h.want), len(h.got))
			}
		}
	})
}

// tide is the size schedule of the shape tests: a tree grows to a few
// thousand keys (three levels), then shrinks, to empty the first time
// and every other time after, so that leaves and inner nodes split,
// borrow and merge and the root comes and goes.
type tide struct {
	grow                 bool
	top, bottom, shrinks int
}

func newTide() *tide { return &tide{grow: true, top: 4000} }

// next reports whether the next step grows a tree of n keys.
func (t *tide) next(n int, rng *rand.Rand) bool {
	if t.grow && n >= t.top {
		t.grow, t.bottom = false, 200*(t.shrinks%2)
		t.shrinks++
	} else if !t.grow && n <= t.bottom {
		t.grow, t.top = true, 2500+rng.IntN(2500)
	}
	return t.grow
}
