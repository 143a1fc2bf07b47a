package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/storetest"
)

// colocStore colocates every bucket its transactions name, when they first
// name it: the conformance suite then runs on colocated buckets, some of
// whose records a checkpoint moves after they were written. A nil
// function goes to the DB as it is.
type colocStore struct{ *bolt.DB }

func (s colocStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return s.DB.Update(ctx, nil)
	}
	return s.DB.Update(ctx, func(tx store.Tx) error { return fn(colocTx{tx, s.DB}) })
}

func (s colocStore) View(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return s.DB.View(ctx, nil)
	}
	return s.DB.View(ctx, func(tx store.Tx) error { return fn(colocTx{tx, s.DB}) })
}

type colocTx struct {
	store.Tx
	db *bolt.DB
}

func (t colocTx) name(bucket string) {
	if bucket != "" && !strings.HasPrefix(bucket, "\x00store/bolt") {
		_ = t.db.Colocate(bucket)
	}
}

func (t colocTx) Get(b string, k []byte) ([]byte, error) { t.name(b); return t.Tx.Get(b, k) }
func (t colocTx) Put(b string, k, v []byte) error        { t.name(b); return t.Tx.Put(b, k, v) }
func (t colocTx) Delete(b string, k []byte) error        { t.name(b); return t.Tx.Delete(b, k) }
func (t colocTx) Scan(b string, s, e []byte, r bool, fn func(k, v []byte) error) error {
	t.name(b)
	return t.Tx.Scan(b, s, e, r, fn)
}

// TestConformanceColocated runs the suite on colocated buckets, with a
// checkpoint after every batch so that reads go to bbolt's colocated
// records, each checkpoint in parts of 2 pages (see Options.MaxMemory).
func TestConformanceColocated(t *testing.T) {
	opts := bolt.WithCheckpointPart(&bolt.Options{CheckpointSize: 1, MaxOverlaySize: 1 << 30, NoSync: true}, 2)
	open := func(t *testing.T) store.Store { return colocStore{tempDB(t, opts)} }
	storetest.Run(t, open)
	storetest.RunSerial(t, open)
}

// colocKeys are keys of members m1, m10 and m2, a pool (no member: it
// starts with 0x00) and keys with no 0x00, in logical order.
var colocKeys = []string{"\x00pool\x00a", "\x00pool\x00b", "m1", "m1\x00", "m1\x00a", "m1\x00b\x00c", "m1\x01", "m10", "m10\x00a", "m2\x00a"}

// TestColocatedLayout checks what the file holds once two buckets are
// colocated, with packs turned off (as in a file of format 3): no bucket of
// their own, their records in the reserved bucket under group, 0x00, tag,
// key, with their checksums, and that Gets and Scans of every range answer
// as they did before the records moved.
func TestColocatedLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.OpenPackMax(path, &bolt.Options{NoSync: true}, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Colocate("a", "b"); err != nil {
		t.Fatal(err)
	}
	putColocKeys(t, db)
	// Tags follow Colocate's names in order: a is 1, b is 2.
	for _, c := range []struct{ phys, bucket, key string }{
		{"\x00\x00\x01\x00pool\x00a", "a", "\x00pool\x00a"},
		{"m1\x00\x00\x01m1", "a", "m1"},
		{"m1\x00\x00\x02m1\x00b\x00c", "b", "m1\x00b\x00c"},
		{"m1\x01\x00\x00\x02m1\x01", "b", "m1\x01"},
		{"m10\x00\x00\x01m10\x00a", "a", "m10\x00a"},
	} {
		if got, want := rawValue(t, path, "\x00store/bolt/members", c.phys), sealed(c.bucket, c.key, c.bucket+":"+c.key); !bytes.Equal(got, want) {
			t.Errorf("colocated record %q = %x; want %x", c.phys, got, want)
		}
	}
	if got, want := rawValue(t, path, "plain", "m1"), sealed("plain", "m1", "plain:m1"); !bytes.Equal(got, want) {
		t.Errorf("plain record m1 = %x; want %x", got, want)
	}
	if got, want := rawBuckets(t, path), []string{"\x00store/bolt", "\x00store/bolt/members", "plain"}; !slices.Equal(got, want) {
		t.Errorf("the file's buckets = %q; want %q", got, want)
	}
	reopenCheckColocKeys(t, path)
}

