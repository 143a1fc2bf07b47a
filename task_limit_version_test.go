package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
)

// Calendar limits a version adds count the completions the member's
// current period had before it, at the periods' edges in the program's
// zone (Shanghai; weeks from Monday). Under version 1, with no limit,
// alice checks in on Saturday 28 February 10:00, Sunday 1 March at
// 23:59:59.999999999 and Monday 2 March at 00:00: the latest completion's
// day holds 1, its week (from Monday 2 March) 1, its month (March) 2 and
// its year 3. Version 2 limits the task to one a day, two a week, three a
// month and four a year. A check-in at Monday's last nanosecond finds
// the day's limit reached (before, it completed: the day counted from
// the version on); one on Tuesday at 00:00 completes (the fourth), and
// the week's, month's and year's counters start from 1, 2 and 3, so that
// on Wednesday the week's limit is reached (2), on Monday 9 March the
// month's (3) and on 1 April 00:00 the year's (4). Four completions, 40
// points. The week of 23 February, before the latest completion's, reads
// its counter alone: none (its two completions were made before any
// limit and are not known). On memory, bolt (closed and opened again on
// the new version) and PostgreSQL.
func TestTaskCalendarLimitsAddedCountThePeriodsCompletions(t *testing.T) {
	sh := testkit.Shanghai
	at := func(mo time.Month, d, h int) time.Time { return time.Date(2026, mo, d, h, 0, 0, 0, sh) }
	last := func(mo time.Month, d int) time.Time { return at(mo, d+1, 0).Add(-time.Nanosecond) }
	def := func(version uint64, limits rule.Caps) membership.Definition {
		return membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "check_in"}},
			Points:  &points.Definition{Programs: []points.Program{{Name: "mall"}}},
			Tasks: &task.Definition{Tasks: []task.Task{{Name: "check", Kind: task.One, Steps: []task.Step{{Event: "check_in"}},
				Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")}}, Limits: limits}}},
		}
	}
	limits := rule.Caps{{Period: rule.Day, Limit: dec("1")}, {Period: rule.Week, Limit: dec("2")},
		{Period: rule.Month, Limit: dec("3")}, {Period: rule.Year, Limit: dec("4")}}
	for name, newStore := range retryStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore()
			t.Cleanup(func() { st.Close() })
			p, err := membership.Open(st, def(1, nil))
			if err != nil {
				t.Fatal(err)
			}
			checkIn := func(id string, when time.Time) task.Effects {
				t.Helper()
				fx, err := task.EffectsOf(mustProcess(t, p, event.Event{ID: id, Member: "alice", Type: "check_in", Time: when})[0])
				if err != nil {
					t.Fatal(err)
				}
				return fx
			}
			checkIn("c1", at(time.February, 28, 10))
			checkIn("c2", last(time.March, 1))
			checkIn("c3", at(time.March, 2, 0))
			p = restart(t, name, &st, newStore, def(2, limits))
			completions := func(when time.Time, want map[rule.Period]int64) {
				t.Helper()
				for _, pd := range []rule.Period{rule.Day, rule.Week, rule.Month, rule.Year, rule.Total} {
					n, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: "alice", Task: "check", Period: pd, At: when})
					if err != nil || n != want[pd] {
						t.Errorf("completions per %s at %v = %d, %v; want %d", pd, when, n, err, want[pd])
					}
				}
			}
			completions(last(time.March, 2), map[rule.Period]int64{rule.Day: 1, rule.Week: 1, rule.Month: 2, rule.Year: 3, rule.Total: 3})
			completions(at(time.March, 1, 12), map[rule.Period]int64{rule.Day: 0, rule.Week: 0, rule.Month: 2, rule.Year: 3, rule.Total: 3})
			for _, c := range []struct {
				id      string
				at      time.Time
				reached rule.Period // "": completes
			}{
				{"e4", last(time.March, 2), rule.Day},
				{"e5", at(time.March, 3, 0), ""},
				{"e6", at(time.March, 4, 10), rule.Week},
				{"e7", at(time.March, 9, 0), rule.Month},
				{"e8", at(time.April, 1, 0), rule.Year},
			} {
				fx := checkIn(c.id, c.at)
				var got []rule.Period
				for _, lr := range fx.LimitReached {
					got = append(got, lr.Period)
				}
				var want []rule.Period
				if c.reached != "" {
					want = []rule.Period{c.reached}
				}
				if diff := cmp.Diff(want, got); diff != "" || (c.reached == "") != (len(fx.Completed) == 1) {
					t.Errorf("check-in %s at %v: limits reached (-want +got):\n%s, completed %+v", c.id, c.at, diff, fx.Completed)
				}
			}
			completions(at(time.March, 4, 10), map[rule.Period]int64{rule.Day: 0, rule.Week: 2, rule.Month: 3, rule.Year: 4, rule.Total: 4})
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: at(time.April, 1, 0)})
			if err != nil || !b.Available.Equal(dec("40")) {
				t.Errorf("alice has %+v points (%v), want 4 rewards of 10", b, err)
			}
		})
	}
}
