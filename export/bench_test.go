package export_test

import (
	"context"
	"fmt"
	"io"
	"iter"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/export"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store/memory"
)

// benchProgram is testDef on a memory store with n orders spread over
// members members, two changes (growth, points) and a points entry an
// order.
func benchProgram(b *testing.B, n, members int) *membership.Program {
	b.Helper()
	def, err := membership.ParseDefinition([]byte(testDef))
	if err != nil {
		b.Fatal(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]event.Event, 0, 1000)
	for i := range n {
		evs = append(evs, event.Event{ID: fmt.Sprint("o", i), Member: fmt.Sprint("m", i%members), Type: "order",
			Time: time.Date(2026, 3, 1, 10, 0, 0, 0, p.Location()).Add(time.Duration(i) * time.Second), Attrs: event.Attrs{"amount": event.DecString("12.5")}})
		if len(evs) == cap(evs) || i == n-1 {
			if _, err := p.ProcessBatch(context.Background(), evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
	return p
}

func rowsPerSecond(b *testing.B, rows int64) {
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkExportFeed: one op is one change written as a JSON line.
func BenchmarkExportFeed(b *testing.B) {
	p := benchProgram(b, b.N/2+1, b.N/20+1)
	b.ResetTimer()
	n, _, err := export.Feed(context.Background(), io.Discard, p, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	rowsPerSecond(b, n)
}

// BenchmarkExportMembers: one op is one member's row.
func BenchmarkExportMembers(b *testing.B) {
	p := benchProgram(b, 10*b.N, b.N) // 10 orders a member
	ids := func(yield func(string) bool) {
		for i := range b.N {
			if !yield(fmt.Sprint("m", i)) {
				return
			}
		}
	}
	b.ResetTimer()
	n, err := export.Members(context.Background(), io.Discard, p, iter.Seq[string](ids), time.Date(2026, 4, 1, 0, 0, 0, 0, p.Location()), nil)
	if err != nil {
		b.Fatal(err)
	}
	rowsPerSecond(b, n)
}

// BenchmarkExportStatement: one op is one entry of a member's statement.
func BenchmarkExportStatement(b *testing.B) {
	p := benchProgram(b, b.N, 1)
	q := ledger.Query{Account: ledger.MemberAccount("m0", ledger.Points("mall"), "")}
	b.ResetTimer()
	n, _, err := export.Statement(context.Background(), io.Discard, p, q, nil)
	if err != nil {
		b.Fatal(err)
	}
	rowsPerSecond(b, n)
}
