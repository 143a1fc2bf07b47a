package bolt_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// sums returns the SHA-256 of every file in dirs, by path.
func sums(t *testing.T, dirs ...string) map[string][32]byte {
	t.Helper()
	got := make(map[string][32]byte)
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			got[p] = sha256.Sum256(data)
		}
	}
	return got
}

// names returns the names of the files in dir, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range ents {
		ns = append(ns, e.Name())
	}
	return ns
}

// TestCrashLogDir runs the crash child with its log in a directory of its
// own and kills it mid-stream: the log's files are there, none beside the
// bbolt file. Opened with another LogDir (the default, the file's own
// directory, or an empty one), the store fails with ErrLogElsewhere and
// every file stays as it was; opened with the log's directory it has every
// acknowledged Update, and Close leaves that directory empty, after which
// any LogDir opens it.
func TestCrashLogDir(t *testing.T) {
	dir, logDir := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "crash.db")
	acked := runCrashChild(t, path, crashLogDirEnv+"="+logDir)
	if got := names(t, dir); !slices.Equal(got, []string{"crash.db"}) {
		t.Errorf("files beside the bbolt file after the crash = %q; want it alone", got)
	}
	if segs := logSegments(t, filepath.Join(logDir, "crash.db")); len(segs) == 0 {
		t.Fatalf("no log segment in LogDir after the crash: %q", names(t, logDir))
	}
	before := sums(t, dir, logDir)
	for _, other := range []string{"", t.TempDir()} {
		db, err := bolt.Open(path, &bolt.Options{LogDir: other})
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, bolt.ErrLogElsewhere) {
			t.Errorf("Open with LogDir %q = %v; want an error wrapping ErrLogElsewhere", other, err)
		}
		if after := sums(t, dir, logDir); !maps.Equal(after, before) {
			t.Errorf("Open with LogDir %q changed the files: %d before, %d after", other, len(before), len(after))
		}
	}
	db, err := bolt.Open(path, &bolt.Options{LogDir: logDir})
	if err != nil {
		t.Fatalf("Open with the log's directory: %v", err)
	}
	checkCounted(t, db, acked)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := names(t, logDir); len(got) != 0 {
		t.Errorf("LogDir after Close holds %q; want nothing", got)
	}
	db = openDB(t, path, nil)
	checkCounted(t, db, acked)
}

// TestLogDir checks where the log's files go with LogDir: into it, named
// after the bbolt file, so that two stores share it; that the store may
// move its log after a Close, and a copy of its file opens wherever its
// log is, even while the original's directory holds a log; and that a
// missing LogDir, or a file, is refused.
func TestLogDir(t *testing.T) {
	logDir := t.TempDir()
	a, b := filepath.Join(t.TempDir(), "a.db"), filepath.Join(t.TempDir(), "b.db")
	dbA := openDB(t, a, &bolt.Options{LogDir: logDir})
	dbB := openDB(t, b, &bolt.Options{LogDir: logDir})
	for i := range 3 {
		for _, db := range []*bolt.DB{dbA, dbB} {
			if err := db.Update(t.Context(), counted(fmt.Sprint("k", i))); err != nil {
				t.Fatalf("Update: %v", err)
			}
		}
	}
	if n := len(logSegments(t, filepath.Join(logDir, "a.db"))); n == 0 {
		t.Errorf("no log segment of a.db in LogDir: %q", names(t, logDir))
	}
	if n := len(logSegments(t, filepath.Join(logDir, "b.db"))); n == 0 {
		t.Errorf("no log segment of b.db in LogDir: %q", names(t, logDir))
	}
	if got := names(t, filepath.Dir(a)); !slices.Equal(got, []string{"a.db"}) {
		t.Errorf("files beside a.db = %q; want it alone", got)
	}
	// A copy of a.db's file and log, as a crash leaves them, in a
	// directory of its own: its log is beside it.
	cp := filepath.Join(t.TempDir(), "a.db")
	for _, f := range append([]string{a}, logSegments(t, filepath.Join(logDir, "a.db"))...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(filepath.Dir(cp), filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The original is open: LogDir holds its log, which the copy is not
	// held to.
	dbC := openDB(t, cp, nil)
	checkCounted(t, dbC, []string{"k0", "k1", "k2"})

	if err := dbA.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Moved after Close: nothing is left behind.
	moved := t.TempDir()
	dbA = openDB(t, a, &bolt.Options{LogDir: moved})
	if err := dbA.Update(t.Context(), counted("k3")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if n := len(logSegments(t, filepath.Join(moved, "a.db"))); n == 0 {
		t.Errorf("no log segment of a.db in the new LogDir: %q", names(t, moved))
	}
	checkCounted(t, dbA, []string{"k0", "k1", "k2", "k3"})
	if err := dbA.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The directory the log was last kept in is gone: no log is left
	// behind there.
	if err := os.RemoveAll(moved); err != nil {
		t.Fatal(err)
	}
	dbA = openDB(t, a, nil)
	checkCounted(t, dbA, []string{"k0", "k1", "k2", "k3"})

	missing := filepath.Join(t.TempDir(), "missing")
	if db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), &bolt.Options{LogDir: missing}); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			db.Close()
		}
		t.Errorf("Open with a missing LogDir = %v; want an error wrapping fs.ErrNotExist", err)
	}
	if db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), &bolt.Options{LogDir: a}); !errors.Is(err, store.ErrInvalid) {
		if err == nil {
			db.Close()
		}
		t.Errorf("Open with a file as LogDir = %v; want an error wrapping store.ErrInvalid", err)
	}
}

