package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/engine"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// Change kinds published by the level part.
const (
	// ChangeLevelChanged is a member's level or term changing (data
	// LevelChange): joining, an upgrade, a term end (kept or downgraded),
	// a return to a frozen level, a manual set.
	ChangeLevelChanged = "level.changed"
	// ChangeGrowthChanged is a member's growth changing (data GrowthChange).
	ChangeGrowthChanged = "growth.changed"
	// ChangeLevelGift is an upgrade gift granted (data LevelGift).
	ChangeLevelGift = "level.gift"
	// ChangeLevelFrozen is a level frozen after a downgrade (data
	// FreezeChange).
	ChangeLevelFrozen = "level.frozen"
	// ChangeLevelUnfrozen is a freeze ending: the member returned to the
	// level, reached it otherwise, or the deadline passed (data
	// FreezeChange).
	ChangeLevelUnfrozen = "level.unfrozen"
	// ChangePlanPurchased is a paid plan bought or renewed (data
	// PlanChange).
	ChangePlanPurchased = "plan.purchased"
	// ChangePlanExpired is a paid plan that ran out (data PlanChange).
	ChangePlanExpired = "plan.expired"
)

// Ledger kinds and pools of growth. Increases move growth from the pool of
// their kind into the member's account, decreases back.
const (
	// KindGrowthEarned is growth earned by a growth rule.
	KindGrowthEarned ledger.Kind = "earned"
	// KindGrowthRewarded is growth granted as a reward (a gift, a task).
	KindGrowthRewarded ledger.Kind = "rewarded"
	// KindGrowthReversed is growth taken back by a refund rule or a
	// negative growth rule.
	KindGrowthReversed ledger.Kind = "reversed"
	// KindGrowthRebased is the re-base of growth to the retention window's
	// growth at a term end.
	KindGrowthRebased ledger.Kind = "rebased"
)

// Due item kinds of the level part.
const (
	dueLevelTerm   = "level.term"
	dueLevelFreeze = "level.freeze"
	duePlanExpiry  = "level.plan"
)

// LevelChange is the data of ChangeLevelChanged.
type LevelChange struct {
	From    string      `json:"from,omitempty"`
	To      string      `json:"to"`
	Cause   level.Cause `json:"cause"`
	TermEnd time.Time   `json:"term_end,omitzero"`
	// Growth is the member's growth after the change.
	Growth decimal.Decimal `json:"growth"`
	// Window is the retention window's growth, at a term end.
	Window *decimal.Decimal `json:"window,omitempty"`
}

// GrowthChange is the data of ChangeGrowthChanged.
type GrowthChange struct {
	// Amount is what moved (negative for a decrease).
	Amount  decimal.Decimal `json:"amount"`
	Balance decimal.Decimal `json:"balance"`
	// Lifetime is the net growth ever earned.
	Lifetime decimal.Decimal `json:"lifetime"`
	Kind     ledger.Kind     `json:"kind"`
	// Rule is the growth or refund rule (or the reward's source).
	Rule string `json:"rule,omitempty"`
	// Shortfall is what a decrease could not take because growth would
	// have gone below zero.
	Shortfall decimal.Decimal `json:"shortfall,omitzero"`
}

// LevelGift is the data of ChangeLevelGift.
type LevelGift struct {
	Level  string      `json:"level"`
	Reward rule.Reward `json:"reward"`
}

// FreezeChange is the data of ChangeLevelFrozen and ChangeLevelUnfrozen.
type FreezeChange struct {
	Level    string          `json:"level"`
	Since    time.Time       `json:"since"`
	Deadline time.Time       `json:"deadline,omitzero"`
	Earned   decimal.Decimal `json:"earned"`
	// Returned is set when the member returned to the level by reaching
	// its unfreeze threshold.
	Returned bool `json:"returned,omitempty"`
}

// PlanChange is the data of ChangePlanPurchased and ChangePlanExpired.
type PlanChange struct {
	Plan    string    `json:"plan"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires"`
	// Renewed is set when the purchase extended a plan still held.
	Renewed bool `json:"renewed,omitempty"`
}

type levelPart struct {
	p   *Program
	def level.Definition
	// formulas holds the text of each growth rule's formula, made once.
	formulas []string
}

// levelPart returns the level part, or nil when the definition has none.
func (p *Program) levelPart() *levelPart {
	if p.def.Levels == nil {
		return nil
	}
	lp := &levelPart{p: p, def: *p.def.Levels}
	for _, g := range lp.def.Growth {
		lp.formulas = append(lp.formulas, g.Formula.String())
	}
	return lp
}

func (lp *levelPart) DueKinds() []string {
	return []string{dueLevelTerm, dueLevelFreeze, duePlanExpiry}
}

func (lp *levelPart) RewardKinds() []rule.RewardKind { return []rule.RewardKind{rule.RewardGrowth} }

// reward fulfils a growth reward: the amount is added to the member's
// growth, which may upgrade them.
func (lp *levelPart) Reward(t *engine.Unit, member string, r rule.Reward, why rule.Reason) error {
	if r.Kind != rule.RewardGrowth || !r.Amount.IsPositive() {
		return fmt.Errorf("level: %w: reward %s of %s", ErrInvalidArgument, r.Target(), r.Amount)
	}
	if err := lp.catchUp(t, member); err != nil {
		return err
	}
	return lp.increase(t, member, r.Amount, KindGrowthRewarded, why)
}

