package membership_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// TestQuoteEqualsProcessTourism quotes then processes, on each store, a
// history of the tourism example's program (plus two tag rules) that
// reaches the rules the retail history of TestQuoteEqualsProcess does
// not: points frozen by risk control (park) and blocked (shops), a level
// frozen on a downgrade and unfrozen, a task rewarding an achievement,
// the daily limit of a task, and, with no Advance for months, term ends
// and a windowed tag ("two shop orders in 7 days") that fall due inside
// the later events. Each quote must be the outcome Process then returns.
func TestQuoteEqualsProcessTourism(t *testing.T) {
	def := testkit.RetailDef(t, "examples/tourism/program.json")
	def.Tags = &tag.Definition{Orders: &tag.Orders{Event: "shop_order", Amount: "amount"},
		Rules: []tag.Rule{{Tag: "busy", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 7, Op: event.Gte, Value: event.Int(2)}}},
			{Tag: "explorer", All: []tag.Cond{{Fact: tag.FactLevel, Op: event.Eq, Value: event.Str("Explorer")}}}}}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			rr := &testkit.RewindRand{}
			p, err := membership.Open(open(), def, membership.WithRand(rr))
			if err != nil {
				t.Fatal(err)
			}
			at := func(m time.Month, d, h int) time.Time { return time.Date(2025, m, d, h, 0, 0, 0, p.Location()) }
			n := 0
			ev := func(typ string, tm time.Time, attrs event.Attrs) event.Event {
				n++
				return event.Event{ID: fmt.Sprintf("e%d", n), Member: "m", Type: typ, Time: tm, Attrs: attrs}
			}
			order := func(typ string, tm time.Time, amount string) event.Event {
				return ev(typ, tm, event.Attrs{"amount": event.DecString(amount), "order_id": event.Str(fmt.Sprintf("o%d", n+1))})
			}
			visit := func(tm time.Time, spot string) event.Event {
				return ev("visit", tm, event.Attrs{"spot": event.Str(spot)})
			}
			evs := []event.Event{
				order("ticket", at(1, 10, 9), "400"), order("ticket", at(1, 10, 10), "2400"),
				order("shop_order", at(1, 10, 11), "2000"), order("shop_order", at(1, 10, 12), "300"),
				visit(at(1, 11, 9), "south-gate"), visit(at(1, 11, 10), "lotus-pond"), visit(at(1, 11, 11), "stone-bridge"),
				visit(at(1, 11, 12), "old-pagoda"), visit(at(1, 11, 13), "summit"),
				ev("check_in", at(1, 12, 9), nil), ev("check_in", at(1, 12, 10), nil),
				// Months later, nothing advanced.
				order("shop_order", at(6, 15, 9), "50"), order("ticket", at(6, 20, 9), "500"), order("shop_order", at(6, 21, 9), "10"),
				order("ticket", at(12, 31, 23), "10"), order("shop_order", at(12, 31, 23), "10"),
			}
			kinds := testkit.QuoteThenProcess(t, p, rr, evs...)
			for _, k := range []string{points.ChangeFrozen, points.ChangeBlocked, level.ChangeFrozen, level.ChangeUnfrozen,
				benefit.ChangeAchievement, task.ChangeLimitReached, tag.ChangeAdded, tag.ChangeRemoved, level.ChangeGift, coupon.ChangeIssued} {
				if !kinds[k] {
					t.Errorf("the history published no %s change", k)
				}
			}
		})
	}
}
