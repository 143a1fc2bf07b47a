package tag

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// Tally is the orders and amount of one brand, category or product.
type Tally struct {
	Orders int64           `json:"orders"`
	Amount decimal.Decimal `json:"amount"`
}

// Ranked is one value of a top list.
type Ranked struct {
	Name   string          `json:"name"`
	Orders int64           `json:"orders"`
	Amount decimal.Decimal `json:"amount"`
}

// Stats are a member's statistics kept from events.
type Stats struct {
	FirstOrder time.Time        `json:"first_order,omitzero"`
	LastOrder  time.Time        `json:"last_order,omitzero"`
	Orders     int64            `json:"orders,omitempty"`
	Amount     decimal.Decimal  `json:"amount"`
	Recharged  decimal.Decimal  `json:"recharged"`
	Brands     map[string]Tally `json:"brands,omitempty"`
	Categories map[string]Tally `json:"categories,omitempty"`
	Products   map[string]Tally `json:"products,omitempty"`
}

// AppendJSON appends s's JSON to b, as json.Marshal writes it, when it
// has no brands, categories nor products (ok false otherwise: maps are
// left to encoding/json). The store keeps statistics in binary form (see
// appendStats); older versions wrote this JSON.
func (s Stats) AppendJSON(b []byte) ([]byte, bool) {
	if len(s.Brands) > 0 || len(s.Categories) > 0 || len(s.Products) > 0 {
		return nil, false
	}
	o := engine.JSONObject{B: append(b, '{')}
	o.Time("first_order", s.FirstOrder, true)
	o.Time("last_order", s.LastOrder, true)
	o.Int("orders", s.Orders, true)
	o.Dec("amount", s.Amount, false)
	o.Dec("recharged", s.Recharged, false)
	return append(o.B, '}'), true
}

// parseStats reads raw into s when it is a record AppendJSON writes
// (its fields in its order, no tallies, no text that needs unescaping,
// times and numbers as encoding/json writes them) and reports whether it
// did; anything else is left to encoding/json (s then untouched). It
// reads the JSON records older versions (an import's openings among
// them) left without reflection; TestParseStatsMatchesUnmarshal runs
// both.
func parseStats(raw []byte, s *Stats) bool {
	c := jsonCursor{b: raw}
	var out Stats
	ok := c.lit(`{`)
	if ok && c.lit(`"first_order":`) {
		out.FirstOrder, ok = c.time()
		ok = ok && c.lit(`,`)
	}
	if ok && c.lit(`"last_order":`) {
		out.LastOrder, ok = c.time()
		ok = ok && c.lit(`,`)
	}
	if ok && c.lit(`"orders":`) {
		out.Orders, ok = c.int()
		ok = ok && c.lit(`,`)
	}
	if ok = ok && c.lit(`"amount":`); ok {
		out.Amount, ok = c.dec()
	}
	if ok = ok && c.lit(`,"recharged":`); ok {
		out.Recharged, ok = c.dec()
	}
	if !ok || !c.lit(`}`) || len(c.b) > 0 {
		return false
	}
	*s = out
	return true
}

// jsonCursor reads the JSON parseStats accepts, ahead of b.
type jsonCursor struct{ b []byte }

func (c *jsonCursor) lit(s string) bool {
	if len(c.b) < len(s) || string(c.b[:len(s)]) != s {
		return false
	}
	c.b = c.b[len(s):]
	return true
}

// str reads a JSON string with nothing to unescape.
func (c *jsonCursor) str() (string, bool) {
	if !c.lit(`"`) {
		return "", false
	}
	for i, b := range c.b {
		switch {
		case b == '"':
			s := string(c.b[:i])
			c.b = c.b[i+1:]
			return s, true
		case b == '\\' || b < 0x20 || b >= 0x80:
			return "", false
		}
	}
	return "", false
}

// time reads a time as encoding/json writes one (RFC 3339, shortest
// fraction): one it would write otherwise is declined.
func (c *jsonCursor) time() (time.Time, bool) {
	s, ok := c.str()
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil && t.Format(time.RFC3339Nano) == s
}

// int reads an integer as encoding/json writes one.
func (c *jsonCursor) int() (int64, bool) {
	i := 0
	for i < len(c.b) && (c.b[i] == '-' || '0' <= c.b[i] && c.b[i] <= '9') {
		i++
	}
	s := string(c.b[:i])
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	c.b = c.b[i:]
	return n, true
}

// dec reads a decimal as a JSON string, as decimal.Decimal's UnmarshalJSON
// does.
func (c *jsonCursor) dec() (decimal.Decimal, bool) {
	s, ok := c.str()
	if !ok {
		return decimal.Decimal{}, false
	}
	d, err := decimal.NewFromString(s)
	return d, err == nil
}

// Order is what the statistics read from an order event.
type Order struct {
	Time       time.Time
	Amount     decimal.Decimal
	Brands     []string
	Categories []string
	Products   []string
}

