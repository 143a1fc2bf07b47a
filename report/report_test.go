package report_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// smallDef is the program of the hand-worked history: Silver (permanent)
// and Gold at 1,000 growth (one month, kept with 1,000 growth in the
// month before its end, else down to the lowest level); a growth point and
// a point per yuan ordered, the points expiring at the end of the month;
// a welcome coupon of 10 on register, valid on the day; stored value; and a
// task of two orders rewarding 50 points.
const smallDef = `{
  "zone": "Asia/Shanghai",
  "events": [
    {"name": "register"},
    {"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
    {"name": "recharge", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
    {"name": "pay", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}
  ],
  "stored_value": {"recharge": "recharge", "spend": "pay", "amount": "amount"},
  "levels": {
    "ladder": [
      {"name": "Silver", "upgrade": "0", "validity": {"kind": "permanent"}},
      {"name": "Gold", "upgrade": "1000", "retention": "1000", "validity": {"kind": "months_after", "n": 1}, "window": 1, "downgrade": "lowest"}
    ],
    "growth": [{"id": "spend", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
  },
  "points": {
    "programs": [{"name": "mall"}],
    "rules": [{"id": "buy", "program": "mall", "event": "order",
               "formula": {"kind": "multiplier", "base": "amount", "rate": "1"},
               "validity": {"kind": "month_ends", "n": 0}}]
  },
  "coupons": {
    "templates": [{"name": "welcome", "title": "10 off", "type": "cash", "amount": "10",
                   "use": {"validity": {"kind": "days_after", "n": 1}}}],
    "gifts": [{"event": "register", "template": "welcome"}]
  },
  "tasks": {
    "tasks": [{"name": "two-orders", "kind": "repeat", "steps": [{"event": "order"}], "times": 2,
               "rewards": [{"kind": "points", "program": "mall", "amount": "50"}]}]
  }
}`

func at(month time.Month, day, hour int) time.Time {
	return time.Date(2025, month, day, hour, 0, 0, 0, testkit.Shanghai)
}

func date(month time.Month, day int) rule.Date {
	return rule.Date{Year: 2025, Month: month, Day: day}
}

// smallHistory runs the hand-worked history:
//
//   - 1 March: a registers (joins Silver, gets a welcome coupon, valid
//     that day) and orders 300 (300 growth, 300 points, the task's first
//     step).
//   - 2 March: b registers (joins, a coupon); a orders 800 (growth 1,100:
//     Gold, its term ending at 24:00 on 2 April; 800 points; the task
//     completes: 50 points); a recharges 200 and pays 80 from it; b uses
//     the coupon on an order of 50 (10 off). a's coupon expired at 00:00.
//   - 5 March: a redeems 100 points (taken from the lot of 300).
//   - 1 April, 00:00: the points a's orders earned expire: 200 + 800 =
//     1,000. The task's 50 are not the rule's: the program sets no
//     validity for points granted otherwise, so they never expire.
//   - 3 April, 00:00: a's Gold term ends with no growth in the month
//     before: down to Silver.
func smallHistory(t *testing.T) *membership.Program {
	return smallHistoryOn(t, memory.New())
}

func smallHistoryOn(t *testing.T, st store.Store) *membership.Program {
	t.Helper()
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(smallDef))
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(id, member, typ string, when time.Time, amount string) event.Event {
		e := event.Event{ID: id, Member: member, Type: typ, Time: when}
		if amount != "" {
			e.Attrs = event.Attrs{"amount": event.DecString(amount)}
		}
		return e
	}
	testkit.MustProcess(t, p,
		ev("reg-a", "a", "register", at(3, 1, 10), ""),
		ev("o1", "a", "order", at(3, 1, 11), "300"),
		ev("reg-b", "b", "register", at(3, 2, 10), ""),
		ev("o2", "a", "order", at(3, 2, 12), "800"),
		ev("top", "a", "recharge", at(3, 2, 13), "200"),
		ev("pay", "a", "pay", at(3, 2, 13), "80"),
	)
	if _, err := p.Advance(ctx, at(3, 2, 13)); err != nil {
		t.Fatal(err)
	}
	cs, err := p.Coupons().List(ctx, "b")
	if err != nil || len(cs) != 1 {
		t.Fatalf("b's coupons: %v, %v", cs, err)
	}
	_, err = p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "use-b", Code: cs[0].Code,
		Order: coupon.Order{ID: "ob", Member: "b", Time: at(3, 2, 14), Lines: []coupon.Line{{Product: "tea", Amount: testkit.Dec("50")}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "red-a", Member: "a", Operator: "ops", At: at(3, 5, 10),
		Program: "mall", Ref: "gift-1", Amount: testkit.Dec("100")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, at(4, 4, 0)); err != nil {
		t.Fatal(err)
	}
	return p
}

