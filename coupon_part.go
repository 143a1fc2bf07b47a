package membership

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/engine"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// Change kinds published by the coupon part. The data of the coupon.*
// kinds is the coupon after the change (decode into coupon.Coupon); of
// pack.issued a coupon.PackIssued; of coupon.claim_refused a
// CouponRefusal.
const (
	ChangeCouponIssued       = "coupon.issued"
	ChangeCouponClaimRefused = "coupon.claim_refused"
	ChangeCouponLocked       = "coupon.locked"
	ChangeCouponReleased     = "coupon.released"
	ChangeCouponUsed         = "coupon.used"
	ChangeCouponExpired      = "coupon.expired"
	ChangeCouponRevoked      = "coupon.revoked"
	ChangePackIssued         = "pack.issued"
)

// Due kinds of the coupon part: a coupon's expiry, and the release of an
// order's locked coupons when its hold runs out.
const (
	dueCouponExpire  = "coupon.expire"
	dueCouponRelease = "coupon.release"
)

// CouponRefusal is the data of a coupon.claim_refused change: a gift or
// task reward that could not be issued, and why. The event that caused it
// still succeeds.
type CouponRefusal struct {
	Template string        `json:"template,omitempty"`
	Pack     string        `json:"pack,omitempty"`
	Count    int           `json:"count,omitempty"`
	Method   coupon.Method `json:"method"`
	// Cause is the refusal: "out_of_stock", "limit_reached",
	// "not_eligible" or "outside_period"; Error the full message.
	Cause string `json:"cause"`
	Error string `json:"error"`
}

// refusalCause names a claim refusal, or "" for an error that is not one.
func refusalCause(err error) string {
	switch {
	case errors.Is(err, coupon.ErrOutOfStock):
		return "out_of_stock"
	case errors.Is(err, coupon.ErrLimitReached):
		return "limit_reached"
	case errors.Is(err, coupon.ErrNotEligible):
		return "not_eligible"
	case errors.Is(err, coupon.ErrOutsidePeriod):
		return "outside_period"
	}
	return ""
}

// couponPart returns the coupon part, or nil when the definition has none.
func (p *Program) couponPart() *couponPart {
	if p.def.Coupons == nil {
		return nil
	}
	return &couponPart{p: p, def: p.def.Coupons}
}

type couponPart struct {
	p   *Program
	def *coupon.Definition
}

func (c *couponPart) book(t *engine.Unit) *coupon.Book { return coupon.NewBook(t.Tx(), c.def, c.p.loc) }

func (c *couponPart) DueKinds() []string { return []string{dueCouponExpire, dueCouponRelease} }

func (c *couponPart) Due(t *engine.Unit, it engine.Item) error {
	if it.Kind == dueCouponRelease {
		cs, err := c.book(t).Release(it.ID, t.At())
		if errors.Is(err, coupon.ErrNotFound) {
			return nil // used or released already
		}
		if err != nil {
			return err
		}
		return c.emitOrder(t, cs, it.ID, ChangeCouponReleased, "hold ran out")
	}
	cp, changed, err := c.book(t).Expire(it.ID, t.At())
	if err != nil || !changed {
		return err
	}
	return t.Emit(ChangeCouponExpired, cp.Member, cp, &rule.Reason{
		Rule: "coupon." + cp.Template, Note: "validity ended " + cp.Expires.In(c.p.loc).Format(time.RFC3339),
	})
}

// process issues the definition's gifts for the event's type.
func (c *couponPart) Process(t *engine.Unit, ev event.Event) error {
	for i, g := range c.def.Gifts {
		if g.Event != ev.Type {
			continue
		}
		why := rule.Reason{Rule: fmt.Sprintf("coupons.gifts[%d]", i), Inputs: map[string]string{"event": ev.Type}}
		r := rule.Reward{Kind: rule.RewardCoupon, Template: g.Template, Count: g.Count}
		if g.Pack != "" {
			r = rule.Reward{Kind: rule.RewardPack, Pack: g.Pack}
		}
		if err := c.grant(t, ev.Member, r, coupon.System, why); err != nil {
			return err
		}
	}
	return nil
}

func (c *couponPart) RewardKinds() []rule.RewardKind {
	return []rule.RewardKind{rule.RewardCoupon, rule.RewardPack}
}

