package membership_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
)

// refundDomainsDef is a program in which one order touches every domain:
// its 200 earn 200 growth (silver at 100, whose gifts are 30 points and a
// coupon) and 200 points (expiring at 24:00 of the last day of the month
// two months on), complete the task "first" (20 points and a coupon),
// make the member "big" (order amount ≥ 200) and a "buyer"; it is paid
// partly with stored value and a coupon. Rewards' points are permanent.
func refundDomainsDef() membership.Definition {
	order := []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true}}
	amount := []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: order}, {Name: "refund", Attributes: order},
			{Name: "recharge", Attributes: amount}, {Name: "pay", Attributes: amount}, {Name: "vrefund", Attributes: amount},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "basic", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "silver", Upgrade: dec("100"), Retention: dec("50"), Validity: rule.Validity{Kind: rule.MonthEnds, N: 0}, Window: 1,
					Downgrade: level.NextLower, Gifts: []rule.Reward{
						{Kind: rule.RewardPoints, Program: "mall", Amount: dec("30")}, {Kind: rule.RewardCoupon, Template: "gift"}}},
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")},
				Order: &level.OrderRef{ID: "order_id", Amount: "amount"}}},
			Refunds: []level.RefundRule{{ID: "refund", Event: "refund", Order: "order_id", Amount: "amount"}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Order: "order_id",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}, Validity: rule.Validity{Kind: rule.MonthEnds, N: 2}}},
			Refunds: []points.Refund{{Event: "refund", Order: "order_id", Amount: "amount"}},
		},
		StoredValue: &value.Definition{Recharge: "recharge", Spend: "pay", Refund: "vrefund", Amount: "amount"},
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "cash20", Type: coupon.Cash, Amount: dec("20"), MinOrder: dec("100"), Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}},
			{Name: "gift", Type: coupon.Cash, Amount: dec("10"), Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 365}}},
			{Name: "five", Type: coupon.Cash, Amount: dec("5"), Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 365}}},
		}},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "first", Kind: task.One, Steps: []task.Step{{Event: "order"}},
			Limits:  rule.Caps{{Period: rule.Total, Limit: dec("1")}},
			Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: dec("20")}, {Kind: rule.RewardCoupon, Template: "five"}}}}},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount"},
			Rules: []tag.Rule{
				{Tag: "big", All: []tag.Cond{{Fact: tag.FactOrderAmount, Op: event.Gte, Value: event.Dec(dec("200"))}}},
				{Tag: "buyer", All: []tag.Cond{{Fact: tag.FactOrderCount, Op: event.Gte, Value: event.Int(1)}}},
			},
		},
	}
}

// refundAt is a time of March to June 2026 in Shanghai.
func refundAt(month time.Month, day, hour int) time.Time {
	return time.Date(2026, month, day, hour, 0, 0, 0, shanghai)
}

func orderEvent(id, typ, member, orderID, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: typ, Time: at, Attrs: event.Attrs{"order_id": event.Str(orderID), "amount": event.DecString(amount)}}
}

func moneyEvent(id, typ, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: typ, Time: at, Attrs: event.Attrs{"amount": event.DecString(amount)}}
}

// refundDomainsSetUp has m recharge 100 and claim cash20 on 10 March
// at 10:00, order o1 of 200 at 11:00 paying 80 in stored value and 20
// with cash20, and redeem 150 points at 12:00. The order's lot (expiring
// first) pays them: it keeps 50, and the gift's 30 and the task's 20 are
// untouched: 100 available.
func refundDomainsSetUp(t *testing.T, p *membership.Program, m string) {
	t.Helper()
	ctx := context.Background()
	mustProcess(t, p, moneyEvent(m+"-v1", "recharge", m, "100", refundAt(3, 10, 10)))
	cl, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: m + "-claim", Member: m, At: refundAt(3, 10, 10), Template: "cash20"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: m + "-lock", Coupons: []string{cl.Coupons[0].ID}, Hold: time.Hour,
		Order: coupon.Order{ID: m + "-o1", Member: m, Time: refundAt(3, 10, 10).Add(30 * time.Minute), Lines: []coupon.Line{{Product: "p", Amount: dec("200")}}}}); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, orderEvent(m+"-o1", "order", m, m+"-o1", "200", refundAt(3, 10, 11)), moneyEvent(m+"-p1", "pay", m, "80", refundAt(3, 10, 11)))
	if _, err := p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: m + "-use", At: refundAt(3, 10, 11), Order: m + "-o1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: m + "-redeem", Member: m, At: refundAt(3, 10, 12), Program: "mall", Ref: m + "-shop", Amount: dec("150")}); err != nil {
		t.Fatal(err)
	}
	wantPoints(t, p, m, refundAt(3, 10, 12), "100")
	wantLevel(t, p, m, "silver", "200", refundAt(4, 1, 0))
}

