package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// A segment with a negated windowed tag as a task's target and a coupon's
// claim rule (SPEC "Tags and profile": segments usable as a coupon or task
// target), read at the window's edge before Advance performed it: a win-back
// task for "not recent and not staff" and a coupon for "not recent". The
// task and the claim read the tags the member holds at their time, the
// edge performed first at its instant (package tag, "Automatic tags"). On
// memory, bolt and PostgreSQL, in Shanghai; day(n) is the n-th day of 2026.
//
// ann and bob order on day 1 at 12:00 (recent to 00:00 of day 91); bob is
// staff; cy checks in on day 1 without an order (never recent). No Advance
// runs until the end.
//
//   - cy's check-in of day 1: not recent, not staff: winback done, 10
//     points.
//   - ann's check-in of day 90 23:59:59: recent: not counted. Her claim
//     then: not eligible.
//   - ann's check-in at 00:00 of day 91: her edge performed, recent gone:
//     winback done, 10 points.
//   - bob's check-in at 00:00 of day 91: recent gone but staff: not
//     counted. His claim then: "not recent" holds, one coupon.
//   - Advance to day 92 performs nothing: both edges were performed.
func TestTagNegatedWindowAsTargetAtItsEdge(t *testing.T) {
	ctx := context.Background()
	day := func(n, h, m, s int) time.Time { return time.Date(2026, 1, n, h, m, s, 0, shanghai) }
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "checkin"},
		},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "winback-5", Type: coupon.Cash, Amount: dec("5"), Stock: 10,
			Claim: coupon.ClaimRule{Segment: "not recent"}, Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.Permanent}}}}},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "winback", Kind: task.One, Steps: []task.Step{{Event: "checkin"}},
			Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")}},
			Target:  task.Target{Segment: "not recent and not staff"}}}},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount"},
			Manual: []tag.Manual{{Name: "staff"}},
			Rules:  []tag.Rule{{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(1)}}}},
		},
	}
	checkin := func(id, member string, at time.Time) event.Event {
		return event.Event{ID: id, Member: member, Type: "checkin", Time: at}
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		claim := func(p *membership.Program, id, member string, at time.Time) error {
			_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: id, Member: member, Template: "winback-5", At: at})
			return err
		}
		balance := func(member string) string {
			t.Helper()
			b, err := ps[1].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: member, At: day(92, 0, 0, 0)})
			if err != nil {
				t.Fatal(err)
			}
			return b.Available.String()
		}
		mustProcess(t, ps[0],
			event.Event{ID: "o1", Member: "ann", Type: "order", Time: day(1, 12, 0, 0), Attrs: event.Attrs{"amount": event.DecString("10")}},
			event.Event{ID: "o2", Member: "bob", Type: "order", Time: day(1, 12, 0, 0), Attrs: event.Attrs{"amount": event.DecString("10")}},
			checkin("c0", "cy", day(1, 13, 0, 0)))
		if _, err := ps[1].Tags().Add(ctx, tag.ManualRequest{RequestID: "s1", Member: "bob", Operator: "ops", At: day(1, 13, 0, 0), Tag: "staff"}); err != nil {
			t.Fatal(err)
		}
		mustProcess(t, ps[1], checkin("c1", "ann", day(90, 23, 59, 59)))
		if err := claim(ps[0], "k1", "ann", day(90, 23, 59, 59)); !errors.Is(err, coupon.ErrNotEligible) {
			t.Errorf("ann's claim on day 90: %v, want coupon.ErrNotEligible", err)
		}
		if got := balance("ann"); got != "0" {
			t.Errorf("ann after her check-in of day 90: %s points, want 0", got)
		}
		mustProcess(t, ps[0], checkin("c2", "ann", day(91, 0, 0, 0)), checkin("c3", "bob", day(91, 0, 0, 0)))
		if err := claim(ps[1], "k2", "bob", day(91, 0, 0, 0)); err != nil {
			t.Errorf("bob's claim at 00:00 of day 91: %v", err)
		}
		for m, want := range map[string]string{"ann": "10", "bob": "0", "cy": "10"} {
			if got := balance(m); got != want {
				t.Errorf("%s: %s points, want %s", m, got, want)
			}
		}
		list, err := ps[0].Coupons().List(ctx, "bob")
		if err != nil || len(list) != 1 {
			t.Errorf("bob's coupons: %v, %v; want one", list, err)
		}
		if n, err := ps[1].Advance(ctx, day(92, 0, 0, 0)); err != nil || n != 0 {
			t.Errorf("Advance to day 92: %d, %v; want nothing left", n, err)
		}
		for _, m := range []string{"ann", "bob"} {
			if got := tagNamesOf(t, ps[0], m); len(got) != map[string]int{"ann": 0, "bob": 1}[m] {
				t.Errorf("%s's tags: %v", m, got)
			}
		}
	})
}
