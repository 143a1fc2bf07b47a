package membership_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// interactionsDef is a ladder whose levels give one gift of each kind:
// A (100) 10 points, B (200) a coupon, C (300) 5 growth and 20 points;
// every level but the entry one lasts a month (months after 1), is kept
// with half its threshold over a window of a month and is left for the
// next lower. An order earns its amount as growth and may be returned.
func interactionsDef(zone string) membership.Definition {
	month := rule.Validity{Kind: rule.MonthsAfter, N: 1}
	lvl := func(name, upgrade, retention string, gifts ...rule.Reward) level.Level {
		return level.Level{Name: name, Upgrade: dec(upgrade), Retention: dec(retention), Validity: month, Window: 1, Gifts: gifts}
	}
	return membership.Definition{
		Zone: zone,
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String, Required: true}}},
			{Name: "return", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "base", Validity: rule.Validity{Kind: rule.Permanent}},
				lvl("A", "100", "50", rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")}),
				lvl("B", "200", "100", rule.Reward{Kind: rule.RewardCoupon, Template: "gift"}),
				lvl("C", "300", "150", rule.Reward{Kind: rule.RewardGrowth, Amount: dec("5")}, rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: dec("20")}),
				lvl("D", "1000", "500"),
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")},
				Order: &level.OrderRef{ID: "order_id", Amount: "amount"}}},
			Refunds: []level.RefundRule{{ID: "return", Event: "return", Order: "order_id", Amount: "amount"}},
		},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}}},
		Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "gift", Type: coupon.Cash, Amount: dec("10"),
			Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}}}},
	}
}

func interOrder(id, member, typ, amount, order string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: typ, Time: at,
		Attrs: event.Attrs{"amount": event.Dec(dec(amount)), "order_id": event.Str(order)}}
}

// interWant checks a member's level, growth, term end, points and number
// of coupons.
func interWant(t *testing.T, p *membership.Program, member, lvl, growth string, termEnd time.Time, pts string, coupons int) {
	t.Helper()
	ctx := context.Background()
	st, err := p.Levels().Status(ctx, member)
	if err != nil {
		t.Fatal(err)
	}
	if st.Level != lvl || !st.Growth.Equal(dec(growth)) || !st.TermEnd.Equal(termEnd) {
		t.Errorf("%s: %s, growth %s, term end %v; want %s, %s, %v", member, st.Level, st.Growth, st.TermEnd, lvl, growth, termEnd)
	}
	b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: member, At: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}) // the points are permanent
	if err != nil || !b.Main.Equal(dec(pts)) {
		t.Errorf("%s: points %+v, %v; want %s", member, b, err, pts)
	}
	cs, err := p.Coupons().List(ctx, member)
	if err != nil || len(cs) != coupons {
		t.Errorf("%s: %d coupons, %v; want %d", member, len(cs), err, coupons)
	}
}

