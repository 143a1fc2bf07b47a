package points

import (
	"fmt"
	"slices"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Definition is the points part of a program definition: the point
// programs, the exchange rates between them, the earning rules and the
// refund (return policy) rules.
type Definition struct {
	Programs  []Program  `json:"programs"`
	Exchanges []Exchange `json:"exchanges,omitempty"`
	Rules     []Rule     `json:"rules,omitempty"`
	Refunds   []Refund   `json:"refunds,omitempty"`
}

// Program is one point program (a tourism group's shop points, its park
// points).
type Program struct {
	// Name identifies the program; its ledger asset is ledger.Points(Name).
	Name string `json:"name"`
	// Rounding brings every amount of the program to its scale (default:
	// whole points, rounded down).
	Rounding rule.Rounding `json:"rounding,omitzero"`
	// Validity is the validity of points granted otherwise than by an
	// earning rule: rewards (level gifts, tasks), credit adjustments and
	// exchanges into this program. Empty means permanent; a fixed range
	// is refused (see Rule.Validity).
	Validity rule.Validity `json:"validity,omitzero"`
	// Risk, when set, is the program's daily risk control.
	Risk *Risk `json:"risk,omitempty"`
	// ApprovalAbove, when set, is the largest manual adjustment (in absolute
	// value) applied at once; a larger one waits for another operator's
	// approval. Nil: no adjustment needs approval.
	ApprovalAbove *decimal.Decimal `json:"approval_above,omitempty"`
	// Payment, when set, allows points + cash payment.
	Payment *Payment `json:"payment,omitempty"`
}

// RiskPolicy says what reaching the daily threshold does.
type RiskPolicy string

// The risk policies.
const (
	// Stop stops earning for the rest of the day: the part of a grant above
	// the threshold and every later grant that day are blocked (recorded,
	// never credited).
	Stop RiskPolicy = "stop"
	// Freeze freezes every point earned that day (the grant that reaches
	// the threshold, those before it that are still unspent, and those
	// after it) until an operator restores or voids them.
	Freeze RiskPolicy = "freeze"
)

// Risk is a per-member daily threshold on the points earned by earning
// rules in one program (rewards, adjustments and exchanges do not count).
// The day is the calendar day in the program's zone. Daily has at most
// the program's decimal places.
type Risk struct {
	Daily  decimal.Decimal `json:"daily"`
	Policy RiskPolicy      `json:"policy"`
}

// Payment configures points + cash: Rate is the money one point is worth
// (0.01: 100 points pay 1.00), positive and within the limit on decimals a
// formula's rate keeps to (event.CheckDecimal: 40 digits before and after
// the point), MaxShare the largest part of an order amount payable in
// points (0 < MaxShare ≤ 1).
type Payment struct {
	Rate     decimal.Decimal `json:"rate"`
	MaxShare decimal.Decimal `json:"max_share"`
	// MoneyScale is the number of decimal places of money, 0 to 8: of
	// the order amount (finer ones are refused) and of the money paid in
	// points (rounded down to it). nil (unset, "money_scale" absent from
	// the JSON) means the default, 2; new(int32(0)) ("money_scale": 0)
	// means whole units, for a currency with no minor unit (yen, won).
	//
	// It is a pointer so that 0 can mean whole units while an unset
	// MoneyScale keeps meaning 2, as it did when the field was an int32
	// whose 0 stood for the default: a definition that left it out
	// encodes and behaves as before. [Payment.MoneyPlaces] gives the
	// scale in force.
	MoneyScale *int32 `json:"money_scale,omitempty"`
}

// DefaultMoneyScale is the number of decimal places of money when
// Payment.MoneyScale is nil.
const DefaultMoneyScale = 2

// MoneyPlaces returns the number of decimal places of money: MoneyScale,
// or DefaultMoneyScale when MoneyScale is nil.
func (p Payment) MoneyPlaces() int32 {
	if p.MoneyScale == nil {
		return DefaultMoneyScale
	}
	return *p.MoneyScale
}

// Exchange is the rate at which points of program From convert into
// points of program To: one From point gives Rate To points, rounded down
// to To's scale. Rate is positive and keeps to the limit on decimals a
// formula's rate keeps to (event.CheckDecimal: 40 digits before and after
// the point); Definition.Check refuses one beyond it at its path
// (exchanges[i].rate), wrapping event.ErrTooLarge.
type Exchange struct {
	From string          `json:"from"`
	To   string          `json:"to"`
	Rate decimal.Decimal `json:"rate"`
}

// Rule is an earning rule.
type Rule struct {
	// ID names the rule in reasons, caps and statements.
	ID string `json:"id"`
	// Program is the point program credited.
	Program string `json:"program"`
	// Event is the event type that earns.
	Event string `json:"event"`
	// Conditions must all match the event's attributes.
	Conditions []event.Condition `json:"conditions,omitempty"`
	// Levels, when not empty, limits the rule to members whose ladder level
	// is one of them: the level the member has at the event's time once
	// the level part has processed the same event (an upgrade the event
	// causes counts; a late event dated before the member's latest level
	// change is judged on the level held then, without the upgrade it
	// causes itself, which takes effect later: package level).
	Levels []string `json:"levels,omitempty"`
	// Window is the rule's effective period.
	Window rule.Window `json:"window,omitzero"`
	// Formula computes the points from the event; the result is rounded
	// with the program's Rounding.
	Formula rule.Formula `json:"formula"`
	// Validity is the validity of the points granted (empty: permanent):
	// permanent, an annual date, month ends, months or days after the
	// grant. A fixed range is refused: points are spendable when granted,
	// so its first day would not be kept.
	Validity rule.Validity `json:"validity,omitzero"`
	// Caps limit the points the rule grants per member per period; a
	// limit has at most the program's decimal places.
	Caps rule.Caps `json:"caps,omitempty"`
	// PendingDays, when > 0, holds the points pending for that many days
	// (an order's return window) before they become spendable.
	PendingDays int `json:"pending_days,omitempty"`
	// Order names the string attribute holding the order ID, so a refund
	// can reverse the points; OrderAmount names the decimal attribute
	// holding the order amount the refund is a share of (default: the
	// formula's base). An order ID is one member's, as order IDs of one
	// shop are: the first member whose event names it owns it, and
	// another member's event naming the same ID earns its points but is
	// not tracked, so a refund of it reverses nothing.
	Order       string `json:"order,omitempty"`
	OrderAmount string `json:"order_amount,omitempty"`
}

// Refund is a return-policy rule: an event of type Event refunds
// Amount (a decimal attribute) of the order named by Order (a string
// attribute); the points the order earned are reversed in proportion.
// A refund of an order no rule recorded reverses nothing and is not
// refused (see Refunds in the package doc).
type Refund struct {
	Event  string `json:"event"`
	Order  string `json:"order"`
	Amount string `json:"amount"`
}

// Env is what validating a definition needs to look up.
type Env interface {
	// EventType returns the declared event type named name.
	EventType(name string) (event.Type, bool)
	// LevelExists reports whether the level ladder has a level named name.
	LevelExists(name string) bool
}

// maxPendingDays bounds Rule.PendingDays (ten years).
const maxPendingDays = 3660

// Program returns the point program named name.
func (d Definition) Program(name string) (Program, bool) {
	for _, p := range d.Programs {
		if p.Name == name {
			return p, true
		}
	}
	return Program{}, false
}

// Rule returns the earning rule with the ID.
func (d Definition) Rule(id string) (Rule, bool) {
	for _, r := range d.Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// ExchangeRate returns the rate from one program to another.
func (d Definition) ExchangeRate(from, to string) (decimal.Decimal, bool) {
	for _, x := range d.Exchanges {
		if x.From == from && x.To == to {
			return x.Rate, true
		}
	}
	return decimal.Decimal{}, false
}

// Check reports every problem of the definition, with paths such as
// "rules[2].caps[0].limit".
// A nil env is refused with an error wrapping rule.ErrInvalidDefinition.
func (d Definition) Check(env Env) error {
	if env == nil {
		// The lookups are not optional here: refused rather than a panic.
		return fmt.Errorf("%w: Check needs an Env (the program's event types and other domains); nil given", rule.ErrInvalidDefinition)
	}
	var ps rule.Problems
	names := map[string]bool{}
	progs := map[string]Program{}
	for i, p := range d.Programs {
		at := rule.Index("programs", i)
		switch {
		case p.Name == "":
			ps.Addf(rule.Join(at, "name"), "empty")
		case names[p.Name]:
			ps.Addf(rule.Join(at, "name"), "duplicate point program %q", p.Name)
		}
		names[p.Name] = true
		if _, ok := progs[p.Name]; !ok {
			progs[p.Name] = p
		}
		ps.Add(rule.Join(at, "rounding"), p.Rounding.Check())
		checkValidity(&ps, rule.Join(at, "validity"), p.Validity)
		if r := p.Risk; r != nil {
			if !r.Daily.IsPositive() {
				ps.Addf(rule.Join(at, "risk.daily"), "must be > 0")
			} else {
				checkScale(&ps, rule.Join(at, "risk.daily"), p, r.Daily)
			}
			if r.Policy != Stop && r.Policy != Freeze {
				ps.Addf(rule.Join(at, "risk.policy"), "unknown policy %q (want %q or %q)", r.Policy, Stop, Freeze)
			}
		}
		if a := p.ApprovalAbove; a != nil && a.IsNegative() {
			ps.Addf(rule.Join(at, "approval_above"), "must not be negative")
		}
		if pay := p.Payment; pay != nil {
			if !pay.Rate.IsPositive() {
				ps.Addf(rule.Join(at, "payment.rate"), "must be > 0")
			}
			// Within the limits a formula's rate keeps to (rule.Formula.Check).
			ps.Add(rule.Join(at, "payment.rate"), event.CheckDecimal(pay.Rate))
			if !pay.MaxShare.IsPositive() || pay.MaxShare.GreaterThan(decimal.NewFromInt(1)) {
				ps.Addf(rule.Join(at, "payment.max_share"), "must be > 0 and <= 1")
			}
			if ms := pay.MoneyPlaces(); ms < 0 || ms > rule.MaxScale {
				ps.Addf(rule.Join(at, "payment.money_scale"), "must be 0 to %d", rule.MaxScale)
			}
		}
	}
	if len(d.Programs) == 0 {
		ps.Addf("programs", "at least one point program is required")
	}
	pairs := map[[2]string]bool{}
	for i, x := range d.Exchanges {
		at := rule.Index("exchanges", i)
		if !names[x.From] {
			ps.Addf(rule.Join(at, "from"), "unknown point program %q", x.From)
		}
		if !names[x.To] {
			ps.Addf(rule.Join(at, "to"), "unknown point program %q", x.To)
		}
		if x.From == x.To {
			ps.Addf(rule.Join(at, "to"), "same as from")
		}
		if pairs[[2]string{x.From, x.To}] {
			ps.Addf(at, "duplicate exchange %s → %s", x.From, x.To)
		}
		pairs[[2]string{x.From, x.To}] = true
		if !x.Rate.IsPositive() {
			ps.Addf(rule.Join(at, "rate"), "must be > 0")
		}
		// Within the limits a formula's rate keeps to: an exchange at
		// 1e70000 made a balance of 70,001 digits.
		ps.Add(rule.Join(at, "rate"), event.CheckDecimal(x.Rate))
	}
	ids := map[string]bool{}
	for i, r := range d.Rules {
		at := rule.Index("rules", i)
		switch {
		case r.ID == "":
			ps.Addf(rule.Join(at, "id"), "empty")
		case ids[r.ID]:
			ps.Addf(rule.Join(at, "id"), "duplicate rule %q", r.ID)
		}
		ids[r.ID] = true
		if !names[r.Program] {
			ps.Addf(rule.Join(at, "program"), "unknown point program %q", r.Program)
		}
		t, ok := env.EventType(r.Event)
		if !ok {
			ps.Add(rule.Join(at, "event"), fmt.Errorf("%w %q", event.ErrUnknownType, r.Event))
		} else {
			for j, c := range r.Conditions {
				for _, err := range c.Check(t) {
					ps.Add(rule.Join(at, rule.Index("conditions", j)), err)
				}
			}
			ps.Add(rule.Join(at, "formula"), r.Formula.Check(t))
			checkAttr(&ps, rule.Join(at, "order"), t, r.Order, event.String)
			checkAttr(&ps, rule.Join(at, "order_amount"), t, r.OrderAmount, event.Decimal)
		}
		if r.Formula.Rate.IsNegative() || r.Formula.Fixed.IsNegative() {
			ps.Addf(rule.Join(at, "formula"), "an earning rule must not be negative (refunds are refund rules)")
		}
		for j, l := range r.Levels {
			if !env.LevelExists(l) {
				ps.Addf(rule.Join(at, rule.Index("levels", j)), "unknown level %q", l)
			}
		}
		ps.Add(rule.Join(at, "window"), r.Window.Check())
		checkValidity(&ps, rule.Join(at, "validity"), r.Validity)
		ps.Add(rule.Join(at, "caps"), r.Caps.Check())
		if p, ok := progs[r.Program]; ok {
			for j, c := range r.Caps {
				checkScale(&ps, rule.Join(at, rule.Index("caps", j), "limit"), p, c.Limit)
			}
		}
		if r.PendingDays < 0 || r.PendingDays > maxPendingDays {
			ps.Addf(rule.Join(at, "pending_days"), "must be 0 to %d", maxPendingDays)
		}
	}
	// A refund reverses what a rule recorded for the order; with no rule
	// recording orders it would reverse nothing, silently.
	if len(d.Refunds) > 0 && !slices.ContainsFunc(d.Rules, func(r Rule) bool { return r.Order != "" }) {
		ps.Addf("refunds", "no earning rule records its orders (order), so a refund would reverse nothing")
	}
	refunds := map[Refund]bool{}
	for i, r := range d.Refunds {
		at := rule.Index("refunds", i)
		// Each refund rule adds its amount to the order's refunded total:
		// the same rule twice would count every refund event twice.
		if refunds[r] {
			ps.Addf(at, "duplicate refund rule (event %q, order %q, amount %q)", r.Event, r.Order, r.Amount)
		}
		refunds[r] = true
		t, ok := env.EventType(r.Event)
		if !ok {
			ps.Add(rule.Join(at, "event"), fmt.Errorf("%w %q", event.ErrUnknownType, r.Event))
			continue
		}
		if r.Order == "" {
			ps.Addf(rule.Join(at, "order"), "required")
		}
		if r.Amount == "" {
			ps.Addf(rule.Join(at, "amount"), "required")
		}
		checkAttr(&ps, rule.Join(at, "order"), t, r.Order, event.String)
		checkAttr(&ps, rule.Join(at, "amount"), t, r.Amount, event.Decimal)
	}
	return ps.Err()
}

// checkScale records a problem unless amount, a non-negative amount of
// p's points, has at most p's decimal places: a cap's limit or a stop
// threshold finer than the scale would cut a grant to a fraction the
// program cannot hold (a limit of 15.5 whole points granted 5.5).
func checkScale(ps *rule.Problems, path string, p Program, amount decimal.Decimal) {
	if !amount.IsNegative() && !amount.Equal(amount.Truncate(p.Scale())) {
		ps.Addf(path, "%s has more than %d decimal places (program %q)", amount, p.Scale(), p.Name)
	}
}

// checkAttr records a problem unless attr is empty or a declared attribute
// of t of kind k.
func checkAttr(ps *rule.Problems, path string, t event.Type, attr string, k event.Kind) {
	if attr == "" {
		return
	}
	a, ok := t.Attr(attr)
	switch {
	case !ok:
		ps.Add(path, fmt.Errorf("%w %q in type %q", event.ErrUnknownAttribute, attr, t.Name))
	case a.Kind != k && !(k == event.Decimal && a.Kind == event.Integer):
		ps.Add(path, fmt.Errorf("%w: %q is %s, want %s", event.ErrAttributeType, attr, a.Kind, k))
	}
}

// checkValidity adds the problems of a points validity (empty: permanent)
// at path. A fixed range is refused: a lot is spendable from its grant
// (or its release), so the range's first day could not be kept, and
// points granted after its last day would expire as they are granted.
func checkValidity(ps *rule.Problems, path string, v rule.Validity) {
	if v.Kind == "" {
		return
	}
	ps.Add(path, v.Check())
	if v.Kind == rule.FixedRange {
		ps.Addf(rule.Join(path, "kind"), "%s is not a points validity (permanent, annual_date, month_ends, months_after, days_after)", v.Kind)
	}
}
