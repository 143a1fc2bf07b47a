package membership_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

// A kind left out, or misspelt, is the first mistake of a definition
// written by hand: each such problem lists the values its field takes, so
// the host need not look them up (it said `unknown validity kind ""`).
func TestUnknownKindsSayWhatIsAllowed(t *testing.T) {
	one := decimal.NewFromInt(1)
	def := membership.Definition{
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal}}}, {Name: "checkin"}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Member"}, // no validity
				{Name: "Gold", Upgrade: decimal.NewFromInt(500), Validity: rule.Validity{Kind: rule.Permanent}, Downgrade: "down"},
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: "per_yuan", Base: "amount", Rate: one}}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "store", Rounding: rule.Rounding{Mode: "nearest"}}},
			Rules: []points.Rule{{ID: "buy", Program: "store", Event: "order",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: one},
				Caps:    rule.Caps{{Period: "daily", Limit: one}}}},
		},
		Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "c20", Amount: decimal.NewFromInt(20),
			Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}}}},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "t", Steps: []task.Step{{Event: "checkin"}},
			Rewards: []rule.Reward{{Kind: "point", Program: "store", Amount: one}}}}},
	}
	err := def.Validate()
	if !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Validate: %v, want rule.ErrInvalidDefinition", err)
	}
	for _, want := range []string{
		`levels.ladder[0].validity.kind: unknown validity kind "" (want permanent, annual_date, month_ends, months_after, days_after or fixed_range)`,
		`levels.ladder[1].downgrade: unknown downgrade mode "down" (want next_lower, matching or lowest; empty is next_lower)`,
		`levels.growth[0].formula.kind: unknown formula kind "per_yuan" (want multiplier, fixed, multiplier_fixed or count)`,
		`points.programs[0].rounding.mode: unknown rounding mode "nearest" (want down, up, half_up or half_even; empty is down)`,
		`points.rules[0].caps[0].period: unknown period "daily" (want day, week, month, year or total)`,
		`coupons.templates[0].type: unknown coupon type "" (want cash, discount, exchange or random)`,
		`tasks.tasks[0].kind: unknown task type "" (want one, repeat, all or sequence)`,
		`tasks.tasks[0].rewards[0].kind: unknown reward kind "point" (want points, growth, coupon, pack or achievement)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: no %q in\n%v", want, err)
		}
	}
}
