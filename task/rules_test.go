package task_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/codec"
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

// A day limit a version adds counts the completions the member made that
// day before it: under version 1 (no limit) m completes the check-in task
// at 09:00 on Monday 2 March; version 2, opened at 12:00, limits it to
// one a day, so a check-in at 15:00 does not count (task.limit_reached),
// the day holding one completion, where before it completed again (the
// day was counted from the version on). The next day, from 00:00, it
// completes: two completions, 20 points.
func TestTaskDayLimitAddedCountsTheDaysCompletions(t *testing.T) {
	ctx := context.Background()
	at := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, shanghai) }
	def := func(version uint64, limits rule.Caps) membership.Definition {
		d := engDef(task.Task{Name: "checkin", Kind: task.One, Steps: engSteps("checkin"), Rewards: engPts10, Limits: limits})
		d.Version = version
		return d
	}
	st := memory.New()
	v1, err := membership.Open(st, def(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, v1, engEvent("c1", "m", "checkin", at(2, 9), nil))
	v2, err := membership.Open(st, def(2, rule.Caps{{Period: rule.Day, Limit: dec("1")}}))
	if err != nil {
		t.Fatal(err)
	}
	out := mustProcess(t, v2, engEvent("c2", "m", "checkin", at(2, 15), nil))[0]
	if diff := cmp.Diff([]string{task.ChangeLimitReached}, engKinds(out, "task.")); diff != "" {
		t.Errorf("a second check-in on 2 March under one a day: task changes (-want +got):\n%s", diff)
	}
	q := task.CompletionsQuery{Member: "m", Task: "checkin", Period: rule.Day, At: at(2, 15)}
	if n, err := v2.Tasks().Completions(ctx, q); err != nil || n != 1 {
		t.Errorf("completions on 2 March = %d, %v; want 1", n, err)
	}
	out = mustProcess(t, v2, engEvent("c3", "m", "checkin", at(3, 0), nil))[0]
	if diff := cmp.Diff([]string{task.ChangeCompleted}, engKinds(out, "task.")); diff != "" {
		t.Errorf("a check-in at 00:00 on 3 March: task changes (-want +got):\n%s", diff)
	}
	if bal := pointsOf(t, v2, "m"); !bal.Equal(dec("20")) {
		t.Errorf("points = %s, want two rewards of 10", bal)
	}
}

// latestRecord is the task.last record of a member's latest completion
// at t, with the completions of its day, week, month and year, as the
// part writes it.
func latestRecord(t time.Time, n ...uint64) []byte {
	w := codec.Writer{}
	w.Time(t)
	for _, c := range n {
		w.Uint(c)
	}
	return w.B
}

// The member's latest completion (task.last) is what a calendar limit a
// version adds reads while its counter has no value: a record of 2, 3, 4
// and 5 completions in the day, week, month and year of Monday 2 March
// 09:00 reads back as those counts through Completions in that day, and
// in the next week as 0 for the week and the day, 4 for the month. A
// record no completions leave (cut short, with bytes after it, with no
// time, a day with no completion, a day counting more than its week or
// its month, a month more than its year, a count past an int64) is
// store.ErrCorrupt, for Completions and for the next check-in, rather
// than read as some count.
func TestTaskLatestCompletionDamaged(t *testing.T) {
	ctx := context.Background()
	monday := time.Date(2026, 3, 2, 9, 0, 0, 0, shanghai)
	def := func(version uint64, limits rule.Caps) membership.Definition {
		d := engDef(task.Task{Name: "checkin", Kind: task.One, Steps: engSteps("checkin"), Rewards: engPts10, Limits: limits})
		d.Version = version
		return d
	}
	st := memory.New()
	v1, err := membership.Open(st, def(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, v1, engEvent("c1", "m", "checkin", monday, nil))
	nine := dec("9")
	p, err := membership.Open(st, def(2, rule.Caps{{Period: rule.Day, Limit: nine}, {Period: rule.Week, Limit: nine},
		{Period: rule.Month, Limit: nine}, {Period: rule.Year, Limit: nine}}))
	if err != nil {
		t.Fatal(err)
	}
	testkit.Overwrite(t, st, "task.last", latestRecord(monday, 2, 3, 4, 5))
	for _, c := range []struct {
		period rule.Period
		at     time.Time
		want   int64
	}{
		{rule.Day, monday.Add(-9 * time.Hour), 2}, {rule.Week, monday, 3}, {rule.Month, monday, 4}, {rule.Year, monday, 5},
		{rule.Day, monday.AddDate(0, 0, 7), 0}, {rule.Week, monday.AddDate(0, 0, 7), 0}, {rule.Month, monday.AddDate(0, 0, 7), 4},
		{rule.Day, monday.Add(-9*time.Hour - time.Nanosecond), 0},
	} {
		n, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: "m", Task: "checkin", Period: c.period, At: c.at})
		if err != nil || n != c.want {
			t.Errorf("completions per %s at %v = %d, %v; want %d", c.period, c.at, n, err, c.want)
		}
	}
	for name, v := range map[string][]byte{
		"cut short":        latestRecord(monday, 2, 3, 4),
		"bytes after it":   append(latestRecord(monday, 2, 3, 4, 5), 0),
		"no time":          latestRecord(time.Time{}, 2, 3, 4, 5),
		"a day of none":    latestRecord(monday, 0, 3, 4, 5),
		"day past week":    latestRecord(monday, 4, 3, 4, 5),
		"day past month":   latestRecord(monday, 2, 3, 1, 5),
		"month past year":  latestRecord(monday, 2, 3, 6, 5),
		"past an int64":    latestRecord(monday, 2, 3, 4, 1<<63),
		"empty":            {},
		"a varint cut off": {0x80},
	} {
		testkit.Overwrite(t, st, "task.last", v)
		q := task.CompletionsQuery{Member: "m", Task: "checkin", Period: rule.Day, At: monday}
		if n, err := p.Tasks().Completions(ctx, q); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: Completions = %d, %v; want store.ErrCorrupt", name, n, err)
		}
		if _, err := p.Process(ctx, engEvent("c2", "m", "checkin", monday.Add(time.Hour), nil)); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: a check-in: %v; want store.ErrCorrupt", name, err)
		}
	}
}
