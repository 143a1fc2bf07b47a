package task_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func ev(typ string, attrs event.Attrs) event.Event {
	return event.Event{ID: typ, Member: "m", Type: typ, Time: t0, Attrs: attrs}
}

// after returns e happening d after its time.
func after(e event.Event, d time.Duration) event.Event {
	e.Time = e.Time.Add(d)
	return e
}

func steps(types ...string) []task.Step {
	var out []task.Step
	for _, t := range types {
		out = append(out, task.Step{Event: t})
	}
	return out
}

// run feeds the events in order and returns, per event, the step it
// counted for and whether the task completed (progress restarts after a
// completion, as the root package does).
func run(tk task.Task, evs ...event.Event) (counted []int, completed []bool) {
	var p task.Progress
	for _, e := range evs {
		next, step, done := tk.Step(p, e)
		counted = append(counted, step)
		completed = append(completed, done)
		p = next
		if done {
			p = task.Progress{}
		}
	}
	return counted, completed
}

func TestTaskStep(t *testing.T) {
	big := []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("100")}}
	order := func(amt string) event.Event { return ev("order", event.Attrs{"amount": event.DecString(amt)}) }
	formula := []event.Condition{{Attr: "brand", Op: event.Eq, Value: event.Str("formula")}}
	app := []event.Condition{{Attr: "channel", Op: event.Eq, Value: event.Str("app")}}
	buy := func(amt, brand, channel string) event.Event {
		return ev("order", event.Attrs{"amount": event.DecString(amt), "brand": event.Str(brand), "channel": event.Str(channel)})
	}
	tests := []struct {
		name      string
		task      task.Task
		events    []event.Event
		counted   []int
		completed []bool
	}{
		{"one action with condition",
			task.Task{Kind: task.One, Steps: []task.Step{{Event: "order", Conditions: big}}},
			[]event.Event{order("50"), order("150")},
			[]int{-1, 0}, []bool{false, true}},
		{"repeated action of three",
			task.Task{Kind: task.Repeat, Times: 3, Steps: steps("checkin")},
			[]event.Event{ev("checkin", nil), ev("order", nil), ev("checkin", nil), ev("checkin", nil), ev("checkin", nil)},
			[]int{0, -1, 0, 0, 0}, []bool{false, false, false, true, false}},
		{"several actions in any order",
			task.Task{Kind: task.All, Steps: steps("a", "b", "c")},
			[]event.Event{ev("c", nil), ev("c", nil), ev("a", nil), ev("b", nil)},
			[]int{2, -1, 0, 1}, []bool{false, false, false, true}},
		{"several actions: an event fitting two steps counts for one",
			task.Task{Kind: task.All, Steps: []task.Step{{Event: "order", Conditions: big}, {Event: "order", Conditions: formula}}},
			[]event.Event{buy("150", "formula", "web"), buy("50", "formula", "web")},
			[]int{0, 1}, []bool{false, true}},
		// The first order fits both steps and counts for the first; the
		// second fits only the first step: the first order moves to the
		// step it also fits. Before, the second order did not count and
		// the member, who did both actions, never completed the task.
		{"several actions: a later event takes the step an earlier one can leave",
			task.Task{Kind: task.All, Steps: []task.Step{{Event: "order", Conditions: big}, {Event: "order", Conditions: formula}}},
			[]event.Event{buy("150", "formula", "web"), buy("150", "other", "web")},
			[]int{0, 0}, []bool{false, true}},
		// e1 fits {0, 1} and takes 0; e2 fits {1, 2} and takes 1; e3 fits
		// {0} only: e1 moves to 1, e2 to 2, and e3 takes 0.
		{"several actions: events move along a chain of steps",
			task.Task{Kind: task.All, Steps: []task.Step{{Event: "order", Conditions: big}, {Event: "order", Conditions: formula}, {Event: "order", Conditions: app}}},
			[]event.Event{buy("150", "formula", "web"), buy("50", "formula", "app"), buy("150", "other", "web")},
			[]int{0, 1, 0}, []bool{false, false, true}},
		{"several actions: no step left to move to",
			task.Task{Kind: task.All, Steps: []task.Step{{Event: "order", Conditions: big}, {Event: "order", Conditions: formula}, {Event: "share"}}},
			[]event.Event{buy("150", "formula", "web"), buy("50", "formula", "web"), buy("150", "other", "web"), ev("share", nil)},
			[]int{0, 1, -1, 2}, []bool{false, false, false, true}},
		{"several actions: the same step twice takes two events",
			task.Task{Kind: task.All, Steps: steps("share", "share")},
			[]event.Event{ev("share", nil), ev("share", nil)},
			[]int{0, 1}, []bool{false, true}},
		{"ordered actions in order",
			task.Task{Kind: task.Sequence, Steps: steps("a", "b", "c")},
			[]event.Event{ev("a", nil), ev("b", nil), ev("c", nil)},
			[]int{0, 1, 2}, []bool{false, false, true}},
		{"ordered actions out of order are ignored",
			task.Task{Kind: task.Sequence, Steps: steps("a", "b")},
			[]event.Event{ev("b", nil), ev("a", nil)},
			[]int{-1, 0}, []bool{false, false}},
		{"ordered actions: a step before the previous step's time does not count",
			task.Task{Kind: task.Sequence, Steps: steps("a", "b", "c")},
			[]event.Event{after(ev("a", nil), time.Hour), ev("b", nil), after(ev("b", nil), time.Hour), after(ev("c", nil), time.Hour-time.Nanosecond), after(ev("c", nil), 2*time.Hour)},
			[]int{0, -1, 1, -1, 2}, []bool{false, false, false, false, true}},
		{"ordered actions: a step done keeps its event's time",
			task.Task{Kind: task.Sequence, Steps: steps("a", "b")},
			[]event.Event{after(ev("a", nil), time.Hour), ev("b", nil), ev("a", nil), ev("b", nil)},
			[]int{0, -1, -1, -1}, []bool{false, false, false, false}},
		{"ordered actions: a stray step keeps progress",
			task.Task{Kind: task.Sequence, Steps: steps("a", "b", "c")},
			[]event.Event{ev("a", nil), ev("c", nil), ev("b", nil), ev("c", nil)},
			[]int{0, -1, 1, 2}, []bool{false, false, false, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			counted, completed := run(tc.task, tc.events...)
			if diff := cmp.Diff(tc.counted, counted); diff != "" {
				t.Errorf("counted steps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.completed, completed); diff != "" {
				t.Errorf("completed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaskProgressTimes(t *testing.T) {
	tk := task.Task{Kind: task.Repeat, Times: 3, Steps: steps("checkin")}
	e1, e2 := ev("checkin", nil), ev("checkin", nil)
	e2.Time = t0.Add(time.Hour)
	p, _, _ := tk.Step(task.Progress{}, e1)
	p, _, _ = tk.Step(p, e2)
	want := task.Progress{Steps: []int{2}, Started: t0, Updated: t0.Add(time.Hour)}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if p.Done() != 2 || tk.Need() != 3 {
		t.Errorf("done %d need %d, want 2 and 3", p.Done(), tk.Need())
	}
}

func TestTaskTarget(t *testing.T) {
	tests := []struct {
		name   string
		target task.Target
		level  string
		tags   []string
		want   bool
	}{
		{"no target", task.Target{}, "", nil, true},
		{"level in", task.Target{Levels: []string{"gold", "silver"}}, "gold", nil, true},
		{"level out", task.Target{Levels: []string{"gold"}}, "bronze", nil, false},
		{"any tag", task.Target{Tags: []string{"a", "b"}}, "", []string{"b"}, true},
		{"no tag", task.Target{Tags: []string{"a"}}, "", []string{"c"}, false},
		{"segment", task.Target{Segment: "M and not churned"}, "", []string{"M"}, true},
		{"segment excluded", task.Target{Segment: "M and not churned"}, "", []string{"M", "churned"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.target.Targets(tc.level, tc.tags); got != tc.want {
				t.Errorf("Targets = %v, want %v", got, tc.want)
			}
		})
	}
}

type env struct{}

func (env) EventType(name string) (event.Type, bool) {
	if name == "order" {
		return event.Type{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal}}}, true
	}
	return event.Type{}, false
}
func (env) CheckReward(r rule.Reward, _ rule.SourceKind) error {
	if err := r.Check(); err != nil {
		return err
	}
	if r.Kind == rule.RewardAchievement && r.Achievement != "first" {
		return errors.New("unknown achievement " + r.Achievement)
	}
	return nil
}
func (env) LevelExists(name string) bool { return name == "gold" }
func (env) TagExists(name string) bool   { return name == "M" }

// TestStepConditionProblemsNameTheField: a step's condition is reported
// at the field at fault, as the JSON names it: an unknown attribute at
// attr, a value of another kind at value (values[i] for in), an unknown
// operator at op. They were all reported at the condition
// (tasks[0].steps[1].conditions[0]).
func TestStepConditionProblemsNameTheField(t *testing.T) {
	d := task.Definition{Tasks: []task.Task{{Name: "big", Kind: task.Sequence,
		Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "first"}},
		Steps: []task.Step{{Event: "order"}, {Event: "order", Conditions: []event.Condition{
			{Attr: "colour", Op: event.Eq, Value: event.Str("red")},
			{Attr: "amount", Op: event.Gte, Value: event.Str("100")},
			{Attr: "amount", Op: "between", Value: event.Int(1)},
			{Attr: "amount", Op: event.In, Values: []event.Value{event.Int(1), event.Str("2")}},
		}}}}}}
	err := d.Check(env{})
	var ps *rule.Problems
	if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check = %v, want *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		`tasks[0].steps[1].conditions[0].attr: unknown attribute "colour" in type "order"`,
		"tasks[0].steps[1].conditions[1].value: attribute has the wrong type: got string, want decimal",
		`tasks[0].steps[1].conditions[2].op: unknown operator "between"`,
		"tasks[0].steps[1].conditions[3].values[1]: attribute has the wrong type: got string, want decimal",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !errors.Is(err, event.ErrUnknownAttribute) || !errors.Is(err, event.ErrAttributeType) {
		t.Errorf("Check: %v, want it to wrap event.ErrUnknownAttribute and event.ErrAttributeType", err)
	}
}

func TestTaskCheck(t *testing.T) {
	good := task.Task{Name: "first", Kind: task.One, Steps: steps("order"),
		Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "first"}}}
	bad := task.Definition{Tasks: []task.Task{
		good,
		{Name: "first", Kind: task.Repeat, Times: 1, Steps: []task.Step{{Event: "nope"}}},
		{Name: "x", Kind: "weird", Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "zzz"}},
			Steps:  []task.Step{{Event: "order", Conditions: []event.Condition{{Attr: "color", Op: event.Eq, Value: event.Str("red")}}}},
			Target: task.Target{Levels: []string{"platinum"}, Tags: []string{"Q"}, Segment: "M and ("},
			Limits: rule.Caps{{Period: rule.Day, Limit: decimal.RequireFromString("1.5")}},
			Window: rule.Window{From: t0, To: t0}},
		{Name: "seq", Kind: task.Sequence, Steps: steps("order"), Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "first"}}},
		// A limit of 0 would make the task impossible to complete.
		{Name: "never", Kind: task.One, Steps: steps("order"), Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "first"}},
			Limits: rule.Caps{{Period: rule.Total, Limit: decimal.Zero}}},
	}}
	err := bad.Check(env{})
	var ps *rule.Problems
	if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check = %v, want *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path)
	}
	want := []string{
		"tasks[1].name", "tasks[1].times", "tasks[1].steps[0].event", "tasks[1].rewards",
		"tasks[2].kind", "tasks[2].steps[0].conditions[0].attr", "tasks[2].window.to",
		"tasks[2].target.levels[0]", "tasks[2].target.tags[0]", "tasks[2].target.segment",
		"tasks[2].rewards[0]", "tasks[2].limits[0].limit",
		"tasks[3].steps",
		"tasks[4].limits[0].limit",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, err)
	}
	if err := (task.Definition{Tasks: []task.Task{good}}).Check(env{}); err != nil {
		t.Errorf("valid definition: %v", err)
	}
}

