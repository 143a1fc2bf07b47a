package level_test

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

// ExampleHandle_Status shows growth rules feeding a ladder: a
// check-in gives 12 growth and real-name verification 20, and 20 growth
// reaches Bronze, whose "1 month-end" term ends at 24:00 of next month's
// last day. At the term end, Advance keeps or downgrades the member.
func ExampleHandle_Status() {
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
	s, _ := p.Levels().Status(ctx, "ann")
	fmt.Println(s.Level, s.Growth, s.TermEnd.In(loc).Format(time.DateTime))

	// Nothing was earned in April, the 1-month window before the term end:
	// below Bronze's retention of 20, so ann goes down and growth is
	// re-based to the window's 0 (lifetime growth stays).
	if _, err := p.Advance(ctx, time.Date(2026, 5, 1, 0, 0, 0, 0, loc)); err != nil {
		fmt.Println(err)
		return
	}
	s, _ = p.Levels().Status(ctx, "ann")
	fmt.Println(s.Level, s.Growth, s.Lifetime)
	h, _ := p.Levels().History(ctx, "ann", 0, 10)
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

// ExampleHandle_Set sets a member's level by hand; the history names
// the operator and the note.
func ExampleHandle_Set() {
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
	_, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "req-42", Member: "bo", Operator: "li.na", Note: "compensation", At: at, Level: "VIP"})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := p.Levels().Status(ctx, "bo")
	fmt.Println(s.Level, s.TermEnd.In(p.Location()).Format(time.DateOnly))
	h, _ := p.Levels().History(ctx, "bo", 1, 10)
	fmt.Println(h[0].Cause, h[0].Operator, h[0].Note)
	// Output:
	// VIP 2027-01-01
	// manual li.na compensation
}

// ExampleEffectsOf reads what an event did to a member's level without
// decoding the feed: the growth it granted and the level it reached.
func ExampleEffectsOf() {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Entry", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Silver", Upgrade: decimal.NewFromInt(100), Validity: rule.Validity{Kind: rule.Permanent},
					Gifts: []rule.Reward{{Kind: rule.RewardGrowth, Amount: decimal.NewFromInt(10)}}},
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)}}},
		},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := p.Process(context.Background(), event.Event{ID: "o1", Member: "ann", Type: "order",
		Time: time.Date(2026, 3, 15, 10, 30, 0, 0, p.Location()), Attrs: event.Attrs{"amount": event.DecString("120.80")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := level.EffectsOf(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range e.Growth {
		fmt.Println(g.Kind, g.Amount, "→", g.Balance)
	}
	to, _ := e.Reached()
	fmt.Println("granted", e.Granted(), "reached", to)
	// Output:
	// earned 120 → 120
	// rewarded 10 → 130
	// granted 130 reached Silver
}
