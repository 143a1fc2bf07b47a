package coupon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// ErrNotDefined is returned by every call of a Handle whose program
// defines no coupons but List and Live, which list no coupon.
var ErrNotDefined = errors.New("the program defines no coupons")

// Handle is a program's coupon calls: claims and issues, the member's
// coupons, checkout (propose, lock, then use or release), redemption by
// code at a store, revocation and statistics. Every write takes a request
// whose RequestID makes it idempotent: the same ID and request again
// returns the first outcome with Duplicate set and changes nothing; the
// same ID with another request is an error wrapping event.ErrConflict. The
// retry of a request applied before returns its first outcome even where
// the definition now in force would refuse it (a newer version lowered the
// money scale below its order's places, or a claim limit). A
// request without a RequestID or a time is an error wrapping
// event.ErrInvalidArgument. Times come back in the program's zone. A
// Handle is safe for concurrent use.
type Handle struct {
	e *engine.Engine
	p *part // nil when the program defines no coupons
}

// New registers the coupon part of def with e and returns its handle.
// With def nil it registers nothing: List and Live return an empty list,
// the other calls ErrNotDefined.
//
// A host never calls New (its engine is internal): membership's Open does,
// and [github.com/memberkit/membership.Program.Coupons] returns the handle.
func New(e *engine.Engine, def *Definition) *Handle {
	h := &Handle{e: e}
	e.CheckInUse(func(tx store.Tx) error { return inUse(tx, def) })
	if def != nil {
		h.p = &part{def: def, loc: e.Location(), segs: parseSegments(def)}
		e.Add(h.p)
	}
	return h
}

// defined returns ErrNotDefined when the program has no coupons.
func (h *Handle) defined() error {
	if h.p == nil {
		return ErrNotDefined
	}
	return nil
}

// apply runs fn as the idempotent request id, the call action (in the
// audit trail and the journal) asked by operator, after check, the
// call's checks of the request (see engine.Request.Check: a retry they
// refuse of a request applied before returns its first outcome).
func (h *Handle) apply(ctx context.Context, action, operator, id string, body any, at time.Time, member, note string, check func() error, fn func(u *engine.Unit) error) (*change.Outcome, error) {
	return h.applyOwned(ctx, action, operator, id, body, at, member, note, nil, check, fn)
}

// applyOwned is apply for a call naming a coupon or an order rather than
// a member: owner finds the coupon whose member a refusal made before
// the call found it is filed under in the audit trail (see
// engine.Request.Owner).
func (h *Handle) applyOwned(ctx context.Context, action, operator, id string, body any, at time.Time, member, note string, owner func(*Book) (Coupon, error), check func() error, fn func(u *engine.Unit) error) (*change.Outcome, error) {
	req := engine.Request{ID: id, Body: body, At: at, Member: member, Ref: ledger.Ref{Note: note},
		Action: action, Operator: operator, Check: check}
	if owner != nil && h.p != nil {
		req.Owner = func(tx store.Tx) (string, error) {
			cp, err := owner(newBook(tx, h.p.def, h.p.loc, nil))
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnknownCode) || errors.Is(err, ErrBadCode) {
				return "", nil // no such coupon: no member to name
			}
			return cp.Member, err
		}
	}
	return h.e.Apply(ctx, req, fn)
}

// claimAction is the action of a claim: an operator's issue (one member of
// a bulk Issue, or a single one) or the member's own claim.
func claimAction(m Method, what string) string {
	if m == Operator {
		return "coupon.issue" + what
	}
	return "coupon.claim" + what
}

// ClaimRequest asks for coupons of a template for a member.
type ClaimRequest struct {
	RequestID string `json:"request_id"`
	Member    string `json:"member"`
	// Operator and Note, when set, are recorded in the reason of each
	// coupon.issued change (an operator issuing by hand). Operator is
	// required with Method Operator.
	Operator string    `json:"operator,omitempty"`
	Note     string    `json:"note,omitempty"`
	At       time.Time `json:"at"`
	Template string    `json:"template"`
	// Method is how the coupons are issued: Self (when empty), Operator,
	// Task or System. Migrated is package migrate's alone.
	Method Method `json:"method,omitempty"`
	// Count is the number of coupons, at most MaxCount; 0 means 1.
	Count int `json:"count,omitempty"`
}

// checkOperator returns an error wrapping event.ErrInvalidArgument when
// method is Operator and no operator is named: the audit trail says who
// issued by hand, as it does for every other operator call.
func checkOperator(method Method, operator string) error {
	if method == Operator && operator == "" {
		return fmt.Errorf("%w: operator: empty; the operator method needs the operator who issues", event.ErrInvalidArgument)
	}
	return nil
}

