package level_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// lvlBenchDef is a five-level ladder with three growth rules on orders:
// amount × 1 (remembered per order), a fixed 10 on app orders, and a
// count capped at 5 a day. Bronze terms end at the next month's end,
// Silver and above run 12 months.
func lvlBenchDef() membership.Definition {
	def := lvlDef(level.NextLower)
	for i := range def.Levels.Ladder {
		def.Levels.Ladder[i].Gifts = nil
	}
	def.Levels.Ladder[2].Validity, def.Levels.Ladder[2].Window = rule.Validity{Kind: rule.MonthsAfter, N: 12}, 12
	def.Levels.Growth = []level.GrowthRule{
		{ID: "order", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1")}, Order: &level.OrderRef{ID: "order_id", Amount: "amount"}},
		{ID: "app", Event: "order", Conditions: []event.Condition{{Attr: "channel", Op: event.Eq, Value: event.Str("app")}}, Formula: rule.Formula{Kind: rule.Fixed, Fixed: d("10")}},
		{ID: "count", Event: "order", Formula: rule.Formula{Kind: rule.Count}, Caps: rule.Caps{{Period: rule.Day, Limit: d("5")}}},
	}
	return def
}

func lvlBenchOrder(i int) event.Event {
	ev := lvlOrder(fmt.Sprint("o", i), fmt.Sprint("m", i%1000), "35.50", fmt.Sprint("ord-", i), t0.Add(time.Duration(i)*time.Second))
	ev.Attrs["channel"] = event.Str("app")
	return ev
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func benchLevelProcess(b *testing.B, p *membership.Program) {
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.Process(ctx, lvlBenchOrder(i)); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

func BenchmarkLevelProcessOrderMemory(b *testing.B) {
	benchLevelProcess(b, testkit.OpenMemory(b, lvlBenchDef()))
}

func BenchmarkLevelProcessOrderBolt(b *testing.B) {
	benchLevelProcess(b, testkit.OpenBolt(b, lvlBenchDef()))
}

// lvlPopulate makes members m0…m(n−1): the first due of them reach Bronze
// (term ends 2027-01-01 00:00), the rest Silver (term ends a year later),
// so every member has an item in the due index.
func lvlPopulate(b *testing.B, p *membership.Program, n, due int) {
	b.Helper()
	ctx := context.Background()
	const chunk = 2000
	evs := make([]event.Event, 0, chunk)
	for i := range n {
		amount := "150"
		if i < due {
			amount = "25"
		}
		evs = append(evs, lvlOrder(fmt.Sprint("p", i), fmt.Sprint("m", i), amount, "", t0))
		if len(evs) == chunk || i == n-1 {
			if _, err := p.ProcessBatch(ctx, evs); err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
}

func benchLevelAdvance(b *testing.B, members, due int) {
	ctx := context.Background()
	now := time.Date(2027, 1, 2, 0, 0, 0, 0, zone)
	for range b.N {
		b.StopTimer()
		p := testkit.OpenMemory(b, lvlBenchDef())
		lvlPopulate(b, p, members, due)
		runtime.GC() // the population's garbage is not Advance's cost
		b.StartTimer()
		n, err := p.Advance(ctx, now)
		if err != nil {
			b.Fatal(err)
		}
		if n != due {
			b.Fatalf("Advance performed %d items, want %d", n, due)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*due), "µs/due-item")
}

// BenchmarkLevelAdvance10k and BenchmarkLevelAdvance100k perform the same
// 1,000 due term ends among 10,000 and 100,000 members: the time should
// not grow tenfold with the members (only the store's tree gets deeper).
func BenchmarkLevelAdvance10k(b *testing.B) { benchLevelAdvance(b, 10_000, 1000) }

func BenchmarkLevelAdvance100k(b *testing.B) { benchLevelAdvance(b, 100_000, 1000) }

// BenchmarkLevelAdvance10kDue2k doubles what is due among 10,000 members:
// the time should double.
func BenchmarkLevelAdvance10kDue2k(b *testing.B) { benchLevelAdvance(b, 10_000, 2000) }
