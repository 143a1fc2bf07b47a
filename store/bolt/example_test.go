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

// BackupFile copies an open store to a file, which opens as a store of its
// own; Check finds nothing wrong with either.
func ExampleDB_BackupFile() {
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
	err = db.Update(ctx, func(tx store.Tx) error { return tx.Put("members", []byte("alice"), []byte("gold")) })
	if err != nil {
		panic(err)
	}
	backup := filepath.Join(dir, "members-backup.db")
	if _, err := db.BackupFile(ctx, backup); err != nil {
		panic(err)
	}
	restored, err := bolt.Open(backup, nil)
	if err != nil {
		panic(err)
	}
	defer restored.Close()
	fmt.Println("check:", restored.Check(ctx))
	_ = restored.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get("members", []byte("alice"))
		fmt.Printf("alice %s %v\n", v, err)
		return nil
	})
	// Output:
	// check: <nil>
	// alice gold <nil>
}

// LogDir keeps the log on another device: while the store is open its
// files are there, named after the bbolt file, and Close empties it.
// Opened later with another directory while this one holds a log (a crash
// left it), Open fails with an error wrapping ErrLogElsewhere.
func ExampleOptions_logDir() {
	dir, err := os.MkdirTemp("", "bolt-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	logDir := filepath.Join(dir, "log") // a mount of its own, in production
	if err := os.Mkdir(logDir, 0o700); err != nil {
		panic(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "members.db"), &bolt.Options{LogDir: logDir})
	if err != nil {
		panic(err)
	}
	err = db.Update(context.Background(), func(tx store.Tx) error {
		return tx.Put("members", []byte("alice"), []byte("joined"))
	})
	if err != nil {
		panic(err)
	}
	logs, _ := filepath.Glob(filepath.Join(logDir, "members.db-wal-*"))
	fmt.Println("log files while open:", len(logs) > 0)
	if err := db.Close(); err != nil {
		panic(err)
	}
	logs, _ = filepath.Glob(filepath.Join(logDir, "*"))
	fmt.Println("log files after Close:", len(logs))
	// Output:
	// log files while open: true
	// log files after Close: 0
}
