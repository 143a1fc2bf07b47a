package level

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Due item kinds of the level part.
const (
	dueTerm   = "level.term"
	dueFreeze = "level.freeze"
	duePlan   = "level.plan"
)

// part is the level domain's share of processing: growth, upgrades and
// gifts, term ends, freezes and paid plans. It is the engine's
// engine.Levels reader (a member's level and plans, for the other
// domains), the Rewarder of growth rewards, and Stateful: it keeps the
// member state it last read or saved for the length of a unit of work.
type part struct {
	def Definition
	log *slog.Logger
	loc *time.Location // the program's zone, for CheckOpen's days
	// formulas holds the text of each growth rule's formula, made once.
	formulas []string
}

var (
	_ engine.Part     = (*part)(nil)
	_ engine.Rewarder = (*part)(nil)
	_ engine.Stateful = (*part)(nil)
	_ engine.Levels   = (*part)(nil)
	_ engine.Checker  = (*part)(nil)
)

func newPart(def Definition, log *slog.Logger, loc *time.Location) *part {
	p := &part{def: def, log: log, loc: loc}
	for _, g := range def.Growth {
		p.formulas = append(p.formulas, g.Formula.String())
	}
	return p
}

// DueKinds lists the part's due items: term ends, freeze deadlines, plan
// expiries.
func (p *part) DueKinds() []string { return []string{dueTerm, dueFreeze, duePlan} }

// MemberBuckets implements engine.MemberKeyed.
func (p *part) MemberBuckets() []string { return []string{bMember, bHistory, bOrder} }

// MemberRecords implements engine.Recorder: the member's state, history
// and orders.
func (p *part) MemberRecords(dst []store.Read, member string) []store.Read {
	return append(dst, store.Read{Bucket: bMember, Key: []byte(member)},
		engine.MemberRange(bHistory, member), engine.MemberRange(bOrder, member))
}

// AppendReads names the member's level record, which every event reads
// (engine.Preloader).
func (p *part) AppendReads(dst []store.Read, member string) []store.Read {
	return append(dst, store.Read{Bucket: bMember, Key: []byte(member)})
}

// RewardKinds says the part grants growth rewards.
func (p *part) RewardKinds() []rule.RewardKind { return []rule.RewardKind{rule.RewardGrowth} }

// Reward fulfils a growth reward: the amount is added to the member's
// growth, which may upgrade them.
func (p *part) Reward(u *engine.Unit, member string, r rule.Reward, _ rule.Source, why rule.Reason) error {
	if r.Kind != rule.RewardGrowth || !r.Amount.IsPositive() {
		return fmt.Errorf("level: %w: reward %s of %s", event.ErrInvalidArgument, r.Target(), r.Amount)
	}
	if err := p.catchUp(u, member); err != nil {
		return err
	}
	return p.increase(u, member, r.Amount, KindRewarded, why)
}

// CheckEvent refuses a plan purchase event whose plan attribute names no
// plan of the definition that this event type and attribute buy (a
// mistyped plan would otherwise be processed as buying nothing, its
// other rules applied). An event without the attribute buys no plan and
// is not refused. The engine wraps the error in event.ErrInvalidEvent.
func (p *part) CheckEvent(ev event.Event) error {
	for _, pl := range p.def.Plans {
		if ev.Type != pl.Event {
			continue
		}
		name, ok := ev.String(pl.Attr)
		if !ok || p.def.buys(ev.Type, pl.Attr, name) {
			continue
		}
		return fmt.Errorf("attrs.%s: %w %q", pl.Attr, ErrUnknownPlan, name)
	}
	return nil
}

// Process applies the growth, refund and plan rules to ev.
func (p *part) Process(u *engine.Unit, ev event.Event) error {
	if err := p.catchUp(u, ev.Member); err != nil {
		return err
	}
	// The level the growth rules check is the one held before the event's
	// purchase or refunds; a member first seen joins the entry level.
	m, ok, err := p.view(u, ev.Member)
	if err == nil && !p.joined(m, ok) {
		m, err = p.member(u, ev.Member)
	}
	if err != nil {
		return err
	}
	held := m.Level
	if u.At().Before(m.Since) {
		// A late event, dated before the member's current level started:
		// the growth rules judge it on the level held at its time, as the
		// other domains' rules do (the history, read once for the unit).
		if held, err = p.Level(u, ev.Member); err != nil {
			return err
		}
	} else if err := p.startTerm(u, ev.Member, m); err != nil {
		return err
	}
	// What the member is owed of upgrade gifts is tried again first, when
	// something may have changed since its refusal; what is refused again
	// is owed again after the event's rules, so that a reach of its level
	// by this event's growth does not ask for it twice.
	refused, err := p.payOwed(u, ev.Member, nil, false)
	if err != nil {
		return err
	}
	if err := p.purchase(u, ev); err != nil {
		return err
	}
	for _, r := range p.def.Refunds {
		if ev.Type == r.Event {
			if err := p.refund(u, ev, r); err != nil {
				return err
			}
		}
	}
	for i, g := range p.def.Growth {
		if !g.Applies(ev, held) {
			continue
		}
		if err := p.earn(u, ev, g, p.formulas[i]); err != nil {
			return fmt.Errorf("level: growth rule %q: %w", g.ID, err)
		}
	}
	return p.owe(u, ev.Member, refused)
}

// joined reports whether a member's state as read (ok: the member has a
// record) needs no join: the member holds a ladder level, or the program
// has no ladder.
func (p *part) joined(m memberState, ok bool) bool {
	return ok && (m.Level != "" || len(p.def.Ladder) == 0)
}

