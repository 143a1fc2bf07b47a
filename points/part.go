package points

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Buckets of the points part.
const (
	bCaps   = "points.caps"        // member, rule, period → used
	bDay    = "points.day"         // program, member, date → Day
	bReview = "points.review"      // program, date, member → Review
	bOpen   = "points.review.open" // program, date, member → ""
	bAdjust = "points.adjust"      // id → Adjustment
	bRedeem = "points.redeem"      // program, ref → Redemption
	bOrder  = "points.order"       // order → Order
	bExpiry = "points.expiry"      // program, month → amount held expiring then
	// bRelease holds each pending lot's release time until it is
	// released, so that Lots can say when (the due index is keyed by
	// time, not by lot).
	bRelease = "points.release" // program, member, lot → time
	// bShort names, for a lot whose grant a refund left short, the
	// order, so that a redemption's reversal finds the shortfalls to
	// settle (see settle): the lot's own, by key, for points returned to
	// the lot, and the member's others, by a scan of the member's
	// records, for points returned spendable to any lot. It is written by
	// refunds only: the earn path writes nothing more.
	bShort = "points.short" // program, member, lot → order ID
	// bCharged names, for a lot whose grant's spent share a refund took
	// from the member's other points (Grant.Charged), the order, so that
	// a redemption's reversal returning points to the lot finds the
	// charge to give back (see settle). It is written by refunds only.
	bCharged = "points.charged" // program, member, lot → order ID
)

// Due kinds of the points part.
const (
	dueExpire  = "points.expire"
	dueRelease = "points.release"
)

// duePayload is the payload of a pending lot's release (and of a one-lot
// expiry item, as stores written before expiries were grouped hold).
type duePayload struct {
	Program string `json:"program"`
	Member  string `json:"member"`
	Lot     string `json:"lot"`
	Date    string `json:"date,omitempty"`
}

// AppendJSON writes d as json.Marshal would: one is scheduled per
// pending grant.
func (d duePayload) AppendJSON(b []byte) ([]byte, bool) {
	o := engine.JSONObject{B: append(b, '{')}
	o.Str("program", d.Program, false)
	o.Str("member", d.Member, false)
	o.Str("lot", d.Lot, false)
	o.Str("date", d.Date, true)
	return append(o.B, '}'), true
}

// dueID makes a due item ID unique for (program, member, lot) whatever
// the characters of the parts.
func dueID(program, member, lot string) string {
	var buf [96]byte
	return string(appendDueID(buf[:0], program, member, lot))
}

func appendDueID(b []byte, program, member, lot string) []byte {
	b = append(append(append(strconv.AppendInt(b, int64(len(program)), 10), '.'), program...), '.')
	b = append(append(append(strconv.AppendInt(b, int64(len(member)), 10), '.'), member...), '.')
	return append(b, lot...)
}

