package task_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
)

var dec = testkit.Dec

// engDef is a program with levels, a plan, points, coupons, stored value,
// benefits, achievements, tag rules and the given tasks.
func engDef(tasks ...task.Task) membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	days30 := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{
				{Name: "amount", Kind: event.Decimal, Required: true},
				{Name: "brand", Kind: event.String},
				{Name: "category", Kind: event.Strings},
				{Name: "product", Kind: event.Strings},
				{Name: "channel", Kind: event.String},
			}},
			{Name: "checkin"}, {Name: "browse"}, {Name: "cart"}, {Name: "share"},
			{Name: "recharge", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "buy_plan", Attributes: []event.Attr{{Name: "plan", Kind: event.String, Required: true}}},
		},
		StoredValue: &value.Definition{Recharge: "recharge", Amount: "amount"},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "bronze", Upgrade: dec("0"), Validity: permanent},
				{Name: "silver", Upgrade: dec("100"), Validity: permanent},
				{Name: "gold", Upgrade: dec("500"), Validity: permanent},
			},
			Plans: []level.Plan{{Name: "plus", Period: level.Monthly, Event: "buy_plan", Attr: "plan"}},
		},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		Coupons: &coupon.Definition{
			Templates: []coupon.Template{
				{Name: "welcome", Type: coupon.Cash, Amount: dec("5"), Use: days30},
				{Name: "formula-30", Type: coupon.Cash, Amount: dec("30"), MinOrder: dec("300"), Stock: 100,
					Claim: coupon.ClaimRule{Tags: []string{"M"}}, Use: days30},
			},
			Packs: []coupon.Pack{{Name: "starter", Items: []coupon.PackItem{{Template: "welcome", Count: 2}}, Mode: coupon.AnyInvalid}},
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
		Tags: &tag.Definition{
			Orders:     &tag.Orders{Event: "order", Amount: "amount", Brand: "brand", Category: "category", Product: "product"},
			Recharge:   &tag.Recharge{Event: "recharge", Amount: "amount"},
			Top:        3,
			Attributes: []event.Attr{{Name: "gender", Kind: event.String}, {Name: "birthday", Kind: event.Time}, {Name: "source", Kind: event.String}},
			Manual:     []tag.Manual{{Name: "staff"}, {Name: "complained"}},
			Rules: []tag.Rule{
				{Tag: "M", Description: "prefers 12-36 month infant formula", All: []tag.Cond{{Fact: tag.FactTopCategory, Op: event.Eq, Value: event.Str("formula-12-36m")}}},
				{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(1)}}},
				{Tag: "frequent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(3)}}},
				{Tag: "big-spender", All: []tag.Cond{{Fact: tag.FactOrderAmount, Op: event.Gte, Value: event.DecString("1000")}}},
				{Tag: "gold-member", All: []tag.Cond{{Fact: tag.FactLevel, Op: event.Eq, Value: event.Str("gold")}}},
				{Tag: "women", All: []tag.Cond{{Fact: tag.AttrFact("gender"), Op: event.Eq, Value: event.Str("f")}}},
			},
		},
		Tasks: &task.Definition{Tasks: tasks},
	}
}

var shanghai = testkit.Shanghai

func engOpen(t testing.TB, tasks ...task.Task) *membership.Program {
	t.Helper()
	return testkit.OpenMemory(t, engDef(tasks...))
}

func engEvent(id, member, typ string, at time.Time, attrs event.Attrs) event.Event {
	return event.Event{ID: id, Member: member, Type: typ, Time: at, Attrs: attrs}
}

func engOrder(id, member, amount string, at time.Time, categories ...string) event.Event {
	return engEvent(id, member, "order", at, event.Attrs{"amount": event.DecString(amount), "category": event.List(categories...)})
}

var mustProcess = testkit.MustProcess

var engKinds = testkit.Kinds

var engPts10 = []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")}}

func engSteps(types ...string) []task.Step {
	var out []task.Step
	for _, t := range types {
		out = append(out, task.Step{Event: t})
	}
	return out
}