// member returns a member's state to change, making a member first seen
// join the entry level at u.At(). So does a member known only for the
// paid plans they bought while the definition had no ladder (a later
// version added one): their record, plans and history are kept.
func (p *part) member(u *engine.Unit, member string) (memberState, error) {
	m, ok, err := p.load(u, member)
	if err != nil || p.joined(m, ok) || len(p.def.Ladder) == 0 {
		return m, err
	}
	entry := p.def.Ladder[0]
	m.Level, m.Since, m.TermEnd = entry.Name, u.At(), entry.TermEnd(u.At(), u.Location())
	if !ok {
		m.Lifetime = decimal.Zero
	}
	if err := p.scheduleTerm(u, member, time.Time{}, m.TermEnd); err != nil {
		return m, err
	}
	if err := addCount(u, member, entry.Name, 1); err != nil {
		return m, err
	}
	if err := countMove(u, member, MoveJoin, "", entry.Name); err != nil {
		return m, err
	}
	if err := appendHistory(u.Tx(), member, &m, &Record{Time: u.At(), Cause: CauseJoin, To: entry.Name, TermEnd: m.TermEnd, Event: u.Ref().Event}); err != nil {
		return m, err
	}
	if err := p.save(u, member, &m); err != nil {
		return m, err
	}
	return m, u.Emit(ChangeLevel, member, LevelChange{To: entry.Name, Cause: CauseJoin, TermEnd: m.TermEnd, Growth: decimal.Zero},
		&rule.Reason{Rule: "level.join", Note: "first seen; entry level"})
}

// catchUp performs, at their own instants and in time order, the
// member's term ends and fixed-duration freeze deadlines that fell due at
// or before u.At() but that Advance has not performed yet, so an event is
// always applied to the level and freezes the member holds at its time.
// More than MaxCatchUp term ends is ErrCatchUpLimit: the event is not
// applied to a level the member would not hold at its time. (A member has
// a freeze deadline per frozen level at most: they need no limit.)
func (p *part) catchUp(u *engine.Unit, member string) error {
	for terms := 0; ; {
		m, ok, err := p.view(u, member)
		if err != nil || !ok {
			return err
		}
		// The earliest deadline due, if it comes before the term end (or
		// with it: a freeze holds only before its deadline).
		var ranOut *Frozen
		for i, f := range m.Frozen {
			if !f.Deadline.IsZero() && !u.At().Before(f.Deadline) && (ranOut == nil || f.Deadline.Before(ranOut.Deadline)) {
				ranOut = &m.Frozen[i]
			}
		}
		if ranOut != nil && (m.TermEnd.IsZero() || !m.TermEnd.Before(ranOut.Deadline)) {
			if err := u.Unschedule(ranOut.Deadline, dueFreeze, member+"|"+ranOut.Level); err != nil {
				return err
			}
			if err := p.thaw(u.As(ranOut.Deadline, ledger.Ref{Note: "due " + dueFreeze}), member, ranOut.Level, ranOut.Deadline); err != nil {
				return err
			}
			continue
		}
		if m.TermEnd.IsZero() || u.At().Before(m.TermEnd) {
			return nil
		}
		if terms == MaxCatchUp {
			return fmt.Errorf("%w: member %q has more than %d term ends due before %s; advance the program to that time first",
				ErrCatchUpLimit, member, MaxCatchUp, u.At().In(u.Location()).Format(time.RFC3339))
		}
		if err := p.termEnd(u.As(m.TermEnd, ledger.Ref{Note: "due " + dueTerm}), member, m.TermEnd); err != nil {
			return err
		}
		terms++
	}
}

// startTerm starts, at the event's time u.At(), the term of a member who
// holds with no term end a level that has a validity: one reached while
// the level was permanent, which a version has since given a term. The
// version's new rules apply from the member's next event (see the package
// doc, A new version of the definition); a late event dated before the
// level's start (m.Since) starts nothing, as a term starting then would
// end before the level began. Nothing is published or recorded in the
// history: the level does not change.
func (p *part) startTerm(u *engine.Unit, member string, m memberState) error {
	cur := p.def.Index(m.Level)
	if !m.TermEnd.IsZero() || cur < 0 || p.def.Ladder[cur].Validity.Kind == rule.Permanent {
		return nil
	}
	m.Since, m.TermEnd = u.At(), p.def.Ladder[cur].TermEnd(u.At(), u.Location())
	if err := p.scheduleTerm(u, member, time.Time{}, m.TermEnd); err != nil {
		return err
	}
	return p.save(u, member, &m)
}

func (p *part) scheduleTerm(u *engine.Unit, member string, old, end time.Time) error {
	if !old.IsZero() && !old.Equal(end) {
		if err := u.Unschedule(old, dueTerm, member); err != nil {
			return err
		}
	}
	if end.IsZero() {
		return nil
	}
	return u.Schedule(end, dueTerm, member, nil)
}

func balance(u *engine.Unit, member string) (decimal.Decimal, error) {
	return u.Ledger().Balance(ledger.MemberAccount(member, ledger.Growth, ""))
}

