package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/store/storetest"
)

// dsnEnv names the environment variable that holds the DSN of the
// PostgreSQL database the tests and benchmarks use. Each test makes
// schemas of its own in it and drops them.
const dsnEnv = "MEMBERSHIP_PG_DSN"

var (
	poolOnce sync.Once
	pool     *pgxpool.Pool
	poolErr  error
	schemas  atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pool != nil {
		pool.Close()
	}
	os.Exit(code)
}

// dsn returns the test database's DSN. Without one the test is skipped,
// except in CI (CI set), where it fails: CI must run these tests.
func dsn(tb testing.TB) string {
	tb.Helper()
	d := os.Getenv(dsnEnv)
	if d == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set: in CI the PostgreSQL tests must run (.ci/run starts a server and sets it)", dsnEnv)
		}
		tb.Skipf("%s is not set: no PostgreSQL server to test on (see store/postgres/README.md)", dsnEnv)
	}
	return d
}

// testPool returns the pool that the test binary shares, 8 connections
// unless the DSN says otherwise.
func testPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	d := dsn(tb)
	poolOnce.Do(func() {
		cfg, err := pgxpool.ParseConfig(d)
		if err != nil {
			poolErr = err
			return
		}
		if !strings.Contains(d, "pool_max_conns") {
			cfg.MaxConns = 8
		}
		pool, poolErr = pgxpool.NewWithConfig(context.Background(), cfg)
	})
	if poolErr != nil {
		tb.Fatalf("connecting to %s: %v", dsnEnv, poolErr)
	}
	return pool
}

// newSchema returns the name of a schema of the test's own, dropped when
// the test ends.
func newSchema(tb testing.TB, p *pgxpool.Pool) string {
	tb.Helper()
	name := fmt.Sprintf("storetest_%d_%d", os.Getpid(), schemas.Add(1))
	tb.Cleanup(func() {
		_, err := p.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		if err != nil {
			tb.Errorf("dropping schema %s: %v", name, err)
		}
	})
	return name
}

// openStore opens a store in a new schema, closed when the test ends.
func openStore(tb testing.TB, opts *postgres.Options) *postgres.Store {
	tb.Helper()
	p := testPool(tb)
	var o postgres.Options
	if opts != nil {
		o = *opts
	}
	if o.Schema == "" {
		o.Schema = newSchema(tb, p)
	}
	s, err := postgres.New(context.Background(), p, &o)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	testPool(t) // skip, or fail in CI, once
	storetest.Run(t, func(t *testing.T) store.Store { return openStore(t, nil) })
}

func TestSchema(t *testing.T) {
	p := testPool(t)
	ctx := t.Context()
	schema := newSchema(t, p)
	versions := func() []int {
		t.Helper()
		rows, _ := p.Query(ctx, "SELECT version FROM "+pgx.Identifier{schema, "schema_version"}.Sanitize()+" ORDER BY version")
		v, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			t.Fatalf("reading schema_version: %v", err)
		}
		return v
	}

	// Four processes opening a new database at once migrate it once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := postgres.New(ctx, p, &postgres.Options{Schema: schema})
			if err != nil {
				t.Errorf("New on a new schema: %v", err)
				return
			}
			if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
				t.Errorf("Update: %v", err)
			}
			_ = s.Close()
		})
	}
	wg.Wait()
	want := make([]int, postgres.SchemaVersion)
	for i := range want {
		want[i] = i + 1
	}
	if got := versions(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema_version holds %v after four concurrent New; want %v", got, want)
	}

	// Opening it again keeps the data and migrates nothing.
	s := openStore(t, &postgres.Options{Schema: schema})
	err := s.View(ctx, func(tx store.Tx) error {
		v, err := tx.Get("b", []byte("k"))
		if err != nil || string(v) != "v" {
			t.Errorf("after reopening, Get = %q, %v; want %q", v, err, "v")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if got := versions(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema_version holds %v after reopening; want %v", got, want)
	}

	// A newer release migrated the database: this code refuses it.
	_, err = p.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "schema_version"}.Sanitize()+" (version) VALUES ($1)", postgres.SchemaVersion+1)
	if err != nil {
		t.Fatalf("recording a newer version: %v", err)
	}
	if _, err := postgres.New(ctx, p, &postgres.Options{Schema: schema}); !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Errorf("New on a schema at version %d = %v; want an error wrapping ErrSchemaTooNew", postgres.SchemaVersion+1, err)
	}
	if s, err := postgres.Open(ctx, dsn(t), &postgres.Options{Schema: schema}); !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Errorf("Open on a schema at version %d = %v; want an error wrapping ErrSchemaTooNew", postgres.SchemaVersion+1, err)
		if err == nil {
			_ = s.Close()
		}
	}
}

// rolePool returns a pool of the tests' server whose connections act as
// role (SET ROLE), closed when the test ends.
func rolePool(t *testing.T, role string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET ROLE "+role)
		return err
	}
	p, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestSchemaOwnedByAnotherRole opens the store as a role that may not