// TestPackedLayout checks what the file holds of colocated buckets with
// packs (the default): a member's records of both buckets in one record
// under group, 0x00, 0x00, 0x00, each tag, key's tail and value with
// their lengths, the pack sealed as a record of the reserved bucket; a
// pool's records (group "") one by one; and that Gets and Scans of every
// range answer as before.
func TestPackedLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Colocate("a", "b"); err != nil {
		t.Fatal(err)
	}
	putColocKeys(t, db)
	const members = "\x00store/bolt/members"
	m1 := "\x01\x00\x04a:m1" + "\x01\x01\x00\x05a:m1\x00" + "\x01\x02\x00a\x06a:m1\x00a" + "\x01\x04\x00b\x00c\x08a:m1\x00b\x00c" +
		"\x02\x00\x04b:m1" + "\x02\x01\x00\x05b:m1\x00" + "\x02\x02\x00a\x06b:m1\x00a" + "\x02\x04\x00b\x00c\x08b:m1\x00b\x00c"
	for _, c := range []struct{ phys, bucket, key, value string }{
		{"m1\x00\x00\x00", members, "m1\x00\x00\x00", m1},
		{"m1\x01\x00\x00\x00", members, "m1\x01\x00\x00\x00", "\x01\x00\x05a:m1\x01" + "\x02\x00\x05b:m1\x01"},
		{"m10\x00\x00\x00", members, "m10\x00\x00\x00", "\x01\x00\x05a:m10" + "\x01\x02\x00a\x07a:m10\x00a" + "\x02\x00\x05b:m10" + "\x02\x02\x00a\x07b:m10\x00a"},
		{"\x00\x00\x01\x00pool\x00a", "a", "\x00pool\x00a", "a:\x00pool\x00a"},
		{"\x00\x00\x02\x00pool\x00b", "b", "\x00pool\x00b", "b:\x00pool\x00b"},
	} {
		if got, want := rawValue(t, path, members, c.phys), sealed(c.bucket, c.key, c.value); !bytes.Equal(got, want) {
			t.Errorf("record %q = %q; want %q", c.phys, got, want)
		}
	}
	for _, phys := range []string{"m1\x00\x00\x01m1", "m1\x00\x00\x02m1\x00b\x00c", "m10\x00\x00\x01m10\x00a", "\x00\x00\x00"} {
		if got := rawValue(t, path, members, phys); got != nil {
			t.Errorf("record %q = %q; want none", phys, got)
		}
	}
	reopenCheckColocKeys(t, path)
}