// earn applies one growth rule to an event: GrowthRule.Amount, then the
// caps, then the order's record for refunds. A rule whose formula's base
// the event lacks (an optional attribute) earns nothing and is published
// as skipped.
func (p *part) earn(u *engine.Unit, ev event.Event, g GrowthRule, formula string) error {
	e, err := g.Amount(ev, p.def.Rounding)
	if err != nil {
		return err
	}
	if e.Amount.IsZero() {
		// Only a zero amount can come from an absent base: the check
		// costs the common case nothing.
		if attr, absent := g.Formula.Absent(ev); absent {
			return u.SkipRule(ev.Member, "growth", g.ID, formula, attr)
		}
		return nil
	}
	why := u.FormulaReason(g.ID, g.Formula, formula, e.Base, e.Raw)
	if e.Amount.IsNegative() {
		return p.decrease(u, ev.Member, e.Amount.Neg(), g.ID, why)
	}
	scope := "" // the caps' counters' scope; nothing reads it without caps
	if len(g.Caps) > 0 {
		scope = g.ID + "\x00" + ev.Member
	}
	granted, cut, err := rule.Use(u.Tx(), bCaps, scope, g.Caps, u.At(), u.Location(), e.Amount)
	if err != nil {
		return err
	}
	why.Cut = cut
	if granted.IsZero() {
		return nil
	}
	if o := g.Order; o != nil {
		if id, ok := ev.String(o.ID); ok && id != "" {
			ord, found, err := loadOrder(u.Tx(), ev.Member, id)
			if err != nil {
				return err
			}
			if !found {
				ord.Amount, _ = ev.Decimal(o.Amount)
				ord.Refunded = decimal.Zero
			}
			ord.Grants = append(ord.Grants, grant{Rule: g.ID, Time: u.At(), Granted: granted, Reversed: decimal.Zero})
			if err := saveOrder(u.Tx(), ev.Member, id, &ord); err != nil {
				return err
			}
		}
	}
	return p.increase(u, ev.Member, granted, KindEarned, why)
}

// refund reverses, in proportion, the growth the refunded order earned.
func (p *part) refund(u *engine.Unit, ev event.Event, r RefundRule) error {
	id, _ := ev.String(r.Order)
	amount, _ := ev.Decimal(r.Amount)
	if id == "" || !amount.IsPositive() {
		return fmt.Errorf("level: refund rule %q: %w: order %q, amount %s", r.ID, ErrInvalidRefund, id, amount)
	}
	ord, found, err := loadOrder(u.Tx(), ev.Member, id)
	if err != nil || !found {
		return err // an order that earned no growth has nothing to reverse
	}
	// As in package points: a refund past the order's amount is the
	// host's mistake, refused so that it can be corrected.
	if total := ord.Refunded.Add(amount); ord.Amount.IsPositive() && total.GreaterThan(ord.Amount) {
		return fmt.Errorf("level: refund rule %q: order %q: %w: %s refunded now and %s before, of %s",
			r.ID, id, event.ErrRefundExceedsOrder, amount, ord.Refunded, ord.Amount)
	}
	for i, g := range ord.Grants {
		rev := Reversal(g.Granted, ord.Amount, ord.Refunded, amount, g.Reversed, p.def.Rounding)
		if rev.IsZero() {
			continue
		}
		ord.Grants[i].Reversed = g.Reversed.Add(rev)
		for _, gr := range p.def.Growth {
			if gr.ID == g.Rule {
				if err := rule.Release(u.Tx(), bCaps, gr.ID+"\x00"+ev.Member, gr.Caps, g.Time, u.Location(), rev); err != nil {
					return err
				}
			}
		}
		why := rule.Reason{Rule: r.ID, Formula: "granted × refunded ÷ order amount", Inputs: map[string]string{
			"rule": g.Rule, "granted": g.Granted.String(), "order_amount": ord.Amount.String(),
			"refunded_before": ord.Refunded.String(), r.Amount: amount.String(), "reversed_before": g.Reversed.String(),
		}}
		if err := p.decrease(u, ev.Member, rev, r.ID, why); err != nil {
			return err
		}
	}
	ord.Refunded = ord.Refunded.Add(amount)
	return saveOrder(u.Tx(), ev.Member, id, &ord)
}

// increase adds amount to the member's growth and upgrades them as far as
// it reaches.
func (p *part) increase(u *engine.Unit, member string, amount decimal.Decimal, kind ledger.Kind, why rule.Reason) error {
	m, err := p.member(u, member)
	if err != nil {
		return err
	}
	life := codec.Add(m.Lifetime, amount)
	if err := checkLimit(member, "lifetime growth", life); err != nil {
		return err
	}
	posted, err := u.Transfer(kind,
		ledger.Leg{Account: ledger.MemberAccount(member, ledger.Growth, ""), Amount: amount},
		ledger.Leg{Account: ledger.Pool(ledger.Growth, string(kind)), Amount: codec.Neg(amount)})
	if err != nil {
		return err
	}
	// The errors undo the posting with the rest of the unit.
	if err := checkLimit(member, "growth", posted.Entries[0].Balance); err != nil {
		return err
	}
	if err := addDay(u.Tx(), member, &m, u.At(), u.Location(), amount); err != nil {
		return err
	}
	m.Lifetime = life
	m.Frozen = Earn(m.Frozen, amount, u.At())
	if err := p.save(u, member, &m); err != nil {
		return err
	}
	bal := posted.Entries[0].Balance
	gc := GrowthChange{Amount: amount, Balance: bal, Lifetime: m.Lifetime, Kind: kind, Rule: why.Rule}
	if err := u.EmitWith(ChangeGrowth, member, &why, gc.encode); err != nil {
		return err
	}
	return p.settle(u, member, bal)
}

