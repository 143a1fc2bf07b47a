package points_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func dp(s string) *decimal.Decimal { v := d(s); return &v }

type env struct{ levels []string }

var orderType = event.Type{Name: "order", Attributes: []event.Attr{
	{Name: "amount", Kind: event.Decimal, Required: true},
	{Name: "order_id", Kind: event.String},
	{Name: "items", Kind: event.Integer},
	{Name: "store", Kind: event.String},
}}

var refundType = event.Type{Name: "refund", Attributes: []event.Attr{
	{Name: "order_id", Kind: event.String, Required: true},
	{Name: "amount", Kind: event.Decimal, Required: true},
}}

func (e env) EventType(name string) (event.Type, bool) {
	for _, t := range []event.Type{orderType, refundType} {
		if t.Name == name {
			return t, true
		}
	}
	return event.Type{}, false
}

func (e env) LevelExists(name string) bool {
	for _, l := range e.levels {
		if l == name {
			return true
		}
	}
	return false
}

func validDef() points.Definition {
	return points.Definition{
		Programs: []points.Program{
			{Name: "mall", Risk: &points.Risk{Daily: d("1000"), Policy: points.Freeze}, ApprovalAbove: dp("500"),
				Payment: &points.Payment{Rate: d("0.01"), MaxShare: d("0.5")}},
			{Name: "park", Rounding: rule.Rounding{Scale: 1}},
		},
		Exchanges: []points.Exchange{{From: "mall", To: "park", Rate: d("0.3")}},
		Rules: []points.Rule{{
			ID: "buy", Program: "mall", Event: "order", Levels: []string{"gold"},
			Conditions:  []event.Condition{{Attr: "store", Op: event.Eq, Value: event.Str("s1")}},
			Formula:     rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1.5")},
			Validity:    rule.Validity{Kind: rule.MonthEnds, N: 1},
			Caps:        rule.Caps{{Period: rule.Day, Limit: d("100")}},
			PendingDays: 7, Order: "order_id",
		}},
		Refunds: []points.Refund{{Event: "refund", Order: "order_id", Amount: "amount"}},
	}
}

// TestRuleConditionProblemsNameTheField: an earning rule's condition is
// reported at the field at fault, as the JSON names it: an unknown
// attribute at attr, a value of another kind at value (values[i] for
// in), an unknown operator or one that does not fit the attribute at op.
// They were all reported at the condition (rules[0].conditions[0]).
func TestRuleConditionProblemsNameTheField(t *testing.T) {
	def := validDef()
	def.Rules[0].Conditions = []event.Condition{
		{Attr: "colour", Op: event.Eq, Value: event.Str("red")},
		{Attr: "items", Op: event.Gte, Value: event.Flag(true)},
		{Attr: "store", Op: "like", Value: event.Str("s%")},
		{Attr: "store", Op: event.NotIn, Values: []event.Value{event.Int(1)}},
		{Attr: "store", Op: event.Contains, Value: event.Str("s1")},
	}
	err := def.Check(env{levels: []string{"gold"}})
	var ps *rule.Problems
	if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check: %v, want *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		`rules[0].conditions[0].attr: unknown attribute "colour" in type "order"`,
		"rules[0].conditions[1].value: attribute has the wrong type: got bool, want integer",
		`rules[0].conditions[2].op: unknown operator "like"`,
		"rules[0].conditions[3].values[0]: attribute has the wrong type: got integer, want string",
		`rules[0].conditions[4].op: "contains" applies only to a list of strings`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !errors.Is(err, event.ErrUnknownAttribute) || !errors.Is(err, event.ErrAttributeType) {
		t.Errorf("Check: %v, want it to wrap event.ErrUnknownAttribute and event.ErrAttributeType", err)
	}
}

