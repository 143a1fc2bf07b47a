package bolt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The log is a sequence of segment files next to the bbolt file, named
// path + "-wal-" + the 16-hex-digit sequence number of the first batch the
// segment holds. A segment (log format 2) starts with a header naming the
// file whose log it is:
//
//	magic   "bolt-wal" (8 bytes)
//	version uint32 (little-endian), 2
//	id      the file's ID (16 bytes, see fileID)
//	crc     uint32 (little-endian), CRC-32C of the 28 bytes before
//
// then a sequence of records, one per committed batch, their sequence
// numbers following each other from the one in its name:
//
//	length uint64 (little-endian) of the body
//	crc    uint32 (little-endian), CRC-32C of the body
//	body:  seq uint64 (little-endian), uvarint bucket count, then per bucket
//	       uvarint name length, name, uvarint entry count, then per entry
//	       a flag byte (0 put, 1 delete), uvarint key length, key and, for a
//	       put, uvarint value length, value.
//
// A segment of log format 1, written before segments had a header, starts
// with its first record. The two are told apart by the first 8 bytes: the
// magic, read as a record's length, is more than 2^62, longer than any
// segment.
const (
	walInfix  = "-wal-"
	recHeader = 12
	// segMagic starts the header of a segment of log format 2 or later.
	segMagic = "bolt-wal"
	// logFormat is the log format this package writes.
	logFormat = 2
	// segHeader is the length of a segment's header.
	segHeader = len(segMagic) + 4 + len(fileID{}) + 4
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
	id     fileID   // the file's ID, in the header of every segment
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

	spareMu    sync.Mutex // guards the spare file and the three fields below
	spareReady bool       // the spare file exists
	preparing  bool       // a goroutine is writing the spare file
	// awaited counts the lists of segments handed to a checkpoint (by
	// rotate or keep) and not recycled yet. While one is awaited no spare
	// of zeros is prepared: the checkpoint's last segment will be the
	// spare. Writing one anyway doubled the log's writes in a long burst
	// (an import of 100,000 members wrote 480 MB of zeros beside 380 MB of
	// records, and removed every recycled segment).
	awaited  int
	prepared sync.WaitGroup
	// stopped is set once the log is to be removed (the DB is closing): no
	// spare is prepared or kept, and one being filled stops.
	stopped atomic.Bool
	// zeroed counts the bytes of zeros written to spares (tests).
	zeroed atomic.Int64
}

// stopSpares stops preparing spares for good: the log is to be removed
// (see removeAll), and a spare of 1.25 × CheckpointSize would be written
// only to be deleted.
func (w *wal) stopSpares() { w.stopped.Store(true) }

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
	// A segment's header goes with its first record, in one write and one
	// sync (again after a failed first append, which cut the segment to
	// nothing): a segment holds an answered batch only once both are on
	// disk.
	w.enc = w.enc[:0]
	if w.f == nil || w.size == 0 {
		w.enc = appendSegHeader(w.enc, w.id)
	}
	w.enc = encodeRecord(w.enc, b.seq, b.buf)
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
	if w.noSync || w.spareSize < minSpare || w.stopped.Load() {
		return
	}
	w.spareMu.Lock()
	defer w.spareMu.Unlock()
	if w.spareReady || w.preparing || w.awaited > 0 {
		return
	}
	w.fill(true)
}

// fill makes the spare file spareSize bytes long in the background,
// writing zeros after what it holds (all of it when fresh is set: a new
// spare), and marks it ready when done. A spare made from a segment the
// checkpoint recycled is usually long enough already: the segment of a
// generation that froze early is extended, so that the segment made from
// it is synced over written blocks to its end. Called with spareMu held.
func (w *wal) fill(fresh bool) {
	w.preparing = true
	w.prepared.Go(func() {
		err := writeZeros(w.prefix+spareName, fresh, w.spareSize, &w.stopped, &w.zeroed)
		w.spareMu.Lock()
		w.preparing, w.spareReady = false, err == nil
		w.spareMu.Unlock()
	})
}

// errSpareStopped is writeZeros' error once stop is set.
var errSpareStopped = errors.New("the log is being removed")

