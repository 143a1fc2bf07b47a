package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
)

// Options configures a [Store]; a nil *Options means the defaults. New
// refuses, with an error wrapping store.ErrInvalid that names it, a
// negative count, Stripes above 65,536 and a Schema of more than 63
// bytes (PostgreSQL would cut it) or with a NUL.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables,
	// created when missing (which needs the CREATE privilege on the
	// database; a schema that exists needs only the privilege to create
	// tables in it, until they are made). Stores in different schemas of
	// one database are independent. Empty means "membership".
	Schema string
	// MaxAttempts is how many times Update runs a function whose
	// transaction keeps losing conflicts before it gives up with an error
	// wrapping store.ErrConflict. Zero means 100.
	MaxAttempts int
	// Stripes is how many keys the library splits each total that every
	// member adds to (store.Striper). A transaction adds to the stripe of
	// its connection (store.StripeChooser: the server process's ID modulo
	// Stripes), so two transactions in flight at once add to one stripe,
	// and conflict there, only when their processes' IDs differ by a
	// multiple of Stripes. Zero means 1,024; each stripe is a row, per
	// pool and per day, so more stripes cost space and summing time.
	Stripes int
	// Group is the most Updates one transaction runs together: Updates
	// that arrive while the pool's connections are busy wait, and are run
	// in groups, one function after the other (see Store.Update). Zero
	// means 4; 1 runs each Update in a transaction of its own. Larger
	// groups save more round trips and statements but, in SERIALIZABLE,
	// conflict more often, and a group that conflicts runs each of its
	// functions again alone: in BenchmarkProgram64 (8 connections, 64
	// callers) groups of 4 ran 0.1–0.4% of the events again, groups of 6
	// 20% and of 8 a third, and were slower than no groups (see the
	// package documentation, Groups).
	Group int
}

// maxSchemaLen is the longest name PostgreSQL keeps whole (NAMEDATALEN
// 64, less its NUL): it cuts a longer one, so two names alike in their
// first 63 bytes would name one schema.
const maxSchemaLen = 63

// check refuses, with an error wrapping store.ErrInvalid that names it,
// an option out of its range, before New reads or creates anything: a
// negative count, more Stripes than a total has (total.MaxStripes: a
// stripe's number is two bytes), a Schema of more than 63 bytes or with
// a NUL.
func (o *Options) check() error {
	for _, c := range []struct {
		name string
		v    int
	}{{"MaxAttempts", o.MaxAttempts}, {"Stripes", o.Stripes}, {"Group", o.Group}} {
		if c.v < 0 {
			return fmt.Errorf("negative %s %d: %w", c.name, c.v, store.ErrInvalid)
		}
	}
	switch {
	case o.Stripes > total.MaxStripes:
		return fmt.Errorf("Stripes %d is above %d: %w", o.Stripes, total.MaxStripes, store.ErrInvalid)
	case len(o.Schema) > maxSchemaLen:
		return fmt.Errorf("Schema %q is longer than %d bytes: %w", o.Schema, maxSchemaLen, store.ErrInvalid)
	case strings.ContainsRune(o.Schema, 0):
		return fmt.Errorf("Schema %q holds a NUL: %w", o.Schema, store.ErrInvalid)
	}
	return nil
}

// Stats counts what a [Store] did since it was opened.
type Stats struct {
	// Updates is the number of Update calls that ran their function.
	Updates int64
	// Retries is the number of runs of Update functions discarded on a
	// conflict (SQLSTATE 40001 or 40P01), or with the group they ran in
	// (see Store.Update), and run again. A run discarded and not run
	// again is not one: the Update gave up (GaveUp), or its context
	// ended (in a group of one, a context that ends mid-run fails the
	// statements, and was counted as a retry).
	Retries int64
	// GaveUp is the number of Updates that returned store.ErrConflict.
	GaveUp int64
	// RoundTrips is the number of requests that Updates, all their runs
	// included, sent to the server and waited for: a read (or a Preload),
	// the commit batch, a rollback after an error. Each statement is
	// prepared once a connection, in a round trip of its own that is not
	// counted.
	RoundTrips int64
	// Views and ViewRoundTrips count the Views and their round trips.
	Views, ViewRoundTrips int64
	// Groups is the number of transactions committed that ran several
	// Updates (Options.Group), and Grouped the Updates they ran.
	Groups, Grouped int64
}

