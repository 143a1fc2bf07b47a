package benefit

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Sentinel errors.
var (
	// ErrUnknownAchievement is returned for an achievement the catalog
	// does not have.
	ErrUnknownAchievement = errors.New("unknown achievement")
	// ErrAlreadyGranted is returned when an operator grants an achievement
	// the member already has.
	ErrAlreadyGranted = errors.New("achievement already granted")
	// ErrNegativeAmount is returned for a price asked of a negative amount.
	ErrNegativeAmount = errors.New("negative amount")
	// ErrNotDefined is returned by Handle.GrantAchievement on a program
	// that defines no benefits; the member's lists are empty there.
	ErrNotDefined = errors.New("the program defines no benefits")
)

// Type is a benefit type. Hosts may use their own; the library only reads
// TypeDiscount.
type Type string

// Benefit types of the articles.
const (
	TypeDiscount Type = "discount" // 会员折扣
	TypeService  Type = "service"  // 会员专属服务
	TypeCare     Type = "care"     // 会员关怀
)

// Definition is the benefit part of a program definition: the benefit and
// achievement catalogs.
type Definition struct {
	Benefits     []Benefit     `json:"benefits,omitempty"`
	Achievements []Achievement `json:"achievements,omitempty"`
}

// Benefit is one entry of the benefit catalog.
type Benefit struct {
	Name        string `json:"name"`
	Type        Type   `json:"type"`
	Image       string `json:"image,omitempty"`
	Description string `json:"description,omitempty"`
	// Levels and Plans bind the benefit to levels of the ladder and to
	// paid plans, by name.
	Levels []string `json:"levels,omitempty"`
	Plans  []string `json:"plans,omitempty"`
	// Discount is required for a TypeDiscount benefit and not allowed
	// otherwise.
	Discount *Discount `json:"discount,omitempty"`
}

// Discount is the member price rule of a discount benefit.
type Discount struct {
	// Rate is the share of the amount the member pays: 0.88 is "12% off"
	// (8.8折). 0 < Rate ≤ 1.
	Rate decimal.Decimal `json:"rate"`
	// Rounding rounds the member price; the zero value means to the cent,
	// half up.
	Rounding *rule.Rounding `json:"rounding,omitempty"`
}

// Price returns the member price of amount: amount × Rate, rounded, and
// never above amount (rounding up, or an amount finer than the rounding's
// scale, could otherwise make a member pay more than the price asked). It
// returns ErrNegativeAmount for a negative amount.
func (d Discount) Price(amount decimal.Decimal) (decimal.Decimal, error) {
	if amount.IsNegative() {
		return decimal.Decimal{}, fmt.Errorf("benefit: price of %s: %w", amount, ErrNegativeAmount)
	}
	r := rule.Rounding{Scale: 2, Mode: rule.RoundHalfUp}
	if d.Rounding != nil {
		r = *d.Rounding
	}
	return decimal.Min(r.Round(amount.Mul(d.Rate)), amount), nil
}

// Achievement is one entry of the achievement catalog.
type Achievement struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
	Icon string `json:"icon,omitempty"`
	// Link is where the achievement leads (成就是否跳转); empty for none.
	Link string `json:"link,omitempty"`
}

// Grant is an achievement a member holds: when and why.
type Grant struct {
	Achievement string    `json:"achievement"`
	At          time.Time `json:"at"`
	// Source is what granted it: "task" (a task's reward) or "level" (a
	// level's upgrade gift), By naming the task or the level; or
	// "operator", By naming the operator.
	Source string `json:"source"`
	By     string `json:"by"`
	// Event is the event or request that granted it.
	Event string `json:"event,omitempty"`
	Note  string `json:"note,omitempty"`
}

// Env is what validating a definition needs to look up.
type Env interface {
	// LevelExists reports whether the level ladder has the level.
	LevelExists(name string) bool
	// PlanExists reports whether the paid plan exists.
	PlanExists(name string) bool
}