// TestLogDirSameName opens two stores whose files have one name, in two
// directories, with one LogDir: their logs would be one (the second
// Open would replay the first's live log into its own file, its segments
// truncate the first's, its Close remove them), so the second Open fails
// with ErrLocked, saying why, and changes nothing, making no file at its
// path; once the first is closed, it opens, empty, and each Close leaves
// LogDir empty.
func TestLogDirSameName(t *testing.T) {
	logDir := t.TempDir()
	a, b := filepath.Join(t.TempDir(), "m.db"), filepath.Join(t.TempDir(), "m.db")
	dbA := openDB(t, a, &bolt.Options{LogDir: logDir})
	if err := dbA.Update(t.Context(), counted("a0")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	before := sums(t, logDir)
	if dbB, err := bolt.Open(b, &bolt.Options{LogDir: logDir, LockTimeout: 1}); !errors.Is(err, bolt.ErrLocked) {
		if err == nil {
			dbB.Close()
		}
		t.Fatalf("Open of a second file named m.db with the same LogDir = %v; want an error wrapping ErrLocked", err)
	} else if !strings.Contains(err.Error(), "same name") {
		t.Errorf("Open of a second file named m.db with the same LogDir = %v; want it to name a file of the same name", err)
	}
	if after := sums(t, logDir); !maps.Equal(after, before) {
		t.Errorf("the refused Open changed LogDir: %d files before, %d after", len(before), len(after))
	}
	if _, err := os.Stat(b); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after the refused Open, Stat of the second m.db = %v; want fs.ErrNotExist (no file made)", err)
	}
	if err := dbA.Update(t.Context(), counted("a1")); err != nil {
		t.Fatalf("Update after the refused Open: %v", err)
	}
	if err := dbA.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := names(t, logDir); len(got) != 0 {
		t.Errorf("LogDir after Close holds %q; want nothing", got)
	}
	dbB := openDB(t, b, &bolt.Options{LogDir: logDir})
	if got := checkCounted(t, dbB, nil); len(got) != 0 {
		t.Errorf("the second store, new, holds %q; want nothing (the first's log is not its)", got)
	}
	if err := dbB.Update(t.Context(), counted("b0")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := dbB.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := names(t, logDir); len(got) != 0 {
		t.Errorf("LogDir after Close holds %q; want nothing", got)
	}
	if got := checkCounted(t, openDB(t, a, nil), nil); !slices.Equal(got, []string{"a0", "a1"}) {
		t.Errorf("the first store holds %q; want a0 and a1", got)
	}
	if got := checkCounted(t, openDB(t, b, nil), nil); !slices.Equal(got, []string{"b0"}) {
		t.Errorf("the second store holds %q; want b0", got)
	}
}

// TestCrashLogDirLink runs the crash child with LogDir given through a
// symbolic link and kills it: opened with the link's target, the same
// directory, the store replays its log rather than fail with
// ErrLogElsewhere.
func TestCrashLogDirLink(t *testing.T) {
	dir, target := t.TempDir(), t.TempDir()
	link := filepath.Join(t.TempDir(), "log")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "crash.db")
	acked := runCrashChild(t, path, crashLogDirEnv+"="+link)
	if segs := logSegments(t, filepath.Join(target, "crash.db")); len(segs) == 0 {
		t.Fatalf("no log segment in the link's target after the crash: %q", names(t, target))
	}
	db := openDB(t, path, &bolt.Options{LogDir: target})
	checkCounted(t, db, acked)
}

