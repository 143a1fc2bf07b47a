package membership_test

import (
	"errors"
	"strings"

	"context"
	"fmt"
	"os"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/postgres"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// validityDef is a program in zone where an order of 10 or more earns 10
// points valid v and takes the member to gold, a level of validity v whose
// gift is 5 points (the program's validity, v) and a coupon valid v.
func validityDef(zone string, v rule.Validity) membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	window := 0
	if v.Kind != rule.Permanent {
		window = 1
	}
	return membership.Definition{
		Zone:   zone,
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "base", Validity: permanent},
				{Name: "gold", Upgrade: dec("10"), Validity: v, Window: window, Gifts: []rule.Reward{
					{Kind: rule.RewardPoints, Program: "mall", Amount: dec("5")},
					{Kind: rule.RewardCoupon, Template: "gift"},
				}},
			},
			Growth: []level.GrowthRule{{ID: "orders", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall", Validity: v}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Validity: v,
				Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("10")}}},
		},
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "gift", Type: coupon.Cash, Amount: dec("3"), Use: coupon.UseRule{Validity: v}, Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.System}}},
		}},
	}
}

// One validity is one expiry whoever applies it: an order upgrades a
// member to a level of validity v and earns points valid v, and the
// level's gift gives points of the program's validity v and a coupon
// valid v. The term end, both lots' expiries and the coupon's are the
// same instant, worked out by hand from the rules of SPEC "Validity", in
// zones where midnight is skipped (Santiago starts summer time at 00:00
// on the first Sunday of September: 6 September 2026 begins at 01:00)
// or comes twice (Gaza, 29 October 2021: back from 01:00 to 00:00).
// Each item is valid at the instant before its expiry and not at it.
func TestValiditySameForLevelsPointsAndCoupons(t *testing.T) {
	feb29 := rule.Validity{Kind: rule.AnnualDate, Month: time.February, Day: 29}
	tests := []struct {
		name  string
		zone  string
		start string // the order, wall time in the zone
		v     rule.Validity
		want  string // the expiry, RFC 3339 in the zone; "" for none
	}{
		{"permanent", "Asia/Shanghai", "2026-11-24 10:00", rule.Validity{Kind: rule.Permanent}, ""},
		// 29 February in a year without one is 28 February: ordered on
		// the 28th itself, everything ends at its 24:00.
		{"annual 29 Feb on 28 Feb of a common year", "Asia/Shanghai", "2027-02-28 23:30", feb29, "2027-03-01T00:00:00+08:00"},
		{"annual 29 Feb on 29 Feb", "Asia/Shanghai", "2028-02-29 00:00", feb29, "2028-03-01T00:00:00+08:00"},
		{"annual 29 Feb after it", "Asia/Shanghai", "2028-03-01 00:00", feb29, "2029-03-01T00:00:00+08:00"},
		// Month ends 0: this month's last day; 1: next month's.
		{"month ends 0", "Asia/Shanghai", "2026-12-31 23:59", rule.Validity{Kind: rule.MonthEnds}, "2027-01-01T00:00:00+08:00"},
		{"month ends 1 (article)", "Asia/Shanghai", "2026-11-24 15:04", rule.Validity{Kind: rule.MonthEnds, N: 1}, "2027-01-01T00:00:00+08:00"},
		{"month ends into a skipped midnight", "America/Santiago", "2026-07-10 12:00", rule.Validity{Kind: rule.MonthEnds, N: 1}, "2026-09-01T00:00:00-04:00"},
		// Months after: 31 January + 1 month is 28 February's 24:00.
		{"months after from 31 January", "Asia/Shanghai", "2027-01-31 08:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2027-03-01T00:00:00+08:00"},
		{"months after into a skipped midnight", "America/Santiago", "2026-08-05 12:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2026-09-06T01:00:00-03:00"},
		{"months after into a doubled midnight", "Asia/Gaza", "2021-09-28 12:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2021-10-29T00:00:00+03:00"},
		{"annual date into a skipped midnight", "America/Santiago", "2026-03-05 12:00", rule.Validity{Kind: rule.AnnualDate, Month: time.September, Day: 5}, "2026-09-06T01:00:00-03:00"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := testkit.Zone(tt.zone)
			start, err := time.ParseInLocation("2006-01-02 15:04", tt.start, loc)
			if err != nil {
				t.Fatal(err)
			}
			var want time.Time
			if tt.want != "" {
				if want, err = time.Parse(time.RFC3339, tt.want); err != nil {
					t.Fatal(err)
				}
			}
			p := openMemory(t, validityDef(tt.zone, tt.v))
			mustProcess(t, p, event.Event{ID: "o1", Member: "m", Type: "order", Time: start, Attrs: event.Attrs{"amount": event.Dec(dec("10"))}})

			st, err := p.Levels().Status(ctx, "m")
			if err != nil || st.Level != "gold" {
				t.Fatalf("status %+v, %v; want gold", st, err)
			}
			if !st.TermEnd.Equal(want) {
				t.Errorf("term end %v, want %v", st.TermEnd, want)
			}
			lots, err := p.Points().Lots(ctx, points.LotsQuery{Program: "mall", Member: "m"})
			if err != nil || len(lots) != 2 {
				t.Fatalf("lots %+v, %v; want the order's and the gift's", lots, err)
			}
			for _, l := range lots {
				if !l.Expires.Equal(want) {
					t.Errorf("lot of %s expires %v, want %v", l.Amount, l.Expires, want)
				}
			}
			cs, err := p.Coupons().List(ctx, "m")
			if err != nil || len(cs) != 1 {
				t.Fatalf("coupons %+v, %v; want the gift", cs, err)
			}
			if !cs[0].Expires.Equal(want) {
				t.Errorf("coupon expires %v, want %v", cs[0].Expires, want)
			}
			if want.IsZero() {
				return
			}
			before := want.Add(-time.Nanosecond)
			for _, at := range []struct {
				t      time.Time
				points string
				valid  bool
			}{{before, "15", true}, {want, "0", false}} {
				b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at.t})
				if err != nil || !b.Available.Equal(dec(at.points)) {
					t.Errorf("points available at %v: %+v, %v; want %s", at.t, b, err, at.points)
				}
				if got := cs[0].ValidAt(at.t); got != at.valid {
					t.Errorf("coupon valid at %v: %v, want %v", at.t, got, at.valid)
				}
			}
			// Advance performs each expiry at its instant, not before:
			// the term ends (kept, a new term starting then), the lots
			// expire and the coupon is expired.
			for _, now := range []time.Time{before, want} {
				if _, err := p.Advance(ctx, now); err != nil {
					t.Fatal(err)
				}
				done := !now.Before(want)
				st, err := p.Levels().Status(ctx, "m")
				if err != nil || st.Since.Equal(want) != done || st.Level != "gold" {
					t.Errorf("after Advance(%v): status %+v, %v; want gold, a new term from %v: %v", now, st, err, want, done)
				}
				b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: now})
				if wantMain := map[bool]string{false: "15", true: "0"}[done]; err != nil || !b.Main.Equal(dec(wantMain)) {
					t.Errorf("after Advance(%v): balance %+v, %v; want main %s", now, b, err, wantMain)
				}
				cs, err := p.Coupons().List(ctx, "m")
				if wantState := map[bool]coupon.State{false: coupon.Available, true: coupon.Expired}[done]; err != nil || len(cs) != 1 || cs[0].State != wantState {
					t.Errorf("after Advance(%v): coupons %+v, %v; want one %s", now, cs, err, wantState)
				}
			}
		})
	}
}

