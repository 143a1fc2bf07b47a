package value_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/value"
)

// withdrawDef is ValueDef with a withdrawal: recharged money paid back to
// the member by the event type "withdraw".
func withdrawDef() membership.Definition { return testkit.WithWithdraw(valueDef(), "withdraw") }

func withdraw(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "withdraw", Time: at, Attrs: event.Attrs{"amount": event.Dec(dec(amount))}}
}

// A withdrawal pays recharged money back: it debits the balance as a spend
// does, but counts in a total of its own, which no refund credits back.
// One member, every step on 24 November 2026, on memory and bolt; after
// each step the account, R − S + F − W, the statement, the four pools,
// the day's totals, the feed and Verify agree, and each accepted event's
// effects say what it moved. Worked by hand (R, S, F, W the cumulative
// recharge, spend, refund and withdrawal):
//
//	step  event                result                 balance  R    S   F   W
//	1     recharge r1 100      taken                  100      100  0   0   0
//	2     withdraw w1 100.01   ErrInsufficientBalance 100
//	3     pay p1 40            taken                  60       100  40  0   0
//	4     withdraw w2 50       taken                  10       100  40  0   50
//	5     refund f1 40.01      ErrRefundExceedsSpend  10       (40 refundable: W is no spend)
//	6     refund f2 40         taken                  50       100  40  40  50
//	7     refund f3 0.01       ErrRefundExceedsSpend  50       (0 refundable)
//	8     withdraw w3 50       taken (all of it)      0        100  40  40  100
//	9     withdraw w4 0.01     ErrInsufficientBalance 0
//	10    recharge r2 20       taken                  20       120  40  40  100
//	11    withdraw w1 20       taken (w1's ID free)   0        120  40  40  120
//
// Each accepted step adds one statement entry of its kind naming its
// event, +amount (−amount for a spend or a withdrawal), with the balance
// after it; the pools hold the other leg: recharge −R, spend +S, refund
// −F, withdraw +W. The day's totals are the member side: R, −S, F, −W.
// checkLedgerSteps runs the table.
func TestWithdrawReconcilesWithTheLedger(t *testing.T) {
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	acct := func(b, r, s, f, w string) value.Account {
		return value.Account{Balance: dec(b), Recharged: dec(r), Spent: dec(s), Refunded: dec(f), Withdrawn: dec(w)}
	}
	steps := []ledgerStep{
		{recharge("r1", "m", "100", at(1)), nil, acct("100", "100", "0", "0", "0")},
		{withdraw("w1", "m", "100.01", at(2)), membership.ErrInsufficientBalance, acct("100", "100", "0", "0", "0")},
		{pay("p1", "m", "40", at(3)), nil, acct("60", "100", "40", "0", "0")},
		{withdraw("w2", "m", "50", at(4)), nil, acct("10", "100", "40", "0", "50")},
		{refund("f1", "m", "40.01", at(5)), value.ErrRefundExceedsSpend, acct("10", "100", "40", "0", "50")},
		{refund("f2", "m", "40", at(6)), nil, acct("50", "100", "40", "40", "50")},
		{refund("f3", "m", "0.01", at(7)), value.ErrRefundExceedsSpend, acct("50", "100", "40", "40", "50")},
		{withdraw("w3", "m", "50", at(8)), nil, acct("0", "100", "40", "40", "100")},
		{withdraw("w4", "m", "0.01", at(9)), membership.ErrInsufficientBalance, acct("0", "100", "40", "40", "100")},
		{recharge("r2", "m", "20", at(10)), nil, acct("20", "120", "40", "40", "100")},
		{withdraw("w1", "m", "20", at(11)), nil, acct("0", "120", "40", "40", "120")},
	}
	for name, open := range map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{
		"memory": testkit.OpenMemory, "bolt": testkit.OpenBolt,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := open(t, withdrawDef())
			checkLedgerSteps(t, p, []string{"recharge", "pay", "refund", "withdraw"}, steps)
			// Steps 4, 8 and 11 published value.withdrawn, in order.
			feed, err := p.Feed(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var withdrawn []string
			for _, c := range feed {
				if c.Kind == value.ChangeWithdrawn {
					withdrawn = append(withdrawn, c.Event)
				}
			}
			if diff := cmp.Diff([]string{"w2", "w3", "w1"}, withdrawn); diff != "" {
				t.Errorf("value.withdrawn changes (-want +got):\n%s", diff)
			}
		})
	}
}

