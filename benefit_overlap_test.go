package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// twoPlansDef is a Shanghai program with a ladder of member (entry) and
// silver at 100 growth (one per yuan of an order; one month after,
// retention 100 over one month, next lower), two plans bought by one
// event, plus (10 days) and vip (monthly), and a catalog in this order:
//
//	silver-price    discount 0.9 (cent, half up)   silver
//	plus-price      discount 0.85 (cent, half up)  plus
//	vip-price       discount 0.8 (yuan, down)      vip
//	plus-lounge     service                        plus
//	vip-care        care                           vip
//	shared-care     care                           plus, vip
//	silver-service  service                        silver; vip
func twoPlansDef() membership.Definition {
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "buy", Attributes: []event.Attr{{Name: "plan", Kind: event.String, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "member", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "silver", Upgrade: dec("100"), Retention: dec("100"), Window: 1, Downgrade: level.NextLower,
					Validity: rule.Validity{Kind: rule.MonthsAfter, N: 1}},
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
			Plans: []level.Plan{
				{Name: "plus", Period: level.Days, Days: 10, Event: "buy", Attr: "plan"},
				{Name: "vip", Period: level.Monthly, Event: "buy", Attr: "plan"},
			},
		},
		Benefits: &benefit.Definition{Benefits: []benefit.Benefit{
			{Name: "silver-price", Type: benefit.TypeDiscount, Levels: []string{"silver"}, Discount: &benefit.Discount{Rate: dec("0.9")}},
			{Name: "plus-price", Type: benefit.TypeDiscount, Plans: []string{"plus"}, Discount: &benefit.Discount{Rate: dec("0.85")}},
			{Name: "vip-price", Type: benefit.TypeDiscount, Plans: []string{"vip"},
				Discount: &benefit.Discount{Rate: dec("0.8"), Rounding: &rule.Rounding{Scale: 0, Mode: rule.RoundDown}}},
			{Name: "plus-lounge", Type: benefit.TypeService, Plans: []string{"plus"}},
			{Name: "vip-care", Type: benefit.TypeCare, Plans: []string{"vip"}},
			{Name: "shared-care", Type: benefit.TypeCare, Plans: []string{"plus", "vip"}},
			{Name: "silver-service", Type: benefit.TypeService, Levels: []string{"silver"}, Plans: []string{"vip"}},
		}},
	}
}

// SPEC "Benefits": "A member's benefits are those of their current level
// and active plans", to the instant, with two plans overlapping; the
// member price is the lowest price of those benefits (package benefit's
// documented choice). On memory, bolt and PostgreSQL, m orders 100 on 1
// March 10:00 (silver, term to 24:00 of 1 April: 2 April 00:00), buys
// plus on 5 March 10:00 (to 15 March 10:00) and vip on 10 March 10:00 (to
// 10 April 10:00); the window [2 March, 2 April) earned nothing, so the
// term end takes m to member. A benefit bound to both plans, or to the
// level and a plan, is listed once. Member prices of 19.99, worked by
// hand: silver 17.991 → 17.99, plus 16.9915 → 16.99, vip 15.992 → 15.
// Each instant is asked before Advance and again after Advance has
// performed everything (to 11 April): the answers are the same (the
// level history keeps what was held then).
func TestBenefitsWithTwoPlansOverlappingAndATermEnd(t *testing.T) {
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, shanghai) }
	const ns = time.Nanosecond
	cases := []struct {
		what     string
		at       time.Time
		benefits []string
		price    string
		by       string
	}{
		{"silver and plus, before vip", at(3, 10, 10).Add(-ns),
			[]string{"silver-price", "plus-price", "plus-lounge", "shared-care", "silver-service"}, "16.99", "plus-price"},
		{"both plans from vip's purchase", at(3, 10, 10),
			[]string{"silver-price", "plus-price", "vip-price", "plus-lounge", "vip-care", "shared-care", "silver-service"}, "15", "vip-price"},
		{"both plans until plus ends", at(3, 15, 10).Add(-ns),
			[]string{"silver-price", "plus-price", "vip-price", "plus-lounge", "vip-care", "shared-care", "silver-service"}, "15", "vip-price"},
		{"plus ended", at(3, 15, 10),
			[]string{"silver-price", "vip-price", "vip-care", "shared-care", "silver-service"}, "15", "vip-price"},
		{"silver's last instant", at(4, 2, 0).Add(-ns),
			[]string{"silver-price", "vip-price", "vip-care", "shared-care", "silver-service"}, "15", "vip-price"},
		{"silver's term ended", at(4, 2, 0),
			[]string{"vip-price", "vip-care", "shared-care", "silver-service"}, "15", "vip-price"},
		{"vip's last instant", at(4, 10, 10).Add(-ns),
			[]string{"vip-price", "vip-care", "shared-care", "silver-service"}, "15", "vip-price"},
		{"vip ended", at(4, 10, 10), nil, "19.99", ""},
	}
	onEveryStore(t, twoPlansDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		buy := func(id, plan string, when time.Time) event.Event {
			return event.Event{ID: id, Member: "m", Type: "buy", Time: when, Attrs: event.Attrs{"plan": event.Str(plan)}}
		}
		mustProcess(t, ps[0],
			event.Event{ID: "o1", Member: "m", Type: "order", Time: at(3, 1, 10), Attrs: event.Attrs{"amount": event.Dec(dec("100"))}},
			buy("b1", "plus", at(3, 5, 10)),
			buy("b2", "vip", at(3, 10, 10)))
		for _, advanced := range []bool{false, true} {
			for _, c := range cases {
				p := ps[1]
				bs, err := p.Benefits().Of(ctx, "m", c.at)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, b := range bs {
					got = append(got, b.Name)
				}
				if diff := cmp.Diff(c.benefits, got); diff != "" {
					t.Errorf("%s (advanced %v): benefits (-want +got):\n%s", c.what, advanced, diff)
				}
				price, err := p.Benefits().MemberPrice(ctx, "m", dec("19.99"), c.at)
				if err != nil {
					t.Fatal(err)
				}
				by := ""
				if price.By != nil {
					by = price.By.Name
				}
				if !price.Amount.Equal(dec(c.price)) || by != c.by {
					t.Errorf("%s (advanced %v): member price of 19.99 = %s by %q, want %s by %q", c.what, advanced, price.Amount, by, c.price, c.by)
				}
			}
			if !advanced {
				if _, err := ps[0].Advance(ctx, at(4, 11, 0)); err != nil {
					t.Fatal(err)
				}
				s, err := ps[0].Levels().Status(ctx, "m")
				if err != nil || s.Level != "member" {
					t.Fatalf("after Advance: %+v, %v; want member", s, err)
				}
			}
		}
	})
}
