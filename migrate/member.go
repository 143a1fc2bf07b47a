// Package migrate moves members from another loyalty system into a
// program: it streams their opening state from CSV or JSON lines, one
// member a row, and applies each row as one idempotent unit of work
// through a Target (membership.Program is one).
//
// # Rows
//
// A row is a [Member]: the member ID, profile attributes, manual tags, the
// level (with its term end, or placed by the ladder from the growth),
// lifetime and current growth with the days it was earned on (for the
// retention windows of later term ends), the levels whose upgrade gifts
// the member had (their next reach grants nothing again) and the rewards
// of upgrade gifts owed (refused when the member reached their level,
// granted by its next reach), the paid plans held (each with its expiry
// and the start of its run), points lots per point program (amount and
// expiry) and pending points (with the time they become spendable), the
// stored-value balance with the cumulative recharge, spend, refund and
// withdrawal, the coupons held (template, expiry, and the old system's
// code), and the achievements granted (each with its time and what
// granted it). [CSV] and [JSONL] read them; their
// formats are documented there. Package export's Openings writes a
// program's members in the CSV format, so that a program's members move
// to another store (or deployment) by an export and an import.
//
// # Guarantees
//
// Each row has its own request ID, given in the row or derived from
// Options.Name (the file's name, say) and the row's line
// ("members.csv:17"), so re-running a file changes nothing: rows already
// applied come back as duplicates. A row applies completely or not at all.
// A bad row (one that does not parse, or that the program refuses: an
// unknown level, template or attribute, a member already known, of whom any
// domain keeps a record) is reported with its line and field ([RowError]),
// and the rest go on, or the run stops at the first (Options.StopOnError).
// The opening balances are ledger entries of their own kind ("opening"),
// from pool accounts of that name, so the ledger's identity holds and
// Verify passes after an import.
//
// [Run] reads one batch of rows at a time (Options.Batch) and hands it to
// the Target, which applies it in one store transaction: memory stays flat
// whatever the file's size. A cancelled context stops it between batches
// (or inside one, which then applies nothing); running the file again
// resumes where it stopped.
//
// An argument Run cannot use (a nil target or source, a source built on a
// nil reader) is refused with an error wrapping [ErrInvalidArgument] that
// names it, before any row is applied.
package migrate

