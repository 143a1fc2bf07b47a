package membership

import (
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
)

// The domain handles: each domain's operator calls and queries, documented
// in its own package. A handle is built once in Open and is never nil. On
// a domain the definition leaves out, a list of a member's items (task
// progress, achievements, benefits, tags, coupons, level history) is
// empty, since the member has none; every other call (a write, a query
// naming something the domain defines, a member's level status, points
// balance or stored value) returns the domain's ErrNotDefined.

// Levels returns the level domain: manual level sets, members' level
// status, history, counts and term-end forecast (see package level).
func (p *Program) Levels() *level.Handle { return p.parts.level }

// Points returns the program's points: redemptions, adjustments, reviews,
// exchanges, balances and statements (see package points).
func (p *Program) Points() *points.Handle { return p.parts.points }

// Coupons returns the coupon domain: claims, checkout, redemption,
// revocation and statistics (see package coupon).
func (p *Program) Coupons() *coupon.Handle { return p.parts.coupons }

// Benefits returns the benefit domain: members' benefits and member
// prices, and achievements (see package benefit).
func (p *Program) Benefits() *benefit.Handle { return p.parts.benefit }

// Tasks returns the task domain: members' progress and completions (see
// package task).
func (p *Program) Tasks() *task.Handle { return p.parts.tasks }

// Tags returns the tag domain: manual tags, profile attributes, segments
// and the recompute of a changed rule (see package tag).
func (p *Program) Tags() *tag.Handle { return p.parts.tags }

// Value returns the stored-value domain: members' balances and cumulative
// recharge, spend, refund and withdrawal (see package value).
func (p *Program) Value() *value.Handle { return p.parts.value }
