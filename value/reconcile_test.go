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
	"github.com/shopspring/decimal"
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
// spend −S, refund F. Each accepted event publishes one change, and its
// effects are its amount under its operation with the balance after it;
// a refused one publishes none. checkLedgerSteps runs the table.
func TestEveryStepReconcilesWithTheLedger(t *testing.T) {
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	acct := func(b, r, s, f string) value.Account {
		return value.Account{Balance: dec(b), Recharged: dec(r), Spent: dec(s), Refunded: dec(f)}
	}
	steps := []ledgerStep{
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
	for name, open := range map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{
		"memory": testkit.OpenMemory, "bolt": testkit.OpenBolt,
	} {
		t.Run(name, func(t *testing.T) {
			checkLedgerSteps(t, open(t, valueDef()), []string{"recharge", "pay", "refund"}, steps)
		})
	}
}

// ledgerStep is one step of a stored-value table: an event of member "m"
// on t0's day, the sentinel that refuses it (nil: it is taken) and the
// member's account after it.
type ledgerStep struct {
	ev      event.Event
	refused error
	want    value.Account
}

// valueOp is what the tables know of a stored-value operation: the kind
// of its entries, its cumulative total in an Account, its amount in
// Effects, and whether it takes money out of the balance (a spend, a
// withdrawal) or puts it in.
type valueOp struct {
	kind   ledger.Kind
	total  func(value.Account) decimal.Decimal
	effect func(*value.Effects) *decimal.Decimal
	out    bool
}

// valueOps are the operations by the event type valueDef and withdrawDef
// give them.
func valueOps() map[string]valueOp {
	return map[string]valueOp{
		"recharge": {value.KindRecharge, func(a value.Account) decimal.Decimal { return a.Recharged }, func(e *value.Effects) *decimal.Decimal { return &e.Recharged }, false},
		"pay":      {value.KindSpend, func(a value.Account) decimal.Decimal { return a.Spent }, func(e *value.Effects) *decimal.Decimal { return &e.Spent }, true},
		"refund":   {value.KindRefund, func(a value.Account) decimal.Decimal { return a.Refunded }, func(e *value.Effects) *decimal.Decimal { return &e.Refunded }, false},
		"withdraw": {value.KindWithdraw, func(a value.Account) decimal.Decimal { return a.Withdrawn }, func(e *value.Effects) *decimal.Decimal { return &e.Withdrawn }, true},
	}
}

// checkLedgerSteps processes steps in order on p, whose definition has
// the operations named by types, and after each checks that:
//
//   - a step with refused set fails wrapping it; any other is taken, and
//     its effects are its amount under its operation, Changed, with the
//     want's balance;
//   - the account is the step's want, and its balance is the sum of the
//     totals on the member's side (+ for what goes in, − for what goes
//     out: R − S + F, or R − S + F − W);
//   - the member's statement holds one entry for each step taken so far:
//     its event, its operation's kind, ±amount on the member's side and
//     the want's balance after it;
//   - each operation's pool holds the other leg (the member side's total,
//     negated) and the day's totals hold the member side;
//   - the feed holds one change for each step taken, and Verify passes.
func checkLedgerSteps(t *testing.T, p *membership.Program, types []string, steps []ledgerStep) {
	t.Helper()
	ctx := context.Background()
	ops := valueOps()
	// side is an operation's total on the member's side.
	side := func(op valueOp, a value.Account) decimal.Decimal {
		if op.out {
			return op.total(a).Neg()
		}
		return op.total(a)
	}
	member := ledger.MemberAccount("m", ledger.Value, "")
	day := t0.Format(time.DateOnly)
	type entry struct {
		Event   string
		Kind    ledger.Kind
		Amount  string
		Balance string
	}
	var want []entry
	for i, s := range steps {
		out, err := p.Process(ctx, s.ev)
		if s.refused != nil {
			if !errors.Is(err, s.refused) {
				t.Fatalf("step %d (%s %s): %v; want %v", i+1, s.ev.Type, s.ev.ID, err, s.refused)
			}
		} else {
			if err != nil {
				t.Fatalf("step %d (%s %s): %v", i+1, s.ev.Type, s.ev.ID, err)
			}
			op := ops[s.ev.Type]
			amt, _ := s.ev.Decimal("amount")
			wantEf := value.Effects{Changed: true, Balance: s.want.Balance}
			*op.effect(&wantEf) = amt
			ef, err := value.EffectsOf(out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantEf, ef, equateDecimals); diff != "" {
				t.Errorf("effects of step %d (-want +got):\n%s", i+1, diff)
			}
			if op.out {
				amt = amt.Neg()
			}
			want = append(want, entry{s.ev.ID, op.kind, amt.String(), s.want.Balance.String()})
		}
		va, err := p.Value().Account(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.want, va, equateDecimals); diff != "" {
			t.Errorf("after step %d (-want +got):\n%s", i+1, diff)
		}
		sum := decimal.Zero
		for _, typ := range types {
			sum = sum.Add(side(ops[typ], va))
		}
		if !sum.Equal(va.Balance) {
			t.Errorf("after step %d: the totals %v sum to %s on the member's side, balance %s", i+1, types, sum, va.Balance)
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
		totals, err := p.Totals(ctx, ledger.Value, day, day)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range types {
			op := ops[typ]
			w := side(op, va)
			bal, err := p.Balance(ctx, ledger.Pool(ledger.Value, string(op.kind)))
			if err != nil || !bal.Equal(w.Neg()) {
				t.Errorf("after step %d: pool %s = %s, %v; want %s", i+1, op.kind, bal, err, w.Neg())
			}
			if !totals[op.kind].Equal(w) {
				t.Errorf("after step %d: the day's %s total = %s, want %s", i+1, op.kind, totals[op.kind], w)
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
}
