package membership_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/value"
)

// SPEC "Events": an event's ID is "unique per program, the idempotency
// key", and "the same event ID processed twice changes nothing the second
// time and returns the first outcome". On every store: alice's recharge
// r1 of 50 (balance 50); the ID r1 for bob is another event under a taken
// ID: ErrEventConflict, bob still has nothing. alice pays 20 (50 − 20 =
// 30); r1 again, after that payment, returns the first outcome (its
// change says balance 50, not 30 + 50 = 80) and alice keeps 30.
func TestEventIDUniquePerProgramAndRetryReturnsTheFirstOutcome(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p, err := membership.Open(open(), valueDef())
			if err != nil {
				t.Fatal(err)
			}
			first := mustProcess(t, p, recharge("r1", "alice", "50", t0))[0]
			if _, err := p.Process(ctx, recharge("r1", "bob", "50", t0)); !errors.Is(err, membership.ErrEventConflict) {
				t.Errorf("r1 for bob: %v; want ErrEventConflict", err)
			}
			if va, err := p.Value().Account(ctx, "bob"); err != nil || !va.Balance.IsZero() || !va.Recharged.IsZero() {
				t.Errorf("bob after the refused r1: %+v, %v; want nothing", va, err)
			}
			mustProcess(t, p, pay("p1", "alice", "20", t0.Add(time.Hour)))
			again, err := p.Process(ctx, recharge("r1", "alice", "50", t0))
			if err != nil || !again.Duplicate {
				t.Fatalf("r1 again: %+v, %v; want a duplicate", again, err)
			}
			again.Duplicate = false
			if diff := cmp.Diff(first, again); diff != "" {
				t.Errorf("r1 again (-first +again):\n%s", diff)
			}
			var ch value.Change
			if err := again.ChangesOf(value.ChangeRecharged)[0].Decode(&ch); err != nil || !ch.Balance.Equal(dec("50")) {
				t.Errorf("r1 again says %+v, %v; want the balance of its time, 50", ch, err)
			}
			va, err := p.Value().Account(ctx, "alice")
			if err != nil || !va.Balance.Equal(dec("30")) || !va.Recharged.Equal(dec("50")) || !va.Spent.Equal(dec("20")) {
				t.Errorf("alice = %+v, %v; want balance 30, recharged 50, spent 20", va, err)
			}
		})
	}
}

// SPEC "Events": an event of an undeclared type, a missing required
// attribute or an attribute of the wrong type "is rejected with an error
// that names the field; nothing is written". On LadderDef (growth, a
// ladder with gifts, refunds, a plan), on every store, with ann already a
// member (an order of 30: Bronze) and nia never seen: each bad event, for
// either of them, leaves every bucket of the store as it was — nia is not
// joined to the entry level, no growth, no history, no feed, no ID taken.
func TestRejectedEventWritesNothingAnywhere(t *testing.T) {
	at := time.Date(2026, 3, 15, 10, 0, 0, 0, shanghai)
	bad := []struct {
		name  string
		ev    event.Event
		field string
		want  error
	}{
		{"undeclared type", event.Event{Type: "teleport"}, "type", membership.ErrUnknownEventType},
		{"missing required", event.Event{Type: "order", Attrs: event.Attrs{"order_id": event.Str("n1")}}, "attrs.amount", event.ErrMissingAttribute},
		{"wrong type", event.Event{Type: "order", Attrs: event.Attrs{"amount": event.Int(40)}}, "attrs.amount", event.ErrAttributeType},
		{"wrong type, list", event.Event{Type: "buy", Attrs: event.Attrs{"plan": event.List("Plus")}}, "attrs.plan", event.ErrAttributeType},
	}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open()
			p, err := membership.Open(st, testkit.LadderDef(level.NextLower))
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p, event.Event{ID: "o1", Member: "ann", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec("30"))}})
			before := testkit.Dump(t, st, everyBucket...)
			for _, tc := range bad {
				for _, member := range []string{"ann", "nia"} {
					ev := tc.ev
					ev.ID, ev.Member, ev.Time = "bad-"+member, member, at.Add(time.Hour)
					_, err := p.Process(ctx, ev)
					if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.field) {
						t.Errorf("%s for %s: %v; want %v naming %s", tc.name, member, err, tc.want, tc.field)
					}
					if diff := cmp.Diff(before, testkit.Dump(t, st, everyBucket...)); diff != "" {
						t.Fatalf("%s for %s wrote (-before +after):\n%s", tc.name, member, diff)
					}
				}
			}
			if h, err := p.Levels().History(ctx, "nia", 0, 10); err != nil || len(h) != 0 {
				t.Errorf("nia's history = %+v, %v; want none", h, err)
			}
			// The IDs stay free: a valid event under one is taken.
			out := mustProcess(t, p, event.Event{ID: "bad-nia", Member: "nia", Type: "check_in", Time: at.Add(2 * time.Hour)})[0]
			if out.Duplicate {
				t.Error("a valid event under a rejected ID was answered as a duplicate")
			}
		})
	}
}

// SPEC "Events": "Rules read time from the event, never from the wall
// clock". The program's clock (WithClock) stands still in 2099 and the
// wall clock hardly moves while the test runs, yet on LadderDef, on every
// store: check-ins on 15 and 16 March 2026 (once a day, 12 each) are on
// two days: 24, Bronze from the second, whose one-month-end term ends
// at 24:00 of 30 April 2026, counted from the event; a third check-in on
// 16 March is cut by that day's cap: still 24.
func TestRulesReadTheEventsTime(t *testing.T) {
	frozen := func() time.Time { return time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC) }
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p, err := membership.Open(open(), testkit.LadderDef(level.NextLower), membership.WithClock(frozen))
			if err != nil {
				t.Fatal(err)
			}
			checkIn := func(id string, at time.Time) event.Event {
				return event.Event{ID: id, Member: "ann", Type: "check_in", Time: at}
			}
			mustProcess(t, p,
				checkIn("c1", time.Date(2026, 3, 15, 9, 0, 0, 0, shanghai)),
				checkIn("c2", time.Date(2026, 3, 16, 9, 0, 0, 0, shanghai)),
				checkIn("c3", time.Date(2026, 3, 16, 18, 0, 0, 0, shanghai)),
			)
			s, err := p.Levels().Status(ctx, "ann")
			if err != nil {
				t.Fatal(err)
			}
			if end := time.Date(2026, 5, 1, 0, 0, 0, 0, shanghai); s.Level != "Bronze" || !s.Growth.Equal(dec("24")) || !s.TermEnd.Equal(end) {
				t.Errorf("ann: %s, growth %s, term end %v; want Bronze, 24, %v", s.Level, s.Growth, s.TermEnd, end)
			}
		})
	}
}
