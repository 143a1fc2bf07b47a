package points

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Handle is a program's points: its operator calls (redeem, reverse,
// adjust and decide adjustments, restore or void a frozen day, exchange)
// and its queries (balances, statements, a member's totals,
// reconciliation, expiries, reviews, records). A program hands out one Handle (membership.Program's
// Points); it is never nil, and when the program defines no points every
// call returns an error wrapping [ErrNotDefined]. It is safe for
// concurrent use.
//
// Every write takes one request whose RequestID is its idempotency key:
// the same ID with the same request returns the first outcome with
// Duplicate set and changes nothing; the same ID with another request
// returns an error wrapping event.ErrConflict. A zero At or an empty
// RequestID is event.ErrInvalidArgument. Times that come back are in the
// program's zone.
//
// Every call checks its arguments before it reads or writes anything: a
// malformed one is refused with an error wrapping event.ErrInvalidArgument
// that names the field, and writes nothing (not even a refusal in the
// audit trail). That covers an empty or malformed member of a query (a
// query that takes a member checks it as an ID, event.CheckID), a date
// not of the form "2006-01-02" (DayQuery, ReviewRequest,
// ReconciliationQuery), a statement's Sub or kind that no points account
// has, a zero At of Balance or Split (every lot would count as available), an amount or order amount beyond the limits on decimals (event.MaxDecimalDigits; the error also wraps
// event.ErrTooLarge), an empty adjustment or order ID, and an
// ExpiryForecast of more than MaxForecastMonths months or from a time
// outside the limits. An amount that is not positive or has more decimal
// places than its program's scale (a fraction of a whole point, an order
// amount finer than the money scale, an order whose share payable in
// points is worth less than the money scale's unit) wraps
// [ErrInvalidAmount], which wraps event.ErrInvalidArgument too; a write
// checks it against the program inside the unit of work, so, like
// ErrUnknownProgram, the audit trail records that refusal. A refusal
// that comes from the member's state, not from the request, wraps
// neither: a whole reversal of a redemption with nothing left is
// [ErrOverReversal], and a points + cash redemption whose split spends
// no points because the member's spendable points pay none of it is
// ledger.ErrInsufficientBalance.
type Handle struct {
	e  *engine.Engine
	pt *part // nil when the program defines no points
}

// New registers the points part of def with e and returns its handle.
// With a nil def it registers nothing, and the handle's calls return
// ErrNotDefined. def must have passed Definition.Check.
//
// A host never calls New (its engine is internal): membership's Open does,
// and [github.com/memberkit/membership.Program.Points] returns the handle.
func New(e *engine.Engine, def *Definition) *Handle {
	h := &Handle{e: e}
	e.CheckInUse(func(tx store.Tx) error { return inUse(tx, def) })
	e.OnInstall(func(tx store.Tx, _ bool) error { return recordScales(tx, def) })
	if def == nil {
		return h
	}
	h.pt = newPart(*def, e.Location())
	e.Add(h.pt)
	return h
}

// inUse is the points domain's engine.InUse check of a definition about
// to replace the one the store runs: a point program it leaves out (def
// nil: every one) that the ledger has postings of is a problem at
// "points.programs". A program is known by its name: renaming one leaves
// out the old name. Its balances, pending and frozen points, lots and
// statements would no longer be read (a program the definition lacks is
// ErrUnknownProgram to every query), and its due releases and expiries
// would find no program. A program retired from earning keeps its
// definition without rules. A program whose scale the definition lowers
// below what a member holds is a problem too (scalesInUse).
func inUse(tx store.Tx, def *Definition) error {
	assets, err := ledger.Assets(tx)
	if err != nil {
		return err
	}
	var ps rule.Problems
	for _, a := range assets {
		prog, ok := a.PointsProgram()
		if !ok {
			continue
		}
		if def != nil {
			if _, ok := def.Program(prog); ok {
				continue
			}
		}
		ps.Addf("points.programs", "point program %q has ledger entries (balances, lots, statements): keep it, without earning rules to retire it", prog)
	}
	if def != nil {
		if err := scalesInUse(tx, def, assets, &ps); err != nil {
			return err
		}
	}
	return ps.Err()
}

