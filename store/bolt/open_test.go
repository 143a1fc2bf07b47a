package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// goodFile returns the bytes of a closed store holding b/k = v.
func goodFile(t *testing.T) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "good")
	db, err := bolt.Open(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openFDs returns the number of open file descriptors of the process, or
// -1 where /proc does not tell.
func openFDs() int {
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(e)
}

// TestFailedOpenReleasesFile checks that an Open that fails on a damaged
// file (bbolt panics on it, or refuses it) keeps neither the file's lock
// nor a descriptor: once a good copy is written over the same path, as
// README's Restore does, Open succeeds at once.
func TestFailedOpenReleasesFile(t *testing.T) {
	good := goodFile(t)
	for _, c := range []struct {
		name    string
		content []byte
	}{
		{"truncated to 8193 bytes", good[:8193]},
		{"truncated to 4196 bytes", good[:4196]},
		{"zeros", make([]byte, 64<<10)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "db")
			if err := os.WriteFile(p, c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			fds := openFDs()
			for range 3 {
				if db, err := bolt.Open(p, nil); !errors.Is(err, bolt.ErrCorrupt) {
					if db != nil {
						db.Close()
					}
					t.Fatalf("Open of the damaged file = %v; want an error wrapping ErrCorrupt", err)
				}
			}
			if got := openFDs(); got > fds {
				t.Errorf("open descriptors: %d before the failed Opens, %d after", fds, got)
			}
			if err := os.WriteFile(p, good, 0o600); err != nil { // the same inode
				t.Fatal(err)
			}
			db := openDB(t, p, nil)
			err := db.View(t.Context(), func(tx store.Tx) error {
				v, err := tx.Get("b", []byte("k"))
				if err == nil && string(v) != "v" {
					t.Errorf("b/k = %q; want v", v)
				}
				return err
			})
			if err != nil {
				t.Fatalf("View: %v", err)
			}
		})
	}
}

// TestBackupFileOwnFileViaLinks checks that BackupFile refuses the store's
// own file reached through a symbolic link to its directory, a symbolic
// link to the file and a hard link, with the log kept elsewhere (so no log
// file lies next to the path), and leaves the store whole: an Update
// answered after it survives Close.
func TestBackupFileOwnFileViaLinks(t *testing.T) {
	dir, logDir, links := t.TempDir(), t.TempDir(), t.TempDir()
	p := filepath.Join(dir, "store.db")
	if err := os.Symlink(dir, filepath.Join(links, "dir")); err != nil {
		t.Fatalf("symlink: %v", err)
	}
	if err := os.Symlink(p, filepath.Join(links, "file")); err != nil {
		t.Fatal(err)
	}
	opts := &bolt.Options{LogDir: logDir}
	db, err := bolt.Open(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Link(p, filepath.Join(links, "hard")); err != nil {
		t.Fatal(err)
	}
	put := func(k string) {
		t.Helper()
		if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte(k), []byte("v")) }); err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	put("k1")
	before, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{
		filepath.Join(links, "dir", "store.db"),
		filepath.Join(links, "dir", ".", "store.db"),
		filepath.Join(links, "file"),
		filepath.Join(links, "hard"),
	} {
		if _, err := db.BackupFile(t.Context(), target); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("BackupFile(%s) = %v; want an error wrapping ErrInvalid", target, err)
		}
	}
	after, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("the store's file was replaced")
	}
	if fi, err := os.Lstat(filepath.Join(links, "file")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symbolic link to the file was replaced: %v, %v", fi, err)
	}
	put("k2")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, p, opts)
	var got []string
	err = db.View(t.Context(), func(tx store.Tx) error {
		return tx.Scan("b", nil, nil, false, func(k, v []byte) error { got = append(got, string(k)); return nil })
	})
	if err != nil || len(got) != 2 {
		t.Errorf("after reopening the store holds %v (%v); want k1 and k2", got, err)
	}
}

// TestOptionsRefused checks that Open refuses an option out of its range
// with an error wrapping store.ErrInvalid that names it, before it creates
// the file, where it once replaced it with its default (a negative value),
// panicked (MaxBatch math.MaxInt) or let MaxMemory bound nothing.
func TestOptionsRefused(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   bolt.Options
		option string
	}{
		{"negative MaxBatch", bolt.Options{MaxBatch: -1}, "MaxBatch"},
		{"negative LockTimeout", bolt.Options{LockTimeout: -time.Second}, "LockTimeout"},
		{"negative InitialMmapSize", bolt.Options{InitialMmapSize: -1}, "InitialMmapSize"},
		{"negative CheckpointSize", bolt.Options{CheckpointSize: -1}, "CheckpointSize"},
		{"negative MaxOverlaySize", bolt.Options{MaxOverlaySize: -1}, "MaxOverlaySize"},
		{"negative MaxMemory", bolt.Options{MaxMemory: -1}, "MaxMemory"},
		{"MaxBatch math.MaxInt", bolt.Options{MaxBatch: math.MaxInt}, "MaxBatch"},
		{"MaxBatch above the limit", bolt.Options{MaxBatch: bolt.MaxBatchLimit + 1}, "MaxBatch"},
		{"MaxMemory above the limit", bolt.Options{MaxMemory: bolt.MaxMemoryLimit + 1}, "MaxMemory"},
		{"InitialMmapSize above the limit", bolt.Options{InitialMmapSize: bolt.MaxInitialMmapSizeLimit + 1}, "InitialMmapSize"},
		{"InitialMmapSize math.MaxInt", bolt.Options{InitialMmapSize: math.MaxInt}, "InitialMmapSize"},
		{"MaxMemory math.MaxInt64", bolt.Options{MaxMemory: math.MaxInt64}, "MaxMemory"},
		{"CheckpointSize above MaxMemory", bolt.Options{MaxMemory: 1 << 20, CheckpointSize: 256 << 20}, "CheckpointSize"},
		{"CheckpointSize above the default MaxMemory", bolt.Options{CheckpointSize: bolt.DefaultMaxMemory + 1}, "CheckpointSize"},
		{"CheckpointSize math.MaxInt64", bolt.Options{CheckpointSize: math.MaxInt64}, "CheckpointSize"},
		{"MaxOverlaySize above MaxMemory", bolt.Options{MaxMemory: 1 << 20, MaxOverlaySize: 1<<20 + 1}, "MaxOverlaySize"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "db")
			db, err := bolt.Open(p, &c.opts)
			if db != nil {
				db.Close()
			}
			if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), c.option) {
				t.Errorf("Open = %v; want an error wrapping ErrInvalid naming %s", err, c.option)
			}
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused Open left a file: %v", err)
			}
		})
	}
}

