package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/shopspring/decimal"
)

type pick struct {
	ID  string
	Off string
}

func picks(p coupon.Proposal) []pick {
	var out []pick
	for _, a := range p.Coupons {
		out = append(out, pick{a.Coupon, a.AmountOff.String()})
	}
	return out
}

// The proposal is the best over the orders in which a combination's
// coupons of one kind may apply and over its subsets, whatever the
// templates are named; a coupon that would take nothing off is left out.
// Each case is worked by hand, and run again with the templates' names
// swapped.
func TestBestIndependentOfNames(t *testing.T) {
	tests := []struct {
		name  string
		tpls  func(n1, n2 string) (*coupon.Template, *coupon.Template)
		lines []coupon.Line
		want  []pick // coupon "1" is of the first template, "2" of the second
		total string
	}{
		{
			// 50% of 100 is 50, then 20% of the 50 left is 10 (the cap):
			// 60. The other order gives 10 then 45: 55.
			name: "two discounts, one capped",
			tpls: func(n1, n2 string) (*coupon.Template, *coupon.Template) {
				return &coupon.Template{Name: n1, Type: coupon.Discount, Rate: dec("0.8"), Cap: dec("10"), Group: "g"},
					&coupon.Template{Name: n2, Type: coupon.Discount, Rate: dec("0.5"), Group: "g"}
			},
			lines: []coupon.Line{line("a", "", "100")},
			want:  []pick{{"2", "50"}, {"1", "10"}},
			total: "60",
		},
		{
			// The cash for X takes the 30 of X, then the cash for anything
			// takes the 10 of Y: 40. The other order shares 30 over X and Y
			// (22.5 and 7.5), leaving 7.5 of X: 37.5.
			name: "a narrow cash and a broad one",
			tpls: func(n1, n2 string) (*coupon.Template, *coupon.Template) {
				return &coupon.Template{Name: n1, Type: coupon.Cash, Amount: dec("30"), Group: "g"},
					&coupon.Template{Name: n2, Type: coupon.Cash, Amount: dec("30"), Group: "g", Products: coupon.Products{Include: []string{"x"}}}
			},
			lines: []coupon.Line{line("x", "", "30"), line("y", "", "10")},
			want:  []pick{{"2", "30"}, {"1", "10"}},
			total: "40",
		},
		{
			// The 30 takes the whole order; the 10 would take nothing
			// after it, and taking 10 first and 20 of the 30 gives no more
			// with two coupons: the 30 alone.
			name: "a coupon that adds nothing",
			tpls: func(n1, n2 string) (*coupon.Template, *coupon.Template) {
				return &coupon.Template{Name: n1, Type: coupon.Cash, Amount: dec("30"), Group: "g"},
					&coupon.Template{Name: n2, Type: coupon.Cash, Amount: dec("10"), Group: "g"}
			},
			lines: []coupon.Line{line("a", "", "30")},
			want:  []pick{{"1", "30"}},
			total: "30",
		},
		{
			// An exclusive 19 and a group of 10 then 10% of 90 take 19
			// each: fewer coupons win.
			name: "a tie goes to fewer coupons",
			tpls: func(n1, n2 string) (*coupon.Template, *coupon.Template) {
				return &coupon.Template{Name: n1, Type: coupon.Cash, Amount: dec("19")},
					&coupon.Template{Name: n2, Type: coupon.Cash, Amount: dec("10"), Group: "g"}
			},
			lines: []coupon.Line{line("a", "", "100")},
			want:  []pick{{"1", "19"}},
			total: "19",
		},
	}
	for _, tt := range tests {
		for _, names := range [][2]string{{"a", "b"}, {"b", "a"}} {
			t.Run(tt.name+" "+names[0]+names[1], func(t *testing.T) {
				t1, t2 := tt.tpls(names[0], names[1])
				hs := []coupon.Held{held(t, "1", t1), held(t, "2", t2)}
				if tt.name == "a tie goes to fewer coupons" {
					hs = append(hs, held(t, "3", &coupon.Template{Name: "c", Type: coupon.Discount, Rate: dec("0.9"), Group: "g"}))
				}
				p := coupon.Best(order(t, tt.lines...), hs)
				if diff := cmp.Diff(tt.want, picks(p)); diff != "" || !p.AmountOff.Equal(dec(tt.total)) {
					t.Errorf("total %s, coupons (-want +got):\n%s", p.AmountOff, diff)
				}
			})
		}
	}
}

