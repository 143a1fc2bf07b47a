package points

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// The operator calls' work inside their unit (see handle.go for the
// calls).

func (pt *part) redeem(u *engine.Unit, req RedeemRequest) error {
	prog, err := pt.program(req.Program)
	if err != nil {
		return err
	}
	rk := keys.New().Str(req.Program).Str(req.Ref)
	var rd Redemption
	if found, err := record.Get(u.Tx(), bRedeem, rk, &rd); err != nil {
		return err
	} else if found {
		return fmt.Errorf("%w: %s", ErrRedemptionExists, req.Ref)
	}
	main := acct(req.Program, req.Member, "")
	amount := req.Amount
	var split *Split
	if !req.Order.IsZero() {
		avail, err := u.Ledger().Available(main, u.At())
		if err != nil {
			return err
		}
		s, err := splitOrder(prog, req.Order, avail, req.Amount)
		if err != nil {
			return err
		}
		if s.Points.IsZero() {
			return noPointsPaid(prog, req.Order, req.Amount, avail)
		}
		split, amount = &s, s.Points
	}
	if err := prog.CheckAmount(amount); err != nil {
		return err
	}
	posted, err := pt.post(u, ledger.Transaction{Kind: KindRedeemed, Legs: []ledger.Leg{
		{Account: main, Amount: amount.Neg()},
		{Account: pool(req.Program, KindRedeemed), Amount: amount},
	}})
	if err != nil {
		return err
	}
	rd = Redemption{Program: req.Program, Member: req.Member, Ref: req.Ref, Amount: amount, Split: split, Time: u.At(), Reversed: decimal.Zero}
	for _, tk := range posted.Takes {
		rd.Takes = append(rd.Takes, LotAmount{Lot: tk.Lot, Amount: tk.Amount, Expires: tk.Expires, Granted: tk.Granted})
		rd.Returned = append(rd.Returned, decimal.Zero)
	}
	if err := record.Put(u.Tx(), bRedeem, rk, rd); err != nil {
		return err
	}
	return u.Emit(ChangeRedeemed, req.Member, Change{Program: req.Program, Amount: amount, Ref: req.Ref, Split: split, Lots: rd.Takes, Operator: req.Operator},
		&rule.Reason{Rule: "points.redeem", Note: withNote("redeemed against "+req.Ref, req.Note)})
}

// noPointsPaid is the error of a points + cash redemption whose split
// (SplitOrder) spends no points. It is the request's (ErrInvalidAmount)
// when the order's share payable in points, or the points limit, is worth
// less than the money scale's unit whatever the member holds; else the
// member's spendable points are too few to pay any of it
// (ledger.ErrInsufficientBalance), a state of theirs, not a bad amount.
func noPointsPaid(p Program, order, limit, avail decimal.Decimal) error {
	pay, ms := p.Payment, p.Payment.MoneyPlaces()
	if order.Mul(pay.MaxShare).RoundDown(ms).IsZero() {
		return fmt.Errorf("%w: order amount %s: its share of %s payable in points is below the money scale", ErrInvalidAmount, order, pay.MaxShare)
	}
	if limit.IsPositive() && limit.Truncate(p.Scale()).Mul(pay.Rate).RoundDown(ms).IsZero() {
		return fmt.Errorf("%w: points limit %s pays nothing at the money scale", ErrInvalidAmount, limit)
	}
	return fmt.Errorf("%w: %s points available pay nothing of order amount %s", ledger.ErrInsufficientBalance, avail, order)
}

// withNote appends an operator's note to a reason's note.
func withNote(s, note string) string {
	if note == "" {
		return s
	}
	return s + ": " + note
}

