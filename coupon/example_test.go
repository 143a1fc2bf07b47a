package coupon_test

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/coupon"
	"github.com/shopspring/decimal"
)

// Best proposes the combination with the largest amount off: here the
// stacking group (10 off, then 10% of the remaining 90) beats the
// exclusive 15-off coupon.
func ExampleBest() {
	cash := &coupon.Template{Name: "cash10", Type: coupon.Cash, Amount: decimal.NewFromInt(10), Group: "spring"}
	disc := &coupon.Template{Name: "ten-off", Type: coupon.Discount, Rate: decimal.RequireFromString("0.9"), Group: "spring"}
	big := &coupon.Template{Name: "cash15", Type: coupon.Cash, Amount: decimal.NewFromInt(15), MinOrder: decimal.NewFromInt(200)}
	when := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	mk := func(id string, t *coupon.Template) coupon.Held {
		return coupon.Held{Template: t, Coupon: coupon.Coupon{ID: id, Member: "m1", Template: t.Name, Type: t.Type, Amount: t.Amount, State: coupon.Available}}
	}
	o := coupon.Order{ID: "o1", Member: "m1", Time: when, Lines: []coupon.Line{
		{Product: "tea", Amount: decimal.NewFromInt(60)},
		{Product: "cups", Amount: decimal.NewFromInt(40)},
	}}
	p := coupon.Best(o, []coupon.Held{mk("c1.m1", cash), mk("c2.m1", disc), mk("c3.m1", big)})
	for _, a := range p.Coupons {
		fmt.Println(a.Coupon, a.Template, a.AmountOff)
	}
	fmt.Println("total", p.AmountOff)
	for _, a := range p.Evaluated {
		if !a.OK() {
			fmt.Println(a.Coupon, "does not apply:", a.Reasons)
		}
	}
	// Output:
	// c1.m1 cash10 10
	// c2.m1 ten-off 9
	// total 19
	// c3.m1 does not apply: [below the minimum amount]
}

// ParseCode tells a mistyped code from a well-formed one.
func ExampleParseCode() {
	code, _ := coupon.NewCode(bytes.NewReader([]byte("0123456789"))) // use crypto/rand.Reader
	fmt.Println(coupon.FormatCode(code))
	fmt.Println(coupon.QR(code))
	typo := "X" + code[1:]
	_, err := coupon.ParseCode(typo)
	fmt.Println(errors.Is(err, coupon.ErrBadCode))
	c, err := coupon.ParseCode(" " + code[:8] + "-" + code[8:] + " ")
	fmt.Println(c == code, err)
	// Output:
	// 60RK-4CSM-6MV3-EE1SF
	// MBC:60RK4CSM6MV3EE1SF
	// true
	// true <nil>
}
