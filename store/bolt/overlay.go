package bolt

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/internal/cowtree"
)

// entryOverhead is the memory an overlay entry takes besides its key and
// value (its item and head in a leaf, B-tree slack, spare arena room), for
// the size estimate that triggers checkpoints.
const entryOverhead = 96

// putSize returns what putting e into a tree adds to the memory it takes,
// old being whether it replaced an entry: the copies of e's key and value
// in a leaf's arena, and for a new key entryOverhead. The copies an entry
// replaced are counted until the generation is dropped, as the arenas may
// hold them until then.
func putSize(e *entry, old bool) int64 {
	n := int64(len(e.key) + len(e.value))
	if !old {
		n += entryOverhead
	}
	return n
}

// gen is a generation of the overlay: the writes of a run of logged
// batches, coalesced, a tree per bucket. The active generation receives
// each batch once it is logged; it is frozen when its checkpoint starts and
// dropped when bbolt holds it.
type gen struct {
	trees map[string]*tree // never changed once in the map
	// lay is the file's layout when the generation began. The writes of
	// its colocated buckets go to one tree, trees[colocBucket], under
	// their physical keys (see coloc.go): a batch's writes to a member's
	// records then copy a leaf or two of that tree, not a leaf of each
	// bucket's tree (the committer's leaf copies were most of its work
	// at a million members).
	lay *layout
	// writers holds, per bucket, the tree the committer puts logged
	// batches into; each batch's trees are clones of them. Only the
	// committer uses it.
	writers map[string]*tree
	top     uint64 // the seq of the last batch it holds (of the checkpoint before, when empty)
	size    int64  // memory estimate of its entries
	logSize int64  // bytes of log records of its batches
	// segments are the log segments holding its batches, removed once it is
	// checkpointed; set when it is frozen.
	segments []string
	// doneTxid is the id of the bbolt transaction that checkpointed it, set
	// once that committed; 0 before.
	doneTxid atomic.Uint64
}

func newGen(top uint64, lay *layout) *gen {
	return &gen{trees: make(map[string]*tree), top: top, lay: lay}
}

// put inserts e into bucket's tree, in place, keeping the size estimate.
// Only recovery calls it, on a generation nothing else reads: a logged
// batch goes into clones of the trees (see DB.prepare).
func (g *gen) put(bucket string, e *entry) {
	key := e.key
	if tag, ok := g.lay.tag(bucket); ok {
		bucket, key = colocBucket, physKey(nil, key, tag)
	}
	t := g.trees[bucket]
	if t == nil {
		t = newTree()
		g.trees[bucket] = t
	}
	_, old := t.PutMarked(key, e.value, e.del)
	g.size += putSize(e, old)
}

// overlayTree returns the tree of trees, a generation's whose layout is
// lay, that holds bucket's writes, and the bucket's tag when that is the
// tree of the colocated buckets (0 otherwise).
func overlayTree(trees map[string]*tree, lay *layout, bucket string) (*tree, uint16) {
	if tag, ok := lay.tag(bucket); ok {
		return trees[colocBucket], tag
	}
	return trees[bucket], 0
}

// snapshot is what a View reads above bbolt: the active generation's
// trees and the frozen generation being checkpointed, if any.
// None of its trees is ever written.
type snapshot struct {
	active    map[string]*tree
	activeLay *layout // the active generation's layout (see gen.lay)
	old       *gen    // nil when no checkpoint was running
	held      *held   // the writes checkpoints held back, below old; nil when none
	// baseTxid is the id of bbolt's last transaction when the snapshot was
	// made with no checkpoint running: what a read transaction must see.
	baseTxid uint64
}

// consistent reports whether a bbolt read transaction with id txid and s
// read together the state after one batch. bbolt holds the state of the
// last finished checkpoint, or of old's checkpoint once that commits; s's
// generations hold every batch after the state below them, so either
// works. What does not is a later checkpoint, of batches s does not hold.
func (s *snapshot) consistent(txid uint64) bool {
	if s.old == nil {
		return txid == s.baseTxid
	}
	done := s.old.doneTxid.Load()
	return done == 0 || txid <= done
}

// metaBucket is the bbolt bucket, reserved, where a checkpoint records
// the log position it covers.
const metaBucket = "\x00store/bolt"

