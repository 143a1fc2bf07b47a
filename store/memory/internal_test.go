package memory

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/memberkit/membership/store"
)

// less must order keys exactly as bytes.Compare does, in particular keys
// shorter than the 8-byte prefix, keys that are prefixes of others and
// keys with zero bytes where a shorter key has padding.
func TestLessMatchesBytesCompare(t *testing.T) {
	alphabet := []byte{0x00, 0x01, 'a', 0x7f, 0x80, 0xff}
	rng := rand.New(rand.NewPCG(1, 2))
	key := func() []byte {
		k := make([]byte, rng.IntN(14))
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return k
	}
	check := func(a, b []byte) {
		t.Helper()
		pairs := [][2]item{{probe(a), probe(b)}}
		if len(a) > 0 && len(b) > 0 { // Put never stores an empty key
			pairs = append(pairs, [2]item{newItem(a, []byte("va")), newItem(b, nil)}, [2]item{probe(a), newItem(b, []byte("x"))})
		}
		for _, pair := range pairs {
			if got, want := less(pair[0], pair[1]), bytes.Compare(a, b) < 0; got != want {
				t.Fatalf("less(%q, %q) = %v; want %v", a, b, got, want)
			}
		}
	}
	for range 200000 {
		a := key()
		b := key()
		if rng.IntN(3) == 0 && len(a) > 0 { // b shares a prefix with a
			n := rng.IntN(len(a) + 1)
			b = append(a[:n:n], b...)
		}
		check(a, b)
		check(b, a)
		check(a, a)
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
