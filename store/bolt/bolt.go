// Package bolt is the default, persistent implementation of [store.Store]: a
// bbolt file, written through group commit, a write-ahead log and
// checkpoints.
//
// # Files
//
// At rest the store is the one bbolt file at the path given to [Open].
// While it is open, committed writes also live in a log next to it, or in
// [Options.LogDir]: segment files named after the bbolt file, its name +
// "-wal-" + 16 hex digits (the sequence number of the first batch in the
// segment), its name + "-wal-spare", a segment to be reused, and its name +
// "-wal-lock", which the open DB holds locked (flock, on Unix). [DB.Close]
// writes everything to the bbolt file and removes the log; after a crash,
// the next Open replays it (a lock file a crash left is no log, and is
// taken over). The file records the log's directory, so that an Open told
// another one does not leave a log behind (see [ErrLogElsewhere]). One DB
// at a time has a file open, and a log: Open of a file another DB holds, in
// this process or another, or of a file of the same name in another
// directory whose log would be in the same LogDir as an open DB's, waits
// for the lock for [Options.LockTimeout] and fails with [ErrLocked],
// changing no file and making none: the log's lock is taken before bbolt
// opens the file, which it makes when there is none.
//
// The file records an ID, 16 random bytes (given by the first Open of a
// new file, or of one last opened by a version before IDs, before it
// writes any log), and each segment begins with a header naming it (log
// format 2): Open replays no segment another file wrote, such as the log
// a crash left of another file of the same name sharing LogDir, or of a
// store whose file was at this path before; it fails with an error
// wrapping [ErrLogForeign] and changes no file. Segments without a
// header (log format 1, written by a version before IDs) name no file
// and are replayed as before; a segment of a later log format fails Open
// with [ErrFormat]. A copy of the file ([DB.Backup], cp) has its
// original's ID. At another path it keeps it until it is first closed
// (so that a crash's file and log copied elsewhere together replay), and
// Close then gives it one of its own: from then on the log its original's
// crash leaves is not replayed into it, nor its own into its original. A
// copy restored at the original's path keeps the ID, as it stands for
// the original: segments the original's crash left replay into it when
// they continue its checkpoint with no batch missing (no checkpoint ran
// after the backup), which makes it the original as of the crash; else
// Open fails with an error wrapping [ErrCorrupt] naming the batches
// missing (see Recovery). Remove them to open the copy as backed up.
//
// The bbolt file holds one reserved bucket, "\x00store/bolt", where
// checkpoints record the log position they cover, and one for colocated
// buckets (below); [store.Tx] refuses both names.
//
// # Colocated buckets
//
// [DB.Colocate] ([store.Colocator]) names buckets keyed by member first,
// as the library's Program does when it opens: from the next checkpoint
// on, their records are kept in one reserved bbolt bucket,
// "\x00store/bolt/members", a member's records of all of them side by
// side (file format 3; the checkpoint that takes a bucket moves the
// records the file holds of it, in its transaction). An event that writes
// a key or two of one member in each of a dozen buckets then dirties a page
// or two of the file rather than a dozen, which is what a checkpoint holds
// in memory and writes; with a million members that is most of its cost.
// A checkpoint keeps a member's records of them in one bbolt element,
// its pack, while they encode in at most 2 KiB (file format 4): a member
// with one order takes about 450 bytes there, where a dozen elements took
// 800 (bbolt's 16-byte header an element, keys repeating the member). A
// member with more keeps its records an element each, and is packed again
// when deletes bring it under the limit. Reads answer as before: a Get
// seeks the member once a read transaction and decodes its pack, or seeks
// the record; a Scan within one member is one walk, and a Scan across
// members walks the other colocated buckets' records too, skipping them.
// The file records the list, so later opens keep it whatever they are
// told. So that any bucket may be colocated, Put and Delete take keys of
// at most 16,382 bytes (a physical key repeats the member), half bbolt's
// limit.
//
// # Group commit
//
// One writer goroutine runs all Update functions. [DB.Update] queues its
// function and waits; the writer takes the first queued request and runs
// the functions of a batch one after another: the requests queued when the
// batch starts and, while the batch before is being committed (see
// Pipelined commits), those that arrive until that commit ends, up to
// [Options.MaxBatch]. The batch is then committed at once and every caller
// gets its answer. Unlike bbolt's DB.Batch, a function is called exactly
// once and no timer delays a lone writer: with no commit running, a batch
// takes only what is queued.
//
// # Write buffer
//
// Every Put and Delete of a batch goes to one in-memory write buffer: a hash
// map per bucket, where a later write of a key replaces the earlier one and
// a Delete leaves a tombstone. A function therefore sees its own writes and
// those of the functions before it in the batch that succeeded. When a
// function returns an error (or panics), the writes it made are undone from
// an undo log kept while it runs, so the buffer holds exactly the writes of
// the functions that succeeded: one request's failure neither undoes nor
// delays the others, and a function that fails is answered with its error
// at once. A function needs no undo log while no function before it in the
// batch succeeded, as its failure then drops the whole buffer. A batch
// whose functions wrote nothing is not committed.
//
// Put copies its key and value, and makes the entry holding them, in chunks
// of a slab the writer allocates (keys and values of 2 KiB or more get an
// allocation of their own), so that a write allocates nothing of its own. A
// chunk is never reused: a slice that Get returned stays as it is, and the
// garbage collector frees a chunk once the batches whose entries it holds
// are done and no such slice refers to it (the overlay keeps copies of its
// own). A batch's maps are reused by a later batch once it is done. Each
// batch finds a bucket's levels (its buffers, trees and bbolt bucket) once,
// not on every call.
//
// # Log
//
// Committing a batch appends one record to the current log segment, holding
// the buffer's writes (coalesced: a key rewritten by every function of the
// batch appears once), with its sequence number and a CRC-32C checksum, and
// syncs the segment (fdatasync; the directory too when the segment is new).
// Only then are the batch's callers answered: one sequential write and one
// sync per batch, where a bbolt commit rewrote every page the batch touched
// and synced twice. A new segment is made from the spare when there is one:
// a checkpointed segment kept for reuse, or a file of zeros written in the
// background once the log is busy. Close, which removes the log, prepares
// none: it stops a spare being filled and keeps no checkpointed segment.
// Syncing a write over blocks already written flushes only the data, where
// an append must also journal the file's new size; the stale contents after
// the last record end the segment on replay, as no stale record has the
// next sequence number. If the append fails, the segment is cut back to its
// last record, and every request of the batch whose function succeeded gets
// an error wrapping [ErrCommitFailed] and the cause; when even the cut
// fails, every later commit fails too, until the store is reopened.
//
// # Overlay
//
// Logged writes that are not yet in bbolt form the overlay: a B+tree per
// bucket (internal/cowtree, copy-on-write, the trees store/memory uses),
// but one for all the buckets the file colocates, keyed by member first as
// the file keys them (a batch then copies a leaf or two a member, not one
// in each of a dozen trees), in up to two generations, the active one,
// which receives each logged batch, and the one a checkpoint is writing to
// bbolt. A tree holds copies of the keys and values, a tombstone marked, in
// arenas of its leaves that are only appended to, so a slice a read
// returned never changes; its nodes keep the prefix their keys share and
// the next 8 bytes of each key, so that a search over keys with long shared
// prefixes compares integers. Reads look, from the top: the batch's own
// buffer, the buffer of the batch being committed (see Pipelined commits),
// the active generation, the generation being checkpointed, the writes
// checkpoints held back (see Held writes), then a bbolt read-only
// transaction; a Get makes at most three tree lookups, however many batches
// the overlay holds. Scan merges the same levels in key order, in either
// direction, the upper level winning on equal keys and its tombstones
// hiding keys; each level is walked lazily (the trees in chunks that grow),
// so a Scan that stops early reads little. The functions of a batch (or a
// View) share what they learnt of the bbolt transaction, which does not
// change under them: per bucket, the records on either side of the last key
// found absent, and the last two records found; and the members of which
// the colocated records hold nothing (found with a miss whose neighbours
// are other members'). So a run of new keys, the keys every function reads
// (the program's definition), and a new member's dozen absent keys cost a
// seek each once a read transaction, not once a read.
//
// # Checkpoints
//
// When the log written since the last checkpoint, or the estimated memory
// of the active generation, reaches [Options.CheckpointSize], and no batch
// is being committed, the writer freezes the active generation, starts a
// new one and a new log segment, and a goroutine writes the frozen
// generation to bbolt in one read-write transaction, bucket by bucket and
// key by key in order, recording in the same transaction the sequence
// number of its last batch. Keys that every Update rewrites (counters,
// balances, daily totals) thus reach bbolt once per checkpoint, and each
// bbolt page is written once per checkpoint rather than once per commit;
// buckets whose new keys all follow their last one (appended records) are
// filled to 95% instead of half. Once that transaction commits, the
// segments it covers are removed (the last one kept as the spare) and the
// generation is dropped. The writer is not stopped meanwhile: functions
// keep running and committing to the new segment. One checkpoint runs at a
// time; a batch that would be committed while the overlay is larger than
// [Options.MaxOverlaySize] waits for it. A checkpoint that fails is retried
// a second later, or at once by a batch waiting for room; if that attempt
// fails too, the batch's requests get an error wrapping [ErrCommitFailed].
//
// # Held writes
//
// A bucket not colocated whose records are small and written at random
// places (a library's index of the members of each tag, its due items)
// would have a checkpoint write a page of it for nearly every write: at a
// million members, 0.46 pages an event, each a node of a hundred and more
// keys that bbolt reads into memory, grows and writes again. A checkpoint
// holds such writes back (file format 5): it appends them to the reserved
// bucket as one record, in the layout of a log record, a few pages written
// in order, and keeps them in memory, where reads look after the overlay's
// generations. Past seven eighths of the checkpoint size, each checkpoint
// puts some of them into their buckets, in order of bucket and key from
// where the one before left off, until they are back to seven eighths,
// each page then taking the writes of several checkpoints; once the put
// has gone through every bucket, the records written before it began are
// deleted, in the same transaction, and it begins again. Should they reach
// the checkpoint size (a checkpoint holding back more than an eighth of it
// at once), that checkpoint puts them all and deletes every record. A bucket's
// writes are held when the bucket exists in the file, they are not all
// after its last key, and they average at most 64 bytes; once a bucket has
// writes held, all of them are until every record is deleted. Open reads
// the records back (one that does not hold fails it with an error
// wrapping [ErrCorrupt]), and Close puts them into their buckets: a file
// at rest has none, and while the store is open, or after a crash, its
// buckets alone are not the whole store, as they are not without the log.
//
// # Pipelined commits
//
// The log append runs on a committer goroutine, so that the writer runs the
// functions of the next batch meanwhile, reading the buffer of the batch
// being committed between their own and the overlay. While the record is
// written and synced, another goroutine sorts the batch's writes per bucket
// and puts them, in key order, into a tree of its own per bucket of the
// active generation (the bucket with the most writes on a goroutine of its
// own, beside the others), which copies a node before its first change
// after a clone and only appends to arenas, and then clones those trees in
// O(1): the writer and Views keep reading the clones made for the batch
// before, unchanged. If the append fails, the committer drops its trees,
// and the next batch starts from clones of the active generation's. Once
// the record is synced, the committer answers the batch's callers, then
// swaps its trees into the active generation; a View begun in between waits
// for that, so that it sees the writes of every Update answered before it
// began, and an Update reads the batch's buffer as above. A batch of 1,000
// events thus spends the sync building its overlay, and its caller's next
// batch runs while that ends. Pipelining goes one batch deep: when the
// commit of batch N ends, the writer closes batch N+1 and hands it to the
// committer. If N's commit failed, nothing of N is in the log or the
// overlay, and every request of N+1 whose function succeeded gets an error
// wrapping [ErrCommitFailed] too, read-only functions included, since what
// they read never became durable; nothing of N+1 is committed either, and
// the batch after starts from the committed state again. A function that
// failed on its own is answered with its own error, as is, without waiting
// for the commit before it.
//
// # Views
//
// A View reads a snapshot of the overlay, as of the last batch answered,
// and a bbolt read-only transaction. Once in a generation, a tree is never
// changed (each batch goes into the committer's own trees, cloned for it,
// and into a new map of trees, see Pipelined commits), so the snapshot is
// the active generation's map of trees, taken by the first View after a
// batch and shared by the Views after it until the next batch, and a View
// never blocks a commit. The bbolt transaction holds the state of the last
// finished checkpoint, or of the one running, whose batches the snapshot
// holds as well; if a later checkpoint committed between taking the
// snapshot and beginning the transaction, the View takes both again.
//
// # Recovery
//
// [Open] reads the checkpointed position from the bbolt file and replays
// the log records after it in order into a generation of the overlay, which
// it checkpoints after it returns, as the checkpoint a crash interrupted
// would have: Open takes the time to read the log, not to write the file,
// and reads and writes go on meanwhile. The segments it replayed stay until
// that checkpoint is done, and the log goes on in a new segment: a crash
// before then replays them again, passing over the record the first crash
// cut short. (A store opened with AcceptLogLoss, or whose file another
// program wrote, is checkpointed before Open returns, its held writes put
// into their buckets, and its log removed.) Records already checkpointed (a
// crash between a checkpoint's commit and the removal of its segments) are
// skipped. Every Update that was answered survives a crash of the process
// or the machine.
//
// The log ends after the last record of its last segment that is whole,
// has a valid checksum and holds the next batch. What follows is cut: the
// unused space of a segment made from the spare (zeros, or records of
// batches checkpointed before) or the one record a crash interrupted,
// never answered, cut short or with a bad checksum. The writer never
// writes a record before the one before it is synced, so a torn record is
// the last: a valid record of a later batch after it means the bad record
// is damage, not a torn write. Damage is a bad record followed by a record
// of a later batch, a segment other than the last that ends before the
// batch the next one starts with, or batches after the checkpointed
// position missing from every segment. Open then fails with an error
// wrapping [ErrCorrupt] that names the segment and the offset, and changes
// no file; an operator who keeps a copy and accepts losing the batches
// from the damage on opens the store with [Options.AcceptLogLoss]. A
// damaged last record cannot be told from a torn one, and is cut; so is
// the last segment's header (written with its first record, see Files)
// cut short or with a bad checksum when no valid record follows it,
// while any other damaged header is damage. A file's ID record whose
// checksum does not hold fails Open with an error wrapping ErrCorrupt.
// Batches missing between the file's checkpoint and the first segment
// may mean a lost segment, or a file older than its log (a backup
// restored over a store that crashed): the error says both. What
// replay did (records replayed, bytes cut, damage accepted) goes to
// [Options.Logger].
//
// # Damaged files
//
// A damaged page of the bbolt file makes bbolt panic or read outside its
// memory map. A file bbolt cannot open (both meta pages damaged, shorter
// than its two meta pages, or shorter than its meta pages say, which makes
// bbolt panic) fails Open with an error wrapping [ErrCorrupt], and that
// Open keeps neither the file's lock nor a descriptor of it: a good copy
// written over the path opens at once. Reads guard their bbolt calls: a
// panic there, a memory fault (debug.SetPanicOnFault, set around bbolt's
// reads and the functions of Update and View) or a key or value that lies
// outside the file is returned as an error wrapping [ErrCorrupt], never a
// crash; so is such a failure of a checkpoint, which then keeps the log.
// Before it reads a bucket, Open checks the pages bbolt reads without
// checking them (the root bucket's, the buckets kept inline in it, the
// freelist's ids), and refuses a file whose are damaged with an error
// wrapping ErrCorrupt: an inline bucket's page turned into a branch page
// sent bbolt's cursor down the same page until memory ran out, and a free
// page outside the file made a checkpoint write there. It also reads the
// branch pages of every bucket, not their leaves (5 ms more for a file of a
// million members), and refuses a tree whose branch pages are damaged or
// whose child pointers lead back up it, to a free page or to a page another
// pointer leads to: a page made its own child sent bbolt's cursor round the
// same pages for ever, and a free page may hold an older copy of a leaf,
// whose records' checksums hold. A Scan that meets a key at or behind the
// one before (two children swapped) fails with an error wrapping
// ErrCorrupt. Buckets nested in a bucket, which only other programs make,
// are left to Check.
//
// Every value the file holds is followed by a CRC-32C of its bucket's
// name, its key and itself (file format 2; a colocated record's are its
// own bucket's name and key), which every read checks: a
// flipped byte of a value, a key or a bucket name is an error wrapping
// ErrCorrupt, never data. A Get that finds nothing checks the records
// around the key (a damaged key lies where it was; a damaged branch page
// leads to keys out of order) and that the leaf page of the record
// before it lost no element (a damaged count hides a page's last
// records); a Scan checks each leaf page it enters so; and a bucket
// missing from the file but named in the file's list of buckets is
// damage, not an empty bucket. What reads cannot see, a child page lost
// from a branch page of a nested bucket, or a leaf pointed to in another's
// place, [DB.Check] finds. bbolt keeps two meta pages and
// silently opens the file as of the older when the newer is damaged;
// Close therefore ends with a transaction that rewrites only the meta
// record, so that both hold everything.
//
// Open migrates a file of format 1 (written before checksums, with no
// format record) or made by another program: in one transaction, once the
// log was read, every record gets its checksum, and the Info log says so. A
// file that looks so but whose records have their checksums (a bucket of a
// later format, or a checksum that holds) has a damaged meta record: Open
// refuses it with an error wrapping ErrCorrupt. A file of format 2, 3 or 4
// is read as it is and becomes format 5 at its next checkpoint (older
// versions of this package then refuse it); the members of a file of format
// 3 are packed as checkpoints write them. A file of a later format is
// refused with an error wrapping [ErrFormat], unchanged. A file that other
// programs write to while this package is not using it is read as damaged
// where they wrote.
//
// # Check and backup
//
// [DB.Check] checks the whole file ([store.Checker]): every page, bbolt's
// own check, the list of buckets and every record's checksum. [DB.Backup]
// and [DB.BackupFile] copy the store while it serves Updates: a bbolt file
// that Open opens alone, holding a committed state that includes every
// Update answered before the call.
//
// # Caveats
//
// Update functions run on the writer goroutine, one after another: a slow
// function delays every queued Update, and a function must not call Update
// or View on the same DB (Update would deadlock; a read transaction inside
// the write can block bbolt's remapping) nor call runtime.Goexit (for
// example t.FailNow). A panic in a function is recovered and returned to its
// caller as an error wrapping [ErrPanic]. The buffer holds the batch's
// writes in memory until it is committed, and the overlay until they are
// checkpointed: an Update writing gigabytes needs as much memory, and so
// does the log on disk. After a crash, Open replays up to
// [Options.CheckpointSize] of log, or more if a checkpoint was behind.
//
// Keep Views short: an open read transaction prevents bbolt from growing
// its memory map, so once the file outgrows [Options.InitialMmapSize] the
// checkpoint that must grow it waits for every open View, and the overlay
// grows meanwhile until Updates wait for it.
//
// A key of a bucket that holds a nested bucket (which only another program
// can make) cannot be written: Put and Delete of it fail with an error
// wrapping bbolt.ErrIncompatibleValue, as a checkpoint could not write it.
// Open finds such keys by walking the whole file when it was not last
// written by this package.
//
// Once queued, an Update waits for its answer even if its context is
// cancelled meanwhile (its function may already be running); a request whose
// context is done when the writer dequeues it is answered with ctx.Err()
// without running.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/memberkit/membership/store"
)