func TestCheck(t *testing.T) {
	if err := validDef().Check(env{levels: []string{"gold"}}); err != nil {
		t.Fatalf("valid definition: %v", err)
	}
	bad := validDef()
	bad.Programs = append(bad.Programs, points.Program{Name: "mall", Rounding: rule.Rounding{Scale: 9},
		Risk: &points.Risk{Daily: d("0"), Policy: "pause"}, ApprovalAbove: dp("-1"),
		Payment: &points.Payment{Rate: d("0"), MaxShare: d("1.5"), MoneyScale: new(int32(-1))}})
	bad.Exchanges = append(bad.Exchanges, points.Exchange{From: "mall", To: "zoo", Rate: d("0")}, points.Exchange{From: "mall", To: "park", Rate: d("1")})
	bad.Rules = append(bad.Rules, points.Rule{ID: "buy", Program: "zoo", Event: "visit", Levels: []string{"x"}},
		points.Rule{ID: "neg", Program: "park", Event: "order", Levels: []string{"platinum"},
			Conditions:  []event.Condition{{Attr: "colour", Op: event.Eq, Value: event.Str("red")}},
			Formula:     rule.Formula{Kind: rule.Fixed, Fixed: d("-5")},
			Window:      rule.Window{From: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			Validity:    rule.Validity{Kind: rule.MonthEnds, N: -1},
			Caps:        rule.Caps{{Period: rule.Week, Limit: d("-1")}},
			PendingDays: -1, Order: "amount", OrderAmount: "nope"})
	bad.Refunds = append(bad.Refunds, points.Refund{Event: "refund", Order: "amount", Amount: "order_id"}, points.Refund{Event: "gone"},
		// The same refund twice would count each refund event twice.
		points.Refund{Event: "refund", Order: "order_id", Amount: "amount"})
	err := bad.Check(env{levels: []string{"gold"}})
	if !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check: %v, want ErrInvalidDefinition", err)
	}
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Check: %T, want *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
	}
	want := []string{
		"programs[2].name", "programs[2].rounding.scale", "programs[2].risk.daily", "programs[2].risk.policy",
		"programs[2].approval_above", "programs[2].payment.rate", "programs[2].payment.max_share", "programs[2].payment.money_scale",
		"exchanges[1].to", "exchanges[1].rate", "exchanges[2]",
		"rules[1].id", "rules[1].program", "rules[1].event", "rules[1].levels[0]",
		"rules[2].conditions[0].attr", "rules[2].order", "rules[2].order_amount", "rules[2].formula", "rules[2].levels[0]",
		"rules[2].window.to", "rules[2].validity.n", "rules[2].caps[0].limit", "rules[2].pending_days",
		"refunds[1].order", "refunds[1].amount", "refunds[2].event", "refunds[3]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, err)
	}
	// A refund takes back what a rule recorded for the order: with none
	// recording orders, refunds would reverse nothing.
	untracked := validDef()
	untracked.Rules[0].Order = ""
	if err := untracked.Check(env{levels: []string{"gold"}}); !errors.Is(err, rule.ErrInvalidDefinition) ||
		!strings.Contains(err.Error(), "refunds: no earning rule records its orders (order)") {
		t.Errorf("refunds with no rule recording orders: %v", err)
	}
	if err := (points.Definition{}).Check(env{}); err == nil || !strings.Contains(err.Error(), "programs: at least one") {
		t.Errorf("empty definition: %v", err)
	}
}

