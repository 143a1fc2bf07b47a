package coupon_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
)

// Statistics count what the coupons listed show: every coupon issued once,
// each used, expired or revoked one once, on the day (in the program's
// zone) its state changed. A coupon whose validity ends at 24:00 of 1 May
// expires at 2 May 00:00 and counts on 2 May, whether Advance expires it,
// or the release of a lock that outlived it does (counted at its expiry,
// not at the release); a locked coupon's expiry counts nothing.
func TestCouponStatsAgreeWithCoupons(t *testing.T) {
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "a", Type: coupon.Cash, Amount: dec("5"), Use: days(1), CostCentre: "x"},
			{Name: "b", Type: coupon.Cash, Amount: dec("7"), Use: days(2), CostCentre: "y"},
		}},
	}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			h := p.Coupons()
			members := []string{"m1", "m2", "m3", "m4"}
			a := map[string]coupon.Coupon{}
			b := map[string]coupon.Coupon{}
			for _, m := range members {
				a[m] = couponClaim(t, p, "a-"+m, m, "a", "2026-05-01 10:00")
			}
			for _, m := range members[:2] {
				b[m] = couponClaim(t, p, "b-"+m, m, "b", "2026-05-01 10:00")
			}
			ord := func(id, m, st, when, amount string) coupon.Order {
				return coupon.Order{ID: id, Member: m, Store: st, Time: at(t, when), Lines: []coupon.Line{line("p", "", amount)}}
			}
			must := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			// m4's a: revoked on 1 May.
			_, err = h.Revoke(ctx, coupon.RevokeRequest{RequestID: "rv", Operator: "ops", At: at(t, "2026-05-01 20:00"), Coupon: a["m4"].ID})
			must("revoke", err)
			// m1's a: locked at 23:00 for two hours; the hold runs out
			// at 2 May 01:00, after its validity: expired, on 2 May.
			_, err = h.Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: ord("o1", "m1", "s1", "2026-05-01 23:00", "50"), Coupons: []string{a["m1"].ID}, Hold: 2 * time.Hour})
			must("lock o1", err)
			// m2's a: locked at 23:30, used after midnight: used on 2 May
			// at s1, 5 off.
			_, err = h.Lock(ctx, coupon.LockRequest{RequestID: "l2", Order: ord("o2", "m2", "s1", "2026-05-01 23:30", "50"), Coupons: []string{a["m2"].ID}})
			must("lock o2", err)
			_, err = h.Use(ctx, coupon.OrderRequest{RequestID: "u2", Order: "o2", At: at(t, "2026-05-02 00:30")})
			must("use o2", err)
			// m3's a: left alone, expired by Advance at 2 May 00:00.
			// m1's b: redeemed at s2 on 2 May, 7 off.
			o := ord("o3", "", "s2", "2026-05-02 12:00", "100")
			_, err = h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r3", Code: b["m1"].Code, Order: o})
			must("redeem", err)
			// m2's b: locked in its last minute, released after its
			// validity ended (3 May 00:00): expired, on 3 May.
			_, err = h.Lock(ctx, coupon.LockRequest{RequestID: "l4", Order: ord("o4", "m2", "s2", "2026-05-02 23:59", "100"), Coupons: []string{b["m2"].ID}})
			must("lock o4", err)
			_, err = h.Release(ctx, coupon.OrderRequest{RequestID: "x4", Order: "o4", At: at(t, "2026-05-03 00:01")})
			must("release o4", err)
			_, err = p.Advance(ctx, at(t, "2026-05-04 00:00"))
			must("advance", err)

			wantStates := map[string]coupon.State{
				a["m1"].ID: coupon.Expired, a["m2"].ID: coupon.Used, a["m3"].ID: coupon.Expired, a["m4"].ID: coupon.Revoked,
				b["m1"].ID: coupon.Used, b["m2"].ID: coupon.Expired,
			}
			// What the coupons listed add up to, per template.
			fromList := map[string]coupon.Stat{}
			gotStates := map[string]coupon.State{}
			for _, m := range members {
				cs, err := h.List(ctx, m)
				must("list", err)
				for _, c := range cs {
					gotStates[c.ID] = c.State
					s := fromList[c.Template]
					s.Issued++
					switch c.State {
					case coupon.Used:
						s.Used++
						s.AmountOff = s.AmountOff.Add(c.AmountOff)
					case coupon.Expired:
						s.Expired++
					case coupon.Revoked:
						s.Revoked++
					}
					fromList[c.Template] = s
				}
			}
			if diff := cmp.Diff(wantStates, gotStates); diff != "" {
				t.Fatalf("states (-want +got):\n%s", diff)
			}
			want := map[string]coupon.Stat{
				"a": {Issued: 4, Used: 1, Expired: 2, Revoked: 1, AmountOff: dec("5")},
				"b": {Issued: 2, Used: 1, Expired: 1, AmountOff: dec("7")},
			}
			if diff := cmp.Diff(want, fromList); diff != "" {
				t.Errorf("listed coupons (-want +got):\n%s", diff)
			}
			whole, err := h.Stats(ctx, coupon.StatsQuery{})
			must("stats", err)
			if diff := cmp.Diff(want, whole.ByTemplate); diff != "" {
				t.Errorf("stats by template (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]coupon.Stat{"x": want["a"], "y": want["b"]}, whole.ByCostCentre); diff != "" {
				t.Errorf("stats by cost centre (-want +got):\n%s", diff)
			}
			day := func(d int) rule.Date { return rule.Date{Year: 2026, Month: 5, Day: d} }
			for d, want := range map[int]map[[2]string]coupon.Stat{
				1: {{"a", ""}: {Issued: 4, Revoked: 1}, {"b", ""}: {Issued: 2}},
				2: {{"a", ""}: {Expired: 2}, {"a", "s1"}: {Used: 1, AmountOff: dec("5")}, {"b", "s2"}: {Used: 1, AmountOff: dec("7")}},
				3: {{"b", ""}: {Expired: 1}},
				4: {},
			} {
				r, err := h.Stats(ctx, coupon.StatsQuery{From: day(d), To: day(d)})
				must("stats", err)
				if diff := cmp.Diff(want, rowsOf(r)); diff != "" {
					t.Errorf("1 May + %d: rows (-want +got):\n%s", d-1, diff)
				}
			}
		})
	}
}