// parseDueID is the inverse of dueID. A grouped expiry item carries
// no payload (its ID says everything), so Advance reads the ID instead.
func parseDueID(id string) (d duePayload, ok bool) {
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

// part is the points part: it earns, holds, releases, expires and takes
// back points for the events and due items the engine hands it, and
// grants points rewards for the other parts.
type part struct {
	def   Definition
	loc   *time.Location
	progs map[string]Program
	// rules holds the earning rules by event type, each with its
	// program and the text of its formula, made once.
	rules   map[string][]earner
	refunds map[string][]Refund
	// assets holds each program's ledger asset, so that a grant does not
	// build the string again.
	assets map[string]ledger.Asset
}

// earner is an earning rule ready to run.
type earner struct {
	Rule
	prog    Program
	known   bool // prog is defined (a definition that passed Check)
	formula string
}

func newPart(def Definition, loc *time.Location) *part {
	pt := &part{def: def, loc: loc, progs: map[string]Program{}, rules: map[string][]earner{}, refunds: map[string][]Refund{}, assets: map[string]ledger.Asset{}}
	for _, pr := range def.Programs {
		pt.progs[pr.Name] = pr
		pt.assets[pr.Name] = ledger.Points(pr.Name)
	}
	for _, r := range def.Rules {
		prog, ok := pt.progs[r.Program]
		pt.rules[r.Event] = append(pt.rules[r.Event], earner{Rule: r, prog: prog, known: ok, formula: r.Formula.String()})
	}
	for _, r := range def.Refunds {
		pt.refunds[r.Event] = append(pt.refunds[r.Event], r)
	}
	return pt
}

// DueKinds lists the due items the part performs: lot expiries and
// pending releases.
func (pt *part) DueKinds() []string { return []string{dueExpire, dueRelease} }

// MemberBuckets implements engine.MemberKeyed.
func (pt *part) MemberBuckets() []string { return []string{bCaps} }

// MemberRecords implements engine.Recorder: the member's cap counters,
// and per program the risk control's days and the pending lots' release
// times. (A review, keyed by date first, comes with frozen points, in a
// ledger account.)
func (pt *part) MemberRecords(dst []store.Read, member string) []store.Read {
	dst = append(dst, engine.MemberRange(bCaps, member))
	for _, pr := range pt.def.Programs {
		p := keys.New().Str(pr.Name).Str(member)
		end := store.PrefixEnd(p)
		dst = append(dst, store.Read{Bucket: bDay, Start: p, End: end}, store.Read{Bucket: bRelease, Start: p, End: end})
	}
	return dst
}

// RewardKinds says the part grants points rewards for the other parts.
func (pt *part) RewardKinds() []rule.RewardKind { return []rule.RewardKind{rule.RewardPoints} }

func (pt *part) program(name string) (Program, error) {
	pr, ok := pt.progs[name]
	if !ok {
		return pr, fmt.Errorf("%w %q", ErrUnknownProgram, name)
	}
	return pr, nil
}

func acct(program, member, sub string) ledger.Account {
	return ledger.MemberAccount(member, ledger.Points(program), sub)
}

func pool(program string, kind ledger.Kind) ledger.Account {
	return ledger.Pool(ledger.Points(program), string(kind))
}

// post posts a points transaction and keeps what depends on lots current:
// the monthly expiry totals, the expiry of each lot credited (scheduled in
// the due index), and the immediate expiry of a lot credited after its
// expiry (a reversal or restore of an expired lot's points).
func (pt *part) post(u *engine.Unit, lt ledger.Transaction) (ledger.Posted, error) {
	posted, err := u.Post(lt)
	if err != nil {
		return posted, err
	}
	return pt.posted(u, posted)
}

// posted does what a points posting needs after the ledger: the due items
// and expiry totals of its lots, the expiry of lots already past.
func (pt *part) posted(u *engine.Unit, posted ledger.Posted) (ledger.Posted, error) {
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
		if err := pt.addExpiring(u, prog, e.Account.Member, l.Expires, e.Amount); err != nil {
			return posted, err
		}
		if !l.Expires.After(u.At()) {
			late = append(late, e)
			continue
		}
		// One due item per member and expiry instant, whatever the number
		// of lots: the lots a validity grants in a month (or a day) share
		// their expiry, so a busy member's grants rewrite one item.
		var idb [96]byte
		if err := u.Ensure(l.Expires, dueExpire, appendDueID(idb[:0], prog, e.Account.Member, "")); err != nil {
			return posted, err
		}
	}
	for _, tk := range posted.Takes {
		if tk.Expires.IsZero() {
			continue
		}
		prog, _ := tk.Account.Asset.PointsProgram()
		if err := pt.addExpiring(u, prog, tk.Account.Member, tk.Expires, tk.Amount.Neg()); err != nil {
			return posted, err
		}
	}
	for _, e := range late {
		prog, _ := e.Account.Asset.PointsProgram()
		if err := pt.expire(u, prog, e.Account, e.Lot, e.Amount); err != nil {
			return posted, err
		}
	}
	return posted, nil
}

// addExpiring adds amount to the program's total expiring in the month of
// the last valid day before expires.
func (pt *part) addExpiring(u *engine.Unit, program, member string, expires time.Time, amount decimal.Decimal) error {
	k := keys.New().Str(program)
	k = append(expires.Add(-time.Nanosecond).In(pt.loc).AppendFormat(k, "2006-01"), keys.Sep)
	return u.AddTotal(bExpiry, k, member, amount)
}