// ErrPanic is wrapped by the error Update or View returns when its function
// panicked (unless with a memory fault, see [ErrCorrupt]).
var ErrPanic = errors.New("bolt: function panicked")

// ErrCorrupt is wrapped by the error of [Open] when the log is damaged
// before its end (see Recovery) or the bbolt file is not one it can open
// (both meta pages damaged, cut short, damaged pages bbolt reads when it
// opens; see Damaged files), and by the errors of reads, Updates,
// checkpoints, Close and [DB.Check] that meet damage in the bbolt file: a
// record whose checksum does not hold, bbolt's own checks that panic, a
// memory fault reading the file's mapping, or a key or value that lies
// outside the file. It wraps [store.ErrCorrupt].
var ErrCorrupt = fmt.Errorf("bolt: %w", store.ErrCorrupt)

// ErrLogElsewhere is wrapped by the error of [Open] when the log of the
// file was kept in another directory the last time it was opened
// ([Options.LogDir]) and that directory holds log segments of it: batches
// answered before a crash that Open, looking in the new directory, would
// lose. Open changes no file; opened with the old directory, it replays
// them, and Close then leaves no log behind.
var ErrLogElsewhere = errors.New("bolt: the log is in another directory")

// ErrLogForeign is wrapped by the error of [Open] when the log's directory
// holds log segments named after the file that another file wrote: each
// segment names the file it belongs to (see Files), and theirs is not
// this one, as when two files of the same name in different directories
// share [Options.LogDir] and the other crashed, or another store's file
// was at this path. Replaying them would apply another store's writes to
// this file. Open replays none, removes none and changes no file (a new
// file stays as bbolt makes it, empty): open the file they belong to with
// that directory to replay them, or remove them if that store is gone.
var ErrLogForeign = errors.New("bolt: the log holds another file's segments")

// ErrLocked is wrapped by the error of [Open] when another DB, in this
// process or another, holds the file open, or holds the log the file's
// would be (a file of the same name in another directory, with the same
// [Options.LogDir]): Open waited [Options.LockTimeout] for the lock,
// changed no file and made none (the error says which of the two holds
// it). Close the other DB first (a DB is safe for concurrent
// use: share it rather than open the file twice), or give the files
// different names or logs different directories.
var ErrLocked = errors.New("bolt: in use by another DB")

