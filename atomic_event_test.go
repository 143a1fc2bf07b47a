package membership_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
)

// everyBucket lists every bucket the library writes, for tests that
// compare a whole store before and after a call that must write nothing.
var everyBucket = []string{
	"audit.member", "audit.operator", "audit.time", "benefit.achievements",
	"coupon.codes", "coupon.coupons", "coupon.indexed", "coupon.legacy", "coupon.limits", "coupon.members",
	"coupon.orders", "coupon.stats", "coupon.stock", "coupon.used",
	"due", "erased", "events", "feed", "feed.pending", "feed.where", "ids", "journal",
	"ledger.bal", "ledger.day", "ledger.entry", "ledger.lot", "ledger.lotid", "ledger.meta", "ledger.txn",
	"level.caps", "level.count", "level.history", "level.member", "level.moves", "level.order", "meta", "ops",
	"points.adjust", "points.caps", "points.charged", "points.day", "points.expiry", "points.meta", "points.order",
	"points.redeem", "points.release", "points.review", "points.review.open", "points.short",
	"tag.assigned", "tag.attrs", "tag.count", "tag.days", "tag.edge", "tag.index", "tag.members", "tag.stats",
	"task.daily", "task.done", "task.last", "task.limits", "task.progress", "task.steps",
	"value.meta", "value.totals",
}

