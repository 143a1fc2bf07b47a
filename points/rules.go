package points

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Sentinel errors of the points package. The [Handle]'s calls wrap them,
// with ledger.ErrInsufficientBalance where a balance is short and the
// shared sentinels of package event (ErrInvalidArgument, ErrConflict).
var (
	// ErrNotDefined is returned by every call of a Handle whose program
	// defines no points.
	ErrNotDefined = errors.New("the program defines no points")
	// ErrUnknownProgram is returned for a point program the definition
	// does not have.
	ErrUnknownProgram = errors.New("unknown point program")
	// ErrInvalidAmount is returned for an amount that is not positive or
	// has more decimal places than the program's scale. It wraps
	// event.ErrInvalidArgument, as ledger.ErrCorrupt wraps
	// store.ErrCorrupt: a host that tests for malformed requests catches
	// it too.
	ErrInvalidAmount = fmt.Errorf("invalid amount: %w", event.ErrInvalidArgument)
	// ErrNoPayment is returned for points + cash in a program without a
	// payment configuration.
	ErrNoPayment = errors.New("program has no points payment")
	// ErrNoExchange is returned for an exchange between two programs
	// without a configured rate.
	ErrNoExchange = errors.New("no exchange rate between the programs")
	// ErrExchangeTooSmall is returned when an exchange would give nothing
	// once rounded down.
	ErrExchangeTooSmall = errors.New("exchange amount gives nothing")
	// ErrRedemptionExists is returned for a second redemption against a
	// reference already redeemed in the program.
	ErrRedemptionExists = errors.New("reference already redeemed")
	// ErrUnknownRedemption is returned for a reversal of a reference never
	// redeemed.
	ErrUnknownRedemption = errors.New("unknown redemption")
	// ErrOverReversal is returned for a reversal of more than what remains
	// of a redemption, and for a reversal of all of it (Amount zero) when
	// nothing remains: the redemption's state, not a bad amount (it wraps
	// no event.ErrInvalidArgument).
	ErrOverReversal = errors.New("reversal exceeds the redemption")
	// ErrUnknownAdjustment is returned for an approval or rejection of an
	// adjustment never requested.
	ErrUnknownAdjustment = errors.New("unknown adjustment")
	// ErrNotPending is returned when an adjustment or review was already
	// decided.
	ErrNotPending = errors.New("already decided")
	// ErrSelfApproval is returned when the operator who requested an
	// adjustment tries to approve it.
	ErrSelfApproval = errors.New("an operator cannot approve their own request")
	// ErrNoOperator is returned for an operator call that names no
	// operator.
	ErrNoOperator = errors.New("operator required")
	// ErrUnknownReview is returned for a review that does not exist.
	ErrUnknownReview = errors.New("unknown review")
)

// Scale returns the program's decimal places.
func (p Program) Scale() int32 { return min(max(p.Rounding.Scale, 0), rule.MaxScale) }

// CheckAmount returns an error wrapping ErrInvalidAmount (and so
// event.ErrInvalidArgument) unless amount is positive and has at most the
// program's decimal places.
func (p Program) CheckAmount(amount decimal.Decimal) error {
	if !amount.IsPositive() {
		return fmt.Errorf("%w: %s is not positive", ErrInvalidAmount, amount)
	}
	if !amount.Equal(amount.Truncate(p.Scale())) {
		return fmt.Errorf("%w: %s has more than %d decimal places", ErrInvalidAmount, amount, p.Scale())
	}
	return nil
}

// Expiry returns when points granted at t with validity v expire in loc;
// zero for permanent (and an empty validity).
func Expiry(v rule.Validity, t time.Time, loc *time.Location) time.Time {
	if v.Kind == "" {
		return time.Time{}
	}
	end, ok := v.Expiry(t, loc)
	if !ok {
		return time.Time{}
	}
	return end
}

// Skip says why a rule did not apply to an event ("" when it did).
type Skip string

