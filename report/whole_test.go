package report_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/store/memory"
)

// wholeDef is a program in yen: stored value and points + cash in whole
// units of money (scale 0), a point per yen ordered, a point worth 0.07
// and paying at most 33% of an order.
const wholeDef = `{
  "zone": "Asia/Tokyo",
  "events": [
    {"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
    {"name": "recharge", "attributes": [{"name": "amount", "type": "decimal", "required": true}]},
    {"name": "pay", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}
  ],
  "stored_value": {"recharge": "recharge", "spend": "pay", "amount": "amount", "scale": 0},
  "points": {
    "programs": [{"name": "mall", "payment": {"rate": "0.07", "max_share": "0.33", "money_scale": 0}}],
    "rules": [{"id": "buy", "program": "mall", "event": "order",
               "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
  }
}`

// A report of a program in whole units: its figures are the amounts the
// program took, written as every decimal is (no ".00"); the liability is
// the exact product, not rounded (see the package doc).
func TestReportInWholeUnits(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(wholeDef))
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(id, typ, amount string) event.Event {
		return event.Event{ID: id, Member: "a", Type: typ, Time: at(3, 2, 10), Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	testkit.MustProcess(t, p, ev("o1", "order", "20000"), ev("r1", "recharge", "1000"), ev("p1", "pay", "300"))
	if _, err := p.Process(ctx, ev("p2", "pay", "10.5")); !errors.Is(err, event.ErrInvalidEvent) {
		t.Fatalf("a payment of 10.5 yen: %v, want ErrInvalidEvent", err)
	}
	// 1001 × 0.33 = 330.33, down to 330 yen paid with 4715 points (330 /
	// 0.07 = 4714.28…, up), 671 in cash.
	res, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "x1", Member: "a", At: at(3, 2, 11), Program: "mall", Ref: "o2", Order: d("1001")})
	if err != nil || !res.Points.Equal(d("4715")) || !res.Split.Cash.Equal(d("671")) {
		t.Fatalf("redeem: %+v, %v", res, err)
	}
	r, err := report.Build(ctx, p, report.Query{From: date(3, 1), To: date(3, 31), Grain: report.Month})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	// 20000 − 4715 = 15285 points outstanding, × 0.07 = 1069.95; stored
	// value 1000 − 300 = 700.
	want := `period,section,name,figure,value
2025-03,points,mall,opening,0
2025-03,points,mall,issued,20000
2025-03,points,mall,redeemed,4715
2025-03,points,mall,expired,0
2025-03,points,mall,other,0
2025-03,points,mall,outstanding,15285
2025-03,points,mall,rate,0.07
2025-03,points,mall,liability,1069.95
2025-03,value,,opening,0
2025-03,value,,recharged,1000
2025-03,value,,spent,300
2025-03,value,,refunded,0
2025-03,value,,withdrawn,0
2025-03,value,,other,0
2025-03,value,,float,700
`
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(buf.String(), "\n")); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
}