func (lp *levelPart) Process(t *engine.Unit, ev event.Event) error {
	if err := lp.catchUp(t, ev.Member); err != nil {
		return err
	}
	// The level the growth rules check is the one held before the event's
	// purchase or refunds; the state is only read (a member first seen
	// joins the entry level).
	pm, ok, err := lp.peek(t, ev.Member)
	if err != nil {
		return err
	}
	if !ok {
		m, err := lp.member(t, ev.Member)
		if err != nil {
			return err
		}
		pm = &m
	}
	held := pm.Level
	if err := lp.purchase(t, ev); err != nil {
		return err
	}
	for _, r := range lp.def.Refunds {
		if ev.Type == r.Event {
			if err := lp.refund(t, ev, r); err != nil {
				return err
			}
		}
	}
	for i, g := range lp.def.Growth {
		if !g.Applies(ev, held) {
			continue
		}
		if err := lp.earn(t, ev, g, lp.formulas[i]); err != nil {
			return fmt.Errorf("level: growth rule %q: %w", g.ID, err)
		}
	}
	return nil
}

// member returns a member's state, making a member first seen join the
// entry level at t.At().
func (lp *levelPart) member(t *engine.Unit, member string) (level.Member, error) {
	m, ok, err := lp.load(t, member)
	if err != nil || ok || len(lp.def.Ladder) == 0 {
		return m, err
	}
	entry := lp.def.Ladder[0]
	m = level.Member{Level: entry.Name, Since: t.At(), TermEnd: entry.TermEnd(t.At(), t.Location()), Lifetime: decimal.Zero}
	if err := lp.scheduleTerm(t, member, time.Time{}, m.TermEnd); err != nil {
		return m, err
	}
	if err := level.AddCount(t.Tx(), entry.Name, 1); err != nil {
		return m, err
	}
	if err := level.AppendHistory(t.Tx(), member, &m, &level.Record{Time: t.At(), Cause: level.CauseJoin, To: entry.Name, TermEnd: m.TermEnd, Event: t.Ref().Event}); err != nil {
		return m, err
	}
	if err := lp.save(t, member, m); err != nil {
		return m, err
	}
	return m, t.Emit(ChangeLevelChanged, member, LevelChange{To: entry.Name, Cause: level.CauseJoin, TermEnd: m.TermEnd, Growth: decimal.Zero},
		&rule.Reason{Rule: "level.join", Note: "first seen; entry level"})
}

// catchUp performs, at their own instants, the member's term ends that
// fell due at or before t.At() but that Advance has not performed yet, so an
// event is always applied to the level the member holds at its time.
func (lp *levelPart) catchUp(t *engine.Unit, member string) error {
	for range 1200 {
		m, ok, err := lp.peek(t, member)
		if err != nil || !ok || m.TermEnd.IsZero() || t.At().Before(m.TermEnd) {
			return err
		}
		end := m.TermEnd // m is the cache, which termEnd changes
		if err := lp.termEnd(t.As(end, ledger.Ref{Note: "due " + dueLevelTerm}), member, end); err != nil {
			return err
		}
	}
	return nil
}

func (lp *levelPart) scheduleTerm(t *engine.Unit, member string, old, end time.Time) error {
	if !old.IsZero() && !old.Equal(end) {
		if err := due.Cancel(t.Tx(), old, dueLevelTerm, member); err != nil {
			return err
		}
	}
	if end.IsZero() {
		return nil
	}
	return t.Schedule(end, dueLevelTerm, member, nil)
}

func (lp *levelPart) balance(t *engine.Unit, member string) (decimal.Decimal, error) {
	return t.Ledger().Balance(ledger.MemberAccount(member, ledger.Growth, ""))
}

// earn applies one growth rule to an event.
func (lp *levelPart) earn(t *engine.Unit, ev event.Event, g level.GrowthRule, formula string) error {
	// As g.Amount, with the formula's text made once.
	raw, base, err := g.Formula.Eval(ev)
	if errors.Is(err, event.ErrMissingAttribute) {
		return nil // an optional base attribute is absent: the rule has nothing to compute
	}
	if err != nil {
		return err
	}
	amount := lp.def.Rounding.Round(raw)
	why := t.FormulaReason(g.ID, g.Formula, formula, base, raw)
	if amount.IsNegative() {
		return lp.decrease(t, ev.Member, amount.Neg(), g.ID, why)
	}
	if amount.IsZero() {
		return nil
	}
	scope := "" // the caps' counters' scope; nothing reads it without caps
	if len(g.Caps) > 0 {
		scope = g.ID + "\x00" + ev.Member
	}
	granted, cut, err := rule.Use(t.Tx(), level.CapsBucket, scope, g.Caps, t.At(), t.Location(), amount)
	if err != nil {
		return err
	}
	why.Cut = cut
	if granted.IsZero() {
		return nil
	}
	if o := g.Order; o != nil {
		if id, ok := ev.String(o.ID); ok && id != "" {
			ord, found, err := level.LoadOrder(t.Tx(), ev.Member, id)
			if err != nil {
				return err
			}
			if !found {
				ord.Amount, _ = ev.Decimal(o.Amount)
				ord.Refunded = decimal.Zero
			}
			ord.Grants = append(ord.Grants, level.Grant{Rule: g.ID, Time: t.At(), Granted: granted, Reversed: decimal.Zero})
			if err := level.SaveOrder(t.Tx(), ev.Member, id, ord); err != nil {
				return err
			}
		}
	}
	return lp.increase(t, ev.Member, granted, KindGrowthEarned, why)
}