func (pt *part) reverse(u *engine.Unit, req ReverseRequest) error {
	prog, err := pt.program(req.Program)
	if err != nil {
		return err
	}
	rk := keys.New().Str(req.Program).Str(req.Ref)
	var rd Redemption
	if found, err := record.Get(u.Tx(), bRedeem, rk, &rd); err != nil {
		return err
	} else if !found {
		return fmt.Errorf("%w: %s", ErrUnknownRedemption, req.Ref)
	}
	u.Outcome().Member = rd.Member
	if u.At().Before(rd.Time) {
		// A reversal cannot precede what it reverses.
		return argument("at", fmt.Errorf("%s is before the redemption's time %s", u.At().Format(time.RFC3339), rd.Time.In(u.Location()).Format(time.RFC3339)))
	}
	amount := req.Amount
	if amount.IsZero() {
		amount = rd.Remaining()
		if !amount.IsPositive() {
			// The redemption's state, not a bad amount: all of it is back.
			return fmt.Errorf("%w: nothing remains of %s (%s reversed)", ErrOverReversal, req.Ref, rd.Reversed)
		}
	}
	if err := prog.CheckAmount(amount); err != nil {
		return err
	}
	if amount.GreaterThan(rd.Remaining()) {
		return fmt.Errorf("%w: %s asked, %s remains", ErrOverReversal, amount, rd.Remaining())
	}
	main, frozenAcct := acct(req.Program, rd.Member, ""), acct(req.Program, rd.Member, SubFrozen)
	frozen := frozenDays{pt: pt, u: u, prog: prog, member: rd.Member}
	var legs []ledger.Leg
	var lots []LotAmount
	var rets []returned
	var held, voided bool
	left := amount
	for i := len(rd.Takes) - 1; i >= 0 && left.IsPositive(); i-- {
		tk := rd.Takes[i]
		x := decimal.Min(tk.Amount.Sub(rd.Returned[i]), left)
		if !x.IsPositive() {
			continue
		}
		rd.Returned[i] = rd.Returned[i].Add(x)
		left = left.Sub(x)
		la := LotAmount{Lot: tk.Lot, Amount: x, Expires: tk.Expires, Granted: tk.Granted}
		day, err := frozen.state(la)
		if err != nil {
			return err
		}
		to := main
		switch day {
		case dayHeld:
			to, held = frozenAcct, true
		case dayVoided:
			// Into frozen, whence the day's points were voided: a refund
			// reads a lot's voided points there (lapsedOf).
			to, voided = frozenAcct, true
		}
		legs = append(legs, ledger.Leg{Account: to, Amount: x, Lot: tk.Lot, Expires: tk.Expires, Granted: tk.Granted})
		lots = append(lots, la)
		rets = append(rets, returned{to: to, voided: day == dayVoided, LotAmount: la})
	}
	legs = append(legs, ledger.Leg{Account: pool(req.Program, KindReversed), Amount: amount.Neg()})
	rd.Reversed = rd.Reversed.Add(amount)
	if err := record.Put(u.Tx(), bRedeem, rk, rd); err != nil {
		return err
	}
	note := "redemption " + req.Ref + " reversed"
	if held {
		note += " (into frozen: the points' day awaits review)"
	}
	if voided {
		note += " (voided again: the points' day was voided by review)"
	}
	// The change comes before the expiries and voids the reversal may
	// cause.
	if err := u.Emit(ChangeReversed, rd.Member, Change{Program: req.Program, Amount: amount, Ref: req.Ref, Lots: lots, Operator: req.Operator},
		&rule.Reason{Rule: "points.reverse", Note: withNote(note, req.Note)}); err != nil {
		return err
	}
	if _, err := pt.post(u, ledger.Transaction{Kind: KindReversed, Legs: legs}); err != nil {
		return err
	}
	if err := pt.voidAgain(u, req.Program, rd.Member, req.Ref, req.Operator, rets); err != nil {
		return err
	}
	if err := pt.settle(u, &frozen, req.Program, rd.Member, req.Ref, rets); err != nil {
		return err
	}
	return frozen.save() // after settle, which may give a charge back into a review
}

// returned is what a redemption's reversal returned to one lot, and to
// which of the member's accounts; voided when the lot's day was voided
// by review (the points are voided again at once, see voidAgain).
type returned struct {
	to     ledger.Account
	voided bool
	LotAmount
}

// voidAgain voids at once what a reversal (of ref) returned to lots of
// days voided by review, as points returned to an expired lot expire
// again at once: the void took the day's points, and these escaped it
// only because they had been spent before. Points returned to such a lot
// past its expiry have expired again already (post), so they are not
// voided too. One transaction and one points.voided change per day.
func (pt *part) voidAgain(u *engine.Unit, program, member, ref, operator string, rets []returned) error {
	var byDay map[string][]LotAmount
	for _, r := range rets {
		if !r.voided || !live(ledger.Lot{Expires: r.Expires}, u.At()) {
			continue
		}
		if byDay == nil {
			byDay = map[string][]LotAmount{}
		}
		date := r.Granted.In(pt.loc).Format(time.DateOnly)
		byDay[date] = append(byDay[date], r.LotAmount)
	}
	for _, date := range slices.Sorted(maps.Keys(byDay)) {
		lots := byDay[date]
		var legs []ledger.Leg
		total := decimal.Zero
		for _, l := range lots {
			legs = append(legs, ledger.Leg{Account: acct(program, member, SubFrozen), Amount: l.Amount.Neg(), Lot: l.Lot})
			total = total.Add(l.Amount)
		}
		legs = append(legs, ledger.Leg{Account: pool(program, KindVoided), Amount: total})
		if _, err := pt.post(u, ledger.Transaction{Kind: KindVoided, Legs: legs}); err != nil {
			return err
		}
		if err := u.Emit(ChangeVoided, member, Change{Program: program, Amount: total, Lots: lots, Date: date, Ref: ref, Operator: operator},
			&rule.Reason{Rule: "points.risk", Note: fmt.Sprintf("redemption %s reversed into lots of %s, which a review voided: voided again", ref, date)}); err != nil {
			return err
		}
	}
	return nil
}

