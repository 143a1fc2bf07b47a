package bolt_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// readStore returns a store whose bbolt file holds 100,000 keys of bucket
// "b", key000000, key000002, …, with nothing in its overlay.
func readStore(b *testing.B) *bolt.DB {
	path := filepath.Join(b.TempDir(), "store.db")
	db, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	err = db.Update(b.Context(), func(tx store.Tx) error {
		for i := range readKeys {
			if err := tx.Put("b", fmt.Appendf(nil, "key%06d", 2*i), []byte("value")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if db, err = bolt.Open(path, &bolt.Options{NoSync: true}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

const readKeys = 100_000

// BenchmarkScanAll measures a Scan of readStore's 100,000 keys an op.
func BenchmarkScanAll(b *testing.B) {
	db := readStore(b)
	for b.Loop() {
		n := 0
		err := db.View(b.Context(), func(tx store.Tx) error {
			return tx.Scan("b", nil, nil, false, func(k, v []byte) error { n++; return nil })
		})
		if err != nil || n != readKeys {
			b.Fatalf("Scan: %d keys, %v", n, err)
		}
	}
}

// BenchmarkGetMiss measures a Get of a key that the bbolt file does not
// hold, between two that it does (each in a gap no Get met before, so
// every one checks the records around it and the page before it): 100,000
// keys checkpointed into the file, a View of 1,000 Gets an op.
func BenchmarkGetMiss(b *testing.B) {
	db := readStore(b)
	const n = readKeys
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key%06d", 2*((i*7919)%n)+1)
	}
	for i := 0; b.Loop(); i++ {
		err := db.View(b.Context(), func(tx store.Tx) error {
			for j := range 1000 {
				if _, err := tx.Get("b", keys[(i*1000+j)%n]); !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