// kindsDef declares an event with a required attribute of every kind, and
// a rule of each domain that reads it, so that an event let through would
// write something.
func kindsDef() membership.Definition {
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{{Name: "visit", Attributes: []event.Attr{
			{Name: "s", Kind: event.String, Required: true},
			{Name: "d", Kind: event.Decimal, Required: true},
			{Name: "i", Kind: event.Integer, Required: true},
			{Name: "b", Kind: event.Bool, Required: true},
			{Name: "t", Kind: event.Time, Required: true},
			{Name: "l", Kind: event.Strings, Required: true},
		}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "visit", Program: "mall", Event: "visit",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "d", Rate: dec("1")}}},
		},
	}
}

// An attribute of every kind is checked against its declaration: left
// out, or given as any other kind, the event is refused with an error
// naming the attribute (attrs.<name>) and wrapping ErrInvalidEvent and
// the cause, and nothing is written (the feed is empty, the balance 0 and
// the ID free). The good event then goes through, and its retry (its
// times given in another zone, the list the same) is a duplicate with
// the first outcome; the list in another order is another event.
func TestEventAttributeOfEveryKind(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, shanghai)
	values := map[event.Kind]event.Value{
		event.String:  event.Str("x"),
		event.Decimal: event.Dec(dec("7")),
		event.Integer: event.Int(7),
		event.Bool:    event.Flag(true),
		event.Time:    event.At(at.Add(-time.Hour)),
		event.Strings: event.List("a", "b"),
	}
	names := map[event.Kind]string{event.String: "s", event.Decimal: "d", event.Integer: "i", event.Bool: "b", event.Time: "t", event.Strings: "l"}
	good := func() event.Event {
		ev := event.Event{ID: "v1", Member: "m", Type: "visit", Time: at, Attrs: event.Attrs{}}
		for k, v := range values {
			ev.Attrs[names[k]] = v
		}
		return ev
	}
	p := openMemory(t, kindsDef())
	nothingWritten := func(t *testing.T) {
		t.Helper()
		if feed, err := p.Feed(ctx, 0, 10); err != nil || len(feed) != 0 {
			t.Errorf("feed %+v, %v; want nothing", feed, err)
		}
		b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at})
		if err != nil || !b.Total().IsZero() {
			t.Errorf("balance %+v, %v; want 0", b, err)
		}
	}
	for kind, name := range names {
		t.Run(string(kind)+"/missing", func(t *testing.T) {
			ev := good()
			delete(ev.Attrs, name)
			_, err := p.Process(ctx, ev)
			wantErrs(t, "missing "+name, err, membership.ErrInvalidEvent, event.ErrMissingAttribute)
			if err != nil && !strings.Contains(err.Error(), "attrs."+name) {
				t.Errorf("error %q does not name attrs.%s", err, name)
			}
			nothingWritten(t)
		})
		for other, v := range values {
			if other == kind {
				continue
			}
			t.Run(string(kind)+"/as "+string(other), func(t *testing.T) {
				ev := good()
				ev.Attrs[name] = v
				_, err := p.Process(ctx, ev)
				wantErrs(t, name+" as "+string(other), err, membership.ErrInvalidEvent, event.ErrAttributeType)
				if err != nil && !strings.Contains(err.Error(), "attrs."+name) {
					t.Errorf("error %q does not name attrs.%s", err, name)
				}
				nothingWritten(t)
			})
		}
	}
	first := mustProcess(t, p, good())[0]
	retry := good()
	retry.Time = retry.Time.UTC()
	retry.Attrs["t"] = event.At(values[event.Time].Time.In(time.FixedZone("x", -5*3600)))
	retry.Attrs["l"] = event.List("a", "b")
	again, err := p.Process(ctx, retry)
	if err != nil || !again.Duplicate {
		t.Fatalf("retry: %+v, %v; want a duplicate", again, err)
	}
	again.Duplicate = false
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("retry's outcome (-first +retry):\n%s", diff)
	}
	retry.Attrs["l"] = event.List("b", "a")
	if _, err := p.Process(ctx, retry); !errors.Is(err, membership.ErrEventConflict) {
		t.Errorf("the list in another order: %v, want ErrEventConflict", err)
	}
	b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at})
	if err != nil || !b.Available.Equal(dec("7")) {
		t.Errorf("balance %+v, %v; want 7 (one visit of 7)", b, err)
	}
}

