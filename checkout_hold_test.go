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
)

// A checkout proposes the coupons an order's lock then gets when another
// order held them until a hold that has run out, Advance or not: a's
// newcomer coupons (10 off and 15 off her order of fresh food 100 and
// soap 50) locked for order A at 10:00 with a hold of 30 minutes are
// proposed for order B, and locked for it, from 10:30, not a nanosecond
// before. Checkout proposed none (both "not available", locked for A)
// while the Lock of B at the same time took off 25. The checkout writes
// nothing: A keeps them until B's lock. On memory, bolt and PostgreSQL.
func TestCheckoutAfterAHoldRanOut(t *testing.T) {
	sh := testkit.Shanghai
	onEveryStore(t, retailDef(t), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		testkit.MustProcess(t, p, event.Event{ID: "reg", Member: "a", Type: "register", Time: time.Date(2025, 3, 1, 0, 0, 0, 0, sh)})
		order := func(id string, at time.Time) coupon.Order {
			return coupon.Order{ID: id, Member: "a", Time: at, Lines: []coupon.Line{
				{Product: "apple", Category: "fresh", Amount: testkit.Dec("100")}, {Product: "soap", Amount: testkit.Dec("50")}}}
		}
		locked := time.Date(2025, 3, 2, 10, 0, 0, 0, sh)
		ids := []string{"c1.a", "c2.a"}
		if lr, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lA", Order: order("A", locked), Coupons: ids, Hold: 30 * time.Minute}); err != nil || !lr.AmountOff.Equal(testkit.Dec("25")) {
			t.Fatalf("lock of A = %+v, %v; want 25 off", lr, err)
		}
		ends := locked.Add(30 * time.Minute)
		for _, at := range []time.Time{ends.Add(-time.Nanosecond), ends} {
			pr, err := p.Coupons().Checkout(ctx, order("B", at))
			want, n := "0", 0
			if !at.Before(ends) {
				want, n = "25", 2
			}
			if err != nil || !pr.AmountOff.Equal(testkit.Dec(want)) || len(pr.Coupons) != n {
				t.Errorf("checkout of B at %v = %s off with %+v, %v; want %s off with %d coupons", at, pr.AmountOff, pr.Coupons, err, want, n)
			}
		}
		cs, err := p.Coupons().List(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.State != coupon.Locked || c.Order != "A" {
				t.Errorf("after the checkouts %s is %s for %q; want locked for A (a checkout writes nothing)", c.ID, c.State, c.Order)
			}
		}
		if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lB0", Order: order("B", ends.Add(-time.Nanosecond)), Coupons: ids}); !errors.Is(err, coupon.ErrState) {
			t.Errorf("lock of B a nanosecond before the hold's end: %v; want ErrState", err)
		}
		if lr, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lB", Order: order("B", ends), Coupons: ids}); err != nil || !lr.AmountOff.Equal(testkit.Dec("25")) {
			t.Errorf("lock of B at the hold's end = %+v, %v; want 25 off", lr, err)
		}
	})
}