var (
	// metaCheckpoint holds the seq of the last batch checkpointed and the
	// id of the bbolt transaction that wrote it (16 bytes, big-endian).
	metaCheckpoint = []byte("checkpoint")
	// metaNested lists the keys of buckets that hold nested buckets (see
	// DB.nested), valid when the file's last transaction is the one
	// metaCheckpoint names.
	metaNested = []byte("nested")
	// metaFormat holds the file's format (see formatVersion), a uint32
	// (big-endian); absent in a file of format 1.
	metaFormat = []byte("format")
	// metaBuckets lists the buckets the file holds besides metaBucket:
	// the buckets checkpoints made, or that the file held when it was
	// migrated. A bucket that is listed but missing is damage, not an
	// empty bucket.
	metaBuckets = []byte("buckets")
	// metaLog records where the log was kept when the file was last
	// opened: the file's path and the log's directory (see logPlace).
	metaLog = []byte("log")
	// metaID holds the file's ID (see fileID).
	metaID = []byte("id")
)

// fileID names a bbolt file, so that its log can be told from another
// file's: 16 random bytes, recorded under metaID by the first Open (of a
// new file, or of one last opened by a version before IDs) before it
// writes any log, and in the header of every log segment. A copy of the
// file (a backup, cp) has its original's ID: a copy at another path gets
// one of its own when it is first closed (see DB.shutdown), a copy
// restored at the original's path keeps it, as it stands for the
// original.
type fileID [16]byte

// newFileID returns a new random ID.
func newFileID() (fileID, error) {
	var id fileID
	_, err := rand.Read(id[:])
	return id, err
}

// readFileID reads metaID; ok is false when the file has none. A record
// whose checksum does not hold, or of another length, is an error wrapping
// ErrCorrupt.
func readFileID(btx *bbolt.Tx) (id fileID, ok bool, err error) {
	v, ok, err := metaRecord(btx, metaID)
	if !ok || err != nil {
		return id, false, err
	}
	if len(v) != len(id) {
		return id, false, fmt.Errorf("%w: bad file ID record %x", ErrCorrupt, v)
	}
	copy(id[:], v)
	return id, true, nil
}

// logPlace is where a file's log is kept: the file's path and the log's
// directory, both absolute with symbolic links resolved. Open records it
// in metaLog and compares the one recorded with its own, to find a log
// that a change of Options.LogDir would leave behind (see recover).
type logPlace struct {
	file, dir string
}

// placeOf returns the logPlace of the file at path with its log in dir.
// The file itself may not exist yet: the links of its directory are
// resolved.
func placeOf(path, dir string) (logPlace, error) {
	file, err := resolve(filepath.Dir(path))
	if err != nil {
		return logPlace{}, err
	}
	if dir, err = resolve(dir); err != nil {
		return logPlace{}, err
	}
	return logPlace{filepath.Join(file, filepath.Base(path)), dir}, nil
}