var cmpDec = cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })

func d(s string) decimal.Decimal { return testkit.Dec(s) }

func TestMonthlyHandWorked(t *testing.T) {
	p := smallHistory(t)
	r, err := report.Build(context.Background(), p, report.Query{From: date(3, 1), To: date(4, 30), Grain: report.Month,
		Rates: map[string]decimal.Decimal{"mall": d("0.01")}})
	if err != nil {
		t.Fatal(err)
	}
	members := func(silver, gold int64) []level.Count {
		return []level.Count{{Name: "Silver", Members: silver}, {Name: "Gold", Members: gold}}
	}
	want := []report.Period{{
		Name: "2025-03", From: date(3, 1), To: date(3, 31),
		Levels: &report.Levels{Members: members(1, 1), Joins: 2, Upgrades: 1},
		Points: []report.Points{{Program: "mall", Opening: d("0"), Issued: d("1150"), Redeemed: d("100"), Expired: d("0"), Other: d("0"),
			Outstanding: d("1050"), Rate: d("0.01"), Liability: d("10.5"), HasRate: true}},
		Coupons: []report.Coupons{{Template: "welcome", Stat: coupon.Stat{Issued: 2, Used: 1, Expired: 1, AmountOff: d("10")}}},
		Value:   &report.Value{Opening: d("0"), Recharged: d("200"), Spent: d("80"), Refunded: d("0"), Other: d("0"), Float: d("120")},
		Tasks:   []report.Tasks{{Task: "two-orders", Completions: 1}},
	}, {
		Name: "2025-04", From: date(4, 1), To: date(4, 30),
		Levels: &report.Levels{Members: members(2, 0), Downgrades: 1},
		Points: []report.Points{{Program: "mall", Opening: d("1050"), Issued: d("0"), Redeemed: d("0"), Expired: d("1000"), Other: d("0"),
			Outstanding: d("50"), Rate: d("0.01"), Liability: d("0.5"), HasRate: true}},
		Coupons: []report.Coupons{{Template: "welcome", Stat: coupon.Stat{AmountOff: d("0")}}},
		Value:   &report.Value{Opening: d("120"), Recharged: d("0"), Spent: d("0"), Refunded: d("0"), Other: d("0"), Float: d("120")},
		Tasks:   []report.Tasks{{Task: "two-orders"}},
	}}
	if diff := cmp.Diff(want, r.Periods, cmpDec); diff != "" {
		t.Errorf("monthly report (-want +got):\n%s", diff)
	}
}

// TestDailyHandWorked checks the days of the history that had moves, and
// one quiet day, of a daily report.
func TestDailyHandWorked(t *testing.T) {
	p := smallHistory(t)
	r, err := report.Build(context.Background(), p, report.Query{From: date(3, 1), To: date(4, 3), Grain: report.Day})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Periods) != 34 {
		t.Fatalf("%d days; want 34 (1 March to 3 April)", len(r.Periods))
	}
	byDay := map[string]report.Period{}
	for _, pd := range r.Periods {
		byDay[pd.Name] = pd
	}
	type fig struct {
		Silver, Gold, Joins, Up, Down   int64
		Issued, Redeemed, Expired, Held string
		Issue, Used, Expire             int64
		Float                           string
		Done                            int64
	}
	want := map[string]fig{
		"2025-03-01": {Silver: 1, Joins: 1, Issued: "300", Redeemed: "0", Expired: "0", Held: "300", Issue: 1, Float: "0"},
		"2025-03-02": {Silver: 1, Gold: 1, Joins: 1, Up: 1, Issued: "850", Redeemed: "0", Expired: "0", Held: "1150", Issue: 1, Used: 1, Expire: 1, Float: "120", Done: 1},
		"2025-03-03": {Silver: 1, Gold: 1, Issued: "0", Redeemed: "0", Expired: "0", Held: "1150", Float: "120"},
		"2025-03-05": {Silver: 1, Gold: 1, Issued: "0", Redeemed: "100", Expired: "0", Held: "1050", Float: "120"},
		"2025-04-01": {Silver: 1, Gold: 1, Issued: "0", Redeemed: "0", Expired: "1000", Held: "50", Float: "120"},
		"2025-04-03": {Silver: 2, Down: 1, Issued: "0", Redeemed: "0", Expired: "0", Held: "50", Float: "120"},
	}
	for day, w := range want {
		pd := byDay[day]
		lv, pt, cp := pd.Levels, pd.Points[0], pd.Coupons[0]
		got := fig{Silver: lv.Members[0].Members, Gold: lv.Members[1].Members, Joins: lv.Joins, Up: lv.Upgrades, Down: lv.Downgrades,
			Issued: pt.Issued.String(), Redeemed: pt.Redeemed.String(), Expired: pt.Expired.String(), Held: pt.Outstanding.String(),
			Issue: cp.Issued, Used: cp.Used, Expire: cp.Expired, Float: pd.Value.Float.String(), Done: pd.Tasks[0].Completions}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", day, diff)
		}
		if pt.HasRate {
			t.Errorf("%s: a liability without a rate (the program sets none, the query gives none)", day)
		}
	}
}

