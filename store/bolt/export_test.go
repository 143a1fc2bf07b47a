package bolt

import (
	"bytes"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
)

// SetCommitHook makes d's committer call hook with "begin" before it logs a
// batch, with "committed" after the log was synced, before the batch is
// answered, and with "answered" after, before the batch's trees are in the
// overlay. Call it before any Update.
func SetCommitHook(d *DB, hook func(stage string)) { d.commitHook = hook }

// SetCheckpointHook makes d's checkpoints call hook with "committed" after
// their bbolt commit, before they remove the log segments they cover, with
// "part" after each part before the last commits (see Options.MaxMemory),
// and with "begin" before they write. Call it before any Update.
func SetCheckpointHook(d *DB, hook func(stage string)) { d.ckptHook = hook }

// OpenHooked is Open with SetCheckpointHook(d, hook) from the start: the
// checkpoint of the batches Open replayed calls it too.
func OpenHooked(path string, opts *Options, hook func(stage string)) (*DB, error) {
	return openSet(path, opts, func(o *Options) { o.ckptHook = hook })
}

// openSet is Open with a copy of opts (nil: the defaults) that set changes:
// the test hooks below set options only tests reach.
func openSet(path string, opts *Options, set func(*Options)) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	set(&o)
	return Open(path, &o)
}

// WithCheckpointPart returns a copy of opts (nil: the defaults) whose
// checkpoints commit in parts of at most n changed nodes, as a small
// MaxMemory makes them, without bounding the overlay by it.
func WithCheckpointPart(opts *Options, n int) *Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ckptPart = n
	return &o
}

// OpenPackMax is Open with the most bytes a group's pack holds set to max
// (below 0: nothing is packed, as in a file of format 3).
func OpenPackMax(path string, opts *Options, max int) (*DB, error) {
	return openSet(path, opts, func(o *Options) { o.packMax = max })
}

// OpenHoldMax is Open with the bound of the writes checkpoints hold back
// set to max (see Held writes).
func OpenHoldMax(path string, opts *Options, max int64) (*DB, error) {
	return openSet(path, opts, func(o *Options) { o.holdMax = max })
}

// HeldRecords returns the number of held records in the bbolt file at
// path, which no DB has open.
func HeldRecords(path string) (int, error) {
	bdb, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer bdb.Close()
	n := 0
	err = bdb.View(func(btx *bbolt.Tx) error {
		b := btx.Bucket([]byte(metaBucket))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.Seek(heldPrefix); k != nil && bytes.HasPrefix(k, heldPrefix); k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// SetSlowdownTimer makes d's writer wait on after(delay) when it slows a
// batch down, instead of time.After. Call it before any Update.
func SetSlowdownTimer(d *DB, after func(time.Duration) <-chan time.Time) { d.after = after }

// SetLogFault makes the log call fault after writing the record of batch
// seq and before syncing it; an error fails the append as a failed sync
// would. Call it before any Update.
func SetLogFault(d *DB, fault func(seq uint64) error) { d.log.fault = fault }

// Layered reports whether t, given to an Update function, reads the buffer
// of a batch being committed under its own.
func Layered(t store.Tx) bool { return t.(*tx).under != nil }

// LogRecord returns the log record of batch seq that puts, for each bucket
// of writes, each of its keys with its value.
func LogRecord(seq uint64, writes map[string]map[string]string) []byte {
	buf := newBuffer(&slab{})
	for bucket, kv := range writes {
		b := buf.bucket(bucket)
		for k, v := range kv {
			buf.write(b, []byte(k), []byte(v), false)
		}
	}
	return encodeRecord(nil, seq, buf)
}

// SegmentPath returns the path of the log segment of the store at path
// whose first batch is first.
func SegmentPath(path string, first uint64) string {
	w := wal{prefix: path + walInfix}
	return w.segmentName(first)
}

// SetClock makes d read the time, which times the retry of a failed
// checkpoint and Stats.CheckpointTime, from now instead of time.Now. Call
// it before any Update.
func SetClock(d *DB, now func() time.Time) { d.now = now }

// CheckpointRetry is how long after a failed checkpoint the next is tried.
const CheckpointRetry = checkpointRetry

// SetBackupHook makes d's Backup call hook once the bbolt file holds every
// batch answered before the call, before it copies the file. Call it
// before any Backup.
func SetBackupHook(d *DB, hook func()) { d.backupHook = hook }