// Order reads an order from ev, or reports false when ev is not the order
// event type.
func (o Orders) Order(ev event.Event) (Order, bool) {
	if ev.Type != o.Event {
		return Order{}, false
	}
	amt, _ := ev.Decimal(o.Amount)
	return Order{Time: ev.Time, Amount: amt, Brands: values(ev, o.Brand), Categories: values(ev, o.Category), Products: values(ev, o.Product)}, true
}

// Recharged reads a recharge's amount from ev, or reports false when ev
// is not the recharge event type.
func (r Recharge) Recharged(ev event.Event) (decimal.Decimal, bool) {
	if ev.Type != r.Event {
		return decimal.Zero, false
	}
	amt, _ := ev.Decimal(r.Amount)
	return amt, true
}

// Withdrawn reads a withdrawal's amount from ev, or reports false when ev
// is not the withdrawal event type (Withdraw, none when empty).
func (r Recharge) Withdrawn(ev event.Event) (decimal.Decimal, bool) {
	if r.Withdraw == "" || ev.Type != r.Withdraw {
		return decimal.Zero, false
	}
	amt, _ := ev.Decimal(r.Amount)
	return amt, true
}

// values returns the distinct non-empty values of a string or list
// attribute, in order.
func values(ev event.Event, attr string) []string {
	if attr == "" {
		return nil
	}
	v, ok := ev.Attrs[attr]
	if !ok {
		return nil
	}
	var in []string
	switch v.Kind {
	case event.String:
		in = []string{v.Str}
	case event.Strings:
		in = v.Strings
	}
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// AddOrder adds an order to the statistics.
func (s *Stats) AddOrder(o Order) {
	if s.FirstOrder.IsZero() || o.Time.Before(s.FirstOrder) {
		s.FirstOrder = o.Time
	}
	if o.Time.After(s.LastOrder) {
		s.LastOrder = o.Time
	}
	s.Orders++
	s.Amount = codec.Add(s.Amount, o.Amount) // without math/big where it can: every order adds
	tally := func(m *map[string]Tally, names []string) {
		if len(names) == 0 {
			return
		}
		if *m == nil {
			*m = map[string]Tally{}
		}
		for _, n := range names {
			t := (*m)[n]
			t.Orders++
			t.Amount = codec.Add(t.Amount, o.Amount)
			(*m)[n] = t
		}
	}
	tally(&s.Brands, o.Brands)
	tally(&s.Categories, o.Categories)
	tally(&s.Products, o.Products)
}

// AddRecharge adds a recharge's amount to the recharge total.
func (s *Stats) AddRecharge(amount decimal.Decimal) {
	s.Recharged = codec.Add(s.Recharged, amount)
}

// AddWithdrawal takes a withdrawal's amount off the recharge total, down
// to zero and never below: a recharge paid back is not a recharge. An
// amount that is not positive takes nothing (stored value refuses such a
// withdrawal before; an event type the tags alone read may carry one).
func (s *Stats) AddWithdrawal(amount decimal.Decimal) {
	if amount.IsPositive() {
		s.Recharged = decimal.Max(codec.Add(s.Recharged, amount.Neg()), decimal.Zero)
	}
}

// AverageOrder returns the order amount divided by the order count, rounded
// half-up to the cent; zero without orders.
func AverageOrder(count int64, amount decimal.Decimal) decimal.Decimal {
	if count <= 0 {
		return decimal.Zero
	}
	return amount.DivRound(decimal.NewFromInt(count), 2)
}

// Top returns the first n values of a tally by order count, then amount
// (both descending), then name.
func Top(m map[string]Tally, n int) []Ranked {
	out := make([]Ranked, 0, len(m))
	for name, t := range m {
		out = append(out, Ranked{Name: name, Orders: t.Orders, Amount: t.Amount})
	}
	slices.SortFunc(out, func(a, b Ranked) int {
		if c := cmp.Compare(b.Orders, a.Orders); c != 0 {
			return c
		}
		if c := b.Amount.Cmp(a.Amount); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func names(r []Ranked) []string {
	out := make([]string, len(r))
	for i, x := range r {
		out[i] = x.Name
	}
	return out
}

// Day is a member's orders on one day of the program's zone.
type Day struct {
	Date   rule.Date       `json:"date"`
	Orders int64           `json:"orders"`
	Amount decimal.Decimal `json:"amount"`
}

// Member is everything the rules read about one member.
type Member struct {
	Attrs map[string]event.Value
	Level string
	Stats Stats
	// Days are the member's order days within the longest window of the
	// rules, in date order.
	Days []Day
}

// Now returns the time the rules are evaluated at for an event (or other
// change) at at: at itself, or the member's last order when it is later,
// so that a late event does not evaluate the windows as they stood in the
// past (an order 90 days ago must not make a member "recent" again).
func (m Member) Now(at time.Time) time.Time {
	if m.Stats.LastOrder.After(at) {
		return m.Stats.LastOrder
	}
	return at
}

// window sums the days in [today-days+1, today].
func (m Member) window(days int, now time.Time, loc *time.Location) (int64, decimal.Decimal) {
	today := rule.DateOf(now, loc)
	from := today.AddDays(-(days - 1))
	var n int64
	amt := decimal.Zero
	for _, d := range m.Days {
		if d.Date.Compare(from) >= 0 && d.Date.Compare(today) <= 0 {
			n += d.Orders
			amt = amt.Add(d.Amount)
		}
	}
	return n, amt
}

// fact returns the value of a condition's fact for the member at now.
func (d Definition) fact(c Cond, m Member, now time.Time, loc *time.Location) (event.Value, bool) {
	if name, ok := strings.CutPrefix(c.Fact, "attr."); ok {
		v, ok := m.Attrs[name]
		return v, ok
	}
	count, amount := m.Stats.Orders, m.Stats.Amount
	if c.Days > 0 {
		count, amount = m.window(c.Days, now, loc)
	}
	top := func(t map[string]Tally) (event.Value, bool) {
		r := Top(t, 1)
		if len(r) == 0 {
			return event.Value{}, false
		}
		return event.Str(r[0].Name), true
	}
	switch c.Fact {
	case FactLevel:
		return event.Str(m.Level), true
	case FactOrderCount:
		return event.Int(count), true
	case FactOrderAmount:
		return event.Dec(amount), true
	case FactAverageOrder:
		// No order (in the window): no average, rather than 0, which
		// "average_order < 50" would take for a small spender.
		return event.Dec(AverageOrder(count, amount)), count > 0
	case FactRechargeTotal:
		return event.Dec(m.Stats.Recharged), true
	case FactFirstOrder:
		return event.At(m.Stats.FirstOrder), !m.Stats.FirstOrder.IsZero()
	case FactLastOrder:
		return event.At(m.Stats.LastOrder), !m.Stats.LastOrder.IsZero()
	case FactTopBrand:
		return top(m.Stats.Brands)
	case FactTopCategory:
		return top(m.Stats.Categories)
	case FactTopProduct:
		return top(m.Stats.Products)
	case FactBrands:
		return event.List(names(Top(m.Stats.Brands, d.TopN()))...), true
	case FactCategories:
		return event.List(names(Top(m.Stats.Categories, d.TopN()))...), true
	case FactProducts:
		return event.List(names(Top(m.Stats.Products, d.TopN()))...), true
	}
	return event.Value{}, false
}

// Match reports whether the rule holds for the member at now.
func (d Definition) Match(r Rule, m Member, now time.Time, loc *time.Location) bool {
	for _, c := range r.All {
		v, ok := d.fact(c, m, now, loc)
		if !ok {
			return false
		}
		ev := event.Event{Attrs: event.Attrs{c.Fact: v}}
		if !c.condition().Match(ev) {
			return false
		}
	}
	return true
}

// Edge returns the first instant after now at which a windowed condition's
// value changes for the member without any new event: the start of day
// D+N for an order day D that a window of N days still counts. It returns
// the zero time when no windowed value will change.
func (d Definition) Edge(m Member, now time.Time, loc *time.Location) time.Time {
	var windows []int
	for _, r := range d.Rules {
		for _, c := range r.All {
			if c.Days > 0 && !slices.Contains(windows, c.Days) {
				windows = append(windows, c.Days)
			}
		}
	}
	var edge time.Time
	for _, n := range windows {
		for _, day := range m.Days {
			at := day.Date.AddDays(n).Start(loc)
			if at.After(now) && (edge.IsZero() || at.Before(edge)) {
				edge = at
			}
		}
	}
	return edge
}

// Explain returns the value of each of the rule's facts for the member at
// now, by fact (with "/Nd" appended for a window of N days), for reasons.
func (d Definition) Explain(r Rule, m Member, now time.Time, loc *time.Location) map[string]string {
	out := map[string]string{}
	for _, c := range r.All {
		name := c.Fact
		if c.Days > 0 {
			name += "/" + strconv.Itoa(c.Days) + "d"
		}
		if v, ok := d.fact(c, m, now, loc); ok {
			out[name] = v.String()
		} else {
			out[name] = "<none>"
		}
	}
	return out
}

// Summary is the statistics part of a member profile.
type Summary struct {
	FirstOrder    time.Time       `json:"first_order,omitzero"`
	LastOrder     time.Time       `json:"last_order,omitzero"`
	Orders        int64           `json:"orders"`
	Amount        decimal.Decimal `json:"amount"`
	AverageOrder  decimal.Decimal `json:"average_order"`
	Recharged     decimal.Decimal `json:"recharged"`
	TopBrands     []Ranked        `json:"top_brands,omitempty"`
	TopCategories []Ranked        `json:"top_categories,omitempty"`
	TopProducts   []Ranked        `json:"top_products,omitempty"`
}

// Summary returns the statistics with the top n of each dimension.
func (s Stats) Summary(n int) Summary {
	return Summary{
		FirstOrder: s.FirstOrder, LastOrder: s.LastOrder, Orders: s.Orders, Amount: s.Amount,
		AverageOrder: AverageOrder(s.Orders, s.Amount), Recharged: s.Recharged,
		TopBrands: Top(s.Brands, n), TopCategories: Top(s.Categories, n), TopProducts: Top(s.Products, n),
	}
}
