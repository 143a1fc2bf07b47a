package tag_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func TestTagExpr(t *testing.T) {
	tests := []struct {
		expr string
		tags []string
		want bool
		str  string
	}{
		{"M", []string{"M"}, true, "M"},
		{"M", nil, false, "M"},
		{"M and vip", []string{"M"}, false, "M and vip"},
		{"M AND vip", []string{"vip", "M"}, true, "M and vip"},
		{"M or vip", []string{"vip"}, true, "M or vip"},
		{"not churned", nil, true, "not churned"},
		{"M and not churned", []string{"M", "churned"}, false, "M and not churned"},
		{"M and (vip or new) and not churned", []string{"M", "new"}, true, "M and (vip or new) and not churned"},
		{"a or b and c", []string{"a"}, true, "a or (b and c)"},
		{"not (a or b)", []string{"b"}, false, "not (a or b)"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := tag.Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Match(tc.tags); got != tc.want {
				t.Errorf("Match(%v) = %v, want %v", tc.tags, got, tc.want)
			}
			if got := e.String(); got != tc.str {
				t.Errorf("String = %q, want %q", got, tc.str)
			}
		})
	}
	for _, bad := range []string{"", "and", "M and", "(M", "M)", "not", "M vip", "M or or vip"} {
		if _, err := tag.Parse(bad); !errors.Is(err, tag.ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", bad, err)
		}
	}
	if got := tag.MustParse("b and (a or not b)").Tags(); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("Tags = %v", got)
	}
	// MaxDepth levels of parentheses or "not"s parse and match; one more
	// is refused. Two million levels crashed the process (the stack).
	nested := func(n int, open, close string) string {
		return strings.Repeat(open, n) + "a" + strings.Repeat(close, n)
	}
	for _, tc := range []struct{ open, close string }{{"(", ")"}, {"not ", ""}} {
		e, err := tag.Parse(nested(tag.MaxDepth, tc.open, tc.close))
		// An even number of "not"s matches a member with a.
		if err != nil || !e.Match([]string{"a"}) {
			t.Errorf("%d levels of %q: Match = %v, %v; want true, nil", tag.MaxDepth, tc.open, e.Match([]string{"a"}), err)
		}
		for _, n := range []int{tag.MaxDepth + 1, 2_000_000} {
			if _, err := tag.Parse(nested(n, tc.open, tc.close)); !errors.Is(err, tag.ErrSyntax) {
				t.Errorf("%d levels of %q: %v, want ErrSyntax", n, tc.open, err)
			}
		}
	}
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func order(day int, amount string, cats ...string) tag.Order {
	return tag.Order{Time: time.Date(2026, 1, day, 12, 0, 0, 0, shanghai), Amount: dec(amount), Categories: cats}
}

