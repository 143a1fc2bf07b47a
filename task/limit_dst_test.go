package task_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
)

// A day limit counts the days of the program's zone where the clocks
// change at midnight. In America/Santiago the clocks went back on 5 April
// 2026 at 00:00 (-03) to 23:00 (-04): 4 April has 25 hours, 23:00 to
// 24:00 twice. They go forward on 6 September at 00:00 (-04) to 01:00
// (-03): 6 September starts at 01:00 and has 23 hours. With one
// completion a day:
//   - f1 at 4 April 00:00 -03 completes; f2 at the second 23:30 of 4
//     April (-04; 00:30 of the 5th at the day's first offset) is the same
//     day, limited; f3 at 5 April 00:00 -04 completes;
//   - s2 at 6 September 01:00 -03, the day's first instant, completes; s1
//     at 5 September 23:59:59 -04, one second before it and processed
//     after it (a late event), completes for its own day (both fall on 6
//     September in UTC); s3 at 6 September 23:59:59 is limited.
//
// Completions per day and Daily say one on each of the four days.
func TestTaskDayLimitWhereClocksChangeAtMidnight(t *testing.T) {
	ctx := context.Background()
	santiago := testkit.Zone("America/Santiago")
	utc := func(mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(2026, mo, d, h, mi, s, 0, time.UTC).In(santiago)
	}
	f1, f2, f3 := utc(4, 4, 3, 0, 0), utc(4, 5, 3, 30, 0), utc(4, 5, 4, 0, 0)
	s1, s2, s3 := utc(9, 6, 3, 59, 59), utc(9, 6, 4, 0, 0), utc(9, 7, 2, 59, 59)
	// The instants are those the comment names, as the zone reads them.
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{f1, "2026-04-04 00:00:00 -03"}, {f2, "2026-04-04 23:30:00 -04"}, {f3, "2026-04-05 00:00:00 -04"},
		{s1, "2026-09-05 23:59:59 -04"}, {s2, "2026-09-06 01:00:00 -03"}, {s3, "2026-09-06 23:59:59 -03"},
	} {
		if got := c.at.Format("2006-01-02 15:04:05 -07"); got != c.want {
			t.Fatalf("the zone data reads %s as %s, want %s", c.at.UTC(), got, c.want)
		}
	}
	def := engDef(task.Task{Name: "once", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10,
		Limits: rule.Caps{{Period: rule.Day, Limit: dec("1")}}})
	def.Zone = "America/Santiago"
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, out := range mustProcess(t, p,
				engEvent("f1", "m", "share", f1, nil), engEvent("f2", "m", "share", f2, nil), engEvent("f3", "m", "share", f3, nil),
				engEvent("s2", "m", "share", s2, nil), engEvent("s1", "m", "share", s1, nil), engEvent("s3", "m", "share", s3, nil)) {
				got = append(got, engKinds(out, "task."))
			}
			want := [][]string{{task.ChangeCompleted}, {task.ChangeLimitReached}, {task.ChangeCompleted},
				{task.ChangeCompleted}, {task.ChangeCompleted}, {task.ChangeLimitReached}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("task changes per share (-want +got):\n%s", diff)
			}
			for _, at := range []time.Time{f2, f3, s1, s3} {
				n, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: "m", Task: "once", Period: rule.Day, At: at})
				if err != nil || n != 1 {
					t.Errorf("completions on the day of %s = %d, %v; want 1", at, n, err)
				}
			}
			days, err := p.Tasks().Daily(ctx, rule.Date{Year: 2026, Month: 4, Day: 1}, rule.Date{Year: 2026, Month: 9, Day: 30})
			if err != nil {
				t.Fatal(err)
			}
			row := func(mo time.Month, d int) task.DayCompletions {
				return task.DayCompletions{Day: rule.Date{Year: 2026, Month: mo, Day: d}, Task: "once", Completions: 1}
			}
			if diff := cmp.Diff([]task.DayCompletions{row(4, 4), row(4, 5), row(9, 5), row(9, 6)}, days); diff != "" {
				t.Errorf("Daily (-want +got):\n%s", diff)
			}
		})
	}
}