func TestTaskJSONRoundTrip(t *testing.T) {
	d := task.Definition{Tasks: []task.Task{{
		Name: "big", Kind: task.Repeat, Times: 3,
		Steps:   []task.Step{{Event: "order", Conditions: []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("100")}}}},
		Window:  rule.Window{From: t0},
		Target:  task.Target{Levels: []string{"gold"}, Segment: "M"},
		Rewards: []rule.Reward{{Kind: rule.RewardGrowth, Amount: decimal.NewFromInt(10)}},
		Limits:  rule.Caps{{Period: rule.Day, Limit: decimal.NewFromInt(1)}},
	}}}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"times":3`) {
		t.Errorf("JSON lacks snake_case fields: %s", raw)
	}
	var back task.Definition
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestTaskMatches(t *testing.T) {
	big := []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("100")}}
	tk := task.Task{Kind: task.Sequence, Steps: []task.Step{{Event: "browse"}, {Event: "order", Conditions: big}}}
	tests := []struct {
		name string
		ev   event.Event
		want bool
	}{
		{"first step", ev("browse", nil), true},
		{"a later step, whatever the progress", ev("order", event.Attrs{"amount": event.DecString("100")}), true},
		{"a step's type failing its conditions", ev("order", event.Attrs{"amount": event.DecString("99.99")}), false},
		{"another type", ev("share", nil), false},
	}
	for _, tc := range tests {
		if got := tk.Matches(tc.ev); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Step on a task that Check would refuse (no step, an unknown kind)
// counts nothing. Before, a one action or repeated action task without a
// step panicked with an index out of range.
func TestTaskStepOfAnUncheckedTask(t *testing.T) {
	for _, tk := range []task.Task{
		{Kind: task.One},
		{Kind: task.Repeat, Times: 2},
		{Kind: task.All},
		{Kind: task.Sequence},
		{Kind: "daily", Steps: steps("checkin")},
	} {
		next, step, done := tk.Step(task.Progress{}, ev("checkin", nil))
		if step != -1 || done || next.Done() != 0 {
			t.Errorf("%+v: Step = %+v, %d, %v; want nothing counted", tk, next, step, done)
		}
	}
}