// decrease takes amount from the member's growth, never below zero (the
// shortfall is recorded); it never changes the level.
func (p *part) decrease(u *engine.Unit, member string, amount decimal.Decimal, ruleID string, why rule.Reason) error {
	m, err := p.member(u, member)
	if err != nil {
		return err
	}
	bal, err := balance(u, member)
	if err != nil {
		return err
	}
	take := decimal.Min(amount, bal)
	short := amount.Sub(take)
	if short.IsPositive() {
		why.Note = fmt.Sprintf("growth %s cannot go below zero: shortfall %s not taken", bal, short)
	}
	if take.IsPositive() {
		if _, err := u.Post(ledger.Transaction{Kind: KindReversed, Legs: []ledger.Leg{
			{Account: ledger.MemberAccount(member, ledger.Growth, ""), Amount: take.Neg()},
			{Account: ledger.Pool(ledger.Growth, string(KindReversed)), Amount: take},
		}}); err != nil {
			return err
		}
		if err := addDay(u.Tx(), member, &m, u.At(), u.Location(), take.Neg()); err != nil {
			return err
		}
		m.Lifetime = decimal.Max(m.Lifetime.Sub(take), decimal.Zero)
		m.Frozen = Earn(m.Frozen, take.Neg(), u.At())
		if err := p.save(u, member, &m); err != nil {
			return err
		}
	}
	return u.Emit(ChangeGrowth, member, GrowthChange{Amount: take.Neg(), Balance: bal.Sub(take), Lifetime: m.Lifetime, Kind: KindReversed, Rule: ruleID, Shortfall: short}, &why)
}

// settle moves the member up after a growth increase: to a frozen level
// whose unfreeze threshold is reached, or to the highest level the growth
// reaches, granting the gifts of each level crossed (memberState.gifts:
// those of a level had before are not granted again). bal is the member's
// growth balance after the increase.
func (p *part) settle(u *engine.Unit, member string, bal decimal.Decimal) error {
	if len(p.def.Ladder) == 0 {
		return nil
	}
	// Decide on the cached state; copy it only to change it (an upgrade).
	vm, ok, err := p.view(u, member)
	if err != nil {
		return err
	}
	if !p.joined(vm, ok) {
		if vm, err = p.member(u, member); err != nil {
			return err
		}
	}
	cur := p.def.Index(vm.Level)
	crossed := p.def.Upgrade(cur, bal)
	top := cur
	if len(crossed) > 0 {
		top = crossed[len(crossed)-1]
	}
	cause := CauseEvent
	var why *rule.Reason
	if to, ok := p.def.Unfreeze(vm.Frozen, cur, u.At()); ok && to > top {
		// A return moves up as an upgrade does: every level it crosses
		// grants its gifts by the usual rule (once per member: a level
		// reached before has had them, unless they were refused).
		top, cause = to, CauseUnfreeze
		for i := cur + 1 + len(crossed); i <= to; i++ {
			crossed = append(crossed, i)
		}
		for _, f := range vm.Frozen {
			if f.Level == p.def.Ladder[to].Name {
				why = &rule.Reason{Rule: "level.unfreeze", Inputs: map[string]string{
					"earned_since_downgrade": f.Earned.String(), "unfreeze": p.def.Ladder[to].Freeze.Unfreeze.String()}}
			}
		}
	}
	if top == cur {
		return nil // the usual case: no upgrade, and no reason to build
	}
	m, err := p.member(u, member) // a copy to change
	if err != nil {
		return err
	}
	if u.At().Before(m.Since) {
		// A late event, dated before the current level started: in time
		// order the growth reached the new level then at the earliest, and
		// an earlier date would put the move before the one it follows
		// (the history, the counts of Days).
		u = u.As(m.Since, u.Ref())
	}
	if why == nil {
		why = &rule.Reason{Rule: "level.upgrade", Inputs: map[string]string{"growth": bal.String()}}
		if cause == CauseEvent {
			why.Inputs["upgrade"] = p.def.Ladder[top].Upgrade.String()
		}
	}
	if err := p.change(u, member, &m, top, cause, bal, nil, why, Record{}); err != nil {
		return err
	}
	// Mark the gifts before granting them: a growth gift may upgrade again
	// and must see them as granted.
	var gifts []giftAt
	for _, i := range crossed {
		gifts = m.gifts(p.def.Ladder[i], gifts)
	}
	if err := p.save(u, member, &m); err != nil {
		return err
	}
	refused, err := p.give(u, member, gifts, false, nil)
	if err != nil {
		return err
	}
	return p.owe(u, member, refused)
}

// give grants gifts to member, each published as ChangeGift after the
// changes of its grant, and returns those whose part refused them (it
// published the refusal). The reasons of late ones (owed since an earlier
// reach) say so, with inputs (GrantOwed's operator).
func (p *part) give(u *engine.Unit, member string, gifts []giftAt, late bool, inputs map[string]string) ([]giftAt, error) {
	var refused []giftAt
	for _, g := range gifts {
		why := rule.Reason{Rule: "level." + g.Level + ".gift", Note: "upgrade gift of " + g.Level, Inputs: inputs}
		if late {
			why.Note = "late upgrade gift of " + g.Level + ": refused when the level was reached, owed since"
		}
		err := u.Reward(member, g.Reward, rule.Source{Kind: rule.FromLevel, Name: g.Level}, why)
		if errors.Is(err, engine.ErrRewardRefused) {
			refused = append(refused, g) // its part published the refusal
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("level: gift of %q: %w", g.Level, err)
		}
		if err := u.Emit(ChangeGift, member, g.Gift, &why); err != nil {
			return nil, err
		}
	}
	return refused, nil
}

