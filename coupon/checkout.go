package coupon

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

// Order is an order a member's coupons are evaluated against.
type Order struct {
	// ID identifies the order; coupons are locked and used for it.
	ID     string `json:"id"`
	Member string `json:"member"`
	// Store is where it is placed; Scenario its channel ("online",
	// "offline", …).
	Store    string    `json:"store,omitempty"`
	Scenario string    `json:"scenario,omitempty"`
	Time     time.Time `json:"time"`
	Lines    []Line    `json:"lines"`
}

// Line is one order line: Amount is the line's total for Quantity units
// (0 counts as 1).
type Line struct {
	Product  string          `json:"product"`
	Category string          `json:"category,omitempty"`
	Quantity int             `json:"quantity,omitempty"`
	Amount   decimal.Decimal `json:"amount"`
}

// The limits on an order (see Order.Check).
const (
	// MaxLines is the most lines an order may have: as many as the items
	// of an event's list attribute (event.MaxListItems).
	MaxLines = event.MaxListItems
	// MaxQuantity is the largest quantity of one order line.
	MaxQuantity = 1_000_000
)

// Check returns an error wrapping ErrInvalidOrder and
// event.ErrInvalidArgument for an order without an ID, member or time,
// with no lines or more than MaxLines, or with a line without a product,
// with a negative quantity or one above MaxQuantity, or with an amount
// that is negative, has more than Scale decimal places, or is beyond the
// limits of a decimal (event.CheckDecimal: MaxDecimalDigits digits). The
// error names the field, and the line by its index ("lines[3].amount").
// An order beyond a limit (too many lines, a quantity or an amount too
// large) wraps event.ErrTooLarge too. The Handle checks an order at its
// definition's money scale (Definition.MoneyPlaces) rather than Scale: in
// whole units a line of 10.5 is refused.
func (o Order) Check() error {
	if err := o.check(true, Scale); err != nil {
		return fmt.Errorf("coupon: %w", err)
	}
	return nil
}

// check is Check at dp decimal places (0 to rule.MaxScale, the money
// scale); without member set, an order without a member passes (Redeem
// takes the coupon's owner).
func (o Order) check(member bool, dp int32) error {
	bad := func(err error) error {
		return fmt.Errorf("order %q: %w (%w): %w", o.ID, ErrInvalidOrder, event.ErrInvalidArgument, err)
	}
	switch {
	case o.ID == "":
		return bad(errors.New("no ID"))
	case member && o.Member == "":
		return bad(errors.New("no member"))
	case o.Time.IsZero():
		return bad(errors.New("no time"))
	case len(o.Lines) == 0:
		return bad(errors.New("no lines"))
	case len(o.Lines) > MaxLines:
		return bad(fmt.Errorf("lines: %w: %d lines, at most %d", event.ErrTooLarge, len(o.Lines), MaxLines))
	}
	for i, l := range o.Lines {
		switch {
		case l.Product == "":
			return bad(fmt.Errorf("lines[%d]: no product", i))
		case l.Quantity < 0:
			return bad(fmt.Errorf("lines[%d]: negative quantity", i))
		case l.Quantity > MaxQuantity:
			return bad(fmt.Errorf("lines[%d].quantity: %w: %d, at most %d", i, event.ErrTooLarge, l.Quantity, MaxQuantity))
		case l.Amount.IsNegative():
			return bad(fmt.Errorf("lines[%d]: negative amount", i))
		}
		if err := event.CheckDecimal(l.Amount); err != nil {
			return bad(fmt.Errorf("lines[%d].amount: %w", i, err))
		}
		switch {
		case l.Amount.Equal(l.Amount.Truncate(dp)):
		case dp == 0:
			return bad(fmt.Errorf("lines[%d].amount: %s is not a whole amount (money scale 0)", i, l.Amount))
		default:
			return bad(fmt.Errorf("lines[%d].amount: %s has more than %d decimal places", i, l.Amount, dp))
		}
	}
	return nil
}

// Total returns the sum of the order's line amounts.
func (o Order) Total() decimal.Decimal {
	var s decimal.Decimal
	for _, l := range o.Lines {
		s = s.Add(l.Amount)
	}
	return s
}

// Reason says why a coupon does not apply to an order.
type Reason string

// The reasons a coupon does not apply.
const (
	ReasonOwner       Reason = "not the member's coupon"
	ReasonState       Reason = "not available"
	ReasonNotYetValid Reason = "not yet valid"
	ReasonExpired     Reason = "expired"
	ReasonStore       Reason = "not valid in this store"
	ReasonScenario    Reason = "not valid in this scenario"
	ReasonProducts    Reason = "no applicable product in the order"
	ReasonMinimum     Reason = "below the minimum amount"
	ReasonItem        Reason = "exchange item not in the order"
	ReasonRedemption  Reason = "redemption method not allowed"
	ReasonNothingOff  Reason = "takes nothing off"
	// ReasonNoTemplate is a Held without its Template (a caller's
	// mistake: Book.Held never gives one): nothing can be said of it.
	ReasonNoTemplate Reason = "no template"
)

