package whatif_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/whatif"
	"github.com/shopspring/decimal"
)

// asuncionJSON is a program in America/Asuncion, where on 1 October 2023
// the clocks went from 00:00 (UTC−4) to 01:00 (UTC−3): that day had no
// midnight. A point a yuan, never expiring.
const asuncionJSON = `{
  "zone": "America/Asuncion",
  "events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
  "points": {
    "programs": [{"name": "mall"}],
    "rules": [{"id": "buy", "program": "mall", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
  }
}`

// TestRunMonthWithoutMidnight checks the months of a what-if in a zone
// where a month starts in a daylight-saving gap. October 2023 starts at
// 01:00 (UTC−3) on the 1st, the first instant of that day, and ends at
// 24:00 on the 31st; September ends at 24:00 on the 30th (UTC−4).
//
// alice orders 10 at 23:30 on 30 September (September), 20 at 01:30 on 1
// October and 40 at 23:30 on 31 October (October), 80 at 00:30 on 1
// November (November). The changed program gives 2 points a yuan.
// Actual issued: 10, 60, 80; held at each month's end 10, 70, 150.
// Changed: twice that. Month starts that came from time.Date (30
// September 23:00, then the 30th of each month at 23:00) put the 23:30
// order of 30 September in October and the one of 31 October in
// November.
func TestRunMonthWithoutMidnight(t *testing.T) {
	ctx := context.Background()
	actual, err := membership.ParseDefinition([]byte(asuncionJSON))
	if err != nil {
		t.Fatal(err)
	}
	changed, err := membership.ParseDefinition([]byte(asuncionJSON))
	if err != nil {
		t.Fatal(err)
	}
	changed.Points.Rules[0].Formula.Rate = decimal.NewFromInt(2)
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	p, err := membership.Open(st, actual, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	loc := p.Location()
	minus4, minus3 := time.FixedZone("-04", -4*3600), time.FixedZone("-03", -3*3600)
	for _, o := range []struct {
		id, amount string
		at         time.Time
	}{
		{"o1", "10", time.Date(2023, 9, 30, 23, 30, 0, 0, minus4)},
		{"o2", "20", time.Date(2023, 10, 1, 1, 30, 0, 0, minus3)},
		{"o3", "40", time.Date(2023, 10, 31, 23, 30, 0, 0, minus3)},
		{"o4", "80", time.Date(2023, 11, 1, 0, 30, 0, 0, minus3)},
	} {
		if _, err := p.Process(ctx, event.Event{ID: o.id, Member: "alice", Type: "order", Time: o.at, Attrs: event.Attrs{"amount": event.DecString(o.amount)}}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := whatif.Run(ctx, st, actual, changed, whatif.Options{})
	if err != nil {
		t.Fatal(err)
	}
	type month struct {
		Start                        time.Time
		Issued, Held, IssuedC, HeldC string
	}
	want := []month{
		{time.Date(2023, 9, 1, 0, 0, 0, 0, minus4), "10", "10", "20", "20"},
		{time.Date(2023, 10, 1, 1, 0, 0, 0, minus3), "60", "70", "120", "140"},
		{time.Date(2023, 11, 1, 0, 0, 0, 0, minus3), "80", "150", "160", "300"},
	}
	var got []month
	for _, m := range rep.Months {
		if m.Start.Location().String() != loc.String() {
			t.Errorf("month %s: start in %s, not the program's zone", m.Start, m.Start.Location())
		}
		a, c := m.Actual.Points["mall"], m.Changed.Points["mall"]
		got = append(got, month{m.Start, a.Issued.String(), a.Outstanding.String(), c.Issued.String(), c.Outstanding.String()})
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("months (-want +got):\n%s", diff)
	}
}
