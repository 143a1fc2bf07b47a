package coupon_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
)

// auditDef is a program whose templates pin the checks of a redemption:
//   - scoped: cash 10 from a minimum of 50, in the stacking group g, at
//     stores s1 and s2, on the product b and the category food but not the
//     product a nor the category drink, valid from 00:00 of 5 May to
//     24:00 of 10 May 2026 (11 May 00:00);
//   - thirty: cash 30 in g, on anything, for 30 days;
//   - five: cash 5 in h; disc: 15% off (rate 0.85) capped at 20, product y
//     only, in h; disc-cap: 15% off capped at 4.50, exclusive;
//   - life: cash 8, exclusive, 3 days, cost centre promo.
func auditDef() membership.Definition {
	fixed := coupon.UseRule{Validity: rule.Validity{Kind: rule.FixedRange,
		From: rule.Date{Year: 2026, Month: 5, Day: 5}, To: rule.Date{Year: 2026, Month: 5, Day: 10}}}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "scoped", Type: coupon.Cash, Amount: dec("10"), MinOrder: dec("50"), Group: "g", Stores: []string{"s1", "s2"},
				Products: coupon.Products{Include: []string{"b"}, IncludeCategories: []string{"food"},
					Exclude: []string{"a"}, ExcludeCategories: []string{"drink"}},
				Use: fixed, CostCentre: "crm"},
			{Name: "thirty", Type: coupon.Cash, Amount: dec("30"), Group: "g", Use: days(30), CostCentre: "crm"},
			{Name: "five", Type: coupon.Cash, Amount: dec("5"), Group: "h", Use: days(30), CostCentre: "crm"},
			{Name: "disc", Type: coupon.Discount, Rate: dec("0.85"), Cap: dec("20"), Group: "h", Use: days(30),
				Products: coupon.Products{Include: []string{"y"}}, CostCentre: "crm"},
			{Name: "disc-cap", Type: coupon.Discount, Rate: dec("0.85"), Cap: dec("4.50"), Use: days(30), CostCentre: "crm"},
			{Name: "life", Type: coupon.Cash, Amount: dec("8"), Use: days(3), CostCentre: "promo"},
		}},
	}
}

// claimN claims n coupons of template for member at when.
func claimN(t testing.TB, p *membership.Program, id, member, template, when string, n int) []coupon.Coupon {
	t.Helper()
	res, err := p.Coupons().Claim(context.Background(), coupon.ClaimRequest{RequestID: id, Member: member, Template: template, At: at(t, when), Count: n})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Coupons) != n {
		t.Fatalf("claim %s gave %d coupons, want %d", id, len(res.Coupons), n)
	}
	return res.Coupons
}

// onAuditStores runs fn on a program of auditDef on each store, with its
// coupon handle.
func onAuditStores(t *testing.T, fn func(t *testing.T, p *membership.Program, h *coupon.Handle)) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p := openCouponsOn(t, open(), auditDef())
			fn(t, p, p.Coupons())
		})
	}
}

// offByTemplate is what each coupon of cs takes off, by its template.
func offByTemplate(cs []coupon.Coupon) map[string]string {
	off := map[string]string{}
	for _, c := range cs {
		off[c.Template] = c.AmountOff.String()
	}
	return off
}