func TestTaskTypes(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	big := []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("100")}}
	tests := []struct {
		name   string
		task   task.Task
		events []event.Event
		// want is the task.* change kinds of each event.
		want [][]string
	}{
		{"one action", task.Task{Kind: task.One, Steps: []task.Step{{Event: "order", Conditions: big}}},
			[]event.Event{engOrder("e1", "m", "99", at), engOrder("e2", "m", "100", at)},
			[][]string{nil, {"task.completed"}}},
		{"repeated action", task.Task{Kind: task.Repeat, Times: 3, Steps: engSteps("checkin")},
			[]event.Event{engEvent("e1", "m", "checkin", at, nil), engEvent("e2", "m", "checkin", at, nil), engEvent("e3", "m", "checkin", at, nil)},
			[][]string{{"task.progressed"}, {"task.progressed"}, {"task.completed"}}},
		{"several actions in any order", task.Task{Kind: task.All, Steps: engSteps("browse", "share", "cart")},
			[]event.Event{engEvent("e1", "m", "cart", at, nil), engEvent("e2", "m", "cart", at, nil), engEvent("e3", "m", "share", at, nil), engEvent("e4", "m", "browse", at, nil)},
			[][]string{{"task.progressed"}, nil, {"task.progressed"}, {"task.completed"}}},
		{"ordered actions in order", task.Task{Kind: task.Sequence, Steps: engSteps("browse", "cart", "order")},
			[]event.Event{engEvent("e1", "m", "browse", at, nil), engEvent("e2", "m", "cart", at, nil), engOrder("e3", "m", "10", at)},
			[][]string{{"task.progressed"}, {"task.progressed"}, {"task.completed"}}},
		{"ordered actions out of order never complete", task.Task{Kind: task.Sequence, Steps: engSteps("browse", "cart", "order")},
			[]event.Event{engOrder("e1", "m", "10", at), engEvent("e2", "m", "cart", at, nil), engEvent("e3", "m", "browse", at, nil), engOrder("e4", "m", "10", at)},
			[][]string{nil, nil, {"task.progressed"}, nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.task.Name = "t"
			tc.task.Rewards = engPts10
			p := engOpen(t, tc.task)
			var got [][]string
			for _, out := range mustProcess(t, p, tc.events...) {
				got = append(got, engKinds(out, "task."))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("task changes per event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaskOrderedProgressIsKeptAndRestarts(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t, task.Task{Name: "funnel", Kind: task.Sequence, Steps: engSteps("browse", "cart", "order"), Rewards: engPts10})
	ctx := context.Background()
	status := func() task.Status {
		t.Helper()
		st, err := p.Tasks().Progress(ctx, "m")
		if err != nil || len(st) != 1 {
			t.Fatalf("Progress = %v, %v", st, err)
		}
		return st[0]
	}
	// The times are given in UTC and come back in the program's zone.
	mustProcess(t, p, engEvent("e1", "m", "browse", at.UTC(), nil), engOrder("e2", "m", "10", at.Add(time.Minute)))
	want := task.Status{Task: "funnel", Kind: task.Sequence, Done: 1, Need: 3,
		Progress: task.Progress{Steps: []int{1, 0, 0}, Started: at.UTC(), Updated: at.UTC()}}
	got := status()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after browse and an out-of-order order (-want +got):\n%s", diff)
	}
	if got.Progress.Started.Location() != p.Location() || got.Progress.Updated.Location() != p.Location() {
		t.Errorf("progress times in %v and %v, want the program's zone", got.Progress.Started.Location(), got.Progress.Updated.Location())
	}
	mustProcess(t, p, engEvent("e3", "m", "cart", at, nil), engOrder("e4", "m", "10", at))
	got = status()
	if got.Done != 0 || got.Completions != 1 || !got.Progress.Started.IsZero() {
		t.Errorf("after completion: %+v, want progress restarted and 1 completion", got)
	}
	if bal := pointsOf(t, p, "m"); !bal.Equal(dec("10")) {
		t.Errorf("points = %s, want 10", bal)
	}
}

// A repeated action limited to one completion a day, around midnight in
// Asia/Shanghai (16:00 UTC): the limit resets at the zone's midnight, and
// events while the limit is reached do not count towards the next day.
func TestTaskRepeatDailyLimitAcrossMidnight(t *testing.T) {
	p := engOpen(t, task.Task{Name: "checkin-2", Kind: task.Repeat, Times: 2, Steps: engSteps("checkin"), Rewards: engPts10,
		Limits: rule.Caps{{Period: rule.Day, Limit: dec("1")}}})
	day := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, shanghai) }
	evs := []event.Event{
		engEvent("c1", "m", "checkin", day(2, 23, 0), nil),
		engEvent("c2", "m", "checkin", day(2, 23, 10), nil),
		engEvent("c3", "m", "checkin", day(2, 23, 50), nil), // limit reached, not counted
		engEvent("c4", "m", "checkin", day(2, 23, 59), nil), // not counted
		engEvent("c5", "m", "checkin", day(3, 0, 0), nil),   // new day in Shanghai, same UTC day
		engEvent("c6", "m", "checkin", day(3, 0, 10), nil),
		engEvent("c7", "m", "checkin", day(3, 8, 0), nil),
	}
	var got [][]string
	for _, out := range mustProcess(t, p, evs...) {
		got = append(got, engKinds(out, "task."))
	}
	want := [][]string{
		{"task.progressed"}, {"task.completed"},
		{"task.limit_reached"}, {"task.limit_reached"},
		{"task.progressed"}, {"task.completed"},
		{"task.limit_reached"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task changes (-want +got):\n%s", diff)
	}
	if bal := pointsOf(t, p, "m"); !bal.Equal(dec("20")) {
		t.Errorf("points = %s, want 20", bal)
	}
	n, err := p.Tasks().Completions(context.Background(), task.CompletionsQuery{Member: "m", Task: "checkin-2", Period: rule.Day, At: day(3, 12, 0)})
	if err != nil || n != 1 {
		t.Errorf("completions on day 3 = %d, %v; want 1", n, err)
	}
	out := mustProcess(t, p, engEvent("c8", "m", "checkin", day(3, 9, 0), nil))[0]
	var lr task.LimitReached
	if err := out.ChangesOf(task.ChangeLimitReached)[0].Decode(&lr); err != nil {
		t.Fatal(err)
	}
	if lr.Period != rule.Day || !lr.Limit.Equal(dec("1")) || out.Changes[0].Reason.Cut == nil {
		t.Errorf("limit reached = %+v, reason %+v", lr, out.Changes[0].Reason)
	}
}

func TestTaskLimitPeriods(t *testing.T) {
	at := func(y int, mo time.Month, d, h int) time.Time { return time.Date(y, mo, d, h, 0, 0, 0, shanghai) }
	tests := []struct {
		period             rule.Period
		first, same, next  time.Time
		nextCompletesAgain bool
	}{
		// 2026-11-29 is a Sunday; weeks start on Monday.
		{rule.Day, at(2026, 11, 29, 8), at(2026, 11, 29, 23), at(2026, 11, 30, 0), true},
		{rule.Week, at(2026, 11, 23, 0), at(2026, 11, 29, 23), at(2026, 11, 30, 0), true},
		{rule.Month, at(2026, 11, 1, 0), at(2026, 11, 30, 23), at(2026, 12, 1, 0), true},
		{rule.Year, at(2026, 1, 1, 0), at(2026, 12, 31, 23), at(2027, 1, 1, 0), true},
		{rule.Total, at(2026, 1, 1, 0), at(2026, 12, 31, 23), at(2030, 1, 1, 0), false},
	}
	for _, tc := range tests {
		t.Run(string(tc.period), func(t *testing.T) {
			p := engOpen(t, task.Task{Name: "once", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10,
				Limits: rule.Caps{{Period: tc.period, Limit: dec("1")}}})
			outs := mustProcess(t, p,
				engEvent("s1", "m", "share", tc.first, nil),
				engEvent("s2", "m", "share", tc.same, nil),
				engEvent("s3", "m", "share", tc.next, nil))
			third := "task.limit_reached"
			if tc.nextCompletesAgain {
				third = "task.completed"
			}
			got := [][]string{engKinds(outs[0], "task."), engKinds(outs[1], "task."), engKinds(outs[2], "task.")}
			want := [][]string{{"task.completed"}, {"task.limit_reached"}, {third}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// A limit of 2 a week with 3 a month: the month cuts in the third week.
	p := engOpen(t, task.Task{Name: "twice", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10,
		Limits: rule.Caps{{Period: rule.Week, Limit: dec("2")}, {Period: rule.Month, Limit: dec("3")}}})
	var got []string
	for i, d := range []int{2, 3, 4, 9, 10} { // 2026-03-02 is a Monday
		out := mustProcess(t, p, engEvent("w"+string(rune('0'+i)), "m", "share", at(2026, 3, d, 10), nil))[0]
		got = append(got, engKinds(out, "task.")...)
	}
	want := []string{"task.completed", "task.completed", "task.limit_reached", "task.completed", "task.limit_reached"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("week and month limits (-want +got):\n%s", diff)
	}
}

func TestTaskRewardKinds(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	tests := []struct {
		name   string
		reward rule.Reward
		check  func(t *testing.T, p *membership.Program, out *change.Outcome)
	}{
		{"points", rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: dec("25")}, func(t *testing.T, p *membership.Program, _ *change.Outcome) {
			if bal := pointsOf(t, p, "m"); !bal.Equal(dec("25")) {
				t.Errorf("points = %s, want 25", bal)
			}
		}},
		{"growth", rule.Reward{Kind: rule.RewardGrowth, Amount: dec("120")}, func(t *testing.T, p *membership.Program, _ *change.Outcome) {
			if lvl := levelOf(t, p, "m"); lvl != "silver" {
				t.Errorf("level = %s; want silver after 120 growth", lvl)
			}
		}},
		{"achievement", rule.Reward{Kind: rule.RewardAchievement, Achievement: "explorer"}, func(t *testing.T, p *membership.Program, out *change.Outcome) {
			gs := achievementsOf(t, p, "m")
			if len(gs) != 1 || gs[0].Achievement != "explorer" || gs[0].Source != "task" || gs[0].Event != "e1" {
				t.Errorf("achievements = %+v", gs)
			}
			if len(out.ChangesOf(kindAchievementGranted)) != 1 {
				t.Errorf("no achievement.granted change in %v", engKinds(out, ""))
			}
		}},
		{"coupon", rule.Reward{Kind: rule.RewardCoupon, Template: "welcome", Count: 2}, func(t *testing.T, p *membership.Program, _ *change.Outcome) {
			cs := couponsOf(t, p, "m")
			if len(cs) != 2 || cs[0].Template != "welcome" || cs[0].Method != coupon.Task {
				t.Errorf("coupons = %+v; want 2 welcome coupons by task", cs)
			}
		}},
		{"pack", rule.Reward{Kind: rule.RewardPack, Pack: "starter"}, func(t *testing.T, p *membership.Program, out *change.Outcome) {
			cs := couponsOf(t, p, "m")
			if len(cs) != 2 || len(out.ChangesOf(kindPackIssued)) != 1 {
				t.Errorf("coupons = %+v; want the starter pack's 2 coupons", cs)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := engOpen(t, task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: []rule.Reward{tc.reward}})
			out := mustProcess(t, p, engEvent("e1", "m", "share", at, nil))[0]
			cs := out.ChangesOf(task.ChangeCompleted)
			if len(cs) != 1 {
				t.Fatalf("changes %v, want one task.completed", engKinds(out, ""))
			}
			var done task.Completed
			if err := cs[0].Decode(&done); err != nil {
				t.Fatal(err)
			}
			if done.Task != "share" || done.Completions != 1 || len(done.Rewards) != 1 || done.Rewards[0].Kind != tc.reward.Kind {
				t.Errorf("task.completed = %+v", done)
			}
			tc.check(t, p, out)
		})
	}
}

func TestTaskTargetsAndWindow(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	ctx := context.Background()
	p := engOpen(t,
		task.Task{Name: "gold-only", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10, Target: task.Target{Levels: []string{"gold"}}},
		task.Task{Name: "staff-only", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10, Target: task.Target{Tags: []string{"staff"}}},
		task.Task{Name: "segment", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10, Target: task.Target{Segment: "staff and not complained"}},
		task.Task{Name: "march", Kind: task.One, Steps: engSteps("browse"), Rewards: engPts10,
			Window: rule.Window{From: time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai), To: time.Date(2026, 4, 1, 0, 0, 0, 0, shanghai)}},
	)
	completed := func(out *change.Outcome) []string {
		fx, err := task.EffectsOf(out)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range fx.Completed {
			names = append(names, d.Task)
		}
		return names
	}
	addTag := func(requestID, member, name string) {
		t.Helper()
		if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: requestID, Member: member, Operator: "alice", At: at, Tag: name}); err != nil {
			t.Fatal(err)
		}
	}
	if got := completed(mustProcess(t, p, engEvent("s1", "m", "share", at, nil))[0]); len(got) != 0 {
		t.Errorf("a bronze member without tags completed %v", got)
	}
	addTag("r1", "m", "staff")
	if got := completed(mustProcess(t, p, engEvent("s2", "m", "share", at, nil))[0]); !cmp.Equal(got, []string{"staff-only", "segment"}) {
		t.Errorf("staff member completed %v, want staff-only and segment", got)
	}
	addTag("r2", "m2", "staff")
	addTag("r3", "m2", "complained")
	setLevel(t, p, "r4", "m2", "gold", at)
	if got := completed(mustProcess(t, p, engEvent("s3", "m2", "share", at, nil))[0]); !cmp.Equal(got, []string{"gold-only", "staff-only"}) {
		t.Errorf("gold staff member who complained completed %v, want gold-only and staff-only", got)
	}
	outside := mustProcess(t, p, engEvent("b1", "m", "browse", time.Date(2026, 4, 1, 0, 0, 0, 0, shanghai), nil))[0]
	inside := mustProcess(t, p, engEvent("b2", "m", "browse", time.Date(2026, 3, 31, 23, 59, 0, 0, shanghai), nil))[0]
	if len(completed(outside)) != 0 || !cmp.Equal(completed(inside), []string{"march"}) {
		t.Errorf("window: outside completed %v, inside %v", completed(outside), completed(inside))
	}
}

// A level target reads the level the member holds when the event reaches
// the tasks, whatever the tasks' order and targets: a task's growth
// reward that upgrades the member to gold does not make the same event
// count for a gold-only task. Before, it did when no earlier task had a
// level target (the level was read after the reward), and did not when
// one had.
func TestTaskLevelTargetReadBeforeRewards(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	growth500 := []rule.Reward{{Kind: rule.RewardGrowth, Amount: dec("500")}}
	for _, first := range [][]string{nil, {"bronze"}} {
		t.Run(fmt.Sprint(first), func(t *testing.T) {
			p := engOpen(t,
				task.Task{Name: "upgrade", Kind: task.One, Steps: engSteps("share"), Rewards: growth500, Target: task.Target{Levels: first},
					Limits: rule.Caps{{Period: rule.Total, Limit: dec("1")}}},
				task.Task{Name: "gold-only", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10, Target: task.Target{Levels: []string{"gold"}}},
			)
			outs := mustProcess(t, p, engEvent("s1", "m", "share", at, nil), engEvent("s2", "m", "share", at.Add(time.Minute), nil))
			var got [][]string
			for _, out := range outs {
				fx, err := task.EffectsOf(out)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, c := range fx.Completed {
					names = append(names, c.Task)
				}
				got = append(got, names)
			}
			if diff := cmp.Diff([][]string{{"upgrade"}, {"gold-only"}}, got); diff != "" {
				t.Errorf("completed (-want +got):\n%s", diff)
			}
			if bal := pointsOf(t, p, "m"); !bal.Equal(dec("10")) {
				t.Errorf("points = %s, want 10 (gold-only once, on the second share)", bal)
			}
		})
	}
}

func TestTaskDefinitionProblems(t *testing.T) {
	def := engDef(
		task.Task{Name: "a", Kind: task.One, Steps: engSteps("nope"), Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "ghost"}}},
		task.Task{Name: "b", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10, Target: task.Target{Tags: []string{"unknown"}, Levels: []string{"platinum"}}},
	)
	err := def.Validate()
	var ps *rule.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate = %v", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
	}
	want := []string{"tasks.tasks[0].steps[0].event", "tasks.tasks[0].rewards[0]", "tasks.tasks[1].target.levels[0]", "tasks.tasks[1].target.tags[0]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s\n%v", diff, err)
	}
}