// TestOptionsAtLimits checks that the largest values Open takes open a
// store that works: MaxBatchLimit, CheckpointSize and MaxOverlaySize equal
// to MaxMemory, and a CheckpointSize whose default MaxOverlaySize (4 ×)
// would pass MaxMemory, which it is then bounded by.
func TestOptionsAtLimits(t *testing.T) {
	for name, opts := range map[string]*bolt.Options{
		"MaxBatchLimit":                   {MaxBatch: bolt.MaxBatchLimit, NoSync: true},
		"everything at MaxMemory":         {MaxMemory: 1 << 20, CheckpointSize: 1 << 20, MaxOverlaySize: 1 << 20, NoSync: true},
		"CheckpointSize a half MaxMemory": {MaxMemory: 1 << 20, CheckpointSize: 1 << 19, NoSync: true},
	} {
		t.Run(name, func(t *testing.T) {
			db := tempDB(t, opts)
			if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
				t.Fatalf("Update: %v", err)
			}
		})
	}
}

// errAfter is a context whose Err is nil for its first n calls and
// context.Canceled after: a copy that stops part way.
type errAfter struct {
	context.Context
	n atomic.Int32
}

func (c *errAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestBackupFileFailedKeepsWhatPathHeld pins BackupFile's "path holds
// either a whole copy or what it held before", and its refusals' "it then
// writes nothing": a copy stopped part way (by its context, after the
// checkpoint and the first page) returns the error and leaves the older
// backup at path as it was, with no temporary file beside it; a path
// refused for the log files next to it is not created.
func TestBackupFileFailedKeepsWhatPathHeld(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, filepath.Join(dir, "store.db"), nil)
	if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	backups := t.TempDir()
	path := filepath.Join(backups, "backup.db")
	if err := os.WriteFile(path, []byte("yesterday's backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	for n := range int32(4) { // stopped before the checkpoint, before the copy, and within it
		ctx := &errAfter{Context: context.Background()}
		ctx.n.Store(n)
		if _, err := db.BackupFile(ctx, path); !errors.Is(err, context.Canceled) {
			t.Errorf("BackupFile stopped after %d checks = %v; want context.Canceled", n, err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "yesterday's backup" {
			t.Errorf("stopped after %d checks: path holds %q (%v); want yesterday's backup", n, b, err)
		}
		if entries, err := os.ReadDir(backups); err != nil || len(entries) != 1 {
			t.Errorf("stopped after %d checks: the directory holds %v (%v); want backup.db alone", n, entries, err)
		}
	}
	// The store's log lies in dir: a backup there is refused, and not made.
	beside := filepath.Join(dir, "beside.db-wal-0000000000000001")
	if err := os.WriteFile(beside, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BackupFile(t.Context(), filepath.Join(dir, "beside.db")); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("BackupFile next to log files = %v; want ErrInvalid", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "beside.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused backup's path: %v; want none", err)
	}
	// Whole, it replaces what path held.
	if _, err := db.BackupFile(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	restored := openDB(t, path, nil)
	err := restored.View(t.Context(), func(tx store.Tx) error {
		v, err := tx.Get("b", []byte("k"))
		if err == nil && string(v) != "v" {
			err = fmt.Errorf("b/k = %q", v)
		}
		return err
	})
	if err != nil {
		t.Errorf("the backup: %v; want b/k = v", err)
	}
}

var errDiskFull = errors.New("disk full")

// failingWriter takes n writes, then fails every write with errDiskFull.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n--; w.n < 0 {
		return 0, errDiskFull
	}
	return len(p), nil
}

// TestBackupReturnsTheWritersError pins Backup's "it returns … w's
// error": the error wraps what w returned, wherever in the copy w fails.
// bbolt turns the error of either meta page's write (its first two) into
// text, so a w failing there, or a context done there, was not found by
// errors.Is before.
func TestBackupReturnsTheWritersError(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "store.db"), nil)
	if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	for n := range 3 { // meta 0, meta 1, the pages
		if _, err := db.Backup(t.Context(), &failingWriter{n: n}); !errors.Is(err, errDiskFull) {
			t.Errorf("Backup to a writer failing after %d writes = %v; want an error wrapping errDiskFull", n, err)
		}
	}
}
