package coupon_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// auditCase is a random program of three to five templates and an order
// for TestCouponAuditCheckoutAgainstEverySubset.
type auditCase struct {
	def   membership.Definition
	order coupon.Order
}

// randomAuditCase draws templates of every type, in the groups g and h or
// exclusive, with products and categories included or excluded, a
// minimum, stores, scenarios, and a validity of 1 or 30 days; and an
// order of one to three lines (products x, y, z of the categories food or
// drink) at store s1 or s2, online or offline.
func randomAuditCase(r *rand.Rand) auditCase {
	cents := func(lo, hi int) decimal.Decimal { return decimal.New(int64(lo+r.IntN(hi-lo+1)), -2) }
	products := []string{"x", "y", "z"}
	cats := []string{"food", "drink"}
	var ts []coupon.Template
	for i := range 3 + r.IntN(3) {
		t := coupon.Template{Name: fmt.Sprint("t", i), Group: []string{"", "g", "g", "g", "h"}[r.IntN(5)], Use: days([]int{1, 30, 30, 30, 30}[r.IntN(5)])}
		switch r.IntN(4) {
		case 0:
			t.Type, t.Amount = coupon.Cash, cents(100, 6000)
		case 1:
			t.Type, t.Rate = coupon.Discount, decimal.New(int64(50+r.IntN(46)), -2)
			if r.IntN(2) == 0 {
				t.Cap = cents(100, 3000)
			}
		case 2:
			t.Type, t.Item = coupon.Exchange, products[r.IntN(3)]
		case 3:
			t.Type, t.Min = coupon.Random, cents(1, 2000)
			t.Max = t.Min.Add(cents(0, 2000))
		}
		switch r.IntN(4) {
		case 0:
			t.Products.Include = []string{products[r.IntN(3)]}
		case 1:
			t.Products.IncludeCategories = []string{cats[r.IntN(2)]}
		}
		switch r.IntN(4) {
		case 0:
			if x := products[r.IntN(3)]; len(t.Products.Include) == 0 || t.Products.Include[0] != x {
				t.Products.Exclude = []string{x}
			}
		case 1:
			if c := cats[r.IntN(2)]; len(t.Products.IncludeCategories) == 0 || t.Products.IncludeCategories[0] != c {
				t.Products.ExcludeCategories = []string{c}
			}
		}
		if r.IntN(4) == 0 {
			t.MinOrder = cents(0, 8000)
		}
		if r.IntN(5) == 0 {
			t.Stores = []string{[]string{"s1", "s2"}[r.IntN(2)]}
		}
		if r.IntN(6) == 0 {
			t.Scenarios = []string{"online"}
		}
		ts = append(ts, t)
	}
	o := coupon.Order{ID: "o", Member: "m1", Store: []string{"s1", "s2"}[r.IntN(2)], Scenario: []string{"online", "offline"}[r.IntN(2)],
		Time: may(2).Add(12 * time.Hour)}
	for i := range 1 + r.IntN(3) {
		o.Lines = append(o.Lines, coupon.Line{Product: products[i], Category: cats[r.IntN(2)], Quantity: 1 + r.IntN(3), Amount: cents(500, 10000)})
	}
	return auditCase{
		def:   membership.Definition{Zone: "Asia/Shanghai", Coupons: &coupon.Definition{Templates: ts}},
		order: o,
	}
}

// Checkout's proposal, through the Handle on stored coupons, against a
// brute force over every subset of the member's coupons that Combine
// accepts (which holds them to the stacking rules, the state, the
// validity at the order's time, the store, the scenario, the products and
// the minimum, and refuses a coupon that adds nothing): the largest total,
// with the fewest coupons. Each case claims five to seven coupons of its
// templates at 1 May 10:00 (a 1-day one has expired by the order at 2 May
// 12:00), locks one for another order and revokes one at times; the Lock
// of the proposal then takes off what it proposed, coupon by coupon.
func TestCouponAuditCheckoutAgainstEverySubset(t *testing.T) {
	stores := testkit.Stores(t)
	for name, cases := range map[string]int{"memory": 400, "bolt": 25} {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(53, uint64(cases)))
			for n := range cases {
				checkAuditCase(t, n, stores[name](), r)
			}
		})
	}
}