// refund reverses, in proportion, the growth the refunded order earned.
func (lp *levelPart) refund(t *engine.Unit, ev event.Event, r level.RefundRule) error {
	id, _ := ev.String(r.Order)
	amount, _ := ev.Decimal(r.Amount)
	if id == "" || !amount.IsPositive() {
		return fmt.Errorf("level: refund rule %q: %w: order %q, amount %s", r.ID, level.ErrInvalidRefund, id, amount)
	}
	ord, found, err := level.LoadOrder(t.Tx(), ev.Member, id)
	if err != nil || !found {
		return err // an order that earned no growth has nothing to reverse
	}
	for i, g := range ord.Grants {
		rev := level.Reversal(g.Granted, ord.Amount, ord.Refunded, amount, g.Reversed, lp.def.Rounding)
		if rev.IsZero() {
			continue
		}
		ord.Grants[i].Reversed = g.Reversed.Add(rev)
		for _, gr := range lp.def.Growth {
			if gr.ID == g.Rule {
				if err := rule.Release(t.Tx(), level.CapsBucket, gr.ID+"\x00"+ev.Member, gr.Caps, g.Time, t.Location(), rev); err != nil {
					return err
				}
			}
		}
		why := rule.Reason{Rule: r.ID, Formula: "granted × refunded ÷ order amount", Inputs: map[string]string{
			"rule": g.Rule, "granted": g.Granted.String(), "order_amount": ord.Amount.String(),
			"refunded_before": ord.Refunded.String(), r.Amount: amount.String(), "reversed_before": g.Reversed.String(),
		}}
		if err := lp.decrease(t, ev.Member, rev, r.ID, why); err != nil {
			return err
		}
	}
	ord.Refunded = ord.Refunded.Add(amount)
	return level.SaveOrder(t.Tx(), ev.Member, id, ord)
}

// increase adds amount to the member's growth and upgrades them as far as
// it reaches.
func (lp *levelPart) increase(t *engine.Unit, member string, amount decimal.Decimal, kind ledger.Kind, why rule.Reason) error {
	m, err := lp.member(t, member)
	if err != nil {
		return err
	}
	posted, err := t.Post(ledger.Transaction{Kind: kind, Legs: []ledger.Leg{
		ledger.Leg{Account: ledger.MemberAccount(member, ledger.Growth, ""), Amount: amount},
		ledger.Leg{Account: ledger.Pool(ledger.Growth, string(kind)), Amount: codec.Neg(amount)},
	}})
	if err != nil {
		return err
	}
	if err := level.AddDay(t.Tx(), member, &m, t.At(), t.Location(), amount); err != nil {
		return err
	}
	m.Lifetime = codec.Add(m.Lifetime, amount)
	m.Frozen = level.Earn(m.Frozen, amount, t.At())
	if err := lp.save(t, member, m); err != nil {
		return err
	}
	gc := GrowthChange{Amount: amount, Balance: posted.Entries[0].Balance, Lifetime: m.Lifetime, Kind: kind, Rule: why.Rule}
	if err := t.EmitWith(ChangeGrowthChanged, member, &why, gc.encode); err != nil {
		return err
	}
	return lp.settle(t, member, posted.Entries[0].Balance)
}

// decrease takes amount from the member's growth, never below zero (the
// shortfall is recorded); it never changes the level.
func (lp *levelPart) decrease(t *engine.Unit, member string, amount decimal.Decimal, ruleID string, why rule.Reason) error {
	m, err := lp.member(t, member)
	if err != nil {
		return err
	}
	bal, err := lp.balance(t, member)
	if err != nil {
		return err
	}
	take := decimal.Min(amount, bal)
	short := amount.Sub(take)
	if short.IsPositive() {
		why.Note = fmt.Sprintf("growth %s cannot go below zero: shortfall %s not taken", bal, short)
	}
	if take.IsPositive() {
		if _, err := t.Post(ledger.Transaction{Kind: KindGrowthReversed, Legs: []ledger.Leg{
			{Account: ledger.MemberAccount(member, ledger.Growth, ""), Amount: take.Neg()},
			{Account: ledger.Pool(ledger.Growth, string(KindGrowthReversed)), Amount: take},
		}}); err != nil {
			return err
		}
		if err := level.AddDay(t.Tx(), member, &m, t.At(), t.Location(), take.Neg()); err != nil {
			return err
		}
		m.Lifetime = decimal.Max(m.Lifetime.Sub(take), decimal.Zero)
		m.Frozen = level.Earn(m.Frozen, take.Neg(), t.At())
		if err := lp.save(t, member, m); err != nil {
			return err
		}
	}
	return t.Emit(ChangeGrowthChanged, member, GrowthChange{Amount: take.Neg(), Balance: bal.Sub(take), Lifetime: m.Lifetime, Kind: KindGrowthReversed, Rule: ruleID, Shortfall: short}, &why)
}