// apply runs one operator request through the engine, after the handle's
// checks; verb and subject name the call in errors.
func (h *Handle) apply(ctx context.Context, req engine.Request, verb string, fn func(u *engine.Unit) error) (*change.Outcome, error) {
	if err := h.undefined(verb); err != nil {
		return nil, err
	}
	out, err := h.e.Apply(ctx, req, fn)
	if err != nil {
		return nil, fmt.Errorf("points: %s: %w", verb, err)
	}
	return out, nil
}

// undefined returns the error of a call on a program without points (nil
// when it has them).
func (h *Handle) undefined(verb string) error {
	if h.pt == nil {
		return fmt.Errorf("points: %s: %w", verb, ErrNotDefined)
	}
	return nil
}

// invalid returns the error of a request that lacks what its call needs.
func invalid(verb, what string) error {
	return fmt.Errorf("points: %s: %w: %s", verb, event.ErrInvalidArgument, what)
}

// argument returns the error of a request or query whose field failed its
// check with err (nil when err is nil): it wraps event.ErrInvalidArgument
// and err, and names the field. The calls check their arguments before
// any unit of work starts, so a malformed one writes nothing, not even a
// refusal in the audit trail.
func argument(field string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %s: %w", event.ErrInvalidArgument, field, err)
}

// checkMember checks the member a query takes as an ID (event.CheckID):
// an empty one names no account and is refused, not answered with zeros.
func checkMember(member string) error { return argument("member", event.CheckID(member)) }

// checkAmount checks an amount of a request or query against the limit on
// decimals (event.MaxDecimalDigits), as the event path checks a decimal
// attribute: the error wraps event.ErrTooLarge.
func checkAmount(field string, d decimal.Decimal) error {
	return argument(field, event.CheckDecimal(d))
}

// checkDate checks a day a request or query takes: a date of the form
// "2006-01-02" (ledger.CheckDate), and, when required, not empty.
func checkDate(field, date string, required bool) error {
	if date == "" && required {
		return argument(field, errors.New("empty, want a date (YYYY-MM-DD)"))
	}
	return argument(field, ledger.CheckDate(date))
}

// RedeemRequest spends a member's points against a reference (an order, a
// mall item). Either Amount is the points to spend, or Order is an order
// amount to pay with points + cash (then Amount, when set, caps the points
// spent).
type RedeemRequest struct {
	// RequestID is the idempotency key (see Handle); Operator and Note
	// are recorded with what the call does; At is when it takes effect.
	RequestID string    `json:"request_id"`
	Member    string    `json:"member"`
	Operator  string    `json:"operator,omitempty"`
	Note      string    `json:"note,omitempty"`
	At        time.Time `json:"at"`
	Program   string    `json:"program"`
	// Ref is the reference redeemed against: one redemption per
	// reference and program.
	Ref    string          `json:"ref"`
	Amount decimal.Decimal `json:"amount,omitzero"`
	Order  decimal.Decimal `json:"order,omitzero"`
}

// RedeemResult is what a redemption spent.
type RedeemResult struct {
	// Points is the points spent.
	Points decimal.Decimal
	// Split is the points + cash split when the request gave an Order:
	// Split.Cash is what remains to pay in money.
	Split *Split
	// Lots are the lots the points came from, in spending order.
	Lots    []LotAmount
	Outcome *change.Outcome
}

