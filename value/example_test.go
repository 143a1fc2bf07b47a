package value_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// A member recharges 100 and pays 30.50 from the balance; a payment of 80
// more is refused and changes nothing. Each outcome's effects say what
// moved and the balance after it; the account keeps the cumulative
// totals.
func ExampleHandle_Account() {
	ctx := context.Background()
	amount := []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}
	def := membership.Definition{
		Zone:        "Asia/Shanghai",
		Events:      []event.Type{{Name: "recharge", Attributes: amount}, {Name: "pay", Attributes: amount}},
		StoredValue: &value.Definition{Recharge: "recharge", Spend: "pay", Amount: "amount"},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, p.Location())
	ev := func(id, typ, amt string) event.Event {
		return event.Event{ID: id, Member: "alice", Type: typ, Time: at, Attrs: event.Attrs{"amount": event.Dec(decimal.RequireFromString(amt))}}
	}
	for _, e := range []event.Event{ev("e1", "recharge", "100"), ev("e2", "pay", "30.50"), ev("e3", "pay", "80")} {
		out, err := p.Process(ctx, e)
		if errors.Is(err, membership.ErrInsufficientBalance) {
			fmt.Println(e.ID, "refused: insufficient balance")
			continue
		} else if err != nil {
			fmt.Println(err)
			return
		}
		ef, err := value.EffectsOf(out)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: recharged %s, spent %s, balance %s\n", e.ID, ef.Recharged, ef.Spent, ef.Balance)
	}
	a, err := p.Value().Account(ctx, "alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("balance %s, recharged %s, spent %s\n", a.Balance, a.Recharged, a.Spent)
	// Output:
	// e1: recharged 100, spent 0, balance 100
	// e2: recharged 0, spent 30.5, balance 69.5
	// e3 refused: insufficient balance
	// balance 69.5, recharged 100, spent 30.5
}

// A currency with no minor unit (yen, won) keeps stored value in whole
// units: Scale 0, which a nil Scale is not (nil is the default, 2). A
// recharge of 10.5 is refused, naming the attribute, and changes nothing;
// one of 10 is taken.
func ExampleDefinition_wholeUnits() {
	ctx := context.Background()
	amount := []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}
	def := membership.Definition{
		Zone:        "Asia/Tokyo",
		Events:      []event.Type{{Name: "recharge", Attributes: amount}},
		StoredValue: &value.Definition{Recharge: "recharge", Amount: "amount", Scale: new(int32(0))},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, p.Location())
	for i, amt := range []string{"10.5", "10"} {
		_, err := p.Process(ctx, event.Event{ID: fmt.Sprint("r", i), Member: "kenji", Type: "recharge", Time: at,
			Attrs: event.Attrs{"amount": event.DecString(amt)}})
		fmt.Println(amt, errors.Is(err, event.ErrInvalidEvent), err)
	}
	a, err := p.Value().Account(ctx, "kenji")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("balance", a.Balance, "places", def.StoredValue.Places())
	// Output:
	// 10.5 true membership: process "r0": invalid event: attrs.amount: 10.5 is not a whole amount (stored-value scale 0)
	// 10 false <nil>
	// balance 10 places 0
}

// A member recharges 100 and pays 30, then asks for the unspent balance
// back (储值退款): a withdrawal of 80 is refused (70 held), one of 70 pays
// it all back. The withdrawal is no spend: the purchase of 30 returned
// later is refunded in full, and only that, as the account's totals show
// (100 − 30 + 30 − 70 = 30).
func ExampleDefinition_withdraw() {
	ctx := context.Background()
	amount := []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{{Name: "recharge", Attributes: amount}, {Name: "pay", Attributes: amount},
			{Name: "refund", Attributes: amount}, {Name: "cash_out", Attributes: amount}},
		StoredValue: &value.Definition{Recharge: "recharge", Spend: "pay", Refund: "refund", Withdraw: "cash_out", Amount: "amount"},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, p.Location())
	ev := func(id, typ, amt string) event.Event {
		return event.Event{ID: id, Member: "alice", Type: typ, Time: at, Attrs: event.Attrs{"amount": event.Dec(decimal.RequireFromString(amt))}}
	}
	for _, e := range []event.Event{ev("e1", "recharge", "100"), ev("e2", "pay", "30"), ev("e3", "cash_out", "80"),
		ev("e4", "cash_out", "70"), ev("e5", "refund", "30")} {
		out, err := p.Process(ctx, e)
		if errors.Is(err, membership.ErrInsufficientBalance) {
			fmt.Println(e.ID, "refused: insufficient balance")
			continue
		} else if err != nil {
			fmt.Println(err)
			return
		}
		ef, err := value.EffectsOf(out)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: withdrawn %s, balance %s\n", e.ID, ef.Withdrawn, ef.Balance)
	}
	a, err := p.Value().Account(ctx, "alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("balance %s = recharged %s − spent %s + refunded %s − withdrawn %s\n", a.Balance, a.Recharged, a.Spent, a.Refunded, a.Withdrawn)
	// Output:
	// e1: withdrawn 0, balance 100
	// e2: withdrawn 0, balance 70
	// e3 refused: insufficient balance
	// e4: withdrawn 70, balance 0
	// e5: withdrawn 0, balance 30
	// balance 30 = recharged 100 − spent 30 + refunded 30 − withdrawn 70
}