// resolve returns the directory dir absolute, its symbolic links resolved.
func resolve(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// moved reports whether the log kept at p was kept at was before, in
// another directory, at the file's path: the case where the old directory
// may hold a log this Open would leave behind. The same directory reached
// by another path (a bind mount) is not another.
func (p logPlace) moved(was logPlace) bool {
	if was.file != p.file || was.dir == p.dir {
		return false
	}
	a, errA := os.Stat(was.dir)
	b, errB := os.Stat(p.dir)
	return errA != nil || errB != nil || !os.SameFile(a, b)
}

// readLogPlace reads metaLog; ok is false when the file has none (new, or
// last opened by a version that did not record it).
func readLogPlace(btx *bbolt.Tx) (p logPlace, ok bool, err error) {
	v, ok, err := metaRecord(btx, metaLog)
	if !ok || err != nil {
		return p, false, err
	}
	file, rest, ok1 := cutBytes(v)
	dir, rest, ok2 := cutBytes(rest)
	if !ok1 || !ok2 || len(rest) != 0 {
		return p, false, fmt.Errorf("%w: bad log record", ErrCorrupt)
	}
	return logPlace{string(file), string(dir)}, true, nil
}

// writeLogPlace records p in metaLog and id in metaID, and the meta
// record again, so that it names btx as the file's last transaction (see
// recover).
func writeLogPlace(btx *bbolt.Tx, p logPlace, id *fileID) error {
	m, _, err := readMeta(btx)
	if err != nil {
		return err
	}
	m.log, m.id = p, id
	return writeMeta(btx, m)
}

// meta is what metaBucket records.
type meta struct {
	seq, txid uint64
	nested    map[string]map[string]bool
	// dropped lists buckets a checkpoint emptied into colocBucket, which
	// writeMeta takes off the list of buckets.
	dropped []string
	// format is the file's format: formatUnversioned when it has no
	// format record.
	format uint32
	// log, when set, is written to metaLog; writeMeta leaves the record
	// as it is otherwise.
	log logPlace
	// id, when set, is written to metaID; writeMeta leaves the record as
	// it is otherwise.
	id *fileID
}

// readMeta reads metaBucket; ok is false when the file has none. The
// records of a file of format 1 have no checksums; those of a later
// format have, and one that does not hold is an error wrapping
// ErrCorrupt.
func readMeta(btx *bbolt.Tx) (m meta, ok bool, err error) {
	b := btx.Bucket([]byte(metaBucket))
	if b == nil {
		return m, false, nil
	}
	base := bucketSum(metaBucket)
	m.format = formatUnversioned
	get := func(key []byte) ([]byte, error) {
		v := b.Get(key)
		if v == nil || m.format == formatUnversioned {
			return v, nil
		}
		v, good := unseal(base, key, v)
		if !good {
			return nil, badSum("read meta", metaBucket, key)
		}
		return v, nil
	}
	if v := b.Get(metaFormat); v != nil {
		v, good := unseal(base, metaFormat, v)
		if !good || len(v) != 4 {
			return m, false, badSum("read meta", metaBucket, metaFormat)
		}
		if m.format = binary.BigEndian.Uint32(v); m.format != formatVersion && m.format != formatPacked && m.format != formatColocated && m.format != formatChecksums {
			return m, false, fmt.Errorf("%w: the file is of format %d; this version reads formats %d to %d",
				ErrFormat, m.format, formatUnversioned, formatVersion)
		}
	}
	v, err := get(metaCheckpoint)
	if err != nil {
		return m, false, err
	}
	if len(v) != 16 {
		return m, false, fmt.Errorf("%w: bad checkpoint record %x", ErrCorrupt, v)
	}
	m.seq, m.txid = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
	if v, err = get(metaNested); err != nil {
		return m, false, err
	}
	for len(v) > 0 {
		var bucket, key []byte
		if bucket, v, ok = cutBytes(v); ok {
			key, v, ok = cutBytes(v)
		}
		if !ok {
			return m, false, fmt.Errorf("%w: bad nested-bucket record", ErrCorrupt)
		}
		addNested(&m.nested, string(bucket), string(key))
	}
	return m, true, nil
}

func cutBytes(p []byte) (b, rest []byte, ok bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) {
		return nil, nil, false
	}
	return p[k : k+int(n)], p[k+int(n):], true
}

func addNested(m *map[string]map[string]bool, bucket, key string) {
	if *m == nil {
		*m = make(map[string]map[string]bool)
	}
	if (*m)[bucket] == nil {
		(*m)[bucket] = make(map[string]bool)
	}
	(*m)[bucket][key] = true
}

// metaRecord returns the record key of metaBucket without its checksum;
// ok is false when there is none.
func metaRecord(btx *bbolt.Tx, key []byte) (v []byte, ok bool, err error) {
	b := btx.Bucket([]byte(metaBucket))
	if b == nil {
		return nil, false, nil
	}
	if v = b.Get(key); v == nil {
		return nil, false, nil
	}
	v, good := unseal(bucketSum(metaBucket), key, v)
	if !good {
		return nil, false, badSum("read meta", metaBucket, key)
	}
	return v, true, nil
}

// readCatalogue reads the list of buckets of metaBuckets; ok is false when
// the file has none (of format 1, or new).
func readCatalogue(btx *bbolt.Tx) (names map[string]bool, ok bool, err error) {
	v, ok, err := metaRecord(btx, metaBuckets)
	if !ok || err != nil {
		return nil, false, err
	}
	names = make(map[string]bool)
	for len(v) > 0 {
		var name []byte
		if name, v, ok = cutBytes(v); !ok {
			return nil, false, fmt.Errorf("%w: bad bucket list", ErrCorrupt)
		}
		names[string(name)] = true
	}
	return names, true, nil
}