func TestTagStatsTop(t *testing.T) {
	var s tag.Stats
	s.AddOrder(order(3, "100", "formula", "diapers"))
	s.AddOrder(order(1, "50", "formula"))
	s.AddOrder(order(5, "300", "toys"))
	got := s.Summary(2)
	want := tag.Summary{
		FirstOrder: order(1, "0").Time, LastOrder: order(5, "0").Time, Orders: 3, Amount: dec("450"),
		AverageOrder: dec("150"), Recharged: decimal.Zero,
		TopCategories: []tag.Ranked{{Name: "formula", Orders: 2, Amount: dec("150")}, {Name: "toys", Orders: 1, Amount: dec("300")}},
		TopBrands:     []tag.Ranked{}, TopProducts: []tag.Ranked{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if got := tag.AverageOrder(3, dec("100")); !got.Equal(dec("33.33")) {
		t.Errorf("average of 100 over 3 = %s, want 33.33", got)
	}
	if got := tag.AverageOrder(0, dec("0")); !got.IsZero() {
		t.Errorf("average without orders = %s", got)
	}
}

// A late event is evaluated as at the member's last order; any other at
// the time it happened.
func TestTagMemberNow(t *testing.T) {
	last := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	m := tag.Member{Stats: tag.Stats{LastOrder: last}}
	tests := []struct {
		name string
		m    tag.Member
		at   time.Time
		want time.Time
	}{
		{"no order yet", tag.Member{}, last, last},
		{"after the last order", m, last.Add(time.Second), last.Add(time.Second)},
		{"at the last order", m, last, last},
		{"late: before the last order", m, last.Add(-24 * time.Hour), last},
	}
	for _, tc := range tests {
		if got := tc.m.Now(tc.at); !got.Equal(tc.want) {
			t.Errorf("%s: Now(%v) = %v, want %v", tc.name, tc.at, got, tc.want)
		}
	}
}

func TestTagRecharge(t *testing.T) {
	r := tag.Recharge{Event: "recharge", Amount: "amount"}
	var s tag.Stats
	for _, ev := range []event.Event{
		{Type: "recharge", Attrs: event.Attrs{"amount": event.DecString("200")}},
		{Type: "order", Attrs: event.Attrs{"amount": event.DecString("999")}},
		{Type: "recharge", Attrs: event.Attrs{"amount": event.DecString("50.5")}},
	} {
		if amt, ok := r.Recharged(ev); ok {
			s.AddRecharge(amt)
		} else if ev.Type == "recharge" {
			t.Errorf("recharge %v not read", ev)
		}
	}
	if !s.Recharged.Equal(dec("250.5")) {
		t.Errorf("recharged %s, want 250.5", s.Recharged)
	}
}

func TestTagRuleMatch(t *testing.T) {
	def := tag.Definition{
		Orders:     &tag.Orders{Event: "order", Amount: "amount", Category: "category"},
		Attributes: []event.Attr{{Name: "gender", Kind: event.String}},
	}
	m := tag.Member{
		Attrs: map[string]event.Value{"gender": event.Str("f")},
		Level: "gold",
		Days: []tag.Day{
			{Date: rule.Date{Year: 2026, Month: 1, Day: 1}, Orders: 1, Amount: dec("100")},
			{Date: rule.Date{Year: 2026, Month: 3, Day: 1}, Orders: 2, Amount: dec("40")},
		},
	}
	m.Stats.AddOrder(order(1, "100", "formula"))
	m.Stats.AddOrder(order(2, "20", "formula"))
	m.Stats.AddOrder(order(3, "20", "toys"))
	// 2026-03-31 is day 90 counted from 2026-01-01; 2026-04-01 is day 91.
	day90 := time.Date(2026, 3, 31, 23, 0, 0, 0, shanghai)
	day91 := time.Date(2026, 4, 1, 0, 0, 0, 0, shanghai)
	c := func(fact string, days int, op event.Op, v event.Value) tag.Cond {
		return tag.Cond{Fact: fact, Days: days, Op: op, Value: v}
	}
	tests := []struct {
		name string
		cond tag.Cond
		at   time.Time
		want bool
	}{
		{"attribute", c(tag.AttrFact("gender"), 0, event.Eq, event.Str("f")), day90, true},
		{"level", c(tag.FactLevel, 0, event.Eq, event.Str("silver")), day90, false},
		{"order count", c(tag.FactOrderCount, 0, event.Gte, event.Int(3)), day90, true},
		{"3 orders in the last 90 days on day 90", c(tag.FactOrderCount, 90, event.Gte, event.Int(3)), day90, true},
		{"3 orders in the last 90 days on day 91", c(tag.FactOrderCount, 90, event.Gte, event.Int(3)), day91, false},
		{"amount in 90 days on day 91", c(tag.FactOrderAmount, 90, event.Eq, event.DecString("40")), day91, true},
		{"average order", c(tag.FactAverageOrder, 0, event.Gt, event.DecString("46.66")), day90, true},
		// 2026-03-26..2026-04-01 holds no order: no average, not 0.
		{"average order of a week without orders", c(tag.FactAverageOrder, 7, event.Lt, event.DecString("50")), day91, false},
		{"average order of 90 days on day 91", c(tag.FactAverageOrder, 90, event.Eq, event.DecString("20")), day91, true},
		{"top category", c(tag.FactTopCategory, 0, event.Eq, event.Str("formula")), day90, true},
		{"categories contain", c(tag.FactCategories, 0, event.Contains, event.Str("toys")), day90, true},
		{"missing attribute", c(tag.AttrFact("birthday"), 0, event.Ne, event.Str("x")), day90, false},
		{"top brand without brands", c(tag.FactTopBrand, 0, event.Ne, event.Str("x")), day90, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tag.Rule{Tag: "x", All: []tag.Cond{tc.cond}}
			if got := def.Match(r, m, tc.at, shanghai); got != tc.want {
				t.Errorf("Match = %v, want %v (%v)", got, tc.want, def.Explain(r, m, tc.at, shanghai))
			}
		})
	}
}

func TestTagEdge(t *testing.T) {
	def := tag.Definition{Rules: []tag.Rule{
		{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(1)}}},
		{Tag: "week", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 7, Op: event.Gte, Value: event.Int(1)}}},
	}}
	m := tag.Member{Days: []tag.Day{{Date: rule.Date{Year: 2026, Month: 1, Day: 1}, Orders: 1}}}
	tests := []struct {
		now  time.Time
		want time.Time
	}{
		{time.Date(2026, 1, 1, 12, 0, 0, 0, shanghai), time.Date(2026, 1, 8, 0, 0, 0, 0, shanghai)},
		{time.Date(2026, 1, 8, 0, 0, 0, 0, shanghai), time.Date(2026, 4, 1, 0, 0, 0, 0, shanghai)},
		{time.Date(2026, 4, 1, 0, 0, 0, 0, shanghai), time.Time{}},
	}
	for _, tc := range tests {
		if got := def.Edge(m, tc.now, shanghai); !got.Equal(tc.want) {
			t.Errorf("Edge at %s = %s, want %s", tc.now, got, tc.want)
		}
	}
}

