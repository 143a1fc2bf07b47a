package engine

import (
	"context"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/drytx"
	"github.com/memberkit/membership/store"
)

// Quote evaluates ev, already validated, as Process would apply it, and
// writes nothing; see membership.Program.Quote. It runs Process's own
// unit of work (processTx, every part unchanged) in a read-only
// transaction of the store, on a drytx.Tx that keeps the unit's writes in
// memory and drops them: the event is not recorded, nothing reaches the
// feed or the due index, no stock or counter moves. It needs only
// store.Store.View, so it works on every store, and quotes run alongside
// each other and alongside writers.
func (e *Engine) Quote(ctx context.Context, ev event.Event) (*change.Outcome, error) {
	var out *change.Outcome
	err := e.st.View(ctx, func(tx store.Tx) error {
		d := drytx.New(tx)
		defer d.End()
		var err error
		out, _, err = e.processTx(d.Tx(), ev, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.local(out)
	return out, nil
}
