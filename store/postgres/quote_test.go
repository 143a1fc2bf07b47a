package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/task"
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
