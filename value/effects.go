package value

import (
	"fmt"

	"github.com/memberkit/membership/change"
	"github.com/shopspring/decimal"
)

// Effects is what an outcome did to stored value.
type Effects struct {
	// Recharged, Spent, Refunded and Withdrawn are the amounts moved (zero
	// when none).
	Recharged decimal.Decimal
	Spent     decimal.Decimal
	Refunded  decimal.Decimal
	Withdrawn decimal.Decimal
	// Opened is the opening balance a member migrated in brings
	// (Program.OpenMember, ChangeOpened): not a recharge.
	Opened decimal.Decimal
	// Changed reports whether the outcome moved any stored value or
	// opened a member's; Balance is then the member's balance after its
	// last movement.
	Changed bool
	Balance decimal.Decimal
}

// EffectsOf reads what an outcome (of Program.Process or any other call,
// Program.OpenMember's included) did to stored value from its value.*
// changes, so a host need not decode them. It returns an error only for a
// change whose data does not decode.
func EffectsOf(out *change.Outcome) (Effects, error) {
	var ef Effects
	if out == nil {
		return ef, nil
	}
	for _, c := range out.Changes {
		var to *decimal.Decimal
		switch c.Kind {
		case ChangeRecharged:
			to = &ef.Recharged
		case ChangeSpent:
			to = &ef.Spent
		case ChangeRefunded:
			to = &ef.Refunded
		case ChangeWithdrawn:
			to = &ef.Withdrawn
		case ChangeOpened:
			to = &ef.Opened
		default:
			continue
		}
		var d Change
		if err := c.Decode(&d); err != nil {
			return Effects{}, fmt.Errorf("value: effects of %q: change %d: %w", out.Event, c.Seq, err)
		}
		*to = to.Add(d.Amount)
		ef.Changed, ef.Balance = true, d.Balance
	}
	return ef, nil
}