func TestTaskUnknown(t *testing.T) {
	p := engOpen(t)
	ctx := context.Background()
	if _, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: "m", Task: "ghost", Period: rule.Total, At: time.Now()}); !errors.Is(err, task.ErrUnknownTask) {
		t.Errorf("Completions of an unknown task: %v, want task.ErrUnknownTask", err)
	}
	p = engOpen(t, task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10})
	for name, q := range map[string]task.CompletionsQuery{
		"unknown period": {Member: "m", Task: "share", Period: "fortnight", At: time.Now()},
		"no time":        {Member: "m", Task: "share", Period: rule.Total},
	} {
		if _, err := p.Tasks().Completions(ctx, q); !errors.Is(err, membership.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
}

// Completions of a task without limits: in total, its completions ever,
// as Progress and the feed say; a calendar period it does not limit is
// not counted, an error wrapping ErrNotCounted. Before, both were 0 with
// no error, while Progress said 2 and the last task.completed "completion
// 2".
func TestTaskCompletionsOfPeriodsNotLimited(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t,
		task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10},
		task.Task{Name: "daily", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10, Limits: rule.Caps{{Period: rule.Day, Limit: dec("1")}}},
	)
	outs := mustProcess(t, p, engEvent("s1", "m", "share", at, nil), engEvent("s2", "m", "share", at.AddDate(0, 0, 1), nil))
	fx, err := task.EffectsOf(outs[1])
	if err != nil || len(fx.Completed) != 2 || fx.Completed[0].Completions != 2 {
		t.Fatalf("effects of the second share = %+v, %v; want completion 2 of share", fx, err)
	}
	count := func(name string, period rule.Period) (int64, error) {
		return p.Tasks().Completions(ctx, task.CompletionsQuery{Member: "m", Task: name, Period: period, At: at})
	}
	for _, c := range []struct {
		task   string
		period rule.Period
		want   int64
	}{
		{"share", rule.Total, 2},
		{"daily", rule.Total, 2},
		{"daily", rule.Day, 1},
	} {
		if n, err := count(c.task, c.period); err != nil || n != c.want {
			t.Errorf("completions of %s per %s = %d, %v; want %d", c.task, c.period, n, err, c.want)
		}
	}
	for _, c := range []struct {
		task   string
		period rule.Period
	}{{"share", rule.Day}, {"share", rule.Year}, {"daily", rule.Week}} {
		if n, err := count(c.task, c.period); !errors.Is(err, task.ErrNotCounted) || !strings.Contains(err.Error(), string(c.period)) {
			t.Errorf("completions of %s per %s = %d, %v; want ErrNotCounted naming the period", c.task, c.period, n, err)
		}
	}
}

