package tag_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// Members whose top category is 12–36 month infant formula are tagged M
// (the article's example); a segment lists them in pages, and their
// profile shows the preference.
func ExampleHandle_Segment() {
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
	tags := p.Tags()
	if _, err := tags.Add(ctx, tag.ManualRequest{RequestID: "t1", Member: "dan", Operator: "alice", Note: "employee", At: at, Tag: "staff"}); err != nil {
		fmt.Println(err)
		return
	}
	q := tag.SegmentQuery{Expr: tag.MustParse("M and not staff"), Limit: 1}
	for {
		page, err := tags.Segment(ctx, q)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(page.Members, page.Next != "")
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	pr, err := tags.Profile(ctx, "ann")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pr.Stats.TopCategories[0].Name, pr.Stats.Orders, pr.Stats.AverageOrder)
	// Output:
	// [ann] true
	// [cy] false
	// formula-12-36m 1 320
}

// A host reads what an event did to the member's tags from its outcome.
func ExampleEffectsOf() {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount"},
			Rules: []tag.Rule{
				{Tag: "buyer", All: []tag.Cond{{Fact: tag.FactOrderCount, Op: event.Gte, Value: event.Int(1)}}},
				{Tag: "big-spender", All: []tag.Cond{{Fact: tag.FactOrderAmount, Op: event.Gte, Value: event.DecString("1000")}}},
			},
		},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, p.Location())
	out, err := p.Process(context.Background(), event.Event{ID: "o1", Member: "ann", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.DecString("1200")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fx, err := tag.EffectsOf(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range fx.Added {
		fmt.Println(e.Member, "+", e.Tag, "by", e.By)
	}
	// Output:
	// ann + buyer by rule
	// ann + big-spender by rule
}

// A new version may leave out tags members hold: they keep them until
// they are cleared. Remove takes a manual one from a member, Recompute a
// rule's one from every member who holds it, page by page; adding either
// is refused, as the definition no longer declares it.
func ExampleHandle_Remove_undeclared() {
	ctx := context.Background()
	v1 := membership.Definition{
		Version: 1,
		Zone:    "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{
			{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount"},
			Manual: []tag.Manual{{Name: "vip"}},
			Rules: []tag.Rule{{Tag: "buyer", All: []tag.Cond{
				{Fact: tag.FactOrderCount, Op: event.Gte, Value: event.Int(1)},
			}}},
		},
	}
	st := memory.New()
	p, err := membership.Open(st, v1)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, p.Location())
	if _, err := p.Process(ctx, event.Event{ID: "o1", Member: "ann", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.DecString("80")}}); err != nil {
		fmt.Println(err)
		return
	}
	vip := tag.ManualRequest{RequestID: "t1", Member: "ann", Operator: "alice", At: at, Tag: "vip"}
	if _, err := p.Tags().Add(ctx, vip); err != nil {
		fmt.Println(err)
		return
	}

	v2 := v1
	v2.Version = 2
	v2.Tags = &tag.Definition{Orders: v1.Tags.Orders}
	p, err = membership.Open(st, v2)
	if err != nil {
		fmt.Println(err)
		return
	}
	show := func() {
		held, err := p.Tags().Of(ctx, "ann")
		if err != nil {
			fmt.Println(err)
			return
		}
		var names []string
		for _, a := range held {
			names = append(names, a.Tag)
		}
		fmt.Println("ann holds", names)
	}
	show()
	vip.RequestID, vip.At = "t2", at.Add(time.Hour)
	_, err = p.Tags().Add(ctx, vip)
	fmt.Println("add vip:", errors.Is(err, tag.ErrUnknownTag))
	vip.RequestID = "t3"
	if _, err := p.Tags().Remove(ctx, vip); err != nil {
		fmt.Println(err)
		return
	}
	q := tag.RecomputeRequest{Operator: "alice", At: at.Add(time.Hour), Tag: "buyer"}
	for {
		res, err := p.Tags().Recompute(ctx, q)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("recompute buyer: removed", res.Removed)
		if res.Next == "" {
			break
		}
		q.After = res.Next
	}
	show()
	// Output:
	// ann holds [buyer vip]
	// add vip: true
	// recompute buyer: removed 1
	// ann holds []
}