type env struct{}

func (env) EventType(name string) (event.Type, bool) {
	if name == "order" {
		return event.Type{Name: "order", Attributes: []event.Attr{
			{Name: "amount", Kind: event.Decimal}, {Name: "category", Kind: event.Strings}, {Name: "paid", Kind: event.Bool}}}, true
	}
	return event.Type{}, false
}
func (env) LevelExists(name string) bool { return name == "gold" }

func TestTagCheck(t *testing.T) {
	d := tag.Definition{
		Orders:     &tag.Orders{Event: "order", Amount: "amount", Category: "category", Brand: "paid"},
		Recharge:   &tag.Recharge{Event: "recharge", Amount: "amount"},
		Attributes: []event.Attr{{Name: "gender", Kind: event.String}, {Name: "gender", Kind: "money"}},
		Manual:     []tag.Manual{{Name: "vip"}, {Name: "has space"}},
		Rules: []tag.Rule{
			{Tag: "vip"},
			{Tag: "and"},
			{Tag: "ok", All: []tag.Cond{
				{Fact: "nope", Op: event.Eq},
				{Fact: tag.FactLevel, Op: event.Eq, Value: event.Str("platinum")},
				{Fact: tag.FactTopBrand, Days: 30, Op: event.Eq, Value: event.Str("x")},
				{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Str("3")},
			}},
		},
	}
	err := d.Check(env{})
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Check = %v", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
	}
	want := []string{
		"orders.brand", "recharge.event",
		"attributes[1].name", "attributes[1].type",
		"manual[1].name", "rules[0].tag", "rules[1].tag",
		"rules[2].all[0].fact", "rules[2].all[1].value", "rules[2].all[2].days", "rules[2].all[3].value",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, err)
	}
}

