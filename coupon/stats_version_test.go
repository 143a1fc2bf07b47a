package coupon_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
)

// A definition version that moves a template to another cost centre counts
// what happens from then on under the new one: the figures of a period
// finance reconciled under the old one stay as they were. Template a (5
// off) is the marketing team's on 1 May: two coupons issued, one used at
// s1. Version 2 of 2 May moves a to the stores' budget: a third coupon is
// issued and used at s1 that day.
func TestCouponStatsCostCentreOfItsTime(t *testing.T) {
	def := func(version uint64, cc string) membership.Definition {
		return membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Coupons: &coupon.Definition{Templates: []coupon.Template{
				{Name: "a", Type: coupon.Cash, Amount: dec("5"), Use: days(7), CostCentre: cc},
			}},
		}
	}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open()
			p, err := membership.Open(st, def(1, "marketing"))
			if err != nil {
				t.Fatal(err)
			}
			use := func(p *membership.Program, id string, c coupon.Coupon, when string) {
				t.Helper()
				o := coupon.Order{ID: id, Member: c.Member, Store: "s1", Time: at(t, when), Lines: []coupon.Line{line("p", "", "50")}}
				if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: id, Code: c.Code, Order: o}); err != nil {
					t.Fatalf("redeem %s: %v", id, err)
				}
			}
			c1 := couponClaim(t, p, "c1", "m1", "a", "2026-05-01 10:00")
			couponClaim(t, p, "c2", "m2", "a", "2026-05-01 10:00")
			use(p, "o1", c1, "2026-05-01 12:00")

			p2, err := membership.Open(st, def(2, "stores"))
			if err != nil {
				t.Fatal(err)
			}
			c3 := couponClaim(t, p2, "c3", "m3", "a", "2026-05-02 10:00")
			use(p2, "o3", c3, "2026-05-02 12:00")

			may1 := rule.Date{Year: 2026, Month: 5, Day: 1}
			rep, err := p2.Coupons().Stats(ctx, coupon.StatsQuery{From: may1, To: may1})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]coupon.Stat{"marketing": {Issued: 2, Used: 1, AmountOff: dec("5")}}
			if diff := cmp.Diff(want, rep.ByCostCentre); diff != "" {
				t.Errorf("1 May by cost centre (-want +got):\n%s", diff)
			}
			rep, err = p2.Coupons().Stats(ctx, coupon.StatsQuery{})
			if err != nil {
				t.Fatal(err)
			}
			want = map[string]coupon.Stat{
				"marketing": {Issued: 2, Used: 1, AmountOff: dec("5")},
				"stores":    {Issued: 1, Used: 1, AmountOff: dec("5")},
			}
			if diff := cmp.Diff(want, rep.ByCostCentre); diff != "" {
				t.Errorf("all days by cost centre (-want +got):\n%s", diff)
			}
			if got := rep.ByTemplate["a"]; got.Issued != 3 || got.Used != 2 || !got.AmountOff.Equal(dec("10")) {
				t.Errorf("template a: %+v, want 3 issued, 2 used, 10 off", got)
			}
			rep, err = p2.Coupons().Stats(ctx, coupon.StatsQuery{CostCentre: "marketing"})
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Total; got.Issued != 2 || got.Used != 1 || !got.AmountOff.Equal(dec("5")) {
				t.Errorf("marketing's total: %+v, want 2 issued, 1 used, 5 off", got)
			}
		})
	}
}