// A redemption checks the owner, the state, the validity at the order's
// time (valid at 00:00 of the fixed range's first day and a nanosecond
// before 24:00 of its last, not a nanosecond before the first nor at
// 24:00 of the last), the store, the products (a product both lists name
// is excluded, as is an included product of an excluded category) and
// the minimum (met when the applicable lines come to it exactly), through
// Lock and Redeem alike; each refusal changes nothing.
//
// The order's lines are a (food) 40, b (drink) 30, c (food) 50 and d (no
// category) 70: scoped applies to c alone (a is excluded as a product
// though its category food is included, b by its category though the
// product b is included, d is in no include list), so its applicable amount is 50, its minimum
// exactly, and it takes 10 off.
func TestCouponAuditRedeemChecks(t *testing.T) {
	lines := func(c string) []coupon.Line {
		return []coupon.Line{line("a", "food", "40"), line("b", "drink", "30"), line("c", "food", c), line("d", "", "70")}
	}
	onAuditStores(t, func(t *testing.T, p *membership.Program, h *coupon.Handle) {
		ctx := context.Background()
		cs := claimN(t, p, "claim", "m1", "scoped", "2026-05-01 10:00", 2)
		from, end := at(t, "2026-05-05 00:00"), at(t, "2026-05-11 00:00")
		if !cs[0].From.Equal(from) || !cs[0].Expires.Equal(end) {
			t.Fatalf("coupon valid from %v to %v, want %v to %v", cs[0].From, cs[0].Expires, from, end)
		}
		ok := coupon.Order{ID: "o", Member: "m1", Store: "s1", Time: from, Lines: lines("50")}
		feed := couponFeedLen(t, p)
		for _, tt := range []struct {
			name string
			edit func(o *coupon.Order)
			err  error
		}{
			{"a nanosecond before the range", func(o *coupon.Order) { o.Time = from.Add(-time.Nanosecond) }, coupon.ErrNotApplicable},
			{"at 24:00 of the last day", func(o *coupon.Order) { o.Time = end }, coupon.ErrNotApplicable},
			{"another store", func(o *coupon.Order) { o.Store = "s3" }, coupon.ErrNotApplicable},
			{"no store", func(o *coupon.Order) { o.Store = "" }, coupon.ErrNotApplicable},
			{"another member", func(o *coupon.Order) { o.Member = "m2" }, coupon.ErrNotFound},
			{"a cent below the minimum", func(o *coupon.Order) { o.Lines = lines("49.99") }, coupon.ErrNotApplicable},
			{"only excluded or other products", func(o *coupon.Order) { o.Lines = append(lines("1")[:2], line("d", "", "500")) }, coupon.ErrNotApplicable},
		} {
			o := ok
			o.ID = "o-" + tt.name
			tt.edit(&o)
			if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l-" + tt.name, Order: o, Coupons: []string{cs[0].ID}}); !errors.Is(err, tt.err) {
				t.Errorf("Lock, %s: %v, want %v", tt.name, err, tt.err)
			}
			if _, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r-" + tt.name, Code: cs[1].Code, Order: o}); !errors.Is(err, tt.err) {
				t.Errorf("Redeem, %s: %v, want %v", tt.name, err, tt.err)
			}
		}
		if n := couponFeedLen(t, p); n != feed {
			t.Errorf("the refusals published %d changes", n-feed)
		}
		// Checkout says why, for the cent below the minimum and the
		// products all left out.
		below := ok
		below.Lines = lines("49.99")
		pr, err := h.Checkout(ctx, below)
		if err != nil {
			t.Fatal(err)
		}
		if got := pr.Evaluated[0]; !got.Applicable.Equal(dec("49.99")) || !cmp.Equal(got.Reasons, []coupon.Reason{coupon.ReasonMinimum}) {
			t.Errorf("checkout a cent below the minimum: applicable %s, reasons %v; want 49.99, [%s]", got.Applicable, got.Reasons, coupon.ReasonMinimum)
		}
		// At 00:00 of the first day, at s1: the applicable lines come
		// to the minimum, 10 off.
		lock, err := h.Lock(ctx, coupon.LockRequest{RequestID: "lock", Order: ok, Coupons: []string{cs[0].ID}})
		if err != nil {
			t.Fatal(err)
		}
		if !lock.AmountOff.Equal(dec("10")) || lock.Outcome.ChangesOf(coupon.ChangeLocked)[0].Reason.Inputs["applicable"] != "50" {
			t.Errorf("lock at the range's first instant: %s off, reason %+v; want 10 off of 50 applicable", lock.AmountOff, lock.Outcome.ChangesOf(coupon.ChangeLocked)[0].Reason)
		}
		if _, err := h.Use(ctx, coupon.OrderRequest{RequestID: "use", At: from, Order: "o"}); err != nil {
			t.Fatal(err)
		}
		// A nanosecond before 24:00 of the last day, at s2, by code.
		last := ok
		last.ID, last.Member, last.Store, last.Time = "o2", "", "s2", end.Add(-time.Nanosecond)
		res, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "redeem", Code: cs[1].Code, Order: last})
		if err != nil || !res.Coupon.AmountOff.Equal(dec("10")) || res.Coupon.Store != "s2" {
			t.Errorf("redeem a nanosecond before the end: %+v, %v; want 10 off at s2", res.Coupon, err)
		}
		// Used: neither redeemed nor locked again.
		again := last
		again.ID = "o3"
		if _, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "again", Code: cs[0].Code, Order: again}); !errors.Is(err, coupon.ErrState) {
			t.Errorf("redeem a used coupon: %v, want ErrState", err)
		}
		again.Member, again.ID = "m1", "o4"
		if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "again-lock", Order: again, Coupons: []string{cs[1].ID}}); !errors.Is(err, coupon.ErrState) {
			t.Errorf("lock a used coupon: %v, want ErrState", err)
		}
	})
}

