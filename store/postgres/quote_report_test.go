package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
	"github.com/shopspring/decimal"
)

// TestQuote runs Program.Quote on PostgreSQL, whose reads are round trips
// (the dry-run transaction passes the engine's preload through): each
// quote of the retail history is the outcome of the Process that follows
// it, and a quote of an event already processed is its recorded outcome.
func TestQuote(t *testing.T) {
	ctx := context.Background()
	rr := &testkit.RewindRand{}
	p, err := membership.Open(openStore(t, nil), testkit.RetailDef(t, "../../examples/retail/program.json"), membership.WithRand(rr))
	if err != nil {
		t.Fatal(err)
	}
	evs := testkit.RetailEvents()
	kinds := testkit.QuoteThenProcess(t, p, rr, evs...)
	for _, k := range []string{coupon.ChangeIssued, level.ChangeLevel, task.ChangeCompleted} {
		if !kinds[k] {
			t.Errorf("the history published no %s change", k)
		}
	}
	q, err := p.Quote(ctx, evs[0])
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Process(ctx, evs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !q.Duplicate || len(q.Changes) != len(again.Changes) || len(q.Changes) == 0 {
		t.Errorf("quote of a processed event: Duplicate %v, %d changes; want the recorded outcome's %d", q.Duplicate, len(q.Changes), len(again.Changes))
	}
	other := evs[0]
	other.Member = "carol"
	if _, err := p.Quote(ctx, other); !errors.Is(err, membership.ErrEventConflict) {
		t.Errorf("Quote of a processed ID with other content = %v; want ErrEventConflict", err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
}

// TestReport builds a daily report of the retail history on PostgreSQL,
// whose Adder writes the daily counters as decimal text in many stripes:
// alice and bob join, alice moves up to Gold and completes the task once,
// and the outstanding points are the ledger's.
func TestReport(t *testing.T) {
	ctx := context.Background()
	p, err := membership.Open(openStore(t, nil), testkit.RetailDef(t, "../../examples/retail/program.json"))
	if err != nil {
		t.Fatal(err)
	}
	testkit.MustProcess(t, p, testkit.RetailEvents()...)
	from, to := rule.Date{Year: 2025, Month: 3, Day: 1}, rule.Date{Year: 2025, Month: 3, Day: 31}
	r, err := report.Build(ctx, p, report.Query{From: from, To: to, Grain: report.Month})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Periods[0]
	counts, err := p.Levels().Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Levels.Joins != 2 || m.Levels.Upgrades != 1 || m.Levels.Members[0].Members != counts[0].Members || m.Levels.Members[1].Members != 1 {
		t.Errorf("levels %+v; want 2 joins, 1 upgrade, Silver %d and Gold 1 at the end", m.Levels, counts[0].Members)
	}
	if m.Tasks[0].Completions != 1 {
		t.Errorf("task completions %d; want 1 (alice's third order)", m.Tasks[0].Completions)
	}
	totals, err := p.Totals(ctx, ledger.Points("mall"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	held := decimal.Zero
	for _, v := range totals {
		held = held.Add(v)
	}
	if !m.Points[0].Outstanding.Equal(held) || held.IsZero() {
		t.Errorf("outstanding %s; the ledger holds %s", m.Points[0].Outstanding, held)
	}
}
