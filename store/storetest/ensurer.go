package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/memberkit/membership/store"
)

// testEnsurer checks store.Ensurer, for a store whose transactions have it
// (the capability is optional): an ensured key is written when absent and
// kept when present, whether or not the transaction reads it afterwards
// (a Get, in a Scan callback too; a Scan), read it before, or wrote it; a
// Put or Delete after the Ensure replaces it; a failed Update leaves
// nothing; of 8 goroutines ensuring one key at once, all succeed and one
// value is kept.
func testEnsurer(t *testing.T, s store.Store) {
	isEnsurer := false
	update(t, s, func(tx store.Tx) error { _, isEnsurer = tx.(store.Ensurer); return nil })
	if !isEnsurer {
		return
	}
	ensure := func(tx store.Tx, key, value string) error {
		return tx.(store.Ensurer).Ensure("e", bs(key), bs(value))
	}
	put(t, s, "e", "old", "1", "oldread", "1", "oldget", "1", "oldscan", "1", "deleted", "1", "putover", "1")
	put(t, s, "e2", "k", "v")
	update(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "e", "oldread", "1", false) // read before: known present
		wantValue(t, tx, "e", "newread", "", true)   // read before: known absent
		if err := tx.Put("e", bs("written"), bs("1")); err != nil {
			return err
		}
		if err := tx.Delete("e", bs("deleted")); err != nil {
			return err
		}
		for _, k := range []string{"new", "old", "oldread", "newread", "oldget", "newget", "oldscan", "newscan",
			"written", "deleted", "putover", "delover"} {
			if err := ensure(tx, k, "2"); err != nil {
				return err
			}
		}
		if err := tx.Put("e", bs("putover"), bs("3")); err != nil {
			return err
		}
		if err := tx.Delete("e", bs("delover")); err != nil {
			return err
		}
		wantValue(t, tx, "e", "oldget", "1", false)
		wantValue(t, tx, "e", "newget", "2", false)
		// Only these keys are read after their Ensure: "new" and "old" are
		// left to the commit.
		wantScan(t, tx, "e", bs("newscan"), bs("newscan\x00"), false, "newscan=2")
		wantScan(t, tx, "e", bs("oldscan"), bs("oldscan\x00"), true, "oldscan=1")
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		wantScan(t, tx, "e", nil, nil, false,
			"deleted=2", "new=2", "newget=2", "newread=2", "newscan=2",
			"old=1", "oldget=1", "oldread=1", "oldscan=1", "putover=3", "written=1")
		return nil
	})

	// A Get inside a Scan callback (of another bucket) reads an Ensure
	// made before the Scan: a read, which the callback may make.
	update(t, s, func(tx store.Tx) error {
		if err := ensure(tx, "inscan", "4"); err != nil {
			return err
		}
		return tx.Scan("e2", nil, nil, false, func(_, _ []byte) error {
			wantValue(t, tx, "e", "inscan", "4", false)
			return nil
		})
	})
	view(t, s, func(tx store.Tx) error { wantValue(t, tx, "e", "inscan", "4", false); return nil })

	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := ensure(tx, "failed", "1"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v; want errBoom", err)
	}
	view(t, s, func(tx store.Tx) error { wantValue(t, tx, "e", "failed", "", true); return nil })

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(t.Context(), func(tx store.Tx) error { return ensure(tx, "race", fmt.Sprint(g)) })
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	view(t, s, func(tx store.Tx) error {
		n := 0
		err := tx.Scan("e", bs("race"), bs("race\x00"), false, func(_, v []byte) error { n++; return nil })
		if err != nil || n != 1 {
			t.Errorf("race: %d keys, %v; want 1", n, err)
		}
		return nil
	})
}