// Redeem spends points against req.Ref, taking the member's spendable
// lots by earliest expiry, then earliest grant (pending and frozen points
// are not spendable). With req.Order it computes the points + cash split
// (see [SplitOrder]) and spends its points; a split that spends none is
// refused: with ErrInvalidAmount when the order's share (or the Amount
// capping it) pays nothing at the money scale, with
// ledger.ErrInsufficientBalance when the member's spendable points pay
// none of it. Errors wrap ErrNotDefined, event.ErrInvalidArgument,
// ErrUnknownProgram, ErrInvalidAmount, ErrNoPayment, ErrRedemptionExists,
// ledger.ErrInsufficientBalance or event.ErrConflict.
func (h *Handle) Redeem(ctx context.Context, req RedeemRequest) (RedeemResult, error) {
	if err := h.undefined("redeem"); err != nil {
		return RedeemResult{}, err
	}
	if req.Member == "" || req.Ref == "" {
		return RedeemResult{}, invalid("redeem", "member and ref are required")
	}
	if err := cmp.Or(checkAmount("amount", req.Amount), checkAmount("order", req.Order)); err != nil {
		return RedeemResult{}, fmt.Errorf("points: redeem %s: %w", req.Ref, err)
	}
	out, err := h.apply(ctx, engine.Request{ID: req.RequestID, Body: req, At: req.At, Member: req.Member, Action: "points.redeem", Operator: req.Operator,
		Ref: ledger.Ref{Order: req.Ref, Operator: req.Operator, Note: req.Note}}, "redeem "+req.Ref, func(u *engine.Unit) error {
		return h.pt.redeem(u, req)
	})
	if err != nil {
		return RedeemResult{}, err
	}
	res := RedeemResult{Outcome: out}
	c, err := h.decode(out, ChangeRedeemed)
	if err != nil {
		return res, fmt.Errorf("points: redeem %s: %w", req.Ref, err)
	}
	res.Points, res.Split, res.Lots = c.Amount, c.Split, c.Lots
	return res, nil
}

// decode returns the payload of out's first change of kind, with its times
// in the program's zone.
func (h *Handle) decode(out *change.Outcome, kind string) (Change, error) {
	var c Change
	cs := out.ChangesOf(kind)
	if len(cs) == 0 {
		return c, fmt.Errorf("%w: outcome of %s has no %s change", engine.ErrCorrupt, out.Event, kind)
	}
	if err := cs[0].Decode(&c); err != nil {
		return c, fmt.Errorf("%w: %s change of %s: %v", engine.ErrCorrupt, kind, out.Event, err)
	}
	inZone(&c, h.e.Location())
	return c, nil
}

// ReverseRequest reverses a redemption, in whole (Amount zero) or in part.
// The member is the redemption's.
type ReverseRequest struct {
	// RequestID is the idempotency key (see Handle); Operator and Note
	// are recorded with what the call does; At is when it takes effect.
	RequestID string          `json:"request_id"`
	Operator  string          `json:"operator,omitempty"`
	Note      string          `json:"note,omitempty"`
	At        time.Time       `json:"at"`
	Program   string          `json:"program"`
	Ref       string          `json:"ref"`
	Amount    decimal.Decimal `json:"amount,omitzero"`
}

// Reverse returns a redemption's points (all that remains, or req.Amount)
// to the lots they came from, keeping their expiries: the lots taken last
// (latest expiry) are refilled first. Points returned to a lot that has
// expired meanwhile expire again at once, each as an entry of its own.
// Points returned to a lot of a day frozen by risk control whose review
// is still open go to the frozen account, into that review; points
// returned to a lot of a day a review voided are voided again at once
// (a points.voided change naming the day), as the void would have taken
// them had they not been spent. Points returned to the lot of an order a
// refund left short, or whose spent share a refund took from the
// member's other points, are taken back and that charge given back (see
// the package doc, Refunds), so refund and reversal end the same in
// either order.
// A reversal returns points, never money: of a points + cash redemption
// (Redemption.Split says what the points and the cash paid), the host
// decides what a partial refund of the order gives back in points and
// in cash (points first, cash first or in proportion) and reverses that
// many points; the library neither refunds the cash nor changes the
// recorded Split.
// A reversal cannot precede what it reverses: an At before the
// redemption's time wraps event.ErrInvalidArgument naming "at", and
// nothing is written. A reversal of more than remains, or of all of it
// when nothing remains, is ErrOverReversal. Errors wrap ErrNotDefined,
// event.ErrInvalidArgument, ErrUnknownProgram, ErrUnknownRedemption,
// ErrInvalidAmount, ErrOverReversal or event.ErrConflict.
func (h *Handle) Reverse(ctx context.Context, req ReverseRequest) (*change.Outcome, error) {
	if err := h.undefined("reverse"); err != nil {
		return nil, err
	}
	if req.Ref == "" {
		return nil, invalid("reverse", "ref is required")
	}
	if err := checkAmount("amount", req.Amount); err != nil {
		return nil, fmt.Errorf("points: reverse %s: %w", req.Ref, err)
	}
	return h.apply(ctx, engine.Request{ID: req.RequestID, Body: req, At: req.At, Action: "points.reverse", Operator: req.Operator,
		Ref: ledger.Ref{Order: req.Ref, Operator: req.Operator, Note: req.Note}, Owner: redemptionOwner(req.Program, req.Ref)}, "reverse "+req.Ref, func(u *engine.Unit) error {
		return h.pt.reverse(u, req)
	})
}