// The minimum is met by the order's applicable lines as ordered, before
// what the other coupons take off (the package doc's choice): on an order
// of one line c (food) of 50, thirty takes 30 and scoped (minimum 50) 10
// more, though thirty leaves 20 of the line; locked together, or redeemed
// one after the other in either order, 40 in all (thirty 30, scoped 10:
// both cash coupons, each within what the other leaves). The same line at
// 49.99 leaves scoped out: thirty alone, and a Lock of both is refused.
func TestCouponAuditMinimumBeforeOtherCoupons(t *testing.T) {
	onAuditStores(t, func(t *testing.T, p *membership.Program, h *coupon.Handle) {
		ctx := context.Background()
		sc := claimN(t, p, "s", "m1", "scoped", "2026-05-01 10:00", 4)
		th := claimN(t, p, "t", "m1", "thirty", "2026-05-01 10:00", 4)
		ord := func(id, amount string) coupon.Order {
			return coupon.Order{ID: id, Member: "m1", Store: "s1", Time: at(t, "2026-05-06 12:00"), Lines: []coupon.Line{line("c", "food", amount)}}
		}
		pr, err := h.Checkout(ctx, ord("o1", "50"))
		if err != nil {
			t.Fatal(err)
		}
		if !pr.AmountOff.Equal(dec("40")) || len(pr.Coupons) != 2 {
			t.Errorf("checkout: %s off with %v, want 40 with scoped and thirty", pr.AmountOff, picks(pr))
		}
		lock, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: ord("o1", "50"), Coupons: []string{sc[0].ID, th[0].ID}})
		if err != nil || !lock.AmountOff.Equal(dec("40")) {
			t.Fatalf("lock both: %+v, %v; want 40 off", lock, err)
		}
		if diff := cmp.Diff(map[string]string{"scoped": "10", "thirty": "30"}, offByTemplate(lock.Coupons)); diff != "" {
			t.Errorf("locked amounts (-want +got):\n%s", diff)
		}
		redeem := func(id string, c coupon.Coupon, order string) coupon.Coupon {
			t.Helper()
			o := ord(order, "50")
			o.Member = ""
			res, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: id, Code: c.Code, Order: o})
			if err != nil {
				t.Fatalf("redeem %s for %s: %v", c.Template, order, err)
			}
			return res.Coupon
		}
		if a, b := redeem("r1", th[1], "o2"), redeem("r2", sc[1], "o2"); !a.AmountOff.Equal(dec("30")) || !b.AmountOff.Equal(dec("10")) {
			t.Errorf("thirty then scoped: %s and %s off, want 30 and 10", a.AmountOff, b.AmountOff)
		}
		if a, b := redeem("r3", sc[2], "o3"), redeem("r4", th[2], "o3"); !a.AmountOff.Equal(dec("10")) || !b.AmountOff.Equal(dec("30")) {
			t.Errorf("scoped then thirty: %s and %s off, want 10 and 30", a.AmountOff, b.AmountOff)
		}
		// A cent short of the minimum: thirty alone.
		pr, err = h.Checkout(ctx, ord("o4", "49.99"))
		if err != nil {
			t.Fatal(err)
		}
		if len(pr.Coupons) != 1 || pr.Coupons[0].Template != "thirty" || !pr.AmountOff.Equal(dec("30")) {
			t.Errorf("checkout of 49.99: %s off with %v, want 30 with thirty alone", pr.AmountOff, picks(pr))
		}
		if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l4", Order: ord("o4", "49.99"), Coupons: []string{sc[3].ID, th[3].ID}}); !errors.Is(err, coupon.ErrNotApplicable) {
			t.Errorf("lock both on 49.99: %v, want ErrNotApplicable", err)
		}
	})
}

