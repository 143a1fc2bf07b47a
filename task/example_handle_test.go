package task_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

// A "browse, add to cart, then order" task granting an achievement: the
// order placed before browsing does not count; the ordered steps complete
// it once.
func ExampleHandle_Progress() {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	def := membership.Definition{
		Zone:     "Asia/Shanghai",
		Events:   []event.Type{{Name: "browse"}, {Name: "cart"}, {Name: "order"}},
		Benefits: &benefit.Definition{Achievements: []benefit.Achievement{{Name: "first-purchase", Icon: "cart.png"}}},
		Tasks: &task.Definition{Tasks: []task.Task{{
			Name: "funnel", Kind: task.Sequence,
			Steps:   []task.Step{{Event: "browse"}, {Event: "cart"}, {Event: "order"}},
			Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "first-purchase"}},
			Limits:  rule.Caps{{Period: rule.Total, Limit: decimal.NewFromInt(1)}},
		}}},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, loc)
	for i, typ := range []string{"order", "browse", "cart", "order"} {
		out, err := p.Process(ctx, event.Event{ID: fmt.Sprint("e", i), Member: "ann", Type: typ, Time: at.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, c := range out.Changes {
			fmt.Println(typ, "→", c.Kind)
		}
		if len(out.Changes) == 0 {
			fmt.Println(typ, "→ (out of order, ignored)")
		}
	}
	st, err := p.Tasks().Progress(ctx, "ann")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %d/%d, completed %d time(s)\n", st[0].Task, st[0].Done, st[0].Need, st[0].Completions)
	// Output:
	// order → (out of order, ignored)
	// browse → task.progressed
	// cart → task.progressed
	// order → task.completed
	// order → achievement.granted
	// funnel: 0/3, completed 1 time(s)
}

// A host reads what an event did to the member's tasks from its outcome,
// without decoding the feed.
func ExampleEffectsOf() {
	def := membership.Definition{
		Zone:     "Asia/Shanghai",
		Events:   []event.Type{{Name: "checkin"}},
		Benefits: &benefit.Definition{Achievements: []benefit.Achievement{{Name: "regular"}}},
		Tasks: &task.Definition{Tasks: []task.Task{{
			Name: "three-checkins", Kind: task.Repeat, Times: 3,
			Steps:   []task.Step{{Event: "checkin"}},
			Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "regular"}},
		}}},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, p.Location())
	for i := range 3 {
		out, err := p.Process(context.Background(), event.Event{ID: fmt.Sprint("c", i), Member: "ann", Type: "checkin", Time: at.AddDate(0, 0, i)})
		if err != nil {
			fmt.Println(err)
			return
		}
		fx, err := task.EffectsOf(out)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, s := range fx.Progressed {
			fmt.Printf("%s: %d of %d\n", s.Task, s.Done, s.Need)
		}
		for _, c := range fx.Completed {
			fmt.Printf("%s completed (%d), reward: %s\n", c.Task, c.Completions, c.Rewards[0].Achievement)
		}
	}
	// Output:
	// three-checkins: 1 of 3
	// three-checkins: 2 of 3
	// three-checkins completed (1), reward: regular
}

// A daily check-in task, once a day: Completions counts it per day, as
// its limit does, and in total; a period the task does not limit (a week)
// is not counted, and says so rather than answer 0.
func ExampleHandle_Completions() {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "checkin"}},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		Tasks: &task.Definition{Tasks: []task.Task{{
			Name: "daily-checkin", Kind: task.One,
			Steps:   []task.Step{{Event: "checkin"}},
			Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: decimal.NewFromInt(5)}},
			Limits:  rule.Caps{{Period: rule.Day, Limit: decimal.NewFromInt(1)}},
		}}},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, p.Location())
	for i, t := range []time.Time{at, at.Add(8 * time.Hour), at.AddDate(0, 0, 1)} {
		if _, err := p.Process(ctx, event.Event{ID: fmt.Sprint("c", i), Member: "ann", Type: "checkin", Time: t}); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, period := range []rule.Period{rule.Day, rule.Total, rule.Week} {
		n, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: "ann", Task: "daily-checkin", Period: period, At: at})
		if errors.Is(err, task.ErrNotCounted) {
			fmt.Println(period, "not counted")
			continue
		} else if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(period, n)
	}
	// Output:
	// day 1
	// total 2
	// week not counted
}