// AdjustRequest is a manual adjustment: a credit (positive Amount) or a
// debit (negative) of a member's points, with its reason in Note, asked by
// Operator. RequestID is also the adjustment's ID.
type AdjustRequest struct {
	// RequestID is the idempotency key (see Handle); Operator and Note
	// are recorded with what the call does; At is when it takes effect.
	RequestID string `json:"request_id"`
	Member    string `json:"member"`
	Operator  string `json:"operator"`
	// Note is the adjustment's reason (required).
	Note    string          `json:"note"`
	At      time.Time       `json:"at"`
	Program string          `json:"program"`
	Amount  decimal.Decimal `json:"amount"`
}

// AdjustResult is what an adjustment request did.
type AdjustResult struct {
	// Adjustment is the adjustment: State is AdjustmentApplied, or
	// AdjustmentPending when it waits for another operator's approval.
	Adjustment Adjustment
	Outcome    *change.Outcome
}

// Adjust applies a manual adjustment at once, or, when its absolute
// amount is above the program's ApprovalAbove, records it as pending
// (change points.adjustment_requested) until another operator approves or
// rejects it. A credit is a new lot of the program's validity; a debit
// takes spendable lots like a redemption. Errors wrap ErrNotDefined,
// event.ErrInvalidArgument, ErrNoOperator, ErrUnknownProgram,
// ErrInvalidAmount, ledger.ErrInsufficientBalance or event.ErrConflict.
func (h *Handle) Adjust(ctx context.Context, req AdjustRequest) (AdjustResult, error) {
	if err := h.undefined("adjust"); err != nil {
		return AdjustResult{}, err
	}
	if req.Member == "" || req.Note == "" {
		return AdjustResult{}, invalid("adjust", "member and note (the reason) are required")
	}
	if req.Operator == "" {
		return AdjustResult{}, fmt.Errorf("points: adjust: %w", ErrNoOperator)
	}
	verb := "adjust " + req.RequestID
	if err := checkAmount("amount", req.Amount); err != nil {
		return AdjustResult{}, fmt.Errorf("points: %s: %w", verb, err)
	}
	out, err := h.apply(ctx, engine.Request{ID: req.RequestID, Body: req, At: req.At, Member: req.Member, Action: "points.adjust", Operator: req.Operator,
		Ref: ledger.Ref{Operator: req.Operator, Note: req.Note}}, verb, func(u *engine.Unit) error {
		return h.pt.adjust(u, req)
	})
	if err != nil {
		return AdjustResult{}, err
	}
	kind := ChangeAdjusted
	if len(out.ChangesOf(ChangeAdjustmentRequested)) > 0 {
		kind = ChangeAdjustmentRequested
	}
	c, err := h.decode(out, kind)
	if err == nil && c.Adjustment == nil {
		err = fmt.Errorf("%w: %s change of %s has no adjustment", engine.ErrCorrupt, kind, out.Event)
	}
	if err != nil {
		return AdjustResult{Outcome: out}, fmt.Errorf("points: %s: %w", verb, err)
	}
	return AdjustResult{Adjustment: *c.Adjustment, Outcome: out}, nil
}

// DecideRequest approves or rejects a pending adjustment.
type DecideRequest struct {
	// RequestID is the idempotency key (see Handle); Operator and Note
	// are recorded with what the call does; At is when it takes effect.
	RequestID string    `json:"request_id"`
	Operator  string    `json:"operator"`
	Note      string    `json:"note,omitempty"`
	At        time.Time `json:"at"`
	// Adjustment is the ID of the adjustment decided.
	Adjustment string `json:"adjustment"`
}

// Approve approves a pending adjustment and applies it. The operator who
// requested it cannot approve it. A decision cannot precede the request:
// an At (of Approve or Reject) before the adjustment's Requested wraps
// event.ErrInvalidArgument naming "at", and nothing is written. Errors wrap ErrNotDefined,
// event.ErrInvalidArgument (an empty Adjustment too), ErrNoOperator,
// ErrUnknownAdjustment,
// ErrNotPending, ErrSelfApproval, ledger.ErrInsufficientBalance (a debit
// the balance no longer covers: the adjustment stays pending) or
// event.ErrConflict.
func (h *Handle) Approve(ctx context.Context, req DecideRequest) (*change.Outcome, error) {
	return h.decide(ctx, req, true)
}

