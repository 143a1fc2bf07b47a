package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/engine"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Change kinds published by the points part. Every one carries a
// PointsChange.
const (
	// ChangePointsEarned: an earning rule or a reward credited points (or a
	// cap cut a grant to nothing: Amount is 0 and Reason.Cut says why).
	ChangePointsEarned = "points.earned"
	// ChangePointsPending: an earning rule credited points held pending.
	ChangePointsPending = "points.pending"
	// ChangePointsReleased: pending points became spendable (or frozen).
	ChangePointsReleased = "points.released"
	// ChangePointsBlocked: risk control (stop policy) cut a grant.
	ChangePointsBlocked = "points.blocked"
	// ChangePointsFrozen: risk control (freeze policy) froze points.
	ChangePointsFrozen = "points.frozen"
	// ChangePointsRestored: an operator restored frozen points.
	ChangePointsRestored = "points.restored"
	// ChangePointsVoided: an operator voided frozen points.
	ChangePointsVoided = "points.voided"
	// ChangePointsRedeemed: points were spent against a reference.
	ChangePointsRedeemed = "points.redeemed"
	// ChangePointsReversed: a redemption was reversed (points returned) or
	// a refund took an order's points back (Amount negative).
	ChangePointsReversed = "points.reversed"
	// ChangePointsExpired: a lot's remainder expired.
	ChangePointsExpired = "points.expired"
	// ChangePointsAdjusted: a manual adjustment was applied.
	ChangePointsAdjusted = "points.adjusted"
	// ChangePointsAdjustmentRequested: an adjustment waits for approval.
	ChangePointsAdjustmentRequested = "points.adjustment_requested"
	// ChangePointsAdjustmentRejected: an adjustment was rejected.
	ChangePointsAdjustmentRejected = "points.adjustment_rejected"
	// ChangePointsExchanged: points were converted into another program.
	ChangePointsExchanged = "points.exchanged"
)

// Ledger kinds of points transactions. Earned, redeemed, reversed,
// expired, voided, adjusted and exchanged move points between member
// accounts and the pool of the same name; released, frozen and restored
// move a lot between a member's own accounts (pending, main, frozen) and
// net to zero, so the reconciliation identity holds from the totals.
const (
	KindPointsEarned    ledger.Kind = "earned"
	KindPointsRedeemed  ledger.Kind = "redeemed"
	KindPointsReversed  ledger.Kind = "reversed"
	KindPointsExpired   ledger.Kind = "expired"
	KindPointsVoided    ledger.Kind = "voided"
	KindPointsAdjusted  ledger.Kind = "adjusted"
	KindPointsExchanged ledger.Kind = "exchanged"
	KindPointsReleased  ledger.Kind = "released"
	KindPointsFrozen    ledger.Kind = "frozen"
	KindPointsRestored  ledger.Kind = "restored"
)