// Progress and Completions check the member as an ID, and Completions
// its time as a query time, with or without tasks in the definition: an
// empty member used to get 0 completions, and on a program without tasks
// an empty progress list, with no error.
func TestTaskQueriesCheckTheMember(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	with := engOpen(t, task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10})
	without := testkit.OpenMemory(t, membership.Definition{Zone: "Asia/Shanghai", Events: []event.Type{{Name: "share"}}})
	for name, p := range map[string]*membership.Program{"with tasks": with, "without": without} {
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
		} {
			_, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: c.member, Task: "share", Period: rule.Total, At: c.at})
			if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), c.field) {
				t.Errorf("%s: Completions(%q, %v): %v; want ErrInvalidArgument naming %s", name, c.member, c.at, err, c.field)
			}
			if c.field != "member" {
				continue
			}
			if _, err := p.Tasks().Progress(ctx, c.member); !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "member") {
				t.Errorf("%s: Progress(%q): %v; want ErrInvalidArgument naming member", name, c.member, err)
			}
		}
	}
}

// Without tasks in the definition, a member's progress is on no task; the
// completions of a task say there is none.
func TestTaskNotDefined(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, membership.Definition{Zone: "Asia/Shanghai", Events: []event.Type{{Name: "share"}}})
	if st, err := p.Tasks().Progress(ctx, "m"); err != nil || len(st) != 0 {
		t.Errorf("Progress: %v, %v; want an empty list", st, err)
	}
	if _, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: "m", Task: "t", Period: rule.Total, At: time.Now()}); !errors.Is(err, task.ErrNotDefined) {
		t.Errorf("Completions: %v, want ErrNotDefined", err)
	}
}

