package report_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/value"
)

// TestValueRefundsByDay checks stored-value refunds at a day's and a
// month's edge in the program's zone (Asia/Shanghai), each counted on the
// day of its time there, once however often its event is sent: a
// recharges 100 at 10:00 on 31 March and pays 60 at 23:30; a refund of 25
// at 23:59 on 31 March, sent twice, and one of 10 at 00:00 on 1 April;
// one of 30 more (35 + 30 > the 60 spent) is refused and counts nowhere.
// March: 100 recharged, 60 spent, 25 refunded, float 65. April: 10
// refunded, float 75.
func TestValueRefundsByDay(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(smallDef))
	if err != nil {
		t.Fatal(err)
	}
	def.Events = append(def.Events, event.Type{Name: "refund", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}})
	def.StoredValue.Refund = "refund"
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(id, typ, amount string, when time.Time) event.Event {
		return event.Event{ID: id, Member: "a", Type: typ, Time: when, Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	twice := ev("r1", "refund", "25", at(3, 31, 23).Add(59*time.Minute))
	testkit.MustProcess(t, p, ev("top", "recharge", "100", at(3, 31, 10)), ev("pay", "pay", "60", at(3, 31, 23).Add(30*time.Minute)),
		twice, twice, ev("r2", "refund", "10", at(4, 1, 0)))
	if _, err := p.Process(ctx, ev("r3", "refund", "30", at(4, 1, 9))); !errors.Is(err, value.ErrRefundExceedsSpend) {
		t.Fatalf("a refund past the spend: %v", err)
	}
	r, err := report.Build(ctx, p, report.Query{From: date(3, 31), To: date(4, 1), Grain: report.Day})
	if err != nil {
		t.Fatal(err)
	}
	want := []report.Value{
		{Opening: d("0"), Recharged: d("100"), Spent: d("60"), Refunded: d("25"), Other: d("0"), Float: d("65")},
		{Opening: d("65"), Recharged: d("0"), Spent: d("0"), Refunded: d("10"), Other: d("0"), Float: d("75")},
	}
	var got []report.Value
	for _, pd := range r.Periods {
		got = append(got, *pd.Value)
	}
	if diff := cmp.Diff(want, got, cmpDec); diff != "" {
		t.Errorf("stored value by day (-want +got):\n%s", diff)
	}
}

// TestValueByDayOverSummerTime checks stored value by day in a zone with
// summer time (Europe/Berlin: 30 March 2025 has 23 hours, CET to CEST at
// 02:00). Each amount counts on the day of its time there, not in UTC:
// 100 recharged at 23:30 on 29 March (22:30 UTC); 50 at 00:30 on 30 March
// (23:30 UTC on the 29th); 30 paid at 23:30 on 30 March (21:30 UTC); 20
// at 00:30 on 31 March (22:30 UTC on the 30th). 29 March: 100 recharged,
// float 100; 30 March: 50 recharged, 30 spent, float 120; 31 March: 20
// spent, float 100.
func TestValueByDayOverSummerTime(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(smallDef))
	if err != nil {
		t.Fatal(err)
	}
	def.Zone = "Europe/Berlin"
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	berlin := p.Location()
	when := func(day, hour, minute int) time.Time { return time.Date(2025, 3, day, hour, minute, 0, 0, berlin) }
	ev := func(id, typ, amount string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "a", Type: typ, Time: at, Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	if u := when(30, 0, 30).UTC(); u.Day() != 29 || u.Hour() != 23 {
		t.Fatalf("00:30 on 30 March in Berlin is %s UTC, want 23:30 on the 29th", u)
	}
	if u := when(30, 23, 30).UTC(); u.Hour() != 21 {
		t.Fatalf("23:30 on 30 March in Berlin is %s UTC, want 21:30 (summer time)", u)
	}
	testkit.MustProcess(t, p, ev("top", "recharge", "100", when(29, 23, 30)), ev("early", "recharge", "50", when(30, 0, 30)),
		ev("pay", "pay", "30", when(30, 23, 30)), ev("late", "pay", "20", when(31, 0, 30)))
	r, err := report.Build(ctx, p, report.Query{From: date(3, 29), To: date(3, 31), Grain: report.Day})
	if err != nil {
		t.Fatal(err)
	}
	want := []report.Value{
		{Opening: d("0"), Recharged: d("100"), Spent: d("0"), Refunded: d("0"), Other: d("0"), Float: d("100")},
		{Opening: d("100"), Recharged: d("50"), Spent: d("30"), Refunded: d("0"), Other: d("0"), Float: d("120")},
		{Opening: d("120"), Recharged: d("0"), Spent: d("20"), Refunded: d("0"), Other: d("0"), Float: d("100")},
	}
	var got []report.Value
	for _, pd := range r.Periods {
		got = append(got, *pd.Value)
	}
	if diff := cmp.Diff(want, got, cmpDec); diff != "" {
		t.Errorf("stored value by day (-want +got):\n%s", diff)
	}
}

// TestValueWithdrawalsByDay checks stored-value withdrawals (recharged
// money paid back, value.Definition.Withdraw) by day in the program's zone
// (Asia/Shanghai), each counted on the day of its time there, once however
// often its event is sent, apart from the recharges and spends. On 31
// March a recharges 100 at 10:00 and pays 60 at 12:00, and withdraws 30
// at 23:59 (sent twice): balance 10. On 1 April a withdrawal of 20 at
// 00:00 is refused (balance 10) and counts nowhere; a refund of 15 at
// 00:00 (of the 60 spent) makes 25, a withdrawal of 25 at 09:00 takes all
// of it, and a refund of 46 at 10:00 is refused: 60 − 15 = 45 is
// refundable, the withdrawals having added nothing to the spend.
// 31 March: 0 + 100 − 60 + 0 − 30 = float 10. 1 April: 10 + 0 − 0 + 15 −
// 25 = float 0.
func TestValueWithdrawalsByDay(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(smallDef))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"refund", "withdraw"} {
		def.Events = append(def.Events, event.Type{Name: name, Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}})
	}
	def.StoredValue.Refund, def.StoredValue.Withdraw = "refund", "withdraw"
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(id, typ, amount string, when time.Time) event.Event {
		return event.Event{ID: id, Member: "a", Type: typ, Time: when, Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	twice := ev("w1", "withdraw", "30", at(3, 31, 23).Add(59*time.Minute))
	testkit.MustProcess(t, p, ev("top", "recharge", "100", at(3, 31, 10)), ev("pay", "pay", "60", at(3, 31, 12)), twice, twice)
	if _, err := p.Process(ctx, ev("w2", "withdraw", "20", at(4, 1, 0))); !errors.Is(err, membership.ErrInsufficientBalance) {
		t.Fatalf("a withdrawal past the balance: %v", err)
	}
	testkit.MustProcess(t, p, ev("f1", "refund", "15", at(4, 1, 0)), ev("w3", "withdraw", "25", at(4, 1, 9)))
	if _, err := p.Process(ctx, ev("f2", "refund", "46", at(4, 1, 10))); !errors.Is(err, value.ErrRefundExceedsSpend) {
		t.Fatalf("a refund past the spend: %v", err)
	}
	r, err := report.Build(ctx, p, report.Query{From: date(3, 31), To: date(4, 1), Grain: report.Day})
	if err != nil {
		t.Fatal(err)
	}
	want := []report.Value{
		{Opening: d("0"), Recharged: d("100"), Spent: d("60"), Refunded: d("0"), Withdrawn: d("30"), Other: d("0"), Float: d("10")},
		{Opening: d("10"), Recharged: d("0"), Spent: d("0"), Refunded: d("15"), Withdrawn: d("25"), Other: d("0"), Float: d("0")},
	}
	var got []report.Value
	for _, pd := range r.Periods {
		got = append(got, *pd.Value)
	}
	if diff := cmp.Diff(want, got, cmpDec); diff != "" {
		t.Errorf("stored value by day (-want +got):\n%s", diff)
	}
	var b strings.Builder
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, row := range strings.Split(b.String(), "\n") {
		if strings.Contains(row, ",value,") {
			rows = append(rows, row)
		}
	}
	wantRows := []string{
		"2025-03-31,value,,opening,0", "2025-03-31,value,,recharged,100", "2025-03-31,value,,spent,60",
		"2025-03-31,value,,refunded,0", "2025-03-31,value,,withdrawn,30", "2025-03-31,value,,other,0", "2025-03-31,value,,float,10",
		"2025-04-01,value,,opening,10", "2025-04-01,value,,recharged,0", "2025-04-01,value,,spent,0",
		"2025-04-01,value,,refunded,15", "2025-04-01,value,,withdrawn,25", "2025-04-01,value,,other,0", "2025-04-01,value,,float,0",
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("stored-value CSV rows (-want +got):\n%s", diff)
	}
}
