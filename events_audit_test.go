package membership_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// SPEC "Events": an attribute of the wrong type, or one the type does not
// declare, "is rejected with an error that names the field; nothing is
// written". On ValueDef (its "order" declares an attribute of each kind,
// "recharge" the stored-value amount), with the journal on, on memory,
// bolt and PostgreSQL: alice holds 50 (a recharge) and nia was never
// seen; each bad event below, for either of them, returns an error
// wrapping ErrInvalidEvent and the cause, naming attrs.<name>, and leaves
// every bucket as it was (feed, journal, ledger, totals, IDs). A list
// holding something else than its strings (a stray field of another
// kind: the only way a Go value or its JSON can carry a non-string in a
// list) is refused as a wrong type, as is a kind no declaration has.
// The ID is still free after all of them: a good order under it is
// taken, not answered as a duplicate.
func TestEventBadAttributesWriteNothingAnywhere(t *testing.T) {
	at := time.Date(2026, 3, 15, 10, 0, 0, 0, shanghai)
	order := func(name string, v event.Value) event.Event {
		attrs := event.Attrs{"amount": event.Dec(dec("10"))}
		attrs[name] = v
		return event.Event{Type: "order", Attrs: attrs}
	}
	bad := []struct {
		name  string
		ev    event.Event
		field string
		want  error
	}{
		{"string as an integer", order("store", event.Int(7)), "attrs.store", event.ErrAttributeType},
		{"decimal as a string", order("amount", event.Str("10")), "attrs.amount", event.ErrAttributeType},
		{"integer as a whole decimal", order("items", event.Dec(dec("3"))), "attrs.items", event.ErrAttributeType},
		{"bool as a string", order("paid", event.Str("true")), "attrs.paid", event.ErrAttributeType},
		{"bool as an integer", order("paid", event.Int(1)), "attrs.paid", event.ErrAttributeType},
		{"time as a string", order("at", event.Str("2026-03-15T09:00:00+08:00")), "attrs.at", event.ErrAttributeType},
		{"list as a string", order("tags", event.Str("infant")), "attrs.tags", event.ErrAttributeType},
		{"list holding an integer", order("tags", event.Value{Kind: event.Strings, Strings: []string{"infant"}, Int: 3}), "attrs.tags", event.ErrAttributeType},
		{"list holding a decimal alone", order("tags", event.Value{Kind: event.Strings, Dec: dec("1")}), "attrs.tags", event.ErrAttributeType},
		{"list holding a string beside it", order("tags", event.Value{Kind: event.Strings, Str: "formula"}), "attrs.tags", event.ErrAttributeType},
		{"a kind no one declares", order("items", event.Value{Kind: "float"}), "attrs.items", event.ErrAttributeType},
		{"undeclared attribute", order("colour", event.Str("red")), "attrs.colour", event.ErrUnknownAttribute},
		{"stored-value amount as an integer", event.Event{Type: "recharge", Attrs: event.Attrs{"amount": event.Int(50)}}, "attrs.amount", event.ErrAttributeType},
		{"stored-value amount as a string", event.Event{Type: "recharge", Attrs: event.Attrs{"amount": event.Str("50")}}, "attrs.amount", event.ErrAttributeType},
		{"undeclared attribute on a recharge", event.Event{Type: "recharge", Attrs: event.Attrs{"amount": event.Dec(dec("50")), "channel": event.Str("app")}}, "attrs.channel", event.ErrUnknownAttribute},
	}
	for name, open := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open()
			p, err := membership.Open(st, testkit.ValueDef(), membership.WithJournal())
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p, recharge("r1", "alice", "50", at))
			before := testkit.Dump(t, st, everyBucket...)
			for _, tc := range bad {
				for _, member := range []string{"alice", "nia"} {
					ev := tc.ev
					ev.ID, ev.Member, ev.Time = "bad-"+member, member, at.Add(time.Hour)
					_, err := p.Process(ctx, ev)
					wantErrs(t, tc.name+" for "+member, err, membership.ErrInvalidEvent, tc.want)
					if err != nil && !strings.Contains(err.Error(), tc.field) {
						t.Errorf("%s for %s: %q does not name %s", tc.name, member, err, tc.field)
					}
					if diff := cmp.Diff(before, testkit.Dump(t, st, everyBucket...)); diff != "" {
						t.Fatalf("%s for %s wrote (-before +after):\n%s", tc.name, member, diff)
					}
				}
			}
			for _, member := range []string{"alice", "nia"} {
				out := mustProcess(t, p, event.Event{ID: "bad-" + member, Member: member, Type: "order", Time: at.Add(2 * time.Hour),
					Attrs: event.Attrs{"amount": event.Dec(dec("10")), "tags": event.List("infant")}})[0]
				if out.Duplicate {
					t.Errorf("a good order under %s's refused ID was answered as a duplicate", member)
				}
			}
			if va, err := p.Value().Account(ctx, "alice"); err != nil || !va.Balance.Equal(dec("50")) || !va.Recharged.Equal(dec("50")) {
				t.Errorf("alice = %+v, %v; want 50 recharged, 50 held", va, err)
			}
		})
	}
}

