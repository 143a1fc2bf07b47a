package membership

import (
	"context"
	"fmt"

	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/value"
)

// ErrKnownMember is returned, wrapping ErrInvalidArgument, for an opening
// state (OpenMember) of a member the program already has a history of.
var ErrKnownMember = engine.ErrKnownMember

// KindOpening is the ledger kind of the opening balances OpenMember posts,
// against each asset's pool of that name.
const KindOpening = engine.KindOpening

// OpenMember sets the opening state of a member migrated from another
// system (see package migrate, whose Run streams a file of them through
// OpenMembers): one unit of work, idempotent under m.RequestID, audited and
// journaled as "member.open". Each domain sets its share (see the Open of
// each domain's part: value, level, points, coupon, tag, benefit): the balances are
// ledger entries of kind KindOpening, so the ledger balances and Verify
// passes; their reference (ledger.Ref) names the request ID and
// m.Operator, as every operator request's entries do (entries of an
// earlier release name no operator). The member must be new (else ErrKnownMember, in a
// migrate.FieldError naming "member", saying where the member was found,
// so that a file's second row of a member is reported at that field): one the program keeps any record of — a ledger
// account, a level, a profile or a tag, a coupon held or a claim counted,
// an achievement, a task's progress or completion, points' cap counters —
// is known, whichever domain keeps it. A malformed row — no time (naming
// "at"), an unknown level, plan, template, program, tag, attribute or
// achievement, an amount
// that is negative (a growth day's may be: it is a net) or has more
// decimal places than its scale (the growth scale for growth and growth
// days), an expiry or a term end not after the row's time, a plan's
// start or an achievement's time after it, a plan or an achievement given
// twice, an achievement's source that is none of the grants' or without
// whom it names, a growth day
// that is no date, is after the row's day or is given twice, a
// pending lot without a release or a spendable lot with one, an
// old coupon code twice in the row, an ID, text, amount or time beyond the
// limits every request keeps to (event.ErrTooLarge, event.ErrInvalidText,
// event.ErrTimeRange) — wraps ErrInvalidArgument (and, for an unknown name,
// the domain's sentinel too: level.ErrUnknownLevel,
// level.ErrUnknownPlan, coupon.ErrUnknownTemplate,
// points.ErrUnknownProgram, tag.ErrUnknownTag,
// benefit.ErrUnknownAchievement, …), in a migrate.FieldError naming the field; a field of a domain the
// definition leaves out wraps that domain's ErrNotDefined. Such a row is
// checked before the unit of work and writes nothing, not even a refusal in
// the audit trail — unless the same row (request ID and content) was
// applied before, under a version that took it: its retry returns the first
// outcome, Duplicate set, as every operator request's does, so that
// migrate.Run run again after a version dropped a tag or profile
// attribute the file names counts the row among its Duplicates, not its
// refusals. What only the store can tell — a member already known
// (ErrKnownMember), an old coupon code another coupon has — is a refusal
// the audit trail records, as a domain's business rejections are.
func (p *Program) OpenMember(ctx context.Context, m migrate.Member) (*change.Outcome, error) {
	outs, errs, err := p.OpenMembers(ctx, []migrate.Member{m}, false)
	if err != nil {
		return nil, err
	}
	if errs[0] != nil {
		return nil, errs[0]
	}
	return outs[0], nil
}

