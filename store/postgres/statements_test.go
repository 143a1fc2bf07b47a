package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
	"github.com/memberkit/membership/store/storetest"
)

// poolOf returns a pool of conns connections in the query mode mode,
// closed at the test's end. On a pool of one, every transaction runs in
// one session, whose prepared statements a test can list.
func poolOf(t *testing.T, mode pgx.QueryExecMode, conns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	cfg.ConnConfig.DefaultQueryExecMode = mode
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// prepared is a statement prepared in a session, from pg_prepared_statements.
type prepared struct {
	at                   time.Time
	generic, customPlans int64
}

// preparedStatements lists the statements prepared in p's one session,
// by name.
func preparedStatements(t *testing.T, p *pgxpool.Pool) map[string]prepared {
	t.Helper()
	rows, err := p.Query(t.Context(), `SELECT name, prepare_time, generic_plans, custom_plans FROM pg_prepared_statements`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]prepared{}
	for rows.Next() {
		var name string
		var s prepared
		if err := rows.Scan(&name, &s.at, &s.generic, &s.customPlans); err != nil {
			t.Fatal(err)
		}
		got[name] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// An event's statements are prepared once a connection, under names of
// the store's, with one generic plan each: a serialization failure, or
// here a unique violation that makes the Update run again, leaves them
// prepared (pgx prepares its own statements again after any failed batch,
// in a round trip of its own), and no statement is planned again for
// its parameters (PostgreSQL's custom plans).
func TestStatementsStayPrepared(t *testing.T) {
	p := poolOf(t, pgx.QueryExecModeCacheStatement, 1)
	s, err := postgres.New(t.Context(), p, &postgres.Options{Schema: newSchema(t, testPool(t))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// An event's shape: the member's keys read in one Preload, the event's
	// record inserted, the member's keys written.
	event := func(id string, n int) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			if err := store.Preload(tx, store.Read{Bucket: "member", Key: []byte("m")}, store.Read{Bucket: "bal", Start: []byte("m\x00"), End: []byte("m\x01")}); err != nil {
				return err
			}
			if in := tx.(store.Inserter); in.Fresh("events", []byte(id)) {
				if err := in.Insert("events", []byte(id), []byte("done")); err != nil {
					return err
				}
			} else if _, err := tx.Get("events", []byte(id)); err == nil {
				return nil // done before
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if _, err := tx.Get("member", []byte("m")); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := tx.(store.Adder).Add("total", []byte("t"), decimal.NewFromInt(1)); err != nil {
				return err
			}
			for _, w := range []struct{ b, k string }{{"member", "m"}, {"bal", "m\x00a"}, {"entry", fmt.Sprint("m\x00", n)}} {
				if err := tx.Put(w.b, []byte(w.k), fmt.Appendf(nil, "%d", n)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for i := range 8 { // more than the five custom plans PostgreSQL makes before it weighs a generic one
		if err := s.Update(t.Context(), event(fmt.Sprint("e", i), i)); err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
	}
	before := preparedStatements(t, p)
	// e3 exists: the commit fails on the unique key and the Update runs again.
	retries := s.Stats().Retries
	if err := s.Update(t.Context(), event("e3", 99)); err != nil {
		t.Fatalf("Update of a done event: %v", err)
	}
	if got := s.Stats().Retries - retries; got != 1 {
		t.Fatalf("%d retries; want 1 (the Insert of an existing key)", got)
	}
	if err := s.Update(t.Context(), event("e100", 100)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	after := preparedStatements(t, p)
	mine := 0
	for name, b := range before {
		if strings.HasPrefix(name, "membership_") {
			mine++
			if b.customPlans != 0 {
				t.Errorf("statement %s: %d custom plans; want none (plan_cache_mode force_generic_plan)", name, b.customPlans)
			}
		}
		if a, ok := after[name]; !ok {
			t.Errorf("statement %s was deallocated after the failed commit", name)
		} else if !a.at.Equal(b.at) {
			t.Errorf("statement %s was prepared again after the failed commit", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok && !strings.HasPrefix(name, "membership_") {
			t.Errorf("statement %s was prepared by pgx after the failed commit", name)
		}
	}
	// BEGIN, the settings, the read of keys, the bounded scan, insert,
	// update, upsert, add and COMMIT.
	if mine < 9 {
		t.Errorf("%d statements of the store prepared; want 9 or more: %v", mine, before)
	}
}

// A pool that prepares nothing (as behind a pooler in transaction mode:
// the simple protocol) gets the statements unnamed, prepared nowhere, and
// the store passes the conformance suite on it.
func TestSimpleProtocol(t *testing.T) {
	p, p8 := poolOf(t, pgx.QueryExecModeSimpleProtocol, 1), poolOf(t, pgx.QueryExecModeSimpleProtocol, 8)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.New(context.Background(), p8, &postgres.Options{Schema: newSchema(t, testPool(t))})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	s, err := postgres.New(t.Context(), p, &postgres.Options{Schema: newSchema(t, testPool(t))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.Get("b", []byte("k")); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get of an absent key: %w", err)
		}
		return tx.Put("b", []byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := preparedStatements(t, p); len(got) != 0 {
		t.Errorf("statements prepared on a pool in simple protocol: %v", got)
	}
}

// A Put of a key the transaction read is an UPDATE when it found the key
// and an INSERT when it did not: another store's commit in between (the
// key updated, deleted or inserted) makes it a conflict, the function
// runs again on what the other store wrote, and the result is as if the
// two had run one after the other.
func TestPutOfAKeyReadConflicts(t *testing.T) {
	for _, c := range []struct {
		name    string
		initial string // "" for none
		other   func(tx store.Tx) error
		want    string
	}{
		{"FoundThenUpdated", "first", func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("other")) }, "other+mine"},
		{"FoundThenDeleted", "first", func(tx store.Tx) error { return tx.Delete("b", []byte("k")) }, "+mine"},
		{"AbsentThenInserted", "", func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("other")) }, "other+mine"},
		// The Put is in the store's plain INSERT with an Insert's key.
		{"AbsentThenInsertedBesideAnInsert", "", func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("other")) }, "other+mine"},
	} {
		t.Run(c.name, func(t *testing.T) {
			schema := newSchema(t, testPool(t))
			s := openStore(t, &postgres.Options{Schema: schema})
			other := openStore(t, &postgres.Options{Schema: schema})
			ctx := t.Context()
			if c.initial != "" {
				if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte(c.initial)) }); err != nil {
					t.Fatalf("Update: %v", err)
				}
			}
			runs := 0
			err := s.Update(ctx, func(tx store.Tx) error {
				runs++
				v, err := tx.Get("b", []byte("k"))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				if runs == 1 {
					if err := other.Update(ctx, c.other); err != nil {
						t.Errorf("the other store's Update: %v", err)
					}
				}
				if strings.HasSuffix(c.name, "BesideAnInsert") {
					if err := tx.(store.Inserter).Insert("events", fmt.Append(nil, runs), nil); err != nil {
						return err
					}
				}
				return tx.Put("b", []byte("k"), append(append([]byte{}, v...), "+mine"...))
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if runs != 2 {
				t.Errorf("the function ran %d times; want 2 (the first run's commit conflicted)", runs)
			}
			err = s.View(ctx, func(tx store.Tx) error {
				if v, err := tx.Get("b", []byte("k")); string(v) != c.want {
					t.Errorf("k = %q, %v; want %q", v, err, c.want)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("View: %v", err)
			}
		})
	}
}

// batchTracer records what a pgx.BatchTracer is told.
type batchTracer struct {
	mu             sync.Mutex
	starts, ends   int
	queued, traced []string
	errs           []error
}

func (b *batchTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (b *batchTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (b *batchTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.starts++
	for _, q := range data.Batch.QueuedQueries {
		b.queued = append(b.queued, strings.Fields(q.SQL)[0])
	}
	return ctx
}

func (b *batchTracer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.traced = append(b.traced, strings.Fields(data.SQL)[0])
	if data.Err != nil {
		b.errs = append(b.errs, data.Err)
	}
}

func (b *batchTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ends++
}

// A tracer on the pool's connections that is a pgx.BatchTracer is told of
// the store's round trips as pgx tells it of its own batches: each
// statement, and each result, though the store sends them with pgconn.
func TestBatchTracer(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	tracer := &batchTracer{}
	cfg.ConnConfig.Tracer = tracer
	p, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	s, err := postgres.New(t.Context(), p, &postgres.Options{Schema: newSchema(t, testPool(t))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tracer.mu.Lock()
	tracer.starts, tracer.ends, tracer.queued, tracer.traced = 0, 0, nil, nil // New's own
	tracer.mu.Unlock()
	err = s.Update(t.Context(), func(tx store.Tx) error {
		if _, err := tx.Get("b", []byte("k")); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get of an absent key: %w", err)
		}
		return tx.Put("b", []byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	// The read (with the statements that begin the transaction), then
	// the write, an INSERT of the key read absent, with the commit.
	want := []string{"BEGIN", "SELECT", "SELECT", "INSERT", "COMMIT"}
	tracer.mu.Lock()
	defer tracer.mu.Unlock()
	if !slices.Equal(tracer.queued, want) || !slices.Equal(tracer.traced, want) || len(tracer.errs) != 0 {
		t.Errorf("tracer told of %q queued, %q run (errors %v); want %q", tracer.queued, tracer.traced, tracer.errs, want)
	}
	if tracer.starts != 2 || tracer.ends != 2 {
		t.Errorf("tracer told of %d batches begun and %d ended; want 2 and 2", tracer.starts, tracer.ends)
	}
}