// A retried withdrawal returns its first outcome, Duplicate set, even
// when the balance no longer covers it; the same ID with another amount
// is a conflict. Recharge 100, withdraw 60 (balance 40), the retry:
// balance still 40, withdrawn 60.
func TestWithdrawRetryReturnsFirstOutcome(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, withdrawDef())
	outs := mustProcess(t, p,
		recharge("r1", "alice", "100", t0),
		withdraw("w1", "alice", "60", t0.Add(time.Hour)),
		withdraw("w1", "alice", "60", t0.Add(time.Hour)), // the retry: 60 > 40 held
	)
	if !outs[2].Duplicate {
		t.Error("the retried withdrawal is not a duplicate")
	}
	for _, out := range outs[1:] {
		ef, err := value.EffectsOf(out)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(value.Effects{Withdrawn: dec("60"), Changed: true, Balance: dec("40")}, ef, equateDecimals); diff != "" {
			t.Errorf("effects (-want +got):\n%s", diff)
		}
	}
	if _, err := p.Process(ctx, withdraw("w1", "alice", "1", t0.Add(time.Hour))); !errors.Is(err, membership.ErrEventConflict) {
		t.Errorf("w1 with another amount: %v, want ErrEventConflict", err)
	}
	va, err := p.Value().Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(value.Account{Balance: dec("40"), Recharged: dec("100"), Withdrawn: dec("60")}, va, equateDecimals); diff != "" {
		t.Errorf("account (-want +got):\n%s", diff)
	}
}

