package points

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Sub-accounts of a member's points, beside the main (spendable) account
// "".
const (
	// SubPending holds points earned but not yet released (return window).
	SubPending = "pending"
	// SubFrozen holds points frozen by risk control until reviewed.
	SubFrozen = "frozen"
)

// Subs lists a member's points accounts: main, pending, frozen.
var Subs = [...]string{"", SubPending, SubFrozen}

// LotAmount is an amount of one lot.
type LotAmount struct {
	Lot     string          `json:"lot"`
	Amount  decimal.Decimal `json:"amount"`
	Expires time.Time       `json:"expires,omitzero"`
	Granted time.Time       `json:"granted,omitzero"`
}

// ReviewState is the state of a risk-control review.
type ReviewState string

// The review states.
const (
	ReviewPending  ReviewState = "pending"
	ReviewRestored ReviewState = "restored"
	ReviewVoided   ReviewState = "voided"
)

// Review is one member's frozen day in one program, waiting for (or
// decided by) an operator.
type Review struct {
	Program string `json:"program"`
	Member  string `json:"member"`
	// Date is the frozen day in the program's zone ("2006-01-02").
	Date string `json:"date"`
	// Earned is what the member earned that day by earning rules.
	Earned decimal.Decimal `json:"earned"`
	// Lots are the frozen lots and the amounts frozen.
	Lots  []LotAmount `json:"lots,omitempty"`
	State ReviewState `json:"state"`
	// Round counts decisions: a grant after a decision the same day
	// reopens the review for the new points.
	Round    int       `json:"round,omitempty"`
	Operator string    `json:"operator,omitempty"`
	Decided  time.Time `json:"decided,omitzero"`
	// Frozen is the last time the review took points in: the freeze, a
	// later grant of the day, a release or a redemption's reversal into
	// it. A decision cannot be dated before it (nor, in a review an
	// earlier version recorded without it, before the day's start).
	Frozen time.Time `json:"frozen,omitzero"`
}

// took records that the review took points in at t.
func (r *Review) took(t time.Time) {
	if t.After(r.Frozen) {
		r.Frozen = t
	}
}

// Day is one member's earning in one program on one day, for risk
// control.
type Day struct {
	Earned  decimal.Decimal `json:"earned"`
	Blocked decimal.Decimal `json:"blocked,omitzero"`
	Frozen  bool            `json:"frozen,omitempty"`
	// Lots are, under the Freeze policy, the day's lots (spendable or
	// pending) that no review decision has covered yet: the day's freeze
	// moves the spendable ones to frozen, a void voids what remains of
	// the pending ones.
	Lots []string `json:"lots,omitempty"`
	// Voided are the day's lots a void decided: points a redemption's
	// reversal returns to them later are voided again at once, as the day's
	// other points were (see the package doc, Risk control).
	Voided []string `json:"voided,omitempty"`
}

// AdjustmentState is the state of a manual adjustment.
type AdjustmentState string

// The adjustment states.
const (
	AdjustmentPending  AdjustmentState = "pending"
	AdjustmentApplied  AdjustmentState = "applied"
	AdjustmentRejected AdjustmentState = "rejected"
)

// Adjustment is a manual credit (positive Amount) or debit (negative).
type Adjustment struct {
	ID        string          `json:"id"`
	Program   string          `json:"program"`
	Member    string          `json:"member"`
	Amount    decimal.Decimal `json:"amount"`
	Reason    string          `json:"reason"`
	State     AdjustmentState `json:"state"`
	Requester string          `json:"requester"`
	Requested time.Time       `json:"requested"`
	// Decider is the operator who approved or rejected it (the requester
	// when it needed no approval).
	Decider string    `json:"decider,omitempty"`
	Decided time.Time `json:"decided,omitzero"`
	Note    string    `json:"note,omitempty"`
}

// Redemption is a spend of points against a reference.
type Redemption struct {
	Program string          `json:"program"`
	Member  string          `json:"member"`
	Ref     string          `json:"ref"`
	Amount  decimal.Decimal `json:"amount"`
	// Split is set for a points + cash payment.
	Split *Split    `json:"split,omitempty"`
	Time  time.Time `json:"time"`
	// Takes are the lots the points came from, in spending order, with
	// what each has had returned so far.
	Takes    []LotAmount       `json:"takes"`
	Returned []decimal.Decimal `json:"returned"`
	Reversed decimal.Decimal   `json:"reversed"`
}

