package membership_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
)

// One pack request sent by eight callers at once, through both programs,
// gives one pack: every caller gets the same coupons, and the pack's and
// the templates' stock count it once. The all-invalid pack "duo" holds
// two of "rare" (stock 3) and one of "plain" (stock 10), 2 packs in stock:
// m1's request r1 gets 2 rare and 1 plain; m2's next pack gets the last
// rare and is short one; a third pack is out of the pack's stock.
func TestCouponPackRequestSentAtOnce(t *testing.T) {
	days := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{
			Templates: []coupon.Template{
				{Name: "rare", Type: coupon.Cash, Amount: testkit.Dec("9"), Stock: 3, Use: days},
				{Name: "plain", Type: coupon.Cash, Amount: testkit.Dec("1"), Stock: 10, Use: days},
			},
			Packs: []coupon.Pack{{Name: "duo", Items: []coupon.PackItem{{Template: "rare", Count: 2}, {Template: "plain", Count: 1}},
				Stock: 2, Mode: coupon.AllInvalid}},
		},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		req := coupon.PackRequest{RequestID: "r1", Member: "m1", At: hammerAt, Pack: "duo"}
		const callers = 8
		var res [callers]coupon.PackResult
		var errs [callers]error
		atOnce(callers, func(g int) {
			res[g], errs[g] = ps[g%2].Coupons().ClaimPack(ctx, req)
		})
		first := 0
		for g := range callers {
			if errs[g] != nil {
				t.Fatalf("caller %d: %v", g, errs[g])
			}
			if !res[g].Outcome.Duplicate {
				first++
			}
			if diff := cmp.Diff(res[0].Coupons, res[g].Coupons); diff != "" {
				t.Errorf("caller %d got other coupons (-caller 0 +caller %d):\n%s", g, g, diff)
			}
		}
		if first != 1 {
			t.Errorf("%d callers applied the pack, want 1 (the others its duplicate)", first)
		}
		count := func(cs []coupon.Coupon) map[string]int {
			n := map[string]int{}
			for _, c := range cs {
				n[c.Template]++
			}
			return n
		}
		if got := count(res[0].Coupons); !cmp.Equal(got, map[string]int{"rare": 2, "plain": 1}) || len(res[0].Short) != 0 {
			t.Errorf("r1 gave %v short of %v, want 2 rare and 1 plain", got, res[0].Short)
		}
		list, err := ps[1].Coupons().List(ctx, "m1")
		if err != nil || len(list) != 3 {
			t.Errorf("m1 holds %d coupons (%v), want 3", len(list), err)
		}
		r2, err := ps[1].Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: "r2", Member: "m2", At: hammerAt, Pack: "duo"})
		if err != nil {
			t.Fatal(err)
		}
		if got := count(r2.Coupons); !cmp.Equal(got, map[string]int{"rare": 1, "plain": 1}) || !cmp.Equal(r2.Short, []coupon.PackItem{{Template: "rare", Count: 1}}) {
			t.Errorf("r2 gave %v short of %v, want 1 rare, 1 plain, short 1 rare", got, r2.Short)
		}
		if _, err := ps[0].Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: "r3", Member: "m3", At: hammerAt, Pack: "duo"}); !errors.Is(err, coupon.ErrOutOfStock) {
			t.Errorf("a third pack: %v, want ErrOutOfStock", err)
		}
		rep, err := ps[0].Coupons().Stats(ctx, coupon.StatsQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.ByTemplate["rare"].Issued != 3 || rep.ByTemplate["plain"].Issued != 2 {
			t.Errorf("issued: %+v, want 3 rare and 2 plain", rep.ByTemplate)
		}
	})
}
