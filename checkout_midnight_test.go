package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
)

// What a checkout proposes for an order is what the order then gets, on
// each side of the 24:00 that ends a coupon, a lot of points and a plan,
// on memory, bolt and PostgreSQL. On the retail program, a's Plus fee at
// 00:00 on 1 March 2025 earns 500 points, her order of 1,000 that day
// 1,000 more (1 per yuan at Silver), both valid to 24:00 of 31 December;
// registering gives welcome-10 (10 off 50) and welcome-fresh (20% off
// fresh food, at most 15), valid 30 days: to 24:00 of 30 March. Worked by
// hand:
//   - an order of fresh food 100 and soap 50 at the last instant of 30
//     March: the coupons take 10 and 15 (20 capped), 25 in all, as the
//     lock takes (then released); at 00:00 of 31 March none applies
//     and the lock is refused;
//   - points + cash for an order of 20 (0.01 a point, half at most) at
//     the last instant of the year: 10 in points, 1,000 points, 10 in
//     cash, as the redemption spends; at 00:00 of 1 January the lots have
//     expired: no points, 20 in cash, and the redemption is refused;
//   - the member price of 150 under Plus (95%) is 142.50 until the plan
//     ends at 24:00 of 28 February 2026, and 150 from then (Silver has no
//     discount).
func TestCheckoutFiguresAtMidnight(t *testing.T) {
	sh := testkit.Shanghai
	last := func(y int, m time.Month, d int) time.Time {
		return time.Date(y, m, d+1, 0, 0, 0, 0, sh).Add(-time.Nanosecond)
	}
	onEveryStore(t, retailDef(t), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		testkit.MustProcess(t, p,
			event.Event{ID: "reg", Member: "a", Type: "register", Time: time.Date(2025, 3, 1, 0, 0, 0, 0, sh)},
			event.Event{ID: "fee", Member: "a", Type: "fee", Time: time.Date(2025, 3, 1, 0, 0, 0, 0, sh), Attrs: event.Attrs{"plan": event.Str("Plus"), "amount": event.DecString("99")}},
			event.Event{ID: "o1", Member: "a", Type: "order", Time: time.Date(2025, 3, 1, 10, 0, 0, 0, sh), Attrs: event.Attrs{"amount": event.DecString("1000"), "order_id": event.Str("o1")}})

		for i, at := range []time.Time{last(2025, 3, 30), time.Date(2025, 3, 31, 0, 0, 0, 0, sh)} {
			o := coupon.Order{ID: []string{"c1", "c2"}[i], Member: "a", Time: at, Lines: []coupon.Line{
				{Product: "apple", Category: "fresh", Amount: testkit.Dec("100")}, {Product: "soap", Amount: testkit.Dec("50")}}}
			pr, err := p.Coupons().Checkout(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range pr.Coupons {
				ids = append(ids, a.Coupon)
			}
			want := []string{"25", "0"}[i]
			if !pr.AmountOff.Equal(testkit.Dec(want)) || len(ids) != []int{2, 0}[i] {
				t.Errorf("checkout at %v: %s off with %v; want %s", at, pr.AmountOff, ids, want)
			}
			if i == 1 {
				live, err := p.Coupons().List(ctx, "a")
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range live {
					ids = append(ids, c.ID)
				}
			}
			lr, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l" + o.ID, Order: o, Coupons: ids})
			switch {
			case i == 0 && (err != nil || !lr.AmountOff.Equal(testkit.Dec("25"))):
				t.Errorf("lock of the proposal at %v = %s, %v; want 25", at, lr.AmountOff, err)
			case i == 0:
				if _, err := p.Coupons().Release(ctx, coupon.OrderRequest{RequestID: "rl", Order: o.ID, At: at}); err != nil {
					t.Fatal(err)
				}
			case i == 1 && (!errors.Is(err, coupon.ErrNotApplicable) || len(ids) != 2):
				t.Errorf("lock of the expired coupons %v at %v: %v; want ErrNotApplicable", ids, at, err)
			}
		}

		for i, at := range []time.Time{last(2025, 12, 31), time.Date(2026, 1, 1, 0, 0, 0, 0, sh)} {
			s, err := p.Points().Split(ctx, points.SplitQuery{Program: "mall", Member: "a", Order: testkit.Dec("20"), At: at})
			want := []points.Split{
				{Order: testkit.Dec("20"), Points: testkit.Dec("1000"), PointsMoney: testkit.Dec("10"), Cash: testkit.Dec("10")},
				{Order: testkit.Dec("20"), Points: testkit.Dec("0"), PointsMoney: testkit.Dec("0"), Cash: testkit.Dec("20")},
			}[i]
			if err != nil || !s.Points.Equal(want.Points) || !s.PointsMoney.Equal(want.PointsMoney) || !s.Cash.Equal(want.Cash) {
				t.Errorf("split at %v = %+v, %v; want %+v", at, s, err, want)
			}
			r, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: []string{"r1", "r2"}[i], Member: "a", At: at, Program: "mall", Ref: []string{"p1", "p2"}[i], Order: testkit.Dec("20")})
			switch {
			case i == 0 && (err != nil || r.Split == nil || !r.Points.Equal(want.Points) || !r.Split.Cash.Equal(want.Cash)):
				t.Errorf("redemption at %v = %+v, %v; want the split %+v", at, r, err, want)
			case i == 1 && !errors.Is(err, ledger.ErrInsufficientBalance):
				t.Errorf("redemption at %v: %v; want ErrInsufficientBalance", at, err)
			}
		}

		for at, want := range map[time.Time]string{last(2026, 2, 28): "142.5", time.Date(2026, 3, 1, 0, 0, 0, 0, sh): "150"} {
			price, err := p.Benefits().MemberPrice(ctx, "a", testkit.Dec("150"), at)
			if err != nil || !price.Amount.Equal(testkit.Dec(want)) || (price.By != nil) != (want != "150") {
				t.Errorf("member price of 150 at %v = %+v, %v; want %s", at, price, err, want)
			}
		}
	})
}