// A discount's amount off is rounded down to the cent, and its cap taken
// after: 15% of 33.33 is 4.9995, so disc (cap 20) takes 4.99 and disc-cap
// (cap 4.50) takes 4.50. 15% of 0.10 is 0.015, 0.01 off; 15% of 0.06 is
// 0.009, which rounds to nothing: the coupon does not apply.
//
// Combined, five applies before disc and its 5 is shared over the lines x
// 33.33 and y 33.34 (total 66.67) in proportion, rounded down: x
// 5 × 33.33 / 66.67 = 2.4996… → 2.49, y 5 × 33.34 / 66.67 = 2.5004… →
// 2.50, the cent left over to x (the first line): 2.50 and 2.50. disc
// (product y only) then takes 15% of y's 30.84, 4.626 → 4.62: 9.62 in all.
// Redeemed one after the other, disc first takes 15% of 33.34, 5.001 →
// 5.00, and five then what makes the order's total 9.62: 4.62.
func TestCouponAuditDiscountRounding(t *testing.T) {
	onAuditStores(t, func(t *testing.T, p *membership.Program, h *coupon.Handle) {
		ctx := context.Background()
		d := claimN(t, p, "d", "m1", "disc", "2026-05-01 10:00", 4)
		dc := claimN(t, p, "dc", "m1", "disc-cap", "2026-05-01 10:00", 1)
		f := claimN(t, p, "f", "m1", "five", "2026-05-01 10:00", 2)
		ord := func(id string, ls ...coupon.Line) coupon.Order {
			return coupon.Order{ID: id, Store: "s1", Time: at(t, "2026-05-02 12:00"), Lines: ls}
		}
		for _, tt := range []struct {
			c      coupon.Coupon
			amount string
			off    string // "" when it does not apply
		}{
			{d[0], "33.33", "4.99"},
			{dc[0], "33.33", "4.50"},
			{d[1], "0.06", ""},
			{d[1], "0.10", "0.01"},
		} {
			o := ord("o-"+tt.c.ID+"-"+tt.amount, line("y", "", tt.amount))
			res, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: o.ID, Code: tt.c.Code, Order: o})
			switch {
			case tt.off == "" && !errors.Is(err, coupon.ErrNotApplicable):
				t.Errorf("%s on %s: %+v, %v; want ErrNotApplicable", tt.c.Template, tt.amount, res.Coupon, err)
			case tt.off != "" && (err != nil || !res.Coupon.AmountOff.Equal(dec(tt.off))):
				t.Errorf("%s on %s: %+v, %v; want %s off", tt.c.Template, tt.amount, res.Coupon, err, tt.off)
			}
		}
		two := func(id string) coupon.Order { return ord(id, line("x", "", "33.33"), line("y", "", "33.34")) }
		o := two("o1")
		o.Member = "m1"
		lock, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: o, Coupons: []string{d[2].ID, f[0].ID}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"five": "5", "disc": "4.62"}, offByTemplate(lock.Coupons)); diff != "" || !lock.AmountOff.Equal(dec("9.62")) {
			t.Errorf("five and disc locked together: %s off (-want +got):\n%s", lock.AmountOff, diff)
		}
		r1, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r1", Code: d[3].Code, Order: two("o2")})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r2", Code: f[1].Code, Order: two("o2")})
		if err != nil {
			t.Fatal(err)
		}
		if !r1.Coupon.AmountOff.Equal(dec("5")) || !r2.Coupon.AmountOff.Equal(dec("4.62")) {
			t.Errorf("disc then five: %s and %s off, want 5.00 and 4.62", r1.Coupon.AmountOff, r2.Coupon.AmountOff)
		}
	})
}

