package points

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Change kinds the points part publishes. Every one carries a [Change].
const (
	// ChangeOpened: an opening lot, migrated from another system, was
	// credited (pending ones publish ChangePending).
	ChangeOpened = "points.opened"
	// ChangeEarned: an earning rule or a reward credited points (or a cap
	// cut a grant to nothing: Amount is 0 and Reason.Cut says why).
	ChangeEarned = "points.earned"
	// ChangePending: an earning rule credited points held pending.
	ChangePending = "points.pending"
	// ChangeReleased: pending points became spendable (or frozen).
	ChangeReleased = "points.released"
	// ChangeBlocked: risk control (stop policy) cut a grant.
	ChangeBlocked = "points.blocked"
	// ChangeFrozen: risk control (freeze policy) froze points.
	ChangeFrozen = "points.frozen"
	// ChangeRestored: an operator restored frozen points.
	ChangeRestored = "points.restored"
	// ChangeVoided: an operator voided frozen points, or a reversal
	// returned points to lots of a day a review voided (Ref the
	// redemption), which are voided again at once.
	ChangeVoided = "points.voided"
	// ChangeRedeemed: points were spent against a reference.
	ChangeRedeemed = "points.redeemed"
	// ChangeReversed: a redemption was reversed (points returned) or a
	// refund took an order's points back (Amount negative).
	ChangeReversed = "points.reversed"
	// ChangeExpired: a lot's remainder expired.
	ChangeExpired = "points.expired"
	// ChangeAdjusted: a manual adjustment was applied.
	ChangeAdjusted = "points.adjusted"
	// ChangeAdjustmentRequested: an adjustment waits for approval.
	ChangeAdjustmentRequested = "points.adjustment_requested"
	// ChangeAdjustmentRejected: an adjustment was rejected.
	ChangeAdjustmentRejected = "points.adjustment_rejected"
	// ChangeExchanged: points were converted into another program.
	ChangeExchanged = "points.exchanged"
)

// Ledger kinds of points transactions. Opening, earned, redeemed,
// reversed, expired, voided, adjusted and exchanged move points between member
// accounts and the pool of the same name; released, frozen and restored
// move a lot between a member's own accounts (pending, main, frozen) and
// net to zero, so the reconciliation identity holds from the totals.
const (
	KindEarned    ledger.Kind = "earned"
	KindRedeemed  ledger.Kind = "redeemed"
	KindReversed  ledger.Kind = "reversed"
	KindExpired   ledger.Kind = "expired"
	KindVoided    ledger.Kind = "voided"
	KindAdjusted  ledger.Kind = "adjusted"
	KindExchanged ledger.Kind = "exchanged"
	KindReleased  ledger.Kind = "released"
	KindFrozen    ledger.Kind = "frozen"
	KindRestored  ledger.Kind = "restored"
	// KindOpening is the opening points of a member migrated from another
	// system (Open); it is engine.KindOpening, the kind every domain's
	// opening balance has.
	KindOpening = engine.KindOpening
)

// poolKinds are the kinds that move points in and out of members'
// accounts, each through a pool of its name.
var poolKinds = [...]ledger.Kind{KindOpening, KindEarned, KindRedeemed, KindReversed, KindExpired, KindVoided, KindAdjusted, KindExchanged}

// kinds are every kind a points account has entries of: the pool kinds
// and the moves between a member's accounts.
var kinds = append(poolKinds[:], KindReleased, KindFrozen, KindRestored)

