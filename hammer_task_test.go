package membership_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
)

// A task's calendar limits hold at their edges in the program's zone under
// concurrency: a check-in task limited to one completion a day, one a
// week and one a month, and two a year, gets 24 check-ins of one member
// at once, on both programs: 8 at 23:59:59.999999999 of Sunday 31 May
// 2026 in Shanghai, 8 at 00:00 of Monday 1 June (a new day, week and
// month, 16:00 UTC the same UTC day) and 8 at 10:00 of 2 June (a new day
// of the same week). Whatever the order, one completes before the edge
// and one after it, on 1 or 2 June, whichever comes first, the other
// finding the week's limit reached: two completions, 20 points, on
// memory, bolt and PostgreSQL.
func TestHammerTaskLimitsAtTheirEdges(t *testing.T) {
	sunday := time.Date(2026, 6, 1, 0, 0, 0, 0, testkit.Shanghai).Add(-time.Nanosecond)
	monday := time.Date(2026, 6, 1, 0, 0, 0, 0, testkit.Shanghai)
	tuesday := time.Date(2026, 6, 2, 10, 0, 0, 0, testkit.Shanghai)
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "check_in"}},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "check", Kind: task.One, Steps: []task.Step{{Event: "check_in"}},
			Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: testkit.Dec("10")}},
			Limits: rule.Caps{{Period: rule.Day, Limit: testkit.Dec("1")}, {Period: rule.Week, Limit: testkit.Dec("1")},
				{Period: rule.Month, Limit: testkit.Dec("1")}, {Period: rule.Year, Limit: testkit.Dec("2")}}}}},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const per = 8
		times := []time.Time{sunday, monday, tuesday}
		atOnce(3*per, func(g int) {
			ev := event.Event{ID: fmt.Sprint("ci", g), Member: "alice", Type: "check_in", Time: times[g%3]}
			if _, err := ps[g%2].Process(ctx, ev); err != nil {
				t.Errorf("check-in %d: %v", g, err)
			}
		})
		for _, c := range []struct {
			period rule.Period
			at     time.Time
			want   int64
		}{
			{rule.Day, sunday, 1},
			{rule.Week, sunday, 1}, {rule.Week, tuesday, 1},
			{rule.Month, sunday, 1}, {rule.Month, monday, 1},
			{rule.Year, monday, 2}, {rule.Total, monday, 2},
		} {
			n, err := ps[1].Tasks().Completions(ctx, task.CompletionsQuery{Member: "alice", Task: "check", Period: c.period, At: c.at})
			if err != nil || n != c.want {
				t.Errorf("completions per %s at %v = %d, %v; want %d", c.period, c.at, n, err, c.want)
			}
		}
		var after int64
		for _, at := range []time.Time{monday, tuesday} {
			n, err := ps[0].Tasks().Completions(ctx, task.CompletionsQuery{Member: "alice", Task: "check", Period: rule.Day, At: at})
			if err != nil {
				t.Fatal(err)
			}
			after += n
		}
		if after != 1 {
			t.Errorf("completions on 1 and 2 June = %d, want 1 (the week's limit)", after)
		}
		b, err := ps[0].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: tuesday})
		if err != nil || !b.Available.Equal(testkit.Dec("20")) {
			t.Errorf("alice has %+v points (%v), want 2 rewards of 10", b, err)
		}
		feed := checkLedgerAndFeed(t, ps)
		if n := countKinds(feed, task.ChangeCompleted); n["alice"] != 2 {
			t.Errorf("the feed has %d completions of alice's, want 2", n["alice"])
		}
		if n := countKinds(feed, task.ChangeLimitReached); n["alice"] != 3*per-2 {
			t.Errorf("the feed has %d limits reached of alice's, want %d", n["alice"], 3*per-2)
		}
	})
}