// Remaining returns what of the redemption may still be reversed.
func (r Redemption) Remaining() decimal.Decimal { return r.Amount.Sub(r.Reversed) }

// Grant is one lot an order earned.
type Grant struct {
	Program  string          `json:"program"`
	Rule     string          `json:"rule"`
	Lot      string          `json:"lot"`
	Amount   decimal.Decimal `json:"amount"`
	Time     time.Time       `json:"time"`
	Reversed decimal.Decimal `json:"reversed,omitzero"`
	// Lapsed is what of Reversed refunds did not take back because it had
	// expired or been voided.
	Lapsed decimal.Decimal `json:"lapsed,omitzero"`
	// Shortfall is what of Reversed is still short: refunds could not
	// take it back (it was spent), and no reversal of a redemption has
	// returned it to the lot since (see the package doc, Refunds).
	Shortfall decimal.Decimal `json:"shortfall,omitzero"`
	// Charged lists what of Reversed refunds took from the member's other
	// spendable lots, by lot, because it was spent, less what reversals
	// of redemptions have since given back to those lots, having
	// returned the spent points to the grant's lot (see the package doc,
	// Refunds). Orders refunded by a version before this rule have none.
	Charged []LotAmount `json:"charged,omitempty"`
}

// Order is what an order earned, for the return policy.
type Order struct {
	ID       string          `json:"id"`
	Member   string          `json:"member"`
	Amount   decimal.Decimal `json:"amount"`
	Refunded decimal.Decimal `json:"refunded,omitzero"`
	Grants   []Grant         `json:"grants"`
	// Shortfall is what could not be taken back because it was spent,
	// less what reversals of redemptions have since returned to the
	// order's lots and settled.
	Shortfall decimal.Decimal `json:"shortfall,omitzero"`
	// Lapsed is what refunds did not take back because it had expired or
	// been voided: the member had lost it already, so it is no shortfall.
	Lapsed decimal.Decimal `json:"lapsed,omitzero"`
}