// MaxCount is the most coupons one claim issues (ClaimRequest.Count), and
// one member of a bulk issue (IssueRequest.Count): a claim is one
// transaction, and a request beyond it is refused rather than left to
// run for minutes. A definition's counts keep to it too — a gift's, a
// pack item's, a level gift's or a task reward's — or the definition is
// refused: their coupons are issued in the transaction of the event that
// earns them.
const MaxCount = 100

// checkCount returns an error wrapping event.ErrInvalidArgument for a
// count that is negative or above MaxCount.
func checkCount(n int) error {
	if n < 0 || n > MaxCount {
		return fmt.Errorf("%w: count %d is not from 0 (1 coupon) to %d", event.ErrInvalidArgument, n, MaxCount)
	}
	return nil
}

// checkMethod returns an error wrapping event.ErrInvalidArgument for a
// method a claim cannot ask for: one that is not Self, Operator, Task or
// System (Migrated is given by package migrate's opening alone).
func checkMethod(m Method) error {
	switch m {
	case Self, Operator, Task, System:
		return nil
	case Migrated:
		return fmt.Errorf("%w: method %q is given by package migrate alone", event.ErrInvalidArgument, m)
	}
	return fmt.Errorf("%w: method %q is not %s, %s, %s or %s", event.ErrInvalidArgument, m, Self, Operator, Task, System)
}

// ClaimResult is what a claim issued.
type ClaimResult struct {
	Coupons []Coupon
	Outcome *change.Outcome
}

// Claim issues coupons of a template to a member (a self-claim, or an
// operator's issue with Method Operator) under the template's claim rule
// and stock, all or none, and returns them. A refusal changes nothing and
// returns an error wrapping ErrOutOfStock, ErrLimitReached, ErrNotEligible
// or ErrOutsidePeriod; an unknown template wraps ErrUnknownTemplate; a
// missing member or time, a Count below 0 or above MaxCount, a Method a
// claim cannot ask for (see ClaimRequest.Method), or the Operator method
// with no Operator, event.ErrInvalidArgument, naming the field; a program
// without coupons ErrNotDefined.
func (h *Handle) Claim(ctx context.Context, req ClaimRequest) (ClaimResult, error) {
	if req.Method == "" {
		req.Method = Self
	}
	check := func() error {
		err := h.defined()
		if err == nil && (req.Member == "" || req.At.IsZero()) {
			err = fmt.Errorf("%w: claim needs a member and a time", event.ErrInvalidArgument)
		}
		if err == nil {
			err = checkCount(req.Count)
		}
		if err == nil {
			err = checkMethod(req.Method)
		}
		if err == nil {
			err = checkOperator(req.Method, req.Operator)
		}
		return err
	}
	var why *rule.Reason
	if req.Operator != "" || req.Note != "" {
		why = &rule.Reason{Rule: "coupon." + req.Template, Inputs: map[string]string{"method": string(req.Method)}}
		(&operator{req.Operator, req.Note}).add(why)
	}
	out, err := h.apply(ctx, claimAction(req.Method, ""), req.Operator, req.RequestID, req, req.At, req.Member, "", check, func(u *engine.Unit) error {
		_, err := h.p.issue(u, req.Member, req.Template, req.Count, req.Method, why)
		return err
	})
	if err != nil {
		return ClaimResult{}, fmt.Errorf("coupon: claim %s: %w", req.Template, err)
	}
	ef, err := effectsOf(out)
	if err != nil {
		return ClaimResult{}, fmt.Errorf("coupon: claim %s: %w", req.Template, err)
	}
	return ClaimResult{Coupons: ef.Issued, Outcome: out}, nil
}

// PackRequest asks for a coupon pack for a member.
type PackRequest struct {
	RequestID string `json:"request_id"`
	Member    string `json:"member"`
	// Operator and Note, when set, are recorded in the reason of the
	// coupon.pack_issued change.
	Operator string    `json:"operator,omitempty"`
	Note     string    `json:"note,omitempty"`
	At       time.Time `json:"at"`
	Pack     string    `json:"pack"`
	// Method is how the pack is given, as ClaimRequest.Method: empty
	// means Self.
	Method Method `json:"method,omitempty"`
}

// PackResult is what a pack gave: its coupons, and in AllInvalid mode the
// items it could not give (with the count missing).
type PackResult struct {
	Coupons []Coupon
	Short   []PackItem
	Outcome *change.Outcome
}