// ErrCommitFailed is wrapped, together with the cause, by the error Update
// returns when its function succeeded but nothing of it was written:
// appending its batch to the log failed, or so did the append of the batch
// before, whose writes its function may have read, or the overlay is full
// and the checkpoint that would empty it failed (see the package
// documentation). Retrying the Update runs its function again on the
// committed state. It wraps store.ErrFailed.
var ErrCommitFailed = fmt.Errorf("bolt: update: commit failed: %w", store.ErrFailed)

// Default option values.
const (
	// DefaultMaxBatch is the default for [Options.MaxBatch].
	DefaultMaxBatch = 256
	// DefaultLockTimeout is the default for [Options.LockTimeout].
	DefaultLockTimeout = time.Second
	// DefaultInitialMmapSize is the default for [Options.InitialMmapSize]
	// where int has 64 bits, on every system but Windows: 16 GiB, about
	// 16 million members with an order each (1 GiB where int has 32 bits,
	// so that the constant fits one, though it is not the default there). Growing the map stalls
	// every Update and View (at a million members, whose file is about
	// 1 GiB, it held calls for 40 and 217 ms where the longest otherwise
	// took 25-30).
	DefaultInitialMmapSize = 1 << 30 << (strconv.IntSize / 64 * 4)
	// DefaultCheckpointSize is the default for [Options.CheckpointSize]
	// with the default MaxMemory: a sixteenth of it.
	DefaultCheckpointSize = DefaultMaxMemory / 16
	// DefaultMaxMemory is the default for [Options.MaxMemory].
	DefaultMaxMemory = 1 << 30
)

// Option limits: [Open] refuses larger values.
const (
	// MaxBatchLimit is the largest [Options.MaxBatch]: a batch of that
	// many Updates is one log record and one sync, and the queue holds
	// as many requests.
	MaxBatchLimit = 1 << 16
	// MaxMemoryLimit is the largest [Options.MaxMemory], 1 TiB: the log's
	// spare segment is 1.25 × CheckpointSize, which MaxMemory bounds.
	MaxMemoryLimit = 1 << 40
	// MaxInitialMmapSizeLimit is the largest [Options.InitialMmapSize]:
	// 64 TiB where int has 64 bits, a quarter of what bbolt maps on
	// amd64 and arm64 (larger, bbolt fails Open with an error of its own
	// that wraps no sentinel), and 1 GiB where it has 32.
	MaxInitialMmapSizeLimit = 1 << 30 << (strconv.IntSize / 64 * 16)
)

// checkpointRetry is how long after a failed checkpoint the next attempt
// starts, unless the overlay is full.
const checkpointRetry = time.Second

// Options configures [Open]. A nil *Options or a zero field means the
// default. Open refuses, with an error wrapping [store.ErrInvalid] that
// names the option, and before it creates or changes any file, a negative
// value, MaxBatch above [MaxBatchLimit], InitialMmapSize above
// [MaxInitialMmapSizeLimit], MaxMemory above [MaxMemoryLimit], and
// CheckpointSize or MaxOverlaySize above MaxMemory (as given or its
// default).
type Options struct {
	// MaxBatch is the largest number of Update functions committed together
	// in one log record, at most MaxBatchLimit. Default DefaultMaxBatch.
	MaxBatch int
	// LockTimeout is how long Open waits for the log's lock, and then the
	// file's, held by another opener before failing with an error wrapping
	// ErrLocked (the locks are tried every 50 ms; bbolt gives up on the
	// file's when the next try would come after LockTimeout). Default
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// InitialMmapSize is the initial size of bbolt's memory map. While the
	// file fits in the map, read transactions never block a checkpoint;
	// when the file outgrows it, the checkpoint that grows it waits for
	// every open View, and Updates and Views wait for it (bbolt unmaps
	// and maps the file again). On Linux and other Unix systems the map
	// is only address space, not memory or disk (a process limit on
	// address space, ulimit -v, counts it). Default DefaultInitialMmapSize
	// where int has 64 bits, on every system but Windows (which grows the
	// file to the map's size); bbolt's own (32 KiB, doubling) on Windows
	// and where int has 32 bits.
	InitialMmapSize int
	// CheckpointSize starts a checkpoint when the log written since the
	// last one, or the memory its writes take in the overlay (estimated),
	// reaches this many bytes. Larger values write each bbolt page less
	// often, at the cost of memory, disk, replay time after a crash and
	// Close's time (Close writes what no checkpoint has). Default a
	// sixteenth of MaxMemory (DefaultCheckpointSize), or a sixty-fourth
	// when the file is 256 MiB or more at Open. At most MaxMemory.
	CheckpointSize int64
	// MaxOverlaySize bounds the memory of the overlay's generations
	// (estimated): a batch logged while a checkpoint runs and they are past
	// half of it is delayed, the longer the fuller, up to 20 ms at the
	// bound (see Stats.Slowed), and one that would be logged while they are
	// larger waits for the running checkpoint. The writes checkpoints hold
	// back (see Held writes) are bounded apart, by CheckpointSize: they do
	// not mean that a checkpoint falls behind. At most MaxMemory. Default
	// 4 × CheckpointSize, or MaxMemory if that is less.
	MaxOverlaySize int64
	// MaxMemory bounds the memory the store takes for the writes the bbolt
	// file does not hold yet: the overlay (CheckpointSize defaults to a
	// sixteenth of it, and MaxOverlaySize to a quarter), the held writes
	// (at most CheckpointSize, see Held writes) and a checkpoint's
	// bbolt transaction, which commits in parts of at most an eighth of it,
	// and of at most 32,768 writes when they go to few pages (bbolt holds
	// in memory every page a transaction changes until it commits, as a
	// node and then as the page it writes; moving a bucket into the
	// colocated one is a single part; see Stats.CheckpointParts). The Go
	// runtime's own room is not counted: with the default GOGC the heap may
	// reach twice what is live. CheckpointSize and MaxOverlaySize may not
	// exceed it. At most MaxMemoryLimit. Default DefaultMaxMemory.
	MaxMemory int64
	// NoSync skips fsync on commit and checkpoint. UNSAFE: a crash or power
	// loss can lose committed writes or corrupt the file. For tests and
	// benchmarks only.
	NoSync bool
	// Logger receives what Open's recovery did: the log records it replayed
	// and the bytes it cut at the log's end (Info), a record of the next
	// batch cut short or with a bad checksum (Warn), damage accepted with
	// AcceptLogLoss (Error). Default: nothing is logged.
	Logger *slog.Logger
	// ckptHook is DB.ckptHook from Open on (tests: OpenHooked).
	ckptHook func(stage string)
	// packMax is DB.packMax; 0 means defaultPackMax (tests: OpenPackMax).
	packMax int
	// holdMax is DB.holdMax; 0 means CheckpointSize (tests: OpenHoldMax).
	holdMax int64
	// ckptPart is DB.ckptPart; 0 means MaxMemory's (tests:
	// WithCheckpointPart).
	ckptPart int
	// LogDir is the directory that holds the log's files (see Files); it
	// must exist. A log on a device of its own keeps its syncs, which
	// every Update waits for, apart from the checkpoints' writes to the
	// bbolt file: on a disk with a volatile write cache, a log sync that
	// runs beside a checkpoint's commit waits for the cache to flush the
	// checkpoint's pages too (BENCHMARKS.md). Several stores may share a
	// LogDir if their files' names differ: the log's files are named after
	// the bbolt file. While a DB is open, Open of another file of the same
	// name with the same LogDir fails with ErrLocked; the segments a crash
	// left name their file (see Files), and Open of another file of that
	// name with that LogDir fails with an error wrapping [ErrLogForeign]
	// until the crashed file is opened and closed: do not give two files
	// one name. Open records the directory in the file; opened later with
	// another one while the old one still holds log segments of the file
	// (a crash, or a kill, left them; another file's do not count), it
	// fails with an error wrapping [ErrLogElsewhere] rather than leave
	// them behind. A copy of the file at another path (a restored backup)
	// is not held to its original's directory; it records its own, and an
	// ID of its own, when first closed (Open writes no more than recovery
	// needs to a file it has not checked). Default: the
	// bbolt file's directory.
	LogDir string
	// AcceptLogLoss opens a store whose log is damaged before its end,
	// which Open otherwise refuses with an error wrapping ErrCorrupt that
	// names the segment and offset, changing no file (see Recovery). With
	// it, Open replays the log up to the damage and discards the rest for
	// good, answered Updates among it, logging at Error level where and how
	// much. For an operator who has kept a copy of the files and accepts
	// the loss.
	AcceptLogLoss bool
}

// Stats are counters of a [DB].
type Stats struct {
	// Requests is the number of Update calls handed to the writer.
	Requests uint64
	// Commits is the number of batches appended to the log (successfully or
	// not); Requests/Commits is the mean batch size. A batch whose
	// functions wrote nothing is not committed.
	Commits uint64
	// Queued is the number of Update calls waiting for the writer now.
	Queued int
	// Checkpoints is the number of checkpoints that committed.
	Checkpoints uint64
	// CheckpointParts is the number of bbolt transactions checkpoints
	// committed before their last (see Options.MaxMemory).
	CheckpointParts uint64
	// Slowed is the number of batches delayed because a checkpoint was
	// falling behind (the overlay past half of MaxOverlaySize), and
	// SlowedFor the delays they were given, in all (a delay ends early
	// when the checkpoint does).
	Slowed    uint64
	SlowedFor time.Duration
	// OverlaySize is the estimated memory of the overlay now, the held
	// writes included, and PeakOverlaySize its highest value.
	OverlaySize, PeakOverlaySize int64
	// CheckpointTime is the time the checkpoints counted in Checkpoints
	// took, from their start to their last commit, in all (read from the
	// store's clock). Its growth over a period, divided by the period,
	// is the share of the time a checkpoint was running: near 1, the
	// checkpoints only just keep up with the writes, and a heavier load
	// slows the writers (see Slowed). CheckpointCommitTime is the time
	// checkpoints spent in bbolt's commits, parts included (those of a
	// checkpoint that then failed too; laying out the
	// changed pages, writing them and syncing the file, as bbolt times
	// them), and CheckpointWrites the page writes those commits made (a
	// value over several pages is one write): at a million members these
	// are most of a checkpoint's cost, one to two pages of the file an
	// event, and the writers' calls are slowest while they run.
	CheckpointTime, CheckpointCommitTime time.Duration
	CheckpointWrites                     uint64
}

// request is one queued Update.
type request struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error
}