// settle moves the member up after a growth increase: to a frozen level
// whose unfreeze threshold is reached, or to the highest level the growth
// reaches, granting the gifts of each level crossed. bal is the member's
// growth balance after the increase.
func (lp *levelPart) settle(t *engine.Unit, member string, bal decimal.Decimal) error {
	if len(lp.def.Ladder) == 0 {
		return nil
	}
	// Decide on the cached state; copy it only to change it (an upgrade).
	pm, ok, err := lp.peek(t, member)
	if err != nil {
		return err
	}
	if !ok {
		m, err := lp.member(t, member)
		if err != nil {
			return err
		}
		pm = &m
	}
	cur := lp.def.Index(pm.Level)
	crossed := lp.def.Upgrade(cur, bal)
	top := cur
	if len(crossed) > 0 {
		top = crossed[len(crossed)-1]
	}
	cause := level.CauseEvent
	var why *rule.Reason
	if to, ok := lp.def.Unfreeze(pm.Frozen, cur, t.At()); ok && to > top {
		top, cause, crossed = to, level.CauseUnfreeze, nil
		for _, f := range pm.Frozen {
			if f.Level == lp.def.Ladder[to].Name {
				why = &rule.Reason{Rule: "level.unfreeze", Inputs: map[string]string{
					"earned_since_downgrade": f.Earned.String(), "unfreeze": lp.def.Ladder[to].Freeze.Unfreeze.String()}}
			}
		}
	}
	if top == cur {
		return nil // the usual case: no upgrade, and no reason to build
	}
	m, err := lp.member(t, member) // a copy to change
	if err != nil {
		return err
	}
	if why == nil {
		why = &rule.Reason{Rule: "level.upgrade", Inputs: map[string]string{"growth": bal.String()}}
		if cause == level.CauseEvent {
			why.Inputs["upgrade"] = lp.def.Ladder[top].Upgrade.String()
		}
	}
	if err := lp.change(t, member, &m, top, cause, bal, nil, why, level.Record{}); err != nil {
		return err
	}
	// Mark the gifts before granting them: a growth gift may upgrade again
	// and must see them as granted.
	var gifts []int
	for _, i := range crossed {
		l := lp.def.Ladder[i]
		if len(l.Gifts) == 0 || (!l.GiftEveryTime && m.HasGift(l.Name)) {
			continue
		}
		if !m.HasGift(l.Name) {
			m.Gifted = append(m.Gifted, l.Name)
		}
		gifts = append(gifts, i)
	}
	if err := lp.save(t, member, m); err != nil {
		return err
	}
	for _, i := range gifts {
		l := lp.def.Ladder[i]
		for _, g := range l.Gifts {
			gwhy := rule.Reason{Rule: "level." + l.Name + ".gift", Note: "upgrade gift of " + l.Name}
			if err := t.Emit(ChangeLevelGift, member, LevelGift{Level: l.Name, Reward: g}, &gwhy); err != nil {
				return err
			}
			if err := t.Reward(member, g, gwhy); err != nil {
				return fmt.Errorf("level: gift of %q: %w", l.Name, err)
			}
		}
	}
	return nil
}

// change moves the member (whose state is *m) to ladder level to at t.At(),
// starting a new term: it updates the counters, thaws the freezes at or
// below the new level, records the history and emits the change. It saves
// *m. rec carries the record's extra fields.
func (lp *levelPart) change(t *engine.Unit, member string, m *level.Member, to int, cause level.Cause, growth decimal.Decimal, window *decimal.Decimal, why *rule.Reason, rec level.Record) error {
	from := m.Level
	l := lp.def.Ladder[to]
	end := l.TermEnd(t.At(), t.Location())
	if err := lp.scheduleTerm(t, member, m.TermEnd, end); err != nil {
		return err
	}
	m.Level, m.Since, m.TermEnd = l.Name, t.At(), end
	if from != l.Name {
		if err := level.AddCount(t.Tx(), from, -1); err != nil {
			return err
		}
		if err := level.AddCount(t.Tx(), l.Name, 1); err != nil {
			return err
		}
	}
	kept, released := lp.def.Thaw(m.Frozen, to)
	m.Frozen = kept
	for _, f := range released {
		if !f.Deadline.IsZero() {
			if err := due.Cancel(t.Tx(), f.Deadline, dueLevelFreeze, member+"|"+f.Level); err != nil {
				return err
			}
		}
		fc := FreezeChange{Level: f.Level, Since: f.Since, Deadline: f.Deadline, Earned: f.Earned, Returned: cause == level.CauseUnfreeze && f.Level == l.Name}
		if err := t.Emit(ChangeLevelUnfrozen, member, fc, why); err != nil {
			return err
		}
	}
	rec.Time, rec.Cause, rec.From, rec.To, rec.TermEnd, rec.Window = t.At(), cause, from, l.Name, end, window
	if rec.Event == "" {
		rec.Event = t.Ref().Event
	}
	if err := level.AppendHistory(t.Tx(), member, m, &rec); err != nil {
		return err
	}
	if err := lp.save(t, member, *m); err != nil {
		return err
	}
	return t.Emit(ChangeLevelChanged, member, LevelChange{From: from, To: l.Name, Cause: cause, TermEnd: end, Growth: growth, Window: window}, why)
}