// reopenCheckColocKeys opens the store at path, checks its colocKeys
// (checkColocKeys) and runs Check.
func reopenCheckColocKeys(t *testing.T, path string) {
	t.Helper()
	db := openDB(t, path, &bolt.Options{NoSync: true})
	checkColocKeys(t, db)
	if err := db.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// putColocKeys puts colocKeys into buckets a, b and plain, each key's
// value the bucket, ":" and the key, and closes db.
func putColocKeys(t *testing.T, db *bolt.DB) {
	t.Helper()
	err := db.Update(t.Context(), func(tx store.Tx) error {
		for _, k := range colocKeys {
			for _, b := range []string{"a", "b", "plain"} {
				if err := tx.Put(b, []byte(k), []byte(b+":"+k)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkColocKeys checks Gets and Scans of buckets a, b and plain, which
// hold colocKeys, for every range between them and either way.
func checkColocKeys(t *testing.T, db *bolt.DB) {
	t.Helper()
	bounds := append([]string{"", "m", "m1\x00a\x00", "m11", "zz"}, colocKeys...)
	err := db.View(t.Context(), func(tx store.Tx) error {
		for _, b := range []string{"a", "b", "plain"} {
			for _, k := range append([]string{"m", "m1\x00c", "m3"}, colocKeys...) {
				v, err := tx.Get(b, []byte(k))
				switch {
				case slices.Contains(colocKeys, k) && (err != nil || string(v) != b+":"+k):
					t.Errorf("Get(%q, %q) = %q, %v", b, k, v, err)
				case !slices.Contains(colocKeys, k) && !errors.Is(err, store.ErrNotFound):
					t.Errorf("Get(%q, %q) = %q, %v; want ErrNotFound", b, k, v, err)
				}
			}
			for _, lo := range bounds {
				for _, hi := range bounds {
					var start, end []byte
					if lo != "" {
						start = []byte(lo)
					}
					if hi != "" {
						end = []byte(hi)
					}
					var want []string
					for _, k := range colocKeys {
						if (start == nil || k >= lo) && (end == nil || k < hi) {
							want = append(want, k+"="+b+":"+k)
						}
					}
					for _, rev := range []bool{false, true} {
						var got []string
						err := tx.Scan(b, start, end, rev, func(k, v []byte) error {
							got = append(got, string(k)+"="+string(v))
							return nil
						})
						if rev {
							slices.Reverse(got)
						}
						if err != nil || !slices.Equal(got, want) {
							t.Errorf("Scan(%q, %q, %q, reverse %v) = %q, %v; want %q", b, start, end, rev, got, err, want)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rawBuckets lists the bbolt buckets of the file at path.
func rawBuckets(t *testing.T, path string) []string {
	t.Helper()
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var names []string
	err = raw.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestColocateMoves checks that colocating buckets that bbolt already
// holds moves their records at the next checkpoint, in one transaction,
// and that a later Open keeps the layout without being told: records one
// by one, and packed.
func TestColocateMoves(t *testing.T) {
	for _, packed := range []bool{false, true} {
		t.Run(fmt.Sprint("packed=", packed), func(t *testing.T) { testColocateMoves(t, packed) })
	}
}

func testColocateMoves(t *testing.T, packed bool) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	putColocKeys(t, db)
	if got, want := rawBuckets(t, path), []string{"\x00store/bolt", "a", "b", "plain"}; !slices.Equal(got, want) {
		t.Fatalf("the file's buckets = %q; want %q", got, want)
	}
	packMax := -1
	if packed {
		packMax = 0 // the default
	}
	db, err = bolt.OpenPackMax(path, &bolt.Options{NoSync: true}, packMax)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Colocate("b", "a"); err != nil {
		t.Fatal(err)
	}
	// A write to another bucket makes the checkpoint at Close.
	if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("other", []byte("x"), []byte("y")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := rawBuckets(t, path), []string{"\x00store/bolt", "\x00store/bolt/members", "other", "plain"}; !slices.Equal(got, want) {
		t.Errorf("the file's buckets = %q; want %q", got, want)
	}
	// Colocate's names are taken sorted: a is 1, b is 2. m2 has one
	// key, m2\x00a, in each.
	if !packed {
		if got, want := rawValue(t, path, "\x00store/bolt/members", "m2\x00\x00\x02m2\x00a"), sealed("b", "m2\x00a", "b:m2\x00a"); !bytes.Equal(got, want) {
			t.Errorf("moved record = %x; want %x", got, want)
		}
	} else {
		pack := "\x01\x02\x00a\x06a:m2\x00a" + "\x02\x02\x00a\x06b:m2\x00a"
		if got, want := rawValue(t, path, "\x00store/bolt/members", "m2\x00\x00\x00"), sealed("\x00store/bolt/members", "m2\x00\x00\x00", pack); !bytes.Equal(got, want) {
			t.Errorf("moved pack = %x; want %x", got, want)
		}
		if got := rawValue(t, path, "\x00store/bolt/members", "m2\x00\x00\x02m2\x00a"); got != nil {
			t.Errorf("moved record one by one too: %x", got)
		}
	}
	db = openDB(t, path, &bolt.Options{NoSync: true, CheckpointSize: 1})
	// Writes after the move, to moved keys and new ones, checkpointed.
	err = db.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put("a", []byte("m3\x00a"), []byte("new")); err != nil {
			return err
		}
		return tx.Delete("a", []byte("m3\x00a"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("other", []byte("x"), []byte("z")) }); err != nil {
		t.Fatal(err)
	}
	checkColocKeys(t, db)
	if err := db.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestColocatedLongKey checks that Put refuses a key whose physical key,
// were its bucket colocated, would not fit bbolt, in any bucket, and that a
// bucket of a file another program wrote holding such a key is left in a
// bucket of its own, readable.
func TestColocatedLongKey(t *testing.T) {
	long := bytes.Repeat([]byte("k"), 20000)
	path := rawFile(t, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("long"))
		if err != nil {
			return err
		}
		return b.Put(long, []byte("v"))
	})
	db, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Colocate("long", "short"); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"short", "plain"} {
		err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put(b, long, []byte("v")) })
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Put of a 20,000-byte key in bucket %s = %v; want ErrInvalid", b, err)
		}
	}
	if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("short", []byte("m1"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := rawBuckets(t, path), []string{"\x00store/bolt", "\x00store/bolt/members", "long"}; !slices.Equal(got, want) {
		t.Errorf("the file's buckets = %q; want %q", got, want)
	}
	db = openDB(t, path, &bolt.Options{NoSync: true})
	err = db.View(t.Context(), func(tx store.Tx) error {
		if v, err := tx.Get("long", long); err != nil || string(v) != "v" {
			return fmt.Errorf("Get long = %q, %v", v, err)
		}
		if v, err := tx.Get("short", []byte("m1")); err != nil || string(v) != "v" {
			return fmt.Errorf("Get short = %q, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if err := db.Colocate(""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Colocate(\"\") = %v; want ErrInvalid", err)
	}
	if err := db.Colocate("\x00store/bolt/members"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Colocate of the reserved bucket = %v; want ErrInvalid", err)
	}
}

// TestCheckpointPartsByWrites checks that a checkpoint of more writes
// than a part takes (32,768) to few nodes commits in parts, whatever
// MaxMemory allows: one Update of 70,000 new keys, in a colocated bucket
// and a plain one, is checkpointed in at least two parts before its last.
// Rewriting every other key, 35,000 writes over the hundreds of pages
// that hold them, takes no part of its own. Every key is in the file after
// Close.
func TestCheckpointPartsByWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{CheckpointSize: 1 << 10})
	if err := db.Colocate("c"); err != nil {
		t.Fatal(err)
	}
	committed := make(chan struct{}, 1)
	bolt.SetCheckpointHook(db, func(stage string) {
		if stage == "committed" {
			committed <- struct{}{}
		}
	})
	const n = 35_000
	// write puts value under every step-th key of both buckets, and waits
	// for the checkpoint of it.
	write := func(step int, value string) {
		t.Helper()
		err := db.Update(t.Context(), func(tx store.Tx) error {
			for i := 0; i < n; i += step {
				if err := tx.Put("c", fmt.Appendf(nil, "m%05d\x00k", i), []byte(value)); err != nil {
					return err
				}
				if err := tx.Put("p", fmt.Appendf(nil, "%05d", i), []byte(value)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		<-committed
	}
	write(1, "v")
	parts := db.Stats().CheckpointParts
	if parts < 2 {
		t.Errorf("Stats().CheckpointParts = %d after a checkpoint of %d new keys; want 2 or more", parts, 2*n)
	}
	write(2, "w")
	if st := db.Stats(); st.CheckpointParts != parts {
		t.Errorf("Stats().CheckpointParts = %d after a checkpoint of %d rewrites over many pages; want %d, as before it", st.CheckpointParts, n, parts)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db = openDB(t, path, nil)
	err := db.View(t.Context(), func(tx store.Tx) error {
		for _, b := range []string{"c", "p"} {
			got := 0
			if err := tx.Scan(b, nil, nil, false, func(k, v []byte) error { got++; return nil }); err != nil {
				return err
			}
			if got != n {
				t.Errorf("bucket %q holds %d keys; want %d", b, got, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if err := db.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestCheckpointTimeAndWrites checks the checkpoints' counters of Stats:
// CheckpointTime follows the store's clock from a checkpoint's start to
// its commit (a clock that the checkpoint's start moves on by 250 ms:
// 250 ms a checkpoint), and CheckpointWrites counts the pages written.
// Each of 400 values of 1,000 bytes takes an element of 1,025 bytes in a
// leaf (16 of header, a 5-byte key, the value and its 4-byte checksum),
// and a 4,096-byte page holds 4,080 bytes of elements, so three at most:
// a checkpoint that writes them all writes at least 134 leaves, and no
// more pages than the file has.
func TestCheckpointTimeAndWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{CheckpointSize: 1 << 10})
	var clock atomic.Int64 // nanoseconds after start
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	bolt.SetClock(db, func() time.Time { return start.Add(time.Duration(clock.Load())) })
	committed := make(chan struct{}, 1)
	bolt.SetCheckpointHook(db, func(stage string) {
		switch stage {
		case "begin":
			clock.Add(int64(250 * time.Millisecond))
		case "committed":
			committed <- struct{}{}
		}
	})
	write := func(value byte) {
		t.Helper()
		err := db.Update(t.Context(), func(tx store.Tx) error {
			for i := range 400 {
				if err := tx.Put("p", fmt.Appendf(nil, "k%04d", i), bytes.Repeat([]byte{value}, 1000)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		<-committed
	}
	if st := db.Stats(); st.CheckpointTime != 0 || st.CheckpointCommitTime != 0 || st.CheckpointWrites != 0 {
		t.Fatalf("Stats of a new store: CheckpointTime %v, CheckpointCommitTime %v, CheckpointWrites %d; want zeros", st.CheckpointTime, st.CheckpointCommitTime, st.CheckpointWrites)
	}
	var before bolt.Stats
	for round, value := range []byte{'a', 'b'} {
		write(value)
		st := db.Stats()
		if want := time.Duration(round+1) * 250 * time.Millisecond; st.CheckpointTime != want {
			t.Errorf("after checkpoint %d: CheckpointTime = %v; want %v", round+1, st.CheckpointTime, want)
		}
		if st.CheckpointCommitTime <= before.CheckpointCommitTime {
			t.Errorf("after checkpoint %d: CheckpointCommitTime = %v; want more than %v", round+1, st.CheckpointCommitTime, before.CheckpointCommitTime)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		wrote := st.CheckpointWrites - before.CheckpointWrites
		if pages := uint64(fi.Size() / 4096); wrote < 134 || wrote > pages {
			t.Errorf("checkpoint %d wrote %d pages; want from 134 to the file's %d", round+1, wrote, pages)
		}
		before = st
	}
}

// TestCheckpointParts checks checkpoints written in parts (a MaxMemory so
// small that each part changes 2 pages), on a colocated bucket and a plain
// one: reads during and after are right, and a crash after a part, before
// the checkpoint ends, replays to every answered Update once.
func TestCheckpointParts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	// 2 nodes a part: MaxMemory / 8 / (2 pages of 4 KiB).
	db := openDB(t, path, &bolt.Options{MaxMemory: 2 * 8 * 2 * 4096, CheckpointSize: 1 << 10})
	if err := db.Colocate("b"); err != nil {
		t.Fatal(err)
	}
	entered, proceed, copied := make(chan struct{}), make(chan struct{}), make(chan string)
	var once sync.Once
	bolt.SetCheckpointHook(db, func(stage string) {
		// The second checkpoint's first part: the first took bucket b.
		if stage != "part" || db.Stats().Checkpoints == 0 {
			return
		}
		once.Do(func() {
			close(entered)
			<-proceed
			copied <- copyStore(t, path)
		})
	})
	var want []string
	for i := 0; ; i++ {
		if i == 100_000 {
			t.Fatal("no checkpoint in parts after 100,000 Updates")
		}
		k := fmt.Sprintf("m%04d\x00k", i)
		if err := db.Update(t.Context(), counted(k)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		want = append(want, k)
		select {
		case <-entered:
		default:
			continue
		}
		break
	}
	close(proceed)
	cp := <-copied
	if st := db.Stats(); st.CheckpointParts == 0 {
		t.Errorf("Stats().CheckpointParts = 0; want parts")
	}
	db2 := openDB(t, cp, nil)
	if got := checkCounted(t, db2, want); !slices.Equal(got, want) {
		t.Errorf("keys after replay = %q; want %q", got, want)
	}
	if err := db2.Check(t.Context()); err != nil {
		t.Errorf("Check of the copy: %v", err)
	}
	// The store itself goes on, checkpointing in parts.
	for i := range 50 {
		k := fmt.Sprintf("n%04d\x00k", i)
		if err := db.Update(t.Context(), counted(k)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		want = append(want, k)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := rawBuckets(t, path), []string{"\x00store/bolt", "\x00store/bolt/members", "meta"}; !slices.Equal(got, want) {
		t.Errorf("the file's buckets = %q; want %q", got, want)
	}
	db3 := openDB(t, path, nil)
	if got := checkCounted(t, db3, want); !slices.Equal(got, want) {
		t.Errorf("keys after Close = %q; want %q", got, want)
	}
	if err := db3.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestSlowDown checks that while a checkpoint is held up, batches are
// delayed once the overlay is past half its bound, each longer than the
// one before as the overlay fills, never as long as 20 ms, and not at all
// once the checkpoint is done.
func TestSlowDown(t *testing.T) {
	db := tempDB(t, &bolt.Options{CheckpointSize: 4 << 10, MaxOverlaySize: 64 << 10, NoSync: true})
	var (
		mu     sync.Mutex
		delays []time.Duration
	)
	bolt.SetSlowdownTimer(db, func(d time.Duration) <-chan time.Time {
		mu.Lock()
		delays = append(delays, d)
		mu.Unlock()
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	})
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	bolt.SetCheckpointHook(db, func(stage string) {
		if stage == "committed" {
			once.Do(func() { close(held); <-hold })
		}
	})
	value := bytes.Repeat([]byte("v"), 1000)
	put := func(k string) {
		t.Helper()
		if err := db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte(k), value) }); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for ; n < 40; n++ {
		put(fmt.Sprint("k", n))
		mu.Lock()
		got := len(delays)
		mu.Unlock()
		if got == 5 {
			break
		}
	}
	<-held
	mu.Lock()
	got := slices.Clone(delays)
	mu.Unlock()
	if len(got) != 5 {
		t.Fatalf("delays %v after %d Updates; want 5 before the overlay's bound", got, n)
	}
	for i, d := range got {
		if d <= 0 || d >= 20*time.Millisecond || i > 0 && d <= got[i-1] {
			t.Errorf("delays %v: want each in (0, 20ms) and longer than the one before", got)
			break
		}
	}
	if st := db.Stats(); st.Slowed != 5 || st.SlowedFor != got[0]+got[1]+got[2]+got[3]+got[4] {
		t.Errorf("Stats: Slowed %d, SlowedFor %v; want 5 and the delays' sum", st.Slowed, st.SlowedFor)
	}
	close(hold)
	// A backup checkpoints every batch answered: the overlay is then
	// empty, and the next ten batches stay far under half its bound.
	if _, err := db.Backup(t.Context(), io.Discard); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	before := len(delays)
	mu.Unlock()
	for i := range 10 {
		put(fmt.Sprint("late", i))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delays) != before {
		t.Errorf("delays %v: want none after %d, once the checkpoints are done", delays, before)
	}
}

// TestColocatedAbsentGroup checks the reads of keys of members that bbolt
// holds no record of, which a transaction notes to read their other keys
// without looking (see refs.absent): a miss beside a record of the same
// member, of another bucket, must not hide that record from a later Get
// or Scan, nor a miss of member m1 hide m10's, nor an absent member's
// records written in the transaction be hidden.
func TestColocatedAbsentGroup(t *testing.T) {
	db := inBbolt(t, []string{"a", "b"}, func(tx store.Tx) error {
		for _, r := range [][2]string{{"a", "m1\x00x"}, {"b", "m2\x00x"}, {"a", "m10\x00x"}} {
			if err := tx.Put(r[0], []byte(r[1]), []byte(r[0]+":"+r[1])); err != nil {
				return err
			}
		}
		return nil
	})
	get := func(tx store.Tx, b, k, want string) { t.Helper(); wantGet(t, tx, b, k, want) }
	scan := func(tx store.Tx, b, start, end string, want ...string) {
		t.Helper()
		var got []string
		err := tx.Scan(b, []byte(start), []byte(end), false, func(k, v []byte) error {
			got = append(got, string(v))
			return nil
		})
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Scan(%q, %q, %q) = %q, %v; want %q", b, start, end, got, err, want)
		}
	}
	for name, reads := range map[string]func(tx store.Tx){
		// b's miss of m1 lies after a's record of m1 (tags: a 1, b 2).
		"after": func(tx store.Tx) {
			get(tx, "b", "m1\x00x", "")
			get(tx, "a", "m1\x00x", "a:m1\x00x")
			scan(tx, "a", "m1\x00", "m1\x01", "a:m1\x00x")
		},
		// a's miss of m2 lies before b's record of m2.
		"before": func(tx store.Tx) {
			get(tx, "a", "m2\x00x", "")
			get(tx, "b", "m2\x00x", "b:m2\x00x")
			scan(tx, "b", "m2\x00", "m2\x01", "b:m2\x00x")
		},
		// m1's miss lies before m10's record, another member's.
		"prefix": func(tx store.Tx) {
			get(tx, "a", "m1\x00y", "")
			get(tx, "a", "m10\x00x", "a:m10\x00x")
			scan(tx, "a", "m10\x00", "m10\x01", "a:m10\x00x")
			get(tx, "a", "m1\x00x", "a:m1\x00x")
		},
		// m11 has no record, nor has m15 between the same neighbours;
		// those neighbours' members have theirs.
		"between": func(tx store.Tx) {
			get(tx, "a", "m11\x00x", "")
			get(tx, "b", "m2\x00x", "b:m2\x00x")
			get(tx, "a", "m15\x00x", "")
			get(tx, "a", "m10\x00x", "a:m10\x00x")
			scan(tx, "a", "m10\x00", "m10\x01", "a:m10\x00x")
			get(tx, "b", "m1\x00x", "")
			get(tx, "a", "m1\x00x", "a:m1\x00x")
		},
		// after the last member: m3 and m4 have none, m2 has.
		"last": func(tx store.Tx) {
			get(tx, "a", "m4\x00x", "")
			get(tx, "a", "m3\x00x", "")
			get(tx, "b", "m2\x00x", "b:m2\x00x")
		},
		// m3 has no record; a range beyond it still reads bbolt.
		"absent": func(tx store.Tx) {
			get(tx, "a", "m3\x00x", "")
			get(tx, "b", "m3\x00x", "")
			scan(tx, "a", "m3\x00", "m3\x01")
			scan(tx, "b", "m2\x00", "m3\x01", "b:m2\x00x")
			get(tx, "a", "m0\x00x", "")
			scan(tx, "a", "m0\x00", "m2", "a:m1\x00x", "a:m10\x00x")
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := db.View(t.Context(), func(tx store.Tx) error { reads(tx); return nil })
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	// An absent member's records written in the transaction are read.
	err := db.Update(t.Context(), func(tx store.Tx) error {
		get(tx, "a", "m3\x00x", "")
		if err := tx.Put("b", []byte("m3\x00y"), []byte("b:m3\x00y")); err != nil {
			return err
		}
		get(tx, "b", "m3\x00y", "b:m3\x00y")
		scan(tx, "b", "m3\x00", "m3\x01", "b:m3\x00y")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAbsentGap checks the reads of absent keys of a bucket that is not
// colocated, each of which a transaction remembers the neighbours of, to
// answer a later miss between them without looking (see
// bucketRefs.gapLo): the neighbours themselves, and keys beyond them,
// are still found.
func TestAbsentGap(t *testing.T) {
	db := inBbolt(t, nil, func(tx store.Tx) error {
		for _, k := range []string{"b", "d", "f"} {
			if err := tx.Put("plain", []byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	// Each read follows a miss whose gap borders its key.
	reads := []struct{ key, want string }{
		{"c", ""}, {"cc", ""}, {"d", "vd"}, {"c", ""}, {"b", "vb"},
		{"e", ""}, {"f", "vf"}, {"g", ""}, {"z", ""}, {"f", "vf"},
		{"a", ""}, {"b", "vb"}, {"\x00", ""}, {"a", ""},
	}
	err := db.View(t.Context(), func(tx store.Tx) error {
		for _, r := range reads {
			wantGet(t, tx, "plain", r.key, r.want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestColocatedManyRecords checks the reads of a member with many records
// (84, more than a page holds) in two buckets: Gets of the first, the
// last and absent keys, and Scans of part, all and across of them.
func TestColocatedManyRecords(t *testing.T) {
	const n, mid = 84, 64
	key := func(i int) string { return fmt.Sprintf("m1\x00k%03d", i) }
	db := inBbolt(t, []string{"a", "b"}, func(tx store.Tx) error {
		for i := range n {
			if err := tx.Put("a", []byte(key(i)), []byte(fmt.Sprint(i))); err != nil {
				return err
			}
		}
		return tx.Put("b", []byte("m1\x00x"), []byte("bx"))
	})
	count := func(tx store.Tx, b, start, end string) (int, error) {
		c := 0
		err := tx.Scan(b, []byte(start), []byte(end), false, func(k, v []byte) error { c++; return nil })
		return c, err
	}
	err := db.View(t.Context(), func(tx store.Tx) error {
		for _, g := range []struct{ b, k, want string }{
			{"a", key(3), "3"},
			{"a", key(n - 1), fmt.Sprint(n - 1)},
			{"a", key(mid), fmt.Sprint(mid)},
			{"a", key(n), ""},
			{"a", "m1\x00k0035", ""},
			{"b", "m1\x00x", "bx"}, // the later bucket
		} {
			wantGet(t, tx, g.b, g.k, g.want)
		}
		for _, s := range []struct {
			b, start, end string
			want          int
		}{
			{"a", key(0), key(10), 10},
			{"a", "m1\x00", "m1\x01", n},
			{"a", key(60), key(n - 5), n - 5 - 60},
			{"b", "m1\x00", "m1\x01", 1}, // the later bucket
		} {
			if got, err := count(tx, s.b, s.start, s.end); err != nil || got != s.want {
				t.Errorf("Scan(%q, %q, %q) = %d records, %v; want %d", s.b, s.start, s.end, got, err, s.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wantGet checks tx.Get(b, k): want, or ErrNotFound when want is empty.
func wantGet(t *testing.T, tx store.Tx, b, k, want string) {
	t.Helper()
	v, err := tx.Get(b, []byte(k))
	switch {
	case want == "" && !errors.Is(err, store.ErrNotFound):
		t.Errorf("Get(%q, %q) = %q, %v; want ErrNotFound", b, k, v, err)
	case want != "" && (err != nil || string(v) != want):
		t.Errorf("Get(%q, %q) = %q, %v; want %q", b, k, v, err, want)
	}
}

// inBbolt returns a store, its buckets colocate colocated, to which put
// wrote in one Update and which was then closed and opened again, so that
// every record is in the bbolt file and reads go there.
func inBbolt(t *testing.T, colocate []string, put func(tx store.Tx) error) *bolt.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{NoSync: true})
	if len(colocate) > 0 {
		if err := db.Colocate(colocate...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(t.Context(), put); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return openDB(t, path, &bolt.Options{NoSync: true})
}

// TestCheckpointRetry checks that a failed checkpoint is tried again once
// CheckpointRetry has passed on the store's clock (SetClock), and not
// before: the clock stands still while Updates go on, then moves.
func TestCheckpointRetry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	var mu sync.Mutex
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	retryAt := now.Add(bolt.CheckpointRetry)
	var begins atomic.Int32
	var faulted, early atomic.Bool
	// 2 nodes a part (as MaxMemory / 8 / 2 pages of 4 KiB would make
	// them), and no checkpoint but Backup's.
	opts := bolt.WithCheckpointPart(&bolt.Options{CheckpointSize: 1 << 30, MaxOverlaySize: 1 << 30, NoSync: true}, 2)
	db, err := bolt.OpenHooked(path, opts, func(stage string) {
		switch stage {
		case "begin":
			if begins.Add(1) > 1 && clock().Before(retryAt) {
				early.Store(true)
			}
		case "part":
			if !faulted.Swap(true) {
				panic("injected fault") // the checkpoint fails as on a damaged page
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bolt.SetClock(db, clock)
	put := func(i int) {
		t.Helper()
		err := db.Update(t.Context(), func(tx store.Tx) error {
			return tx.Put("a", []byte(fmt.Sprintf("k%05d", i)), bytes.Repeat([]byte{'v'}, 100))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 200 {
		put(i)
	}
	if _, err := db.Backup(t.Context(), io.Discard); !errors.Is(err, bolt.ErrCorrupt) {
		t.Fatalf("Backup with the checkpoint failing: %v; want ErrCorrupt", err)
	}
	mu.Lock()
	now = retryAt.Add(-time.Nanosecond)
	mu.Unlock()
	for i := 200; i < 220; i++ {
		put(i)
	}
	mu.Lock()
	now = retryAt
	mu.Unlock()
	// A bound on a hang, should the clock not be read: the retry is due.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := db.Backup(ctx, io.Discard); err != nil {
		t.Fatalf("Backup once the retry is due: %v", err)
	}
	if early.Load() {
		t.Error("the checkpoint was tried again before CheckpointRetry had passed")
	}
	// Begun: the one that failed, its retry, and the checkpoint of the
	// later Updates' generation that Backup waits for; the last two
	// committed.
	if n := begins.Load(); n != 3 {
		t.Errorf("checkpoints begun = %d; want 3", n)
	}
	if st := db.Stats(); st.Checkpoints != 2 {
		t.Errorf("Stats().Checkpoints = %d; want 2", st.Checkpoints)
	}
}

// TestAscendingRunsFillPages checks how full a checkpoint leaves the pages
// of a bucket not colocated that takes keys in two ascending runs at
// once, as the due bucket does (an expiry a year on, a tag's window 90
// days on): not appended after the bucket's last key, yet no page is
// written to again once a run has passed it, so pages split at bbolt's
// default of half stay half full. Keys put at random keep bbolt's split
// (TestRandomKeysFillPages).
func TestAscendingRunsFillPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{CheckpointSize: 64 << 10, NoSync: true})
	value := make([]byte, 40)
	for day := range 400 {
		err := db.Update(t.Context(), func(tx store.Tx) error {
			for i := range 20 {
				for _, ahead := range []int{90, 365} {
					if err := tx.Put("due", fmt.Appendf(nil, "%04d-%03d-%02d", day+ahead, ahead, i), value); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	if st := db.Stats(); st.Checkpoints < 10 {
		t.Fatalf("Stats().Checkpoints = %d; want 10 or more", st.Checkpoints)
	}
	st := closedBucketStats(t, db, path, "due")
	if st.KeyN != 400*20*2 {
		t.Errorf("%d keys; want %d", st.KeyN, 400*20*2)
	}
	if fill := float64(st.LeafInuse) / float64(st.LeafAlloc); fill < 0.8 {
		t.Errorf("leaf pages %.2f full (%d pages); want 0.8 or more", fill, st.LeafPageN)
	}
}

// closedBucketStats closes db and returns bbolt's statistics of bucket in
// its file at path.
func closedBucketStats(t *testing.T, db *bolt.DB, path, bucket string) bbolt.BucketStats {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var st bbolt.BucketStats
	err = raw.View(func(tx *bbolt.Tx) error {
		st = tx.Bucket([]byte(bucket)).Stats()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRandomKeysFillPages checks that keys put at random (as random event
// IDs are) keep bbolt's split at half: split fuller, each page a random key
// overflows leaves a page with a key or two, and the pages end less full.
func TestRandomKeysFillPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{CheckpointSize: 256 << 10, NoSync: true})
	r := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, 100)
	for range 500 {
		err := db.Update(t.Context(), func(tx store.Tx) error {
			for range 100 {
				if err := tx.Put("events", binary.BigEndian.AppendUint64(nil, r.Uint64()), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	st := closedBucketStats(t, db, path, "events")
	if fill := float64(st.LeafInuse) / float64(st.LeafAlloc); fill < 0.6 {
		t.Errorf("leaf pages %.2f full (%d pages); want 0.6 or more", fill, st.LeafPageN)
	}
}
