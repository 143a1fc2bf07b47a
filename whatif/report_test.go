package whatif_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/whatif"
	"github.com/shopspring/decimal"
)

// TestActualMatchesReport replays, under the program it ran, a history
// of the tourism example's program in Europe/Berlin that goes through
// every kind of points move — rules and gifts, a day frozen by risk
// control and voided, a day's grants blocked, a redemption, an exchange
// between programs, a partial reversal of the redemption, a refund of
// half an order, a debit adjustment, expiries — and checks the what-if's
// figures, read from the replay's feed, against report.Build on the
// program that ran it, read from the ledger's totals and the domains'
// counters, month by month; and the points against figures worked by
// hand:
//
//   - January: m's tickets of 400 and 2,400 earn park 2,800, frozen (the
//     day's 2,800 reach the 2,500 threshold), and take m to Explorer and
//     Connoisseur (gifts of 100 and 300 park points and two shop-20
//     coupons); m's shop order of 2,000 earns 1,500 shops points (500
//     blocked at the 1,500 threshold); k's shop order of 800 on 31
//     January 23:00 earns 800 and takes k to Explorer (100 park points).
//     The frozen day is voided on the 12th. Park: issued 3,300,
//     outstanding 500, worth 6.5 at 0.013; shops: 2,300.
//   - February: k's ticket of 300 on the 1st at 00:00 (park 300); k
//     redeems 300 shops points and exchanges 101 for 50 park points
//     (0.5 a point, rounded down). Park 850 (11.05), shops 1,899.
//   - March: 100 of the redemption reversed, half of k's order of 800
//     refunded (400 points taken back from its lot). Shops 1,599.
//   - April: m's park debited 50 (from the gift of 100). Park 800 (10.4).
//   - August: the January park lots expire (six month-ends): m's 50 and
//     300 and k's 100. September: k's February 300 and 50. January 2026:
//     the shops points (valid to 31 December).
func TestActualMatchesReport(t *testing.T) {
	ctx := context.Background()
	def := testkit.RetailDef(t, "../examples/tourism/program.json")
	def.Zone = "Europe/Berlin"
	def.Events = append(def.Events, event.Type{Name: "shop_refund", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String, Required: true}}})
	def.Points.Rules[1].Order = "order_id"
	def.Points.Refunds = []points.Refund{{Event: "shop_refund", Order: "order_id", Amount: "amount"}}
	def.Points.Programs[0].Payment = &points.Payment{Rate: decimal.RequireFromString("0.013"), MaxShare: decimal.RequireFromString("0.5")}
	st := memory.New()
	p, err := membership.Open(st, def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	loc := p.Location()
	at := func(m time.Month, d, h int) time.Time { return time.Date(2025, m, d, h, 0, 0, 0, loc) }
	n := 0
	ev := func(member, typ string, tm time.Time, attrs event.Attrs) event.Event {
		n++
		return event.Event{ID: typ + string(rune('A'+n)), Member: member, Type: typ, Time: tm, Attrs: attrs}
	}
	ticket := func(m string, tm time.Time, amt string) event.Event {
		return ev(m, "ticket", tm, event.Attrs{"amount": event.DecString(amt), "order_id": event.Str(m + "t" + amt + tm.Format("0102"))})
	}
	shop := func(m string, tm time.Time, amt, id string) event.Event {
		return ev(m, "shop_order", tm, event.Attrs{"amount": event.DecString(amt), "order_id": event.Str(id)})
	}
	testkit.MustProcess(t, p,
		ticket("m", at(1, 10, 9), "400"), ticket("m", at(1, 10, 10), "2400"), shop("m", at(1, 10, 11), "2000", "s1"),
		shop("k", at(1, 31, 23), "800", "s2"), ticket("k", at(2, 1, 0), "300"))
	if _, err := p.Points().Void(ctx, points.ReviewRequest{RequestID: "v1", Member: "m", Operator: "ops", At: at(1, 12, 9), Program: "park", Date: "2025-01-10"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r1", Member: "k", Operator: "ops", At: at(2, 3, 9), Program: "shops", Ref: "x1", Amount: decimal.NewFromInt(300)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: "x1", Member: "k", Operator: "ops", At: at(2, 4, 9), From: "shops", To: "park", Amount: decimal.NewFromInt(101)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "rv1", Operator: "ops", At: at(3, 1, 0), Program: "shops", Ref: "x1", Amount: decimal.NewFromInt(100)}); err != nil {
		t.Fatal(err)
	}
	testkit.MustProcess(t, p, ev("k", "shop_refund", at(3, 31, 23), event.Attrs{"amount": event.DecString("400"), "order_id": event.Str("s2")}))
	if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "adj1", Member: "m", Operator: "ops", Note: "sorry", At: at(4, 2, 9), Program: "park", Amount: decimal.NewFromInt(-50)}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []time.Month{2, 3, 4, 5, 6, 7, 8} {
		if _, err := p.Advance(ctx, at(m, 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Advance(ctx, time.Date(2026, 1, 1, 1, 0, 0, 0, loc)); err != nil {
		t.Fatal(err)
	}
	rep, err := whatif.Run(ctx, st, def, def, whatif.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Months) != 13 || rep.Months[0].Start.Format("2006-01") != "2025-01" {
		t.Fatalf("%d months from %v; want 13 from January 2025 (the shops' lots expire on 1 January 2026)", len(rep.Months), rep.Months[0].Start)
	}
	type pts struct{ issued, redeemed, expired, outstanding, liability string }
	hand := map[string]map[string]pts{
		"2025-01": {"park": {"3300", "0", "0", "500", "6.5"}, "shops": {"2300", "0", "0", "2300", "0"}},
		"2025-02": {"park": {"300", "0", "0", "850", "11.05"}, "shops": {"0", "300", "0", "1899", "0"}},
		"2025-03": {"park": {"0", "0", "0", "850", "11.05"}, "shops": {"0", "0", "0", "1599", "0"}},
		"2025-04": {"park": {"0", "0", "0", "800", "10.4"}, "shops": {"0", "0", "0", "1599", "0"}},
		"2025-08": {"park": {"0", "0", "450", "350", "4.55"}, "shops": {"0", "0", "0", "1599", "0"}},
		"2025-09": {"park": {"0", "0", "350", "0", "0"}, "shops": {"0", "0", "0", "1599", "0"}},
		"2026-01": {"park": {"0", "0", "0", "0", "0"}, "shops": {"0", "0", "1599", "0", "0"}},
	}
	for _, m := range rep.Months {
		name := m.Start.Format("2006-01")
		if d := cmp.Diff(m.Actual, m.Changed, opts); d != "" {
			t.Errorf("%s: the same program on both sides differs (-actual +changed):\n%s", name, d)
		}
		for prog, w := range hand[name] {
			g := m.Actual.Points[prog]
			got := pts{g.Issued.String(), g.Redeemed.String(), g.Expired.String(), g.Outstanding.String(), g.Liability.String()}
			if got != w {
				t.Errorf("%s %s: got %+v, want %+v (by hand)", name, prog, got, w)
			}
		}
		from := rule.DateOf(m.Start, loc)
		r, err := report.Build(ctx, p, report.Query{From: from, To: from.AddMonths(1).AddDays(-1), Grain: report.Month})
		if err != nil {
			t.Fatal(err)
		}
		pd := r.Periods[0]
		for _, pt := range pd.Points {
			w := m.Actual.Points[pt.Program]
			if !w.Issued.Equal(pt.Issued) || !w.Redeemed.Equal(pt.Redeemed) || !w.Expired.Equal(pt.Expired) ||
				!w.Outstanding.Equal(pt.Outstanding) || !w.Liability.Equal(pt.Liability) {
				t.Errorf("%s %s: what-if %+v, report %+v", name, pt.Program, w, pt)
			}
		}
		levels := map[string]int64{}
		for _, c := range pd.Levels.Members {
			if c.Members > 0 {
				levels[c.Name] = c.Members
			}
		}
		if d := cmp.Diff(levels, m.Actual.Levels); d != "" || pd.Levels.Joins != m.Actual.Joins ||
			pd.Levels.Upgrades != m.Actual.Upgrades || pd.Levels.Downgrades != m.Actual.Downgrades {
			t.Errorf("%s levels: what-if %v %d/%d/%d, report %+v", name, m.Actual.Levels, m.Actual.Joins, m.Actual.Upgrades, m.Actual.Downgrades, *pd.Levels)
		}
		for _, c := range pd.Coupons {
			w := m.Actual.Coupons[c.Template]
			if w.Issued != c.Issued || w.Used != c.Used || !w.AmountOff.Equal(c.AmountOff) {
				t.Errorf("%s coupons %s: what-if %+v, report %+v", name, c.Template, w, c.Stat)
			}
		}
	}
}
