package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// couponBenchDef has ten templates of every type, in two stacking groups
// and exclusive, with product and store rules.
func couponBenchDef() membership.Definition {
	var ts []coupon.Template
	for i := range 10 {
		t := coupon.Template{Name: fmt.Sprint("t", i), Use: days(30), MinOrder: dec(fmt.Sprint(i * 20))}
		switch i % 4 {
		case 0:
			t.Type, t.Amount = coupon.Cash, dec(fmt.Sprint(5+i))
		case 1:
			t.Type, t.Rate, t.Cap = coupon.Discount, dec("0.85"), dec("40")
		case 2:
			t.Type, t.Item = coupon.Exchange, "p3"
		case 3:
			t.Type, t.Min, t.Max = coupon.Random, dec("1"), dec("20")
		}
		switch i % 3 {
		case 0:
			t.Group = "a"
		case 1:
			t.Group = "b"
		}
		if i%5 == 4 {
			t.Products = coupon.Products{Exclude: []string{"p1", "p2"}, ExcludeCategories: []string{"c7"}}
			t.Stores = []string{"s1", "s2"}
		}
		ts = append(ts, t)
	}
	return membership.Definition{
		Zone:    "Asia/Shanghai",
		Events:  []event.Type{{Name: "register"}},
		Coupons: &coupon.Definition{Templates: ts},
	}
}

func BenchmarkCouponClaim(b *testing.B) {
	for name, open := range testkit.Stores(b) {
		b.Run(name, func(b *testing.B) {
			st := open()
			defer st.Close()
			p, err := membership.Open(st, couponBenchDef())
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			when := at(b, "2026-05-01 10:00")
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: fmt.Sprint("r", i), Member: fmt.Sprint("m", i%1000),
					Template: fmt.Sprint("t", i%10), At: when}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCouponCheckout evaluates an order of 20 lines against a member
// holding 50 coupons and proposes the best combination.
func BenchmarkCouponCheckout(b *testing.B) {
	p, err := membership.Open(memory.New(), couponBenchDef())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 50 {
		if _, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: fmt.Sprint("r", i), Member: "m1", Template: fmt.Sprint("t", i%10),
			At: at(b, "2026-05-01 10:00")}); err != nil {
			b.Fatal(err)
		}
	}
	o := coupon.Order{ID: "o1", Member: "m1", Store: "s1", Time: at(b, "2026-05-02 10:00")}
	for i := range 20 {
		o.Lines = append(o.Lines, coupon.Line{Product: fmt.Sprint("p", i), Category: fmt.Sprint("c", i%8), Quantity: 1 + i%3, Amount: dec(fmt.Sprint(3+i*7, ".50"))})
	}
	var prop coupon.Proposal
	b.ResetTimer()
	for b.Loop() {
		if prop, err = p.Coupons().Checkout(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if len(prop.Evaluated) != 50 || len(prop.Coupons) == 0 {
		b.Fatalf("evaluated %d, proposed %d", len(prop.Evaluated), len(prop.Coupons))
	}
}

func BenchmarkCouponRedeemByCode(b *testing.B) {
	for name, open := range testkit.Stores(b) {
		b.Run(name, func(b *testing.B) {
			st := open()
			defer st.Close()
			def := couponBenchDef()
			def.Coupons.Templates = append(def.Coupons.Templates, coupon.Template{Name: "pos", Type: coupon.Cash, Amount: dec("5"),
				Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.Permanent}}})
			p, err := membership.Open(st, def)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			when := at(b, "2026-05-01 10:00")
			// Issue enough coupons, a claim's most at a time, before timing.
			var codes []string
			for i := 0; len(codes) < max(b.N, 1); i++ {
				res, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: fmt.Sprint("r", i), Member: fmt.Sprint("m", i), Operator: "ops", Template: "pos",
					Method: coupon.Operator, Count: min(coupon.MaxCount, b.N-len(codes)), At: when})
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range res.Coupons {
					codes = append(codes, c.Code)
				}
			}
			o := coupon.Order{Store: "s1", Time: at(b, "2026-05-02 10:00"), Lines: []coupon.Line{{Product: "p1", Amount: dec("30")}}}
			b.ResetTimer()
			for i := range b.N {
				o.ID = fmt.Sprint("o", i)
				if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: o.ID, Code: codes[i], Order: o}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCouponClaimSegment claims a coupon whose claim rule is a tag
// segment for 1,000 members, a tenth of them staff and so in the segment:
// every claim reads the member's tags and matches the segment, and the
// others are refused as not eligible.
func BenchmarkCouponClaimSegment(b *testing.B) {
	def := couponBenchDef()
	def.Tags = &tag.Definition{Manual: []tag.Manual{{Name: "staff"}, {Name: "frequent"}, {Name: "complained"}, {Name: "women"}, {Name: "big-spender"}}}
	def.Coupons.Templates = append(def.Coupons.Templates, coupon.Template{Name: "crew", Type: coupon.Cash, Amount: dec("5"), Use: days(30),
		Claim: coupon.ClaimRule{Segment: "(staff or frequent) and not complained and not (women and big-spender)"}})
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	when := at(b, "2026-05-01 10:00")
	for m := 0; m < 1000; m += 10 {
		if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: fmt.Sprint("tag", m), Member: fmt.Sprint("m", m),
			Operator: "ops", Tag: "staff", At: when}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: fmt.Sprint("r", i), Member: fmt.Sprint("m", i%1000),
			Template: "crew", At: when})
		if err != nil && !errors.Is(err, coupon.ErrNotEligible) {
			b.Fatal(err)
		}
	}
}