// writeZeros writes zeros to the file at path from its end (or from the
// start, emptying it, when fresh is set) up to size bytes, and syncs it,
// adding what it writes to zeroed. It stops once stop is set. On failure
// the file is removed.
func writeZeros(path string, fresh bool, size int64, stop *atomic.Bool, zeroed *atomic.Int64) error {
	flag := os.O_RDWR | os.O_CREATE
	if fresh {
		flag |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return err
	}
	var off int64
	if fi, serr := f.Stat(); serr != nil {
		err = serr
	} else {
		off = fi.Size()
	}
	zeros := make([]byte, min(1<<20, max(size-off, 0)))
	for ; off < size && err == nil; off += int64(len(zeros)) {
		if stop.Load() {
			err = errSpareStopped
			break
		}
		var n int
		n, err = f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off)
		zeroed.Add(int64(n))
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
	if len(segs) > 0 {
		w.awaited--
	}
	for i, s := range segs {
		if i == len(segs)-1 && !w.spareReady && !w.preparing && !w.noSync && !w.stopped.Load() {
			if os.Rename(s, w.prefix+spareName) == nil {
				if fi, err := os.Stat(w.prefix + spareName); err == nil && (fi.Size() >= w.spareSize || w.spareSize < minSpare) {
					w.spareReady = true
				} else {
					w.fill(false)
				}
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
	w.await(closed)
	return closed
}

// await notes that segs are handed to a checkpoint, which will recycle
// them.
func (w *wal) await(segs []string) {
	if len(segs) > 0 {
		w.spareMu.Lock()
		w.awaited++
		w.spareMu.Unlock()
	}
}

// keep is what Open does with the log it replayed up to batch last when
// a checkpoint is to write the batches later: it returns the segments to
// remove once that checkpoint is done, and removes, now, the spare and
// the segments that hold no batch up to last (a segment whose first
// record a crash cut short), whose names the log may reuse. The log then
// appends batch last+1 on in a new segment; a later replay reads the kept
// segments up to the batch the new one starts with and ignores what
// follows (the record a crash cut short).
func (w *wal) keep(last uint64) ([]string, error) {
	segs, err := listSegments(w.prefix)
	if err != nil {
		return nil, err
	}
	var kept []string
	removed := false
	for _, s := range segs {
		if s.first <= last {
			kept = append(kept, s.path)
			continue
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		removed = true
	}
	if err := os.Remove(w.prefix + spareName); err == nil {
		removed = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	w.await(kept)
	if removed && !w.noSync {
		return kept, syncDir(filepath.Dir(w.prefix))
	}
	return kept, nil
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

// appendSegHeader appends the header of a segment of the file id to dst.
func appendSegHeader(dst []byte, id fileID) []byte {
	start := len(dst)
	dst = append(dst, segMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, logFormat)
	dst = append(dst, id[:]...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// segKind is what a segment's first bytes say it is.
type segKind int

const (
	segNoHeader  segKind = iota // log format 1: records from the start
	segOwned                    // a header, whole and valid: records follow it
	segBadHeader                // the magic, then a header cut short or with a bad checksum
	segLater                    // a header of a later log format
)

// readSegHeader tells what the segment starting with p is (p may be just
// its first segHeader bytes), and, when it has a valid header, the ID of
// the file it names and where its records start.
func readSegHeader(p []byte) (kind segKind, id fileID, start int) {
	if len(p) < len(segMagic) || string(p[:len(segMagic)]) != segMagic {
		return segNoHeader, id, 0
	}
	if len(p) < segHeader || crc32.Checksum(p[:segHeader-4], castagnoli) != binary.LittleEndian.Uint32(p[segHeader-4:]) {
		return segBadHeader, id, 0
	}
	if binary.LittleEndian.Uint32(p[len(segMagic):]) != logFormat {
		return segLater, id, 0
	}
	copy(id[:], p[len(segMagic)+4:])
	return segOwned, id, segHeader
}

// segOwner reads the header of the segment at path: ok is set when it
// names a file, whose ID is id. A segment without a header (log format 1)
// or whose header is damaged or cut short names none; replay judges it.
func segOwner(path string) (id fileID, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return id, false, fmt.Errorf("read log segment: %w", err)
	}
	defer f.Close()
	p := make([]byte, segHeader)
	n, err := io.ReadFull(f, p)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return id, false, fmt.Errorf("read log segment: %w", err)
	}
	kind, id, _ := readSegHeader(p[:n])
	return id, kind == segOwned, nil
}

// splitSegments returns the segments of prefix, in order, split into
// those of the file whose ID is id (or naming no file: see segOwner) and
// the foreign ones, whose header names another file; every segment with a
// header is foreign when id is nil, as a file without an ID (new, or last
// opened by a version before IDs) wrote none.
func splitSegments(prefix string, id *fileID) (own, foreign []segment, err error) {
	segs, err := listSegments(prefix)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range segs {
		owner, ok, err := segOwner(s.path)
		if err != nil {
			return nil, nil, err
		}
		if ok && (id == nil || owner != *id) {
			foreign = append(foreign, s)
		} else {
			own = append(own, s)
		}
	}
	return own, foreign, nil
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
		for _, e := range b.order {
			dst = appendWrite(dst, e.key, e.value, e.del)
		}
	}
	return frameRecord(dst, body)
}

// frameRecord fills in the header of the record whose body starts at
// dst[body:] and runs to dst's end: its length and checksum.
func frameRecord(dst []byte, body int) []byte {
	binary.LittleEndian.PutUint64(dst[body-recHeader:], uint64(len(dst)-body))
	binary.LittleEndian.PutUint32(dst[body-4:], crc32.Checksum(dst[body:], castagnoli))
	return dst
}

// appendWrite appends one write of a record to dst: a put of value, or a
// delete when del is set.
func appendWrite(dst, key, value []byte, del bool) []byte {
	if del {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	if !del {
		dst = binary.AppendUvarint(dst, uint64(len(value)))
		dst = append(dst, value...)
	}
	return dst
}

// Why the bytes at an offset of a segment are not the record that belongs
// there.
var (
	errEnd      = errors.New("the segment ends")
	errCut      = errors.New("record cut short")
	errLength   = errors.New("bad record length")
	errChecksum = errors.New("checksum mismatch")
	errBody     = errors.New("malformed record body")
	errHeader   = errors.New("segment header cut short or with a bad checksum")
)

// minRecord is the length of the shortest record: a header, a seq and a
// bucket count.
const minRecord = recHeader + 8 + 1

// walWrite is one write of a decoded record.
type walWrite struct {
	bucket string
	e      *entry
}

// decodeRecord decodes the record at the start of p; keys and values alias
// p. It returns the record's seq, length and writes, or an error saying
// why p does not start with a whole, valid record.
func decodeRecord(p []byte) (seq uint64, n int, writes []walWrite, err error) {
	switch {
	case len(p) == 0:
		return 0, 0, nil, errEnd
	case len(p) < recHeader:
		return 0, 0, nil, errCut
	}
	size := binary.LittleEndian.Uint64(p)
	switch {
	case size < minRecord-recHeader:
		return 0, 0, nil, errLength
	case size > uint64(len(p)-recHeader):
		return 0, 0, nil, errCut
	}
	body := p[recHeader : recHeader+int(size)]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(p[8:]) {
		return 0, 0, nil, errChecksum
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
		return 0, 0, nil, errBody
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

// logDamage is damage to the log before its end: a record that an Update
// may have been answered for is missing or unreadable. It wraps ErrCorrupt.
type logDamage struct {
	path   string // the segment
	offset int    // where in it
	reason string
}

func (e *logDamage) Error() string {
	return fmt.Sprintf("log segment %s, offset %d: %s", filepath.Base(e.path), e.offset, e.reason)
}

func (e *logDamage) Unwrap() error { return ErrCorrupt }

// replayed is what replay did.
type replayed struct {
	segments int    // segment files read
	records  int    // records delivered
	last     uint64 // the seq of the last record delivered (from when none)
	// tailPath, tailOffset and tail describe the bytes after the last record
	// of the last segment, which replay ignores: unused space of a reused
	// file (zeros, or records of a checkpointed segment), or a record cut
	// short by a crash. torn is set when they begin with a piece of a
	// record of the next batch, tornBatch.
	tailPath   string
	tailOffset int
	tail       int
	torn       bool
	tornBatch  uint64
	// damage is the damage replay stopped at, when told to salvage the log
	// up to it; discarded is the number of bytes from there to the end of
	// the log.
	damage    *logDamage
	discarded int64
}

// replay reads the segments of prefix and calls fn, in order, with the
// writes of each batch after seq from (the checkpointed position): the
// batches from+1, from+2, … Each segment holds the records of the batches
// from the one in its name up to the one before the next segment's, one
// right after the other from its start; what follows them is stale (see
// below). Replay reads past the segments and records at or before from
// (checkpointed already; a crash between a checkpoint and the removal of
// its segments leaves them), and past records at or after the first of the
// next segment.
//
// The log ends in the last segment, after its last record that is whole,
// valid and of the next batch. What follows, the tail, is ignored: unused
// space of a file made from the spare (zeros or records of older batches),
// or the record a crash interrupted, which was never answered, cut short or
// with a bad checksum (any of its pages may have reached the disk). Only
// one record is ever written and not synced, so the tail holds no record
// of a later batch: when it does, the record it follows is damaged, not
// torn. So is a segment other than the last that ends (or holds a bad
// record) before the batches it must hold, and a gap in the batches
// between the checkpointed position and a segment. At damage replay
// returns an error wrapping ErrCorrupt that names the segment and the
// offset, unless salvage is set: it then stops there, as if the log ended,
// and reports the damage in the result. Damage that hides only
// checkpointed batches is no loss and not reported.
//
// A damaged last record of the log cannot be told from a torn one: it is
// cut too. So is the header of the last segment, written with its first
// record; any other segment's damaged header is damage. A segment's
// records start after its header, or at its start when it has none (log
// format 1); replay does not look at the file the header names (recover
// did), and refuses a segment of a later log format with an error
// wrapping ErrFormat.
func replay(prefix string, from uint64, salvage bool, fn func(seq uint64, writes []walWrite)) (replayed, error) {
	r := replayed{last: from}
	segs, err := listSegments(prefix)
	if err != nil {
		return r, err
	}
	// stop ends the replay at damage to segment i.
	stop := func(i int, d *logDamage) (replayed, error) {
		if !salvage {
			return r, d
		}
		r.damage = d
		for j, s := range segs[i:] {
			if fi, err := os.Stat(s.path); err == nil {
				r.discarded += fi.Size()
				if j == 0 {
					r.discarded -= int64(d.offset)
				}
			}
		}
		return r, nil
	}
	for i, s := range segs {
		final := i == len(segs)-1
		limit := uint64(math.MaxUint64)
		if !final {
			limit = segs[i+1].first
			if limit <= r.last+1 {
				continue // wholly checkpointed or superseded
			}
		}
		if s.first > r.last+1 {
			reason := fmt.Sprintf("batches %d to %d are in no segment", r.last+1, s.first-1)
			if r.last == from {
				// The file may be a copy older than the store that left
				// the log: its batches between are in no segment either.
				reason += fmt.Sprintf(" (the file is checkpointed to batch %d: a segment is missing, or the file is older than its log, such as a backup restored over a store that crashed)", from)
			}
			return stop(i, &logDamage{path: s.path, reason: reason})
		}
		data, err := os.ReadFile(s.path)
		if err != nil {
			return r, fmt.Errorf("read log segment: %w", err)
		}
		r.segments++
		kind, _, off := readSegHeader(data)
		if kind == segLater {
			return r, fmt.Errorf("%w: log segment %s is of log format %d; this version reads formats 1 and %d",
				ErrFormat, filepath.Base(s.path), binary.LittleEndian.Uint32(data[len(segMagic):]), logFormat)
		}
		expect := s.first
		var bad error // why the record at off is not batch expect's
		if kind == segBadHeader {
			// Written with the segment's first record: torn with it when
			// the segment is the log's last and nothing valid follows.
			bad = errHeader
		}
		for bad == nil && expect < limit {
			seq, n, writes, err := decodeRecord(data[off:])
			if err == nil && seq != expect {
				err = fmt.Errorf("a record of batch %d", seq)
			}
			if err != nil {
				bad = err
				break
			}
			if seq > r.last {
				fn(seq, writes)
				r.last = seq
				r.records++
			}
			off += n
			expect++
		}
		if !final {
			if r.last+1 < limit {
				return stop(i, &logDamage{path: s.path, offset: off, reason: fmt.Sprintf("batch %d: %v, before the next segment's batch %d", expect, bad, limit)})
			}
			continue
		}
		tail := data[off:]
		if seq, at, ok := laterRecord(tail, max(expect, r.last+1), expect); ok {
			return stop(i, &logDamage{path: s.path, offset: off, reason: fmt.Sprintf("batch %d: %v, and the record of batch %d follows at offset %d", expect, bad, seq, off+at)})
		}
		r.tailPath, r.tailOffset, r.tail = s.path, off, len(tail)
		if len(bytes.TrimLeft(tail, "\x00")) > 0 {
			// A record of batch expect was begun, or a piece too short to
			// tell; else unused space, as far as can be told.
			r.torn = kind == segBadHeader || len(tail) < recHeader+8 || binary.LittleEndian.Uint64(tail[recHeader:]) == expect
			r.tornBatch = expect
		}
	}
	return r, nil
}

// laterRecord looks in tail, the bytes after the last valid record of the
// log, whose next batch is expect, for a valid record of a batch lo or
// later (lo >= expect), and returns its seq and offset. A record of batch
// seq at offset p can only follow the records of batches expect to seq-1,
// which take at least minRecord bytes each, so seq is at most
// expect+1+p/minRecord: other candidates are not checksummed.
func laterRecord(tail []byte, lo, expect uint64) (seq uint64, at int, ok bool) {
	for p := 0; p+minRecord <= len(tail); p++ {
		size := binary.LittleEndian.Uint64(tail[p:])
		if size == 0 {
			// Zeros, the unused space of a spare: skip to 7 bytes before
			// the next non-zero byte, as a record's length is not zero.
			q := p + 8
			for q+8 <= len(tail) && binary.LittleEndian.Uint64(tail[q:]) == 0 {
				q += 8
			}
			p = q - 8
			continue
		}
		if size < minRecord-recHeader || size > uint64(len(tail)-p-recHeader) {
			continue
		}
		s := binary.LittleEndian.Uint64(tail[p+recHeader:])
		if s < lo || s > expect+1+uint64(p/minRecord) {
			continue
		}
		if _, _, _, err := decodeRecord(tail[p:]); err == nil {
			return s, p, true
		}
	}
	return 0, 0, false
}

// lockName is the suffix of the log's lock file: path + "-wal-lock", in
// the log's directory, which an open DB holds locked (flock, on Unix) and
// Close removes. The bbolt file's own lock keeps a second DB off the file;
// this one keeps it off the log, which a DB of a file of the same name in
// another directory, given the same LogDir, would otherwise share: it
// would replay the first's live log into its own file, truncate its
// segments, and remove them on Close.
const lockName = "lock"

// logLock is the lock of a log taken by lockLog.
type logLock struct {
	f       *os.File // nil where logLocks is false
	name    string
	created bool // this Open made the file: a failed Open removes it
}

// lockLog takes the lock of the log at prefix, waiting up to timeout for
// another DB holding it (an error wrapping ErrLocked then). It makes the
// lock file if there is none. A holder's Close removes the file before it
// unlocks it, so a lock taken on a file no longer at its name is
// stale: lockLog then takes the one there now.
func lockLog(prefix string, timeout time.Duration) (*logLock, error) {
	l := &logLock{name: prefix + lockName}
	if !logLocks {
		return l, nil
	}
	// The waits are counted rather than timed: Open reads no clock.
	const retry = 50 * time.Millisecond // as bbolt waits for its lock
	waited := time.Duration(0)
	for {
		f, err := os.OpenFile(l.name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		created := err == nil
		if errors.Is(err, os.ErrExist) {
			f, err = os.OpenFile(l.name, os.O_RDWR, 0o600)
			if errors.Is(err, os.ErrNotExist) {
				continue // removed by its holder's Close meanwhile
			}
		}
		if err != nil {
			return nil, fmt.Errorf("lock the log: %w", err)
		}
		ok, err := lockFile(f)
		if err == nil && ok {
			var fi, now os.FileInfo
			if fi, err = f.Stat(); err == nil {
				now, err = os.Stat(l.name)
			}
			if err == nil && os.SameFile(fi, now) {
				l.f, l.created = f, created
				return l, nil
			}
			if err == nil || errors.Is(err, os.ErrNotExist) {
				_ = f.Close() // a stale file: its holder removed it
				continue
			}
		}
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("lock the log: %w", err)
		}
		if waited >= timeout {
			return nil, fmt.Errorf("%w: the log %s is held by another DB (of a file of the same name, with the same LogDir)",
				ErrLocked, filepath.Base(l.name))
		}
		time.Sleep(retry)
		waited += retry
	}
}

// release unlocks the log, removing the lock file first (so that an
// opener that locks it after finds it stale) when remove is set.
func (l *logLock) release(remove bool) {
	if l.f == nil {
		return
	}
	if remove {
		_ = os.Remove(l.name)
	}
	_ = l.f.Close()
	l.f = nil
}
