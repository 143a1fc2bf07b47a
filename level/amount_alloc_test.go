package level_test

import (
	"testing"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// GrowthRule.Amount runs for every event a growth rule applies to. It
// adds no allocation to rule.Formula.Eval's: the usual formula (the
// amount × 1) makes none; the others pay Eval's decimal arithmetic, as
// they did when the part had its own copy of the rule.
func TestGrowthRuleAmountAllocs(t *testing.T) {
	ev := event.Event{ID: "e", Member: "m", Type: "order", Attrs: event.Attrs{"amount": event.DecString("35.50")}}
	for _, tc := range []struct {
		f   rule.Formula
		max float64
	}{
		{rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1")}, 0},
		{rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: d("1.5"), Fixed: d("10")}, 4},
		{rule.Formula{Kind: rule.Fixed, Fixed: d("12")}, 2},
		{rule.Formula{Kind: rule.Count}, 2},
	} {
		g := level.GrowthRule{ID: "order", Event: "order", Formula: tc.f}
		if n := testing.AllocsPerRun(100, func() { _, _ = g.Amount(ev, rule.Rounding{}) }); n > tc.max {
			t.Errorf("Amount of %s allocates %.0f times, want at most %.0f", tc.f, n, tc.max)
		}
		eval := testing.AllocsPerRun(100, func() { _, _, _ = tc.f.Eval(ev) })
		if n := testing.AllocsPerRun(100, func() { _, _ = g.Amount(ev, rule.Rounding{}) }); n > eval {
			t.Errorf("Amount of %s allocates %.0f times, Formula.Eval %.0f", tc.f, n, eval)
		}
	}
}
