package tag

import (
	"fmt"
	"strings"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
)

// Definition is the tag part of a program definition: which events feed the
// profile statistics, the profile attributes a host may set, the manual
// tags and the automatic tag rules.
type Definition struct {
	// Orders names the order event type and its attributes; nil keeps no
	// order statistics.
	Orders *Orders `json:"orders,omitempty"`
	// Recharge names the recharge event type; nil keeps no recharge total.
	Recharge *Recharge `json:"recharge,omitempty"`
	// Top is how many brands, categories and products the profile lists
	// (default 5).
	Top int `json:"top,omitempty"`
	// Attributes declares the profile attributes a host may set (gender,
	// birthday, registration source, …) and their kinds.
	Attributes []event.Attr `json:"attributes,omitempty"`
	// Manual declares the tags operators add and remove by hand.
	Manual []Manual `json:"manual,omitempty"`
	// Rules are the automatic tags.
	Rules []Rule `json:"rules,omitempty"`
}

// Orders names the order event type and the attributes the statistics read.
// Amount is required (a decimal or integer attribute); Brand, Category and
// Product are optional, each a string or a list-of-strings attribute.
type Orders struct {
	Event    string `json:"event"`
	Amount   string `json:"amount"`
	Brand    string `json:"brand,omitempty"`
	Category string `json:"category,omitempty"`
	Product  string `json:"product,omitempty"`
}

// Recharge names the recharge event type and its amount attribute, and
// optionally the event type that pays recharged money back (a stored-value
// withdrawal, value.Definition.Withdraw).
type Recharge struct {
	Event  string `json:"event"`
	Amount string `json:"amount"`
	// Withdraw, when set, names the event type whose amount (the
	// attribute Amount names, declared by that type too) is taken off
	// the recharge total: a recharge paid back is not a recharge. The
	// total never goes below zero (a withdrawal of more than it holds,
	// as of a migrated member's opening balance, leaves zero). Left
	// empty, the total counts every recharge, paid back or not.
	Withdraw string `json:"withdraw,omitempty"`
}