// termEnd performs the end at T = t.At() of the member's term: retention
// over the window [T − W months, T), keep or downgrade by the level's
// mode, re-base growth, freeze the level left, and start the next term at
// T. An end that does not match the member's current term (replaced by an
// upgrade meanwhile) is ignored.
func (lp *levelPart) termEnd(t *engine.Unit, member string, end time.Time) error {
	m, ok, err := lp.load(t, member)
	if err != nil || !ok || !m.TermEnd.Equal(end) {
		return err
	}
	if err := due.Cancel(t.Tx(), end, dueLevelTerm, member); err != nil {
		return err
	}
	cur := lp.def.Index(m.Level)
	if cur < 0 {
		// The level left the definition: keep the member where they are
		// rather than block Advance; an upgrade or a manual set moves them.
		lp.p.log.Warn("level: term end of a level no longer defined", "member", member, "level", m.Level)
		return nil
	}
	l := lp.def.Ladder[cur]
	from := level.WindowStart(end, max(l.Window, 1), t.Location())
	g, err := level.Earned(t.Tx(), member, m, from, end, t.Location())
	if err != nil {
		return err
	}
	g = decimal.Max(g, decimal.Zero)
	after, err := level.Earned(t.Tx(), member, m, end, time.Time{}, t.Location())
	if err != nil {
		return err
	}
	to, kept := lp.def.Retain(cur, g)
	// Re-base: growth becomes the window's growth (plus anything already
	// earned from T on).
	target := decimal.Max(g.Add(after), decimal.Zero)
	bal, err := lp.balance(t, member)
	if err != nil {
		return err
	}
	if diff := target.Sub(bal); !diff.IsZero() {
		if _, err := t.Post(ledger.Transaction{Kind: KindGrowthRebased, Legs: []ledger.Leg{
			{Account: ledger.MemberAccount(member, ledger.Growth, ""), Amount: diff},
			{Account: ledger.Pool(ledger.Growth, string(KindGrowthRebased)), Amount: diff.Neg()},
		}}); err != nil {
			return err
		}
		if err := t.Emit(ChangeGrowthChanged, member, GrowthChange{Amount: diff, Balance: target, Lifetime: m.Lifetime, Kind: KindGrowthRebased},
			&rule.Reason{Rule: "level.rebase", Inputs: map[string]string{"window_growth": g.String(), "window_from": from.Format(time.RFC3339), "window_to": end.Format(time.RFC3339)}}); err != nil {
			return err
		}
	}
	why := &rule.Reason{Rule: "level.retention", Inputs: map[string]string{
		"window_growth": g.String(), "retention": l.Retention.String(), "window_months": fmt.Sprint(l.Window),
		"window_from": from.Format(time.RFC3339), "window_to": end.Format(time.RFC3339)}}
	if !kept {
		why.Note = fmt.Sprintf("window growth %s below retention %s: downgrade by %s", g, l.Retention, modeOf(l))
		var f *level.Frozen
		m.Frozen, f = lp.def.Freeze(m.Frozen, cur, end, t.Location())
		if f != nil {
			if !f.Deadline.IsZero() {
				if err := t.Schedule(f.Deadline, dueLevelFreeze, member+"|"+f.Level, freezeDue{Member: member, Level: f.Level}); err != nil {
					return err
				}
			}
			if err := t.Emit(ChangeLevelFrozen, member, FreezeChange{Level: f.Level, Since: f.Since, Deadline: f.Deadline, Earned: f.Earned}, why); err != nil {
				return err
			}
		}
	} else {
		why.Note = "kept"
	}
	return lp.change(t, member, &m, to, level.CauseTermEnd, target, &g, why, level.Record{})
}

func modeOf(l level.Level) level.DowngradeMode {
	if l.Downgrade == "" {
		return level.NextLower
	}
	return l.Downgrade
}

// purchase buys or renews the plans ev names.
func (lp *levelPart) purchase(t *engine.Unit, ev event.Event) error {
	for _, pl := range lp.def.Plans {
		if name, ok := ev.String(pl.Attr); ev.Type != pl.Event || !ok || name != pl.Name {
			continue
		}
		m, err := lp.member(t, ev.Member)
		if err != nil {
			return err
		}
		held, i := m.Held(pl.Name)
		base := t.At()
		renewed := i >= 0 && held.Expires.After(t.At())
		if renewed {
			base = held.Expires
		}
		exp := pl.Extend(base, t.Location())
		id := pl.Name + "|" + ev.Member
		if i >= 0 {
			if err := due.Cancel(t.Tx(), held.Expires, duePlanExpiry, id); err != nil {
				return err
			}
			m.Plans[i].Expires = exp
			if !renewed {
				m.Plans[i].Since = t.At()
			}
			held = m.Plans[i]
		} else {
			held = level.Held{Plan: pl.Name, Since: t.At(), Expires: exp}
			m.Plans = append(m.Plans, held)
			if err := level.AddCount(t.Tx(), pl.Name, 1); err != nil {
				return err
			}
		}
		if err := t.Schedule(exp, duePlanExpiry, id, planDue{Member: ev.Member, Plan: pl.Name}); err != nil {
			return err
		}
		if err := level.AppendHistory(t.Tx(), ev.Member, &m, &level.Record{Time: t.At(), Cause: level.CausePurchase, Event: ev.ID, Plan: pl.Name, Expires: exp}); err != nil {
			return err
		}
		if err := lp.save(t, ev.Member, m); err != nil {
			return err
		}
		why := &rule.Reason{Rule: "plan." + pl.Name, Inputs: map[string]string{"period": string(pl.Period), "from": base.Format(time.RFC3339)}}
		if err := t.Emit(ChangePlanPurchased, ev.Member, PlanChange{Plan: pl.Name, Since: held.Since, Expires: exp, Renewed: renewed}, why); err != nil {
			return err
		}
	}
	return nil
}

