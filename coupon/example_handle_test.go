package coupon_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// A member claims coupons, checkout proposes the best combination (the
// cash coupon first, shared over both lines, so 12 of it falls on the tea;
// then 15% off the remaining 108 of tea), the coupons are locked for the
// order (the lock says what they take off) and used when it is paid;
// statistics sum what was issued and used per cost centre.
func ExampleHandle_Claim() {
	ctx := context.Background()
	week := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "new-member", Type: coupon.Cash, Amount: decimal.NewFromInt(20), MinOrder: decimal.NewFromInt(100),
				Stock: 1000, Use: week, Group: "spring", CostCentre: "crm",
				Claim: coupon.ClaimRule{PerMember: 1}},
			{Name: "tea-15", Type: coupon.Discount, Rate: decimal.RequireFromString("0.85"), Cap: decimal.NewFromInt(30),
				Use: week, Group: "spring", CostCentre: "tea-dept",
				Products: coupon.Products{IncludeCategories: []string{"tea"}}},
		}},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	coupons := p.Coupons()
	loc := p.Location()
	at := func(day, hour int) time.Time { return time.Date(2026, 5, day, hour, 0, 0, 0, loc) }
	for _, tpl := range []string{"new-member", "tea-15"} {
		if _, err := coupons.Claim(ctx, coupon.ClaimRequest{RequestID: "claim-" + tpl, Member: "alice", At: at(1, 9), Template: tpl}); err != nil {
			fmt.Println(err)
			return
		}
	}
	_, err = coupons.Claim(ctx, coupon.ClaimRequest{RequestID: "again", Member: "alice", At: at(1, 10), Template: "new-member"})
	fmt.Println("second claim refused:", errors.Is(err, coupon.ErrLimitReached))

	order := coupon.Order{ID: "order-1", Member: "alice", Store: "shanghai-1", Time: at(2, 15), Lines: []coupon.Line{
		{Product: "longjing", Category: "tea", Amount: decimal.NewFromInt(120)},
		{Product: "teapot", Category: "ware", Amount: decimal.NewFromInt(80)},
	}}
	prop, err := coupons.Checkout(ctx, order)
	if err != nil {
		fmt.Println(err)
		return
	}
	var ids []string
	for _, a := range prop.Coupons {
		fmt.Printf("%s: %s off\n", a.Template, a.AmountOff)
		ids = append(ids, a.Coupon)
	}
	fmt.Println("total:", prop.AmountOff)
	lock, err := coupons.Lock(ctx, coupon.LockRequest{RequestID: "lock-1", Order: order, Coupons: ids})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("locked:", lock.AmountOff)
	if _, err := coupons.Use(ctx, coupon.OrderRequest{RequestID: "paid-1", At: at(2, 15), Order: "order-1"}); err != nil {
		fmt.Println(err)
		return
	}
	r, err := coupons.Stats(ctx, coupon.StatsQuery{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, cc := range []string{"crm", "tea-dept"} {
		s := r.ByCostCentre[cc]
		fmt.Printf("%s: issued %d, used %d, amount off %s\n", cc, s.Issued, s.Used, s.AmountOff)
	}
	// Output:
	// second claim refused: true
	// new-member: 20 off
	// tea-15: 16.2 off
	// total: 36.2
	// locked: 36.2
	// crm: issued 1, used 1, amount off 20
	// tea-dept: issued 1, used 1, amount off 16.2
}

// An order cancelled at checkout releases the coupons it locked: they are
// available again, for this order or another.
func ExampleHandle_Release() {
	ctx := context.Background()
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "cash-10", Type: coupon.Cash, Amount: decimal.NewFromInt(10), MinOrder: decimal.NewFromInt(50),
				Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}},
		}},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		panic(err)
	}
	coupons := p.Coupons()
	at := time.Date(2026, 5, 2, 15, 0, 0, 0, p.Location())
	claimed, err := coupons.Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "bob", At: at, Template: "cash-10"})
	if err != nil {
		panic(err)
	}
	order := coupon.Order{ID: "order-7", Member: "bob", Time: at, Lines: []coupon.Line{{Product: "mug", Amount: decimal.NewFromInt(60)}}}
	lock, err := coupons.Lock(ctx, coupon.LockRequest{RequestID: "lock-7", Order: order, Coupons: []string{claimed.Coupons[0].ID}})
	if err != nil {
		panic(err)
	}
	fmt.Println("locked", lock.Coupons[0].State, "taking off", lock.AmountOff)
	if _, err := coupons.Release(ctx, coupon.OrderRequest{RequestID: "cancel-7", At: at.Add(time.Minute), Order: "order-7"}); err != nil {
		panic(err)
	}
	live, err := coupons.Live(ctx, "bob")
	if err != nil {
		panic(err)
	}
	fmt.Println("after release:", live[0].State)
	// Output:
	// locked locked taking off 10
	// after release: available
}

