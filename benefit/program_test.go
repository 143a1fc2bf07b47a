package benefit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

var zone = testkit.Shanghai

// progDef is a program with a three-level ladder (bronze, silver 100,
// gold 500, all permanent), a monthly plan "plus", the benefit catalog of
// the tests, two achievements, and the given tasks.
func progDef(tasks ...task.Task) membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "share"},
			{Name: "buy_plan", Attributes: []event.Attr{{Name: "plan", Kind: event.String, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "bronze", Upgrade: dec("0"), Validity: permanent},
				{Name: "silver", Upgrade: dec("100"), Validity: permanent},
				{Name: "gold", Upgrade: dec("500"), Validity: permanent},
			},
			Plans: []level.Plan{{Name: "plus", Period: level.Monthly, Event: "buy_plan", Attr: "plan"}},
		},
		Benefits: &benefit.Definition{
			Benefits: []benefit.Benefit{
				{Name: "silver-discount", Type: benefit.TypeDiscount, Levels: []string{"silver"}, Discount: &benefit.Discount{Rate: dec("0.95")}},
				{Name: "gold-discount", Type: benefit.TypeDiscount, Levels: []string{"gold"}, Discount: &benefit.Discount{Rate: dec("0.88")}},
				{Name: "birthday-care", Type: benefit.TypeCare, Levels: []string{"silver", "gold"}, Description: "a gift on the birthday"},
				{Name: "plus-discount", Type: benefit.TypeDiscount, Plans: []string{"plus"}, Discount: &benefit.Discount{Rate: dec("0.85")}},
				{Name: "plus-delivery", Type: benefit.TypeService, Plans: []string{"plus"}},
			},
			Achievements: []benefit.Achievement{
				{Name: "first-order", Type: "milestone", Icon: "first.png"},
				{Name: "explorer", Type: "milestone", Icon: "explorer.png", Link: "/explore"},
			},
		},
		Tasks: &task.Definition{Tasks: tasks},
	}
}

func progEvent(id, member, typ string, at time.Time, attrs event.Attrs) event.Event {
	return event.Event{ID: id, Member: member, Type: typ, Time: at, Attrs: attrs}
}

func progOrder(id, member, amount string, at time.Time) event.Event {
	return progEvent(id, member, "order", at, event.Attrs{"amount": event.DecString(amount)})
}

var mustProcess = testkit.MustProcess

func kinds(out *change.Outcome) []string {
	var ks []string
	for _, c := range out.Changes {
		ks = append(ks, c.Kind)
	}
	return ks
}