// SPEC "Events": "every date, day/week/month/year bucket and 24:00
// boundary is in [the program's] zone", whatever zone the event's time is
// given in. LadderDef runs in Asia/Shanghai (UTC+8, no summer time);
// check-ins earn 12 growth, at most 12 a day. Four check-ins, on memory,
// bolt and PostgreSQL, worked by hand:
//
//	given as                          Shanghai               UTC day  growth
//	c1 2026-03-30 16:30 UTC           31 Mar 00:30           30 Mar   12
//	c2 2026-03-31 06:00 New York EDT  31 Mar 18:00           31 Mar    0 (the day's 12 taken)
//	c3 2026-03-31 15:59:59.999… UTC   31 Mar 23:59:59.999…   31 Mar    0
//	c4 2026-03-31 16:00 UTC           1 Apr 00:00            31 Mar   12
//
// Growth 24: Bronze (20) at c4, whose term (one month end) runs to 24:00
// of the last day of the month after April in Shanghai: 1 June 00:00
// (read in UTC, c4 is in March and the term would end on 1 May). The
// ledger's daily growth totals put 12 on 31 March and 12 on 1 April;
// the times returned are in the program's zone.
func TestEventTimeInAnotherZoneCountsInTheProgramsZone(t *testing.T) {
	newYork := testkit.Zone("America/New_York")
	checkIn := func(id string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "ann", Type: "check_in", Time: at}
	}
	onEveryStore(t, testkit.LadderDef(level.NextLower), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		outs := mustProcess(t, p,
			checkIn("c1", time.Date(2026, 3, 30, 16, 30, 0, 0, time.UTC)),
			checkIn("c2", time.Date(2026, 3, 31, 6, 0, 0, 0, newYork)),
			checkIn("c3", time.Date(2026, 3, 31, 15, 59, 59, 999999999, time.UTC)),
			checkIn("c4", time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC)),
		)
		for i, want := range []int{1, 0, 0, 1} {
			if got := len(outs[i].ChangesOf(level.ChangeGrowth)); got != want {
				t.Errorf("c%d: %d growth changes, want %d", i+1, got, want)
			}
		}
		s, err := ps[1].Levels().Status(ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		termEnd := time.Date(2026, 6, 1, 0, 0, 0, 0, shanghai)
		if !s.Growth.Equal(dec("24")) || s.Level != "Bronze" || !s.TermEnd.Equal(termEnd) {
			t.Errorf("status = growth %s, %s to %v; want 24, Bronze to %v", s.Growth, s.Level, s.TermEnd, termEnd)
		}
		// The Program that answered (ps[1]: on PostgreSQL another instance,
		// whose zone is a *time.Location of its own, loaded by its Open).
		if loc := ps[1].Location(); s.TermEnd.Location() != loc || s.Since.Location() != loc {
			t.Errorf("status times in %v and %v, want the program's zone %v", s.Since.Location(), s.TermEnd.Location(), loc)
		}
		for day, want := range map[string]string{"2026-03-30": "0", "2026-03-31": "12", "2026-04-01": "12"} {
			totals, err := ps[1].Totals(ctx, ledger.Growth, day, day)
			if err != nil {
				t.Fatal(err)
			}
			sum := dec("0")
			for _, v := range totals {
				sum = sum.Add(v)
			}
			if !sum.Equal(dec(want)) {
				t.Errorf("growth posted on %s = %s (%v), want %s", day, sum, totals, want)
			}
		}
	})
}