// expire debits amount of an expired lot and emits points.expired.
func (pt *part) expire(u *engine.Unit, program string, a ledger.Account, lot string, amount decimal.Decimal) error {
	posted, err := pt.post(u, ledger.Transaction{Kind: KindExpired, Legs: []ledger.Leg{
		{Account: a, Amount: amount.Neg(), Lot: lot},
		{Account: pool(program, KindExpired), Amount: amount},
	}})
	if err != nil {
		return err
	}
	var exp time.Time
	if len(posted.Takes) > 0 {
		exp = posted.Takes[0].Expires
	}
	return u.Emit(ChangeExpired, a.Member, Change{Program: program, Amount: amount, Lot: lot, Expires: exp},
		&rule.Reason{Rule: "points.expiry", Note: "lot " + lot + " expired"})
}

// lotOf returns a lot of an account, or a zero lot when the account
// never held it (a spent lot comes back from the ledger with amount zero).
func lotOf(led *ledger.Ledger, a ledger.Account, id string) (ledger.Lot, error) {
	lot, err := led.Lot(a, id)
	if errors.Is(err, ledger.ErrUnknownLot) {
		return ledger.Lot{ID: id, Account: a}, nil
	}
	return lot, err
}

// grant credits a new lot of amount to the member's sub-account.
func (pt *part) grant(u *engine.Unit, program, member, sub string, kind ledger.Kind, amount decimal.Decimal, expires time.Time) (ledger.Lot, error) {
	asset, ok := pt.assets[program]
	if !ok {
		asset = ledger.Points(program)
	}
	posted, err := u.Transfer(kind,
		ledger.Leg{Account: ledger.MemberAccount(member, asset, sub), Amount: amount, Expires: expires},
		ledger.Leg{Account: ledger.Pool(asset, string(kind)), Amount: codec.Neg(amount)})
	if err == nil {
		posted, err = pt.posted(u, posted)
	}
	if err != nil {
		return ledger.Lot{}, err
	}
	return posted.Lots[0], nil
}

// Process applies the refund rules, then the earning rules, to ev. The
// level an earning rule checks is the member's level when the points part
// runs: the level part runs first, so an upgrade caused by this same event
// counts.
func (pt *part) Process(u *engine.Unit, ev event.Event) error {
	for _, rf := range pt.refunds[ev.Type] {
		if err := pt.refund(u, ev, rf); err != nil {
			return err
		}
	}
	rules := pt.rules[ev.Type]
	level, levelRead := "", false
	for i := range rules {
		r := &rules[i]
		if len(r.Levels) > 0 && !levelRead {
			var err error
			if level, err = u.MemberLevel(ev.Member); err != nil {
				return err
			}
			levelRead = true
		}
		if r.Applies(ev, level) != "" {
			continue
		}
		if err := pt.earn(u, ev, r); err != nil {
			return fmt.Errorf("points: rule %s: %w", r.ID, err)
		}
	}
	return nil
}