// payOwed grants the rewards of upgrade gifts owed to member
// (Status.Owed), each at most once: they leave the member's record before
// they are granted, and those refused again are returned for the caller
// to owe again (owe) once nothing else in the unit may ask for them. One
// that the definition no longer gives is dropped, published as
// ChangeGiftDropped so that a host keeping what is owed from ChangeOwed
// can close it. An event (all false)
// asks only for those due (owed.due): a reward whose refusal nothing has
// changed since stays owed, unasked, and a member with none due has
// nothing written. GrantOwed (all true) asks for every one. A member owed
// nothing costs nothing: the record is the one the unit has read already.
func (p *part) payOwed(u *engine.Unit, member string, inputs map[string]string, all bool) ([]giftAt, error) {
	vm, _, err := p.view(u, member)
	if err != nil || len(vm.Owed) == 0 {
		return nil, err
	}
	version, fingerprint := u.Definition()
	var gifts []giftAt
	var kept, gone []owed
	for _, o := range vm.Owed {
		if !all && !o.due(u.At(), u.Location(), version, fingerprint) {
			kept = append(kept, o)
		} else if g, ok := p.def.owedGift(o); ok {
			gifts = append(gifts, giftAt{g, o.N})
		} else {
			gone = append(gone, o)
		}
	}
	if len(kept) == len(vm.Owed) {
		return nil, nil
	}
	m := cloneMember(vm)
	m.Owed = kept
	if err := p.save(u, member, &m); err != nil {
		return nil, err
	}
	if err := p.drop(u, member, gone, "owed gift dropped: the definition in force no longer gives it"); err != nil {
		return nil, err
	}
	return p.give(u, member, gifts, true, inputs)
}

// drop publishes each of the rewards owed as ChangeGiftDropped, its
// reason's note saying why it is no longer owed.
func (p *part) drop(u *engine.Unit, member string, gone []owed, note string) error {
	for _, o := range gone {
		g := p.def.droppedGift(o)
		if err := u.Emit(ChangeGiftDropped, member, g, &rule.Reason{Rule: "level." + g.Level + ".gift", Note: note}); err != nil {
			return err
		}
	}
	return nil
}

// owe keeps the refused rewards of upgrade gifts owed to the member, with
// the time and definition of this refusal (for payOwed), each published
// as ChangeOwed; a level that grants its gifts every time grants them all
// at its next reach anyway.
func (p *part) owe(u *engine.Unit, member string, refused []giftAt) error {
	if len(refused) == 0 {
		return nil
	}
	m, err := p.member(u, member) // as the gifts left it
	if err != nil {
		return err
	}
	version, fingerprint := u.Definition()
	var kept []Gift
	for _, g := range refused {
		if i := p.def.Index(g.Level); i >= 0 && !p.def.Ladder[i].GiftEveryTime {
			m.Owed = append(m.Owed, owed{Level: g.Level, Reward: g.Reward.Target(), N: g.n, Refused: u.At(), Version: version, Fingerprint: fingerprint})
			kept = append(kept, g.Gift)
		}
	}
	if err := p.save(u, member, &m); err != nil {
		return err
	}
	for _, g := range kept {
		if err := u.Emit(ChangeOwed, member, g, &rule.Reason{Rule: "level." + g.Level + ".gift", Note: "refused: owed to the member"}); err != nil {
			return err
		}
	}
	return nil
}

// change moves the member (whose state is *m) to ladder level to at
// u.At(), starting a new term: it updates the counters, thaws the freezes
// at or below the new level, records the history and emits the change. It
// saves *m. rec carries the record's extra fields.
func (p *part) change(u *engine.Unit, member string, m *memberState, to int, cause Cause, growth decimal.Decimal, window *decimal.Decimal, why *rule.Reason, rec Record) error {
	from := m.Level
	l := p.def.Ladder[to]
	end := l.TermEnd(u.At(), u.Location())
	if err := p.scheduleTerm(u, member, m.TermEnd, end); err != nil {
		return err
	}
	m.Level, m.Since, m.TermEnd = l.Name, u.At(), end
	if from != l.Name {
		if err := addCount(u, member, from, -1); err != nil {
			return err
		}
		if err := addCount(u, member, l.Name, 1); err != nil {
			return err
		}
		if err := countMove(u, member, p.moveOf(from, to), from, l.Name); err != nil {
			return err
		}
	}
	kept, released := p.def.Thaw(m.Frozen, to)
	m.Frozen = kept
	for _, f := range released {
		if !f.Deadline.IsZero() {
			if err := u.Unschedule(f.Deadline, dueFreeze, member+"|"+f.Level); err != nil {
				return err
			}
		}
		fc := FreezeChange{Level: f.Level, Since: f.Since, Deadline: f.Deadline, Earned: f.Earned, Returned: cause == CauseUnfreeze && f.Level == l.Name}
		if err := u.Emit(ChangeUnfrozen, member, fc, why); err != nil {
			return err
		}
	}
	rec.Time, rec.Cause, rec.From, rec.To, rec.TermEnd, rec.Window = u.At(), cause, from, l.Name, end, window
	if rec.Event == "" {
		rec.Event = u.Ref().Event
	}
	if err := appendHistory(u.Tx(), member, m, &rec); err != nil {
		return err
	}
	if err := p.save(u, member, m); err != nil {
		return err
	}
	return u.Emit(ChangeLevel, member, LevelChange{From: from, To: l.Name, Cause: cause, TermEnd: end, Growth: growth, Window: window}, why)
}