// A coupon's life through its states, and what the statistics count of
// it. Six coupons of life (cash 8, valid for 3 days from 1 May 10:00, so
// until 4 May 00:00) for m1:
//   - c1: locked for o1, released, then redeemed for o2 at s1 on 1 May;
//   - c2: locked for o3 at s1 on 3 May 23:00, still locked when Advance
//     passes its expiry (a locked coupon's expiry leaves it alone), used on
//     5 May: it counts as used on 5 May at s1, never as expired;
//   - c3: locked for o4 on 3 May 23:00, revoked on 5 May while locked: the
//     order then has nothing to use or release (ErrNotFound);
//   - c4: locked for o5 on 3 May 23:30 and released at 4 May 00:00, its
//     expiry: expired, on 4 May;
//   - c5: left alone, expired by Advance on 4 May;
//   - c6: locked for o6 on 3 May 23:30 and released a nanosecond before
//     its expiry: available, and Advance expires it on 4 May.
//
// An order whose coupon was used keeps it (the package doc's choice for a
// refund): Release of o2 finds nothing locked, and c1 can be neither
// redeemed nor locked again. So, by hand: 1 May: issued 6 (at no store),
// used 1 at s1 with 8 off; 4 May: expired 3 (c4, c5, c6); 5 May: revoked
// 1, used 1 at s1 with 8 off. In all issued 6, used 2, expired 3, revoked
// 1, 16 off, all under the cost centre promo; the store s1 counts the
// uses, the empty store the rest.
func TestCouponAuditLifecycleAndStats(t *testing.T) {
	onAuditStores(t, func(t *testing.T, p *membership.Program, h *coupon.Handle) {
		ctx := context.Background()
		c := claimN(t, p, "claim", "m1", "life", "2026-05-01 10:00", 6)
		must := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		ord := func(id, st string, when time.Time) coupon.Order {
			return coupon.Order{ID: id, Member: "m1", Store: st, Time: when, Lines: []coupon.Line{line("p", "", "100")}}
		}
		lock := func(id string, o coupon.Order, cp coupon.Coupon) {
			t.Helper()
			res, err := h.Lock(ctx, coupon.LockRequest{RequestID: id, Order: o, Coupons: []string{cp.ID}})
			must(id, err)
			if !res.AmountOff.Equal(dec("8")) {
				t.Errorf("%s: %s off, want 8", id, res.AmountOff)
			}
		}
		orderReq := func(id, order string, when time.Time) coupon.OrderRequest {
			return coupon.OrderRequest{RequestID: id, Order: order, At: when}
		}
		lock("l1", ord("o1", "s1", at(t, "2026-05-01 12:00")), c[0])
		_, err := h.Release(ctx, orderReq("x1", "o1", at(t, "2026-05-01 12:30")))
		must("release o1", err)
		o2 := ord("o2", "s1", at(t, "2026-05-01 13:00"))
		o2.Member = ""
		_, err = h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r2", Code: c[0].Code, Order: o2})
		must("redeem c1", err)
		late := at(t, "2026-05-03 23:00")
		lock("l3", ord("o3", "s1", late), c[1])
		lock("l4", ord("o4", "s2", late), c[2])
		lock("l5", ord("o5", "s1", late.Add(30*time.Minute)), c[3])
		lock("l6", ord("o6", "s1", late.Add(30*time.Minute)), c[5])
		expiry := at(t, "2026-05-04 00:00")
		_, err = h.Release(ctx, orderReq("x6", "o6", expiry.Add(-time.Nanosecond)))
		must("release o6", err)
		_, err = h.Release(ctx, orderReq("x5", "o5", expiry))
		must("release o5", err)
		_, err = p.Advance(ctx, at(t, "2026-05-05 00:00"))
		must("advance", err)
		_, err = h.Revoke(ctx, coupon.RevokeRequest{RequestID: "rv", Operator: "op", At: at(t, "2026-05-05 09:00"), Coupon: c[2].ID})
		must("revoke c3", err)
		_, err = h.Use(ctx, orderReq("u3", "o3", at(t, "2026-05-05 10:00")))
		must("use o3", err)
		if _, err := h.Use(ctx, orderReq("u4", "o4", at(t, "2026-05-05 10:00"))); !errors.Is(err, coupon.ErrNotFound) {
			t.Errorf("use o4 after its coupon was revoked: %v, want ErrNotFound", err)
		}
		if _, err := h.Release(ctx, orderReq("x4", "o4", at(t, "2026-05-05 10:00"))); !errors.Is(err, coupon.ErrNotFound) {
			t.Errorf("release o4 after its coupon was revoked: %v, want ErrNotFound", err)
		}
		if _, err := h.Release(ctx, orderReq("x2", "o2", at(t, "2026-05-05 10:00"))); !errors.Is(err, coupon.ErrNotFound) {
			t.Errorf("release o2, whose coupon was used: %v, want ErrNotFound", err)
		}
		o7 := ord("o7", "s1", at(t, "2026-05-01 14:00"))
		if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l7", Order: o7, Coupons: []string{c[0].ID}}); !errors.Is(err, coupon.ErrState) {
			t.Errorf("lock c1 again: %v, want ErrState", err)
		}
		o7.Member, o7.ID = "", "o8"
		if _, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r8", Code: c[0].Code, Order: o7}); !errors.Is(err, coupon.ErrState) {
			t.Errorf("redeem c1 again: %v, want ErrState", err)
		}

		list, err := h.List(ctx, "m1")
		must("list", err)
		type got struct {
			State coupon.State
			Order string
			Off   string
		}
		states := map[string]got{}
		for _, cp := range list {
			states[cp.ID] = got{cp.State, cp.Order, cp.AmountOff.String()}
		}
		want := map[string]got{
			c[0].ID: {coupon.Used, "o2", "8"}, c[1].ID: {coupon.Used, "o3", "8"}, c[2].ID: {coupon.Revoked, "", "0"},
			c[3].ID: {coupon.Expired, "", "0"}, c[4].ID: {coupon.Expired, "", "0"}, c[5].ID: {coupon.Expired, "", "0"},
		}
		if diff := cmp.Diff(want, states); diff != "" {
			t.Errorf("coupons (-want +got):\n%s", diff)
		}
		r, err := h.Stats(ctx, coupon.StatsQuery{CostCentre: "promo"})
		must("stats", err)
		all := coupon.Stat{Issued: 6, Used: 2, Expired: 3, Revoked: 1, AmountOff: dec("16")}
		if diff := cmp.Diff(all, r.Total); diff != "" {
			t.Errorf("total (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]coupon.Stat{"life": all}, r.ByTemplate); diff != "" {
			t.Errorf("by template (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]coupon.Stat{"promo": all}, r.ByCostCentre); diff != "" {
			t.Errorf("by cost centre (-want +got):\n%s", diff)
		}
		byStore := map[string]coupon.Stat{
			"":   {Issued: 6, Expired: 3, Revoked: 1},
			"s1": {Used: 2, AmountOff: dec("16")},
		}
		if diff := cmp.Diff(byStore, r.ByStore); diff != "" {
			t.Errorf("by store (-want +got):\n%s", diff)
		}
		day := func(d int) rule.Date { return rule.Date{Year: 2026, Month: 5, Day: d} }
		for d, want := range map[int]map[[2]string]coupon.Stat{
			1: {{"life", ""}: {Issued: 6}, {"life", "s1"}: {Used: 1, AmountOff: dec("8")}},
			2: {},
			3: {},
			4: {{"life", ""}: {Expired: 3}},
			5: {{"life", ""}: {Revoked: 1}, {"life", "s1"}: {Used: 1, AmountOff: dec("8")}},
		} {
			r, err := h.Stats(ctx, coupon.StatsQuery{From: day(d), To: day(d), Template: "life"})
			must("stats", err)
			if diff := cmp.Diff(want, rowsOf(r)); diff != "" {
				t.Errorf("%d May (-want +got):\n%s", d, diff)
			}
		}
	})
}