// SPEC "Events": a retry "older than the window is refused with a clear
// error, never applied twice", and the same ID with other content is
// another event under a taken ID. Window 30 days; on memory, bolt and
// PostgreSQL, alice recharges 50 (e1, 1 June 10:00) and 20 (e2, 20 June
// 10:00); the pass of Advance at 10 July 10:00 puts the horizon at 10
// June 10:00, pruning e1's record and keeping e2's. Worked by hand:
//
//   - e1 again, or e1 with another amount: both before the horizon,
//     ErrTooOld with ErrInvalidEvent, the message giving the window's
//     start; nothing applied (balance 70).
//   - e2 again: inside the window, its first outcome (Duplicate); e2 with
//     another amount: ErrEventConflict, nothing applied (balance 70).
//   - e3 at the horizon's own instant (inside) is taken (balance 75); its
//     retry is a duplicate, its retry with another amount a conflict.
//   - e1 reused with a time inside the window is, past the window, not
//     known as e1: the ID is no longer remembered, and the event (another
//     time, so another content) is taken as new (balance 80). A host's
//     retry keeps its event's time; the doc of Retention.Window says so.
func TestIdempotencyWindowRetries(t *testing.T) {
	const day = 24 * time.Hour
	opts := []membership.Option{membership.WithRetention(membership.Retention{Window: 30 * day, Feed: 30 * day})}
	at := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, shanghai) }
	horizon := at(6, 10)
	onEveryStoreWith(t, testkit.ValueDef(), opts, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		balance := func(want string) {
			t.Helper()
			va, err := ps[1].Value().Account(ctx, "alice")
			if err != nil || !va.Balance.Equal(dec(want)) || !va.Recharged.Equal(dec(want)) {
				t.Errorf("alice = %+v, %v; want %s recharged and held", va, err, want)
			}
		}
		mustProcess(t, p, recharge("e1", "alice", "50", at(6, 1)))
		first2 := mustProcess(t, p, recharge("e2", "alice", "20", at(6, 20)))[0]
		if _, err := p.Advance(ctx, at(7, 10)); err != nil {
			t.Fatal(err)
		}
		for _, amount := range []string{"50", "60"} {
			_, err := ps[1].Process(ctx, recharge("e1", "alice", amount, at(6, 1)))
			wantErrs(t, "e1 of "+amount+" after the window", err, membership.ErrTooOld, membership.ErrInvalidEvent)
			if err != nil && !strings.Contains(err.Error(), "2026-06-10T02:00:00Z") {
				t.Errorf("e1 of %s: %q does not give the window's start", amount, err)
			}
		}
		balance("70")
		again, err := ps[1].Process(ctx, recharge("e2", "alice", "20", at(6, 20)))
		if err != nil || !again.Duplicate {
			t.Fatalf("e2 again: %+v, %v; want a duplicate", again, err)
		}
		again.Duplicate = false
		if diff := cmp.Diff(first2, again); diff != "" {
			t.Errorf("e2 again (-first +again):\n%s", diff)
		}
		if _, err := p.Process(ctx, recharge("e2", "alice", "25", at(6, 20))); !errors.Is(err, membership.ErrEventConflict) {
			t.Errorf("e2 with another amount: %v, want ErrEventConflict", err)
		}
		balance("70")
		mustProcess(t, p, recharge("e3", "alice", "5", horizon))
		balance("75")
		if out, err := ps[1].Process(ctx, recharge("e3", "alice", "5", horizon.UTC())); err != nil || !out.Duplicate {
			t.Errorf("e3 again: %+v, %v; want a duplicate", out, err)
		}
		if _, err := ps[1].Process(ctx, recharge("e3", "alice", "6", horizon)); !errors.Is(err, membership.ErrEventConflict) {
			t.Errorf("e3 with another amount: %v, want ErrEventConflict", err)
		}
		balance("75")
		if out, err := p.Process(ctx, recharge("e1", "alice", "5", at(7, 9))); err != nil || out.Duplicate {
			t.Errorf("e1 reused at 9 July: %+v, %v; want it taken as a new event", out, err)
		}
		balance("80")
	})
}

