package report_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// berlinDef is a program in a zone with summer time: Silver (permanent)
// and Gold from 500 of growth (a month's term, kept with 500 in the month
// before its end, else down to Silver); a point a yuan ordered, expiring
// at the end of the next month, reversed by refunds in proportion; a
// coupon of 10 on register, valid on the day.
const berlinDef = `{
  "zone": "Europe/Berlin",
  "events": [
    {"name": "register"},
    {"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}, {"name": "order", "type": "string", "required": true}]},
    {"name": "refund", "attributes": [{"name": "amount", "type": "decimal", "required": true}, {"name": "order", "type": "string", "required": true}]}
  ],
  "levels": {
    "ladder": [
      {"name": "Silver", "upgrade": "0", "validity": {"kind": "permanent"}},
      {"name": "Gold", "upgrade": "500", "retention": "500", "validity": {"kind": "months_after", "n": 1}, "window": 1, "downgrade": "lowest"}
    ],
    "growth": [{"id": "spend", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
  },
  "points": {
    "programs": [{"name": "mall"}],
    "rules": [{"id": "buy", "program": "mall", "event": "order", "order": "order",
               "formula": {"kind": "multiplier", "base": "amount", "rate": "1"},
               "validity": {"kind": "month_ends", "n": 1}}],
    "refunds": [{"event": "refund", "order": "order", "amount": "amount"}]
  },
  "coupons": {
    "templates": [{"name": "ten", "title": "10 off", "type": "cash", "amount": "10",
                   "use": {"validity": {"kind": "days_after", "n": 1}}}],
    "gifts": [{"event": "register", "template": "ten"}]
  }
}`

// berlinHistory runs, in Europe/Berlin (UTC+1 in winter, UTC+2 from 30
// March 2025):
//
//   - 31 January 23:30 (22:30 UTC): a registers: joins Silver, a coupon
//     valid to 24:00.
//   - 1 February 00:30 (31 January 23:30 UTC): a orders 300: 300 points,
//     expiring at 24:00 on 31 March. Advance to 01:00: a's coupon expired
//     at 00:00, on 1 February.
//   - 15 March: a redeems 120 points.
//   - 31 March 10:00: b registers (joins, a coupon) and uses the coupon at
//     noon on an order of 50 (10 off); 23:30 (21:30 UTC): b orders 600:
//     600 growth, Gold (its term ends at 24:00 on 30 April), 600 points
//     expiring at the end of the next month, 24:00 on 30 April.
//   - 1 April 00:30 (31 March 22:30 UTC): b's order is refunded for 150
//     of 600: 150 points back. Advance to 01:00: a's 180 left expire at
//     00:00.
//   - Advance to 1 May 01:00: b's 450 points left expire at 00:00, and
//     b's Gold term ends with no growth in April: down to Silver.
func berlinHistory(t *testing.T) *membership.Program {
	t.Helper()
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(berlinDef))
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	loc := p.Location()
	at := func(m time.Month, d, h, min int) time.Time { return time.Date(2025, m, d, h, min, 0, 0, loc) }
	ev := func(id, member, typ string, when time.Time, amount string) event.Event {
		e := event.Event{ID: id, Member: member, Type: typ, Time: when}
		if amount != "" {
			e.Attrs = event.Attrs{"amount": event.DecString(amount), "order": event.Str(id)}
		}
		return e
	}
	adv := func(tm time.Time) {
		t.Helper()
		if _, err := p.Advance(ctx, tm); err != nil {
			t.Fatal(err)
		}
	}
	testkit.MustProcess(t, p, ev("reg-a", "a", "register", at(1, 31, 23, 30), ""), ev("o1", "a", "order", at(2, 1, 0, 30), "300"))
	adv(at(2, 1, 1, 0))
	adv(at(3, 1, 0, 0))
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "red", Member: "a", Operator: "ops", At: at(3, 15, 10, 0),
		Program: "mall", Ref: "x", Amount: decimal.NewFromInt(120)}); err != nil {
		t.Fatal(err)
	}
	testkit.MustProcess(t, p, ev("reg-b", "b", "register", at(3, 31, 10, 0), ""))
	cs, err := p.Coupons().List(ctx, "b")
	if err != nil || len(cs) != 1 {
		t.Fatalf("b's coupons: %v, %v", cs, err)
	}
	if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "use-b", Code: cs[0].Code,
		Order: coupon.Order{ID: "ob", Member: "b", Time: at(3, 31, 12, 0), Lines: []coupon.Line{{Product: "tea", Amount: decimal.NewFromInt(50)}}}}); err != nil {
		t.Fatal(err)
	}
	refund := ev("r1", "b", "refund", at(4, 1, 0, 30), "150")
	refund.Attrs["order"] = event.Str("o2")
	testkit.MustProcess(t, p, ev("o2", "b", "order", at(3, 31, 23, 30), "600"), refund)
	adv(at(4, 1, 1, 0))
	adv(at(5, 1, 1, 0))
	return p
}