// reward issues a level gift or a task reward: by the Task method when the
// reason's rule is a task's ("task…"), by System otherwise. A refusal is
// recorded as a coupon.claim_refused change and does not fail the event.
func (c *couponPart) Reward(t *engine.Unit, member string, r rule.Reward, why rule.Reason) error {
	m := coupon.System
	if strings.HasPrefix(why.Rule, "task") {
		m = coupon.Task
	}
	return c.grant(t, member, r, m, why)
}

func (c *couponPart) grant(t *engine.Unit, member string, r rule.Reward, m coupon.Method, why rule.Reason) error {
	var err error
	if r.Kind == rule.RewardPack {
		_, err = c.issuePack(t, member, r.Pack, m)
	} else {
		_, err = c.issue(t, member, r.Template, r.Coupons(), m, &why)
	}
	cause := refusalCause(err)
	if cause == "" {
		return err
	}
	why.Note = err.Error()
	return t.Emit(ChangeCouponClaimRefused, member, CouponRefusal{
		Template: r.Template, Pack: r.Pack, Count: r.Count, Method: m, Cause: cause, Error: err.Error(),
	}, &why)
}

// facts reads the member's level and tags when rule has conditions.
func (c *couponPart) facts(t *engine.Unit, member string, cr coupon.ClaimRule) (coupon.Facts, error) {
	var f coupon.Facts
	if !cr.NeedsFacts() {
		return f, nil
	}
	var err error
	if f.Level, err = t.MemberLevel(member); err != nil {
		return f, err
	}
	f.Tags, err = t.MemberTags(member)
	return f, err
}