func interHistory(t *testing.T, p *membership.Program, member string) []string {
	t.Helper()
	h, err := p.Levels().History(context.Background(), member, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range h {
		out = append(out, fmt.Sprintf("%s %s→%s %s", r.Cause, r.From, r.To, r.Time.Format("01-02 15:04")))
	}
	return out
}

// One order that crosses three levels grants each crossed level's gifts
// (points, a coupon, growth), and its retry grants nothing more; the
// term end a month on, with nothing earned in its window, downgrades to
// the next lower level, and an order the same day takes the member back
// up without the gifts again (once per member per level); a return of
// that order during the new term leaves the level to the term end, whose
// window counts it (−160, below every retention threshold). Worked by
// hand from SPEC "Levels and growth", on every store; Advance never runs,
// so the member's events perform the term ends first.
func TestLevelsInteractionsOneMember(t *testing.T) {
	sh := testkit.Shanghai
	onEveryStore(t, interactionsDef("Asia/Shanghai"), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		o1 := interOrder("o1", "ann", "order", "350", "n1", time.Date(2026, 3, 15, 10, 0, 0, 0, sh))
		first := mustProcess(t, p, o1)[0]
		// 350 crosses A, B and C: 10 + 20 points, a coupon, and 5 growth.
		april16 := time.Date(2026, 4, 16, 0, 0, 0, 0, sh) // 24:00 of 15 April
		interWant(t, p, "ann", "C", "355", april16, "30", 1)
		again, err := ps[1].Process(ctx, o1)
		if err != nil || !again.Duplicate || len(again.Changes) != len(first.Changes) {
			t.Fatalf("retry: %+v, %v; want the first outcome", again, err)
		}
		interWant(t, p, "ann", "C", "355", april16, "30", 1)

		// 16 April: the term end (window 16 March to 16 April: nothing)
		// leaves C for B, then 150 and 160 the same day reach C again
		// (310), without its gifts.
		mustProcess(t, p, interOrder("o2", "ann", "order", "150", "n2", time.Date(2026, 4, 16, 9, 0, 0, 0, sh)))
		may17 := time.Date(2026, 5, 17, 0, 0, 0, 0, sh)
		interWant(t, p, "ann", "B", "150", may17, "30", 1)
		mustProcess(t, p, interOrder("o3", "ann", "order", "160", "n3", time.Date(2026, 4, 16, 10, 0, 0, 0, sh)))
		interWant(t, p, "ann", "C", "310", may17, "30", 1)

		// A return of o3 on 20 April takes 160 and leaves C to its term end.
		mustProcess(t, ps[1], interOrder("r3", "ann", "return", "160", "n3", time.Date(2026, 4, 20, 10, 0, 0, 0, sh)))
		interWant(t, p, "ann", "C", "150", may17, "30", 1)
		// Its term end: the window (17 April to 17 May) holds the return
		// alone, −160 < 150: B from 17 May to 24:00 of 17 June, growth 0.
		mustProcess(t, p, interOrder("o4", "ann", "order", "1", "n4", may17))
		interWant(t, p, "ann", "B", "1", time.Date(2026, 6, 18, 0, 0, 0, 0, sh), "30", 1)

		want := []string{"join →base 03-15 10:00", "event base→C 03-15 10:00", "term_end C→B 04-16 00:00",
			"event B→C 04-16 10:00", "term_end C→B 05-17 00:00"}
		if diff := cmp.Diff(want, interHistory(t, p, "ann")); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		days, err := p.Levels().Days(ctx, rule.Date{Year: 2026, Month: 4, Day: 16}, rule.Date{Year: 2026, Month: 4, Day: 16})
		if err != nil {
			t.Fatal(err)
		}
		if d := days[0]; d.Upgrades != 1 || d.Downgrades != 1 || d.Members[3].Members != 1 || d.Members[2].Members != 0 {
			t.Errorf("16 April: %+v; want an upgrade, a downgrade and the member at C at its end", d)
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// A manual set grants no gift and leaves growth as it is: set to C, an
// order of 50 upgrades nothing; set back to the entry level, an order
// taking growth to 310 crosses A, B and C, whose gifts the member never
// had, and grants them all. Two orders at once of another member, each
// crossing the three levels, grant the gifts once.
func TestLevelsInteractionsManualSetThenGrowth(t *testing.T) {
	sh := testkit.Shanghai
	onEveryStore(t, interactionsDef("Asia/Shanghai"), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		at := time.Date(2026, 3, 15, 10, 0, 0, 0, sh)
		set := func(id, lvl string, at time.Time) {
			t.Helper()
			if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: id, Member: "bob", Operator: "ops", Note: "by hand", At: at, Level: lvl}); err != nil {
				t.Fatal(err)
			}
		}
		set("s1", "C", at)
		april16 := time.Date(2026, 4, 16, 0, 0, 0, 0, sh)
		interWant(t, p, "bob", "C", "0", april16, "0", 0)
		mustProcess(t, p, interOrder("o1", "bob", "order", "50", "n1", at.Add(time.Hour)))
		interWant(t, p, "bob", "C", "50", april16, "0", 0)
		set("s2", "base", at.Add(2*time.Hour))
		interWant(t, p, "bob", "base", "50", time.Time{}, "0", 0)
		mustProcess(t, ps[1], interOrder("o2", "bob", "order", "260", "n2", at.Add(3*time.Hour)))
		interWant(t, p, "bob", "C", "315", april16, "30", 1)
		want := []string{"join →base 03-15 10:00", "manual base→C 03-15 10:00", "manual C→base 03-15 12:00", "event base→C 03-15 13:00"}
		if diff := cmp.Diff(want, interHistory(t, p, "bob")); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}

		atOnce(2, func(g int) {
			if _, err := ps[g].Process(ctx, interOrder(fmt.Sprint("c", g), "cat", "order", "350", fmt.Sprint("m", g), at)); err != nil {
				t.Error(err)
			}
		})
		// 700 and C's 5: not D (1,000).
		interWant(t, p, "cat", "C", "705", april16, "30", 1)
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// Eight purchases of a monthly plan at once by one member, on two
// programs, with their eight retries and six orders of 100: the plan is
// bought once and renewed seven times, each from the expiry as it stands
// (31 January + 1 month is 28 February; then the 28th of each month: 28
// September), the retries change nothing, and the orders reach Gold
// whatever their order, with Silver's 30 and Gold's 50 once (680). Plans
// and the ladder are independent. On memory, bolt and PostgreSQL, under
// -race.
func TestLevelsInteractionsPlanPurchasesAtOnce(t *testing.T) {
	onEveryStore(t, testkit.LadderDef(level.NextLower), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		at := time.Date(2026, 1, 31, 10, 0, 0, 0, testkit.Shanghai)
		const buys, orders = 8, 6
		atOnce(2*buys+orders, func(g int) {
			var ev event.Event
			switch {
			case g < 2*buys:
				ev = event.Event{ID: fmt.Sprint("b", g%buys), Member: "dee", Type: "buy", Time: at, Attrs: event.Attrs{"plan": event.Str("Plus")}}
			default:
				ev = interOrder(fmt.Sprint("o", g), "dee", "order", "100", fmt.Sprint("n", g), at)
			}
			if _, err := ps[g%2].Process(ctx, ev); err != nil {
				t.Errorf("event %s: %v", ev.ID, err)
			}
		})
		st, err := ps[0].Levels().Status(ctx, "dee")
		if err != nil {
			t.Fatal(err)
		}
		wantEnd := time.Date(2026, 9, 28, 10, 0, 0, 0, testkit.Shanghai)
		if len(st.Plans) != 1 || !st.Plans[0].Expires.Equal(wantEnd) || !st.Plans[0].Since.Equal(at) {
			t.Errorf("plans %+v; want Plus from %v to %v", st.Plans, at, wantEnd)
		}
		if st.Level != "Gold" || !st.Growth.Equal(dec("680")) || !st.TermEnd.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, testkit.Shanghai)) {
			t.Errorf("status %s, %s, %v; want Gold, 680, to 24:00 of 31 January 2027", st.Level, st.Growth, st.TermEnd)
		}
		h, err := ps[1].Levels().History(ctx, "dee", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		purchases := 0
		for _, r := range h {
			if r.Cause == level.CausePurchase {
				purchases++
			}
		}
		if purchases != buys {
			t.Errorf("%d purchases in the history, want %d", purchases, buys)
		}
		counts, err := ps[0].Levels().Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range counts {
			if want := map[string]int64{"Plus": 1, "Gold": 1}[c.Name]; c.Members != want {
				t.Errorf("%s counts %d members, want %d", c.Name, c.Members, want)
			}
		}
		checkLedgerAndFeed(t, ps)
	})
}

// A retention review at a term end that daylight saving moves off 00:00
// reads the window's days of the program zone, by Advance, on every
// store. Santiago: A (a month, retention 50 over a month) reached on 5
// August 2026 ends at 24:00 of 5 September, 01:00 of the 6th (the clocks
// skip 00:00); 50 earned at 23:30 of the 5th count in the window
// [6 August, 6 September): kept, growth re-based to 50, the next term to
// 24:00 of 6 October. Gaza: A reached on 28 September 2021 ends at the
// first of 29 October's two midnights (21:00 UTC); 30 earned at 23:30 of
// the 28th count, 40 earned at 00:30 of the 29th (the first one, before
// the clocks go back) do not: 30 < 50, the entry level, growth 30, then
// 70 with the order of the 29th.
func TestLevelsInteractionsRetentionAcrossDaylightSaving(t *testing.T) {
	t.Run("skipped midnight", func(t *testing.T) {
		scl := testkit.Zone("America/Santiago")
		onEveryStore(t, interactionsDef("America/Santiago"), func(t *testing.T, ps [2]*membership.Program) {
			ctx := context.Background()
			p := ps[0]
			mustProcess(t, p, interOrder("o1", "eve", "order", "100", "n1", time.Date(2026, 8, 5, 12, 0, 0, 0, scl)),
				interOrder("o2", "eve", "order", "50", "n2", time.Date(2026, 9, 5, 23, 30, 0, 0, scl)))
			end := time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC) // 01:00 -03
			interWant(t, p, "eve", "A", "150", end, "10", 0)
			if n, err := ps[1].Advance(ctx, end.Add(-time.Nanosecond)); err != nil || n != 0 {
				t.Fatalf("Advance to a nanosecond before the term end: %d, %v; want 0", n, err)
			}
			if n, err := ps[1].Advance(ctx, end); err != nil || n != 1 {
				t.Fatalf("Advance to the term end: %d, %v; want 1", n, err)
			}
			interWant(t, p, "eve", "A", "50", time.Date(2026, 10, 7, 0, 0, 0, 0, scl), "10", 0)
			if st, err := p.Levels().Status(ctx, "eve"); err != nil || !st.Since.Equal(end) {
				t.Errorf("status %+v, %v; want the new term from %v", st, err, end)
			}
		})
	})
	t.Run("doubled midnight", func(t *testing.T) {
		gaza := testkit.Zone("Asia/Gaza")
		onEveryStore(t, interactionsDef("Asia/Gaza"), func(t *testing.T, ps [2]*membership.Program) {
			ctx := context.Background()
			p := ps[0]
			end := time.Date(2021, 10, 28, 21, 0, 0, 0, time.UTC) // the first 00:00 of the 29th, +03
			mustProcess(t, p, interOrder("o1", "fay", "order", "100", "n1", time.Date(2021, 9, 28, 12, 0, 0, 0, gaza)),
				interOrder("o2", "fay", "order", "30", "n2", time.Date(2021, 10, 28, 23, 30, 0, 0, gaza)))
			interWant(t, p, "fay", "A", "130", end, "10", 0)
			if n, err := ps[1].Advance(ctx, end); err != nil || n != 1 {
				t.Fatalf("Advance to the term end: %d, %v; want 1", n, err)
			}
			interWant(t, p, "fay", "base", "30", time.Time{}, "10", 0)
			mustProcess(t, p, interOrder("o3", "fay", "order", "40", "n3", end.Add(30*time.Minute)))
			interWant(t, p, "fay", "base", "70", time.Time{}, "10", 0)
			days, err := p.Levels().GrowthDays(ctx, "fay", rule.Date{Year: 2021, Month: 10, Day: 28})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range days {
				got = append(got, d.Day.String()+" "+d.Growth.String())
			}
			if diff := cmp.Diff([]string{"2021-10-28 30", "2021-10-29 40"}, got); diff != "" {
				t.Errorf("growth days (-want +got):\n%s", diff)
			}
		})
	})
}