// TestMonthlyBerlin checks a monthly report of berlinHistory, worked by
// hand: each figure falls in the month of its time in Berlin, not in
// UTC; a refund after a month's edge moves the next month's points; a
// month before the history and one after it have no moves; and the
// liability, at 0.0125 a point, is outstanding × rate exactly (450 ×
// 0.0125 = 5.625, not rounded to the cent).
//
// Erasing both members afterwards (personal data only) changes no figure.
func TestMonthlyBerlin(t *testing.T) {
	ctx := context.Background()
	p := berlinHistory(t)
	q := report.Query{From: rule.Date{Year: 2024, Month: 12, Day: 1}, To: rule.Date{Year: 2025, Month: 6, Day: 30},
		Grain: report.Month, Rates: map[string]decimal.Decimal{"mall": d("0.0125")}}
	r, err := report.Build(ctx, p, q)
	if err != nil {
		t.Fatal(err)
	}
	members := func(silver, gold int64) []level.Count {
		return []level.Count{{Name: "Silver", Members: silver}, {Name: "Gold", Members: gold}}
	}
	mall := func(opening, issued, redeemed, expired, other, outstanding, liability string) []report.Points {
		return []report.Points{{Program: "mall", Opening: d(opening), Issued: d(issued), Redeemed: d(redeemed), Expired: d(expired), Other: d(other),
			Outstanding: d(outstanding), Rate: d("0.0125"), Liability: d(liability), HasRate: true}}
	}
	ten := func(issued, used, expired int64, off string) []report.Coupons {
		return []report.Coupons{{Template: "ten", Stat: coupon.Stat{Issued: issued, Used: used, Expired: expired, AmountOff: d(off)}}}
	}
	month := func(y, m int) rule.Date { return rule.Date{Year: y, Month: time.Month(m), Day: 1} }
	end := func(y, m int) rule.Date { return month(y, m).AddMonths(1).AddDays(-1) }
	want := []report.Period{
		{Name: "2024-12", From: month(2024, 12), To: end(2024, 12), Levels: &report.Levels{Members: members(0, 0)},
			Points: mall("0", "0", "0", "0", "0", "0", "0"), Coupons: ten(0, 0, 0, "0")},
		{Name: "2025-01", From: month(2025, 1), To: end(2025, 1), Levels: &report.Levels{Members: members(1, 0), Joins: 1},
			Points: mall("0", "0", "0", "0", "0", "0", "0"), Coupons: ten(1, 0, 0, "0")},
		{Name: "2025-02", From: month(2025, 2), To: end(2025, 2), Levels: &report.Levels{Members: members(1, 0)},
			Points: mall("0", "300", "0", "0", "0", "300", "3.75"), Coupons: ten(0, 0, 1, "0")},
		{Name: "2025-03", From: month(2025, 3), To: end(2025, 3), Levels: &report.Levels{Members: members(1, 1), Joins: 1, Upgrades: 1},
			Points: mall("300", "600", "120", "0", "0", "780", "9.75"), Coupons: ten(1, 1, 0, "10")},
		{Name: "2025-04", From: month(2025, 4), To: end(2025, 4), Levels: &report.Levels{Members: members(1, 1)},
			Points: mall("780", "0", "0", "180", "-150", "450", "5.625"), Coupons: ten(0, 0, 0, "0")},
		{Name: "2025-05", From: month(2025, 5), To: end(2025, 5), Levels: &report.Levels{Members: members(2, 0), Downgrades: 1},
			Points: mall("450", "0", "0", "450", "0", "0", "0"), Coupons: ten(0, 0, 0, "0")},
		{Name: "2025-06", From: month(2025, 6), To: end(2025, 6), Levels: &report.Levels{Members: members(2, 0)},
			Points: mall("0", "0", "0", "0", "0", "0", "0"), Coupons: ten(0, 0, 0, "0")},
	}
	if diff := cmp.Diff(want, r.Periods, cmpDec); diff != "" {
		t.Errorf("monthly report (-want +got):\n%s", diff)
	}
	for _, m := range []string{"a", "b"} {
		if _, err := p.Erase(ctx, membership.EraseRequest{RequestID: "erase-" + m, Member: m, Operator: "ops",
			At: time.Date(2025, 6, 2, 10, 0, 0, 0, p.Location())}); err != nil {
			t.Fatal(err)
		}
	}
	if r, err = report.Build(ctx, p, q); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, r.Periods, cmpDec); diff != "" {
		t.Errorf("monthly report after erasing both members (-want +got):\n%s", diff)
	}
}

// TestDailyBerlin checks the days around the edges of berlinHistory: the
// register of 31 January 23:30 and the order of 1 February 00:30 (the
// same UTC day) fall on two days; so do b's order of 31 March 23:30 and
// its refund of 1 April 00:30.
func TestDailyBerlin(t *testing.T) {
	p := berlinHistory(t)
	day := func(m, dd int) rule.Date { return rule.Date{Year: 2025, Month: time.Month(m), Day: dd} }
	type fig struct {
		joins, upgrades        int64
		issued, expired, other string
		outstanding            string
		coupons, expiredC      int64
	}
	for _, c := range []struct {
		from, to rule.Date
		want     []fig
	}{
		{day(1, 31), day(2, 1), []fig{{1, 0, "0", "0", "0", "0", 1, 0}, {0, 0, "300", "0", "0", "300", 0, 1}}},
		{day(3, 31), day(4, 1), []fig{{1, 1, "600", "0", "0", "780", 1, 0}, {0, 0, "0", "180", "-150", "450", 0, 0}}},
	} {
		r, err := report.Build(context.Background(), p, report.Query{From: c.from, To: c.to, Grain: report.Day})
		if err != nil {
			t.Fatal(err)
		}
		var got []fig
		for _, pd := range r.Periods {
			pt := pd.Points[0]
			got = append(got, fig{pd.Levels.Joins, pd.Levels.Upgrades, pt.Issued.String(), pt.Expired.String(), pt.Other.String(),
				pt.Outstanding.String(), pd.Coupons[0].Issued, pd.Coupons[0].Expired})
		}
		if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(fig{})); diff != "" {
			t.Errorf("%s..%s (-want +got):\n%s", c.from, c.to, diff)
		}
	}
}
