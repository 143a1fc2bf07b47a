package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// sealed returns value as the package documents a record of bucket with
// key in the bbolt file: value, then the CRC-32C (big-endian) of
// len(bucket) uint32, bucket, len(key) uint32, key, value. Written from the
// documentation, not from the package's code.
func sealed(bucket, key, value string) []byte {
	var p []byte
	p = binary.BigEndian.AppendUint32(p, uint32(len(bucket)))
	p = append(p, bucket...)
	p = binary.BigEndian.AppendUint32(p, uint32(len(key)))
	p = append(p, key...)
	p = append(p, value...)
	sum := crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli))
	return binary.BigEndian.AppendUint32([]byte(value), sum)
}

// rawFile makes a bbolt file at a new path by running fn on it.
func rawFile(t *testing.T, fn func(*bbolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	rawUpdate(t, path, fn)
	return path
}

// rawUpdate runs fn in a bbolt transaction on the file at path (made when
// missing), as another program writing to it would.
func rawUpdate(t *testing.T, path string, fn func(*bbolt.Tx) error) {
	t.Helper()
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	if err := raw.Update(fn); err != nil {
		t.Fatalf("bbolt.Update: %v", err)
	}
	if err := raw.Close(); err != nil {
		t.Fatalf("bbolt.Close: %v", err)
	}
}

// rawValue reads bucket's key from the bbolt file at path as bbolt has it.
func rawValue(t *testing.T, path, bucket, key string) []byte {
	t.Helper()
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("bbolt.Open: %v", err)
	}
	defer raw.Close()
	var v []byte
	err = raw.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket([]byte(bucket)); b != nil {
			v = bytes.Clone(b.Get([]byte(key)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRecordFormat checks that a record is written to the bbolt file as
// documented: its value followed by its checksum.
func TestRecordFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{NoSync: true})
	if err := db.Update(t.Context(), func(tx store.Tx) error { return putAll(tx, "b", "k", "hello", "e", "") }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := rawValue(t, path, "b", "k"), sealed("b", "k", "hello"); !bytes.Equal(got, want) {
		t.Errorf("record b/k in the file = %x; want %x", got, want)
	}
	if got, want := rawValue(t, path, "b", "e"), sealed("b", "e", ""); !bytes.Equal(got, want) {
		t.Errorf("record b/e (empty value) in the file = %x; want %x", got, want)
	}
	if got, want := rawValue(t, path, "\x00store/bolt", "format"), sealed("\x00store/bolt", "format", "\x00\x00\x00\x05"); !bytes.Equal(got, want) {
		t.Errorf("format record = %x; want %x (format 5)", got, want)
	}
}

// TestFlippedRecord flips one byte of a record's value, then of its key,
// in the bbolt file: reads of the record and Check fail with errors
// wrapping ErrCorrupt and store.ErrCorrupt, never returning the altered
// record; the other records of the bucket still read.
func TestFlippedRecord(t *testing.T) {
	base := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, base, &bolt.Options{NoSync: true})
	err := db.Update(t.Context(), func(tx store.Tx) error {
		return putAll(tx, "b", "good", "intact value", "key-to-harm", "value-to-harm")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(t.Context()); err != nil {
		t.Errorf("Check of an intact store = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, find string
		at         int // the byte of find to flip
		getFails   bool
	}{
		{"Value", "value-to-harm", 6, true},
		// A key changed is another key, but it lies where the old one
		// would: Get of the old one meets it, as Scan and Check do.
		{"Key", "key-to-harm", 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The record may also lie in a page freed since (inline
			// buckets are rewritten with their parent): flip every copy.
			path := copyStore(t, base)
			changeFile(t, path, func(p []byte) []byte {
				n := 0
				for off := bytes.Index(p, []byte(tc.find)); off >= 0; n++ {
					p[off+tc.at] ^= 0x01
					next := bytes.Index(p[off+1:], []byte(tc.find))
					if next < 0 {
						break
					}
					off += 1 + next
				}
				if n == 0 {
					t.Fatalf("%q not in the file", tc.find)
				}
				return p
			})
			db := openDB(t, path, &bolt.Options{NoSync: true})
			corrupt := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, bolt.ErrCorrupt) || !errors.Is(err, store.ErrCorrupt) {
					t.Errorf("%s = %v; want an error wrapping bolt.ErrCorrupt and store.ErrCorrupt", what, err)
				}
			}
			get := func(tx store.Tx) error {
				v, err := tx.Get("b", []byte("key-to-harm"))
				if err == nil {
					return fmt.Errorf("read %q", v)
				}
				return err
			}
			scan := func(tx store.Tx) error {
				return tx.Scan("b", nil, nil, false, func(k, v []byte) error {
					if string(k) != "good" && string(k) != "key-to-harm" || string(v) != "intact value" && string(v) != "value-to-harm" {
						return fmt.Errorf("read %q=%q", k, v)
					}
					return nil
				})
			}
			if tc.getFails {
				corrupt("View(Get)", db.View(t.Context(), get))
				corrupt("Update(Get)", db.Update(t.Context(), get))
			} else if err := db.View(t.Context(), get); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("View(Get) of the key changed = %v; want ErrNotFound", err)
			}
			corrupt("View(Scan)", db.View(t.Context(), scan))
			corrupt("Update(Scan)", db.Update(t.Context(), scan))
			corrupt("Check", db.Check(t.Context()))
			err := db.View(t.Context(), func(tx store.Tx) error {
				v, err := tx.Get("b", []byte("good"))
				if err == nil && string(v) != "intact value" {
					err = fmt.Errorf("good = %q", v)
				}
				return err
			})
			if err != nil {
				t.Errorf("Get of an intact record = %v", err)
			}
		})
	}
}

// TestMigrateFormat1 opens a file of format 1, whose records have no
// checksums: Open gives them theirs, says so in the log, and reads them.
func TestMigrateFormat1(t *testing.T) {
	path := rawFile(t, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i := range 3000 { // more than one run of the migration
			if err := b.Put(fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
				return err
			}
		}
		m, err := tx.CreateBucket([]byte("\x00store/bolt"))
		if err != nil {
			return err
		}
		// Format 1's checkpoint record: seq 7 and this transaction's id.
		v := binary.BigEndian.AppendUint64(nil, 7)
		v = binary.BigEndian.AppendUint64(v, uint64(tx.ID()))
		return m.Put([]byte("checkpoint"), v)
	})
	opts, logged := logOptions()
	db := openDB(t, path, opts)
	if !strings.Contains(logged.String(), "from_format=1 to_format=5 records=3000") {
		t.Errorf("log %q; want the migration of 3000 records from format 1 to 5", logged)
	}
	want := map[string]string{}
	for i := range 3000 {
		want[fmt.Sprintf("k%04d", i)] = fmt.Sprint("v", i)
	}
	check := func() {
		t.Helper()
		got := map[string]string{}
		err := db.View(t.Context(), func(tx store.Tx) error {
			if v, err := tx.Get("b", []byte("k1234")); err != nil || string(v) != "v1234" {
				return fmt.Errorf("Get k1234 = %q, %v", v, err)
			}
			return tx.Scan("b", nil, nil, false, func(k, v []byte) error {
				got[string(k)] = string(v)
				return nil
			})
		})
		if err != nil {
			t.Fatalf("View: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("bucket b (-want +got):\n%s", diff)
		}
		if err := db.Check(t.Context()); err != nil {
			t.Errorf("Check = %v", err)
		}
	}
	check()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := rawValue(t, path, "b", "k0042"), sealed("b", "k0042", "v42"); !bytes.Equal(got, want) {
		t.Errorf("record b/k0042 after the migration = %x; want %x", got, want)
	}
	opts, logged = logOptions()
	db = openDB(t, path, opts)
	if strings.Contains(logged.String(), "migrated") {
		t.Errorf("second Open migrated again: %q", logged)
	}
	check()
}

// TestDamagedMetaNotMigrated damages the meta record of a store this
// package wrote, as flipped bytes of its bucket's or its format's name
// did: a file without a meta record, or without a format record, looks
// like one of format 1 or another program's, which Open migrates. Its
// records have their checksums: Open refuses it with ErrCorrupt and
// changes nothing, where it sealed every record a second time and reads
// returned the values with their old checksums.
func TestDamagedMetaNotMigrated(t *testing.T) {
	for _, tc := range []struct {
		name     string
		colocate bool
		harm     func(tx *bbolt.Tx) error
	}{
		{"NoFormat", false, func(tx *bbolt.Tx) error { return tx.Bucket([]byte("\x00store/bolt")).Delete([]byte("format")) }},
		{"NoMeta", false, func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("\x00store/bolt")) }},
		{"NoMetaColocated", true, func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("\x00store/bolt")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			db, err := bolt.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.colocate {
				if err := db.Colocate("a", "b"); err != nil {
					t.Fatal(err)
				}
			}
			putColocKeys(t, db)
			rawUpdate(t, path, tc.harm)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			db, err = bolt.Open(path, nil)
			if err == nil {
				db.Close()
			}
			if !errors.Is(err, bolt.ErrCorrupt) {
				t.Errorf("Open = %v; want an error wrapping ErrCorrupt", err)
			}
			if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
				t.Errorf("Open changed the file (%v)", err)
			}
		})
	}
}