// EffectsOf reads what an event did to the member's tasks.
func TestTaskEffectsOf(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t,
		task.Task{Name: "pair", Kind: task.Repeat, Times: 2, Steps: engSteps("checkin"), Rewards: engPts10, Limits: rule.Caps{{Period: rule.Day, Limit: dec("1")}}},
		task.Task{Name: "first", Kind: task.One, Steps: engSteps("checkin"), Rewards: engPts10},
	)
	outs := mustProcess(t, p,
		engEvent("c1", "m", "checkin", at, nil),
		engEvent("c2", "m", "checkin", at.Add(time.Minute), nil),
		engEvent("c3", "m", "checkin", at.Add(2*time.Minute), nil))
	var got []task.Effects
	for _, out := range outs {
		fx, err := task.EffectsOf(out)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fx)
	}
	want := []task.Effects{
		{Progressed: []task.Progressed{{Task: "pair", Step: 0, Done: 1, Need: 2}}, Completed: []task.Completed{{Task: "first", Completions: 1, Rewards: engPts10}}},
		{Completed: []task.Completed{{Task: "pair", Completions: 1, Rewards: engPts10}, {Task: "first", Completions: 2, Rewards: engPts10}}},
		{LimitReached: []task.LimitReached{{Task: "pair", Period: rule.Day, Limit: dec("1")}}, Completed: []task.Completed{{Task: "first", Completions: 3, Rewards: engPts10}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("effects per event (-want +got):\n%s", diff)
	}
	if fx, err := task.EffectsOf(nil); err != nil || fx.Completed != nil {
		t.Errorf("EffectsOf(nil) = %+v, %v", fx, err)
	}
	bad := &change.Outcome{Changes: []change.Change{{Kind: task.ChangeCompleted, Data: []byte(`{"completions":"x"}`)}}}
	if _, err := task.EffectsOf(bad); err == nil {
		t.Error("EffectsOf of a malformed change: no error")
	}
}

func TestTaskConcurrentEventsCountOnce(t *testing.T) {
	p := testkit.OpenBolt(t, engDef(task.Task{Name: "pair", Kind: task.Repeat, Times: 2, Steps: engSteps("checkin"), Rewards: engPts10}))
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := engEvent(fmt.Sprint("c", i), "m", "checkin", at.Add(time.Duration(i)*time.Second), nil)
			if _, err := p.Process(context.Background(), ev); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st, err := p.Tasks().Progress(context.Background(), "m")
	if err != nil || st[0].Completions != 8 || st[0].Done != 0 {
		t.Errorf("status %+v, %v; want 8 completions", st, err)
	}
	if bal := pointsOf(t, p, "m"); !bal.Equal(dec("80")) {
		t.Errorf("points = %s, want 80", bal)
	}
}

// A step may test a list attribute with contains. Before, the definition
// was refused ("got string, want strings"): the value of a contains
// condition, one element, was checked as if it were the list.
func TestTaskStepContainsCondition(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t, task.Task{Name: "formula", Kind: task.One, Rewards: engPts10,
		Steps: []task.Step{{Event: "order", Conditions: []event.Condition{{Attr: "category", Op: event.Contains, Value: event.Str("formula")}}}}})
	var got [][]string
	for _, out := range mustProcess(t, p, engOrder("o1", "m", "50", at, "toys"), engOrder("o2", "m", "50", at, "toys", "formula")) {
		got = append(got, engKinds(out, "task."))
	}
	if diff := cmp.Diff([][]string{nil, {"task.completed"}}, got); diff != "" {
		t.Errorf("task changes per order (-want +got):\n%s", diff)
	}
}

