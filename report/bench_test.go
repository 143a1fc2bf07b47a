package report_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// benchProgram builds smallDef's program on a memory store with members
// who each register and order once in March 2025 (their orders spread over
// the month): every section of a report has figures.
func benchProgram(b *testing.B, members int) *membership.Program {
	b.Helper()
	def, err := membership.ParseDefinition([]byte(smallDef))
	if err != nil {
		b.Fatal(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	amount := event.Attrs{"amount": event.Dec(decimal.NewFromInt(120))}
	const batch = 1000
	evs := make([]event.Event, 0, 2*batch)
	for i := range members {
		m := fmt.Sprintf("m%06d", i)
		when := at(3, 1+i%31, 10)
		evs = append(evs,
			event.Event{ID: "r" + m, Member: m, Type: "register", Time: when},
			event.Event{ID: "o" + m, Member: m, Type: "order", Time: when.Add(time.Hour), Attrs: amount})
		if len(evs) == cap(evs) || i == members-1 {
			if _, err := p.ProcessBatch(ctx, evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	return p
}

// BenchmarkMonthlyReport builds the monthly report of March 2025, and of
// the year 2025, on programs of 1,000 and 100,000 members: its cost
// follows the period, not the members.
func BenchmarkMonthlyReport(b *testing.B) {
	ctx := context.Background()
	for _, members := range []int{1000, 100000} {
		p := benchProgram(b, members)
		for _, q := range []struct {
			name string
			to   time.Month
			from time.Month
		}{{"March", 3, 3}, {"Year", 12, 1}} {
			b.Run(fmt.Sprintf("members=%d/%s", members, q.name), func(b *testing.B) {
				query := report.Query{From: date(q.from, 1), To: date(q.to, 1).AddMonths(1).AddDays(-1), Grain: report.Month}
				for b.Loop() {
					r, err := report.Build(ctx, p, query)
					if err != nil {
						b.Fatal(err)
					}
					if r.Periods[0].Levels == nil {
						b.Fatal("no levels")
					}
				}
			})
		}
	}
}
