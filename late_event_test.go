package membership_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
)

// A paid plan's purchase dated while the member held the plan extends it
// from its expiry (SPEC: from max(now, current expiry)), also when it
// arrives after Advance has performed that expiry. Monthly plan Plus (in
// Shanghai): late bought on 1 May at 10:00, to 1 June 10:00; Advance to
// 10 June ends it; then a purchase dated 20 May 09:00 arrives. On 20 May
// the plan ran to 1 June, so it now runs to 1 July 10:00, held since
// 1 May, as for inorder, whose same purchases were processed in time
// order before Advance ran: the same plan, history (but for the
// sequence numbers) and benefits, and one expiry due for each on 1 July.
// Before, late's plan was bought anew from 20 May, to 20 June 09:00, and
// its history kept the expiry of 1 June.
func TestLatePlanPurchaseAfterAdvanceExpiredIt(t *testing.T) {
	def := testkit.LadderDef("")
	def.Benefits = &benefit.Definition{Benefits: []benefit.Benefit{
		{Name: "lounge", Type: benefit.TypeService, Plans: []string{"Plus"}},
	}}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, testkit.Shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	buy := func(id, member, when string) event.Event {
		return event.Event{ID: id, Member: member, Type: "buy", Time: at(when), Attrs: event.Attrs{"plan": event.Str("Plus")}}
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		advance := func(now string, want int) {
			t.Helper()
			n, err := p.Advance(ctx, at(now))
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("Advance to %s performed %d items, want %d", now, n, want)
			}
		}
		testkit.MustProcess(t, p,
			buy("late-1", "late", "2026-05-01 10:00"),
			buy("inorder-1", "inorder", "2026-05-01 10:00"),
			buy("inorder-2", "inorder", "2026-05-20 09:00"))
		advance("2026-06-10 00:00", 1) // late's plan, to 1 June 10:00
		out := testkit.MustProcess(t, ps[1], buy("late-2", "late", "2026-05-20 09:00"))[0]

		var pc level.PlanChange
		if cs := out.ChangesOf(level.ChangePlanPurchased); len(cs) != 1 {
			t.Fatalf("%d plan.purchased", len(cs))
		} else if err := cs[0].Decode(&pc); err != nil {
			t.Fatal(err)
		}
		want := level.PlanChange{Plan: "Plus", Since: at("2026-05-01 10:00"), Expires: at("2026-07-01 10:00"), Renewed: true}
		if diff := cmp.Diff(want, pc, cmp.Comparer(time.Time.Equal)); diff != "" {
			t.Errorf("late purchase (-want +got):\n%s", diff)
		}

		wantPlans := []level.Held{{Plan: "Plus", Since: at("2026-05-01 10:00"), Expires: at("2026-07-01 10:00")}}
		wantHistory := []string{
			"join →Entry at 05-01 10:00",
			"purchase Plus at 05-01 10:00, expires 06-01 10:00",
			"purchase Plus at 05-20 09:00, expires 07-01 10:00",
		}
		for _, m := range []string{"late", "inorder"} {
			s, err := p.Levels().Status(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantPlans, s.Plans, cmp.Comparer(time.Time.Equal)); diff != "" {
				t.Errorf("%s's plans (-want +got):\n%s", m, diff)
			}
			if diff := cmp.Diff(wantHistory, planHistory(t, p, m)); diff != "" {
				t.Errorf("%s's history (-want +got):\n%s", m, diff)
			}
			bs, err := p.Benefits().Of(ctx, m, at("2026-06-25 12:00"))
			if err != nil {
				t.Fatal(err)
			}
			if len(bs) != 1 || bs[0].Name != "lounge" {
				t.Errorf("%s's benefits on 25 June: %v, want the lounge", m, bs)
			}
		}
		counts, err := p.Levels().Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c := counts[len(counts)-1]; c.Name != "Plus" || c.Members != 2 {
			t.Errorf("plan count %+v, want Plus held by 2", c)
		}

		advance("2026-07-01 09:59", 0)
		advance("2026-07-01 10:00", 2)
		wantHistory = append(wantHistory, "expiry Plus at 07-01 10:00, expires 07-01 10:00")
		for _, m := range []string{"late", "inorder"} {
			if diff := cmp.Diff(wantHistory, planHistory(t, p, m)); diff != "" {
				t.Errorf("%s's history after 1 July (-want +got):\n%s", m, diff)
			}
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// planHistory is a member's level history, each record as its cause,
// plan or levels, time and the plan's expiry, in the program's zone.
func planHistory(t *testing.T, p *membership.Program, member string) []string {
	t.Helper()
	h, err := p.Levels().History(context.Background(), member, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range h {
		when := r.Time.In(testkit.Shanghai).Format("01-02 15:04")
		if r.Plan == "" {
			out = append(out, fmt.Sprintf("%s %s→%s at %s", r.Cause, r.From, r.To, when))
			continue
		}
		out = append(out, fmt.Sprintf("%s %s at %s, expires %s", r.Cause, r.Plan, when, r.Expires.In(testkit.Shanghai).Format("01-02 15:04")))
	}
	return out
}