// Change is the data of every points.* change; the fields a kind does not
// use are empty.
type Change struct {
	Program string `json:"program"`
	// Amount is the points moved (negative for what a refund took back).
	Amount decimal.Decimal `json:"amount"`
	// Lot is the lot credited or expired; Expires its expiry.
	Lot     string    `json:"lot,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// Lots are the lots a freeze, restore, void or reversal touched.
	Lots []LotAmount `json:"lots,omitempty"`
	// Ref is the redemption's reference or the refunded order.
	Ref string `json:"ref,omitempty"`
	// Date is the risk-control day ("2006-01-02" in the program's zone).
	Date string `json:"date,omitempty"`
	// Wanted is what a grant asked before risk control (points.blocked).
	Wanted decimal.Decimal `json:"wanted,omitzero"`
	// Shortfall is what a refund could not take back (already spent).
	Shortfall decimal.Decimal `json:"shortfall,omitzero"`
	// Lapsed is what a refund did not take back because it had expired or
	// been voided (the member had lost it already; it is no shortfall).
	Lapsed decimal.Decimal `json:"lapsed,omitzero"`
	// Settled is what of an order's shortfall a redemption's reversal
	// settled with points it returned (to the order's lots, or spendable
	// to any lot): taken back at once (-Amount), or lapsed (Lapsed) when
	// the order's lot had expired or its day had been voided by review.
	// Ref is then the order.
	Settled decimal.Decimal `json:"settled,omitzero"`
	// GivenBack is, for the same reversal, what a refund of the order
	// (Ref) had charged to the member's other lots for points spent and
	// is given back to them, by lot, as the reversal returned the spent
	// points to the order's lot: Amount counts it.
	GivenBack []LotAmount `json:"given_back,omitempty"`
	// Split is a points + cash payment's split.
	Split *Split `json:"split,omitempty"`
	// Adjustment is the adjustment requested, applied or rejected.
	Adjustment *Adjustment `json:"adjustment,omitempty"`
	// To and ToAmount are an exchange's target program and amount.
	To       string          `json:"to,omitempty"`
	ToAmount decimal.Decimal `json:"to_amount,omitzero"`
	Operator string          `json:"operator,omitempty"`
}

// AppendJSON implements engine.JSONAppender: the changes every event
// publishes (points.earned, points.pending) skip reflection. The kinds
// that carry lots (given back too), a split or an adjustment are left to
// encoding/json.
func (c Change) AppendJSON(b []byte) ([]byte, bool) {
	if c.Lots != nil || c.GivenBack != nil || c.Split != nil || c.Adjustment != nil {
		return nil, false
	}
	o := engine.JSONObject{B: append(b, '{')}
	o.Str("program", c.Program, false)
	o.Dec("amount", c.Amount, false)
	o.Str("lot", c.Lot, true)
	o.Time("expires", c.Expires, true)
	o.Str("ref", c.Ref, true)
	o.Str("date", c.Date, true)
	o.Dec("wanted", c.Wanted, true)
	o.Dec("shortfall", c.Shortfall, true)
	o.Dec("lapsed", c.Lapsed, true)
	o.Dec("settled", c.Settled, true)
	o.Str("to", c.To, true)
	o.Dec("to_amount", c.ToAmount, true)
	o.Str("operator", c.Operator, true)
	return append(o.B, '}'), true
}

// encode appends c's JSON, for Unit.EmitWith: the method value of a
// pointer keeps c on the caller's stack, where Emit's any would move it
// to the heap (so would passing c itself to json.Marshal).
func (c *Change) encode(b []byte) ([]byte, error) {
	if out, ok := c.AppendJSON(b); ok {
		return out, nil
	}
	raw, err := json.Marshal(*c) // a copy: c itself stays where it is
	return append(b, raw...), err
}

// Effect is one points change of an outcome, decoded.
type Effect struct {
	// Kind is the change kind (ChangeEarned, ChangeRedeemed, …).
	Kind   string
	Member string
	Change
	// Reason is why the change was made (the rule and its inputs).
	Reason *rule.Reason
}

// ProgramAmount is an amount of points of one program.
type ProgramAmount struct {
	Program string
	Amount  decimal.Decimal
}

// Effects is what an outcome (an event's, an operator call's, a due
// item's) did to points.
type Effects struct {
	// Changes are the outcome's points changes, decoded, in order, with
	// times in the program's zone.
	Changes []Effect
	// Earned is what earning rules and rewards credited, pending points
	// included, per program in the order first credited (not the points
	// a member migrated in brings, Program.OpenMember: points.opened and
	// its pending lots' points.pending).
	Earned []ProgramAmount
	// Reversed is what refunds took back from the members' points (as a
	// positive amount), per program; Shortfall what they could not take
	// back because it was spent; Lapsed what they did not take back
	// because it had expired or been voided.
	Reversed  []ProgramAmount
	Shortfall []ProgramAmount
	Lapsed    []ProgramAmount
	// Settled is what of earlier refunds' shortfalls reversals of
	// redemptions settled (see Change.Settled; what they took back is in
	// Reversed): a host that adds up Shortfall subtracts it.
	Settled []ProgramAmount
	// GivenBack is what reversals of redemptions gave back of what earlier
	// refunds had taken from the members' other points (see
	// Change.GivenBack): a host that adds up Reversed subtracts it.
	GivenBack []ProgramAmount
}

// EffectsOf reads what out did to points into typed values: every points
// change decoded, and the totals a host usually wants (points earned per
// program, points a refund took back). Changes of other domains are
// skipped; a nil outcome has no effects. The error wraps the decoding
// error of a change whose data is not a points Change.
func EffectsOf(out *change.Outcome) (Effects, error) {
	var fx Effects
	if out == nil {
		return fx, nil
	}
	for _, c := range out.Changes {
		if !strings.HasPrefix(c.Kind, "points.") {
			continue
		}
		e := Effect{Kind: c.Kind, Member: c.Member, Reason: c.Reason}
		if err := c.Decode(&e.Change); err != nil {
			return Effects{}, fmt.Errorf("points: effects of %s: change %d (%s): %w", out.Event, c.Seq, c.Kind, err)
		}
		if loc := c.Time.Location(); loc != nil {
			inZone(&e.Change, loc)
		}
		fx.Changes = append(fx.Changes, e)
		switch {
		case (c.Kind == ChangeEarned || c.Kind == ChangePending) && e.Amount.IsPositive() &&
			(c.Reason == nil || c.Reason.Rule != migrate.Rule): // a pending lot migrated in was not earned
			fx.Earned = addTo(fx.Earned, e.Program, e.Amount)
		case c.Kind == ChangeReversed && (!e.Amount.IsPositive() || len(e.GivenBack) > 0):
			// A refund's reversal, or the settling of what it did (a
			// redemption's reversal returns points and gives nothing
			// back: its Amount is positive). Amount is what was given
			// back less what was taken.
			back := decimal.Zero
			for _, l := range e.GivenBack {
				back = back.Add(l.Amount)
			}
			if taken := back.Sub(e.Amount); taken.IsPositive() {
				fx.Reversed = addTo(fx.Reversed, e.Program, taken)
			}
			if back.IsPositive() {
				fx.GivenBack = addTo(fx.GivenBack, e.Program, back)
			}
			if e.Shortfall.IsPositive() {
				fx.Shortfall = addTo(fx.Shortfall, e.Program, e.Shortfall)
			}
			if e.Lapsed.IsPositive() {
				fx.Lapsed = addTo(fx.Lapsed, e.Program, e.Lapsed)
			}
			if e.Settled.IsPositive() {
				fx.Settled = addTo(fx.Settled, e.Program, e.Settled)
			}
		}
	}
	return fx, nil
}

func addTo(s []ProgramAmount, program string, amount decimal.Decimal) []ProgramAmount {
	i := slices.IndexFunc(s, func(pa ProgramAmount) bool { return pa.Program == program })
	if i < 0 {
		return append(s, ProgramAmount{Program: program, Amount: amount})
	}
	s[i].Amount = s[i].Amount.Add(amount)
	return s
}

// inZone puts the times of a change in loc.
func inZone(c *Change, loc *time.Location) {
	if !c.Expires.IsZero() {
		c.Expires = c.Expires.In(loc)
	}
	lotsInZone(c.Lots, loc)
	if c.Adjustment != nil {
		c.Adjustment.inZone(loc)
	}
}