// TestRatesKeepToTheLimits: an exchange's rate and a payment's rate keep
// to the limit on decimals, as a formula's rate does (event.CheckDecimal:
// 40 digits before and after the point). They were only checked to be
// positive: an exchange at 1e70000 made a balance of 70,001 digits.
func TestRatesKeepToTheLimits(t *testing.T) {
	bad := validDef()
	bad.Exchanges[0].Rate = decimal.New(1, 70000)
	bad.Programs[0].Payment.Rate = decimal.New(1, -41)
	err := bad.Check(env{levels: []string{"gold"}})
	var ps *rule.Problems
	if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) || !errors.Is(err, event.ErrTooLarge) {
		t.Fatalf("Check: %v, want *rule.Problems wrapping rule.ErrInvalidDefinition and event.ErrTooLarge", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		"programs[0].payment.rate: beyond the program's size limit: a decimal of 1 digits with exponent -41, at most 40 digits before and after the point",
		"exchanges[0].rate: beyond the program's size limit: a decimal of 1 digits with exponent 70000, at most 40 digits before and after the point",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	// At the limits: 1 followed by 39 zeros has 40 digits before the
	// point, 0.000…01 (1e-40) 40 after it.
	edge := validDef()
	edge.Exchanges[0].Rate = decimal.New(1, 39)
	edge.Programs[0].Payment.Rate = decimal.New(1, -40)
	if err := edge.Check(env{levels: []string{"gold"}}); err != nil {
		t.Errorf("rates at the limits: %v", err)
	}
	// SplitOrder refuses the payment Check refuses.
	if _, err := points.SplitOrder(bad.Programs[0], d("10"), d("100"), decimal.Zero); !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Errorf("SplitOrder at a rate of 1e-41: %v, want rule.ErrInvalidDefinition", err)
	}
}

func TestDefinitionJSON(t *testing.T) {
	def := validDef()
	raw, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	var back points.Definition
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	raw2, _ := json.Marshal(back)
	if string(raw) != string(raw2) {
		t.Errorf("round trip:\n%s\n%s", raw, raw2)
	}
	if !strings.Contains(string(raw), `"pending_days":7`) || !strings.Contains(string(raw), `"approval_above":"500"`) {
		t.Errorf("snake_case tags missing: %s", raw)
	}
}

func order(amount string, attrs event.Attrs) event.Event {
	a := event.Attrs{"amount": event.DecString(amount)}
	for k, v := range attrs {
		a[k] = v
	}
	return event.Event{ID: "e", Member: "m", Type: "order", Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Attrs: a}
}