// Held is a coupon with its template, as checkout evaluates it. A Held
// without its Template does not apply (ReasonNoTemplate).
type Held struct {
	Coupon   Coupon
	Template *Template
}

// Applied is the evaluation of one coupon against an order.
type Applied struct {
	Coupon string `json:"coupon"`
	// Code is the coupon's code, so a till can redeem the proposal by code.
	Code     string `json:"code,omitempty"`
	Template string `json:"template"`
	Group    string `json:"group,omitempty"`
	// Applicable is the amount of the order lines the coupon applies to.
	Applicable decimal.Decimal `json:"applicable"`
	// AmountOff is what it takes off; for an exchange coupon, the price of
	// the item it gives.
	AmountOff decimal.Decimal `json:"amount_off"`
	// Item is an exchange coupon's item.
	Item string `json:"item,omitempty"`
	// Reasons say why it does not apply; empty when it does.
	Reasons []Reason `json:"reasons,omitempty"`
}

// OK reports whether the coupon applies.
func (a Applied) OK() bool { return len(a.Reasons) == 0 }

// Proposal is the best allowed combination of coupons for an order.
type Proposal struct {
	// Coupons are the coupons to use, each with its share of AmountOff.
	Coupons   []Applied       `json:"coupons"`
	AmountOff decimal.Decimal `json:"amount_off"`
	// Evaluated is every coupon considered, with the reasons of those that
	// do not apply.
	Evaluated []Applied `json:"evaluated"`
}

// lineQty returns a line's quantity, at least 1.
func lineQty(l Line) int64 { return int64(max(l.Quantity, 1)) }

// reasons returns why h cannot apply to o, before amounts.
func reasons(h Held, o Order) []Reason {
	var rs []Reason
	c, t := h.Coupon, h.Template
	if c.Member != o.Member {
		rs = append(rs, ReasonOwner)
	}
	if c.State != Available && !(c.State == Locked && c.Order == o.ID) {
		rs = append(rs, ReasonState)
	}
	if o.Time.Before(c.validFrom()) {
		rs = append(rs, ReasonNotYetValid)
	}
	if !c.Expires.IsZero() && !o.Time.Before(c.Expires) {
		rs = append(rs, ReasonExpired)
	}
	if len(t.Stores) > 0 && !slices.Contains(t.Stores, o.Store) {
		rs = append(rs, ReasonStore)
	}
	if len(t.Scenarios) > 0 && !slices.Contains(t.Scenarios, o.Scenario) {
		rs = append(rs, ReasonScenario)
	}
	return rs
}

// scope is the order lines a template applies to and their amount.
type scope struct {
	lines      []int
	applicable decimal.Decimal
}

// scopes caches the scope of each template for one order.
type scopes map[*Template]scope

func (sc scopes) of(t *Template, o Order) scope {
	if s, ok := sc[t]; ok {
		return s
	}
	var s scope
	for i, l := range o.Lines {
		if t.Products.Applies(l.Product, l.Category) {
			s.lines = append(s.lines, i)
			s.applicable = s.applicable.Add(l.Amount)
		}
	}
	sc[t] = s
	return s
}

// off computes h's amount off on the lines of scope s. With rem nil it
// works on the order's amounts; otherwise on the remaining line amounts
// rem, which it reduces by what it takes (see share). Amounts are
// rounded to dp decimal places, the money scale. It returns a reason
// when the coupon does not apply.
func off(h Held, o Order, s scope, rem []decimal.Decimal, dp int32) (decimal.Decimal, Reason) {
	amount, base, at, why := amountOff(h, o, s, rem, dp)
	switch {
	case why != "" || rem == nil:
	case at >= 0:
		rem[at] = rem[at].Sub(amount)
	default:
		share(amount, base, s.lines, rem, dp)
	}
	return amount, why
}

// amountOff is off without taking anything: h's amount off on rem (the
// order's amounts when nil), the amount of its lines it would share that
// over, and for an exchange coupon the line it would take it from (-1
// for the others).
func amountOff(h Held, o Order, s scope, rem []decimal.Decimal, dp int32) (amount, base decimal.Decimal, at int, why Reason) {
	t := h.Template
	at = -1
	if len(s.lines) == 0 {
		return amount, base, at, ReasonProducts
	}
	if s.applicable.LessThan(t.MinOrder) {
		return amount, base, at, ReasonMinimum
	}
	base = s.applicable
	if rem != nil {
		base = decimal.Zero
		for _, i := range s.lines {
			base = base.Add(rem[i])
		}
	}
	switch t.Type {
	case Cash, Random:
		amount = decimal.Min(h.Coupon.Amount, base)
	case Discount:
		amount = base.Sub(base.Mul(t.Rate)).RoundDown(dp)
		if t.Cap.IsPositive() {
			amount = decimal.Min(amount, t.Cap)
		}
	case Exchange:
		for _, i := range s.lines {
			if o.Lines[i].Product == t.Item {
				at = i
				break
			}
		}
		if at < 0 {
			return amount, base, at, ReasonItem
		}
		l := o.Lines[at]
		unit := l.Amount.DivRound(decimal.NewFromInt(lineQty(l)), dp)
		left := l.Amount
		if rem != nil {
			left = rem[at]
		}
		return decimal.Min(unit, left), base, at, ""
	}
	return decimal.Max(amount, decimal.Zero), base, at, ""
}