type planDue struct {
	Member string `json:"member"`
	Plan   string `json:"plan"`
}

func (lp *levelPart) Due(t *engine.Unit, it engine.Item) error {
	switch it.Kind {
	case dueLevelTerm:
		return lp.termEnd(t, it.ID, it.At)
	case dueLevelFreeze:
		return lp.freezeDeadline(t, it)
	case duePlanExpiry:
		return lp.planExpiry(t, it)
	}
	return nil
}

// freezeDeadline releases a fixed-duration freeze whose deadline is it.At.
func (lp *levelPart) freezeDeadline(t *engine.Unit, it engine.Item) error {
	var fd freezeDue
	if err := json.Unmarshal(it.Payload, &fd); err != nil {
		return err
	}
	m, ok, err := lp.load(t, fd.Member)
	if err != nil || !ok {
		return err
	}
	for j, f := range m.Frozen {
		if f.Level != fd.Level || !f.Deadline.Equal(it.At) {
			continue
		}
		m.Frozen = append(m.Frozen[:j:j], m.Frozen[j+1:]...)
		if err := lp.save(t, fd.Member, m); err != nil {
			return err
		}
		return t.Emit(ChangeLevelUnfrozen, fd.Member, FreezeChange{Level: f.Level, Since: f.Since, Deadline: f.Deadline, Earned: f.Earned},
			&rule.Reason{Rule: "level.freeze", Note: "fixed-duration freeze ran out"})
	}
	return nil // stale: the freeze ended otherwise
}

type freezeDue struct {
	Member string `json:"member"`
	Level  string `json:"level"`
}

// planExpiry ends a plan whose expiry is it.At.
func (lp *levelPart) planExpiry(t *engine.Unit, it engine.Item) error {
	var pd planDue
	if err := json.Unmarshal(it.Payload, &pd); err != nil {
		return err
	}
	m, ok, err := lp.load(t, pd.Member)
	if err != nil || !ok {
		return err
	}
	held, i := m.Held(pd.Plan)
	if i < 0 || !held.Expires.Equal(it.At) {
		return nil
	}
	m.Plans = append(m.Plans[:i:i], m.Plans[i+1:]...)
	if err := level.AddCount(t.Tx(), pd.Plan, -1); err != nil {
		return err
	}
	if err := level.AppendHistory(t.Tx(), pd.Member, &m, &level.Record{Time: t.At(), Cause: level.CauseExpiry, Plan: pd.Plan, Expires: held.Expires}); err != nil {
		return err
	}
	if err := lp.save(t, pd.Member, m); err != nil {
		return err
	}
	return t.Emit(ChangePlanExpired, pd.Member, PlanChange{Plan: pd.Plan, Since: held.Since, Expires: held.Expires}, &rule.Reason{Rule: "plan." + pd.Plan, Note: "expired"})
}

// SetLevelRequest is an operator's manual level set.
type SetLevelRequest struct {
	Member string `json:"member"`
	Level  string `json:"level"`
	// Operator and Reason say who set it and why; both are required.
	Operator string `json:"operator"`
	Reason   string `json:"reason"`
	// At is when the level takes effect and the new term starts.
	At time.Time `json:"at"`
}

// SetLevel sets a member's level by hand, starting a new term at req.At;
// growth is left as it is and no upgrade gift is granted. The request ID
// makes retries idempotent. It returns errors wrapping ErrInvalidArgument
// (empty member, operator or reason, zero time), level.ErrNoLadder,
// level.ErrUnknownLevel, or ErrEventConflict for a request ID reused with
// another request.
func (p *Program) SetLevel(ctx context.Context, requestID string, req SetLevelRequest) (*change.Outcome, error) {
	lp := p.parts.level
	switch {
	case lp == nil || len(lp.def.Ladder) == 0:
		return nil, fmt.Errorf("membership: set level: %w", level.ErrNoLadder)
	case req.Member == "" || req.Operator == "" || req.Reason == "" || req.At.IsZero():
		return nil, fmt.Errorf("membership: set level: %w: member, operator, reason and time are required", ErrInvalidArgument)
	}
	to := lp.def.Index(req.Level)
	if to < 0 {
		return nil, fmt.Errorf("membership: set level %q: %w", req.Level, level.ErrUnknownLevel)
	}
	out, err := p.apply(ctx, requestID, req, req.At, ledger.Ref{Operator: req.Operator, Note: req.Reason}, req.Member, func(t *engine.Unit) error {
		if err := lp.catchUp(t, req.Member); err != nil {
			return err
		}
		m, err := lp.member(t, req.Member)
		if err != nil {
			return err
		}
		bal, err := lp.balance(t, req.Member)
		if err != nil {
			return err
		}
		why := &rule.Reason{Rule: "level.manual", Inputs: map[string]string{"operator": req.Operator}, Note: req.Reason}
		return lp.change(t, req.Member, &m, to, level.CauseManual, bal, nil, why, level.Record{Operator: req.Operator, Note: req.Reason})
	})
	if err != nil {
		return nil, fmt.Errorf("membership: set level of %q: %w", req.Member, err)
	}
	return out, nil
}

