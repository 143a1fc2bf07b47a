package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/store/memory"
)

// A request dated after an order's hold ran out, made before Advance
// performed it, finds what it would find after Advance: the coupons
// released at 12:15, the end of a 15-minute hold from 12:00. A Use at
// 12:20 used to succeed before Advance (and fail after it); a lock of
// another order at 12:20 used to be refused (ErrState: locked) before
// Advance (and accepted after it).
func TestCouponRequestAfterUnperformedHold(t *testing.T) {
	ctx := context.Background()
	for _, advanced := range []bool{true, false} {
		p := openCoupons(t, memory.New())
		c := couponClaim(t, p, "c", "m1", "ten-off", "2026-05-01 10:00")
		lock := func(id, order, when string) error {
			o := coupon.Order{ID: order, Member: "m1", Time: at(t, when), Lines: []coupon.Line{{Product: "p", Amount: dec("50")}}}
			_, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: id, Order: o, Coupons: []string{c.ID}, Hold: 15 * time.Minute})
			return err
		}
		if err := lock("l1", "o1", "2026-05-01 12:00"); err != nil {
			t.Fatal(err)
		}
		if advanced {
			if _, err := p.Advance(ctx, at(t, "2026-05-01 12:15")); err != nil {
				t.Fatal(err)
			}
		}
		_, err := p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "u1", Order: "o1", At: at(t, "2026-05-01 12:20")})
		if !errors.Is(err, coupon.ErrNotFound) {
			t.Errorf("advanced %v: Use at 12:20 = %v, want coupon.ErrNotFound (the hold ran out at 12:15)", advanced, err)
		}
		n := couponFeedLen(t, p)
		if err := lock("l2", "o2", "2026-05-01 12:20"); err != nil {
			t.Fatalf("advanced %v: lock for o2 at 12:20: %v", advanced, err)
		}
		f, err := p.Feed(ctx, uint64(n), 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ch := range f {
			got = append(got, ch.Kind+"@"+ch.Time.In(shanghai(t)).Format("15:04"))
		}
		want := []string{coupon.ChangeLocked + "@12:20"}
		if !advanced { // the release, at its own time, is the lock's
			want = []string{coupon.ChangeReleased + "@12:15", coupon.ChangeLocked + "@12:20"}
		}
		if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
			t.Errorf("advanced %v: changes %v, want %v", advanced, got, want)
		}
		if k, err := p.Advance(ctx, at(t, "2026-05-01 12:30")); err != nil || k != 0 {
			t.Errorf("advanced %v: Advance to 12:30 performed %d, %v; want nothing left", advanced, k, err)
		}
	}
}