// Check reports every problem of the catalogs: empty or duplicate names,
// unknown levels and plans, a discount benefit without a valid discount,
// a discount on another type.
// A nil env is refused with an error wrapping rule.ErrInvalidDefinition.
func (d Definition) Check(env Env) error {
	if env == nil {
		// The lookups are not optional here: refused rather than a panic.
		return fmt.Errorf("%w: Check needs an Env (the program's event types and other domains); nil given", rule.ErrInvalidDefinition)
	}
	var ps rule.Problems
	seen := map[string]bool{}
	for i, b := range d.Benefits {
		p := rule.Index("benefits", i)
		switch {
		case b.Name == "":
			ps.Addf(rule.Join(p, "name"), "empty")
		case seen[b.Name]:
			ps.Addf(rule.Join(p, "name"), "duplicate benefit %q", b.Name)
		}
		seen[b.Name] = true
		if b.Type == "" {
			ps.Addf(rule.Join(p, "type"), "empty")
		}
		for j, l := range b.Levels {
			if !env.LevelExists(l) {
				ps.Addf(rule.Join(p, rule.Index("levels", j)), "unknown level %q", l)
			}
		}
		for j, pl := range b.Plans {
			if !env.PlanExists(pl) {
				ps.Addf(rule.Join(p, rule.Index("plans", j)), "unknown plan %q", pl)
			}
		}
		switch {
		case b.Type == TypeDiscount && b.Discount == nil:
			ps.Addf(rule.Join(p, "discount"), "required for a discount benefit")
		case b.Type != TypeDiscount && b.Discount != nil:
			ps.Addf(rule.Join(p, "discount"), "only for a discount benefit")
		case b.Discount != nil:
			if !b.Discount.Rate.IsPositive() || b.Discount.Rate.GreaterThan(decimal.NewFromInt(1)) {
				ps.Addf(rule.Join(p, "discount.rate"), "must be in (0, 1], got %s", b.Discount.Rate)
			}
			if b.Discount.Rounding != nil {
				ps.Add(rule.Join(p, "discount.rounding"), b.Discount.Rounding.Check())
			}
		}
	}
	seen = map[string]bool{}
	for i, a := range d.Achievements {
		p := rule.Index("achievements", i)
		switch {
		case a.Name == "":
			ps.Addf(rule.Join(p, "name"), "empty")
		case seen[a.Name]:
			ps.Addf(rule.Join(p, "name"), "duplicate achievement %q", a.Name)
		}
		seen[a.Name] = true
	}
	return ps.Err()
}

// clone returns a copy of d sharing nothing with it, so that a program's
// catalog is its own: a host editing the definition it opened the program
// with (or Program.Definition's) would otherwise change members' benefits
// and prices without validation.
func (d Definition) clone() Definition {
	c := Definition{Benefits: slices.Clone(d.Benefits), Achievements: slices.Clone(d.Achievements)}
	for i := range c.Benefits {
		b := &c.Benefits[i]
		b.Levels, b.Plans = slices.Clone(b.Levels), slices.Clone(b.Plans)
		if b.Discount != nil {
			dc := *b.Discount
			if dc.Rounding != nil {
				r := *dc.Rounding
				dc.Rounding = &r
			}
			b.Discount = &dc
		}
	}
	return c
}

// Achievement returns the named achievement.
func (d Definition) Achievement(name string) (Achievement, bool) {
	for _, a := range d.Achievements {
		if a.Name == name {
			return a, true
		}
	}
	return Achievement{}, false
}

// For returns the benefits of a member at level with the active plans, in
// catalog order.
func (d Definition) For(level string, plans []string) []Benefit {
	var out []Benefit
	for _, b := range d.Benefits {
		if (level != "" && slices.Contains(b.Levels, level)) ||
			slices.ContainsFunc(b.Plans, func(p string) bool { return slices.Contains(plans, p) }) {
			out = append(out, b)
		}
	}
	return out
}

// Best returns the discount benefit giving the lowest member price of
// amount among bs, and that price; ok is false when none is a discount.
// Ties go to the earlier benefit.
func Best(bs []Benefit, amount decimal.Decimal) (b Benefit, price decimal.Decimal, ok bool, err error) {
	for _, x := range bs {
		if x.Discount == nil {
			continue
		}
		p, err := x.Discount.Price(amount)
		if err != nil {
			return Benefit{}, decimal.Decimal{}, false, err
		}
		if !ok || p.LessThan(price) {
			b, price, ok = x, p, true
		}
	}
	return b, price, ok, nil
}
