package report_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/store/memory"
)

// retiredDef has two tasks: "first-order" (one order) and "two-orders".
const retiredDef = `{
  "zone": "Asia/Shanghai",
  "events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
  "points": {"programs": [{"name": "mall"}]},
  "tasks": {
    "tasks": [
      {"name": "two-orders", "kind": "repeat", "steps": [{"event": "order"}], "times": 2,
       "rewards": [{"kind": "points", "program": "mall", "amount": "50"}]},
      {"name": "first-order", "kind": "one", "steps": [{"event": "order"}], "limits": [{"period": "total", "limit": "1"}],
       "rewards": [{"kind": "points", "program": "mall", "amount": "10"}]}
    ]
  }
}`

// TestRetiredTaskStillReported checks that a task a later version leaves
// out keeps the completions it had in a report built after the version:
// a orders twice on 1 March (first-order and two-orders done once each:
// 60 points) and b once on 2 March (first-order); version 2 keeps
// two-orders only; b orders again on 1 April (two-orders). The report
// of March and April lists two-orders (1, 1) and, after it, first-order
// (2, 0), and the points issued (60 + 10, then 50) reconcile with them.
func TestRetiredTaskStillReported(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(retiredDef))
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	order := func(id, member string, month time.Month, day int) event.Event {
		return event.Event{ID: id, Member: member, Type: "order", Time: at(month, day, 10), Attrs: event.Attrs{"amount": event.DecString("1")}}
	}
	testkit.MustProcess(t, p, order("o1", "a", 3, 1), order("o2", "a", 3, 1), order("o3", "b", 3, 2))
	def2, err := membership.ParseDefinition([]byte(retiredDef))
	if err != nil {
		t.Fatal(err)
	}
	def2.Version = 2
	def2.Tasks.Tasks = def2.Tasks.Tasks[:1]
	if p, err = membership.Open(st, def2); err != nil {
		t.Fatal(err)
	}
	testkit.MustProcess(t, p, order("o4", "b", 4, 1))
	r, err := report.Build(ctx, p, report.Query{From: date(3, 1), To: date(4, 30), Grain: report.Month})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]report.Tasks{
		{{Task: "two-orders", Completions: 1}, {Task: "first-order", Completions: 2}},
		{{Task: "two-orders", Completions: 1}, {Task: "first-order", Completions: 0}},
	}
	var got [][]report.Tasks
	var issued []string
	for _, pd := range r.Periods {
		got = append(got, pd.Tasks)
		issued = append(issued, pd.Points[0].Issued.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"70", "50"}, issued); diff != "" {
		t.Errorf("points issued (-want +got):\n%s", diff)
	}
}

// TestRetiredTemplateStillReported checks the same of a coupon template
// that only imported coupons had, which a version may leave out: erin,
// migrated in on 1 March with a "legacy" coupon valid to 24:00 on 2
// March, sees it expire on 3 March (00:00); version 2 leaves legacy out.
// The report of March lists welcome (nothing) and, after it, legacy (one
// issued, by the import's claim method coupon.Migrated, and one
// expired), before the version and after it alike.
func TestRetiredTemplateStillReported(t *testing.T) {
	ctx := context.Background()
	def, err := membership.ParseDefinition([]byte(smallDef))
	if err != nil {
		t.Fatal(err)
	}
	legacy := def.Coupons.Templates[0]
	legacy.Name, legacy.Title = "legacy", "5 off"
	def.Coupons.Templates = append(def.Coupons.Templates, legacy)
	st := memory.New()
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "m1", Member: "erin", Operator: "ops", At: at(3, 1, 10),
		Coupons: []migrate.Coupon{{Template: "legacy", Expires: at(3, 3, 0)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, at(3, 4, 0)); err != nil {
		t.Fatal(err)
	}
	q := report.Query{From: date(3, 1), To: date(3, 31), Grain: report.Month}
	before, err := report.Build(ctx, p, q)
	if err != nil {
		t.Fatal(err)
	}
	def.Version = 2
	def.Coupons.Templates = def.Coupons.Templates[:1]
	if p, err = membership.Open(st, def); err != nil {
		t.Fatal(err)
	}
	after, err := report.Build(ctx, p, q)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*report.Report{"before the version": before, "after it": after} {
		var got []string
		for _, c := range r.Periods[0].Coupons {
			got = append(got, fmt.Sprintf("%s %d/%d/%d/%d %s", c.Template, c.Issued, c.Used, c.Expired, c.Revoked, c.AmountOff))
		}
		if diff := cmp.Diff([]string{"welcome 0/0/0/0 0", "legacy 1/0/1/0 0"}, got); diff != "" {
			t.Errorf("%s: coupons (-want +got):\n%s", name, diff)
		}
	}
}
