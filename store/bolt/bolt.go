// Package bolt is the default, persistent implementation of [store.Store]: a
// single bbolt file written through group commit.
//
// # Group commit
//
// bbolt allows one read-write transaction at a time and each commit costs
// two fsyncs, so committing every Update on its own caps throughput at the
// disk's fsync rate. Instead one writer goroutine runs all Update functions.
// [DB.Update] queues its function and waits; the writer takes the first
// queued request and runs the functions of a batch one after another: the
// requests queued when the batch starts and, while the batch before is
// being committed (see Pipelined commits), those that arrive until that
// commit ends, up to [Options.MaxBatch]. The batch is then committed with a
// single bbolt commit and every caller gets its answer. Unlike bbolt's
// DB.Batch, a function is called exactly once and no timer delays a lone
// writer: with no commit running, a batch takes only what is queued.
//
// # Write buffer
//
// Functions do not write to bbolt while they run. Every Put and Delete of a
// batch goes to one in-memory write buffer: a hash map per bucket, where a
// later write of a key replaces the earlier one and a Delete leaves a
// tombstone. Reads see the buffer first, then the state below the batch
// (see Pipelined commits); a function therefore sees its own writes and
// those of the functions before it in the batch that succeeded. Scan merges
// the buffered writes of its bucket, ordered by a B-tree built on the
// bucket's first Scan, with what lies below, in either direction,
// tombstones hiding keys.
//
// When a function returns an error (or panics), the writes it made are
// undone from an undo log kept while it runs, so the buffer holds exactly
// the writes of the functions that succeeded: one request's failure neither
// undoes nor delays the others. A function that fails is answered with its
// error at once. When its functions have run, the batch's buffer is applied
// to a bbolt read-write transaction once, in (bucket, key) order, and
// committed. Keys that every Update rewrites (counters, balances, daily
// totals) thus reach bbolt once per batch however many functions wrote
// them, and bbolt receives its writes in the order of its B+tree. A batch
// whose functions wrote nothing is not committed.
//
// A lone request, and a large Update such as a bulk import, use the same
// buffer: a function needs no undo log while no function before it in the
// batch succeeded, as its failure then drops the whole buffer. (Writing a
// lone request straight to bbolt measured no faster: bbolt's commit
// dominates its cost, while buffering coalesces the repeated writes of a
// large Update and sorts them.)
//
// # Pipelined commits
//
// Applying and committing a batch (page writes and two fsyncs) is done by a
// committer goroutine, so that the writer runs the functions of the next
// batch meanwhile. The functions of batch N+1 read, in this order, their own
// batch's buffer, then the buffer of batch N (written, not yet durable),
// then a bbolt read-only transaction. The writer holds that transaction
// only while functions run: it closes it whenever it waits for a request or
// for N's commit, and opens a fresh one for the next function. A read
// transaction holds the state committed before N, or, when it began after
// N's commit was written, the state after N, in which case N's buffer is
// left out (the writer tells them apart by bbolt's transaction ids; reading
// N's writes twice would be harmless anyway, but is not done). Pipelining
// goes one batch deep: when N's commit ends, the writer closes batch N+1 and
// hands it to the committer, then starts the next batch; one batch at a
// time is committed, in order, and at most two buffers are held.
//
// Callers are answered only once their own batch is durably committed. If
// applying batch N's buffer or its commit fails (an I/O error, or bbolt
// refusing a write, such as a Put over a nested bucket of a file written by
// other means), nothing of N is written and every request of N whose
// function succeeded gets an error wrapping [ErrCommitFailed] and the cause:
// their functions' writes cannot be told apart any more. So does every
// request of batch N+1 whose function succeeded, read-only functions
// included, since they ran while N was being committed: what they read
// (N's buffer, or N's commit not yet synced) never became durable. Nothing
// of N+1 is written either, and the batch after starts from the committed
// state again. A function that failed on its own is
// answered with its own error, as is, without waiting for the commit before
// it (as within a batch, what it read may not become durable).
//
// # Caveats
//
// Update functions run on the writer goroutine, one after another: a slow
// function delays every queued Update, and a function must not call Update
// or View on the same DB (Update would deadlock; a read transaction inside
// the write can block bbolt's remapping) nor call runtime.Goexit (for
// example t.FailNow). A panic in a function is recovered and returned to its
// caller as an error wrapping [ErrPanic]. The buffer holds the batch's
// writes in memory until the commit: an Update writing gigabytes needs as
// much memory (twice as much while the next batch runs beside it).
//
// View runs a plain bbolt read-only transaction. Keep Views short: an open
// read transaction prevents bbolt from growing its memory map, so once the
// file outgrows [Options.InitialMmapSize] the commit that must grow it waits
// for every open View (and a View that waits for an Update then deadlocks),
// and for the functions of the next batch, whose read transaction is open
// while they run.
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
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/memberkit/membership/store"
)

