package membership_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
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
	"task.daily", "task.done", "task.limits", "task.progress", "task.steps",
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
