package membership_test

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// Example is README's quick start: a two-level ladder fed by spend and one
// point per yuan expiring at year end, on an order of 520 yuan.
func Example() {
	ctx := context.Background()
	one := decimal.NewFromInt(1)
	spend := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: one}
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Member", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Gold", Upgrade: decimal.NewFromInt(500), Retention: decimal.NewFromInt(300),
					Validity: rule.Validity{Kind: rule.MonthEnds, N: 1}, Window: 12, Downgrade: level.NextLower},
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: spend}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Formula: spend,
				Validity: rule.Validity{Kind: rule.AnnualDate, Month: 12, Day: 31}}},
		},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, p.Location())
	order := event.Event{ID: "order-1", Member: "alice", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.Dec(decimal.NewFromInt(520))}}
	if _, err := p.Process(ctx, order); err != nil {
		panic(err)
	}
	lvl, _ := p.LevelStatus(ctx, "alice")
	pts, _ := p.PointsBalance(ctx, "mall", "alice", at)
	fmt.Println(lvl.Level, "until", lvl.TermEnd.In(p.Location()).Format(time.DateTime), "with", pts.Available, "points")
	// Output: Gold until 2027-01-01 00:00:00 with 520 points
}