// TestCrashLogDirSameName runs the crash child on one of two files named
// crash.db, in two directories, with one LogDir, and kills it: the log it
// leaves names its file, so the other file, existing or new, fails to
// open with ErrLogForeign, every file as it was (the log's segments
// still there, none replayed into it); the crashed file then opens with
// every acknowledged Update, and the other after it with its own.
func TestCrashLogDirSameName(t *testing.T) {
	logDir, dirA, dirB := t.TempDir(), t.TempDir(), t.TempDir()
	a, b := filepath.Join(dirA, "crash.db"), filepath.Join(dirB, "crash.db")
	dbB := openDB(t, b, &bolt.Options{LogDir: logDir})
	if err := dbB.Update(t.Context(), counted("b0")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := dbB.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	acked := runCrashChild(t, a, crashLogDirEnv+"="+logDir)
	if segs := logSegments(t, filepath.Join(logDir, "crash.db")); len(segs) == 0 {
		t.Fatalf("no log segment in LogDir after the crash: %q", names(t, logDir))
	}
	before := sums(t, dirB, logDir)
	db, err := bolt.Open(b, &bolt.Options{LogDir: logDir})
	if err == nil {
		db.Close()
	}
	if !errors.Is(err, bolt.ErrLogForeign) {
		t.Errorf("Open of the other crash.db = %v; want an error wrapping ErrLogForeign", err)
	} else {
		t.Log(err)
	}
	if after := sums(t, dirB, logDir); !maps.Equal(after, before) {
		t.Errorf("the refused Open changed the files: %d before, %d after", len(before), len(after))
	}
	// A new file of that name: no segment is its.
	dirC := t.TempDir()
	db, err = bolt.Open(filepath.Join(dirC, "crash.db"), &bolt.Options{LogDir: logDir})
	if err == nil {
		db.Close()
	}
	if !errors.Is(err, bolt.ErrLogForeign) {
		t.Errorf("Open of a new crash.db = %v; want an error wrapping ErrLogForeign", err)
	}
	if after := sums(t, dirB, logDir); !maps.Equal(after, before) {
		t.Errorf("the refused Open of a new file changed the files: %d before, %d after", len(before), len(after))
	}
	dbA := openDB(t, a, &bolt.Options{LogDir: logDir})
	checkCounted(t, dbA, acked)
	if err := dbA.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := names(t, logDir); len(got) != 0 {
		t.Errorf("LogDir after Close holds %q; want nothing", got)
	}
	if got := checkCounted(t, openDB(t, b, &bolt.Options{LogDir: logDir}), nil); !slices.Equal(got, []string{"b0"}) {
		t.Errorf("the other store holds %q; want b0", got)
	}
}

// TestCopyLogForeign checks a copy of a file (a backup) at another path,
// of the same name and sharing its original's LogDir: it has its
// original's ID until its first Close, and one of its own from then on,
// so the log a crash of the original leaves is not replayed into it
// (ErrLogForeign, no file changed); the original replays it.
func TestCopyLogForeign(t *testing.T) {
	logDir, dirA, dirB := t.TempDir(), t.TempDir(), t.TempDir()
	a, b := filepath.Join(dirA, "crash.db"), filepath.Join(dirB, "crash.db")
	dbA := openDB(t, a, &bolt.Options{LogDir: logDir})
	if err := dbA.Update(t.Context(), counted("a0")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if _, err := dbA.BackupFile(t.Context(), b); err != nil {
		t.Fatalf("BackupFile: %v", err)
	}
	if err := dbA.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	idA := fileID(t, a)
	if got := fileID(t, b); !bytes.Equal(got, idA) {
		t.Errorf("the backup's ID = %x; want its original's, %x", got, idA)
	}
	dbB := openDB(t, b, &bolt.Options{LogDir: logDir})
	if err := dbB.Update(t.Context(), counted("b0")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := dbB.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := fileID(t, b); bytes.Equal(got, idA) {
		t.Errorf("the copy's ID after its first Close = %x, its original's; want one of its own", got)
	}
	if got := fileID(t, a); !bytes.Equal(got, idA) {
		t.Errorf("the original's ID = %x; want it unchanged, %x", got, idA)
	}
	acked := runCrashChild(t, a, crashLogDirEnv+"="+logDir)
	before := sums(t, dirB, logDir)
	db, err := bolt.Open(b, &bolt.Options{LogDir: logDir})
	if err == nil {
		db.Close()
	}
	if !errors.Is(err, bolt.ErrLogForeign) {
		t.Errorf("Open of the copy = %v; want an error wrapping ErrLogForeign", err)
	}
	if after := sums(t, dirB, logDir); !maps.Equal(after, before) {
		t.Errorf("the refused Open changed the files: %d before, %d after", len(before), len(after))
	}
	dbA = openDB(t, a, &bolt.Options{LogDir: logDir})
	checkCounted(t, dbA, append(acked, "a0"))
	if err := dbA.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := checkCounted(t, openDB(t, b, &bolt.Options{LogDir: logDir}), nil); !slices.Equal(got, []string{"a0", "b0"}) {
		t.Errorf("the copy holds %q; want a0 and b0", got)
	}
}

// TestRestoreOverCrash restores a backup at the path of a store that
// crashed, leaving its log: the copy has the store's ID, and the segments
// are the store's batches after the backup. When they continue the
// copy's checkpoint (no checkpoint ran after the backup), Open replays
// them: the store as it was at the crash, nothing missing. When one ran,
// the batches it wrote to the file are in no segment: Open fails with an
// error wrapping ErrCorrupt that says the file may be older than its
// log, changing no file; without the segments, the copy opens as it was
// backed up.
func TestRestoreOverCrash(t *testing.T) {
	for _, checkpointed := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpointed=%v", checkpointed), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "store.db")
			db := openDB(t, path, nil)
			update := func(k string) {
				t.Helper()
				if err := db.Update(t.Context(), counted(k)); err != nil {
					t.Fatalf("Update: %v", err)
				}
			}
			update("k0") // batch 1
			update("k1")
			update("k2")
			backup := filepath.Join(t.TempDir(), "backup.db")
			if _, err := db.BackupFile(t.Context(), backup); err != nil { // checkpointed to batch 3
				t.Fatalf("BackupFile: %v", err)
			}
			update("k3")
			if checkpointed {
				if _, err := db.Backup(t.Context(), io.Discard); err != nil { // to batch 4
					t.Fatal(err)
				}
			}
			update("k4")
			// The store as a crash leaves it, put back at its path with
			// the backup over its file.
			crashed := copyStore(t, path)
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			segs := slices.DeleteFunc(logSegments(t, crashed), func(s string) bool { return strings.HasSuffix(s, "-wal-spare") })
			first := map[bool]uint64{false: 4, true: 5}[checkpointed]
			if len(segs) != 1 || segs[0] != bolt.SegmentPath(crashed, first) {
				t.Fatalf("log after the crash = %q; want one segment, from batch %d", segs, first)
			}
			seg := bolt.SegmentPath(path, first)
			copyFile(t, segs[0], seg)
			copyFile(t, backup, path)
			if !checkpointed {
				db := openDB(t, path, nil)
				if got, want := checkCounted(t, db, nil), []string{"k0", "k1", "k2", "k3", "k4"}; !slices.Equal(got, want) {
					t.Errorf("the restored copy holds %q; want %q", got, want)
				}
				return
			}
			before := sums(t, dir)
			db, err := bolt.Open(path, nil)
			if err == nil {
				db.Close()
			}
			if !errors.Is(err, bolt.ErrCorrupt) || !strings.Contains(err.Error(), "older than its log") {
				t.Errorf("Open of the restored copy = %v; want an error wrapping ErrCorrupt saying the file may be older than its log", err)
			}
			if after := sums(t, dir); !maps.Equal(after, before) {
				t.Errorf("the refused Open changed the files: %d before, %d after", len(before), len(after))
			}
			if err := os.Remove(seg); err != nil {
				t.Fatal(err)
			}
			if got, want := checkCounted(t, openDB(t, path, nil), nil), []string{"k0", "k1", "k2"}; !slices.Equal(got, want) {
				t.Errorf("the restored copy holds %q; want %q", got, want)
			}
		})
	}
}