// PointsChange is the data of every points.* change; the fields a kind
// does not use are empty.
type PointsChange struct {
	Program string `json:"program"`
	// Amount is the points moved (negative for what a refund took back).
	Amount decimal.Decimal `json:"amount"`
	// Lot is the lot credited or expired; Expires its expiry.
	Lot     string    `json:"lot,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// Lots are the lots a freeze, restore, void or reversal touched.
	Lots []points.LotAmount `json:"lots,omitempty"`
	// Ref is the redemption's reference or the refunded order.
	Ref string `json:"ref,omitempty"`
	// Date is the risk-control day ("2006-01-02" in the program's zone).
	Date string `json:"date,omitempty"`
	// Wanted is what a grant asked before risk control (points.blocked).
	Wanted decimal.Decimal `json:"wanted,omitzero"`
	// Shortfall is what a refund could not take back (already spent).
	Shortfall decimal.Decimal `json:"shortfall,omitzero"`
	// Split is a points + cash payment's split.
	Split *points.Split `json:"split,omitempty"`
	// Adjustment is the adjustment requested, applied or rejected.
	Adjustment *points.Adjustment `json:"adjustment,omitempty"`
	// To and ToAmount are an exchange's target program and amount.
	To       string          `json:"to,omitempty"`
	ToAmount decimal.Decimal `json:"to_amount,omitzero"`
	Operator string          `json:"operator,omitempty"`
}

// Buckets of the points part.
const (
	bPtsCaps   = "points.caps"        // member, rule, period → used
	bPtsDay    = "points.day"         // program, member, date → points.Day
	bPtsReview = "points.review"      // program, date, member → points.Review
	bPtsOpen   = "points.review.open" // program, date, member → ""
	bPtsAdjust = "points.adjust"      // id → points.Adjustment
	bPtsRedeem = "points.redeem"      // program, ref → points.Redemption
	bPtsOrder  = "points.order"       // order → points.Order
	bPtsExpiry = "points.expiry"      // program, month → amount held expiring then
)

// Due kinds of the points part.
const (
	duePtsExpire  = "points.expire"
	duePtsRelease = "points.release"
)

type ptsDue struct {
	Program string `json:"program"`
	Member  string `json:"member"`
	Lot     string `json:"lot"`
	Date    string `json:"date,omitempty"`
}

// appendJSON writes d as json.Marshal would: one is scheduled per lot.
func (d ptsDue) AppendJSON(b []byte) ([]byte, bool) {
	o := engine.JSONObject{B: append(b, '{')}
	o.Str("program", d.Program, false)
	o.Str("member", d.Member, false)
	o.Str("lot", d.Lot, false)
	o.Str("date", d.Date, true)
	return append(o.B, '}'), true
}

// ptsDueID makes a due item ID unique for (program, member, lot) whatever
// the characters of the parts.
func ptsDueID(program, member, lot string) string {
	var buf [96]byte
	return string(appendPtsDueID(buf[:0], program, member, lot))
}

func appendPtsDueID(b []byte, program, member, lot string) []byte {
	b = append(append(append(strconv.AppendInt(b, int64(len(program)), 10), '.'), program...), '.')
	b = append(append(append(strconv.AppendInt(b, int64(len(member)), 10), '.'), member...), '.')
	return append(b, lot...)
}

// parsePtsDueID is the inverse of ptsDueID. A grouped expiry item carries
// no payload (its ID says everything), so Advance reads the ID instead.
func parsePtsDueID(id string) (d ptsDue, ok bool) {
	part := func() (string, bool) {
		n, rest, ok := strings.Cut(id, ".")
		k, err := strconv.Atoi(n)
		if !ok || err != nil || k < 0 || k >= len(rest) || rest[k] != '.' {
			return "", false
		}
		id = rest[k+1:]
		return rest[:k], true
	}
	if d.Program, ok = part(); !ok {
		return d, false
	}
	if d.Member, ok = part(); !ok {
		return d, false
	}
	d.Lot = id
	return d, true
}

type pointsPart struct {
	p     *Program
	def   points.Definition
	progs map[string]points.Program
	rules map[string][]points.Rule
	// formulas holds the text of each rule's formula, made once, in the
	// order of rules.
	formulas map[string][]string
	refunds  map[string][]points.Refund
	// assets holds each program's ledger asset, so that a grant does not
	// build the string again.
	assets map[string]ledger.Asset
}

// pointsPart returns the points part, or nil when the definition has none.
func (p *Program) pointsPart() *pointsPart {
	if p.def.Points == nil {
		return nil
	}
	pp := &pointsPart{p: p, def: *p.def.Points, progs: map[string]points.Program{}, rules: map[string][]points.Rule{}, refunds: map[string][]points.Refund{}, assets: map[string]ledger.Asset{}}
	for _, pr := range pp.def.Programs {
		pp.progs[pr.Name] = pr
		pp.assets[pr.Name] = ledger.Points(pr.Name)
	}
	pp.formulas = map[string][]string{}
	for _, r := range pp.def.Rules {
		pp.rules[r.Event] = append(pp.rules[r.Event], r)
		pp.formulas[r.Event] = append(pp.formulas[r.Event], r.Formula.String())
	}
	for _, r := range pp.def.Refunds {
		pp.refunds[r.Event] = append(pp.refunds[r.Event], r)
	}
	return pp
}

func (pp *pointsPart) DueKinds() []string { return []string{duePtsExpire, duePtsRelease} }

func (pp *pointsPart) RewardKinds() []rule.RewardKind { return []rule.RewardKind{rule.RewardPoints} }

func (pp *pointsPart) program(name string) (points.Program, error) {
	pr, ok := pp.progs[name]
	if !ok {
		return pr, fmt.Errorf("%w %q", points.ErrUnknownProgram, name)
	}
	return pr, nil
}

func ptsAcct(program, member, sub string) ledger.Account {
	return ledger.MemberAccount(member, ledger.Points(program), sub)
}

func ptsPool(program string, kind ledger.Kind) ledger.Account {
	return ledger.Pool(ledger.Points(program), string(kind))
}

// post posts a points transaction and keeps what depends on lots current:
// the monthly expiry totals, the expiry of each lot credited (scheduled in
// the due index), and the immediate expiry of a lot credited after its
// expiry (a reversal or restore of an expired lot's points).
func (pp *pointsPart) post(t *engine.Unit, lt ledger.Transaction) (ledger.Posted, error) {
	posted, err := t.Post(lt)
	if err != nil {
		return posted, err
	}
	var late []ledger.Entry
	for _, e := range posted.Entries {
		if !e.Account.IsMember() || !e.Amount.IsPositive() {
			continue
		}
		var l ledger.Lot
		for _, pl := range posted.Lots {
			if pl.Account == e.Account && pl.ID == e.Lot {
				l = pl
			}
		}
		if l.Expires.IsZero() {
			continue
		}
		prog, _ := e.Account.Asset.PointsProgram()
		if err := pp.addExpiring(t, prog, l.Expires, e.Amount); err != nil {
			return posted, err
		}
		if !l.Expires.After(t.At()) {
			late = append(late, e)
			continue
		}
		// One due item per member and expiry instant, whatever the number
		// of lots: the lots a validity grants in a month (or a day) share
		// their expiry, so a busy member's grants rewrite one item.
		var idb [96]byte
		if err := t.Ensure(l.Expires, duePtsExpire, appendPtsDueID(idb[:0], prog, e.Account.Member, "")); err != nil {
			return posted, err
		}
	}
	for _, tk := range posted.Takes {
		if tk.Expires.IsZero() {
			continue
		}
		prog, _ := tk.Account.Asset.PointsProgram()
		if err := pp.addExpiring(t, prog, tk.Expires, tk.Amount.Neg()); err != nil {
			return posted, err
		}
	}
	for _, e := range late {
		prog, _ := e.Account.Asset.PointsProgram()
		if err := pp.expire(t, prog, e.Account, e.Lot, e.Amount); err != nil {
			return posted, err
		}
	}
	return posted, nil
}

// addExpiring adds amount to the program's total expiring in the month of
// the last valid day before expires.
func (pp *pointsPart) addExpiring(t *engine.Unit, program string, expires time.Time, amount decimal.Decimal) error {
	k := keys.New().Str(program)
	k = append(expires.Add(-time.Nanosecond).In(pp.p.loc).AppendFormat(k, "2006-01"), keys.Sep)
	return t.AddTotal(bPtsExpiry, k, amount)
}

// expire debits amount of an expired lot and emits points.expired.
func (pp *pointsPart) expire(t *engine.Unit, program string, acct ledger.Account, lot string, amount decimal.Decimal) error {
	posted, err := pp.post(t, ledger.Transaction{Kind: KindPointsExpired, Legs: []ledger.Leg{
		{Account: acct, Amount: amount.Neg(), Lot: lot},
		{Account: ptsPool(program, KindPointsExpired), Amount: amount},
	}})
	if err != nil {
		return err
	}
	var exp time.Time
	if len(posted.Takes) > 0 {
		exp = posted.Takes[0].Expires
	}
	return t.Emit(ChangePointsExpired, acct.Member, PointsChange{Program: program, Amount: amount, Lot: lot, Expires: exp},
		&rule.Reason{Rule: "points.expiry", Note: "lot " + lot + " expired"})
}

// ptsLot returns a lot of an account, or a zero lot when the account
// never held it (a spent lot comes back from the ledger with amount zero).
func ptsLot(led *ledger.Ledger, a ledger.Account, id string) (ledger.Lot, error) {
	lot, err := led.Lot(a, id)
	if errors.Is(err, ledger.ErrUnknownLot) {
		return ledger.Lot{ID: id, Account: a}, nil
	}
	return lot, err
}

// grant credits a new lot of amount to the member's sub-account.
func (pp *pointsPart) grant(t *engine.Unit, program, member, sub string, kind ledger.Kind, amount decimal.Decimal, expires time.Time) (ledger.Lot, error) {
	asset, ok := pp.assets[program]
	if !ok {
		asset = ledger.Points(program)
	}
	posted, err := pp.post(t, ledger.Transaction{Kind: kind, Legs: []ledger.Leg{
		ledger.Leg{Account: ledger.MemberAccount(member, asset, sub), Amount: amount, Expires: expires},
		ledger.Leg{Account: ledger.Pool(asset, string(kind)), Amount: codec.Neg(amount)},
	}})
	if err != nil {
		return ledger.Lot{}, err
	}
	return posted.Lots[0], nil
}

// process applies the refund rules, then the earning rules, to ev. The
// level an earning rule checks is the member's level when the points part
// runs: the level part runs first, so an upgrade caused by this same event
// counts.
func (pp *pointsPart) Process(t *engine.Unit, ev event.Event) error {
	for _, rf := range pp.refunds[ev.Type] {
		if err := pp.refund(t, ev, rf); err != nil {
			return err
		}
	}
	rules := pp.rules[ev.Type]
	if len(rules) == 0 {
		return nil
	}
	formulas := pp.formulas[ev.Type]
	level, levelRead := "", false
	for i, r := range rules {
		if len(r.Levels) > 0 && !levelRead {
			var err error
			if level, err = t.MemberLevel(ev.Member); err != nil {
				return err
			}
			levelRead = true
		}
		if r.Applies(ev, level) != "" {
			continue
		}
		if err := pp.earn(t, ev, r, formulas[i]); err != nil {
			return fmt.Errorf("points: rule %s: %w", r.ID, err)
		}
	}
	return nil
}

func (pp *pointsPart) earn(t *engine.Unit, ev event.Event, r points.Rule, formula string) error {
	prog, err := pp.program(r.Program)
	if err != nil {
		return err
	}
	// As r.Earn, with the formula's text made once.
	raw, base, err := r.Formula.Eval(ev)
	if err != nil {
		return err
	}
	amt := prog.Rounding.Round(raw)
	if amt.IsNegative() {
		amt = decimal.Zero
	}
	if amt.IsZero() {
		return nil
	}
	why := t.FormulaReason(r.ID, r.Formula, formula, base, raw)
	loc := pp.p.loc
	scope := "" // the caps' counters' scope; nothing reads it without caps
	if len(r.Caps) > 0 {
		scope = ev.Member + "\x00" + r.ID
	}
	granted, cut, err := rule.Use(t.Tx(), bPtsCaps, scope, r.Caps, ev.Time, loc, amt)
	if err != nil {
		return err
	}
	why.Cut = cut
	if granted.IsZero() {
		return t.Emit(ChangePointsEarned, ev.Member, PointsChange{Program: r.Program, Amount: decimal.Zero}, &why)
	}
	date := ""
	if prog.Risk != nil || r.PendingDays > 0 {
		date = ev.Time.In(loc).Format(time.DateOnly)
	}
	// The day record exists for risk control: without it nothing reads it.
	var dayKey []byte
	var day points.Day
	if prog.Risk != nil {
		dayKey = keys.New().Str(r.Program).Str(ev.Member).Str(date)
		var err error
		if day, err = loadPointsDay(t.Tx(), dayKey); err != nil {
			return err
		}
	}
	dec := prog.Risk.Decide(day.Earned, granted, day.Frozen)
	if dec.Blocked.IsPositive() {
		if err := rule.Release(t.Tx(), bPtsCaps, scope, r.Caps, ev.Time, loc, dec.Blocked); err != nil {
			return err
		}
		day.Blocked = day.Blocked.Add(dec.Blocked)
		bwhy := why
		bwhy.Note = fmt.Sprintf("risk control: daily threshold %s reached (earned %s today)", prog.Risk.Daily, day.Earned)
		if err := t.Emit(ChangePointsBlocked, ev.Member, PointsChange{Program: r.Program, Amount: dec.Blocked, Wanted: granted, Date: date}, &bwhy); err != nil {
			return err
		}
	}
	if dec.Allowed.IsPositive() {
		if prog.Risk != nil {
			day.Earned = day.Earned.Add(dec.Allowed)
		}
		expires := points.Expiry(r.Validity, ev.Time, loc)
		sub, change := "", ChangePointsEarned
		if r.PendingDays > 0 {
			sub, change = points.SubPending, ChangePointsPending
		}
		lot, err := pp.grant(t, r.Program, ev.Member, sub, KindPointsEarned, dec.Allowed, expires)
		if err != nil {
			return err
		}
		if r.PendingDays > 0 {
			at := ev.Time.In(loc).AddDate(0, 0, r.PendingDays)
			if err := t.Schedule(at, duePtsRelease, ptsDueID(r.Program, ev.Member, lot.ID), ptsDue{Program: r.Program, Member: ev.Member, Lot: lot.ID, Date: date}); err != nil {
				return err
			}
		} else if prog.Risk != nil && prog.Risk.Policy == points.Freeze {
			// Only the freeze policy needs the day's lots (to freeze them
			// all); keeping them otherwise would grow the record with
			// every grant of a busy day.
			day.Lots = append(day.Lots, lot.ID)
		}
		pc := PointsChange{Program: r.Program, Amount: dec.Allowed, Lot: lot.ID, Expires: lot.Expires}
		if err := t.EmitWith(change, ev.Member, &why, pc.encode); err != nil {
			return err
		}
		if dec.Freeze {
			freeze := day.Lots
			if day.Frozen {
				freeze = nil
				if r.PendingDays == 0 {
					freeze = []string{lot.ID}
				}
			}
			day.Frozen = true
			if err := pp.freeze(t, prog, ev.Member, date, day.Earned, freeze); err != nil {
				return err
			}
		}
		if err := pp.recordOrder(t, ev, r, lot.ID, dec.Allowed); err != nil {
			return err
		}
	}
	if prog.Risk == nil {
		return nil
	}
	return record.Put(t.Tx(), bPtsDay, dayKey, day)
}

// loadPointsDay reads a member's day record for risk control (apart, so
// that an event of a program without risk control allocates no record).
func loadPointsDay(tx store.Tx, key []byte) (points.Day, error) {
	var day points.Day
	_, err := record.Get(tx, bPtsDay, key, &day)
	return day, err
}

// freeze moves the unspent remainder of lots from the member's main
// account to the frozen one and records them in the day's review, which
// it opens (or reopens after a decision).
func (pp *pointsPart) freeze(t *engine.Unit, prog points.Program, member, date string, earned decimal.Decimal, lotIDs []string) error {
	rk := keys.New().Str(prog.Name).Str(date).Str(member)
	rv := points.Review{Program: prog.Name, Member: member, Date: date, State: points.ReviewPending}
	if _, err := record.Get(t.Tx(), bPtsReview, rk, &rv); err != nil {
		return err
	}
	if rv.State != points.ReviewPending {
		rv.State, rv.Lots, rv.Round, rv.Operator, rv.Decided = points.ReviewPending, nil, rv.Round+1, "", time.Time{}
	}
	rv.Earned = earned
	moved, err := pp.move(t, prog.Name, member, "", points.SubFrozen, KindPointsFrozen, lotIDs)
	if err != nil {
		return err
	}
	rv.Lots = append(rv.Lots, moved...)
	if err := record.Put(t.Tx(), bPtsReview, rk, rv); err != nil {
		return err
	}
	if err := t.Tx().Put(bPtsOpen, rk, []byte{}); err != nil {
		return err
	}
	total := decimal.Zero
	for _, m := range moved {
		total = total.Add(m.Amount)
	}
	return t.Emit(ChangePointsFrozen, member, PointsChange{Program: prog.Name, Amount: total, Lots: moved, Date: date},
		&rule.Reason{Rule: "points.risk", Note: fmt.Sprintf("risk control: earned %s on %s, daily threshold %s", earned, date, prog.Risk.Daily)})
}

// move moves the remainder of each lot from one of the member's accounts
// to another, keeping the lot's ID, expiry and grant time. Lots with
// nothing left are skipped.
func (pp *pointsPart) move(t *engine.Unit, program, member, from, to string, kind ledger.Kind, lotIDs []string) ([]points.LotAmount, error) {
	src, dst := ptsAcct(program, member, from), ptsAcct(program, member, to)
	var legs []ledger.Leg
	var moved []points.LotAmount
	for _, id := range lotIDs {
		lot, err := ptsLot(t.Ledger(), src, id)
		if err != nil {
			return nil, err
		}
		if !lot.Amount.IsPositive() {
			continue
		}
		legs = append(legs,
			ledger.Leg{Account: src, Amount: lot.Amount.Neg(), Lot: id},
			ledger.Leg{Account: dst, Amount: lot.Amount, Lot: id, Expires: lot.Expires, Granted: lot.Granted})
		moved = append(moved, points.LotAmount{Lot: id, Amount: lot.Amount, Expires: lot.Expires, Granted: lot.Granted})
	}
	if len(legs) == 0 {
		return nil, nil
	}
	_, err := pp.post(t, ledger.Transaction{Kind: kind, Legs: legs})
	return moved, err
}

// recordOrder remembers a grant of an order, for the return policy.
func (pp *pointsPart) recordOrder(t *engine.Unit, ev event.Event, r points.Rule, lot string, amount decimal.Decimal) error {
	if r.Order == "" {
		return nil
	}
	id, ok := ev.String(r.Order)
	if !ok || id == "" {
		return nil
	}
	k := []byte(id)
	ord := points.Order{ID: id, Member: ev.Member}
	if _, err := record.Get(t.Tx(), bPtsOrder, k, &ord); err != nil {
		return err
	}
	if ord.Member != ev.Member {
		return nil // an order ID of another member: not ours to track
	}
	amtAttr := r.OrderAmount
	if amtAttr == "" {
		amtAttr = r.Formula.Base
	}
	if v, ok := ev.Decimal(amtAttr); ok && amtAttr != "" && v.GreaterThan(ord.Amount) {
		ord.Amount = v
	}
	ord.Grants = append(ord.Grants, points.Grant{Program: r.Program, Rule: r.ID, Lot: lot, Amount: amount, Time: ev.Time})
	return record.Put(t.Tx(), bPtsOrder, k, ord)
}

// refund reverses an order's points in proportion to what was refunded
// in all: first from the order's own lots (pending, spendable or frozen),
// then from the member's other spendable points; what was already spent
// beyond that is the shortfall, recorded on the order and in the change.
func (pp *pointsPart) refund(t *engine.Unit, ev event.Event, rf points.Refund) error {
	id, ok := ev.String(rf.Order)
	if !ok || id == "" {
		return nil
	}
	refunded, ok := ev.Decimal(rf.Amount)
	if !ok || !refunded.IsPositive() {
		return nil
	}
	k := []byte(id)
	var ord points.Order
	if found, err := record.Get(t.Tx(), bPtsOrder, k, &ord); err != nil || !found || ord.Member != ev.Member {
		return err
	}
	ord.Refunded = ord.Refunded.Add(refunded)
	share := points.RefundShare(ord.Refunded, ord.Amount)
	for i := range ord.Grants {
		g := &ord.Grants[i]
		prog, err := pp.program(g.Program)
		if err != nil {
			return err
		}
		target := decimal.Min(prog.Rounding.Round(g.Amount.Mul(share)), g.Amount)
		delta := target.Sub(g.Reversed)
		if !delta.IsPositive() {
			continue
		}
		g.Reversed = target
		main := ptsAcct(g.Program, ev.Member, "")
		var legs []ledger.Leg
		var lots []points.LotAmount
		left, fromMainLot := delta, decimal.Zero
		for _, sub := range points.Subs {
			acct := ptsAcct(g.Program, ev.Member, sub)
			lot, err := ptsLot(t.Ledger(), acct, g.Lot)
			if err != nil {
				return err
			}
			x := decimal.Min(lot.Amount, left)
			if !x.IsPositive() {
				continue
			}
			legs = append(legs, ledger.Leg{Account: acct, Amount: x.Neg(), Lot: g.Lot})
			lots = append(lots, points.LotAmount{Lot: g.Lot, Amount: x, Expires: lot.Expires})
			left = left.Sub(x)
			if sub == "" {
				fromMainLot = fromMainLot.Add(x)
			}
		}
		if left.IsPositive() {
			avail, err := t.Ledger().Available(main, t.At())
			if err != nil {
				return err
			}
			x := decimal.Min(left, decimal.Max(avail.Sub(fromMainLot), decimal.Zero))
			if x.IsPositive() {
				legs = append(legs, ledger.Leg{Account: main, Amount: x.Neg()})
				left = left.Sub(x)
			}
		}
		taken := delta.Sub(left)
		ord.Shortfall = ord.Shortfall.Add(left)
		if taken.IsPositive() {
			legs = append(legs, ledger.Leg{Account: ptsPool(g.Program, KindPointsReversed), Amount: taken})
			if _, err := pp.post(t, ledger.Transaction{Kind: KindPointsReversed, Ref: ledger.Ref{Event: ev.ID, Order: id}, Legs: legs}); err != nil {
				return err
			}
		}
		if r, ok := pp.def.Rule(g.Rule); ok {
			if err := rule.Release(t.Tx(), bPtsCaps, ev.Member+"\x00"+r.ID, r.Caps, g.Time, pp.p.loc, delta); err != nil {
				return err
			}
		}
		why := &rule.Reason{Rule: g.Rule, Inputs: map[string]string{rf.Amount: refunded.String(), "refunded": ord.Refunded.String(), "order_amount": ord.Amount.String()},
			Note: fmt.Sprintf("refund of order %s: %s of %s points reversed", id, delta, g.Amount)}
		if err := t.Emit(ChangePointsReversed, ev.Member, PointsChange{Program: g.Program, Amount: taken.Neg(), Lots: lots, Ref: id, Shortfall: left}, why); err != nil {
			return err
		}
	}
	return record.Put(t.Tx(), bPtsOrder, k, ord)
}

// due performs lot expiries and pending releases at their due time.
func (pp *pointsPart) Due(t *engine.Unit, it engine.Item) error {
	var d ptsDue
	if len(it.Payload) == 0 {
		var ok bool
		if d, ok = parsePtsDueID(it.ID); !ok {
			return fmt.Errorf("points: malformed due item id %q", it.ID)
		}
	} else if err := json.Unmarshal(it.Payload, &d); err != nil {
		return err
	}
	switch it.Kind {
	case duePtsExpire:
		if d.Lot == "" {
			return pp.expireAt(t, d.Program, d.Member, it.At)
		}
		// An item of one lot (as stores written before expiries were
		// grouped hold). The lot may have moved between the member's
		// accounts (pending, main, frozen): its remainder expires wherever
		// it is.
		for _, sub := range points.Subs {
			acct := ptsAcct(d.Program, d.Member, sub)
			lot, err := ptsLot(t.Ledger(), acct, d.Lot)
			if err != nil {
				return err
			}
			if lot.Amount.IsPositive() && !lot.Expires.IsZero() && !lot.Expires.After(t.At()) {
				if err := pp.expire(t, d.Program, acct, d.Lot, lot.Amount); err != nil {
					return err
				}
			}
		}
		return nil
	case duePtsRelease:
		return pp.release(t, d)
	}
	return nil
}

// expireAt expires what remains of the member's lots that expire at at,
// in each of the member's accounts (a lot keeps its expiry when it moves
// between them), in spending order.
func (pp *pointsPart) expireAt(t *engine.Unit, program, member string, at time.Time) error {
	for _, sub := range points.Subs {
		acct := ptsAcct(program, member, sub)
		lots, err := t.Ledger().LotsExpiring(acct, at)
		if err != nil {
			return err
		}
		for _, lot := range lots {
			if lot.Amount.IsPositive() {
				if err := pp.expire(t, program, acct, lot.ID, lot.Amount); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// release makes a pending lot spendable, or frozen when its day is frozen
// and its review still open.
func (pp *pointsPart) release(t *engine.Unit, d ptsDue) error {
	to, kind := "", KindPointsReleased
	rk := keys.New().Str(d.Program).Str(d.Date).Str(d.Member)
	var rv points.Review
	found, err := record.Get(t.Tx(), bPtsReview, rk, &rv)
	if err != nil {
		return err
	}
	if found && rv.State == points.ReviewPending {
		to = points.SubFrozen
	}
	moved, err := pp.move(t, d.Program, d.Member, points.SubPending, to, kind, []string{d.Lot})
	if err != nil || len(moved) == 0 {
		return err
	}
	if to == points.SubFrozen {
		rv.Lots = append(rv.Lots, moved...)
		if err := record.Put(t.Tx(), bPtsReview, rk, rv); err != nil {
			return err
		}
	}
	note := "pending points released"
	if to != "" {
		note = "pending points released into frozen: their day awaits review"
	}
	return t.Emit(ChangePointsReleased, d.Member, PointsChange{Program: d.Program, Amount: moved[0].Amount, Lot: d.Lot, Expires: moved[0].Expires, Date: d.Date},
		&rule.Reason{Rule: "points.pending", Note: note})
}

// reward grants a points reward (level gift, task reward) as an earned
// lot of the program's validity; risk control does not apply.
func (pp *pointsPart) Reward(t *engine.Unit, member string, r rule.Reward, why rule.Reason) error {
	prog, err := pp.program(r.Program)
	if err != nil {
		return err
	}
	amt := prog.Rounding.Round(r.Amount)
	if !amt.IsPositive() {
		return nil
	}
	lot, err := pp.grant(t, prog.Name, member, "", KindPointsEarned, amt, points.Expiry(prog.Validity, t.At(), pp.p.loc))
	if err != nil {
		return err
	}
	return t.Emit(ChangePointsEarned, member, PointsChange{Program: prog.Name, Amount: amt, Lot: lot.ID, Expires: lot.Expires}, &why)
}

// points returns the points part, or an error when the program has none.
func (p *Program) points() (*pointsPart, error) {
	if p.parts.points != nil {
		return p.parts.points, nil
	}
	return nil, fmt.Errorf("%w: the program has no points", points.ErrUnknownProgram)
}

// RedeemPointsRequest spends a member's points against a reference (an
// order, a mall item). Either Amount is the points to spend, or Order is
// an order amount to pay with points + cash (then Amount, when set, caps
// the points spent).
type RedeemPointsRequest struct {
	// ID is the request ID: a retry with the same ID returns the first
	// outcome.
	ID       string          `json:"id"`
	Program  string          `json:"program"`
	Member   string          `json:"member"`
	Ref      string          `json:"ref"`
	Amount   decimal.Decimal `json:"amount,omitzero"`
	Order    decimal.Decimal `json:"order,omitzero"`
	Operator string          `json:"operator,omitempty"`
	At       time.Time       `json:"at"`
}

// RedeemPoints spends points against req.Ref, taking the member's
// spendable lots by earliest expiry, then earliest grant (pending and
// frozen points are not spendable). With req.Order it computes the points
// + cash split (see points.SplitOrder) and spends its points; the change's
// Split says what remains to pay in cash. Errors wrap ErrInvalidArgument,
// points.ErrUnknownProgram, points.ErrInvalidAmount, points.ErrNoPayment,
// points.ErrRedemptionExists, ErrInsufficientBalance, or ErrEventConflict
// for a request ID reused with another request.
func (p *Program) RedeemPoints(ctx context.Context, req RedeemPointsRequest) (*change.Outcome, error) {
	pp, err := p.points()
	if err != nil {
		return nil, fmt.Errorf("membership: redeem points: %w", err)
	}
	if req.Member == "" || req.Ref == "" || req.At.IsZero() {
		return nil, fmt.Errorf("membership: redeem points: %w: member, ref and time are required", ErrInvalidArgument)
	}
	out, err := p.apply(ctx, req.ID, req, req.At, ledger.Ref{Order: req.Ref, Operator: req.Operator}, req.Member, func(t *engine.Unit) error {
		return pp.redeem(t, req)
	})
	if err != nil {
		return nil, fmt.Errorf("membership: redeem points %s: %w", req.Ref, err)
	}
	return out, nil
}

func (pp *pointsPart) redeem(t *engine.Unit, req RedeemPointsRequest) error {
	prog, err := pp.program(req.Program)
	if err != nil {
		return err
	}
	rk := keys.New().Str(req.Program).Str(req.Ref)
	var rd points.Redemption
	if found, err := record.Get(t.Tx(), bPtsRedeem, rk, &rd); err != nil {
		return err
	} else if found {
		return fmt.Errorf("%w: %s", points.ErrRedemptionExists, req.Ref)
	}
	main := ptsAcct(req.Program, req.Member, "")
	amount := req.Amount
	var split *points.Split
	if !req.Order.IsZero() {
		avail, err := t.Ledger().Available(main, t.At())
		if err != nil {
			return err
		}
		s, err := points.SplitOrder(prog, req.Order, avail, req.Amount)
		if err != nil {
			return err
		}
		split, amount = &s, s.Points
	}
	if err := prog.CheckAmount(amount); err != nil {
		return err
	}
	posted, err := pp.post(t, ledger.Transaction{Kind: KindPointsRedeemed, Legs: []ledger.Leg{
		{Account: main, Amount: amount.Neg()},
		{Account: ptsPool(req.Program, KindPointsRedeemed), Amount: amount},
	}})
	if err != nil {
		return err
	}
	rd = points.Redemption{Program: req.Program, Member: req.Member, Ref: req.Ref, Amount: amount, Split: split, Time: t.At(), Reversed: decimal.Zero}
	for _, tk := range posted.Takes {
		rd.Takes = append(rd.Takes, points.LotAmount{Lot: tk.Lot, Amount: tk.Amount, Expires: tk.Expires, Granted: tk.Granted})
		rd.Returned = append(rd.Returned, decimal.Zero)
	}
	if err := record.Put(t.Tx(), bPtsRedeem, rk, rd); err != nil {
		return err
	}
	return t.Emit(ChangePointsRedeemed, req.Member, PointsChange{Program: req.Program, Amount: amount, Ref: req.Ref, Split: split, Lots: rd.Takes, Operator: req.Operator},
		&rule.Reason{Rule: "points.redeem", Note: "redeemed against " + req.Ref})
}

// ReversePointsRequest reverses a redemption, in whole (Amount zero) or in
// part.
type ReversePointsRequest struct {
	ID       string          `json:"id"`
	Program  string          `json:"program"`
	Ref      string          `json:"ref"`
	Amount   decimal.Decimal `json:"amount,omitzero"`
	Operator string          `json:"operator,omitempty"`
	At       time.Time       `json:"at"`
}

// ReversePoints returns a redemption's points (all that remains, or
// req.Amount) to the lots they came from, keeping their expiries: the
// lots taken last (latest expiry) are refilled first. Points returned to a
// lot that has expired meanwhile expire again at once, each as an entry of
// its own. Errors wrap ErrInvalidArgument, points.ErrUnknownProgram,
// points.ErrUnknownRedemption, points.ErrInvalidAmount,
// points.ErrOverReversal or ErrEventConflict.
func (p *Program) ReversePoints(ctx context.Context, req ReversePointsRequest) (*change.Outcome, error) {
	pp, err := p.points()
	if err != nil {
		return nil, fmt.Errorf("membership: reverse points: %w", err)
	}
	if req.Ref == "" || req.At.IsZero() {
		return nil, fmt.Errorf("membership: reverse points: %w: ref and time are required", ErrInvalidArgument)
	}
	var member string
	out, err := p.apply(ctx, req.ID, req, req.At, ledger.Ref{Order: req.Ref, Operator: req.Operator}, "", func(t *engine.Unit) error {
		var err error
		member, err = pp.reverse(t, req)
		t.Outcome().Member = member
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("membership: reverse points %s: %w", req.Ref, err)
	}
	return out, nil
}

func (pp *pointsPart) reverse(t *engine.Unit, req ReversePointsRequest) (string, error) {
	prog, err := pp.program(req.Program)
	if err != nil {
		return "", err
	}
	rk := keys.New().Str(req.Program).Str(req.Ref)
	var rd points.Redemption
	if found, err := record.Get(t.Tx(), bPtsRedeem, rk, &rd); err != nil {
		return "", err
	} else if !found {
		return "", fmt.Errorf("%w: %s", points.ErrUnknownRedemption, req.Ref)
	}
	amount := req.Amount
	if amount.IsZero() {
		amount = rd.Remaining()
	}
	if err := prog.CheckAmount(amount); err != nil {
		return rd.Member, err
	}
	if amount.GreaterThan(rd.Remaining()) {
		return rd.Member, fmt.Errorf("%w: %s asked, %s remains", points.ErrOverReversal, amount, rd.Remaining())
	}
	main := ptsAcct(req.Program, rd.Member, "")
	var legs []ledger.Leg
	var lots []points.LotAmount
	left := amount
	for i := len(rd.Takes) - 1; i >= 0 && left.IsPositive(); i-- {
		tk := rd.Takes[i]
		x := decimal.Min(tk.Amount.Sub(rd.Returned[i]), left)
		if !x.IsPositive() {
			continue
		}
		rd.Returned[i] = rd.Returned[i].Add(x)
		left = left.Sub(x)
		legs = append(legs, ledger.Leg{Account: main, Amount: x, Lot: tk.Lot, Expires: tk.Expires, Granted: tk.Granted})
		lots = append(lots, points.LotAmount{Lot: tk.Lot, Amount: x, Expires: tk.Expires, Granted: tk.Granted})
	}
	legs = append(legs, ledger.Leg{Account: ptsPool(req.Program, KindPointsReversed), Amount: amount.Neg()})
	rd.Reversed = rd.Reversed.Add(amount)
	if err := record.Put(t.Tx(), bPtsRedeem, rk, rd); err != nil {
		return rd.Member, err
	}
	// The change comes before the expiries the reversal may cause.
	if err := t.Emit(ChangePointsReversed, rd.Member, PointsChange{Program: req.Program, Amount: amount, Ref: req.Ref, Lots: lots, Operator: req.Operator},
		&rule.Reason{Rule: "points.reverse", Note: "redemption " + req.Ref + " reversed"}); err != nil {
		return rd.Member, err
	}
	_, err = pp.post(t, ledger.Transaction{Kind: KindPointsReversed, Legs: legs})
	return rd.Member, err
}

// AdjustPointsRequest is a manual adjustment: a credit (positive Amount)
// or a debit (negative), with a reason and the operator asking.
type AdjustPointsRequest struct {
	// ID is the request ID and the adjustment's ID.
	ID       string          `json:"id"`
	Program  string          `json:"program"`
	Member   string          `json:"member"`
	Amount   decimal.Decimal `json:"amount"`
	Reason   string          `json:"reason"`
	Operator string          `json:"operator"`
	At       time.Time       `json:"at"`
}

// AdjustPoints applies a manual adjustment at once, or, when its absolute
// amount is above the program's ApprovalAbove, records it as pending
// (change points.adjustment_requested) until another operator approves or
// rejects it. A credit is a new lot of the program's validity; a debit
// takes spendable lots like a redemption. Errors wrap ErrInvalidArgument,
// points.ErrNoOperator, points.ErrUnknownProgram, points.ErrInvalidAmount,
// ErrInsufficientBalance or ErrEventConflict.
func (p *Program) AdjustPoints(ctx context.Context, req AdjustPointsRequest) (*change.Outcome, error) {
	pp, err := p.points()
	if err != nil {
		return nil, fmt.Errorf("membership: adjust points: %w", err)
	}
	if req.Member == "" || req.At.IsZero() || req.Reason == "" {
		return nil, fmt.Errorf("membership: adjust points: %w: member, reason and time are required", ErrInvalidArgument)
	}
	if req.Operator == "" {
		return nil, fmt.Errorf("membership: adjust points: %w", points.ErrNoOperator)
	}
	out, err := p.apply(ctx, req.ID, req, req.At, ledger.Ref{Operator: req.Operator, Note: req.Reason}, req.Member, func(t *engine.Unit) error {
		prog, err := pp.program(req.Program)
		if err != nil {
			return err
		}
		if err := prog.CheckAmount(req.Amount.Abs()); err != nil {
			return err
		}
		adj := points.Adjustment{ID: req.ID, Program: req.Program, Member: req.Member, Amount: req.Amount, Reason: req.Reason,
			State: points.AdjustmentPending, Requester: req.Operator, Requested: req.At}
		if prog.NeedsApproval(req.Amount) {
			if err := record.Put(t.Tx(), bPtsAdjust, []byte(adj.ID), adj); err != nil {
				return err
			}
			return t.Emit(ChangePointsAdjustmentRequested, req.Member, PointsChange{Program: req.Program, Amount: req.Amount, Adjustment: &adj, Operator: req.Operator},
				&rule.Reason{Rule: "points.adjust", Note: fmt.Sprintf("above the approval threshold %s: %s", prog.ApprovalAbove, req.Reason)})
		}
		return pp.applyAdjustment(t, prog, adj, req.Operator, "")
	})
	if err != nil {
		return nil, fmt.Errorf("membership: adjust points %s: %w", req.ID, err)
	}
	return out, nil
}

func (pp *pointsPart) applyAdjustment(t *engine.Unit, prog points.Program, adj points.Adjustment, decider, note string) error {
	acct := ptsAcct(adj.Program, adj.Member, "")
	pool := ptsPool(adj.Program, KindPointsAdjusted)
	leg := ledger.Leg{Account: acct, Amount: adj.Amount}
	if adj.Amount.IsPositive() {
		leg.Expires = points.Expiry(prog.Validity, t.At(), pp.p.loc)
	}
	ref := ledger.Ref{Event: t.Ref().Event, Operator: decider, Note: adj.Reason}
	if _, err := pp.post(t, ledger.Transaction{Kind: KindPointsAdjusted, Ref: ref, Legs: []ledger.Leg{leg, {Account: pool, Amount: adj.Amount.Neg()}}}); err != nil {
		return err
	}
	adj.State, adj.Decider, adj.Decided, adj.Note = points.AdjustmentApplied, decider, t.At(), note
	if err := record.Put(t.Tx(), bPtsAdjust, []byte(adj.ID), adj); err != nil {
		return err
	}
	return t.Emit(ChangePointsAdjusted, adj.Member, PointsChange{Program: adj.Program, Amount: adj.Amount, Adjustment: &adj, Operator: decider},
		&rule.Reason{Rule: "points.adjust", Note: adj.Reason})
}

// DecidePointsRequest approves or rejects a pending adjustment.
type DecidePointsRequest struct {
	// ID is the request ID (for retries).
	ID         string    `json:"id"`
	Adjustment string    `json:"adjustment"`
	Operator   string    `json:"operator"`
	Note       string    `json:"note,omitempty"`
	At         time.Time `json:"at"`
}

// ApprovePointsAdjustment approves a pending adjustment and applies it.
// The operator who requested it cannot approve it. Errors wrap
// points.ErrNoOperator, points.ErrUnknownAdjustment, points.ErrNotPending,
// points.ErrSelfApproval, ErrInsufficientBalance (a debit the balance no
// longer covers: the adjustment stays pending) or ErrEventConflict.
func (p *Program) ApprovePointsAdjustment(ctx context.Context, req DecidePointsRequest) (*change.Outcome, error) {
	return p.decideAdjustment(ctx, req, true)
}

// RejectPointsAdjustment rejects a pending adjustment (any operator,
// the requester included, may reject). Errors wrap points.ErrNoOperator,
// points.ErrUnknownAdjustment, points.ErrNotPending or ErrEventConflict.
func (p *Program) RejectPointsAdjustment(ctx context.Context, req DecidePointsRequest) (*change.Outcome, error) {
	return p.decideAdjustment(ctx, req, false)
}

func (p *Program) decideAdjustment(ctx context.Context, req DecidePointsRequest, approve bool) (*change.Outcome, error) {
	verb := "reject"
	if approve {
		verb = "approve"
	}
	pp, err := p.points()
	if err != nil {
		return nil, fmt.Errorf("membership: %s points adjustment: %w", verb, err)
	}
	if req.Operator == "" {
		return nil, fmt.Errorf("membership: %s points adjustment: %w", verb, points.ErrNoOperator)
	}
	if req.At.IsZero() {
		return nil, fmt.Errorf("membership: %s points adjustment: %w: time required", verb, ErrInvalidArgument)
	}
	out, err := p.apply(ctx, req.ID, map[string]any{verb: req}, req.At, ledger.Ref{Operator: req.Operator}, "", func(t *engine.Unit) error {
		var adj points.Adjustment
		if found, err := record.Get(t.Tx(), bPtsAdjust, []byte(req.Adjustment), &adj); err != nil {
			return err
		} else if !found {
			return fmt.Errorf("%w: %s", points.ErrUnknownAdjustment, req.Adjustment)
		}
		t.Outcome().Member = adj.Member
		if adj.State != points.AdjustmentPending {
			return fmt.Errorf("%w: adjustment %s is %s", points.ErrNotPending, adj.ID, adj.State)
		}
		if approve {
			if req.Operator == adj.Requester {
				return fmt.Errorf("%w: %s requested %s", points.ErrSelfApproval, req.Operator, adj.ID)
			}
			prog, err := pp.program(adj.Program)
			if err != nil {
				return err
			}
			return pp.applyAdjustment(t, prog, adj, req.Operator, req.Note)
		}
		adj.State, adj.Decider, adj.Decided, adj.Note = points.AdjustmentRejected, req.Operator, t.At(), req.Note
		if err := record.Put(t.Tx(), bPtsAdjust, []byte(adj.ID), adj); err != nil {
			return err
		}
		return t.Emit(ChangePointsAdjustmentRejected, adj.Member, PointsChange{Program: adj.Program, Amount: adj.Amount, Adjustment: &adj, Operator: req.Operator},
			&rule.Reason{Rule: "points.adjust", Note: req.Note})
	})
	if err != nil {
		return nil, fmt.Errorf("membership: %s points adjustment %s: %w", verb, req.Adjustment, err)
	}
	return out, nil
}

// ReviewPointsRequest decides a frozen day: restore its points or void
// them.
type ReviewPointsRequest struct {
	ID      string `json:"id"`
	Program string `json:"program"`
	Member  string `json:"member"`
	// Date is the frozen day ("2006-01-02", program zone).
	Date     string    `json:"date"`
	Operator string    `json:"operator"`
	At       time.Time `json:"at"`
}

// RestorePoints restores a frozen day's points to the member's spendable
// account, in the same lots with the same expiries (what expired while
// frozen stays expired). Errors wrap points.ErrNoOperator,
// points.ErrUnknownReview, points.ErrNotPending or ErrEventConflict.
func (p *Program) RestorePoints(ctx context.Context, req ReviewPointsRequest) (*change.Outcome, error) {
	return p.review(ctx, req, true)
}

// VoidPoints voids a frozen day's points. Errors as RestorePoints.
func (p *Program) VoidPoints(ctx context.Context, req ReviewPointsRequest) (*change.Outcome, error) {
	return p.review(ctx, req, false)
}

func (p *Program) review(ctx context.Context, req ReviewPointsRequest, restore bool) (*change.Outcome, error) {
	verb := "void"
	if restore {
		verb = "restore"
	}
	pp, err := p.points()
	if err != nil {
		return nil, fmt.Errorf("membership: %s points: %w", verb, err)
	}
	if req.Operator == "" {
		return nil, fmt.Errorf("membership: %s points: %w", verb, points.ErrNoOperator)
	}
	if req.At.IsZero() || req.Member == "" {
		return nil, fmt.Errorf("membership: %s points: %w: member and time required", verb, ErrInvalidArgument)
	}
	out, err := p.apply(ctx, req.ID, map[string]any{verb: req}, req.At, ledger.Ref{Operator: req.Operator}, req.Member, func(t *engine.Unit) error {
		rk := keys.New().Str(req.Program).Str(req.Date).Str(req.Member)
		var rv points.Review
		if found, err := record.Get(t.Tx(), bPtsReview, rk, &rv); err != nil {
			return err
		} else if !found {
			return fmt.Errorf("%w: %s %s %s", points.ErrUnknownReview, req.Program, req.Member, req.Date)
		}
		if rv.State != points.ReviewPending {
			return fmt.Errorf("%w: review is %s", points.ErrNotPending, rv.State)
		}
		ids := make([]string, 0, len(rv.Lots))
		for _, l := range rv.Lots {
			if !slices.Contains(ids, l.Lot) {
				ids = append(ids, l.Lot)
			}
		}
		var lots []points.LotAmount
		var err error
		change := ChangePointsRestored
		if restore {
			lots, err = pp.move(t, req.Program, req.Member, points.SubFrozen, "", KindPointsRestored, ids)
		} else {
			change = ChangePointsVoided
			lots, err = pp.voidLots(t, req.Program, req.Member, ids)
		}
		if err != nil {
			return err
		}
		rv.State, rv.Operator, rv.Decided = points.ReviewVoided, req.Operator, t.At()
		if restore {
			rv.State = points.ReviewRestored
		}
		if err := record.Put(t.Tx(), bPtsReview, rk, rv); err != nil {
			return err
		}
		if err := t.Tx().Delete(bPtsOpen, rk); err != nil {
			return err
		}
		total := decimal.Zero
		for _, l := range lots {
			total = total.Add(l.Amount)
		}
		return t.Emit(change, req.Member, PointsChange{Program: req.Program, Amount: total, Lots: lots, Date: req.Date, Operator: req.Operator},
			&rule.Reason{Rule: "points.risk", Note: fmt.Sprintf("review of %s by %s", req.Date, req.Operator)})
	})
	if err != nil {
		return nil, fmt.Errorf("membership: %s points of %s on %s: %w", verb, req.Member, req.Date, err)
	}
	return out, nil
}

func (pp *pointsPart) voidLots(t *engine.Unit, program, member string, ids []string) ([]points.LotAmount, error) {
	src := ptsAcct(program, member, points.SubFrozen)
	var legs []ledger.Leg
	var out []points.LotAmount
	total := decimal.Zero
	for _, id := range ids {
		lot, err := ptsLot(t.Ledger(), src, id)
		if err != nil {
			return nil, err
		}
		if !lot.Amount.IsPositive() {
			continue
		}
		legs = append(legs, ledger.Leg{Account: src, Amount: lot.Amount.Neg(), Lot: id})
		out = append(out, points.LotAmount{Lot: id, Amount: lot.Amount, Expires: lot.Expires, Granted: lot.Granted})
		total = total.Add(lot.Amount)
	}
	if len(legs) == 0 {
		return nil, nil
	}
	legs = append(legs, ledger.Leg{Account: ptsPool(program, KindPointsVoided), Amount: total})
	_, err := pp.post(t, ledger.Transaction{Kind: KindPointsVoided, Legs: legs})
	return out, err
}

// ExchangePointsRequest converts a member's points of one program into
// another.
type ExchangePointsRequest struct {
	ID     string          `json:"id"`
	Member string          `json:"member"`
	From   string          `json:"from"`
	To     string          `json:"to"`
	Amount decimal.Decimal `json:"amount"`
	At     time.Time       `json:"at"`
}

// ExchangePoints spends req.Amount points of req.From (spendable lots, in
// spending order) and credits Amount × rate, rounded down to the target
// program's scale, as a new lot of the target's validity, in one
// transaction. Errors wrap ErrInvalidArgument, points.ErrUnknownProgram,
// points.ErrNoExchange, points.ErrInvalidAmount, points.ErrExchangeTooSmall,
// ErrInsufficientBalance or ErrEventConflict.
func (p *Program) ExchangePoints(ctx context.Context, req ExchangePointsRequest) (*change.Outcome, error) {
	pp, err := p.points()
	if err != nil {
		return nil, fmt.Errorf("membership: exchange points: %w", err)
	}
	if req.Member == "" || req.At.IsZero() {
		return nil, fmt.Errorf("membership: exchange points: %w: member and time required", ErrInvalidArgument)
	}
	out, err := p.apply(ctx, req.ID, req, req.At, ledger.Ref{}, req.Member, func(t *engine.Unit) error {
		from, err := pp.program(req.From)
		if err != nil {
			return err
		}
		to, err := pp.program(req.To)
		if err != nil {
			return err
		}
		rate, ok := pp.def.ExchangeRate(req.From, req.To)
		if !ok {
			return fmt.Errorf("%w: %s → %s", points.ErrNoExchange, req.From, req.To)
		}
		if err := from.CheckAmount(req.Amount); err != nil {
			return err
		}
		got := points.Convert(req.Amount, rate, to)
		if !got.IsPositive() {
			return fmt.Errorf("%w: %s × %s rounds down to 0", points.ErrExchangeTooSmall, req.Amount, rate)
		}
		posted, err := pp.post(t, ledger.Transaction{Kind: KindPointsExchanged, Legs: []ledger.Leg{
			{Account: ptsAcct(req.From, req.Member, ""), Amount: req.Amount.Neg()},
			{Account: ptsPool(req.From, KindPointsExchanged), Amount: req.Amount},
			{Account: ptsAcct(req.To, req.Member, ""), Amount: got, Expires: points.Expiry(to.Validity, t.At(), pp.p.loc)},
			{Account: ptsPool(req.To, KindPointsExchanged), Amount: got.Neg()},
		}})
		if err != nil {
			return err
		}
		lot := posted.Lots[0]
		return t.Emit(ChangePointsExchanged, req.Member, PointsChange{Program: req.From, Amount: req.Amount, To: req.To, ToAmount: got, Lot: lot.ID, Expires: lot.Expires},
			&rule.Reason{Rule: "points.exchange", Formula: "amount × " + rate.String(), Inputs: map[string]string{"amount": req.Amount.String()}, Raw: req.Amount.Mul(rate)})
	})
	if err != nil {
		return nil, fmt.Errorf("membership: exchange points %s → %s: %w", req.From, req.To, err)
	}
	return out, nil
}

// PointsBalance is a member's points in one program.
type PointsBalance struct {
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
func (b PointsBalance) Total() decimal.Decimal { return b.Main.Add(b.Pending).Add(b.Frozen) }

// PointsBalance returns a member's points in program at time at.
func (p *Program) PointsBalance(ctx context.Context, program, member string, at time.Time) (PointsBalance, error) {
	var b PointsBalance
	err := p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		var err error
		if b.Available, err = led.Available(ptsAcct(program, member, ""), at); err != nil {
			return err
		}
		for _, x := range []struct {
			sub string
			to  *decimal.Decimal
		}{{"", &b.Main}, {points.SubPending, &b.Pending}, {points.SubFrozen, &b.Frozen}} {
			if *x.to, err = led.Balance(ptsAcct(program, member, x.sub)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return b, fmt.Errorf("membership: points balance of %q: %w", member, err)
	}
	return b, nil
}

// PointsQuery selects a page of a member's points statement.
type PointsQuery struct {
	Program string
	Member  string
	// Sub is "" for the main account, points.SubPending or
	// points.SubFrozen.
	Sub string
	// Kinds keeps only entries of these kinds when not empty.
	Kinds []ledger.Kind
	// From and To bound the entries' time (From ≤ time < To; zero: open).
	From, To time.Time
	Limit    int
	Cursor   string
	Newest   bool
}

// PointsStatement returns a page of a member's points entries with their
// running balance; it reads only the page's entries (and those the kind
// filter skips).
func (p *Program) PointsStatement(ctx context.Context, q PointsQuery) (ledger.Page, error) {
	page, err := p.Statement(ctx, ledger.Query{Account: ptsAcct(q.Program, q.Member, q.Sub), From: q.From, To: q.To, Kinds: q.Kinds, Limit: q.Limit, Cursor: q.Cursor, Newest: q.Newest})
	if err != nil {
		return page, fmt.Errorf("membership: points statement of %q: %w", q.Member, err)
	}
	return page, nil
}

// PointsReconciliation returns program's totals per kind over the days
// from..to ("2006-01-02", inclusive, program zone; empty: unbounded). Over
// the whole history it also reads the members' total balance from the pool
// accounts (the ledger keeps every asset's accounts summing to zero), so
// Holds checks the identity against an independent figure.
func (p *Program) PointsReconciliation(ctx context.Context, program, from, to string) (points.Reconciliation, error) {
	r := points.Reconciliation{Program: program, From: from, To: to}
	err := p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		asset := ledger.Points(program)
		totals, err := led.Totals(asset, from, to)
		if err != nil {
			return err
		}
		for k, v := range totals {
			r.Change = r.Change.Add(v)
			switch k {
			case KindPointsEarned:
				r.Earned = v
			case KindPointsRedeemed:
				r.Redeemed = v.Neg()
			case KindPointsReversed:
				r.Reversed = v
			case KindPointsExpired:
				r.Expired = v.Neg()
			case KindPointsVoided:
				r.Voided = v.Neg()
			case KindPointsAdjusted:
				r.Adjusted = v
			case KindPointsExchanged:
				r.Exchanged = v
			}
		}
		if from == "" && to == "" {
			out := decimal.Zero
			for _, k := range []ledger.Kind{KindPointsEarned, KindPointsRedeemed, KindPointsReversed, KindPointsExpired, KindPointsVoided, KindPointsAdjusted, KindPointsExchanged} {
				b, err := led.Balance(ptsPool(program, k))
				if err != nil {
					return err
				}
				out = out.Sub(b)
			}
			r.Outstanding = &out
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("membership: points reconciliation of %q: %w", program, err)
	}
	return r, nil
}

// PointsExpiring returns a member's lots of program (spendable, pending
// and frozen) that expire after from and no later than days days after
// it, earliest first.
func (p *Program) PointsExpiring(ctx context.Context, program, member string, from time.Time, days int) ([]points.ExpiringLot, error) {
	end := from.AddDate(0, 0, days)
	var out []points.ExpiringLot
	err := p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		for _, sub := range points.Subs {
			lots, err := led.Lots(ptsAcct(program, member, sub))
			if err != nil {
				return err
			}
			for _, l := range lots {
				if l.Expires.IsZero() || l.Expires.After(end) {
					break // lots are in expiry order, permanent last
				}
				if l.Expires.After(from) && l.Amount.IsPositive() {
					out = append(out, points.ExpiringLot{Lot: l.ID, Sub: sub, Amount: l.Amount, Expires: l.Expires})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("membership: expiring points of %q: %w", member, err)
	}
	slices.SortStableFunc(out, func(a, b points.ExpiringLot) int { return a.Expires.Compare(b.Expires) })
	return out, nil
}

// PointsExpiryForecast returns, for months calendar months starting with
// the month of from (program zone), what the program's members hold that
// expires in each: points whose last valid day falls in the month. It
// reads one total per month, kept current as lots are credited and
// debited, never the members.
func (p *Program) PointsExpiryForecast(ctx context.Context, program string, from time.Time, months int) ([]points.MonthTotal, error) {
	f := from.In(p.loc)
	first := time.Date(f.Year(), f.Month(), 1, 12, 0, 0, 0, p.loc)
	out := make([]points.MonthTotal, 0, max(months, 0))
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		for i := range months {
			m := first.AddDate(0, i, 0).Format("2006-01")
			amt, err := engine.Total(tx, bPtsExpiry, keys.New().Str(program).Str(m))
			if err != nil {
				return err
			}
			out = append(out, points.MonthTotal{Month: m, Amount: amt})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("membership: points expiry forecast of %q: %w", program, err)
	}
	return out, nil
}

// PointsReviews returns up to limit (default 100) frozen days of program
// waiting for review, oldest day first.
func (p *Program) PointsReviews(ctx context.Context, program string, limit int) ([]points.Review, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []points.Review
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		pre := keys.New().Str(program)
		return tx.Scan(bPtsOpen, pre, store.PrefixEnd(pre), false, func(k, _ []byte) error {
			if len(out) == limit {
				return store.StopScan
			}
			var rv points.Review
			if _, err := record.Get(tx, bPtsReview, k, &rv); err != nil {
				return err
			}
			out = append(out, rv)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("membership: points reviews of %q: %w", program, err)
	}
	return out, nil
}

// PointsReview returns the review of a member's day (points.ErrUnknownReview
// when the day was never frozen).
func (p *Program) PointsReview(ctx context.Context, program, member, date string) (points.Review, error) {
	var rv points.Review
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		found, err := record.Get(tx, bPtsReview, keys.New().Str(program).Str(date).Str(member), &rv)
		if err == nil && !found {
			err = points.ErrUnknownReview
		}
		return err
	})
	if err != nil {
		return rv, fmt.Errorf("membership: points review of %q on %s: %w", member, date, err)
	}
	return rv, nil
}

// PointsDay returns a member's earning on one day for risk control: what
// was earned, what the stop policy blocked, whether the day is frozen. It
// is kept only for programs with risk control (zero otherwise).
func (p *Program) PointsDay(ctx context.Context, program, member, date string) (points.Day, error) {
	var d points.Day
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		_, err := record.Get(tx, bPtsDay, keys.New().Str(program).Str(member).Str(date), &d)
		return err
	})
	return d, err
}

// PointsAdjustment returns an adjustment (points.ErrUnknownAdjustment when
// none has the ID).
func (p *Program) PointsAdjustment(ctx context.Context, id string) (points.Adjustment, error) {
	var a points.Adjustment
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		found, err := record.Get(tx, bPtsAdjust, []byte(id), &a)
		if err == nil && !found {
			err = points.ErrUnknownAdjustment
		}
		return err
	})
	if err != nil {
		return a, fmt.Errorf("membership: points adjustment %q: %w", id, err)
	}
	return a, nil
}

// PointsRedemption returns the redemption of ref in program
// (points.ErrUnknownRedemption when none).
func (p *Program) PointsRedemption(ctx context.Context, program, ref string) (points.Redemption, error) {
	var r points.Redemption
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		found, err := record.Get(tx, bPtsRedeem, keys.New().Str(program).Str(ref), &r)
		if err == nil && !found {
			err = points.ErrUnknownRedemption
		}
		return err
	})
	if err != nil {
		return r, fmt.Errorf("membership: points redemption %q: %w", ref, err)
	}
	return r, nil
}

// PointsOrder returns what an order earned and what its refunds reversed
// (found false when the order earned no points).
func (p *Program) PointsOrder(ctx context.Context, order string) (o points.Order, found bool, err error) {
	err = p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		found, err = record.Get(tx, bPtsOrder, []byte(order), &o)
		return err
	})
	return o, found, err
}

// PointsSplit computes, without spending, the points + cash split of an
// order amount for a member at time at (see points.SplitOrder).
func (p *Program) PointsSplit(ctx context.Context, program, member string, order decimal.Decimal, at time.Time) (points.Split, error) {
	pp, err := p.points()
	if err != nil {
		return points.Split{}, err
	}
	prog, err := pp.program(program)
	if err != nil {
		return points.Split{}, err
	}
	var s points.Split
	err = p.view(ctx, func(_ store.Tx, led *ledger.Ledger) error {
		avail, err := led.Available(ptsAcct(program, member, ""), at)
		if err != nil {
			return err
		}
		s, err = points.SplitOrder(prog, order, avail, decimal.Zero)
		return err
	})
	if err != nil {
		return s, fmt.Errorf("membership: points split: %w", err)
	}
	return s, nil
}

// encode appends c's JSON (for Unit.EmitWith), by reflection for the
// rare kinds appendJSON leaves to it.
func (c *PointsChange) encode(b []byte) ([]byte, error) {
	if out, ok := c.AppendJSON(b); ok {
		return out, nil
	}
	raw, err := json.Marshal(*c) // a copy: c itself stays where it is
	return append(b, raw...), err
}

func (c PointsChange) AppendJSON(b []byte) ([]byte, bool) {
	if c.Lots != nil || c.Split != nil || c.Adjustment != nil {
		return nil, false // the rare kinds: reflection
	}
	o := engine.JSONObject{B: append(b, '{')}
	o.Str("program", c.Program, false)
	o.Dec("amount", c.Amount, false)
	o.Str("lot", c.Lot, true)
	o.Time("expires", c.Expires, true)
	o.Str("ref", c.Ref, true)
	o.Str("date", c.Date, true)
	o.Dec("wanted", c.Wanted, true)
	o.Dec("shortfall", c.Shortfall, true)
	o.Str("to", c.To, true)
	o.Dec("to_amount", c.ToAmount, true)
	o.Str("operator", c.Operator, true)
	return append(o.B, '}'), true
}