// A withdrawal the part refuses (not positive, finer than the scale, past
// the balance) writes nothing and leaves its ID free. Scale 1, a balance
// of 10.
func TestRefusedWithdrawalWritesNothing(t *testing.T) {
	def := withdrawDef()
	def.StoredValue.Scale = new(int32(1))
	for _, tc := range []struct {
		name   string
		amount string
		want   error
	}{
		{"zero", "0", membership.ErrInvalidEvent},
		{"negative", "-3", membership.ErrInvalidEvent},
		{"finer than the scale", "1.05", membership.ErrInvalidEvent},
		{"past the balance", "10.1", membership.ErrInsufficientBalance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p := testkit.OpenMemory(t, def)
			mustProcess(t, p, recharge("r0", "alice", "10.0", t0.Add(-time.Hour)))
			if _, err := p.Process(ctx, withdraw("x", "alice", tc.amount, t0)); !errors.Is(err, tc.want) {
				t.Fatalf("withdraw %s: %v, want %v", tc.amount, err, tc.want)
			}
			va, err := p.Value().Account(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(value.Account{Balance: dec("10"), Recharged: dec("10")}, va, equateDecimals); diff != "" {
				t.Errorf("account after the refusal (-want +got):\n%s", diff)
			}
			if f, _ := p.Feed(ctx, 0, 10); len(f) != 1 {
				t.Errorf("feed has %d changes, want the recharge's only", len(f))
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
			// The ID is free: the whole balance under it is taken.
			if _, err := p.Process(ctx, withdraw("x", "alice", "10", t0)); err != nil {
				t.Errorf("withdrawing the balance under the refused ID: %v", err)
			}
		})
	}
}

// 16 goroutines withdraw and spend one balance at once: it never goes
// below zero, and what they took is what the member held. A balance of
// 100; each goroutine sends 5 withdrawals of 2 and 5 spends of 2, 160
// events of 2 for 100: 50 accepted, 110 refused, withdrawn + spent = 100.
func TestConcurrentWithdrawalsNeverOverdraw(t *testing.T) {
	for name, open := range map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{
		"memory": testkit.OpenMemory, "bolt": testkit.OpenBolt,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := open(t, withdrawDef())
			mustProcess(t, p, recharge("r", "alice", "100", t0))
			// Even calls withdraw, odd ones pay: both draw on one balance.
			ok, refused := race(ctx, t, p, membership.ErrInsufficientBalance, func(g, i int) event.Event {
				if i%2 == 1 {
					return pay(fmt.Sprintf("p%d-%d", g, i), "alice", "2", t0.Add(time.Minute))
				}
				return withdraw(fmt.Sprintf("w%d-%d", g, i), "alice", "2", t0.Add(time.Minute))
			})
			if ok != 50 || refused != 110 {
				t.Errorf("accepted %d, refused %d; want 50 and 110", ok, refused)
			}
			va, err := p.Value().Account(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if !va.Balance.IsZero() || !va.Withdrawn.Add(va.Spent).Equal(dec("100")) {
				t.Errorf("after the race: %+v; want a balance of 0, withdrawn + spent = 100", va)
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

// The cumulative withdrawal keeps to the limit on decimals as the other
// totals do. A member opened with a balance of 9e39 (no recharge)
// withdraws it (W = 9e39), recharges 9e39 and withdraws 9e39 again: W
// would be 1.8e40, 41 digits, refused with ErrInvalidAmount and
// event.ErrTooLarge, changing nothing.
func TestWithdrawnKeepsToTheLimit(t *testing.T) {
	ctx := context.Background()
	big := "9" + strings.Repeat("0", 39)
	p := testkit.OpenMemory(t, withdrawDef())
	if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "open", Member: "m", Operator: "ops", At: t0.Add(-time.Hour),
		Value: &migrate.Value{Balance: dec(big)}}); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, withdraw("w1", "m", big, t0), recharge("r1", "m", big, t0))
	_, err := p.Process(ctx, withdraw("w2", "m", big, t0))
	if !errors.Is(err, value.ErrInvalidAmount) || !errors.Is(err, event.ErrTooLarge) {
		t.Fatalf("Process: %v; want value.ErrInvalidAmount and event.ErrTooLarge", err)
	}
	va, err := p.Value().Account(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(value.Account{Balance: dec(big), Recharged: dec(big), Withdrawn: dec(big)}, va, equateDecimals); diff != "" {
		t.Errorf("account after the refusal (-want +got):\n%s", diff)
	}
}

// Withdraw is optional, and a version may add or remove it as it may the
// other operations' types: a member's withdrawn total stays in Account
// when a version no longer names the type, as Refunded does; the type,
// still declared, then moves no money. Dropping stored value while the
// store holds it stays refused. On memory and bolt:
//
//   - version 1, no withdrawal: recharge 100 (balance 100);
//   - version 2 adds it: withdraw 30 (balance 70, withdrawn 30);
//   - version 3 removes it: the account is as it was, and a "withdraw"
//     event of 20 is an ordinary event (balance 70);
//   - version 4 without stored value: ErrDefinitionInUse at "stored_value".
func TestWithdrawAcrossVersions(t *testing.T) {
	for name, newStore := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore()
			open := func(version uint64, withdrawType string, stored bool) (*membership.Program, error) {
				def := withdrawDef()
				def.Version = version
				def.StoredValue.Withdraw = withdrawType
				if !stored {
					def.StoredValue = nil
				}
				return membership.Open(st, def)
			}
			must := func(p *membership.Program, err error) *membership.Program {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			account := func(p *membership.Program, what string, want value.Account) {
				t.Helper()
				va, err := p.Value().Account(ctx, "m")
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, va, equateDecimals); diff != "" {
					t.Errorf("%s (-want +got):\n%s", what, diff)
				}
			}
			p := must(open(1, "", true))
			mustProcess(t, p, recharge("r1", "m", "100", t0))
			p = must(open(2, "withdraw", true))
			mustProcess(t, p, withdraw("w1", "m", "30", t0.Add(time.Hour)))
			after := value.Account{Balance: dec("70"), Recharged: dec("100"), Withdrawn: dec("30")}
			account(p, "version 2, after the withdrawal", after)
			p = must(open(3, "", true))
			account(p, "version 3, without the withdrawal", after)
			out := mustProcess(t, p, withdraw("w2", "m", "20", t0.Add(2*time.Hour)))[0]
			if ef, err := value.EffectsOf(out); err != nil || ef.Changed {
				t.Errorf("a withdraw event under version 3: %+v, %v; want no stored-value effect", ef, err)
			}
			account(p, "version 3, after a withdraw event", after)
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
			_, err := open(4, "", false)
			if !errors.Is(err, membership.ErrDefinitionInUse) || !strings.Contains(err.Error(), "stored_value") {
				t.Errorf("version 4 without stored value: %v; want ErrDefinitionInUse at stored_value", err)
			}
		})
	}
}

