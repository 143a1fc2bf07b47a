package value_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/value"
)

// SPEC "Stored value": "recharge, spend, refund, with cumulative recharge
// and spend kept …; never negative; every change is a ledger entry". One
// member, every step on 24 November 2026, on memory and bolt; after each
// step the account, the member's statement, the three pools, the day's
// totals and the feed agree, and Verify passes. Worked by hand (R, S, F
// the cumulative recharge, spend and refund; balance = R − S + F):
//
//	step  event               result                 balance  R       S       F
//	1     recharge r1 100     taken                  100      100     0       0
//	2     pay p1 130          ErrInsufficientBalance 100
//	3     pay p2 100          taken (all of it)      0        100     100     0
//	4     pay p3 0.01         ErrInsufficientBalance 0
//	5     refund f1 40        taken                  40       100     100     40
//	6     refund f2 60.01     ErrRefundExceedsSpend  40       (60 refundable)
//	7     refund f3 60        taken                  100      100     100     100
//	8     refund f4 0.01      ErrRefundExceedsSpend  100      (a refund of what was refunded: 0 refundable)
//	9     pay p4 30           taken                  70       100     130     100
//	10    refund f5 30.01     ErrRefundExceedsSpend  70       (30 refundable)
//	11    recharge r2 0.01    taken                  70.01    100.01  130     100
//	12    refund f6 30        taken                  100.01   100.01  130     130
//	13    pay p1 100.01       taken (p1's ID free)   0        100.01  230.01  130
//
// Each accepted step adds one statement entry of its kind, naming its
// event, whose amount is +amount (−amount for a spend) and whose balance
// is the balance after it; the pools hold the other leg: recharge −R,
// spend +S, refund −F. The day's totals are the member side: recharge R,
// spend −S, refund F. Each accepted event publishes one change; a refused
// one, none.
func TestEveryStepReconcilesWithTheLedger(t *testing.T) {
	type step struct {
		ev      event.Event
		refused error
		want    value.Account // after the step
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	acct := func(b, r, s, f string) value.Account {
		return value.Account{Balance: dec(b), Recharged: dec(r), Spent: dec(s), Refunded: dec(f)}
	}
	steps := []step{
		{recharge("r1", "m", "100", at(1)), nil, acct("100", "100", "0", "0")},
		{pay("p1", "m", "130", at(2)), membership.ErrInsufficientBalance, acct("100", "100", "0", "0")},
		{pay("p2", "m", "100", at(3)), nil, acct("0", "100", "100", "0")},
		{pay("p3", "m", "0.01", at(4)), membership.ErrInsufficientBalance, acct("0", "100", "100", "0")},
		{refund("f1", "m", "40", at(5)), nil, acct("40", "100", "100", "40")},
		{refund("f2", "m", "60.01", at(6)), value.ErrRefundExceedsSpend, acct("40", "100", "100", "40")},
		{refund("f3", "m", "60", at(7)), nil, acct("100", "100", "100", "100")},
		{refund("f4", "m", "0.01", at(8)), value.ErrRefundExceedsSpend, acct("100", "100", "100", "100")},
		{pay("p4", "m", "30", at(9)), nil, acct("70", "100", "130", "100")},
		{refund("f5", "m", "30.01", at(10)), value.ErrRefundExceedsSpend, acct("70", "100", "130", "100")},
		{recharge("r2", "m", "0.01", at(11)), nil, acct("70.01", "100.01", "130", "100")},
		{refund("f6", "m", "30", at(12)), nil, acct("100.01", "100.01", "130", "130")},
		{pay("p1", "m", "100.01", at(13)), nil, acct("0", "100.01", "230.01", "130")},
	}
	kinds := map[string]ledger.Kind{"recharge": value.KindRecharge, "pay": value.KindSpend, "refund": value.KindRefund}
	for name, open := range map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{
		"memory": testkit.OpenMemory, "bolt": testkit.OpenBolt,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := open(t, valueDef())
			member := ledger.MemberAccount("m", ledger.Value, "")
			type entry struct {
				Event   string
				Kind    ledger.Kind
				Amount  string
				Balance string
			}
			var want []entry
			for i, s := range steps {
				_, err := p.Process(ctx, s.ev)
				if s.refused != nil {
					if !errors.Is(err, s.refused) {
						t.Fatalf("step %d (%s %s): %v; want %v", i+1, s.ev.Type, s.ev.ID, err, s.refused)
					}
				} else {
					if err != nil {
						t.Fatalf("step %d (%s %s): %v", i+1, s.ev.Type, s.ev.ID, err)
					}
					amt, _ := s.ev.Decimal("amount")
					if s.ev.Type == "pay" {
						amt = amt.Neg()
					}
					want = append(want, entry{s.ev.ID, kinds[s.ev.Type], amt.String(), s.want.Balance.String()})
				}
				va, err := p.Value().Account(ctx, "m")
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(s.want, va, equateDecimals); diff != "" {
					t.Errorf("after step %d (-want +got):\n%s", i+1, diff)
				}
				if got := va.Recharged.Sub(va.Spent).Add(va.Refunded); !got.Equal(va.Balance) {
					t.Errorf("after step %d: R − S + F = %s, balance %s", i+1, got, va.Balance)
				}
				page, err := p.Statement(ctx, ledger.Query{Account: member, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				var got []entry
				for _, e := range page.Entries {
					got = append(got, entry{e.Ref.Event, e.Kind, e.Amount.String(), e.Balance.String()})
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("statement after step %d (-want +got):\n%s", i+1, diff)
				}
				pools := map[ledger.Kind]string{
					value.KindRecharge: va.Recharged.Neg().String(),
					value.KindSpend:    va.Spent.String(),
					value.KindRefund:   va.Refunded.Neg().String(),
				}
				for k, w := range pools {
					bal, err := p.Balance(ctx, ledger.Pool(ledger.Value, string(k)))
					if err != nil || !bal.Equal(dec(w)) {
						t.Errorf("after step %d: pool %s = %s, %v; want %s", i+1, k, bal, err, w)
					}
				}
				totals, err := p.Totals(ctx, ledger.Value, "2026-11-24", "2026-11-24")
				if err != nil {
					t.Fatal(err)
				}
				for k, w := range map[ledger.Kind]string{
					value.KindRecharge: va.Recharged.String(), value.KindSpend: va.Spent.Neg().String(), value.KindRefund: va.Refunded.String(),
				} {
					if !totals[k].Equal(dec(w)) {
						t.Errorf("after step %d: the day's %s total = %s, want %s", i+1, k, totals[k], w)
					}
				}
				feed, err := p.Feed(ctx, 0, 100)
				if err != nil || len(feed) != len(want) {
					t.Errorf("after step %d: %d changes in the feed, %v; want %d", i+1, len(feed), err, len(want))
				}
				if err := p.Verify(ctx); err != nil {
					t.Errorf("after step %d: %v", i+1, err)
				}
			}
		})
	}
}
