package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// The profile's statistics after orders (one late), a refund and
// recharges, on memory and bolt, as the spec lists them and the tag
// package documents them: the first and last order by order time (a late
// order earlier than the first becomes the first; the last stays), the
// order count and amount as placed (a refund lowers neither: the refund
// rules reverse what an order earned, not the profile), the average order
// value rounded half-up to the cent (20.01 over 2 is 10.005: 10.01, where
// rounding half to even would give 10.00), the recharge total (recharges
// count no order), and the top Top values of each dimension by order
// count, then amount, then name, a list attribute counting the order's
// whole amount for each of its values.
func TestProfileStatisticsAfterOrdersRefundsAndRecharges(t *testing.T) {
	ctx := context.Background()
	orderAttrs := []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true},
		{Name: "brand", Kind: event.String}, {Name: "category", Kind: event.Strings}, {Name: "product", Kind: event.Strings}}
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: orderAttrs},
			{Name: "refund", Attributes: orderAttrs[:2]},
			{Name: "recharge", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
		},
		// A points rule that records its orders, so that the refund
		// reverses something: the profile still does not move.
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall", Rounding: rule.Rounding{Scale: 2}}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Order: "order_id",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
			Refunds: []points.Refund{{Event: "refund", Order: "order_id", Amount: "amount"}},
		},
		Tags: &tag.Definition{
			Orders:   &tag.Orders{Event: "order", Amount: "amount", Brand: "brand", Category: "category", Product: "product"},
			Recharge: &tag.Recharge{Event: "recharge", Amount: "amount"},
			Top:      3,
		},
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	order := func(id, amount, brand string, at time.Time, cats, prods []string) event.Event {
		return event.Event{ID: id, Member: "ann", Type: "order", Time: at, Attrs: event.Attrs{"order_id": event.Str(id),
			"amount": event.DecString(amount), "brand": event.Str(brand), "category": event.List(cats...), "product": event.List(prods...)}}
	}
	opts := cmp.Options{
		cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location().String() == b.Location().String() }),
	}
	for name, open := range map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{
		"memory": openMemory, "bolt": openBolt,
	} {
		t.Run(name, func(t *testing.T) {
			p := open(t, def)
			stats := func(when string, want tag.Summary) {
				t.Helper()
				pf, err := p.Tags().Profile(ctx, "ann")
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, pf.Stats, opts); diff != "" {
					t.Errorf("%s: stats (-want +got):\n%s", when, diff)
				}
			}
			mustProcess(t, p,
				order("o1", "10.01", "b", at, []string{"x", "y"}, []string{"p1"}),
				order("o2", "10.00", "a", at.Add(24*time.Hour), []string{"y"}, []string{"p2", "p3"}))
			stats("after two orders", tag.Summary{
				FirstOrder: at, LastOrder: at.Add(24 * time.Hour), Orders: 2, Amount: dec("20.01"),
				AverageOrder: dec("10.01"), Recharged: decimal.Zero,
				// b and a one order each: b's larger amount first.
				TopBrands: []tag.Ranked{{Name: "b", Orders: 1, Amount: dec("10.01")}, {Name: "a", Orders: 1, Amount: dec("10.00")}},
				// y in both orders: 2 orders, 20.01; x in o1 only.
				TopCategories: []tag.Ranked{{Name: "y", Orders: 2, Amount: dec("20.01")}, {Name: "x", Orders: 1, Amount: dec("10.01")}},
				// p2 and p3 tie on count and amount: by name.
				TopProducts: []tag.Ranked{{Name: "p1", Orders: 1, Amount: dec("10.01")}, {Name: "p2", Orders: 1, Amount: dec("10.00")}, {Name: "p3", Orders: 1, Amount: dec("10.00")}},
			})
			mustProcess(t, p,
				// Late: a day before o1.
				order("o3", "10.00", "c", at.Add(-24*time.Hour), []string{"x"}, []string{"p1"}),
				order("o4", "100", "z", at.Add(48*time.Hour), []string{"z"}, []string{"p9"}),
				event.Event{ID: "rf", Member: "ann", Type: "refund", Time: at.Add(72 * time.Hour),
					Attrs: event.Attrs{"order_id": event.Str("o4"), "amount": event.DecString("40")}},
				event.Event{ID: "rc1", Member: "ann", Type: "recharge", Time: at.Add(time.Hour), Attrs: event.Attrs{"amount": event.DecString("200")}},
				event.Event{ID: "rc2", Member: "ann", Type: "recharge", Time: at.Add(96 * time.Hour), Attrs: event.Attrs{"amount": event.DecString("50.50")}})
			// The refund took back 40 of o4's 100 points: 10.01 + 10 + 10 + 60.
			bal, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "ann", At: at.Add(100 * time.Hour)})
			if err != nil || !bal.Available.Equal(dec("90.01")) {
				t.Errorf("points %s, %v; want 90.01 (the refund reversed 40)", bal.Available, err)
			}
			stats("after the late order, o4, its refund and two recharges", tag.Summary{
				FirstOrder: at.Add(-24 * time.Hour), LastOrder: at.Add(48 * time.Hour), Orders: 4,
				// 10.01 + 10 + 10 + 100, the refund of 40 not taken off;
				// 130.01 / 4 = 32.5025.
				Amount: dec("130.01"), AverageOrder: dec("32.50"), Recharged: dec("250.50"),
				// All one order each: z (100), b (10.01), then a before c
				// (10.00 each) by name; c is fourth, beyond Top.
				TopBrands: []tag.Ranked{{Name: "z", Orders: 1, Amount: dec("100")}, {Name: "b", Orders: 1, Amount: dec("10.01")}, {Name: "a", Orders: 1, Amount: dec("10.00")}},
				// x and y 2 orders and 20.01 each, by name; z's 100 in one
				// order comes after: the count first.
				TopCategories: []tag.Ranked{{Name: "x", Orders: 2, Amount: dec("20.01")}, {Name: "y", Orders: 2, Amount: dec("20.01")}, {Name: "z", Orders: 1, Amount: dec("100")}},
				TopProducts:   []tag.Ranked{{Name: "p1", Orders: 2, Amount: dec("20.01")}, {Name: "p9", Orders: 1, Amount: dec("100")}, {Name: "p2", Orders: 1, Amount: dec("10.00")}},
			})
		})
	}
}