// Definition.Check reports Withdraw's problems at "withdraw", as the other
// operations': an undeclared type (wrapping event.ErrUnknownType), an
// amount of the wrong kind (event.ErrAttributeType) or not required, and
// a type another operation already names (the later operation is the
// problem, naming the first).
func TestWithdrawDefinitionCheck(t *testing.T) {
	amount := func(k event.Kind, required bool) event.Type {
		return event.Type{Attributes: []event.Attr{{Name: "amount", Kind: k, Required: required}}}
	}
	e := env{"top-up": amount(event.Decimal, true), "cash-out": amount(event.Decimal, true), "int": amount(event.Integer, true), "opt": amount(event.Decimal, false)}
	for _, tc := range []struct {
		name     string
		def      value.Definition
		want     []string
		sentinel error
	}{
		{"valid", value.Definition{Recharge: "top-up", Withdraw: "cash-out", Amount: "amount"}, nil, nil},
		{"alone", value.Definition{Withdraw: "cash-out", Amount: "amount"}, nil, nil},
		{"undeclared", value.Definition{Recharge: "top-up", Withdraw: "nope", Amount: "amount"},
			[]string{`withdraw: unknown event type "nope"`}, event.ErrUnknownType},
		{"integer amount", value.Definition{Recharge: "top-up", Withdraw: "int", Amount: "amount"},
			[]string{`withdraw: attribute has the wrong type: "amount" of "int" is integer, want decimal`}, event.ErrAttributeType},
		{"optional amount", value.Definition{Recharge: "top-up", Withdraw: "opt", Amount: "amount"},
			[]string{`withdraw: attribute "amount" of "opt" must be required`}, nil},
		{"the recharge's type", value.Definition{Recharge: "top-up", Withdraw: "top-up", Amount: "amount"},
			[]string{`withdraw: event type "top-up" is already the recharge`}, nil},
		{"the spend's and the refund's types", value.Definition{Spend: "cash-out", Refund: "top-up", Withdraw: "cash-out", Amount: "amount"},
			[]string{`withdraw: event type "cash-out" is already the spend`}, nil},
		{"the refund's type", value.Definition{Refund: "top-up", Withdraw: "top-up", Amount: "amount"},
			[]string{`withdraw: event type "top-up" is already the refund`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			if err := tc.def.Check(e); err != nil {
				var ps *rule.Problems
				if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
					t.Fatalf("Check error %T is not a *rule.Problems", err)
				}
				for _, p := range ps.List {
					got = append(got, p.Error())
				}
				if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
					t.Errorf("%v does not wrap %v", err, tc.sentinel)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