// A version that changes a template: its coupons issued before follow its
// rules from then on (a discount's rate), but keep what they carry (a
// cash coupon's amount, the validity from their issue). Version 1 has
// life (cash 8, 3 days) and disc (15% off y, cap 20); version 2 makes
// life 20 off for 10 days and disc 20% off. m1's coupons claimed on 1 May
// 10:00 under version 1, on an order on 2 May of p 100 and y 100: life
// takes its 8 and still expires at 4 May 00:00; disc takes 20% of y's
// 100, 20 (it took 15 before). A life coupon claimed under version 2 on
// 2 May 10:00 takes 20 and expires at 24:00 of 11 May (12 May 00:00).
func TestCouponAuditVersionKeepsWhatCouponsCarry(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			v1 := auditDef()
			v1.Version = 1
			p, err := membership.Open(st, v1)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			life := claimN(t, p, "l", "m1", "life", "2026-05-01 10:00", 1)[0]
			disc := claimN(t, p, "d", "m1", "disc", "2026-05-01 10:00", 1)[0]
			o := coupon.Order{ID: "o", Member: "m1", Store: "s1", Time: at(t, "2026-05-02 12:00"), Lines: []coupon.Line{line("p", "", "100"), line("y", "", "100")}}
			offs := func(p *membership.Program) map[string]string {
				t.Helper()
				pr, err := p.Coupons().Checkout(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				m := map[string]string{}
				for _, a := range pr.Evaluated {
					m[a.Coupon] = a.AmountOff.String()
				}
				return m
			}
			if diff := cmp.Diff(map[string]string{life.ID: "8", disc.ID: "15"}, offs(p)); diff != "" {
				t.Errorf("version 1 (-want +got):\n%s", diff)
			}
			v2 := auditDef()
			v2.Version = 2
			for i := range v2.Coupons.Templates {
				switch tp := &v2.Coupons.Templates[i]; tp.Name {
				case "life":
					tp.Amount, tp.Use = dec("20"), days(10)
				case "disc":
					tp.Rate = dec("0.80")
				}
			}
			q, err := membership.Open(st, v2)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]string{life.ID: "8", disc.ID: "20"}, offs(q)); diff != "" {
				t.Errorf("version 2 (-want +got):\n%s", diff)
			}
			list, err := q.Coupons().List(ctx, "m1")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || !list[0].Expires.Equal(at(t, "2026-05-04 00:00")) || !list[0].Amount.Equal(dec("8")) {
				t.Errorf("life under version 2: %+v; want 8 off, expiring 4 May 00:00", list)
			}
			nw := claimN(t, q, "l2", "m1", "life", "2026-05-02 10:00", 1)[0]
			if !nw.Amount.Equal(dec("20")) || !nw.Expires.Equal(at(t, "2026-05-12 00:00")) {
				t.Errorf("life claimed under version 2: %s off, expiring %v; want 20, 12 May 00:00", nw.Amount, nw.Expires)
			}
		})
	}
}

