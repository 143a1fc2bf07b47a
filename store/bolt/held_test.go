package bolt_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// openHolding opens a DB in path that checkpoints after every batch and
// holds writes back up to holdMax (see Held writes), and closes it at
// cleanup.
func openHolding(t *testing.T, path string, holdMax int64) *bolt.DB {
	t.Helper()
	return closedAtCleanup(t, path)(bolt.OpenHoldMax(path, &bolt.Options{CheckpointSize: 1, NoSync: true}, holdMax))
}

// checkpointNow waits until the bbolt file holds every batch answered (a
// Backup waits for that).
func checkpointNow(t *testing.T, db *bolt.DB) {
	t.Helper()
	if _, err := db.Backup(t.Context(), io.Discard); err != nil {
		t.Fatalf("Backup: %v", err)
	}
}

// backupTo writes a backup of db to a new path and returns it.
func backupTo(t *testing.T, db *bolt.DB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.db")
	if _, err := db.BackupFile(t.Context(), path); err != nil {
		t.Fatalf("BackupFile: %v", err)
	}
	return path
}

// heldRecords returns the number of held records in the file at path.
func heldRecords(t *testing.T, path string) int {
	t.Helper()
	n, err := bolt.HeldRecords(path)
	if err != nil {
		t.Fatalf("HeldRecords(%s): %v", path, err)
	}
	return n
}

// scanAll returns bucket's pairs between start and end as "key=value",
// in the order Scan gives them.
func scanAll(t *testing.T, s store.Store, bucket, start, end string, reverse bool) []string {
	t.Helper()
	var got []string
	var lo, hi []byte
	if start != "" {
		lo = []byte(start)
	}
	if end != "" {
		hi = []byte(end)
	}
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.Scan(bucket, lo, hi, reverse, func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Scan(%s): %v", bucket, err)
	}
	return got
}

// pairs returns m as "key=value" in key order.
func pairs(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}