// Manual declares a manual tag.
type Manual struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Rule gives Tag to every member for whom all conditions hold (and takes it
// away when they stop holding). A rule with no condition tags every member
// the program has seen.
type Rule struct {
	Tag         string `json:"tag"`
	Description string `json:"description,omitempty"`
	All         []Cond `json:"all,omitempty"`
}

// Fact names what a [Cond] tests.
type Fact = string

// The facts a condition can test. A profile attribute is "attr." followed
// by its declared name (AttrFact builds it).
const (
	FactLevel         Fact = "level"          // string: the member's level ("" without one)
	FactOrderCount    Fact = "order_count"    // integer; windowable
	FactOrderAmount   Fact = "order_amount"   // decimal; windowable
	FactAverageOrder  Fact = "average_order"  // decimal, rounded to the cent half-up; windowable; absent without an order (in the window)
	FactRechargeTotal Fact = "recharge_total" // decimal
	FactFirstOrder    Fact = "first_order"    // time; absent before the first order
	FactLastOrder     Fact = "last_order"     // time; absent before the first order
	FactTopBrand      Fact = "top_brand"      // string: the first brand; absent without one
	FactTopCategory   Fact = "top_category"   // string
	FactTopProduct    Fact = "top_product"    // string
	FactBrands        Fact = "brands"         // strings: the top brands (use contains)
	FactCategories    Fact = "categories"     // strings
	FactProducts      Fact = "products"       // strings
)

// AttrFact returns the fact of a profile attribute.
func AttrFact(name string) Fact { return "attr." + name }

// Cond tests one fact of a member, as an event.Condition tests an event
// attribute. Days > 0 restricts an order statistic to the last Days days
// (today and the Days-1 days before, in the program's zone). A fact that is
// absent (no order yet, an attribute never set) does not match.
type Cond struct {
	Fact   Fact          `json:"fact"`
	Days   int           `json:"days,omitempty"`
	Op     event.Op      `json:"op"`
	Value  event.Value   `json:"value,omitzero"`
	Values []event.Value `json:"values,omitempty"`
}

// Windowed reports whether the condition reads a time window.
func (c Cond) Windowed() bool { return c.Days > 0 }

func (c Cond) condition() event.Condition {
	return event.Condition{Attr: c.Fact, Op: c.Op, Value: c.Value, Values: c.Values}
}

// Env is what validating a definition needs to look up.
type Env interface {
	// EventType returns the declared event type named name.
	EventType(name string) (event.Type, bool)
	// LevelExists reports whether the level ladder has the level.
	LevelExists(name string) bool
}

// Windowable reports whether a fact may carry Days.
func Windowable(f Fact) bool {
	return f == FactOrderCount || f == FactOrderAmount || f == FactAverageOrder
}

// factKind returns the kind of a fact, and whether it is known.
func (d Definition) factKind(f Fact) (event.Kind, bool) {
	if name, ok := strings.CutPrefix(f, "attr."); ok {
		for _, a := range d.Attributes {
			if a.Name == name {
				return a.Kind, true
			}
		}
		return "", false
	}
	switch f {
	case FactLevel, FactTopBrand, FactTopCategory, FactTopProduct:
		return event.String, true
	case FactOrderCount:
		return event.Integer, true
	case FactOrderAmount, FactAverageOrder, FactRechargeTotal:
		return event.Decimal, true
	case FactFirstOrder, FactLastOrder:
		return event.Time, true
	case FactBrands, FactCategories, FactProducts:
		return event.Strings, true
	}
	return "", false
}

// TopN returns how many top values the profile keeps.
func (d Definition) TopN() int {
	if d.Top <= 0 {
		return 5
	}
	return d.Top
}

// Declared reports whether name is a tag of the definition (manual or a
// rule's).
func (d Definition) Declared(name string) bool {
	return d.IsManual(name) || d.RuleFor(name) != nil
}

// IsManual reports whether name is a declared manual tag.
func (d Definition) IsManual(name string) bool {
	for _, m := range d.Manual {
		if m.Name == name {
			return true
		}
	}
	return false
}

// RuleFor returns the rule giving tag name, or nil.
func (d Definition) RuleFor(name string) *Rule {
	for i := range d.Rules {
		if d.Rules[i].Tag == name {
			return &d.Rules[i]
		}
	}
	return nil
}

// MaxDays returns the longest window of the rules (0 when none is windowed).
func (d Definition) MaxDays() int {
	n := 0
	for _, r := range d.Rules {
		for _, c := range r.All {
			n = max(n, c.Days)
		}
	}
	return n
}

// validName reports whether a tag name can be used in an expression: a
// word, and no keyword in any case (Parse reads "AND" as "and").
func validName(s string) bool {
	return heldName(s) && !strings.EqualFold(s, "and") && !strings.EqualFold(s, "or") && !strings.EqualFold(s, "not")
}

// heldName reports whether a member may hold a tag of that name: a valid
// name, or a keyword in another case ("AND"), which releases before took
// in a definition, so that Remove and Recompute can clear it once a
// version leaves it out.
func heldName(s string) bool {
	if s == "" || s == "and" || s == "or" || s == "not" {
		return false
	}
	return !strings.ContainsAny(s, " \t\r\n()\x00")
}

// Check reports every problem of the definition, with paths relative to the
// tags slot: unknown event types or attributes, attributes of the wrong
// kind, duplicate or malformed tag names, unknown facts, conditions that do
// not fit their fact, windows on facts that have none, unknown levels.
// A nil env is refused with an error wrapping rule.ErrInvalidDefinition.
func (d Definition) Check(env Env) error {
	if env == nil {
		// The lookups are not optional here: refused rather than a panic.
		return fmt.Errorf("%w: Check needs an Env (the program's event types and other domains); nil given", rule.ErrInvalidDefinition)
	}
	var ps rule.Problems
	if o := d.Orders; o != nil {
		d.checkEvent(&ps, env, "orders", o.Event, []eventAttr{{"amount", o.Amount}, {"brand", o.Brand}, {"category", o.Category}, {"product", o.Product}})
	}
	if r := d.Recharge; r != nil {
		d.checkEvent(&ps, env, "recharge", r.Event, []eventAttr{{"amount", r.Amount}})
		d.checkWithdraw(&ps, env, *r)
	}
	if d.Top < 0 {
		ps.Addf("top", "must not be negative")
	}
	attrs := map[string]bool{}
	for i, a := range d.Attributes {
		p := rule.Index("attributes", i)
		switch {
		case a.Name == "":
			ps.Addf(rule.Join(p, "name"), "empty")
		case attrs[a.Name]:
			ps.Addf(rule.Join(p, "name"), "duplicate attribute %q", a.Name)
		}
		attrs[a.Name] = true
		if !a.Kind.Valid() {
			ps.Addf(rule.Join(p, "type"), "unknown type %q", a.Kind)
		} else {
			ps.Add(rule.Join(p, "min"), a.CheckDeclaration())
		}
	}
	names := map[string]bool{}
	addName := func(path, name string) {
		switch {
		case !validName(name):
			ps.Addf(path, "invalid tag name %q (empty, a keyword, or with spaces or parentheses)", name)
		case names[name]:
			ps.Addf(path, "duplicate tag %q", name)
		}
		names[name] = true
	}
	for i, m := range d.Manual {
		addName(rule.Join(rule.Index("manual", i), "name"), m.Name)
	}
	for i, r := range d.Rules {
		p := rule.Index("rules", i)
		addName(rule.Join(p, "tag"), r.Tag)
		for j, c := range r.All {
			d.checkCond(&ps, env, rule.Join(p, rule.Index("all", j)), c)
		}
	}
	return ps.Err()
}

// eventAttr is a field of Orders or Recharge naming an attribute of the
// event type.
type eventAttr struct{ field, name string }

// checkEvent checks the event type and the attributes Orders or Recharge
// name, in field order: a list, not a map, so the problems come in the
// same order every time.
func (d Definition) checkEvent(ps *rule.Problems, env Env, path, typ string, attrs []eventAttr) {
	t, ok := env.EventType(typ)
	if !ok {
		ps.Add(rule.Join(path, "event"), fmt.Errorf("%w %q", event.ErrUnknownType, typ))
		return
	}
	for _, fa := range attrs {
		field, name := fa.field, fa.name
		if name == "" {
			if field == "amount" {
				ps.Addf(rule.Join(path, field), "required")
			}
			continue
		}
		a, ok := t.Attr(name)
		if !ok {
			ps.Add(rule.Join(path, field), fmt.Errorf("%w %q in type %q", event.ErrUnknownAttribute, name, typ))
			continue
		}
		if field == "amount" {
			if a.Kind != event.Decimal && a.Kind != event.Integer {
				ps.Add(rule.Join(path, field), fmt.Errorf("%w: %q is %s, want decimal or integer", event.ErrAttributeType, name, a.Kind))
			}
		} else if a.Kind != event.String && a.Kind != event.Strings {
			ps.Add(rule.Join(path, field), fmt.Errorf("%w: %q is %s, want string or strings", event.ErrAttributeType, name, a.Kind))
		}
	}
}

// checkWithdraw checks Recharge.Withdraw, at "recharge.withdraw": a
// declared event type other than the recharge's, declaring the amount
// attribute as a decimal or an integer.
func (d Definition) checkWithdraw(ps *rule.Problems, env Env, r Recharge) {
	const path = "recharge.withdraw"
	if r.Withdraw == "" {
		return
	}
	if r.Withdraw == r.Event {
		// The recharge would take every such event.
		ps.Addf(path, "event type %q is already the recharge event", r.Withdraw)
		return
	}
	t, ok := env.EventType(r.Withdraw)
	if !ok {
		ps.Add(path, fmt.Errorf("%w %q", event.ErrUnknownType, r.Withdraw))
		return
	}
	if r.Amount == "" {
		return // reported at recharge.amount
	}
	a, ok := t.Attr(r.Amount)
	switch {
	case !ok:
		ps.Add(path, fmt.Errorf("%w %q in type %q", event.ErrUnknownAttribute, r.Amount, r.Withdraw))
	case a.Kind != event.Decimal && a.Kind != event.Integer:
		ps.Add(path, fmt.Errorf("%w: %q of %q is %s, want decimal or integer", event.ErrAttributeType, r.Amount, r.Withdraw, a.Kind))
	}
}

func (d Definition) checkCond(ps *rule.Problems, env Env, path string, c Cond) {
	kind, ok := d.factKind(c.Fact)
	if !ok {
		ps.Addf(rule.Join(path, "fact"), "unknown fact %q", c.Fact)
		return
	}
	if c.Days < 0 {
		ps.Addf(rule.Join(path, "days"), "must not be negative")
	} else if c.Days > 0 && !Windowable(c.Fact) {
		ps.Addf(rule.Join(path, "days"), "fact %q has no time window", c.Fact)
	}
	if Windowable(c.Fact) || c.Fact == FactFirstOrder || c.Fact == FactLastOrder || strings.HasPrefix(c.Fact, "top_") ||
		c.Fact == FactBrands || c.Fact == FactCategories || c.Fact == FactProducts {
		if d.Orders == nil {
			ps.Addf(rule.Join(path, "fact"), "fact %q needs orders to be defined", c.Fact)
		}
	}
	if c.Fact == FactRechargeTotal && d.Recharge == nil {
		ps.Addf(rule.Join(path, "fact"), "fact %q needs recharge to be defined", c.Fact)
	}
	typ := event.Type{Name: "member", Attributes: []event.Attr{{Name: c.Fact, Kind: kind}}}
	for _, err := range c.condition().Check(typ) {
		ps.Add(path, err)
	}
	if c.Fact == FactLevel && env != nil {
		unknown := func(p string, v event.Value) {
			if v.Kind == event.String && v.Str != "" && !env.LevelExists(v.Str) {
				ps.Addf(rule.Join(path, p), "unknown level %q", v.Str)
			}
		}
		if c.Op == event.Eq || c.Op == event.Ne {
			unknown("value", c.Value)
		} else {
			for i, v := range c.Values {
				unknown(rule.Index("values", i), v)
			}
		}
	}
}

// CheckExpr parses an expression and checks that every tag it names is
// declared, returning the first problem: an error wrapping ErrSyntax or
// ErrUnknownTag. It is for a host checking an expression it holds against
// a tag definition. A program definition checks the segments of task
// targets (task.Target.Segment) and coupon claim conditions
// (coupon.ClaimRule.Segment) with Parse and its own tag lookup instead,
// so that it reports every unknown tag with its path.
func (d Definition) CheckExpr(s string) error {
	e, err := Parse(s)
	if err != nil {
		return err
	}
	if err := d.checkTags(e); err != nil {
		return fmt.Errorf("tag: %w", err)
	}
	return nil
}

// checkTags returns an error wrapping ErrUnknownTag for the first tag of e
// the definition does not declare.
func (d Definition) checkTags(e Expr) error {
	for _, n := range e.Tags() {
		if !d.Declared(n) {
			return fmt.Errorf("%w %q", ErrUnknownTag, n)
		}
	}
	return nil
}