// DB is a [store.Store] backed by one bbolt file and its log. It is safe
// for concurrent use.
type DB struct {
	db         *bbolt.DB
	maxBatch   int
	ckptSize   int64
	ckptPart   int // the nodes a checkpoint changes in a bbolt transaction (Options.MaxMemory)
	maxOverlay int64
	log        *wal
	logLock    *logLock // held from Open to Close (see lockName)
	place      logPlace // where the log is kept, recorded in the file
	// copied is set when the file was last opened at another path: a
	// copy, which Close gives an ID of its own (see fileID).
	copied bool
	// nested lists, per bucket, the keys that hold nested buckets (made by
	// other programs): a checkpoint could not write over them, so Put and
	// Delete refuse them. Set by Open, nil when there are none.
	nested map[string]map[string]bool

	mu       sync.RWMutex // guards closed against sends on reqs
	closed   atomic.Bool
	reqs     chan *request
	finished chan struct{} // closed when the writer has exited
	closeErr error         // the final checkpoint's error; set before finished closes

	// The overlay. The writer alone changes it; ovMu orders its changes
	// before the snapshots Views take.
	ovMu     sync.Mutex
	active   *gen                     // receives logged batches
	old      *gen                     // being checkpointed (or failed to); nil when none
	held     *held                    // the writes checkpoints held back (see Held writes); nil when none
	baseTxid uint64                   // bbolt's last transaction id, as of the last finished checkpoint
	snap     atomic.Pointer[snapshot] // the last snapshot; nil after a change
	// installing is closed once the trees of the batch answered last are
	// in the active generation; nil when they are.
	installing chan struct{}

	// The writer's own.
	slab        slab    // where buffers allocate
	spare       *buffer // a buffer to reuse, or nil
	seq         uint64  // the last batch handed to the committer, or checkpointed at Open
	ckptRunning bool
	closing     bool      // the writer is shutting down: checkpoints hold nothing back
	ckptErr     error     // the last checkpoint's error
	retryAt     time.Time // when a failed checkpoint is tried again
	ckptDone    chan ckptResult
	ckptSeq     uint64 // the last batch the bbolt file holds
	syncs       chan *syncReq
	waiters     []*syncReq // sync requests waiting for a checkpoint

	// cat is the file's list of buckets as of a bbolt transaction, read
	// when a read misses a bucket: a list changes only with a checkpoint,
	// and buckets that none wrote yet are missed by every transaction.
	cat atomic.Pointer[catalogue]

	// colocWant holds the buckets Colocate named that no checkpoint took
	// yet; it is replaced, never changed, under colocMu.
	colocMu   sync.Mutex
	colocWant map[string]bool

	requests, commits, checkpoints, parts, slowed atomic.Uint64
	slowedFor                                     atomic.Int64
	ckptTime, ckptCommitTime                      atomic.Int64 // Stats.CheckpointTime, CheckpointCommitTime
	ckptWrites                                    atomic.Uint64
	// after is time.After; tests replace it (SetSlowdownTimer).
	after func(time.Duration) <-chan time.Time
	// now is time.Now, which times the retry of a failed checkpoint and
	// Stats.CheckpointTime; tests replace it (SetClock).
	now                      func() time.Time
	overlaySize, peakOverlay atomic.Int64

	// commitHook, when set (by tests, before any Update), is called by the
	// committer with "begin" before it logs a batch, with "committed"
	// after the log was synced, before the batch is answered, and with
	// "answered" after, before its trees are swapped in.
	commitHook func(stage string)
	// ckptHook, when set (by tests), is called by a checkpoint with
	// "begin" before it writes, "committed" after its bbolt commit, before
	// the log segments it covers are removed, and with "part" after each
	// part before the last commits.
	ckptHook func(stage string)
	// backupHook, when set (by tests, before any Backup), is called by
	// Backup once the file holds the batches it copies, before it copies.
	backupHook func()
	// packMax is the most bytes a checkpoint packs a group's colocated
	// records in (see pack.go); below 0, it packs none.
	packMax int
	// holdMax bounds the writes checkpoints hold back (see Held writes),
	// estimated as the overlay's memory is: the checkpoint size by
	// default, so that the holding costs at most one more generation.
	holdMax int64
	// lay is the file's layout as of the last checkpoint, which the
	// generations begun since take (see gen.lay). The writer's.
	lay *layout
	// prep is prepare's (see there).
	prep prepScratch
}

// batch is a batch of requests handed to the committer.
type batch struct {
	seq     uint64
	reqs    []*request // the requests whose functions succeeded
	buf     *buffer    // their writes; never modified once handed over
	logSize int64      // the size of its log record, once written
	// gen is the active generation when the batch was handed over, which
	// is still active when it is done: generations are frozen only while
	// no batch is being committed.
	gen *gen
	// trees holds, per bucket the batch wrote, a copy-on-write clone of
	// gen's writer tree with the batch's entries put in, made by the
	// committer while the log is written and synced; once the batch is
	// logged, the committer swaps them into gen. sizeDelta is what they
	// add to gen.size.
	trees     []bucketTree
	sizeDelta int64
	// err is the reason the batch was not logged, or nil; set before done
	// is closed.
	err  error
	done chan struct{}
}

// syncReq asks the writer for a checkpoint of every batch answered before
// it was made, and a bbolt read transaction of the file then (see
// DB.syncFile).
type syncReq struct {
	target uint64 // the last batch to checkpoint; set by the writer
	// tx is the read transaction, set before nil is sent on done; whoever
	// receives that nil rolls it back.
	tx   *bbolt.Tx
	done chan error // buffered: the asker may be gone
}

// bucketTree is a bucket's tree.
type bucketTree struct {
	bucket string
	t      *tree
}

// ckptResult is the outcome of a checkpoint of g.
type ckptResult struct {
	g    *gen
	txid uint64
	lay  *layout // the file's layout after it
	held *held   // the writes held back after it (see Held writes)
	err  error
}

var _ store.Store = (*DB)(nil)