// ErrSchemaTooNew is wrapped by the error Open and New return when the
// database holds a schema version newer than this code knows: a newer
// release migrated it, and this one must not write to it.
var ErrSchemaTooNew = errors.New("postgres: the database's schema is newer than this code")

// Store is a [store.Store] in a PostgreSQL database. Its methods are safe
// for concurrent use, by several goroutines and by several processes on
// one database.
type Store struct {
	pool        *pgxpool.Pool
	ownPool     bool
	sql         queries
	schema      string          // Options.Schema, quoted
	prepare     bool            // name the statements, prepared on each connection (see tx.queue)
	tracer      pgx.BatchTracer // the pool's, told of each round trip (wire.go)
	maxAttempts int
	stripes     int
	group       int // Options.Group

	// The queue of Updates waiting for a group (group.go), and how many
	// Updates lead groups, at most maxLeaders.
	gmu                 sync.Mutex
	queue               []*call
	leaders, maxLeaders int

	mu     sync.Mutex
	closed bool
	active int        // calls running
	idle   *sync.Cond // signalled when active drops to zero after Close

	updates, retries, gaveUp, roundTrips, views, viewRoundTrips atomic.Int64
	groups, grouped                                             atomic.Int64

	scratch  sync.Pool // of *scratch, see there
	encoders sync.Pool // of *encoder (wire.go)
	maps     sync.Pool // of *txMaps, see there

	packed atomic.Pointer[map[string]bool] // the buckets packed (pack.go), nil: none
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.Striper       = (*Store)(nil)
	_ store.Prefetcher    = (*Store)(nil)
	_ store.Adder         = (*tx)(nil)
	_ store.Inserter      = (*tx)(nil)
	_ store.Ensurer       = (*tx)(nil)
	_ store.StripeChooser = (*tx)(nil)
)

// Stripes returns Options.Stripes (store.Striper).
func (s *Store) Stripes() int { return s.stripes }

// Open connects to the database dsn names (a PostgreSQL connection
// string or URL; pool settings such as pool_max_conns may be added, see
// pgxpool.ParseConfig) and opens the store in it as [New] does, with
// New's errors. A dsn that does not parse is refused with an error
// wrapping store.ErrInvalid; Open connects only in New, so a server that
// cannot be reached is store.ErrFailed there. Close closes the
// connections.
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w: %w", store.ErrInvalid, err)
	}
	// It connects on first use (New's), so what it refuses is cfg.
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w: %w", store.ErrInvalid, err)
	}
	s, err := New(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// New opens the store on pool, which the caller keeps (Close leaves it
// open): it creates the schema's tables or migrates them to
// [SchemaVersion], and returns an error wrapping [ErrSchemaTooNew] when
// the database's version is newer. Any number of processes may open one
// schema at once; they migrate it once. An option out of its range is
// refused with an error wrapping store.ErrInvalid. What the server or the
// connection made fail (no server to be reached, a connect_timeout of the
// pool's ending, a statement of the migration refused, such as CREATE
// SCHEMA by a role without the privilege) is an error wrapping
// store.ErrFailed, as Update's are, which a host may retry (the database
// not up yet), and comes after one connection attempt; ctx's own end is
// ctx's error, not ErrFailed, and a pool already closed gives
// store.ErrClosed. Close the store before the pool:
// once the pool is closed, every call that needs a connection returns an
// error wrapping store.ErrClosed, as after Close.
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if o.Schema == "" {
		o.Schema = "membership"
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 100
	}
	if o.Stripes <= 0 {
		o.Stripes = 1024
	}
	if o.Group <= 0 {
		o.Group = 4
	}
	s := &Store{pool: pool, sql: newQueries(o.Schema), schema: pgx.Identifier{o.Schema}.Sanitize(), maxAttempts: o.MaxAttempts, stripes: o.Stripes,
		group: o.Group, maxLeaders: int(pool.Config().MaxConns)}
	s.scratch.New = func() any { return new(scratch) }
	s.encoders.New = func() any { return new(encoder) }
	s.maps.New = func() any { return new(txMaps) }
	// pgx's default mode prepares every statement: then the store
	// prepares its own, by name (tx.queue). A pool in another mode (a
	// pooler in transaction mode wants no prepared statements) gets them
	// unnamed.
	s.prepare = pool.Config().ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement
	// Read once: a pgx.Conn's Config returns a copy.
	s.tracer, _ = pool.Config().ConnConfig.Tracer.(pgx.BatchTracer)
	s.idle = sync.NewCond(&s.mu)
	if err := s.migrate(ctx, o.Schema); err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", openFailed(ctx, err))
	}
	if err := s.loadPacked(ctx); err != nil {
		return nil, fmt.Errorf("postgres: open: %w", openFailed(ctx, err))
	}
	return s, nil
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Updates:        s.updates.Load(),
		Retries:        s.retries.Load(),
		GaveUp:         s.gaveUp.Load(),
		RoundTrips:     s.roundTrips.Load(),
		Views:          s.views.Load(),
		ViewRoundTrips: s.viewRoundTrips.Load(),
		Groups:         s.groups.Load(),
		Grouped:        s.grouped.Load(),
	}
}