// Reconciliation is a program's totals per kind over a period, as the
// net amounts moved into member accounts (pending, frozen and main
// together). Redeemed, Expired and Voided are given as positive amounts
// taken out.
type Reconciliation struct {
	Program string `json:"program"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
	// Opening is the opening points of members migrated in (Open).
	Opening  decimal.Decimal `json:"opening,omitzero"`
	Earned   decimal.Decimal `json:"earned"`
	Redeemed decimal.Decimal `json:"redeemed"`
	// Reversed is net: redemptions returned less points taken back by
	// refunds.
	Reversed  decimal.Decimal `json:"reversed"`
	Expired   decimal.Decimal `json:"expired"`
	Voided    decimal.Decimal `json:"voided"`
	Adjusted  decimal.Decimal `json:"adjusted"`
	Exchanged decimal.Decimal `json:"exchanged"`
	// Change is the change in the members' total balance over the period,
	// the sum of every kind's total. Over the whole history (From and To
	// empty), Outstanding is the members' total balance read from the
	// program's pool accounts, independently of the daily totals.
	Change      decimal.Decimal  `json:"change"`
	Outstanding *decimal.Decimal `json:"outstanding,omitempty"`
}

// Holds reports whether the identity holds: Change = Opening + Earned −
// Redeemed + Reversed − Expired − Voided + Adjusted + Exchanged, and
// Outstanding (when known) equals Change.
func (r Reconciliation) Holds() bool {
	sum := r.Opening.Add(r.Earned).Sub(r.Redeemed).Add(r.Reversed).Sub(r.Expired).Sub(r.Voided).Add(r.Adjusted).Add(r.Exchanged)
	if !sum.Equal(r.Change) {
		return false
	}
	return r.Outstanding == nil || r.Outstanding.Equal(r.Change)
}

// Totals is what moved a member's points in one program over a period
// ([Handle.Totals]): the sum of the member's ledger entries of each kind
// in the main, pending and frozen accounts. Opening to Exchanged are as
// in a [Reconciliation]: Redeemed, Expired and Voided are what went out
// (positive); Reversed (redemptions returned less what refunds took
// back), Adjusted and Exchanged are net (negative when more went out
// than came in). From and To are the query's, in the program's zone.
// Not to be confused with membership's Program.Totals: a map of ledger
// kinds to net amounts of an asset over every member, by day, in which
// what went out (a redemption) is negative.
type Totals struct {
	Program string    `json:"program"`
	Member  string    `json:"member"`
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	// Opening is the opening points the member was migrated in with.
	Opening   decimal.Decimal `json:"opening,omitzero"`
	Earned    decimal.Decimal `json:"earned"`
	Redeemed  decimal.Decimal `json:"redeemed"`
	Reversed  decimal.Decimal `json:"reversed"`
	Expired   decimal.Decimal `json:"expired"`
	Voided    decimal.Decimal `json:"voided"`
	Adjusted  decimal.Decimal `json:"adjusted"`
	Exchanged decimal.Decimal `json:"exchanged"`
	// Released, Frozen and Restored moved points between the member's
	// own accounts and change none of the figures above: Released is
	// what left the pending account when released (to the main account,
	// or to the frozen one while its day awaited review), Frozen what
	// risk control moved from the main account to the frozen one, and
	// Restored what a review moved back from the frozen account to the
	// main one.
	Released decimal.Decimal `json:"released"`
	Frozen   decimal.Decimal `json:"frozen"`
	Restored decimal.Decimal `json:"restored"`
	// Change is the change in the member's points (main + pending +
	// frozen) over the period: the sum of every entry of the three
	// accounts, which is Opening + Earned − Redeemed + Reversed − Expired
	// − Voided + Adjusted + Exchanged.
	Change decimal.Decimal `json:"change"`
}

// add counts entry e of the member's account sub.
func (t *Totals) add(sub string, e ledger.Entry) error {
	switch e.Kind {
	case KindOpening:
		t.Opening = t.Opening.Add(e.Amount)
	case KindEarned:
		t.Earned = t.Earned.Add(e.Amount)
	case KindRedeemed:
		t.Redeemed = t.Redeemed.Sub(e.Amount)
	case KindReversed:
		t.Reversed = t.Reversed.Add(e.Amount)
	case KindExpired:
		t.Expired = t.Expired.Sub(e.Amount)
	case KindVoided:
		t.Voided = t.Voided.Sub(e.Amount)
	case KindAdjusted:
		t.Adjusted = t.Adjusted.Add(e.Amount)
	case KindExchanged:
		t.Exchanged = t.Exchanged.Add(e.Amount)
	// A move is counted once, on the side that names it; its other leg
	// is counted in Change only, where the two cancel.
	case KindReleased:
		if sub == SubPending {
			t.Released = t.Released.Sub(e.Amount)
		}
	case KindFrozen:
		if sub == SubFrozen {
			t.Frozen = t.Frozen.Add(e.Amount)
		}
	case KindRestored:
		if sub == "" {
			t.Restored = t.Restored.Add(e.Amount)
		}
	default:
		return fmt.Errorf("%w: entry %d of %s is of kind %q, which no points entry has", ledger.ErrCorrupt, e.Seq, e.Account, e.Kind)
	}
	t.Change = t.Change.Add(e.Amount)
	return nil
}

// ExpiringLot is a lot of a member that expires soon.
type ExpiringLot struct {
	Lot     string          `json:"lot"`
	Sub     string          `json:"sub,omitempty"`
	Amount  decimal.Decimal `json:"amount"`
	Expires time.Time       `json:"expires"`
}

// MonthTotal is what a program's members hold expiring in one month
// (points whose last valid day falls in it).
type MonthTotal struct {
	Month  string          `json:"month"` // "2006-01"
	Amount decimal.Decimal `json:"amount"`
}

// Blocked is recorded for points the Stop policy cut.
type Blocked struct {
	Rule   string          `json:"rule"`
	Wanted decimal.Decimal `json:"wanted"`
	Amount decimal.Decimal `json:"amount"`
	Reason rule.Reason     `json:"reason"`
}

// Balance is a member's points in one program.
type Balance struct {
	// Available is what may be spent at the time asked: the unexpired
	// lots of the main account.
	Available decimal.Decimal `json:"available"`
	// Main, Pending and Frozen are the accounts' balances (Main may
	// include lots expired but not yet processed by Advance).
	Main    decimal.Decimal `json:"main"`
	Pending decimal.Decimal `json:"pending"`
	Frozen  decimal.Decimal `json:"frozen"`
}

// Total returns the member's points in all accounts.
func (b Balance) Total() decimal.Decimal { return b.Main.Add(b.Pending).Add(b.Frozen) }

// The records' times are stored as RFC 3339 and come back in a fixed
// offset; the handle puts them in the program's zone.

func lotsInZone(lots []LotAmount, loc *time.Location) {
	for i := range lots {
		lots[i].Expires = inLoc(lots[i].Expires, loc)
		lots[i].Granted = inLoc(lots[i].Granted, loc)
	}
}

func (a *Adjustment) inZone(loc *time.Location) {
	a.Requested = inLoc(a.Requested, loc)
	a.Decided = inLoc(a.Decided, loc)
}

func (r *Review) inZone(loc *time.Location) {
	lotsInZone(r.Lots, loc)
	r.Decided = inLoc(r.Decided, loc)
	r.Frozen = inLoc(r.Frozen, loc)
}

func (r *Redemption) inZone(loc *time.Location) {
	r.Time = inLoc(r.Time, loc)
	lotsInZone(r.Takes, loc)
}

func (o *Order) inZone(loc *time.Location) {
	for i := range o.Grants {
		o.Grants[i].Time = inLoc(o.Grants[i].Time, loc)
	}
}

// inLoc returns t in loc, keeping the zero time zero.
func inLoc(t time.Time, loc *time.Location) time.Time {
	if t.IsZero() {
		return t
	}
	return t.In(loc)
}

// getReview reads the review at key into rv, as record.Get does. A review
// in a state no rule knows (or none) is damage, an error wrapping
// store.ErrCorrupt, not a review read as decided.
func getReview(tx store.Tx, key []byte, rv *Review) (found bool, err error) {
	if found, err = get(tx, bReview, key, rv); err == nil && found {
		err = checked(bReview, key, rv.check())
	}
	return found, err
}

// getAdjustment reads the adjustment at id into a, as getReview does.
func getAdjustment(tx store.Tx, id string, a *Adjustment) (found bool, err error) {
	if found, err = record.Get(tx, bAdjust, []byte(id), a); err == nil && found {
		err = checked(bAdjust, []byte(id), a.check())
	}
	return found, err
}

// check returns an error for a review in a state that is none of the
// review states.
func (r *Review) check() error {
	switch r.State {
	case ReviewPending, ReviewRestored, ReviewVoided:
		return nil
	}
	return fmt.Errorf("a review in state %q", r.State)
}

// check returns an error for an adjustment in a state that is none of
// the adjustment states.
func (a *Adjustment) check() error {
	switch a.State {
	case AdjustmentPending, AdjustmentApplied, AdjustmentRejected:
		return nil
	}
	return fmt.Errorf("an adjustment in state %q", a.State)
}

// checked returns err, a check of the record at bucket/key, as damage.
func checked(bucket string, key []byte, err error) error {
	if err != nil {
		return record.Corrupt(bucket, key, err)
	}
	return nil
}

// Versions of the day, order and review records (record.PutVersion).
// Version 2 holds a field the release before this one does not know
// (Day.Voided, a grant's Charged, Review.Frozen), which it would drop were
// it to rewrite the record: that release reads version 1 only, so while a
// deploy rolls its instances refuse such a record as damage and write
// nothing. A record without those fields is written in version 1, which
// both releases read.
const (
	recordV1 = 1
	recordV2 = 2
)

// versioned is a record written in a version by what it holds.
type versioned interface{ version() byte }

func (d Day) version() byte {
	if len(d.Voided) > 0 {
		return recordV2
	}
	return recordV1
}

func (o Order) version() byte {
	for _, g := range o.Grants {
		if len(g.Charged) > 0 {
			return recordV2
		}
	}
	return recordV1
}

func (r Review) version() byte {
	if !r.Frozen.IsZero() {
		return recordV2
	}
	return recordV1
}

// put writes v, a day, an order or a review, at bucket/key in its version.
func put(tx store.Tx, bucket string, key []byte, v versioned) error {
	return record.PutVersion(tx, bucket, key, v, v.version())
}

// get reads the record at bucket/key, a day, an order or a review of
// either version, into v, as record.Get does.
func get(tx store.Tx, bucket string, key []byte, v any) (found bool, err error) {
	return record.GetVersion(tx, bucket, key, v, recordV2)
}
