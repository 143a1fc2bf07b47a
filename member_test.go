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
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// memberDef is a program with every domain: a task whose first completion
// rewards points, growth, two coupons and an achievement.
func memberDef() membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{
				{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "brand", Kind: event.String},
				{Name: "category", Kind: event.Strings}, {Name: "product", Kind: event.Strings},
			}},
			{Name: "recharge", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
		},
		StoredValue: &value.Definition{Recharge: "recharge", Amount: "amount"},
		Levels: &level.Definition{Ladder: []level.Level{
			{Name: "bronze", Upgrade: dec("0"), Validity: permanent},
			{Name: "silver", Upgrade: dec("100"), Validity: permanent},
			{Name: "gold", Upgrade: dec("500"), Validity: permanent},
		}},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "welcome", Type: coupon.Cash, Amount: dec("5"), Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}},
		}},
		Benefits: &benefit.Definition{Achievements: []benefit.Achievement{{Name: "first-order", Type: "milestone"}}},
		Tags: &tag.Definition{
			Orders:     &tag.Orders{Event: "order", Amount: "amount", Brand: "brand", Category: "category", Product: "product"},
			Recharge:   &tag.Recharge{Event: "recharge", Amount: "amount"},
			Top:        3,
			Attributes: []event.Attr{{Name: "gender", Kind: event.String}, {Name: "birthday", Kind: event.Time}},
			Manual:     []tag.Manual{{Name: "staff"}},
			Rules: []tag.Rule{
				{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(1)}}},
				{Tag: "frequent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(3)}}},
				{Tag: "women", All: []tag.Cond{{Fact: tag.AttrFact("gender"), Op: event.Eq, Value: event.Str("f")}}},
			},
		},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "first-order", Kind: task.One, Steps: []task.Step{{Event: "order"}},
			Limits: rule.Caps{{Period: rule.Total, Limit: dec("1")}},
			Rewards: []rule.Reward{
				{Kind: rule.RewardPoints, Program: "mall", Amount: dec("50")},
				{Kind: rule.RewardGrowth, Amount: dec("120")},
				{Kind: rule.RewardCoupon, Template: "welcome", Count: 2},
				{Kind: rule.RewardAchievement, Achievement: "first-order"},
			}}}},
	}
}

