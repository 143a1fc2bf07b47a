package bolt_test

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/storetest"
)

const membersBucket = "\x00store/bolt/members"

// TestConformancePacked runs the suite on colocated buckets whose groups
// pack in at most 24 bytes: a group of a record or two is packed, a larger
// one is not, and groups move between the two as the suite's writes come,
// with a checkpoint after every batch, in parts.
func TestConformancePacked(t *testing.T) {
	opts := bolt.WithCheckpointPart(&bolt.Options{CheckpointSize: 1, MaxOverlaySize: 1 << 30, NoSync: true}, 2)
	open := func(t *testing.T) store.Store {
		db, err := bolt.OpenPackMax(filepath.Join(t.TempDir(), "store.db"), opts, 24)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return colocStore{db}
	}
	storetest.Run(t, open)
	storetest.RunSerial(t, open)
}

// packState reads, from the closed store at path, whether group has a
// pack and which of keys of bucket a (tag 1) it has one by one.
func packState(t *testing.T, path, group string, keys []string) (packed bool, single []string) {
	t.Helper()
	packed = rawValue(t, path, membersBucket, group+"\x00\x00\x00") != nil
	for _, k := range keys {
		if rawValue(t, path, membersBucket, group+"\x00\x00\x01"+k) != nil {
			single = append(single, k)
		}
	}
	return packed, single
}

