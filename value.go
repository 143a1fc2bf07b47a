package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/memberkit/membership/internal/engine"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Change kinds published by stored value (data ValueChange).
const (
	ChangeValueRecharged = "value.recharged"
	ChangeValueSpent     = "value.spent"
	ChangeValueRefunded  = "value.refunded"
)

// Ledger kinds and pools of stored value.
const (
	KindRecharge ledger.Kind = "recharge"
	KindSpend    ledger.Kind = "spend"
	KindRefund   ledger.Kind = "refund"
)

func valueScale(sv StoredValue) int32 {
	if sv.Scale == 0 {
		return 2
	}
	return sv.Scale
}

// ValueAccount is the totals of a member's stored value.
type ValueAccount struct {
	Balance decimal.Decimal `json:"balance"`
	// Recharged, Spent and Refunded are cumulative, kept for levels, tags
	// and reports.
	Recharged decimal.Decimal `json:"recharged"`
	Spent     decimal.Decimal `json:"spent"`
	Refunded  decimal.Decimal `json:"refunded"`
}

// ValueChange is the data of the value.* changes.
type ValueChange struct {
	Amount  decimal.Decimal `json:"amount"`
	Balance decimal.Decimal `json:"balance"`
}

const bValue = "value.stats"

type valuePart struct {
	p   *Program
	def StoredValue
}

func (v *valuePart) DueKinds() []string                       { return nil }
func (v *valuePart) Due(t *engine.Unit, it engine.Item) error { return nil }

// CheckEvent refuses a stored-value event whose amount is not positive or
// has more decimal places than the scale.
func (v *valuePart) CheckEvent(ev event.Event) error {
	sv := v.def
	if ev.Type != sv.Recharge && ev.Type != sv.Spend && ev.Type != sv.Refund {
		return nil
	}
	amt, _ := ev.Decimal(sv.Amount)
	if !amt.IsPositive() {
		return fmt.Errorf("attrs.%s: amount must be positive, got %s", sv.Amount, amt)
	}
	if !amt.Equal(amt.Truncate(valueScale(sv))) {
		return fmt.Errorf("attrs.%s: more than %d decimal places", sv.Amount, valueScale(sv))
	}
	return nil
}

func (v *valuePart) Process(t *engine.Unit, ev event.Event) error {
	var kind ledger.Kind
	var change string
	switch ev.Type {
	case v.def.Recharge:
		kind, change = KindRecharge, ChangeValueRecharged
	case v.def.Spend:
		kind, change = KindSpend, ChangeValueSpent
	case v.def.Refund:
		kind, change = KindRefund, ChangeValueRefunded
	default:
		return nil
	}
	amt, _ := ev.Decimal(v.def.Amount)
	member := ledger.MemberAccount(ev.Member, ledger.Value, "")
	pool := ledger.Pool(ledger.Value, string(kind))
	legs := []ledger.Leg{{Account: member, Amount: amt}, {Account: pool, Amount: amt.Neg()}}
	if kind == KindSpend {
		legs = []ledger.Leg{{Account: member, Amount: amt.Neg()}, {Account: pool, Amount: amt}}
	}
	posted, err := t.Post(ledger.Transaction{Kind: kind, Legs: legs})
	if err != nil {
		return err
	}
	acct, err := loadValue(t.Tx(), ev.Member)
	if err != nil {
		return err
	}
	switch kind {
	case KindRecharge:
		acct.Recharged = acct.Recharged.Add(amt)
	case KindSpend:
		acct.Spent = acct.Spent.Add(amt)
	case KindRefund:
		acct.Refunded = acct.Refunded.Add(amt)
	}
	raw, err := json.Marshal(acct)
	if err != nil {
		return err
	}
	if err := t.Tx().Put(bValue, []byte(ev.Member), raw); err != nil {
		return err
	}
	var bal decimal.Decimal
	for _, e := range posted.Entries {
		if e.Account == member {
			bal = e.Balance
		}
	}
	return t.Emit(change, ev.Member, ValueChange{Amount: amt, Balance: bal}, &rule.Reason{
		Rule: "stored_value." + string(kind), Inputs: map[string]string{v.def.Amount: amt.String()},
	})
}

func loadValue(tx store.Tx, member string) (ValueAccount, error) {
	var a ValueAccount
	v, err := tx.Get(bValue, []byte(member))
	if errors.Is(err, store.ErrNotFound) {
		return a, nil
	}
	if err != nil {
		return a, err
	}
	return a, json.Unmarshal(v, &a)
}

// StoredValue returns a member's stored-value balance and cumulative
// recharge, spend and refund.
func (p *Program) StoredValue(ctx context.Context, member string) (ValueAccount, error) {
	var a ValueAccount
	err := p.view(ctx, func(tx store.Tx, led *ledger.Ledger) error {
		var err error
		if a, err = loadValue(tx, member); err != nil {
			return err
		}
		a.Balance, err = led.Balance(ledger.MemberAccount(member, ledger.Value, ""))
		return err
	})
	if err != nil {
		return a, fmt.Errorf("membership: stored value of %q: %w", member, err)
	}
	return a, nil
}