// share takes amount (at most base, the sum of rem over lines) off the
// lines in proportion to their remaining amounts, to the money scale dp
// (the cent by default) rounded down, the units left over going to the
// lines in order (优惠分摊).
func share(amount, base decimal.Decimal, lines []int, rem []decimal.Decimal, dp int32) {
	if !amount.IsPositive() || !base.IsPositive() {
		return
	}
	takes := make([]decimal.Decimal, len(lines))
	rest := amount
	for k, i := range lines {
		takes[k] = amount.Mul(rem[i]).DivRound(base, dp+4).RoundDown(dp)
		rest = rest.Sub(takes[k])
	}
	for k, i := range lines {
		if rest.IsPositive() {
			add := decimal.Min(rest, rem[i].Sub(takes[k]))
			takes[k] = takes[k].Add(add)
			rest = rest.Sub(add)
		}
		rem[i] = rem[i].Sub(takes[k])
	}
}

// Evaluate returns, for each held coupon in turn, whether it applies to
// the order on its own and its amount off, or the reasons it does not: not
// the member's, not available, not yet valid or expired at the order's
// time, the wrong store or scenario, no applicable product (all excluded),
// below the minimum amount, the exchange item missing, nothing to take off
// (the applicable lines amount to nothing). The minimum is compared with
// the amount of the applicable lines; the amount off never exceeds it.
// A Held without its Template does not apply, for ReasonNoTemplate alone.
// Amounts are rounded to Scale, two places; the Handle evaluates at its
// definition's money scale (Definition.MoneyPlaces).
func Evaluate(o Order, held []Held) []Applied {
	return evaluate(o, held, scopes{}, Scale)
}

// evaluate is Evaluate at dp decimal places, the money scale.
func evaluate(o Order, held []Held, sc scopes, dp int32) []Applied {
	out := make([]Applied, len(held))
	for i, h := range held {
		if h.Template == nil {
			out[i] = Applied{Coupon: h.Coupon.ID, Code: h.Coupon.Code, Template: h.Coupon.Template, AmountOff: decimal.Zero,
				Reasons: []Reason{ReasonNoTemplate}}
			continue
		}
		a := Applied{Coupon: h.Coupon.ID, Code: h.Coupon.Code, Template: h.Template.Name, Group: h.Template.Group, Reasons: reasons(h, o)}
		if h.Template.Type == Exchange {
			a.Item = h.Template.Item
		}
		s := sc.of(h.Template, o)
		a.Applicable = s.applicable
		var why Reason
		a.AmountOff, why = off(h, o, s, nil, dp)
		if why == "" && !a.AmountOff.IsPositive() {
			why = ReasonNothingOff
		}
		if why != "" {
			a.Reasons = append(a.Reasons, why)
		}
		if !a.OK() {
			a.AmountOff = decimal.Zero
		}
		out[i] = a
	}
	return out
}

func remaining(o Order) []decimal.Decimal {
	rem := make([]decimal.Decimal, len(o.Lines))
	for i, l := range o.Lines {
		rem[i] = l.Amount
	}
	return rem
}

// CheckCombination returns nil when the coupons may be used together in
// one order, or an error wrapping ErrNotCombinable: an exclusive coupon
// with any other, coupons of different stacking groups, two coupons of one
// template. A Held without its Template is an error wrapping
// ErrNotApplicable (ReasonNoTemplate) and event.ErrInvalidArgument that
// names it by its index.
func CheckCombination(held []Held) error {
	if err := checkCombination(held); err != nil {
		return fmt.Errorf("coupon: %w", err)
	}
	return nil
}

// checkCombination is CheckCombination for combine, whose caller names
// the package.
func checkCombination(held []Held) error {
	for i, h := range held {
		if h.Template == nil {
			return fmt.Errorf("held[%d] (%s): %w (%w): %s: Template is nil", i, h.Coupon.ID, ErrNotApplicable, event.ErrInvalidArgument, ReasonNoTemplate)
		}
	}
	seen := map[string]bool{}
	for _, h := range held {
		t := h.Template
		switch {
		case len(held) > 1 && t.Group == "":
			return fmt.Errorf("%w: %s (template %s) is exclusive", ErrNotCombinable, h.Coupon.ID, t.Name)
		case t.Group != held[0].Template.Group:
			return fmt.Errorf("%w: groups %q and %q", ErrNotCombinable, held[0].Template.Group, t.Group)
		case seen[t.Name]:
			return fmt.Errorf("%w: two coupons of template %s", ErrNotCombinable, t.Name)
		}
		seen[t.Name] = true
	}
	return nil
}