// update runs one Update that puts puts and deletes dels in bucket.
func update(t *testing.T, db *bolt.DB, bucket string, puts map[string]string, dels ...string) {
	t.Helper()
	err := db.Update(t.Context(), func(tx store.Tx) error {
		for _, k := range slices.Sorted(maps.Keys(puts)) {
			if err := tx.Put(bucket, []byte(k), []byte(puts[k])); err != nil {
				return err
			}
		}
		for _, k := range dels {
			if err := tx.Delete(bucket, []byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// TestHeldWrites checks that a checkpoint holds back small writes between
// a bucket's keys: the bucket in the file keeps its old records, the held
// record holds the writes, and reads, a backup and a reopen after a crash
// see them; Close puts them into the bucket and leaves no held record.
// Writes after a bucket's last key, and large values, are not held.
func TestHeldWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openHolding(t, path, 1<<30)

	// The file's buckets: idx with k000 to k198 (even numbers), app with
	// a0 to a4, big with b0 and b9.
	want := map[string]string{}
	for i := 0; i < 200; i += 2 {
		want[fmt.Sprintf("k%03d", i)] = fmt.Sprintf("v%d", i)
	}
	update(t, db, "idx", want)
	update(t, db, "app", map[string]string{"a0": "0", "a1": "1", "a2": "2", "a3": "3", "a4": "4"})
	update(t, db, "big", map[string]string{"b0": "0", "b9": "9"})
	checkpointNow(t, db)
	base := backupTo(t, db)
	if n := heldRecords(t, base); n != 0 {
		t.Fatalf("held records after the writes that made the buckets = %d; want 0", n)
	}

	// Between idx's keys: held. After app's last key, and 200 bytes
	// between big's keys: not held.
	update(t, db, "idx", map[string]string{"k051": "new", "k020": "over"}, "k010")
	want["k051"], want["k020"] = "new", "over"
	delete(want, "k010")
	update(t, db, "app", map[string]string{"a5": "5"})
	bigValue := strings.Repeat("x", 200)
	update(t, db, "big", map[string]string{"b5": bigValue})
	checkpointNow(t, db)

	held := backupTo(t, db)
	if n := heldRecords(t, held); n != 1 {
		t.Errorf("held records after the checkpoint = %d; want 1", n)
	}
	for key, v := range map[string][]byte{
		"k051": nil,                          // held: not in the bucket yet
		"k020": sealed("idx", "k020", "v20"), // the old value
		"k010": sealed("idx", "k010", "v10"), // deleted, but held
	} {
		if got := rawValue(t, held, "idx", key); !bytes.Equal(got, v) {
			t.Errorf("idx/%s in the file = %q; want %q", key, got, v)
		}
	}
	if got, v := rawValue(t, held, "app", "a5"), sealed("app", "a5", "5"); !bytes.Equal(got, v) {
		t.Errorf("app/a5 (appended) in the file = %q; want %q", got, v)
	}
	if got, v := rawValue(t, held, "big", "b5"), sealed("big", "b5", bigValue); !bytes.Equal(got, v) {
		t.Errorf("big/b5 (200 bytes) in the file = %q; want it", got)
	}

	// Reads see the held writes: the open DB, the backup opened as it is,
	// and a crashed copy of the files.
	crashed := copyStore(t, path)
	check := func(name string, s store.Store) {
		t.Helper()
		if got := scanAll(t, s, "idx", "", "", false); !slices.Equal(got, pairs(want)) {
			t.Errorf("%s: Scan(idx) = %q; want %q", name, got, pairs(want))
		}
		rev := pairs(want)
		slices.Reverse(rev)
		if got := scanAll(t, s, "idx", "", "", true); !slices.Equal(got, rev) {
			t.Errorf("%s: Scan(idx, reverse) = %q; want %q", name, got, rev)
		}
		// k009 to k052: the even keys 12 to 50 (k010 deleted), k020
		// overwritten, and k051.
		var inRange []string
		for i := 12; i <= 50; i += 2 {
			inRange = append(inRange, fmt.Sprintf("k%03d=v%d", i, i))
		}
		inRange[4] = "k020=over"
		inRange = append(inRange, "k051="+want["k051"])
		if got := scanAll(t, s, "idx", "k009", "k052", false); !slices.Equal(got, inRange) {
			t.Errorf("%s: Scan(idx, k009, k052) = %q; want %q", name, got, inRange)
		}
		err := s.View(t.Context(), func(tx store.Tx) error {
			for key, v := range map[string]string{"k051": want["k051"], "k020": "over", "k198": "v198"} {
				if got, err := tx.Get("idx", []byte(key)); err != nil || string(got) != v {
					t.Errorf("%s: Get(idx, %s) = %q, %v; want %q", name, key, got, err, v)
				}
			}
			if _, err := tx.Get("idx", []byte("k010")); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: Get(idx, k010) = %v; want ErrNotFound", name, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check("open", db)
	// An Update reads them too.
	err := db.Update(t.Context(), func(tx store.Tx) error {
		if got, err := tx.Get("idx", []byte("k051")); err != nil || string(got) != "new" {
			t.Errorf("Update: Get(idx, k051) = %q, %v; want new", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]string{"backup": held, "crashed": crashed} {
		db2 := openDB(t, p, nil)
		check(name, db2)
		if err := db2.Close(); err != nil {
			t.Fatalf("%s: Close: %v", name, err)
		}
		// Close put the held writes into the bucket.
		if n := heldRecords(t, p); n != 0 {
			t.Errorf("%s: held records after Close = %d; want 0", name, n)
		}
		for key, v := range map[string][]byte{
			"k051": sealed("idx", "k051", "new"),
			"k020": sealed("idx", "k020", "over"),
			"k010": nil,
		} {
			if got := rawValue(t, p, "idx", key); !bytes.Equal(got, v) {
				t.Errorf("%s: idx/%s in the file after Close = %q; want %q", name, key, got, v)
			}
		}
	}

	// A later write of a held key wins over the held one, and is held too.
	update(t, db, "idx", map[string]string{"k051": "newer"})
	want["k051"] = "newer"
	checkpointNow(t, db)
	check("open, after a second checkpoint", db)
	if n := heldRecords(t, backupTo(t, db)); n != 2 {
		t.Errorf("held records after two checkpoints = %d; want 2", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := heldRecords(t, path); n != 0 {
		t.Errorf("held records after Close = %d; want 0", n)
	}
	if got, v := rawValue(t, path, "idx", "k051"), sealed("idx", "k051", "newer"); !bytes.Equal(got, v) {
		t.Errorf("idx/k051 in the file after Close = %q; want %q", got, v)
	}
}

// TestHeldWritesBound checks that the held writes go into their buckets
// once they reach the bound: with a bound of 2,000 bytes and writes of
// ten 5-byte entries a checkpoint (each counted as 5 bytes and 96 of
// overhead, 1,010 bytes), every second checkpoint puts them.
func TestHeldWritesBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openHolding(t, path, 2000)
	// k0000, k1000, ..., k9000: the writes below go between them.
	seed := map[string]string{}
	for i := range 10 {
		seed[fmt.Sprintf("k%d000", i)] = "s"
	}
	update(t, db, "idx", seed)
	checkpointNow(t, db)
	for round := 1; round <= 4; round++ {
		puts := map[string]string{}
		for i := range 10 {
			puts[fmt.Sprintf("k%d%03d", i, round)] = "x"
		}
		update(t, db, "idx", puts)
		checkpointNow(t, db)
		p := backupTo(t, db)
		want := round % 2 // held after odd rounds, put after even ones
		if n := heldRecords(t, p); n != want {
			t.Errorf("round %d: held records = %d; want %d", round, n, want)
		}
		// After an even round, the file's bucket holds all of them.
		for i := range 10 {
			key := fmt.Sprintf("k%d%03d", i, round)
			got := rawValue(t, p, "idx", key)
			if inFile := got != nil; inFile != (want == 0) {
				t.Errorf("round %d: idx/%s in the file = %q; want it there %v", round, key, got, want == 0)
			}
		}
	}
}

// TestHeldRecordDamaged checks that Open refuses a file whose held record
// does not hold, with an error wrapping ErrCorrupt, changing no file.
func TestHeldRecordDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openHolding(t, path, 1<<30)
	update(t, db, "idx", map[string]string{"a": "1", "c": "3"})
	checkpointNow(t, db)
	update(t, db, "idx", map[string]string{"b": "2"})
	checkpointNow(t, db)
	p := backupTo(t, db)
	if n := heldRecords(t, p); n != 1 {
		t.Fatalf("held records = %d; want 1", n)
	}
	rawUpdate(t, p, func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("\x00store/bolt"))
		c := b.Cursor()
		k, v := c.Seek([]byte("held\x00"))
		if !bytes.HasPrefix(k, []byte("held\x00")) {
			return errors.New("no held record")
		}
		v = bytes.Clone(v)
		v[len(v)-2] ^= 0x40 // in the value of b's put
		return b.Put(bytes.Clone(k), v)
	})
	before, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bolt.Open(p, nil); !errors.Is(err, bolt.ErrCorrupt) || !strings.Contains(err.Error(), "held writes") {
		t.Errorf("Open = %v; want an error wrapping ErrCorrupt about the held writes", err)
	}
	if after, err := os.ReadFile(p); err != nil || !bytes.Equal(before, after) {
		t.Errorf("the refused Open changed the file (%v)", err)
	}
}

// TestHeldWritesPutInTurn checks the rolling put of held writes: past
// seven eighths of their bound, each checkpoint puts the fewest of them,
// in key order from where the last left off, that bring them back under
// it, and once it has gone through the bucket it deletes the records
// written before it began. With a bound of 2,000 bytes (1,750 the target)
// and one write a checkpoint, "m98" then "m97" and so on down, each
// counted as 4 bytes and 96 of overhead: the 18th write brings the held
// writes to 1,800, so that checkpoint begins the put with the first key,
// m81 (the 18th write's own), and each one after puts the next key up
// (m82 with the 19th write, m98 with the 35th), the keys written meanwhile
// going in below where it stands. The 35th checkpoint then reaches the
// end of the bucket and deletes the 18 records of the first 18 writes,
// leaving 17. Reads, a crashed copy and Close see every write throughout.
func TestHeldWritesPutInTurn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openHolding(t, path, 2000)
	want := map[string]string{"a": "s", "z": "s"}
	update(t, db, "idx", want)
	checkpointNow(t, db)
	key := func(round int) string { return fmt.Sprintf("m%02d", 99-round) }
	check := func(name string, s store.Store) {
		t.Helper()
		if got := scanAll(t, s, "idx", "", "", false); !slices.Equal(got, pairs(want)) {
			t.Errorf("%s: Scan(idx) = %q; want %q", name, got, pairs(want))
		}
	}
	for round := 1; round <= 35; round++ {
		k := key(round)
		v := strconv.Itoa(round % 10) // one byte: each write counts 100
		update(t, db, "idx", map[string]string{k: v})
		want[k] = v
		checkpointNow(t, db)
		p := backupTo(t, db)
		records := round
		if round == 35 {
			records = 17
		}
		if n := heldRecords(t, p); n != records {
			t.Errorf("round %d: held records = %d; want %d", round, n, records)
		}
		// In the file: from round 18 on, m81 up to the key this round
		// put, m(round+63); nothing else of the writes.
		for r := 1; r <= round; r++ {
			k := key(r)
			put := round >= 18 && k >= "m81" && k <= fmt.Sprintf("m%02d", round+63)
			if got := rawValue(t, p, "idx", k); (got != nil) != put {
				t.Errorf("round %d: idx/%s in the file = %q; want it there %v", round, k, got, put)
			}
		}
		check(fmt.Sprintf("round %d", round), db)
		if round == 20 || round == 35 {
			crashed := copyStore(t, path)
			db2 := openDB(t, crashed, nil)
			check(fmt.Sprintf("round %d, crashed copy", round), db2)
			if err := db2.Close(); err != nil {
				t.Fatalf("round %d: Close of the crashed copy: %v", round, err)
			}
			if n := heldRecords(t, crashed); n != 0 {
				t.Errorf("round %d: held records of the crashed copy after Close = %d; want 0", round, n)
			}
			for k, v := range want {
				if got := rawValue(t, crashed, "idx", k); !bytes.Equal(got, sealed("idx", k, v)) {
					t.Errorf("round %d: idx/%s in the crashed copy after Close = %q; want %q", round, k, got, v)
				}
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := heldRecords(t, path); n != 0 {
		t.Errorf("held records after Close = %d; want 0", n)
	}
	for k, v := range want {
		if got := rawValue(t, path, "idx", k); !bytes.Equal(got, sealed("idx", k, v)) {
			t.Errorf("idx/%s in the file after Close = %q; want %q", k, got, v)
		}
	}
}