// create schemas in the database (it has no CREATE on it, as roles but
// its owner have none by default) in a schema made for it beforehand and
// owned by it: the store makes its tables there. In a schema that does
// not exist, New fails naming the schema it could not create.
func TestSchemaOwnedByAnotherRole(t *testing.T) {
	admin := testPool(t)
	ctx := t.Context()
	role := fmt.Sprintf("membership_test_%d", os.Getpid())
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" NOLOGIN"); err != nil {
		t.Fatalf("creating a role (the tests' user must be allowed to, see README.md): %v", err)
	}
	t.Cleanup(func() {
		// After the schema's cleanup, registered later, which runs first.
		if _, err := admin.Exec(context.Background(), "DROP ROLE "+role); err != nil {
			t.Errorf("dropping role %s: %v", role, err)
		}
	})
	schema := newSchema(t, admin)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema+" AUTHORIZATION "+role); err != nil {
		t.Fatal(err)
	}
	p := rolePool(t, role)
	var mayCreate bool
	if err := p.QueryRow(ctx, "SELECT has_database_privilege(current_database(), 'CREATE')").Scan(&mayCreate); err != nil || mayCreate {
		t.Fatalf("the role may create schemas (%v, %v): the test needs one that may not", mayCreate, err)
	}

	s, err := postgres.New(ctx, p, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("New in a schema of the role's own, as a role that may not create schemas: %v", err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
		t.Errorf("Update: %v", err)
	}

	// The server's refusal is the store's failure, not the caller's
	// input: it wraps store.ErrFailed, as an Update's would.
	missing := schema + "_missing"
	_, err = postgres.New(ctx, p, &postgres.Options{Schema: missing})
	var pe *pgconn.PgError
	if !errors.Is(err, store.ErrFailed) || errors.Is(err, store.ErrInvalid) || !errors.As(err, &pe) || pe.Code != "42501" ||
		!strings.Contains(err.Error(), "creating schema \""+missing+"\"") {
		t.Errorf("New in a schema the role may not create = %v; want an error wrapping store.ErrFailed and SQLSTATE 42501, naming the schema", err)
	}
}

// TestOpenFailureWrapsErrFailed opens stores where no server answers:
// the failure is the store's (store.ErrFailed, which a host retries at
// start-up), but for the end of the caller's own context, a DSN that
// does not parse (store.ErrInvalid) and a pool closed before New
// (store.ErrClosed). It needs no server.
func TestOpenFailureWrapsErrFailed(t *testing.T) {
	addr, _ := silentServer(t)
	silent := "postgres://u@" + addr + "/db?sslmode=disable"

	short := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	for _, c := range []struct {
		name string
		ctx  context.Context
		dsn  string
		want error // wrapped
		not  []error
	}{
		// Port 1 refuses at once: the short context only bounds the test.
		{"connection refused", short(), "postgres://u@127.0.0.1:1/db?sslmode=disable", store.ErrFailed,
			[]error{store.ErrInvalid, context.DeadlineExceeded}},
		// The DSN's connect_timeout ends pgconn's own context, which
		// wraps context.DeadlineExceeded; the caller's has not ended.
		{"connect_timeout of the DSN", t.Context(), silent + "&connect_timeout=1", store.ErrFailed,
			[]error{store.ErrInvalid}},
		{"the caller's context ended", short(), silent, context.DeadlineExceeded,
			[]error{store.ErrFailed, store.ErrInvalid}},
		{"a DSN that does not parse", t.Context(), "postgres://u@127.0.0.1:1/db?sslmode=sometimes", store.ErrInvalid,
			[]error{store.ErrFailed}},
	} {
		s, err := postgres.Open(c.ctx, c.dsn, nil)
		if err == nil {
			s.Close()
			t.Errorf("Open, %s: succeeded; want an error wrapping %v", c.name, c.want)
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("Open, %s = %v; want an error wrapping %v", c.name, err, c.want)
		}
		for _, e := range c.not {
			if errors.Is(err, e) {
				t.Errorf("Open, %s = %v; wraps %v, want it not to", c.name, err, e)
			}
		}
	}

	// New on a pool its owner closed: the store would be closed, as
	// Update's error says, and retrying would not help.
	p, err := pgxpool.New(t.Context(), "postgres://u@127.0.0.1:1/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := postgres.New(t.Context(), p, nil); !errors.Is(err, store.ErrClosed) || errors.Is(err, store.ErrFailed) {
		t.Errorf("New on a closed pool = %v; want an error wrapping store.ErrClosed, not store.ErrFailed", err)
	}
}

func TestOpen(t *testing.T) {
	p := testPool(t)
	schema := newSchema(t, p)
	s, err := postgres.Open(t.Context(), dsn(t), &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), nil) }); err != nil {
		t.Errorf("Update: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := postgres.Open(t.Context(), "postgres://127.0.0.1:1/none?connect_timeout=1", nil); err == nil {
		t.Errorf("Open of a server that is not there succeeded; want an error")
	}
}

// readKeys are the keys of the round-trip test's Updates.
func readKeys(n int) []store.Read {
	reads := make([]store.Read, n)
	for i := range reads {
		reads[i] = store.Read{Bucket: fmt.Sprintf("b%d", i%3), Key: fmt.Appendf(nil, "k%02d", i)}
	}
	return reads
}

