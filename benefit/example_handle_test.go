package benefit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// ExampleHandle_MemberPrice prices an order for a member: the benefits
// follow the member's level and paid plans, and the lowest discount wins.
func ExampleHandle_MemberPrice() {
	permanent := rule.Validity{Kind: rule.Permanent}
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "buy_plan", Attributes: []event.Attr{{Name: "plan", Kind: event.String, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "member", Validity: permanent}, {Name: "gold", Upgrade: decimal.NewFromInt(500), Validity: permanent}},
			Plans:  []level.Plan{{Name: "plus", Period: level.Monthly, Event: "buy_plan", Attr: "plan"}},
		},
		Benefits: &benefit.Definition{Benefits: []benefit.Benefit{
			{Name: "gold-discount", Type: benefit.TypeDiscount, Levels: []string{"gold"}, Discount: &benefit.Discount{Rate: decimal.RequireFromString("0.88")}},
			{Name: "plus-discount", Type: benefit.TypeDiscount, Plans: []string{"plus"}, Discount: &benefit.Discount{Rate: decimal.RequireFromString("0.85")}},
		}},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, p.Location())
	amount := decimal.RequireFromString("199.99")
	show := func(when time.Time) {
		price, err := p.Benefits().MemberPrice(ctx, "ann", amount, when)
		switch {
		case err != nil:
			fmt.Println(err)
		case price.By == nil:
			fmt.Println(price.Amount, "(no discount)")
		default:
			fmt.Println(price.Amount, "by", price.By.Name)
		}
	}
	show(at)
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "r1", Member: "ann", Operator: "ops", Note: "VIP", At: at, Level: "gold"}); err != nil {
		fmt.Println(err)
		return
	}
	show(at)
	if _, err := p.Process(ctx, event.Event{ID: "e1", Member: "ann", Type: "buy_plan", Time: at, Attrs: event.Attrs{"plan": event.Str("plus")}}); err != nil {
		fmt.Println(err)
		return
	}
	show(at.Add(time.Hour))
	show(at.AddDate(0, 1, 0)) // the monthly plan has ended
	// Output:
	// 199.99 (no discount)
	// 175.99 by gold-discount
	// 169.99 by plus-discount
	// 175.99 by gold-discount
}