// termEnd performs the end at T = u.At() of the member's term: retention
// over the window [T − W months, T), keep or downgrade by the level's
// mode, re-base growth, freeze the level left, and start the next term at
// T. An end that does not match the member's current term (replaced by an
// upgrade meanwhile) is ignored.
func (p *part) termEnd(u *engine.Unit, member string, end time.Time) error {
	m, ok, err := p.load(u, member)
	if err != nil || !ok || !m.TermEnd.Equal(end) {
		return err
	}
	if err := u.Unschedule(end, dueTerm, member); err != nil {
		return err
	}
	cur := p.def.Index(m.Level)
	if cur < 0 {
		// The level left the definition: keep the member where they are
		// rather than block Advance; an upgrade or a manual set moves them.
		p.log.Warn("level: term end of a level no longer defined", "member", member, "level", m.Level)
		return nil
	}
	l := p.def.Ladder[cur]
	if l.Validity.Kind == rule.Permanent {
		// A version made the level permanent after this term started:
		// under the definition in force the term has no end. The member
		// keeps the level with no term end from now on, and nothing of a
		// term end applies (no retention, no re-base): before, retention
		// ran over a window of a month the level did not give.
		m.TermEnd = time.Time{}
		return p.save(u, member, &m)
	}
	from := WindowStart(end, max(l.Window, 1), u.Location())
	g, err := earned(u.Tx(), member, &m, from, end, u.Location())
	if err != nil {
		return err
	}
	after, err := earned(u.Tx(), member, &m, end, time.Time{}, u.Location())
	if err != nil {
		return err
	}
	// g is what the window's growth moves took, refunds included for what
	// they took (growth's floor at 0 may have cut them short), so it may
	// be negative: retention compares it as it is, and only the re-based
	// growth stops at 0.
	to, kept := p.def.Retain(cur, g)
	// Re-base: growth becomes the window's growth (plus anything already
	// earned from T on).
	target := decimal.Max(decimal.Max(g, decimal.Zero).Add(after), decimal.Zero)
	bal, err := balance(u, member)
	if err != nil {
		return err
	}
	if diff := target.Sub(bal); !diff.IsZero() {
		if _, err := u.Post(ledger.Transaction{Kind: KindRebased, Legs: []ledger.Leg{
			{Account: ledger.MemberAccount(member, ledger.Growth, ""), Amount: diff},
			{Account: ledger.Pool(ledger.Growth, string(KindRebased)), Amount: diff.Neg()},
		}}); err != nil {
			return err
		}
		if err := u.Emit(ChangeGrowth, member, GrowthChange{Amount: diff, Balance: target, Lifetime: m.Lifetime, Kind: KindRebased},
			&rule.Reason{Rule: "level.rebase", Inputs: map[string]string{"window_growth": g.String(), "window_from": from.Format(time.RFC3339), "window_to": end.Format(time.RFC3339)}}); err != nil {
			return err
		}
	}
	why := &rule.Reason{Rule: "level.retention", Inputs: map[string]string{
		"window_growth": g.String(), "retention": l.Retention.String(), "window_months": fmt.Sprint(l.Window),
		"window_from": from.Format(time.RFC3339), "window_to": end.Format(time.RFC3339)}}
	if !kept {
		why.Note = fmt.Sprintf("window growth %s below retention %s: downgrade by %s", g, l.Retention, modeOf(l))
		var f *Frozen
		m.Frozen, f = p.def.Freeze(m.Frozen, cur, end, u.Location())
		if f != nil {
			if !f.Deadline.IsZero() {
				if err := u.Schedule(f.Deadline, dueFreeze, member+"|"+f.Level, freezeDue{Member: member, Level: f.Level}); err != nil {
					return err
				}
			}
			if err := u.Emit(ChangeFrozen, member, FreezeChange{Level: f.Level, Since: f.Since, Deadline: f.Deadline, Earned: f.Earned}, why); err != nil {
				return err
			}
		}
	} else {
		why.Note = "kept"
	}
	return p.change(u, member, &m, to, CauseTermEnd, target, &g, why, Record{})
}

func modeOf(l Level) DowngradeMode {
	if l.Downgrade == "" {
		return NextLower
	}
	return l.Downgrade
}

// purchase buys or renews the plans ev names.
func (p *part) purchase(u *engine.Unit, ev event.Event) error {
	for _, pl := range p.def.Plans {
		if name, ok := ev.String(pl.Attr); ev.Type != pl.Event || !ok || name != pl.Name {
			continue
		}
		m, err := p.member(u, ev.Member)
		if err != nil {
			return err
		}
		held, i := m.held(pl.Name)
		id := pl.Name + "|" + ev.Member
		if i >= 0 {
			if err := u.Unschedule(held.Expires, duePlan, id); err != nil {
				return err
			}
		}
		if i >= 0 && !held.Expires.After(u.At()) {
			// The plan ran out before this purchase and Advance has not
			// performed its expiry: perform it at its own instant, so that
			// the history and the feed show the lapse before the new
			// purchase, as they would had Advance run.
			if err := p.expire(u.As(held.Expires, ledger.Ref{Note: "due " + duePlan}), ev.Member, &m, i); err != nil {
				return err
			}
			i = -1
		}
		if i < 0 {
			// A late purchase, dated while the member held the plan,
			// extends it from the expiry Advance has already performed,
			// as it would have had it come before Advance ran.
			if i, err = p.reinstate(u, ev.Member, &m, pl.Name); err != nil {
				return err
			}
			if i >= 0 {
				held = m.Plans[i]
			}
		}
		base := u.At()
		renewed := i >= 0
		if renewed {
			base = held.Expires
		}
		exp := pl.Extend(base, u.Location())
		if renewed {
			m.Plans[i].Expires = exp
			held = m.Plans[i]
		} else {
			held = Held{Plan: pl.Name, Since: u.At(), Expires: exp}
			m.Plans = append(m.Plans, held)
			if err := addCount(u, ev.Member, pl.Name, 1); err != nil {
				return err
			}
		}
		if err := u.Schedule(exp, duePlan, id, planDue{Member: ev.Member, Plan: pl.Name}); err != nil {
			return err
		}
		if err := appendHistory(u.Tx(), ev.Member, &m, &Record{Time: u.At(), Cause: CausePurchase, Event: ev.ID, Plan: pl.Name, Expires: exp}); err != nil {
			return err
		}
		if err := p.save(u, ev.Member, &m); err != nil {
			return err
		}
		why := &rule.Reason{Rule: "plan." + pl.Name, Inputs: map[string]string{"period": string(pl.Period), "from": base.Format(time.RFC3339)}}
		if err := u.Emit(ChangePlanPurchased, ev.Member, PlanChange{Plan: pl.Name, Since: held.Since, Expires: exp, Renewed: renewed}, why); err != nil {
			return err
		}
	}
	return nil
}

