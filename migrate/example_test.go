package migrate_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// Import two members from CSV, one of them with a bad amount, then run
// the same file again: the good row is already there.
func ExampleRun() {
	ctx := context.Background()
	p, err := membership.Open(memory.New(), retail(nil))
	if err != nil {
		panic(err)
	}
	const file = `member,level,growth,points,value_balance,tags
ana,Gold,1800,mall|300|2025-12-31,50,staff
bo,,,mall|lots,,
`
	for range 2 {
		res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(file), p.Location()),
			migrate.Options{Name: "members.csv", At: at})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%d rows: %d applied, %d already there, %d bad\n", res.Rows, res.Applied, res.Duplicates, res.Failed)
		for _, e := range res.Errors {
			fmt.Printf("line %d, field %s\n", e.Line, e.Field)
		}
	}
	b, _ := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "ana", At: at})
	lv, _ := p.Levels().Status(ctx, "ana")
	v, _ := p.Balance(ctx, ledger.MemberAccount("ana", ledger.Value, ""))
	fmt.Println("ana:", lv.Level, lv.Growth, "growth,", b.Available, "points,", v, "stored value")
	fmt.Println("verify:", p.Verify(ctx))
	// Output:
	// 2 rows: 1 applied, 0 already there, 1 bad
	// line 3, field points[0].amount
	// 2 rows: 0 applied, 1 already there, 1 bad
	// line 3, field points[0].amount
	// ana: Gold 1800 growth, 300 points, 50 stored value
	// verify: <nil>
}

// Members come in with the days their growth was earned on (growth_days),
// so the retention window of their next term end counts what the old
// system's would: ana earned 700 of her 1000 before the three-month window
// and goes down; bo earned it all within the window and stays Gold; cy's
// row has no days, so all of her growth counts as earned on the row's day.
func ExampleCSV_growthDays() {
	ctx := context.Background()
	amount := []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: amount}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Member", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Gold", Upgrade: decimal.NewFromInt(1000), Retention: decimal.NewFromInt(600),
					Validity: rule.Validity{Kind: rule.MonthsAfter, N: 12}, Window: 3, Downgrade: level.NextLower},
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)}}},
		},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Gold's term ends at the end of 30 June; its window is April to June.
	const file = `member,level,term_end,growth,growth_days
ana,Gold,2025-06-30,1000,2025-02-10|700;2025-05-20|300
bo,Gold,2025-06-30,1000,2025-05-02|800;2025-05-20|200
cy,Gold,2025-06-30,1000,
`
	loc := p.Location()
	res, err := migrate.Run(ctx, p, migrate.CSV(strings.NewReader(file), loc),
		migrate.Options{Name: "members.csv", At: time.Date(2025, 6, 1, 0, 0, 0, 0, loc)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("applied", res.Applied, "bad", res.Failed)
	if _, err := p.Advance(ctx, time.Date(2025, 7, 1, 0, 0, 0, 0, loc)); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range []string{"ana", "bo", "cy"} {
		s, err := p.Levels().Status(ctx, m)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(m, s.Level, s.Growth)
	}
	// Output:
	// applied 3 bad 0
	// ana Member 300
	// bo Gold 1000
	// cy Gold 1000
}
