package coupon_test

import (
	"context"
	"errors"
	"testing"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
)

// A coupon is revoked by an operator, named: a Revoke without one is
// refused with event.ErrInvalidArgument and leaves the coupon available;
// with one, the coupon is revoked and the coupon.revoked change names the
// operator.
func TestCouponRevokeNamesItsOperator(t *testing.T) {
	ctx := context.Background()
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p := openCoupons(t, open())
			c := couponClaim(t, p, "c", "m1", "flash", "2026-05-01 10:00")
			state := func() coupon.State {
				t.Helper()
				cs, err := p.Coupons().List(ctx, "m1")
				if err != nil || len(cs) != 1 {
					t.Fatalf("m1's coupons: %+v, %v", cs, err)
				}
				return cs[0].State
			}
			req := coupon.RevokeRequest{RequestID: "rv", Coupon: c.ID, Note: "fraud", At: at(t, "2026-05-01 11:00")}
			if _, err := p.Coupons().Revoke(ctx, req); !errors.Is(err, event.ErrInvalidArgument) {
				t.Fatalf("revoke without an operator: %v, want ErrInvalidArgument", err)
			}
			if s := state(); s != coupon.Available {
				t.Fatalf("after a refused revoke: %s, want available", s)
			}
			req.Operator = "op.li"
			out, err := p.Coupons().Revoke(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if s := state(); s != coupon.Revoked {
				t.Errorf("after revoke: %s, want revoked", s)
			}
			cs := out.ChangesOf(coupon.ChangeRevoked)
			if len(cs) != 1 || cs[0].Reason == nil || cs[0].Reason.Inputs["operator"] != "op.li" || cs[0].Reason.Note != "fraud" {
				t.Errorf("coupon.revoked changes %+v, want one naming op.li and the note", cs)
			}
		})
	}
}