// settle undoes, with what a redemption's reversal (of ref) returned,
// what refunds of a member's orders did because points were spent, as
// the refunds would have done had the reversal come first, in a
// transaction of KindReversed per order referring to it.
//
// A refund could not take spent points back: what it could not cover is
// the grant's shortfall, the rest it charged to the member's other
// spendable lots (Grant.Charged). For each return to a grant's lot, up to
// the grant's shortfall, the points are taken back at once (from the
// account they went to, frozen included); then, up to what was charged,
// they are taken back as well and the charge is given back to the lots it
// came from (the refund would have taken the returned points from the
// lot, not the member's others). Points returned to a lot past its expiry
// have expired again at once, and points returned to a lot of a day
// voided by review have been voided again (voidAgain): they count as
// lapsed instead, as a refund after the reversal would have counted them,
// and the charge is given back all the same. A charge given back to a lot
// past its expiry expires again, and one to a lot of a day awaiting
// review or voided goes to the frozen account, into the review, or is
// voided again (frozen: the days of the reversal's lots, for those of the
// charge).
//
// A charge given back is in turn a return to its lot: when that lot's
// own grant was left short or charged by a refund (the charge had emptied
// the lot, so the grant's refund found its points spent), it settles that
// grant the same way, and so on for what that gives back, round after
// round. Each round is posted after the one whose give-backs it takes
// from, so an order settled in more than one round has a transaction per
// round (still one change). Before, the charge given back stayed in the
// lot while its grant stayed short: the member kept points the refunds
// would have taken had the reversal come first.
//
// Last, what stays spendable of the returns, the reversal's and the
// charges given back (main account, not expired), is taken back up to
// the shortfalls of the member's other short grants, earliest granted
// first, as a refund takes a spent share from the member's other
// spendable points; points returned into a frozen day awaiting review,
// or lapsed, settle no other grant's. (Before, a charge given back
// settled none: the member kept it while another order stayed short.)
func (pt *part) settle(u *engine.Unit, frozen *frozenDays, program, member, ref string, rets []returned) error {
	s := settler{u: u, program: program, member: member, byID: map[string]*settling{}}
	// left is what of each return stays spendable once its own grant's
	// shortfall and charge are settled: what other grants' shortfalls may
	// take.
	// The charges given back are returns too, of the round after the one
	// that gave them back (roundOf: each return's round).
	left := make([]decimal.Decimal, len(rets))
	if err := s.own(rets, left, 0); err != nil {
		return err
	}
	all, roundOf := rets, make([]int, len(rets))
	// The rounds end: each gives back less of the member's charges, which
	// are amounts at the program's scale, than the one before left.
	for r := 0; ; r++ {
		gave, err := s.gave(frozen, r)
		if err != nil {
			return err
		}
		if len(gave) == 0 {
			break
		}
		gl := make([]decimal.Decimal, len(gave))
		if err := s.own(gave, gl, r+1); err != nil {
			return err
		}
		all, left = append(slices.Clip(all), gave...), append(left, gl...)
		for range gave {
			roundOf = append(roundOf, r+1)
		}
	}
	if slices.ContainsFunc(left, decimal.Decimal.IsPositive) {
		if err := s.others(all, left, roundOf); err != nil {
			return err
		}
	}
	last := 0
	for _, st := range s.byID {
		last = max(last, st.last)
	}
	for r := 0; r <= last; r++ {
		for _, id := range s.ids {
			st := s.byID[id]
			if st.taken.IsZero() && st.lapsed.IsZero() {
				// Read, but nothing settled: a record of a grant no longer
				// short (deleted above), or a short grant no return reached.
				continue
			}
			note := fmt.Sprintf("redemption %s reversed: %s of order %s's shortfall settled", ref, st.settled, id)
			if back := st.givenBack(); back.IsPositive() {
				note += fmt.Sprintf(", %s its refund charged to other lots given back", back)
			}
			if r < len(st.rounds) {
				if err := pt.postSettling(u, program, member, ref, id, note, &st.rounds[r]); err != nil {
					return err
				}
			}
			if r != st.last {
				continue
			}
			if st.lapsed.IsPositive() {
				note += fmt.Sprintf(" (%s returned to an expired or voided lot, expired or voided again: lapsed)", st.lapsed)
			}
			if err := put(u.Tx(), bOrder, []byte(id), st.ord); err != nil {
				return err
			}
			if err := u.Emit(ChangeReversed, member, Change{Program: program, Amount: st.givenBack().Sub(st.taken), Lots: st.lots, Ref: id,
				Settled: st.settled, Lapsed: st.lapsed, GivenBack: st.back, Operator: u.Ref().Operator}, &rule.Reason{Rule: "points.reverse", Note: note}); err != nil {
				return err
			}
		}
	}
	return nil
}

