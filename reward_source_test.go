package membership_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
)

// sourceDef is a program where reaching silver gives an achievement and a
// coupon only the system may issue, and a big order completes a task that
// gives another achievement and a coupon only tasks may issue.
func sourceDef() membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	use := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}
	return membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "bronze", Validity: permanent},
				{Name: "silver", Upgrade: dec("100"), Validity: permanent, Gifts: []rule.Reward{
					{Kind: rule.RewardAchievement, Achievement: "silver-badge"},
					{Kind: rule.RewardCoupon, Template: "upgrade-cash"},
				}},
			},
			Growth: []level.GrowthRule{{ID: "orders", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
		},
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "upgrade-cash", Type: coupon.Cash, Amount: dec("10"), Use: use, Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.System}}},
			{Name: "task-cash", Type: coupon.Cash, Amount: dec("5"), Use: use, Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.Task}}},
		}},
		Benefits: &benefit.Definition{Achievements: []benefit.Achievement{{Name: "silver-badge", Type: "level"}, {Name: "big-spender", Type: "milestone"}}},
		Tasks: &task.Definition{Tasks: []task.Task{
			{Name: "small-order", Kind: task.One, Steps: []task.Step{{Event: "order", Conditions: []event.Condition{{Attr: "amount", Op: event.Lt, Value: event.DecString("100")}}}},
				Rewards: []rule.Reward{{Kind: rule.RewardGrowth, Amount: dec("1")}}},
			{Name: "big-order", Kind: task.One, Steps: []task.Step{{Event: "order", Conditions: []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("100")}}}},
				Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "big-spender"}, {Kind: rule.RewardCoupon, Template: "task-cash"}}},
		}},
	}
}

// An achievement records what granted it by name: the task (not its index
// in the definition) or the level whose gift it is. Each coupon is issued
// by its source's claim method, so templates limited to that method are
// issued, and the reasons of the task's changes name the task.
func TestRewardsNameTheirSource(t *testing.T) {
	ctx := context.Background()
	p := openMemory(t, sourceDef())
	at := time.Date(2026, 6, 1, 10, 0, 0, 0, shanghai)
	out := mustProcess(t, p, event.Event{ID: "o1", Member: "ann", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString("150")}})[0]

	gs, err := p.Benefits().Achievements(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	want := []benefit.Grant{
		{Achievement: "big-spender", Source: "task", By: "big-order", Event: "o1", At: at},
		{Achievement: "silver-badge", Source: "level", By: "silver", Event: "o1", At: at},
	}
	if diff := cmp.Diff(want, gs, cmpopts.IgnoreFields(benefit.Grant{}, "Note")); diff != "" {
		t.Errorf("achievements (-want +got):\n%s", diff)
	}
	if refused := out.ChangesOf(coupon.ChangeClaimRefused); len(refused) != 0 {
		t.Errorf("claims refused: %+v", refused)
	}
	cs, err := p.Coupons().List(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]coupon.Method{}
	for _, c := range cs {
		methods[c.Template] = c.Method
	}
	if diff := cmp.Diff(map[string]coupon.Method{"upgrade-cash": coupon.System, "task-cash": coupon.Task}, methods); diff != "" {
		t.Errorf("coupons issued by (-want +got):\n%s", diff)
	}
	for _, c := range out.ChangesOf(task.ChangeCompleted) {
		if c.Reason == nil || c.Reason.Rule != "task.big-order" {
			t.Errorf("task completion reason %+v, want rule task.big-order", c.Reason)
		}
	}
}