// Reject rejects a pending adjustment (any operator, the requester
// included, may reject). Errors wrap ErrNotDefined,
// event.ErrInvalidArgument, ErrNoOperator, ErrUnknownAdjustment,
// ErrNotPending or event.ErrConflict.
func (h *Handle) Reject(ctx context.Context, req DecideRequest) (*change.Outcome, error) {
	return h.decide(ctx, req, false)
}

func (h *Handle) decide(ctx context.Context, req DecideRequest, approve bool) (*change.Outcome, error) {
	verb := "reject adjustment"
	if approve {
		verb = "approve adjustment"
	}
	if err := h.undefined(verb); err != nil {
		return nil, err
	}
	if req.Operator == "" {
		return nil, fmt.Errorf("points: %s: %w", verb, ErrNoOperator)
	}
	// An adjustment's ID is its request's ID: an empty one names none.
	if err := argument("adjustment", event.CheckID(req.Adjustment)); err != nil {
		return nil, fmt.Errorf("points: %s: %w", verb, err)
	}
	// The verb is part of the request: an approval and a rejection under
	// one request ID conflict.
	body := map[string]DecideRequest{verb: req}
	action := "points.reject"
	if approve {
		action = "points.approve"
	}
	return h.apply(ctx, engine.Request{ID: req.RequestID, Body: body, At: req.At, Action: action, Operator: req.Operator, Input: req,
		Ref: ledger.Ref{Operator: req.Operator, Note: req.Note}, Owner: adjustmentOwner(req.Adjustment)},
		verb+" "+req.Adjustment, func(u *engine.Unit) error {
			return h.pt.decide(u, req, approve)
		})
}

// redemptionOwner is a reversal's engine.Request.Owner: the member of the
// redemption it names, "" for none, so that a refusal made before the
// redemption was read is filed under its member.
func redemptionOwner(program, ref string) func(store.Tx) (string, error) {
	return func(tx store.Tx) (string, error) {
		var rd Redemption
		_, err := record.Get(tx, bRedeem, keys.New().Str(program).Str(ref), &rd)
		return rd.Member, err
	}
}

// adjustmentOwner is a decision's engine.Request.Owner: the member of the
// adjustment it names, "" for none.
func adjustmentOwner(id string) func(store.Tx) (string, error) {
	return func(tx store.Tx) (string, error) {
		var adj Adjustment
		_, err := getAdjustment(tx, id, &adj)
		return adj.Member, err
	}
}

// ReviewRequest decides a member's frozen day: restore its points or void
// them.
type ReviewRequest struct {
	// RequestID is the idempotency key (see Handle); Operator and Note
	// are recorded with what the call does; At is when it takes effect.
	RequestID string    `json:"request_id"`
	Member    string    `json:"member"`
	Operator  string    `json:"operator"`
	Note      string    `json:"note,omitempty"`
	At        time.Time `json:"at"`
	Program   string    `json:"program"`
	// Date is the frozen day ("2006-01-02", program zone).
	Date string `json:"date"`
}

// Restore restores a frozen day's points to the member's spendable
// account, in the same lots with the same expiries (what expired while
// frozen stays expired: a lot past its expiry at At is left to expire
// where it is, whether or not Advance has expired it yet); the day's lots
// still pending are released at their time as usual. A decision (Restore or Void) cannot precede the
// points it decides: an At before the last time the review took points
// (Review.Frozen: the freeze, a later grant of the day, a release or a
// reversal into it; the day's start for a review an earlier version
// recorded), or before the grant of a lot it decides (one a late event's
// freeze took, granted after that event's time; for Void, the day's
// pending lots too), wraps event.ErrInvalidArgument naming "at", and
// nothing is written. Errors wrap ErrNotDefined,
// event.ErrInvalidArgument (a Date not of the form "2006-01-02" too),
// ErrNoOperator, ErrUnknownProgram, ErrUnknownReview, ErrNotPending or
// event.ErrConflict.
func (h *Handle) Restore(ctx context.Context, req ReviewRequest) (*change.Outcome, error) {
	return h.review(ctx, req, true)
}

