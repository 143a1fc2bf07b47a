package membership

import (
	"context"
	"fmt"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
)

// Quote evaluates ev exactly as Process would apply it now, and writes
// nothing: the outcome has the ledger entries (points and growth earned,
// gifts) and the changes (the level reached, coupons issued, task
// progress and completions), each with its reason, that Process would
// return for ev on the store as it is. A host shows it before the event
// happens ("this order earns 120 points and takes you to Gold").
//
// Quote runs Process's own unit of work, every rule unchanged, in a
// read-only transaction of the store whose writes are kept in memory and
// dropped (so it works on every store): the event is not recorded as
// processed (a later Process of it is not a Duplicate), nothing reaches
// the change feed, the due index or any counter, and no coupon stock is
// taken. Quotes run alongside each other and alongside writes; a quote
// reads one snapshot, so a write that commits meanwhile may make the
// Process that follows differ from it.
//
// It validates ev as Process does (errors wrap ErrInvalidEvent or
// ErrUnknownEventType), and a rule that refuses the event (a stored-value
// spend beyond the balance) returns its error. An event whose ID was
// already processed returns the outcome recorded for it with Duplicate
// set, as Process would, even where the definition now in force refuses
// the event (a version installed since dropped its type or an attribute:
// Quote refused such an event before, where Process returned its first
// outcome); the same ID with different content returns ErrEventConflict. A Program whose definition another instance has
// replaced returns ErrDefinitionSuperseded.
//
// Coupon codes, and the amounts of random coupons, are drawn from the
// program's random source (WithRand) at issue, as Process draws them: a
// quote shows codes and amounts of its own, not those Process will issue,
// and a deterministic source moves on with each quote that issues a
// coupon.
func (p *Program) Quote(ctx context.Context, ev event.Event) (*change.Outcome, error) {
	if err := p.check(ev); err != nil {
		// As in Process: a version installed since may refuse an event
		// an earlier one took, whose quote is still its first outcome.
		switch out, rerr := p.retried(ctx, ev); {
		case rerr != nil:
			err = rerr
		case out != nil:
			return out, nil
		}
		return nil, fmt.Errorf("membership: quote %q: %w", ev.ID, err)
	}
	out, err := p.eng.Quote(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("membership: quote %q: %w", ev.ID, err)
	}
	return out, nil
}
