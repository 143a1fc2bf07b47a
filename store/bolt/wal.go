package bolt

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The log is a sequence of segment files next to the bbolt file, named
// path + "-wal-" + the 16-hex-digit sequence number of the first batch the
// segment holds. A segment is a sequence of records, one per committed
// batch, their sequence numbers following each other from the one in its
// name:
//
//	length uint64 (little-endian) of the body
//	crc    uint32 (little-endian), CRC-32C of the body
//	body:  seq uint64 (little-endian), uvarint bucket count, then per bucket
//	       uvarint name length, name, uvarint entry count, then per entry
//	       a flag byte (0 put, 1 delete), uvarint key length, key and, for a
//	       put, uvarint value length, value.
const (
	walInfix  = "-wal-"
	recHeader = 12
	// spareName is the suffix of the spare segment: a file whose blocks are
	// already written, renamed to the next segment's name when one is
	// needed. Syncing a write over written blocks flushes only the data,
	// while an append must also journal the file's new size (measured: an
	// 8-64 KiB record synced in 170-240µs instead of 300-350µs). Its stale
	// contents, zeros or records of an older segment, end the segment on
	// replay: none has the next sequence number.
	spareName = "spare"
	// minSpare is the smallest spare worth preparing.
	minSpare = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// wal appends records to the current segment. It is used by one goroutine
// at a time: the committer of the batch being committed, or the writer while
// no batch is being committed.
type wal struct {
	prefix string   // path + walInfix
	f      *os.File // the current segment; nil until the first append after a rotation
	size   int64    // bytes of valid records in f
	closed []string // segments closed by rotate, not yet handed over
	enc    []byte   // the encoding buffer, reused
	// broken is set when a failed append could not be undone: the segment
	// may end in a partial record, after which later records would be lost
	// on replay.
	broken error
	// fault, when set (by tests), is called after a record is written and
	// before it is synced; an error fails the append as if the sync had.
	fault func(seq uint64) error
	// noSync skips the syncs (Options.NoSync).
	noSync bool
	// spareSize is the size of a spare prepared from scratch: a little over
	// a checkpoint's worth of log.
	spareSize int64

	spareMu    sync.Mutex // guards the spare file and the two fields below
	spareReady bool       // the spare file exists
	preparing  bool       // a goroutine is writing the spare file
	prepared   sync.WaitGroup
}

// segmentName returns the file name of the segment whose first batch is seq.
func (w *wal) segmentName(seq uint64) string {
	return fmt.Sprintf("%s%016x", w.prefix, seq)
}

// append writes b as one record and syncs it. On failure the segment is cut
// back to where it was, so that later records follow valid ones; when even
// that fails the log is broken and every later append fails.
func (w *wal) append(b *batch) error {
	if w.broken != nil {
		return fmt.Errorf("log unusable after an earlier failure: %w", w.broken)
	}
	w.enc = encodeRecord(w.enc[:0], b.seq, b.buf)
	created := false
	if w.f == nil {
		f, err := w.create(w.segmentName(b.seq))
		if err != nil {
			return fmt.Errorf("create log segment: %w", err)
		}
		w.f, w.size, created = f, 0, true
	}
	_, err := w.f.WriteAt(w.enc, w.size)
	if err == nil && w.fault != nil {
		err = w.fault(b.seq)
	}
	if err == nil && !w.noSync {
		err = fdatasync(w.f)
	}
	if err == nil && created && !w.noSync {
		// The new segment's name must be durable too.
		err = syncDir(filepath.Dir(w.prefix))
	}
	if err != nil {
		if terr := w.f.Truncate(w.size); terr != nil {
			w.broken = terr
		} else if terr := w.f.Sync(); terr != nil {
			w.broken = terr
		}
		return fmt.Errorf("log: %w", err)
	}
	w.size += int64(len(w.enc))
	b.logSize = int64(len(w.enc))
	if w.size >= w.spareSize/8 {
		w.prepareSpare() // the log is busy: the next segment will be needed
	}
	if cap(w.enc) > 16<<20 {
		w.enc = nil // a bulk batch's buffer is not kept
	}
	return nil
}

// create makes the segment file name from the spare when there is one.
func (w *wal) create(name string) (*os.File, error) {
	w.spareMu.Lock()
	defer w.spareMu.Unlock()
	if w.spareReady {
		w.spareReady = false
		if err := os.Rename(w.prefix+spareName, name); err == nil {
			return os.OpenFile(name, os.O_RDWR, 0o600)
		}
	}
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
}

// prepareSpare starts writing a spare file of zeros, unless there is one.
func (w *wal) prepareSpare() {
	if w.noSync || w.spareSize < minSpare {
		return
	}
	w.spareMu.Lock()
	defer w.spareMu.Unlock()
	if w.spareReady || w.preparing {
		return
	}
	w.preparing = true
	w.prepared.Go(func() {
		err := writeZeros(w.prefix+spareName, w.spareSize)
		w.spareMu.Lock()
		w.preparing, w.spareReady = false, err == nil
		w.spareMu.Unlock()
	})
}

func writeZeros(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	for n := int64(0); n < size && err == nil; n += int64(len(zeros)) {
		_, err = f.Write(zeros)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// recycle removes segments that a checkpoint covers, keeping the last one
// as the spare when there is none.
func (w *wal) recycle(segs []string) {
	w.spareMu.Lock()
	defer w.spareMu.Unlock()
	for i, s := range segs {
		if i == len(segs)-1 && !w.spareReady && !w.preparing && !w.noSync {
			if os.Rename(s, w.prefix+spareName) == nil {
				w.spareReady = true
				continue
			}
		}
		_ = os.Remove(s)
	}
}

// rotate closes the current segment, so that the next append starts a new
// one, and returns the segments closed since the last call.
func (w *wal) rotate() []string {
	if w.f != nil {
		w.closed = append(w.closed, w.f.Name())
		_ = w.f.Close() // every record in it is synced
		w.f = nil
	}
	closed := w.closed
	w.closed = nil
	return closed
}

// removeAll closes the current segment and removes every segment file and
// the spare.
func (w *wal) removeAll() error {
	w.rotate()
	w.prepared.Wait()
	w.spareMu.Lock()
	w.spareReady = false
	w.spareMu.Unlock()
	segs, err := listSegments(w.prefix)
	if err != nil {
		return err
	}
	if err := os.Remove(w.prefix + spareName); err == nil {
		segs = append(segs, segment{}) // sync the directory
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, s := range segs {
		if s.path == "" {
			continue
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if len(segs) > 0 {
		return syncDir(filepath.Dir(w.prefix))
	}
	return nil
}

// encodeRecord appends the record of batch seq holding buf's writes to dst.
func encodeRecord(dst []byte, seq uint64, buf *buffer) []byte {
	dst = append(dst, make([]byte, recHeader)...)
	body := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	n := 0
	for _, b := range buf.buckets {
		if len(b.entries) > 0 {
			n++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for name, b := range buf.buckets {
		if len(b.entries) == 0 {
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
		dst = binary.AppendUvarint(dst, uint64(len(b.entries)))
		for _, e := range b.entries {
			if e.del {
				dst = append(dst, 1)
			} else {
				dst = append(dst, 0)
			}
			dst = binary.AppendUvarint(dst, uint64(len(e.key)))
			dst = append(dst, e.key...)
			if !e.del {
				dst = binary.AppendUvarint(dst, uint64(len(e.value)))
				dst = append(dst, e.value...)
			}
		}
	}
	binary.LittleEndian.PutUint64(dst[body-recHeader:], uint64(len(dst)-body))
	binary.LittleEndian.PutUint32(dst[body-4:], crc32.Checksum(dst[body:], castagnoli))
	return dst
}

// errCorrupt marks a record that does not decode: the end of the valid log.
var errCorrupt = errors.New("corrupt log record")

// walWrite is one write of a decoded record.
type walWrite struct {
	bucket string
	e      *entry
}

// decodeRecord decodes the record at the start of p; keys and values alias
// p. It returns the record's seq, length and writes, or errCorrupt when p
// does not start with a whole, valid record.
func decodeRecord(p []byte) (seq uint64, n int, writes []walWrite, err error) {
	if len(p) < recHeader {
		return 0, 0, nil, errCorrupt
	}
	size := binary.LittleEndian.Uint64(p)
	if size < 8 || size > uint64(len(p)-recHeader) {
		return 0, 0, nil, errCorrupt
	}
	body := p[recHeader : recHeader+int(size)]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(p[8:]) {
		return 0, 0, nil, errCorrupt
	}
	seq = binary.LittleEndian.Uint64(body)
	r := body[8:]
	uvarint := func() (uint64, bool) {
		v, k := binary.Uvarint(r)
		if k <= 0 {
			return 0, false
		}
		r = r[k:]
		return v, true
	}
	bytesN := func() ([]byte, bool) {
		l, ok := uvarint()
		if !ok || l > uint64(len(r)) {
			return nil, false
		}
		b := r[:l:l]
		r = r[l:]
		return b, true
	}
	nb, ok := uvarint()
	for i := uint64(0); ok && i < nb; i++ {
		var name []byte
		var ne uint64
		if name, ok = bytesN(); !ok {
			break
		}
		if ne, ok = uvarint(); !ok {
			break
		}
		bucket := string(name)
		for j := uint64(0); ok && j < ne; j++ {
			if len(r) == 0 || r[0] > 1 {
				ok = false
				break
			}
			e := &entry{del: r[0] == 1}
			r = r[1:]
			if e.key, ok = bytesN(); !ok || len(e.key) == 0 {
				ok = false
				break
			}
			if !e.del {
				e.value, ok = bytesN()
			}
			writes = append(writes, walWrite{bucket, e})
		}
	}
	if !ok || len(r) != 0 {
		return 0, 0, nil, errCorrupt
	}
	return seq, recHeader + int(size), writes, nil
}

// segment is a log segment file and the seq of its first batch.
type segment struct {
	path  string
	first uint64
}

// listSegments returns the segment files of prefix, in order.
func listSegments(prefix string) ([]segment, error) {
	dir, base := filepath.Split(prefix)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list log segments: %w", err)
	}
	var segs []segment
	for _, e := range ents {
		hex, ok := strings.CutPrefix(e.Name(), base)
		if !ok || len(hex) != 16 {
			continue
		}
		first, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, segment{path: filepath.Join(dir, e.Name()), first: first})
	}
	slices.SortFunc(segs, func(a, b segment) int { return cmp.Compare(a.first, b.first) })
	return segs, nil
}

// replay reads the segments of prefix and calls fn, in order, with the
// writes of each batch after seq from (the checkpointed position): the
// batches from+1, from+2, … as long as they follow each other. A segment is
// read up to its first torn or corrupt record (the tail of a write cut
// short by a crash, or stale contents of a recycled file: a record whose
// sequence number does not follow), and its records at or after the first seq of the next
// segment are ignored: the next segment supersedes them. Replay stops at a
// gap in the sequence, as nothing after it can be applied. It returns the
// seq of the last batch delivered (from when none).
func replay(prefix string, from uint64, fn func(seq uint64, writes []walWrite)) (uint64, error) {
	segs, err := listSegments(prefix)
	if err != nil {
		return from, err
	}
	last := from
	for i, s := range segs {
		limit := uint64(math.MaxUint64)
		if i+1 < len(segs) {
			limit = segs[i+1].first
			if limit <= last+1 {
				continue // wholly checkpointed or superseded
			}
		}
		data, err := os.ReadFile(s.path)
		if err != nil {
			return last, fmt.Errorf("read log segment: %w", err)
		}
		for expect := s.first; len(data) > 0; expect++ {
			seq, n, writes, err := decodeRecord(data)
			if err != nil || seq != expect || seq >= limit {
				break
			}
			data = data[n:]
			if seq <= last {
				continue // checkpointed already
			}
			if seq != last+1 {
				return last, nil
			}
			fn(seq, writes)
			last = seq
		}
	}
	return last, nil
}
