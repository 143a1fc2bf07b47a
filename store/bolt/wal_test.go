package bolt_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// files returns the files of the store at path: the bbolt file and its log.
func files(t *testing.T, path string) []string {
	t.Helper()
	fs, err := filepath.Glob(path + "*")
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// counted is an Update that adds key k to bucket "b" and increments the
// counter "n" of bucket "meta", so that n counts the keys of "b".
func counted(k string) func(store.Tx) error {
	return func(tx store.Tx) error {
		n := uint64(0)
		v, err := tx.Get("meta", []byte("n"))
		if err == nil {
			n = binary.BigEndian.Uint64(v)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.Put("meta", []byte("n"), binary.BigEndian.AppendUint64(nil, n+1)); err != nil {
			return err
		}
		return tx.Put("b", []byte(k), []byte(k))
	}
}

// checkCounted checks that db holds the keys want (at least) and that its
// counter equals its number of keys; it returns the keys.
func checkCounted(t *testing.T, db *bolt.DB, want []string) []string {
	t.Helper()
	var keys []string
	err := db.View(t.Context(), func(tx store.Tx) error {
		if err := tx.Scan("b", nil, nil, false, func(k, v []byte) error {
			keys = append(keys, string(k))
			return nil
		}); err != nil {
			return err
		}
		n := uint64(0)
		if v, err := tx.Get("meta", []byte("n")); err == nil {
			n = binary.BigEndian.Uint64(v)
		}
		if n != uint64(len(keys)) {
			t.Errorf("counter = %d; want the number of keys, %d", n, len(keys))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	for _, k := range want {
		if _, ok := slices.BinarySearch(keys, k); !ok {
			t.Errorf("key %q lost", k)
		}
	}
	return keys
}

const (
	crashChildEnv = "BOLT_CRASH_CHILD_DB"
	// crashSpareEnv makes the child write 3 KiB values and checkpoint every
	// MiB, so that its segments are made from spares of zeros.
	crashSpareEnv = "BOLT_CRASH_CHILD_SPARE"
	// crashHeldEnv makes the child checkpoint every 4 KiB and hold writes
	// back up to 32 KiB (see Held writes), so that its checkpoints put
	// them in turn, going through the buckets and deleting records many
	// times before the kill.
	crashHeldEnv = "BOLT_CRASH_CHILD_HELD"
	// crashLogDirEnv is the directory the child keeps its log in
	// (Options.LogDir).
	crashLogDirEnv = "BOLT_CRASH_CHILD_LOGDIR"
)

// TestCrashReplaysLog runs a child process that makes Updates from 8
// goroutines, with checkpoints every few batches, and prints each
// acknowledged one; the parent kills it with SIGKILL mid-stream and
// reopens the store: every acknowledged Update is there, nothing half. The
// log segments are made from recycled segments or, in Spare, from spares
// of zeros: their stale ends are no damage.
func TestCrashReplaysLog(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path, os.Getenv(crashSpareEnv) != "", os.Getenv(crashHeldEnv) != "")
		return
	}
	t.Run("Recycled", func(t *testing.T) { testCrash(t, "") })
	t.Run("Spare", func(t *testing.T) { testCrash(t, crashSpareEnv) })
	t.Run("HeldPutInTurn", func(t *testing.T) { testCrash(t, crashHeldEnv) })
}

// testCrash runs the crash child with env, when not empty, set to 1.
func testCrash(t *testing.T, env string) {
	path := filepath.Join(t.TempDir(), "crash.db")
	var acked []string
	if env != "" {
		acked = runCrashChild(t, path, env+"=1")
	} else {
		acked = runCrashChild(t, path)
	}
	if len(logSegments(t, path)) == 0 {
		t.Errorf("files after the crash = %q; want the bbolt file and a log", files(t, path))
	}
	var logged syncBuffer
	db := openDB(t, path, &bolt.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	keys := checkCounted(t, db, acked)
	t.Logf("%d acknowledged, %d recovered; log:\n%s", len(acked), len(keys), logged.String())
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := files(t, path); !slices.Equal(got, []string{path}) {
		t.Errorf("files after Close = %q; want the bbolt file alone", got)
	}
}

// runCrashChild runs the crash child on the store at path, with env added
// to its environment, kills it with SIGKILL once it has acknowledged 2,000
// Updates and returns their keys, sorted.
func runCrashChild(t *testing.T, path string, env ...string) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashReplaysLog$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 2000 {
		if k, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked = append(acked, k)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 2000 {
		t.Fatalf("child acknowledged only %d Updates", len(acked))
	}
	slices.Sort(acked)
	return acked
}

func crashChild(path string, spare, held bool) {
	opts, value := &bolt.Options{CheckpointSize: 16 << 10, LogDir: os.Getenv(crashLogDirEnv)}, []byte(nil)
	if spare {
		opts.CheckpointSize, value = 1<<20, make([]byte, 3<<10)
	}
	holdMax := int64(0) // the default, CheckpointSize
	if held {
		opts.CheckpointSize, holdMax = 4<<10, 32<<10
	}
	db, err := bolt.OpenHoldMax(path, opts, holdMax)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("g%d-%06d", g, i)
				err := db.Update(context.Background(), func(tx store.Tx) error {
					if err := counted(k)(tx); err != nil || value == nil {
						return err
					}
					return tx.Put("big", []byte(k), value)
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %s\n", k)
				w.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// logSegments returns the log segment files of the store at path (the
// log's lock file, which an open DB holds, is none).
func logSegments(t *testing.T, path string) []string {
	t.Helper()
	segs, err := filepath.Glob(path + "-wal-*")
	if err != nil {
		t.Fatal(err)
	}
	segs = slices.DeleteFunc(segs, func(s string) bool { return s == path+"-wal-lock" })
	slices.Sort(segs)
	return segs
}

// TestTornTail checks that a log whose last record was cut short, or
// corrupted, replays up to the record before it.
func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		harm func(data []byte, last int) []byte // last is the offset of the last record
	}{
		{"Cut", func(data []byte, last int) []byte { return data[:len(data)-3] }},
		{"HeaderOnly", func(data []byte, last int) []byte { return data[:last+5] }},
		{"Flipped", func(data []byte, last int) []byte { data[len(data)-2] ^= 1; return data }},
		{"Garbage", func(data []byte, last int) []byte {
			return append(data[:last], "garbage that is no record at all"...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store.db")
			db := openDB(t, path, nil)
			var want []string
			for i := range 5 {
				k := fmt.Sprint("k", i)
				if err := db.Update(t.Context(), counted(k)); err != nil {
					t.Fatalf("Update: %v", err)
				}
				want = append(want, k)
			}
			before := copyStore(t, path) // the log holds the first four only
			if err := db.Update(t.Context(), counted("k5")); err != nil {
				t.Fatalf("Update: %v", err)
			}
			cp := copyStore(t, path)
			segs, beforeSegs := logSegments(t, cp), logSegments(t, before)
			if len(segs) != 1 || len(beforeSegs) != 1 {
				t.Fatalf("log segments %q, %q; want one", segs, beforeSegs)
			}
			old, err := os.Stat(beforeSegs[0])
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(segs[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(segs[0], tc.harm(data, int(old.Size())), 0o600); err != nil {
				t.Fatal(err)
			}
			db2 := openDB(t, cp, nil)
			if got := checkCounted(t, db2, want); !slices.Equal(got, want) {
				t.Errorf("keys after replaying a harmed tail = %q; want %q", got, want)
			}
			// The store goes on from there.
			if err := db2.Update(t.Context(), counted("k9")); err != nil {
				t.Fatalf("Update after replay: %v", err)
			}
			checkCounted(t, db2, append(want, "k9"))
		})
	}
}

// TestCrashAfterCheckpoint checks a crash between a checkpoint's bbolt
// commit and the removal of the log it covers: the copy, made then, holds
// both the checkpointed batches in bbolt and their records in the log,
// followed by a later batch, and replays to the state with every batch once.
func TestCrashAfterCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{CheckpointSize: 1 << 10})
	entered, proceed, copied := make(chan struct{}), make(chan struct{}), make(chan string)
	var once sync.Once
	bolt.SetCheckpointHook(db, func(stage string) {
		if stage != "committed" {
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
		k := fmt.Sprintf("k%04d", i)
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
	// One more batch, logged after the checkpointed ones.
	if err := db.Update(t.Context(), counted("z")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	want = append(want, "z")
	close(proceed)
	cp := <-copied
	if len(logSegments(t, cp)) < 2 {
		t.Errorf("log segments in the copy = %q; want the checkpointed one and the next", logSegments(t, cp))
	}
	db2 := openDB(t, cp, nil)
	if got := checkCounted(t, db2, want); !slices.Equal(got, want) {
		t.Errorf("keys after replay = %q; want %q", got, want)
	}
	// The writer counts the checkpoint when it takes its result; a backup
	// waits for that.
	if _, err := db.Backup(t.Context(), io.Discard); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.Checkpoints == 0 {
		t.Errorf("Stats().Checkpoints = 0")
	}
}

// TestSpareSegments checks a log busy enough to prepare a spare segment of
// zeros and to recycle checkpointed segments as spares: copies taken as
// it goes replay every Update, and Close leaves the bbolt file alone.
func TestSpareSegments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db := openDB(t, path, &bolt.Options{CheckpointSize: 1 << 20})
	value := make([]byte, 8<<10)
	var want []string
	for i := range 600 {
		k := fmt.Sprintf("k%04d", i)
		err := db.Update(t.Context(), func(tx store.Tx) error {
			if err := counted(k)(tx); err != nil {
				return err
			}
			return tx.Put("big", []byte(k), value)
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		want = append(want, k)
		if i%150 == 149 {
			db2 := openDB(t, copyStore(t, path), nil)
			if got := checkCounted(t, db2, want); !slices.Equal(got, want) {
				t.Fatalf("copy after %d Updates holds %d keys", len(want), len(got))
			}
		}
	}
	if st := db.Stats(); st.Checkpoints < 3 {
		t.Errorf("Stats().Checkpoints = %d; want at least 3", st.Checkpoints)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := files(t, path); !slices.Equal(got, []string{path}) {
		t.Errorf("files after Close = %q; want the bbolt file alone", got)
	}
}

// TestSpareFromCheckpoint checks that a log whose checkpoint is running
// prepares no spare of zeros: the segments that checkpoint covers are
// recycled, the last as the spare. The checkpoint of the first generation
// is held while the second is written past the point where a spare would
// be prepared.
func TestSpareFromCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	const ckpt = 1 << 20
	hold, begun := make(chan struct{}), make(chan struct{}, 1)
	var once sync.Once
	db, err := bolt.OpenHooked(path, &bolt.Options{CheckpointSize: ckpt}, func(stage string) {
		if stage == "begin" {
			once.Do(func() { begun <- struct{}{}; <-hold })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := make([]byte, 8<<10)
	put := func(i int) {
		t.Helper()
		err := db.Update(t.Context(), func(tx store.Tx) error {
			return tx.Put("big", fmt.Appendf(nil, "k%05d", i), value)
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	i := 0
	for ; len(begun) == 0; i++ { // the first generation, until its checkpoint begins
		put(i)
	}
	spare := path + "-wal-spare"
	for end := i + 64; i < end; i++ { // 512 KiB: past an eighth of the spare's size
		put(i)
	}
	if _, err := os.Stat(spare); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("spare while a checkpoint runs: %v; want none", err)
	}
	close(hold)
	for db.Stats().Checkpoints == 0 {
		put(i) // the writer takes the checkpoint's result between batches
		i++
	}
	b, err := os.ReadFile(spare)
	if err != nil {
		t.Fatalf("no spare after the checkpoint: %v", err)
	}
	// The first generation's segment, which starts with its header, not a
	// spare of zeros.
	if len(b) < ckpt/2 || binary.LittleEndian.Uint64(b) == 0 {
		t.Errorf("spare of %d bytes starting with %x; want the recycled segment", len(b), b[:min(len(b), 8)])
	}
}
