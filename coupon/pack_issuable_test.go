package coupon_test

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

// A pack's template that is no longer issuable — its claim period over, or
// its fixed validity ended — counts as out of stock for the pack, as the
// spec says: an any_invalid pack stops, giving nothing; an all_invalid
// pack goes on with the coupons still available. PlanPack's tests feed it
// the counts; this one pins how a Book reads them from the templates.
//
// Templates, none with stock: "open" (valid 30 days), "may" (claim period
// 1 to 11 May, 00:00 to 00:00), "fixed" (valid 1 to 10 May, so until 24:00
// of 10 May). On 5 May every pack gives every coupon: any 2, anyfixed 2,
// all 3. On 11 May at 10:00 "may" and "fixed" are no longer issuable:
// any and anyfixed are refused with ErrOutOfStock and issue nothing; all
// gives "open" alone and is short of "may" ×1 and "fixed" ×1.
func TestCouponPackStopsOnTemplatesNoLongerIssuable(t *testing.T) {
	def := membership.Definition{Zone: "Asia/Shanghai", Coupons: &coupon.Definition{
		Templates: []coupon.Template{
			{Name: "open", Type: coupon.Cash, Amount: dec("5"), Use: days(30)},
			{Name: "may", Type: coupon.Cash, Amount: dec("5"), Use: days(30),
				Claim: coupon.ClaimRule{Period: rule.Window{From: may(1), To: may(11)}}},
			{Name: "fixed", Type: coupon.Cash, Amount: dec("5"), Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.FixedRange,
				From: rule.Date{Year: 2026, Month: 5, Day: 1}, To: rule.Date{Year: 2026, Month: 5, Day: 10}}}},
		},
		Packs: []coupon.Pack{
			{Name: "any", Mode: coupon.AnyInvalid, Items: []coupon.PackItem{{Template: "open", Count: 1}, {Template: "may", Count: 1}}},
			{Name: "anyfixed", Mode: coupon.AnyInvalid, Items: []coupon.PackItem{{Template: "open", Count: 1}, {Template: "fixed", Count: 1}}},
			{Name: "all", Mode: coupon.AllInvalid, Items: []coupon.PackItem{{Template: "open", Count: 1}, {Template: "may", Count: 1}, {Template: "fixed", Count: 1}}},
		},
	}}
	ctx := context.Background()
	templates := func(cs []coupon.Coupon) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Template)
		}
		return out
	}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			claim := func(id, pack, when string) (coupon.PackResult, error) {
				return p.Coupons().ClaimPack(ctx, coupon.PackRequest{RequestID: id, Member: "m1", Pack: pack, At: at(t, when)})
			}
			for pack, want := range map[string][]string{"any": {"open", "may"}, "anyfixed": {"open", "fixed"}, "all": {"open", "may", "fixed"}} {
				res, err := claim("early-"+pack, pack, "2026-05-05 10:00")
				if err != nil {
					t.Fatalf("%s on 5 May: %v", pack, err)
				}
				if diff := cmp.Diff(want, templates(res.Coupons)); diff != "" || len(res.Short) != 0 {
					t.Errorf("%s on 5 May (-want +got):\n%s short %+v", pack, diff, res.Short)
				}
			}
			wallet := func() int {
				t.Helper()
				cs, err := p.Coupons().List(ctx, "m1")
				if err != nil {
					t.Fatal(err)
				}
				return len(cs)
			}
			before := wallet() // 2 + 2 + 3 = 7
			if before != 7 {
				t.Fatalf("wallet after the first packs: %d coupons, want 7", before)
			}
			for _, pack := range []string{"any", "anyfixed"} {
				if _, err := claim("late-"+pack, pack, "2026-05-11 10:00"); !errors.Is(err, coupon.ErrOutOfStock) {
					t.Errorf("%s with a template no longer issuable: %v, want ErrOutOfStock", pack, err)
				}
			}
			if n := wallet(); n != before {
				t.Errorf("refused any_invalid packs left %d coupons, want %d", n, before)
			}
			res, err := claim("late-all", "all", "2026-05-11 10:00")
			if err != nil {
				t.Fatalf("all_invalid with one template issuable: %v", err)
			}
			if diff := cmp.Diff([]string{"open"}, templates(res.Coupons)); diff != "" {
				t.Errorf("all_invalid on 11 May (-want +got):\n%s", diff)
			}
			wantShort := []coupon.PackItem{{Template: "may", Count: 1}, {Template: "fixed", Count: 1}}
			if diff := cmp.Diff(wantShort, res.Short); diff != "" {
				t.Errorf("all_invalid short (-want +got):\n%s", diff)
			}
		})
	}
}
