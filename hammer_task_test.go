package membership_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
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

// A task whose reward is a coupon pack of a stock of 5 (two coupons of a
// template with stock to spare) is completed at once by 16 members, each
// member's share sent twice at the same time, once to each program. Every
// member completes the task once and earns its 10 points, duplicates
// nothing; exactly 5 packs are given (10 coupons), and the 11 other
// completions stand with coupon.claim_refused for the pack, on memory,
// bolt and PostgreSQL.
func TestHammerTaskRewardPackOutOfStock(t *testing.T) {
	validity := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 7}}
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "share"}},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		Coupons: &coupon.Definition{
			Templates: []coupon.Template{{Name: "inpack", Type: coupon.Cash, Amount: testkit.Dec("2"), Stock: 100, Use: validity}},
			Packs:     []coupon.Pack{{Name: "bundle", Items: []coupon.PackItem{{Template: "inpack", Count: 2}}, Stock: 5, Mode: coupon.AnyInvalid}},
		},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "share", Kind: task.One, Steps: []task.Step{{Event: "share"}},
			Rewards: []rule.Reward{{Kind: rule.RewardPack, Pack: "bundle"}, {Kind: rule.RewardPoints, Program: "mall", Amount: testkit.Dec("10")}}}}},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members = 16
		atOnce(2*members, func(g int) {
			ev := event.Event{ID: fmt.Sprint("s", g/2), Member: fmt.Sprint("m", g/2), Type: "share", Time: hammerAt}
			if _, err := ps[g%2].Process(ctx, ev); err != nil {
				t.Errorf("share %d: %v", g, err)
			}
		})
		coupons := 0
		for i := range members {
			m := fmt.Sprint("m", i)
			done, err := ps[i%2].Tasks().Completions(ctx, task.CompletionsQuery{Member: m, Task: "share", Period: rule.Total, At: hammerAt})
			if err != nil || done != 1 {
				t.Errorf("%s completed the task %d times (%v), want 1", m, done, err)
			}
			b, err := ps[0].Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: hammerAt})
			if err != nil || !b.Available.Equal(testkit.Dec("10")) {
				t.Errorf("%s has %+v points (%v), want 10", m, b, err)
			}
			list, err := ps[1].Coupons().List(ctx, m)
			if err != nil || (len(list) != 0 && len(list) != 2) {
				t.Errorf("%s holds %d coupons (%v), want a whole pack or none", m, len(list), err)
			}
			coupons += len(list)
		}
		if coupons != 10 {
			t.Errorf("%d coupons held, want the 5 packs' 10", coupons)
		}
		feed := checkLedgerAndFeed(t, ps)
		packs, refused := countKinds(feed, coupon.ChangePackIssued), countKinds(feed, coupon.ChangeClaimRefused)
		if len(packs) != 5 || len(refused) != members-5 {
			t.Errorf("the feed gives packs to %d members and refuses %d, want 5 and %d", len(packs), len(refused), members-5)
		}
		for m := range packs {
			if refused[m] > 0 {
				t.Errorf("%s was given the pack and refused it", m)
			}
		}
		if n := countKinds(feed, task.ChangeCompleted); len(n) != members {
			t.Errorf("the feed has completions of %d members, want %d", len(n), members)
		}
	})
}
