package level

import (
	"fmt"
	"slices"
	"strings"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Definition is the level part of a program definition: the ladder, the
// growth rules that feed it, the refund rules that take growth back, and
// the paid plans.
type Definition struct {
	// Ladder lists the levels from the entry level (upgrade threshold 0)
	// upwards, by strictly increasing upgrade threshold.
	Ladder []Level `json:"ladder,omitempty"`
	// Growth lists the growth rules.
	Growth []GrowthRule `json:"growth,omitempty"`
	// Refunds lists the refund rules.
	Refunds []RefundRule `json:"refunds,omitempty"`
	// Plans lists the paid plans.
	Plans []Plan `json:"plans,omitempty"`
	// Rounding is the growth scale; the zero value keeps whole units,
	// rounding down.
	Rounding rule.Rounding `json:"rounding,omitzero"`
}

// DowngradeMode says where a member who fails retention goes.
type DowngradeMode string

// The downgrade modes. The empty mode is NextLower.
const (
	// NextLower is the level just below (下一级).
	NextLower DowngradeMode = "next_lower"
	// Matching is the highest level whose upgrade threshold is at most the
	// window's growth, never above the current level (对应级别).
	Matching DowngradeMode = "matching"
	// Lowest is the entry level (最低级别).
	Lowest DowngradeMode = "lowest"
)

// Level is one rung of the ladder.
type Level struct {
	// Name identifies the level (benefits bind to it).
	Name string `json:"name"`
	// Upgrade is the upgrade threshold U: growth ≥ U reaches the level.
	Upgrade decimal.Decimal `json:"upgrade"`
	// Retention is the retention threshold R: net growth in the retention
	// window ≥ R keeps the level at a term end. It is at most Upgrade
	// (Check refuses more): keeping a level never asks more than reaching
	// it did. The window's net growth counts what its refunds took, so it
	// may be negative: with R = 0 the level is still lost when refunds in
	// the window took more than was earned there. A level meant never to
	// be lost takes a permanent Validity (no term end), not R = 0.
	Retention decimal.Decimal `json:"retention,omitzero"`
	// Validity is the length of a term (permanent: no term end).
	Validity rule.Validity `json:"validity"`
	// Downgrade is the mode used when retention fails (default NextLower).
	Downgrade DowngradeMode `json:"downgrade,omitempty"`
	// Window is the retention window W in months, counted back from the
	// term end; at least 1 unless the validity is permanent.
	Window int `json:"window,omitempty"`
	// Gifts are granted on reaching the level.
	Gifts []rule.Reward `json:"gifts,omitempty"`
	// GiftEveryTime grants the gifts on every upgrade to the level, not
	// only the first.
	GiftEveryTime bool `json:"gift_every_time,omitempty"`
	// Freeze, when set, freezes the level for a member downgraded from it
	// at a term end.
	Freeze *Freeze `json:"freeze,omitempty"`
}

// FreezeKind says how long a frozen level stays frozen.
type FreezeKind string

// The freeze kinds.
const (
	// LongTerm has no deadline and survives further downgrades.
	LongTerm FreezeKind = "long_term"
	// FixedDuration lasts Duration from the downgrade.
	FixedDuration FreezeKind = "fixed"
)

// Freeze is a level's freeze strategy (冻结策略): after a downgrade from
// the level, growth earned from then on is counted and, once it reaches
// Unfreeze, the member returns to the level.
type Freeze struct {
	Kind FreezeKind `json:"kind"`
	// Duration, for FixedDuration (and refused with LongTerm), is how long the freeze lasts from the
	// downgrade: a validity of kind days_after, months_after or
	// month_ends, applied to the downgrade instant.
	Duration rule.Validity `json:"duration,omitzero"`
	// Unfreeze is the growth to earn after the downgrade to return: net
	// of what refunds dated from the downgrade on took, so a refund may
	// leave more than Unfreeze to earn (see Frozen.Earned).
	Unfreeze decimal.Decimal `json:"unfreeze"`
}

// GrowthRule turns events into growth (成长值规则).
type GrowthRule struct {
	ID string `json:"id"`
	// Event is the event type the rule acts on.
	Event string `json:"event"`
	// Conditions must all match the event.
	Conditions []event.Condition `json:"conditions,omitempty"`
	// Levels the rule applies to (the member's level at the event's time:
	// for a late event, dated before the current level started, the level
	// the history says the member held then); empty means every level.
	Levels []string `json:"levels,omitempty"`
	// Effective is the period in which the rule applies (open bounds).
	Effective rule.Window `json:"effective,omitzero"`
	// Formula computes the amount, then rounded to the growth scale. A
	// negative result takes growth away (never below zero).
	Formula rule.Formula `json:"formula"`
	// Caps limit the growth the rule grants a member per period; a limit
	// has at most the growth scale's decimal places.
	Caps rule.Caps `json:"caps,omitempty"`
	// Order, when set, makes the rule remember per order what it granted,
	// so refund rules can reverse it in proportion.
	Order *OrderRef `json:"order,omitempty"`
}

// OrderRef names the attributes of an earning event that identify its
// order and give the order's amount.
type OrderRef struct {
	// ID names the string attribute holding the order ID.
	ID string `json:"id"`
	// Amount names the decimal attribute holding the order's amount.
	Amount string `json:"amount"`
}

// RefundRule reverses, in proportion to the refunded amount, the growth
// that an order earned.
type RefundRule struct {
	ID string `json:"id"`
	// Event is the refund event type.
	Event string `json:"event"`
	// Order names the string attribute holding the refunded order's ID.
	Order string `json:"order"`
	// Amount names the decimal attribute holding the refunded amount.
	Amount string `json:"amount"`
}

// PeriodKind is the length of a paid plan.
type PeriodKind string

// The plan periods.
const (
	Monthly   PeriodKind = "monthly"
	Quarterly PeriodKind = "quarterly"
	Yearly    PeriodKind = "yearly"
	Days      PeriodKind = "days"
)

// Plan is a paid membership plan (付费会员): bought or renewed by a purchase
// event naming it, it runs for its period from max(purchase time, current
// expiry). Benefits bind to plans by name in package benefit.
type Plan struct {
	Name   string     `json:"name"`
	Period PeriodKind `json:"period"`
	// Days is the length of a Days period.
	Days int `json:"days,omitempty"`
	// Event is the purchase event type.
	Event string `json:"event"`
	// Attr names the string attribute of the purchase event holding the
	// plan's name.
	Attr string `json:"attr"`
}

// Env is what validating a definition needs to look up.
type Env interface {
	// EventType returns the declared event type named name.
	EventType(name string) (event.Type, bool)
	// CheckReward checks a reward granted by a source of kind from
	// (rule.FromLevel for a gift, rule.FromTask for a task's reward) and
	// that what it names exists and can be granted by that source.
	CheckReward(r rule.Reward, from rule.SourceKind) error
}

// Check reports every problem of the definition, each with its path
// relative to the definition ("ladder[2].upgrade: …"). The error is a
// *rule.Problems wrapping rule.ErrInvalidDefinition; nil when valid.
// A nil env is refused with an error wrapping rule.ErrInvalidDefinition.
func (d Definition) Check(env Env) error {
	if env == nil {
		// The lookups are not optional here: refused rather than a panic.
		return fmt.Errorf("%w: Check needs an Env (the program's event types and other domains); nil given", rule.ErrInvalidDefinition)
	}
	var ps rule.Problems
	d.checkLadder(&ps, env)
	d.checkGrowth(&ps, env)
	d.checkRefunds(&ps, env)
	d.checkPlans(&ps, env)
	ps.Add("rounding", d.Rounding.Check())
	return ps.Err()
}

func (d Definition) checkLadder(ps *rule.Problems, env Env) {
	names := map[string]bool{}
	for i, l := range d.Ladder {
		p := rule.Index("ladder", i)
		switch {
		case l.Name == "":
			ps.Addf(rule.Join(p, "name"), "empty")
		case names[l.Name]:
			ps.Addf(rule.Join(p, "name"), "duplicate level %q", l.Name)
		}
		names[l.Name] = true
		switch {
		case i == 0 && !l.Upgrade.IsZero():
			ps.Addf(rule.Join(p, "upgrade"), "the entry level's threshold must be 0, got %s", l.Upgrade)
		case i > 0 && !l.Upgrade.GreaterThan(d.Ladder[i-1].Upgrade):
			ps.Addf(rule.Join(p, "upgrade"), "must be greater than %s", d.Ladder[i-1].Upgrade)
		}
		if l.Retention.IsNegative() {
			ps.Addf(rule.Join(p, "retention"), "must not be negative")
		} else if l.Retention.GreaterThan(l.Upgrade) {
			ps.Addf(rule.Join(p, "retention"), "must not exceed the upgrade threshold %s", l.Upgrade)
		}
		ps.Add(rule.Join(p, "validity"), l.Validity.Check())
		switch l.Validity.Kind {
		case rule.FixedRange, rule.DaysAfter:
			ps.Addf(rule.Join(p, "validity", "kind"), "%s is not a level validity (permanent, annual_date, month_ends, months_after)", l.Validity.Kind)
		}
		if l.Validity.Kind != rule.Permanent && (l.Window < 1 || l.Window > 1200) {
			ps.Addf(rule.Join(p, "window"), "must be 1 to 1200 months when the validity is not permanent, got %d", l.Window)
		}
		switch l.Downgrade {
		case "", NextLower, Matching, Lowest:
		default:
			ps.Addf(rule.Join(p, "downgrade"), "unknown downgrade mode %q (want %s, %s or %s; empty is %s)", l.Downgrade, NextLower, Matching, Lowest, NextLower)
		}
		if i == 0 {
			// A member joins the entry level and never upgrades to it,
			// so its gifts would never be granted, without a word.
			const never = "the entry level is joined, never reached by an upgrade, so its gifts would never be granted (a registration gift is a coupon gift on the registration event, or a one-action task)"
			if len(l.Gifts) > 0 {
				ps.Addf(rule.Join(p, "gifts"), never)
			}
			if l.GiftEveryTime {
				ps.Addf(rule.Join(p, "gift_every_time"), never)
			}
		}
		for j, g := range l.Gifts {
			gp := rule.Join(p, rule.Index("gifts", j))
			ps.Add(gp, env.CheckReward(g, rule.FromLevel))
			// A repeat is granted twice on reaching the level, which one
			// gift says: surely a typo. A pack gift gives one pack and an
			// achievement is had once: no one gift says two.
			if k := slices.IndexFunc(l.Gifts[:j], func(h rule.Reward) bool { return sameReward(g, h) }); k >= 0 {
				switch g.Kind {
				case rule.RewardCoupon:
					ps.Addf(gp, "the same gift as %s (use count)", rule.Index("gifts", k))
				case rule.RewardPoints, rule.RewardGrowth:
					ps.Addf(gp, "the same gift as %s (add the amounts)", rule.Index("gifts", k))
				}
			}
		}
		if f := l.Freeze; f != nil {
			fp := rule.Join(p, "freeze")
			if i == 0 {
				ps.Addf(fp, "the entry level cannot be frozen (no one is downgraded from it)")
			}
			switch f.Kind {
			case LongTerm:
				if f.Duration.Kind != "" {
					// A long-term freeze has no deadline: a duration given
					// with it would be ignored without a word.
					ps.Addf(rule.Join(fp, "duration"), "a long_term freeze has no duration (use kind fixed for one)")
				}
			case FixedDuration:
				switch f.Duration.Kind {
				case rule.DaysAfter, rule.MonthsAfter, rule.MonthEnds:
					ps.Add(rule.Join(fp, "duration"), f.Duration.Check())
				default:
					ps.Addf(rule.Join(fp, "duration", "kind"), "must be days_after, months_after or month_ends, got %q", f.Duration.Kind)
				}
			default:
				ps.Addf(rule.Join(fp, "kind"), "unknown freeze kind %q (want %s or %s)", f.Kind, LongTerm, FixedDuration)
			}
			if !f.Unfreeze.IsPositive() {
				ps.Addf(rule.Join(fp, "unfreeze"), "must be > 0")
			}
		}
	}
}

func (d Definition) checkGrowth(ps *rule.Problems, env Env) {
	if len(d.Growth) > 0 && len(d.Ladder) == 0 {
		ps.Addf("growth", "growth rules need a ladder")
	}
	ids := map[string]bool{}
	for i, g := range d.Growth {
		p := rule.Index("growth", i)
		switch {
		case g.ID == "":
			ps.Addf(rule.Join(p, "id"), "empty")
		case ids[g.ID]:
			ps.Addf(rule.Join(p, "id"), "duplicate rule %q", g.ID)
		}
		ids[g.ID] = true
		for j, name := range g.Levels {
			if d.Index(name) < 0 {
				ps.Addf(rule.Join(p, rule.Index("levels", j)), "unknown level %q", name)
			}
		}
		ps.Add(rule.Join(p, "effective"), g.Effective.Check())
		ps.Add(rule.Join(p, "caps"), g.Caps.Check())
		for j, c := range g.Caps {
			// A limit finer than the growth scale would cut a grant to a
			// fraction no other growth amount has (15.5 of whole units
			// granted 5.5).
			if !c.Limit.IsNegative() && !c.Limit.Equal(d.Rounding.Round(c.Limit)) {
				ps.Addf(rule.Join(p, rule.Index("caps", j), "limit"), "%s has more decimal places than the growth scale (%d)", c.Limit, d.Rounding.Scale)
			}
		}
		t, ok := env.EventType(g.Event)
		if !ok {
			ps.Add(rule.Join(p, "event"), fmt.Errorf("%w %q", event.ErrUnknownType, g.Event))
			continue
		}
		for j, c := range g.Conditions {
			for _, err := range c.Check(t) {
				ps.Add(rule.Join(p, rule.Index("conditions", j)), err)
			}
		}
		ps.Add(rule.Join(p, "formula"), g.Formula.Check(t))
		if o := g.Order; o != nil {
			attr(ps, rule.Join(p, "order", "id"), t, o.ID, event.String)
			attr(ps, rule.Join(p, "order", "amount"), t, o.Amount, event.Decimal)
		}
	}
}

func (d Definition) checkRefunds(ps *rule.Problems, env Env) {
	if len(d.Refunds) > 0 && len(d.Ladder) == 0 {
		ps.Addf("refunds", "refund rules need a ladder")
	}
	// A refund reverses what a growth rule recorded for the order; with no
	// rule recording orders it would reverse nothing, silently.
	if len(d.Refunds) > 0 && !slices.ContainsFunc(d.Growth, func(g GrowthRule) bool { return g.Order != nil }) {
		ps.Addf("refunds", "no growth rule records its orders (order), so a refund would reverse nothing")
	}
	ids := map[string]bool{}
	type reads struct{ event, order, amount string }
	same := map[reads]bool{}
	for i, r := range d.Refunds {
		p := rule.Index("refunds", i)
		switch {
		case r.ID == "":
			ps.Addf(rule.Join(p, "id"), "empty")
		case ids[r.ID]:
			ps.Addf(rule.Join(p, "id"), "duplicate rule %q", r.ID)
		}
		ids[r.ID] = true
		// Each refund rule adds its amount to what was refunded of the
		// order: the same one under another ID would count every refund
		// event twice (as in package points).
		if k := (reads{r.Event, r.Order, r.Amount}); same[k] {
			ps.Addf(p, "duplicate refund rule (event %q, order %q, amount %q)", r.Event, r.Order, r.Amount)
		} else {
			same[k] = true
		}
		t, ok := env.EventType(r.Event)
		if !ok {
			ps.Add(rule.Join(p, "event"), fmt.Errorf("%w %q", event.ErrUnknownType, r.Event))
			continue
		}
		attr(ps, rule.Join(p, "order"), t, r.Order, event.String)
		attr(ps, rule.Join(p, "amount"), t, r.Amount, event.Decimal)
	}
}

func (d Definition) checkPlans(ps *rule.Problems, env Env) {
	names := map[string]bool{}
	for i, pl := range d.Plans {
		p := rule.Index("plans", i)
		switch {
		case pl.Name == "":
			ps.Addf(rule.Join(p, "name"), "empty")
		case strings.Contains(pl.Name, "|"):
			ps.Addf(rule.Join(p, "name"), "must not contain %q", "|")
		case names[pl.Name] || d.Index(pl.Name) >= 0:
			ps.Addf(rule.Join(p, "name"), "duplicate plan or level name %q", pl.Name)
		}
		names[pl.Name] = true
		switch pl.Period {
		case Monthly, Quarterly, Yearly:
		case Days:
			if pl.Days < 1 || pl.Days > 36600 {
				ps.Addf(rule.Join(p, "days"), "must be 1 to 36600 for a days period, got %d", pl.Days)
			}
		default:
			ps.Addf(rule.Join(p, "period"), "unknown period %q (want %s, %s, %s or %s)", pl.Period, Monthly, Quarterly, Yearly, Days)
		}
		t, ok := env.EventType(pl.Event)
		if !ok {
			ps.Add(rule.Join(p, "event"), fmt.Errorf("%w %q", event.ErrUnknownType, pl.Event))
			continue
		}
		attr(ps, rule.Join(p, "attr"), t, pl.Attr, event.String)
	}
}

// attr records a problem at path unless t declares name with kind k.
func attr(ps *rule.Problems, path string, t event.Type, name string, k event.Kind) {
	if name == "" {
		ps.Addf(path, "required")
		return
	}
	a, ok := t.Attr(name)
	switch {
	case !ok:
		ps.Add(path, fmt.Errorf("%w %q in type %q", event.ErrUnknownAttribute, name, t.Name))
	case a.Kind != k:
		ps.Add(path, fmt.Errorf("%w: %q is %s, want %s", event.ErrAttributeType, name, a.Kind, k))
	}
}

// Index returns the position of the named level in the ladder, or -1.
func (d Definition) Index(name string) int {
	for i, l := range d.Ladder {
		if l.Name == name {
			return i
		}
	}
	return -1
}

// buys reports whether a purchase event of type typ whose attribute attr
// is name buys a plan.
func (d Definition) buys(typ, attr, name string) bool {
	for _, pl := range d.Plans {
		if pl.Event == typ && pl.Attr == attr && pl.Name == name {
			return true
		}
	}
	return false
}

// Plan returns the named plan.
func (d Definition) Plan(name string) (Plan, bool) {
	for _, p := range d.Plans {
		if p.Name == name {
			return p, true
		}
	}
	return Plan{}, false
}

// sameReward reports whether a and b are the same in every field, their
// amounts compared by value (10 is 10.0).
func sameReward(a, b rule.Reward) bool {
	same := a.Amount.Equal(b.Amount)
	a.Amount, b.Amount = decimal.Decimal{}, decimal.Decimal{}
	return same && a == b
}
