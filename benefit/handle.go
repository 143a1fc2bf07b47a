package benefit

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Handle is the benefit domain of a program: a member's benefits and
// member price, and the achievements granted. A program hands out one
// (membership.Program.Benefits); it is safe for concurrent use.
type Handle struct {
	e *engine.Engine
	p *part // nil when the program defines no benefits
}

// New registers the benefit part of def with e (the grantor of
// achievement rewards) and returns its handle. With a nil def it registers
// only the erasure of the notes of achievements a version before granted
// (membership's Erase): a member's benefits are none, their
// achievements those a version before granted,
// MemberPrice is the amount itself, and GrantAchievement returns an error
// wrapping ErrNotDefined. The part keeps a copy of def: what the caller
// does with def later changes nothing.
//
// A host never calls New (its engine is internal): membership's Open does,
// and [github.com/memberkit/membership.Program.Benefits] returns the handle.
func New(e *engine.Engine, def *Definition) *Handle {
	h := &Handle{e: e}
	if def == nil {
		// A version before may have granted achievements: Erase still
		// blanks their notes.
		e.AddEraser(eraser{})
		return h
	}
	h.p = &part{def: def.clone()}
	e.Add(h.p)
	return h
}

// GrantRequest is an operator's grant of an achievement.
type GrantRequest struct {
	// RequestID is the idempotency key: the same ID with the same request
	// returns the first outcome; with another request, an error wrapping
	// event.ErrConflict.
	RequestID string `json:"request_id"`
	// Member is who is granted the achievement.
	Member string `json:"member"`
	// Operator is who grants it (required); Note says why.
	Operator string `json:"operator"`
	Note     string `json:"note,omitempty"`
	// At is when it is granted.
	At time.Time `json:"at"`
	// Achievement names the achievement of the catalog.
	Achievement string `json:"achievement"`
}

