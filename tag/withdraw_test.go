package tag_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/value"
)

// A withdrawal (Recharge.Withdraw) takes its amount off the recharge
// total, down to zero and never below; one that is not positive takes
// nothing; a Recharge without Withdraw reads no withdrawal. By hand: 200
// recharged, 50.5 withdrawn: 149.5; 0 and −3 withdrawn: 149.5; 500
// withdrawn: 0 (not −350.5); 10 recharged: 10.
func TestTagWithdrawal(t *testing.T) {
	r := tag.Recharge{Event: "recharge", Amount: "amount", Withdraw: "withdraw"}
	ev := func(typ, amount string) event.Event {
		return event.Event{Type: typ, Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	var s tag.Stats
	var totals []string
	for _, e := range []event.Event{ev("recharge", "200"), ev("withdraw", "50.5"), ev("order", "70"), ev("withdraw", "0"),
		ev("withdraw", "-3"), ev("withdraw", "500"), ev("recharge", "10")} {
		if amt, ok := r.Recharged(e); ok {
			s.AddRecharge(amt)
		}
		if amt, ok := r.Withdrawn(e); ok {
			s.AddWithdrawal(amt)
		}
		totals = append(totals, s.Recharged.String())
	}
	if diff := cmp.Diff([]string{"200", "149.5", "149.5", "149.5", "149.5", "0", "10"}, totals); diff != "" {
		t.Errorf("recharge totals (-want +got):\n%s", diff)
	}
	if _, ok := (tag.Recharge{Event: "recharge", Amount: "amount"}).Withdrawn(ev("withdraw", "1")); ok {
		t.Error("a Recharge without Withdraw read a withdrawal")
	}
	if _, ok := (tag.Recharge{Event: "recharge", Amount: "amount"}).Withdrawn(ev("", "1")); ok {
		t.Error("a Recharge without Withdraw read an event of no type as a withdrawal")
	}
}

// withdrawEnv declares recharge and withdraw (amount a decimal), count
// (amount an integer) and flag (amount a bool).
type withdrawEnv struct{}

func (withdrawEnv) EventType(name string) (event.Type, bool) {
	kinds := map[string]event.Kind{"recharge": event.Decimal, "withdraw": event.Decimal, "count": event.Integer, "flag": event.Bool, "bare": ""}
	k, ok := kinds[name]
	if !ok {
		return event.Type{}, false
	}
	t := event.Type{Name: name}
	if k != "" {
		t.Attributes = []event.Attr{{Name: "amount", Kind: k, Required: true}}
	}
	return t, true
}
func (withdrawEnv) LevelExists(string) bool { return false }

// Check reports Withdraw's problems at recharge.withdraw: an undeclared
// type (event.ErrUnknownType), the recharge's own type, a type without
// the amount attribute (event.ErrUnknownAttribute) or with one of another
// kind (event.ErrAttributeType). An integer amount is taken, as for the
// recharge.
func TestTagCheckWithdraw(t *testing.T) {
	for _, tc := range []struct {
		withdraw string
		want     string
		sentinel error
	}{
		{"withdraw", "", nil},
		{"count", "", nil},
		{"nope", `recharge.withdraw: unknown event type "nope"`, event.ErrUnknownType},
		{"recharge", `recharge.withdraw: event type "recharge" is already the recharge event`, nil},
		{"bare", `recharge.withdraw: unknown attribute "amount" in type "bare"`, event.ErrUnknownAttribute},
		{"flag", `recharge.withdraw: attribute has the wrong type: "amount" of "flag" is bool, want decimal or integer`, event.ErrAttributeType},
	} {
		t.Run(tc.withdraw, func(t *testing.T) {
			d := tag.Definition{Recharge: &tag.Recharge{Event: "recharge", Amount: "amount", Withdraw: tc.withdraw}}
			err := d.Check(withdrawEnv{})
			var got []string
			if err != nil {
				var ps *rule.Problems
				if !errors.As(err, &ps) {
					t.Fatalf("Check = %v, want *rule.Problems", err)
				}
				for _, p := range ps.List {
					got = append(got, p.Error())
				}
			}
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("%v does not wrap %v", err, tc.sentinel)
			}
		})
	}
}

// Through a program whose stored value and tags both name the withdrawal
// type, a rule "recharge total ≥ 1,000" follows what the member recharged
// and did not take back, in the event's own unit: ann recharges 1,200
// (1,200: depositor), withdraws 300 (900: not), recharges 100 (1,000:
// depositor again); a withdrawal of 1,001 is refused by stored value
// (1,000 held) and leaves the total and the tag as they were; stored
// value's own cumulative recharge stays 1,300.
func TestTagRechargeTotalNetOfWithdrawals(t *testing.T) {
	ctx := context.Background()
	def := tagDef()
	def.Events = append(def.Events, event.Type{Name: "withdraw", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}})
	def.StoredValue = &value.Definition{Recharge: "recharge", Withdraw: "withdraw", Amount: "amount"}
	def.Tags.Recharge.Withdraw = "withdraw"
	def.Tags.Rules = append(def.Tags.Rules, tag.Rule{Tag: "depositor", All: []tag.Cond{{Fact: tag.FactRechargeTotal, Op: event.Gte, Value: event.DecString("1000")}}})
	p := testkit.OpenMemory(t, def)
	ev := func(id, typ, amount string) event.Event {
		return newEvent(id, "ann", typ, shanghaiAt, event.Attrs{"amount": event.DecString(amount)})
	}
	check := func(what, total string, tagged bool) {
		t.Helper()
		pr, err := p.Tags().Profile(ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		if !pr.Stats.Recharged.Equal(testkit.Dec(total)) {
			t.Errorf("%s: recharge total %s, want %s", what, pr.Stats.Recharged, total)
		}
		in, err := p.Tags().InSegment(ctx, "ann", tag.MustParse("depositor"))
		if err != nil {
			t.Fatal(err)
		}
		if in != tagged {
			t.Errorf("%s: depositor %v, want %v", what, in, tagged)
		}
	}
	mustProcess(t, p, ev("r1", "recharge", "1200"))
	check("after 1,200 recharged", "1200", true)
	out := mustProcess(t, p, ev("w1", "withdraw", "300"))[0]
	if got := kinds(out, "tag."); !cmp.Equal(got, []string{tag.ChangeRemoved}) {
		t.Errorf("the withdrawal's tag changes: %v, want the depositor tag removed", got)
	}
	check("after 300 withdrawn", "900", false)
	mustProcess(t, p, ev("r2", "recharge", "100"))
	check("after 100 recharged", "1000", true)
	if _, err := p.Process(ctx, ev("w2", "withdraw", "1001")); !errors.Is(err, membership.ErrInsufficientBalance) {
		t.Fatalf("a withdrawal past the balance: %v", err)
	}
	check("after the refused withdrawal", "1000", true)
	va, err := p.Value().Account(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if !va.Recharged.Equal(testkit.Dec("1300")) || !va.Withdrawn.Equal(testkit.Dec("300")) || !va.Balance.Equal(testkit.Dec("1000")) {
		t.Errorf("stored value %+v; want 1,300 recharged, 300 withdrawn, 1,000 held", va)
	}
}