// TestLaterFormatRefused checks that a file of a later format is refused
// with an error wrapping ErrFormat that names the formats, and left as it
// was.
func TestLaterFormatRefused(t *testing.T) {
	path := rawFile(t, func(tx *bbolt.Tx) error {
		m, err := tx.CreateBucket([]byte("\x00store/bolt"))
		if err != nil {
			return err
		}
		v := binary.BigEndian.AppendUint64(nil, 0)
		v = binary.BigEndian.AppendUint64(v, uint64(tx.ID()))
		if err := m.Put([]byte("checkpoint"), sealed("\x00store/bolt", "checkpoint", string(v))); err != nil {
			return err
		}
		return m.Put([]byte("format"), sealed("\x00store/bolt", "format", "\x00\x00\x00\x06"))
	})
	before := readFiles(t, filepath.Dir(path))
	_, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if !errors.Is(err, bolt.ErrFormat) || !strings.Contains(err.Error(), "format 6") || !strings.Contains(err.Error(), "formats 1 to 5") {
		t.Errorf("Open = %v; want an error wrapping ErrFormat naming format 6 and formats 1 to 5", err)
	}
	if diff := diffFiles(before, readFiles(t, filepath.Dir(path))); diff != "" {
		t.Errorf("the refused Open changed files: %s", diff)
	}
}