// GrantAchievement grants an achievement to a member on behalf of an
// operator. It returns errors wrapping ErrUnknownAchievement,
// ErrAlreadyGranted (the member has it: nothing changes),
// event.ErrInvalidArgument (no request ID, member, operator or time),
// event.ErrConflict (the request ID reused with another request) or
// ErrNotDefined. The retry of a grant applied before returns its first
// outcome, Duplicate set, even where the definition now in force would
// refuse it (a newer version dropped the achievement, or the benefits).
func (h *Handle) GrantAchievement(ctx context.Context, req GrantRequest) (*change.Outcome, error) {
	check := func() error {
		switch {
		case h.p == nil:
			return ErrNotDefined
		case event.CheckMember(req.Member) != nil:
			return event.CheckMember(req.Member)
		case req.RequestID == "" || req.Operator == "" || req.At.IsZero():
			return fmt.Errorf("%w: a request ID, an operator and a time are required", event.ErrInvalidArgument)
		}
		if _, ok := h.p.def.Achievement(req.Achievement); !ok {
			return fmt.Errorf("%w %q", ErrUnknownAchievement, req.Achievement)
		}
		return nil
	}
	body := req
	body.At = body.At.UTC() // the same instant in any zone is the same request
	out, err := h.e.Apply(ctx, engine.Request{ID: req.RequestID, Body: body, At: req.At, Member: req.Member, Action: "benefit.grant_achievement", Operator: req.Operator,
		Ref: ledger.Ref{Operator: req.Operator, Note: "achievement " + req.Achievement}, Check: check}, func(u *engine.Unit) error {
		ok, err := h.p.grant(u, req.Member, Grant{Achievement: req.Achievement, Source: sourceOperator, By: req.Operator, Note: req.Note},
			&rule.Reason{Rule: "benefits.achievements", Note: req.Note})
		if err == nil && !ok {
			err = ErrAlreadyGranted
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("benefit: grant achievement %q to %q: %w", req.Achievement, req.Member, err)
	}
	return out, nil
}

// Achievements returns a member's achievements in name order, each with
// when (in the program's zone), by whom and why it was granted: those
// granted under a version that had them too, on a program whose
// definition leaves out an achievement or all of them (an empty list if
// none). A member that is not an ID wraps event.ErrInvalidArgument, with
// or without benefits; else the error is the store's.
func (h *Handle) Achievements(ctx context.Context, member string) ([]Grant, error) {
	if err := event.CheckMember(member); err != nil {
		return nil, fmt.Errorf("benefit: achievements: %w", err)
	}
	var out []Grant
	err := h.e.View(ctx, time.Time{}, func(u *engine.Unit) error {
		var err error
		out, err = Granted(u.Tx(), member)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("benefit: achievements of %q: %w", member, err)
	}
	for i := range out {
		out[i].At = out[i].At.In(h.e.Location())
	}
	return out, nil
}

// Of returns a member's benefits at time at: those bound to the level the
// member holds at that time or to a paid plan the member holds then, in
// catalog order. The level and plans come from the level domain, through
// the engine: a term end due by at that Advance has not performed yet
// counts, as it would for an event at that time, without being written
// (the level's status shows it once Advance or the member's next event or
// request performs it). No history of benefits is kept, but the level
// history keeps the level and plans the member held: a time before the
// member's latest level change (an upgrade, a downgrade) or plan change
// (a purchase, an expiry) answers with the benefits of the level and
// plans held then; before, with the current level's and plans'. The
// benefits are the caller's to keep: editing them changes nothing in the
// program. A program without benefits gives
// an empty list.
// A member that is not an ID, or an at that is zero or outside the years
// 1900 to 2099, wraps event.ErrInvalidArgument and names the field, with
// or without benefits. Else the error is the store's, or the level
// domain's (level.ErrCatchUpLimit for a member with more term ends due
// than an event performs).
func (h *Handle) Of(ctx context.Context, member string, at time.Time) ([]Benefit, error) {
	if err := event.CheckQuery(member, at); err != nil {
		return nil, fmt.Errorf("benefit: benefits: %w", err)
	}
	if at.IsZero() {
		// A zero time is no time: the benefits of no moment.
		return nil, fmt.Errorf("benefit: benefits: %w: at: zero time", event.ErrInvalidArgument)
	}
	if h.p == nil {
		return nil, nil
	}
	var out []Benefit
	// A dry view, so that a term end due by at that Advance has not
	// performed yet counts, as it would for an event at that time.
	err := h.e.DryView(ctx, at, func(u *engine.Unit) error {
		level, err := u.MemberLevel(member)
		if err != nil {
			return err
		}
		plans, err := u.MemberPlans(member)
		if err != nil {
			return err
		}
		// Copies: the caller's edits must not reach the catalog.
		out = Definition{Benefits: h.p.def.For(level, plans)}.clone().Benefits
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("benefit: benefits of %q: %w", member, err)
	}
	return out, nil
}

// Price is a member price: what a member pays for an amount.
type Price struct {
	// Amount is the member price; the amount asked when no discount
	// benefit applies.
	Amount decimal.Decimal
	// By is the discount benefit giving the price, nil when the member has
	// none.
	By *Benefit
}

// MemberPrice returns the member price of amount at time at: the lowest
// price any of the member's discount benefits at that time gives (ties go
// to the earlier benefit of the catalog), or the amount itself when the
// member has no discount benefit (as on a program without benefits). It
// returns errors wrapping event.ErrInvalidArgument and naming "amount"
// for a negative amount (with ErrNegativeAmount) and for one beyond the
// limits of a decimal (with event.ErrTooLarge; event.CheckDecimal:
// event.MaxDecimalDigits digits), before anything is read; as Of for the
// member and the time; or the store's.
func (h *Handle) MemberPrice(ctx context.Context, member string, amount decimal.Decimal, at time.Time) (Price, error) {
	if err := event.CheckDecimal(amount); err != nil {
		return Price{}, fmt.Errorf("benefit: member price for %q: %w: amount: %w", member, event.ErrInvalidArgument, err)
	}
	if amount.IsNegative() {
		return Price{}, fmt.Errorf("benefit: member price for %q: %w: amount: %s: %w", member, event.ErrInvalidArgument, amount, ErrNegativeAmount)
	}
	bs, err := h.Of(ctx, member, at)
	if err != nil {
		return Price{}, err
	}
	by, price, ok, err := Best(bs, amount)
	if err != nil {
		return Price{}, fmt.Errorf("benefit: member price for %q: %w", member, err)
	}
	if !ok {
		return Price{Amount: amount}, nil
	}
	return Price{Amount: price, By: &by}, nil
}