// LevelStatus is a member's level, term, growth, freezes and plans.
type LevelStatus struct {
	Member string `json:"member"`
	// Level is the ladder level (the entry level for a member never seen).
	Level string `json:"level,omitempty"`
	// Since and TermEnd bound the current term (TermEnd zero: permanent).
	Since   time.Time `json:"since,omitzero"`
	TermEnd time.Time `json:"term_end,omitzero"`
	// Growth is the current growth; Lifetime the net growth ever earned.
	Growth   decimal.Decimal `json:"growth"`
	Lifetime decimal.Decimal `json:"lifetime"`
	// Frozen lists the frozen levels with their deadlines (zero: long-term)
	// and the growth earned since each downgrade.
	Frozen []level.Frozen `json:"frozen,omitempty"`
	// Plans lists the paid plans held; a plan is held until Advance
	// performs its expiry.
	Plans []level.Held `json:"plans,omitempty"`
}

// LevelStatus returns a member's level status. It performs no due work: a
// term end not yet performed by Advance shows as the current term.
func (p *Program) LevelStatus(ctx context.Context, member string) (LevelStatus, error) {
	s := LevelStatus{Member: member, Growth: decimal.Zero, Lifetime: decimal.Zero}
	err := p.view(ctx, func(tx store.Tx, led *ledger.Ledger) error {
		m, ok, err := level.Load(tx, member)
		if err != nil {
			return err
		}
		if !ok && p.def.Levels != nil && len(p.def.Levels.Ladder) > 0 {
			s.Level = p.def.Levels.Ladder[0].Name
			return nil
		}
		s.Level, s.Since, s.TermEnd, s.Lifetime, s.Frozen, s.Plans = m.Level, m.Since, m.TermEnd, m.Lifetime, m.Frozen, m.Plans
		s.Growth, err = led.Balance(ledger.MemberAccount(member, ledger.Growth, ""))
		return err
	})
	if err != nil {
		return s, fmt.Errorf("membership: level status of %q: %w", member, err)
	}
	return s, nil
}

// LevelHistory returns up to limit (1 to 1000; default 100) of a member's
// level history records with Seq after after, oldest first: every level
// change with its cause, and plan purchases and expiries.
func (p *Program) LevelHistory(ctx context.Context, member string, after uint64, limit int) ([]level.Record, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var out []level.Record
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		var err error
		out, err = level.History(tx, member, after, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("membership: level history of %q: %w", member, err)
	}
	return out, nil
}

// LevelCount is the number of members holding a level or a plan.
type LevelCount struct {
	Name    string `json:"name"`
	Plan    bool   `json:"plan,omitempty"`
	Members int64  `json:"members"`
}

// LevelCounts returns the number of members at each ladder level (lowest
// first), then holding each plan. The counts are kept up to date on every
// change, so this reads one counter per level.
func (p *Program) LevelCounts(ctx context.Context) ([]LevelCount, error) {
	var out []LevelCount
	if p.def.Levels == nil {
		return nil, nil
	}
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		out = out[:0]
		for _, l := range p.def.Levels.Ladder {
			n, err := level.Count(tx, l.Name)
			if err != nil {
				return err
			}
			out = append(out, LevelCount{Name: l.Name, Members: n})
		}
		for _, pl := range p.def.Levels.Plans {
			n, err := level.Count(tx, pl.Name)
			if err != nil {
				return err
			}
			out = append(out, LevelCount{Name: pl.Name, Plan: true, Members: n})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("membership: level counts: %w", err)
	}
	return out, nil
}

// LevelForecastItem is a member whose term ends soon.
type LevelForecastItem struct {
	Member  string    `json:"member"`
	Level   string    `json:"level"`
	TermEnd time.Time `json:"term_end"`
	// Window is the growth earned so far in the retention window ending
	// at TermEnd; Retention the level's retention threshold.
	Window    decimal.Decimal `json:"window"`
	Retention decimal.Decimal `json:"retention"`
	// Needed is the growth still needed before TermEnd to keep the level
	// (zero when it is kept already).
	Needed decimal.Decimal `json:"needed"`
	// Next is the level the member would hold after TermEnd with no more
	// growth.
	Next string `json:"next"`
}

