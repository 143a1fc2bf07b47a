package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

func TestProfileInOneCall(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t, task.Task{Name: "first-order", Kind: task.One, Steps: engSteps("order"), Limits: rule.Caps{{Period: rule.Total, Limit: dec("1")}},
		Rewards: []rule.Reward{
			{Kind: rule.RewardPoints, Program: "mall", Amount: dec("50")},
			{Kind: rule.RewardGrowth, Amount: dec("120")},
			{Kind: rule.RewardCoupon, Template: "welcome", Count: 2},
			{Kind: rule.RewardAchievement, Achievement: "first-order"},
		}})
	birthday := time.Date(1990, 5, 17, 0, 0, 0, 0, shanghai)
	if _, err := p.SetProfile(ctx, "pf", "ann", map[string]event.Value{"gender": event.Str("f"), "birthday": event.At(birthday), "source": event.Str("store")}, at); err != nil {
		t.Fatal(err)
	}
	order := func(id, amount, brand string, at time.Time, cats, prods []string) event.Event {
		return engEvent(id, "ann", "order", at, event.Attrs{"amount": event.DecString(amount), "brand": event.Str(brand),
			"category": event.List(cats...), "product": event.List(prods...)})
	}
	mustProcess(t, p,
		order("o1", "100", "a2", at, []string{"formula"}, []string{"a2-stage3"}),
		order("o2", "50.50", "a2", at.Add(24*time.Hour), []string{"formula", "snacks"}, []string{"a2-stage3", "puffs"}),
		order("o3", "300", "lego", at.Add(48*time.Hour), []string{"toys"}, []string{"duplo"}),
		engEvent("r1", "ann", "recharge", at.Add(time.Hour), event.Attrs{"amount": event.DecString("200")}),
	)
	cs, err := p.Coupons(ctx, "ann", true)
	if err != nil || len(cs) != 2 {
		t.Fatalf("coupons %v, %v", cs, err)
	}
	if _, err := p.RevokeCoupon(ctx, membership.RevokeRequest{RequestID: "rv", Coupon: cs[0].ID, Operator: "bob", Note: "test", Time: at.Add(72 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddTag(ctx, "tg", "ann", "staff", "bob", "", at); err != nil {
		t.Fatal(err)
	}

	got, err := p.Profile(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	want := membership.Profile{
		Member:     "ann",
		Attributes: map[string]event.Value{"gender": event.Str("f"), "birthday": event.At(birthday), "source": event.Str("store")},
		Level:      "silver",
		Tags: []tag.Assigned{
			{Tag: "frequent"}, {Tag: "recent"}, {Tag: "staff"}, {Tag: "women"},
		},
		Stats: tag.Summary{
			FirstOrder: at.UTC(), LastOrder: at.Add(48 * time.Hour).UTC(), Orders: 3, Amount: dec("450.5"),
			AverageOrder: dec("150.17"), Recharged: dec("200"),
			TopBrands:     []tag.Ranked{{Name: "a2", Orders: 2, Amount: dec("150.5")}, {Name: "lego", Orders: 1, Amount: dec("300")}},
			TopCategories: []tag.Ranked{{Name: "formula", Orders: 2, Amount: dec("150.5")}, {Name: "toys", Orders: 1, Amount: dec("300")}, {Name: "snacks", Orders: 1, Amount: dec("50.5")}},
			TopProducts:   []tag.Ranked{{Name: "a2-stage3", Orders: 2, Amount: dec("150.5")}, {Name: "duplo", Orders: 1, Amount: dec("300")}, {Name: "puffs", Orders: 1, Amount: dec("50.5")}},
		},
		Assets: membership.Assets{
			Points:      map[string]decimal.Decimal{"mall": dec("50")},
			Growth:      dec("120"),
			StoredValue: dec("200"),
			Coupons:     map[coupon.State]int{coupon.Available: 1, coupon.Revoked: 1},
		},
		Achievements: []benefit.Grant{{Achievement: "first-order", Source: "task", By: "tasks[0]", Event: "o1", At: at.UTC(), Note: "task first-order"}},
	}
	opts := cmp.Options{
		cmpopts.IgnoreFields(tag.Assigned{}, "Manual", "By", "At", "Event", "Note"),
		cmpopts.IgnoreFields(membership.Assets{}, "Accounts"),
		cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("profile (-want +got):\n%s", diff)
	}
	if len(got.Assets.Accounts) == 0 {
		t.Error("profile lists no accounts")
	}
	empty, err := p.Profile(ctx, "nobody")
	if err != nil || empty.Member != "nobody" || empty.Stats.Orders != 0 || len(empty.Tags) != 0 {
		t.Errorf("profile of an unknown member = %+v, %v", empty, err)
	}
}
