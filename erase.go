package membership

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
)

// ErrErased is returned, wrapped with ErrInvalidEvent or
// ErrInvalidArgument, for an event or an operator call about a member
// whose personal data Erase removed.
var ErrErased = engine.ErrErased

// ChangeErased is the kind of the change Erase publishes in the feed (no
// data), so that the systems the feed reaches erase the member too.
const ChangeErased = change.MemberErased

// EraseRequest asks to erase a member's personal data (see Erase).
type EraseRequest struct {
	// RequestID is the idempotency key: the same ID with the same request
	// returns the first outcome; with another request, an error wrapping
	// ErrEventConflict.
	RequestID string `json:"request_id"`
	Member    string `json:"member"`
	// Operator is who erases (required); Note why (the ticket of the
	// member's request, say): it is kept in the audit trail's request
	// record, so it must not hold the member's personal data itself.
	Operator string `json:"operator"`
	Note     string `json:"note,omitempty"`
	// At is when the erasure takes effect (required).
	At time.Time `json:"at"`
}

// Erase removes a member's personal data (the right to erasure of PIPL and
// GDPR) and marks the member erased, in one unit of work that is
// idempotent, audited ("member.erase") and journaled like every operator
// call. From then on every event for the member, and every operator call
// about the member (a call that names the member, or one that finds the
// member, as a coupon's code or an adjustment's ID does), is refused with
// an error wrapping ErrErased and ErrInvalidEvent or ErrInvalidArgument,
// and changes nothing; a retry of an event or a request the member had
// before is refused too (its first outcome would hand out what Erase
// removed), but for the erasure's own, which returns its outcome. Due
// work for the member goes on: points and coupons still expire and terms
// still end, so the ledger keeps balancing. Erase
// publishes a change of kind ChangeErased.
//
// Closed, since no call can decide them once the member is erased (they
// would wait for ever in the lists operators work from), each published
// before ChangeErased as the decision would be, with the erasure's
// request as its event, its operator as the decider and a reason noting
// the erasure; nothing no operator approved is given:
//
//   - a manual adjustment waiting for approval is rejected
//     (points.adjustment_rejected; its reason blanked as above);
//   - a frozen day waiting for review (Points().Reviews) is voided
//     (points.voided): its frozen points, and its points still pending,
//     go to the program's voided pool, so the ledger balances;
//   - coupons locked for an order are released (coupon.released, or
//     coupon.expired for one whose validity ended), as Release does, and
//     expire in due course: a host that took the order's payment calls
//     Use before Erase;
//   - the rewards of upgrade gifts owed are dropped (level.gift_dropped),
//     those of Levels().Status's Owed and those the definition no longer
//     gives, which Owed does not list.
//
// An erasure dated before what it closes (an adjustment's request, the
// last points a review took, a coupon's lock) is refused with
// ErrInvalidArgument naming "at", as the decision would be, and changes
// nothing. Approve, Reject, Restore, Void and GrantOwed for the member
// are refused with ErrErased afterwards; Use and Release of the order
// find no coupon locked (coupon.ErrNotFound).
//
// Removed (also where the definition in force leaves out the tags or
// benefits a version before kept: before, an erasure under a version
// without them left the profile attributes and the notes for a later
// version declaring them again to read):
//
//   - the member's profile attributes (Tags().SetProfile's);
//   - the notes operators wrote about the member, free text that may hold
//     personal data: level sets' notes in the level history, manual
//     adjustments' reasons and decision notes, manual tags' notes,
//     achievements' grant notes, coupons' revocation notes;
//   - the notes of the member's ledger entries (Ref.Note, where an
//     adjustment's reason or a redemption's note is copied);
//   - what the errors of the member's refused calls in the audit trail
//     quote: a refusal may quote what the operator sent (a tag or a point
//     program that the definition does not declare, typed into the wrong
//     field), so each quoted text becomes "…" ("unknown tag "…":
//     …"); the entry keeps the rest of its error. A refused call naming
//     one of the member's objects (a coupon's code, an order's coupons, a
//     redemption, an adjustment) is the member's refusal (see Audit).
//
// Kept, since reconciliation, the statements and the rules need them:
// every ledger entry with its amount, running balance, kind, lot and
// reference (event, order, operator), so balances, totals and Verify are
// as before; lots, levels and terms, growth, stored value, coupons with
// their codes and states, tags and who gave them (but for a rule's tag
// that a profile attribute removed gave: the rules are evaluated after
// the erasure, as after any change, and take it, tag.removed), task
// progress, achievements, the order statistics of the tag rules; the member ID
// itself, which is the host's pseudonym for the person (erase the
// person's identity in the host's own records).
//
// Not rewritten, and why:
//
//   - The records of events within the idempotency window
//     (Retention.Window) hold the event's attributes (a request's record
//     holds a hash of the request, but one an earlier release wrote holds
//     the request as sent), and the change feed (Retention.Feed) the
//     changes with their reasons and notes. They are keyed by event ID
//     and feed position, not by member, so finding the member's would
//     read the whole window; instead Advance prunes them once they leave
//     the window (35 days by default), and a retry of an erased member's
//     event or request is refused rather than answered from its record.
//     A host bound to erase sooner sets a shorter Retention.
//   - The input journal (WithJournal) keeps every input in full for ever,
//     by design (Replay reproduces the store from it), erasure included;
//     a host that must honour erasure keeps it off (the default) or
//     deletes the journal's store.
//   - Package webhook's dead letters hold changes as the feed had them;
//     a Deliverer drops the member's once the erasure's change
//     (ChangeErased) is delivered or dead-lettered (see its package doc,
//     Erasure).
//   - The audit trail holds the operator, action, member ID, request ID,
//     time and result of each call, and a refusal's error with what it
//     quoted removed (above): no personal data beyond the member ID.
//
// A member already erased is refused with ErrErased; a malformed request
// (no request ID, member, operator or time) wraps ErrInvalidArgument.
func (p *Program) Erase(ctx context.Context, req EraseRequest) (*change.Outcome, error) {
	fail := func(err error) (*change.Outcome, error) {
		return nil, fmt.Errorf("membership: erase %q: %w", req.Member, err)
	}
	if req.RequestID == "" || req.Operator == "" || req.At.IsZero() {
		return fail(fmt.Errorf("%w: request ID, operator and time are required", ErrInvalidArgument))
	}
	if err := event.CheckMember(req.Member); err != nil {
		return fail(err)
	}
	if err := event.CheckText(req.Note); err != nil {
		return fail(fmt.Errorf("%w: note: %w", ErrInvalidArgument, err))
	}
	body := req
	body.At = body.At.UTC() // the same instant in any zone is the same request
	out, err := p.eng.Apply(ctx, engine.Request{ID: req.RequestID, Body: body, At: req.At, Member: req.Member,
		Action: "member.erase", Operator: req.Operator, Erasure: true,
		Ref: ledger.Ref{Operator: req.Operator}}, func(u *engine.Unit) error {
		if err := u.Erase(req.Member); err != nil {
			return err
		}
		return u.Emit(ChangeErased, req.Member, nil, &rule.Reason{Rule: "member.erase", Inputs: map[string]string{"operator": req.Operator}})
	})
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// Erased reports whether a member was erased (Erase), and when, in the
// program's zone.
func (p *Program) Erased(ctx context.Context, member string) (at time.Time, erased bool, err error) {
	if err := event.CheckMember(member); err != nil {
		return at, false, fmt.Errorf("membership: erased %q: %w", member, err)
	}
	at, erased, err = p.eng.Erased(ctx, member)
	if err != nil {
		return at, false, fmt.Errorf("membership: erased %q: %w", member, err)
	}
	return at, erased, nil
}