// stripedStore is a memory store that asks for its shared totals in 7
// stripes (store.Striper), as a store of concurrent writers does.
type stripedStore struct{ *memory.Store }

func (stripedStore) Stripes() int { return 7 }

// TestStripes builds the hand-worked history on a store that splits the
// totals into stripes by member: the report sums them to the same
// figures.
func TestStripes(t *testing.T) {
	if total.Stripe("a", 7) == total.Stripe("b", 7) {
		t.Fatal("a and b share a stripe: the test would sum one")
	}
	q := report.Query{From: date(3, 1), To: date(4, 30), Grain: report.Day}
	want, err := report.Build(context.Background(), smallHistory(t), q)
	if err != nil {
		t.Fatal(err)
	}
	got, err := report.Build(context.Background(), smallHistoryOn(t, stripedStore{memory.New()}), q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpDec); diff != "" {
		t.Errorf("report on stripes (-one stripe +seven):\n%s", diff)
	}
}

func TestCSV(t *testing.T) {
	p := smallHistory(t)
	r, err := report.Build(context.Background(), p, report.Query{From: date(4, 1), To: date(4, 30), Grain: report.Month,
		Rates: map[string]decimal.Decimal{"mall": d("0.01")}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := `period,section,name,figure,value
2025-04,levels,Silver,members,2
2025-04,levels,Gold,members,0
2025-04,levels,,joins,0
2025-04,levels,,upgrades,0
2025-04,levels,,downgrades,1
2025-04,points,mall,opening,1050
2025-04,points,mall,issued,0
2025-04,points,mall,redeemed,0
2025-04,points,mall,expired,1000
2025-04,points,mall,other,0
2025-04,points,mall,outstanding,50
2025-04,points,mall,rate,0.01
2025-04,points,mall,liability,0.5
2025-04,coupons,welcome,issued,0
2025-04,coupons,welcome,used,0
2025-04,coupons,welcome,expired,0
2025-04,coupons,welcome,revoked,0
2025-04,coupons,welcome,amount_off,0
2025-04,value,,opening,120
2025-04,value,,recharged,0
2025-04,value,,spent,0
2025-04,value,,refunded,0
2025-04,value,,withdrawn,0
2025-04,value,,other,0
2025-04,value,,float,120
2025-04,tasks,two-orders,completions,0
`
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(buf.String(), "\n")); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
}

// The period and name cells are text (a name is the definition's): each
// start of one a spreadsheet would read a formula from gets a ', as in
// package export. The values are numbers the library writes, negative
// ones too, and stay as they are. The cells used to be written as they
// were.
func TestCSVProtectsTextCells(t *testing.T) {
	r := &report.Report{Grain: report.Month, Periods: []report.Period{{
		Name:    "2025-04",
		Levels:  &report.Levels{Members: []level.Count{{Name: `=HYPERLINK("http://x","y")`, Members: 3}}, Joins: 1, Downgrades: 2},
		Points:  []report.Points{{Program: "＝1+1", Opening: d("10"), Other: d("-5.00"), Outstanding: d("5")}},
		Coupons: []report.Coupons{{Template: " @x", Stat: coupon.Stat{Issued: 1, AmountOff: d("2.50")}}},
		Value:   &report.Value{Other: d("-12.5"), Float: d("-12.5")},
		Tasks:   []report.Tasks{{Task: "a;=b", Completions: 4}},
	}, {
		Name:  "=x",
		Tasks: []report.Tasks{{Task: "-1", Completions: 0}},
	}}}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	want := `period,section,name,figure,value
2025-04,levels,"'=HYPERLINK(""http://x"",""y"")",members,3
2025-04,levels,,joins,1
2025-04,levels,,upgrades,0
2025-04,levels,,downgrades,2
2025-04,points,'＝1+1,opening,10
2025-04,points,'＝1+1,issued,0
2025-04,points,'＝1+1,redeemed,0
2025-04,points,'＝1+1,expired,0
2025-04,points,'＝1+1,other,-5
2025-04,points,'＝1+1,outstanding,5
2025-04,coupons,' @x,issued,1
2025-04,coupons,' @x,used,0
2025-04,coupons,' @x,expired,0
2025-04,coupons,' @x,revoked,0
2025-04,coupons,' @x,amount_off,2.5
2025-04,value,,opening,0
2025-04,value,,recharged,0
2025-04,value,,spent,0
2025-04,value,,refunded,0
2025-04,value,,withdrawn,0
2025-04,value,,other,-12.5
2025-04,value,,float,-12.5
2025-04,tasks,a;'=b,completions,4
'=x,tasks,'-1,completions,0
`
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(buf.String(), "\n")); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
}