// ErrPanic is wrapped by the error Update returns when its function panicked.
var ErrPanic = errors.New("bolt: update function panicked")

// ErrCommitFailed is wrapped, together with the cause, by the error Update
// returns when its function succeeded but nothing of it was written: applying
// its batch's writes to bbolt or committing them failed, or so did the
// commit of the batch before, whose writes its function may have read (see
// the package documentation). Retrying the Update runs its function again on
// the committed state.
var ErrCommitFailed = errors.New("bolt: update: commit failed")

// Default option values.
const (
	// DefaultMaxBatch is the default for [Options.MaxBatch].
	DefaultMaxBatch = 256
	// DefaultLockTimeout is the default for [Options.LockTimeout].
	DefaultLockTimeout = time.Second
	// DefaultInitialMmapSize is the default for [Options.InitialMmapSize]
	// on 64-bit Unix systems.
	DefaultInitialMmapSize = 1 << 30
)

// Options configures [Open]. A nil *Options or a zero field means the default.
type Options struct {
	// MaxBatch is the largest number of Update functions committed together
	// in one bbolt transaction. Default DefaultMaxBatch.
	MaxBatch int
	// LockTimeout is how long Open waits for the file lock held by another
	// opener before failing. Default DefaultLockTimeout.
	LockTimeout time.Duration
	// InitialMmapSize is the initial size of bbolt's memory map. While the
	// file fits in the map, read transactions never block the writer; when
	// the file outgrows it, the commit that grows it waits for every open
	// View. On Linux and other Unix systems the map is only address space,
	// not memory or disk. Default DefaultInitialMmapSize on 64-bit Unix,
	// bbolt's own (32 KiB, doubling) elsewhere.
	InitialMmapSize int
	// NoSync skips fsync on commit. UNSAFE: a crash or power loss can lose
	// committed writes or corrupt the file. For tests and benchmarks only.
	NoSync bool
}

// Stats are cumulative counters of a [DB].
type Stats struct {
	// Requests is the number of Update calls handed to the writer.
	Requests uint64
	// Commits is the number of bbolt read-write transactions committed
	// (successfully or not); Requests/Commits is the mean batch size. A
	// batch whose functions wrote nothing is not committed.
	Commits uint64
	// Queued is the number of Update calls waiting for the writer now.
	Queued int
}

// request is one queued Update.
type request struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error
}

// DB is a [store.Store] backed by one bbolt file. It is safe for concurrent
// use.
type DB struct {
	db       *bbolt.DB
	maxBatch int

	mu       sync.RWMutex // guards closed against sends on reqs
	closed   atomic.Bool
	reqs     chan *request
	finished chan struct{} // closed when the writer has exited

	requests atomic.Uint64
	commits  atomic.Uint64

	// commitHook, when set (by tests, before any Update), is called by the
	// committer with "begin" before it begins a batch's bbolt transaction
	// and with "committed" after the commit returned, before the batch is
	// answered.
	commitHook func(stage string)
}

// batch is a batch of requests handed to the committer.
type batch struct {
	reqs []*request // the requests whose functions succeeded
	buf  *buffer    // their writes; never modified once handed over
	// txid is the id of the bbolt transaction committing the batch, set
	// before the commit; 0 before. A read transaction whose id is at least
	// txid sees the batch committed.
	txid atomic.Uint64
	// err is the reason the batch was not written ("apply: …", "commit: …"),
	// or nil; set before done is closed.
	err  error
	done chan struct{}
}

var _ store.Store = (*DB)(nil)