import (
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Member is one member's opening state: one row of an import. Its JSON
// is the row's fingerprint (a retry under its request ID must be the same
// row); internal/engine.MemberJSON writes it by hand, so a field added
// here goes there too (its test fails until it does).
type Member struct {
	// RequestID is the row's idempotency key; Run derives it from the
	// source's name and the row's line when empty.
	RequestID string `json:"request_id,omitempty"`
	// Member is the member's ID (required).
	Member string `json:"member"`
	// Operator is who imports (Options.Operator when empty): the audit
	// trail records it.
	Operator string `json:"operator,omitempty"`
	// At is when the opening state takes effect (Options.At when zero):
	// the time of its ledger entries, of the level's new term, of the
	// coupons' issue.
	At time.Time `json:"at"`
	// Profile holds profile attributes as text, converted to each
	// attribute's declared kind (a decimal, an integer, true/false, an
	// RFC 3339 time, strings separated by commas).
	Profile map[string]string `json:"profile,omitempty"`
	// Tags are manual tags the member holds.
	Tags []string `json:"tags,omitempty"`
	// Level is the ladder level the member holds; empty: the highest
	// level whose upgrade threshold the growth reaches. TermEnd is when
	// its term ends; zero: as the level's validity says from At.
	Level   string    `json:"level,omitempty"`
	TermEnd time.Time `json:"term_end,omitzero"`
	// Growth is the current growth; Lifetime the net growth ever earned
	// (Growth when zero).
	Growth   decimal.Decimal `json:"growth,omitzero"`
	Lifetime decimal.Decimal `json:"lifetime,omitzero"`
	// GrowthDays is the net growth earned on each day (a date in the
	// program's zone; none after the row's day, no day twice), as the
	// level domain keeps it for the retention windows of term ends. Given,
	// the level's daily growth is exactly these days: a term end's window
	// counts the days it holds, and Growth is not also counted on the
	// row's day. Empty (as in a file from before the field): all of Growth
	// counts as earned on the row's day. A day of zero growth counts
	// nothing: given alone, it says that no window counts any of Growth.
	// The days need not add up to Growth (a term end re-bases growth, and
	// the days before the longest window are no longer read).
	GrowthDays []GrowthDay `json:"growth_days,omitempty"`
	// GiftedLevels are the ladder's levels whose upgrade gifts the member
	// has had (level.Status.Gifted), whatever the member's level now: at
	// its next reach a level listed grants only its rewards owed (all its
	// gifts if it grants them every time), and one left out grants its
	// gifts, as a level a manual set passed over does.
	// Given, they are exactly the levels gifted, each once, and each level
	// of a gift owed among them; an empty list, not nil, says that the
	// member had none. Nil (as in a file from before the field): the
	// levels up to the member's, and those of the gifts owed, count as
	// gifted.
	GiftedLevels []string `json:"gifted_levels,omitzero"`
	// OwedGifts are the rewards of upgrade gifts the member is owed
	// (level.Status.Owed): refused when the member reached their level (a
	// coupon out of stock). The file carries no time of refusal, so the
	// member's first event after the import tries them again (see the
	// level package doc, Gifts owed). Each names one of the level's
	// gifts, by its Place among the level's gifts of its target or,
	// without one (as in a file from before the field), by its order: the
	// k-th listed of a level and target is its k-th gift of that target.
	// No gift is listed twice (at one place, or its target more often than
	// the level gives it). Its level counts as one whose
	// gifts the member had, whatever the member's level now (with
	// GiftedLevels given, it must be among them): its next reach grants
	// the rewards owed, and only them. Empty (as in a file from before the
	// field): none owed.
	OwedGifts []OwedGift `json:"owed_gifts,omitempty"`
	// Plans are the paid plans the member holds (level.Status.Plans), each
	// until its expiry, as if bought by the member's events: their
	// benefits count until then, Advance performs the expiry, and a
	// purchase before it renews the plan from it. Empty (as in a file from
	// before the field): none held.
	Plans []Plan `json:"plans,omitempty"`
	// Points are the points held, per point program.
	Points []Points `json:"points,omitempty"`
	// Value is the stored value, if any.
	Value *Value `json:"value,omitempty"`
	// Coupons are the coupons held, all available.
	Coupons []Coupon `json:"coupons,omitempty"`
	// Achievements are the achievements granted to the member
	// (benefit.Handle.Achievements): each is held once, so a task or a
	// level gift that grants it later grants nothing, and an operator's
	// grant of it is benefit.ErrAlreadyGranted. Empty (as in a file from
	// before the field): none granted.
	Achievements []Achievement `json:"achievements,omitempty"`
}

// GrowthDay is the net growth a member earned on one day: positive, or
// negative on a day whose refunds took more than it earned. It keeps to
// the growth scale (level.Definition.Rounding).
type GrowthDay struct {
	Day    rule.Date       `json:"day"`
	Growth decimal.Decimal `json:"growth"`
}

// OwedGift is a reward of a level's upgrade gift owed to a member: the
// level, the reward by its target (rule.Reward.Target: "coupon:welcome",
// "pack:spring"), as level.Gift names it, and its place among the level's
// gifts of that target.
type OwedGift struct {
	Level  string `json:"level"`
	Reward string `json:"reward"`
	// Place is the gift's place among the level's gifts of Reward,
	// counting from 1 (level.Status.OwedPlaces): 2 for the second of a
	// level's two coupons of one template (counts 1 and 2) or of a pack it
	// lists twice, owed without the first. Zero (as in a file from before
	// the field): its order says it, the k-th listed of its level and
	// target being the level's k-th gift of it, as Member.OwedGifts says.
	// A negative place, or one past the level's gifts of Reward, is
	// refused at owed_gifts[i].place.
	Place int `json:"place,omitzero"`
}

// Plan is a paid plan a member holds: its name (one of the definition's
// plans), its expiry (required, after the row's time) and the start of
// the run that holds it (zero: the row's time; not after it), which
// level.Status.Plans lists as Since: the plan counts from then for a
// query or a late event dated before the import.
type Plan struct {
	Plan    string    `json:"plan"`
	Expires time.Time `json:"expires,omitzero"`
	Since   time.Time `json:"since,omitzero"`
}

// Achievement is an achievement a member was granted: its name (one of
// the catalog's), when (zero: the row's time; not after it) and what
// granted it, as benefit.Grant says: Source "task" or "level" (By naming
// the task or the level) or "operator" (By naming the operator); with
// neither, the import's operator (Member.Operator) granted it. The grant's
// note is not carried, and its Event is the row's request ID.
type Achievement struct {
	Achievement string    `json:"achievement"`
	At          time.Time `json:"at,omitzero"`
	Source      string    `json:"source,omitempty"`
	By          string    `json:"by,omitempty"`
}

// Points are the points of one point program a member holds.
type Points struct {
	Program string `json:"program"`
	// Lots are spendable points; Pending are points not yet spendable,
	// each released at its Release time.
	Lots    []Lot `json:"lots,omitempty"`
	Pending []Lot `json:"pending,omitempty"`
}

// Lot is an amount of points with its expiry (zero: never) and, for
// pending points, its release (required there; refused on a spendable
// lot, which would otherwise be spendable at once).
type Lot struct {
	Amount  decimal.Decimal `json:"amount"`
	Expires time.Time       `json:"expires,omitzero"`
	Release time.Time       `json:"release,omitzero"`
}

// Value is a member's stored value: the balance, the cumulative recharge
// and spend the statistics and tag rules read, the cumulative refund
// (value.Account.Refunded), which a later refund counts against the spend
// (value.ErrRefundExceedsSpend: what is refundable is Spent less
// Refunded), and the cumulative withdrawal (value.Account.Withdrawn:
// recharged money paid back), which a tag definition that counts
// withdrawals off (tag.Recharge.Withdraw) takes off the recharge total,
// down to 0. Each keeps to the stored-value scale
// (value.Definition.Places: whole units when Scale is 0, where 10.5 is
// refused). Refunded is not checked against Spent: a store of an earlier
// release may hold refunds past the spend, and such a member has nothing
// refundable, before the import and after it. Nor is Withdrawn checked
// against Recharged (an opening balance can be withdrawn too), nor the
// balance against the totals: a member whose figures were consistent
// (Balance = Recharged − Spent + Refunded − Withdrawn) is so after the
// import.
type Value struct {
	Balance   decimal.Decimal `json:"balance"`
	Recharged decimal.Decimal `json:"recharged,omitzero"`
	Spent     decimal.Decimal `json:"spent,omitzero"`
	Refunded  decimal.Decimal `json:"refunded,omitzero"`
	Withdrawn decimal.Decimal `json:"withdrawn,omitzero"`
}

// Coupon is a coupon a member holds: its template, its expiry (zero: as
// the template's validity says from At) and the old system's code, kept
// on the coupon (coupon.Coupon.Legacy) and found by coupon.Handle.ByCode.
type Coupon struct {
	Template string    `json:"template"`
	Expires  time.Time `json:"expires,omitzero"`
	Code     string    `json:"code,omitempty"`
}

// Rule is the rule named in the reason of every change an opening state
// publishes (points.opened, a pending opening lot's points.pending, the
// opening growth and level, the plans held (plan.purchased), the coupons
// held, the stored value, the manual tags, the achievements granted
// (achievement.granted)), so that a reader of the change feed tells what was
// migrated in from what a rule or an operator did. A tag rule that the
// imported figures satisfy at once (a recharge total reached by
// Value.Recharged, less Value.Withdrawn where the tags count
// withdrawals off) gives its tag in the same unit of work with the tag
// rule's reason, as it would after any event: that tag was not migrated.
const Rule = "migrate.opening"

// Sentinel errors.
var (
	// ErrBadRow is wrapped by the error of a row that does not parse,
	// and by the error of a source's Next that stops the run on input
	// past reading: a CSV header that does not parse or names an unknown
	// column, a record longer than MaxRecord, a quoted field left open to
	// the end of the file.
	ErrBadRow = errors.New("bad row")
	// ErrInvalidArgument is wrapped by Run's error for an argument it
	// cannot use (a nil target or source), and by the first Next of a
	// source built on a nil reader. It is event.ErrInvalidArgument, the
	// sentinel every package of the module shares.
	ErrInvalidArgument = event.ErrInvalidArgument
)

// FieldError is the error of one field of a row: a value that does not
// parse, or one the program refuses (an unknown level). Field is the
// field's path ("points[0].lots[1].amount", "coupons[2].template").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// Field returns err in a FieldError naming field.
func Field(field string, err error) error { return &FieldError{Field: field, Err: err} }

// Fieldf returns a FieldError naming field, its cause formatted.
func Fieldf(field string, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