// Void voids a frozen day's points: the frozen lots and the day's lots
// still pending (which would otherwise become spendable at their
// release), those not past their expiry at At: the others expired
// before the decision, and expire as such. Errors as Restore's.
func (h *Handle) Void(ctx context.Context, req ReviewRequest) (*change.Outcome, error) {
	return h.review(ctx, req, false)
}

func (h *Handle) review(ctx context.Context, req ReviewRequest, restore bool) (*change.Outcome, error) {
	verb := "void"
	if restore {
		verb = "restore"
	}
	if err := h.undefined(verb); err != nil {
		return nil, err
	}
	if req.Operator == "" {
		return nil, fmt.Errorf("points: %s: %w", verb, ErrNoOperator)
	}
	if req.Member == "" || req.Date == "" {
		return nil, invalid(verb, "member and date are required")
	}
	if err := checkDate("date", req.Date, true); err != nil {
		return nil, fmt.Errorf("points: %s: %w", verb, err)
	}
	body := map[string]ReviewRequest{verb: req}
	return h.apply(ctx, engine.Request{ID: req.RequestID, Body: body, At: req.At, Member: req.Member, Action: "points." + verb, Operator: req.Operator, Input: req,
		Ref: ledger.Ref{Operator: req.Operator, Note: req.Note}},
		fmt.Sprintf("%s %s of %s on %s", verb, req.Program, req.Member, req.Date), func(u *engine.Unit) error {
			return h.pt.review(u, req, restore)
		})
}

// ExchangeRequest converts a member's points of program From into points
// of program To.
type ExchangeRequest struct {
	// RequestID is the idempotency key (see Handle); Operator and Note
	// are recorded with what the call does; At is when it takes effect.
	RequestID string          `json:"request_id"`
	Member    string          `json:"member"`
	Operator  string          `json:"operator,omitempty"`
	Note      string          `json:"note,omitempty"`
	At        time.Time       `json:"at"`
	From      string          `json:"from"`
	To        string          `json:"to"`
	Amount    decimal.Decimal `json:"amount"`
}

// ExchangeResult is what an exchange credited.
type ExchangeResult struct {
	// Got is the points of the target program credited, as lot Lot
	// expiring at Expires (zero: permanent).
	Got     decimal.Decimal
	Lot     string
	Expires time.Time
	Outcome *change.Outcome
}

// Exchange spends req.Amount points of req.From (spendable lots, in
// spending order) and credits Amount × rate, rounded down to the target
// program's scale, as a new lot of the target's validity, in one
// transaction. Errors wrap ErrNotDefined, event.ErrInvalidArgument,
// ErrUnknownProgram, ErrNoExchange, ErrInvalidAmount, ErrExchangeTooSmall,
// ledger.ErrInsufficientBalance or event.ErrConflict.
func (h *Handle) Exchange(ctx context.Context, req ExchangeRequest) (ExchangeResult, error) {
	if err := h.undefined("exchange"); err != nil {
		return ExchangeResult{}, err
	}
	if req.Member == "" {
		return ExchangeResult{}, invalid("exchange", "member is required")
	}
	verb := fmt.Sprintf("exchange %s → %s", req.From, req.To)
	if err := checkAmount("amount", req.Amount); err != nil {
		return ExchangeResult{}, fmt.Errorf("points: %s: %w", verb, err)
	}
	out, err := h.apply(ctx, engine.Request{ID: req.RequestID, Body: req, At: req.At, Member: req.Member, Action: "points.exchange", Operator: req.Operator,
		Ref: ledger.Ref{Operator: req.Operator, Note: req.Note}}, verb, func(u *engine.Unit) error {
		return h.pt.exchange(u, req)
	})
	if err != nil {
		return ExchangeResult{}, err
	}
	c, err := h.decode(out, ChangeExchanged)
	if err != nil {
		return ExchangeResult{Outcome: out}, fmt.Errorf("points: %s: %w", verb, err)
	}
	return ExchangeResult{Got: c.ToAmount, Lot: c.Lot, Expires: c.Expires, Outcome: out}, nil
}