// Open opens the bbolt file at path, creating it (mode 0600) if needed, and
// starts the writer. A file already opened by another DB or process makes
// Open fail after Options.LockTimeout.
func Open(path string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.InitialMmapSize < 0 {
		return nil, fmt.Errorf("bolt: open %s: negative InitialMmapSize: %w", path, store.ErrInvalid)
	}
	if o.InitialMmapSize == 0 && strconv.IntSize == 64 && runtime.GOOS != "windows" {
		// Windows grows the file to the map size, so it keeps bbolt's default.
		o.InitialMmapSize = DefaultInitialMmapSize
	}
	// Other bbolt settings were measured and left alone. NoFreelistSync
	// keeps commits durable (the free list is rebuilt by scanning the whole
	// file at Open instead) but saved nothing measurable: the map free list
	// writes a page or two per commit. A larger DB.AllocSize than 16 MiB
	// saved nothing either (the file grows a few times per thousand
	// commits). Pages larger than the OS's (PageSize) sped up bulk Updates
	// on a small file, where every commit rewrites every leaf anyway, but
	// slowed both bulk and group-committed Updates down once the file grew
	// and each scattered write dirtied a larger page of its own.
	// Tx.WriteFlag only concerns Tx.WriteTo.
	bdb, err := bbolt.Open(path, os.FileMode(0o600), &bbolt.Options{
		Timeout:         o.LockTimeout,
		FreelistType:    bbolt.FreelistMapType,
		NoSync:          o.NoSync,
		InitialMmapSize: o.InitialMmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	d := &DB{
		db:       bdb,
		maxBatch: o.MaxBatch,
		reqs:     make(chan *request, o.MaxBatch),
		finished: make(chan struct{}),
	}
	go d.writer()
	return d, nil
}

// Stats returns the DB's counters.
func (d *DB) Stats() Stats {
	return Stats{
		Requests: d.requests.Load(),
		Commits:  d.commits.Load(),
		Queued:   len(d.reqs),
	}
}

// View runs fn in a bbolt read-only transaction. It returns fn's error,
// ctx.Err() if ctx is done before fn runs, or an error wrapping
// [store.ErrClosed].
func (d *DB) View(ctx context.Context, fn func(store.Tx) error) error {
	if d.closed.Load() {
		return fmt.Errorf("bolt: view: %w", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	btx, err := d.db.Begin(false)
	if err != nil {
		if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
			return fmt.Errorf("bolt: view: %w", store.ErrClosed)
		}
		return fmt.Errorf("bolt: view: %w", err)
	}
	defer btx.Rollback() //nolint:errcheck // read-only: nothing to lose
	t := &tx{btx: btx}
	defer t.done.Store(true)
	return fn(t)
}

// Update queues fn for the writer and waits until it has run and, when it
// returned nil, its writes are durably committed. fn's own error is
// returned as is; when fn succeeded but its writes, or the writes of the
// batch before that it may have read, could not be committed, the error
// wraps [ErrCommitFailed] and the cause. It returns
// ctx.Err() if ctx is done before fn runs, or an error wrapping
// [store.ErrClosed].
func (d *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
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
// ones, waits for the last commit and closes the file (waiting for running
// Views). Later calls, including a second Close, return an error wrapping
// [store.ErrClosed].
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
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// writer is the single goroutine that runs Update functions; it hands each
// batch that wrote something to the committer (d.commit) and keeps the
// last one handed over in pending until it has seen it done.
func (d *DB) writer() {
	defer close(d.finished)
	var pending *batch
	for first := range d.reqs {
		pending = d.runBatch(first, pending)
	}
	if pending != nil {
		<-pending.done
	}
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
			// Committed, or failed and left nothing behind: bbolt holds
			// all there is to see.
			pending = nil
		default:
		}
	}
	var (
		rtx   *bbolt.Tx // open while functions run, closed while waiting
		lay   *layer    // pending's buffer as this batch reads it
		under *layer    // lay while rtx does not hold pending's commit
		buf   = newBuffer()
		ok    []*request // the requests whose functions succeeded
	)
	closeRead := func() {
		if rtx != nil {
			_ = rtx.Rollback()
			rtx = nil
		}
	}
	queued := len(d.reqs)
	r := first
	for n := 1; ; n++ {
		d.requests.Add(1)
		if err := r.ctx.Err(); err != nil {
			r.done <- err
		} else if err := d.beginRead(&rtx, &under, &lay, pending); err != nil {
			r.done <- fmt.Errorf("bolt: update: begin: %w", err)
		} else {
			// The undo log is needed only when the buffer holds writes
			// of earlier functions to protect.
			buf.track = len(ok) > 0
			if err := call(r.fn, &tx{btx: rtx, buf: buf, under: under}); err != nil {
				if buf.track {
					buf.rollback() // nothing of r is left in buf
				} else {
					buf = newBuffer()
				}
				r.done <- err
			} else {
				buf.keep()
				ok = append(ok, r)
			}
		}

		if r = d.next(n, queued, pending, closeRead); r == nil {
			break
		}
	}
	closeRead()

	if pending != nil {
		// The functions may have read pending's writes: they are answered
		// after pending is durable, and fail with it.
		<-pending.done
		if pending.err != nil {
			err := fmt.Errorf("%w: the batch before, which this one read from: %w", ErrCommitFailed, pending.err)
			for _, r := range ok {
				r.done <- err
			}
			return nil
		}
	}
	if len(ok) == 0 || buf.empty() {
		// Nothing to write. What the functions read is committed and
		// synced: there is nothing to wait for.
		for _, r := range ok {
			r.done <- nil
		}
		return nil
	}
	b := &batch{reqs: ok, buf: buf, done: make(chan struct{})}
	go d.commit(b)
	return b
}

// next returns the next request of a batch that has taken n requests, of
// which queued were queued when it started: one of those, or, while
// pending is being committed, one that arrives before the commit ends. It
// returns nil when the batch is complete: it has d.maxBatch requests, or it
// took the requests queued at its start and no commit is running any more,
// or the DB is closing. closeRead is called before waiting.
func (d *DB) next(n, queued int, pending *batch, closeRead func()) *request {
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
	// Never hold the read transaction while waiting for a commit: a
	// commit that must grow bbolt's memory map waits for every read
	// transaction.
	closeRead()
	select {
	case r := <-d.reqs:
		return r
	case <-pending.done:
		return nil
	}
}

// beginRead opens *rtx unless it is open, setting *under to the layer of
// pending's buffer (made in *lay on first use) when *rtx does not hold
// pending's commit, else to nil.
func (d *DB) beginRead(rtx **bbolt.Tx, under, lay **layer, pending *batch) error {
	if *rtx != nil {
		return nil
	}
	t, err := d.db.Begin(false)
	if err != nil {
		return err
	}
	*rtx, *under = t, nil
	if pending == nil {
		return nil
	}
	// pending.txid is set before pending's commit can change the state t
	// began on: 0 here means t predates the commit. (Had the load been
	// wrong, layering a committed buffer over its own commit would read
	// the same.)
	if id := pending.txid.Load(); id == 0 || uint64(t.ID()) < id {
		if *lay == nil {
			*lay = &layer{buf: pending.buf}
		}
		*under = *lay
	}
	return nil
}

// commit applies b's buffer to a bbolt read-write transaction and commits
// it, then answers b's requests. It runs on its own goroutine, beside the
// writer running the next batch's functions; one commit runs at a time.
func (d *DB) commit(b *batch) {
	if d.commitHook != nil {
		d.commitHook("begin")
	}
	btx, err := d.db.Begin(true)
	if err != nil {
		err = fmt.Errorf("begin: %w", err)
	} else {
		b.txid.Store(uint64(btx.ID()))
		// The writes of every successful function are applied at once. If
		// that or the commit fails, none of them is written and each of
		// them gets the error: their functions' writes cannot be told
		// apart any more.
		if err = b.buf.apply(btx); err != nil {
			_ = btx.Rollback()
			err = fmt.Errorf("apply: %w", err)
		} else if err = btx.Commit(); err != nil {
			err = fmt.Errorf("commit: %w", err)
		}
	}
	if d.commitHook != nil {
		d.commitHook("committed")
	}
	d.commits.Add(1)
	b.err = err
	close(b.done)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrCommitFailed, err)
	}
	for _, r := range b.reqs {
		r.done <- err
	}
}

// call runs fn on t exactly once, turning a panic into an error, and marks
// t done.
func call(fn func(store.Tx) error, t *tx) (err error) {
	defer func() {
		t.done.Store(true)
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", ErrPanic, p, debug.Stack())
		}
	}()
	return fn(t)
}
