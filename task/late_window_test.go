package task_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
)

// A late event (dated before changes already processed) is targeted by
// the level the member held at its time, which the level history keeps,
// but by the tags as they stand when it is processed: no record keeps a
// member's tags at a past time. A bronze member's order of 150 at 10:00
// takes them to silver and gives the tag "recent"; a check-in dated
// 09:00, processed after it, counts for the bronze-only and the
// recent-only tasks, not for the silver-only one: at 09:00 the member
// was bronze (the level they joined at, at 10:00) with no order. Before,
// it counted for the silver-only task, not the bronze-only one.
func TestTaskLateEventTargetedByTheLevelAtItsTime(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	def := engDef(
		task.Task{Name: "bronze-checkin", Kind: task.One, Steps: engSteps("checkin"), Rewards: engPts10, Target: task.Target{Levels: []string{"bronze"}}},
		task.Task{Name: "silver-checkin", Kind: task.One, Steps: engSteps("checkin"), Rewards: engPts10, Target: task.Target{Levels: []string{"silver"}}},
		task.Task{Name: "recent-checkin", Kind: task.One, Steps: engSteps("checkin"), Rewards: engPts10, Target: task.Target{Tags: []string{"recent"}}},
	)
	def.Levels.Growth = []level.GrowthRule{{ID: "g", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			outs := mustProcess(t, p, engOrder("o1", "m", "150", at), engEvent("c1", "m", "checkin", at.Add(-time.Hour), nil))
			fx, err := task.EffectsOf(outs[1])
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range fx.Completed {
				got = append(got, c.Task)
			}
			if diff := cmp.Diff([]string{"bronze-checkin", "recent-checkin"}, got); diff != "" {
				t.Errorf("completed by the late check-in (-want +got):\n%s", diff)
			}
		})
	}
}

// A task's effective period includes its start and excludes its end, to
// the nanosecond: for March in Shanghai (1 March 00:00 to 1 April 00:00,
// the 24:00 of 31 March), a check-in a nanosecond before the start does
// not count, one at the start and one at the last nanosecond of March
// count (two of three), and one at the end does not, the progress
// staying at two of three, on memory and bolt.
func TestTaskWindowEdgesToTheNanosecond(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)
	to := time.Date(2026, 3, 31, 24, 0, 0, 0, shanghai)
	def := engDef(task.Task{Name: "march", Kind: task.Repeat, Times: 3, Steps: engSteps("checkin"), Rewards: engPts10,
		Window: rule.Window{From: from, To: to}})
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			outs := mustProcess(t, p,
				engEvent("c1", "m", "checkin", from.Add(-time.Nanosecond), nil),
				engEvent("c2", "m", "checkin", from, nil),
				engEvent("c3", "m", "checkin", to.Add(-time.Nanosecond), nil),
				engEvent("c4", "m", "checkin", to, nil))
			var got [][]string
			for _, out := range outs {
				got = append(got, engKinds(out, "task."))
			}
			want := [][]string{nil, {task.ChangeProgressed}, {task.ChangeProgressed}, nil}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("task changes per check-in (-want +got):\n%s", diff)
			}
			st, err := p.Tasks().Progress(context.Background(), "m")
			if err != nil || len(st) != 1 || st[0].Done != 2 || st[0].Completions != 0 {
				t.Errorf("progress = %+v, %v; want 2 of 3, no completion", st, err)
			}
		})
	}
}