func TestInvalidQuery(t *testing.T) {
	p := smallHistory(t)
	for name, q := range map[string]report.Query{
		"to before from": {From: date(3, 2), To: date(3, 1), Grain: report.Day},
		"no grain":       {From: date(3, 1), To: date(3, 1)},
		"no dates":       {Grain: report.Day},
		"negative rate":  {From: date(3, 1), To: date(3, 1), Grain: report.Day, Rates: map[string]decimal.Decimal{"mall": d("-1")}},
		"unknown rate":   {From: date(3, 1), To: date(3, 1), Grain: report.Day, Rates: map[string]decimal.Decimal{"park": d("1")}},
		"100 years":      {From: date(3, 1), To: date(3, 1).AddDays(level.MaxDays), Grain: report.Month},
	} {
		if _, err := report.Build(context.Background(), p, q); !errors.Is(err, report.ErrInvalidQuery) || !errors.Is(err, membership.ErrInvalidArgument) {
			t.Errorf("%s: Build = %v; want ErrInvalidQuery and ErrInvalidArgument", name, err)
		}
	}
}

// A nil program (Build) or writer (WriteCSV) is refused with
// ErrInvalidArgument naming the argument; both used to panic.
func TestNilArguments(t *testing.T) {
	q := report.Query{From: date(4, 1), To: date(4, 30), Grain: report.Month}
	r, err := report.Build(context.Background(), nil, q)
	if !errors.Is(err, report.ErrInvalidArgument) || !strings.Contains(err.Error(), "p: nil program") || r != nil {
		t.Errorf("Build(nil) = %v, %v; want ErrInvalidArgument naming p", r, err)
	}
	if errors.Is(err, report.ErrInvalidQuery) {
		t.Errorf("Build(nil): %v wraps ErrInvalidQuery; the query is fine", err)
	}
	r, err = report.Build(context.Background(), smallHistory(t), q)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteCSV(nil); !errors.Is(err, report.ErrInvalidArgument) || !strings.Contains(err.Error(), "w: nil writer") {
		t.Errorf("WriteCSV(nil) = %v; want ErrInvalidArgument naming w", err)
	}
	var none *report.Report
	var buf bytes.Buffer
	if err := none.WriteCSV(&buf); !errors.Is(err, report.ErrInvalidArgument) || buf.Len() != 0 {
		t.Errorf("nil report's WriteCSV = %v, wrote %q; want ErrInvalidArgument and nothing", err, buf.String())
	}
	if !errors.Is(report.ErrInvalidQuery, report.ErrInvalidArgument) || report.ErrInvalidArgument != event.ErrInvalidArgument {
		t.Error("ErrInvalidQuery does not wrap ErrInvalidArgument, or that is not event's")
	}
}

// The liability is the outstanding points times the rate exactly, as the
// package doc says, not rounded to the money's scale: at 0.0133 a point,
// March's 1,050 points are 13.965 and April's 50 are 0.665. A program
// with no rate, from its definition or the query, has no liability
// figure: HasRate is false and the CSV has no rate or liability line.
func TestLiabilityExactAndWithoutRate(t *testing.T) {
	p := smallHistory(t)
	q := report.Query{From: date(3, 1), To: date(4, 30), Grain: report.Month, Rates: map[string]decimal.Decimal{"mall": d("0.0133")}}
	r, err := report.Build(context.Background(), p, q)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"13.965", "0.665"} {
		pt := r.Periods[i].Points[0]
		if !pt.HasRate || !pt.Liability.Equal(d(want)) {
			t.Errorf("%s: liability %s (rate set: %v), want %s", r.Periods[i].Name, pt.Liability, pt.HasRate, want)
		}
	}
	q.From, q.Rates = date(4, 1), nil
	if r, err = report.Build(context.Background(), p, q); err != nil {
		t.Fatal(err)
	}
	if pt := r.Periods[0].Points[0]; pt.HasRate {
		t.Errorf("no rate: %+v, want HasRate false", pt)
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	var points []string
	for line := range strings.Lines(buf.String()) {
		if strings.HasPrefix(line, "2025-04,points,") {
			points = append(points, strings.TrimSuffix(line, "\n"))
		}
	}
	want := []string{"2025-04,points,mall,opening,1050", "2025-04,points,mall,issued,0", "2025-04,points,mall,redeemed,0",
		"2025-04,points,mall,expired,1000", "2025-04,points,mall,other,0", "2025-04,points,mall,outstanding,50"}
	if diff := cmp.Diff(want, points); diff != "" {
		t.Errorf("the CSV's points lines without a rate (-want +got):\n%s", diff)
	}
}
