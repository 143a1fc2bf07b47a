package points

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

var _ engine.Eraser = (*part)(nil)

// erasedNote is the note of the decisions an erasure makes.
const erasedNote = "closed by the member's erasure"

// Erase blanks the reason and the decision note of the member's manual
// adjustments (free text an operator wrote, which may hold personal
// data), and closes what waits on an operator, since no call can decide
// it once the member is erased: a pending adjustment is rejected and a
// frozen day waiting for review is voided, by the erasure's operator at
// its time, each published as an operator's decision would be (its
// reason noting the erasure). Nothing the member was not given is given:
// the adjustment no second operator approved is not applied, the frozen
// points no operator restored are voided (posted to the program's voided
// pool, so the ledger balances). An erasure dated before an adjustment's
// request or a review's last points is refused as the decision would be.
// Amounts, states, operators and times of the adjustments are kept.
// Adjustments are keyed by ID, so Erase reads them all: an erasure costs
// a scan of the adjustments ever made, which are operator calls, far
// fewer than events, and of the open reviews of each program.
func (pt *part) Erase(u *engine.Unit, member string) error {
	var pending []Adjustment
	_, err := record.Rewrite(u.Tx(), bAdjust, nil, nil, func(a *Adjustment) bool {
		if a.Member != member {
			return false
		}
		blanked := a.Reason != "" || a.Note != ""
		a.Reason, a.Note = "", ""
		if a.State == AdjustmentPending {
			pending = append(pending, *a)
		}
		return blanked
	})
	if err != nil {
		return err
	}
	operator := u.Ref().Operator
	for _, adj := range pending {
		if u.At().Before(adj.Requested) {
			return argument("at", fmt.Errorf("%s is before the request of adjustment %s, %s, which the erasure rejects",
				u.At().In(pt.loc).Format(time.RFC3339), adj.ID, adj.Requested.In(pt.loc).Format(time.RFC3339)))
		}
		if err := pt.reject(u, adj, operator, "", &rule.Reason{Rule: "points.adjust", Note: erasedNote}); err != nil {
			return err
		}
	}
	for _, prog := range pt.def.Programs {
		var open []Review
		pre := keys.New().Str(prog.Name)
		err := u.Tx().Scan(bOpen, pre, store.PrefixEnd(pre), false, func(k, _ []byte) error {
			var rv Review
			if found, err := getReview(u.Tx(), k, &rv); err != nil || !found {
				return cmp.Or(err, record.Corrupt(bOpen, k, errors.New("an open review that is not there")))
			}
			if rv.Member == member {
				open = append(open, rv)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Decided once the scan has ended, as a store's Scan requires.
		for _, rv := range open {
			req := ReviewRequest{Member: member, Operator: operator, Note: erasedNote, Program: rv.Program, Date: rv.Date}
			if err := pt.review(u, req, false); err != nil {
				return err
			}
		}
	}
	return nil
}