// ClaimPack gives a pack to a member under the pack's claim rule, stock
// and mode (AnyInvalid or AllInvalid), atomically, and returns what it
// gave. Refusals and errors are Claim's.
func (h *Handle) ClaimPack(ctx context.Context, req PackRequest) (PackResult, error) {
	if req.Method == "" {
		req.Method = Self
	}
	check := func() error {
		err := h.defined()
		if err == nil && (req.Member == "" || req.At.IsZero()) {
			err = fmt.Errorf("%w: claim needs a member and a time", event.ErrInvalidArgument)
		}
		if err == nil {
			err = checkMethod(req.Method)
		}
		if err == nil {
			err = checkOperator(req.Method, req.Operator)
		}
		return err
	}
	out, err := h.apply(ctx, claimAction(req.Method, "_pack"), req.Operator, req.RequestID, req, req.At, req.Member, "", check, func(u *engine.Unit) error {
		_, err := h.p.issuePack(u, req.Member, req.Pack, req.Method, &operator{req.Operator, req.Note}, nil)
		return err
	})
	if err != nil {
		return PackResult{}, fmt.Errorf("coupon: claim pack %s: %w", req.Pack, err)
	}
	ef, err := effectsOf(out)
	if err == nil && len(ef.Packs) != 1 {
		err = fmt.Errorf("outcome has %d packs", len(ef.Packs))
	}
	if err != nil {
		return PackResult{}, fmt.Errorf("coupon: claim pack %s: %w", req.Pack, err)
	}
	return PackResult{Coupons: ef.Packs[0].Coupons, Short: ef.Packs[0].Short, Outcome: out}, nil
}

// IssueRequest asks to issue a template to many members (a segment an
// operator chose), by the Operator method.
type IssueRequest struct {
	// RequestID identifies the bulk issue; each member's issue is a Claim
	// under RequestID + "/" + member, so a retry after a failure completes
	// the rest and gives no one a second coupon. Both are IDs
	// (event.CheckID), so RequestID + "/" + member keeps to
	// event.MaxIDBytes for every member.
	RequestID string `json:"request_id"`
	// Operator is who issues (required): the audit trail records it.
	Operator string    `json:"operator,omitempty"`
	Note     string    `json:"note,omitempty"`
	At       time.Time `json:"at"`
	// Members are the members to issue to: 1 to MaxIssueMembers member
	// IDs.
	Members  []string `json:"members"`
	Template string   `json:"template"`
	// Count is the number of coupons per member, at most MaxCount; 0
	// means 1.
	Count int `json:"count,omitempty"`
}

// MaxIssueMembers is the most members one Issue call takes: as many as a
// page of tag.Handle.Segment holds (at most 1,000), so that a host issues
// a segment page by page. A bulk issue of more is several calls, each
// with its own RequestID.
const MaxIssueMembers = 1000

// IssueResult is what a bulk issue did, by member.
type IssueResult struct {
	// Issued are the coupons issued, and Outcomes the outcome of each
	// member's issue.
	Issued   map[string][]Coupon
	Outcomes map[string]*change.Outcome
	// Refused are the members refused, with the error (wrapping one of
	// the claim refusals: ErrOutOfStock, ErrLimitReached, ErrNotEligible,
	// ErrOutsidePeriod).
	Refused map[string]error
}

// Issue issues a template to each listed member by the Operator method,
// each member in its own transaction (see IssueRequest). A member refused
// is listed in Refused and the rest go on; any other error stops the
// issue and is returned with what was done so far. A RequestID that is
// not an ID (event.CheckID: an empty one too); no members, more than
// MaxIssueMembers, a member that is not an ID, or one whose claim's
// request ID (RequestID + "/" + member) is longer than event.MaxIDBytes,
// each named ("members", "members[3]"); no Operator; or a Count below 0
// or above MaxCount, is event.ErrInvalidArgument, and nothing is issued.
func (h *Handle) Issue(ctx context.Context, req IssueRequest) (IssueResult, error) {
	res := IssueResult{Issued: map[string][]Coupon{}, Outcomes: map[string]*change.Outcome{}, Refused: map[string]error{}}
	err := h.defined()
	if err == nil {
		err = checkIssueIDs(req.RequestID, req.Members)
	}
	if err == nil {
		err = checkOperator(Operator, req.Operator)
	}
	if err == nil {
		err = checkCount(req.Count)
	}
	if err != nil {
		return res, fmt.Errorf("coupon: issue %s: %w", req.Template, err)
	}
	for _, m := range req.Members {
		r, err := h.Claim(ctx, ClaimRequest{
			RequestID: req.RequestID + "/" + m, Member: m, Operator: req.Operator, Note: req.Note, At: req.At,
			Template: req.Template, Method: Operator, Count: req.Count,
		})
		switch {
		case err == nil:
			res.Issued[m], res.Outcomes[m] = r.Coupons, r.Outcome
		case refusalCause(err) != "":
			res.Refused[m] = err
		default:
			return res, err
		}
	}
	return res, nil
}