// A redemption by code dated after the hold of the order its coupon is
// locked for ran out, made before Advance performed it, finds the coupon
// released at the hold's end, and uses it.
func TestCouponRedeemAfterUnperformedHold(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	c := couponClaim(t, p, "c", "m1", "ten-off", "2026-05-01 10:00")
	o := coupon.Order{ID: "o1", Member: "m1", Time: at(t, "2026-05-01 12:00"), Lines: []coupon.Line{{Product: "p", Amount: dec("50")}}}
	if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: o, Coupons: []string{c.ID}, Hold: 15 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	n := couponFeedLen(t, p)
	o.ID, o.Time = "o2", at(t, "2026-05-01 12:20")
	res, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r1", Code: c.Code, Order: o})
	if err != nil {
		t.Fatalf("Redeem at 12:20: %v", err)
	}
	// 10% off 50 is 5, under the cap of 20.
	if !res.Coupon.AmountOff.Equal(dec("5")) {
		t.Errorf("amount off %s, want 5", res.Coupon.AmountOff)
	}
	f, err := p.Feed(ctx, uint64(n), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range f {
		got = append(got, ch.Kind+"@"+ch.Time.In(shanghai(t)).Format("15:04"))
	}
	if len(got) != 2 || got[0] != coupon.ChangeReleased+"@12:15" || got[1] != coupon.ChangeUsed+"@12:20" {
		t.Errorf("changes %v, want released at 12:15 and used at 12:20", got)
	}
}

// A revocation dated after a coupon's validity ended, or after the hold
// of the order it is locked for ran out, made before Advance performed
// the expiry or the release, finds what it would find after Advance. flash
// claimed at 10:00 on 1 May is valid until 24:00: a Revoke at 09:00 on 2
// May is refused with ErrState (expired), and the statistics count it
// expired, not revoked. Locked at 23:50 with a 30-minute hold, it is
// released at 00:20 on 2 May, expired (its validity ended while it was
// locked): a Revoke at 00:30 is refused too. Both used to revoke the
// coupon before Advance (and be refused after it), leaving the
// statistics to depend on when Advance ran.
func TestCouponRevokeAfterUnperformedExpiry(t *testing.T) {
	ctx := context.Background()
	for _, locked := range []bool{false, true} {
		for _, advanced := range []bool{true, false} {
			p := openCoupons(t, memory.New())
			c := couponClaim(t, p, "c", "m1", "flash", "2026-05-01 10:00")
			when := at(t, "2026-05-02 09:00")
			if locked {
				o := coupon.Order{ID: "o1", Member: "m1", Time: at(t, "2026-05-01 23:50"), Lines: []coupon.Line{{Product: "p", Amount: dec("50")}}}
				if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: o, Coupons: []string{c.ID}, Hold: 30 * time.Minute}); err != nil {
					t.Fatal(err)
				}
				when = at(t, "2026-05-02 00:30")
			}
			if advanced {
				if _, err := p.Advance(ctx, when); err != nil {
					t.Fatal(err)
				}
			}
			_, err := p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "r1", Operator: "ops", Coupon: c.ID, At: when})
			if !errors.Is(err, coupon.ErrState) {
				t.Errorf("locked %v, advanced %v: Revoke = %v, want coupon.ErrState (expired)", locked, advanced, err)
			}
			if _, err := p.Advance(ctx, when); err != nil {
				t.Fatal(err)
			}
			cs, err := p.Coupons().List(ctx, "m1")
			if err != nil || len(cs) != 1 || cs[0].State != coupon.Expired {
				t.Errorf("locked %v, advanced %v: coupons %+v, %v; want one expired", locked, advanced, cs, err)
			}
			r, err := p.Coupons().Stats(ctx, coupon.StatsQuery{Template: "flash"})
			if err != nil {
				t.Fatal(err)
			}
			if want := (coupon.Stat{Issued: 1, Expired: 1}); r.Total.Issued != want.Issued || r.Total.Expired != want.Expired || r.Total.Revoked != 0 {
				t.Errorf("locked %v, advanced %v: statistics %+v, want %+v", locked, advanced, r.Total, want)
			}
		}
	}
}

// Revoking gives nothing back: welcome's stock of 1 stays used and
// lucky's limit of 2 a member stays reached after their coupons are
// revoked.
func TestCouponRevokeReturnsNoStockNorLimit(t *testing.T) {
	ctx := context.Background()
	p := openCoupons(t, memory.New())
	w := couponClaim(t, p, "w", "m1", "welcome", "2026-05-01 10:00")
	l1 := couponClaim(t, p, "l1", "m1", "lucky", "2026-05-01 10:00")
	l2 := couponClaim(t, p, "l2", "m1", "lucky", "2026-05-02 10:00")
	for i, c := range []coupon.Coupon{w, l1, l2} {
		if _, err := p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: fmt.Sprint("r", i), Operator: "ops", Coupon: c.ID, At: at(t, "2026-05-02 11:00")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "w2", Member: "m2", Template: "welcome", At: at(t, "2026-05-03 10:00")}); !errors.Is(err, coupon.ErrOutOfStock) {
		t.Errorf("welcome after its one coupon was revoked: %v, want ErrOutOfStock", err)
	}
	if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "l3", Member: "m1", Template: "lucky", At: at(t, "2026-05-03 10:00")}); !errors.Is(err, coupon.ErrLimitReached) {
		t.Errorf("lucky after m1's two were revoked: %v, want ErrLimitReached", err)
	}
}