func wantPoints(t *testing.T, p *membership.Program, m string, at time.Time, want string) {
	t.Helper()
	b, err := p.Points().Balance(context.Background(), points.BalanceQuery{Program: "mall", Member: m, At: at})
	if err != nil || !b.Available.Equal(dec(want)) || !b.Main.Equal(dec(want)) {
		t.Errorf("%s's points at %v: %+v, %v; want %s available", m, at, b, err, want)
	}
}

func wantLevel(t *testing.T, p *membership.Program, m, lvl, growth string, termEnd time.Time) {
	t.Helper()
	st, err := p.Levels().Status(context.Background(), m)
	if err != nil || st.Level != lvl || !st.Growth.Equal(dec(growth)) || !st.TermEnd.Equal(termEnd) {
		t.Errorf("%s's level: %s, growth %s, term end %v (%v); want %s, %s, %v", m, st.Level, st.Growth, st.TermEnd, err, lvl, growth, termEnd)
	}
}

// wantOrderKept checks what a refund leaves alone (as the package docs
// say): the task's completion and its rewards, the upgrade gifts, the
// tag statistics and the segment they put m in, the coupon used on the
// order, and stored value, which only its own refund events change.
func wantOrderKept(t *testing.T, p *membership.Program, m string, at time.Time, valueBalance string, orders int64, amount string) {
	t.Helper()
	ctx := context.Background()
	n, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: m, Task: "first", Period: rule.Total, At: at})
	if err != nil || n != 1 {
		t.Errorf("%s's completions of first: %d, %v; want 1", m, n, err)
	}
	cs, err := p.Coupons().List(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Template+" "+string(c.State))
	}
	slices.Sort(got)
	if want := []string{"cash20 used", "five available", "gift available"}; !slices.Equal(got, want) {
		t.Errorf("%s's coupons: %q; want %q", m, got, want)
	}
	st, err := p.Levels().Status(ctx, m)
	if err != nil || !slices.Equal(st.Gifted, []string{"silver"}) {
		t.Errorf("%s's gifted levels: %q, %v; want silver", m, st.Gifted, err)
	}
	pf, err := p.Tags().Profile(ctx, m)
	if err != nil || pf.Stats.Orders != orders || !pf.Stats.Amount.Equal(dec(amount)) {
		t.Errorf("%s's order statistics: %+v, %v; want %d orders of %s", m, pf.Stats, err, orders, amount)
	}
	e, err := tag.Parse("big and buyer")
	if err != nil {
		t.Fatal(err)
	}
	if in, err := p.Tags().InSegment(ctx, m, e); err != nil || !in {
		t.Errorf("%s in big and buyer: %v, %v; want true", m, in, err)
	}
	acc, err := p.Value().Account(ctx, m)
	if err != nil || !acc.Balance.Equal(dec(valueBalance)) || !acc.Spent.Equal(dec("80")) {
		t.Errorf("%s's stored value: %+v, %v; want a balance of %s, 80 spent", m, acc, err, valueBalance)
	}
}

func wantBooks(t *testing.T, p *membership.Program) {
	t.Helper()
	ctx := context.Background()
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
	r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
	if err != nil || !r.Holds() {
		t.Errorf("reconciliation %+v, %v", r, err)
	}
}

func wantOrder(t *testing.T, p *membership.Program, id, refunded, shortfall, lapsed string) {
	t.Helper()
	o, found, err := p.Points().Order(context.Background(), id)
	if err != nil || !found || !o.Refunded.Equal(dec(refunded)) || !o.Shortfall.Equal(dec(shortfall)) || !o.Lapsed.Equal(dec(lapsed)) {
		t.Errorf("order %s: %+v (found %v, %v); want %s refunded, %s short, %s lapsed", id, o, found, err, refunded, shortfall, lapsed)
	}
}