func TestRoundTrips(t *testing.T) {
	s := openStore(t, nil)
	ctx := t.Context()
	errBoom := errors.New("boom")
	// Half of the keys exist.
	err := s.Update(ctx, func(tx store.Tx) error {
		for i, r := range readKeys(14) {
			if i%2 == 0 {
				if err := tx.Put(r.Bucket, r.Key, []byte("v")); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	gets := func(tx store.Tx, reads []store.Read) error {
		for _, r := range reads {
			if _, err := tx.Get(r.Bucket, r.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	}
	for _, c := range []struct {
		name   string
		view   bool
		fn     func(tx store.Tx) error
		want   int64
		wantFn error
	}{
		{"Nothing", false, func(tx store.Tx) error { return nil }, 0, nil},
		{"PutsOnly", false, func(tx store.Tx) error {
			for i := range 16 {
				if err := tx.Put("w", fmt.Appendf(nil, "%d", i), nil); err != nil {
					return err
				}
			}
			return tx.Delete("w", []byte("0"))
		}, 1, nil},
		{"ThreeGets", false, func(tx store.Tx) error {
			if err := gets(tx, readKeys(3)); err != nil {
				return err
			}
			return tx.Put("w", []byte("x"), nil)
		}, 4, nil},
		{"GetsAgain", false, func(tx store.Tx) error {
			for range 3 {
				if err := gets(tx, readKeys(2)); err != nil {
					return err
				}
			}
			return nil
		}, 3, nil},
		{"PreloadedEvent", false, func(tx store.Tx) error {
			reads := readKeys(14)
			if err := store.Preload(tx, reads...); err != nil {
				return err
			}
			if err := gets(tx, reads); err != nil {
				return err
			}
			for i := range 16 {
				if err := tx.Put("w", fmt.Appendf(nil, "e%d", i), []byte("v")); err != nil {
					return err
				}
			}
			return nil
		}, 2, nil},
		{"PreloadedRangeScan", false, func(tx store.Tx) error {
			if err := store.Preload(tx, store.Read{Bucket: "b0"}, store.Read{Bucket: "b1", Start: []byte("k")}); err != nil {
				return err
			}
			for _, b := range []string{"b0", "b1"} {
				if err := tx.Scan(b, []byte("k03"), nil, true, func(k, v []byte) error { return nil }); err != nil {
					return err
				}
			}
			return gets(tx, readKeys(2))
		}, 2, nil},
		{"Rejected", false, func(tx store.Tx) error {
			if err := gets(tx, readKeys(1)); err != nil {
				return err
			}
			return errBoom
		}, 2, errBoom},
		{"ViewNothing", true, func(tx store.Tx) error { return nil }, 0, nil},
		{"ViewPreloaded", true, func(tx store.Tx) error {
			reads := readKeys(14)
			if err := store.Preload(tx, reads...); err != nil {
				return err
			}
			return gets(tx, reads)
		}, 2, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Run twice: the first run on a connection prepares the
			// statements (round trips the store does not count).
			for range 2 {
				before := s.Stats()
				var err error
				if c.view {
					err = s.View(ctx, c.fn)
				} else {
					err = s.Update(ctx, c.fn)
				}
				if err != c.wantFn {
					t.Fatalf("got error %v; want %v", err, c.wantFn)
				}
				after := s.Stats()
				got := after.RoundTrips - before.RoundTrips + after.ViewRoundTrips - before.ViewRoundTrips
				if got != c.want {
					t.Errorf("%d round trips; want %d", got, c.want)
				}
				if r := after.Retries - before.Retries; r != 0 {
					t.Errorf("%d retries; want none", r)
				}
			}
		})
	}
}

// conflicting runs an Update on s that reads k, and, in its first run,
// lets another store on the same schema (another process, say) commit a
// write of k before writing k itself: the first run's commit fails with a
// serialization failure. It returns Update's error and how many times the
// function ran.
func conflicting(t *testing.T, s, other *postgres.Store) (error, int) {
	t.Helper()
	ctx := t.Context()
	runs := 0
	err := s.Update(ctx, func(tx store.Tx) error {
		runs++
		v, err := tx.Get("b", []byte("k"))
		if err != nil {
			return err
		}
		if runs == 1 {
			err := other.Update(ctx, func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("other")) })
			if err != nil {
				t.Errorf("the other store's Update: %v", err)
			}
		}
		return tx.Put("b", []byte("k"), append(append([]byte{}, v...), "+mine"...))
	})
	return err, runs
}

func TestConflictRunsAgain(t *testing.T) {
	p := testPool(t)
	schema := newSchema(t, p)
	s := openStore(t, &postgres.Options{Schema: schema})
	other := openStore(t, &postgres.Options{Schema: schema})
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("first")) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	before := s.Stats()
	err, runs := conflicting(t, s, other)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if runs != 2 {
		t.Errorf("the function ran %d times; want 2 (the first run's commit conflicted)", runs)
	}
	after := s.Stats()
	if got := after.Retries - before.Retries; got != 1 {
		t.Errorf("Stats: %d retries; want 1", got)
	}
	err = s.View(t.Context(), func(tx store.Tx) error {
		v, err := tx.Get("b", []byte("k"))
		if string(v) != "other+mine" {
			t.Errorf("k = %q, %v; want %q: the second run read the other store's write", v, err, "other+mine")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

func TestConflictGivesUp(t *testing.T) {
	p := testPool(t)
	schema := newSchema(t, p)
	s := openStore(t, &postgres.Options{Schema: schema, MaxAttempts: 1})
	other := openStore(t, &postgres.Options{Schema: schema})
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("first")) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	err, runs := conflicting(t, s, other)
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("Update with MaxAttempts 1 whose run conflicted = %v; want an error wrapping store.ErrConflict", err)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "40001" {
		t.Errorf("Update = %v; want it to wrap the server's *pgconn.PgError with SQLSTATE 40001", err)
	}
	if runs != 1 {
		t.Errorf("the function ran %d times; want 1", runs)
	}
	if st := s.Stats(); st.GaveUp != 1 {
		t.Errorf("Stats().GaveUp = %d; want 1", st.GaveUp)
	}
	err = s.View(t.Context(), func(tx store.Tx) error {
		if v, err := tx.Get("b", []byte("k")); string(v) != "other" {
			t.Errorf("k = %q, %v; want %q: nothing of the run that gave up is written", v, err, "other")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// TestFailedRead checks that a read that fails for another reason than a
// conflict (here the context is cancelled) ends the Update with that
// error, without running it again and without committing, even when the
// function swallows the error: an Update alone (Group 1) and one of the
// default Group that runs in a group of one (before, that group's
// statements were not cancelled with its context, so the read went
// through and the Update committed had the function returned nil).
func TestFailedRead(t *testing.T) {
	for _, group := range []int{1, 0} {
		t.Run(fmt.Sprintf("Group%d", group), func(t *testing.T) {
			s := openStore(t, &postgres.Options{Group: group})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			runs := 0
			err := s.Update(ctx, func(tx store.Tx) error {
				runs++
				if err := tx.Put("b", []byte("k"), []byte("v")); err != nil {
					return err
				}
				cancel()
				if _, err := tx.Get("b", []byte("other")); !errors.Is(err, context.Canceled) {
					return fmt.Errorf("Get with a cancelled context = %v; want an error wrapping context.Canceled", err)
				}
				if _, err := tx.Get("b", []byte("k")); err == nil {
					// Read from the transaction's writes: still an error, as
					// the transaction failed.
					return errors.New("Get after a failed read succeeded")
				}
				return nil // swallow the error: Update must not commit
			})
			if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrConflict) {
				t.Errorf("Update whose read failed = %v; want that error, context.Canceled, not a conflict", err)
			}
			if runs != 1 {
				t.Errorf("the function ran %d times; want 1", runs)
			}
			err = s.View(t.Context(), func(tx store.Tx) error {
				if v, err := tx.Get("b", []byte("k")); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Get = %q, %v; want ErrNotFound: the failed Update committed", v, err)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("View: %v", err)
			}
		})
	}
}

// TestPanic checks that a function that panics leaves nothing written and
// its connection back in the pool, and that the panic goes on up.
func TestPanic(t *testing.T) {
	s := openStore(t, nil)
	for range 2 * 8 { // more than the pool's connections
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("recovered %v; want the function's panic", r)
				}
			}()
			_ = s.Update(t.Context(), func(tx store.Tx) error {
				if err := tx.Put("b", []byte("k"), nil); err != nil {
					return err
				}
				if _, err := tx.Get("b", []byte("other")); !errors.Is(err, store.ErrNotFound) {
					return err
				}
				panic("boom")
			})
		}()
	}
	err := s.View(t.Context(), func(tx store.Tx) error {
		if v, err := tx.Get("b", []byte("k")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get = %q, %v; want ErrNotFound: a function that panicked committed", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
}

// TestPoolClosedByOwner checks that a store whose pool its owner closed
// (New leaves the pool to the caller) answers every call with an error
// wrapping store.ErrClosed, as a closed store does, whether its Updates
// run in groups or alone, rather than with the pool's own error: a
// caller that stops on ErrClosed (webhook's Run, a replay) stops.
func TestPoolClosedByOwner(t *testing.T) {
	schema := newSchema(t, testPool(t))
	for _, group := range []int{0, 1} {
		t.Run(fmt.Sprint("group ", group), func(t *testing.T) {
			own, err := pgxpool.New(t.Context(), dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			s, err := postgres.New(t.Context(), own, &postgres.Options{Schema: schema, Group: group})
			if err != nil {
				own.Close()
				t.Fatalf("New: %v", err)
			}
			put := func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }
			if err := s.Update(t.Context(), put); err != nil {
				t.Fatalf("Update: %v", err)
			}
			own.Close()
			ran := false
			read := func(tx store.Tx) error { ran = true; _, err := tx.Get("b", []byte("k")); return err }
			for name, call := range map[string]func() error{
				"Update": func() error { return s.Update(t.Context(), put) },
				"UpdatePrefetch": func() error {
					return s.UpdatePrefetch(t.Context(), []store.Read{{Bucket: "b", Key: []byte("k")}}, read)
				},
				"View": func() error { return s.View(t.Context(), read) },
			} {
				if err := call(); !errors.Is(err, store.ErrClosed) {
					t.Errorf("%s after the pool was closed = %v; want an error wrapping store.ErrClosed", name, err)
				}
			}
			if ran {
				t.Errorf("a function ran without a connection")
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close after the pool was closed = %v; want nil", err)
			}
		})
	}
}

// TestServerFailureWrapsErrFailed ends an Update's connection on the
// server (pg_terminate_backend) between two of its reads: the second read,
// and the Update, fail with an error wrapping store.ErrFailed and not
// store.ErrConflict (running the function again would not help), so that
// the engine counts it as the store's failure, not the call's refusal. A
// View on a pool the server can no longer be reached by fails alike.
func TestServerFailureWrapsErrFailed(t *testing.T) {
	admin := testPool(t)
	schema := newSchema(t, admin)
	// The pool's connections are named after the schema, so that the
	// termination below ends this test's transaction only: other
	// packages' tests (the root package's hammers) may run on the same
	// database at once, under go test ./..., and lost theirs to it.
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = schema
	own, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	s, err := postgres.New(t.Context(), own, &postgres.Options{Schema: schema, Group: 1})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	var readErr error
	err = s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.Get("b", []byte("k")); err != nil {
			return err
		}
		// The transaction is open on its connection, idle between reads:
		// end every such connection of the store's pool.
		if _, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1 AND state LIKE 'idle in transaction%'`, schema); err != nil {
			return fmt.Errorf("terminate: %w", err)
		}
		_, readErr = tx.Get("b", []byte("other"))
		return readErr
	})
	for name, e := range map[string]error{"the read after": readErr, "Update": err} {
		if !errors.Is(e, store.ErrFailed) || errors.Is(e, store.ErrConflict) || errors.Is(e, store.ErrNotFound) {
			t.Errorf("%s the connection ended = %v; want an error wrapping store.ErrFailed, not ErrConflict or ErrNotFound", name, e)
		}
	}
	// The pool makes a new connection: the store works again.
	if err := s.View(t.Context(), func(tx store.Tx) error { _, err := tx.Get("b", []byte("k")); return err }); err != nil {
		t.Errorf("View after the connection ended = %v; want nil", err)
	}
}

// TestContextEndsDuringCommit cancels an Update's context while its
// commit waits for a row another transaction locked: the connection is
// closed with the COMMIT sent, and whether the server ran it is unknown.
// Update's error says so by wrapping store.ErrFailed (whose doc says a
// lost commit may have been applied), besides context.Canceled, rather
// than being the bare context error of an Update that wrote nothing.
// Either way, the two keys it wrote are both there or neither, and the
// store works on.
func TestContextEndsDuringCommit(t *testing.T) {
	for _, group := range []int{1, 0} {
		t.Run(fmt.Sprintf("Group%d", group), func(t *testing.T) { testContextEndsDuringCommit(t, group) })
	}
}

// testContextEndsDuringCommit is TestContextEndsDuringCommit on a store
// of Options.Group group: alone, or in a group of one.
func testContextEndsDuringCommit(t *testing.T, group int) {
	p := testPool(t)
	ctx := t.Context()
	schema := newSchema(t, p)
	s := openStore(t, &postgres.Options{Schema: schema, Group: group})
	put := func(v string) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			if err := tx.Put("b", []byte("k1"), []byte(v)); err != nil {
				return err
			}
			return tx.Put("b", []byte("k2"), []byte(v))
		}
	}
	if err := s.Update(ctx, put("old")); err != nil {
		t.Fatalf("Update: %v", err)
	}
	locker, err := p.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Release()
	lock, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.Background())
	kv := pgx.Identifier{schema, "kv"}.Sanitize()
	if _, err := lock.Exec(ctx, "SELECT 1 FROM "+kv+" WHERE bucket = 'b' AND key = 'k2' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Update(uctx, put("new")) }()
	// Wait until the commit's writes wait for the lock.
	for waiting := false; !waiting; {
		err := p.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))`,
			locker.Conn().PgConn().PID()).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	err = <-done
	if !errors.Is(err, store.ErrFailed) || !errors.Is(err, context.Canceled) {
		t.Errorf("Update whose context ended during its commit = %v; want an error wrapping store.ErrFailed and context.Canceled", err)
	}
	if err := lock.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		v1, err1 := tx.Get("b", []byte("k1"))
		v2, err2 := tx.Get("b", []byte("k2"))
		if err1 != nil || err2 != nil || string(v1) != string(v2) {
			t.Errorf("after the commit whose context ended: k1 = %q, %v; k2 = %q, %v; want both old or both new", v1, err1, v2, err2)
		}
		return nil
	})
	if err != nil {
		t.Errorf("View after the commit whose context ended = %v; want nil", err)
	}
}

// TestViewConflictIsAnError fails a View's transaction with a
// serialization failure and with a deadlock, as a server may answer any
// read (a hot standby's recovery conflict is a 40001): a View runs its
// function once, so it returns an error wrapping store.ErrConflict,
// whether the function returned the failed read's error or dropped it,
// rather than nil, which read as a View that went well.
func TestViewConflictIsAnError(t *testing.T) {
	s := openStore(t, nil)
	for _, code := range []string{"40001", "40P01"} {
		for _, returned := range []bool{true, false} {
			runs := 0
			err := s.View(t.Context(), func(tx store.Tx) error {
				runs++
				if _, err := tx.Get("b", []byte("k")); !errors.Is(err, store.ErrNotFound) {
					return err
				}
				ferr := postgres.FailTx(tx, &pgconn.PgError{Code: code, Message: "injected"})
				if returned {
					return ferr
				}
				return nil
			})
			if !errors.Is(err, store.ErrConflict) || runs != 1 {
				t.Errorf("View whose transaction failed with %s (the error returned: %v) = %v after %d runs; want an error wrapping store.ErrConflict after 1",
					code, returned, err, runs)
			}
		}
	}
}

// TestOptionsRefused checks that New and Open refuse an option out of
// its range with an error wrapping store.ErrInvalid that names it, and
// create nothing: a negative count, which they once took as the default,
// more stripes than a total has (a stripe's number is two bytes), and a
// schema name PostgreSQL would cut to its first 63 bytes (two names alike
// in those would name one schema).
func TestOptionsRefused(t *testing.T) {
	p := testPool(t)
	ctx := t.Context()
	long := strings.Repeat("s", 64)
	for _, c := range []struct {
		opts postgres.Options
		name string
	}{
		{postgres.Options{MaxAttempts: -1}, "MaxAttempts"},
		{postgres.Options{Stripes: -1}, "Stripes"},
		{postgres.Options{Stripes: 1<<16 + 1}, "Stripes"},
		{postgres.Options{Group: -4}, "Group"},
		{postgres.Options{Schema: long}, "Schema"},
		{postgres.Options{Schema: "a\x00b"}, "Schema"},
	} {
		o := c.opts
		if o.Schema == "" {
			o.Schema = newSchema(t, p)
		} else if o.Schema == long {
			t.Cleanup(func() { _, _ = p.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+long+" CASCADE") })
		}
		s, err := postgres.New(ctx, p, &o)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("New with %+v = %v; want an error wrapping store.ErrInvalid naming %s", c.opts, err, c.name)
		}
		if err == nil {
			_ = s.Close()
		}
		if s, err := postgres.Open(ctx, dsn(t), &o); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Open with %+v = %v; want an error wrapping store.ErrInvalid", c.opts, err)
			if err == nil {
				_ = s.Close()
			}
		}
		var exists bool
		if err := p.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, o.Schema).Scan(&exists); err != nil && !strings.Contains(o.Schema, "\x00") {
			t.Fatal(err)
		}
		if exists {
			t.Errorf("New with %+v created schema %q", c.opts, o.Schema)
		}
	}
}

// TestCommitThatCannotBeQueued makes the statement a commit inserts new
// keys with take one parameter where the commit queues three (a store
// whose statement changed under it): the commit is never sent, so Update
// must fail, wrapping store.ErrFailed, and leave the key unwritten.
// Before, the queuing error left the transaction's error unset and the
// commit reported success.
func TestCommitThatCannotBeQueued(t *testing.T) {
	// A pool that prepares statements: the store then checks a statement's
	// parameters against what it queues, on the client.
	p := poolOf(t, pgx.QueryExecModeCacheStatement, 1)
	s, err := postgres.New(t.Context(), p, &postgres.Options{Schema: newSchema(t, testPool(t)), Group: 1})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	postgres.ChangeInsert(s, `SELECT $1::bytea[]`)
	err = s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.Get("b", []byte("k")); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get before the Put = %v; want ErrNotFound", err)
		}
		return tx.Put("b", []byte("k"), []byte("v")) // a known-absent key: the commit inserts it
	})
	if !errors.Is(err, store.ErrFailed) {
		t.Errorf("Update whose commit cannot be queued = %v; want an error wrapping store.ErrFailed", err)
	}
	err = s.View(t.Context(), func(tx store.Tx) error {
		_, err := tx.Get("b", []byte("k"))
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after the failed Update = %v; want ErrNotFound", err)
	}
}