// own settles, with each return of rets (of settling round round), what
// refunds left short or charged of the return's lot's own grant: up to
// the grant's shortfall, then up to its charge, which is given back. It
// sets left[i] to what of return i stays spendable for other grants'
// shortfalls.
func (s *settler) own(rets []returned, left []decimal.Decimal, round int) error {
	main := acct(s.program, s.member, "")
	for i, r := range rets {
		// back: the returned points are in the lot (not expired or voided
		// again at once).
		back := !r.voided && live(ledger.Lot{Expires: r.Expires}, s.u.At())
		spendable := back && r.to == main
		left[i] = decimal.Zero
		if spendable {
			left[i] = r.Amount
		}
		lk := lotKey(s.program, s.member, r.Lot)
		rest := r.Amount // what of the return its own grant has not used
		for _, bucket := range [...]string{bShort, bCharged} {
			if !rest.IsPositive() {
				break
			}
			v, err := s.u.Tx().Get(bucket, lk)
			if errors.Is(err, store.ErrNotFound) {
				continue // the common case: the lot's order, if any, has nothing to settle
			} else if err != nil {
				return err
			}
			st, gi, err := s.grant(r.Lot, v)
			if err != nil {
				return err
			}
			g := &st.ord.Grants[gi]
			var x decimal.Decimal
			if bucket == bShort {
				x = decimal.Min(rest, g.Shortfall)
				if x.IsPositive() {
					g.Shortfall = g.Shortfall.Sub(x)
					st.ord.Shortfall = st.ord.Shortfall.Sub(x)
					st.settled = st.settled.Add(x)
				}
			} else {
				if i := slices.IndexFunc(g.Charged, func(c LotAmount) bool { return !c.Amount.IsPositive() }); i >= 0 {
					return fmt.Errorf("%w: points: order %q charges %s to lot %s", ledger.ErrCorrupt, st.ord.ID, g.Charged[i].Amount, g.Charged[i].Lot)
				}
				x = decimal.Min(rest, charged(g.Charged))
				if x.IsPositive() {
					st.giveBack(round, g, x)
				}
			}
			if x.IsPositive() {
				rest = rest.Sub(x)
				if back {
					st.take(round, r.to, r.LotAmount, x)
					if spendable {
						left[i] = left[i].Sub(x)
					}
				} else {
					st.round(round)
					g.Lapsed = g.Lapsed.Add(x)
					st.ord.Lapsed = st.ord.Lapsed.Add(x)
					st.lapsed = st.lapsed.Add(x)
				}
			}
			if done := (bucket == bShort && !g.Shortfall.IsPositive()) || (bucket == bCharged && len(g.Charged) == 0); done {
				if err := s.u.Tx().Delete(bucket, lk); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// gave returns the charges given back in settling round round, as
// returns to their lots, each to the account its day's review decides
// (frozen, which records a lot going into a review), and keeps them for
// the round's postings.
func (s *settler) gave(frozen *frozenDays, round int) ([]returned, error) {
	var all []returned
	for _, id := range s.ids {
		st := s.byID[id]
		if round >= len(st.rounds) {
			continue
		}
		rd := &st.rounds[round]
		for _, la := range rd.back {
			to := acct(s.program, s.member, "")
			day, err := frozen.state(la)
			if err != nil {
				return nil, err
			}
			if day != dayOpen {
				to = acct(s.program, s.member, SubFrozen)
			}
			rd.gave = append(rd.gave, returned{to: to, voided: day == dayVoided, LotAmount: la})
		}
		all = append(all, rd.gave...)
	}
	return all, nil
}

// postSettling posts what one settling round took back for an order
// (rd.legs) and the charge it gave back (rd.gave), and voids again at
// once what it gave back to lots of days voided by review.
func (pt *part) postSettling(u *engine.Unit, program, member, ref, order, note string, rd *settleRound) error {
	legs := rd.legs
	for _, g := range rd.gave {
		legs = append(legs, ledger.Leg{Account: g.to, Amount: g.Amount, Lot: g.Lot, Expires: g.Expires, Granted: g.Granted})
	}
	if net := rd.taken.Sub(charged(rd.back)); !net.IsZero() {
		legs = append(legs, ledger.Leg{Account: pool(program, KindReversed), Amount: net})
	}
	if len(legs) == 0 {
		return nil
	}
	lref := ledger.Ref{Event: u.Ref().Event, Order: order, Operator: u.Ref().Operator, Note: note}
	if _, err := pt.post(u, ledger.Transaction{Kind: KindReversed, Ref: lref, Legs: legs}); err != nil {
		return err
	}
	return pt.voidAgain(u, program, member, ref, u.Ref().Operator, rd.gave)
}

// charged returns what a grant's charge holds.
func charged(c []LotAmount) decimal.Decimal {
	sum := decimal.Zero
	for _, l := range c {
		sum = sum.Add(l.Amount)
	}
	return sum
}

// settler holds the orders a reversal's settling reads, each once.
type settler struct {
	u               *engine.Unit
	program, member string
	ids             []string // in the order first read, for one order of postings
	byID            map[string]*settling
}

// settling is what a reversal settles of one order: the points taken
// back from the lots it returned to (lots, taken), what of them lapsed
// instead, what of both settled a shortfall, and the charge given back
// (back, by lot), in all; and what each settling round posts (rounds;
// last, the last round that settled something of the order).
type settling struct {
	ord                    Order
	rounds                 []settleRound
	last                   int
	lots                   []LotAmount
	taken, lapsed, settled decimal.Decimal
	back                   []LotAmount
}

// settleRound is what one settling round takes back of an order (legs,
// taken) and the charge it gives back (back, by lot; gave, the same with
// the accounts they go to, once the round is done).
type settleRound struct {
	legs  []ledger.Leg
	taken decimal.Decimal
	back  []LotAmount
	gave  []returned
}

// round returns settling round r of st, marking it as one that settled
// something.
func (st *settling) round(r int) *settleRound {
	for len(st.rounds) <= r {
		st.rounds = append(st.rounds, settleRound{taken: decimal.Zero})
	}
	st.last = max(st.last, r)
	return &st.rounds[r]
}

// grant returns the order a shortfall or charge record (v, the record of
// lot) names and the index of its grant of the lot. A record that names
// no order of the member's with a grant of the lot is damage
// (ledger.ErrCorrupt).
func (s *settler) grant(lot string, v []byte) (*settling, int, error) {
	id := string(v)
	if id == "" { // no key a store holds: it would be a store error, not damage
		return nil, 0, fmt.Errorf("%w: points: lot %s of %s names no order", ledger.ErrCorrupt, lot, s.member)
	}
	st := s.byID[id]
	if st == nil {
		st = &settling{taken: decimal.Zero, lapsed: decimal.Zero, settled: decimal.Zero}
		found, err := get(s.u.Tx(), bOrder, v, &st.ord)
		if err != nil {
			return nil, 0, err
		}
		if !found || st.ord.Member != s.member {
			return nil, 0, fmt.Errorf("%w: points: lot %s of %s names order %q, which is not the member's", ledger.ErrCorrupt, lot, s.member, id)
		}
		s.byID[id] = st
		s.ids = append(s.ids, id)
	}
	i := slices.IndexFunc(st.ord.Grants, func(g Grant) bool { return g.Program == s.program && g.Lot == lot })
	if i < 0 {
		return nil, 0, fmt.Errorf("%w: points: lot %s of %s names order %q, which has no grant of it", ledger.ErrCorrupt, lot, s.member, id)
	}
	return st, i, nil
}

// take takes x back, in settling round r, from la's lot in account a,
// where the reversal (or a charge given back) returned it.
func (st *settling) take(r int, a ledger.Account, la LotAmount, x decimal.Decimal) {
	st.taken = st.taken.Add(x)
	rd := st.round(r)
	rd.taken = rd.taken.Add(x)
	if i := slices.IndexFunc(rd.legs, func(l ledger.Leg) bool { return l.Account == a && l.Lot == la.Lot }); i >= 0 {
		rd.legs[i].Amount = rd.legs[i].Amount.Sub(x)
	} else {
		rd.legs = append(rd.legs, ledger.Leg{Account: a, Amount: x.Neg(), Lot: la.Lot})
	}
	if i := slices.IndexFunc(st.lots, func(l LotAmount) bool { return l.Lot == la.Lot }); i >= 0 {
		st.lots[i].Amount = st.lots[i].Amount.Add(x)
	} else {
		st.lots = append(st.lots, LotAmount{Lot: la.Lot, Amount: x, Expires: la.Expires, Granted: la.Granted})
	}
}

// giveBack gives back x of g's charge in settling round r, the lots
// charged last first (as a reversal refills the lots taken last first),
// and takes it off g.Charged.
func (st *settling) giveBack(r int, g *Grant, x decimal.Decimal) {
	rd := st.round(r)
	for x.IsPositive() && len(g.Charged) > 0 {
		c := &g.Charged[len(g.Charged)-1]
		y := decimal.Min(x, c.Amount)
		la := LotAmount{Lot: c.Lot, Amount: y, Expires: c.Expires, Granted: c.Granted}
		st.back = addLot(st.back, la)
		rd.back = addLot(rd.back, la)
		if c.Amount = c.Amount.Sub(y); !c.Amount.IsPositive() {
			g.Charged = g.Charged[:len(g.Charged)-1]
		}
		x = x.Sub(y)
	}
}

// addLot adds la to the amount lots holds of its lot.
func addLot(lots []LotAmount, la LotAmount) []LotAmount {
	if i := slices.IndexFunc(lots, func(l LotAmount) bool { return l.Lot == la.Lot }); i >= 0 {
		lots[i].Amount = lots[i].Amount.Add(la.Amount)
		return lots
	}
	return append(lots, la)
}

// givenBack returns what of charges st gives back.
func (st *settling) givenBack() decimal.Decimal { return charged(st.back) }

// others settles the member's short grants (their points.short records)
// with what stays spendable of the returns (left, by return; roundOf[i],
// the settling round of return i, the one whose postings take from it),
// earliest granted first, each return in the order the reversal and the
// rounds made them.
func (s *settler) others(rets []returned, left []decimal.Decimal, roundOf []int) error {
	prefix := keys.New().Str(s.program).Str(s.member)
	type short struct {
		key []byte
		st  *settling
		g   int // the grant's index in st.ord.Grants
	}
	type rec struct{ key, v []byte }
	var recs []rec
	err := s.u.Tx().Scan(bShort, prefix, store.PrefixEnd(prefix), false, func(k, v []byte) error {
		recs = append(recs, rec{bytes.Clone(k), bytes.Clone(v)})
		return nil
	})
	if err != nil {
		return err
	}
	shorts := make([]short, 0, len(recs))
	for _, r := range recs {
		// The key is the prefix and one part: the lot and its separator.
		lot, ok := strings.CutSuffix(string(r.key[len(prefix):]), string(rune(keys.Sep)))
		if !ok || strings.IndexByte(lot, keys.Sep) >= 0 {
			return fmt.Errorf("%w: points: shortfall record key %q of %s is not a lot's", ledger.ErrCorrupt, r.key, s.member)
		}
		st, gi, err := s.grant(lot, r.v)
		if err != nil {
			return err
		}
		shorts = append(shorts, short{key: r.key, st: st, g: gi})
	}
	slices.SortStableFunc(shorts, func(a, b short) int {
		return a.st.ord.Grants[a.g].Time.Compare(b.st.ord.Grants[b.g].Time)
	})
	for _, sh := range shorts {
		g := &sh.st.ord.Grants[sh.g]
		for i, r := range rets {
			x := decimal.Min(left[i], g.Shortfall)
			if !x.IsPositive() {
				continue
			}
			g.Shortfall = g.Shortfall.Sub(x)
			sh.st.ord.Shortfall = sh.st.ord.Shortfall.Sub(x)
			sh.st.settled = sh.st.settled.Add(x)
			sh.st.take(roundOf[i], r.to, r.LotAmount, x)
			left[i] = left[i].Sub(x)
		}
		if !g.Shortfall.IsPositive() {
			if err := s.u.Tx().Delete(bShort, sh.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// frozenDays finds, for a reversal, what risk control decided of the
// days of the lots it returns points to: points returned to the lot of a
// day frozen and waiting for review go back to the frozen account, into
// the review, as the rest of the day's points are, not to the spendable
// one (they were spent before the day froze); points returned to the lot
// of a day a review voided are voided again.
type frozenDays struct {
	pt     *part
	u      *engine.Unit
	prog   Program
	member string
	// days holds the reviews read, by date (nil: the day has none).
	days map[string]*heldReview
}

type heldReview struct {
	key     []byte
	rv      Review
	lots    []string // the day's lots not yet decided (Day.Lots)
	voided  []string // the day's lots a void decided (Day.Voided)
	changed bool
}

// dayState is what risk control decided of a lot's day, for a reversal
// returning points to the lot.
type dayState int

const (
	// dayOpen: no review holds or voided the lot (none, or a restore):
	// the points are spendable again.
	dayOpen dayState = iota
	// dayHeld: the lot's day awaits review.
	dayHeld
	// dayVoided: a review voided the lot's day.
	dayVoided
)

// state says what risk control decided of la's lot's day, and records la
// in the day's review when the review is pending.
func (f *frozenDays) state(la LotAmount) (dayState, error) {
	if f.prog.Risk == nil || f.prog.Risk.Policy != Freeze || la.Granted.IsZero() {
		return dayOpen, nil
	}
	date := la.Granted.In(f.pt.loc).Format(time.DateOnly)
	hr, seen := f.days[date]
	if !seen {
		rk := keys.New().Str(f.prog.Name).Str(date).Str(f.member)
		var rv Review
		found, err := getReview(f.u.Tx(), rk, &rv)
		if err != nil {
			return dayOpen, err
		}
		if found {
			day, err := loadDay(f.u.Tx(), keys.New().Str(f.prog.Name).Str(f.member).Str(date))
			if err != nil {
				return dayOpen, err
			}
			hr = &heldReview{key: rk, rv: rv, lots: day.Lots, voided: day.Voided}
		}
		if f.days == nil {
			f.days = map[string]*heldReview{}
		}
		f.days[date] = hr
	}
	switch {
	case hr == nil:
		return dayOpen, nil
	case slices.Contains(hr.voided, la.Lot):
		return dayVoided, nil
	case hr.rv.State == ReviewPending && slices.Contains(hr.lots, la.Lot):
		hr.rv.Lots = append(hr.rv.Lots, la)
		hr.rv.took(f.u.At())
		hr.changed = true
		return dayHeld, nil
	}
	return dayOpen, nil
}

// save writes the reviews state changed.
func (f *frozenDays) save() error {
	for _, date := range slices.Sorted(maps.Keys(f.days)) {
		if hr := f.days[date]; hr != nil && hr.changed {
			if err := put(f.u.Tx(), bReview, hr.key, hr.rv); err != nil {
				return err
			}
		}
	}
	return nil
}

func (pt *part) adjust(u *engine.Unit, req AdjustRequest) error {
	prog, err := pt.program(req.Program)
	if err != nil {
		return err
	}
	if err := prog.CheckAmount(req.Amount.Abs()); err != nil {
		return err
	}
	adj := Adjustment{ID: req.RequestID, Program: req.Program, Member: req.Member, Amount: req.Amount, Reason: req.Note,
		State: AdjustmentPending, Requester: req.Operator, Requested: req.At}
	if prog.NeedsApproval(req.Amount) {
		if err := record.Put(u.Tx(), bAdjust, []byte(adj.ID), adj); err != nil {
			return err
		}
		return u.Emit(ChangeAdjustmentRequested, req.Member, Change{Program: req.Program, Amount: req.Amount, Adjustment: &adj, Operator: req.Operator},
			&rule.Reason{Rule: "points.adjust", Note: fmt.Sprintf("above the approval threshold %s: %s", prog.ApprovalAbove, req.Note)})
	}
	return pt.applyAdjustment(u, prog, adj, req.Operator, "")
}

func (pt *part) applyAdjustment(u *engine.Unit, prog Program, adj Adjustment, decider, note string) error {
	a := acct(adj.Program, adj.Member, "")
	leg := ledger.Leg{Account: a, Amount: adj.Amount}
	if adj.Amount.IsPositive() {
		leg.Expires = Expiry(prog.Validity, u.At(), pt.loc)
	}
	ref := ledger.Ref{Event: u.Ref().Event, Operator: decider, Note: adj.Reason}
	legs := []ledger.Leg{leg, {Account: pool(adj.Program, KindAdjusted), Amount: adj.Amount.Neg()}}
	if _, err := pt.post(u, ledger.Transaction{Kind: KindAdjusted, Ref: ref, Legs: legs}); err != nil {
		return err
	}
	adj.State, adj.Decider, adj.Decided, adj.Note = AdjustmentApplied, decider, u.At(), note
	if err := record.Put(u.Tx(), bAdjust, []byte(adj.ID), adj); err != nil {
		return err
	}
	return u.Emit(ChangeAdjusted, adj.Member, Change{Program: adj.Program, Amount: adj.Amount, Adjustment: &adj, Operator: decider},
		&rule.Reason{Rule: "points.adjust", Note: adj.Reason})
}

func (pt *part) decide(u *engine.Unit, req DecideRequest, approve bool) error {
	var adj Adjustment
	if found, err := getAdjustment(u.Tx(), req.Adjustment, &adj); err != nil {
		return err
	} else if !found {
		return fmt.Errorf("%w: %s", ErrUnknownAdjustment, req.Adjustment)
	}
	u.Outcome().Member = adj.Member
	if adj.State != AdjustmentPending {
		return fmt.Errorf("%w: adjustment %s is %s", ErrNotPending, adj.ID, adj.State)
	}
	if u.At().Before(adj.Requested) {
		// A decision cannot precede the request it decides.
		return argument("at", fmt.Errorf("%s is before the adjustment's request %s", u.At().Format(time.RFC3339), adj.Requested.In(u.Location()).Format(time.RFC3339)))
	}
	if approve {
		if req.Operator == adj.Requester {
			return fmt.Errorf("%w: %s requested %s", ErrSelfApproval, req.Operator, adj.ID)
		}
		prog, err := pt.program(adj.Program)
		if err != nil {
			return err
		}
		return pt.applyAdjustment(u, prog, adj, req.Operator, req.Note)
	}
	return pt.reject(u, adj, req.Operator, req.Note, &rule.Reason{Rule: "points.adjust", Note: req.Note})
}

// reject rejects the pending adjustment adj: decider decides it at the
// unit's time, with note, published with why.
func (pt *part) reject(u *engine.Unit, adj Adjustment, decider, note string, why *rule.Reason) error {
	adj.State, adj.Decider, adj.Decided, adj.Note = AdjustmentRejected, decider, u.At(), note
	if err := record.Put(u.Tx(), bAdjust, []byte(adj.ID), adj); err != nil {
		return err
	}
	return u.Emit(ChangeAdjustmentRejected, adj.Member, Change{Program: adj.Program, Amount: adj.Amount, Adjustment: &adj, Operator: decider}, why)
}

func (pt *part) review(u *engine.Unit, req ReviewRequest, restore bool) error {
	if _, err := pt.program(req.Program); err != nil {
		return err
	}
	rk := keys.New().Str(req.Program).Str(req.Date).Str(req.Member)
	var rv Review
	if found, err := getReview(u.Tx(), rk, &rv); err != nil {
		return err
	} else if !found {
		return fmt.Errorf("%w: %s %s %s", ErrUnknownReview, req.Program, req.Member, req.Date)
	}
	if rv.State != ReviewPending {
		return fmt.Errorf("%w: review is %s", ErrNotPending, rv.State)
	}
	dk := keys.New().Str(req.Program).Str(req.Member).Str(req.Date)
	day, err := loadDay(u.Tx(), dk)
	if err != nil {
		return err
	}
	// A decision cannot precede the points it decides, as an adjustment's
	// cannot precede its request: the statement would restore or void
	// them before they were frozen, or, when a late event froze the day,
	// before they were granted (the day's lots granted after it).
	since := rv.Frozen
	if since.IsZero() {
		if d, err := rule.ParseDate(req.Date); err == nil {
			since = d.Start(pt.loc)
		}
	}
	for _, l := range rv.Lots {
		if l.Granted.After(since) {
			since = l.Granted
		}
	}
	if !restore {
		// A void takes the day's pending lots too.
		for _, id := range day.Lots {
			lot, err := lotOf(u.Ledger(), acct(req.Program, req.Member, SubPending), id)
			if err != nil {
				return err
			}
			if lot.Granted.After(since) {
				since = lot.Granted
			}
		}
	}
	if u.At().Before(since) {
		return argument("at", fmt.Errorf("%s is before the review took its points, %s", u.At().In(pt.loc).Format(time.RFC3339), since.In(pt.loc).Format(time.RFC3339)))
	}
	ids := make([]string, 0, len(rv.Lots))
	for _, l := range rv.Lots {
		if !slices.Contains(ids, l.Lot) {
			ids = append(ids, l.Lot)
		}
	}
	// A decision takes only the points still valid: those past their
	// expiry had expired when it came, and expire where they are (Advance
	// expires them, or did), so a decision comes to the same whether
	// Advance ran first or not.
	if ids, err = pt.unexpired(u, req.Program, req.Member, SubFrozen, ids); err != nil {
		return err
	}
	var lots []LotAmount
	kind := ChangeRestored
	if restore {
		lots, err = pt.move(u, req.Program, req.Member, SubFrozen, "", KindRestored, ids)
	} else {
		// The day's points still pending are the day's too: they go with
		// it, or they would become spendable at their release.
		kind = ChangeVoided
		var pending []string
		if pending, err = pt.unexpired(u, req.Program, req.Member, SubPending, day.Lots); err != nil {
			return err
		}
		lots, err = pt.voidLots(u, req.Program, req.Member, ids, pending)
	}
	if err != nil {
		return err
	}
	// The decision covers the day's lots so far: a grant later that day
	// reopens the review for its own lot only, so a later void does not
	// reach the pending lots decided now. A void's lots are kept: points a
	// reversal returns to them later are voided again (see reverse).
	if len(day.Lots) > 0 {
		if !restore {
			day.Voided = append(day.Voided, day.Lots...)
		}
		day.Lots = nil
		if err := put(u.Tx(), bDay, dk, day); err != nil {
			return err
		}
	}
	rv.State, rv.Operator, rv.Decided = ReviewVoided, req.Operator, u.At()
	if restore {
		rv.State = ReviewRestored
	}
	if err := put(u.Tx(), bReview, rk, rv); err != nil {
		return err
	}
	if err := u.Tx().Delete(bOpen, rk); err != nil {
		return err
	}
	total := decimal.Zero
	for _, l := range lots {
		total = total.Add(l.Amount)
	}
	return u.Emit(kind, req.Member, Change{Program: req.Program, Amount: total, Lots: lots, Date: req.Date, Operator: req.Operator},
		&rule.Reason{Rule: "points.risk", Note: withNote(fmt.Sprintf("review of %s by %s", req.Date, req.Operator), req.Note)})
}

// unexpired returns the lots of ids that the member's sub account holds
// unexpired at the unit's time (or does not hold at all: the callers skip
// those).
func (pt *part) unexpired(u *engine.Unit, program, member, sub string, ids []string) ([]string, error) {
	a := acct(program, member, sub)
	out := ids[:0:0]
	for _, id := range ids {
		lot, err := lotOf(u.Ledger(), a, id)
		if err != nil {
			return nil, err
		}
		if live(lot, u.At()) {
			out = append(out, id)
		}
	}
	return out, nil
}

// voidLots voids what remains of the frozen lots and of the pending ones
// (a frozen day's lots not released yet), in one transaction.
func (pt *part) voidLots(u *engine.Unit, program, member string, frozen, pending []string) ([]LotAmount, error) {
	var legs []ledger.Leg
	var out []LotAmount
	total := decimal.Zero
	for _, set := range [...]struct {
		sub string
		ids []string
	}{{SubFrozen, frozen}, {SubPending, pending}} {
		src := acct(program, member, set.sub)
		for _, id := range set.ids {
			lot, err := lotOf(u.Ledger(), src, id)
			if err != nil {
				return nil, err
			}
			if !lot.Amount.IsPositive() {
				continue
			}
			legs = append(legs, ledger.Leg{Account: src, Amount: lot.Amount.Neg(), Lot: id})
			out = append(out, LotAmount{Lot: id, Amount: lot.Amount, Expires: lot.Expires, Granted: lot.Granted})
			total = total.Add(lot.Amount)
		}
	}
	if len(legs) == 0 {
		return nil, nil
	}
	legs = append(legs, ledger.Leg{Account: pool(program, KindVoided), Amount: total})
	_, err := pt.post(u, ledger.Transaction{Kind: KindVoided, Legs: legs})
	return out, err
}

func (pt *part) exchange(u *engine.Unit, req ExchangeRequest) error {
	from, err := pt.program(req.From)
	if err != nil {
		return err
	}
	to, err := pt.program(req.To)
	if err != nil {
		return err
	}
	rate, ok := pt.def.ExchangeRate(req.From, req.To)
	if !ok {
		return fmt.Errorf("%w: %s → %s", ErrNoExchange, req.From, req.To)
	}
	if err := from.CheckAmount(req.Amount); err != nil {
		return err
	}
	got := Convert(req.Amount, rate, to)
	if !got.IsPositive() {
		return fmt.Errorf("%w: %s × %s rounds down to 0", ErrExchangeTooSmall, req.Amount, rate)
	}
	posted, err := pt.post(u, ledger.Transaction{Kind: KindExchanged, Legs: []ledger.Leg{
		{Account: acct(req.From, req.Member, ""), Amount: req.Amount.Neg()},
		{Account: pool(req.From, KindExchanged), Amount: req.Amount},
		{Account: acct(req.To, req.Member, ""), Amount: got, Expires: Expiry(to.Validity, u.At(), pt.loc)},
		{Account: pool(req.To, KindExchanged), Amount: got.Neg()},
	}})
	if err != nil {
		return err
	}
	lot := posted.Lots[0]
	return u.Emit(ChangeExchanged, req.Member, Change{Program: req.From, Amount: req.Amount, To: req.To, ToAmount: got, Lot: lot.ID, Expires: lot.Expires, Operator: req.Operator},
		&rule.Reason{Rule: "points.exchange", Formula: "amount × " + rate.String(), Inputs: map[string]string{"amount": req.Amount.String()}, Raw: req.Amount.Mul(rate), Note: req.Note})
}