// An exchange coupon takes off its item's unit price, the line's amount
// over its quantity rounded half up to the cent: 20.00 for 3 is 6.666… →
// 6.67, 10.00 for 3 is 3.333… → 3.33, 0.05 for 2 is 0.025 → 0.03 (the
// half rounds up). Two exchange coupons of the item (two templates of one
// group) take a unit each from its first line: 6.67 twice of 20.00 for 3;
// of a line of one unit, the second has nothing left to take, so the two
// do not combine and Best proposes one.
func TestCouponAuditExchangeUnitPrice(t *testing.T) {
	ex := func(name string) *coupon.Template {
		return &coupon.Template{Name: name, Type: coupon.Exchange, Item: "latte", Group: "g"}
	}
	e1, e2 := held(t, "c1.m1", ex("e1")), held(t, "c2.m1", ex("e2"))
	for _, tt := range []struct {
		qty    int
		amount string
		unit   string
	}{
		{3, "20.00", "6.67"},
		{3, "10.00", "3.33"},
		{2, "0.05", "0.03"},
	} {
		o := order(t, line("bun", "", "8"), coupon.Line{Product: "latte", Quantity: tt.qty, Amount: dec(tt.amount)})
		if a := coupon.Evaluate(o, []coupon.Held{e1})[0]; !a.OK() || a.AmountOff.String() != tt.unit {
			t.Errorf("%d for %s: %+v, want %s off", tt.qty, tt.amount, a, tt.unit)
		}
	}
	o := order(t, coupon.Line{Product: "latte", Quantity: 3, Amount: dec("20.00")})
	as, total, err := coupon.Combine(o, []coupon.Held{e1, e2})
	if err != nil || len(as) != 2 || !as[0].AmountOff.Equal(dec("6.67")) || !as[1].AmountOff.Equal(dec("6.67")) || !total.Equal(dec("13.34")) {
		t.Errorf("two exchanges of 20.00 for 3: %+v, %s, %v; want 6.67 each, 13.34", as, total, err)
	}
	one := order(t, line("latte", "", "4.50"))
	if _, _, err := coupon.Combine(one, []coupon.Held{e1, e2}); !errors.Is(err, coupon.ErrNotApplicable) {
		t.Errorf("two exchanges of one latte: %v, want ErrNotApplicable", err)
	}
	if pr := coupon.Best(one, []coupon.Held{e1, e2}); len(pr.Coupons) != 1 || !pr.AmountOff.Equal(dec("4.50")) {
		t.Errorf("best for one latte: %+v, want one exchange of 4.50", picks(pr))
	}
}