// readBucket returns bucket's records, read with a Scan each way and a Get
// of each.
func readBucket(t *testing.T, db *bolt.DB, bucket string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := db.View(t.Context(), func(tx store.Tx) error {
		var up, down []string
		if err := tx.Scan(bucket, nil, nil, false, func(k, v []byte) error {
			got[string(k)] = string(v)
			up = append(up, string(k))
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Scan(bucket, nil, nil, true, func(k, v []byte) error {
			down = append(down, string(k))
			return nil
		}); err != nil {
			return err
		}
		slices.Reverse(down)
		if !slices.IsSorted(up) || !slices.Equal(up, down) {
			return fmt.Errorf("scans up %q and down %q", up, down)
		}
		for k, v := range got {
			g, err := tx.Get(bucket, []byte(k))
			if err != nil || string(g) != v {
				return fmt.Errorf("Get %q = %q, %v; want %q", k, g, err, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPackGrowsAndShrinks follows a member's records as they grow past
// the pack's limit and shrink below it again: packed while they encode in
// 64 bytes or less (16 bytes each here: a tag, the tail \x00k<i> and its
// length, a 10-byte value and its length), one by one above it, packed
// again, and gone when deleted, never both, every read answering the same.
func TestPackGrowsAndShrinks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	key := func(i int) string { return fmt.Sprintf("m1\x00k%d", i) }
	var keys []string
	for i := range 6 {
		keys = append(keys, key(i))
	}
	want := map[string]string{}
	step := func(name string, fn func(tx store.Tx) error, wantPacked bool, wantSingle []string) {
		t.Helper()
		db, err := bolt.OpenPackMax(path, &bolt.Options{NoSync: true}, 64)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Colocate("a"); err != nil {
			t.Fatal(err)
		}
		if err := db.Update(t.Context(), fn); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		packed, single := packState(t, path, "m1", keys)
		if packed != wantPacked || !slices.Equal(single, wantSingle) {
			t.Errorf("%s: packed %v, one by one %q; want %v, %q", name, packed, single, wantPacked, wantSingle)
		}
		db = openDB(t, path, &bolt.Options{NoSync: true})
		if got := readBucket(t, db, "a"); !maps.Equal(got, want) {
			t.Errorf("%s: read %q; want %q", name, got, want)
		}
		if err := db.Check(t.Context()); err != nil {
			t.Errorf("%s: Check: %v", name, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	put := func(from, to int) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			for i := from; i < to; i++ {
				v := fmt.Sprintf("value-%04d", i)
				want[key(i)] = v
				if err := tx.Put("a", []byte(key(i)), []byte(v)); err != nil {
					return err
				}
			}
			// A pool's key and another member's, around m1.
			want["\x00pool"], want["m2\x00x"] = "p", "x"
			return putAll(tx, "a", "\x00pool", "p", "m2\x00x", "x")
		}
	}
	del := func(ks ...int) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			for _, i := range ks {
				delete(want, key(i))
				if err := tx.Delete("a", []byte(key(i))); err != nil {
					return err
				}
			}
			return nil
		}
	}
	step("four records, 64 bytes", put(0, 4), true, nil)
	step("five, 80 bytes", put(4, 5), false, keys[:5])
	step("six", put(5, 6), false, keys)
	step("a delete among six", del(5), false, keys[:5])
	step("down to three, 48 bytes", del(0, 4), true, nil)
	step("none", del(1, 2, 3), false, nil)
}

// TestFormat3FilePacked opens a file of format 3, whose colocated records
// are one by one: it reads them as they are, packs the groups a checkpoint
// writes, leaves the others, and the file becomes format 5 (a file of
// format 4 with no held writes).
func TestFormat3FilePacked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.OpenPackMax(path, &bolt.Options{NoSync: true}, -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Colocate("a", "b"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	err = db.Update(t.Context(), func(tx store.Tx) error {
		for _, m := range []string{"m1", "m2"} {
			for _, k := range []string{m, m + "\x00x", m + "\x00y"} {
				want[k] = "v:" + k
				if err := putAll(tx, "a", k, "v:"+k); err != nil {
					return err
				}
				if err := putAll(tx, "b", k, "b"); err != nil {
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
	// What a release of format 3 wrote: the same records, format 3.
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("\x00store/bolt")).Put([]byte("format"), sealed("\x00store/bolt", "format", "\x00\x00\x00\x03"))
	})
	keys := []string{"m1", "m1\x00x", "m1\x00y", "m2", "m2\x00x", "m2\x00y"}
	if packed, single := packState(t, path, "m1", keys[:3]); packed || len(single) != 3 {
		t.Fatalf("before: m1 packed %v, one by one %q", packed, single)
	}
	db = openDB(t, path, &bolt.Options{NoSync: true})
	if got := readBucket(t, db, "a"); !maps.Equal(got, want) {
		t.Errorf("read the file of format 3: %q; want %q", got, want)
	}
	err = db.Update(t.Context(), func(tx store.Tx) error {
		want["m1\x00z"] = "new"
		return putAll(tx, "a", "m1\x00z", "new")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if packed, single := packState(t, path, "m1", keys[:3]); !packed || len(single) != 0 {
		t.Errorf("m1, written: packed %v, one by one %q; want packed only", packed, single)
	}
	if packed, single := packState(t, path, "m2", keys[3:]); packed || !slices.Equal(single, keys[3:]) {
		t.Errorf("m2, not written: packed %v, one by one %q; want one by one", packed, single)
	}
	if got, want := rawValue(t, path, "\x00store/bolt", "format"), sealed("\x00store/bolt", "format", "\x00\x00\x00\x05"); string(got) != string(want) {
		t.Errorf("format record = %x; want %x (format 5)", got, want)
	}
	db = openDB(t, path, &bolt.Options{NoSync: true})
	if got := readBucket(t, db, "a"); !maps.Equal(got, want) {
		t.Errorf("read after the checkpoint: %q; want %q", got, want)
	}
	if err := db.Check(t.Context()); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestFlippedPack flips a byte of a member's pack: its records' Gets, a
// Scan over them and Check fail with ErrCorrupt; another member's records
// read as they are.
func TestFlippedPack(t *testing.T) {
	base := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, base, &bolt.Options{NoSync: true})
	if err := db.Colocate("a"); err != nil {
		t.Fatal(err)
	}
	err := db.Update(t.Context(), func(tx store.Tx) error {
		return putAll(tx, "a", "m1\x00k", "value-to-harm", "m1\x00l", "other", "m2\x00k", "intact value")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if rawValue(t, base, membersBucket, "m1\x00\x00\x00") == nil {
		t.Fatal("m1 has no pack")
	}
	path := copyStore(t, base)
	changeFile(t, path, func(p []byte) []byte {
		found := false
		for off := 0; ; {
			i := indexFrom(p, off, "value-to-harm")
			if i < 0 {
				break
			}
			p[i+3] ^= 0x04
			found, off = true, i+1
		}
		if !found {
			t.Fatal("the pack is not in the file")
		}
		return p
	})
	db = openDB(t, path, &bolt.Options{NoSync: true})
	corrupt := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, bolt.ErrCorrupt) || !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s = %v; want an error wrapping bolt.ErrCorrupt and store.ErrCorrupt", what, err)
		}
	}
	for _, k := range []string{"m1\x00k", "m1\x00l"} {
		corrupt("Get "+k, db.View(t.Context(), func(tx store.Tx) error {
			v, err := tx.Get("a", []byte(k))
			if err == nil {
				return fmt.Errorf("read %q", v)
			}
			return err
		}))
	}
	corrupt("Scan", db.View(t.Context(), func(tx store.Tx) error {
		return tx.Scan("a", nil, nil, false, func(k, v []byte) error { return nil })
	}))
	corrupt("Check", db.Check(t.Context()))
	err = db.View(t.Context(), func(tx store.Tx) error {
		v, err := tx.Get("a", []byte("m2\x00k"))
		if err == nil && string(v) != "intact value" {
			err = fmt.Errorf("m2 = %q", v)
		}
		return err
	})
	if err != nil {
		t.Errorf("Get of an intact member = %v", err)
	}
}

// TestScanPackWhileReading checks a Scan of a member's packed records
// whose callback reads another member's, which decodes that member's pack
// in the place where the first one's was: the Scan walks its own copy.
func TestScanPackWhileReading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Colocate("a"); err != nil {
		t.Fatal(err)
	}
	var want []string
	err = db.Update(t.Context(), func(tx store.Tx) error {
		for i := range 12 {
			k := fmt.Sprintf("m1\x00k%02d", i)
			want = append(want, k)
			if err := putAll(tx, "a", k, "v"+k, fmt.Sprintf("m2\x00j%02d", i), "other"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Reopened, the store reads them from bbolt.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, path, &bolt.Options{NoSync: true})
	for _, reverse := range []bool{false, true} {
		var got []string
		err = db.View(t.Context(), func(tx store.Tx) error {
			return tx.Scan("a", []byte("m1\x00"), []byte("m1\x01"), reverse, func(k, v []byte) error {
				if string(v) != "v"+string(k) {
					return fmt.Errorf("%q = %q", k, v)
				}
				got = append(got, string(k))
				o, err := tx.Get("a", []byte("m2\x00j05"))
				if err == nil && string(o) != "other" {
					err = fmt.Errorf("m2 = %q", o)
				}
				return err
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if reverse {
			slices.Reverse(got)
		}
		if !slices.Equal(got, want) {
			t.Errorf("reverse %v: scanned %q; want %q", reverse, got, want)
		}
	}
}

// TestOverlayOfColocatedBuckets checks reads of the writes the overlay
// holds in one tree for the colocated buckets, under physical keys: a
// store reopened on a file whose buckets a and b are colocated, writes
// logged but not checkpointed, half of them in a generation being
// checkpointed (the hook holds the checkpoint) and half in the active one;
// then, reopened after Close, as bbolt holds them.
func TestOverlayOfColocatedBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Colocate("a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), func(tx store.Tx) error { return putAll(tx, "a", "m9\x00x", "x") }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	began, release := make(chan struct{}, 1), make(chan struct{})
	db, err = bolt.OpenHooked(path, &bolt.Options{NoSync: true, CheckpointSize: 1 << 30}, func(stage string) {
		if stage == "begin" {
			select {
			case began <- struct{}{}:
			default:
			}
			<-release
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	put := func(keys []string) {
		t.Helper()
		err := db.Update(t.Context(), func(tx store.Tx) error {
			for _, k := range keys {
				for _, b := range []string{"a", "b", "plain"} {
					if err := tx.Put(b, []byte(k), []byte(b+":"+k)); err != nil {
						return err
					}
				}
			}
			return tx.Delete("a", []byte("m9\x00x"))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(colocKeys[:5])
	// Backup waits for a checkpoint, which the hook holds: the first
	// writes are then in the generation being checkpointed.
	backed := make(chan error, 1)
	go func() {
		_, err := db.Backup(t.Context(), io.Discard)
		backed <- err
	}()
	<-began
	put(colocKeys[5:])
	checkColocKeys(t, db)
	close(release)
	if err := <-backed; err != nil {
		t.Fatal(err)
	}
	checkColocKeys(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	reopenCheckColocKeys(t, path)
}

// TestCheckPackAndSingle checks that Check reports a group that has a
// pack and a record one by one, which no checkpoint writes.
func TestCheckPackAndSingle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{NoSync: true})
	if err := db.Colocate("a"); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(t.Context(), func(tx store.Tx) error { return putAll(tx, "a", "m1\x00k", "v", "m2\x00k", "w") }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(membersBucket)).Put([]byte("m1\x00\x00\x01m1\x00j"), sealed("a", "m1\x00j", "stray"))
	})
	db = openDB(t, path, &bolt.Options{NoSync: true})
	if err := db.Check(t.Context()); !errors.Is(err, bolt.ErrCorrupt) || !strings.Contains(err.Error(), "has a pack too") {
		t.Errorf("Check = %v; want an error wrapping ErrCorrupt naming the group with a pack too", err)
	}
}

// indexFrom is the index of s in p at or after off, or -1.
func indexFrom(p []byte, off int, s string) int {
	for i := off; i+len(s) <= len(p); i++ {
		if string(p[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}
