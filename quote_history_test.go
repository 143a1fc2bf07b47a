package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/task"
)

// A quote is what the event then gets when processed, whole, after the
// changes a checkout history makes, on memory, bolt and PostgreSQL: a
// plan bought at 00:00, orders around a month's end (one at 00:00 of 1
// April, the next month for the task), points redeemed, a refund of the
// order that reached Gold once its points were spent, a late order of
// March that completes the task of three orders that month, a second
// refund, a reversal of the redemption, and a year on the plan renewed at
// its expiry instant with an order at that instant.
func TestQuoteEqualsProcessAfterRefundsAndLateEvents(t *testing.T) {
	ctx := context.Background()
	rr := &testkit.RewindRand{}
	sh := testkit.Shanghai
	at := func(m time.Month, day, hour int) time.Time { return time.Date(2025, m, day, hour, 0, 0, 0, sh) }
	order := func(id, amount string, when time.Time) event.Event {
		return event.Event{ID: id, Member: "a", Type: "order", Time: when, Attrs: event.Attrs{
			"amount": event.DecString(amount), "order_id": event.Str(id), "category": event.List("fresh")}}
	}
	refund := func(id, ord, amount string, when time.Time) event.Event {
		return event.Event{ID: id, Member: "a", Type: "refund", Time: when, Attrs: event.Attrs{"amount": event.DecString(amount), "order_id": event.Str(ord)}}
	}
	fee := func(id string, when time.Time) event.Event {
		return event.Event{ID: id, Member: "a", Type: "fee", Time: when, Attrs: event.Attrs{"plan": event.Str("Plus"), "amount": event.DecString("99")}}
	}
	onEveryStoreWith(t, retailDef(t), []membership.Option{membership.WithRand(rr)}, func(t *testing.T, ps [2]*membership.Program) {
		p := ps[0]
		kinds := map[string]bool{}
		quote := func(evs ...event.Event) {
			t.Helper()
			for k := range testkit.QuoteThenProcess(t, p, rr, evs...) {
				kinds[k] = true
			}
		}
		quote(event.Event{ID: "reg", Member: "a", Type: "register", Time: at(3, 1, 9)},
			fee("fee", at(3, 10, 0)),
			order("o1", "1000", at(3, 30, 10)),
			order("o2", "600", at(3, 31, 23)),
			order("o3", "10", at(4, 1, 0)))
		if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r1", Member: "a", At: at(4, 2, 10), Program: "mall", Ref: "mall-1", Amount: testkit.Dec("2000")}); err != nil {
			t.Fatal(err)
		}
		quote(refund("rf1", "o2", "600", at(4, 3, 10)),
			order("late", "50", at(3, 31, 22)),
			refund("rf2", "o1", "500", at(4, 4, 10)),
			order("o4", "1000", at(4, 5, 10)))
		if _, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "rv1", At: at(4, 6, 10), Program: "mall", Ref: "mall-1"}); err != nil {
			t.Fatal(err)
		}
		// The plan bought at 00:00 on 10 March 2025 ends at 00:00 on 10
		// March 2026, where the fee renews it anew.
		year := time.Date(2026, 3, 10, 0, 0, 0, 0, sh)
		quote(refund("rf3", "o4", "1000", at(4, 7, 10)), fee("fee2", year), order("o5", "10", year))
		for _, k := range []string{level.ChangeLevel, level.ChangeGift, level.ChangePlanPurchased, points.ChangeEarned,
			points.ChangeReversed, task.ChangeCompleted} {
			if !kinds[k] {
				t.Errorf("the history published no %s change", k)
			}
		}
	})
}