func TestRuleApplies(t *testing.T) {
	r := validDef().Rules[0]
	r.Window = rule.Window{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	s1 := event.Attrs{"store": event.Str("s1")}
	late := order("10", s1)
	late.Time = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	refund := order("10", s1)
	refund.Type = "refund"
	for _, tc := range []struct {
		name  string
		ev    event.Event
		level string
		want  points.Skip
	}{
		{"applies", order("10", s1), "gold", ""},
		{"other type", refund, "gold", points.SkipType},
		{"window end is exclusive", late, "gold", points.SkipWindow},
		{"condition", order("10", event.Attrs{"store": event.Str("s2")}), "gold", points.SkipConditions},
		{"missing attribute", order("10", nil), "gold", points.SkipConditions},
		{"level", order("10", s1), "silver", points.SkipLevel},
		{"no ladder level", order("10", s1), "", points.SkipLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Applies(tc.ev, tc.level); got != tc.want {
				t.Errorf("Applies = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRuleEarn is the table of the earning rule the points part runs:
// the formula's result, rounded once with the program's rounding, never
// negative.
func TestRuleEarn(t *testing.T) {
	whole := points.Program{Name: "mall"}
	tenth := points.Program{Name: "park", Rounding: rule.Rounding{Scale: 1, Mode: rule.RoundHalfUp}}
	for _, tc := range []struct {
		name           string
		f              rule.Formula
		prog           points.Program
		amount         string
		want, raw, bas string
		formula        string
	}{
		// 99.99 × 1.5 = 149.985: down to 149, half up at one place 150.0.
		{"multiplier rounds down", rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1.5")}, whole, "99.99", "149", "149.985", "99.99", "amount × 1.5"},
		{"multiplier half up at scale 1", rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1.5")}, tenth, "99.99", "150", "149.985", "99.99", "amount × 1.5"},
		{"fixed", rule.Formula{Kind: rule.Fixed, Fixed: d("20")}, whole, "1", "20", "20", "0", "20"},
		// 12.60 × 2 + 10 = 35.2.
		{"multiplier plus fixed", rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: d("2"), Fixed: d("10")}, whole, "12.60", "35", "35.2", "12.60", "amount × 2 + 10"},
		{"count", rule.Formula{Kind: rule.Count}, whole, "500", "1", "1", "0", "1"},
		// 4 items × 3.
		{"integer base", rule.Formula{Kind: rule.Multiplier, Base: "items", Rate: d("3")}, whole, "1", "12", "12", "4", "items × 3"},
		// 1 × 2 − 10 = −8 grants nothing.
		{"negative grants nothing", rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: d("2"), Fixed: d("-10")}, whole, "1", "0", "-8", "1", "amount × 2 − 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := points.Rule{ID: "r", Program: tc.prog.Name, Event: "order", Formula: tc.f}
			got, err := r.Earn(tc.prog, order(tc.amount, event.Attrs{"items": event.Int(4)}))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Amount.Equal(d(tc.want)) || !got.Raw.Equal(d(tc.raw)) || !got.Base.Equal(d(tc.bas)) {
				t.Errorf("Earn = %+v, want amount %s raw %s base %s", got, tc.want, tc.raw, tc.bas)
			}
			if f := r.Formula.String(); f != tc.formula {
				t.Errorf("formula text %q, want %q", f, tc.formula)
			}
		})
	}
	r := points.Rule{ID: "r", Formula: rule.Formula{Kind: rule.Multiplier, Base: "missing", Rate: d("1")}}
	if _, err := r.Earn(whole, order("1", nil)); !errors.Is(err, event.ErrMissingAttribute) {
		t.Errorf("missing base: %v", err)
	}
}

// TestRuleEarnAllocs guards the hot path: earning by a whole-point
// multiplier of a two-decimal amount allocates nothing.
func TestRuleEarnAllocs(t *testing.T) {
	r := points.Rule{ID: "r", Program: "mall", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1")}}
	prog := points.Program{Name: "mall"}
	ev := order("88.50", nil)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := r.Earn(prog, ev); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Earn allocates %v times, want 0", n)
	}
}

func TestRiskDecide(t *testing.T) {
	stop := &points.Risk{Daily: d("100"), Policy: points.Stop}
	freeze := &points.Risk{Daily: d("100"), Policy: points.Freeze}
	var none *points.Risk
	for _, tc := range []struct {
		name           string
		risk           *points.Risk
		earned, amount string
		frozen         bool
		want           points.RiskDecision
	}{
		{"no risk control", none, "1000", "50", false, points.RiskDecision{Allowed: d("50")}},
		{"stop below", stop, "10", "50", false, points.RiskDecision{Allowed: d("50"), Blocked: d("0")}},
		{"stop reaching exactly", stop, "50", "50", false, points.RiskDecision{Allowed: d("50"), Blocked: d("0")}},
		{"stop cuts", stop, "80", "50", false, points.RiskDecision{Allowed: d("20"), Blocked: d("30")}},
		{"stop after reaching", stop, "100", "5", false, points.RiskDecision{Allowed: d("0"), Blocked: d("5")}},
		{"freeze below", freeze, "10", "50", false, points.RiskDecision{Allowed: d("50")}},
		{"freeze reaching", freeze, "50", "50", false, points.RiskDecision{Allowed: d("50"), Freeze: true}},
		{"freeze day already frozen", freeze, "0", "1", true, points.RiskDecision{Allowed: d("1"), Freeze: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.risk.Decide(d(tc.earned), d(tc.amount), tc.frozen)
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitOrder(t *testing.T) {
	prog := points.Program{Name: "mall", Payment: &points.Payment{Rate: d("0.01"), MaxShare: d("0.5")}}
	odd := points.Program{Name: "odd", Payment: &points.Payment{Rate: d("0.03"), MaxShare: d("1")}}
	tenth := points.Program{Name: "tenth", Rounding: rule.Rounding{Scale: 1}, Payment: &points.Payment{Rate: d("0.07"), MaxShare: d("0.3")}}
	// A rate of many digits: 1.00 / 0.333333333333333333 is
	// 3.000000000000000003…, so 3 points (worth 0.999999999999999999)
	// do not pay 1.00; 4 do, and at one decimal 3.1 do.
	third := points.Program{Name: "third", Payment: &points.Payment{Rate: d("0.333333333333333333"), MaxShare: d("1")}}
	thirdTenth := points.Program{Name: "third", Rounding: rule.Rounding{Scale: 1}, Payment: third.Payment}
	for _, tc := range []struct {
		name                string
		prog                points.Program
		order, avail, limit string
		points, money, cash string
	}{
		{"share caps", prog, "100.00", "100000", "0", "5000", "50.00", "50.00"},
		{"balance caps", prog, "100.00", "1234", "0", "1234", "12.34", "87.66"},
		{"limit caps", prog, "100.00", "100000", "300", "300", "3.00", "97.00"},
		{"half a cent rounds down", prog, "99.99", "100000", "0", "4999", "49.99", "50.00"},
		{"one cent order", prog, "0.01", "100000", "0", "0", "0.00", "0.01"},
		{"two cent order", prog, "0.02", "100000", "0", "1", "0.01", "0.01"},
		{"no points", prog, "10.00", "0", "0", "0", "0", "10.00"},
		{"fractional balance is not spent", prog, "10.00", "99.6", "0", "99", "0.99", "9.01"},
		{"odd rate takes fewest points", odd, "1.00", "1000", "0", "34", "1.00", "0.00"},
		{"odd rate short balance", odd, "1.00", "10", "0", "10", "0.30", "0.70"},
		{"odd rate one point below a cent", odd, "1.00", "1", "0", "1", "0.03", "0.97"},
		{"scale 1", tenth, "10.00", "1000", "0", "42.9", "3.00", "7.00"},
		{"long rate: the exact quotient is rounded up", third, "1.00", "1000", "0", "4", "1.00", "0.00"},
		{"long rate at scale 1", thirdTenth, "1.00", "1000", "0", "3.1", "1.00", "0.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := points.SplitOrder(tc.prog, d(tc.order), d(tc.avail), d(tc.limit))
			if err != nil {
				t.Fatal(err)
			}
			if !s.Points.Equal(d(tc.points)) || !s.PointsMoney.Equal(d(tc.money)) || !s.Cash.Equal(d(tc.cash)) {
				t.Errorf("split = %s points, %s money, %s cash; want %s, %s, %s", s.Points, s.PointsMoney, s.Cash, tc.points, tc.money, tc.cash)
			}
			if s.PointsMoney.GreaterThan(s.Points.Mul(tc.prog.Payment.Rate)) {
				t.Errorf("points %s pay %s: more than they are worth", s.Points, s.PointsMoney)
			}
			if !s.PointsMoney.Add(s.Cash).Equal(s.Order) {
				t.Errorf("money %s + cash %s != order %s", s.PointsMoney, s.Cash, s.Order)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		prog  points.Program
		order string
		want  error
	}{
		{"no payment", points.Program{Name: "x"}, "1", points.ErrNoPayment},
		{"zero order", prog, "0", points.ErrInvalidAmount},
		{"sub-cent order", prog, "1.001", points.ErrInvalidAmount},
		{"negative order", prog, "-1", points.ErrInvalidAmount},
		// A payment Definition.Check refuses: SplitOrder is a function a
		// host may call with any Program, and a zero rate would divide
		// by zero.
		{"zero rate", points.Program{Name: "x", Payment: &points.Payment{MaxShare: d("1")}}, "1", rule.ErrInvalidDefinition},
		{"negative rate", points.Program{Name: "x", Payment: &points.Payment{Rate: d("-0.01"), MaxShare: d("1")}}, "1", rule.ErrInvalidDefinition},
		{"negative share", points.Program{Name: "x", Payment: &points.Payment{Rate: d("0.01"), MaxShare: d("-0.5")}}, "1", rule.ErrInvalidDefinition},
		{"share above 1", points.Program{Name: "x", Payment: &points.Payment{Rate: d("0.01"), MaxShare: d("1.5")}}, "1", rule.ErrInvalidDefinition},
		{"negative money scale", points.Program{Name: "x", Payment: &points.Payment{Rate: d("0.01"), MaxShare: d("1"), MoneyScale: new(int32(-1))}}, "1", rule.ErrInvalidDefinition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := points.SplitOrder(tc.prog, d(tc.order), d("100"), decimal.Zero); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		amount, rate string
		to           points.Program
		want         string
	}{
		{"15", "0.3", points.Program{}, "4"},
		{"10", "0.3", points.Program{}, "3"},
		{"3", "0.3", points.Program{}, "0"},
		{"15", "0.3", points.Program{Rounding: rule.Rounding{Scale: 1, Mode: rule.RoundUp}}, "4.5"},
		{"7", "0.33", points.Program{Rounding: rule.Rounding{Scale: 1, Mode: rule.RoundUp}}, "2.3"},
	} {
		if got := points.Convert(d(tc.amount), d(tc.rate), tc.to); !got.Equal(d(tc.want)) {
			t.Errorf("Convert(%s, %s) = %s, want %s", tc.amount, tc.rate, got, tc.want)
		}
	}
}

// TestReversal works refunds by hand: granted × refunded / amount, rounded
// once with the program's rounding.
func TestReversal(t *testing.T) {
	whole := points.Program{}
	up := points.Program{Rounding: rule.Rounding{Mode: rule.RoundUp}}
	halfUp := points.Program{Rounding: rule.Rounding{Mode: rule.RoundHalfUp}}
	halfEven := points.Program{Rounding: rule.Rounding{Mode: rule.RoundHalfEven}}
	tenth := points.Program{Rounding: rule.Rounding{Scale: 1}}
	for _, tc := range []struct {
		name                      string
		granted, refunded, amount string
		prog                      points.Program
		want                      string
	}{
		// Issue 16: a 300.00 order earned 300 points; refunding 100.00 of
		// it reverses 300 × 100 / 300 = 100 (dividing first, 0.333…3 × 300
		// rounded down, gave 99).
		{"a third", "300", "100.00", "300.00", whole, "100"},
		{"two thirds", "300", "200.00", "300.00", whole, "200"},
		{"all", "300", "300.00", "300.00", whole, "300"},
		{"a quarter", "200", "50", "200", whole, "50"},
		// 7 × 1 / 3 = 2.33…: down 2, up 3; 7 × 2 / 3 = 4.66…: half up 5.
		{"a seventh's third down", "7", "1", "3", whole, "2"},
		{"a seventh's third up", "7", "1", "3", up, "3"},
		{"two thirds half up", "7", "2", "3", halfUp, "5"},
		// 5 × 1 / 2 = 2.5 exactly: half up 3, half even 2; 7 × 1 / 2 =
		// 3.5: half even 4.
		{"half up at a half", "5", "1", "2", halfUp, "3"},
		{"half even at a half", "5", "1", "2", halfEven, "2"},
		{"half even at an odd half", "7", "1", "2", halfEven, "4"},
		// 10 × 1 / 3 = 3.33… at one decimal: 3.3.
		{"scale 1", "10", "1", "3", tenth, "3.3"},
		// 3 × 1 / 1.000000000000000001 = 2.999999999999999997: exactly
		// below 3, so 2 (a quotient kept to 16 places would read 3).
		{"just below a unit", "3", "1", "1.000000000000000001", whole, "2"},
		{"more than the order", "300", "301", "300", whole, "300"},
		{"unknown order amount", "300", "5", "0", whole, "300"},
		{"nothing refunded", "300", "0", "300", whole, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := points.Reversal(d(tc.granted), d(tc.refunded), d(tc.amount), tc.prog); !got.Equal(d(tc.want)) {
				t.Errorf("Reversal(%s, %s, %s) = %s, want %s", tc.granted, tc.refunded, tc.amount, got, tc.want)
			}
		})
	}
}

// TestReversalAddsUp checks that partial refunds, each reversing its
// cumulative Reversal less what was reversed before, add up to the
// Reversal of their total and to the whole grant once the order is
// refunded in full, whatever the rounding.
func TestReversalAddsUp(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	modes := []rule.RoundingMode{rule.RoundDown, rule.RoundUp, rule.RoundHalfUp, rule.RoundHalfEven}
	for range 2000 {
		prog := points.Program{Rounding: rule.Rounding{Scale: int32(rng.IntN(3)), Mode: modes[rng.IntN(len(modes))]}}
		granted := decimal.New(1+rng.Int64N(100000), -prog.Rounding.Scale)
		amount := decimal.New(1+rng.Int64N(1000000), -2)
		refunded, reversed := decimal.Zero, decimal.Zero
		for refunded.LessThan(amount) {
			part := decimal.Min(decimal.New(1+rng.Int64N(amount.Shift(2).IntPart()), -2), amount.Sub(refunded))
			refunded = refunded.Add(part)
			target := points.Reversal(granted, refunded, amount, prog)
			if target.LessThan(reversed) || target.GreaterThan(granted) {
				t.Fatalf("%+v: granted %s of %s, refunded %s: target %s after %s", prog.Rounding, granted, amount, refunded, target, reversed)
			}
			reversed = target
		}
		if !reversed.Equal(granted) {
			t.Fatalf("%+v: granted %s of %s refunded in full reverses %s", prog.Rounding, granted, amount, reversed)
		}
	}
	// Three refunds of 100.00 of a 300.00 order that earned 300 points
	// reverse 100 each.
	reversed := decimal.Zero
	for i := 1; i <= 3; i++ {
		target := points.Reversal(d("300"), decimal.NewFromInt(int64(100*i)), d("300.00"), points.Program{})
		if delta := target.Sub(reversed); !delta.Equal(d("100")) {
			t.Errorf("refund %d reverses %s, want 100", i, delta)
		}
		reversed = target
	}
}

func TestProgramAmounts(t *testing.T) {
	p := points.Program{Name: "p", Rounding: rule.Rounding{Scale: 1}, ApprovalAbove: dp("100")}
	for _, tc := range []struct {
		amount string
		ok     bool
	}{{"1", true}, {"0.5", true}, {"0.05", false}, {"0", false}, {"-1", false}} {
		if err := p.CheckAmount(d(tc.amount)); (err == nil) != tc.ok || (err != nil && !errors.Is(err, points.ErrInvalidAmount)) {
			t.Errorf("CheckAmount(%s) = %v", tc.amount, err)
		}
	}
	for _, tc := range []struct {
		amount string
		want   bool
	}{{"100", false}, {"-100", false}, {"100.1", true}, {"-101", true}} {
		if got := p.NeedsApproval(d(tc.amount)); got != tc.want {
			t.Errorf("NeedsApproval(%s) = %v", tc.amount, got)
		}
	}
	if (points.Program{}).NeedsApproval(d("1e9")) {
		t.Error("no threshold needs approval")
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	at := time.Date(2026, 1, 15, 10, 0, 0, 0, loc)
	if got := points.Expiry(rule.Validity{}, at, loc); !got.IsZero() {
		t.Errorf("empty validity expires %s", got)
	}
	if got, want := points.Expiry(rule.Validity{Kind: rule.MonthEnds, N: 1}, at, loc), time.Date(2026, 3, 1, 0, 0, 0, 0, loc); !got.Equal(want) {
		t.Errorf("month_ends 1: %s, want %s", got, want)
	}
	if got, want := points.Expiry(rule.Validity{Kind: rule.AnnualDate, Month: 1, Day: 10}, at, loc), time.Date(2027, 1, 11, 0, 0, 0, 0, loc); !got.Equal(want) {
		t.Errorf("annual 01-10: %s, want %s", got, want)
	}
}

// A fixed range is not a points validity: a lot is spendable when granted
// (or released), so the range's first day could not be kept, and a lot
// granted after its last day would expire as it is granted. It is refused
// on a rule and on a program, naming the kind; days after the grant, which
// has no start of its own, is kept.
func TestFixedRangeIsNotAPointsValidity(t *testing.T) {
	fixed := rule.Validity{Kind: rule.FixedRange, From: rule.Date{Year: 2026, Month: 6, Day: 1}, To: rule.Date{Year: 2026, Month: 12, Day: 31}}
	d := validDef()
	d.Rules[0].Validity = fixed
	d.Programs[0].Validity = fixed
	err := d.Check(env{levels: []string{"gold"}})
	for _, path := range []string{"rules[0].validity.kind: fixed_range is not a points validity", "programs[0].validity.kind: fixed_range is not a points validity"} {
		if !errors.Is(err, rule.ErrInvalidDefinition) || !strings.Contains(err.Error(), path) {
			t.Errorf("Check = %v; want rule.ErrInvalidDefinition naming %q", err, path)
		}
	}
	d = validDef()
	d.Rules[0].Validity = rule.Validity{Kind: rule.DaysAfter, N: 30}
	if err := d.Check(env{levels: []string{"gold"}}); err != nil {
		t.Errorf("Check with days after = %v; want nil", err)
	}
}

// TestAmountsAtTheProgramScale: a cap's limit and a stop threshold are
// amounts of points, so they keep to the program's scale. A limit of
// 15.5 in a whole-point program let a second visit of 10 through as 5.5,
// and a stop threshold of 15.5 did the same, so the member held 15.5
// whole points. Both are refused, naming the path; the same figures
// pass in a program of one decimal place (park).
func TestAmountsAtTheProgramScale(t *testing.T) {
	visit := func(program string, caps rule.Caps) points.Rule {
		return points.Rule{ID: "v-" + program, Program: program, Event: "order", Formula: rule.Formula{Kind: rule.Fixed, Fixed: d("10")}, Caps: caps}
	}
	def := points.Definition{
		Programs: []points.Program{
			{Name: "mall", Risk: &points.Risk{Daily: d("15.5"), Policy: points.Stop}},
			{Name: "park", Rounding: rule.Rounding{Scale: 1}, Risk: &points.Risk{Daily: d("15.5"), Policy: points.Stop}},
			{Name: "zoo", Risk: &points.Risk{Daily: d("100.01"), Policy: points.Freeze}},
		},
		Rules: []points.Rule{
			visit("mall", rule.Caps{{Period: rule.Day, Limit: d("15")}, {Period: rule.Total, Limit: d("15.5")}}),
			visit("park", rule.Caps{{Period: rule.Week, Limit: d("15.5")}, {Period: rule.Month, Limit: d("15.55")}}),
		},
	}
	err := def.Check(env{})
	var ps *rule.Problems
	if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check: %v, want *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path+": "+p.Err.Error())
	}
	want := []string{
		`programs[0].risk.daily: 15.5 has more than 0 decimal places (program "mall")`,
		`programs[2].risk.daily: 100.01 has more than 0 decimal places (program "zoo")`,
		`rules[0].caps[1].limit: 15.5 has more than 0 decimal places (program "mall")`,
		`rules[1].caps[1].limit: 15.55 has more than 1 decimal places (program "park")`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	def.Programs[0].Risk.Daily, def.Programs[2].Risk.Daily = d("15"), d("100")
	def.Rules[0].Caps[1].Limit, def.Rules[1].Caps[1].Limit = d("15"), d("15.5")
	if err := def.Check(env{}); err != nil {
		t.Errorf("limits at the scale: %v", err)
	}
}
