package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// stackDef is a program whose coupon templates stack in group g (one is in
// group h), for coupons redeemed one after another for one order.
func stackDef() membership.Definition {
	forever := coupon.UseRule{Validity: rule.Validity{Kind: rule.Permanent}}
	shoes := coupon.Products{Include: []string{"shoe"}}
	return membership.Definition{Zone: "Asia/Shanghai", Coupons: &coupon.Definition{Templates: []coupon.Template{
		{Name: "cash30", Type: coupon.Cash, Amount: dec("30"), Group: "g", Use: forever},
		{Name: "pct10", Type: coupon.Discount, Rate: dec("0.9"), Group: "g", Use: forever},
		{Name: "pct20", Type: coupon.Discount, Rate: dec("0.8"), Group: "g", Use: forever},
		{Name: "half8", Type: coupon.Discount, Rate: dec("0.5"), Cap: dec("8"), Group: "g", Use: forever},
		{Name: "shoe20", Type: coupon.Cash, Amount: dec("20"), Products: shoes, Group: "g", Use: forever},
		{Name: "shoe-half", Type: coupon.Discount, Rate: dec("0.5"), Products: shoes, Group: "g", Use: forever},
		{Name: "h-pct10", Type: coupon.Discount, Rate: dec("0.9"), Group: "h", Use: forever},
		{Name: "day5", Type: coupon.Cash, Amount: dec("5"), Group: "g", Use: days(1)},
	}}}
}

// stackWallet claims n coupons of each of stackDef's templates for m1 on
// 1 May 2026 at 10:00, and returns a function giving the next unused one
// of a template.
func stackWallet(t *testing.T, p *membership.Program, n int) func(template string) coupon.Coupon {
	t.Helper()
	pool := map[string][]coupon.Coupon{}
	for _, tpl := range p.Definition().Coupons.Templates {
		res, err := p.Coupons().Claim(context.Background(), coupon.ClaimRequest{RequestID: "claim-" + tpl.Name, Member: "m1",
			Template: tpl.Name, Count: n, At: at(t, "2026-05-01 10:00")})
		if err != nil {
			t.Fatal(err)
		}
		pool[tpl.Name] = res.Coupons
	}
	return func(template string) coupon.Coupon {
		t.Helper()
		if len(pool[template]) == 0 {
			t.Fatalf("no %s coupon left", template)
		}
		c := pool[template][0]
		pool[template] = pool[template][1:]
		return c
	}
}

// shoeAndBag is an order of m1 at s1: a shoe of 60 and a bag of 40.
func shoeAndBag(t *testing.T, id, when string) coupon.Order {
	return coupon.Order{ID: id, Member: "m1", Store: "s1", Time: at(t, when),
		Lines: []coupon.Line{{Product: "shoe", Amount: dec("60")}, {Product: "bag", Amount: dec("40")}}}
}

