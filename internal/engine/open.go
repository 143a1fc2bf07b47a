package engine

import (
	"fmt"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
)

// KindOpening is the ledger kind of an opening balance (a member's points,
// growth or stored value migrated from another system), posted against
// the asset's pool of that name, so that the ledger's identity holds after
// an import.
const KindOpening ledger.Kind = "opening"

// ErrKnownMember is wrapped by the refusal of an opening state for a
// member the program already has a history of.
var ErrKnownMember = fmt.Errorf("%w: the member is already known", event.ErrInvalidArgument)

// Opener is a part that sets its share of a member's opening state
// (migrate.Member): the points lots, the level, the coupons held. It
// returns errors naming the field (migrate.FieldError).
type Opener interface {
	Open(u *Unit, m *migrate.Member) error
}

// Open sets a member's opening state, each Opener part its share, in the
// order the parts were added. The member must be new to the program: one
// with a ledger account (or, for the level part, a level), or erased, is refused (ErrKnownMember,
// ErrErased).
func (u *Unit) Open(m *migrate.Member) error {
	if known, err := u.led.HasAccounts(m.Member); err != nil {
		return err
	} else if known {
		return fmt.Errorf("%w: %q has ledger accounts", ErrKnownMember, m.Member)
	}
	for _, p := range u.e.parts {
		if o, ok := p.(Opener); ok {
			if err := o.Open(u, m); err != nil {
				return err
			}
		}
	}
	return nil
}