// One order that earned points (150 of them spent since), upgraded the
// member with gifts, completed a task, was paid with stored value and a
// coupon and put the member in a segment, refunded in three parts adding
// up to the whole, then once more, before and after Advance, on every
// store.
func TestRefundAcrossDomainsInParts(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(newStore(), refundDomainsDef())
			if err != nil {
				t.Fatal(err)
			}
			refundDomainsSetUp(t, p, "al")
			// A quarter: 50 of the order's points, all still in its lot
			// (50 left); 50 of its growth. The member stays silver.
			mustProcess(t, p, orderEvent("r1", "refund", "al", "al-o1", "50", refundAt(3, 11, 10)))
			wantPoints(t, p, "al", refundAt(3, 11, 10), "50")
			wantLevel(t, p, "al", "silver", "150", refundAt(4, 1, 0))
			// Another quarter: the lot is empty, so the 50 come out of the
			// 150 spent, taken from the member's other points (the gift's
			// and the task's 50).
			mustProcess(t, p, orderEvent("r2", "refund", "al", "al-o1", "50", refundAt(3, 12, 10)))
			wantPoints(t, p, "al", refundAt(3, 12, 10), "0")
			wantLevel(t, p, "al", "silver", "100", refundAt(4, 1, 0))
			// The rest, 100: spent points the member no longer has, the
			// order's shortfall. Growth to 0; no downgrade before the term.
			out := mustProcess(t, p, orderEvent("r3", "refund", "al", "al-o1", "100", refundAt(3, 13, 10)))[0]
			wantPoints(t, p, "al", refundAt(3, 13, 10), "0")
			wantLevel(t, p, "al", "silver", "0", refundAt(4, 1, 0))
			wantOrder(t, p, "al-o1", "200", "100", "0")
			again, err := p.Process(ctx, orderEvent("r3", "refund", "al", "al-o1", "100", refundAt(3, 13, 10)))
			if err != nil || !again.Duplicate || len(again.Changes) != len(out.Changes) {
				t.Errorf("the same refund again: %+v, %v; want its first outcome, a duplicate", again, err)
			}
			// Nothing is left to refund: one more cent is refused, writes
			// nothing and leaves its ID free.
			for range 2 {
				if _, err := p.Process(ctx, orderEvent("r4", "refund", "al", "al-o1", "0.01", refundAt(3, 13, 11))); !errors.Is(err, membership.ErrRefundExceedsOrder) {
					t.Errorf("a refund past the order: %v; want ErrRefundExceedsOrder", err)
				}
			}
			wantOrder(t, p, "al-o1", "200", "100", "0")
			// The card's 80 come back by stored value's own refund; not a
			// cent more than the member spent.
			mustProcess(t, p, moneyEvent("al-vr1", "vrefund", "al", "80", refundAt(3, 13, 10)))
			if _, err := p.Process(ctx, moneyEvent("al-vr2", "vrefund", "al", "0.01", refundAt(3, 13, 10))); !errors.Is(err, value.ErrRefundExceedsSpend) {
				t.Errorf("a card refund past the spend: %v; want ErrRefundExceedsSpend", err)
			}
			wantOrderKept(t, p, "al", refundAt(3, 13, 12), "100", 1, "200")
			// The statement: the order's 200, the gift's 30 and the task's
			// 20 earned (in some order), then −150 redeemed, −50 and −50
			// reversed; r3 took nothing.
			page, err := p.Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: "al"})
			if err != nil || len(page.Entries) != 6 {
				t.Fatalf("statement %+v, %v; want 6 entries", page, err)
			}
			type line struct {
				kind            ledger.Kind
				amount, balance string
			}
			var tail []line
			for _, e := range page.Entries[3:] {
				tail = append(tail, line{e.Kind, e.Amount.String(), e.Balance.String()})
			}
			if want := []line{{points.KindRedeemed, "-150", "100"}, {points.KindReversed, "-50", "50"}, {points.KindReversed, "-50", "0"}}; !slices.Equal(tail, want) {
				t.Errorf("statement's last entries %v; want %v", tail, want)
			}
			wantBooks(t, p)

			// The term ends on 1 April: March's net growth is 200 − 200 =
			// 0, below silver's 50, so the member goes down to basic.
			if _, err := p.Advance(ctx, refundAt(4, 1, 0)); err != nil {
				t.Fatal(err)
			}
			wantLevel(t, p, "al", "basic", "0", time.Time{})
			h, err := p.Levels().History(ctx, "al", 0, 100)
			if err != nil || len(h) == 0 {
				t.Fatalf("history %+v, %v", h, err)
			}
			if last := h[len(h)-1]; last.Cause != level.CauseTermEnd || last.From != "silver" || last.To != "basic" || !last.Time.Equal(refundAt(4, 1, 0)) {
				t.Errorf("last level change %+v; want silver to basic at the term end of 1 April", last)
			}
			// A new order of 150 brings silver back, without its gifts a
			// second time, nor the task's (done once in all): 150 points.
			mustProcess(t, p, orderEvent("al-o2", "order", "al", "al-o2", "150", refundAt(4, 2, 10)))
			wantLevel(t, p, "al", "silver", "150", refundAt(5, 1, 0))
			wantPoints(t, p, "al", refundAt(4, 2, 10), "150")
			wantOrderKept(t, p, "al", refundAt(4, 2, 10), "100", 2, "350")
			wantBooks(t, p)
		})
	}
}