// One event is one transaction: when a rule that runs late in it fails
// (the tags, last of the parts, read m3's damaged statistics), what the
// parts before it wrote — the recharge's ledger posting, its pool and
// daily totals (additions on PostgreSQL), the order's growth, points lot
// and task progress — is not written either, on every store, alone and
// while other members' events commit around it (store/postgres runs
// concurrent Updates in one transaction and undoes a failed function's
// writes alone). Its ID stays free: once the record is repaired, the same
// events are taken, not answered as duplicates.
func TestEventAtomicWhenALateRuleFails(t *testing.T) {
	ctx := context.Background()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	order := func(id, member string, m int) event.Event {
		return event.Event{ID: id, Member: member, Type: "order", Time: at(m),
			Attrs: event.Attrs{"amount": event.Dec(dec("100")), "order_id": event.Str(id)}}
	}
	rech := func(id, member string, m int) event.Event {
		return event.Event{ID: id, Member: member, Type: "recharge", Time: at(m), Attrs: event.Attrs{"amount": event.Dec(dec("50"))}}
	}
	members := []string{"m1", "m2", "m3", "m4", "m5", "m6"}
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			p, err := membership.Open(st, damageableDef(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range members {
				mustProcess(t, p, order("o0-"+m, m, 0), rech("r0-"+m, m, 1))
			}
			stats := testkit.Dump(t, st, "tag.stats")
			if n := testkit.OverwritePrefix(t, st, "tag.stats", []byte("m3"), []byte("{")); n != 1 {
				t.Fatalf("damaged %d records of m3's tag statistics, want 1", n)
			}
			before := testkit.Dump(t, st, everyBucket...)

			// Alone.
			for _, ev := range []event.Event{order("o1-m3", "m3", 2), rech("r1-m3", "m3", 3)} {
				if _, err := p.Process(ctx, ev); !errors.Is(err, membership.ErrCorrupt) {
					t.Fatalf("%s with m3's statistics damaged: %v; want ErrCorrupt", ev.ID, err)
				}
			}
			if diff := cmp.Diff(before, testkit.Dump(t, st, everyBucket...)); diff != "" {
				t.Fatalf("a failed event wrote (-before +after):\n%s", diff)
			}

			// Among other members' events: each member sends an order and 5
			// recharges at once (two orders each: the task of three is not
			// done).
			var mu sync.Mutex
			failed := 0
			var wg sync.WaitGroup
			for _, m := range members {
				for i := range 6 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ev := order(fmt.Sprintf("o%d-%s", 10+i, m), m, 10+i)
						if i > 0 {
							ev = rech(fmt.Sprintf("r%d-%s", 10+i, m), m, 10+i)
						}
						_, err := p.Process(ctx, ev)
						switch {
						case m == "m3" && errors.Is(err, membership.ErrCorrupt):
							mu.Lock()
							failed++
							mu.Unlock()
						case err != nil:
							t.Errorf("%s: %v", ev.ID, err)
						}
					}()
				}
			}
			wg.Wait()
			if failed != 6 {
				t.Errorf("%d of m3's events failed, want 6", failed)
			}
			if err := p.Verify(ctx); err != nil {
				t.Errorf("Verify: %v", err)
			}
			// m3 holds what its first order and recharge gave: 100 points,
			// 50 of stored value; the others 200 points and 300.
			for _, m := range members {
				wantPts, wantVal := "200", "300"
				if m == "m3" {
					wantPts, wantVal = "100", "50"
				}
				bal, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: at(60)})
				if err != nil || !bal.Available.Equal(dec(wantPts)) {
					t.Errorf("%s's points: %+v, %v; want %s", m, bal, err, wantPts)
				}
				va, err := p.Value().Account(ctx, m)
				if err != nil || !va.Balance.Equal(dec(wantVal)) || !va.Recharged.Equal(dec(wantVal)) {
					t.Errorf("%s's stored value: %+v, %v; want %s", m, va, err, wantVal)
				}
			}
			// The day's totals count the events taken only: 6 first
			// recharges of 50 and 5 members' 5 more (1,550); 6 first
			// orders of 100 points and 5 members' second (1,100).
			day := t0.In(shanghai).Format(time.DateOnly)
			if tot, err := p.Totals(ctx, ledger.Value, day, day); err != nil || !tot["recharge"].Equal(dec("1550")) {
				t.Errorf("stored value totals of the day: %v, %v; want recharge 1550", tot, err)
			}
			if tot, err := p.Totals(ctx, ledger.Points("mall"), day, day); err != nil || !tot["earned"].Equal(dec("1100")) {
				t.Errorf("points totals of the day: %v, %v; want earned 1100", tot, err)
			}

			// Repaired, m3's events are taken: none was recorded.
			err = st.Update(ctx, func(tx store.Tx) error {
				return tx.Put("tag.stats", []byte("m3"), dumpValue(t, stats, "m3"))
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range []event.Event{order("o1-m3", "m3", 2), rech("r1-m3", "m3", 3), order("o10-m3", "m3", 10), rech("r11-m3", "m3", 11)} {
				out, err := p.Process(ctx, ev)
				if err != nil || out.Duplicate {
					t.Errorf("%s after the repair: %v, %v; want it taken", ev.ID, out, err)
				}
			}
			// Three orders (o0, o1, o10) of 100 points, and the task of
			// three orders a month done: 100 more.
			if bal, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m3", At: at(60)}); err != nil || !bal.Available.Equal(dec("400")) {
				t.Errorf("m3's points after the repair: %+v, %v; want 400", bal, err)
			}
			if err := p.Verify(ctx); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// dumpValue returns the value of key in a testkit.Dump of one bucket.
func dumpValue(t *testing.T, dump []string, key string) []byte {
	t.Helper()
	for _, line := range dump {
		var b string
		var k, v []byte
		if _, err := fmt.Sscanf(line, "%s %x %x", &b, &k, &v); err == nil && string(k) == key {
			return v
		}
	}
	t.Fatalf("no key %q in %v", key, dump)
	return nil
}

// An event whose transaction fails at the commit writes nothing, alone
// or in a group of concurrent Updates, and its ID stays free: once the
// commit succeeds the same event is taken, not answered as a duplicate.
// On PostgreSQL a deferred trigger raises on the insert of the event's
// record, which the server checks at COMMIT (a group it was in runs its
// other events again alone, and they are taken); store/memory and
// store/bolt are wrapped so that their Update fails once the function
// wrote that record and returned (a disk that fails at the commit).
func TestEventAtomicWhenTheCommitFails(t *testing.T) {
	for name, newStore := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := &failingCommit{Store: newStore(), key: "boom"}
			st.on.Store(true)
			testCommitFails(t, st, st, func() { st.on.Store(false) })
		})
	}
	dsn := os.Getenv("MEMBERSHIP_PG_DSN")
	if dsn == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		schema := fmt.Sprintf("commitfail_%d", os.Getpid())
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		q := pgx.Identifier{schema}.Sanitize()
		defer conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+q+" CASCADE")
		st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for _, sql := range []string{
			`CREATE FUNCTION ` + q + `.boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected commit failure'; END $$`,
			`CREATE CONSTRAINT TRIGGER boom AFTER INSERT OR UPDATE ON ` + q + `.kv DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
				WHEN (NEW.bucket = 'events'::bytea AND NEW.key = 'boom'::bytea) EXECUTE FUNCTION ` + q + `.boom()`,
		} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		testCommitFails(t, st, st, func() {
			if _, err := conn.Exec(ctx, `DROP TRIGGER boom ON `+q+`.kv`); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// testCommitFails runs TestEventAtomicWhenTheCommitFails on st, whose
// commits of event "boom" fail until heal is called; raw reads st's
// records.
func testCommitFails(t *testing.T, st, raw store.Store, heal func()) {
	ctx := context.Background()
	p, err := membership.Open(st, damageableDef(t))
	if err != nil {
		t.Fatal(err)
	}
	rech := func(id, member string, m int) event.Event {
		return event.Event{ID: id, Member: member, Type: "recharge", Time: t0.Add(time.Duration(m) * time.Minute),
			Attrs: event.Attrs{"amount": event.Dec(dec("50"))}}
	}
	mustProcess(t, p, rech("r0", "m1", 0))
	before := testkit.Dump(t, raw, everyBucket...)
	if _, err := p.Process(ctx, rech("boom", "m1", 1)); err == nil {
		t.Fatal("the event whose commit fails was taken")
	}
	if diff := cmp.Diff(before, testkit.Dump(t, raw, everyBucket...)); diff != "" {
		t.Fatalf("an event whose commit failed wrote (-before +after):\n%s", diff)
	}
	// At once with 23 others, of m1 and of other members.
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, member := fmt.Sprintf("r%d", i+1), fmt.Sprintf("m%d", i%4+1)
			if i == 0 {
				id, member = "boom", "m1"
			}
			_, err := p.Process(ctx, rech(id, member, i+2))
			if (err == nil) == (id == "boom") {
				t.Errorf("%s: %v", id, err)
			}
		}()
	}
	wg.Wait()
	// m1 holds r0 and 5 of the others (i = 4, 8, …, 20): 300.
	if va, err := p.Value().Account(ctx, "m1"); err != nil || !va.Balance.Equal(dec("300")) || !va.Recharged.Equal(dec("300")) {
		t.Errorf("m1's stored value: %+v, %v; want 300", va, err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}
	heal()
	if out, err := p.Process(ctx, rech("boom", "m1", 1)); err != nil || out.Duplicate {
		t.Errorf("boom once the commit succeeds: %v, %v; want it taken", out, err)
	}
	if va, err := p.Value().Account(ctx, "m1"); err != nil || !va.Balance.Equal(dec("350")) {
		t.Errorf("m1's stored value: %+v, %v; want 350", va, err)
	}
}

// errCommit is failingCommit's failure.
var errCommit = errors.New("injected commit failure")

// failingCommit is a store whose Update fails, as a commit that fails
// would, when its function wrote key in bucket "events" and returned nil,
// while on is set. Its Updates run the function on a Tx that sees the
// writes; the wrapped store rolls them back on the error.
type failingCommit struct {
	store.Store
	key string
	on  atomic.Bool
}

func (s *failingCommit) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		w := &watchTx{Tx: tx, key: s.key}
		if err := fn(w); err != nil {
			return err
		}
		if w.wrote && s.on.Load() {
			return errCommit
		}
		return nil
	})
}

// watchTx notes a Put of key in bucket "events".
type watchTx struct {
	store.Tx
	key   string
	wrote bool
}

func (t *watchTx) Put(bucket string, key, value []byte) error {
	if bucket == "events" && string(key) == t.key {
		t.wrote = true
	}
	return t.Tx.Put(bucket, key, value)
}