// Coupons redeemed by code one after another for one order take off, in
// all, what the same coupons locked together take off, in whatever order
// they come: a discount comes off what the cash coupons left, and a cash
// coupon redeemed after a discount takes what makes the total the
// combination's (the discount keeps the amount it recorded). Each
// redemption used to take its amount off the whole order, capped only by
// what the others left of its total, so a 10% discount after a cash
// coupon of 30 took 10 off an order of 100, not 7.
//
// The amounts, worked out by hand on a shoe of 60 and a bag of 40 (cash
// before discounts, each on what the previous left; within a kind, the
// order that takes off the most):
//
//   - cash30 and pct10: 30, then 10% of 70 = 7; 37 in all. Redeemed the
//     other way, pct10 takes 10 (alone), then cash30 37 − 10 = 27.
//   - pct10 and pct20: 20% of 100 and 10% of the 80 left, or 10% and 20%
//     of 90: 28 in all either way; the second takes 28 less the first's.
//   - half8 (50% off, at most 8) and pct20: pct20 first, 20, then half8 on
//     80, capped at 8: 28 (half8 first would give 8 + 18.40 = 26.40).
//   - shoe20 (20 off the shoe) and shoe-half (50% off the shoe): 20, then
//     50% of the 40 left of the shoe = 20; 40 in all. shoe-half first
//     takes 30 (alone), then shoe20 40 − 30 = 10.
//   - shoe20 and pct10: 20, then 10% of the 80 left = 8.
//   - pct10, shoe20, cash30: 10 alone; with shoe20, 20 + 10% of 80 = 28,
//     so shoe20 takes 18; with cash30 too, 20 + 30 off, 10% of the 50
//     left = 5: 55, so cash30 takes 55 − 28 = 27.
func TestCouponRedeemOneAfterAnotherAsLockedTogether(t *testing.T) {
	p := openCouponsWith(t, stackDef())
	ctx := context.Background()
	h := p.Coupons()
	next := stackWallet(t, p, 12)
	cases := []struct {
		name      string
		templates []string // in the order redeemed
		want      []string // each one's amount off
		total     string
	}{
		{"cash then discount", []string{"cash30", "pct10"}, []string{"30", "7"}, "37"},
		{"discount then cash", []string{"pct10", "cash30"}, []string{"10", "27"}, "37"},
		{"two discounts", []string{"pct10", "pct20"}, []string{"10", "18"}, "28"},
		{"two discounts the other way", []string{"pct20", "pct10"}, []string{"20", "8"}, "28"},
		{"a capped discount then another", []string{"half8", "pct20"}, []string{"8", "20"}, "28"},
		{"a discount then a capped one", []string{"pct20", "half8"}, []string{"20", "8"}, "28"},
		{"cash then discount on one product", []string{"shoe20", "shoe-half"}, []string{"20", "20"}, "40"},
		{"discount then cash on one product", []string{"shoe-half", "shoe20"}, []string{"30", "10"}, "40"},
		{"cash on one product then discount on all", []string{"shoe20", "pct10"}, []string{"20", "8"}, "28"},
		{"three", []string{"pct10", "shoe20", "cash30"}, []string{"10", "18", "27"}, "55"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := shoeAndBag(t, fmt.Sprint("r", i), "2026-05-01 12:00")
			o.Member = "" // a till knows the code, not the member
			sum := decimal.Zero
			for k, tpl := range tc.templates {
				res, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: fmt.Sprint(o.ID, "-", k), Code: next(tpl).Code, Order: o})
				if err != nil {
					t.Fatalf("redeem %s: %v", tpl, err)
				}
				if !res.Coupon.AmountOff.Equal(dec(tc.want[k])) {
					t.Errorf("%s took %s off, want %s", tpl, res.Coupon.AmountOff, tc.want[k])
				}
				sum = sum.Add(res.Coupon.AmountOff)
			}
			if !sum.Equal(dec(tc.total)) {
				t.Errorf("the order's coupons took %s off, want %s", sum, tc.total)
			}
			ids := make([]string, len(tc.templates))
			for k, tpl := range tc.templates {
				ids[k] = next(tpl).ID
			}
			lr, err := h.Lock(ctx, coupon.LockRequest{RequestID: "lock-" + o.ID, Order: shoeAndBag(t, "l"+o.ID, "2026-05-01 12:00"), Coupons: ids})
			if err != nil {
				t.Fatal(err)
			}
			if !lr.AmountOff.Equal(sum) {
				t.Errorf("locked together they take %s off, redeemed one after another %s", lr.AmountOff, sum)
			}
		})
	}
}

