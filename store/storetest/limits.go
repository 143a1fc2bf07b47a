package storetest

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/memberkit/membership/store"
)

// keySize is the longest key every store keeps (store's Caveats).
const keySize = 1024

// noise returns n bytes that do not compress (a store that compresses
// keys would otherwise take a long key it cannot keep when it repeats).
func noise(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// testSizes checks the sizes every store takes (see store's Caveats):
// keys of up to 1,024 bytes and values of up to 1 MiB are kept and read
// back whole, in order; a key longer than a store can keep is refused by
// the Put with an error wrapping ErrInvalid, leaving the transaction's
// other writes to commit, never failed at the commit.
func testSizes(t *testing.T, s store.Store) {
	prefix := noise(1, keySize-1)
	key := func(last byte) []byte { return append(slices.Clone(prefix), last) }
	small := key(0x01)
	big := noise(2, 1<<20)
	// A key of 40,000 bytes: over bolt's 32 KiB, and a PostgreSQL
	// index entry's 2,704 bytes (noise does not compress).
	long, taken := noise(3, 40_000), false
	update(t, s, func(tx store.Tx) error {
		for _, last := range []byte{0x80, 0x01, 0xff} {
			if err := tx.Put("b", key(last), []byte{last}); err != nil {
				return err
			}
		}
		if err := tx.Put("b", small, big); err != nil {
			return err
		}
		// A key of 40,000 bytes: over bolt's 32 KiB, and a PostgreSQL
		// index entry's 2,704 bytes (noise does not compress).
		if err := tx.Put("long", long, []byte("v")); err != nil && !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Put of a key of 40,000 bytes = %v; want nil or an error wrapping ErrInvalid", err)
		} else if err == nil {
			taken = true
		}
		return nil
	})
	check := func(tx store.Tx) {
		t.Helper()
		if taken {
			wantValue(t, tx, "long", string(long), "v", false)
		} else {
			wantScan(t, tx, "long", nil, nil, false)
		}
		v, err := tx.Get("b", small)
		if err != nil || !slices.Equal(v, big) {
			t.Errorf("Get of a key of %d bytes: %d bytes, %v; want the value of %d bytes put", len(small), len(v), err, len(big))
		}
		for _, reverse := range []bool{false, true} {
			var got []byte
			err := tx.Scan("b", nil, nil, reverse, func(k, v []byte) error {
				if !slices.Equal(k[:len(k)-1], prefix) {
					t.Errorf("Scan(reverse=%v) passed a key of %d bytes that is not one put", reverse, len(k))
				}
				got = append(got, k[len(k)-1])
				return nil
			})
			want := []byte{0x01, 0x80, 0xff}
			if reverse {
				want = []byte{0xff, 0x80, 0x01}
			}
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("Scan(reverse=%v) over keys of %d bytes: last bytes %x, %v; want %x", reverse, keySize, got, err, want)
			}
		}
	}
	view(t, s, func(tx store.Tx) error { check(tx); return nil })
	update(t, s, func(tx store.Tx) error { check(tx); return nil })
}

// testPanicLeavesNothing checks that a function that panics after writing
// leaves nothing written, as one returning an error does: the panic goes
// on up to Update's (or View's) caller, or the store returns it as an
// error, and the store goes on, its locks released.
func testPanicLeavesNothing(t *testing.T, s store.Store) {
	put(t, s, "b", "x", "1", "y", "1")
	const boom = "storetest: panic"
	call := func(what string, run func() error) {
		t.Helper()
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil && p != boom {
					t.Errorf("%s panicked with %v; want the function's panic %q", what, p, boom)
				} else if p != nil {
					err = errors.New(boom)
				}
			}()
			err = run()
		}()
		if err == nil {
			t.Errorf("%s whose function panicked returned nil; want the panic or an error", what)
		}
	}
	for range 2 { // the second time finds the locks the first took released
		call("Update", func() error {
			return s.Update(t.Context(), func(tx store.Tx) error {
				for _, err := range []error{
					tx.Put("b", bs("x"), bs("2")),
					tx.Delete("b", bs("y")),
					tx.Put("b", bs("z"), bs("2")),
					tx.Put("new", bs("k"), bs("v")),
				} {
					if err != nil {
						t.Errorf("write in Update: %v", err)
					}
				}
				panic(boom)
			})
		})
		call("View", func() error {
			return s.View(t.Context(), func(tx store.Tx) error { panic(boom) })
		})
	}
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, "x=1", "y=1")
		wantScan(t, tx, "new", nil, nil, false)
		return nil
	})
	put(t, s, "b", "x", "3")
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "b", nil, nil, false, "x=3", "y=1")
		return nil
	})
}
