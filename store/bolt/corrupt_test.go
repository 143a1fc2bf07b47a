package bolt_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// The log makeLog writes: batches 1 to logBatches, perSegment to a segment.
const (
	logBatches = 12
	perSegment = 4
)

// batchWrites is what batch i writes: key k<i> of bucket "b", and i under
// key "last" of bucket "meta".
func batchWrites(i int) map[string]map[string]string {
	return map[string]map[string]string{
		"b":    {fmt.Sprintf("k%02d", i): fmt.Sprint("v", i)},
		"meta": {"last": fmt.Sprint(i)},
	}
}

// wantState is the state after batches 1 to n, as readState returns it.
func wantState(n int) map[string]string {
	m := map[string]string{}
	for i := 1; i <= n; i++ {
		m[fmt.Sprintf("b/k%02d", i)] = fmt.Sprint("v", i)
	}
	if n > 0 {
		m["meta/last"] = fmt.Sprint(n)
	}
	return m
}

// readState returns the pairs of buckets "b" and "meta" of db, keyed
// "bucket/key".
func readState(t *testing.T, db *bolt.DB) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := db.View(t.Context(), func(tx store.Tx) error {
		for _, b := range []string{"b", "meta"} {
			err := tx.Scan(b, nil, nil, false, func(k, v []byte) error {
				m[b+"/"+string(k)] = string(v)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return m
}

// logLayout is a store whose log makeLog wrote.
type logLayout struct {
	path string
	segs []string // the segment files, in order
	// recs holds, per segment, the offsets of its records, then of their
	// end.
	recs [][]int
}

// record returns the segment and the offsets [from, to) of batch i's record.
func (l logLayout) record(i int) (seg, from, to int) {
	seg, j := (i-1)/perSegment, (i-1)%perSegment
	return seg, l.recs[seg][j], l.recs[seg][j+1]
}

// segHeader returns the header of a log segment of log format version
// whose file's ID is id, as the package documents it: "bolt-wal", the
// version (uint32, little-endian), the ID, and the CRC-32C (little-endian)
// of the 28 bytes before. Written from the documentation, not from the
// package's code.
func segHeader(id []byte, version uint32) []byte {
	h := []byte("bolt-wal")
	h = binary.LittleEndian.AppendUint32(h, version)
	h = append(h, id...)
	return binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, crc32.MakeTable(crc32.Castagnoli)))
}

// fileID returns the ID the bbolt file at path records: the value of key
// "id" of the reserved bucket, 16 bytes, without its checksum.
func fileID(t *testing.T, path string) []byte {
	t.Helper()
	v := rawValue(t, path, "\x00store/bolt", "id")
	if len(v) != 16+4 {
		t.Fatalf("the file's ID record = %x; want 16 bytes and a checksum", v)
	}
	return v[:16]
}

// makeLog makes, in a new directory, an empty store closed cleanly, then a
// log of batches 1 to logBatches in segments of perSegment, as a crash
// would leave them: each segment begins with the header naming the file.
// With padded, each segment ends as one made from the spare does: the
// first and the last in zeros, the second in a record of batch 1, left
// over from a recycled segment, and zeros.
func makeLog(t *testing.T, padded bool) logLayout {
	t.Helper()
	return makeLogFormat(t, padded, true)
}

// makeLogFormat is makeLog, whose segments have no header (log format 1,
// before segments named their file) unless header is set.
func makeLogFormat(t *testing.T, padded, header bool) logLayout {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store.db")
	// A small map keeps the file small (bbolt grows it by 16 MiB past its
	// map size), and quick to copy.
	db, err := bolt.Open(path, &bolt.Options{NoSync: true, InitialMmapSize: 1 << 16})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l := logLayout{path: path}
	for first := 1; first <= logBatches; first += perSegment {
		var data []byte
		if header {
			data = segHeader(fileID(t, path), 2)
		}
		var offs []int
		for i := first; i < first+perSegment; i++ {
			offs = append(offs, len(data))
			data = append(data, bolt.LogRecord(uint64(i), batchWrites(i))...)
		}
		offs = append(offs, len(data))
		if padded {
			if first == 1+perSegment {
				data = append(data, bolt.LogRecord(1, batchWrites(1))...)
			}
			data = append(data, make([]byte, 4096)...)
		}
		seg := bolt.SegmentPath(path, uint64(first))
		if err := os.WriteFile(seg, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l.segs = append(l.segs, seg)
		l.recs = append(l.recs, offs)
	}
	return l
}

// readFiles returns the contents of the files of dir by name.
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = data
	}
	return m
}

// openRefused opens path with opts, which must fail with an error wrapping
// want and leave every file of dir as it was; it returns the error for
// the caller's further checks.
func openRefused(t *testing.T, dir, path string, opts *bolt.Options, want error) error {
	t.Helper()
	before := readFiles(t, dir)
	db, err := bolt.Open(path, opts)
	if err == nil {
		db.Close()
	}
	if !errors.Is(err, want) {
		t.Errorf("Open = %v; want an error wrapping %v", err, want)
	}
	if diff := diffFiles(before, readFiles(t, dir)); diff != "" {
		t.Errorf("a refused Open changed files: %s", diff)
	}
	return err
}

// diffFiles describes how the files after differ from before, "" when
// they do not.
func diffFiles(before, after map[string][]byte) string {
	var diffs []string
	for name, data := range before {
		if a, ok := after[name]; !ok {
			diffs = append(diffs, name+" removed")
		} else if !bytes.Equal(a, data) {
			diffs = append(diffs, name+" changed")
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			diffs = append(diffs, name+" created")
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, ", ")
}

// changeFile applies harm to the contents of the file at path.
func changeFile(t *testing.T, path string, harm func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, harm(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// changeInPlace applies harm to the contents of the file at path,
// writing over the bytes it changed: an open store's memory map sees them.
func changeInPlace(t *testing.T, path string, harm func([]byte)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	harmed := slices.Clone(data)
	harm(harmed)
	lo := 0
	for lo < len(data) && data[lo] == harmed[lo] {
		lo++
	}
	hi := len(data)
	for hi > lo && data[hi-1] == harmed[hi-1] {
		hi--
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(harmed[lo:hi], int64(lo)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// flip returns a harm that flips the bits of mask in the byte at off.
func flip(off int, mask byte) func([]byte) []byte {
	return func(p []byte) []byte { p[off] ^= mask; return p }
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logOptions returns options that log to the returned buffer, as text.
func logOptions() (*bolt.Options, *syncBuffer) {
	var buf syncBuffer
	return &bolt.Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&buf, nil))}, &buf
}

// TestLogDamageRefused checks that a log damaged before its end, in the
// middle of the last segment or anywhere in another, makes Open fail with
// an error wrapping ErrCorrupt that names the segment and the offset of
// the damage, and that no file changes.
func TestLogDamageRefused(t *testing.T) {
	mid := func(l logLayout, i int) (int, int, func([]byte) []byte) {
		seg, from, to := l.record(i)
		return seg, from, flip((from+to)/2, 0x10)
	}
	for _, tc := range []struct {
		name string
		// harm damages l, returning the segment and offset Open must name.
		harm func(t *testing.T, l logLayout) (seg, off int)
	}{
		{"MiddleOfLastSegment", func(t *testing.T, l logLayout) (int, int) {
			seg, off, h := mid(l, 10)
			changeFile(t, l.segs[seg], h)
			return seg, off
		}},
		{"LengthInLastSegment", func(t *testing.T, l logLayout) (int, int) {
			seg, off, _ := l.record(10)
			changeFile(t, l.segs[seg], flip(off, 0x40))
			return seg, off
		}},
		{"NonLastSegment", func(t *testing.T, l logLayout) (int, int) {
			seg, off, h := mid(l, 6)
			changeFile(t, l.segs[seg], h)
			return seg, off
		}},
		{"LastRecordOfNonLastSegment", func(t *testing.T, l logLayout) (int, int) {
			seg, off, h := mid(l, 8)
			changeFile(t, l.segs[seg], h)
			return seg, off
		}},
		{"NonLastSegmentCut", func(t *testing.T, l logLayout) (int, int) {
			seg, off, to := l.record(7)
			changeFile(t, l.segs[seg], func(p []byte) []byte { return p[:(off+to)/2] })
			return seg, off
		}},
		{"SegmentMissing", func(t *testing.T, l logLayout) (int, int) {
			if err := os.Remove(l.segs[1]); err != nil {
				t.Fatal(err)
			}
			return 0, l.recs[0][perSegment] // the first ends before batch 5
		}},
		{"HeaderOfNonLastSegment", func(t *testing.T, l logLayout) (int, int) {
			changeFile(t, l.segs[1], flip(20, 0x01)) // in the file's ID
			return 1, 0
		}},
		{"HeaderOfLastSegment", func(t *testing.T, l logLayout) (int, int) {
			changeFile(t, l.segs[2], flip(29, 0x80)) // in its checksum
			return 2, 0
		}},
		{"FirstSegmentMissing", func(t *testing.T, l logLayout) (int, int) {
			if err := os.Remove(l.segs[0]); err != nil {
				t.Fatal(err)
			}
			return 1, 0 // batches 1 to 4 are in no segment
		}},
	} {
		for _, padded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/padded=%v", tc.name, padded), func(t *testing.T) {
				l := makeLog(t, padded)
				seg, off := tc.harm(t, l)
				before := readFiles(t, filepath.Dir(l.path))
				opts, logged := logOptions()
				db, err := bolt.Open(l.path, opts)
				if err == nil {
					t.Errorf("Open of a damaged log succeeded, holding %v; want an error wrapping ErrCorrupt", readState(t, db))
					_ = db.Close()
					return
				}
				if !errors.Is(err, bolt.ErrCorrupt) {
					t.Errorf("Open = %v; want an error wrapping ErrCorrupt", err)
				}
				name, at := filepath.Base(l.segs[seg]), fmt.Sprintf("offset %d:", off)
				if msg := err.Error(); !strings.Contains(msg, name) || !strings.Contains(msg, at) {
					t.Errorf("Open = %v; want it to name segment %s and %q", err, name, at)
				}
				if diff := diffFiles(before, readFiles(t, filepath.Dir(l.path))); diff != "" {
					t.Errorf("a failed Open changed files: %s", diff)
				}
				if s := logged.String(); s != "" {
					t.Logf("log:\n%s", s)
				}
			})
		}
	}
}

// TestLogTornTailCut checks that the end of the log's last segment is cut
// when it holds a record cut short, or with a bad checksum, and no valid
// record after it: every batch before it is replayed, the cut logged.
func TestLogTornTailCut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		padded bool
		harm   func([]byte, int, int) []byte // record 12 is at [from, to)
		want   int                           // batches replayed
		torn   bool                          // a Warn is logged
	}{
		{"Intact", false, func(p []byte, from, to int) []byte { return p }, 12, false},
		{"IntactPadded", true, func(p []byte, from, to int) []byte { return p }, 12, false},
		{"CutShort", false, func(p []byte, from, to int) []byte { return p[:to-3] }, 11, true},
		{"HeaderOnly", false, func(p []byte, from, to int) []byte { return p[:from+5] }, 11, true},
		{"BadChecksum", false, func(p []byte, from, to int) []byte { return flip(to-2, 1)(p) }, 11, true},
		{"BadChecksumPadded", true, func(p []byte, from, to int) []byte { return flip(from+25, 0x80)(p) }, 11, true},
		// A bad batch number: nothing tells this from unused space.
		{"BadBatchNumber", true, func(p []byte, from, to int) []byte { return flip(from+13, 0x80)(p) }, 11, false},
		{"TornIntoZeros", true, func(p []byte, from, to int) []byte {
			clear(p[(from+to)/2 : to]) // the later half never reached the disk
			return p
		}, 11, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := makeLog(t, tc.padded)
			seg, from, to := l.record(12)
			changeFile(t, l.segs[seg], func(p []byte) []byte { return tc.harm(p, from, to) })
			opts, logged := logOptions()
			db, err := bolt.Open(l.path, opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if diff := cmp.Diff(wantState(tc.want), readState(t, db)); diff != "" {
				t.Errorf("state after replay (-want +got):\n%s", diff)
			}
			s := logged.String()
			if !strings.Contains(s, fmt.Sprintf("records=%d ", tc.want)) {
				t.Errorf("log = %q; want the number of records replayed, %d", s, tc.want)
			}
			if strings.Contains(s, "level=WARN") != tc.torn {
				t.Errorf("log = %q; want a warning of a cut record: %v", s, tc.torn)
			}
			if tc.torn && !strings.Contains(s, fmt.Sprintf("offset=%d ", from)) {
				t.Errorf("log = %q; want the offset of the cut, %d", s, from)
			}
			// The replayed batches are checkpointed after Open returns;
			// Close waits for that.
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if got := files(t, l.path); !slices.Equal(got, []string{l.path}) {
				t.Errorf("files after Close = %q; want the bbolt file alone", got)
			}
		})
	}
}

