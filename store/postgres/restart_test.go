package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
)

// namedPool returns a pool of conns connections named (application_name)
// after schema, closed at the test's end, so that a test ends its own
// connections only (see TestServerFailureWrapsErrFailed).
func namedPool(t *testing.T, schema string, conns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	cfg.ConnConfig.RuntimeParams["application_name"] = schema
	p, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// terminate ends the server processes of the connections named schema,
// as a server restart does; state, when not empty, picks those in it.
func terminate(t *testing.T, schema, state string) int {
	t.Helper()
	var n int
	err := testPool(t).QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND ($2 = '' OR state = $2)`, schema, state).Scan(&n)
	if err != nil {
		t.Fatalf("terminate: %v", err)
	}
	return n
}

// TestServerRestartAtEachPhase ends the store's connections on the
// server, as a restart does, at each phase of an Update and of a View:
// idle in the pool before it starts, and at its commit (a deferred
// trigger that ends its own backend). Each call fails with an error
// wrapping store.ErrFailed (not ErrConflict), but for an Update in a
// group whose reads failed before its commit, which runs its function
// again alone and succeeds; a function is never run again after its
// commit was sent; and the store works again once the pool has made new
// connections.
func TestServerRestartAtEachPhase(t *testing.T) {
	for _, group := range []int{1, 4} {
		t.Run(fmt.Sprint("group ", group), func(t *testing.T) {
			schema := newSchema(t, testPool(t))
			p := namedPool(t, schema, 2)
			s, err := postgres.New(t.Context(), p, &postgres.Options{Schema: schema, Group: group})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer s.Close()
			put := func(key string) func(tx store.Tx) error {
				return func(tx store.Tx) error { return tx.Put("b", []byte(key), []byte("v")) }
			}
			if err := s.Update(t.Context(), put("k")); err != nil {
				t.Fatalf("Update: %v", err)
			}
			works := func(phase string) {
				t.Helper()
				if err := s.Update(t.Context(), put("after "+phase)); err != nil {
					t.Errorf("Update after the restart %s = %v; want nil", phase, err)
				}
				wantStored(t, s, "b", "after "+phase, "v")
			}

			// Idle in the pool: the Update's first read meets the ended
			// connection. Its function read nothing the server answered,
			// so nothing was written.
			if n := terminate(t, schema, "idle"); n == 0 {
				t.Fatalf("no idle connection of the store's to end")
			}
			runs := 0
			err = s.Update(t.Context(), func(tx store.Tx) error {
				runs++
				if _, err := tx.Get("b", []byte("k")); err != nil {
					return err
				}
				return tx.Put("b", []byte("idle"), []byte("v"))
			})
			if group > 1 {
				// The group's transaction failed before its commit: the
				// function runs again alone, on a new connection.
				if err != nil || runs != 2 {
					t.Errorf("Update in a group on an ended connection = %v after %d runs; want nil after 2", err, runs)
				}
				wantStored(t, s, "b", "idle", "v")
			} else {
				if !errors.Is(err, store.ErrFailed) || errors.Is(err, store.ErrConflict) || runs != 1 {
					t.Errorf("Update on an ended connection = %v after %d runs; want an error wrapping store.ErrFailed after 1", err, runs)
				}
				wantStored(t, s, "b", "idle", "")
			}
			works("idle")

			// A View alike.
			terminate(t, schema, "idle")
			err = s.View(t.Context(), func(tx store.Tx) error { _, err := tx.Get("b", []byte("k")); return err })
			if !errors.Is(err, store.ErrFailed) || errors.Is(err, store.ErrConflict) {
				t.Errorf("View on an ended connection = %v; want an error wrapping store.ErrFailed", err)
			}
			works("view")

			// At the commit: the outcome is unknown, and the function
			// does not run again.
			atCommit(t, schema, "die", "die", dieAtCommit)
			runs = 0
			err = s.Update(t.Context(), func(tx store.Tx) error { runs++; return put("die")(tx) })
			if !errors.Is(err, store.ErrFailed) || errors.Is(err, store.ErrConflict) || runs != 1 {
				t.Errorf("Update whose connection ended at the commit = %v after %d runs; want an error wrapping store.ErrFailed after 1 run", err, runs)
			}
			wantStored(t, s, "b", "die", "")
			works("commit")
		})
	}
}

// TestCloseWithUpdatesInFlight closes a store while an Update holds its
// pool's one connection and others wait in the queue for a group: Close
// waits for them, and they run and commit (they had entered before it);
// an Update, UpdatePrefetch or View called once Close began returns an
// error wrapping store.ErrClosed at once, without running its function,
// and a second Close does too.
func TestCloseWithUpdatesInFlight(t *testing.T) {
	schema := newSchema(t, testPool(t))
	s := groupStoreOn(t, schema)
	release, holding := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := s.Update(context.Background(), func(tx store.Tx) error {
			close(holding)
			<-release
			return tx.Put("g", []byte("hold"), []byte("1"))
		})
		if err != nil {
			t.Errorf("the holding Update: %v", err)
		}
	})
	<-holding
	for i := range 2 {
		wg.Go(func() {
			if err := s.Update(context.Background(), func(tx store.Tx) error { return tx.Put("g", fmt.Appendf(nil, "k%d", i), []byte("v")) }); err != nil {
				t.Errorf("queued Update %d: %v", i, err)
			}
		})
		for postgres.Queued(s) < i+1 {
			runtime.Gosched()
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Close has begun once a call is refused: until then, a call with a
	// context that has ended returns the context's error, without
	// waiting for the connection.
	done, cancel := context.WithCancel(t.Context())
	cancel()
	for {
		err := s.View(done, func(store.Tx) error { return nil })
		if errors.Is(err, store.ErrClosed) {
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("View before Close = %v", err)
		}
		runtime.Gosched()
	}
	ran := false
	read := func(tx store.Tx) error { ran = true; return nil }
	for name, call := range map[string]func() error{
		"Update": func() error { return s.Update(t.Context(), read) },
		"UpdatePrefetch": func() error {
			return s.UpdatePrefetch(t.Context(), []store.Read{{Bucket: "g", Key: []byte("k")}}, read)
		},
		"View": func() error { return s.View(t.Context(), read) },
	} {
		if err := call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s while Close waits = %v; want an error wrapping store.ErrClosed", name, err)
		}
	}
	if ran {
		t.Errorf("a function ran once Close began")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v with Updates in flight", err)
	default:
	}
	close(release)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Errorf("Close = %v; want nil", err)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close = %v; want an error wrapping store.ErrClosed", err)
	}
	other := groupStoreOn(t, schema)
	wantKeys(t, other, "hold=1", "k0=v", "k1=v")
}

// TestSchemaOfAnOlderVersionMigratedOnce opens, from four instances at
// once, a schema an older release made (at version 1: its later
// migrations' rows removed): under the advisory lock one of them applies
// the migrations missing, once each, and all of them read the data the
// older release wrote.
func TestSchemaOfAnOlderVersionMigratedOnce(t *testing.T) {
	p := testPool(t)
	ctx := t.Context()
	schema := newSchema(t, p)
	s := openStore(t, &postgres.Options{Schema: schema})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("b", []byte("k"), []byte("old")) }); err != nil {
		t.Fatal(err)
	}
	versions := pgx.Identifier{schema, "schema_version"}.Sanitize()
	if _, err := p.Exec(ctx, "DELETE FROM "+versions+" WHERE version > 1"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := postgres.New(ctx, p, &postgres.Options{Schema: schema})
			if err != nil {
				t.Errorf("New on a schema at version 1: %v", err)
				return
			}
			defer s.Close()
			err = s.View(ctx, func(tx store.Tx) error {
				v, err := tx.Get("b", []byte("k"))
				if string(v) != "old" {
					t.Errorf("Get = %q, %v; want %q", v, err, "old")
				}
				return nil
			})
			if err != nil {
				t.Errorf("View: %v", err)
			}
		})
	}
	wg.Wait()
	rows, _ := p.Query(ctx, "SELECT version FROM "+versions+" ORDER BY version")
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, postgres.SchemaVersion) // 1, 2, ... SchemaVersion, each once
	for i := range want {
		want[i] = i + 1
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("schema_version holds %v; want %v", got, want)
	}
}