// A redemption for an order that used coupons is refused when its coupon
// may not stack with them (ErrNotCombinable), or adds nothing to what they
// take off (ErrNotApplicable): a discount on a shoe whose price a cash
// coupon took whole. The coupon stays available. A coupon used earlier
// counts with the order's coupons even when its validity has ended since
// (a redemption's time is its request's).
func TestCouponRedeemAfterOthersRefused(t *testing.T) {
	p := openCouponsWith(t, stackDef())
	ctx := context.Background()
	h := p.Coupons()
	next := stackWallet(t, p, 2)
	redeem := func(id string, c coupon.Coupon, o coupon.Order) (coupon.RedeemResult, error) {
		return h.Redeem(ctx, coupon.RedeemRequest{RequestID: id, Code: c.Code, Order: o})
	}
	o1 := shoeAndBag(t, "o1", "2026-05-01 12:00")
	if _, err := redeem("a", next("pct10"), o1); err != nil {
		t.Fatal(err)
	}
	other := next("h-pct10")
	if _, err := redeem("b", other, o1); !errors.Is(err, coupon.ErrNotCombinable) {
		t.Errorf("a coupon of another group: %v, want ErrNotCombinable", err)
	}
	o2 := coupon.Order{ID: "o2", Member: "m1", Store: "s1", Time: at(t, "2026-05-01 12:00"),
		Lines: []coupon.Line{{Product: "shoe", Amount: dec("20")}, {Product: "bag", Amount: dec("80")}}}
	if _, err := redeem("c", next("shoe20"), o2); err != nil {
		t.Fatal(err)
	}
	half := next("shoe-half")
	if _, err := redeem("d", half, o2); !errors.Is(err, coupon.ErrNotApplicable) {
		t.Errorf("a shoe discount once the shoe is paid for: %v, want ErrNotApplicable", err)
	}
	cs, err := h.List(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if (c.ID == other.ID || c.ID == half.ID) && c.State != coupon.Available {
			t.Errorf("%s is %s, want available", c.ID, c.State)
		}
	}
	// day5 is valid until 2 May 00:00: used at 23:50, it counts for the
	// order's next coupon, redeemed at 00:10 (10% of the 95 left).
	if _, err := redeem("e", next("day5"), shoeAndBag(t, "o3", "2026-05-01 23:50")); err != nil {
		t.Fatal(err)
	}
	res, err := redeem("f", next("pct10"), shoeAndBag(t, "o3", "2026-05-02 00:10"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Coupon.AmountOff.Equal(dec("9.5")) {
		t.Errorf("pct10 after day5 took %s off, want 9.50", res.Coupon.AmountOff)
	}
}

// A store an earlier version wrote holds used coupons that coupon.used,
// added later, does not list. Redeem and Lock find them, listing the
// member's used coupons at the member's first Redeem or Lock: a discount
// redeemed for an order that used a cash coupon comes off what it left,
// an order that used a coupon of a template takes no second one, and a
// Lock of such an order is refused. Redeem and Lock used to see no coupon
// used for such an order. The store is made as the earlier version left
// it by removing coupon.used and coupon.indexed whole.
func TestCouponRedeemSeesCouponsUsedBeforeTheIndex(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			p := openCouponsOn(t, st, stackDef())
			ctx := context.Background()
			h := p.Coupons()
			next := stackWallet(t, p, 2)
			if _, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "a", Code: next("cash30").Code, Order: shoeAndBag(t, "o1", "2026-05-01 12:00")}); err != nil {
				t.Fatal(err)
			}
			o2 := shoeAndBag(t, "o2", "2026-05-01 12:00")
			c := next("shoe20")
			if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "b", Order: o2, Coupons: []string{c.ID}}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.Use(ctx, coupon.OrderRequest{RequestID: "c", Order: o2.ID, At: o2.Time}); err != nil {
				t.Fatal(err)
			}
			if n := forget(t, st, "coupon.used", "coupon.indexed"); n["coupon.used"] != 2 {
				t.Fatalf("coupon.used held %d coupons, want o1's and o2's", n["coupon.used"])
			}

			// o2 used shoe20: it takes no Lock. (Refused, the Lock writes
			// nothing: the Redeem below lists the used coupons itself.)
			if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "d", Order: o2, Coupons: []string{next("pct20").ID}}); !errors.Is(err, coupon.ErrState) {
				t.Errorf("a Lock of o2: %v, want ErrState", err)
			}
			// o1 used cash30 (30): pct10 takes 10% of the 70 left.
			res, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "e", Code: next("pct10").Code, Order: shoeAndBag(t, "o1", "2026-05-01 12:30")})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Coupon.AmountOff.Equal(dec("7")) {
				t.Errorf("pct10 after cash30, used before the index, took %s off, want 7", res.Coupon.AmountOff)
			}
			// Nor a second shoe20.
			if _, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "f", Code: next("shoe20").Code, Order: o2}); !errors.Is(err, coupon.ErrNotCombinable) {
				t.Errorf("a second shoe20 for o2: %v, want ErrNotCombinable", err)
			}
		})
	}
}

// An index entry for a coupon not used for its order is damage, reported
// as such (membership.ErrCorrupt), not read as a coupon of the order.
func TestCouponRedeemDamagedIndex(t *testing.T) {
	st := memory.New()
	p := openCouponsOn(t, st, stackDef())
	ctx := context.Background()
	next := stackWallet(t, p, 1)
	c := next("cash30")
	err := st.Update(ctx, func(tx store.Tx) error {
		return tx.Put("coupon.used", []byte("o1\x00"+c.ID), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "a", Code: next("pct10").Code, Order: shoeAndBag(t, "o1", "2026-05-01 12:00")})
	if !errors.Is(err, membership.ErrCorrupt) {
		t.Errorf("redeem for an order whose index lists an available coupon: %v, want ErrCorrupt", err)
	}
}

func openCouponsWith(t *testing.T, def membership.Definition) *membership.Program {
	t.Helper()
	return openCouponsOn(t, memory.New(), def)
}

func openCouponsOn(t *testing.T, st store.Store, def membership.Definition) *membership.Program {
	t.Helper()
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return p
}

// forget removes every key of the buckets from st, as a store written
// before they existed holds none, and returns how many each held.
func forget(t *testing.T, st store.Store, buckets ...string) map[string]int {
	t.Helper()
	n := map[string]int{}
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, b := range buckets {
			var keys [][]byte
			if err := tx.Scan(b, nil, nil, false, func(k, _ []byte) error {
				keys = append(keys, append([]byte(nil), k...))
				return nil
			}); err != nil {
				return err
			}
			n[b] = len(keys)
			for _, k := range keys {
				if err := tx.Delete(b, k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