func TestBenefitsFollowLevelAndPlan(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, zone)
	p := testkit.OpenMemory(t, progDef())
	current := func(when time.Time) []string {
		t.Helper()
		bs, err := p.Benefits().Of(ctx, "m", when)
		if err != nil {
			t.Fatal(err)
		}
		return names(bs)
	}
	mustProcess(t, p, progEvent("e0", "m", "share", at, nil))
	if got := current(at); len(got) != 0 {
		t.Errorf("bronze member has benefits %v", got)
	}
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "lv", Member: "m", Operator: "bob", Note: "test", At: at, Level: "gold"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"gold-discount", "birthday-care"}, current(at)); diff != "" {
		t.Errorf("gold benefits (-want +got):\n%s", diff)
	}
	mustProcess(t, p, progEvent("e1", "m", "buy_plan", at, event.Attrs{"plan": event.Str("plus")}))
	if diff := cmp.Diff([]string{"gold-discount", "birthday-care", "plus-discount", "plus-delivery"}, current(at.Add(time.Hour))); diff != "" {
		t.Errorf("gold with plus (-want +got):\n%s", diff)
	}
	// The monthly plan bought on 2 March runs until 2 April 10:00.
	if diff := cmp.Diff([]string{"gold-discount", "birthday-care"}, current(time.Date(2026, 4, 2, 10, 0, 0, 0, zone))); diff != "" {
		t.Errorf("after the plan ended (-want +got):\n%s", diff)
	}

	price, err := p.Benefits().MemberPrice(ctx, "m", dec("199.99"), at.Add(time.Hour))
	if err != nil || price.By == nil || price.By.Name != "plus-discount" || !price.Amount.Equal(dec("169.99")) { // 169.9915
		t.Errorf("MemberPrice with plus = %+v, %v; want 169.99 by plus-discount", price, err)
	}
	price, err = p.Benefits().MemberPrice(ctx, "m", dec("199.99"), time.Date(2026, 5, 1, 0, 0, 0, 0, zone))
	if err != nil || price.By == nil || price.By.Name != "gold-discount" || !price.Amount.Equal(dec("175.99")) { // 175.9912
		t.Errorf("MemberPrice as gold = %+v, %v; want 175.99 by gold-discount", price, err)
	}
	price, err = p.Benefits().MemberPrice(ctx, "nobody", dec("50"), at)
	if err != nil || price.By != nil || !price.Amount.Equal(dec("50")) {
		t.Errorf("MemberPrice without benefits = %+v, %v; want 50 by none", price, err)
	}
	// A negative amount is a malformed query, as an amount too large is:
	// ErrNegativeAmount and ErrInvalidArgument, naming the field.
	for _, member := range []string{"m", "nobody"} {
		_, err := p.Benefits().MemberPrice(ctx, member, dec("-1"), at)
		if !errors.Is(err, benefit.ErrNegativeAmount) || !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), "amount: ") {
			t.Errorf("MemberPrice(%s, -1) = %v; want ErrNegativeAmount and ErrInvalidArgument naming amount", member, err)
		}
	}
	// An amount beyond the 40 digits of a decimal is refused, as the
	// points calls refuse one, naming the field; one of 40 digits is
	// priced (0.95 × 10^39 as silver would be; m is gold: 0.88 × 10^39).
	for _, huge := range []decimal.Decimal{decimal.New(1, 40), decimal.New(1, 80), decimal.New(1, -41)} {
		_, err := p.Benefits().MemberPrice(ctx, "m", huge, at)
		if !errors.Is(err, event.ErrInvalidArgument) || !errors.Is(err, event.ErrTooLarge) || !strings.Contains(err.Error(), "amount") {
			t.Errorf("MemberPrice(%s) = %v; want ErrInvalidArgument and ErrTooLarge naming amount", huge, err)
		}
	}
	price, err = p.Benefits().MemberPrice(ctx, "m", decimal.New(1, 39), time.Date(2026, 5, 1, 0, 0, 0, 0, zone))
	if err != nil || !price.Amount.Equal(decimal.New(88, 37)) {
		t.Errorf("MemberPrice of 10^39 as gold = %+v, %v; want 88 × 10^37", price, err)
	}
}

func TestBenefitAchievementGrantedOnce(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, zone)
	p := testkit.OpenMemory(t, progDef(task.Task{Name: "first-order", Kind: task.One, Steps: []task.Step{{Event: "order"}},
		Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "first-order"}}}))
	grant := func(id, achievement, operator, note string, at time.Time) (*change.Outcome, error) {
		return p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: id, Member: "m", Operator: operator, Note: note, At: at, Achievement: achievement})
	}

	out, err := grant("g1", "explorer", "alice", "visited every store", at)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ChangesOf(benefit.ChangeAchievement)) != 1 {
		t.Fatalf("changes %v", kinds(out))
	}
	again, err := grant("g1", "explorer", "alice", "visited every store", at)
	if err != nil || !again.Duplicate {
		t.Errorf("retry: %v, duplicate %v", err, again != nil && again.Duplicate)
	}
	if _, err := grant("g2", "explorer", "bob", "", at.Add(time.Hour)); !errors.Is(err, benefit.ErrAlreadyGranted) {
		t.Errorf("second grant: %v, want ErrAlreadyGranted", err)
	}
	if _, err := grant("g3", "ghost", "bob", "", at); !errors.Is(err, benefit.ErrUnknownAchievement) {
		t.Errorf("unknown achievement: %v", err)
	}
	if _, err := grant("g4", "explorer", "", "", at); !errors.Is(err, event.ErrInvalidArgument) {
		t.Errorf("no operator: %v", err)
	}

	first := mustProcess(t, p, progOrder("o1", "m", "10", at.Add(2*time.Hour)))[0]
	second := mustProcess(t, p, progOrder("o2", "m", "10", at.Add(3*time.Hour)))[0]
	if n := len(first.ChangesOf(benefit.ChangeAchievement)); n != 1 {
		t.Errorf("first order granted %d achievements, want 1", n)
	}
	if n := len(second.ChangesOf(benefit.ChangeAchievement)); n != 0 {
		t.Errorf("second completion granted %d achievements, want 0 (once per member)", n)
	}
	gs, err := p.Benefits().Achievements(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []benefit.Grant{
		{Achievement: "explorer", At: at, Source: "operator", By: "alice", Event: "g1", Note: "visited every store"},
		{Achievement: "first-order", At: at.Add(2 * time.Hour), Source: "task", By: "first-order", Event: "o1", Note: "task first-order"},
	}
	if diff := cmp.Diff(want, gs); diff != "" {
		t.Errorf("achievements (-want +got):\n%s", diff)
	}
	for _, g := range gs {
		if g.At.Location() != p.Location() {
			t.Errorf("%s granted at %v, not in the program's zone", g.Achievement, g.At)
		}
	}
}

