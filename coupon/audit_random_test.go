package coupon_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
)

// A random-amount coupon is drawn in [min, max] to the cent, and a replay
// of the journal draws the same amounts and codes whatever the replaying
// program's own random source.
//
// tiny draws from 0.01 to 0.03: three amounts, each of which 300 claims
// draw (the chance that one is missing is 3 × (2/3)^300, nil), and no
// other. wide draws from 0.01 to 46116860184273879.05, 2^62 + 1 cents:
// the draw takes 8 random bytes and keeps them when they are below the
// largest multiple of 2^62 + 1 an unsigned 64-bit number holds, 3 × (2^62
// + 1), so about one draw in four reads 8 bytes more; the replay must
// take those too. fixed has min = max = 7.77: always 7.77.
func TestCouponAuditRandomDrawsAndReplay(t *testing.T) {
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "tiny", Type: coupon.Random, Min: dec("0.01"), Max: dec("0.03"), Use: days(3)},
			{Name: "wide", Type: coupon.Random, Min: dec("0.01"), Max: dec("46116860184273879.05"), Use: days(3)},
			{Name: "fixed", Type: coupon.Random, Min: dec("7.77"), Max: dec("7.77"), Use: days(3)},
		}},
	}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			src := open()
			p, err := membership.Open(src, def, membership.WithJournal(), membership.WithRand(rand.NewChaCha8([32]byte{1})))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			seen := map[string]int{}
			for i := range 300 {
				m := fmt.Sprint("m", i%7)
				for _, tpl := range []string{"tiny", "wide", "fixed"} {
					c := claimN(t, p, fmt.Sprint(tpl, i), m, tpl, "2026-05-01 10:00", 1)[0]
					if !c.Amount.Equal(c.Amount.Truncate(2)) {
						t.Errorf("%s drew %s, finer than a cent", tpl, c.Amount)
					}
					switch tpl {
					case "tiny":
						seen[c.Amount.StringFixed(2)]++
					case "wide":
						if c.Amount.LessThan(dec("0.01")) || c.Amount.GreaterThan(dec("46116860184273879.05")) {
							t.Errorf("wide drew %s", c.Amount)
						}
					case "fixed":
						if !c.Amount.Equal(dec("7.77")) {
							t.Errorf("fixed drew %s", c.Amount)
						}
					}
				}
			}
			if len(seen) != 3 || seen["0.01"] == 0 || seen["0.02"] == 0 || seen["0.03"] == 0 {
				t.Errorf("tiny drew %v, want 0.01, 0.02 and 0.03 and nothing else", seen)
			}
			q, err := membership.Open(open(), def, membership.WithRand(rand.NewChaCha8([32]byte{2})))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := q.Replay(ctx, src, nil); err != nil {
				t.Fatal(err)
			}
			for i := range 7 {
				m := fmt.Sprint("m", i)
				a, err := p.Coupons().List(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				b, err := q.Coupons().List(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				if len(a) == 0 {
					t.Fatalf("%s holds no coupons", m)
				}
				if diff := cmp.Diff(a, b); diff != "" {
					t.Errorf("%s's coupons after the replay (-source +replay):\n%s", m, diff)
				}
			}
		})
	}
}
