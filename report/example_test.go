package report_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// exampleProgram is smallDef's program on a memory store where alice
// orders 300 in January, 800 in February (Gold, and the task's 50 points,
// which never expire) and 450 in March, each month's points expiring at
// its end; Gold's term ends on 11 March without growth enough to keep it.
func exampleProgram() *membership.Program {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(smallDef))
	if err != nil {
		panic(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		panic(err)
	}
	zone := p.Location()
	for i, amount := range []int64{300, 800, 450} {
		_, err := p.Process(ctx, event.Event{ID: fmt.Sprint("o", i), Member: "alice", Type: "order",
			Time:  time.Date(2025, time.Month(1+i), 10, 12, 0, 0, 0, zone),
			Attrs: event.Attrs{"amount": event.Dec(decimal.NewFromInt(amount))}})
		if err != nil {
			panic(err)
		}
	}
	// Each month's points expire at its end.
	if _, err := p.Advance(ctx, time.Date(2025, 4, 1, 0, 0, 0, 0, zone)); err != nil {
		panic(err)
	}
	return p
}

// A finance team asks for the points liability month by month: the
// report reads it from the ledger's daily totals, at the rate the query
// gives (the program sets no points + cash rate).
func Example() {
	ctx := context.Background()
	p := exampleProgram()
	r, err := report.Build(ctx, p, report.Query{
		From: rule.Date{Year: 2025, Month: 1, Day: 1}, To: rule.Date{Year: 2025, Month: 3, Day: 31},
		Grain: report.Month, Rates: map[string]decimal.Decimal{"mall": decimal.RequireFromString("0.01")},
	})
	if err != nil {
		panic(err)
	}
	for _, pd := range r.Periods {
		pt := pd.Points[0]
		fmt.Printf("%s: issued %s, expired %s, outstanding %s, liability %s\n", pd.Name, pt.Issued, pt.Expired, pt.Outstanding, pt.Liability.StringFixed(2))
	}
	// Output:
	// 2025-01: issued 300, expired 0, outstanding 300, liability 3.00
	// 2025-02: issued 850, expired 300, outstanding 850, liability 8.50
	// 2025-03: issued 450, expired 800, outstanding 500, liability 5.00
}

// The CSV has a row per figure, for a spreadsheet's pivot table: here
// March, when alice's Gold term ended.
func ExampleReport_WriteCSV() {
	p := exampleProgram()
	march := rule.Date{Year: 2025, Month: 3, Day: 1}
	r, err := report.Build(context.Background(), p, report.Query{From: march, To: march.AddMonths(1).AddDays(-1), Grain: report.Month})
	if err != nil {
		panic(err)
	}
	// Without a rate, the points have no liability rows.
	if err := r.WriteCSV(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// period,section,name,figure,value
	// 2025-03,levels,Silver,members,1
	// 2025-03,levels,Gold,members,0
	// 2025-03,levels,,joins,0
	// 2025-03,levels,,upgrades,0
	// 2025-03,levels,,downgrades,1
	// 2025-03,points,mall,opening,850
	// 2025-03,points,mall,issued,450
	// 2025-03,points,mall,redeemed,0
	// 2025-03,points,mall,expired,800
	// 2025-03,points,mall,other,0
	// 2025-03,points,mall,outstanding,500
	// 2025-03,coupons,welcome,issued,0
	// 2025-03,coupons,welcome,used,0
	// 2025-03,coupons,welcome,expired,0
	// 2025-03,coupons,welcome,revoked,0
	// 2025-03,coupons,welcome,amount_off,0
	// 2025-03,value,,opening,0
	// 2025-03,value,,recharged,0
	// 2025-03,value,,spent,0
	// 2025-03,value,,refunded,0
	// 2025-03,value,,withdrawn,0
	// 2025-03,value,,other,0
	// 2025-03,value,,float,0
	// 2025-03,tasks,two-orders,completions,0
}