func (s *Store) enter(op string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrClosed)
	}
	s.active++
	return nil
}

func (s *Store) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	if s.active == 0 && s.closed {
		s.idle.Broadcast()
	}
}

// Close waits for the running Updates and Views, then releases the store
// (and closes the pool when the store was made by Open). Every later call
// returns an error wrapping store.ErrClosed, a second Close included.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("postgres: close: %w", store.ErrClosed)
	}
	s.closed = true
	for s.active > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

// View runs fn once in a REPEATABLE READ READ ONLY transaction: one
// snapshot of the database. It returns fn's error, ctx.Err() if ctx is
// done before fn runs, an error wrapping store.ErrClosed, or, when a read
// failed and fn returned nil all the same, that failure's error: wrapping
// store.ErrConflict for a serialization failure or a deadlock (a hot
// standby's recovery conflict, say; fn is not run again), else
// store.ErrFailed. A nil fn is an error wrapping store.ErrInvalid.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if fn == nil {
		return fmt.Errorf("postgres: view: nil function: %w", store.ErrInvalid)
	}
	if err := s.enter("view"); err != nil {
		return err
	}
	defer s.leave()
	if err := ctx.Err(); err != nil {
		return err
	}
	s.views.Add(1)
	err, _ := s.run(ctx, fn, false, nil)
	return err
}

// Update runs fn in a SERIALIZABLE transaction, with its reads sent to the
// server and its writes kept in the transaction until fn returns nil, then
// sent with the commit in one batch. When the server reports a
// serialization failure (SQLSTATE 40001) or a deadlock (40P01), during a
// read or at the commit, the transaction is discarded and fn runs again on
// a new one, after a short random wait that grows with the attempts; after
// Options.MaxAttempts runs Update returns an error wrapping
// store.ErrConflict and the last *pgconn.PgError. When fn returns an error
// after reading, the transaction is committed anyway (it wrote nothing):
// the error is returned only if what fn read still holds; when the commit
// fails on a conflict fn runs again. Update returns ctx.Err() if ctx is
// done before fn runs and an error wrapping store.ErrClosed after Close.
// When ctx ends during the commit of fn's writes, whether they were
// committed is unknown: the error wraps store.ErrFailed and ctx's error.
// A nil fn is an error wrapping store.ErrInvalid, returned before
// anything is sent.
//
// Updates called while every connection of the pool is busy with others
// are run in groups of up to Options.Group in one transaction, one
// function after the other, each seeing the writes of those before it;
// a function that returns an error has its writes undone and the others
// go on. When the group's transaction fails (a conflict, a panic of one
// of its functions, which is raised again in that function's Update, or
// a commit the server refuses), the other functions of the group run
// again, each in a transaction of its own as above. An Update whose
// context ends while it is queued leaves the queue and returns ctx.Err()
// at once; one that joined a group waits for the group's transaction,
// which its context does not cancel once its function ran, unless the
// group is of that Update alone (as when the store is not busy): its
// context then ends its reads and commit as above. A group that
// waits for a connection (from a server that stopped answering, say)
// stops waiting when the context of one of its Updates ends, and each
// then runs alone under its own context, as above: no Update waits for
// a connection past its context's end.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.update(ctx, nil, fn)
}