// TestAddToDamagedStripe adds to a stripe that is not decimal text as the
// store writes it, alone and in a group. A value internal/total refuses
// fails the Update with an error wrapping store.ErrCorrupt, and nothing
// of it is written; before, numeric took "NaN" and the infinities (which
// swallowed the addition) and " 5" (read as 5), and the Update succeeded.
// Text internal/total reads ("1e2") gets the sum (numeric keeps the
// scale: -2.50 + 5 is 2.50).
func TestAddToDamagedStripe(t *testing.T) {
	for _, group := range []int{1, 4} {
		for _, c := range []struct{ stored, want string }{
			{"NaN", ""}, {"Infinity", ""}, {"-Infinity", ""}, {" 5", ""}, {"5x", ""}, {"abc", ""}, {"\xff\xfe", ""}, {"", ""},
			{"1e2", "105"}, {"-2.50", "2.50"},
		} {
			s := openStore(t, &postgres.Options{Group: group, MaxAttempts: 5})
			if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put("t", []byte("k"), []byte(c.stored)) }); err != nil {
				t.Fatal(err)
			}
			err := s.Update(t.Context(), func(tx store.Tx) error {
				if err := tx.Put("t", []byte("other"), []byte("v")); err != nil {
					return err
				}
				return tx.(store.Adder).Add("t", []byte("k"), decimal.NewFromInt(5))
			})
			name := fmt.Sprintf("group %d, stripe %q", group, c.stored)
			if c.want == "" {
				if !errors.Is(err, store.ErrCorrupt) {
					t.Errorf("%s: Add = %v; want an error wrapping store.ErrCorrupt", name, err)
				}
				wantStored(t, s, "t", "k", c.stored)
				wantStored(t, s, "t", "other", "")
				continue
			}
			if err != nil {
				t.Errorf("%s: Add = %v; want nil", name, err)
			}
			wantStored(t, s, "t", "k", c.want)
		}
	}
}