// Several actions: an order that fits both steps counts for one, and a
// later order that fits only that step takes it, the first order moving
// to the step it also fits. Before, the second order did not count: the
// member had placed an order of 100 or more and an order of the brand,
// and the task stayed at 1 of 2.
func TestTaskAllEventMovesToTheStepItAlsoFits(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t, task.Task{Name: "both", Kind: task.All, Rewards: engPts10, Steps: []task.Step{
		{Event: "order", Conditions: []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("100")}}},
		{Event: "order", Conditions: []event.Condition{{Attr: "brand", Op: event.Eq, Value: event.Str("acme")}}},
	}})
	buy := func(id, amount, brand string, at time.Time) event.Event {
		return engEvent(id, "m", "order", at, event.Attrs{"amount": event.DecString(amount), "brand": event.Str(brand)})
	}
	first := mustProcess(t, p, buy("o1", "150", "acme", at))[0]
	st, err := p.Tasks().Progress(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	want := task.Progress{Steps: []int{1, 0}, Started: at, Updated: at, Fits: [][]int{{0, 1}, nil}}
	if diff := cmp.Diff(want, st[0].Progress); diff != "" {
		t.Errorf("progress after an order fitting both steps (-want +got):\n%s", diff)
	}
	second := mustProcess(t, p, buy("o2", "120", "other", at.Add(time.Hour)))[0]
	got := [][]string{engKinds(first, "task."), engKinds(second, "task.")}
	if diff := cmp.Diff([][]string{{"task.progressed"}, {"task.completed"}}, got); diff != "" {
		t.Errorf("task changes per order (-want +got):\n%s", diff)
	}
	if bal := pointsOf(t, p, "m"); !bal.Equal(dec("10")) {
		t.Errorf("points = %s, want the reward of 10", bal)
	}
}