// SPEC "Events": week, month and year buckets are the program's too, and
// weeks start on Monday. A Shanghai program's "sign" earns 10 points by
// each of three rules, capped at 10 a week (W), a month (M) and a year
// (Y); the events are given in UTC. Worked by hand (1 March 2026 is a
// Sunday):
//
//	event  UTC                Shanghai                       W   M   Y   points
//	e1     2026-02-28 15:30   Sat 28 Feb 23:30               10  10  10  30
//	e2     2026-02-28 16:30   Sun 1 Mar 00:30 (new month)    0   10  0   10
//	e3     2026-03-01 16:30   Mon 2 Mar 00:30 (new week)     10  0   0   10
//	e4     2026-12-31 15:30   Thu 31 Dec 23:30               10  10  0   20
//	e5     2026-12-31 16:30   Fri 1 Jan 2027 00:30 (new yr)  0   10  10  20
//
// Counted in UTC, e2 would earn 0 (February, e1's week and year) and e5
// 0 (31 December); with weeks from Sunday, e2 20 and e3 0. On memory,
// bolt and PostgreSQL.
func TestWeekMonthYearBucketsInTheProgramsZone(t *testing.T) {
	fixed := rule.Formula{Kind: rule.Fixed, Fixed: dec("10")}
	capped := func(id string, period rule.Period) points.Rule {
		return points.Rule{ID: id, Program: "mall", Event: "sign", Formula: fixed, Caps: rule.Caps{{Period: period, Limit: dec("10")}}}
	}
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "sign"}},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{capped("W", rule.Week), capped("M", rule.Month), capped("Y", rule.Year)}},
	}
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	signs := []struct {
		id   string
		at   time.Time
		earn string
	}{
		{"e1", utc(2026, 2, 28, 15, 30), "30"},
		{"e2", utc(2026, 2, 28, 16, 30), "10"},
		{"e3", utc(2026, 3, 1, 16, 30), "10"},
		{"e4", utc(2026, 12, 31, 15, 30), "20"},
		{"e5", utc(2026, 12, 31, 16, 30), "20"},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		total := dec("0")
		for i, s := range signs {
			mustProcess(t, ps[i%2], event.Event{ID: s.id, Member: "m", Type: "sign", Time: s.at})
			total = total.Add(dec(s.earn))
			b, err := ps[(i+1)%2].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: utc(2027, 6, 1, 0, 0)})
			if err != nil || !b.Available.Equal(total) {
				t.Errorf("after %s: %+v, %v; want %s available (%s earned)", s.id, b, err, total, s.earn)
			}
		}
	})
}