// silentServer returns the address of a server that accepts connections
// and never answers, closed with the test, and a function that counts the
// connections it accepted. The count is asked with a connection of its
// own, which the server accepts after every one made before it (the
// listen queue is first in, first out): no wait for a goroutine to catch up.
func silentServer(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	more := sync.NewCond(&mu)
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			more.Broadcast()
			mu.Unlock()
		}
	}()
	accepted = func() int {
		t.Helper()
		marker, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer marker.Close()
		mu.Lock()
		defer mu.Unlock()
		for n := 0; ; n++ {
			for n == len(conns) {
				more.Wait()
			}
			if conns[n].RemoteAddr().String() == marker.LocalAddr().String() {
				return n
			}
		}
	}
	return l.Addr().String(), accepted
}

// TestOpenDialsOnce: Open on a server that never answers fails after one
// connection attempt, so the caller waits one connect_timeout. Before,
// the schema version's query dialled, its failure was taken for "not
// migrated yet", and the migration dialled again: two connections
// accepted, two timeouts waited. With sslmode=prefer (pgx's default),
// pgx tries without TLS only after a server refused it, not after a
// timeout: one connection too.
func TestOpenDialsOnce(t *testing.T) {
	for _, mode := range []string{"disable", "prefer"} {
		addr, accepted := silentServer(t)
		s, err := postgres.Open(t.Context(), "postgres://u@"+addr+"/db?connect_timeout=1&sslmode="+mode, nil)
		if err == nil {
			s.Close()
			t.Errorf("Open on a silent server, sslmode=%s: succeeded; want an error wrapping store.ErrFailed", mode)
			continue
		}
		if !errors.Is(err, store.ErrFailed) {
			t.Errorf("Open on a silent server, sslmode=%s = %v; want an error wrapping store.ErrFailed", mode, err)
		}
		if n := accepted(); n != 1 {
			t.Errorf("Open on a silent server, sslmode=%s: %d connections accepted; want 1", mode, n)
		}
	}
}

