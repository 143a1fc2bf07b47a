package points_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

var ptsBenchStores = []struct {
	name string
	open func(testing.TB, membership.Definition, ...membership.Option) *membership.Program
}{{"memory", testkit.OpenMemory}, {"bolt", testkit.OpenBolt}}

func ptsBenchDef() membership.Definition {
	return ptsDef(func(d *points.Definition) {
		r := ptsBuy
		r.Validity = rule.Validity{Kind: rule.MonthEnds, N: 0}
		r.Caps = rule.Caps{{Period: rule.Day, Limit: dec("1000000000")}}
		d.Rules = []points.Rule{r}
	})
}

// ptsLoad processes n orders of 1 point for members[i%len(members)] in
// batches of 1000, one second apart from start.
func ptsLoad(b *testing.B, p *membership.Program, n int, members []string, start time.Time) {
	b.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 1000 {
		var evs []event.Event
		for j := i; j < min(i+1000, n); j++ {
			evs = append(evs, ptsOrder(fmt.Sprintf("load%d", j), members[j%len(members)], "1", start.Add(time.Duration(j)*time.Second)))
		}
		if _, err := p.ProcessBatch(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEarn processes orders that earn points (the part's hot path,
// Rule.Earn included) through Program.Process.
func BenchmarkEarn(b *testing.B) {
	for _, st := range ptsBenchStores {
		b.Run(st.name, func(b *testing.B) {
			p := st.open(b, ptsBenchDef())
			ctx := context.Background()
			at := ptsAt("2026-03-01 10:00")
			i := 0
			for b.Loop() {
				if _, err := p.Process(ctx, ptsOrder(fmt.Sprint(i), fmt.Sprint("m", i%100), "88.50", at.Add(time.Duration(i)*time.Millisecond))); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkRedeem(b *testing.B) {
	for _, st := range ptsBenchStores {
		b.Run(st.name, func(b *testing.B) {
			p := st.open(b, ptsBenchDef())
			ctx := context.Background()
			at := ptsAt("2026-03-01 10:00")
			// 100 lots of 1,000,000 points: a redemption reads one or two.
			for i := range 100 {
				mustProcess(b, p, ptsOrder(fmt.Sprint("seed", i), "m", "1000000", at))
			}
			i := 0
			for b.Loop() {
				id := fmt.Sprint("r", i)
				if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: id, Member: "m", At: at.Add(time.Minute), Program: "mall", Ref: id, Amount: dec("3")}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkStatementPage reads the newest page of 50 of a member
// with 100,000 entries.
func BenchmarkStatementPage(b *testing.B) {
	p := testkit.OpenMemory(b, ptsBenchDef())
	ptsLoad(b, p, 100000, []string{"m"}, ptsAt("2026-01-01 00:00"))
	ctx := context.Background()
	q := points.StatementQuery{Program: "mall", Member: "m", Limit: 50, Newest: true}
	for b.Loop() {
		page, err := p.Points().Statement(ctx, q)
		if err != nil || len(page.Entries) != 50 || page.Next == "" {
			b.Fatalf("page of %d, %v", len(page.Entries), err)
		}
	}
}

// BenchmarkAdvanceExpire expires 100,000 lots of 1,000 members in
// one Advance: the lots of a member all expire at the month's end, so
// they are one due item per member.
func BenchmarkAdvanceExpire(b *testing.B) {
	members := make([]string, 1000)
	for i := range members {
		members[i] = fmt.Sprint("m", i)
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		p := testkit.OpenMemory(b, ptsBenchDef())
		ptsLoad(b, p, 100000, members, ptsAt("2026-01-01 00:00"))
		b.StartTimer()
		n, err := p.Advance(ctx, ptsAt("2026-03-01 00:00"))
		if err != nil || n != len(members) {
			b.Fatalf("Advance performed %d, %v", n, err)
		}
		b.StopTimer()
		for _, m := range members {
			bal, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: ptsAt("2026-03-01 00:00")})
			if err != nil || !bal.Main.IsZero() {
				b.Fatalf("%s keeps %+v, %v", m, bal, err)
			}
		}
		b.StartTimer()
	}
}

// BenchmarkEarnPending processes orders whose points are pending for 7
// days (a due item for the release, and its time recorded for Lots).
func BenchmarkEarnPending(b *testing.B) {
	def := ptsDef(func(d *points.Definition) {
		r := ptsBuy
		r.PendingDays = 7
		d.Rules = []points.Rule{r}
	})
	p := testkit.OpenMemory(b, def)
	ctx := context.Background()
	at := ptsAt("2026-03-01 10:00")
	i := 0
	for b.Loop() {
		if _, err := p.Process(ctx, ptsOrder(fmt.Sprint(i), fmt.Sprint("m", i%100), "88.50", at.Add(time.Duration(i)*time.Millisecond))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
