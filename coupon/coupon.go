package coupon

import (
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/shopspring/decimal"
)

// Sentinel errors. Every refusal wraps one of them (test with errors.Is)
// and changes nothing.
var (
	// ErrUnknownTemplate is returned for a template or pack the definition
	// does not have.
	ErrUnknownTemplate = errors.New("unknown template or pack")
	// ErrOutOfStock is returned when a template or pack has no stock left.
	ErrOutOfStock = errors.New("out of stock")
	// ErrLimitReached is returned when a member reached a per-member limit
	// (in total or for the day).
	ErrLimitReached = errors.New("claim limit reached")
	// ErrNotEligible is returned when the claim method is not allowed or
	// the member does not meet the level or tag conditions.
	ErrNotEligible = errors.New("not eligible")
	// ErrOutsidePeriod is returned for a claim outside the claim period.
	ErrOutsidePeriod = errors.New("outside the claim period")
	// ErrBadCode is returned for a code that is malformed or fails its
	// check symbol: a typo.
	ErrBadCode = errors.New("malformed code")
	// ErrUnknownCode is returned for a well-formed code no coupon has.
	ErrUnknownCode = errors.New("unknown code")
	// ErrNotFound is returned for an unknown coupon ID, or a coupon that
	// belongs to another member.
	ErrNotFound = errors.New("no such coupon")
	// ErrState is returned for a transition the coupon's state does not
	// allow (using a used coupon, releasing an available one, …).
	ErrState = errors.New("not allowed in the coupon's state")
	// ErrNotApplicable is returned when a coupon does not apply to an
	// order; the error names the reason.
	ErrNotApplicable = errors.New("does not apply to the order")
	// ErrNotCombinable is returned for coupons the stacking rules do not
	// allow together.
	ErrNotCombinable = errors.New("coupons cannot be combined")
	// ErrInvalidOrder is returned for a malformed order (no ID, a negative
	// line amount, too many lines, …: see Order.Check), with
	// event.ErrInvalidArgument.
	ErrInvalidOrder = errors.New("invalid order")
	// ErrRandomSource is wrapped by the error of an issue whose random
	// source (membership.WithRand) gave nine codes in a row that other
	// coupons have: no refusal of the request, but a source that is not
	// random. Nothing changes.
	ErrRandomSource = errors.New("random source keeps giving codes in use")
)

// State is where a coupon is in its life.
type State string

// The coupon states: available → locked (during checkout) → used;
// locked → available (released); available → expired; available or locked
// → revoked (by an operator).
const (
	Available State = "available"
	Locked    State = "locked"
	Used      State = "used"
	Expired   State = "expired"
	Revoked   State = "revoked"
)

// valid reports whether s is one of the states.
func (s State) valid() bool {
	switch s {
	case Available, Locked, Used, Expired, Revoked:
		return true
	}
	return false
}

// Coupon is an issued coupon.
type Coupon struct {
	// ID is "c<n>.<member>": the member's n-th coupon, n from 1.
	ID       string `json:"id"`
	Code     string `json:"code"`
	Template string `json:"template"`
	Member   string `json:"member"`
	Type     Type   `json:"type"`
	// Amount is a cash coupon's amount, or the amount drawn for a random
	// coupon; zero for the other types.
	Amount decimal.Decimal `json:"amount,omitzero"`
	State  State           `json:"state"`
	Method Method          `json:"method"`
	// Pack is the pack it came in, if any.
	Pack     string    `json:"pack,omitempty"`
	IssuedAt time.Time `json:"issued_at"`
	// From is when it starts to be valid (a fixed range's first day) and
	// Expires the first instant it no longer is; zero: unbounded. It is
	// valid from its issue in any case (see ValidAt).
	From    time.Time `json:"from,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
	// Order is the order that locked or used it, Store where it was used,
	// and AmountOff the amount it took off.
	Order     string          `json:"order,omitempty"`
	Store     string          `json:"store,omitempty"`
	AmountOff decimal.Decimal `json:"amount_off,omitzero"`
	// Changed is when its state last changed.
	Changed time.Time `json:"changed"`
	// Note is an operator's note on a revocation.
	Note string `json:"note,omitempty"`
	// Legacy is the code the coupon had in the system it was migrated
	// from (package migrate), if any; ByCode finds the coupon by it too.
	Legacy string `json:"legacy,omitempty"`
}

// QR returns the payload of the coupon's QR code.
func (c Coupon) QR() string { return QR(c.Code) }

// ValidAt reports whether the coupon's validity covers t (its state
// aside): from From, or from IssuedAt when that is later, up to Expires.
// A coupon is not valid before it was issued, so an order dated before
// the claim (a till's late order) cannot use it.
func (c Coupon) ValidAt(t time.Time) bool {
	return !t.Before(c.validFrom()) && (c.Expires.IsZero() || t.Before(c.Expires))
}

// validFrom is the first instant the coupon is valid: the later of From
// and IssuedAt (zero when both are).
func (c Coupon) validFrom() time.Time {
	if c.IssuedAt.After(c.From) {
		return c.IssuedAt
	}
	return c.From
}

// notBefore returns an error wrapping event.ErrInvalidArgument, naming
// "at", when at is before the coupon last changed (Changed, or its issue
// when later): a request dated before its issue, lock or release would
// record a state, and count it in Stats, before the coupon was in the
// state the request acts on. loc is the zone the times are shown in.
func (c Coupon) notBefore(at time.Time, loc *time.Location) error {
	last := c.Changed
	if c.IssuedAt.After(last) {
		last = c.IssuedAt
	}
	if !at.Before(last) {
		return nil
	}
	return fmt.Errorf("%w: at: %s is before coupon %s last changed, %s", event.ErrInvalidArgument,
		at.In(loc).Format(time.RFC3339Nano), c.ID, last.In(loc).Format(time.RFC3339Nano))
}

// in returns c with its times in loc.
func (c Coupon) in(loc *time.Location) Coupon {
	for _, t := range []*time.Time{&c.IssuedAt, &c.From, &c.Expires, &c.Changed} {
		if !t.IsZero() {
			*t = t.In(loc)
		}
	}
	return c
}
