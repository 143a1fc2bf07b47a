package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
)

func engBenefitNames(bs []benefit.Benefit) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

func TestBenefitsFollowLevelAndPlan(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t)
	current := func(when time.Time) []string {
		t.Helper()
		bs, err := p.Benefits(ctx, "m", when)
		if err != nil {
			t.Fatal(err)
		}
		return engBenefitNames(bs)
	}
	mustProcess(t, p, engEvent("e0", "m", "share", at, nil))
	if got := current(at); len(got) != 0 {
		t.Errorf("bronze member has benefits %v", got)
	}
	if _, err := p.SetLevel(ctx, "lv", membership.SetLevelRequest{Member: "m", Level: "gold", Operator: "bob", Reason: "test", At: at}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"gold-discount", "birthday-care"}, current(at)); diff != "" {
		t.Errorf("gold benefits (-want +got):\n%s", diff)
	}
	mustProcess(t, p, engEvent("e1", "m", "buy_plan", at, event.Attrs{"plan": event.Str("plus")}))
	if diff := cmp.Diff([]string{"gold-discount", "birthday-care", "plus-discount", "plus-delivery"}, current(at.Add(time.Hour))); diff != "" {
		t.Errorf("gold with plus (-want +got):\n%s", diff)
	}
	// The monthly plan bought on 2 March runs until 2 April 10:00.
	if diff := cmp.Diff([]string{"gold-discount", "birthday-care"}, current(time.Date(2026, 4, 2, 10, 0, 0, 0, shanghai))); diff != "" {
		t.Errorf("after the plan ended (-want +got):\n%s", diff)
	}

	price, by, ok, err := p.MemberPrice(ctx, "m", dec("199.99"), at.Add(time.Hour))
	if err != nil || !ok || by.Name != "plus-discount" || !price.Equal(dec("169.99")) { // 169.9915
		t.Errorf("MemberPrice with plus = %s by %q (%v, %v), want 169.99 by plus-discount", price, by.Name, ok, err)
	}
	price, by, ok, err = p.MemberPrice(ctx, "m", dec("199.99"), time.Date(2026, 5, 1, 0, 0, 0, 0, shanghai))
	if err != nil || !ok || by.Name != "gold-discount" || !price.Equal(dec("175.99")) { // 175.9912
		t.Errorf("MemberPrice as gold = %s by %q (%v, %v), want 175.99 by gold-discount", price, by.Name, ok, err)
	}
	price, _, ok, err = p.MemberPrice(ctx, "nobody", dec("50"), at)
	if err != nil || ok || !price.Equal(dec("50")) {
		t.Errorf("MemberPrice without benefits = %s (%v, %v), want 50, false", price, ok, err)
	}
	if _, _, _, err := p.MemberPrice(ctx, "m", dec("-1"), at); !errors.Is(err, benefit.ErrNegativeAmount) {
		t.Errorf("negative amount: %v", err)
	}
}

func TestBenefitAchievementGrantedOnce(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t, task.Task{Name: "first-order", Kind: task.One, Steps: engSteps("order"),
		Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "first-order"}}})

	out, err := p.GrantAchievement(ctx, "g1", "m", "explorer", "alice", "visited every store", at)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ChangesOf(membership.ChangeAchievementGranted)) != 1 {
		t.Fatalf("changes %v", engKinds(out, ""))
	}
	again, err := p.GrantAchievement(ctx, "g1", "m", "explorer", "alice", "visited every store", at)
	if err != nil || !again.Duplicate {
		t.Errorf("retry: %v, duplicate %v", err, again != nil && again.Duplicate)
	}
	if _, err := p.GrantAchievement(ctx, "g2", "m", "explorer", "bob", "", at.Add(time.Hour)); !errors.Is(err, benefit.ErrAlreadyGranted) {
		t.Errorf("second grant: %v, want ErrAlreadyGranted", err)
	}
	if _, err := p.GrantAchievement(ctx, "g3", "m", "ghost", "bob", "", at); !errors.Is(err, benefit.ErrUnknownAchievement) {
		t.Errorf("unknown achievement: %v", err)
	}
	if _, err := p.GrantAchievement(ctx, "g4", "m", "explorer", "", "", at); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("no operator: %v", err)
	}

	first := mustProcess(t, p, engOrder("o1", "m", "10", at.Add(2*time.Hour)))[0]
	second := mustProcess(t, p, engOrder("o2", "m", "10", at.Add(3*time.Hour)))[0]
	if n := len(first.ChangesOf(membership.ChangeAchievementGranted)); n != 1 {
		t.Errorf("first order granted %d achievements, want 1", n)
	}
	if n := len(second.ChangesOf(membership.ChangeAchievementGranted)); n != 0 {
		t.Errorf("second completion granted %d achievements, want 0 (once per member)", n)
	}
	gs, err := p.Achievements(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []benefit.Grant{
		{Achievement: "explorer", At: at.UTC(), Source: "operator", By: "alice", Event: "g1", Note: "visited every store"},
		{Achievement: "first-order", At: at.Add(2 * time.Hour).UTC(), Source: "task", By: "tasks[0]", Event: "o1", Note: "task first-order"},
	}
	if diff := cmp.Diff(want, gs); diff != "" {
		t.Errorf("achievements (-want +got):\n%s", diff)
	}
}

func TestBenefitDefinitionProblems(t *testing.T) {
	def := engDef()
	def.Benefits.Benefits = append(def.Benefits.Benefits,
		benefit.Benefit{Name: "ghost", Type: benefit.TypeCare, Levels: []string{"platinum"}, Plans: []string{"max"}})
	def.Levels.Ladder[1].Gifts = []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "nope"}}
	var ps *rule.Problems
	if err := def.Validate(); !errors.As(err, &ps) {
		t.Fatalf("Validate = %v", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
	}
	want := []string{"levels.ladder[1].gifts[0]", "benefits.benefits[5].levels[0]", "benefits.benefits[5].plans[0]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
