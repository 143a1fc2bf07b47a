package membership_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// TestRefusalNamingAnObjectIsFiledUnderItsMember pins that a call naming
// an object rather than a member (a coupon by its code or ID, an order's
// locked coupons, a redemption, an adjustment), refused before it found
// the object's member, is filed in the audit trail under that member, so
// that Audit by member lists it and Erase redacts what its error quotes;
// one naming an object that does not exist stays under no member. On the
// retail program (adjustments above 100 wait for approval) with two
// coupon templates of the stacking groups "PII-tea" and "PII-cake", on
// memory, bolt and PostgreSQL when MEMBERSHIP_PG_DSN is set.
//
// m1 holds a tea and a cake coupon and winback-30, locked at 13:00 for
// order ord-1; the tea coupon is redeemed at 12:00 for ord-2, an order
// naming no member. Refused, each before this change under no member:
//
//   - redeem-cake: the cake coupon for ord-2 (no member): its group is
//     not the tea coupon's, 'coupon c3.m1 for ord-2 with the coupons
//     used for it: coupons cannot be combined: groups "PII-tea" and
//     "PII-cake"', which m1's erasure makes
//     'groups "…" and "…"' (the other errors quote nothing);
//   - use-early, release-early: ord-1's coupons used or released at
//     12:00, before their lock;
//   - use-again: ord-2's coupons used, none locked (coupon.ErrNotFound):
//     the coupon used for it is m1's;
//   - claim-tea, adj-2, lock-1: an approval of adj-2, a reversal of
//     ref-1 and a revocation of winback-30 under the request IDs of other
//     requests (event.ErrConflict).
//
// Refused under no member, naming nothing that exists: an approval of
// adj-none, a reversal of ref-none, a use of ord-none.
func TestRefusalNamingAnObjectIsFiledUnderItsMember(t *testing.T) {
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			testRefusalNamingAnObject(t, newStore)
		})
	}
}

