package points_test

import (
	"errors"
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

// Points + cash in whole units (MoneyScale 0, for yen or won): the money
// paid in points is rounded down to a whole unit, so the cash is rounded
// up, and an order with a fraction is refused.
func ExampleSplitOrder_wholeUnits() {
	mall := points.Program{Name: "mall", Payment: &points.Payment{
		Rate: decimal.RequireFromString("0.01"), MaxShare: decimal.RequireFromString("0.33"),
		MoneyScale: new(int32(0)),
	}}
	held := decimal.NewFromInt(100000)
	s, err := points.SplitOrder(mall, decimal.NewFromInt(1001), held, decimal.Zero)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s points pay %s, cash %s\n", s.Points, s.PointsMoney, s.Cash)
	_, err = points.SplitOrder(mall, decimal.RequireFromString("1001.5"), held, decimal.Zero)
	fmt.Println(errors.Is(err, points.ErrInvalidAmount))
	// Output:
	// 33000 points pay 330, cash 671
	// true
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