// TestTagConditionProblemsNameTheField: a rule's condition is reported
// at the field at fault, as the JSON names it: an unknown fact at fact
// (as before), a value of another kind at value (values[i] for in), an
// unknown operator or one that does not fit the fact at op. The value and
// operator were reported at the condition (rules[0].all[1]: value: …).
func TestTagConditionProblemsNameTheField(t *testing.T) {
	d := tag.Definition{
		Orders: &tag.Orders{Event: "order", Amount: "amount"},
		Rules: []tag.Rule{{Tag: "buyer", All: []tag.Cond{
			{Fact: "nope", Op: event.Eq, Value: event.Int(1)},
			{Fact: tag.FactOrderCount, Op: event.Gte, Value: event.Str("3")},
			{Fact: tag.FactOrderAmount, Op: "like", Value: event.Int(1)},
			{Fact: tag.FactOrderCount, Op: event.In, Values: []event.Value{event.Int(1), event.Flag(true)}},
			{Fact: tag.FactBrands, Op: event.Eq, Value: event.Str("x")},
		}}},
	}
	err := d.Check(env{})
	var ps *rule.Problems
	if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check = %v, want *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		`rules[0].all[0].fact: unknown fact "nope"`,
		"rules[0].all[1].value: attribute has the wrong type: got string, want integer",
		`rules[0].all[2].op: unknown operator "like"`,
		"rules[0].all[3].values[1]: attribute has the wrong type: got bool, want integer",
		`rules[0].all[4].op: "eq" does not apply to a list; use contains`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// Check names every attribute of Orders at fault in field order, every
// time (they were kept in a map, and came in a new order each run), and
// an unknown level among the values of "in" at its index.
func TestTagCheckPathsInOrder(t *testing.T) {
	d := tag.Definition{
		// The env's order type: amount is a decimal, category a list and
		// paid a bool; "code" is not declared.
		Orders: &tag.Orders{Event: "order", Amount: "category", Brand: "paid", Category: "amount", Product: "code"},
		Rules: []tag.Rule{{Tag: "ok", All: []tag.Cond{
			{Fact: tag.FactLevel, Op: event.In, Values: []event.Value{event.Str("gold"), event.Str("platinum"), event.Str("iron")}},
		}}},
	}
	want := []string{
		`orders.amount: attribute has the wrong type: "category" is strings, want decimal or integer`,
		`orders.brand: attribute has the wrong type: "paid" is bool, want string or strings`,
		`orders.category: attribute has the wrong type: "amount" is decimal, want string or strings`,
		`orders.product: unknown attribute "code" in type "order"`,
		`rules[0].all[0].values[1]: unknown level "platinum"`,
		`rules[0].all[0].values[2]: unknown level "iron"`,
	}
	for range 20 {
		var ps *rule.Problems
		if err := d.Check(env{}); !errors.As(err, &ps) {
			t.Fatalf("Check = %v", err)
		}
		var got []string
		for _, p := range ps.List {
			got = append(got, p.Error())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("problems (-want +got):\n%s", diff)
		}
	}
}

func TestTagDefinitionJSON(t *testing.T) {
	d := tag.Definition{
		Orders: &tag.Orders{Event: "order", Amount: "amount"}, Top: 3,
		Rules: []tag.Rule{{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(1)}}}},
	}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back tag.Definition
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// TestTagSegment lists segments of 30 members (m00..m29): every member
// is "all"; even ones "even"; multiples of 3 "three"; multiples of 5
// "five"; nobody is "nobody"; in pages of every size.
func TestTagSegment(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "share"}},
		Tags:   &tag.Definition{Manual: []tag.Manual{{Name: "all"}, {Name: "even"}, {Name: "three"}, {Name: "five"}, {Name: "nobody"}}},
	})
	h := p.Tags()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	for i := range 30 {
		m := fmt.Sprintf("m%02d", i)
		for _, name := range []string{"all", "even", "three", "five"} {
			ok := map[string]bool{"all": true, "even": i%2 == 0, "three": i%3 == 0, "five": i%5 == 0}[name]
			if !ok {
				continue
			}
			if _, err := h.Add(ctx, tag.ManualRequest{RequestID: m + "/" + name, Member: m, Operator: "op", At: at, Tag: name}); err != nil {
				t.Fatal(err)
			}
		}
	}
	list := func(expr string, limit int) (all []string, pages int) {
		q := tag.SegmentQuery{Expr: tag.MustParse(expr), Limit: limit}
		for {
			page, err := h.Segment(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Members) > limit {
				t.Fatalf("page of %d over limit %d", len(page.Members), limit)
			}
			all = append(all, page.Members...)
			pages++
			if page.Next == "" {
				return all, pages
			}
			q.After = page.Next
		}
	}
	want := func(f func(i int) bool) []string {
		var out []string
		for i := range 30 {
			if f(i) {
				out = append(out, fmt.Sprintf("m%02d", i))
			}
		}
		return out
	}
	tests := []struct {
		expr string
		f    func(int) bool
	}{
		{"even", func(i int) bool { return i%2 == 0 }},
		{"even and three", func(i int) bool { return i%6 == 0 }},
		{"three or five", func(i int) bool { return i%3 == 0 || i%5 == 0 }},
		{"even and not five", func(i int) bool { return i%2 == 0 && i%5 != 0 }},
		{"not even", func(i int) bool { return i%2 != 0 }},
		{"(three or five) and not even", func(i int) bool { return (i%3 == 0 || i%5 == 0) && i%2 != 0 }},
		{"nobody", func(int) bool { return false }},
	}
	for _, tc := range tests {
		for _, limit := range []int{1, 4, 100} {
			t.Run(fmt.Sprintf("%s/%d", tc.expr, limit), func(t *testing.T) {
				got, _ := list(tc.expr, limit)
				if diff := cmp.Diff(want(tc.f), got); diff != "" {
					t.Errorf("members (-want +got):\n%s", diff)
				}
			})
		}
	}
	if _, pages := list("even", 15); pages != 1 {
		t.Errorf("15 members in pages of 15 took %d pages, want 1 (no empty last page)", pages)
	}
	if counts, err := h.Counts(ctx); err != nil || counts["five"] != 6 {
		t.Errorf("Counts()[five] = %d, %v; want 6", counts["five"], err)
	}
}

