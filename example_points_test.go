package membership_test

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// A shop earns one point per yuan, valid to the end of next month; a
// member pays part of an order with points, the order is reversed, and the
// points expire.
func ExampleProgram_RedeemPoints() {
	ctx := context.Background()
	zone, _ := time.LoadLocation("Asia/Shanghai")
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "shop", Payment: &points.Payment{
				Rate: decimal.RequireFromString("0.01"), MaxShare: decimal.RequireFromString("0.5"),
			}}},
			Rules: []points.Rule{{
				ID: "buy", Program: "shop", Event: "order",
				Formula:  rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)},
				Validity: rule.Validity{Kind: rule.MonthEnds, N: 1},
			}},
		},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, zone)
	out, _ := p.Process(ctx, event.Event{ID: "o1", Member: "ann", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.DecString("1288.50")}})
	var earned membership.PointsChange
	_ = out.ChangesOf(membership.ChangePointsEarned)[0].Decode(&earned)
	fmt.Println("earned", earned.Amount, "expiring", earned.Expires.In(zone).Format(time.DateTime))

	out, err = p.RedeemPoints(ctx, membership.RedeemPointsRequest{ID: "pay-1", Program: "shop", Member: "ann",
		Ref: "o2", Order: decimal.RequireFromString("20.00"), At: at.Add(time.Hour)})
	if err != nil {
		fmt.Println(err)
		return
	}
	var paid membership.PointsChange
	_ = out.ChangesOf(membership.ChangePointsRedeemed)[0].Decode(&paid)
	fmt.Println("paid", paid.Split.Points, "points for", paid.Split.PointsMoney.StringFixed(2), "cash", paid.Split.Cash.StringFixed(2))

	if _, err := p.ReversePoints(ctx, membership.ReversePointsRequest{ID: "rev-1", Program: "shop", Ref: "o2", At: at.Add(2 * time.Hour)}); err != nil {
		fmt.Println(err)
		return
	}
	n, _ := p.Advance(ctx, time.Date(2026, 5, 1, 0, 0, 0, 0, zone))
	b, _ := p.PointsBalance(ctx, "shop", "ann", time.Date(2026, 5, 1, 0, 0, 0, 0, zone))
	r, _ := p.PointsReconciliation(ctx, "shop", "", "")
	fmt.Println("expired lots", n, "balance", b.Total(), "identity holds", r.Holds())
	// Output:
	// earned 1288 expiring 2026-05-01 00:00:00
	// paid 1000 points for 10.00 cash 10.00
	// expired lots 1 balance 0 identity holds true
}
