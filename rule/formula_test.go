package rule_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

func TestFormulaApply(t *testing.T) {
	d := decimal.RequireFromString
	order := event.Event{ID: "e1", Member: "m1", Type: "order", Attrs: event.Attrs{
		"amount": event.DecString("200.00"),
		"items":  event.Int(3),
		"store":  event.Str("s1"),
	}}
	tests := []struct {
		name    string
		f       rule.Formula
		want    string
		reason  rule.Reason
		wantErr error
	}{
		{"multiplier", rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1.5")}, "300",
			rule.Reason{Formula: "amount × 1.5", Inputs: map[string]string{"amount": "200.00"}, Raw: d("300")}, nil},
		{"multiplier fixed", rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: d("1.5"), Fixed: d("10")}, "310",
			rule.Reason{Formula: "amount × 1.5 + 10", Inputs: map[string]string{"amount": "200.00"}, Raw: d("310")}, nil},
		{"multiplier minus fixed", rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: d("0.10"), Fixed: d("-5")}, "15",
			rule.Reason{Formula: "amount × 0.10 − 5", Inputs: map[string]string{"amount": "200.00"}, Raw: d("15")}, nil},
		{"refund: negative rate", rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("-1")}, "-200",
			rule.Reason{Formula: "amount × -1", Inputs: map[string]string{"amount": "200.00"}, Raw: d("-200")}, nil},
		{"integer base", rule.Formula{Kind: rule.Multiplier, Base: "items", Rate: d("0.333")}, "0.999",
			rule.Reason{Formula: "items × 0.333", Inputs: map[string]string{"items": "3"}, Raw: d("0.999")}, nil},
		{"fixed", rule.Formula{Kind: rule.Fixed, Fixed: d("10")}, "10",
			rule.Reason{Formula: "10", Raw: d("10")}, nil},
		{"count", rule.Formula{Kind: rule.Count}, "1",
			rule.Reason{Formula: "1", Raw: d("1")}, nil},
		{"missing base", rule.Formula{Kind: rule.Multiplier, Base: "tip", Rate: d("1")}, "0", rule.Reason{}, event.ErrMissingAttribute},
		{"string base", rule.Formula{Kind: rule.MultiplierFixed, Base: "store", Rate: d("1")}, "0", rule.Reason{}, event.ErrAttributeType},
		{"unknown kind", rule.Formula{Kind: "square"}, "0", rule.Reason{}, rule.ErrInvalidDefinition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, err := tt.f.Apply(order)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Apply error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && tt.f.Base != "" && !strings.Contains(err.Error(), tt.f.Base) {
				t.Errorf("Apply error %q does not name %q", err, tt.f.Base)
			}
			if diff := cmp.Diff(tt.want, got.String()); diff != "" {
				t.Errorf("Apply amount (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.reason, reason); diff != "" {
				t.Errorf("Apply reason (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormulaCheck(t *testing.T) {
	d := decimal.RequireFromString
	order := event.Type{Name: "order", Attributes: []event.Attr{
		{Name: "amount", Kind: event.Decimal, Required: true},
		{Name: "items", Kind: event.Integer},
		{Name: "store", Kind: event.String},
	}}
	tests := []struct {
		name string
		f    rule.Formula
		want []string
	}{
		{"multiplier", rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1")}, nil},
		{"integer base, negative rate", rule.Formula{Kind: rule.MultiplierFixed, Base: "items", Rate: d("-2")}, nil},
		{"no base, no rate", rule.Formula{Kind: rule.Multiplier}, []string{"base: required for multiplier", "rate: must not be zero for multiplier"}},
		{"undeclared base", rule.Formula{Kind: rule.Multiplier, Base: "tip", Rate: d("1")}, []string{`base: unknown attribute "tip" in type "order"`}},
		{"string base", rule.Formula{Kind: rule.MultiplierFixed, Base: "store", Rate: d("1")}, []string{`base: attribute has the wrong type: "store" is string, want decimal or integer`}},
		{"fixed", rule.Formula{Kind: rule.Fixed, Fixed: d("-3")}, nil},
		{"fixed zero", rule.Formula{Kind: rule.Fixed}, []string{"fixed: must not be zero for fixed"}},
		{"count", rule.Formula{Kind: rule.Count}, nil},
		{"unknown", rule.Formula{Kind: "square"}, []string{`kind: unknown formula kind "square" (want multiplier, fixed, multiplier_fixed or count)`}},
		// Amounts keep to 40 digits before and after the point: a rate of
		// 1e70000 made amounts no stored record holds.
		{"rate past the limits", rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.New(1, 70000)},
			[]string{"rate: beyond the program's size limit: a decimal of 1 digits with exponent 70000, at most 40 digits before and after the point"}},
		{"fixed past the limits", rule.Formula{Kind: rule.Fixed, Fixed: decimal.New(1, -41)},
			[]string{"fixed: beyond the program's size limit: a decimal of 1 digits with exponent -41, at most 40 digits before and after the point"}},
		{"rate at the limits", rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("0.0000000000000000000000000000000000000001")}, nil},
		// A field the kind does not read is refused, not ignored: a fixed
		// formula with a base and a rate granted its fixed amount alone (10,
		// not amount × 1.5 + 10), a multiplier with a fixed amount granted
		// amount × rate alone.
		{"multiplier with fixed", rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1"), Fixed: d("5")},
			[]string{"fixed: not read by multiplier; use multiplier_fixed"}},
		{"fixed with base and rate", rule.Formula{Kind: rule.Fixed, Base: "amount", Rate: d("1.5"), Fixed: d("10")},
			[]string{"base: not read by fixed; use multiplier_fixed", "rate: not read by fixed; use multiplier_fixed"}},
		{"count with a fixed amount", rule.Formula{Kind: rule.Count, Fixed: d("2")},
			[]string{"fixed: not read by count; use fixed"}},
		{"count with a base", rule.Formula{Kind: rule.Count, Base: "items", Rate: d("1")},
			[]string{"base: not read by count; use multiplier", "rate: not read by count; use multiplier"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, problems(t, tt.f.Check(order))); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

// Apply and Round give exactly what decimal's Mul and RoundDown give,
// exponent included, on their fast paths (a rate of 1, amounts of up to
// 18 digits) and off them (longer amounts).
func TestFormulaAndRoundingMatchDecimal(t *testing.T) {
	d := decimal.RequireFromString
	bases := []string{"12.50", "-3.005", "0", "7", "999999999999999999", "123456789012345678901234.5", "0.000000001"}
	rates := []string{"1", "1.0", "1.5", "-1", "0.333", "100000000000", "2.00000000000000000001"}
	for _, b := range bases {
		for _, r := range rates {
			f := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d(r)}
			got, _, err := f.Apply(event.Event{Attrs: event.Attrs{"amount": event.DecString(b)}})
			want := d(b).Mul(d(r))
			if err != nil || !got.Equal(want) || got.Exponent() != want.Exponent() {
				t.Errorf("%s × %s = %s (exp %d), %v; want %s (exp %d)", b, r, got, got.Exponent(), err, want, want.Exponent())
			}
			for _, scale := range []int32{0, 2, 8} {
				rounded := rule.Rounding{Scale: scale}.Round(want)
				if w := want.RoundDown(scale); !rounded.Equal(w) || rounded.Exponent() != w.Exponent() {
					t.Errorf("Round(%s, %d) = %s (exp %d), want %s (exp %d)", want, scale, rounded, rounded.Exponent(), w, w.Exponent())
				}
			}
		}
	}
}

// Eval gives Apply's amount and the base it read, and Apply's errors.
func TestFormulaEval(t *testing.T) {
	d := decimal.RequireFromString
	order := event.Event{Attrs: event.Attrs{"amount": event.DecString("200.00"), "store": event.Str("s1")}}
	amount, base, err := rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: d("0.5"), Fixed: d("1")}.Eval(order)
	if err != nil || amount.String() != "101" || rule.Exact(base) != "200.00" {
		t.Errorf("Eval = %s, %s, %v", amount, rule.Exact(base), err)
	}
	if amount, base, err := (rule.Formula{Kind: rule.Fixed, Fixed: d("10")}).Eval(order); err != nil || amount.String() != "10" || !base.IsZero() {
		t.Errorf("fixed: Eval = %s, %s, %v", amount, base, err)
	}
	if _, _, err := (rule.Formula{Kind: rule.Multiplier, Base: "tip", Rate: d("1")}).Eval(order); !errors.Is(err, event.ErrMissingAttribute) {
		t.Errorf("missing base: %v", err)
	}
	if _, _, err := (rule.Formula{Kind: rule.Multiplier, Base: "store", Rate: d("1")}).Eval(order); !errors.Is(err, event.ErrAttributeType) {
		t.Errorf("string base: %v", err)
	}
}
