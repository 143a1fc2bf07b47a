package membership_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
	"github.com/shopspring/decimal"
)

// TestRetentionPrunes runs half a year of orders and a points adjustment,
// then one Advance with a 30-day window: the records only idempotency and
// the feed need are gone, a retry older than the window is refused, and
// every balance, statement, total and Verify are as before.
func TestRetentionPrunes(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) { testRetentionPrunes(t, open()) })
	}
	// On PostgreSQL when a server is given (CI gives one).
	if dsn := os.Getenv("MEMBERSHIP_PG_DSN"); dsn != "" {
		t.Run("postgres", func(t *testing.T) {
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			schema := fmt.Sprintf("retention_%d", os.Getpid())
			defer pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			st, err := postgres.New(ctx, pool, &postgres.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			testRetentionPrunes(t, st)
		})
	}
}

func testRetentionPrunes(t *testing.T, st store.Store) {
	ctx := context.Background()
	const day = 24 * time.Hour
	p, err := membership.Open(st, testkit.OrderDef(), membership.WithRetention(membership.Retention{Window: 30 * day, Feed: 30 * day}))
	if err != nil {
		t.Fatal(err)
	}
	at := func(month time.Month, d int) time.Time {
		return time.Date(2026, month, d, 10, 0, 0, 0, testkit.Shanghai)
	}
	order := func(id, member, amount string, t time.Time) event.Event {
		return event.Event{ID: id, Member: member, Type: "order", Time: t, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec(amount))}}
	}
	members := []string{"m0", "m1", "m2", "m3"}
	// Each member orders 10 × the month's number on the 5th of January to
	// June, and 7 on 20 June: 10 × (1+…+6) + 7 = 217 points each.
	for month := time.January; month <= time.June; month++ {
		for _, m := range members {
			testkit.MustProcess(t, p, order(fmt.Sprintf("o-%s-%d", m, month), m, fmt.Sprint(10*int(month)), at(month, 5)))
		}
	}
	for _, m := range members {
		testkit.MustProcess(t, p, order("late-"+m, m, "7", at(time.June, 20)))
	}
	adj := points.AdjustRequest{RequestID: "adj-feb", Member: "m0", Operator: "ops.li", Note: "goodwill", At: at(time.February, 10), Program: "mall", Amount: testkit.Dec("5")}
	if _, err := p.Points().Adjust(ctx, adj); err != nil {
		t.Fatal(err)
	}
	// A request inside the window: its record names its feed records.
	adjJune := points.AdjustRequest{RequestID: "adj-jun", Member: "m1", Operator: "ops.li", Note: "late", At: at(time.June, 20), Program: "mall", Amount: testkit.Dec("3")}
	firstJune, err := p.Points().Adjust(ctx, adjJune)
	if err != nil || len(firstJune.Outcome.Changes) == 0 || len(firstJune.Outcome.Entries) == 0 {
		t.Fatalf("adjustment of June: %+v, %v", firstJune, err)
	}

	// A consumer has read up to the last change of April's orders.
	all, err := p.Feed(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var cursor uint64
	for _, c := range all {
		if strings.HasSuffix(c.Event, "-4") {
			cursor = c.Seq
		}
	}
	if cursor == 0 {
		t.Fatal("no change of April's orders in the feed")
	}
	if err := p.SetCursor(ctx, "crm", cursor); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, p, members, cursor)
	want := map[string]string{"m0": "222", "m1": "220", "m2": "217", "m3": "217"}
	for m, w := range want {
		if got := before.balances[m]; !got.Equal(testkit.Dec(w)) {
			t.Fatalf("%s holds %s points, want %s", m, got, w)
		}
	}

	// Advance on 10 July: the horizon is 10 June (30 days before).
	if _, err := p.Advance(ctx, at(time.July, 10)); err != nil {
		t.Fatal(err)
	}

	// Only the four orders of 20 June keep their records; the request of
	// February is gone.
	recs := map[string][]string{}
	var kept []uint64
	err = st.View(ctx, func(tx store.Tx) error {
		for _, b := range []string{"events", "ops"} {
			err := tx.Scan(b, nil, nil, false, func(k, _ []byte) error {
				recs[b] = append(recs[b], string(k))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return tx.Scan("feed", nil, nil, false, func(k, _ []byte) error {
			if pos := decodeU64(k); pos <= cursor {
				kept = append(kept, pos)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// Of the records crm has read, those of units at or after the horizon
	// stay (a unit's record is under the position of its last change of a
	// member). On memory and bolt the feed is in time order and none is
	// left; on PostgreSQL a member's changes are sequenced together, and
	// the orders of 20 June may come before the cursor.
	var young []uint64
	last := map[string]uint64{}
	for _, c := range all {
		if !c.Time.Before(at(time.June, 10)) {
			last[c.Event+"\x00"+c.Member] = max(last[c.Event+"\x00"+c.Member], c.Seq)
		}
	}
	for _, pos := range last {
		if pos <= cursor {
			young = append(young, pos)
		}
	}
	slices.Sort(young)
	if diff := cmp.Diff(young, kept); diff != "" {
		t.Errorf("feed records kept up to the cursor %d (-want +got):\n%s", cursor, diff)
	}
	if diff := cmp.Diff(map[string][]string{"events": {"late-m0", "late-m1", "late-m2", "late-m3"}, "ops": {"adj-jun"}}, recs); diff != "" {
		t.Errorf("records kept (-want +got):\n%s", diff)
	}

	// Retries older than the window are refused, never applied twice.
	_, err = p.Process(ctx, order("o-m0-1", "m0", "10", at(time.January, 5)))
	if !errors.Is(err, membership.ErrTooOld) || !errors.Is(err, membership.ErrInvalidEvent) {
		t.Errorf("retry of a pruned event: %v, want ErrTooOld and ErrInvalidEvent", err)
	}
	// So is an event never seen whose time is before the horizon.
	_, err = p.Process(ctx, order("new-old", "m1", "10", at(time.June, 9)))
	if !errors.Is(err, membership.ErrTooOld) {
		t.Errorf("new event before the horizon: %v, want ErrTooOld", err)
	}
	_, err = p.Points().Adjust(ctx, adj)
	if !errors.Is(err, membership.ErrTooOld) || !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("retry of a pruned request: %v, want ErrTooOld and ErrInvalidArgument", err)
	}
	// A request's retry inside the window is a duplicate, with its
	// changes and entries, read back from the feed and the ledger.
	againJune, err := p.Points().Adjust(ctx, adjJune)
	if err != nil || !againJune.Outcome.Duplicate {
		t.Fatalf("retry of June's adjustment: %+v, %v; want a duplicate", againJune, err)
	}
	againJune.Outcome.Duplicate = false
	if diff := cmp.Diff(firstJune.Outcome, againJune.Outcome); diff != "" {
		t.Errorf("retry of June's adjustment (-first +retry):\n%s", diff)
	}
	// A retry inside the window is still a duplicate, with its changes.
	out, err := p.Process(ctx, order("late-m2", "m2", "7", at(time.June, 20)))
	if err != nil || !out.Duplicate || len(out.Changes) == 0 {
		t.Errorf("retry inside the window: %+v, %v; want a duplicate with its changes", out, err)
	}
	// The feed before the cursor is gone, and says so.
	if _, err := p.Feed(ctx, 0, 10); !errors.Is(err, membership.ErrFeedPruned) {
		t.Errorf("Feed(0) after pruning: %v, want ErrFeedPruned", err)
	}

	after := snapshot(t, p, members, cursor)
	if diff := cmp.Diff(before, after, cmp.AllowUnexported(state{}), cmp.Comparer(decimal.Decimal.Equal)); diff != "" {
		t.Errorf("state changed by retention (-before +after):\n%s", diff)
	}
}

// state is what retention must leave as it was.
type state struct {
	balances   map[string]decimal.Decimal
	statements map[string][]ledger.Entry
	totals     map[ledger.Kind]decimal.Decimal
	unread     []change.Change // the feed after the consumer's cursor
}

func snapshot(t *testing.T, p *membership.Program, members []string, cursor uint64) state {
	t.Helper()
	ctx := context.Background()
	s := state{balances: map[string]decimal.Decimal{}, statements: map[string][]ledger.Entry{}}
	for _, m := range members {
		b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		s.balances[m] = b.Main
		for q := (ledger.Query{Account: ledger.MemberAccount(m, ledger.Points("mall"), ""), Limit: 1000}); ; {
			page, err := p.Statement(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			s.statements[m] = append(s.statements[m], page.Entries...)
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
	}
	var err error
	if s.totals, err = p.Totals(ctx, ledger.Points("mall"), "2026-01-01", "2026-12-31"); err != nil {
		t.Fatal(err)
	}
	if s.unread, err = p.Feed(ctx, cursor, 10000); err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeU64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// The horizon's own instant is inside the window: with a window of 30
// days, Advance to 10 July 10:00 puts the horizon at 10 June 10:00; an
// event at exactly that instant keeps its record (its retry is a
// duplicate) and a new one is accepted, while one a nanosecond earlier is
// refused.
func TestRetentionHorizonInstant(t *testing.T) {
	ctx := context.Background()
	const day = 24 * time.Hour
	p := testkit.OpenMemory(t, testkit.OrderDef(), membership.WithRetention(membership.Retention{Window: 30 * day, Feed: 30 * day}))
	h := time.Date(2026, 6, 10, 10, 0, 0, 0, testkit.Shanghai)
	order := func(id string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "m", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("10"))}}
	}
	testkit.MustProcess(t, p, order("edge", h))
	if _, err := p.Advance(ctx, time.Date(2026, 7, 10, 10, 0, 0, 0, testkit.Shanghai)); err != nil {
		t.Fatal(err)
	}
	if out, err := p.Process(ctx, order("edge", h)); err != nil || !out.Duplicate {
		t.Errorf("retry of the event at the horizon: %+v, %v; want a duplicate", out, err)
	}
	if out, err := p.Process(ctx, order("edge2", h)); err != nil || out.Duplicate {
		t.Errorf("new event at the horizon: %+v, %v; want it processed", out, err)
	}
	if _, err := p.Process(ctx, order("edge3", h.Add(-time.Nanosecond))); !errors.Is(err, membership.ErrTooOld) {
		t.Errorf("event a nanosecond before the horizon: %v, want ErrTooOld", err)
	}
}

// The horizon moves with the retention passes, once a day of Advance's
// time, not with every Advance: with a window of 30 days, a pass at 10
// July 10:00 puts it at 10 June 10:00, and an Advance to 20:00 the same
// day runs no pass, so an event of 10 June 15:00 (more than 30 days
// before 20:00) is still taken; the pass of 11 July 10:00 moves the
// horizon to 11 June 10:00, and then it is refused.
func TestRetentionHorizonMovesWithPasses(t *testing.T) {
	ctx := context.Background()
	const day = 24 * time.Hour
	p := testkit.OpenMemory(t, testkit.OrderDef(), membership.WithRetention(membership.Retention{Window: 30 * day, Feed: 30 * day}))
	order := func(id string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "m", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("10"))}}
	}
	at := func(month time.Month, d, hour int) time.Time {
		return time.Date(2026, month, d, hour, 0, 0, 0, testkit.Shanghai)
	}
	for _, now := range []time.Time{at(7, 10, 10), at(7, 10, 20)} {
		if _, err := p.Advance(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Process(ctx, order("late", at(6, 10, 15))); err != nil {
		t.Errorf("event of 10 June 15:00 after the pass of 10 July 10:00: %v, want it processed", err)
	}
	if _, err := p.Advance(ctx, at(7, 11, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process(ctx, order("later", at(6, 10, 15))); !errors.Is(err, membership.ErrTooOld) {
		t.Errorf("event of 10 June 15:00 after the pass of 11 July 10:00: %v, want ErrTooOld", err)
	}
}