// The whole order refunded after a term end kept the level (growth
// re-based to March's 200), and after its points expired.
func TestRefundAcrossDomainsAfterAdvance(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(newStore(), refundDomainsDef())
			if err != nil {
				t.Fatal(err)
			}
			refundDomainsSetUp(t, p, "bo")
			refundDomainsSetUp(t, p, "cy")
			// 1 April: March's 200 keep silver for April (to 24:00 of 30
			// April), growth re-based to 200.
			if _, err := p.Advance(ctx, refundAt(4, 1, 0)); err != nil {
				t.Fatal(err)
			}
			wantLevel(t, p, "bo", "silver", "200", refundAt(5, 1, 0))
			// More than the order is refused and writes nothing.
			if _, err := p.Process(ctx, orderEvent("bo-r0", "refund", "bo", "bo-o1", "200.01", refundAt(4, 5, 10))); !errors.Is(err, membership.ErrRefundExceedsOrder) {
				t.Errorf("a refund of 200.01 of an order of 200: %v; want ErrRefundExceedsOrder", err)
			}
			wantPoints(t, p, "bo", refundAt(4, 5, 10), "100")
			wantLevel(t, p, "bo", "silver", "200", refundAt(5, 1, 0))
			// The whole order on 5 April: its lot's 50, then 50 of the 150
			// spent from the member's other points, 100 short; growth to 0,
			// silver kept to the term's end.
			mustProcess(t, p, orderEvent("bo-r1", "refund", "bo", "bo-o1", "200", refundAt(4, 5, 10)))
			wantPoints(t, p, "bo", refundAt(4, 5, 10), "0")
			wantLevel(t, p, "bo", "silver", "0", refundAt(5, 1, 0))
			wantOrder(t, p, "bo-o1", "200", "100", "0")
			wantOrderKept(t, p, "bo", refundAt(4, 5, 10), "20", 1, "200")
			// 1 May: April's net growth is −200, below 50: basic.
			if _, err := p.Advance(ctx, refundAt(5, 1, 0)); err != nil {
				t.Fatal(err)
			}
			wantLevel(t, p, "bo", "basic", "0", time.Time{})

			// cy: April's net growth 0 took silver away on 1 May (growth
			// re-based to 0); on 1 June the 50 left in the order's lot
			// expire (24:00 of 31 May), leaving the gift's and the task's
			// 50.
			if _, err := p.Advance(ctx, refundAt(6, 1, 0)); err != nil {
				t.Fatal(err)
			}
			wantLevel(t, p, "cy", "basic", "0", time.Time{})
			wantPoints(t, p, "cy", refundAt(6, 1, 0), "50")
			// The whole order on 2 June: the 50 expired are lapsed, not
			// taken again; the 150 spent take the 50 left, 100 short.
			mustProcess(t, p, orderEvent("cy-r1", "refund", "cy", "cy-o1", "200", refundAt(6, 2, 10)))
			wantPoints(t, p, "cy", refundAt(6, 2, 10), "0")
			wantOrder(t, p, "cy-o1", "200", "100", "50")
			wantLevel(t, p, "cy", "basic", "0", time.Time{})
			wantOrderKept(t, p, "cy", refundAt(6, 2, 10), "20", 1, "200")
			wantBooks(t, p)
		})
	}
}
