package membership_test

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// ExampleProgram_LevelStatus shows growth rules feeding a ladder: a
// check-in gives 12 growth and real-name verification 20, and 20 growth
// reaches Bronze, whose "1 month-end" term ends at 24:00 of next month's
// last day. At the term end, Advance keeps or downgrades the member.
func ExampleProgram_LevelStatus() {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "check_in"}, {Name: "verify"}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Entry", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Bronze", Upgrade: decimal.NewFromInt(20), Retention: decimal.NewFromInt(20),
					Validity: rule.Validity{Kind: rule.MonthEnds, N: 1}, Window: 1, Downgrade: level.NextLower},
			},
			Growth: []level.GrowthRule{
				{ID: "check-in", Event: "check_in", Formula: rule.Formula{Kind: rule.Fixed, Fixed: decimal.NewFromInt(12)}},
				{ID: "real-name", Event: "verify", Formula: rule.Formula{Kind: rule.Fixed, Fixed: decimal.NewFromInt(20)}},
			},
		},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	loc := p.Location()
	at := time.Date(2026, 3, 15, 10, 30, 0, 0, loc)
	for _, ev := range []event.Event{
		{ID: "e1", Member: "ann", Type: "check_in", Time: at},
		{ID: "e2", Member: "ann", Type: "verify", Time: at.Add(time.Minute)},
	} {
		if _, err := p.Process(ctx, ev); err != nil {
			fmt.Println(err)
			return
		}
	}
	s, _ := p.LevelStatus(ctx, "ann")
	fmt.Println(s.Level, s.Growth, s.TermEnd.In(loc).Format(time.DateTime))

	// Nothing was earned in April, the 1-month window before the term end:
	// below Bronze's retention of 20, so ann goes down and growth is
	// re-based to the window's 0 (lifetime growth stays).
	if _, err := p.Advance(ctx, time.Date(2026, 5, 1, 0, 0, 0, 0, loc)); err != nil {
		fmt.Println(err)
		return
	}
	s, _ = p.LevelStatus(ctx, "ann")
	fmt.Println(s.Level, s.Growth, s.Lifetime)
	h, _ := p.LevelHistory(ctx, "ann", 0, 10)
	for _, r := range h {
		fmt.Println(r.Cause, r.From, "→", r.To, r.Time.In(loc).Format(time.DateTime))
	}
	// Output:
	// Bronze 32 2026-05-01 00:00:00
	// Entry 0 32
	// join  → Entry 2026-03-15 10:30:00
	// event Entry → Bronze 2026-03-15 10:31:00
	// term_end Bronze → Entry 2026-05-01 00:00:00
}

// ExampleProgram_SetLevel sets a member's level by hand; the history names
// the operator and the reason.
func ExampleProgram_SetLevel() {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "visit"}},
		Levels: &level.Definition{Ladder: []level.Level{
			{Name: "Entry", Validity: rule.Validity{Kind: rule.Permanent}},
			{Name: "VIP", Upgrade: decimal.NewFromInt(1000), Validity: rule.Validity{Kind: rule.AnnualDate, Month: time.December, Day: 31}, Window: 12},
		}},
	}
	p, _ := membership.Open(memory.New(), def)
	ctx := context.Background()
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, p.Location())
	_, err := p.SetLevel(ctx, "req-42", membership.SetLevelRequest{Member: "bo", Level: "VIP", Operator: "li.na", Reason: "compensation", At: at})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := p.LevelStatus(ctx, "bo")
	fmt.Println(s.Level, s.TermEnd.In(p.Location()).Format(time.DateOnly))
	h, _ := p.LevelHistory(ctx, "bo", 1, 10)
	fmt.Println(h[0].Cause, h[0].Operator, h[0].Note)
	// Output:
	// VIP 2027-01-01
	// manual li.na compensation
}
