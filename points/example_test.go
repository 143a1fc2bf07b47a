package points_test

import (
	"fmt"

	"github.com/memberkit/membership/points"
	"github.com/shopspring/decimal"
)

// A points + cash split: 100 points pay 1.00, at most half an order.
func ExampleSplitOrder() {
	mall := points.Program{Name: "mall", Payment: &points.Payment{
		Rate: decimal.RequireFromString("0.01"), MaxShare: decimal.RequireFromString("0.5"),
	}}
	order := decimal.RequireFromString("99.99")
	for _, held := range []string{"100000", "1234"} {
		s, err := points.SplitOrder(mall, order, decimal.RequireFromString(held), decimal.Zero)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("holding %s: %s points pay %s, cash %s\n", held, s.Points, s.PointsMoney.StringFixed(2), s.Cash.StringFixed(2))
	}
	// Output:
	// holding 100000: 4999 points pay 49.99, cash 50.00
	// holding 1234: 1234 points pay 12.34, cash 87.65
}

// Daily risk control with the stop policy: what passes the threshold is
// blocked.
func ExampleRisk_Decide() {
	r := &points.Risk{Daily: decimal.NewFromInt(100), Policy: points.Stop}
	d := r.Decide(decimal.NewFromInt(80), decimal.NewFromInt(50), false)
	fmt.Println("allowed", d.Allowed, "blocked", d.Blocked)
	// Output:
	// allowed 20 blocked 30
}