// UpdatePrefetch is Update, told what fn reads first (store.Prefetcher):
// a group reads what its functions named in one round trip before they
// run, so that their own Preloads find it read.
func (s *Store) UpdatePrefetch(ctx context.Context, reads []store.Read, fn func(store.Tx) error) error {
	return s.update(ctx, reads, fn)
}

func (s *Store) update(ctx context.Context, reads []store.Read, fn func(store.Tx) error) error {
	if fn == nil {
		return fmt.Errorf("postgres: update: nil function: %w", store.ErrInvalid)
	}
	if err := s.enter("update"); err != nil {
		return err
	}
	defer s.leave()
	if err := ctx.Err(); err != nil {
		return err
	}
	s.updates.Add(1)
	attempt := 1
	present := map[[2]string]bool{} // keys Insert found present (store.Inserter)
	if s.group > 1 {
		err, conflict, found, ran, done := s.inGroup(ctx, reads, fn)
		switch {
		case done:
			return err
		case conflict != nil && attempt >= s.maxAttempts:
			s.gaveUp.Add(1)
			return fmt.Errorf("postgres: update: %d runs lost a conflict: %w (last: %w)", attempt, store.ErrConflict, conflict)
		case conflict != nil:
			if err := wait(ctx, attempt); err != nil {
				return err
			}
			attempt++
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if found != nil {
			present = found
		}
		if ran {
			// Run again alone: a retry (a run whose context ended, or
			// that gave up, is not run again and is not one).
			s.retries.Add(1)
		}
	}
	for ; ; attempt++ {
		err, conflict := s.run(ctx, fn, true, present)
		if conflict == nil {
			return err
		}
		if attempt >= s.maxAttempts {
			s.gaveUp.Add(1)
			return fmt.Errorf("postgres: update: %d runs lost a conflict: %w (last: %w)", attempt, store.ErrConflict, conflict)
		}
		s.retries.Add(1)
		if err := wait(ctx, attempt); err != nil {
			return err
		}
	}
}

// wait sleeps a random time below 100µs·2^(attempt-1), at most 25ms, or
// until ctx is done, so that transactions that conflicted do not meet
// again at once.
func wait(ctx context.Context, attempt int) error {
	limit := min(100*time.Microsecond<<min(attempt-1, 10), 25*time.Millisecond)
	t := time.NewTimer(rand.N(limit))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isUniqueViolation reports whether err is a unique violation (23505): an
// Insert met a key that exists.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// notText reports whether err is the additions' statement's error for a
// stripe that is not decimal text: an invalid byte sequence (22021: a
// NUL, which internal/codec's binary amounts begin with or hold) or
// invalid input for numeric (22P02). The additions themselves are always
// text, written by decimal.Decimal.String.
func notText(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "22021" || pe.Code == "22P02")
}

// isConflict reports whether err is a serialization failure or a
// deadlock, after which a transaction may succeed when run again.
func isConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// run runs fn once in a transaction and ends it. It returns fn's result
// (nil when committed), or a non-nil conflict when the run was discarded
// on a conflict and fn may run again.
func (s *Store) run(ctx context.Context, fn func(store.Tx) error, writable bool, present map[[2]string]bool) (result, conflict error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return acquireError(ctx, err), nil
	}
	t := newTx(s, ctx, conn.Conn(), writable, present)
	defer func() {
		t.done = true
		t.end() // after a panic too
		t.release()
		if writable {
			s.roundTrips.Add(t.roundTrips)
		} else {
			s.viewRoundTrips.Add(t.roundTrips)
		}
		conn.Release()
	}()
	ferr := fn(t)
	t.done = true
	if t.err != nil { // the transaction failed on the server
		switch {
		case writable && isConflict(t.err):
			return nil, t.err
		case ferr != nil:
			return ferr, nil
		}
		// A View's conflict too: its function runs once.
		return fmt.Errorf("postgres: function returned nil after an error: %w", serverError(t.err)), nil
	}
	if !writable || (ferr != nil && !t.begun) {
		return ferr, nil
	}
	if err := t.commit(ferr == nil); err != nil {
		if isConflict(err) {
			return nil, err
		}
		if ferr != nil {
			return ferr, nil
		}
		return fmt.Errorf("postgres: commit: %w", failedCommit(err)), nil
	}
	return ferr, nil
}