// reinstate gives the member back the plan they held at u.At() (a late
// purchase's time) whose expiry, after that time, has been performed: its
// expiry record is removed from the history, which then reads as if the
// purchase had come first. It returns the plan's index in m.Plans, or -1
// when the member did not hold the plan at u.At().
func (p *part) reinstate(u *engine.Unit, member string, m *memberState, plan string) (int, error) {
	key, run, ok, err := lapsedRun(u.Tx(), member, plan, u.At())
	if err != nil || !ok {
		return -1, err
	}
	if err := u.Tx().Delete(bHistory, key); err != nil {
		return -1, err
	}
	if err := addCount(u, member, plan, 1); err != nil {
		return -1, err
	}
	m.Plans = append(m.Plans, run)
	return len(m.Plans) - 1, nil
}

type planDue struct {
	Member string `json:"member"`
	Plan   string `json:"plan"`
}

type freezeDue struct {
	Member string `json:"member"`
	Level  string `json:"level"`
}

// Due performs a term end, a freeze deadline or a plan expiry.
func (p *part) Due(u *engine.Unit, it engine.Item) error {
	switch it.Kind {
	case dueTerm:
		return p.termEnd(u, it.ID, it.At)
	case dueFreeze:
		return p.freezeDeadline(u, it)
	case duePlan:
		return p.planExpiry(u, it)
	}
	return nil
}

// freezeDeadline releases a fixed-duration freeze whose deadline is it.At.
func (p *part) freezeDeadline(u *engine.Unit, it engine.Item) error {
	var fd freezeDue
	if err := it.Decode(&fd); err != nil {
		return err
	}
	return p.thaw(u, fd.Member, fd.Level, it.At)
}

// thaw releases, at u.At(), the member's freeze of level whose deadline is
// deadline; one that ended otherwise (stale) is left alone.
func (p *part) thaw(u *engine.Unit, member, level string, deadline time.Time) error {
	m, ok, err := p.load(u, member)
	if err != nil || !ok {
		return err
	}
	for j, f := range m.Frozen {
		if f.Level != level || !f.Deadline.Equal(deadline) {
			continue
		}
		m.Frozen = append(m.Frozen[:j:j], m.Frozen[j+1:]...)
		if err := p.save(u, member, &m); err != nil {
			return err
		}
		return u.Emit(ChangeUnfrozen, member, FreezeChange{Level: f.Level, Since: f.Since, Deadline: f.Deadline, Earned: f.Earned},
			&rule.Reason{Rule: "level.freeze", Note: "fixed-duration freeze ran out"})
	}
	return nil // stale: the freeze ended otherwise
}

// planExpiry ends a plan whose expiry is it.At.
func (p *part) planExpiry(u *engine.Unit, it engine.Item) error {
	var pd planDue
	if err := it.Decode(&pd); err != nil {
		return err
	}
	m, ok, err := p.load(u, pd.Member)
	if err != nil || !ok {
		return err
	}
	held, i := m.held(pd.Plan)
	if i < 0 || !held.Expires.Equal(it.At) {
		return nil
	}
	return p.expire(u, pd.Member, &m, i)
}

// expire ends the member's plan m.Plans[i] at u.At(), its expiry: the
// count, the history record, the change. It saves *m.
func (p *part) expire(u *engine.Unit, member string, m *memberState, i int) error {
	held := m.Plans[i]
	m.Plans = append(m.Plans[:i:i], m.Plans[i+1:]...)
	if err := addCount(u, member, held.Plan, -1); err != nil {
		return err
	}
	if err := appendHistory(u.Tx(), member, m, &Record{Time: u.At(), Cause: CauseExpiry, Plan: held.Plan, Expires: held.Expires}); err != nil {
		return err
	}
	if err := p.save(u, member, m); err != nil {
		return err
	}
	return u.Emit(ChangePlanExpired, member, PlanChange{Plan: held.Plan, Since: held.Since, Expires: held.Expires}, &rule.Reason{Rule: "plan." + held.Plan, Note: "expired"})
}

// setLevel sets the member's level by hand at u.At(): a new term starts,
// growth is left as it is and no gift is granted.
func (p *part) setLevel(u *engine.Unit, member string, to int, operator, note string) error {
	if err := p.catchUp(u, member); err != nil {
		return err
	}
	m, err := p.member(u, member)
	if err != nil {
		return err
	}
	if u.At().Before(m.Since) {
		// A set dated before the level the member holds started (sent
		// while the member's later event or a term end went first) takes
		// effect at that start: an earlier date would put the move before
		// the one it follows (the history, the counts of Days).
		u = u.As(m.Since, u.Ref())
	}
	bal, err := balance(u, member)
	if err != nil {
		return err
	}
	why := &rule.Reason{Rule: "level.manual", Inputs: map[string]string{"operator": operator}, Note: note}
	return p.change(u, member, &m, to, CauseManual, bal, nil, why, Record{Operator: operator, Note: note})
}

// unitState is the part's state in one unit of work: the last member
// state read or saved, decoded (an event reads a member's level state
// several times: catch-up, rules, upgrade), and the buffers that loads and
// saves reuse.
type unitState struct {
	member  string
	m       memberState
	ok      bool
	scratch scratch
	past    past
}