// An operator issues a template to a page of members: the request names
// the operator, whom the audit trail records (without one it is refused
// and nothing is issued), and a member the template refuses is listed
// while the others get theirs.
func ExampleHandle_Issue() {
	ctx := context.Background()
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "winback-30", Type: coupon.Cash, Amount: decimal.NewFromInt(30), Stock: 2,
				Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 14}}},
		}},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	req := coupon.IssueRequest{RequestID: "winback-may", At: time.Date(2026, 5, 1, 9, 0, 0, 0, p.Location()),
		Members: []string{"ann", "bo", "cy"}, Template: "winback-30"}
	_, err = p.Coupons().Issue(ctx, req)
	fmt.Println("no operator:", errors.Is(err, event.ErrInvalidArgument))
	req.Operator = "crm-team"
	res, err := p.Coupons().Issue(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range req.Members {
		if err := res.Refused[m]; err != nil {
			fmt.Println(m, "refused, out of stock:", errors.Is(err, coupon.ErrOutOfStock))
			continue
		}
		c := res.Issued[m][0]
		fmt.Println(m, c.Template, c.Amount, "until", c.Expires.Format(time.DateTime))
	}
	// Output:
	// no operator: true
	// ann winback-30 30 until 2026-05-15 00:00:00
	// bo winback-30 30 until 2026-05-15 00:00:00
	// cy refused, out of stock: true
}

// A coupon used on an order stays used when the order is refunded: the
// refund events of points and growth leave coupons alone, and nothing in
// this package gives a used coupon back. To give the member one, an
// operator issues a new coupon. The used one still counts against its
// template's per-member limit, so the same template refuses it; a
// template kept for such returns, claimed by operators only, issues it,
// valid from its own issue.
func ExampleHandle_Claim_refundedOrder() {
	ctx := context.Background()
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "new-member", Type: coupon.Cash, Amount: decimal.NewFromInt(20), MinOrder: decimal.NewFromInt(100),
				Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}, Claim: coupon.ClaimRule{PerMember: 1}},
			{Name: "goodwill-20", Type: coupon.Cash, Amount: decimal.NewFromInt(20), MinOrder: decimal.NewFromInt(100),
				Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}, Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.Operator}}},
		}},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	coupons := p.Coupons()
	at := func(day, hour int) time.Time { return time.Date(2026, 5, day, hour, 0, 0, 0, p.Location()) }
	claimed, err := coupons.Claim(ctx, coupon.ClaimRequest{RequestID: "c1", Member: "dan", At: at(1, 9), Template: "new-member"})
	if err != nil {
		fmt.Println(err)
		return
	}
	order := coupon.Order{ID: "order-9", Member: "dan", Time: at(2, 15), Lines: []coupon.Line{{Product: "kettle", Amount: decimal.NewFromInt(120)}}}
	if _, err := coupons.Lock(ctx, coupon.LockRequest{RequestID: "lock-9", Order: order, Coupons: []string{claimed.Coupons[0].ID}}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := coupons.Use(ctx, coupon.OrderRequest{RequestID: "paid-9", At: at(2, 15), Order: "order-9"}); err != nil {
		fmt.Println(err)
		return
	}
	// order-9 is refunded on 5 May: the host's refund event (package
	// points, level) does not touch the coupon.
	_, err = coupons.Claim(ctx, coupon.ClaimRequest{RequestID: "back-1", Member: "dan", At: at(5, 10), Template: "new-member",
		Method: coupon.Operator, Operator: "support-7"})
	fmt.Println("new-member again refused:", errors.Is(err, coupon.ErrLimitReached))
	_, err = coupons.Claim(ctx, coupon.ClaimRequest{RequestID: "self-1", Member: "dan", At: at(5, 10), Template: "goodwill-20"})
	fmt.Println("goodwill-20 claimed by the member refused:", errors.Is(err, coupon.ErrNotEligible))
	if _, err := coupons.Claim(ctx, coupon.ClaimRequest{RequestID: "back-2", Member: "dan", At: at(5, 10), Template: "goodwill-20",
		Method: coupon.Operator, Operator: "support-7", Note: "order-9 refunded"}); err != nil {
		fmt.Println(err)
		return
	}
	list, err := coupons.List(ctx, "dan")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range list {
		fmt.Println(c.Template, c.State, "until", c.Expires.Format(time.DateTime))
	}
	// Output:
	// new-member again refused: true
	// goodwill-20 claimed by the member refused: true
	// new-member used until 2026-05-08 00:00:00
	// goodwill-20 available until 2026-06-04 00:00:00
}