// A task's growth reward with more decimals than the growth scale (whole
// units here), or a points reward that its program's rounding (whole
// points, rounding down) takes to 0, is a definition problem. Before, the
// growth reward of 12.5 gave 12.5 growth off the scale, and the points
// reward of 0.4 granted nothing and said nothing while task.completed
// listed it.
func TestTaskRewardOffScaleRefused(t *testing.T) {
	def := engDef(task.Task{Name: "t", Kind: task.One, Steps: engSteps("share"), Rewards: []rule.Reward{
		{Kind: rule.RewardGrowth, Amount: dec("12.5")},
		{Kind: rule.RewardPoints, Program: "mall", Amount: dec("0.4")},
		{Kind: rule.RewardGrowth, Amount: dec("12")},
		{Kind: rule.RewardPoints, Program: "mall", Amount: dec("1.4")}, // rounds to 1
	}})
	var ps *rule.Problems
	if err := def.Validate(); !errors.As(err, &ps) {
		t.Fatalf("Validate = %v; want problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
	}
	want := []string{"tasks.tasks[0].rewards[0].amount", "tasks.tasks[0].rewards[1].amount"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, ps)
	}
}

// A completion stands whatever its rewards do: a coupon out of stock is
// recorded as coupon.claim_refused with the task's reason, the other
// rewards are granted, and an achievement already held is not granted
// again (nothing is published for it).
func TestTaskCompletionWithRefusedRewards(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	def := engDef(task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: []rule.Reward{
		{Kind: rule.RewardCoupon, Template: "formula-30"},
		{Kind: rule.RewardAchievement, Achievement: "explorer"},
		{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")},
	}})
	def.Coupons.Templates[1].Stock = 1
	def.Coupons.Templates[1].Claim = coupon.ClaimRule{}
	p := testkit.OpenMemory(t, def)
	outs := mustProcess(t, p, engEvent("s1", "m", "share", at, nil), engEvent("s2", "m", "share", at.Add(time.Minute), nil))
	got := [][]string{engKinds(outs[0], ""), engKinds(outs[1], "")}
	want := [][]string{
		{"level.changed", "task.completed", "coupon.issued", kindAchievementGranted, "points.earned"},
		{"task.completed", "coupon.claim_refused", "points.earned"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes per share (-want +got):\n%s", diff)
	}
	refused := outs[1].ChangesOf(coupon.ChangeClaimRefused)
	var r coupon.Refusal
	if len(refused) != 1 || refused[0].Decode(&r) != nil || r.Cause != "out_of_stock" || refused[0].Reason.Rule != "task.share" {
		t.Errorf("refusal = %+v, reason %+v; want out of stock, by task.share", r, refused)
	}
	st, err := p.Tasks().Progress(context.Background(), "m")
	if err != nil || st[0].Completions != 2 {
		t.Errorf("status = %+v, %v; want 2 completions", st, err)
	}
	if bal := pointsOf(t, p, "m"); !bal.Equal(dec("20")) {
		t.Errorf("points = %s, want 2 rewards of 10", bal)
	}
	if cs, gs := couponsOf(t, p, "m"), achievementsOf(t, p, "m"); len(cs) != 1 || len(gs) != 1 || gs[0].Event != "s1" {
		t.Errorf("coupons %d, achievements %+v; want the one coupon in stock and explorer from s1", len(cs), gs)
	}
}

// The effective period includes its start and excludes its end; progress
// made before the end stays, and events from the end on do not count.
func TestTaskWindowEdges(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)
	to := time.Date(2026, 3, 8, 0, 0, 0, 0, shanghai)
	p := engOpen(t, task.Task{Name: "week", Kind: task.Repeat, Times: 2, Steps: engSteps("share"), Rewards: engPts10, Window: rule.Window{From: from, To: to}})
	var got [][]string
	for _, out := range mustProcess(t, p,
		engEvent("s0", "m", "share", from.Add(-time.Nanosecond), nil),
		engEvent("s1", "m", "share", from, nil),
		engEvent("s2", "m", "share", to, nil)) {
		got = append(got, engKinds(out, "task."))
	}
	if diff := cmp.Diff([][]string{nil, {"task.progressed"}, nil}, got); diff != "" {
		t.Errorf("task changes per share (-want +got):\n%s", diff)
	}
	st, err := p.Tasks().Progress(context.Background(), "m")
	if err != nil || st[0].Done != 1 || st[0].Completions != 0 || !st[0].Progress.Updated.Equal(from) {
		t.Errorf("status = %+v, %v; want 1 of 2 done at the start", st, err)
	}
}

