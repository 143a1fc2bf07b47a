package coupon_test

import (
	"testing"
	"time"
	_ "time/tzdata" // Asia/Shanghai whatever the host has

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

func shanghai(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at parses a wall time "2006-01-02 15:04" in Asia/Shanghai.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func days(n int) coupon.UseRule {
	return coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: n}}
}

// order builds an order of member m1 at store s1, online, at 2026-05-01
// 12:00 Shanghai, with lines "product:category:amount" (category may be
// empty).
func order(t testing.TB, lines ...coupon.Line) coupon.Order {
	t.Helper()
	return coupon.Order{ID: "o1", Member: "m1", Store: "s1", Scenario: "online", Time: at(t, "2026-05-01 12:00"), Lines: lines}
}

func line(product, category, amount string) coupon.Line {
	return coupon.Line{Product: product, Category: category, Amount: dec(amount)}
}

// held makes an available coupon of tpl for m1, valid through May 2026.
func held(t testing.TB, id string, tpl *coupon.Template) coupon.Held {
	t.Helper()
	c := coupon.Coupon{
		ID: id, Template: tpl.Name, Member: "m1", Type: tpl.Type, State: coupon.Available,
		IssuedAt: at(t, "2026-04-01 09:00"), Expires: at(t, "2026-06-01 00:00"),
	}
	if tpl.Type == coupon.Cash {
		c.Amount = tpl.Amount
	}
	return coupon.Held{Coupon: c, Template: tpl}
}
