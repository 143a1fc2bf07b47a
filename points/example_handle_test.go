package points_test

import (
	"context"
	"errors"
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
func ExampleHandle_Redeem() {
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
	out, err := p.Process(ctx, event.Event{ID: "o1", Member: "ann", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.DecString("1288.50")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fx, err := points.EffectsOf(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	earned := fx.Changes[0]
	fmt.Println("earned", earned.Amount, "expiring", earned.Expires.Format(time.DateTime))

	paid, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "pay-1", Member: "ann", At: at.Add(time.Hour),
		Program: "shop", Ref: "o2", Order: decimal.RequireFromString("20.00")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("paid", paid.Points, "points for", paid.Split.PointsMoney.StringFixed(2), "cash", paid.Split.Cash.StringFixed(2))

	if _, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "rev-1", At: at.Add(2 * time.Hour), Program: "shop", Ref: "o2"}); err != nil {
		fmt.Println(err)
		return
	}
	may := time.Date(2026, 5, 1, 0, 0, 0, 0, zone)
	n, _ := p.Advance(ctx, may)
	b, _ := p.Points().Balance(ctx, points.BalanceQuery{Program: "shop", Member: "ann", At: may})
	r, _ := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "shop"})
	fmt.Println("expired lots", n, "balance", b.Total(), "identity holds", r.Holds())
	// Output:
	// earned 1288 expiring 2026-05-01 00:00:00
	// paid 1000 points for 10.00 cash 10.00
	// expired lots 1 balance 0 identity holds true
}

// An adjustment above the program's approval threshold waits for another
// operator, who approves it.
func ExampleHandle_Approve() {
	ctx := context.Background()
	zone, _ := time.LoadLocation("Asia/Shanghai")
	limit := decimal.NewFromInt(500)
	p, err := membership.Open(memory.New(), membership.Definition{
		Zone:   "Asia/Shanghai",
		Points: &points.Definition{Programs: []points.Program{{Name: "shop", ApprovalAbove: &limit}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, zone)
	res, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "ann", Operator: "alice",
		Note: "compensation for a lost parcel", At: at, Program: "shop", Amount: decimal.NewFromInt(800)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("adjustment", res.Adjustment.ID, "is", res.Adjustment.State)
	if _, err := p.Points().Approve(ctx, points.DecideRequest{RequestID: "dec-1", Operator: "alice", At: at, Adjustment: "adj-1"}); err != nil {
		fmt.Println("alice cannot approve her own request:", errors.Is(err, points.ErrSelfApproval))
	}
	if _, err := p.Points().Approve(ctx, points.DecideRequest{RequestID: "dec-2", Operator: "bob", At: at.Add(time.Hour), Adjustment: "adj-1"}); err != nil {
		fmt.Println(err)
		return
	}
	adj, _ := p.Points().Adjustment(ctx, "adj-1")
	b, _ := p.Points().Balance(ctx, points.BalanceQuery{Program: "shop", Member: "ann", At: at.Add(time.Hour)})
	fmt.Println("adjustment", adj.ID, "is", adj.State, "by", adj.Decider, "at", adj.Decided.Format(time.DateTime), "- balance", b.Available)
	// Output:
	// adjustment adj-1 is pending
	// alice cannot approve her own request: true
	// adjustment adj-1 is applied by bob at 2026-03-10 13:00:00 - balance 800
}

// A member center shows a member's points in total: what they earned,
// spent and lost to expiry, in all and in one month, and what is left,
// which those add up to. Points are valid to the end of the month they
// are earned in.
func ExampleHandle_Totals() {
	ctx := context.Background()
	zone, _ := time.LoadLocation("Asia/Shanghai")
	p, err := membership.Open(memory.New(), membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "shop"}},
			Rules: []points.Rule{{
				ID: "buy", Program: "shop", Event: "order",
				Formula:  rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)},
				Validity: rule.Validity{Kind: rule.MonthEnds},
			}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	order := func(id, amount string, at time.Time) error {
		_, err := p.Process(ctx, event.Event{ID: id, Member: "ann", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString(amount)}})
		return err
	}
	march, april := time.Date(2026, 3, 1, 0, 0, 0, 0, zone), time.Date(2026, 4, 1, 0, 0, 0, 0, zone)
	if err := order("o1", "1288.50", march.AddDate(0, 0, 9)); err != nil { // 1288 points, valid through March
		fmt.Println(err)
		return
	}
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "pay-1", Member: "ann", At: march.AddDate(0, 0, 20),
		Program: "shop", Ref: "mall-item-7", Amount: decimal.NewFromInt(500)}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := p.Advance(ctx, april); err != nil { // the 788 left expire
		fmt.Println(err)
		return
	}
	if err := order("o2", "99.90", april.AddDate(0, 0, 1)); err != nil { // 99 points
		fmt.Println(err)
		return
	}
	all, err := p.Points().Totals(ctx, points.TotalsQuery{Program: "shop", Member: "ann"})
	if err != nil {
		fmt.Println(err)
		return
	}
	inApril, _ := p.Points().Totals(ctx, points.TotalsQuery{Program: "shop", Member: "ann", From: april, To: april.AddDate(0, 1, 0)})
	b, _ := p.Points().Balance(ctx, points.BalanceQuery{Program: "shop", Member: "ann", At: april.AddDate(0, 0, 2)})
	fmt.Println("earned", all.Earned, "redeemed", all.Redeemed, "expired", all.Expired)
	fmt.Println("in April: earned", inApril.Earned, "expired", inApril.Expired)
	fmt.Println("left", all.Change, "balance", b.Total())
	// Output:
	// earned 1387 redeemed 500 expired 788
	// in April: earned 99 expired 788
	// left 99 balance 99
}
