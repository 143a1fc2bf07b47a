package coupon_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
)

// A coupon request cannot be dated before the coupon last changed (its
// issue, lock, release): Use, Release, Revoke, Lock and Redeem dated a
// nanosecond before are refused with event.ErrInvalidArgument naming
// "at", and change nothing (the coupon, Stats, the feed); at that very
// instant they are accepted. Before, a coupon claimed at 10:00, locked at
// 10:00 and used "at 09:00" read Used at 09:00.
func TestCouponRequestNotBeforeItsLastChange(t *testing.T) {
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "a", Type: coupon.Cash, Amount: dec("5"), Use: days(30)},
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
			issued, locked, released := at(t, "2026-05-03 10:00"), at(t, "2026-05-03 11:00"), at(t, "2026-05-03 12:00")
			before := func(t time.Time) time.Time { return t.Add(-time.Nanosecond) }
			ord := func(id, m string, when time.Time) coupon.Order {
				return coupon.Order{ID: id, Member: m, Store: "s1", Time: when, Lines: []coupon.Line{line("p", "", "50")}}
			}
			must := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			type state struct {
				Coupon coupon.Coupon
				Stats  coupon.Report
				Feed   int
			}
			snapshot := func(c coupon.Coupon) state {
				t.Helper()
				got, err := h.ByCode(ctx, c.Code)
				must("by code", err)
				r, err := h.Stats(ctx, coupon.StatsQuery{})
				must("stats", err)
				return state{got, r, couponFeedLen(t, p)}
			}
			// refused checks that a request made by do is refused naming
			// "at", and that nothing changed.
			refused := func(what string, c coupon.Coupon, do func() error) {
				t.Helper()
				was := snapshot(c)
				err := do()
				if !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), "at: ") {
					t.Errorf("%s: %v, want event.ErrInvalidArgument naming at", what, err)
				}
				if diff := cmp.Diff(was, snapshot(c)); diff != "" {
					t.Errorf("%s changed (-before +after):\n%s", what, diff)
				}
			}
			use := func(id, o string, when time.Time) error {
				_, err := h.Use(ctx, coupon.OrderRequest{RequestID: id, Order: o, At: when})
				return err
			}
			release := func(id, o string, when time.Time) error {
				_, err := h.Release(ctx, coupon.OrderRequest{RequestID: id, Order: o, At: when})
				return err
			}
			revoke := func(id string, c coupon.Coupon, when time.Time) error {
				_, err := h.Revoke(ctx, coupon.RevokeRequest{RequestID: id, Operator: "ops", At: when, Coupon: c.ID})
				return err
			}
			lock := func(id string, o coupon.Order, c coupon.Coupon) error {
				_, err := h.Lock(ctx, coupon.LockRequest{RequestID: id, Order: o, Coupons: []string{c.ID}})
				return err
			}
			redeem := func(id string, o coupon.Order, c coupon.Coupon) error {
				_, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: id, Code: c.Code, Order: o})
				return err
			}
			wantState := func(what string, c coupon.Coupon, s coupon.State, changed time.Time) {
				t.Helper()
				got, err := h.ByCode(ctx, c.Code)
				must(what, err)
				if got.State != s || !got.Changed.Equal(changed) {
					t.Errorf("%s: %s changed at %v, want %s at %v", what, got.State, got.Changed, s, changed)
				}
			}

			// Used before its issue (locked at the instant).
			c1 := couponClaim(t, p, "c1", "m1", "a", "2026-05-03 10:00")
			must("lock o1", lock("l1", ord("o1", "m1", issued), c1))
			refused("use at 09:00", c1, func() error { return use("u1-9", "o1", at(t, "2026-05-03 09:00")) })
			refused("use before the issue", c1, func() error { return use("u1-", "o1", before(issued)) })
			must("use at the issue", use("u1", "o1", issued))
			wantState("use at the issue", c1, coupon.Used, issued)

			// Used and released before the lock.
			c2 := couponClaim(t, p, "c2", "m2", "a", "2026-05-03 10:00")
			must("lock o2", lock("l2", ord("o2", "m2", locked), c2))
			refused("use before the lock", c2, func() error { return use("u2-", "o2", before(locked)) })
			refused("release before the lock", c2, func() error { return release("x2-", "o2", before(locked)) })
			must("use at the lock", use("u2", "o2", locked))
			wantState("use at the lock", c2, coupon.Used, locked)

			c3 := couponClaim(t, p, "c3", "m3", "a", "2026-05-03 10:00")
			must("lock o3", lock("l3", ord("o3", "m3", locked), c3))
			refused("release before the lock", c3, func() error { return release("x3-", "o3", before(locked)) })
			refused("revoke before the lock", c3, func() error { return revoke("r3-", c3, before(locked)) })
			must("release at the lock", release("x3", "o3", locked))
			wantState("release at the lock", c3, coupon.Available, locked)

			// Locked, redeemed and revoked before the release.
			c4 := couponClaim(t, p, "c4", "m4", "a", "2026-05-03 10:00")
			must("lock o4", lock("l4", ord("o4", "m4", locked), c4))
			must("release o4", release("x4", "o4", released))
			refused("lock before the release", c4, func() error { return lock("l5-", ord("o5", "m4", before(released)), c4) })
			refused("redeem before the release", c4, func() error { return redeem("d5-", ord("o5", "", before(released)), c4) })
			refused("revoke before the release", c4, func() error { return revoke("r4-", c4, before(released)) })
			must("redeem at the release", redeem("d5", ord("o5", "", released), c4))
			wantState("redeem at the release", c4, coupon.Used, released)

			c5 := couponClaim(t, p, "c5", "m5", "a", "2026-05-03 10:00")
			must("lock o6", lock("l6", ord("o6", "m5", locked), c5))
			must("release o6", release("x6", "o6", released))
			must("lock at the release", lock("l7", ord("o7", "m5", released), c5))
			wantState("lock at the release", c5, coupon.Locked, released)
			must("revoke at the lock", revoke("r5", c5, released))
			wantState("revoke at the lock", c5, coupon.Revoked, released)

			// Revoked before its issue, then at it.
			c6 := couponClaim(t, p, "c6", "m6", "a", "2026-05-03 10:00")
			refused("revoke before the issue", c6, func() error { return revoke("r6-", c6, before(issued)) })
			must("revoke at the issue", revoke("r6", c6, issued))
			wantState("revoke at the issue", c6, coupon.Revoked, issued)

			// Every change counted on 3 May: six issued, three used (5
			// off each), two revoked.
			r, err := h.Stats(ctx, coupon.StatsQuery{})
			must("stats", err)
			want := coupon.Stat{Issued: 6, Used: 3, Revoked: 2, AmountOff: dec("15")}
			if diff := cmp.Diff(want, r.Total); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}