func TestBenefitDefinitionProblems(t *testing.T) {
	def := progDef()
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

// TestGrantAchievementIdempotent: a retry returns the first outcome marked
// Duplicate; the same ID with another request is a conflict and changes
// nothing.
func TestGrantAchievementIdempotent(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, progDef())
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, zone)
	req := benefit.GrantRequest{RequestID: "g1", Member: "m", Operator: "alice", Note: "welcome", At: at, Achievement: "explorer"}
	first, err := p.Benefits().GrantAchievement(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	utc := req
	utc.At = at.UTC() // the same instant
	for _, r := range []benefit.GrantRequest{req, utc} {
		again, err := p.Benefits().GrantAchievement(ctx, r)
		if err != nil || !again.Duplicate {
			t.Fatalf("retry: %+v, %v", again, err)
		}
		want := *first
		want.Duplicate = true
		if diff := cmp.Diff(&want, again); diff != "" {
			t.Errorf("retry outcome (-want +got):\n%s", diff)
		}
	}
	feed, _ := p.Feed(ctx, 0, 100)
	conflict := req
	conflict.Achievement = "first-order"
	if _, err := p.Benefits().GrantAchievement(ctx, conflict); !errors.Is(err, event.ErrConflict) || !errors.Is(err, membership.ErrEventConflict) {
		t.Fatalf("conflict: %v", err)
	}
	gs, err := p.Benefits().Achievements(ctx, "m")
	if err != nil || len(gs) != 1 || gs[0].Achievement != "explorer" {
		t.Errorf("after the conflict: %+v, %v", gs, err)
	}
	if again, _ := p.Feed(ctx, 0, 100); len(again) != len(feed) {
		t.Errorf("the conflict published %d changes", len(again)-len(feed))
	}
}

func TestEffectsOf(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, progDef(task.Task{Name: "first-order", Kind: task.One, Steps: []task.Step{{Event: "order"}},
		Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "first-order"}}}))
	at := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	out, err := p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g1", Member: "m", Operator: "alice", At: at, Achievement: "explorer"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := benefit.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []benefit.Grant{{Achievement: "explorer", At: at, Source: "operator", By: "alice", Event: "g1"}}
	if diff := cmp.Diff(want, e.Achievements); diff != "" {
		t.Errorf("effects (-want +got):\n%s", diff)
	}
	if e.Achievements[0].At.Location() != p.Location() {
		t.Errorf("granted at %v, not in the program's zone", e.Achievements[0].At)
	}
	// A task's reward in an event's outcome, beside other domains' changes.
	ev := mustProcess(t, p, progOrder("o1", "m", "10", at.Add(time.Hour)))[0]
	if e, err = benefit.EffectsOf(ev); err != nil || len(e.Achievements) != 1 || e.Achievements[0].Achievement != "first-order" || e.Achievements[0].Source != "task" {
		t.Errorf("event effects = %+v, %v", e, err)
	}
	if e, err := benefit.EffectsOf(nil); err != nil || e.Achievements != nil {
		t.Errorf("EffectsOf(nil) = %+v, %v", e, err)
	}
	bad := &change.Outcome{Changes: []change.Change{{Kind: benefit.ChangeAchievement, Data: []byte(`{"at":1}`)}}}
	if _, err := benefit.EffectsOf(bad); err == nil {
		t.Error("a payload that does not decode gave no error")
	}
}

// TestNotDefined: without benefits a member has no achievement and no
// benefit, pays the amount asked, and cannot be granted an achievement.
func TestNotDefined(t *testing.T) {
	ctx := context.Background()
	def := progDef()
	def.Benefits = nil
	p := testkit.OpenMemory(t, def)
	h := p.Benefits()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, zone)
	if _, err := h.GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g", Member: "m", Operator: "o", At: at, Achievement: "explorer"}); !errors.Is(err, benefit.ErrNotDefined) {
		t.Errorf("GrantAchievement: %v, want ErrNotDefined", err)
	}
	if gs, err := h.Achievements(ctx, "m"); err != nil || len(gs) != 0 {
		t.Errorf("Achievements: %v, %v; want an empty list", gs, err)
	}
	if bs, err := h.Of(ctx, "m", at); err != nil || len(bs) != 0 {
		t.Errorf("Of: %v, %v; want an empty list", bs, err)
	}
	if pr, err := h.MemberPrice(ctx, "m", dec("10"), at); err != nil || !pr.Amount.Equal(dec("10")) || pr.By != nil {
		t.Errorf("MemberPrice: %+v, %v; want 10 by no benefit", pr, err)
	}
}

