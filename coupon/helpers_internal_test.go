package coupon

import (
	"testing"
	"time"
	_ "time/tzdata" // Asia/Shanghai whatever the host has

	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// The helpers of the internal tests, as the external tests' (helpers_test.go).

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

func days(n int) UseRule {
	return UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: n}}
}

// order builds an order of member m1 at store s1, online, at 2026-05-01
// 12:00 Shanghai, with lines "product:category:amount" (category may be
// empty).
func order(t testing.TB, lines ...Line) Order {
	t.Helper()
	return Order{ID: "o1", Member: "m1", Store: "s1", Scenario: "online", Time: at(t, "2026-05-01 12:00"), Lines: lines}
}

func line(product, category, amount string) Line {
	return Line{Product: product, Category: category, Amount: dec(amount)}
}