// Combine (what Lock applies) takes a combination in its best order, so
// that locking a proposal gives the amounts proposed; a coupon that adds
// nothing to a combination is refused.
func TestCombineBestOrder(t *testing.T) {
	capped := &coupon.Template{Name: "a", Type: coupon.Discount, Rate: dec("0.8"), Cap: dec("10"), Group: "g"}
	half := &coupon.Template{Name: "b", Type: coupon.Discount, Rate: dec("0.5"), Group: "g"}
	o := order(t, line("a", "", "100"))
	hs := []coupon.Held{held(t, "1", capped), held(t, "2", half)}
	got, total, err := coupon.Combine(o, hs)
	if err != nil {
		t.Fatal(err)
	}
	want := coupon.Best(o, hs)
	if diff := cmp.Diff(picks(want), picks(coupon.Proposal{Coupons: got})); diff != "" || !total.Equal(want.AmountOff) {
		t.Errorf("Combine %s, Best %s (-best +combine):\n%s", total, want.AmountOff, diff)
	}

	thirty := &coupon.Template{Name: "thirty", Type: coupon.Cash, Amount: dec("30"), Group: "g"}
	ten := &coupon.Template{Name: "ten", Type: coupon.Cash, Amount: dec("10"), Group: "g"}
	_, _, err = coupon.Combine(order(t, line("a", "", "30")), []coupon.Held{held(t, "1", thirty), held(t, "2", ten)})
	if !errors.Is(err, coupon.ErrNotApplicable) {
		t.Errorf("Combine with a coupon that adds nothing: %v, want ErrNotApplicable", err)
	}
}

// A coupon that takes nothing off an order on its own does not apply.
func TestEvaluateNothingOff(t *testing.T) {
	cash := &coupon.Template{Name: "cash", Type: coupon.Cash, Amount: dec("5")}
	free := &coupon.Template{Name: "free", Type: coupon.Exchange, Item: "water"}
	o := order(t, line("gift", "", "0"), line("water", "", "0"))
	for _, h := range []coupon.Held{held(t, "1", cash), held(t, "2", free)} {
		a := coupon.Evaluate(o, []coupon.Held{h})[0]
		if diff := cmp.Diff([]coupon.Reason{coupon.ReasonNothingOff}, a.Reasons); diff != "" || a.OK() {
			t.Errorf("%s on an order of 0 (-want +got reasons):\n%s", h.Template.Name, diff)
		}
	}
	if p := coupon.Best(o, []coupon.Held{held(t, "1", cash)}); len(p.Coupons) != 0 {
		t.Errorf("Best proposed %+v on an order of 0", p.Coupons)
	}
}

