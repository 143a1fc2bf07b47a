package report_test

import (
	"context"
	"errors"
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