// Why a rule did not apply.
const (
	SkipType       Skip = "event type"
	SkipWindow     Skip = "outside the rule's window"
	SkipConditions Skip = "conditions not met"
	SkipLevel      Skip = "level not eligible"
	SkipZero       Skip = "formula gives nothing"
)

// Applies reports whether r applies to e for a member at level (the
// member's ladder level, "" without a ladder), or why not.
func (r Rule) Applies(e event.Event, level string) Skip {
	switch {
	case e.Type != r.Event:
		return SkipType
	case !r.Window.Contains(e.Time):
		return SkipWindow
	case !event.MatchAll(r.Conditions, e):
		return SkipConditions
	case len(r.Levels) > 0 && !slices.Contains(r.Levels, level):
		return SkipLevel
	}
	return ""
}

// Earning is what an earning rule's formula gives for one event, before
// caps and risk control.
type Earning struct {
	// Amount is Raw rounded with the program's rounding, never negative:
	// what the rule grants.
	Amount decimal.Decimal
	// Raw is the formula's exact result.
	Raw decimal.Decimal
	// Base is the attribute value the formula read (zero for the kinds
	// that read none).
	Base decimal.Decimal
}

// Earn computes what r grants for e in program p: the formula's result,
// rounded once with p's rounding (a negative result grants nothing), with
// the raw result and the base it read for the reason. The error is the
// formula's (a missing base wraps event.ErrMissingAttribute: the part then
// skips the rule, see rule.Formula.Absent). The points
// part calls it for every rule that applies; it allocates nothing when
// the amounts fit codec.Fixed.
func (r Rule) Earn(p Program, e event.Event) (Earning, error) {
	raw, base, err := r.Formula.Eval(e)
	if err != nil {
		return Earning{}, err
	}
	amt := p.Rounding.Round(raw)
	if amt.IsNegative() {
		amt = decimal.Zero
	}
	return Earning{Amount: amt, Raw: raw, Base: base}, nil
}

// RiskDecision is what risk control does with one grant.
type RiskDecision struct {
	// Allowed is what may be credited; Blocked what the stop policy cut.
	Allowed decimal.Decimal
	Blocked decimal.Decimal
	// Freeze is set when the grant and the day's points are to be frozen.
	Freeze bool
}

// Decide applies risk control to a grant of amount when the member has
// already earned earned today (before it) and the day is frozen or not.
// Without risk control everything is allowed. Under Stop, what passes the
// threshold is blocked; under Freeze, a grant that reaches the threshold
// (earned + amount ≥ daily), or any grant of a day already frozen, is
// allowed but frozen.
func (r *Risk) Decide(earned, amount decimal.Decimal, frozen bool) RiskDecision {
	if r == nil {
		return RiskDecision{Allowed: amount}
	}
	switch r.Policy {
	case Stop:
		room := decimal.Max(r.Daily.Sub(earned), decimal.Zero)
		allowed := decimal.Min(room, amount)
		return RiskDecision{Allowed: allowed, Blocked: amount.Sub(allowed)}
	case Freeze:
		return RiskDecision{Allowed: amount, Freeze: frozen || earned.Add(amount).GreaterThanOrEqual(r.Daily)}
	}
	return RiskDecision{Allowed: amount}
}

// Split is a points + cash split of an order amount.
type Split struct {
	Order decimal.Decimal `json:"order"`
	// Points are spent; they pay PointsMoney of the order.
	Points      decimal.Decimal `json:"points"`
	PointsMoney decimal.Decimal `json:"points_money"`
	// Cash is what remains to pay in money.
	Cash decimal.Decimal `json:"cash"`
}

