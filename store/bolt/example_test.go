package bolt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// Open creates the file on first use; Update commits (durably) when its
// function returns nil, and View reads a consistent snapshot.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "bolt-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "members.db"), nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()
	err = db.Update(ctx, func(tx store.Tx) error {
		for _, k := range []string{"carol", "alice", "bob"} {
			if err := tx.Put("members", []byte(k), []byte("joined")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	_ = db.View(ctx, func(tx store.Tx) error {
		return tx.Scan("members", nil, nil, false, func(k, v []byte) error {
			fmt.Printf("%s %s\n", k, v)
			return nil
		})
	})
	// Output:
	// alice joined
	// bob joined
	// carol joined
}