// writeMeta records m.seq, btx's id, m.nested, the format of this package
// and the list of buckets, with created added, in btx, with their
// checksums. A file without a list gets one of the buckets it holds.
func writeMeta(btx *bbolt.Tx, m meta, created ...string) error {
	names, ok, err := readCatalogue(btx)
	if err != nil {
		return err
	}
	if !ok {
		names = make(map[string]bool)
		err := btx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			if string(name) != metaBucket {
				names[string(name)] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, name := range created {
		names[name] = true
	}
	for _, name := range m.dropped {
		delete(names, name)
	}
	b, err := btx.CreateBucketIfNotExists([]byte(metaBucket))
	if err != nil {
		return err
	}
	var s sealer
	base := bucketSum(metaBucket)
	put := func(key, value []byte) error { return b.Put(key, s.seal(base, key, value)) }
	var list []byte
	for _, name := range slices.Sorted(maps.Keys(names)) {
		list = binary.AppendUvarint(list, uint64(len(name)))
		list = append(list, name...)
	}
	if err := put(metaBuckets, list); err != nil {
		return err
	}
	if err := put(metaFormat, binary.BigEndian.AppendUint32(nil, formatVersion)); err != nil {
		return err
	}
	v := binary.BigEndian.AppendUint64(nil, m.seq)
	v = binary.BigEndian.AppendUint64(v, uint64(btx.ID()))
	if err := put(metaCheckpoint, v); err != nil {
		return err
	}
	if m.log.file != "" {
		v := binary.AppendUvarint(nil, uint64(len(m.log.file)))
		v = append(v, m.log.file...)
		v = binary.AppendUvarint(v, uint64(len(m.log.dir)))
		v = append(v, m.log.dir...)
		if err := put(metaLog, v); err != nil {
			return err
		}
	}
	if m.id != nil {
		if err := put(metaID, m.id[:]); err != nil {
			return err
		}
	}
	if m.nested == nil {
		return b.Delete(metaNested)
	}
	var n []byte
	for _, bucket := range slices.Sorted(maps.Keys(m.nested)) {
		for _, key := range slices.Sorted(maps.Keys(m.nested[bucket])) {
			n = binary.AppendUvarint(n, uint64(len(bucket)))
			n = append(n, bucket...)
			n = binary.AppendUvarint(n, uint64(len(key)))
			n = append(n, key...)
		}
	}
	return put(metaNested, n)
}

// findNested walks every bucket of btx for keys holding nested buckets.
func findNested(btx *bbolt.Tx) (map[string]map[string]bool, error) {
	var nested map[string]map[string]bool
	err := btx.ForEach(func(name []byte, b *bbolt.Bucket) error {
		if string(name) == metaBucket {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				addNested(&nested, string(name), string(k))
			}
		}
		return nil
	})
	return nested, err
}

// checkpoint writes g to bbolt, bucket by bucket in name order and each in
// key order, with the meta record of g.top, and returns the id of the
// transaction that wrote the meta record. It first colocates the buckets of want the file does not (see
// extendLayout). With part > 0, it commits a transaction each time bbolt
// has read part nodes (pages) to change, which bounds the memory bbolt
// holds (each node, and the page it is written to at the commit): the
// meta record of the parts before the last keeps the
// checkpoint before, so that a crash replays the whole generation again,
// and reads, which look in g first while it is being checkpointed, see
// nothing of the parts. A damaged page of the file makes it fail with an
// error wrapping ErrCorrupt, the transaction rolled back (the parts
// committed before stay: they are writes g holds anyway).
// onCommit, when not nil, is called after each of its bbolt transactions
// commits, with part set for those before the last, and the transaction's
// statistics.
//
// h is the writes held back by the checkpoints before (see Held writes),
// holdMax their bound (0: hold nothing, put h into its buckets); the
// returned held writes are those after this checkpoint.
func checkpoint(db *bbolt.DB, g *gen, h *held, holdMax int64, nested map[string]map[string]bool, want []string, part, packMax int, onCommit func(part bool, st *bbolt.TxStats)) (txid uint64, lay *layout, next *held, err error) {
	err = guard("write", "", func() error {
		var werr error
		txid, lay, next, werr = writeCheckpoint(db, g, h, holdMax, nested, want, part, packMax, onCommit)
		return werr
	})
	return txid, lay, next, err
}

// ckptTx is the bbolt transaction a checkpoint writes in, renewed after
// each part.
type ckptTx struct {
	db      *bbolt.DB
	btx     *bbolt.Tx
	s       sealer // the values with their checksums, kept until the commit
	nested  map[string]map[string]bool
	prevSeq uint64 // the meta record's seq before the checkpoint
	lay     *layout
	laid    bool // lay is in the file
	// created and dropped are the buckets made and emptied since the
	// last commit, for the list of buckets.
	created, dropped []string
	part, n          int
	onCommit         func(part bool, st *bbolt.TxStats) // see checkpoint
	// packMax is the most bytes a group's pack holds (see pack.go); below
	// 0, groups are not packed.
	packMax int
	// fill, while a bucket not colocated is written, sets how full bbolt
	// fills its pages when the part commits (see treeFill).
	fill func()
}

// partWrites is the most writes a checkpoint part takes when they went to
// few nodes (more than partDensity a node). Keys put next to each other
// (after a bucket's last key, as an import's are, or between two keys of
// the file) go to one bbolt node, whose slice of elements bbolt grows by a
// quarter each time it fills, until the part commits: in an import of
// 100,000 members the copies came to five times the bytes the node held,
// a fifth of all the import allocated, and each put searched the node
// twice. Parts of 32,768 writes cost that import about 4% less CPU time
// than unbounded ones, and parts of 8,192 about 3% more (each part commits
// with an fsync). Writes scattered over many nodes are left to the bound
// on nodes: a part commits every branch page above the leaves it changed,
// so more parts would write those again.
const (
	partWrites  = 32 << 10
	partDensity = 64
)

// wrote counts a put or a delete; when the part is full, it commits it and
// begins the next transaction, and reports true: the caller's bucket
// handles, of the transaction before, must be looked up again. A part is
// full when bbolt holds part nodes, or at partWrites writes to few nodes
// (see partWrites); it looks every part/8 writes (256 at most): a write
// adds a few nodes at most.
func (c *ckptTx) wrote() (bool, error) {
	if c.n%32 == 0 {
		// Let a runnable writer have the core: a checkpoint shares the
		// cores with it, and Go's scheduler may leave the writer waiting
		// out the checkpoint's time slice. At a million members, 6
		// alternated pairs of Process with 64 callers: the longest call
		// 23-34 ms against 23-57 (shorter in 5 pairs), p99 13.4-16.9 ms
		// against 12.4-21.1 (lower in 4), the same throughput; the build
		// (one caller, ProcessBatch) 4% slower (median, lower in 5).
		runtime.Gosched()
	}
	if c.n++; c.part <= 0 || c.n%min(max(c.part/8, 1), 256) != 0 {
		return false, nil
	}
	nodes := c.nodes()
	if nodes < c.part && (c.n < partWrites || nodes*partDensity >= c.n) {
		return false, nil
	}
	if c.fill != nil {
		c.fill()
	}
	if _, err := c.commit(c.prevSeq, true); err != nil {
		return false, err
	}
	btx, err := c.db.Begin(true)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	c.btx, c.s, c.n = btx, sealer{}, 0
	return true, nil
}

// nodes returns how many nodes bbolt holds in the part's transaction.
func (c *ckptTx) nodes() int {
	st := c.btx.Stats()
	return int(st.GetNodeCount())
}

// commit records the layout, the list of buckets and seq in the meta
// record, and commits; part says whether a part is committed rather than
// the checkpoint's last transaction.
func (c *ckptTx) commit(seq uint64, part bool) (uint64, error) {
	if !c.laid {
		if err := writeLayout(c.btx, c.lay); err != nil {
			return 0, fmt.Errorf("meta: %w", err)
		}
		c.laid = true
	}
	if err := writeMeta(c.btx, meta{seq: seq, nested: c.nested, dropped: c.dropped}, c.created...); err != nil {
		return 0, fmt.Errorf("meta: %w", err)
	}
	c.created, c.dropped = nil, nil
	txid := uint64(c.btx.ID())
	if err := c.btx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	if c.onCommit != nil {
		st := c.btx.Stats() // kept by the committed transaction
		c.onCommit(part, &st)
	}
	return txid, nil
}

// writeCheckpoint is checkpoint, unguarded.
func writeCheckpoint(db *bbolt.DB, g *gen, h *held, holdMax int64, nested map[string]map[string]bool, want []string, part, packMax int, onCommit func(part bool, st *bbolt.TxStats)) (uint64, *layout, *held, error) {
	btx, err := db.Begin(true)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("begin: %w", err)
	}
	c := &ckptTx{db: db, btx: btx, nested: nested, part: part, packMax: packMax, onCommit: onCommit}
	defer func() { _ = c.btx.Rollback() }() // after Commit, a no-op
	m, _, err := readMeta(btx)
	if err != nil {
		return 0, nil, nil, err
	}
	c.prevSeq = m.seq
	before, err := readLayout(btx)
	if err != nil {
		return 0, nil, nil, err
	}
	if len(want) > 0 && h != nil {
		// A bucket moved into colocBucket takes its records from the
		// file: its held writes must be there first.
		holdMax = 0
	}
	if holdMax <= 0 {
		c.lay = before
		if h, err = c.hold(h, g, nil, 0); err != nil {
			return 0, nil, nil, err
		}
	}
	// Moving buckets into colocBucket is one transaction, whatever part
	// says: a bucket half moved would read as half empty.
	if err := extendLayout(c, before, want, g, nested); err != nil {
		return 0, nil, nil, err
	}
	c.laid = c.lay == before
	var colocs, holds []string
	for _, name := range slices.Sorted(maps.Keys(g.trees)) {
		t := g.trees[name]
		if _, ok := c.lay.tag(name); ok || name == colocBucket {
			colocs = append(colocs, name)
			continue
		}
		if holdMax > 0 && c.holds(h, name, t) {
			holds = append(holds, name)
			continue
		}
		if err := c.writeTree(name, t); err != nil {
			return 0, nil, nil, err
		}
	}
	next, err := c.hold(h, g, holds, holdMax)
	if err != nil {
		return 0, nil, nil, err
	}
	if len(colocs) > 0 {
		if err := writeColocated(c, g, colocs); err != nil {
			return 0, nil, nil, err
		}
	}
	txid, err := c.commit(g.top, false)
	if err != nil {
		return 0, nil, nil, err
	}
	return txid, c.lay, next, nil
}

