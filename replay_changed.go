package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/memberkit/membership/internal/engine"
)

// changed applies one input under a changed definition
// (ReplayOptions.Changed): a refusal is recorded, not returned.
func (r *replay) changed(ctx context.Context, in engine.Input) error {
	var err error
	switch in.Kind {
	case engine.InputEvent:
		done := r.p.eng.ReplayingChanged(in.Rand)
		_, err = r.p.Process(ctx, in.Event)
		done()
	case engine.InputAdvance:
		// A page of the source's is a page here; its last page (no items)
		// performs all that is due here by then, however many pages. What
		// the pages do is not compared with the source's (their items nor
		// their digests): the definition differs.
		done := r.p.eng.ReplayingChanged(in.Rand)
		for {
			n, _, perr := r.p.eng.AdvancePage(ctx, in.At)
			if perr != nil {
				err = fmt.Errorf("input %d (advance to %s): %w", in.Seq, in.At, perr)
				break
			}
			if n == 0 || in.Items > 0 {
				break
			}
		}
		done()
		if err != nil {
			return err // due work that fails would fail again at every later page
		}
	case engine.InputRequest, engine.InputUpdate:
		op, ok := r.ops[in.Action]
		if !ok {
			return fmt.Errorf("input %d: %w: unknown action %q", in.Seq, engine.ErrCorrupt, in.Action)
		}
		body := in.Body
		if r.coupons != nil {
			body, err = r.coupons.Request(ctx, in.Action, body)
		}
		if err == nil {
			done := r.p.eng.ReplayingChanged(in.Rand)
			err = op(ctx, body)
			done()
		}
	}
	if err != nil {
		if fatal(err) {
			return fmt.Errorf("input %d (%s): %w", in.Seq, kindName(in), err)
		}
		r.res.Refused = append(r.res.Refused, refusal(in, err, r.p.loc))
		r.step(0, in.Seq)
		return nil
	}
	r.step(1, in.Seq)
	return nil
}

// refusal describes a refused input.
func refusal(in engine.Input, err error, loc *time.Location) ReplayRefusal {
	rf := ReplayRefusal{Seq: in.Seq, At: in.At.In(loc), Action: in.Action, Err: err}
	if in.Kind == engine.InputEvent {
		rf.Action, rf.ID, rf.Member = "event", in.Event.ID, in.Event.Member
		return rf
	}
	// Every request names its ID, and most their member, under these
	// names (a checkout's member is its order's). "order" is an object
	// only in some requests: a points + cash redemption's is an amount,
	// a coupon use's or release's an order ID; it is read apart, so that
	// its shape does not lose the request's ID.
	var names struct {
		RequestID string          `json:"request_id"`
		Member    string          `json:"member"`
		Order     json.RawMessage `json:"order"`
	}
	if json.Unmarshal(in.Body, &names) == nil {
		rf.ID, rf.Member = names.RequestID, names.Member
		var order struct {
			Member string `json:"member"`
		}
		if rf.Member == "" && json.Unmarshal(names.Order, &order) == nil {
			rf.Member = order.Member
		}
	}
	return rf
}