// issue issues coupons of a template and records them; why, when set, is
// the reason of a gift or reward.
func (c *couponPart) issue(t *engine.Unit, member, template string, n int, m coupon.Method, why *rule.Reason) ([]coupon.Coupon, error) {
	tpl, ok := c.def.Template(template)
	if !ok {
		return nil, fmt.Errorf("coupon: issue %s: %w", template, coupon.ErrUnknownTemplate)
	}
	f, err := c.facts(t, member, tpl.Claim)
	if err != nil {
		return nil, err
	}
	cs, err := c.book(t).Issue(coupon.Issue{Member: member, Template: template, Count: n, Method: m, At: t.At(), Facts: f, Rand: c.p.rand})
	if err != nil {
		return nil, err
	}
	for _, cp := range cs {
		if err := c.issued(t, cp, why); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// issued schedules a new coupon's expiry and emits coupon.issued.
func (c *couponPart) issued(t *engine.Unit, cp coupon.Coupon, why *rule.Reason) error {
	if !cp.Expires.IsZero() {
		if err := t.Schedule(cp.Expires, dueCouponExpire, cp.ID, nil); err != nil {
			return err
		}
	}
	r := &rule.Reason{Rule: "coupon." + cp.Template, Inputs: map[string]string{"method": string(cp.Method)}}
	if why != nil {
		rw := *why
		r = &rw
	}
	if cp.Pack != "" && why == nil {
		r.Inputs["pack"] = cp.Pack
	}
	if cp.Type == coupon.Random {
		r.Inputs = copyInputs(r.Inputs)
		r.Inputs["drawn"] = cp.Amount.String()
	}
	return t.Emit(ChangeCouponIssued, cp.Member, cp, r)
}

func copyInputs(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (c *couponPart) issuePack(t *engine.Unit, member, pack string, m coupon.Method) (coupon.PackIssued, error) {
	pk, ok := c.def.Pack(pack)
	if !ok {
		return coupon.PackIssued{}, fmt.Errorf("coupon: issue pack %s: %w", pack, coupon.ErrUnknownTemplate)
	}
	f, err := c.facts(t, member, pk.Claim)
	if err != nil {
		return coupon.PackIssued{}, err
	}
	res, err := c.book(t).IssuePack(coupon.IssuePack{Member: member, Pack: pack, Method: m, At: t.At(), Facts: f, Rand: c.p.rand})
	if err != nil {
		return res, err
	}
	for _, cp := range res.Coupons {
		if err := c.issued(t, cp, nil); err != nil {
			return res, err
		}
	}
	why := &rule.Reason{Rule: "pack." + pack, Inputs: map[string]string{"method": string(m), "mode": string(pk.Mode)}}
	if len(res.Short) > 0 {
		why.Note = "some templates ran out; the pack holds what was left"
	}
	return res, t.Emit(ChangePackIssued, member, res, why)
}

// couponPartOf returns the coupon part, or an error when the program has
// no coupons.
func (p *Program) coupons() (*couponPart, error) {
	if p.parts.coupon != nil {
		return p.parts.coupon, nil
	}
	return nil, fmt.Errorf("membership: %w: the program defines no coupons", ErrInvalidArgument)
}

// ClaimRequest asks for coupons of a template for a member.
type ClaimRequest struct {
	// RequestID makes the call idempotent: a retry with the same ID and
	// request returns the same coupons.
	RequestID string `json:"request_id"`
	Member    string `json:"member"`
	Template  string `json:"template"`
	// Method is how the coupons are issued; empty means self-claim.
	Method coupon.Method `json:"method,omitempty"`
	// Count is the number of coupons; 0 means 1.
	Count int       `json:"count,omitempty"`
	Time  time.Time `json:"time"`
}

// Claim issues coupons of a template to a member (a self-claim, or an
// operator's issue with Method set to coupon.Operator), under the
// template's claim rule and stock, and returns them. A retry with the same
// RequestID returns the same coupons and changes nothing. A refusal
// changes nothing and returns an error wrapping coupon.ErrOutOfStock,
// coupon.ErrLimitReached, coupon.ErrNotEligible or coupon.ErrOutsidePeriod;
// an unknown template wraps coupon.ErrUnknownTemplate; a missing member or
// time, or a program without coupons, ErrInvalidArgument; the same
// RequestID with a different request ErrEventConflict.
func (p *Program) Claim(ctx context.Context, req ClaimRequest) ([]coupon.Coupon, *change.Outcome, error) {
	if req.Method == "" {
		req.Method = coupon.Self
	}
	c, err := p.coupons()
	if err == nil && (req.Member == "" || req.Time.IsZero()) {
		err = fmt.Errorf("%w: claim needs a member and a time", ErrInvalidArgument)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("membership: claim %s: %w", req.Template, err)
	}
	out, err := p.apply(ctx, req.RequestID, req, req.Time, ledger.Ref{}, req.Member, func(t *engine.Unit) error {
		_, err := c.issue(t, req.Member, req.Template, req.Count, req.Method, nil)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("membership: claim %s: %w", req.Template, err)
	}
	cs, err := decodeCoupons(out, ChangeCouponIssued)
	return cs, out, err
}

func decodeCoupons(out *change.Outcome, kind string) ([]coupon.Coupon, error) {
	var cs []coupon.Coupon
	for _, ch := range out.ChangesOf(kind) {
		var cp coupon.Coupon
		if err := ch.Decode(&cp); err != nil {
			return nil, err
		}
		cs = append(cs, cp)
	}
	return cs, nil
}

// PackRequest asks for a coupon pack for a member.
type PackRequest struct {
	RequestID string `json:"request_id"`
	Member    string `json:"member"`
	Pack      string `json:"pack"`
	// Method is how the pack is given; empty means self-claim.
	Method coupon.Method `json:"method,omitempty"`
	Time   time.Time     `json:"time"`
}

// ClaimPack gives a pack to a member under the pack's claim rule, stock
// and mode (coupon.AnyInvalid or coupon.AllInvalid), atomically, and
// returns what it gave. Retries and refusals behave as for Claim.
func (p *Program) ClaimPack(ctx context.Context, req PackRequest) (coupon.PackIssued, *change.Outcome, error) {
	if req.Method == "" {
		req.Method = coupon.Self
	}
	var res coupon.PackIssued
	c, err := p.coupons()
	if err == nil && (req.Member == "" || req.Time.IsZero()) {
		err = fmt.Errorf("%w: claim needs a member and a time", ErrInvalidArgument)
	}
	if err != nil {
		return res, nil, fmt.Errorf("membership: claim pack %s: %w", req.Pack, err)
	}
	out, err := p.apply(ctx, req.RequestID, req, req.Time, ledger.Ref{}, req.Member, func(t *engine.Unit) error {
		_, err := c.issuePack(t, req.Member, req.Pack, req.Method)
		return err
	})
	if err != nil {
		return res, nil, fmt.Errorf("membership: claim pack %s: %w", req.Pack, err)
	}
	chs := out.ChangesOf(ChangePackIssued)
	if len(chs) != 1 {
		return res, out, fmt.Errorf("membership: claim pack %s: outcome has %d pack changes", req.Pack, len(chs))
	}
	return res, out, chs[0].Decode(&res)
}

// BulkIssueRequest asks to issue a template to many members (a segment an
// operator chose).
type BulkIssueRequest struct {
	// RequestID identifies the bulk issue; each member's issue is
	// idempotent under RequestID + "/" + member, so a retry after a
	// failure completes the rest and gives no one a second coupon.
	RequestID string    `json:"request_id"`
	Members   []string  `json:"members"`
	Template  string    `json:"template"`
	Count     int       `json:"count,omitempty"`
	Time      time.Time `json:"time"`
}

// BulkIssued is the result of IssueToMembers.
type BulkIssued struct {
	// Issued are the coupons issued, by member.
	Issued map[string][]coupon.Coupon
	// Refused are the members refused, with the error (wrapping one of
	// the coupon claim sentinels).
	Refused map[string]error
}

// IssueToMembers issues a template to each listed member by the Operator
// method, each in its own transaction. A member refused (out of stock, a
// limit, not eligible) is listed in Refused and the rest go on; any other
// error stops the issue and is returned with what was done so far.
func (p *Program) IssueToMembers(ctx context.Context, req BulkIssueRequest) (BulkIssued, error) {
	res := BulkIssued{Issued: map[string][]coupon.Coupon{}, Refused: map[string]error{}}
	if req.RequestID == "" {
		return res, fmt.Errorf("membership: issue %s: %w: empty request ID", req.Template, ErrInvalidArgument)
	}
	for _, m := range req.Members {
		cs, _, err := p.Claim(ctx, ClaimRequest{
			RequestID: req.RequestID + "/" + m, Member: m, Template: req.Template,
			Method: coupon.Operator, Count: req.Count, Time: req.Time,
		})
		switch {
		case err == nil:
			res.Issued[m] = cs
		case refusalCause(err) != "":
			res.Refused[m] = err
		default:
			return res, err
		}
	}
	return res, nil
}

// Coupons returns a member's coupons in issue order; with live set, only
// those available or locked.
func (p *Program) Coupons(ctx context.Context, member string, live bool) ([]coupon.Coupon, error) {
	c, err := p.coupons()
	if err != nil {
		return nil, err
	}
	var cs []coupon.Coupon
	err = p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		cs, err = coupon.NewBook(tx, c.def, p.loc).Coupons(member, live)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("membership: coupons of %q: %w", member, err)
	}
	return cs, nil
}

// CouponByCode returns the coupon with a code as typed or scanned (a QR
// payload works too): an error wrapping coupon.ErrBadCode for a typo,
// coupon.ErrUnknownCode for a well-formed code no coupon has.
func (p *Program) CouponByCode(ctx context.Context, code string) (coupon.Coupon, error) {
	var cp coupon.Coupon
	c, err := p.coupons()
	if err != nil {
		return cp, err
	}
	err = p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		cp, err = coupon.NewBook(tx, c.def, p.loc).ByCode(code)
		return err
	})
	if err != nil {
		return cp, fmt.Errorf("membership: coupon by code: %w", err)
	}
	return cp, nil
}

// Checkout evaluates the member's live coupons against an order: each
// one's amount off or the reasons it does not apply, and the allowed
// combination with the largest amount off (see coupon.Best). It changes
// nothing. A malformed order wraps coupon.ErrInvalidOrder.
func (p *Program) Checkout(ctx context.Context, o coupon.Order) (coupon.Proposal, error) {
	var pr coupon.Proposal
	c, err := p.coupons()
	if err == nil {
		err = o.Check()
	}
	if err != nil {
		return pr, fmt.Errorf("membership: checkout: %w", err)
	}
	err = p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		held, err := coupon.NewBook(tx, c.def, p.loc).Held(o.Member)
		if err != nil {
			return err
		}
		pr = coupon.Best(o, held)
		return nil
	})
	if err != nil {
		return pr, fmt.Errorf("membership: checkout %s: %w", o.ID, err)
	}
	return pr, nil
}