// TestAcquireTimeoutWrapsErrFailed: an Update or a View whose pool's
// connection attempt ends on the DSN's connect_timeout (the server
// stopped answering) fails with store.ErrFailed, as any failure of the
// server does, though the timeout wraps context.DeadlineExceeded: the
// caller's context did not end. Before, it was returned as a context
// error, which a caller reads as its own deadline.
func TestAcquireTimeoutWrapsErrFailed(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := silentServer(t)
	var unanswered atomic.Bool // once set, new connections go to the silent server
	cfg.ConnConfig.ConnectTimeout = 300 * time.Millisecond
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, a string) (net.Conn, error) {
		if unanswered.Load() {
			network, a = "tcp", addr
		}
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := postgres.New(t.Context(), pool, &postgres.Options{Schema: newSchema(t, testPool(t))})
	if err != nil {
		t.Fatal(err)
	}
	unanswered.Store(true)
	pool.Reset() // the connections made so far are closed
	errs := map[string]error{
		"Update": s.Update(t.Context(), func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }),
		"View":   s.View(t.Context(), func(tx store.Tx) error { _, err := tx.Get("b", []byte("k")); return err }),
	}
	for name, err := range errs {
		if !errors.Is(err, store.ErrFailed) {
			t.Errorf("%s on a server that stopped answering = %v; want an error wrapping store.ErrFailed", name, err)
		}
	}
}

