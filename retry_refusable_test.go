package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/value"
)

// The retry of an event a rule would now refuse (a spend of a balance
// since spent, a card refund of what was since refunded), alone or in a
// batch, returns its first outcome on every store, as SPEC's same event
// ID does, and other content under its ID is a conflict: store/postgres
// takes a new event's ID as absent and finds it present at the commit,
// which a rule's refusal never reached, so it returned the refusal.
func TestRetryOfAnEventARuleNowRefuses(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(newStore(), testkit.ValueDef())
			if err != nil {
				t.Fatal(err)
			}
			at := t0
			retries := []event.Event{money("p1", "pay", "al", "100", at), money("vr1", "refund", "al", "100", at)}
			first := mustProcess(t, p, money("v1", "recharge", "al", "100", at), retries[0], retries[1], money("p2", "pay", "al", "100", at))
			// The balance is 0 and the spend refunded in whole: new events
			// of the same content are refused.
			if _, err := p.Process(ctx, money("p3", "pay", "al", "100", at)); !errors.Is(err, membership.ErrInsufficientBalance) {
				t.Errorf("a new pay of 100: %v; want ErrInsufficientBalance", err)
			}
			if _, err := p.Process(ctx, money("vr2", "refund", "al", "200", at)); !errors.Is(err, value.ErrRefundExceedsSpend) {
				t.Errorf("a new card refund of 200: %v; want ErrRefundExceedsSpend", err)
			}
			wantSame := func(what string, got, want *change.Outcome) {
				t.Helper()
				if !got.Duplicate || len(got.Changes) != len(want.Changes) || len(got.Entries) != len(want.Entries) || got.Changes[0].Kind != want.Changes[0].Kind {
					t.Errorf("%s: %+v; want the first outcome %+v, a duplicate", what, got, want)
				}
			}
			for i, ev := range retries {
				out, err := p.Process(ctx, ev)
				if err != nil {
					t.Errorf("retry of %s: %v", ev.ID, err)
					continue
				}
				wantSame("retry of "+ev.ID, out, first[i+1])
			}
			outs, err := p.ProcessBatch(ctx, append(retries, money("v2", "recharge", "al", "5", at)))
			if err != nil || len(outs) != 3 {
				t.Fatalf("a batch of both retries and a recharge: %+v, %v", outs, err)
			}
			wantSame("batch retry of p1", outs[0], first[1])
			wantSame("batch retry of vr1", outs[1], first[2])
			// Other content under a used ID is a conflict, as ever.
			if _, err := p.Process(ctx, money("p1", "pay", "al", "99", at)); !errors.Is(err, membership.ErrEventConflict) {
				t.Errorf("other content under p1: %v; want ErrEventConflict", err)
			}
			if _, err := p.ProcessBatch(ctx, []event.Event{money("p1", "pay", "al", "99", at)}); !errors.Is(err, membership.ErrEventConflict) {
				t.Errorf("other content under p1 in a batch: %v; want ErrEventConflict", err)
			}
			// 100 recharged, 200 spent, 100 refunded, 5 recharged.
			acc, err := p.Value().Account(ctx, "al")
			if err != nil || !acc.Balance.Equal(dec("5")) || !acc.Spent.Equal(dec("200")) || !acc.Refunded.Equal(dec("100")) {
				t.Errorf("stored value %+v, %v; want 5, 200 spent, 100 refunded", acc, err)
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

func money(id, typ, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: typ, Time: at, Attrs: event.Attrs{"amount": event.DecString(amount)}}
}
