package tag_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// ExampleParse parses a segment expression and matches it against members' tags.
func ExampleParse() {
	e, err := tag.Parse("M and (vip or not churned)")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e, e.Tags())
	fmt.Println(e.Match([]string{"M"}))
	fmt.Println(e.Match([]string{"M", "churned"}))
	fmt.Println(e.Match([]string{"M", "churned", "vip"}))
	_, err = tag.Parse("M and (vip")
	fmt.Println(errors.Is(err, tag.ErrSyntax))
	// Output:
	// M and (vip or not churned) [M churned vip]
	// true
	// false
	// true
	// true
}

// ExampleDefinition_Match evaluates an automatic tag rule over a member's order statistics.
func ExampleDefinition_Match() {
	def := tag.Definition{Orders: &tag.Orders{Event: "order", Amount: "amount", Category: "category"}}
	big := tag.Rule{Tag: "big-spender", All: []tag.Cond{
		{Fact: tag.FactOrderCount, Op: event.Gte, Value: event.Int(2)},
		{Fact: tag.FactAverageOrder, Op: event.Gte, Value: event.DecString("50")},
	}}
	loc := time.UTC
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, loc)
	var m tag.Member
	m.Stats.AddOrder(tag.Order{Time: now.Add(-48 * time.Hour), Amount: decimal.RequireFromString("80"), Categories: []string{"formula"}})
	fmt.Println(def.Match(big, m, now, loc), def.Explain(big, m, now, loc))
	m.Stats.AddOrder(tag.Order{Time: now.Add(-time.Hour), Amount: decimal.RequireFromString("30"), Categories: []string{"toys"}})
	fmt.Println(def.Match(big, m, now, loc), def.Explain(big, m, now, loc))
	// Output:
	// false map[average_order:80 order_count:1]
	// true map[average_order:55 order_count:2]
}