// Open opens the bbolt file at path, creating it (mode 0600, as are the
// log's files: both hold members' data) if needed, replays the log left by
// a DB that was not closed, and starts the writer.
// A file already opened by another DB, in this process or another, or a
// log another DB holds (a file of the same name sharing Options.LogDir),
// makes Open fail after Options.LockTimeout with an error wrapping
// [ErrLocked]; a log holding segments another file wrote, with one
// wrapping [ErrLogForeign], changing no file (see Files).
func Open(path string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.InitialMmapSize == 0 && strconv.IntSize == 64 && runtime.GOOS != "windows" {
		// Windows grows the file to the map size, so it keeps bbolt's default.
		o.InitialMmapSize = DefaultInitialMmapSize
	}
	if o.MaxMemory == 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	logDir := o.LogDir
	if logDir == "" {
		logDir = filepath.Dir(path)
	} else if fi, err := os.Stat(logDir); err != nil {
		return nil, fmt.Errorf("bolt: open %s: LogDir: %w", path, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("bolt: open %s: LogDir %s is not a directory: %w", path, logDir, store.ErrInvalid)
	}
	place, err := placeOf(path, logDir)
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	var fileSize int64
	if fi, err := os.Stat(path); err == nil {
		fileSize = fi.Size()
	}
	if o.CheckpointSize == 0 {
		o.CheckpointSize = defaultCheckpointSize(o.MaxMemory, fileSize)
	}
	if o.MaxOverlaySize == 0 {
		o.MaxOverlaySize = min(4*o.CheckpointSize, o.MaxMemory)
	}
	// The log's lock is taken before bbolt opens the file, which it makes
	// when there is none: an Open refused because another DB holds the
	// log leaves no file behind. The file's own lock is bbolt's, after.
	prefix := filepath.Join(logDir, filepath.Base(path)) + walInfix
	logLock, err := lockLog(prefix, o.LockTimeout)
	if err != nil {
		if errors.Is(err, ErrLocked) && fileLocked(path) {
			// The same file, open in another DB, holds its log too.
			err = fmt.Errorf("%w: the file is open in another DB", ErrLocked)
		}
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	// Other bbolt settings were measured and left alone: NoFreelistSync,
	// a larger AllocSize and larger pages saved nothing measurable on
	// group-committed writes (before the log took the commits; not
	// measured again since).
	bdb, err := openBbolt(path, &bbolt.Options{
		Timeout:         o.LockTimeout,
		FreelistType:    bbolt.FreelistMapType,
		NoSync:          o.NoSync,
		InitialMmapSize: o.InitialMmapSize,
	})
	if err != nil {
		logLock.release(logLock.created) // a failed Open changes no file
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	d := &DB{
		db:         bdb,
		logLock:    logLock,
		maxBatch:   o.MaxBatch,
		ckptSize:   o.CheckpointSize,
		maxOverlay: o.MaxOverlaySize,
		log:        &wal{prefix: prefix, noSync: o.NoSync, spareSize: o.CheckpointSize + o.CheckpointSize/4},
		reqs:       make(chan *request, o.MaxBatch),
		finished:   make(chan struct{}),
		ckptDone:   make(chan ckptResult, 1),
		syncs:      make(chan *syncReq),
		after:      time.After,
		now:        time.Now,
	}
	d.ckptPart = int(max(o.MaxMemory/8/(2*int64(bdb.Info().PageSize)), 1))
	if o.ckptPart > 0 {
		d.ckptPart = o.ckptPart
	}
	if d.packMax = o.packMax; d.packMax == 0 {
		d.packMax = defaultPackMax
	}
	if d.holdMax = o.holdMax; d.holdMax == 0 {
		d.holdMax = d.ckptSize
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := d.recover(path, place, o.AcceptLogLoss, logger); err != nil {
		d.logLock.release(d.logLock.created) // a failed Open changes no file
		_ = bdb.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	d.ckptHook = o.ckptHook
	if d.old != nil {
		d.startCheckpoint() // of the batches replayed
	}
	go d.writer()
	return d, nil
}

// openBbolt opens the bbolt file at path with bo. A file bbolt refuses as
// no bbolt file (both meta pages damaged, or shorter than its two meta
// pages) or that makes it panic (a damaged freelist page, a file cut short
// after its meta pages) is an error wrapping ErrCorrupt; a lock another
// opener held for bo.Timeout, one wrapping ErrLocked. When bbolt.Open
// fails or panics, the file it opened is unlocked and closed here: bbolt
// closes it on most of its errors but not on a panic, whose file would
// keep its lock, so that the next Open of the path, a good copy restored
// over it, timed out. (The memory map a panic leaves stays: address
// space, not memory, which bbolt gives no way to release.)
func openBbolt(path string, bo *bbolt.Options) (*bbolt.DB, error) {
	var files []*os.File
	bo.OpenFile = func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		if err == nil {
			files = append(files, f)
		}
		return f, err
	}
	var bdb *bbolt.DB
	err := guard("open", "", func() error {
		var err error
		bdb, err = bbolt.Open(path, os.FileMode(0o600), bo)
		return err
	})
	if err == nil {
		return bdb, nil
	}
	for _, f := range files {
		// A memory map bbolt made holds the file open after Close, and
		// its lock with it: unlock first. Errors are those of a file
		// bbolt closed already.
		_ = unlockFile(f)
		_ = f.Close()
	}
	switch {
	case errors.Is(err, ErrCorrupt):
	case errors.Is(err, berrors.ErrTimeout):
		// The only timeout bbolt.Open has: the file's lock.
		err = fmt.Errorf("%w: the file is open in another DB: %w", ErrLocked, err)
	case errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch):
		// Both meta pages damaged, or no bbolt file at all.
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	case strings.HasPrefix(err.Error(), "file size too small"):
		// A file cut short within its first two pages: bbolt's error
		// wraps no sentinel.
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return nil, err
}

// check refuses, with an error wrapping store.ErrInvalid that names it,
// an option out of its range (see Options), before Open creates or
// changes anything: a negative one, MaxBatch above MaxBatchLimit,
// InitialMmapSize above MaxInitialMmapSizeLimit, MaxMemory above
// MaxMemoryLimit, and CheckpointSize or MaxOverlaySize
// above MaxMemory (the given one, or its default).
func (o *Options) check() error {
	for _, c := range []struct {
		name string
		v    int64
	}{
		{"MaxBatch", int64(o.MaxBatch)},
		{"LockTimeout", int64(o.LockTimeout)},
		{"InitialMmapSize", int64(o.InitialMmapSize)},
		{"CheckpointSize", o.CheckpointSize},
		{"MaxOverlaySize", o.MaxOverlaySize},
		{"MaxMemory", o.MaxMemory},
	} {
		if c.v < 0 {
			return fmt.Errorf("negative %s %d: %w", c.name, c.v, store.ErrInvalid)
		}
	}
	if o.MaxBatch > MaxBatchLimit {
		return fmt.Errorf("MaxBatch %d is above MaxBatchLimit (%d): %w", o.MaxBatch, MaxBatchLimit, store.ErrInvalid)
	}
	if o.InitialMmapSize > MaxInitialMmapSizeLimit {
		return fmt.Errorf("InitialMmapSize %d is above MaxInitialMmapSizeLimit (%d): %w", o.InitialMmapSize, MaxInitialMmapSizeLimit, store.ErrInvalid)
	}
	if o.MaxMemory > MaxMemoryLimit {
		return fmt.Errorf("MaxMemory %d is above MaxMemoryLimit (%d): %w", o.MaxMemory, int64(MaxMemoryLimit), store.ErrInvalid)
	}
	maxMemory := o.MaxMemory
	if maxMemory == 0 {
		maxMemory = DefaultMaxMemory
	}
	if o.CheckpointSize > maxMemory {
		return fmt.Errorf("CheckpointSize %d is above MaxMemory (%d), which bounds the overlay: %w", o.CheckpointSize, maxMemory, store.ErrInvalid)
	}
	if o.MaxOverlaySize > maxMemory {
		return fmt.Errorf("MaxOverlaySize %d is above MaxMemory (%d), which bounds the overlay: %w", o.MaxOverlaySize, maxMemory, store.ErrInvalid)
	}
	return nil
}

// largeFile is the size from which a file takes smaller checkpoints: about
// 250,000 members with one order each. (It was 1 GiB before members were
// packed: a million members' file of 991 MB then took 64 MiB checkpoints,
// and Close after a burst 1.0-1.3 s instead of 0.3-0.5.)
const largeFile = 256 << 20

// defaultCheckpointSize is CheckpointSize's default: a sixteenth of
// maxMemory, or a sixty-fourth for a file of largeFile or more. In a
// small file an event's pages are those of the events before it, and a
// larger checkpoint writes each once for more events (at 1,000 members a
// sixty-fourth cost 5-15% of the throughput); in a large one each event
// has pages of its own, a checkpoint's time grows with its events, and
// Close waits for the last (at 1,000,000 members, Close after a burst took
// 0.4 s at a sixty-fourth and 3.6 s at a sixteenth, with more throughput;
// 0.88 s at a sixteenth and 0.43 at a thirty-second since). A
// thirty-second wrote a fifth fewer pages an event (the branch pages
// above the leaves, which each checkpoint writes nearly all of again, and
// those of the held writes' puts) and ran 5-20% more events a second with
// 64 callers, but its longer commits stalled the calls due meanwhile: at a
// set 10,000 events a second, a p99 of 24.6-33.4 ms against 14.5-27.7
// (BENCHMARKS.md).
func defaultCheckpointSize(maxMemory, fileSize int64) int64 {
	if fileSize >= largeFile {
		return max(maxMemory/64, 1)
	}
	return max(maxMemory/16, 1)
}

// recover replays the log after the checkpointed position, checkpoints
// what it replayed and removes the log, so that the DB starts from bbolt
// alone and a fresh log. A file without a valid meta record (new, written
// by an older version or by other programs since) is searched for nested
// buckets and gets one. A file without checksums (of format 1, or made by
// another program) is migrated to the current format first, once the log
// was read: its records get their checksums, in one transaction. A log
// damaged before its end fails it, every file left as it was, unless
// salvage is set (Options.AcceptLogLoss); so does a file of a later
// format.
//
// The file records where its log is kept (place); when it was kept in
// another directory at the file's own path, and that directory holds
// segments of it, recover fails with ErrLogElsewhere before it changes
// anything. It fails so too, with ErrLogForeign, when the log holds
// segments whose header names another file than the file's ID (any file,
// when it has none); segments of log format 1, without a header, name
// none and are replayed as before.
func (d *DB) recover(path string, place logPlace, salvage bool, logger *slog.Logger) error {
	var (
		m       meta
		fresh   bool
		migrate bool    // the file has records without checksums
		lay     *layout // the file's colocated buckets
		h       *held   // the writes the file holds back (see Held writes)
		was     logPlace
		placed  bool // the file records was
		id      fileID
		hasID   bool // the file records id
	)
	err := guard("read meta", "", func() error {
		rtx, err := d.db.Begin(false)
		if err != nil {
			return err
		}
		defer rtx.Rollback() //nolint:errcheck // read-only: nothing to lose
		// The buckets' headers, before bbolt's cursors read them.
		if err := checkPages(rtx, d.mappedSpan(rtx), false); err != nil {
			return err
		}
		var ok bool
		if m, ok, err = readMeta(rtx); err != nil {
			return err
		}
		fresh = ok && m.txid == uint64(rtx.ID())
		if ok {
			migrate = m.format == formatUnversioned
		} else {
			// No meta record: a new file, or one another program made.
			first, _ := rtx.Cursor().First()
			migrate = first != nil
		}
		if !fresh {
			if m.nested, err = findNested(rtx); err != nil {
				return err
			}
		}
		if lay, err = readLayout(rtx); err != nil {
			return err
		}
		if was, placed, err = readLogPlace(rtx); err != nil {
			return err
		}
		if id, hasID, err = readFileID(rtx); err != nil {
			return err
		}
		h, err = readHeld(rtx)
		return err
	})
	if err != nil {
		return fmt.Errorf("read meta: %w", err)
	}
	var ownID *fileID // nil: the file has no ID, and no segment with one is its
	if hasID {
		ownID = &id
	}
	moved := placed && place.moved(was)
	if moved {
		// A directory gone is no log left behind; one that cannot be read
		// may hold one. Segments of another file of the same name are not
		// this one's.
		segs, _, err := splitSegments(filepath.Join(was.dir, filepath.Base(path))+walInfix, ownID)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: the log was kept in %s, which cannot be read: %w", ErrLogElsewhere, was.dir, err)
		}
		if len(segs) > 0 {
			return fmt.Errorf("%w: %s holds %d log segments of this file (%s…) and LogDir is now %s: open with LogDir %s to replay them (Close then removes them), or remove them if they are not this store's",
				ErrLogElsewhere, was.dir, len(segs), filepath.Base(segs[0].path), place.dir, was.dir)
		}
	}
	// Before anything is replayed or removed: a segment another file
	// wrote (of the same name, sharing the directory) is not this one's.
	if _, foreign, err := splitSegments(d.log.prefix, ownID); err != nil {
		return err
	} else if len(foreign) > 0 {
		return foreignLog(foreign, ownID, place.dir)
	}
	d.nested = m.nested
	g := newGen(m.seq, lay)
	r, err := replay(d.log.prefix, m.seq, salvage, func(seq uint64, writes []walWrite) {
		for _, w := range writes {
			g.put(w.bucket, w.e)
		}
		g.top = seq
	})
	if err != nil {
		return fmt.Errorf("replay the log: %w", err)
	}
	if r.damage != nil {
		logger.Error("bolt: the log is damaged: opened without the batches from the damage on, as Options.AcceptLogLoss allows",
			"path", path, "segment", filepath.Base(r.damage.path), "offset", r.damage.offset,
			"damage", r.damage.reason, "last_batch", r.last, "discarded_bytes", r.discarded)
	}
	if r.torn {
		logger.Warn("bolt: cut the last record of the log, cut short or with a bad checksum: the Update a crash interrupted, never answered, or damage",
			"path", path, "segment", filepath.Base(r.tailPath), "offset", r.tailOffset, "batch", r.tornBatch, "cut_bytes", r.tail)
	}
	if r.segments > 0 {
		logger.Info("bolt: replayed the log", "path", path, "segments", r.segments, "records", r.records,
			"from_batch", m.seq, "to_batch", r.last, "cut_bytes", r.tail)
	}
	if migrate {
		if err := d.migrate(m, logger, path); err != nil {
			return err
		}
	}
	last := r.last
	switch {
	case fresh && r.damage == nil && last > m.seq:
		// The replayed batches are the generation a checkpoint writes
		// once Open returns, as if it had been frozen before the crash:
		// its segments stay until then (see keepLog).
		if g.segments, err = d.log.keep(last); err != nil {
			return fmt.Errorf("keep the log: %w", err)
		}
	case last > m.seq || !fresh:
		// Held writes are put into their buckets too: the file may have
		// been written by another program since they were held.
		if _, lay, h, err = checkpoint(d.db, g, h, 0, d.nested, nil, d.ckptPart, d.packMax, nil); err != nil {
			return fmt.Errorf("checkpoint the log: %w", err)
		}
		fallthrough
	default:
		if err := d.log.removeAll(); err != nil {
			return fmt.Errorf("remove the log: %w", err)
		}
		g = nil
	}
	// The place is recorded before the log is written in a new directory,
	// and in a file that has none (new, or of a version before it); so is
	// the ID, in a file that has none, before a segment carries it. A
	// copy of the file at another path gets its own place, and an ID of
	// its own, at Close: Open does not write to a file it has not
	// checked, which may be damaged (a backup restored), more than it
	// must.
	d.place = place
	d.copied = placed && was.file != place.file
	if !hasID {
		if id, err = newFileID(); err != nil {
			return fmt.Errorf("make the file's ID: %w", err)
		}
	}
	d.log.id = id
	if !placed || moved || !hasID {
		err := guard("record the log's place and the file's ID", metaBucket, func() error {
			return d.db.Update(func(btx *bbolt.Tx) error { return writeLogPlace(btx, place, &id) })
		})
		if err != nil {
			return fmt.Errorf("record the log's place and the file's ID: %w", err)
		}
	}
	rtx, err := d.db.Begin(false)
	if err != nil {
		return err
	}
	d.baseTxid = uint64(rtx.ID())
	_ = rtx.Rollback()
	d.seq, d.ckptSeq = last, last
	d.lay = lay
	d.active = newGen(last, lay)
	d.held = h
	if g != nil {
		d.old, d.ckptSeq = g, m.seq
	}
	d.noteSize()
	return nil
}

// foreignLog is the error of recover when the log holds segments that
// another file wrote: foreign, whose first names that file.
func foreignLog(foreign []segment, own *fileID, dir string) error {
	other, _, err := segOwner(foreign[0].path)
	if err != nil {
		return err
	}
	this := "none, as the file is new or was last opened by a version before file IDs"
	if own != nil {
		this = fmt.Sprintf("%x", own[:])
	}
	return fmt.Errorf("%w: %s holds %d log segments (%s…) of another file of this name, of ID %x (this file's: %s): open that file with LogDir %s to replay them (Close then removes them), or remove them if that store is gone",
		ErrLogForeign, dir, len(foreign), filepath.Base(foreign[0].path), other[:], this, dir)
}

// migrate gives every record of the file its checksum, and the meta record
// the current format, in one transaction (see recover).
func (d *DB) migrate(m meta, logger *slog.Logger, path string) error {
	from := m.format
	var n int
	err := guard("migrate", "", func() error {
		btx, err := d.db.Begin(true)
		if err != nil {
			return err
		}
		defer btx.Rollback() //nolint:errcheck // after Commit, a no-op
		if n, err = migrate(btx); err != nil {
			return err
		}
		if err := writeMeta(btx, meta{seq: m.seq, nested: m.nested}); err != nil {
			return fmt.Errorf("meta: %w", err)
		}
		return btx.Commit()
	})
	if err != nil {
		return fmt.Errorf("migrate the file to format %d: %w", formatVersion, err)
	}
	if from == 0 {
		from = formatUnversioned
	}
	logger.Info("bolt: migrated the file: every record has its checksum now",
		"path", path, "from_format", from, "to_format", formatVersion, "records", n)
	return nil
}

// guard runs f, which reads or writes the bbolt file, turning a panic in
// it, bbolt's checks of a damaged page or a memory fault reading the file's
// mapping (see debug.SetPanicOnFault), into an error wrapping ErrCorrupt.
// f must not call code of the caller's, whose panics are not corruption.
func guard(op, bucket string, f func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if p := recover(); p != nil {
			err = corruptPanic(op, bucket, p)
		}
	}()
	return f()
}

// corruptPanic is the error of a panic p in bbolt's code (or the code
// walking it) during op, on bucket unless it is "".
func corruptPanic(op, bucket string, p any) error {
	if bucket != "" {
		op += fmt.Sprintf(": bucket %q", bucket)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, op, p)
}

// fnPanic is the error of a panic p in the function of an Update or View:
// a memory fault at an address (reading the file's mapping, as bbolt's
// keys and values lie in it) wraps ErrCorrupt, any other panic ErrPanic.
func fnPanic(p any) error {
	if e, ok := p.(interface{ Addr() uintptr }); ok {
		return fmt.Errorf("%w: memory fault at %#x: %v\n%s", ErrCorrupt, e.Addr(), p, debug.Stack())
	}
	return fmt.Errorf("%w: %v\n%s", ErrPanic, p, debug.Stack())
}

// Stats returns the DB's counters.
func (d *DB) Stats() Stats {
	return Stats{
		Requests:        d.requests.Load(),
		Commits:         d.commits.Load(),
		Queued:          len(d.reqs),
		Checkpoints:     d.checkpoints.Load(),
		CheckpointParts: d.parts.Load(),
		Slowed:          d.slowed.Load(),
		SlowedFor:       time.Duration(d.slowedFor.Load()),
		OverlaySize:     d.overlaySize.Load(),
		PeakOverlaySize: d.peakOverlay.Load(),

		CheckpointTime:       time.Duration(d.ckptTime.Load()),
		CheckpointCommitTime: time.Duration(d.ckptCommitTime.Load()),
		CheckpointWrites:     d.ckptWrites.Load(),
	}
}

// ckptCommitted counts a checkpoint's bbolt commit, a part or its last;
// it runs on the checkpoint's goroutine.
func (d *DB) ckptCommitted(part bool, st *bbolt.TxStats) {
	d.ckptCommitTime.Add(int64(st.GetRebalanceTime() + st.GetSpillTime() + st.GetWriteTime()))
	d.ckptWrites.Add(uint64(st.GetWrite()))
	if !part {
		return
	}
	d.parts.Add(1)
	if d.ckptHook != nil {
		d.ckptHook("part")
	}
}

// View runs fn over a snapshot of the overlay and a bbolt read-only
// transaction. It returns fn's error, ctx.Err() if ctx is done before fn
// runs, an error wrapping [store.ErrClosed], or one wrapping
// [store.ErrInvalid] for a nil fn. A panic in fn is recovered
// and returned as an error wrapping [ErrPanic], or [ErrCorrupt] for a
// memory fault; reads of a damaged bbolt page return errors wrapping
// ErrCorrupt.
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return fmt.Errorf("bolt: view: nil function: %w", store.ErrInvalid)
	}
	if d.closed.Load() {
		return fmt.Errorf("bolt: view: %w", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var (
		s   *snapshot
		btx *bbolt.Tx
	)
	for {
		s = d.snapshot()
		var err error
		if btx, err = d.db.Begin(false); err != nil {
			if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
				return fmt.Errorf("bolt: view: %w", store.ErrClosed)
			}
			return fmt.Errorf("bolt: view: %w: %w", store.ErrFailed, err)
		}
		if s.consistent(uint64(btx.ID())) {
			break
		}
		// A checkpoint of batches s does not hold committed since s was
		// taken: s is no longer the last snapshot.
		_ = btx.Rollback()
	}
	defer btx.Rollback() //nolint:errcheck // read-only: nothing to lose
	t := &tx{btx: btx, mapped: d.mappedSpan(btx), active: s.active, activeLay: s.activeLay, held: s.held, nested: d.nested, cat: &d.cat}
	if s.old != nil {
		t.old, t.oldLay = s.old.trees, s.old.lay
	}
	return call(fn, t)
}

// mappedSpan returns the addresses of the pages of the file that btx, a
// read-only transaction, can read: the keys and values it returns lie
// there, unless the file is damaged. They do not move until btx ends, as
// bbolt remaps the file only with no read transaction open.
func (d *DB) mappedSpan(btx *bbolt.Tx) span {
	info := d.db.Info()
	return span{lo: info.Data, hi: info.Data + uintptr(btx.Size()), page: uintptr(info.PageSize)}
}

// snapshot returns the overlay as of the last batch answered, made if
// needed.
func (d *DB) snapshot() *snapshot {
	if s := d.snap.Load(); s != nil {
		return s
	}
	d.ovMu.Lock()
	defer d.ovMu.Unlock()
	for d.installing != nil {
		// The batch answered last is not in the overlay yet: wait for it.
		c := d.installing
		d.ovMu.Unlock()
		<-c
		d.ovMu.Lock()
	}
	if s := d.snap.Load(); s != nil {
		return s // made while this View waited
	}
	s := &snapshot{active: d.active.trees, activeLay: d.active.lay, old: d.old, held: d.held, baseTxid: d.baseTxid}
	d.snap.Store(s)
	return s
}

// Update queues fn for the writer and waits until it has run and, when it
// returned nil, its writes are durably logged. fn's own error is returned
// as is; when fn succeeded but its writes, or the writes of the batch
// before that it may have read, could not be logged, the error wraps
// [ErrCommitFailed] and the cause. It returns ctx.Err() if ctx is done
// before fn runs, an error wrapping [store.ErrClosed], or, for a nil fn,
// one wrapping [store.ErrInvalid] before queueing it, changing nothing.
func (d *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return fmt.Errorf("bolt: update: nil function: %w", store.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	d.mu.RLock()
	if d.closed.Load() {
		d.mu.RUnlock()
		return fmt.Errorf("bolt: update: %w", store.ErrClosed)
	}
	d.reqs <- r
	d.mu.RUnlock()
	return <-r.done
}

// Close stops accepting Updates, lets the writer run and commit the queued
// ones, checkpoints the overlay, removes the log and closes the file
// (waiting for running Views, and for a running [DB.Backup] or [DB.Check],
// which end early when their context is done). When the final checkpoint
// fails, the log is kept, to be replayed by the next Open, and its error
// returned. Later calls, including a second Close, return an error
// wrapping [store.ErrClosed].
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed.Load() {
		d.mu.Unlock()
		return fmt.Errorf("bolt: close: %w", store.ErrClosed)
	}
	d.closed.Store(true)
	close(d.reqs)
	d.mu.Unlock()
	<-d.finished
	err := d.closeErr
	d.logLock.release(true)
	if cerr := d.db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// writer is the single goroutine that runs Update functions and changes
// the overlay. It hands each batch that wrote something to the committer
// (d.commit), keeping the last one handed over in pending until it has
// seen it done, and starts checkpoints while no batch is being committed.
func (d *DB) writer() {
	defer close(d.finished)
	var pending *batch
loop:
	for {
		var pdone chan struct{}
		if pending != nil {
			pdone = pending.done
		}
		select {
		case r, ok := <-d.reqs:
			if !ok {
				break loop
			}
			pending = d.runBatch(r, pending)
		case <-pdone:
			d.finish(pending)
			pending = nil
			d.maybeCheckpoint()
		case res := <-d.ckptDone:
			d.checkpointed(res)
			if pending == nil {
				d.maybeCheckpoint()
			}
		case s := <-d.syncs:
			// Every batch answered is at most d.seq, pending's included
			// (its answer may be on its way).
			s.target = d.seq
			d.waiters = append(d.waiters, s)
			d.answerWaiters(nil)
			if pending == nil {
				d.maybeCheckpoint()
			}
		}
	}
	if pending != nil {
		<-pending.done
		d.finish(pending)
	}
	d.closeErr = d.shutdown()
	for _, s := range d.waiters {
		s.done <- fmt.Errorf("bolt: %w", store.ErrClosed)
	}
	d.waiters = nil
}

// answerWaiters answers the sync requests whose batches the bbolt file
// holds with nil and a read transaction, and, when err is not nil, the
// others with err.
//
// The transaction begins here, on the writer, before it can start the
// next checkpoint: begun by the asker, it could come after that
// checkpoint's first parts had committed, whose meta record keeps the
// checkpoint before (see checkpoint), and a Backup copied a file holding
// some of the next batches' writes, parts of Updates. No checkpoint runs
// when a request is answered with nil: one that ran would hold batches
// after the request's, which the file would then not hold.
func (d *DB) answerWaiters(err error) {
	keep := d.waiters[:0]
	for _, s := range d.waiters {
		switch {
		case s.target <= d.ckptSeq:
			btx, berr := d.db.Begin(false)
			if berr != nil {
				s.done <- berr
				break
			}
			s.tx = btx
			s.done <- nil
		case err != nil:
			s.done <- err
		default:
			keep = append(keep, s)
		}
	}
	clear(d.waiters[len(keep):])
	d.waiters = keep
}

// runBatch runs a batch of functions, starting with first's, on top of
// pending, the batch last handed to the committer (nil when there is none),
// waits for pending's commit and hands the batch to the committer. It
// returns the batch in commit now, or nil.
//
// The batch takes the requests queued when it starts and, while pending is
// being committed, those that arrive until its commit ends, up to
// d.maxBatch.
func (d *DB) runBatch(first *request, pending *batch) *batch {
	if pending != nil {
		select {
		case <-pending.done:
			d.finish(pending)
			pending = nil
			d.maybeCheckpoint()
		default:
		}
	}
	var (
		rtx *bbolt.Tx // open while the batch takes requests, closed to wait for pending
		sp  span      // the pages rtx reads
		lay *layer    // pending's buffer as this batch reads it
		buf = d.spare
		rs  = newRefs() // the buckets as the batch's functions read them
		ok  []*request  // the requests whose functions succeeded
	)
	if buf == nil {
		buf = newBuffer(&d.slab)
	}
	d.spare = nil
	if pending != nil {
		lay = &layer{buf: pending.buf}
	}
	var old map[string]*tree
	var oldLay *layout
	if d.old != nil {
		old, oldLay = d.old.trees, d.old.lay
	}
	held := d.held
	d.ovMu.Lock() // the committer may be swapping pending's trees in
	active, activeLay := d.active.trees, d.active.lay
	d.ovMu.Unlock()
	closeRead := func() {
		if rtx != nil {
			_ = rtx.Rollback()
			rtx = nil
			for _, r := range rs.byName {
				r.btx, r.bolt, r.cur = nil, nil, nil
			}
			rs.coloc, rs.colocTx = nil, nil
		}
	}
	queued := len(d.reqs)
	r := first
	for n := 1; ; n++ {
		d.requests.Add(1)
		if err := r.ctx.Err(); err != nil {
			r.done <- err
		} else if err := d.beginRead(&rtx, &sp); err != nil {
			r.done <- fmt.Errorf("bolt: update: begin: %w: %w", store.ErrFailed, err)
		} else {
			// The undo log is needed only when the buffer holds writes
			// of earlier functions to protect.
			buf.track = len(ok) > 0
			t := &tx{btx: rtx, mapped: sp, buf: buf, under: lay, active: active, old: old, activeLay: activeLay, oldLay: oldLay, held: held,
				nested: d.nested, refs: rs, cat: &d.cat}
			if err := call(r.fn, t); err != nil {
				if buf.track {
					buf.rollback() // nothing of r is left in buf
				} else {
					buf.reset()
				}
				r.done <- err
			} else {
				buf.keep()
				ok = append(ok, r)
			}
		}

		if r = d.next(n, queued, pending); r == nil {
			break
		}
	}
	closeRead()

	if pending != nil {
		// The functions may have read pending's writes: they are answered
		// after pending is durable, and fail with it.
		<-pending.done
		if !d.finish(pending) {
			err := fmt.Errorf("%w: the batch before, which this one read from: %w", ErrCommitFailed, pending.err)
			for _, r := range ok {
				r.done <- err
			}
			d.recycle(buf)
			return nil
		}
		d.maybeCheckpoint()
	}
	if len(ok) == 0 || buf.empty() {
		// Nothing to write. What the functions read is durable: there is
		// nothing to wait for.
		for _, r := range ok {
			r.done <- nil
		}
		d.recycle(buf)
		return nil
	}
	if err := d.waitRoom(); err != nil {
		err = fmt.Errorf("%w: the overlay is full: %w", ErrCommitFailed, err)
		for _, r := range ok {
			r.done <- err
		}
		d.recycle(buf)
		return nil
	}
	d.seq++
	b := &batch{seq: d.seq, reqs: ok, buf: buf, gen: d.active, done: make(chan struct{})}
	go d.commit(b)
	return b
}

// next returns the next request of a batch that has taken n requests, of
// which queued were queued when it started: one of those, or, while
// pending is being committed, one that arrives before the commit ends. It
// returns nil when the batch is complete: it has d.maxBatch requests, or it
// took the requests queued at its start and no commit is running any more,
// or the DB is closing.
func (d *DB) next(n, queued int, pending *batch) *request {
	if n == d.maxBatch {
		return nil
	}
	if n <= queued {
		return <-d.reqs // queued: no wait (nil when closed and drained)
	}
	if pending == nil {
		return nil
	}
	select {
	case <-pending.done:
		return nil // the committer is idle: hand this batch over
	default:
	}
	select {
	case r := <-d.reqs:
		return r
	default:
	}
	// The read transaction stays open while this waits: the wait ends
	// when pending's commit does (the log's append and sync, which never
	// wait for bbolt), so a checkpoint that must grow bbolt's memory map,
	// which waits for every read transaction, waits that long at most.
	// Closed to wait, it was begun anew, with its buckets and cursors,
	// for most events of 64 callers at a million members; kept open, four
	// alternated rounds of 100,000 events: 17,830-18,972 events/s against
	// 16,961-18,542, processor time 84-90 µs an event against 87-95, p50
	// 2.8-2.9 ms against 3.0-3.1.
	select {
	case r := <-d.reqs:
		return r
	case <-pending.done:
		return nil
	}
}

// beginRead opens *rtx unless it is open, setting *sp to the pages it
// reads.
func (d *DB) beginRead(rtx **bbolt.Tx, sp *span) error {
	if *rtx != nil {
		return nil
	}
	t, err := d.db.Begin(false)
	if err != nil {
		return err
	}
	*rtx, *sp = t, d.mappedSpan(t)
	return nil
}

// commit appends b to the log while another goroutine prepares b's
// overlay trees (see batch.trees). Once the log is synced it answers b's
// requests, then swaps the trees into the active generation, Views begun
// meanwhile waiting for that, and marks b done. When the append fails it
// only marks b done: the writer answers. It runs on its own goroutine,
// beside the writer running the next batch's functions; one commit runs
// at a time.
func (d *DB) commit(b *batch) {
	if d.commitHook != nil {
		d.commitHook("begin")
	}
	prepared := make(chan struct{})
	go func() {
		d.prepare(b)
		close(prepared)
	}()
	err := d.log.append(b)
	if d.commitHook != nil {
		d.commitHook("committed")
	}
	d.commits.Add(1)
	if err != nil {
		<-prepared
		b.trees, b.sizeDelta = nil, 0
		// The writer trees hold b's entries: the next batch starts again
		// from clones of the trees.
		b.gen.writers = nil
		b.err = err
		close(b.done)
		return
	}
	installing := make(chan struct{})
	d.ovMu.Lock()
	d.installing = installing
	d.snap.Store(nil)
	d.ovMu.Unlock()
	for _, r := range b.reqs {
		r.done <- nil
	}
	if d.commitHook != nil {
		d.commitHook("answered")
	}
	<-prepared
	d.ovMu.Lock()
	g := b.gen
	// The map is replaced, not changed: the writer and Views read the
	// one they took without a lock.
	trees := maps.Clone(g.trees)
	for _, bt := range b.trees {
		trees[bt.bucket] = bt.t
	}
	g.trees = trees
	g.size += b.sizeDelta
	g.top = b.seq
	g.logSize += b.logSize
	d.installing = nil
	d.snap.Store(nil)
	d.ovMu.Unlock()
	// Done first: a View that waited for the install returns after the
	// writer can see the commit ended.
	close(b.done)
	close(installing)
}

// prepare makes b.trees: for each bucket b wrote, the writer tree of
// b.gen's bucket (see gen.writers) with b's entries put in key order, each
// next to the one before in cache (which made 1,000-event batches about
// 1.5 times as fast as hash order), and then cloned. The writer, running
// the next batch's functions, only reads b.gen's trees meanwhile: clones
// made before, whose nodes the writer tree copies before its first change
// of them, and whose arenas it only appends to.
func (d *DB) prepare(b *batch) {
	g := b.gen
	// One prepare runs at a time (one commit does): its slices are the
	// DB's, reused from batch to batch. At a million members they were
	// 7% of what the process allocated an event, each allocation
	// bringing the next garbage collection closer.
	p := &d.prep
	defer p.reset()
	n, size := 0, 0 // the writes of colocated buckets and their keys' bytes
	for name, bb := range b.buf.buckets {
		if _, ok := g.lay.tag(name); ok {
			for _, e := range bb.order {
				n++
				size += physLen(e.key)
			}
		}
	}
	// phys points into ents and ents' keys into keys: never grown below.
	p.ents = slices.Grow(p.ents[:0], n)
	p.keys = slices.Grow(p.keys[:0], size)
	for name, bb := range b.buf.buckets {
		if len(bb.entries) == 0 {
			continue
		}
		if tag, ok := g.lay.tag(name); ok {
			for _, e := range bb.order {
				off := len(p.keys)
				p.keys = physKey(p.keys, e.key, tag)
				p.ents = append(p.ents, entry{key: p.keys[off:len(p.keys):len(p.keys)], value: e.value, del: e.del})
				p.phys = append(p.phys, &p.ents[len(p.ents)-1])
			}
			continue
		}
		off := len(p.sorted)
		p.sorted = append(p.sorted, bb.order...)
		es := p.sorted[off:len(p.sorted):len(p.sorted)]
		sortEntries(es)
		p.all = append(p.all, bucketEs{name, es})
	}
	if len(p.phys) > 0 {
		sortEntries(p.phys)
		p.all = append(p.all, bucketEs{colocBucket, p.phys})
	}
	if g.writers == nil {
		g.writers = make(map[string]*tree)
	}
	b.trees = make([]bucketTree, len(p.all))
	big := -1 // the bucket with the most writes
	for i, be := range p.all {
		w := g.writers[be.bucket]
		if w == nil {
			// Clone changes the tree it is called on (though not what
			// its readers read), and only this goroutine calls it on the
			// active generation.
			if t := g.trees[be.bucket]; t != nil {
				w = t.Clone()
			} else {
				w = newTree()
			}
			g.writers[be.bucket] = w
		}
		b.trees[i] = bucketTree{be.bucket, w}
		if big < 0 || len(be.es) > len(p.all[big].es) {
			big = i
		}
	}
	// The trees are independent: the bucket with the most writes (the
	// colocated one, at a million members) goes into its tree on a
	// goroutine of its own while this one does the others: the writer
	// often waits for requests (most callers wait for an answer), its
	// core then free, and it waits for the prepare before it closes its
	// next batch. At a million members, nine alternated pairs of Process
	// with 64 callers: 5% more events/s in all (higher in 6 pairs), p99
	// lower in 7; at a thousand, ProcessBatch of 1,000 events
	// 87,129-89,754 events/s against 67,613-80,828 in three pairs.
	var bigDelta int64
	var wg sync.WaitGroup
	if len(p.all) > 1 && len(p.all[big].es) >= prepareSplit {
		wg.Go(func() { bigDelta = putAll(&b.trees[big], p.all[big].es) })
	} else {
		big = -1
	}
	for i := range p.all {
		if i != big {
			b.sizeDelta += putAll(&b.trees[i], p.all[i].es)
		}
	}
	wg.Wait()
	b.sizeDelta += bigDelta
}

// prepareSplit is the fewest writes to one bucket that prepare puts into
// its tree on a goroutine of its own: a batch of a few events is not
// worth starting one for.
const prepareSplit = 64

// putAll puts es into bt's writer tree and replaces it with a clone,
// returning what the entries add to the memory estimate.
func putAll(bt *bucketTree, es []*entry) int64 {
	var delta int64
	w := bt.t
	for _, e := range es {
		_, old := w.PutMarked(e.key, e.value, e.del)
		delta += putSize(e, old)
	}
	bt.t = w.Clone()
	return delta
}

// prepScratch holds prepare's slices between batches.
type prepScratch struct {
	all    []bucketEs
	sorted []*entry // the entries of buckets not colocated, in runs sorted per bucket
	phys   []*entry // the writes of colocated buckets, under physical keys
	ents   []entry  // phys's entries
	keys   []byte   // their keys
}

// bucketEs is a bucket's writes in key order.
type bucketEs struct {
	bucket string
	es     []*entry
}

// reset empties s, dropping what it points to (a batch's buffer).
func (s *prepScratch) reset() {
	clear(s.all)
	clear(s.sorted)
	clear(s.phys)
	clear(s.ents)
	s.all, s.sorted, s.phys, s.ents, s.keys = s.all[:0], s.sorted[:0], s.phys[:0], s.ents[:0], s.keys[:0]
}

// finish takes b, a batch done committing: when it failed, it answers
// its requests with the error, and its seq goes to the next batch, as
// nothing of it is in the log. It reports whether b was logged (and then
// answered and put into the overlay by the committer).
func (d *DB) finish(b *batch) bool {
	// Nothing reads b's buffer any more: the next batch's functions have
	// run, and the overlay holds its entries, which are not the buffer's.
	defer d.recycle(b.buf)
	if b.err != nil {
		err := fmt.Errorf("%w: %w", ErrCommitFailed, b.err)
		for _, r := range b.reqs {
			r.done <- err
		}
		d.seq = b.seq - 1
		// Sync requests made meanwhile counted on b.
		for _, s := range d.waiters {
			s.target = min(s.target, d.seq)
		}
		d.answerWaiters(nil)
		return false
	}
	d.noteSize()
	return true
}

// recycle keeps buf, which nothing reads any more, for a later batch.
func (d *DB) recycle(buf *buffer) {
	buf.reset()
	if d.spare == nil {
		d.spare = buf
	}
}

// noteSize updates the overlay size counters.
func (d *DB) noteSize() {
	d.ovMu.Lock() // the committer may be swapping a batch in
	n := d.active.size
	d.ovMu.Unlock()
	if d.old != nil {
		n += d.old.size
	}
	n += d.held.heldSize()
	d.overlaySize.Store(n)
	if n > d.peakOverlay.Load() {
		d.peakOverlay.Store(n)
	}
}

// maybeCheckpoint starts a checkpoint when one is due and none is running:
// of the active generation when it reached the checkpoint size or a sync
// request waits for it (every waiting request wants batches the file does
// not hold, which, with no checkpoint running and none failed, the active
// generation holds), or again of the one whose checkpoint failed, once
// its retry time has come. It is
// called only while no batch is being committed, so that the log can be
// rotated, and with no read transaction open.
func (d *DB) maybeCheckpoint() {
	switch {
	case d.ckptRunning:
	case d.old != nil:
		if !d.now().Before(d.retryAt) {
			d.startCheckpoint()
		}
	case d.active.logSize >= d.ckptSize || d.active.size >= d.ckptSize || len(d.waiters) > 0:
		d.freeze()
		d.startCheckpoint()
	}
}

// freeze makes the active generation the one to checkpoint and starts a
// new one, in a new log segment.
func (d *DB) freeze() {
	segs := d.log.rotate()
	d.ovMu.Lock()
	g := d.active
	g.segments = segs
	d.old = g
	d.active = newGen(g.top, d.lay)
	d.snap.Store(nil)
	d.ovMu.Unlock()
}

// startCheckpoint starts the checkpoint of d.old on its own goroutine; its
// result arrives on d.ckptDone.
func (d *DB) startCheckpoint() {
	g, h := d.old, d.held
	holdMax := d.holdMax
	if d.closing {
		holdMax = 0 // a file at rest holds nothing back
	}
	d.ckptRunning = true
	go func() {
		began := d.now()
		if d.ckptHook != nil {
			d.ckptHook("begin")
		}
		want := d.colocWanted()
		txid, lay, next, err := checkpoint(d.db, g, h, holdMax, d.nested, want, d.ckptPart, d.packMax, d.ckptCommitted)
		if err == nil {
			d.ckptTime.Add(int64(d.now().Sub(began)))
			d.colocTook(want)
			g.doneTxid.Store(txid)
			if d.ckptHook != nil {
				d.ckptHook("committed")
			}
			// bbolt holds g: its segments are no longer needed. A removal
			// that fails or is lost in a crash only leaves records that
			// replay skips.
			d.log.recycle(g.segments)
		}
		d.ckptDone <- ckptResult{g: g, txid: txid, lay: lay, held: next, err: err}
	}()
}

// checkpointed takes the result of a checkpoint: on success the generation
// leaves the overlay, bbolt holding it; on failure it stays, to be tried
// again.
func (d *DB) checkpointed(res ckptResult) {
	d.ckptRunning = false
	if res.err != nil {
		d.ckptErr = res.err
		d.retryAt = d.now().Add(checkpointRetry)
		d.answerWaiters(fmt.Errorf("checkpoint: %w", res.err))
		return
	}
	d.ckptErr = nil
	d.ckptSeq = res.g.top
	d.lay = res.lay // for the generations begun from now on
	// Counted before the waiters are answered: a Backup that waited for
	// this checkpoint then finds it in Stats.
	d.checkpoints.Add(1)
	d.answerWaiters(nil)
	d.ovMu.Lock()
	d.old, d.held = nil, res.held
	d.baseTxid = res.txid
	d.snap.Store(nil)
	d.ovMu.Unlock()
	d.noteSize()
}

// maxSlowdown is the longest a batch is delayed while a checkpoint runs
// and the overlay nears its bound (see slowDown).
const maxSlowdown = 20 * time.Millisecond

// slowDown delays the batch about to be logged while a checkpoint runs and
// the overlay is past half its bound: by maxSlowdown times how far past
// it is (0 at half, all of it at the bound), or until the checkpoint ends.
// Writers thus slow down smoothly as a checkpoint falls behind, giving it
// room, rather than run at full speed into the bound and stop there until
// it ends (waitRoom, which remains the last resort).
func (d *DB) slowDown() {
	if d.old == nil || !d.ckptRunning {
		return
	}
	size, soft := d.old.size+d.active.size, d.maxOverlay/2
	if size <= soft || size >= d.maxOverlay {
		return
	}
	// maxSlowdown × (size-soft) / (max-soft), in 128 bits: below
	// maxSlowdown, as size < max.
	hi, lo := bits.Mul64(uint64(maxSlowdown), uint64(size-soft))
	q, _ := bits.Div64(hi, lo, uint64(d.maxOverlay-soft))
	delay := time.Duration(q)
	d.slowed.Add(1)
	d.slowedFor.Add(int64(delay))
	select {
	case <-d.after(delay):
	case res := <-d.ckptDone:
		d.checkpointed(res)
	}
}

// waitRoom waits, while the overlay is over its bound, for the running
// checkpoint, starting it again if it failed. It returns the checkpoint's
// error when a new attempt failed too. It is called with no batch being
// committed.
func (d *DB) waitRoom() error {
	d.slowDown()
	retried := false
	for d.old != nil && d.old.size+d.active.size >= d.maxOverlay {
		if !d.ckptRunning {
			if retried {
				return fmt.Errorf("checkpoint: %w", d.ckptErr)
			}
			d.startCheckpoint()
			retried = true
		}
		d.checkpointed(<-d.ckptDone)
		d.maybeCheckpoint()
	}
	return nil
}

// shutdown checkpoints the whole overlay and removes the log, once the
// writer has answered every request. When a checkpoint fails, the log is
// left for the next Open to replay.
func (d *DB) shutdown() error {
	// The log is removed below (or kept for the next Open should a
	// checkpoint fail): a spare would be written only to be deleted.
	d.log.stopSpares()
	if d.ckptRunning {
		d.checkpointed(<-d.ckptDone)
	}
	d.closing = true
	for range 2 {
		if d.old == nil {
			if len(d.active.trees) == 0 && d.held == nil {
				break
			}
			d.freeze()
		}
		d.startCheckpoint()
		if d.checkpointed(<-d.ckptDone); d.old != nil {
			return fmt.Errorf("checkpoint: %w", d.ckptErr)
		}
	}
	// bbolt keeps two meta pages and, when the last one is damaged, opens
	// the file as of the one before without a word: the transaction
	// before the last checkpoint, which, once the log is gone, would lose
	// that checkpoint's batches. One more transaction, which changes only
	// the meta record, makes the two say the same.
	//
	// A copy keeps its original's place until it gets an ID of its own,
	// once its log, whose segments carry the original's, is gone: a crash
	// in between leaves no segment the file would refuse, and the next
	// Open takes it for a copy again.
	place := d.place
	if d.copied {
		place = logPlace{}
	}
	err := guard("close", "", func() error {
		return d.db.Update(func(btx *bbolt.Tx) error {
			return writeMeta(btx, meta{seq: d.ckptSeq, nested: d.nested, log: place})
		})
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := d.log.removeAll(); err != nil {
		return fmt.Errorf("remove the log: %w", err)
	}
	if d.copied {
		id, err := newFileID()
		if err == nil {
			err = guard("close", metaBucket, func() error {
				return d.db.Update(func(btx *bbolt.Tx) error {
					return writeMeta(btx, meta{seq: d.ckptSeq, nested: d.nested, log: d.place, id: &id})
				})
			})
		}
		if err != nil {
			return fmt.Errorf("give the copy an ID of its own: %w", err)
		}
	}
	return nil
}

// call runs fn on t exactly once, turning a panic into an error (see
// fnPanic), and marks t done. A memory fault in fn at an address, as
// reading a key or value of a damaged file could cause, panics rather
// than crash the process (see debug.SetPanicOnFault).
func call(fn func(store.Tx) error, t *tx) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		t.done.Store(true)
		if p := recover(); p != nil {
			err = fnPanic(p)
		}
	}()
	return fn(t)
}
