package membership_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// tipDef is a program whose orders carry an optional tip: a growth rule
// and a points rule read the amount, two others the tip; a task counts
// orders and a tag rule marks buyers.
func tipDef() membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	mul := func(base, rate string) rule.Formula {
		return rule.Formula{Kind: rule.Multiplier, Base: base, Rate: dec(rate)}
	}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{
			{Name: "amount", Kind: event.Decimal, Required: true},
			{Name: "tip", Kind: event.Decimal},
		}}},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "bronze", Validity: permanent}, {Name: "silver", Upgrade: dec("100"), Validity: permanent}},
			Growth: []level.GrowthRule{
				{ID: "g-amount", Event: "order", Formula: mul("amount", "1")},
				{ID: "g-tip", Event: "order", Formula: mul("tip", "2")},
			},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{
				{ID: "p-amount", Program: "mall", Event: "order", Formula: mul("amount", "0.5")},
				{ID: "p-tip", Program: "mall", Event: "order", Formula: rule.Formula{Kind: rule.MultiplierFixed, Base: "tip", Rate: dec("10"), Fixed: dec("1")}},
			},
		},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "two-orders", Kind: task.Repeat, Times: 2, Steps: []task.Step{{Event: "order"}},
			Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: dec("5")}}}}},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount"},
			Rules:  []tag.Rule{{Tag: "buyer", All: []tag.Cond{{Fact: tag.FactOrderCount, Op: event.Gte, Value: event.Int(1)}}}},
		},
	}
}

// An order without its optional tip skips the two rules whose formula
// reads the tip, and says so in the outcome (a rule.skipped change for
// each, with its reason); the amount's growth and points, the task's
// progress and the tag all apply. An order with a tip runs every rule.
func TestOptionalAttributeAbsentSkipsOnlyTheRulesReadingIt(t *testing.T) {
	for name, open := range map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{"memory": openMemory, "bolt": openBolt} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := open(t, tipDef())
			at := time.Date(2026, 5, 4, 10, 0, 0, 0, shanghai)
			noTip := event.Event{ID: "o1", Member: "ann", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString("120.50")}}
			out, err := p.Process(ctx, noTip)
			if err != nil {
				t.Fatalf("an order without the optional tip: %v", err)
			}
			// g-amount: 120.50 × 1 → 120 growth (whole units, down): silver.
			// p-amount: 120.50 × 0.5 = 60.25 → 60 points.
			wantSkips := []change.Skip{
				{Part: "growth", Rule: "g-tip", Attribute: "tip"},
				{Part: "points", Rule: "p-tip", Attribute: "tip"},
			}
			checkSkips(t, out, wantSkips)
			if got := len(out.ChangesOf(task.ChangeProgressed)); got != 1 {
				t.Errorf("task progress changes = %d, want 1", got)
			}
			if got := len(out.ChangesOf(tag.ChangeAdded)); got != 1 {
				t.Errorf("tag changes = %d, want 1", got)
			}
			st, err := p.Levels().Status(ctx, "ann")
			if err != nil || st.Level != "silver" || !st.Growth.Equal(dec("120")) {
				t.Errorf("after o1: level %s, growth %s (%v); want silver, 120", st.Level, st.Growth, err)
			}
			checkPoints(t, p, "60", at)
			tags, err := p.Tags().Of(ctx, "ann")
			if err != nil || len(tags) != 1 || tags[0].Tag != "buyer" {
				t.Errorf("tags = %+v, %v; want buyer", tags, err)
			}

			// The repeat returns the first outcome, skips included.
			again, err := p.Process(ctx, noTip)
			if err != nil || !again.Duplicate {
				t.Fatalf("repeat: %+v, %v", again, err)
			}
			checkSkips(t, again, wantSkips)

			// With a tip of 3: g-amount 10 and g-tip 6 growth; p-amount 5,
			// p-tip 3 × 10 + 1 = 31 points, and the task's second order
			// completes it (5 points): 60 + 5 + 31 + 5 = 101.
			tip := event.Event{ID: "o2", Member: "ann", Type: "order", Time: at.Add(time.Hour),
				Attrs: event.Attrs{"amount": event.DecString("10"), "tip": event.DecString("3")}}
			out = mustProcess(t, p, tip)[0]
			checkSkips(t, out, nil)
			if got := len(out.ChangesOf(task.ChangeCompleted)); got != 1 {
				t.Errorf("task completions = %d, want 1", got)
			}
			st, err = p.Levels().Status(ctx, "ann")
			if err != nil || !st.Growth.Equal(dec("136")) {
				t.Errorf("after o2: growth %s (%v), want 136", st.Growth, err)
			}
			checkPoints(t, p, "101", at.Add(time.Hour))
		})
	}
}

// checkSkips compares an outcome's rule.skipped changes with want, and
// checks each names its rule and says why in its reason.
func checkSkips(t *testing.T, out *change.Outcome, want []change.Skip) {
	t.Helper()
	var got []change.Skip
	for _, c := range out.ChangesOf(change.RuleSkipped) {
		var s change.Skip
		if err := c.Decode(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
		if c.Reason == nil || c.Reason.Rule != s.Rule || !strings.Contains(c.Reason.Note, `"tip"`) {
			t.Errorf("skip of %s: reason %+v, want the rule and a note naming the attribute", s.Rule, c.Reason)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("skipped rules (-want +got):\n%s", diff)
	}
}

func checkPoints(t *testing.T, p *membership.Program, want string, at time.Time) {
	t.Helper()
	b, err := p.Points().Balance(context.Background(), points.BalanceQuery{Program: "mall", Member: "ann", At: at})
	if err != nil || !b.Available.Equal(dec(want)) {
		t.Errorf("points available %s (%v), want %s", b.Available, err, want)
	}
}