// writeTree writes t, the tree of bucket name, not colocated.
func (c *ckptTx) writeTree(name string, t *tree) error {
	b := c.btx.Bucket([]byte(name))
	if b == nil {
		live := false
		t.Ascend(nil, nil, func(it cowtree.Item[struct{}]) bool { live = !it.Marked(); return !live })
		if !live {
			return nil // only deletes in a bucket that does not exist
		}
		var err error
		if b, err = c.btx.CreateBucket([]byte(name)); err != nil {
			return fmt.Errorf("bucket %q: %w", name, err)
		}
		c.created = append(c.created, name)
	}
	fill := bbolt.DefaultFillPercent
	if appendOnly(b, t) {
		// Every key goes after the bucket's last: fill pages up, as
		// bbolt would otherwise split each appended page in half.
		fill = 0.95
	}
	b.FillPercent = fill
	// Ascending runs into the bucket put many keys into each node they
	// reach: those nodes split fuller (see treeFill), which bbolt does at
	// the commit, so the part decides before it commits.
	puts, nodes0 := 0, c.nodes() // the nodes of the buckets written before
	c.fill = func() {
		if fill == bbolt.DefaultFillPercent && puts >= denseRun*max(c.nodes()-nodes0, 1) {
			b.FillPercent = treeFill
		}
	}
	defer func() { c.fill(); c.fill = nil }()
	base := bucketSum(name)
	var err error
	t.Ascend(nil, nil, func(it cowtree.Item[struct{}]) bool {
		puts++
		if it.Marked() {
			err = b.Delete(it.Key())
		} else {
			err = b.Put(it.Key(), c.s.seal(base, it.Key(), it.Value()))
		}
		if err != nil {
			err = fmt.Errorf("bucket %q, key %q: %w", name, it.Key(), err)
			return false
		}
		var renewed bool
		if renewed, err = c.wrote(); renewed {
			// The bucket exists: it was made or written in the part
			// just committed.
			b = c.btx.Bucket([]byte(name))
			b.FillPercent = fill
			puts, nodes0 = 0, 0
		}
		return err == nil
	})
	return err
}

// treeFill is how full bbolt fills the pages of a bucket not colocated
// when it splits them, where the part put keys densely, denseRun or more
// a node: ascending runs, as due times, feed positions, event and member
// IDs come, each run's pages left behind as it moves on and emptied from
// the front as retention prunes. Split at bbolt's half those stayed half
// full (at 200,000 members with due work done as time passed, 0.45-0.52
// full, 420 bytes a member of pages for 200 of records; at 0.9, 0.85-0.89
// and 230 bytes). Keys put at random (random event IDs) reach a node or
// two each and keep bbolt's half: at 0.9 each split left a page with a key
// or two, and pages ended 0.41 full instead of 0.67, with 12% more page
// writes.
const (
	treeFill = 0.9
	denseRun = 8
)

// appendOnly reports whether every key of t sorts after b's last key.
func appendOnly(b *bbolt.Bucket, t *tree) bool {
	last, _ := b.Cursor().Last()
	if last == nil {
		return true
	}
	min, ok := t.Min()
	return ok && string(min.Key()) > string(last)
}