// silencedPool returns a pool of conns connections to the test database
// with no connect_timeout, and silence, which sends its connection
// attempts from then on to a server that never answers (a network cut)
// and closes the connections it has, those in use once released.
func silencedPool(t *testing.T, conns int32) (p *pgxpool.Pool, silence func()) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := silentServer(t)
	var unanswered atomic.Bool
	cfg.MaxConns = conns
	cfg.ConnConfig.ConnectTimeout = 0
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, a string) (net.Conn, error) {
		if unanswered.Load() {
			network, a = "tcp", addr
		}
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}
	p, err = pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, func() {
		unanswered.Store(true)
		p.Reset()
	}
}

// TestUnansweredServerHonoursTheContext: once the server stops answering
// (a network cut, no connect_timeout in the DSN), an Update or a View
// whose context ends while the store waits for a connection returns the
// context's error when it ends, as Update's doc says of an Update that
// has not run, rather than waiting for a connection attempt that no
// timeout ends. Before, an Update (in a group of one, Options.Group's
// default) waited for the connection under a context that never ended.
func TestUnansweredServerHonoursTheContext(t *testing.T) {
	pool, silence := silencedPool(t, 4)
	s, err := postgres.New(t.Context(), pool, &postgres.Options{Schema: newSchema(t, testPool(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	silence()
	for name, call := range map[string]func(ctx context.Context) error{
		"Update": func(ctx context.Context) error {
			return s.Update(ctx, func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) })
		},
		"View": func(ctx context.Context) error {
			return s.View(ctx, func(tx store.Tx) error { _, err := tx.Get("b", []byte("k")); return err })
		},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		want(t, name+" whose context ended waiting for a connection", done, context.DeadlineExceeded)
		cancel()
	}
}

// TestGroupWaitingForAConnectionHonoursEachContext: a group of Updates
// waits for a connection from a server that stopped answering; the
// context of its second Update ends (its first's does not): that Update
// returns its context's error at once, and the first, run alone under
// its own context, when that one ends. Before, both waited for the
// group's connection attempt, which no context ended.
func TestGroupWaitingForAConnectionHonoursEachContext(t *testing.T) {
	pool, silence := silencedPool(t, 1)
	s, err := postgres.New(t.Context(), pool, &postgres.Options{Schema: newSchema(t, testPool(t)), Group: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	holding, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- s.Update(t.Context(), func(tx store.Tx) error {
			close(holding)
			<-release
			return tx.Put("b", []byte("hold"), []byte("1"))
		})
	}()
	<-holding
	ctx0, cancel0 := context.WithCancel(t.Context())
	defer cancel0()
	ctx1, cancel1 := context.WithCancel(t.Context())
	defer cancel1()
	done := []chan error{make(chan error, 1), make(chan error, 1)}
	for i, ctx := range []context.Context{ctx0, ctx1} {
		go func() {
			done[i] <- s.Update(ctx, func(tx store.Tx) error { return tx.Put("b", fmt.Appendf(nil, "k%d", i), []byte("v")) })
		}()
		for postgres.Queued(s) < i+1 {
			runtime.Gosched()
		}
	}
	silence() // the holding Update's connection closes once released
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("the holding Update: %v", err)
	}
	for postgres.Queued(s) > 0 { // taken into a group, which waits for a connection
		runtime.Gosched()
	}
	cancel1()
	want(t, "the group's second Update, cancelled", done[1], context.Canceled)
	if err := ctx0.Err(); err != nil {
		t.Fatalf("the first Update's context ended: %v", err)
	}
	cancel0()
	want(t, "the group's first Update, cancelled after", done[0], context.Canceled)
}

// want waits for the error of a call whose context has ended or is about
// to, and checks that it is the context's, errCtx. A watchdog fails the
// test should the call go on past a minute.
func want(t *testing.T, name string, done <-chan error, errCtx error) {
	t.Helper()
	watchdog := time.NewTimer(time.Minute)
	defer watchdog.Stop()
	select {
	case err := <-done:
		if !errors.Is(err, errCtx) || errors.Is(err, store.ErrFailed) {
			t.Errorf("%s = %v; want %v, not store.ErrFailed", name, err, errCtx)
		}
	case <-watchdog.C:
		t.Fatalf("%s: still waiting for a connection a minute after its context ended", name)
	}
}

// TestKeyLimit checks that a write of a key the primary key's index cannot
// hold is refused where it is made: a bucket name and key of 2,600 bytes
// together are kept, one of 2,601 is ErrInvalid from Put, Insert, Ensure
// and Add, and the Update's other writes commit (the server failed the
// whole commit before, with an error wrapping ErrFailed). A Delete of such
// a key is not refused: there is nothing it could delete.
func TestKeyLimit(t *testing.T) {
	s := openStore(t, nil)
	r := rand.New(rand.NewPCG(7, 7))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	longBucket := string(noise(200))
	atLimit, atLimit2, over := noise(2599), noise(2400), noise(2600)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put("b", atLimit, []byte("1")); err != nil {
			t.Errorf("Put of 1+2,599 bytes = %v; want nil", err)
		}
		if err := tx.Put(longBucket, atLimit2, []byte("2")); err != nil {
			t.Errorf("Put of 200+2,400 bytes = %v; want nil", err)
		}
		refused := map[string]error{"Put": tx.Put("b", over, []byte("x"))}
		if in, ok := tx.(store.Inserter); ok {
			refused["Insert"] = in.Insert("b", noise(2600), []byte("x"))
		}
		if en, ok := tx.(store.Ensurer); ok {
			refused["Ensure"] = en.Ensure("b", noise(2600), []byte("x"))
		}
		if ad, ok := tx.(store.Adder); ok {
			refused["Add"] = ad.Add("b", noise(2600), decimal.NewFromInt(1))
		}
		if len(refused) != 4 {
			t.Errorf("the Tx has %d of Put, Insert, Ensure and Add; want 4", len(refused))
		}
		for op, err := range refused {
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s of 1+2,600 bytes = %v; want an error wrapping ErrInvalid", op, err)
			}
		}
		if err := tx.Delete("b", over); err != nil {
			t.Errorf("Delete of 1+2,600 bytes = %v; want nil", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update = %v; want nil", err)
	}
	err = s.View(t.Context(), func(tx store.Tx) error {
		for _, c := range []struct {
			bucket string
			key    []byte
			want   string
		}{{"b", atLimit, "1"}, {longBucket, atLimit2, "2"}} {
			if v, err := tx.Get(c.bucket, c.key); err != nil || string(v) != c.want {
				t.Errorf("Get of %d+%d bytes = %q, %v; want %q", len(c.bucket), len(c.key), v, err, c.want)
			}
		}
		if _, err := tx.Get("b", over); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get of the key refused = %v; want an error wrapping ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