// The queries check the member as an ID, and Of and MemberPrice the time
// as a query time, with or without benefits in the definition: an empty
// member used to get an empty list (or the amount asked) and no error on
// a program without benefits, and a zero time the benefits of the year 1.
func TestQueriesCheckTheMember(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, zone)
	without := progDef()
	without.Benefits = nil
	for name, def := range map[string]membership.Definition{"with benefits": progDef(), "without": without} {
		h := testkit.OpenMemory(t, def).Benefits()
		for _, c := range []struct {
			member string
			at     time.Time
			field  string
		}{
			{"", at, "member"},
			{"m\x00", at, "member"},
			{"m\xff", at, "member"},
			{strings.Repeat("m", 257), at, "member"},
			{"m", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), "at"},
			{"m", time.Time{}, "at"},
		} {
			want := func(call string, err error) {
				t.Helper()
				if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), c.field) {
					t.Errorf("%s: %s(%q, %v): %v; want ErrInvalidArgument naming %s", name, call, c.member, c.at, err, c.field)
				}
			}
			_, err := h.Of(ctx, c.member, c.at)
			want("Of", err)
			_, err = h.MemberPrice(ctx, c.member, dec("10"), c.at)
			want("MemberPrice", err)
			if c.field == "member" {
				_, err = h.Achievements(ctx, c.member)
				want("Achievements", err)
			}
		}
	}
}

// The program keeps its own catalog: a host editing the definition it
// opened the program with, or the one Program.Definition returns, changes
// no member's benefits or price (the part shared the caller's slices and
// discounts, so a rate edited to 0.01 after Open priced gold at 1 per 100,
// unvalidated).
func TestCatalogIsTheProgramsOwn(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, zone)
	def := progDef()
	p := testkit.OpenMemory(t, def)
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "lv", Member: "m", Operator: "bob", Note: "test", At: at, Level: "gold"}); err != nil {
		t.Fatal(err)
	}
	edit := func(d *benefit.Definition) {
		d.Benefits[1].Discount.Rate = dec("0.01")
		d.Benefits[1].Discount.Rounding = &rule.Rounding{Scale: 0, Mode: rule.RoundUp}
		d.Benefits[2].Name = "renamed"
		d.Benefits[2].Levels[1] = "silver"
		d.Achievements[0].Name = "renamed"
	}
	edit(def.Benefits)
	edit(p.Definition().Benefits)
	// Nor does editing what the queries return.
	if bs, err := p.Benefits().Of(ctx, "m", at); err != nil || len(bs) == 0 || bs[0].Discount == nil {
		t.Fatalf("Of = %v, %v", bs, err)
	} else {
		bs[0].Discount.Rate = dec("0.01")
		bs[0].Levels[0] = "silver"
	}
	if pr, err := p.Benefits().MemberPrice(ctx, "m", dec("100"), at); err != nil || pr.By == nil {
		t.Fatalf("MemberPrice = %+v, %v", pr, err)
	} else {
		pr.By.Discount.Rate = dec("0.01")
	}
	// Gold: 100 × 0.88 = 88 by gold-discount; gold-discount and birthday-care.
	price, err := p.Benefits().MemberPrice(ctx, "m", dec("100"), at)
	if err != nil || price.By == nil || price.By.Name != "gold-discount" || !price.Amount.Equal(dec("88")) {
		t.Errorf("MemberPrice = %+v, %v; want 88 by gold-discount", price, err)
	}
	bs, err := p.Benefits().Of(ctx, "m", at)
	if diff := cmp.Diff([]string{"gold-discount", "birthday-care"}, names(bs)); err != nil || diff != "" {
		t.Errorf("Of (-want +got):\n%s%v", diff, err)
	}
	if _, err := p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g", Member: "m", Operator: "bob", At: at, Achievement: "first-order"}); err != nil {
		t.Errorf("GrantAchievement of the catalog's first-order: %v", err)
	}
}