// failedCommit is failed for the error of a commit: the caller's context
// that ended once the COMMIT was sent (pgx then closes the connection)
// leaves the outcome unknown, as a connection lost there does, so the
// error wraps store.ErrFailed as well as the context's.
func failedCommit(err error) error {
	if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && !pgconn.SafeToRetry(err) {
		return fmt.Errorf("%w: the context ended during the commit, whose outcome is unknown: %w", store.ErrFailed, err)
	}
	return failed(err)
}

// acquireError is the error of a run that got no connection. A pool
// closed by its owner (New leaves the pool to the caller) never gives one
// again: the store is as closed, and says so with store.ErrClosed, so
// that callers that stop on it (webhook's Run, a replay) stop.
// The end of the caller's ctx is told from a connection attempt's own
// timeout (the DSN's connect_timeout, which wraps
// context.DeadlineExceeded too) as New tells it (openFailed).
func acquireError(ctx context.Context, err error) error {
	return fmt.Errorf("postgres: acquire a connection: %w", openFailed(ctx, err))
}

// serverError wraps err, an error of the server or of the connection, in
// store.ErrConflict when it is a conflict, else as failed does.
func serverError(err error) error {
	if isConflict(err) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return failed(err)
}

// failed wraps err, an error of the server or of the connection, in
// store.ErrFailed (see its doc), so that callers tell it from a refusal of
// their input; an error of the caller's context stays as it is.
func failed(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrFailed, err)
}

// openFailed is failed for New's errors, its migration's made outside
// any Update, and for a failure to get a connection: it wraps in store.ErrFailed what the server or the
// connection made fail, so that a host retrying on it at start-up
// retries a server not up yet, but not the end of ctx, a newer schema
// (ErrSchemaTooNew), a pool its owner closed (store.ErrClosed, as in
// acquireError) or an error an Update wrapped already. It asks whether
// ctx ended rather than whether err wraps a context's error, as failed
// does: a connect_timeout of the pool's ending wraps
// context.DeadlineExceeded too, and is the server's failure.
func openFailed(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrSchemaTooNew), errors.Is(err, store.ErrFailed), errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrCorrupt):
		return err
	case errors.Is(err, puddle.ErrClosedPool):
		return fmt.Errorf("the pool was closed: %w: %w", store.ErrClosed, err)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrFailed, err)
}

// Bucket names, keys and values are bytea: a bucket name may hold any
// byte (text may not hold NUL), and bytea compares bytewise, the order
// store.Tx requires.
//
// An instance of an earlier release keeps writing after a later one
// migrated the schema (it checks the version only at New), so a
// migration that changes what code of an earlier version would read or
// write wrongly must make the server refuse that code's writes; the
// package documentation (Schema versions) lists what each one does.
var migrations = [...]migration{
	// 1: the key-value table.
	sqlMigration(`CREATE TABLE %[1]s.kv (
		bucket bytea NOT NULL,
		key bytea NOT NULL,
		value bytea NOT NULL,
		PRIMARY KEY (bucket, key)
	)`),
	// 2: room in each page for updates that stay in it (HOT): an update
	// that leaves the page adds an index entry, which conflicts with any
	// transaction that read a range of the index page it lands in.
	sqlMigration(`ALTER TABLE %[1]s.kv SET (fillfactor = 70)`),
	// 3: a member's records of some buckets may be kept in one row
	// (store.Packer, pack.go), which code of an earlier version would not
	// find: it refuses the schema at New (an instance already running
	// is held off by version 4's constraint).
	sqlMigration(`COMMENT ON TABLE %[1]s.kv IS 'memberkit/membership store/postgres: see its package documentation'`),
	// 4: a store that packs refuses a row of a packed bucket under a
	// member's key, which only code of an earlier version writes
	// (refuseUnpacked).
	refuseUnpackedMigration,
}

