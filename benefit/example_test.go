package benefit_test

import (
	"errors"
	"fmt"

	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// ExampleDefinition_For lists a member's benefits for their level and active plans.
func ExampleDefinition_For() {
	d := benefit.Definition{Benefits: []benefit.Benefit{
		{Name: "gold-discount", Type: benefit.TypeDiscount, Levels: []string{"gold"},
			Discount: &benefit.Discount{Rate: decimal.RequireFromString("0.9")}},
		{Name: "birthday-gift", Type: benefit.TypeCare, Levels: []string{"silver", "gold"}},
		{Name: "lounge", Type: benefit.TypeService, Plans: []string{"plus"}},
	}}
	for _, b := range d.For("gold", []string{"plus"}) {
		fmt.Println(b.Name, b.Type)
	}
	fmt.Println("silver without a plan:", len(d.For("silver", nil)), "benefit")
	// Output:
	// gold-discount discount
	// birthday-gift care
	// lounge service
	// silver without a plan: 1 benefit
}

// ExampleDiscount_Price computes member prices, rounded to the cent half up by default or by an explicit rounding.
func ExampleDiscount_Price() {
	d := benefit.Discount{Rate: decimal.RequireFromString("0.88")} // 8.8折
	p, _ := d.Price(decimal.RequireFromString("10.99"))            // 9.6712
	fmt.Println(p)

	whole := benefit.Discount{
		Rate:     decimal.RequireFromString("0.95"),
		Rounding: &rule.Rounding{Scale: 0, Mode: rule.RoundDown},
	}
	p, _ = whole.Price(decimal.RequireFromString("99")) // 94.05
	fmt.Println(p)

	_, err := d.Price(decimal.RequireFromString("-1"))
	fmt.Println(errors.Is(err, benefit.ErrNegativeAmount))
	// Output:
	// 9.67
	// 94
	// true
}