func testRefusalNamingAnObject(t *testing.T, newStore func() store.Store) {
	ctx := context.Background()
	def := retailWith(t, func(m map[string]any) {
		m["points"].(map[string]any)["programs"].([]any)[0].(map[string]any)["approval_above"] = "100"
		cp := m["coupons"].(map[string]any)
		for _, g := range []string{"tea", "cake"} {
			cp["templates"] = append(cp["templates"].([]any), map[string]any{"name": g + "-5", "type": "cash", "amount": "5", "group": "PII-" + g,
				"use": map[string]any{"validity": map[string]any{"kind": "permanent"}}})
		}
	})
	p, err := membership.Open(newStore(), def)
	if err != nil {
		t.Fatal(err)
	}
	loc := p.Location()
	at := func(h int) time.Time { return time.Date(2025, 3, 1, 10+h, 0, 0, 0, loc) }
	dec := decimal.RequireFromString
	pts, cps := p.Points(), p.Coupons()
	if _, err := p.Process(ctx, event.Event{ID: "o1", Member: "m1", Type: "order", Time: at(0),
		Attrs: event.Attrs{"amount": event.DecString("2000"), "order_id": event.Str("o1")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-2", Member: "m1", Operator: "op.li", Note: "n", At: at(1), Program: "mall", Amount: dec("500")}); err != nil {
		t.Fatal(err)
	}
	if _, err := pts.Redeem(ctx, points.RedeemRequest{RequestID: "red-1", Member: "m1", Operator: "op.li", At: at(1), Program: "mall", Ref: "ref-1", Amount: dec("10")}); err != nil {
		t.Fatal(err)
	}
	claim := func(id, template string) coupon.Coupon {
		t.Helper()
		res, err := cps.Claim(ctx, coupon.ClaimRequest{RequestID: id, Member: "m1", Operator: "op.li", Method: coupon.Operator, At: at(1), Template: template})
		if err != nil {
			t.Fatal(err)
		}
		return res.Coupons[0]
	}
	tea, cake, wb := claim("claim-tea", "tea-5"), claim("claim-cake", "cake-5"), claim("claim-wb", "winback-30")
	lines := []coupon.Line{{Product: "tea", Amount: dec("200")}}
	if _, err := cps.Lock(ctx, coupon.LockRequest{RequestID: "lock-1", Order: coupon.Order{ID: "ord-1", Member: "m1", Time: at(3), Lines: lines}, Coupons: []string{wb.ID}}); err != nil {
		t.Fatal(err)
	}
	ord2 := coupon.Order{ID: "ord-2", Time: at(2), Lines: lines}
	if _, err := cps.Redeem(ctx, coupon.RedeemRequest{RequestID: "redeem-tea", Code: tea.Code, Order: ord2}); err != nil {
		t.Fatal(err)
	}

	refusals := []struct {
		request string
		err     error
		want    error
		member  string
	}{
		{"redeem-cake", errOf(cps.Redeem(ctx, coupon.RedeemRequest{RequestID: "redeem-cake", Code: cake.Code, Order: ord2})), coupon.ErrNotCombinable, "m1"},
		{"use-early", errOf(cps.Use(ctx, coupon.OrderRequest{RequestID: "use-early", At: at(2), Order: "ord-1"})), membership.ErrInvalidArgument, "m1"},
		{"release-early", errOf(cps.Release(ctx, coupon.OrderRequest{RequestID: "release-early", At: at(2), Order: "ord-1"})), membership.ErrInvalidArgument, "m1"},
		{"use-again", errOf(cps.Use(ctx, coupon.OrderRequest{RequestID: "use-again", At: at(3), Order: "ord-2"})), coupon.ErrNotFound, "m1"},
		{"claim-tea", errOf(pts.Approve(ctx, points.DecideRequest{RequestID: "claim-tea", Operator: "op.wang", At: at(2), Adjustment: "adj-2"})), membership.ErrEventConflict, "m1"},
		{"adj-2", errOf(pts.Reverse(ctx, points.ReverseRequest{RequestID: "adj-2", Operator: "op.wang", At: at(2), Program: "mall", Ref: "ref-1"})), membership.ErrEventConflict, "m1"},
		{"lock-1", errOf(cps.Revoke(ctx, coupon.RevokeRequest{RequestID: "lock-1", Operator: "op.wang", At: at(4), Coupon: wb.ID})), membership.ErrEventConflict, "m1"},
		{"approve-none", errOf(pts.Approve(ctx, points.DecideRequest{RequestID: "approve-none", Operator: "op.wang", At: at(2), Adjustment: "adj-none"})), points.ErrUnknownAdjustment, ""},
		{"reverse-none", errOf(pts.Reverse(ctx, points.ReverseRequest{RequestID: "reverse-none", Operator: "op.wang", At: at(2), Program: "mall", Ref: "ref-none"})), points.ErrUnknownRedemption, ""},
		{"use-none", errOf(cps.Use(ctx, coupon.OrderRequest{RequestID: "use-none", At: at(2), Order: "ord-none"})), coupon.ErrNotFound, ""},
	}
	for _, r := range refusals {
		if !errors.Is(r.err, r.want) {
			t.Errorf("%s: %v, want %v", r.request, r.err, r.want)
		}
	}
	const cakeErr = `coupon %s for ord-2 with the coupons used for it: coupons cannot be combined: groups %s and %s`
	// refused returns the refused entries by request ID.
	refused := func(q membership.AuditQuery) map[string]membership.AuditEntry {
		t.Helper()
		q.Limit = 1000
		pg, err := p.Audit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]membership.AuditEntry{}
		for _, e := range pg.Entries {
			if e.Result == membership.AuditRefused {
				out[e.Request] = e
			}
		}
		return out
	}
	all, byM1 := refused(membership.AuditQuery{}), refused(membership.AuditQuery{Member: "m1"})
	for _, r := range refusals {
		e, ok := all[r.request]
		if !ok {
			t.Errorf("%s: no refused entry", r.request)
			continue
		}
		if e.Member != r.member {
			t.Errorf("%s: filed under member %q, want %q", r.request, e.Member, r.member)
		}
		if _, ok := byM1[r.request]; ok != (r.member == "m1") {
			t.Errorf("%s: listed by Audit of m1: %v, want %v", r.request, ok, r.member == "m1")
		}
	}
	if got, want := all["redeem-cake"].Error, fmt.Sprintf(cakeErr, cake.ID, `"PII-tea"`, `"PII-cake"`); got != want {
		t.Errorf("redeem-cake's error before the erasure:\n got %s\nwant %s", got, want)
	}

	if _, err := p.Erase(ctx, membership.EraseRequest{RequestID: "erase-m1", Member: "m1", Operator: "op.zhao", At: at(5)}); err != nil {
		t.Fatal(err)
	}
	after := refused(membership.AuditQuery{})
	if got, want := after["redeem-cake"].Error, fmt.Sprintf(cakeErr, cake.ID, `"…"`, `"…"`); got != want {
		t.Errorf("redeem-cake's error after m1's erasure:\n got %s\nwant %s", got, want)
	}
	for _, r := range refusals {
		if r.request != "redeem-cake" && after[r.request].Error != all[r.request].Error {
			t.Errorf("%s: error %q after the erasure, %q before: it quotes nothing", r.request, after[r.request].Error, all[r.request].Error)
		}
	}
}

// errOf returns a call's error, dropping its result.
func errOf[T any](_ T, err error) error { return err }