// past is what the member's history said of their level and plans at a
// time before their latest change (levelAt, plansAt): the other domains
// each ask for the level of a late event (points rules, task targets,
// coupon claims, benefits), as do the part's own growth rules, and the
// unit reads the history once. It holds while the member's state is the
// one read (unitState.member). Saving it forgets the plans (a purchase
// dated then, a late purchase's reinstated run change them) but not the
// level: no level change is dated before the one it follows, so none
// changes the level held before the member's current level started.
type past struct {
	at                 time.Time
	level              string
	plans              []string
	hasLevel, hasPlans bool
}

// pastAt returns the unit's past of member at at, emptied unless it is
// of that member and time.
func (s *unitState) pastAt(member string, at time.Time) *past {
	if s.member != member || !s.past.at.Equal(at) {
		s.past = past{at: at}
	}
	return &s.past
}

// Reset forgets the member read in the last unit.
func (s *unitState) Reset() { s.member, s.past = "", past{} }

// NewState returns the part's per-unit state.
func (p *part) NewState() engine.State { return &unitState{} }

func (p *part) state(u *engine.Unit) *unitState {
	if s, ok := u.State(p).(*unitState); ok {
		return s
	}
	return &unitState{}
}

// load returns a member's state (ok false for a member never seen), the
// caller's to change.
func (p *part) load(u *engine.Unit, member string) (memberState, bool, error) {
	m, ok, err := p.view(u, member)
	if err != nil {
		return memberState{}, ok, err
	}
	return cloneMember(m), ok, nil
}

// view is load for a caller that only reads: its slices are shared with
// the unit's copy, which is never changed in place (save keeps a copy of
// what it stores), so the caller reads them but must not change them.
// (Copying the slices would cost on every event.)
func (p *part) view(u *engine.Unit, member string) (memberState, bool, error) {
	s := p.state(u)
	if s.member != member || member == "" {
		m, ok, err := s.scratch.load(u.Tx(), member)
		s.past = past{}
		if err != nil {
			s.member = ""
			return memberState{}, ok, err
		}
		s.member, s.m, s.ok = member, m, ok
	}
	return s.m, s.ok, nil
}

// save stores a member's state.
func (p *part) save(u *engine.Unit, member string, m *memberState) error {
	s := p.state(u)
	if s.member == member {
		// The history may have changed with the state: the plans held
		// at the past's time may have, the level held then not (past).
		s.past.plans, s.past.hasPlans = nil, false
	} else {
		s.past = past{}
	}
	if err := s.scratch.save(u.Tx(), member, m); err != nil {
		s.member = "" // unknown state: read again
		return err
	}
	s.member, s.m, s.ok = member, cloneMember(*m), true
	return nil
}

func cloneMember(m memberState) memberState {
	m.Frozen = slices.Clone(m.Frozen)
	m.Gifted = slices.Clone(m.Gifted)
	m.Owed = slices.Clone(m.Owed)
	m.Plans = slices.Clone(m.Plans)
	return m
}

// Level returns the member's ladder level at the unit's time, for the
// other parts (the entry level for a member never seen; "" without a
// ladder): the current one, unless the unit is dated before it started (a
// late event), when the history says which the member held then
// (levelAt).
func (p *part) Level(u *engine.Unit, member string) (string, error) {
	return p.level(u, member, true)
}

// CurrentLevel returns the member's current ladder level, whatever the
// unit's time, for the tag part.
func (p *part) CurrentLevel(u *engine.Unit, member string) (string, error) {
	return p.level(u, member, false)
}

func (p *part) level(u *engine.Unit, member string, atUnit bool) (string, error) {
	if len(p.def.Ladder) == 0 {
		return "", nil
	}
	// A request reading the level (a coupon's claim condition) sees the
	// level the member holds at its time, as an event does (see Terms and
	// retention). Nothing a term end does reads another domain's view of
	// the member, so this cannot run inside one.
	if !u.ReadOnly() {
		if err := p.catchUp(u, member); err != nil {
			return "", err
		}
	}
	m, _, err := p.view(u, member)
	if err != nil || m.Level == "" {
		// Never seen, or known only for plans bought before the ladder.
		return p.def.Ladder[0].Name, err
	}
	if atUnit && u.At().Before(m.Since) {
		// The only case that reads more than the member's record: every
		// level change sets Since to its time, and none is dated before
		// the one it follows.
		ps := p.state(u).pastAt(member, u.At())
		if !ps.hasLevel {
			l, err := levelAt(u.Tx(), member, u.At(), m.Level)
			if err != nil {
				return "", err
			}
			ps.level, ps.hasLevel = l, true
		}
		return ps.level, nil
	}
	return m.Level, nil
}

// Plans returns the paid plans the member holds at the unit's time: the
// ones held now that have not run out by then, unless the unit is dated
// before the member's latest plan change (a late event), when the
// history says which the member held then (plansAt).
func (p *part) Plans(u *engine.Unit, member string) ([]string, error) {
	if len(p.def.Plans) == 0 {
		return nil, nil
	}
	m, _, err := p.view(u, member)
	if err != nil {
		return nil, err
	}
	changed := m.PlanChanged
	for _, h := range m.Plans {
		if h.Since.After(changed) { // a record of an earlier release
			changed = h.Since
		}
	}
	if u.At().Before(changed) {
		ps := p.state(u).pastAt(member, u.At())
		if !ps.hasPlans {
			if ps.plans, err = plansAt(u.Tx(), member, u.At(), m.Plans); err != nil {
				return nil, err
			}
			ps.hasPlans = true
		}
		return slices.Clone(ps.plans), nil
	}
	var out []string
	for _, h := range m.Plans {
		if h.Expires.IsZero() || u.At().Before(h.Expires) {
			out = append(out, h.Plan)
		}
	}
	return out, nil
}
