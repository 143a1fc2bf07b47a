package benefit_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestBenefitPrice(t *testing.T) {
	tests := []struct {
		name     string
		discount benefit.Discount
		amount   string
		want     string
	}{
		{"88% of 100", benefit.Discount{Rate: dec("0.88")}, "100", "88"},
		{"half up to the cent", benefit.Discount{Rate: dec("0.88")}, "10.99", "9.67"}, // 9.6712
		{"half up at the half", benefit.Discount{Rate: dec("0.5")}, "0.05", "0.03"},   // 0.025
		{"explicit rounding down to the yuan", benefit.Discount{Rate: dec("0.95"), Rounding: &rule.Rounding{Scale: 0, Mode: rule.RoundDown}}, "99", "94"},
		{"rate 1", benefit.Discount{Rate: dec("1")}, "12.34", "12.34"},
		{"zero amount", benefit.Discount{Rate: dec("0.9")}, "0", "0"},
		// Rounding never takes the member price above the amount asked:
		// 9.5 × 0.99 = 9.405, rounded up to the yuan 10, is 9.5; 10.005
		// at rate 1, half up to the cent 10.01, is 10.005.
		{"rounding up stops at the amount", benefit.Discount{Rate: dec("0.99"), Rounding: &rule.Rounding{Scale: 0, Mode: rule.RoundUp}}, "9.5", "9.5"},
		{"half up stops at the amount", benefit.Discount{Rate: dec("1")}, "10.005", "10.005"},
		{"rounding up below the amount", benefit.Discount{Rate: dec("0.9"), Rounding: &rule.Rounding{Scale: 0, Mode: rule.RoundUp}}, "9.5", "9"}, // 8.55
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.discount.Price(dec(tc.amount))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(dec(tc.want)) {
				t.Errorf("Price(%s) = %s, want %s", tc.amount, got, tc.want)
			}
		})
	}
	if _, err := (benefit.Discount{Rate: dec("0.9")}).Price(dec("-1")); !errors.Is(err, benefit.ErrNegativeAmount) {
		t.Errorf("negative amount: %v, want ErrNegativeAmount", err)
	}
}

var catalog = benefit.Definition{
	Benefits: []benefit.Benefit{
		{Name: "gold-discount", Type: benefit.TypeDiscount, Levels: []string{"gold"}, Discount: &benefit.Discount{Rate: dec("0.9")}},
		{Name: "birthday-gift", Type: benefit.TypeCare, Levels: []string{"silver", "gold"}},
		{Name: "plus-discount", Type: benefit.TypeDiscount, Plans: []string{"plus"}, Discount: &benefit.Discount{Rate: dec("0.85")}},
		{Name: "lounge", Type: benefit.TypeService, Plans: []string{"plus"}},
	},
	Achievements: []benefit.Achievement{{Name: "first-order", Type: "milestone", Icon: "first.png", Link: "/a/first"}},
}

func names(bs []benefit.Benefit) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

func TestBenefitFor(t *testing.T) {
	tests := []struct {
		level string
		plans []string
		want  []string
	}{
		{"bronze", nil, nil},
		{"silver", nil, []string{"birthday-gift"}},
		{"gold", nil, []string{"gold-discount", "birthday-gift"}},
		{"silver", []string{"plus"}, []string{"birthday-gift", "plus-discount", "lounge"}},
		{"", []string{"plus"}, []string{"plus-discount", "lounge"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, names(catalog.For(tc.level, tc.plans))); diff != "" {
			t.Errorf("For(%q, %v) (-want +got):\n%s", tc.level, tc.plans, diff)
		}
	}
	b, price, ok, err := benefit.Best(catalog.For("gold", []string{"plus"}), dec("200"))
	if err != nil || !ok || b.Name != "plus-discount" || !price.Equal(dec("170")) {
		t.Errorf("Best = %s %s %v %v, want plus-discount 170", b.Name, price, ok, err)
	}
	if _, _, ok, _ := benefit.Best(catalog.For("silver", nil), dec("200")); ok {
		t.Error("Best found a discount among benefits without one")
	}
}

type env struct{}

func (env) LevelExists(name string) bool { return name == "gold" || name == "silver" }
func (env) PlanExists(name string) bool  { return name == "plus" }

func TestBenefitCheck(t *testing.T) {
	if err := catalog.Check(env{}); err != nil {
		t.Fatalf("valid catalog: %v", err)
	}
	bad := benefit.Definition{
		Benefits: []benefit.Benefit{
			{Name: "a", Type: benefit.TypeDiscount, Levels: []string{"platinum"}, Plans: []string{"max"}},
			{Name: "a", Type: benefit.TypeCare, Discount: &benefit.Discount{Rate: dec("0.9")}},
			{Name: "", Type: benefit.TypeDiscount, Discount: &benefit.Discount{Rate: dec("1.2"), Rounding: &rule.Rounding{Scale: 12}}},
			{Name: "c"},
		},
		Achievements: []benefit.Achievement{{Name: "x"}, {Name: "x"}, {}},
	}
	var ps *rule.Problems
	if err := bad.Check(env{}); !errors.As(err, &ps) {
		t.Fatalf("Check = %v", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
	}
	want := []string{
		"benefits[0].levels[0]", "benefits[0].plans[0]", "benefits[0].discount",
		"benefits[1].name", "benefits[1].discount",
		"benefits[2].name", "benefits[2].discount.rate", "benefits[2].discount.rounding.scale",
		"benefits[3].type",
		"achievements[1].name", "achievements[2].name",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s", diff)
	}
}

func TestBenefitJSON(t *testing.T) {
	raw, err := json.Marshal(catalog)
	if err != nil {
		t.Fatal(err)
	}
	var back benefit.Definition
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(catalog, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
