package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/memberkit/membership/store"
)

// insertOrRead is how a caller uses store.Inserter: insert key unread
// while it is fresh, else read it and keep what is there. It reports, for
// the run that counted, whether it inserted.
func insertOrRead(s store.Store, key, value string) (inserted bool, found string, err error) {
	err = s.Update(context.Background(), func(tx store.Tx) error {
		inserted, found = false, ""
		ins := tx.(store.Inserter)
		if ins.Fresh("i", bs(key)) {
			inserted = true
			return ins.Insert("i", bs(key), bs(value))
		}
		v, err := tx.Get("i", bs(key))
		if errors.Is(err, store.ErrNotFound) {
			inserted = true
			return tx.Put("i", bs(key), bs(value))
		}
		found = string(v)
		return err
	})
	return inserted, found, err
}

// testInserter checks store.Inserter, for a store whose transactions have
// it (the capability is optional): a fresh key is inserted and read back;
// inserting a key that exists runs the function again with the key no
// longer fresh, and changes nothing; of 8 goroutines inserting one key at
// once, exactly one inserts and the others find its value.
func testInserter(t *testing.T, s store.Store) {
	isInserter := false
	update(t, s, func(tx store.Tx) error { _, isInserter = tx.(store.Inserter); return nil })
	if !isInserter {
		return
	}
	update(t, s, func(tx store.Tx) error {
		if err := tx.(store.Inserter).Insert("i", bs("new"), bs("1")); err != nil {
			return err
		}
		wantValue(t, tx, "i", "new", "1", false)
		return nil
	})
	inserted, found, err := insertOrRead(s, "new", "2")
	if err != nil || inserted || found != "1" {
		t.Errorf("inserting an existing key: inserted %v, found %q, %v; want false, 1", inserted, found, err)
	}
	view(t, s, func(tx store.Tx) error { wantValue(t, tx, "i", "new", "1", false); return nil })

	var wg sync.WaitGroup
	var mu sync.Mutex
	winners, values := 0, map[string]int{}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ins, found, err := insertOrRead(s, "race", fmt.Sprint(g))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case ins:
				winners++
				values[fmt.Sprint(g)]++
			default:
				values[found]++
			}
		}()
	}
	wg.Wait()
	if winners != 1 || len(values) != 1 {
		t.Errorf("%d goroutines inserted, values seen %v; want 1 and one value", winners, values)
	}
}
