// Package bolt is the default, persistent implementation of [store.Store]: a
// single bbolt file written through group commit.
//
// # Group commit
//
// bbolt allows one read-write transaction at a time and each commit costs
// two fsyncs, so committing every Update on its own caps throughput at the
// disk's fsync rate. Instead one writer goroutine owns all writing.
// [DB.Update] queues its function and waits; the writer takes the first
// queued request, adds whatever else is already queued (up to
// [Options.MaxBatch], without waiting for more), opens one bbolt read-write
// transaction and runs the functions one after another. The batch is then
// committed with a single bbolt commit and every caller gets its answer.
// Unlike bbolt's DB.Batch, a function is called exactly once and no timer
// delays a lone writer.
//
// # Write buffer
//
// Functions do not write to bbolt while they run. Every Put and Delete of a
// batch goes to one in-memory write buffer: a hash map per bucket, where a
// later write of a key replaces the earlier one and a Delete leaves a
// tombstone. Reads see the buffer first, then the bbolt transaction, which
// holds only what was committed before the batch; a function therefore
// sees its own writes and those of the functions before it in the batch
// that succeeded. Scan merges the buffered writes of its bucket, ordered by
// a B-tree built on the bucket's first Scan, with a bbolt cursor, in either
// direction, tombstones hiding keys.
//
// When a function returns an error (or panics), the writes it made are
// undone from an undo log kept while it runs, so the buffer holds exactly
// the writes of the functions that succeeded: one request's failure neither
// undoes nor delays the others. Just before the commit, the buffer is
// applied to the bbolt transaction once, in (bucket, key) order. Keys that
// every Update rewrites (counters, balances, daily totals) thus reach bbolt
// once per batch however many functions wrote them, and bbolt receives its
// writes in the order of its B+tree. If applying the buffer or the commit
// fails (an I/O error, or bbolt refusing a write, such as a Put over a
// nested bucket of a file written by other means), nothing of the batch is
// written and every request of the batch whose function succeeded gets
// that error. A batch whose functions wrote nothing is not committed.
//
// A lone request, and a large Update such as a bulk import, use the same
// buffer: a function alone in its transaction needs no undo log, as its
// failure drops the whole buffer. (Writing a lone request straight to bbolt
// measured no faster: bbolt's commit dominates its cost, while buffering
// coalesces the repeated writes of a large Update and sorts them.)
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
// much memory.
//
// View runs a plain bbolt read-only transaction. Keep Views short: an open
// read transaction prevents bbolt from growing its memory map, so once the
// file outgrows [Options.InitialMmapSize] the commit that must grow it waits
// for every open View (and a View that waits for an Update then deadlocks).
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
// returned as is; a commit failure is returned wrapped. It returns
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

// Close stops accepting Updates, lets the writer finish the queued ones,
// and closes the file (waiting for running Views). Later calls, including a
// second Close, return an error wrapping [store.ErrClosed].
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

// writer is the single goroutine that runs Update functions and commits.
func (d *DB) writer() {
	defer close(d.finished)
	batch := make([]*request, 0, d.maxBatch)
	for first := range d.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < d.maxBatch {
			select {
			case r, ok := <-d.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		d.runBatch(batch)
		clear(batch) // drop references to answered requests
	}
}

// runBatch runs the requests of one batch in one bbolt transaction and
// answers each of them.
func (d *DB) runBatch(batch []*request) {
	d.requests.Add(uint64(len(batch)))
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}

	btx, err := d.db.Begin(true)
	if err != nil {
		for _, r := range live {
			r.done <- fmt.Errorf("bolt: update: begin: %w", err)
		}
		return
	}
	// The functions write to buf; btx holds only the state committed
	// before the batch until buf is applied, below.
	buf := newBuffer()
	// A function alone in the transaction needs no undo log: when it fails,
	// ok stays empty and the whole buffer is dropped.
	buf.track = len(live) > 1
	ok := live[:0]
	for _, r := range live {
		if err := call(r.fn, &tx{btx: btx, buf: buf}); err != nil {
			buf.rollback() // nothing of r is left in buf
			r.done <- err
			continue
		}
		buf.keep()
		ok = append(ok, r)
	}
	if len(ok) == 0 || buf.empty() {
		// Nothing to write. What the functions read was committed, and
		// synced, by earlier Updates: there is nothing to wait for.
		_ = btx.Rollback()
		for _, r := range ok {
			r.done <- nil
		}
		return
	}
	// The writes of every successful function are applied at once. If that
	// or the commit fails, none of them is written and each of them gets
	// the error: their functions' writes cannot be told apart any more.
	if err = buf.apply(btx); err != nil {
		_ = btx.Rollback()
		err = fmt.Errorf("bolt: update: apply: %w", err)
	} else if err = btx.Commit(); err != nil {
		err = fmt.Errorf("bolt: update: commit: %w", err)
	}
	d.commits.Add(1)
	for _, r := range ok {
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
