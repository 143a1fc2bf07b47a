package coupon

import (
	"fmt"
	"slices"

	"github.com/memberkit/membership/event"

	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// Type is what a coupon gives.
type Type string

// The coupon types (代金券, 折扣券, 兑换券, 随机金额券).
const (
	// Cash takes a fixed Amount off the applicable amount.
	Cash Type = "cash"
	// Discount takes (1 − Rate) of the applicable amount off, at most Cap.
	Discount Type = "discount"
	// Exchange gives the named Item: the unit price of its order line
	// off (the line's amount over its quantity, to the money scale, half
	// up).
	Exchange Type = "exchange"
	// Random is a cash coupon whose amount is drawn in [Min, Max], to the
	// money scale (Definition.MoneyPlaces: the cent by default), when it
	// is issued.
	Random Type = "random"
)

// valid reports whether t is one of the coupon types.
func (t Type) valid() bool {
	switch t {
	case Cash, Discount, Exchange, Random:
		return true
	}
	return false
}

// Method is how a coupon reaches a member.
type Method string

// valid reports whether m is one of the methods (Migrated included).
func (m Method) valid() bool {
	switch m {
	case Self, Operator, Task, System, Migrated:
		return true
	}
	return false
}

// The claim methods (领取方式 and 发放场景).
const (
	// Self is a member claiming a coupon themselves.
	Self Method = "self"
	// Operator is an operator issuing a coupon by hand (or to a list).
	Operator Method = "operator"
	// Task is a task's reward.
	Task Method = "task"
	// System is an automatic gift: an upgrade gift, a registration event.
	System Method = "system"
	// Migrated is a coupon held in another system, brought by an import
	// (package migrate); no template's claim methods name it.
	Migrated Method = "migrated"
)

// Redemption is how a coupon is presented at a store (核销方式).
type Redemption string

// The redemption methods.
const (
	ByCode Redemption = "code"
	ByQR   Redemption = "qr"
)

// PackMode says when a coupon pack stops being given out (券包失效条件).
type PackMode string

// The pack modes.
const (
	// AnyInvalid stops the pack as soon as any of its templates cannot be
	// issued in full: every pack given out holds every coupon.
	AnyInvalid PackMode = "any_invalid"
	// AllInvalid goes on while any of its templates can still be issued: a
	// member gets what is still available, so packs may differ.
	AllInvalid PackMode = "all_invalid"
)

// Scale is the default number of decimal places of coupon amounts,
// cents, when Definition.MoneyScale is nil; the package-level rules
// ([Order.Check], [Evaluate], [Combine], [Best], [Draw]) work at it.
const Scale = 2

// Definition is the coupon part of a program definition: the templates
// coupons are issued from and the packs that group them.
type Definition struct {
	Templates []Template `json:"templates"`
	Packs     []Pack     `json:"packs,omitempty"`
	// Gifts issue coupons or packs when an event arrives (a registration
	// gift), by the System method.
	Gifts []Gift `json:"gifts,omitempty"`
	// MoneyScale is the number of decimal places of coupon money, 0 to
	// 8: of a cash coupon's amount, a discount's cap and a random
	// coupon's bounds (finer ones are refused), of order lines (finer
	// ones are refused), of a random coupon's draw, and of what a
	// discount or an exchange coupon takes off and how an amount off is
	// shared over the lines (rounded to it). nil (unset, "money_scale"
	// absent from the JSON) means the default, Scale (2); new(int32(0))
	// ("money_scale": 0) means whole units, for a currency with no minor
	// unit (yen, won).
	//
	// It is a pointer so that 0 can mean whole units while a definition
	// that leaves it out keeps the two places it always had and encodes
	// as before. [Definition.MoneyPlaces] gives the scale in force.
	MoneyScale *int32 `json:"money_scale,omitempty"`
}

// MoneyPlaces returns the number of decimal places of coupon money:
// MoneyScale, or Scale when MoneyScale is nil.
func (d *Definition) MoneyPlaces() int32 {
	if d.MoneyScale == nil {
		return Scale
	}
	return *d.MoneyScale
}

// Gift issues Count coupons of Template, or Pack, to the member of every
// event of type Event. A gift refused (out of stock, a limit, …) does not
// fail the event: the refusal is recorded.
type Gift struct {
	Event    string `json:"event"`
	Template string `json:"template,omitempty"`
	Pack     string `json:"pack,omitempty"`
	// Count is the number of coupons of Template, at most MaxCount; 0
	// means 1. A gift of a Pack gives one pack: its Count is 0 or 1.
	Count int `json:"count,omitempty"`
}

// Template is a coupon template (制券): what its coupons give, where and on
// what they apply, how many may be issued, and the rules to claim and use
// them.
type Template struct {
	// Name identifies the template (unique in the definition).
	Name string `json:"name"`
	// Title is the name shown to members.
	Title string `json:"title,omitempty"`
	Type  Type   `json:"type"`
	// Amount is a cash coupon's amount off (> 0).
	Amount decimal.Decimal `json:"amount,omitzero"`
	// Rate is the share of the applicable amount a discount coupon lets the
	// member pay, 0 < Rate < 1: 0.8 is "8折", 20% off.
	Rate decimal.Decimal `json:"rate,omitzero"`
	// Cap is the largest amount off of a discount coupon; zero: no cap.
	Cap decimal.Decimal `json:"cap,omitzero"`
	// Item is the product an exchange coupon gives.
	Item string `json:"item,omitempty"`
	// Min and Max bound a random coupon's amount (0 < Min ≤ Max).
	Min decimal.Decimal `json:"min,omitzero"`
	Max decimal.Decimal `json:"max,omitzero"`
	// MinOrder is the least applicable amount the order must reach (使用门槛),
	// before any coupon takes anything off; zero: none.
	MinOrder decimal.Decimal `json:"min_order,omitzero"`
	// Scenarios are the order scenarios (channels) it applies in, such as
	// "online" or "offline"; empty: all.
	Scenarios []string `json:"scenarios,omitempty"`
	// Stock is how many coupons may ever be issued; 0: no limit.
	Stock int64 `json:"stock,omitempty"`
	// Redemption lists how it may be redeemed at a store; empty: both.
	Redemption []Redemption `json:"redemption,omitempty"`
	// Products says which order lines it applies to.
	Products Products `json:"products,omitzero"`
	// Stores are the stores it applies in; empty: all.
	Stores []string `json:"stores,omitempty"`
	// CostCentre is who bears its cost, for reconciliation.
	CostCentre string `json:"cost_centre,omitempty"`
	// Group is its stacking group: coupons of one group combine in an
	// order (at most one per template); empty: exclusive, used alone.
	Group string `json:"group,omitempty"`
	// Claim is who may get it, when and how often.
	Claim ClaimRule `json:"claim,omitzero"`
	// Use is how long an issued coupon is valid, and its description.
	Use UseRule `json:"use"`
}

// Products says which order lines a template applies to. A line applies
// when the include lists are empty or name its product or category, and
// the exclude lists name neither.
type Products struct {
	Include           []string `json:"include,omitempty"`
	IncludeCategories []string `json:"include_categories,omitempty"`
	Exclude           []string `json:"exclude,omitempty"`
	ExcludeCategories []string `json:"exclude_categories,omitempty"`
}

// Applies reports whether the products rule lets a line of product in
// category count.
func (p Products) Applies(product, category string) bool {
	if len(p.Include) > 0 || len(p.IncludeCategories) > 0 {
		if !slices.Contains(p.Include, product) && (category == "" || !slices.Contains(p.IncludeCategories, category)) {
			return false
		}
	}
	if slices.Contains(p.Exclude, product) {
		return false
	}
	return category == "" || !slices.Contains(p.ExcludeCategories, category)
}

// ClaimRule is a template's (or a pack's) claim rule (领取规则). Every
// method is held to it: an operator issuing by hand cannot go past a
// member's limit either.
type ClaimRule struct {
	// Methods are the ways it may be issued; empty: all.
	Methods []Method `json:"methods,omitempty"`
	// Levels, when set, are the levels a member must hold one of.
	Levels []string `json:"levels,omitempty"`
	// Tags, when set, are tags a member must all have.
	Tags []string `json:"tags,omitempty"`
	// Segment, when set, is a tag expression of package tag ("vip or
	// staff", "M and not blocked") the member's tags must match, as a
	// task's Target.Segment is matched.
	Segment string `json:"segment,omitempty"`
	// Period is when it may be claimed: from From up to, not including,
	// To (a rule.Window); a zero bound is open.
	Period rule.Window `json:"period,omitzero"`
	// PerMember and PerDay limit how many one member gets, in total and
	// per day of the program's zone; 0: no limit.
	PerMember int `json:"per_member,omitempty"`
	PerDay    int `json:"per_day,omitempty"`
}

// UseRule is a template's use rule (使用规则).
type UseRule struct {
	// Validity is how long an issued coupon is valid: a fixed range or a
	// number of days after the claim (valid until 24:00 of the (N−1)th
	// day after the claim day). Other kinds of rule.Validity work too,
	// from the claim instant.
	Validity    rule.Validity `json:"validity"`
	Description string        `json:"description,omitempty"`
}

// Pack is a coupon pack (券包): several coupons given together, with its
// own stock and claim rule.
type Pack struct {
	Name  string     `json:"name"`
	Title string     `json:"title,omitempty"`
	Items []PackItem `json:"items"`
	// Stock is how many packs may ever be given out; 0: no limit.
	Stock int64    `json:"stock,omitempty"`
	Mode  PackMode `json:"mode"`
	// Claim is the pack's claim rule; the templates' own claim rules do
	// not apply to coupons given in a pack, their stock does.
	Claim ClaimRule `json:"claim,omitzero"`
}

// PackItem is count coupons of a template in a pack, 1 to MaxCount.
type PackItem struct {
	Template string `json:"template"`
	Count    int    `json:"count"`
}

// Env is what validating a coupon definition needs from the rest of the
// program: the declared event types (for gifts), and the ladder's levels
// and the declared tags (for claim conditions).
type Env interface {
	EventType(name string) (event.Type, bool)
	LevelExists(name string) bool
	TagExists(name string) bool
}

// Template returns the template named name.
func (d *Definition) Template(name string) (*Template, bool) {
	for i := range d.Templates {
		if d.Templates[i].Name == name {
			return &d.Templates[i], true
		}
	}
	return nil, false
}

// Pack returns the pack named name.
func (d *Definition) Pack(name string) (*Pack, bool) {
	for i := range d.Packs {
		if d.Packs[i].Name == name {
			return &d.Packs[i], true
		}
	}
	return nil, false
}

// MethodOf returns the claim method a reward of a source of kind k is
// issued by: Task for a task's reward, System for a level's upgrade gift.
func MethodOf(k rule.SourceKind) Method {
	if k == rule.FromTask {
		return Task
	}
	return System
}

// allowsMethod returns nil when the claim rule lets method m issue at
// all: its Methods are empty (every method) or include m. Otherwise the
// error wraps ErrNotEligible. It is the part of [ClaimRule.Allows] a
// definition can check before anything runs.
func (c ClaimRule) allowsMethod(m Method) error {
	if len(c.Methods) > 0 && !slices.Contains(c.Methods, m) {
		return fmt.Errorf("%w: claim.methods %v do not include %q", ErrNotEligible, c.Methods, m)
	}
	return nil
}

// CheckReward returns nil when the coupon or pack reward r, granted by a
// source of kind from, can be issued: its template or pack exists and the
// claim rule of that template or pack allows the source's method
// (MethodOf). An upgrade gift naming a template whose claim methods leave
// out "system", or a task reward naming one whose methods leave out
// "task", would be refused on every grant, so the definition is refused
// instead; so is a reward of more coupons than the template's stock,
// per_member or per_day limit allows. The error wraps ErrUnknownTemplate
// or ErrNotEligible, or names
// a coupon count above MaxCount (as a claim's: the coupons are issued in
// the transaction of the event that earns them) or a pack's count other
// than 0 or 1 (a pack reward gives one pack; a larger count was ignored);
// rewards of other kinds return nil.
func (d *Definition) CheckReward(r rule.Reward, from rule.SourceKind) error {
	m := MethodOf(from)
	switch r.Kind {
	case rule.RewardCoupon:
		t, ok := d.Template(r.Template)
		if !ok {
			return fmt.Errorf("%w %q", ErrUnknownTemplate, r.Template)
		}
		if r.Count > MaxCount {
			return fmt.Errorf("count %d is above %d (MaxCount): a reward is issued in its event's transaction", r.Count, MaxCount)
		}
		if err := t.Claim.allowsMethod(m); err != nil {
			return fmt.Errorf("template %q cannot be a %s's reward: %w", r.Template, from, err)
		}
		if err := t.beyond(r.Coupons(), true); err != nil {
			return fmt.Errorf("template %q cannot be a %s's reward: %w", r.Template, from, err)
		}
	case rule.RewardPack:
		k, ok := d.Pack(r.Pack)
		if !ok {
			return fmt.Errorf("%w: pack %q", ErrUnknownTemplate, r.Pack)
		}
		if r.Count < 0 || r.Count > 1 {
			return fmt.Errorf("count %d: a pack reward gives one pack (count 0 or 1)", r.Count)
		}
		if err := k.Claim.allowsMethod(m); err != nil {
			return fmt.Errorf("pack %q cannot be a %s's reward: %w", r.Pack, from, err)
		}
	}
	return nil
}

// Check returns nil, or a *rule.Problems listing every problem with its
// path: duplicate or empty names, a type's missing or out-of-range amount
// (a rate not in (0, 1), min > max, a random max above what a draw at
// the money scale counts (MaxDraw at the default scale), a cash amount,
// cap, random bound or minimum order with more decimal places than the
// money scale: finer than a cent by default, not whole at scale 0), a
// MoneyScale outside 0 to 8, negative stock or limits, unknown methods, an
// invalid validity or period, the same product both included and
// excluded, packs naming missing templates or with an unknown mode, a
// template gift repeating an earlier one in every field (use its count;
// a pack gift may repeat), a pack item's or a gift's count above MaxCount (the coupons of one claim,
// issued in one transaction), a pack gift's count above 1 (it gives one
// pack), gifts naming a template or pack whose claim methods leave out
// "system" (the method gifts are issued by), a gift's count above its
// template's stock, per_member or per_day limit and an any_invalid pack
// item's above its template's stock (each refused on every grant, the
// pack never given), and claim conditions naming an unknown level or
// tag or with a segment that does not parse (claim.segment: each unknown
// tag of the expression is one problem). Levels and tags are looked up
// in env; a nil env skips those lookups.
func (d Definition) Check(env Env) error {
	var ps rule.Problems
	dp := d.MoneyPlaces()
	if dp < 0 || dp > rule.MaxScale {
		ps.Addf("money_scale", "must be 0 to %d", rule.MaxScale)
		dp = Scale // the templates' amounts are checked at the default
	}
	names := map[string]bool{}
	for i, t := range d.Templates {
		p := rule.Index("templates", i)
		if t.Name == "" {
			ps.Addf(rule.Join(p, "name"), "empty")
		} else if names[t.Name] {
			ps.Addf(rule.Join(p, "name"), "duplicate template %q", t.Name)
		}
		names[t.Name] = true
		t.check(&ps, p, dp)
		t.Claim.checkNames(&ps, rule.Join(p, "claim"), env)
	}
	packs := map[string]bool{}
	for i, k := range d.Packs {
		p := rule.Index("packs", i)
		if k.Name == "" {
			ps.Addf(rule.Join(p, "name"), "empty")
		} else if packs[k.Name] {
			ps.Addf(rule.Join(p, "name"), "duplicate pack %q", k.Name)
		}
		packs[k.Name] = true
		if len(k.Items) == 0 {
			ps.Addf(rule.Join(p, "items"), "empty")
		}
		seen := map[string]bool{}
		for j, it := range k.Items {
			ip := rule.Join(p, rule.Index("items", j))
			switch {
			case !names[it.Template]:
				ps.Addf(rule.Join(ip, "template"), "unknown template %q", it.Template)
			case seen[it.Template]:
				ps.Addf(rule.Join(ip, "template"), "template %q listed twice", it.Template)
			}
			seen[it.Template] = true
			if it.Count < 1 || it.Count > MaxCount {
				ps.Addf(rule.Join(ip, "count"), "%d is not from 1 to %d (MaxCount)", it.Count, MaxCount)
			} else if t, ok := d.Template(it.Template); ok && k.Mode == AnyInvalid {
				ps.Add(rule.Join(ip, "count"), t.beyond(it.Count, false))
			}
		}
		if k.Stock < 0 {
			ps.Addf(rule.Join(p, "stock"), "must not be negative")
		}
		if k.Mode != AnyInvalid && k.Mode != AllInvalid {
			ps.Addf(rule.Join(p, "mode"), "unknown pack mode %q (want %s or %s)", k.Mode, AnyInvalid, AllInvalid)
		}
		k.Claim.check(&ps, rule.Join(p, "claim"))
		k.Claim.checkNames(&ps, rule.Join(p, "claim"), env)
	}
	gifts := map[Gift]int{} // a template gift → its first index
	for i, g := range d.Gifts {
		p := rule.Index("gifts", i)
		// The same template gift twice issues its coupons twice on every
		// event: surely a typo, as Count gives several. A pack gift may
		// repeat: its Count gives one pack, so a repeat is the only way to
		// give two.
		if g.Template != "" && g.Pack == "" {
			if first, ok := gifts[g]; ok {
				ps.Addf(p, "the same gift as %s (use count)", rule.Index("gifts", first))
			} else {
				gifts[g] = i
			}
		}
		if env != nil {
			if _, ok := env.EventType(g.Event); !ok {
				ps.Add(rule.Join(p, "event"), fmt.Errorf("%w %q", event.ErrUnknownType, g.Event))
			}
		}
		switch {
		case (g.Template == "") == (g.Pack == ""):
			ps.Addf(p, "needs a template or a pack, not both")
		case g.Template != "" && !names[g.Template]:
			ps.Addf(rule.Join(p, "template"), "unknown template %q", g.Template)
		case g.Pack != "" && !packs[g.Pack]:
			ps.Addf(rule.Join(p, "pack"), "unknown pack %q", g.Pack)
		case g.Template != "":
			if t, ok := d.Template(g.Template); ok {
				ps.Add(rule.Join(p, "template"), t.Claim.allowsMethod(System))
				if g.Count <= MaxCount {
					ps.Add(rule.Join(p, "count"), t.beyond(max(g.Count, 1), true))
				}
			}
		default:
			if k, ok := d.Pack(g.Pack); ok {
				ps.Add(rule.Join(p, "pack"), k.Claim.allowsMethod(System))
			}
		}
		switch {
		case g.Pack != "" && g.Template == "" && (g.Count < 0 || g.Count > 1):
			ps.Addf(rule.Join(p, "count"), "%d: a pack gift gives one pack (count 0 or 1)", g.Count)
		case g.Count < 0 || g.Count > MaxCount:
			ps.Addf(rule.Join(p, "count"), "%d is not from 0 (1 coupon) to %d (MaxCount)", g.Count, MaxCount)
		}
	}
	return ps.Err()
}

// beyond returns an error when n coupons of t in one grant would be
// refused every time: more than its stock, or with limits (a gift's or a
// reward's coupons are held to them; a pack's are not) more than its
// per-member or per-day limit. The definition is refused rather than
// publishing a refusal on every grant.
func (t *Template) beyond(n int, limits bool) error {
	bound := func(name string, v int64) error {
		return fmt.Errorf("%d coupons are more than the template's %s of %d: every grant would be refused", n, name, v)
	}
	switch {
	case t.Stock > 0 && int64(n) > t.Stock:
		return bound("stock", t.Stock)
	case limits && t.Claim.PerMember > 0 && n > t.Claim.PerMember:
		return bound("claim.per_member", int64(t.Claim.PerMember))
	case limits && t.Claim.PerDay > 0 && n > t.Claim.PerDay:
		return bound("claim.per_day", int64(t.Claim.PerDay))
	}
	return nil
}

// positiveMoney adds a problem when d is not positive or has more
// decimal places than dp, the money scale.
func positiveMoney(ps *rule.Problems, path string, d decimal.Decimal, dp int32) {
	if !d.IsPositive() {
		ps.Addf(path, "must be > 0")
		return
	}
	scaledMoney(ps, path, d, dp)
}

// scaledMoney adds a problem when d has more decimal places than dp, the
// money scale.
func scaledMoney(ps *rule.Problems, path string, d decimal.Decimal, dp int32) {
	switch {
	case d.Equal(d.Truncate(dp)):
	case dp == Scale:
		ps.Addf(path, "finer than a cent: %s", d)
	case dp == 0:
		ps.Addf(path, "not a whole amount (money_scale 0): %s", d)
	default:
		ps.Addf(path, "more than %d decimal places (money_scale): %s", dp, d)
	}
}

// check adds t's problems, its amounts held to the money scale dp.
func (t Template) check(ps *rule.Problems, p string, dp int32) {
	at := func(f string) string { return rule.Join(p, f) }
	switch t.Type {
	case Cash:
		positiveMoney(ps, at("amount"), t.Amount, dp)
	case Discount:
		if !t.Rate.IsPositive() || t.Rate.Cmp(decimal.NewFromInt(1)) >= 0 {
			ps.Addf(at("rate"), "must be between 0 and 1 (exclusive), got %s", t.Rate)
		}
		if t.Cap.IsNegative() {
			ps.Addf(at("cap"), "must not be negative")
		} else if !t.Cap.IsZero() {
			positiveMoney(ps, at("cap"), t.Cap, dp)
		}
	case Exchange:
		if t.Item == "" {
			ps.Addf(at("item"), "required for an exchange coupon")
		}
	case Random:
		positiveMoney(ps, at("min"), t.Min, dp)
		positiveMoney(ps, at("max"), t.Max, dp)
		switch {
		case !drawable(t.Max, dp):
			ps.Addf(at("max"), "%s is above %s, the largest amount a random coupon draws", t.Max, maxDraw(dp))
		case t.Min.GreaterThan(t.Max):
			ps.Addf(at("max"), "%s is below min %s", t.Max, t.Min)
		}
	default:
		ps.Addf(at("type"), "unknown coupon type %q (want %s, %s, %s or %s)", t.Type, Cash, Discount, Exchange, Random)
	}
	if t.MinOrder.IsNegative() {
		ps.Addf(at("min_order"), "must not be negative")
	} else {
		// Held to the scale as the order lines it is compared with are:
		// a finer minimum (99.999 at two places) is a typo.
		scaledMoney(ps, at("min_order"), t.MinOrder, dp)
	}
	if t.Stock < 0 {
		ps.Addf(at("stock"), "must not be negative")
	}
	for i, r := range t.Redemption {
		if r != ByCode && r != ByQR {
			ps.Addf(at(rule.Index("redemption", i)), "unknown redemption method %q", r)
		}
	}
	for _, x := range t.Products.Exclude {
		if slices.Contains(t.Products.Include, x) {
			ps.Addf(at("products.exclude"), "product %q is also included", x)
		}
	}
	for _, x := range t.Products.ExcludeCategories {
		if slices.Contains(t.Products.IncludeCategories, x) {
			ps.Addf(at("products.exclude_categories"), "category %q is also included", x)
		}
	}
	t.Claim.check(ps, at("claim"))
	ps.Add(at("use.validity"), t.Use.Validity.Check())
}

func (c ClaimRule) check(ps *rule.Problems, p string) {
	for i, m := range c.Methods {
		switch m {
		case Self, Operator, Task, System:
		default:
			ps.Addf(rule.Join(p, rule.Index("methods", i)), "unknown claim method %q", m)
		}
	}
	if c.PerMember < 0 {
		ps.Addf(rule.Join(p, "per_member"), "must not be negative")
	}
	if c.PerDay < 0 {
		ps.Addf(rule.Join(p, "per_day"), "must not be negative")
	}
	if c.PerMember > 0 && c.PerDay > c.PerMember {
		ps.Addf(rule.Join(p, "per_day"), "%d is above per_member %d", c.PerDay, c.PerMember)
	}
	ps.Add(rule.Join(p, "period"), c.Period.Check())
	if c.Segment != "" {
		if _, err := tag.Parse(c.Segment); err != nil {
			ps.Add(rule.Join(p, "segment"), err)
		}
	}
}

// checkNames checks the levels and tags of the conditions exist, the
// segment's tags included (a segment that does not parse is reported by
// check).
func (c ClaimRule) checkNames(ps *rule.Problems, p string, env Env) {
	if env == nil {
		return
	}
	for i, l := range c.Levels {
		if !env.LevelExists(l) {
			ps.Addf(rule.Join(p, rule.Index("levels", i)), "unknown level %q", l)
		}
	}
	for i, name := range c.Tags {
		if !env.TagExists(name) {
			ps.Addf(rule.Join(p, rule.Index("tags", i)), "unknown tag %q", name)
		}
	}
	if c.Segment == "" {
		return
	}
	if e, err := tag.Parse(c.Segment); err == nil {
		for _, name := range e.Tags() {
			if !env.TagExists(name) {
				ps.Addf(rule.Join(p, "segment"), "unknown tag %q", name)
			}
		}
	}
}
