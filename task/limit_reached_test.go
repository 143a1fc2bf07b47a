package task_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/task"
)

// task.limit_reached is published only for an event that would have
// counted towards the task had its limit not been reached. Each task here
// is limited to one completion ever and completed by the first events;
// then an event that would not have counted publishes nothing, and one
// that would have counted publishes task.limit_reached. Before, an
// ordered task published it for a step that was not the next one (a cart
// with no browse since the completion): the events that do not qualify at
// all (another type, conditions not met, outside the effective period,
// a member not targeted) were already left out.
func TestTaskLimitReachedOnlyForEventsThatWouldCount(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	once := rule.Caps{{Period: rule.Total, Limit: dec("1")}}
	big := []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("100")}}
	share := func(id string, at time.Time) event.Event { return engEvent(id, "m", "share", at, nil) }
	const reached = task.ChangeLimitReached
	tests := []struct {
		name string
		task task.Task
		// before runs before the events; between after the first of
		// them, which complete the task.
		before, between func(t *testing.T, p *membership.Program)
		complete        []event.Event
		// probes and want: the events after the completion and the
		// task.* changes each publishes.
		probes []event.Event
		want   [][]string
	}{
		{name: "another type",
			task:     task.Task{Kind: task.One, Steps: []task.Step{{Event: "order", Conditions: big}}},
			complete: []event.Event{engOrder("o1", "m", "150", at)},
			probes:   []event.Event{share("s1", at), engOrder("o2", "m", "100", at)},
			want:     [][]string{nil, {reached}}},
		{name: "conditions not met",
			task:     task.Task{Kind: task.One, Steps: []task.Step{{Event: "order", Conditions: big}}},
			complete: []event.Event{engOrder("o1", "m", "150", at)},
			probes:   []event.Event{engOrder("o2", "m", "99.99", at), engOrder("o3", "m", "100", at)},
			want:     [][]string{nil, {reached}}},
		{name: "outside the effective period",
			task: task.Task{Kind: task.One, Steps: engSteps("share"),
				Window: rule.Window{From: time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai), To: time.Date(2026, 3, 8, 0, 0, 0, 0, shanghai)}},
			complete: []event.Event{share("s1", at)},
			probes: []event.Event{
				share("s2", time.Date(2026, 3, 8, 0, 0, 0, 0, shanghai)),
				share("s3", time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai).Add(-time.Nanosecond)),
				share("s4", time.Date(2026, 3, 8, 0, 0, 0, 0, shanghai).Add(-time.Nanosecond)),
			},
			want: [][]string{nil, nil, {reached}}},
		{name: "member not targeted",
			task:     task.Task{Kind: task.One, Steps: engSteps("share"), Target: task.Target{Levels: []string{"gold"}}},
			before:   func(t *testing.T, p *membership.Program) { setLevel(t, p, "r1", "m", "gold", at) },
			complete: []event.Event{share("s1", at)},
			between:  func(t *testing.T, p *membership.Program) { setLevel(t, p, "r2", "m", "silver", at.Add(time.Minute)) },
			probes:   []event.Event{share("s2", at.Add(time.Hour))},
			want:     [][]string{nil}},
		{name: "ordered: not the next step",
			task:     task.Task{Kind: task.Sequence, Steps: engSteps("browse", "cart")},
			complete: []event.Event{engEvent("b1", "m", "browse", at, nil), engEvent("c1", "m", "cart", at, nil)},
			probes:   []event.Event{engEvent("c2", "m", "cart", at, nil), engEvent("b2", "m", "browse", at, nil)},
			want:     [][]string{nil, {reached}}},
		{name: "repeated action",
			task:     task.Task{Kind: task.Repeat, Times: 2, Steps: engSteps("share")},
			complete: []event.Event{share("s1", at), share("s2", at)},
			probes:   []event.Event{share("s3", at)},
			want:     [][]string{{reached}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.task.Name, tc.task.Rewards, tc.task.Limits = "t", engPts10, once
			p := engOpen(t, tc.task)
			if tc.before != nil {
				tc.before(t, p)
			}
			outs := mustProcess(t, p, tc.complete...)
			if got := engKinds(outs[len(outs)-1], "task."); !cmp.Equal(got, []string{task.ChangeCompleted}) {
				t.Fatalf("the last of the first events: task changes %v, want the completion", got)
			}
			if tc.between != nil {
				tc.between(t, p)
			}
			var got [][]string
			for _, out := range mustProcess(t, p, tc.probes...) {
				got = append(got, engKinds(out, "task."))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("task changes per event after the completion (-want +got):\n%s", diff)
			}
		})
	}
}

// Several actions with progress under a lowered limit: version 1 allows
// two completions ever; m completes the task once and browses again; a
// version 2 allows one. A browse, a step done that its event cannot leave,
// would not count: it publishes nothing; a share, the step left, would
// complete the task: it publishes task.limit_reached. Before, the browse
// published it too.
func TestTaskLimitReachedNotForAStepDone(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	def := func(version uint64, limit string) membership.Definition {
		d := engDef(task.Task{Name: "both", Kind: task.All, Steps: engSteps("browse", "share"), Rewards: engPts10,
			Limits: rule.Caps{{Period: rule.Total, Limit: dec(limit)}}})
		d.Version = version
		return d
	}
	st := memory.New()
	v1, err := membership.Open(st, def(1, "2"))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, v1, engEvent("b1", "m", "browse", at, nil), engEvent("s1", "m", "share", at, nil), engEvent("b2", "m", "browse", at, nil))
	v2, err := membership.Open(st, def(2, "1"))
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, out := range mustProcess(t, v2, engEvent("b3", "m", "browse", at, nil), engEvent("s2", "m", "share", at, nil)) {
		got = append(got, engKinds(out, "task."))
	}
	if diff := cmp.Diff([][]string{nil, {task.ChangeLimitReached}}, got); diff != "" {
		t.Errorf("task changes per event under version 2 (-want +got):\n%s", diff)
	}
	done, comp := progressOf(t, v2, "m")
	if done["both"] != 1 || comp["both"] != 1 {
		t.Errorf("done %d, completions %d; want the browse of version 1 and one completion", done["both"], comp["both"])
	}
}