// copyFile copies the file at from to to.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLogElsewhereForeign checks that the segments another file of the
// same name left in the directory a file's log was last kept in are not
// that file's log left behind: opened with another LogDir, the file opens
// (where it failed with ErrLogElsewhere), leaving them as they were, and
// the crashed file replays them.
func TestLogElsewhereForeign(t *testing.T) {
	oldDir, newDir := t.TempDir(), t.TempDir()
	a, b := filepath.Join(t.TempDir(), "crash.db"), filepath.Join(t.TempDir(), "crash.db")
	dbA := openDB(t, a, &bolt.Options{LogDir: oldDir})
	if err := dbA.Update(t.Context(), counted("a0")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := dbA.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	acked := runCrashChild(t, b, crashLogDirEnv+"="+oldDir)
	before := sums(t, oldDir)
	dbA = openDB(t, a, &bolt.Options{LogDir: newDir})
	if got := checkCounted(t, dbA, nil); !slices.Equal(got, []string{"a0"}) {
		t.Errorf("the store holds %q; want a0", got)
	}
	if after := sums(t, oldDir); !maps.Equal(after, before) {
		t.Errorf("Open changed the other file's log: %d files before, %d after", len(before), len(after))
	}
	checkCounted(t, openDB(t, b, &bolt.Options{LogDir: oldDir}), acked)
}