// List returns a member's coupons, in issue order; an empty list on a
// program without coupons. A member that is not an ID (1 to
// event.MaxIDBytes bytes of valid UTF-8 without NUL) is refused, with or
// without coupons, with an error wrapping event.ErrInvalidArgument that
// names it.
func (h *Handle) List(ctx context.Context, member string) ([]Coupon, error) {
	cs, err := h.coupons(ctx, member, false)
	if err != nil {
		return nil, fmt.Errorf("coupon: list %q: %w", member, err)
	}
	return cs, nil
}

// Live returns a member's coupons that are available or locked, in issue
// order; an empty list on a program without coupons. It checks the member
// as List does.
func (h *Handle) Live(ctx context.Context, member string) ([]Coupon, error) {
	cs, err := h.coupons(ctx, member, true)
	if err != nil {
		return nil, fmt.Errorf("coupon: live coupons of %q: %w", member, err)
	}
	return cs, nil
}

func (h *Handle) coupons(ctx context.Context, member string, live bool) ([]Coupon, error) {
	// The member is checked with or without coupons, as the other
	// domains' queries check theirs: a malformed one is bad input either way.
	if err := event.CheckMember(member); err != nil {
		return nil, err
	}
	if h.p == nil {
		return nil, nil // the member has no coupon of a program without coupons
	}
	var cs []Coupon
	err := h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
		var err error
		cs, err = h.p.book(u).Coupons(member, live)
		return err
	})
	for i := range cs {
		cs[i] = cs[i].in(h.p.loc)
	}
	return cs, err
}

// ByCode returns the coupon with a code as typed or scanned (a QR payload
// works too): an error wrapping ErrBadCode for a typo, ErrUnknownCode for
// a well-formed code no coupon has. An empty code wraps ErrBadCode and
// event.ErrInvalidArgument.
func (h *Handle) ByCode(ctx context.Context, code string) (Coupon, error) {
	var cp Coupon
	err := h.defined()
	if err == nil {
		err = checkCode(code)
	}
	if err == nil {
		err = h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
			var err error
			cp, err = h.p.book(u).ByCode(code)
			return err
		})
	}
	if err != nil {
		return Coupon{}, fmt.Errorf("coupon: by code: %w", err)
	}
	return cp.in(h.p.loc), nil
}

// Checkout evaluates the member's live coupons against an order: each
// one's amount off or the reasons it does not apply, and the allowed
// combination with the largest amount off (see Best). It changes nothing.
// A coupon locked for an order whose hold ran out by the order's time
// counts as released, as for the Lock that follows, whether or not
// Advance performed the hold (before, Checkout proposed none of them
// while Lock took them). A malformed order wraps ErrInvalidOrder.
func (h *Handle) Checkout(ctx context.Context, o Order) (Proposal, error) {
	var pr Proposal
	err := h.defined()
	if err == nil {
		err = o.check(true, h.p.def.MoneyPlaces())
	}
	if err == nil {
		err = event.CheckRequest(o)
	}
	if err == nil {
		// A dry view, so that the holds that ran out by the order's time
		// release their coupons first, as they do for the Lock that
		// follows, without being written.
		err = h.e.DryView(ctx, o.Time, func(u *engine.Unit) error {
			if err := h.p.holdsRanOut(u, o.ID); err != nil {
				return err
			}
			b := h.p.book(u)
			held, err := b.Held(o.Member)
			if err != nil {
				return err
			}
			// Coupons locked for other orders are this member's too.
			orders := map[string]bool{o.ID: true}
			for _, c := range held {
				if c.Coupon.State == Locked && !orders[c.Coupon.Order] {
					if err := h.p.holdsRanOut(u, c.Coupon.Order); err != nil {
						return err
					}
					orders[c.Coupon.Order] = true
				}
			}
			if len(orders) > 1 {
				if held, err = b.Held(o.Member); err != nil {
					return err
				}
			}
			pr = best(o, held, h.p.def.MoneyPlaces())
			return nil
		})
	}
	if err != nil {
		return Proposal{}, fmt.Errorf("coupon: checkout %s: %w", o.ID, err)
	}
	return pr, nil
}