// A level target reads the level the event itself reached (the level part
// runs first), and a tag target the tags from before the event: an order
// of 150 growth takes a bronze member to silver and counts for a
// silver-only task, and gives the tag "recent", which a recent-only task
// reads from the next order on.
func TestTaskTargetsAtTheEvent(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	def := engDef(
		task.Task{Name: "silver-order", Kind: task.One, Steps: engSteps("order"), Rewards: engPts10, Target: task.Target{Levels: []string{"silver"}}},
		task.Task{Name: "recent-order", Kind: task.One, Steps: engSteps("order"), Rewards: engPts10, Target: task.Target{Tags: []string{"recent"}}},
	)
	def.Levels.Growth = []level.GrowthRule{{ID: "g", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}}
	p := testkit.OpenMemory(t, def)
	var got [][]string
	for _, out := range mustProcess(t, p, engOrder("o1", "m", "150", at), engOrder("o2", "m", "1", at.Add(time.Minute))) {
		fx, err := task.EffectsOf(out)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range fx.Completed {
			names = append(names, c.Task)
		}
		got = append(got, names)
	}
	if diff := cmp.Diff([][]string{{"silver-order"}, {"silver-order", "recent-order"}}, got); diff != "" {
		t.Errorf("completed per order (-want +got):\n%s", diff)
	}
}