// OpenMembers applies several opening states as OpenMember does, each its
// own unit of work, in one store transaction when none is refused (a
// refused row is left out and the rest applied again): errs[i] is row i's
// refusal, outs[i] its outcome (Duplicate set for a row applied before).
// err is a failure of the store or of ctx, and then nothing was written.
// With stop set, the rows after the first one refused are not applied:
// their outcome and error are both nil.
func (p *Program) OpenMembers(ctx context.Context, ms []migrate.Member, stop bool) (outs []*change.Outcome, errs []error, err error) {
	reqs := make([]engine.Request, len(ms))
	fns := make([]func(*engine.Unit) error, len(ms))
	for i := range ms {
		m := ms[i]
		body := m
		body.At = body.At.UTC()
		// The entries name the operator, as every operator request's do.
		// A row checkOpening refuses is not run; one applied before is
		// answered with its first outcome (engine.Request.Check).
		reqs[i] = engine.Request{ID: m.RequestID, Body: body, At: m.At, Member: m.Member, Action: "member.open", Operator: m.Operator,
			Ref: ledger.Ref{Operator: m.Operator}, Check: func() error { return p.checkOpening(m) }}
		if raw, ok := engine.MemberJSON(&body); ok {
			reqs[i].BodyJSON = raw
		}
		fns[i] = func(u *engine.Unit) error { return u.Open(&m) }
	}
	outs, errs, err = p.eng.ApplyBatch(ctx, reqs, fns, stop)
	if err != nil {
		return nil, nil, fmt.Errorf("membership: open members: %w", err)
	}
	for i := range errs {
		if errs[i] != nil {
			errs[i] = fmt.Errorf("membership: open member %q: %w", ms[i].Member, errs[i])
		}
	}
	return outs, errs, nil
}

// checkOpening checks an opening state before its unit of work, so that a
// malformed one writes nothing: the member, the request ID, the operator,
// the time (each against the limits, naming its field),
// fields of domains the definition leaves out, and each domain's share
// (engine.Opener's CheckOpen).
func (p *Program) checkOpening(m migrate.Member) error {
	if err := event.CheckMember(m.Member); err != nil {
		return migrate.Field("member", err)
	}
	if err := event.CheckID(m.RequestID); err != nil {
		return migrate.Field("request_id", fmt.Errorf("%w: %w", ErrInvalidArgument, err))
	}
	if m.Operator == "" {
		return migrate.Field("operator", fmt.Errorf("%w: an operator is required", ErrInvalidArgument))
	}
	if err := event.CheckText(m.Operator); err != nil {
		return migrate.Field("operator", fmt.Errorf("%w: %w", ErrInvalidArgument, err))
	}
	if m.At.IsZero() {
		return migrate.Field("at", fmt.Errorf("%w: zero time", ErrInvalidArgument))
	}
	if err := event.CheckTime(m.At); err != nil {
		return migrate.Field("at", fmt.Errorf("%w: %w", ErrInvalidArgument, err))
	}
	switch {
	case len(m.Points) > 0 && p.def.Points == nil:
		return migrate.Field("points", points.ErrNotDefined)
	case m.Value != nil && p.def.StoredValue == nil:
		return migrate.Field("value", value.ErrNotDefined)
	case len(m.Coupons) > 0 && p.def.Coupons == nil:
		return migrate.Field("coupons", coupon.ErrNotDefined)
	case (len(m.Tags) > 0 || len(m.Profile) > 0) && p.def.Tags == nil:
		return migrate.Field("tags", tag.ErrNotDefined)
	case (m.Level != "" || !m.Growth.IsZero() || !m.Lifetime.IsZero()) && p.def.Levels == nil:
		return migrate.Field("level", level.ErrNotDefined)
	case len(m.GrowthDays) > 0 && p.def.Levels == nil:
		return migrate.Field("growth_days", level.ErrNotDefined)
	case len(m.GiftedLevels) > 0 && p.def.Levels == nil:
		return migrate.Field("gifted_levels", level.ErrNotDefined)
	case len(m.OwedGifts) > 0 && p.def.Levels == nil:
		return migrate.Field("owed_gifts", level.ErrNotDefined)
	case len(m.Plans) > 0 && p.def.Levels == nil:
		return migrate.Field("plans", level.ErrNotDefined)
	case len(m.Achievements) > 0 && p.def.Benefits == nil:
		return migrate.Field("achievements", benefit.ErrNotDefined)
	}
	return p.eng.CheckOpening(&m)
}