// LockRequest asks to lock a member's coupons for an order during
// checkout. The order's Member and Time are the request's member and
// time.
type LockRequest struct {
	RequestID string `json:"request_id"`
	Order     Order  `json:"order"`
	// Coupons are the IDs of the coupons to lock (a Proposal's).
	Coupons []string `json:"coupons"`
	// Hold, when set, releases the coupons automatically if the order is
	// neither paid (Use) nor cancelled (Release) within Hold of the
	// order's time. Zero: no automatic release, the coupons stay locked
	// until Use, Release or a revocation. Locking the order's coupons
	// again sets their hold anew: an earlier lock's hold no longer
	// releases them. A negative Hold, or one that ends past the years a
	// program takes (event.MaxYear), is refused.
	Hold time.Duration `json:"hold,omitempty"`
}

// LockResult is what a lock did.
type LockResult struct {
	// Coupons are the locked coupons, in the order they apply, each with
	// the amount it takes off (Coupon.AmountOff); AmountOff is their sum.
	Coupons   []Coupon
	AmountOff decimal.Decimal
	Outcome   *change.Outcome
}

// Lock locks the member's coupons for an order at the order's time, after
// checking they apply and may be combined; they take off what Combine
// says (for a Proposal's coupons, what it proposed). Use them with Use or
// give them back with Release. It returns an error wrapping
// ErrInvalidOrder (and event.ErrInvalidArgument: see Order.Check),
// event.ErrInvalidArgument (a Hold that is negative or ends too late; no
// Coupons, named "coupons", which also wraps ErrNotFound as it did; a
// coupon named twice, named "coupons[i]", which also wraps
// ErrNotCombinable as it did),
// ErrNotFound, ErrState (a coupon not available, or the order holding
// coupons locked before that the request does not name: an order's
// coupons are locked together, and an order is one member's),
// ErrNotCombinable or ErrNotApplicable (including a coupon that adds
// nothing to the others), or event.ErrInvalidArgument naming "at" for an
// order dated before a coupon last changed (a release), and changes
// nothing then.
func (h *Handle) Lock(ctx context.Context, req LockRequest) (LockResult, error) {
	check := func() error {
		err := h.defined()
		if err == nil && len(req.Coupons) == 0 {
			err = fmt.Errorf("%w: coupons: empty (%w)", event.ErrInvalidArgument, ErrNotFound)
		}
		if err == nil {
			err = checkRepeats(req.Coupons)
		}
		if err == nil {
			err = req.Order.check(true, h.p.def.MoneyPlaces())
		}
		if err == nil {
			err = checkHold(req.Order.Time, req.Hold)
		}
		return err
	}
	o := req.Order
	out, err := h.apply(ctx, "coupon.lock", "", req.RequestID, req, o.Time, o.Member, "order "+o.ID, check, func(u *engine.Unit) error {
		// Holds that ran out by the order's time release their coupons
		// first, as Advance would have.
		if err := h.p.holdsRanOut(u, o.ID); err != nil {
			return err
		}
		for _, id := range req.Coupons {
			if err := h.p.holdOfRanOut(u, id, o.Member); err != nil {
				return err
			}
		}
		b := h.p.book(u)
		var until time.Time // when the hold runs out; zero: no hold
		if req.Hold > 0 {
			until = o.Time.Add(req.Hold)
		}
		applied, total, err := b.lock(o, req.Coupons, until)
		if err != nil {
			return err
		}
		if !until.IsZero() {
			if err := u.Schedule(until, dueRelease, o.ID, nil); err != nil {
				return err
			}
		}
		for _, a := range applied {
			cp, err := b.Get(a.Coupon)
			if err != nil {
				return err
			}
			if err := u.Emit(ChangeLocked, cp.Member, cp, &rule.Reason{
				Rule: "coupon." + cp.Template,
				Inputs: map[string]string{
					"order": o.ID, "applicable": a.Applicable.String(), "amount_off": a.AmountOff.String(),
					"combined_amount_off": total.String(),
				},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return LockResult{}, fmt.Errorf("coupon: lock for %s: %w", o.ID, err)
	}
	ef, err := effectsOf(out)
	if err != nil {
		return LockResult{}, fmt.Errorf("coupon: lock for %s: %w", o.ID, err)
	}
	res := LockResult{Coupons: ef.Locked, AmountOff: decimal.Zero, Outcome: out}
	for _, c := range ef.Locked {
		res.AmountOff = res.AmountOff.Add(c.AmountOff)
	}
	return res, nil
}

// OrderRequest names an order whose locked coupons are used or released.
type OrderRequest struct {
	RequestID string    `json:"request_id"`
	At        time.Time `json:"at"`
	Order     string    `json:"order"`
}

// Use marks the coupons locked for an order as used (the order is paid).
// It returns an error wrapping ErrNotFound when none is locked for it, and
// event.ErrInvalidArgument without an order or a time, or naming "at" for
// a time before a coupon's lock (its last change), changing nothing.
func (h *Handle) Use(ctx context.Context, req OrderRequest) (*change.Outcome, error) {
	return h.order(ctx, req, "use", ChangeUsed, (*Book).use)
}

// Release makes the coupons locked for an order available again (the
// order was cancelled); a coupon whose validity ended meanwhile becomes
// expired. Its errors are Use's.
func (h *Handle) Release(ctx context.Context, req OrderRequest) (*change.Outcome, error) {
	return h.order(ctx, req, "release", ChangeReleased, (*Book).release)
}

func (h *Handle) order(ctx context.Context, req OrderRequest, verb, kind string, f func(*Book, string, time.Time) ([]Coupon, error)) (*change.Outcome, error) {
	check := func() error {
		err := h.defined()
		if err == nil && (req.Order == "" || req.At.IsZero()) {
			err = fmt.Errorf("%w: needs an order and a time", event.ErrInvalidArgument)
		}
		return err
	}
	out, err := h.applyOwned(ctx, "coupon."+verb, "", req.RequestID, req, req.At, "", "order "+req.Order, orderOwner(req.Order), check, func(u *engine.Unit) error {
		if err := h.p.holdsRanOut(u, req.Order); err != nil {
			return err
		}
		cs, err := f(h.p.book(u), req.Order, u.At())
		if err != nil {
			return err
		}
		return h.p.emitOrder(u, cs, req.Order, kind, "")
	})
	if err != nil {
		return nil, fmt.Errorf("coupon: %s coupons of order %s: %w", verb, req.Order, err)
	}
	return out, nil
}

// orderOwner finds a coupon locked or used for order (an order is one
// member's), or ErrNotFound.
func orderOwner(order string) func(*Book) (Coupon, error) {
	return func(b *Book) (Coupon, error) {
		for _, bucket := range []string{bOrders, bUsed} {
			cs, err := b.under(bucket, order, func(_, _ []byte) (bool, error) { return true, nil })
			if err != nil {
				return Coupon{}, err
			}
			if len(cs) > 0 {
				return cs[0], nil
			}
		}
		return Coupon{}, ErrNotFound
	}
}

// RedeemRequest redeems a coupon by code (or QR payload) at a store. The
// order's Time is the request's time; its Member may be empty (the
// coupon's owner is taken).
type RedeemRequest struct {
	RequestID string `json:"request_id"`
	Code      string `json:"code"`
	// Via is how the code was presented: ByCode (the default, "") or
	// ByQR; any other value is refused.
	Via   Redemption `json:"via,omitempty"`
	Order Order      `json:"order"`
}

// RedeemResult is the coupon a redemption used, in its used state, with
// the amount it took off the order in [Coupon.AmountOff].
type RedeemResult struct {
	Coupon  Coupon
	Outcome *change.Outcome
}

// Redeem redeems a coupon by code at a store (核销): it checks the coupon
// against the order and marks it used in one step. With the coupons used
// for the order before, it is held to the stacking rules, and takes what
// Combine gives them all less what they took, so that the order's coupons
// take off what they would locked together (see the package doc). It
// returns an error wrapping ErrBadCode (a typo), ErrUnknownCode,
// ErrNotFound (another member's coupon), ErrState (already used, locked,
// expired or revoked; or the order has coupons locked, or used another
// member's), ErrNotCombinable, ErrInvalidOrder or ErrNotApplicable
// (including a coupon that adds nothing to the order's), or
// event.ErrInvalidArgument naming "at" for an order dated before the
// coupon last changed (a release), and changes nothing then; a damaged index of the order's coupons wraps
// membership.ErrCorrupt. An empty code (ErrBadCode) and a malformed order
// (ErrInvalidOrder, see Order.Check; the order's Member may be empty) also
// wrap event.ErrInvalidArgument and are refused before the unit of work:
// the audit trail does not record them. So is a Via other than ByCode and
// ByQR (event.ErrInvalidArgument, naming "via").
func (h *Handle) Redeem(ctx context.Context, req RedeemRequest) (RedeemResult, error) {
	if req.Via == "" {
		req.Via = ByCode
	}
	check := func() error {
		err := h.defined()
		if err == nil {
			err = checkVia(req.Via)
		}
		if err == nil {
			err = checkCode(req.Code)
		}
		if err == nil {
			err = req.Order.check(false, h.p.def.MoneyPlaces())
		}
		return err
	}
	o := req.Order
	byCode := func(b *Book) (Coupon, error) { return b.ByCode(req.Code) } // an order naming no member is the coupon owner's
	out, err := h.applyOwned(ctx, "coupon.redeem", "", req.RequestID, req, o.Time, o.Member, "order "+o.ID, byCode, check, func(u *engine.Unit) error {
		if err := h.p.holdsRanOut(u, o.ID); err != nil {
			return err
		}
		if cp, err := h.p.book(u).ByCode(req.Code); err == nil {
			if err := h.p.holdOfRanOut(u, cp.ID, o.Member); err != nil {
				return err
			}
		}
		cp, a, err := h.p.book(u).redeem(req.Code, req.Via, o)
		if err != nil {
			return err
		}
		u.Outcome().Member = cp.Member
		return u.Emit(ChangeUsed, cp.Member, cp, &rule.Reason{
			Rule:   "coupon." + cp.Template,
			Inputs: map[string]string{"order": o.ID, "store": o.Store, "via": string(req.Via), "applicable": a.Applicable.String()},
		})
	})
	if err != nil {
		return RedeemResult{}, fmt.Errorf("coupon: redeem: %w", err)
	}
	ef, err := effectsOf(out)
	if err == nil && len(ef.Used) != 1 {
		err = fmt.Errorf("outcome has %d used coupons", len(ef.Used))
	}
	if err != nil {
		return RedeemResult{}, fmt.Errorf("coupon: redeem: %w", err)
	}
	return RedeemResult{Coupon: ef.Used[0], Outcome: out}, nil
}

// RevokeRequest revokes a coupon: an operator's action.
type RevokeRequest struct {
	RequestID string    `json:"request_id"`
	Operator  string    `json:"operator"`
	Note      string    `json:"note,omitempty"`
	At        time.Time `json:"at"`
	Coupon    string    `json:"coupon"`
}

// Revoke revokes an available or locked coupon. It returns an error
// wrapping ErrNotFound or ErrState (used, expired or already revoked), and
// event.ErrInvalidArgument without a coupon, an operator or a time, or
// naming "at" for a time before the coupon last changed (its issue, lock
// or release). A
// revocation dated after the coupon's validity ended, or after the hold
// of the order it is locked for ran out, finds it expired or released,
// whether or not Advance performed that yet (as Lock, Use and Redeem do).
// Revoking gives nothing back: the template's stock counts the coupons
// issued and the member's claim limits the coupons the member got, a
// revoked one included (to give a member another, an operator claims
// one of a template with room). A
// locked coupon leaves its order: the order's other coupons stay locked
// with the amounts they took off beside it (a 10%-off coupon locked after
// a cash coupon of 30 on an order of 100 keeps 7), and Use records those;
// a Lock of the order naming them again gives what they take without it
// (10).
func (h *Handle) Revoke(ctx context.Context, req RevokeRequest) (*change.Outcome, error) {
	check := func() error {
		err := h.defined()
		if err == nil && (req.Coupon == "" || req.Operator == "" || req.At.IsZero()) {
			err = fmt.Errorf("%w: revoke needs a coupon, an operator and a time", event.ErrInvalidArgument)
		}
		return err
	}
	byID := func(b *Book) (Coupon, error) { return b.Get(req.Coupon) }
	out, err := h.applyOwned(ctx, "coupon.revoke", req.Operator, req.RequestID, req, req.At, "", "revoked by "+req.Operator, byID, check, func(u *engine.Unit) error {
		b := h.p.book(u)
		if cp, err := b.Get(req.Coupon); err == nil {
			u.Outcome().Member = cp.Member // the audit names the owner of a coupon refused too
		}
		// The hold of the order it is locked for that ran out by now
		// releases it first, as Advance would have.
		if err := h.p.holdOfRanOut(u, req.Coupon, ""); err != nil {
			return err
		}
		cp, err := b.revoke(req.Coupon, u.At(), req.Note)
		if err != nil {
			return err
		}
		u.Outcome().Member = cp.Member
		return u.Emit(ChangeRevoked, cp.Member, cp, &rule.Reason{
			Rule: "coupon." + cp.Template, Inputs: map[string]string{"operator": req.Operator}, Note: req.Note,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("coupon: revoke %s: %w", req.Coupon, err)
	}
	return out, nil
}

// Stats returns coupon statistics for a period: a row per template and
// store, with sums per template, store and cost centre (see StatsQuery).
// A From or To that is not a date, or a To before From, is an error
// wrapping event.ErrInvalidArgument that names the field; a Template the
// definition does not have wraps ErrUnknownTemplate and names the
// template, as the other calls naming a template do (it used to return an
// empty report).
func (h *Handle) Stats(ctx context.Context, q StatsQuery) (Report, error) {
	var r Report
	err := h.defined()
	if err == nil && q.Template != "" {
		if _, ok := h.p.def.Template(q.Template); !ok {
			err = fmt.Errorf("template: %w %q", ErrUnknownTemplate, q.Template)
		}
	}
	if err == nil {
		err = h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
			var err error
			r, err = h.p.book(u).Stats(q)
			return err
		})
	}
	if err != nil {
		return Report{}, fmt.Errorf("coupon: stats: %w", err)
	}
	return r, nil
}

// checkMembers returns an error wrapping event.ErrInvalidArgument, naming
// the field, for the members of a bulk issue: none, more than
// MaxIssueMembers, or one that is not an ID.
func checkMembers(members []string) error {
	switch {
	case len(members) == 0:
		return fmt.Errorf("%w: members: empty, want 1 to %d", event.ErrInvalidArgument, MaxIssueMembers)
	case len(members) > MaxIssueMembers:
		return fmt.Errorf("%w: members: %w: %d, at most %d", event.ErrInvalidArgument, event.ErrTooLarge, len(members), MaxIssueMembers)
	}
	for i, m := range members {
		if err := event.CheckID(m); err != nil {
			return fmt.Errorf("%w: members[%d]: %w", event.ErrInvalidArgument, i, err)
		}
	}
	return nil
}

// checkIssueIDs returns an error wrapping event.ErrInvalidArgument,
// naming the field, for a bulk issue's request ID that is not an ID, its
// members (checkMembers), or a member whose claim's request ID
// (RequestID + "/" + member) is not one: too long, refused before
// anything is issued rather than at that member's claim, after the
// claims of the members before it.
func checkIssueIDs(id string, members []string) error {
	if err := event.CheckID(id); err != nil {
		return fmt.Errorf("%w: request ID: %w", event.ErrInvalidArgument, err)
	}
	if err := checkMembers(members); err != nil {
		return err
	}
	for i, m := range members {
		if err := event.CheckID(id + "/" + m); err != nil {
			return fmt.Errorf("%w: members[%d]: its claim's request ID (request ID/member): %w", event.ErrInvalidArgument, i, err)
		}
	}
	return nil
}

// checkRepeats returns an error wrapping event.ErrInvalidArgument and
// ErrNotCombinable, naming the field, for a coupon a Lock names twice.
func checkRepeats(ids []string) error {
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if seen[id] {
			return fmt.Errorf("%w: coupons[%d]: %s named twice (%w)", event.ErrInvalidArgument, i, id, ErrNotCombinable)
		}
		seen[id] = true
	}
	return nil
}

// checkVia returns an error wrapping event.ErrInvalidArgument, naming
// the field, for a redemption method other than ByCode and ByQR.
func checkVia(via Redemption) error {
	switch via {
	case ByCode, ByQR:
		return nil
	}
	return fmt.Errorf("%w: via: %q, want %q or %q", event.ErrInvalidArgument, via, ByCode, ByQR)
}

// checkHold returns an error wrapping event.ErrInvalidArgument, naming
// the hold, for a negative hold or one that ends past the times a program
// holds (event.MaxYear).
func checkHold(at time.Time, hold time.Duration) error {
	if hold < 0 {
		return fmt.Errorf("%w: hold %s is negative", event.ErrInvalidArgument, hold)
	}
	if hold > 0 {
		if err := event.CheckTime(at.Add(hold)); err != nil {
			return fmt.Errorf("%w: hold %s: its end is %w", event.ErrInvalidArgument, hold, err)
		}
	}
	return nil
}

// checkCode returns an error wrapping ErrBadCode and
// event.ErrInvalidArgument for an empty code.
func checkCode(code string) error {
	if code == "" {
		return fmt.Errorf("code: %w (%w): empty", ErrBadCode, event.ErrInvalidArgument)
	}
	return nil
}