// A migration brings the schema q (quoted) to its version, in the
// transaction that migrates.
type migration func(ctx context.Context, tx pgx.Tx, q string) error

// sqlMigration is a migration of one statement, with the schema as %[1]s.
func sqlMigration(sql string) migration {
	return func(ctx context.Context, tx pgx.Tx, q string) error {
		_, err := tx.Exec(ctx, fmt.Sprintf(sql, q))
		return err
	}
}

// SchemaVersion is the version of the schema this code creates and
// writes: the number of its migrations.
const SchemaVersion = len(migrations)

// migrate brings schema to SchemaVersion, under an advisory lock so that
// processes opening it at once migrate it once. New wraps its errors
// (openFailed).
func (s *Store) migrate(ctx context.Context, schema string) error {
	q := pgx.Identifier{schema}.Sanitize()
	version, err := s.schemaVersion(ctx, schema, q)
	// A failure of the check only sends New to the migration, which
	// reports it, but a failure to connect would be met there again after
	// another connect_timeout: it is returned now.
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return err
	}
	if err == nil && version == SchemaVersion {
		return nil
	}
	if err == nil && version > SchemaVersion {
		return fmt.Errorf("schema %s is at version %d, this code knows %d: %w", q, version, SchemaVersion, ErrSchemaTooNew)
	}
	// A session lock, taken before the transaction that migrates: that
	// transaction then starts after another process's migration committed
	// and sees what it created (a lock taken inside it would leave stale
	// catalog caches, and CREATE ... IF NOT EXISTS would fail).
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const lockKey = `hashtext('memberkit/membership store/postgres'), hashtext($1)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, schema); err != nil {
		return err
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKey+`)`, schema); err != nil {
			_ = conn.Conn().Close(ctx) // the lock goes with the session
		}
	}()
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// Created only when missing: CREATE SCHEMA IF NOT EXISTS needs
		// the CREATE privilege on the database even when the schema
		// exists, which a role given a schema of its own need not have.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %s`, q)); err != nil {
				return fmt.Errorf("creating schema %s: %w", q, err)
			}
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.schema_version (
			version integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`, q))
		if err != nil {
			return err
		}
		var version int
		if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(max(version), 0) FROM %s.schema_version`, q)).Scan(&version); err != nil {
			return err
		}
		if version > SchemaVersion {
			return fmt.Errorf("schema %s is at version %d, this code knows %d: %w", q, version, SchemaVersion, ErrSchemaTooNew)
		}
		for v := version; v < SchemaVersion; v++ {
			if err := migrations[v](ctx, tx, q); err != nil {
				return fmt.Errorf("migrating to version %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.schema_version (version) VALUES ($1)`, q), v+1); err != nil {
				return err
			}
		}
		return nil
	})
}