// countedState reads bucket "c" of db: the counter "n" and the keys k<i>,
// which the Updates of counterUpdate write together.
func countedState(t *testing.T, db *bolt.DB) (n int, keys int) {
	t.Helper()
	err := db.View(t.Context(), func(tx store.Tx) error {
		v, err := tx.Get("c", []byte("n"))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if n, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
		}
		return tx.Scan("c", []byte("k"), []byte("l"), false, func(k, v []byte) error {
			keys++
			if want := "k" + string(v); string(k) != want {
				return fmt.Errorf("%s holds %s", k, v)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return n, keys
}

// counterUpdate increments the counter "n" of bucket "c" and puts key
// k<n> (zero-padded) in the same Update, storing n in *got.
func counterUpdate(got *int) func(store.Tx) error {
	return func(tx store.Tx) error {
		n := 0
		v, err := tx.Get("c", []byte("n"))
		if err == nil {
			if n, err = strconv.Atoi(string(v)); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		n++
		*got = n
		s := fmt.Sprintf("%06d", n)
		if err := tx.Put("c", []byte("k"+s), []byte(s)); err != nil {
			return err
		}
		return tx.Put("c", []byte("n"), []byte(strconv.Itoa(n)))
	}
}

// stallWriter collects what is written to it, the first write waiting
// until release is closed; started is closed when that write begins.
type stallWriter struct {
	bytes.Buffer
	started, release chan struct{}
}

func (w *stallWriter) Write(p []byte) (int, error) {
	if w.started != nil {
		close(w.started)
		w.started = nil
		<-w.release
	}
	return w.Buffer.Write(p)
}

// TestCloseDuringBackup closes the DB while a Backup is copying: Close
// refuses Updates at once, waits for the copy to end and returns nil, and
// the copy is whole, holding the Updates answered before Backup.
func TestCloseDuringBackup(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "store.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if err := db.Update(t.Context(), counted(k)); err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	w := &stallWriter{started: make(chan struct{}), release: make(chan struct{})}
	started := w.started
	type result struct {
		n   int64
		err error
	}
	backedUp := make(chan result, 1)
	go func() {
		n, err := db.Backup(t.Context(), w)
		backedUp <- result{n, err}
	}()
	<-started
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	// Close has begun once Updates are refused; the copy is still stalled.
	errNoop := errors.New("no write")
	for {
		err := db.Update(t.Context(), func(store.Tx) error { return errNoop })
		if errors.Is(err, store.ErrClosed) {
			break
		}
		if err != errNoop {
			t.Fatalf("Update while closing = %v; want %v or an error wrapping store.ErrClosed", err, errNoop)
		}
		runtime.Gosched()
	}
	close(w.release)
	if r := <-backedUp; r.err != nil || r.n != int64(w.Len()) {
		t.Fatalf("Backup during Close = %d, %v; wrote %d bytes; want all of it and nil", r.n, r.err, w.Len())
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close during Backup = %v; want nil", err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, w.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	checkCounted(t, openDB(t, path, nil), []string{"a", "b"})
}

// TestBackupWhileWriting takes backups, to a writer and to a file, while
// eight goroutines keep running Updates that each increment a counter and
// add a key: each copy opens as a store, passes Check, holds whole Updates
// only (counter = keys) and every Update answered before the backup was
// called.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	// Small checkpoints, so that some run on their own while backups do.
	db := openDB(t, filepath.Join(dir, "store.db"), &bolt.Options{NoSync: true, CheckpointSize: 64 << 10})
	var (
		acked atomic.Int64 // the highest counter of an answered Update
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				var n int
				if err := db.Update(t.Context(), counterUpdate(&n)); err != nil {
					t.Errorf("Update: %v", err)
					return
				}
				for {
					a := acked.Load()
					if int64(n) <= a || acked.CompareAndSwap(a, int64(n)) {
						break
					}
				}
			}
		})
	}
	var backups []string
	for i := range 6 {
		for acked.Load() < int64(200*(i+1)) {
			runtime.Gosched()
		}
		before := int(acked.Load())
		path := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		if i%2 == 0 {
			var buf bytes.Buffer
			n, err := db.Backup(t.Context(), &buf)
			if err != nil || n != int64(buf.Len()) {
				t.Fatalf("Backup = %d, %v; wrote %d bytes", n, err, buf.Len())
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
		} else if _, err := db.BackupFile(t.Context(), path); err != nil {
			t.Fatalf("BackupFile: %v", err)
		}
		backups = append(backups, path)
		restored := openDB(t, path, &bolt.Options{NoSync: true})
		if err := restored.Check(t.Context()); err != nil {
			t.Errorf("backup %d: Check = %v", i, err)
		}
		n, keys := countedState(t, restored)
		if n != keys || n < before {
			t.Errorf("backup %d: counter %d, %d keys; want equal, and at least %d (answered before Backup)", i, n, keys, before)
		}
		if err := restored.Close(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if _, err := db.BackupFile(t.Context(), filepath.Join(dir, "store.db")); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("BackupFile over the store's own file = %v; want ErrInvalid", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.db-wal-0000000000000001"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BackupFile(t.Context(), filepath.Join(dir, "other.db")); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("BackupFile next to log files = %v; want ErrInvalid", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Backup(t.Context(), &bytes.Buffer{}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Backup after Close = %v; want ErrClosed", err)
	}
	if err := db.Check(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Check after Close = %v; want ErrClosed", err)
	}
	t.Logf("last backup at counter %d", acked.Load())
}

// TestBBoltRandomFlips flips a byte at a random offset of a closed store's
// bbolt file, 300 times (BOLT_FLIP_TRIALS raises it, BOLT_FLIP_SEED changes
// the seed): each trial ends with Open failing, or Check failing, with an
// error wrapping ErrCorrupt, or with every record read back as written;
// never a panic, never a record altered or missing without an error.
// Reads that pass, whatever Check says, give every record as written;
// when reads fail, so must Check. Reads may miss a record without an error
// only where Check finds the damage (a page element lost, see the
// package's Damaged files).
//
// It runs without the race detector (.ci/run runs it so): a flip can make
// bbolt read at an address outside the file's mapping, a fault that
// debug.SetPanicOnFault turns into a panic, but that the race detector's
// runtime, checking the address first, takes down the process with.
func TestBBoltRandomFlips(t *testing.T) {
	if raceDetector {
		t.Skip("a read outside the file's mapping faults in the race detector's runtime; .ci/run runs this test without it")
	}
	t.Run("Plain", func(t *testing.T) { randomFlips(t, false) })
	t.Run("Colocated", func(t *testing.T) { randomFlips(t, true) })
}

// randomFlips is TestBBoltRandomFlips on buckets b and c, kept in buckets
// of their own or colocated.
func randomFlips(t *testing.T, colocate bool) {
	trials, seed := 300, uint64(11)
	if v, err := strconv.Atoi(os.Getenv("BOLT_FLIP_TRIALS")); err == nil {
		trials = v
	}
	if v, err := strconv.ParseUint(os.Getenv("BOLT_FLIP_SEED"), 10, 64); err == nil {
		seed = v
	}
	base := filepath.Join(t.TempDir(), "store.db")
	// A small map keeps the file small (bbolt grows it by the map size
	// at most 16 MiB), so that most flips land in pages in use.
	opts := &bolt.Options{NoSync: true, InitialMmapSize: 1 << 16}
	db := openDB(t, base, opts)
	if colocate {
		if err := db.Colocate("b", "c"); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{}
	for i := range 40 {
		err := db.Update(t.Context(), func(tx store.Tx) error {
			for j := range 10 {
				// Member-like keys: member i's records of b and c lie
				// together when colocated.
				b := string("bc"[j%2])
				k, v := fmt.Sprintf("m%03d\x00%d", i, j), strings.Repeat(fmt.Sprint(i*j), 1+(i+j)%30)
				want[b+"/"+k] = v
				if err := tx.Put(b, []byte(k), []byte(v)); err != nil {
					return err
				}
			}
			want["meta/last"] = fmt.Sprint(i)
			return tx.Put("meta", []byte("last"), []byte(fmt.Sprint(i)))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	// The pages in use: flips past them, in space bbolt only reserved,
	// change nothing, and are few.
	used := len(data)
	for used > 0 && data[used-1] == 0 {
		used--
	}
	rng := rand.New(rand.NewPCG(seed, 16))
	var refused, checked, full int
	for trial := range trials {
		off, mask := rng.IntN(used), byte(1+rng.IntN(255))
		what := fmt.Sprintf("trial %d (seed %d): byte %d ^ %#x", trial, seed, off, mask)
		path := copyStore(t, base)
		changeFile(t, path, flip(off, mask))
		db, err := bolt.Open(path, opts)
		if err != nil {
			refused++
			if !errors.Is(err, bolt.ErrCorrupt) {
				t.Errorf("%s: Open = %v; want an error wrapping ErrCorrupt", what, err)
			}
			continue
		}
		checkErr := db.Check(t.Context())
		if checkErr != nil && !errors.Is(checkErr, bolt.ErrCorrupt) {
			t.Errorf("%s: Check = %v; want nil or an error wrapping ErrCorrupt", what, checkErr)
		}
		got := map[string]string{}
		readErr := db.View(t.Context(), func(tx store.Tx) error {
			for _, b := range []string{"b", "c", "meta"} {
				err := tx.Scan(b, nil, nil, false, func(k, v []byte) error {
					got[b+"/"+string(k)] = string(v)
					return nil
				})
				if err != nil {
					return err
				}
			}
			for k, v := range want {
				b, key, _ := strings.Cut(k, "/")
				g, err := tx.Get(b, []byte(key))
				if err != nil {
					return fmt.Errorf("get %s: %w", k, err)
				}
				if string(g) != v {
					return fmt.Errorf("get %s = %q; want %q", k, g, v)
				}
			}
			return nil
		})
		if testing.Verbose() {
			t.Logf("%s: check %v; reads %v", what, checkErr, readErr)
		}
		switch {
		case errors.Is(readErr, store.ErrNotFound) && checkErr != nil:
			// A record lost with the page element that held it: what reads
			// cannot see, and Check finds (see the package's Damaged files).
			checked++
		case readErr != nil && !errors.Is(readErr, bolt.ErrCorrupt):
			t.Errorf("%s: reads = %v; want nil or an error wrapping ErrCorrupt", what, readErr)
		case readErr != nil && checkErr == nil:
			t.Errorf("%s: reads = %v, yet Check passed", what, readErr)
		case readErr == nil && !maps.Equal(got, want):
			t.Errorf("%s: reads passed (Check %v), records lost or altered (-want +got):\n%s", what, checkErr, cmp.Diff(want, got))
		case checkErr != nil:
			checked++
		default:
			full++
		}
		if err := db.Close(); err != nil && !errors.Is(err, bolt.ErrCorrupt) {
			t.Errorf("%s: Close = %v", what, err)
		}
	}
	t.Logf("%d trials over %d bytes: refused by Open %d, damage found by Check %d, read in full %d", trials, used, refused, checked, full)
	if refused+checked == 0 || full == 0 {
		t.Errorf("refused %d, found by Check %d, full %d; want damage found and intact reads", refused, checked, full)
	}
}

// TestBackupWhileACheckpointCommitsParts takes a Backup that the next
// checkpoint overtakes: once the checkpoint Backup waited for is done, the
// next one, of an Update that wrote x in buckets a and b, commits its
// first part (bucket a) before Backup copies. The copy holds whole
// Updates only: the one before Backup, and not x, in neither bucket (a
// part's meta record keeps the checkpoint before, so a copy taken after
// the part held a's x without b's, and no log to finish it).
func TestBackupWhileACheckpointCommitsParts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	var (
		begins     atomic.Int32
		firstBegun = make(chan struct{})
		release    = make(chan struct{}) // lets the first checkpoint go on
		partDone   = make(chan struct{}) // the second checkpoint committed a part
		backedUp   = make(chan struct{}) // lets the second checkpoint go on
		once       sync.Once
	)
	opts := bolt.WithCheckpointPart(&bolt.Options{NoSync: true, CheckpointSize: 4 << 10, MaxOverlaySize: 1 << 20}, 1)
	db := closedAtCleanup(t, path)(bolt.OpenHooked(path, opts, func(stage string) {
		switch {
		case stage == "begin" && begins.Add(1) == 1:
			close(firstBegun)
			<-release
		case stage == "part" && begins.Load() == 2:
			once.Do(func() {
				close(partDone)
				<-backedUp
			})
		}
	}))
	bolt.SetBackupHook(db, func() { <-partDone })
	both := func(k string, v []byte) func(store.Tx) error {
		return func(tx store.Tx) error {
			if err := tx.Put("a", []byte(k), v); err != nil {
				return err
			}
			return tx.Put("b", []byte(k), v)
		}
	}
	if err := db.Update(t.Context(), both("w", []byte("small"))); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	backupErr := make(chan error, 1)
	go func() {
		_, err := db.Backup(t.Context(), &buf)
		backupErr <- err
	}()
	<-firstBegun // the checkpoint Backup waits for, of w
	// x, larger than CheckpointSize, has the next checkpoint start as soon
	// as the first ends.
	if err := db.Update(t.Context(), both("x", bytes.Repeat([]byte{'x'}, 8<<10))); err != nil {
		t.Fatal(err)
	}
	close(release)
	err := <-backupErr
	close(backedUp)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(copyPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	restored := openDB(t, copyPath, &bolt.Options{NoSync: true})
	for _, b := range []string{"a", "b"} {
		var keys []string
		err := restored.View(t.Context(), func(tx store.Tx) error {
			return tx.Scan(b, nil, nil, false, func(k, _ []byte) error {
				keys = append(keys, string(k))
				return nil
			})
		})
		if err != nil {
			t.Fatalf("View: %v", err)
		}
		if diff := cmp.Diff([]string{"w"}, keys); diff != "" {
			t.Errorf("the copy's bucket %s (-want +got):\n%s", b, diff)
		}
	}
}

// TestBackupCancelledWhileWaitingThenClose cancels a Backup waiting for its
// checkpoint: it returns context.Canceled, the checkpoint ends, and Close
// returns nil rather than waiting for ever for a read transaction begun
// for a Backup that had gone.
func TestBackupCancelledWhileWaitingThenClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	var (
		begun   = make(chan struct{})
		release = make(chan struct{})
		once    sync.Once
	)
	db, err := bolt.OpenHooked(path, &bolt.Options{NoSync: true}, func(stage string) {
		if stage == "begin" {
			once.Do(func() {
				close(begun)
				<-release
			})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), counted("a")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	backupErr := make(chan error, 1)
	go func() {
		_, err := db.Backup(ctx, &bytes.Buffer{})
		backupErr <- err
	}()
	<-begun // the checkpoint the Backup waits for
	cancel()
	if err := <-backupErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Backup cancelled while waiting = %v; want context.Canceled", err)
	}
	close(release)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkCounted(t, openDB(t, path, nil), []string{"a"})
}