// LockRequest asks to lock coupons for an order during checkout.
type LockRequest struct {
	RequestID string       `json:"request_id"`
	Order     coupon.Order `json:"order"`
	Coupons   []string     `json:"coupons"`
	// Hold, when set, releases the coupons automatically if the order is
	// neither paid (UseCoupons) nor cancelled (ReleaseCoupons) within Hold
	// of the order's time.
	Hold time.Duration `json:"hold,omitempty"`
}

// LockCoupons locks the member's coupons for an order at the order's time,
// after checking they apply and may be combined; the coupon.locked changes
// carry each one's amount off. Use them with UseCoupons or give them back
// with ReleaseCoupons. It returns an error wrapping coupon.ErrInvalidOrder,
// coupon.ErrNotFound, coupon.ErrState (a coupon not available),
// coupon.ErrNotCombinable or coupon.ErrNotApplicable, and changes nothing
// then.
func (p *Program) LockCoupons(ctx context.Context, req LockRequest) (*change.Outcome, error) {
	c, err := p.coupons()
	if err == nil {
		err = req.Order.Check()
	}
	if err != nil {
		return nil, fmt.Errorf("membership: lock coupons: %w", err)
	}
	out, err := p.apply(ctx, req.RequestID, req, req.Order.Time, ledger.Ref{Note: "order " + req.Order.ID}, req.Order.Member, func(t *engine.Unit) error {
		applied, total, err := c.book(t).Lock(req.Order, req.Coupons)
		if err != nil {
			return err
		}
		if req.Hold > 0 {
			if err := t.Schedule(req.Order.Time.Add(req.Hold), dueCouponRelease, req.Order.ID, nil); err != nil {
				return err
			}
		}
		for _, a := range applied {
			cp, err := c.book(t).Get(a.Coupon)
			if err != nil {
				return err
			}
			if err := t.Emit(ChangeCouponLocked, cp.Member, cp, &rule.Reason{
				Rule: "coupon." + cp.Template,
				Inputs: map[string]string{
					"order": req.Order.ID, "applicable": a.Applicable.String(), "amount_off": a.AmountOff.String(),
					"combined_amount_off": total.String(),
				},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("membership: lock coupons for %s: %w", req.Order.ID, err)
	}
	return out, nil
}

// OrderRequest names an order whose locked coupons are used or released.
type OrderRequest struct {
	RequestID string    `json:"request_id"`
	Order     string    `json:"order"`
	Time      time.Time `json:"time"`
}

// UseCoupons marks the coupons locked for an order as used (the order is
// paid). It returns an error wrapping coupon.ErrNotFound when none is
// locked for it.
func (p *Program) UseCoupons(ctx context.Context, req OrderRequest) (*change.Outcome, error) {
	return p.orderCoupons(ctx, req, "use", ChangeCouponUsed, (*coupon.Book).Use)
}

// ReleaseCoupons makes the coupons locked for an order available again
// (the order was cancelled); a coupon whose validity ended meanwhile
// becomes expired. It returns an error wrapping coupon.ErrNotFound when
// none is locked for it.
func (p *Program) ReleaseCoupons(ctx context.Context, req OrderRequest) (*change.Outcome, error) {
	return p.orderCoupons(ctx, req, "release", ChangeCouponReleased, (*coupon.Book).Release)
}

func (p *Program) orderCoupons(ctx context.Context, req OrderRequest, verb, kind string, f func(*coupon.Book, string, time.Time) ([]coupon.Coupon, error)) (*change.Outcome, error) {
	c, err := p.coupons()
	if err == nil && (req.Order == "" || req.Time.IsZero()) {
		err = fmt.Errorf("%w: needs an order and a time", ErrInvalidArgument)
	}
	if err != nil {
		return nil, fmt.Errorf("membership: %s coupons: %w", verb, err)
	}
	out, err := p.apply(ctx, req.RequestID, req, req.Time, ledger.Ref{Note: "order " + req.Order}, "", func(t *engine.Unit) error {
		cs, err := f(c.book(t), req.Order, t.At())
		if err != nil {
			return err
		}
		return c.emitOrder(t, cs, req.Order, kind, "")
	})
	if err != nil {
		return nil, fmt.Errorf("membership: %s coupons of order %s: %w", verb, req.Order, err)
	}
	return out, nil
}

// emitOrder emits kind (coupon.expired for a coupon that expired while
// locked) for each coupon of an order.
func (c *couponPart) emitOrder(t *engine.Unit, cs []coupon.Coupon, order, kind, note string) error {
	for _, cp := range cs {
		k := kind
		if cp.State == coupon.Expired {
			k = ChangeCouponExpired
		}
		t.Outcome().Member = cp.Member
		if err := t.Emit(k, cp.Member, cp, &rule.Reason{Rule: "coupon." + cp.Template, Inputs: map[string]string{"order": order}, Note: note}); err != nil {
			return err
		}
	}
	return nil
}

// RedeemRequest redeems a coupon by code (or QR payload) at a store.
type RedeemRequest struct {
	RequestID string `json:"request_id"`
	Code      string `json:"code"`
	// Via is how the code was presented (default coupon.ByCode).
	Via coupon.Redemption `json:"via,omitempty"`
	// Order is the order it is redeemed against; its Member may be empty
	// (the coupon's owner is taken).
	Order coupon.Order `json:"order"`
}

// RedeemCode redeems a coupon by code at a store (核销): it checks the
// coupon against the order and marks it used in one step, returning it
// with its amount off. It returns an error wrapping coupon.ErrBadCode (a
// typo), coupon.ErrUnknownCode, coupon.ErrNotFound (another member's
// coupon), coupon.ErrState (already used, locked, expired or revoked),
// coupon.ErrInvalidOrder or coupon.ErrNotApplicable, and changes nothing
// then.
func (p *Program) RedeemCode(ctx context.Context, req RedeemRequest) (coupon.Coupon, *change.Outcome, error) {
	if req.Via == "" {
		req.Via = coupon.ByCode
	}
	c, err := p.coupons()
	if err == nil && req.Order.Time.IsZero() {
		err = fmt.Errorf("%w: order without a time", coupon.ErrInvalidOrder)
	}
	if err != nil {
		return coupon.Coupon{}, nil, fmt.Errorf("membership: redeem: %w", err)
	}
	out, err := p.apply(ctx, req.RequestID, req, req.Order.Time, ledger.Ref{Note: "order " + req.Order.ID}, req.Order.Member, func(t *engine.Unit) error {
		cp, a, err := c.book(t).Redeem(req.Code, req.Via, req.Order)
		if err != nil {
			return err
		}
		t.Outcome().Member = cp.Member
		return t.Emit(ChangeCouponUsed, cp.Member, cp, &rule.Reason{
			Rule:   "coupon." + cp.Template,
			Inputs: map[string]string{"order": req.Order.ID, "store": req.Order.Store, "via": string(req.Via), "applicable": a.Applicable.String()},
		})
	})
	if err != nil {
		return coupon.Coupon{}, nil, fmt.Errorf("membership: redeem: %w", err)
	}
	cs, err := decodeCoupons(out, ChangeCouponUsed)
	if err == nil && len(cs) != 1 {
		err = fmt.Errorf("membership: redeem: outcome has %d used coupons", len(cs))
	}
	if err != nil {
		return coupon.Coupon{}, out, err
	}
	return cs[0], out, nil
}

// RevokeRequest revokes a coupon (an operator's action).
type RevokeRequest struct {
	RequestID string    `json:"request_id"`
	Coupon    string    `json:"coupon"`
	Operator  string    `json:"operator"`
	Note      string    `json:"note,omitempty"`
	Time      time.Time `json:"time"`
}

// RevokeCoupon revokes an available or locked coupon. It returns an error
// wrapping coupon.ErrNotFound or coupon.ErrState (used, expired or already
// revoked).
func (p *Program) RevokeCoupon(ctx context.Context, req RevokeRequest) (*change.Outcome, error) {
	c, err := p.coupons()
	if err == nil && (req.Coupon == "" || req.Operator == "" || req.Time.IsZero()) {
		err = fmt.Errorf("%w: revoke needs a coupon, an operator and a time", ErrInvalidArgument)
	}
	if err != nil {
		return nil, fmt.Errorf("membership: revoke coupon: %w", err)
	}
	out, err := p.apply(ctx, req.RequestID, req, req.Time, ledger.Ref{Note: "revoked by " + req.Operator}, "", func(t *engine.Unit) error {
		cp, err := c.book(t).Revoke(req.Coupon, t.At(), req.Note)
		if err != nil {
			return err
		}
		t.Outcome().Member = cp.Member
		return t.Emit(ChangeCouponRevoked, cp.Member, cp, &rule.Reason{
			Rule: "coupon." + cp.Template, Inputs: map[string]string{"operator": req.Operator}, Note: req.Note,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("membership: revoke coupon %s: %w", req.Coupon, err)
	}
	return out, nil
}

// CouponStats returns coupon statistics for a period, per template and
// store with sums per template, store and cost centre (see
// coupon.Book.Stats).
func (p *Program) CouponStats(ctx context.Context, q coupon.StatsQuery) (coupon.Report, error) {
	var r coupon.Report
	c, err := p.coupons()
	if err != nil {
		return r, err
	}
	err = p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		r, err = coupon.NewBook(tx, c.def, p.loc).Stats(q)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("membership: coupon stats: %w", err)
	}
	return r, nil
}