// LevelForecast returns up to limit (1 to 10000; default 1000) members
// whose term ends in [from, from + days days), earliest first, with the
// growth each still needs to keep their level. It reads the due index
// over that range, so its cost is proportional to what falls due there.
// It returns an error wrapping ErrInvalidArgument for days < 1.
func (p *Program) LevelForecast(ctx context.Context, from time.Time, days, limit int) ([]LevelForecastItem, error) {
	if days < 1 || from.IsZero() {
		return nil, fmt.Errorf("membership: level forecast: %w: need a time and days >= 1", ErrInvalidArgument)
	}
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	if p.def.Levels == nil {
		return nil, nil
	}
	d := *p.def.Levels
	to := from.In(p.loc).AddDate(0, 0, days)
	var out []LevelForecastItem
	err := p.view(ctx, func(tx store.Tx, _ *ledger.Ledger) error {
		out = out[:0]
		return due.Range(tx, from, to, func(it engine.Item) error {
			if it.Kind != dueLevelTerm {
				return nil
			}
			if len(out) == limit {
				return store.StopScan
			}
			m, ok, err := level.Load(tx, it.ID)
			if err != nil || !ok || !m.TermEnd.Equal(it.At) {
				return err
			}
			cur := d.Index(m.Level)
			if cur < 0 {
				return nil
			}
			l := d.Ladder[cur]
			g, err := level.Earned(tx, it.ID, m, level.WindowStart(it.At, max(l.Window, 1), p.loc), it.At, p.loc)
			if err != nil {
				return err
			}
			g = decimal.Max(g, decimal.Zero)
			next, _ := d.Retain(cur, g)
			out = append(out, LevelForecastItem{Member: it.ID, Level: l.Name, TermEnd: it.At.In(p.loc), Window: g, Retention: l.Retention,
				Needed: decimal.Max(l.Retention.Sub(g), decimal.Zero), Next: d.Ladder[next].Name})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("membership: level forecast: %w", err)
	}
	return out, nil
}

// levelState is the level part's state in one unit of work: the last
// member state read or saved, decoded (an event reads a member's level
// state several times: catch-up, rules, upgrade), and the buffers that
// Load and Save reuse.
type levelState struct {
	member  string
	m       level.Member
	ok      bool
	scratch level.Scratch
}

// Reset forgets the member read in the last unit.
func (s *levelState) Reset() { s.member = "" }

// NewState returns the part's per-unit state.
func (lp *levelPart) NewState() engine.State { return &levelState{} }

func (lp *levelPart) state(t *engine.Unit) *levelState {
	if s, ok := t.State(lp).(*levelState); ok {
		return s
	}
	return &levelState{}
}

// load returns a member's level state (ok false for a member never seen);
// the caller gets its own copy to change.
func (lp *levelPart) load(t *engine.Unit, member string) (level.Member, bool, error) {
	m, ok, err := lp.peek(t, member)
	if err != nil {
		return level.Member{}, ok, err
	}
	return cloneMember(*m), ok, nil
}

// peek is load for a caller that only reads: it returns the state the
// unit holds, which the caller must not change or keep past the next save
// (a copy of the state costs on every event).
func (lp *levelPart) peek(t *engine.Unit, member string) (*level.Member, bool, error) {
	s := lp.state(t)
	if s.member != member || member == "" {
		m, ok, err := s.scratch.Load(t.Tx(), member)
		if err != nil {
			s.member = ""
			return nil, ok, err
		}
		s.member, s.m, s.ok = member, m, ok
	}
	return &s.m, s.ok, nil
}

// save stores a member's level state.
func (lp *levelPart) save(t *engine.Unit, member string, m level.Member) error {
	s := lp.state(t)
	if err := s.scratch.Save(t.Tx(), member, m); err != nil {
		s.member = "" // unknown state: read again
		return err
	}
	s.member, s.m, s.ok = member, cloneMember(m), true
	return nil
}

func cloneMember(m level.Member) level.Member {
	m.Frozen = slices.Clone(m.Frozen)
	m.Gifted = slices.Clone(m.Gifted)
	m.Plans = slices.Clone(m.Plans)
	return m
}

// Level returns the member's current ladder level, for the other parts
// (the entry level for a member never seen; "" without a ladder).
func (lp *levelPart) Level(t *engine.Unit, member string) (string, error) {
	if len(lp.def.Ladder) == 0 {
		return "", nil
	}
	m, ok, err := lp.peek(t, member)
	if err != nil || !ok {
		return lp.def.Ladder[0].Name, err
	}
	return m.Level, nil
}

// Plans returns the paid plans the member holds at the unit's time.
func (lp *levelPart) Plans(t *engine.Unit, member string) ([]string, error) {
	if len(lp.def.Plans) == 0 {
		return nil, nil
	}
	m, _, err := lp.peek(t, member)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range m.Plans {
		if h.Expires.IsZero() || t.At().Before(h.Expires) {
			out = append(out, h.Plan)
		}
	}
	return out, nil
}

// encode appends c's JSON (for Unit.EmitWith).
func (c *GrowthChange) encode(b []byte) ([]byte, error) {
	b, _ = c.AppendJSON(b) // always ok
	return b, nil
}

func (c GrowthChange) AppendJSON(b []byte) ([]byte, bool) {
	o := engine.JSONObject{B: append(b, '{')}
	o.Dec("amount", c.Amount, false)
	o.Dec("balance", c.Balance, false)
	o.Dec("lifetime", c.Lifetime, false)
	o.Str("kind", string(c.Kind), false)
	o.Str("rule", c.Rule, true)
	o.Dec("shortfall", c.Shortfall, true)
	return append(o.B, '}'), true
}
