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

// Sentinel errors of the points package. The root package's points methods
// wrap them, with ledger.ErrInsufficientBalance where a balance is short.
var (
	// ErrUnknownProgram is returned for a point program the definition
	// does not have.
	ErrUnknownProgram = errors.New("points: unknown point program")
	// ErrInvalidAmount is returned for an amount that is not positive or
	// has more decimal places than the program's scale.
	ErrInvalidAmount = errors.New("points: invalid amount")
	// ErrNoPayment is returned for points + cash in a program without a
	// payment configuration.
	ErrNoPayment = errors.New("points: program has no points payment")
	// ErrNoExchange is returned for an exchange between two programs
	// without a configured rate.
	ErrNoExchange = errors.New("points: no exchange rate between the programs")
	// ErrExchangeTooSmall is returned when an exchange would give nothing
	// once rounded down.
	ErrExchangeTooSmall = errors.New("points: exchange amount gives nothing")
	// ErrRedemptionExists is returned for a second redemption against a
	// reference already redeemed in the program.
	ErrRedemptionExists = errors.New("points: reference already redeemed")
	// ErrUnknownRedemption is returned for a reversal of a reference never
	// redeemed.
	ErrUnknownRedemption = errors.New("points: unknown redemption")
	// ErrOverReversal is returned for a reversal of more than what remains
	// of a redemption.
	ErrOverReversal = errors.New("points: reversal exceeds the redemption")
	// ErrUnknownAdjustment is returned for an approval or rejection of an
	// adjustment never requested.
	ErrUnknownAdjustment = errors.New("points: unknown adjustment")
	// ErrNotPending is returned when an adjustment or review was already
	// decided.
	ErrNotPending = errors.New("points: already decided")
	// ErrSelfApproval is returned when the operator who requested an
	// adjustment tries to approve it.
	ErrSelfApproval = errors.New("points: an operator cannot approve their own request")
	// ErrNoOperator is returned for an operator call that names no
	// operator.
	ErrNoOperator = errors.New("points: operator required")
	// ErrUnknownReview is returned for a review that does not exist.
	ErrUnknownReview = errors.New("points: unknown review")
)

// Scale returns the program's decimal places.
func (p Program) Scale() int32 { return min(max(p.Rounding.Scale, 0), rule.MaxScale) }

// CheckAmount returns an error wrapping ErrInvalidAmount unless amount is
// positive and has at most the program's decimal places.
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

// Earn computes what r grants for e in program p, rounded with p's
// rounding, before caps and risk control: the amount and its reason (the
// rule, formula, inputs and raw amount). The error is the formula's.
func (r Rule) Earn(p Program, e event.Event) (decimal.Decimal, rule.Reason, error) {
	raw, why, err := r.Formula.Apply(e)
	if err != nil {
		return decimal.Zero, why, err
	}
	why.Rule = r.ID
	amt := p.Rounding.Round(raw)
	if amt.IsNegative() {
		amt = decimal.Zero
	}
	return amt, why, nil
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
// order × MaxShare and is rounded down to the money scale; the points
// charged are the fewest whole units of the program's scale worth at least
// that money, never more than available. Rounding never gives away a
// fraction of a point: PointsMoney ≤ Points × Rate. It returns an error
// wrapping ErrNoPayment or ErrInvalidAmount.
func SplitOrder(p Program, order, available, limit decimal.Decimal) (Split, error) {
	pay := p.Payment
	if pay == nil {
		return Split{}, ErrNoPayment
	}
	ms := pay.MoneyScale
	if ms == 0 {
		ms = 2
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
	pts := money.DivRound(pay.Rate, 16).RoundUp(p.Scale())
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

// RefundShare returns the share of an order's points to have reversed once
// refunded of amount was refunded in all: refunded / amount, at most 1; 1
// when the order amount is unknown (zero).
func RefundShare(refunded, amount decimal.Decimal) decimal.Decimal {
	one := decimal.NewFromInt(1)
	if !amount.IsPositive() || refunded.GreaterThanOrEqual(amount) {
		return one
	}
	if !refunded.IsPositive() {
		return decimal.Zero
	}
	return refunded.DivRound(amount, 16)
}

// NeedsApproval reports whether a manual adjustment of amount (positive or
// negative) needs another operator's approval in program p.
func (p Program) NeedsApproval(amount decimal.Decimal) bool {
	return p.ApprovalAbove != nil && amount.Abs().GreaterThan(*p.ApprovalAbove)
}