// Validate refuses a gift or a reward naming a coupon template or pack
// whose claim methods leave out the method it would be issued by: the
// claim would be refused on every upgrade or completion.
func TestValidateRefusesRewardsTheirCouponRefuses(t *testing.T) {
	def := sourceDef()
	def.Coupons.Packs = []coupon.Pack{{Name: "staff-pack", Mode: coupon.AllInvalid, Items: []coupon.PackItem{{Template: "upgrade-cash", Count: 1}},
		Claim: coupon.ClaimRule{Methods: []coupon.Method{coupon.Operator}}}}
	def.Coupons.Gifts = []coupon.Gift{{Event: "order", Template: "task-cash"}}
	def.Levels.Ladder[1].Gifts = append(def.Levels.Ladder[1].Gifts, rule.Reward{Kind: rule.RewardCoupon, Template: "task-cash"})
	def.Tasks.Tasks[1].Rewards = append(def.Tasks.Tasks[1].Rewards,
		rule.Reward{Kind: rule.RewardCoupon, Template: "upgrade-cash"}, rule.Reward{Kind: rule.RewardPack, Pack: "staff-pack"})
	err := def.Validate()
	if !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Validate: %v, want ErrInvalidDefinition", err)
	}
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate error %T is not *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
		if !errors.Is(p.Err, coupon.ErrNotEligible) {
			t.Errorf("%s: %v, want it to wrap coupon.ErrNotEligible", p.Path, p.Err)
		}
	}
	want := []string{"levels.ladder[1].gifts[2]", "coupons.gifts[0].template", "tasks.tasks[1].rewards[2]", "tasks.tasks[1].rewards[3]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, err)
	}
	if !strings.Contains(err.Error(), `"system"`) || !strings.Contains(err.Error(), `"task"`) {
		t.Errorf("Validate = %v; want it to name the methods", err)
	}
}

// A growth reward needs a ladder, as growth rules do: a level definition
// of paid plans alone has none. Before, the reward was accepted and posted
// growth that counted towards nothing.
func TestValidateRefusesGrowthRewardWithoutLadder(t *testing.T) {
	def := sourceDef()
	def.Levels = &level.Definition{Plans: []level.Plan{{Name: "plus", Period: level.Monthly, Event: "order", Attr: "plan"}}}
	def.Events[0].Attributes = append(def.Events[0].Attributes, event.Attr{Name: "plan", Kind: event.String})
	def.Tasks.Tasks = def.Tasks.Tasks[:1] // small-order: a growth reward
	def.Coupons = nil
	def.Benefits = nil
	err := def.Validate()
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate = %v, want problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path+": "+p.Err.Error())
	}
	want := []string{"tasks.tasks[0].rewards[0]: unknown level ladder (growth reward)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// A program that leaves a domain out lists none of a member's items of
// that domain; its other calls say the domain is not defined.
func TestListsOfUndefinedDomainsAreEmpty(t *testing.T) {
	ctx := context.Background()
	p := openMemory(t, valueDef())
	lens := map[string]func() (int, error){
		"Tasks.Progress":        func() (int, error) { l, err := p.Tasks().Progress(ctx, "ann"); return len(l), err },
		"Benefits.Achievements": func() (int, error) { l, err := p.Benefits().Achievements(ctx, "ann"); return len(l), err },
		"Benefits.Of":           func() (int, error) { l, err := p.Benefits().Of(ctx, "ann", t0); return len(l), err },
		"Tags.Of":               func() (int, error) { l, err := p.Tags().Of(ctx, "ann"); return len(l), err },
		"Coupons.List":          func() (int, error) { l, err := p.Coupons().List(ctx, "ann"); return len(l), err },
		"Coupons.Live":          func() (int, error) { l, err := p.Coupons().Live(ctx, "ann"); return len(l), err },
		"Levels.History":        func() (int, error) { l, err := p.Levels().History(ctx, "ann", 0, 10); return len(l), err },
	}
	for name, f := range lens {
		if n, err := f(); n != 0 || err != nil {
			t.Errorf("%s: %d items, %v; want none", name, n, err)
		}
	}
	if _, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: "ann", Task: "t", Period: rule.Total, At: t0}); !errors.Is(err, task.ErrNotDefined) {
		t.Errorf("Tasks.Completions: %v, want ErrNotDefined", err)
	}
	if _, err := p.Levels().Status(ctx, "ann"); !errors.Is(err, level.ErrNotDefined) {
		t.Errorf("Levels.Status: %v, want ErrNotDefined", err)
	}
}
