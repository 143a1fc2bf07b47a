package value

import (
	"fmt"
	"slices"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
)

// Definition maps event types to the operations on a member's money
// balance (余额): it is the "stored_value" slot of a program definition.
// Each named type must declare Amount as a required decimal attribute.
type Definition struct {
	// Recharge credits the balance (and the cumulative recharge).
	Recharge string `json:"recharge,omitempty"`
	// Spend debits the balance; an event that would take it below zero is
	// rejected with ledger.ErrInsufficientBalance and changes nothing.
	Spend string `json:"spend,omitempty"`
	// Refund credits back a refunded purchase; an event that would take
	// the member's cumulative refunds past the member's cumulative spend
	// is rejected with ErrRefundExceedsSpend and changes nothing.
	Refund string `json:"refund,omitempty"`
	// Withdraw debits the balance by recharged money paid back to the
	// member (储值退款: the unspent balance returned on request, or a
	// recharge paid by card and charged back). It is no spend: it counts
	// in a cumulative total of its own (Account's Withdrawn), not in the
	// spend, so a refund never credits it back. Like a spend, an event
	// that would take the balance below zero is rejected with
	// ledger.ErrInsufficientBalance and changes nothing. The cumulative
	// recharge stays what was recharged: Recharged less Withdrawn is what
	// the member recharged and did not take back. What it does to growth
	// and to the tags' recharge total: see the package comment,
	// Withdrawals.
	Withdraw string `json:"withdraw,omitempty"`
	// Amount names the decimal attribute holding the amount.
	Amount string `json:"amount"`
	// Scale is the number of decimal places amounts may have, 0 to 8:
	// nil (unset, "scale" absent from the JSON) means the default, 2;
	// new(int32(0)) ("scale": 0) means whole units, for a currency with
	// no minor unit (yen, won). Amounts with more places are refused
	// rather than rounded, since money must not drift.
	//
	// It is a pointer so that 0 can mean whole units while an unset
	// Scale keeps meaning 2, as it did when the field was an int32 whose
	// 0 stood for the default: a definition that left it out encodes and
	// behaves as before. [Definition.Places] gives the scale in force.
	Scale *int32 `json:"scale,omitempty"`
}

// DefaultScale is the number of decimal places of stored value when
// Definition.Scale is nil.
const DefaultScale = 2

// Env is what validating a stored-value definition needs from the rest of
// the program: the declared event types.
type Env interface {
	EventType(name string) (event.Type, bool)
}

// Places returns the number of decimal places amounts may have: Scale,
// or DefaultScale when Scale is nil.
func (d Definition) Places() int32 {
	if d.Scale == nil {
		return DefaultScale
	}
	return *d.Scale
}

// Check returns nil, or a *rule.Problems listing every problem with its
// path: an empty Amount, a Scale outside 0 to 8, an
// event type named by two operations, and each operation's event type
// that is not declared or does not declare Amount as a required decimal
// attribute.
func (d Definition) Check(env Env) error {
	var ps rule.Problems
	if d.Amount == "" {
		ps.Addf("amount", "empty")
	}
	if sc := d.Places(); sc < 0 || sc > rule.MaxScale {
		ps.Addf("scale", "must be 0 to %d", rule.MaxScale)
	}
	ops := []struct{ path, typ string }{{"recharge", d.Recharge}, {"spend", d.Spend}, {"refund", d.Refund}, {"withdraw", d.Withdraw}}
	for i, f := range ops {
		if f.typ == "" {
			continue
		}
		// An event is one operation: with one type named twice, the
		// first operation would take every such event.
		if j := slices.IndexFunc(ops[:i], func(o struct{ path, typ string }) bool { return o.typ == f.typ }); j >= 0 {
			ps.Addf(f.path, "event type %q is already the %s", f.typ, ops[j].path)
			continue
		}
		if env == nil {
			continue
		}
		t, ok := env.EventType(f.typ)
		if !ok {
			ps.Add(f.path, fmt.Errorf("%w %q", event.ErrUnknownType, f.typ))
			continue
		}
		a, ok := t.Attr(d.Amount)
		switch {
		case !ok:
			ps.Add(f.path, fmt.Errorf("%w %q in type %q", event.ErrUnknownAttribute, d.Amount, f.typ))
		case a.Kind != event.Decimal:
			ps.Add(f.path, fmt.Errorf("%w: %q of %q is %s, want %s", event.ErrAttributeType, d.Amount, f.typ, a.Kind, event.Decimal))
		case !a.Required:
			ps.Addf(f.path, "attribute %q of %q must be required", d.Amount, f.typ)
		}
	}
	return ps.Err()
}