// SplitOrder computes the points + cash split of order in program p for a
// member who may spend available points (and wants to spend at most
// limit, when limit is positive). The money paid in points is at most
// order × MaxShare and is rounded down to the money scale
// (Payment.MoneyPlaces), so Cash, the rest of the order, is rounded up:
// with whole units (MoneyScale 0) an order of 1001 with a MaxShare of 0.33
// pays 330 in points and 671 in cash, not 330.33 and 670.67. The points
// charged are the fewest whole units of the program's scale worth at least
// that money, never more than available. Rounding never gives away a
// fraction of a point: PointsMoney ≤ Points × Rate. The order must have
// at most the money scale's decimal places. It returns an error
// wrapping ErrNoPayment or ErrInvalidAmount, or rule.ErrInvalidDefinition
// for a payment Definition.Check refuses (a rate that is not positive or
// is beyond the limit on decimals, a MaxShare not above 0 and at most 1,
// a MoneyScale out of 0 to rule.MaxScale).
func SplitOrder(p Program, order, available, limit decimal.Decimal) (Split, error) {
	s, err := splitOrder(p, order, available, limit)
	if err != nil {
		return Split{}, fmt.Errorf("points: %w", err)
	}
	return s, nil
}

// splitOrder is SplitOrder for the handle, which names the package.
func splitOrder(p Program, order, available, limit decimal.Decimal) (Split, error) {
	pay := p.Payment
	if pay == nil {
		return Split{}, ErrNoPayment
	}
	ms := pay.MoneyPlaces()
	if !pay.Rate.IsPositive() || event.CheckDecimal(pay.Rate) != nil || !pay.MaxShare.IsPositive() || pay.MaxShare.GreaterThan(decimal.NewFromInt(1)) ||
		ms < 0 || ms > rule.MaxScale {
		return Split{}, fmt.Errorf("%w: points payment of %s: rate %s, max share %s, money scale %d", rule.ErrInvalidDefinition, p.Name, pay.Rate, pay.MaxShare, ms)
	}
	if !order.IsPositive() || !order.Equal(order.Truncate(ms)) {
		return Split{}, fmt.Errorf("%w: order amount %s (must be positive with at most %d decimal places)", ErrInvalidAmount, order, ms)
	}
	if limit.IsNegative() {
		return Split{}, fmt.Errorf("%w: points limit %s", ErrInvalidAmount, limit)
	}
	usable := decimal.Max(available.Truncate(p.Scale()), decimal.Zero)
	if limit.IsPositive() {
		usable = decimal.Min(usable, limit.Truncate(p.Scale()))
	}
	money := decimal.Min(order.Mul(pay.MaxShare), usable.Mul(pay.Rate)).RoundDown(ms)
	// Rounded up from the exact quotient: a quotient rounded first (to 16
	// places, say) loses what a rate of many digits leaves beyond them,
	// and the points would then pay more than they are worth.
	pts := decimal.Zero
	if money.IsPositive() {
		pts = roundQuo(money, pay.Rate, rule.Rounding{Scale: p.Scale(), Mode: rule.RoundUp})
	}
	if pts.GreaterThan(usable) {
		// Cannot happen with usable × Rate ≥ money, but never overspend.
		pts = usable
		money = pts.Mul(pay.Rate).RoundDown(ms)
	}
	if money.IsZero() {
		pts = decimal.Zero
	}
	return Split{Order: order, Points: pts, PointsMoney: money, Cash: order.Sub(money)}, nil
}

// Convert returns what amount points of one program give in another at
// rate, rounded down to the target program's scale.
func Convert(amount, rate decimal.Decimal, to Program) decimal.Decimal {
	return amount.Mul(rate).RoundDown(to.Scale())
}

// Reversal returns what refunds of an order reverse in all of a grant of
// granted points, once refunded of the order's amount was refunded in all:
// granted × refunded / amount, computed exactly and rounded once with p's
// rounding, at most granted. Each refund reverses its Reversal less what
// the refunds before it reversed, so partial refunds add up to the whole
// order (a 300.00 order that earned 300 points and is refunded 100.00
// three times reverses 100 each time). An order amount that is not
// positive (unknown) reverses everything; nothing refunded reverses
// nothing.
func Reversal(granted, refunded, amount decimal.Decimal, p Program) decimal.Decimal {
	switch {
	case !amount.IsPositive() || refunded.GreaterThanOrEqual(amount):
		return granted
	case !refunded.IsPositive() || !granted.IsPositive():
		return decimal.Zero
	}
	return decimal.Min(roundQuo(granted.Mul(refunded), amount, p.Rounding), granted)
}

