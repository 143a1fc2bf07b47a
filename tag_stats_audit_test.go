package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// Tag rules over the statistics' documented choices (package tag,
// "Profile and statistics"), on memory, bolt and PostgreSQL: the top value
// by order count, then amount, then name; a list attribute's values
// trimmed, blank ones dropped, each distinct value counted once per order;
// the list fact holding only the top Top values; the average order value
// rounded half-up to the cent before a rule compares it, amounts of many
// decimals summed exactly; a whole refund lowering nothing; the recharge
// total summed exactly (0.1 + 0.2 is 0.3); and a fact the member lacks
// (no brand) matching no condition, "ne" included.
//
// Top is 1. Rules: M (top category = formula), likes-formula (categories
// contains formula), basket (average order ≥ 37.51), card (recharge total
// ≥ 0.3), other-brand (top brand ≠ acme). ann's orders, an hour apart:
//
//   - o1 100, brand " acme ", categories formula, " formula ", diapers,
//     "": formula and diapers one order of 100 each, a tie on count and
//     amount: diapers by name. Average 100: basket.
//   - o2 50, brand blank, diapers: diapers 2 orders of 150. Average 75.
//   - o3 0, no brand, formula: formula 2 orders of 100, diapers ahead on
//     amount. Average 50.
//   - o4 0.01, formula: formula 3 orders: top, M and likes-formula (the
//     one category listed). Average 150.01 / 4 = 37.5025, 37.50: basket
//     lost.
//   - o5 37.515, toys: average 187.525 / 5 = 37.505, half-up 37.51 (half
//     to even would give 37.50): basket again.
//   - rf, a refund of the whole of o1: points reversed, no tag change.
//   - o6 0.00000000000000000001, toys: 187.52500000000000000001 / 6 =
//     31.254…, 31.25: basket lost.
//   - r1 0.1, r2 0.2: 0.3 after r2: card.
//
// ann's brand is acme throughout: never other-brand. bob's only order
// has no brand: no other-brand either; cy's brand zeta: other-brand.
func TestTagRulesOverTheStatisticsChoices(t *testing.T) {
	ctx := context.Background()
	orderAttrs := []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true},
		{Name: "brand", Kind: event.String}, {Name: "category", Kind: event.Strings}}
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: orderAttrs},
			{Name: "refund", Attributes: orderAttrs[:2]},
			{Name: "recharge", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall", Rounding: rule.Rounding{Scale: 2}}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Order: "order_id",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
			Refunds: []points.Refund{{Event: "refund", Order: "order_id", Amount: "amount"}},
		},
		Tags: &tag.Definition{
			Orders:   &tag.Orders{Event: "order", Amount: "amount", Brand: "brand", Category: "category"},
			Recharge: &tag.Recharge{Event: "recharge", Amount: "amount"},
			Top:      1,
			Rules: []tag.Rule{
				{Tag: "M", All: []tag.Cond{{Fact: tag.FactTopCategory, Op: event.Eq, Value: event.Str("formula")}}},
				{Tag: "likes-formula", All: []tag.Cond{{Fact: tag.FactCategories, Op: event.Contains, Value: event.Str("formula")}}},
				{Tag: "basket", All: []tag.Cond{{Fact: tag.FactAverageOrder, Op: event.Gte, Value: event.DecString("37.51")}}},
				{Tag: "card", All: []tag.Cond{{Fact: tag.FactRechargeTotal, Op: event.Gte, Value: event.DecString("0.3")}}},
				{Tag: "other-brand", All: []tag.Cond{{Fact: tag.FactTopBrand, Op: event.Ne, Value: event.Str("acme")}}},
			},
		},
	}
	at := time.Date(2026, 6, 1, 10, 0, 0, 0, shanghai)
	order := func(id, member, amount string, h int, brand *string, cats ...string) event.Event {
		attrs := event.Attrs{"order_id": event.Str(id), "amount": event.DecString(amount), "category": event.List(cats...)}
		if brand != nil {
			attrs["brand"] = event.Str(*brand)
		}
		return event.Event{ID: id, Member: member, Type: "order", Time: at.Add(time.Duration(h) * time.Hour), Attrs: attrs}
	}
	str := func(s string) *string { return &s }
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		for i, s := range []struct {
			ev   event.Event
			want []string
		}{
			{order("o1", "ann", "100", 0, str(" acme "), "formula", " formula ", "diapers", ""), []string{"basket"}},
			{order("o2", "ann", "50", 1, str("   "), "diapers"), []string{"basket"}},
			{order("o3", "ann", "0", 2, nil, "formula"), []string{"basket"}},
			{order("o4", "ann", "0.01", 3, nil, "formula"), []string{"M", "likes-formula"}},
			{order("o5", "ann", "37.515", 4, nil, "toys"), []string{"M", "basket", "likes-formula"}},
			{event.Event{ID: "rf", Member: "ann", Type: "refund", Time: at.Add(5 * time.Hour),
				Attrs: event.Attrs{"order_id": event.Str("o1"), "amount": event.DecString("100")}}, []string{"M", "basket", "likes-formula"}},
			{order("o6", "ann", "0.00000000000000000001", 6, nil, "toys"), []string{"M", "likes-formula"}},
			{recharge("r1", "ann", "0.1", at.Add(7*time.Hour)), []string{"M", "likes-formula"}},
			{recharge("r2", "ann", "0.2", at.Add(8*time.Hour)), []string{"M", "card", "likes-formula"}},
			{order("b1", "bob", "10", 0, nil, "toys"), []string{}},
			{order("c1", "cy", "10", 0, str("zeta"), "toys"), []string{"other-brand"}},
		} {
			out := mustProcess(t, ps[i%2], s.ev)[0]
			if s.ev.Type == "refund" && (len(out.ChangesOf(points.ChangeReversed)) != 1 || len(testkit.Kinds(out, "tag.")) != 0) {
				t.Errorf("the whole refund: changes %v; want the points reversed and no tag change", testkit.Kinds(out, ""))
			}
			if got := tagNamesOf(t, ps[(i+1)%2], s.ev.Member); !cmp.Equal(got, s.want) {
				t.Errorf("after %s: %s's tags %v, want %v", s.ev.ID, s.ev.Member, got, s.want)
			}
		}
		pr, err := ps[0].Tags().Profile(ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		want := tag.Summary{
			FirstOrder: at, LastOrder: at.Add(6 * time.Hour), Orders: 6,
			Amount: dec("187.52500000000000000001"), AverageOrder: dec("31.25"), Recharged: dec("0.3"),
			TopBrands:     []tag.Ranked{{Name: "acme", Orders: 1, Amount: dec("100")}},
			TopCategories: []tag.Ranked{{Name: "formula", Orders: 3, Amount: dec("100.01")}},
		}
		if diff := cmp.Diff(want, pr.Stats, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
			cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ann's statistics (-want +got):\n%s", diff)
		}
	})
}
