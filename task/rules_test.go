package task_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// A limit counts completions per period of the program's zone, up to the
// period's last instant, also across a daylight-saving change: in
// Europe/Berlin the clocks go forward on Sunday 2026-03-29 (a day of 23
// hours, in the week from Monday 03-23 and in March). A completion at the
// period's first instant fills it; a share at its last nanosecond is
// limited; one at the next period's first instant (CEST) completes again,
// but for the total.
func TestTaskLimitPeriodEdgesInTheZone(t *testing.T) {
	berlin := testkit.Zone("Europe/Berlin")
	at := func(y int, mo time.Month, d int) time.Time { return time.Date(y, mo, d, 0, 0, 0, 0, berlin) }
	tests := []struct {
		period      rule.Period
		start, next time.Time
	}{
		{rule.Day, at(2026, 3, 29), at(2026, 3, 30)},
		{rule.Week, at(2026, 3, 23), at(2026, 3, 30)},
		{rule.Month, at(2026, 3, 1), at(2026, 4, 1)},
		{rule.Year, at(2026, 1, 1), at(2027, 1, 1)},
		{rule.Total, at(2026, 1, 1), at(2027, 1, 1)},
	}
	for _, tc := range tests {
		t.Run(string(tc.period), func(t *testing.T) {
			def := engDef(task.Task{Name: "once", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10,
				Limits: rule.Caps{{Period: tc.period, Limit: dec("1")}}})
			def.Zone = "Europe/Berlin"
			p := testkit.OpenMemory(t, def)
			var got [][]string
			for _, out := range mustProcess(t, p,
				engEvent("s1", "m", "share", tc.start, nil),
				engEvent("s2", "m", "share", tc.next.Add(-time.Nanosecond), nil),
				engEvent("s3", "m", "share", tc.next, nil)) {
				got = append(got, engKinds(out, "task."))
			}
			third := task.ChangeCompleted
			if tc.period == rule.Total {
				third = task.ChangeLimitReached
			}
			want := [][]string{{task.ChangeCompleted}, {task.ChangeLimitReached}, {third}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("task changes per share (-want +got):\n%s", diff)
			}
			n, err := p.Tasks().Completions(context.Background(), task.CompletionsQuery{Member: "m", Task: "once", Period: tc.period, At: tc.next.Add(-time.Nanosecond)})
			if err != nil || n != 1 {
				t.Errorf("completions in the period of the last nanosecond = %d, %v; want 1", n, err)
			}
		})
	}
}

// A target of levels and tags takes a member of one of the levels with
// one of the tags: a gold member without the tag, or a staff member of
// another level, does not take part. Each completion restarts the
// progress: the member's next completion needs both check-ins again.
func TestTaskTargetLevelsAndTags(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	ctx := context.Background()
	p := engOpen(t, task.Task{Name: "gold-staff", Kind: task.Repeat, Times: 2, Steps: engSteps("checkin"), Rewards: engPts10,
		Target: task.Target{Levels: []string{"silver", "gold"}, Tags: []string{"staff", "complained"}}})
	addTag := func(requestID, member, name string) {
		t.Helper()
		if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: requestID, Member: member, Operator: "alice", At: at, Tag: name}); err != nil {
			t.Fatal(err)
		}
	}
	setLevel(t, p, "r1", "gold", "gold", at)
	addTag("r2", "staff", "staff")
	setLevel(t, p, "r3", "both", "gold", at)
	addTag("r4", "both", "staff")
	var got [][]string
	for i, member := range []string{"gold", "staff", "both", "both", "both", "both", "both"} {
		out := mustProcess(t, p, engEvent("c"+string(rune('0'+i)), member, "checkin", at.Add(time.Duration(i)*time.Minute), nil))[0]
		got = append(got, engKinds(out, "task."))
	}
	want := [][]string{nil, nil,
		{task.ChangeProgressed}, {task.ChangeCompleted}, {task.ChangeProgressed}, {task.ChangeCompleted}, {task.ChangeProgressed}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task changes per check-in (-want +got):\n%s", diff)
	}
	done, comp := progressOf(t, p, "both")
	if done["gold-staff"] != 1 || comp["gold-staff"] != 2 {
		t.Errorf("both: done %d, completions %d; want 1 and 2", done["gold-staff"], comp["gold-staff"])
	}
	if bal := pointsOf(t, p, "both"); !bal.Equal(dec("20")) {
		t.Errorf("both: points = %s, want 20", bal)
	}
}

// A total limit counts the member's completions ever, also those made
// before a version added the limit: a member who completed the task twice
// under version 1 (no limit, then a daily one) has reached version 2's
// limit of two in total, and Completions in total says 2, as Progress
// does. Before, the limit counted the completions from the version that
// added it on, so the member completed the task a third time, and
// Completions in total said 0. A day, week, month or year limit a version
// adds counts from then on (completions are counted per member and period
// only for the periods a task limits).
func TestTaskTotalLimitCountsCompletionsBeforeIt(t *testing.T) {
	ctx := context.Background()
	day := func(d int) time.Time { return time.Date(2026, 3, d, 10, 0, 0, 0, shanghai) }
	def := func(version uint64, limits rule.Caps) membership.Definition {
		d := engDef(task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10, Limits: limits})
		d.Version = version
		return d
	}
	st := memory.New()
	v1, err := membership.Open(st, def(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, v1, engEvent("s1", "m", "share", day(2), nil))
	daily := rule.Caps{{Period: rule.Day, Limit: dec("1")}}
	v2, err := membership.Open(st, def(2, daily))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, v2, engEvent("s2", "m", "share", day(3), nil))
	v3, err := membership.Open(st, def(3, append(daily, rule.Cap{Period: rule.Total, Limit: dec("2")})))
	if err != nil {
		t.Fatal(err)
	}
	out := mustProcess(t, v3, engEvent("s3", "m", "share", day(4), nil))[0]
	if diff := cmp.Diff([]string{task.ChangeLimitReached}, engKinds(out, "task.")); diff != "" {
		t.Errorf("a third share under a limit of two in total: task changes (-want +got):\n%s", diff)
	}
	n, err := v3.Tasks().Completions(ctx, task.CompletionsQuery{Member: "m", Task: "share", Period: rule.Total, At: day(4)})
	if err != nil || n != 2 {
		t.Errorf("completions in total = %d, %v; want 2", n, err)
	}
	if bal := pointsOf(t, v3, "m"); !bal.Equal(dec("20")) {
		t.Errorf("points = %s, want two rewards of 10", bal)
	}
}

// An instance of an earlier release, while a deploy rolls, reads a total
// limit from the counter kept in the task.limits bucket (member \0 task,
// rule.Total). This release reads the completions ever instead, but keeps
// writing that counter: were it left out, the earlier instance would read
// 0 after two completions here and let a member past a limit of two.
func TestTaskTotalCounterKeptForEarlierReleases(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, engDef(task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10,
		Limits: rule.Caps{{Period: rule.Total, Limit: dec("2")}}}))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	mustProcess(t, p, engEvent("s1", "m", "share", at, nil), engEvent("s2", "m", "share", at.Add(time.Hour), nil))
	err = st.View(ctx, func(tx store.Tx) error {
		n, err := rule.Used(tx, "task.limits", "m\x00share", rule.Total, at, shanghai)
		if err == nil && !n.Equal(dec("2")) {
			t.Errorf("the total counter an earlier release reads says %s, want the 2 completions", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
