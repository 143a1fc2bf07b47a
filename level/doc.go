// Package level is the level ladder of a membership program (会员等级):
// growth (成长值) and the rules that earn it, upgrades and their gifts,
// terms with retention and downgrades, freeze strategies, and paid plans.
//
// It holds the definition types (round-tripping through JSON), their
// validation, the member state and the rules as pure functions of that
// state and a time. The root package membership wires it into
// Program.Process and Program.Advance: it posts growth to the ledger,
// schedules term ends, freeze deadlines and plan expiries in the due
// index, grants gifts through the parts that fulfil rewards, and emits the
// changes.
//
// # Ladder and growth
//
// Levels are ordered by upgrade threshold, strictly increasing from 0 (the
// entry level, which a member joins with their first event). Growth is the
// member's ledger account of asset growth, a plain balance without lots
// (ledger.Asset.HasLots); growth rules earn it (event type, attribute conditions, applicable levels,
// effective period, formula, rounding to the growth scale, caps per day,
// week, month, year and in total). Whenever growth increases the member
// moves to the highest level it reaches, crossing several levels at once
// if need be, and gets each crossed level's gifts — once per member per
// level unless the level grants them every time. A decrease (a refund rule,
// a negative growth rule) never goes below zero — the shortfall is recorded
// in the change's reason — and never downgrades before the term ends.
// Lifetime growth, the net growth ever earned, is kept beside the balance
// and is never re-based.
//
// # Terms and retention
//
// Reaching a level starts a term ending at the level's validity applied to
// the start ([Level.TermEnd]). At a term end T the net growth G earned in
// the retention window [T − W months, T) decides ([Definition.Retain]): G ≥
// the retention threshold keeps the level, otherwise the downgrade mode
// picks the next lower, the matching or the lowest level. Either way growth
// is re-based to G (plus anything already earned from T on) and the next
// term starts at T, not when the due work runs.
//
// The window's growth is read from per-member daily buckets kept in the
// program zone (the days from T − W months to the day before T: term ends
// are always day starts, so the window is whole days and exact). A re-base
// is not earned growth and is not counted in the buckets. The cost is one
// range scan of the days with growth in the window. The latest day's
// bucket is kept in the member's record (Member.Day), which every event
// writes anyway; it moves to a record of its own when a later day starts.
//
// # Freezes
//
// A level with a freeze strategy is frozen for a member downgraded from
// it; growth earned from then on is counted, and once it reaches the
// level's unfreeze threshold the member returns to it at once (the highest
// such level when several are frozen) with a new term, and no gift. A
// long-term freeze has no deadline and survives any number of further
// downgrades; a fixed-duration freeze ends at the deadline given by its
// duration applied to the downgrade. Reaching a frozen level by ordinary
// growth ends its freeze too.
//
// # Refunds
//
// A growth rule with an [OrderRef] remembers per order what it granted; a
// refund rule reverses, for the order its event names, the share of each
// grant matching everything refunded so far ([Reversal]), and gives the
// amount back to the rule's caps of the day it was granted.
//
// # Paid plans
//
// A plan is bought or renewed by a purchase event whose attribute names
// it; the expiry becomes the later of the purchase time and the current
// expiry plus the period in calendar months or days, at the same wall-clock
// time ([Plan.Extend]). Plans are independent of the ladder: a member can
// hold a plan and a level at once. Benefits bind to level and plan names in
// package benefit.
//
// # Stored-value membership
//
// A ladder fed by recharge events is an ordinary ladder whose growth rule
// names the recharge event type with a multiplier on its amount.
package level

import "errors"

// Sentinel errors.
var (
	// ErrUnknownLevel is returned for a level name the ladder does not
	// have.
	ErrUnknownLevel = errors.New("level: unknown level")
	// ErrNoLadder is returned for a level operation on a program without
	// a ladder.
	ErrNoLadder = errors.New("level: no ladder")
	// ErrInvalidRefund is returned for a refund event with no order or an
	// amount that is not positive.
	ErrInvalidRefund = errors.New("level: invalid refund")
)