func checkAuditCase(t *testing.T, n int, st store.Store, r *rand.Rand) {
	t.Helper()
	c := randomAuditCase(r)
	p, err := membership.Open(st, c.def)
	if err != nil {
		t.Fatalf("case %d: %v", n, err)
	}
	ctx := context.Background()
	h := p.Coupons()
	ts := c.def.Coupons.Templates
	var ids []string
	for i := range 5 + r.IntN(3) {
		cp := claimN(t, p, fmt.Sprint("c", i), "m1", ts[r.IntN(len(ts))].Name, "2026-05-01 10:00", 1)[0]
		ids = append(ids, cp.ID)
	}
	if r.IntN(4) == 0 {
		other := coupon.Order{ID: "other", Member: "m1", Store: "s1", Scenario: "online", Time: at(t, "2026-05-01 11:00"),
			Lines: []coupon.Line{line("x", "food", "500"), line("y", "drink", "500"), line("z", "food", "500")}}
		// Refused when it applies to none of the lines: then it stays
		// available, which the brute force sees too.
		_, _ = h.Lock(ctx, coupon.LockRequest{RequestID: "other", Order: other, Coupons: []string{ids[r.IntN(len(ids))]}})
	}
	if r.IntN(4) == 0 {
		if _, err := h.Revoke(ctx, coupon.RevokeRequest{RequestID: "rv", Operator: "op", At: at(t, "2026-05-01 11:30"), Coupon: ids[r.IntN(len(ids))]}); err != nil {
			t.Fatalf("case %d: revoke: %v", n, err)
		}
	}
	list, err := h.List(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	hs := make([]coupon.Held, len(list))
	for i, cp := range list {
		tpl, _ := c.def.Coupons.Template(cp.Template)
		hs[i] = coupon.Held{Coupon: cp, Template: tpl}
	}
	best, size := decimal.Zero, 0
	var bestSet []coupon.Applied
	for mask := 1; mask < 1<<len(hs); mask++ {
		var set []coupon.Held
		for i := range hs {
			if mask&(1<<i) != 0 {
				set = append(set, hs[i])
			}
		}
		as, total, err := coupon.Combine(c.order, set)
		if err != nil {
			continue
		}
		if cmp := total.Cmp(best); cmp > 0 || cmp == 0 && len(set) < size {
			best, size, bestSet = total, len(set), as
		}
	}
	pr, err := h.Checkout(ctx, c.order)
	if err != nil {
		t.Fatalf("case %d: checkout: %v", n, err)
	}
	if !pr.AmountOff.Equal(best) || len(pr.Coupons) != size {
		t.Fatalf("case %d: checkout proposes %s off with %v; every subset: %s with %d (%+v)\ntemplates %+v\norder %+v",
			n, pr.AmountOff, picks(pr), best, size, bestSet, c.def.Coupons.Templates, c.order)
	}
	if size == 0 {
		return
	}
	var lock []string
	for _, a := range pr.Coupons {
		lock = append(lock, a.Coupon)
	}
	res, err := h.Lock(ctx, coupon.LockRequest{RequestID: "lock", Order: c.order, Coupons: lock})
	if err != nil {
		t.Fatalf("case %d: lock the proposal %v: %v", n, picks(pr), err)
	}
	got := map[string]string{}
	for _, cp := range res.Coupons {
		got[cp.ID] = cp.AmountOff.String()
	}
	for _, a := range pr.Coupons {
		if got[a.Coupon] != a.AmountOff.String() {
			t.Errorf("case %d: %s locked with %s off, proposed %s", n, a.Coupon, got[a.Coupon], a.AmountOff)
		}
	}
	if !res.AmountOff.Equal(pr.AmountOff) {
		t.Errorf("case %d: lock takes %s off, the proposal %s", n, res.AmountOff, pr.AmountOff)
	}
}