// Program.Member gathers every domain's view of a member.
func TestMemberGathersEveryDomain(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := openMemory(t, memberDef())
	birthday := time.Date(1990, 5, 17, 0, 0, 0, 0, shanghai)
	attrs := map[string]event.Value{"gender": event.Str("f"), "birthday": event.At(birthday)}
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf", Member: "ann", At: at, Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
	order := func(id, amount, brand string, at time.Time, cats ...string) event.Event {
		return event.Event{ID: id, Member: "ann", Type: "order", Time: at,
			Attrs: event.Attrs{"amount": event.DecString(amount), "brand": event.Str(brand), "category": event.List(cats...)}}
	}
	mustProcess(t, p,
		order("o1", "100", "a2", at, "formula"),
		order("o2", "50.50", "a2", at.Add(24*time.Hour), "formula", "snacks"),
		order("o3", "300", "lego", at.Add(48*time.Hour), "toys"),
		event.Event{ID: "r1", Member: "ann", Type: "recharge", Time: at.Add(time.Hour), Attrs: event.Attrs{"amount": event.DecString("200")}},
	)
	cs, err := p.Coupons().Live(ctx, "ann")
	if err != nil || len(cs) != 2 {
		t.Fatalf("coupons %v, %v", cs, err)
	}
	if _, err := p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rv", Coupon: cs[0].ID, Operator: "bob", Note: "test", At: at.Add(72 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "tg", Member: "ann", Operator: "bob", At: at, Tag: "staff"}); err != nil {
		t.Fatal(err)
	}

	got, err := p.Member(ctx, "ann", at.Add(96*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The task's first completion (o1) gave 50 points, 120 growth (bronze
	// to silver), two welcome coupons (one revoked since) and the
	// achievement; three orders in 90 days make her recent and frequent.
	want := membership.Member{
		ID:           "ann",
		Level:        level.Status{Member: "ann", Level: "silver", Growth: dec("120"), Lifetime: dec("120")},
		Points:       map[string]points.Balance{"mall": {Available: dec("50"), Main: dec("50")}},
		Value:        value.Account{Balance: dec("200"), Recharged: dec("200")},
		Coupons:      map[coupon.State]int{coupon.Available: 1, coupon.Revoked: 1},
		Achievements: []benefit.Grant{{Achievement: "first-order", Source: "task", By: "first-order", Event: "o1", At: at, Note: "task first-order"}},
		Profile: tag.Profile{
			Member:     "ann",
			Attributes: attrs,
			Tags:       []tag.Assigned{{Tag: "frequent"}, {Tag: "recent"}, {Tag: "staff"}, {Tag: "women"}},
			Stats: tag.Summary{
				FirstOrder: at, LastOrder: at.Add(48 * time.Hour), Orders: 3, Amount: dec("450.5"),
				AverageOrder: dec("150.17"), Recharged: dec("200"),
				TopBrands:     []tag.Ranked{{Name: "a2", Orders: 2, Amount: dec("150.5")}, {Name: "lego", Orders: 1, Amount: dec("300")}},
				TopCategories: []tag.Ranked{{Name: "formula", Orders: 2, Amount: dec("150.5")}, {Name: "toys", Orders: 1, Amount: dec("300")}, {Name: "snacks", Orders: 1, Amount: dec("50.5")}},
			},
		},
	}
	opts := cmp.Options{
		cmpopts.IgnoreFields(tag.Assigned{}, "Manual", "By", "At", "Event", "Note"),
		cmpopts.IgnoreFields(level.Status{}, "Since"),
		cmpopts.IgnoreFields(membership.Member{}, "Accounts"),
		cmpopts.EquateEmpty(),
		cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }),
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location().String() == b.Location().String() }),
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("member (-want +got):\n%s", diff)
	}
	if len(got.Accounts) == 0 {
		t.Error("member lists no accounts")
	}
	empty, err := p.Member(ctx, "nobody", at)
	if err != nil || empty.ID != "nobody" || empty.Profile.Stats.Orders != 0 || len(empty.Profile.Tags) != 0 || len(empty.Achievements) != 0 {
		t.Errorf("an unknown member = %+v, %v", empty, err)
	}
}

// A program of paid plans without a ladder (付费会员 alone) shows the plans
// a member holds: Member used to read the level domain only with a
// ladder, so the plans bought were missing.
func TestMemberShowsPlansWithoutALadder(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := openMemory(t, membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "buy", Attributes: []event.Attr{{Name: "plan", Kind: event.String, Required: true}}}},
		Levels: &level.Definition{Plans: []level.Plan{{Name: "plus", Period: level.Yearly, Event: "buy", Attr: "plan"}}},
	})
	mustProcess(t, p, event.Event{ID: "b1", Member: "ann", Type: "buy", Time: at, Attrs: event.Attrs{"plan": event.Str("plus")}})
	got, err := p.Member(ctx, "ann", at)
	if err != nil {
		t.Fatal(err)
	}
	// Bought on 2 March 2026 10:00, yearly: held to 2 March 2027 10:00.
	want := []level.Held{{Plan: "plus", Since: at, Expires: time.Date(2027, 3, 2, 10, 0, 0, 0, shanghai)}}
	if diff := cmp.Diff(want, got.Level.Plans); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}
	if got.Level.Level != "" {
		t.Errorf("level %q without a ladder, want none", got.Level.Level)
	}
	// A year on, the plan has run out: Member at that time shows none,
	// Advance run or not (before, it listed the plan until Advance).
	got, err = p.Member(ctx, "ann", want[0].Expires)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Level.Plans) != 0 {
		t.Errorf("plans at their expiry = %+v, want none", got.Level.Plans)
	}
}
