package membership

import (
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/value"
)

// The domain handles: each domain's operator calls and queries, documented
// in its own package. A handle is built once in Open and is never nil; a
// domain the definition leaves out answers with its ErrNotDefined.

// Coupons returns the coupon handle: claims, checkout, redemption,
// revocation and statistics (see package coupon).
func (p *Program) Coupons() *coupon.Handle { return p.parts.coupons }

// Value returns the stored-value handle: members' balances and cumulative
// recharge, spend and refund (see package value).
func (p *Program) Value() *value.Handle { return p.parts.value }