// A retry inside the idempotency window returns the first outcome even
// when that outcome holds only due work the event performed first: a term
// end (Bronze, one month end from 24 November 2026: 1 January 2027) due
// weeks before the event (15 February) because the host had not called
// Advance. Retention dated the feed record by its change (1 January) and
// pruned it at the pass of 20 February (window 30 days: horizon and cut
// 21 January) while the event's record, dated 15 February, still named it,
// so the retry failed with store.ErrCorrupt. The next pass past the
// event's time prunes both, and the retry is then ErrTooOld.
func TestRetryOfEventWithOnlyOldCatchUpChanges(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) { testRetryOfOldCatchUp(t, open()) })
	}
	if dsn := os.Getenv("MEMBERSHIP_PG_DSN"); dsn != "" {
		t.Run("postgres", func(t *testing.T) {
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			schema := fmt.Sprintf("oldcatchup_%d", os.Getpid())
			defer pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			st, err := postgres.New(ctx, pool, &postgres.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			testRetryOfOldCatchUp(t, st)
		})
	}
}

func testRetryOfOldCatchUp(t *testing.T, st store.Store) {
	ctx := context.Background()
	const day = 24 * time.Hour
	def := testkit.LadderDef(level.NextLower)
	def.Events = append(def.Events, event.Type{Name: "ping"})
	p, err := membership.Open(st, def, membership.WithRetention(membership.Retention{Window: 30 * day, Feed: 30 * day}))
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, shanghai) }
	// 20 growth: Bronze, kept at its term end (retention 10).
	mustProcess(t, p, event.Event{ID: "v", Member: "m", Type: "verify", Time: at(2026, 11, 24)})
	ping := event.Event{ID: "p", Member: "m", Type: "ping", Time: at(2027, 2, 15)}
	first := mustProcess(t, p, ping)[0]
	if got := testkit.Kinds(first, ""); len(got) != 1 || !first.Changes[0].Time.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, shanghai)) {
		t.Fatalf("the ping's changes %+v; want the term end of 1 January alone", first.Changes)
	}
	if _, err := p.Advance(ctx, at(2027, 2, 20)); err != nil {
		t.Fatal(err)
	}
	again, err := p.Process(ctx, ping)
	if err != nil || !again.Duplicate {
		t.Fatalf("retry of the ping inside the window: %+v, %v; want a duplicate", again, err)
	}
	again.Duplicate = false
	if diff := cmp.Diff(first, again, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("retry's outcome (-first +retry):\n%s", diff)
	}
	// 17 March: the horizon is 15 February 10:00 and the ping's record
	// stays; on the 18th it is past, record, feed record and note go.
	for _, now := range []time.Time{at(2027, 3, 17), at(2027, 3, 18)} {
		if _, err := p.Advance(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Process(ctx, ping); !errors.Is(err, membership.ErrTooOld) {
		t.Errorf("retry of the ping after the window: %v, want ErrTooOld", err)
	}
	if feed, err := p.Feed(ctx, 0, 100); !errors.Is(err, membership.ErrFeedPruned) {
		t.Errorf("feed after the window: %d changes, %v; want ErrFeedPruned", len(feed), err)
	}
	err = st.View(ctx, func(tx store.Tx) error {
		return tx.Scan("meta", nil, nil, false, func(k, _ []byte) error {
			if strings.HasPrefix(string(k), "feed.old.") {
				t.Errorf("note %q left after its feed record was pruned", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
