package coupon_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
)

// A coupon is valid from its issue: an order dated before the claim (a
// late order a till sends) cannot use a coupon claimed after it, whatever
// the validity's kind; a fixed range that starts after the claim starts
// at 00:00 of its first day in the program's zone and ends at 24:00 of
// its last. Checkout says ReasonNotYetValid, Lock and Redeem refuse it
// with ErrNotApplicable and change nothing.
func TestCouponNotValidBeforeItsIssue(t *testing.T) {
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "days", Type: coupon.Cash, Amount: dec("5"), Use: days(30)},
			{Name: "fixed", Type: coupon.Cash, Amount: dec("5"), Use: coupon.UseRule{Validity: rule.Validity{
				Kind: rule.FixedRange, From: rule.Date{Year: 2026, Month: 5, Day: 5}, To: rule.Date{Year: 2026, Month: 5, Day: 10}}}},
			{Name: "range-started", Type: coupon.Cash, Amount: dec("5"), Use: coupon.UseRule{Validity: rule.Validity{
				Kind: rule.FixedRange, From: rule.Date{Year: 2026, Month: 4, Day: 1}, To: rule.Date{Year: 2026, Month: 5, Day: 10}}}},
		}},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h := p.Coupons()
	claimed := at(t, "2026-05-03 10:00")
	for _, tt := range []struct {
		template string
		first    time.Time // the first instant it is valid
		end      time.Time // the first instant it no longer is
	}{
		{"days", claimed, at(t, "2026-06-02 00:00")},
		{"fixed", at(t, "2026-05-05 00:00"), at(t, "2026-05-11 00:00")},
		{"range-started", claimed, at(t, "2026-05-11 00:00")},
	} {
		t.Run(tt.template, func(t *testing.T) {
			c := couponClaim(t, p, "claim-"+tt.template, "m1", tt.template, "2026-05-03 10:00")
			for _, when := range []struct {
				t     time.Time
				valid bool
			}{
				{tt.first.Add(-time.Nanosecond), false}, {tt.first, true},
				{tt.end.Add(-time.Nanosecond), true}, {tt.end, false},
			} {
				if got := c.ValidAt(when.t); got != when.valid {
					t.Errorf("ValidAt(%v) = %v, want %v", when.t, got, when.valid)
				}
			}
			o := coupon.Order{ID: "o-" + tt.template, Member: "m1", Store: "s1", Time: tt.first.Add(-time.Nanosecond), Lines: []coupon.Line{line("p", "", "50")}}
			pr, err := h.Checkout(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range pr.Evaluated {
				if a.Coupon == c.ID && !slices.Contains(a.Reasons, coupon.ReasonNotYetValid) {
					t.Errorf("checkout a nanosecond before %v: reasons %v, want %q", tt.first, a.Reasons, coupon.ReasonNotYetValid)
				}
			}
			for _, a := range pr.Coupons {
				if a.Coupon == c.ID {
					t.Errorf("checkout a nanosecond before %v proposes %s", tt.first, c.ID)
				}
			}
			if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "lock-" + tt.template, Order: o, Coupons: []string{c.ID}}); !errors.Is(err, coupon.ErrNotApplicable) {
				t.Errorf("Lock a nanosecond before %v: %v, want ErrNotApplicable", tt.first, err)
			}
			o.Member = ""
			if _, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "redeem-" + tt.template, Code: c.Code, Order: o}); !errors.Is(err, coupon.ErrNotApplicable) {
				t.Errorf("Redeem a nanosecond before %v: %v, want ErrNotApplicable", tt.first, err)
			}
			if got, err := h.ByCode(ctx, c.Code); err != nil || got.State != coupon.Available {
				t.Errorf("after the refusals: %+v, %v; want it available", got, err)
			}
			o.Time = tt.first
			res, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "redeem-at-" + tt.template, Code: c.Code, Order: o})
			if err != nil || !res.Coupon.AmountOff.Equal(dec("5")) {
				t.Errorf("Redeem at %v: %+v, %v; want 5 off", tt.first, res, err)
			}
		})
	}
}