// earn grants what rule r earns for ev: its formula's amount (Rule.Earn),
// cut by its caps, then by the program's risk control, as a lot of the
// rule's validity, spendable or pending. A rule whose formula's base the
// event lacks (an optional attribute) is published as skipped.
func (pt *part) earn(u *engine.Unit, ev event.Event, r *earner) error {
	if !r.known {
		return fmt.Errorf("%w %q", ErrUnknownProgram, r.Program)
	}
	prog := &r.prog
	earning, err := r.Earn(r.prog, ev)
	if err != nil {
		if attr, absent := r.Formula.Absent(ev); absent {
			return u.SkipRule(ev.Member, "points", r.ID, r.formula, attr)
		}
		return err
	}
	amt := earning.Amount
	if amt.IsZero() {
		return nil
	}
	// The reason is the engine's formula reason: the formula's text is
	// made once, and the base's text is shared with the other rules of
	// the event (growth's) that read the same attribute.
	why := u.FormulaReason(r.ID, r.Formula, r.formula, earning.Base, earning.Raw)
	loc := pt.loc
	scope := "" // the caps' counters' scope; nothing reads it without caps
	if len(r.Caps) > 0 {
		scope = ev.Member + "\x00" + r.ID
	}
	granted, cut, err := rule.Use(u.Tx(), bCaps, scope, r.Caps, ev.Time, loc, amt)
	if err != nil {
		return err
	}
	why.Cut = cut
	if granted.IsZero() {
		return u.Emit(ChangeEarned, ev.Member, Change{Program: r.Program, Amount: decimal.Zero}, &why)
	}
	date := ""
	if prog.Risk != nil || r.PendingDays > 0 {
		date = ev.Time.In(loc).Format(time.DateOnly)
	}
	// The day record exists for risk control: without it nothing reads it.
	var dayKey []byte
	var day Day
	if prog.Risk != nil {
		dayKey = keys.New().Str(r.Program).Str(ev.Member).Str(date)
		var err error
		if day, err = loadDay(u.Tx(), dayKey); err != nil {
			return err
		}
	}
	dec := prog.Risk.Decide(day.Earned, granted, day.Frozen)
	if dec.Blocked.IsPositive() {
		if err := rule.Release(u.Tx(), bCaps, scope, r.Caps, ev.Time, loc, dec.Blocked); err != nil {
			return err
		}
		day.Blocked = day.Blocked.Add(dec.Blocked)
		bwhy := why
		bwhy.Note = fmt.Sprintf("risk control: daily threshold %s reached (earned %s today)", prog.Risk.Daily, day.Earned)
		if err := u.Emit(ChangeBlocked, ev.Member, Change{Program: r.Program, Amount: dec.Blocked, Wanted: granted, Date: date}, &bwhy); err != nil {
			return err
		}
	}
	if dec.Allowed.IsPositive() {
		if prog.Risk != nil {
			day.Earned = day.Earned.Add(dec.Allowed)
		}
		expires := Expiry(r.Validity, ev.Time, loc)
		sub, change := "", ChangeEarned
		if r.PendingDays > 0 {
			sub, change = SubPending, ChangePending
		}
		lot, err := pt.grant(u, r.Program, ev.Member, sub, KindEarned, dec.Allowed, expires)
		if err != nil {
			return err
		}
		if r.PendingDays > 0 {
			// The same wall clock that many days later (the end of the gap
			// where a daylight-saving change skips it: rule.Date.At).
			w := ev.Time.In(loc)
			at := rule.DateOf(w, loc).AddDays(r.PendingDays).At(w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
			if err := scheduleRelease(u, at, duePayload{Program: r.Program, Member: ev.Member, Lot: lot.ID, Date: date}); err != nil {
				return err
			}
		}
		if prog.Risk != nil && prog.Risk.Policy == Freeze {
			// Only the freeze policy needs the day's lots (to freeze them
			// all, and to void those still pending with the day); keeping
			// them otherwise would grow the record with every grant of a
			// busy day.
			day.Lots = append(day.Lots, lot.ID)
		}
		pc := Change{Program: r.Program, Amount: dec.Allowed, Lot: lot.ID, Expires: lot.Expires}
		if err := u.EmitWith(change, ev.Member, &why, pc.encode); err != nil {
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
			if err := pt.freeze(u, *prog, ev.Member, date, day.Earned, freeze); err != nil {
				return err
			}
		}
		if err := pt.recordOrder(u, ev, &r.Rule, lot.ID, dec.Allowed); err != nil {
			return err
		}
	}
	if prog.Risk == nil {
		return nil
	}
	return put(u.Tx(), bDay, dayKey, day)
}

// loadDay reads a member's day record for risk control (apart, so
// that an event of a program without risk control allocates no record).
func loadDay(tx store.Tx, key []byte) (Day, error) {
	var day Day
	_, err := get(tx, bDay, key, &day)
	return day, err
}

// freeze moves the unspent remainder of lots from the member's main
// account to the frozen one and records them in the day's review, which
// it opens (or reopens after a decision).
func (pt *part) freeze(u *engine.Unit, prog Program, member, date string, earned decimal.Decimal, lotIDs []string) error {
	rk := keys.New().Str(prog.Name).Str(date).Str(member)
	var rv Review
	if found, err := getReview(u.Tx(), rk, &rv); err != nil {
		return err
	} else if !found {
		rv = Review{Program: prog.Name, Member: member, Date: date, State: ReviewPending}
	}
	if rv.State != ReviewPending {
		rv.State, rv.Lots, rv.Round, rv.Operator, rv.Decided = ReviewPending, nil, rv.Round+1, "", time.Time{}
	}
	rv.Earned = earned
	rv.took(u.At())
	moved, err := pt.move(u, prog.Name, member, "", SubFrozen, KindFrozen, lotIDs)
	if err != nil {
		return err
	}
	rv.Lots = append(rv.Lots, moved...)
	if err := put(u.Tx(), bReview, rk, rv); err != nil {
		return err
	}
	if err := u.Tx().Put(bOpen, rk, []byte{}); err != nil {
		return err
	}
	total := decimal.Zero
	for _, m := range moved {
		total = total.Add(m.Amount)
	}
	return u.Emit(ChangeFrozen, member, Change{Program: prog.Name, Amount: total, Lots: moved, Date: date},
		&rule.Reason{Rule: "points.risk", Note: fmt.Sprintf("risk control: earned %s on %s, daily threshold %s", earned, date, prog.Risk.Daily)})
}

// move moves the remainder of each lot from one of the member's accounts
// to another, keeping the lot's ID, expiry and grant time. Lots with
// nothing left are skipped.
func (pt *part) move(u *engine.Unit, program, member, from, to string, kind ledger.Kind, lotIDs []string) ([]LotAmount, error) {
	src, dst := acct(program, member, from), acct(program, member, to)
	var legs []ledger.Leg
	var moved []LotAmount
	for _, id := range lotIDs {
		lot, err := lotOf(u.Ledger(), src, id)
		if err != nil {
			return nil, err
		}
		if !lot.Amount.IsPositive() {
			continue
		}
		legs = append(legs,
			ledger.Leg{Account: src, Amount: lot.Amount.Neg(), Lot: id},
			ledger.Leg{Account: dst, Amount: lot.Amount, Lot: id, Expires: lot.Expires, Granted: lot.Granted})
		moved = append(moved, LotAmount{Lot: id, Amount: lot.Amount, Expires: lot.Expires, Granted: lot.Granted})
	}
	if len(legs) == 0 {
		return nil, nil
	}
	_, err := pt.post(u, ledger.Transaction{Kind: kind, Legs: legs})
	return moved, err
}

// recordOrder remembers a grant of an order, for the return policy.
func (pt *part) recordOrder(u *engine.Unit, ev event.Event, r *Rule, lot string, amount decimal.Decimal) error {
	if r.Order == "" {
		return nil
	}
	id, ok := ev.String(r.Order)
	if !ok || id == "" {
		return nil
	}
	k := []byte(id)
	ord := Order{ID: id, Member: ev.Member}
	if _, err := get(u.Tx(), bOrder, k, &ord); err != nil {
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
	ord.Grants = append(ord.Grants, Grant{Program: r.Program, Rule: r.ID, Lot: lot, Amount: amount, Time: ev.Time})
	return put(u.Tx(), bOrder, k, ord)
}

// refund reverses an order's points in proportion to what was refunded in
// all (see Reversal). Of each grant's share (see reversalParts), what its
// lot still holds (pending, spendable or frozen) is taken from the lot;
// what was spent is taken from the member's other spendable points, down
// to zero, the rest being the shortfall, recorded on the order and in the
// change; what had lapsed (expired or been voided) is not taken again, and
// is recorded as lapsed.
func (pt *part) refund(u *engine.Unit, ev event.Event, rf Refund) error {
	id, ok := ev.String(rf.Order)
	if !ok || id == "" {
		return nil
	}
	refunded, ok := ev.Decimal(rf.Amount)
	if !ok || !refunded.IsPositive() {
		return nil
	}
	k := []byte(id)
	var ord Order
	if found, err := get(u.Tx(), bOrder, k, &ord); err != nil || !found || ord.Member != ev.Member {
		return err
	}
	// A refund past the order's amount is the host's mistake (a refund
	// sent twice under two IDs, a typo): refused, it can be corrected,
	// where accepted it would reverse nothing and hide it. An order of
	// unknown amount (0) reverses everything at its first refund.
	if total := ord.Refunded.Add(refunded); ord.Amount.IsPositive() && total.GreaterThan(ord.Amount) {
		return fmt.Errorf("points: refund of order %q: %w: %s refunded now and %s before, of %s",
			id, event.ErrRefundExceedsOrder, refunded, ord.Refunded, ord.Amount)
	}
	ord.Refunded = ord.Refunded.Add(refunded)
	for i := range ord.Grants {
		g := &ord.Grants[i]
		prog, err := pt.program(g.Program)
		if err != nil {
			return err
		}
		// What all refunds so far reverse, rounded once; this refund
		// reverses what the earlier ones did not.
		target := Reversal(g.Amount, ord.Refunded, ord.Amount, prog)
		delta := target.Sub(g.Reversed)
		if !delta.IsPositive() {
			continue
		}
		main := acct(g.Program, ev.Member, "")
		// The lot as each of the member's accounts holds it: what is
		// still live is held; what is past its expiry has lapsed, though
		// Advance may not have expired it yet (it will), so the refund
		// comes to the same whether Advance ran first or not.
		var held [len(Subs)]ledger.Lot
		heldAll, lapsed := decimal.Zero, decimal.Zero
		for j, sub := range Subs {
			if held[j], err = lotOf(u.Ledger(), acct(g.Program, ev.Member, sub), g.Lot); err != nil {
				return err
			}
			if live(held[j], u.At()) {
				heldAll = heldAll.Add(held[j].Amount)
			} else {
				lapsed = lapsed.Add(held[j].Amount)
			}
		}
		// What of the lot expired or was voided matters only when the lot
		// does not hold the whole share: the common refund reads no
		// statement.
		if delta.GreaterThan(heldAll) {
			x, err := lapsedOf(u.Ledger(), held, g.Time)
			if err != nil {
				return err
			}
			lapsed = lapsed.Add(x)
		}
		fromLot, spent, gone := reversalParts(delta, g.Amount, heldAll, lapsed, g.Reversed, g.Lapsed)
		g.Reversed = target
		g.Lapsed = g.Lapsed.Add(gone)
		ord.Lapsed = ord.Lapsed.Add(gone)
		var legs []ledger.Leg
		var lots []LotAmount
		left, fromMainLot := fromLot, decimal.Zero
		for j, sub := range Subs {
			lot := held[j]
			if !live(lot, u.At()) {
				continue
			}
			x := decimal.Min(lot.Amount, left)
			if !x.IsPositive() {
				continue
			}
			legs = append(legs, ledger.Leg{Account: lot.Account, Amount: x.Neg(), Lot: g.Lot})
			lots = append(lots, LotAmount{Lot: g.Lot, Amount: x, Expires: lot.Expires})
			left = left.Sub(x)
			if sub == "" {
				fromMainLot = fromMainLot.Add(x)
			}
		}
		short, charged := spent, false
		if short.IsPositive() {
			avail, err := u.Ledger().Available(main, u.At())
			if err != nil {
				return err
			}
			x := decimal.Min(short, decimal.Max(avail.Sub(fromMainLot), decimal.Zero))
			if x.IsPositive() {
				legs = append(legs, ledger.Leg{Account: main, Amount: x.Neg()})
				short, charged = short.Sub(x), true
			}
		}
		taken := delta.Sub(short).Sub(gone)
		ord.Shortfall = ord.Shortfall.Add(short)
		if short.IsPositive() {
			g.Shortfall = g.Shortfall.Add(short)
			if err := u.Tx().Put(bShort, lotKey(g.Program, ev.Member, g.Lot), k); err != nil {
				return err
			}
		}
		if taken.IsPositive() {
			legs = append(legs, ledger.Leg{Account: pool(g.Program, KindReversed), Amount: taken})
			posted, err := pt.post(u, ledger.Transaction{Kind: KindReversed, Ref: ledger.Ref{Event: ev.ID, Order: id}, Legs: legs})
			if err != nil {
				return err
			}
			if charged {
				// The lots the spent share was charged to: the order's own
				// lot was emptied before (fromLot), so the other takes of
				// the main account are the charge's.
				for _, tk := range posted.Takes {
					if tk.Account == main && tk.Lot != g.Lot {
						g.Charged = append(g.Charged, LotAmount{Lot: tk.Lot, Amount: tk.Amount, Expires: tk.Expires, Granted: tk.Granted})
					}
				}
				if err := u.Tx().Put(bCharged, lotKey(g.Program, ev.Member, g.Lot), k); err != nil {
					return err
				}
			}
		}
		if r, ok := pt.def.Rule(g.Rule); ok {
			if err := rule.Release(u.Tx(), bCaps, ev.Member+"\x00"+r.ID, r.Caps, g.Time, pt.loc, delta); err != nil {
				return err
			}
		}
		note := fmt.Sprintf("refund of order %s: %s of %s points reversed", id, delta, g.Amount)
		if gone.IsPositive() {
			note += fmt.Sprintf(" (%s had expired or been voided: not taken again)", gone)
		}
		why := &rule.Reason{Rule: g.Rule, Inputs: map[string]string{rf.Amount: refunded.String(), "refunded": ord.Refunded.String(), "order_amount": ord.Amount.String()},
			Note: note}
		if err := u.Emit(ChangeReversed, ev.Member, Change{Program: g.Program, Amount: taken.Neg(), Lots: lots, Ref: id, Shortfall: short, Lapsed: gone}, why); err != nil {
			return err
		}
	}
	return put(u.Tx(), bOrder, k, ord)
}

// live reports whether a lot has not expired by at (as the ledger counts
// what may be spent).
func live(lot ledger.Lot, at time.Time) bool { return lot.Expires.IsZero() || lot.Expires.After(at) }

// lapsedOf returns what of a lot has expired or been voided, from the
// statements of the member's accounts that held it (held, one per Subs,
// as lotOf reads them; granted is the lot's grant time). An expiry is
// posted at the lot's expiry or later (a return to an expired lot expires
// again at once), so the spendable account is read from the lot's expiry
// on, and not at all for a lot that never expires; only frozen and pending
// lots are voided (a voided day's), so those accounts are read from the
// grant on.
// It reads every entry of those accounts since then, so only a refund
// whose share the lot no longer holds in full calls it.
func lapsedOf(led *ledger.Ledger, held [len(Subs)]ledger.Lot, granted time.Time) (decimal.Decimal, error) {
	total := decimal.Zero
	for j, sub := range Subs {
		lot := held[j]
		if lot.Original.IsZero() && lot.Granted.IsZero() {
			continue // the account never held the lot
		}
		q := ledger.Query{Account: lot.Account, From: lot.Expires, Kinds: []ledger.Kind{KindExpired}, Limit: 1000}
		if sub != "" {
			q.From, q.Kinds = granted, []ledger.Kind{KindExpired, KindVoided}
		} else if lot.Expires.IsZero() {
			continue
		}
		err := eachEntry(led, q, func(e ledger.Entry) error {
			if e.Lot == lot.ID && e.Amount.IsNegative() {
				total = total.Sub(e.Amount)
			}
			return nil
		})
		if err != nil {
			return decimal.Zero, err
		}
	}
	return total, nil
}

// Due performs lot expiries and pending releases at their due time.
func (pt *part) Due(u *engine.Unit, it engine.Item) error {
	var d duePayload
	if len(it.Payload) == 0 {
		var ok bool
		if d, ok = parseDueID(it.ID); !ok {
			return fmt.Errorf("%w: points: malformed due item id %q", engine.ErrCorrupt, it.ID)
		}
	} else if err := it.Decode(&d); err != nil {
		return err
	}
	switch it.Kind {
	case dueExpire:
		if d.Lot == "" {
			return pt.expireAt(u, d.Program, d.Member, it.At)
		}
		// An item of one lot (as stores written before expiries were
		// grouped hold). The lot may have moved between the member's
		// accounts (pending, main, frozen): its remainder expires wherever
		// it is.
		for _, sub := range Subs {
			a := acct(d.Program, d.Member, sub)
			lot, err := lotOf(u.Ledger(), a, d.Lot)
			if err != nil {
				return err
			}
			if lot.Amount.IsPositive() && !lot.Expires.IsZero() && !lot.Expires.After(u.At()) {
				if err := pt.expire(u, d.Program, a, d.Lot, lot.Amount); err != nil {
					return err
				}
			}
		}
		return nil
	case dueRelease:
		return pt.release(u, d)
	}
	return nil
}

// expireAt expires what remains of the member's lots that expire at at,
// in each of the member's accounts (a lot keeps its expiry when it moves
// between them), in spending order.
func (pt *part) expireAt(u *engine.Unit, program, member string, at time.Time) error {
	for _, sub := range Subs {
		a := acct(program, member, sub)
		lots, err := u.Ledger().LotsExpiring(a, at)
		if err != nil {
			return err
		}
		for _, lot := range lots {
			if lot.Amount.IsPositive() {
				if err := pt.expire(u, program, a, lot.ID, lot.Amount); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// scheduleRelease schedules a pending lot's release at at and records
// the time for Lots.
func scheduleRelease(u *engine.Unit, at time.Time, d duePayload) error {
	if err := u.Schedule(at, dueRelease, dueID(d.Program, d.Member, d.Lot), d); err != nil {
		return err
	}
	// Eight bytes, not a JSON record: it is written with every pending
	// grant (BenchmarkEarnPending).
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], keys.TimeU64(at))
	return u.Tx().Put(bRelease, lotKey(d.Program, d.Member, d.Lot), v[:])
}

// releaseAt decodes a release record. An instant out of the range a
// record holds (keys.InRange) was never written: it is damage, not read
// as some time before 1678 or after 2261.
func releaseAt(v []byte) (time.Time, error) {
	if len(v) != 8 {
		return time.Time{}, fmt.Errorf("%w: a release time of %d bytes", ledger.ErrCorrupt, len(v))
	}
	at := keys.U64Time(binary.BigEndian.Uint64(v))
	if !at.IsZero() && !keys.InRange(at) {
		return time.Time{}, fmt.Errorf("%w: a release time %x out of range", ledger.ErrCorrupt, v)
	}
	return at, nil
}

// lotKey is the key of a record of one member's lot (bRelease, bShort,
// bCharged).
func lotKey(program, member, lot string) []byte {
	return keys.New().Str(program).Str(member).Str(lot)
}

// release makes a pending lot spendable, or frozen when its day is frozen
// and its review still open.
func (pt *part) release(u *engine.Unit, d duePayload) error {
	if err := u.Tx().Delete(bRelease, lotKey(d.Program, d.Member, d.Lot)); err != nil {
		return err
	}
	to, kind := "", KindReleased
	rk := keys.New().Str(d.Program).Str(d.Date).Str(d.Member)
	var rv Review
	found, err := getReview(u.Tx(), rk, &rv)
	if err != nil {
		return err
	}
	if found && rv.State == ReviewPending {
		to = SubFrozen
	}
	moved, err := pt.move(u, d.Program, d.Member, SubPending, to, kind, []string{d.Lot})
	if err != nil || len(moved) == 0 {
		return err
	}
	if to == SubFrozen {
		rv.Lots = append(rv.Lots, moved...)
		rv.took(u.At())
		if err := put(u.Tx(), bReview, rk, rv); err != nil {
			return err
		}
	}
	note := "pending points released"
	if to != "" {
		note = "pending points released into frozen: their day awaits review"
	}
	return u.Emit(ChangeReleased, d.Member, Change{Program: d.Program, Amount: moved[0].Amount, Lot: d.Lot, Expires: moved[0].Expires, Date: d.Date},
		&rule.Reason{Rule: "points.pending", Note: note})
}

// Reward grants a points reward (level gift, task reward) as an earned
// lot of the program's validity; risk control does not apply.
func (pt *part) Reward(u *engine.Unit, member string, r rule.Reward, _ rule.Source, why rule.Reason) error {
	prog, err := pt.program(r.Program)
	if err != nil {
		return err
	}
	amt := prog.Rounding.Round(r.Amount)
	if !amt.IsPositive() {
		return nil
	}
	lot, err := pt.grant(u, prog.Name, member, "", KindEarned, amt, Expiry(prog.Validity, u.At(), pt.loc))
	if err != nil {
		return err
	}
	return u.Emit(ChangeEarned, member, Change{Program: prog.Name, Amount: amt, Lot: lot.ID, Expires: lot.Expires}, &why)
}
