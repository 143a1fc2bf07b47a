package membership_test

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

var decimalOne = decimal.NewFromInt(1)

// Members whose top category is 12–36 month infant formula are tagged M
// (the article's example); a segment lists them in pages, and their
// profile shows the preference.
func ExampleProgram_Segment() {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{
			{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "category", Kind: event.Strings},
		}}},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount", Category: "category"},
			Manual: []tag.Manual{{Name: "staff"}},
			Rules: []tag.Rule{{Tag: "M", All: []tag.Cond{
				{Fact: tag.FactTopCategory, Op: event.Eq, Value: event.Str("formula-12-36m")},
			}}},
		},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, loc)
	orders := []struct{ member, amount, category string }{
		{"ann", "320", "formula-12-36m"}, {"bo", "25", "toys"}, {"cy", "298", "formula-12-36m"}, {"dan", "310", "formula-12-36m"},
	}
	for i, o := range orders {
		_, err := p.Process(ctx, event.Event{ID: fmt.Sprint("o", i), Member: o.member, Type: "order", Time: at,
			Attrs: event.Attrs{"amount": event.DecString(o.amount), "category": event.List(o.category)}})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	p.AddTag(ctx, "t1", "dan", "staff", "alice", "employee", at)
	page, next, _ := p.Segment(ctx, "M and not staff", "", 1)
	fmt.Println(page, next != "")
	page, next, _ = p.Segment(ctx, "M and not staff", next, 1)
	fmt.Println(page, next != "")
	pr, _ := p.Profile(ctx, "ann")
	fmt.Println(pr.Stats.TopCategories[0].Name, pr.Stats.Orders, pr.Stats.AverageOrder)
	// Output:
	// [ann] true
	// [cy] false
	// formula-12-36m 1 320
}