// schemaVersion returns the version recorded in schema, 0 when it has no
// schema_version table.
func (s *Store) schemaVersion(ctx context.Context, schema, quoted string) (int, error) {
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, quoted+".schema_version").Scan(&exists)
	if err != nil || !exists {
		return 0, err
	}
	var version int
	err = s.pool.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(max(version), 0) FROM %s.schema_version`, quoted)).Scan(&version)
	return version, err
}

// queries holds the statements, with the schema's name in them.
type queries struct {
	beginUpdate, beginView string
	get, getMany           string
	scan                   [2][2]string // [reverse][bounded]: bounded has an end key
	upsert, delete, commit string
	ensure                 string
	add, insert, update    string
	rollback, settings     string
	// names maps each statement to the name it is prepared under: the
	// schema is in the statement, so stores in different schemas that
	// share a pool prepare statements of different names.
	names map[string]string
}

func newQueries(schema string) queries {
	kv := pgx.Identifier{schema, "kv"}.Sanitize()
	q := queries{
		beginUpdate: `BEGIN ISOLATION LEVEL SERIALIZABLE`,
		beginView:   `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`,
		// A sequential scan takes a predicate lock on the whole table,
		// which makes every concurrent writer a conflict; the store's
		// statements all have an index to use, so make the planner use
		// it, even on a small table, and a plain index scan (in key
		// order, as Scan wants; a bitmap scan sorts what it read). A
		// custom plan would be made again at each run of a statement
		// (PostgreSQL makes five before it weighs a generic one, and
		// keeps making them when the generic plan's estimate of the
		// unnest joins is worse), which costs the server more than the
		// run: every statement here has the same best plan whatever its
		// parameters (an index scan of the primary key), so the generic
		// one, made once a connection.
		settings: `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
			set_config('plan_cache_mode', 'force_generic_plan', true)`,
		get: `SELECT value FROM ` + kv + ` WHERE bucket = $1 AND key = $2`,
		getMany: `SELECT k.i, kv.value FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS k(bucket, key, i)
			JOIN ` + kv + ` kv ON kv.bucket = k.bucket AND kv.key = k.key`,
		upsert: `INSERT INTO ` + kv + ` (bucket, key, value)
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[])
			ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`,
		update: `UPDATE ` + kv + ` kv SET value = u.value FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) AS u(bucket, key, value)
			WHERE kv.bucket = u.bucket AND kv.key = u.key`,
		delete: `DELETE FROM ` + kv + ` kv USING unnest($1::bytea[], $2::bytea[]) AS d(bucket, key)
			WHERE kv.bucket = d.bucket AND kv.key = d.key`,
		insert: `INSERT INTO ` + kv + ` (bucket, key, value)
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[])`,
		// An existing key is left as it is, unlocked and unwritten.
		ensure: `INSERT INTO ` + kv + ` (bucket, key, value)
			SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[])
			ON CONFLICT (bucket, key) DO NOTHING`,
		// A total's stripe is decimal text (store.Adder), added to on the
		// server: the transaction never reads it. A stripe that is not
		// decimal text as the store writes it fails the statement
		// (commit: notText), which the CASE makes sure of: numeric would
		// take 'NaN', 'Infinity' or ' 5', which internal/total refuses as
		// damaged, and a NaN or an infinity would swallow the addition.
		add: `INSERT INTO ` + kv + ` AS kv (bucket, key, value)
			SELECT b, k, convert_to(d::numeric::text, 'UTF8') FROM unnest($1::bytea[], $2::bytea[], $3::text[]) AS t(b, k, d)
			ON CONFLICT (bucket, key) DO UPDATE SET value = convert_to((
			CASE WHEN convert_from(kv.value, 'UTF8') ~ '^-?[0-9]+(\.[0-9]+)?$' THEN convert_from(kv.value, 'UTF8')
			ELSE 'not decimal text: ' || convert_from(kv.value, 'UTF8') END::numeric
			+ convert_from(excluded.value, 'UTF8')::numeric)::text, 'UTF8')`,
		commit:   `COMMIT`,
		rollback: `ROLLBACK`,
	}
	for r, order := range []string{"key", "key DESC"} {
		q.scan[r][0] = `SELECT key, value FROM ` + kv + ` WHERE bucket = $1 AND key >= $2 ORDER BY ` + order + ` LIMIT $3`
		q.scan[r][1] = `SELECT key, value FROM ` + kv + ` WHERE bucket = $1 AND key >= $2 AND key < $4 ORDER BY ` + order + ` LIMIT $3`
	}
	q.names = map[string]string{}
	for _, sql := range []string{q.beginUpdate, q.beginView, q.get, q.getMany, q.scan[0][0], q.scan[0][1], q.scan[1][0], q.scan[1][1],
		q.upsert, q.delete, q.commit, q.ensure, q.add, q.insert, q.update, q.rollback, q.settings} {
		sum := sha256.Sum256([]byte(sql))
		q.names[sql] = "membership_" + hex.EncodeToString(sum[:12])
	}
	return q
}
