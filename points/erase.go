package points

import (
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/record"
)

var _ engine.Eraser = (*part)(nil)

// Erase blanks the reason and the decision note of the member's manual
// adjustments (free text an operator wrote, which may hold personal
// data). Their amounts, states, operators and times are kept; a pending
// one stays pending, and deciding it is refused as a request about an
// erased member. Adjustments are keyed by ID, so Erase reads them all: an
// erasure costs a scan of the adjustments ever made, which are operator
// calls, far fewer than events.
func (pt *part) Erase(u *engine.Unit, member string) error {
	_, err := record.Rewrite(u.Tx(), bAdjust, nil, nil, func(a *Adjustment) bool {
		if a.Member != member || (a.Reason == "" && a.Note == "") {
			return false
		}
		a.Reason, a.Note = "", ""
		return true
	})
	return err
}
