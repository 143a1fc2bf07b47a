package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/memberkit/membership/coupon"
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
		// performs all that is due here by then, however many pages.
		done := r.p.eng.ReplayingChanged(in.Rand)
		for {
			n, perr := r.p.eng.AdvancePage(ctx, in.At)
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
			body, err = r.coupons.translate(ctx, in.Action, body)
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
	// names (a checkout's member is its order's).
	var names struct {
		RequestID string `json:"request_id"`
		Member    string `json:"member"`
		Order     struct {
			Member string `json:"member"`
		} `json:"order"`
	}
	if json.Unmarshal(in.Body, &names) == nil {
		rf.ID, rf.Member = names.RequestID, names.Member
		if rf.Member == "" {
			rf.Member = names.Order.Member
		}
	}
	return rf
}

// counterparts gives a journaled request naming a coupon of the source the
// coupon at the same place in the replaying program: the same member's
// k-th coupon of the same template, in issue order. A coupon's ID,
// member, template and code never change once issued, so the source's are
// read once per member, from its store as it is now.
type counterparts struct {
	src, dst *coupon.Handle
	lists    map[string][]coupon.Coupon // the source's coupons by member
}

// translate returns body with the coupons it names replaced by their
// counterparts; an error wrapping ErrNoCounterpart when one has none.
func (c *counterparts) translate(ctx context.Context, action string, body []byte) ([]byte, error) {
	var req any
	var err error
	switch action {
	case "coupon.lock":
		var r coupon.LockRequest
		if err = unmarshal(body, &r); err == nil {
			for i, id := range r.Coupons {
				if r.Coupons[i], err = c.id(ctx, id); err != nil {
					break
				}
			}
		}
		req = r
	case "coupon.redeem":
		var r coupon.RedeemRequest
		if err = unmarshal(body, &r); err == nil {
			r.Code, err = c.code(ctx, r.Code)
		}
		req = r
	case "coupon.revoke":
		var r coupon.RevokeRequest
		if err = unmarshal(body, &r); err == nil {
			r.Coupon, err = c.id(ctx, r.Coupon)
		}
		req = r
	default:
		return body, nil
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(req)
}

func unmarshal(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: request: %v", engine.ErrCorrupt, err)
	}
	return nil
}

// id returns the ID of the counterpart of the source's coupon id ("c<n>.<member>").
func (c *counterparts) id(ctx context.Context, id string) (string, error) {
	_, member, ok := strings.Cut(id, ".")
	if !ok {
		return id, nil // not a coupon ID: passed as it is, for the call to refuse
	}
	cp, err := c.counterpart(ctx, member, id)
	return cp.ID, err
}

// code returns the code of the counterpart of the source's coupon of code
// (a QR payload gives a QR payload).
func (c *counterparts) code(ctx context.Context, code string) (string, error) {
	src, err := c.src.ByCode(ctx, code)
	if err != nil {
		return code, nil // not a code of the source's: passed as it is, for the call to refuse
	}
	cp, err := c.counterpart(ctx, src.Member, src.ID)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(strings.TrimSpace(code), coupon.QRPrefix) {
		return coupon.QR(cp.Code), nil
	}
	return cp.Code, nil
}

// counterpart returns the replaying program's coupon at the place of the
// source's coupon id of member.
func (c *counterparts) counterpart(ctx context.Context, member, id string) (coupon.Coupon, error) {
	list, ok := c.lists[member]
	if !ok {
		var err error
		if list, err = c.src.List(ctx, member); err != nil {
			return coupon.Coupon{}, err
		}
		c.lists[member] = list
	}
	i := slices.IndexFunc(list, func(cp coupon.Coupon) bool { return cp.ID == id })
	if i < 0 {
		return coupon.Coupon{ID: id}, nil // not the source's (a journal never names one): passed as it is
	}
	template, k := list[i].Template, 0
	for _, cp := range list[:i+1] {
		if cp.Template == template {
			k++
		}
	}
	mine, err := c.dst.List(ctx, member)
	if err != nil {
		return coupon.Coupon{}, err
	}
	n := 0
	for _, cp := range mine {
		if cp.Template == template {
			if n++; n == k {
				return cp, nil
			}
		}
	}
	return coupon.Coupon{}, fmt.Errorf("%w: coupon %s is %s's coupon no. %d of template %q, of which this program has issued %d", ErrNoCounterpart, id, member, k, template, n)
}