// TestLogTornSegmentHeader checks a last segment whose header, written
// with its first record, a crash cut short or left with a bad checksum,
// and no record after it: nothing of it was answered, and the log ends
// there, the cut logged as a warning; with a valid record of the next
// batch after the header, the header is damage.
func TestLogTornSegmentHeader(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seg    func(h []byte) []byte // the segment of batch 13, from a valid header
		refuse bool
	}{
		{"CutShort", func(h []byte) []byte { return h[:20] }, false},
		{"BadChecksum", func(h []byte) []byte { h[31] ^= 1; return h }, false},
		{"BadChecksumIntoZeros", func(h []byte) []byte { h[31] ^= 1; return append(h, make([]byte, 4096)...) }, false},
		{"BadChecksumThenRecord", func(h []byte) []byte {
			h[31] ^= 1
			return append(h, bolt.LogRecord(13, batchWrites(13))...)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := makeLog(t, false)
			seg := bolt.SegmentPath(l.path, 13)
			if err := os.WriteFile(seg, tc.seg(segHeader(fileID(t, l.path), 2)), 0o600); err != nil {
				t.Fatal(err)
			}
			before := readFiles(t, filepath.Dir(l.path))
			opts, logged := logOptions()
			db, err := bolt.Open(l.path, opts)
			if tc.refuse {
				if err == nil {
					db.Close()
				}
				if !errors.Is(err, bolt.ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(seg)+", offset 0:") {
					t.Errorf("Open = %v; want an error wrapping ErrCorrupt naming %s, offset 0", err, filepath.Base(seg))
				}
				if diff := diffFiles(before, readFiles(t, filepath.Dir(l.path))); diff != "" {
					t.Errorf("a failed Open changed files: %s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if diff := cmp.Diff(wantState(logBatches), readState(t, db)); diff != "" {
				t.Errorf("state after replay (-want +got):\n%s", diff)
			}
			if s := logged.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "segment="+filepath.Base(seg)) {
				t.Errorf("log = %q; want a warning of the cut in %s", s, filepath.Base(seg))
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLogLaterFormat checks that a segment whose header is of a later log
// format makes Open fail with an error wrapping ErrFormat, changing no
// file.
func TestLogLaterFormat(t *testing.T) {
	l := makeLog(t, false)
	seg := bolt.SegmentPath(l.path, 13)
	data := append(segHeader(fileID(t, l.path), 3), bolt.LogRecord(13, batchWrites(13))...)
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	openRefused(t, filepath.Dir(l.path), l.path, nil, bolt.ErrFormat)
}

// TestLogFormat1Replays checks that segments without a header (log format
// 1, written before segments named their file) replay as before, into a
// file with an ID and into one without (last opened by a version before
// IDs), which Open gives one; and that a log of both formats, the new
// segment after the old ones, replays too.
func TestLogFormat1Replays(t *testing.T) {
	for _, withID := range []bool{true, false} {
		t.Run(fmt.Sprintf("fileID=%v", withID), func(t *testing.T) {
			l := makeLogFormat(t, true, false)
			var id []byte
			if withID {
				id = fileID(t, l.path)
			} else {
				rawUpdate(t, l.path, func(tx *bbolt.Tx) error {
					return tx.Bucket([]byte("\x00store/bolt")).Delete([]byte("id"))
				})
			}
			began, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			db, err := bolt.OpenHooked(l.path, &bolt.Options{NoSync: true}, func(stage string) {
				if stage == "begin" {
					once.Do(func() { close(began); <-release })
				}
			})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if diff := cmp.Diff(wantState(logBatches), readState(t, db)); diff != "" {
				t.Errorf("state after replay (-want +got):\n%s", diff)
			}
			// Batch 13 goes to a new segment, with a header, while the old
			// ones wait for the checkpoint of what was replayed (of a file
			// that had an ID; the other, which another program wrote last,
			// was checkpointed by Open).
			if withID {
				<-began
			}
			err = db.Update(t.Context(), func(tx store.Tx) error {
				for b, kv := range batchWrites(logBatches + 1) {
					for k, v := range kv {
						if err := tx.Put(b, []byte(k), []byte(v)); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			cp := copyStore(t, l.path)
			close(release)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if got := files(t, l.path); !slices.Equal(got, []string{l.path}) {
				t.Errorf("files after Close = %q; want the bbolt file alone", got)
			}
			if got := fileID(t, l.path); withID && !bytes.Equal(got, id) {
				t.Errorf("the file's ID after Close = %x; want the one it had, %x", got, id)
			} else {
				id = got // given by Open
			}
			segs := logSegments(t, cp)
			if want := map[bool]int{true: 4, false: 1}[withID]; len(segs) != want {
				t.Fatalf("segments of the copy = %q; want %d", segs, want)
			}
			data, err := os.ReadFile(segs[len(segs)-1])
			if err != nil {
				t.Fatal(err)
			}
			if want := segHeader(id, 2); !bytes.HasPrefix(data, want) {
				t.Errorf("the new segment starts with %x; want the header %x", data[:min(len(data), len(want))], want)
			}
			db2 := openDB(t, cp, &bolt.Options{NoSync: true})
			if diff := cmp.Diff(wantState(logBatches+1), readState(t, db2)); diff != "" {
				t.Errorf("state of the copy (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFileIDDamaged checks that a file whose ID record is damaged (a
// flipped byte, or of the wrong length with a good checksum) fails Open
// with an error wrapping ErrCorrupt, changing no file.
func TestFileIDDamaged(t *testing.T) {
	for _, tc := range []struct {
		name string
		harm func(v []byte) []byte // v: the record as stored
	}{
		{"Flipped", func(v []byte) []byte { v[3] ^= 0x20; return v }},
		{"Short", func(v []byte) []byte { return sealed("\x00store/bolt", "id", string(v[:8])) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := makeLog(t, false)
			rawUpdate(t, l.path, func(tx *bbolt.Tx) error {
				b := tx.Bucket([]byte("\x00store/bolt"))
				return b.Put([]byte("id"), tc.harm(bytes.Clone(b.Get([]byte("id")))))
			})
			openRefused(t, filepath.Dir(l.path), l.path, nil, bolt.ErrCorrupt)
		})
	}
}

// TestAcceptLogLoss checks that Options.AcceptLogLoss opens a store whose
// log is damaged, replaying the batches before the damage, and logs the
// loss at Error level; the store goes on from there.
func TestAcceptLogLoss(t *testing.T) {
	l := makeLog(t, true)
	seg, from, to := l.record(6)
	changeFile(t, l.segs[seg], flip((from+to)/2, 4))
	opts, logged := logOptions()
	opts.AcceptLogLoss = true
	db, err := bolt.Open(l.path, opts)
	if err != nil {
		t.Fatalf("Open with AcceptLogLoss: %v", err)
	}
	if diff := cmp.Diff(wantState(5), readState(t, db)); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	s := logged.String()
	for _, want := range []string{"level=ERROR", "segment=" + filepath.Base(l.segs[seg]), fmt.Sprintf("offset=%d ", from), "AcceptLogLoss"} {
		if !strings.Contains(s, want) {
			t.Errorf("log = %q; want it to hold %q", s, want)
		}
	}
	if got := files(t, l.path); !slices.Equal(got, []string{l.path, l.path + "-wal-lock"}) {
		t.Errorf("files after Open = %q; want the bbolt file alone, and the log's lock the DB holds", got)
	}
	err = db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k99"), []byte("v99")) })
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db = openDB(t, l.path, nil)
	want := wantState(5)
	want["b/k99"] = "v99"
	if diff := cmp.Diff(want, readState(t, db)); diff != "" {
		t.Errorf("state after reopening (-want +got):\n%s", diff)
	}
}

// TestLogRandomFlips flips a byte at a random offset of a log of three
// segments, 200 times, three times in four within a record: Open either
// fails with an error wrapping ErrCorrupt, changing no file, or replays
// every batch; or, when the byte is in the last record of the log, which
// cannot be told from a torn one, every batch but that one, and logs the
// number replayed.
func TestLogRandomFlips(t *testing.T) {
	base := makeLog(t, true)
	var sizes []int
	for _, s := range base.segs {
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, int(fi.Size()))
	}
	// pick returns the segment and offset of the n-th byte of the first
	// size(seg) bytes of each segment.
	pick := func(n int, size func(seg int) int) (seg, off int) {
		for n >= size(seg) {
			n -= size(seg)
			seg++
		}
		return seg, n
	}
	total, records := 0, 0
	for i := range base.segs {
		total += sizes[i]
		records += base.recs[i][perSegment]
	}
	lastSeg, lastFrom, lastTo := base.record(logBatches)
	rng := rand.New(rand.NewPCG(16, 9))
	var refused, full, cut int
	for trial := range 200 {
		var seg, off int
		if rng.IntN(4) > 0 {
			seg, off = pick(rng.IntN(records), func(seg int) int { return base.recs[seg][perSegment] })
		} else {
			seg, off = pick(rng.IntN(total), func(seg int) int { return sizes[seg] })
		}
		mask := byte(1 + rng.IntN(255))
		path := copyStore(t, base.path)
		changeFile(t, filepath.Join(filepath.Dir(path), filepath.Base(base.segs[seg])), flip(off, mask))
		what := fmt.Sprintf("trial %d: byte %d of segment %d ^ %#x", trial, off, seg, mask)
		before := readFiles(t, filepath.Dir(path))
		opts, logged := logOptions()
		db, err := bolt.Open(path, opts)
		if err != nil {
			refused++
			if !errors.Is(err, bolt.ErrCorrupt) {
				t.Errorf("%s: Open = %v; want an error wrapping ErrCorrupt", what, err)
			}
			if diff := diffFiles(before, readFiles(t, filepath.Dir(path))); diff != "" {
				t.Errorf("%s: a failed Open changed files: %s", what, diff)
			}
			continue
		}
		got := readState(t, db)
		switch {
		case maps.Equal(got, wantState(logBatches)):
			full++
		case seg == lastSeg && off >= lastFrom && off < lastTo && maps.Equal(got, wantState(logBatches-1)):
			cut++
			if !strings.Contains(logged.String(), fmt.Sprintf("records=%d ", logBatches-1)) {
				t.Errorf("%s: the last batch was cut, the log not saying so; log %q", what, logged)
			}
		default:
			t.Errorf("%s: Open succeeded with batches lost (-want +got):\n%s", what, cmp.Diff(wantState(logBatches), got))
		}
		if err := db.Close(); err != nil {
			t.Fatalf("%s: Close: %v", what, err)
		}
	}
	t.Logf("refused %d, replayed in full %d, last record cut %d", refused, full, cut)
	if refused == 0 || full == 0 {
		t.Errorf("refused %d, replayed in full %d; want some of each", refused, full)
	}
}

// pageLayout locates, in the bbolt file at path, the root page of bucket
// "b", a branch page, and its children.
type pageLayout struct {
	pageSize int
	root     int
	children []pageChild
}

// pageChild is a child of a branch page: its page and the key it starts
// with.
type pageChild struct {
	page int
	key  []byte
}

// Offsets in a bbolt page: the header (id uint64, flags uint16, count
// uint16, overflow uint32), then 16-byte elements: a branch element is pos
// uint32, ksize uint32, pgid uint64, and a leaf element flags uint32, pos
// uint32, ksize uint32, vsize uint32, pos counting from the element.
const (
	pageFlags  = 8
	pageCount  = 10
	pageHeader = 16
	elemSize   = 16
)

func readPageLayout(t *testing.T, path string) pageLayout {
	t.Helper()
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	var l pageLayout
	l.pageSize = bdb.Info().PageSize
	err = bdb.View(func(tx *bbolt.Tx) error {
		l.root = int(tx.Bucket([]byte("b")).Root())
		info, err := tx.Page(l.root)
		if err != nil || info == nil || info.Type != "branch" {
			return fmt.Errorf("root page of bucket b: %+v, %v; want a branch page", info, err)
		}
		return nil
	})
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := data[l.root*l.pageSize:]
	for i := range int(binary.LittleEndian.Uint16(p[pageCount:])) {
		e := p[pageHeader+i*elemSize:]
		pos, ksize := binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:])
		l.children = append(l.children, pageChild{
			page: int(binary.LittleEndian.Uint64(e[8:])),
			key:  slices.Clone(e[pos : pos+ksize]),
		})
	}
	if len(l.children) < 3 {
		t.Fatalf("bucket b's root page has %d children; want 3 or more", len(l.children))
	}
	return l
}

// TestDamagedPage damages a page of bucket "b" in the bbolt file in ways
// that make bbolt panic or read outside the file, and checks that Get and
// Scan, in Views and Updates, return errors wrapping ErrCorrupt rather
// than crash, that the rest of the bucket reads, and that a checkpoint
// into the damaged page fails, rather than crash, or succeeds.
func TestDamagedPage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	value := bytes.Repeat([]byte("v"), 100)
	err = db.Update(t.Context(), func(tx store.Tx) error {
		for i := range 2000 {
			if err := tx.Put("b", fmt.Appendf(nil, "key%05d", i), value); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l := readPageLayout(t, path)
	// The damage is in the second child of the root, where key lies;
	// good, in the first, is not damaged.
	key, good := l.children[1].key, l.children[0].key
	leaf := l.children[1].page * l.pageSize
	for _, tc := range []struct {
		name string
		harm func(p []byte)
		// afterOpen damages the file once the store is open (as another
		// program writing it would): damage Open refuses.
		afterOpen bool
	}{
		// bbolt panics: "page N: has unexpected type/flags".
		{"LeafFlags", func(p []byte) { binary.LittleEndian.PutUint16(p[leaf+pageFlags:], 0x40) }, false},
		// bbolt panics: "Page expected to be N, but self identifies as M".
		{"LeafID", func(p []byte) { binary.LittleEndian.PutUint64(p[leaf:], 1<<20) }, false},
		// The page lies in bbolt's memory map but past the end of the
		// file: reading it is a SIGBUS. (Open refuses it in the file, see
		// TestDamagedStructure.)
		{"ChildPastFile", func(p []byte) {
			e := l.root*l.pageSize + pageHeader + 1*elemSize
			binary.LittleEndian.PutUint64(p[e+8:], uint64(len(p)/l.pageSize+1000))
		}, true},
		// The value's length runs 1 GiB past its page.
		{"ValueSize", func(p []byte) {
			binary.LittleEndian.PutUint32(p[leaf+pageHeader+12:], 1<<30)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := copyStore(t, path)
			if !tc.afterOpen {
				changeFile(t, cp, func(p []byte) []byte { tc.harm(p); return p })
			}
			db, err := bolt.Open(cp, &bolt.Options{NoSync: true})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if tc.afterOpen {
				changeInPlace(t, cp, tc.harm)
			}
			corrupt := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, bolt.ErrCorrupt) {
					t.Errorf("%s = %v; want an error wrapping ErrCorrupt", what, err)
				}
			}
			get := func(k []byte) func(store.Tx) error {
				return func(tx store.Tx) error { _, err := tx.Get("b", k); return err }
			}
			scan := func(reverse bool) func(store.Tx) error {
				return func(tx store.Tx) error {
					return tx.Scan("b", nil, nil, reverse, func(k, v []byte) error { return nil })
				}
			}
			corrupt("View(Get)", db.View(t.Context(), get(key)))
			corrupt("View(Scan)", db.View(t.Context(), scan(false)))
			corrupt("View(Scan reverse)", db.View(t.Context(), scan(true)))
			corrupt("Update(Get)", db.Update(t.Context(), get(key)))
			corrupt("Update(Scan)", db.Update(t.Context(), scan(false)))
			if err := db.View(t.Context(), get(good)); err != nil {
				t.Errorf("View(Get) of a key in an intact page = %v", err)
			}
			// A write of the damaged page: the checkpoint of Close must
			// not crash.
			err = db.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", key, []byte("new")) })
			if err != nil {
				t.Fatalf("Update(Put): %v", err)
			}
			if err := db.View(t.Context(), get(key)); err != nil {
				t.Errorf("View(Get) of a key written since = %v", err)
			}
			if err := db.Close(); err != nil && !errors.Is(err, bolt.ErrCorrupt) {
				t.Errorf("Close = %v; want nil or an error wrapping ErrCorrupt", err)
			} else {
				t.Logf("Close = %v", err)
			}
		})
	}
}

// TestCrashBeforeRecoveryCheckpoint checks the log Open keeps until it
// has checkpointed what it replayed: a store whose log ends in a record
// cut short is opened (replaying 11 batches), 3 batches are logged after
// them in a new segment, and a copy is made before the checkpoint of the
// replayed batches writes anything. The copy replays the 14 batches: the
// cut record, now before a later segment, is passed over, not taken for
// damage. The store itself, closed, is its bbolt file alone.
func TestCrashBeforeRecoveryCheckpoint(t *testing.T) {
	l := makeLog(t, true)
	seg, from, to := l.record(12)
	changeFile(t, l.segs[seg], func(p []byte) []byte { return p[:from+(to-from)/2] })
	began, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	db, err := bolt.OpenHooked(l.path, &bolt.Options{NoSync: true}, func(stage string) {
		if stage == "begin" {
			once.Do(func() { close(began); <-release })
		}
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	<-began
	want := wantState(11)
	for i := 12; i <= 14; i++ {
		err := db.Update(t.Context(), func(tx store.Tx) error {
			for b, kv := range batchWrites(i) {
				for k, v := range kv {
					if err := tx.Put(b, []byte(k), []byte(v)); err != nil {
						return err
					}
					want[b+"/"+k] = v
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cp := copyStore(t, l.path)
	close(release)
	if diff := cmp.Diff(want, readState(t, db)); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, l.path); !slices.Equal(got, []string{l.path}) {
		t.Errorf("files after Close = %q; want the bbolt file alone", got)
	}
	opts, logged := logOptions()
	db2, err := bolt.Open(cp, opts)
	if err != nil {
		t.Fatalf("Open of the copy: %v", err)
	}
	defer db2.Close()
	if diff := cmp.Diff(want, readState(t, db2)); diff != "" {
		t.Errorf("state of the copy (-want +got):\n%s", diff)
	}
	if s := logged.String(); !strings.Contains(s, "records=14 ") {
		t.Errorf("log %q; want 14 records replayed", s)
	}
}

// TestDamagedStructure damages the structure of the bbolt file where
// bbolt itself neither panics nor errs: Open refuses the damage in what it
// reads before any bucket (an inline bucket's page that is not a leaf,
// which sent bbolt's cursor into the same page until memory ran out; a
// free page outside the file, which a checkpoint would write at) and in a
// bucket's branch pages (one that lost a child; one made its own child,
// which sent a Scan round for ever; a child that is another's too, or a
// free page); a Get of a record that a leaf page's
// damaged count hides fails, and so does a Scan over it; a Scan over two
// leaves swapped fails; and Check reports the damage in a bucket's pages.
func TestDamagedStructure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	value := bytes.Repeat([]byte("v"), 100)
	for round := range 2 { // the second round frees the first's pages
		err = db.Update(t.Context(), func(tx store.Tx) error {
			for i := range 2000 {
				if err := tx.Put("b", fmt.Appendf(nil, "key%05d", i), append(value, byte(round))); err != nil {
					return err
				}
			}
			return tx.Put("s", []byte("small"), []byte("inline"))
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if db, err = bolt.Open(path, &bolt.Options{NoSync: true}); err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	l := readPageLayout(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := l.pageSize
	// The meta page of the last transaction: its root bucket's page and
	// its freelist's.
	meta := data[pageHeader:]
	if other := data[ps+pageHeader:]; binary.LittleEndian.Uint64(other[48:]) > binary.LittleEndian.Uint64(meta[48:]) {
		meta = other
	}
	rootPage, freePage := int(binary.LittleEndian.Uint64(meta[16:])), int(binary.LittleEndian.Uint64(meta[32:]))
	// Bucket "s" is inline: its value in the root bucket's leaf is its
	// header (root 0, sequence) and its page.
	inline := -1
	rp := data[rootPage*ps:]
	for i := range int(binary.LittleEndian.Uint16(rp[pageCount:])) {
		e := pageHeader + i*elemSize
		pos, ksize := int(binary.LittleEndian.Uint32(rp[e+4:])), int(binary.LittleEndian.Uint32(rp[e+8:]))
		if string(rp[e+pos:e+pos+ksize]) == "s" {
			inline = rootPage*ps + e + pos + ksize + 16
		}
	}
	if inline < 0 || binary.LittleEndian.Uint64(data[inline-16:]) != 0 {
		t.Fatalf("bucket s is not inline in the root bucket's page %d", rootPage)
	}
	if n := binary.LittleEndian.Uint16(data[freePage*ps+pageCount:]); n == 0 || n == 0xFFFF {
		t.Fatalf("freelist page %d lists %d pages; want some, fewer than 65,535", freePage, n)
	}
	leaf := l.children[1].page * ps
	// The last key of that leaf, which a count that lost one hides: the
	// one before the next leaf's first.
	var next int
	if _, err := fmt.Sscanf(string(l.children[2].key), "key%05d", &next); err != nil {
		t.Fatal(err)
	}
	hidden := fmt.Appendf(nil, "key%05d", next-1)
	for _, tc := range []struct {
		name   string
		harm   func(p []byte)
		atOpen bool
		get    []byte // a key whose Get must fail with ErrCorrupt
		scan   bool   // Scans of b must fail with ErrCorrupt
	}{
		{"InlineBranch", func(p []byte) {
			binary.LittleEndian.PutUint16(p[inline+pageFlags:], 0x01)
			binary.LittleEndian.PutUint16(p[inline+pageCount:], 0)
		}, true, nil, false},
		{"FreePageOutside", func(p []byte) {
			binary.LittleEndian.PutUint64(p[freePage*ps+pageHeader:], 1<<40)
		}, true, nil, false},
		{"LeafCountLost", func(p []byte) {
			c := binary.LittleEndian.Uint16(p[leaf+pageCount:])
			binary.LittleEndian.PutUint16(p[leaf+pageCount:], c-1)
		}, false, hidden, true},
		// The branch page's keys then start after where its elements
		// end: Open reads the buckets' branch pages.
		{"BranchCountLost", func(p []byte) {
			c := binary.LittleEndian.Uint16(p[l.root*ps+pageCount:])
			binary.LittleEndian.PutUint16(p[l.root*ps+pageCount:], c-1)
		}, true, nil, false},
		// The root's second child is the root: a Get of its keys recursed
		// until the stack ran out, a Scan went round for ever.
		{"BranchOwnChild", func(p []byte) {
			binary.LittleEndian.PutUint64(p[l.root*ps+pageHeader+elemSize+8:], uint64(l.root))
		}, true, nil, false},
		{"ChildPastFile", func(p []byte) {
			binary.LittleEndian.PutUint64(p[l.root*ps+pageHeader+elemSize+8:], uint64(len(p)/ps+1000))
		}, true, nil, false},
		// A leaf reached from two branch elements: the keys of one lost.
		{"ChildTwice", func(p []byte) {
			binary.LittleEndian.PutUint64(p[l.root*ps+pageHeader+elemSize+8:], uint64(l.children[2].page))
		}, true, nil, false},
		// A free page in a leaf's place: it may hold the leaf's copy
		// before the second round, whose records' checksums hold.
		{"ChildFree", func(p []byte) {
			binary.LittleEndian.PutUint64(p[l.root*ps+pageHeader+elemSize+8:], binary.LittleEndian.Uint64(p[freePage*ps+pageHeader:]))
		}, true, nil, false},
		// Two leaves swapped: every page is met once, but a Scan meets
		// the keys out of order.
		{"ChildrenSwapped", func(p []byte) {
			e1, e2 := l.root*ps+pageHeader+elemSize+8, l.root*ps+pageHeader+2*elemSize+8
			binary.LittleEndian.PutUint64(p[e1:], uint64(l.children[2].page))
			binary.LittleEndian.PutUint64(p[e2:], uint64(l.children[1].page))
		}, false, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := copyStore(t, path)
			changeFile(t, cp, func(p []byte) []byte { tc.harm(p); return p })
			db, err := bolt.Open(cp, &bolt.Options{NoSync: true})
			if tc.atOpen {
				if err == nil {
					db.Close()
				}
				if !errors.Is(err, bolt.ErrCorrupt) {
					t.Errorf("Open = %v; want an error wrapping ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			if tc.get != nil {
				err := db.View(t.Context(), func(tx store.Tx) error { _, err := tx.Get("b", tc.get); return err })
				if !errors.Is(err, bolt.ErrCorrupt) {
					t.Errorf("Get(%s) = %v; want an error wrapping ErrCorrupt", tc.get, err)
				}
			}
			if tc.scan {
				for _, reverse := range []bool{false, true} {
					err := db.View(t.Context(), func(tx store.Tx) error {
						return tx.Scan("b", nil, nil, reverse, func(k, v []byte) error { return nil })
					})
					if !errors.Is(err, bolt.ErrCorrupt) {
						t.Errorf("Scan(reverse %v) = %v; want an error wrapping ErrCorrupt", reverse, err)
					}
				}
			}
			if err := db.Check(t.Context()); !errors.Is(err, bolt.ErrCorrupt) {
				t.Errorf("Check = %v; want an error wrapping ErrCorrupt", err)
			}
		})
	}
}