// Event IDs and request IDs are two key spaces: SPEC "Events" makes an
// event's ID unique among events, and every operator call's RequestID is
// unique among requests. On memory, bolt and PostgreSQL (badgeDef): a's
// share "x1" grants the badge (task share-once); an operator's grant
// under RequestID "x1" to b is another thing under another key, taken,
// its change naming "x1" too; a level set under "x1" reuses a request's
// ID with other content, ErrEventConflict, nothing changed (b stays
// member); the share's and the grant's retries are each a duplicate of
// their own first outcome.
func TestRequestIDsApartFromEventIDs(t *testing.T) {
	at := time.Date(2026, 3, 10, 10, 0, 0, 0, shanghai)
	onEveryStore(t, badgeDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		share := event.Event{ID: "x1", Member: "a", Type: "share", Time: at}
		grant := benefit.GrantRequest{RequestID: "x1", Member: "b", Operator: "ops", At: at.Add(time.Hour), Achievement: "badge"}
		first := mustProcess(t, ps[0], share)[0]
		granted, err := ps[1].Benefits().GrantAchievement(ctx, grant)
		if err != nil || granted.Duplicate || granted.Member != "b" {
			t.Fatalf("the grant under the share's ID: %+v, %v; want it taken for b", granted, err)
		}
		if cs := granted.ChangesOf(benefit.ChangeAchievement); len(cs) != 1 || cs[0].Event != "x1" || cs[0].Member != "b" {
			t.Errorf("the grant's changes: %+v; want b's achievement, naming x1", cs)
		}
		_, err = ps[0].Levels().Set(ctx, level.SetRequest{RequestID: "x1", Member: "b", Operator: "ops", Note: "n", At: at.Add(2 * time.Hour), Level: "silver"})
		if !errors.Is(err, membership.ErrEventConflict) {
			t.Errorf("a level set under the grant's ID: %v, want ErrEventConflict", err)
		}
		if s, err := ps[1].Levels().Status(ctx, "b"); err != nil || s.Level != "member" {
			t.Errorf("b after the refused set: %+v, %v; want member", s, err)
		}
		again, err := ps[1].Process(ctx, share)
		if err != nil || !again.Duplicate {
			t.Fatalf("the share again: %+v, %v; want a duplicate", again, err)
		}
		again.Duplicate = false
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("the share again (-first +again):\n%s", diff)
		}
		regrant, err := ps[0].Benefits().GrantAchievement(ctx, grant)
		if err != nil || !regrant.Duplicate {
			t.Fatalf("the grant again: %+v, %v; want a duplicate", regrant, err)
		}
		regrant.Duplicate = false
		if diff := cmp.Diff(granted, regrant); diff != "" {
			t.Errorf("the grant again (-first +again):\n%s", diff)
		}
	})
}

// SPEC "Events": the same event ID again "returns the first outcome". An
// event that changed nothing is no exception: on ValueDef an order (no
// rule reads it) posts nothing and publishes nothing, so its outcome has
// no entries and no changes (nil), and its retry, on memory, bolt and
// PostgreSQL, equals it field by field. Before, the first outcome held
// empty lists where its retry's, read back from the store, held none:
// reflect.DeepEqual and cmp.Diff told them apart (the share of
// TestRequestIDsApartFromEventIDs, which posts nothing, showed it too).
func TestRetryOfAnEventThatChangedNothing(t *testing.T) {
	at := time.Date(2026, 3, 10, 10, 0, 0, 0, shanghai)
	onEveryStore(t, testkit.ValueDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		ev := event.Event{ID: "o1", Member: "ann", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec("10"))}}
		first := mustProcess(t, ps[0], ev)[0]
		if first.Entries != nil || first.Changes != nil {
			t.Errorf("the order's outcome: entries %#v, changes %#v; want none", first.Entries, first.Changes)
		}
		again, err := ps[1].Process(ctx, ev)
		if err != nil || !again.Duplicate {
			t.Fatalf("the order again: %+v, %v; want a duplicate", again, err)
		}
		again.Duplicate = false
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("the order again (-first +again):\n%s", diff)
		}
	})
}