// Through the handle: checkout proposes the best order, the lock takes the
// amounts proposed, and a coupon that would take nothing off is neither
// locked nor redeemed.
func TestCheckoutLockTakesTheProposal(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{Zone: "Asia/Shanghai", Coupons: &coupon.Definition{Templates: []coupon.Template{
		{Name: "a-capped", Type: coupon.Discount, Rate: dec("0.8"), Cap: dec("10"), Group: "g", Use: days(7)},
		{Name: "b-half", Type: coupon.Discount, Rate: dec("0.5"), Group: "g", Use: days(7)},
		{Name: "c-thirty", Type: coupon.Cash, Amount: dec("30"), Group: "h", Use: days(7)},
		{Name: "d-ten", Type: coupon.Cash, Amount: dec("10"), Group: "h", Use: days(7)},
	}}}
	p := testkit.OpenMemory(t, def)
	h := p.Coupons()
	var cs []coupon.Coupon
	for _, tpl := range []string{"a-capped", "b-half", "c-thirty", "d-ten"} {
		cs = append(cs, couponClaim(t, p, "claim-"+tpl, "m1", tpl, "2026-05-01 10:00"))
	}
	o := orderOf(t, "o1", "100")
	prop, err := h.Checkout(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// 50% of 100, then 20% of 50 = 10 (the cap): 60 beats the cash group
	// (30 and 10: 40).
	want := []pick{{cs[1].ID, "50"}, {cs[0].ID, "10"}}
	if diff := cmp.Diff(want, picks(prop)); diff != "" || !prop.AmountOff.Equal(dec("60")) {
		t.Fatalf("proposal %s (-want +got):\n%s", prop.AmountOff, diff)
	}
	lock, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l1", Order: o, Coupons: []string{cs[0].ID, cs[1].ID}})
	if err != nil {
		t.Fatal(err)
	}
	var got []pick
	for _, c := range lock.Coupons {
		got = append(got, pick{c.ID, c.AmountOff.String()})
	}
	if diff := cmp.Diff(want, got); diff != "" || !lock.AmountOff.Equal(dec("60")) {
		t.Errorf("lock %s (-proposal +lock):\n%s", lock.AmountOff, diff)
	}

	// On an order of 30, the 30 takes it all: the 10 adds nothing.
	small := orderOf(t, "o2", "30")
	if prop, _ := h.Checkout(ctx, small); !cmp.Equal([]pick{{cs[2].ID, "30"}}, picks(prop)) {
		t.Errorf("proposal for 30: %+v", picks(prop))
	}
	n := couponFeedLen(t, p)
	if _, err := h.Lock(ctx, coupon.LockRequest{RequestID: "l2", Order: small, Coupons: []string{cs[3].ID, cs[2].ID}}); !errors.Is(err, coupon.ErrNotApplicable) {
		t.Errorf("locking a coupon that adds nothing: %v, want ErrNotApplicable", err)
	}
	free := orderOf(t, "o3", "0")
	if _, err := h.Redeem(ctx, coupon.RedeemRequest{RequestID: "r", Code: cs[3].Code, Order: free}); !errors.Is(err, coupon.ErrNotApplicable) {
		t.Errorf("redeeming a coupon on an order of 0: %v, want ErrNotApplicable", err)
	}
	live, err := h.Live(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range live {
		if c.ID == cs[2].ID || c.ID == cs[3].ID {
			if c.State != coupon.Available {
				t.Errorf("coupon %s is %s after refusals", c.ID, c.State)
			}
		}
	}
	if couponFeedLen(t, p) != n {
		t.Error("a refused lock or redemption published changes")
	}
}

// Best's proposal against the public rules alone: every subset of a
// member's coupons that Combine accepts (the stacking rules, and no coupon
// that adds nothing), the largest total with the fewest coupons. Small
// random cases with several groups, exclusive coupons, two coupons of a
// template, product lists and minimums.
func TestBestAgainstCombineOfEverySubset(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	cents := func(n int) decimal.Decimal { return decimal.New(int64(r.IntN(n+1)), -2) }
	products := []string{"x", "y", "z"}
	for n := range 1000 {
		o := order(t)
		for i := range 1 + r.IntN(3) {
			o.Lines = append(o.Lines, coupon.Line{Product: products[i], Quantity: 1 + r.IntN(3), Amount: cents(5000)})
		}
		var hs []coupon.Held
		for ti := range 1 + r.IntN(4) {
			tp := &coupon.Template{Name: fmt.Sprint("t", ti), Group: []string{"", "g", "g", "h"}[r.IntN(4)]}
			switch r.IntN(4) {
			case 0:
				tp.Type, tp.Amount = coupon.Cash, cents(3000).Add(dec("0.01"))
			case 1:
				tp.Type, tp.Rate = coupon.Discount, decimal.New(int64(50+r.IntN(49)), -2)
				if r.IntN(2) == 0 {
					tp.Cap = cents(1000).Add(dec("0.01"))
				}
			case 2:
				tp.Type, tp.Item = coupon.Exchange, products[r.IntN(3)]
			case 3:
				tp.Type = coupon.Random
			}
			if r.IntN(3) == 0 {
				tp.Products.Include = []string{products[r.IntN(3)]}
			}
			if r.IntN(3) == 0 {
				tp.Products.Exclude = []string{products[r.IntN(3)]}
				if len(tp.Products.Include) > 0 && tp.Products.Include[0] == tp.Products.Exclude[0] {
					tp.Products.Exclude = nil
				}
			}
			if r.IntN(4) == 0 {
				tp.MinOrder = cents(4000)
			}
			for range 1 + r.IntN(2) {
				h := held(t, fmt.Sprint("c", len(hs)+1, ".m1"), tp)
				if tp.Type == coupon.Random {
					h.Coupon.Amount = cents(3000).Add(dec("0.01"))
				}
				hs = append(hs, h)
			}
		}
		best := decimal.Zero
		size := 0
		for mask := 1; mask < 1<<len(hs); mask++ {
			var set []coupon.Held
			for i := range hs {
				if mask&(1<<i) != 0 {
					set = append(set, hs[i])
				}
			}
			_, total, err := coupon.Combine(o, set)
			if err != nil {
				continue
			}
			if c := total.Cmp(best); c > 0 || c == 0 && len(set) < size {
				best, size = total, len(set)
			}
		}
		p := coupon.Best(o, hs)
		if !p.AmountOff.Equal(best) || len(p.Coupons) != size {
			t.Fatalf("case %d: Best %s (%d), subsets %s (%d)\n%+v\n%+v", n, p.AmountOff, len(p.Coupons), best, size, o.Lines, p.Coupons)
		}
	}
}