// TestTagNamesAreNoKeywordInAnyCase: Parse takes "and", "or" and "not"
// in any case ("M AND vip"), so a tag named "AND", "Or" or "NOT" could
// be named by no expression: Parse("NOT") reads a "not" missing its
// operand. Check refuses such a name at its path, as it refuses "and";
// "android" and "nota" are names.
func TestTagNamesAreNoKeywordInAnyCase(t *testing.T) {
	for _, name := range []string{"AND", "Or", "NOT", "nOt"} {
		if _, err := tag.Parse(name); !errors.Is(err, tag.ErrSyntax) {
			t.Errorf("Parse(%q) = %v; want ErrSyntax (a keyword)", name, err)
		}
		d := tag.Definition{Manual: []tag.Manual{{Name: name}}, Rules: []tag.Rule{{Tag: "x" + name}, {Tag: name + "y"}}}
		err := d.Check(env{})
		var ps *rule.Problems
		if !errors.As(err, &ps) || len(ps.List) != 1 || ps.List[0].Path != "manual[0].name" {
			t.Errorf("Check with manual tag %q = %v; want one problem at manual[0].name", name, err)
		}
	}
	d := tag.Definition{Manual: []tag.Manual{{Name: "android"}, {Name: "nota"}, {Name: "ORacle"}}}
	if err := d.Check(env{}); err != nil {
		t.Errorf("Check with android, nota, ORacle = %v", err)
	}
}