// reversalParts splits delta, what a refund reverses of an order's grant
// (its Reversal less what earlier refunds reversed), by what became of the
// grant's points: held first, then spent, lapsed last.
//
//   - fromLot: what the grant's lot still holds and has not expired
//     (held, in any of the member's accounts) is taken from it, up to
//     delta;
//   - spent: then what was spent of the grant and not charged yet:
//     granted less held, less lapsed, less what earlier refunds took from
//     the lot or charged as spent (reversed less forgiven); the caller
//     takes it from the member's other spendable points down to zero, the
//     rest being the shortfall;
//   - gone: the rest, what had lapsed (expired or been voided, or is
//     past its expiry: lapsed so far, less forgiven, what earlier refunds
//     let go of it), is not taken again.
//
// So a member never loses for a refund points that the order's lot no
// longer held and that were not spent: a full refund of an order whose
// points all expired takes nothing, and charges no shortfall. Lapsed
// points count last, so a partial refund of an order that was partly spent
// and partly expired charges the spent part first. All amounts are at the
// program's scale, so the parts are too: nothing is rounded here.
// fromLot + spent + gone = delta.
func reversalParts(delta, granted, held, lapsed, reversed, forgiven decimal.Decimal) (fromLot, spent, gone decimal.Decimal) {
	if !delta.IsPositive() {
		return decimal.Zero, decimal.Zero, decimal.Zero
	}
	fromLot = decimal.Min(delta, decimal.Max(held, decimal.Zero))
	left := delta.Sub(fromLot)
	if !left.IsPositive() {
		return fromLot, decimal.Zero, decimal.Zero
	}
	unspent := held.Add(lapsed).Add(reversed.Sub(forgiven))
	spent = decimal.Min(left, decimal.Max(granted.Sub(unspent), decimal.Zero))
	gone = left.Sub(spent)
	// gone cannot pass what lapsed and was not let go before when delta
	// is at most granted less reversed; should the records disagree, what
	// is left over counts as spent, as before lapsed points were known.
	if room := decimal.Max(lapsed.Sub(forgiven), decimal.Zero); gone.GreaterThan(room) {
		spent, gone = spent.Add(gone.Sub(room)), room
	}
	return fromLot, spent, gone
}

// roundQuo returns num / den (both positive) rounded once with r, from the
// exact quotient: the quotient truncated to r's scale and the remainder
// decide the last digit, so no intermediate rounding moves a result that
// sits just below a unit.
func roundQuo(num, den decimal.Decimal, r rule.Rounding) decimal.Decimal {
	s := min(max(r.Scale, 0), rule.MaxScale)
	q, rem := num.QuoRem(den, s)
	if rem.IsZero() {
		return q
	}
	ulp := decimal.New(1, -s)
	up := false
	switch r.Mode {
	case rule.RoundUp:
		up = true
	case rule.RoundHalfUp, rule.RoundHalfEven:
		// Compare the remainder with half a unit of den: rem / den vs ½·ulp.
		switch rem.Add(rem).Cmp(den.Mul(ulp)) {
		case 1:
			up = true
		case 0:
			up = r.Mode == rule.RoundHalfUp || q.Shift(s).Mod(decimal.NewFromInt(2)).Equal(decimal.NewFromInt(1))
		}
	}
	if up {
		return q.Add(ulp)
	}
	return q
}

// NeedsApproval reports whether a manual adjustment of amount (positive or
// negative) needs another operator's approval in program p.
func (p Program) NeedsApproval(amount decimal.Decimal) bool {
	return p.ApprovalAbove != nil && amount.Abs().GreaterThan(*p.ApprovalAbove)
}
