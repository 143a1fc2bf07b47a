package storetest

import (
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// testWritesCopy checks that a transaction keeps none of the buffers the
// calls besides Put (PutCopies) are given: the caller rewrites each key,
// value and bound once the call returns, as the library does with its
// scratch buffers, and what the call did stands as asked, for the
// transaction's own reads and once committed. It covers Delete, the
// optional writes of store.Inserter, store.Ensurer and store.Adder, and
// the reads store.Preload is given.
func testWritesCopy(t *testing.T, s store.Store) {
	put(t, s, "b", "a", "1", "b", "2", "c", "3", "d", "4")
	want := []string{"b=2", "c=3", "d=4"} // "b" once committed, in key order
	update(t, s, func(tx store.Tx) error {
		// Preload first: a store that kept the key or the bounds would
		// answer later reads of other keys from what it read for these.
		key, start, end := bs("a"), bs("b"), bs("c")
		if err := store.Preload(tx, store.Read{Bucket: "b", Key: key}, store.Read{Bucket: "b", Start: start, End: end}); err != nil {
			return err
		}
		copy(key, "c")
		copy(start, "a")
		copy(end, "z")
		wantValue(t, tx, "b", "a", "1", false)
		wantValue(t, tx, "b", "c", "3", false)
		wantScan(t, tx, "b", bs("a"), bs("z"), false, "a=1", "b=2", "c=3", "d=4")

		key = bs("a")
		if err := tx.Delete("b", key); err != nil {
			return err
		}
		copy(key, "b")
		if ins, ok := tx.(store.Inserter); ok {
			k, v := bs("i"), bs("5")
			if err := ins.Insert("b", k, v); err != nil {
				return err
			}
			copy(k, "j")
			copy(v, "X")
			want = append(want, "i=5")
		}
		if en, ok := tx.(store.Ensurer); ok {
			k, v := bs("e"), bs("6")
			if err := en.Ensure("b", k, v); err != nil {
				return err
			}
			copy(k, "f")
			copy(v, "Y")
			want = append(want, "e=6")
		}
		if ad, ok := tx.(store.Adder); ok {
			k := bs("n")
			if err := ad.Add("t", k, decimal.NewFromInt(7)); err != nil {
				return err
			}
			copy(k, "m")
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "a", "", true)
		for _, kv := range want {
			wantValue(t, tx, "b", kv[:1], kv[2:], false)
		}
		for _, absent := range []string{"j", "f"} {
			wantValue(t, tx, "b", absent, "", true)
		}
		if got := len(scan(t, tx, "b", nil, nil, false)); got != len(want) {
			t.Errorf("bucket b holds %d keys, want %d: %q", got, len(want), want)
		}
		if _, ok := tx.(store.Adder); ok {
			wantAmount(t, tx, "t", "n", "7")
			wantValue(t, tx, "t", "m", "", true)
		}
		return nil
	})
}

// testValuesStay checks what a caller may rely on with the bytes Get
// returns and Scan passes (store's Caveats): they keep their value until
// the transaction ends, whatever it writes after (a Put of the key over
// them, their key's Delete), and appending to them changes nothing the
// store holds, though its other keys and values may lie right after them
// in memory.
func testValuesStay(t *testing.T, s store.Store) {
	put(t, s, "b", "a", "1", "b", "2")
	get := func(tx store.Tx, key string) []byte {
		t.Helper()
		v, err := tx.Get("b", bs(key))
		if err != nil {
			t.Errorf("Get(b, %q): %v", key, err)
		}
		return v
	}
	stays := func(what string, v []byte, want string) {
		t.Helper()
		if string(v) != want {
			t.Errorf("%s = %q, changed by a later write of the transaction; want %q", what, v, want)
		}
	}
	update(t, s, func(tx store.Tx) error {
		committed := get(tx, "a")
		var scanned []byte
		err := tx.Scan("b", bs("b"), nil, false, func(_, v []byte) error {
			scanned = v
			return store.StopScan
		})
		if err != nil {
			return err
		}
		for _, kv := range [][2]string{{"a", "9"}, {"b", "8"}, {"c", "3"}, {"d", "4"}} {
			if err := tx.Put("b", bs(kv[0]), bs(kv[1])); err != nil {
				return err
			}
		}
		own := get(tx, "a") // the transaction's own write
		if err := tx.Put("b", bs("a"), bs("7")); err != nil {
			return err
		}
		ownAgain := get(tx, "a")
		if err := tx.Delete("b", bs("a")); err != nil {
			return err
		}
		stays("a value Get returned before a Put of its key", committed, "1")
		stays("a value Scan passed before a Put of its key", scanned, "2")
		stays("the transaction's own value Get returned before a Put of its key", own, "9")
		stays("the transaction's own value Get returned before a Delete of its key", ownAgain, "7")

		for _, k := range []string{"b", "c"} {
			_ = append(get(tx, k), "XXXXXXXX"...)
		}
		wantScan(t, tx, "b", nil, nil, false, "b=8", "c=3", "d=4")
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		for _, k := range []string{"b", "c"} {
			_ = append(get(tx, k), "XXXXXXXX"...)
		}
		err := tx.Scan("b", nil, nil, false, func(_, v []byte) error {
			_ = append(v, "XXXXXXXX"...)
			return nil
		})
		if err != nil {
			return err
		}
		wantScan(t, tx, "b", nil, nil, false, "b=8", "c=3", "d=4")
		return nil
	})
}
