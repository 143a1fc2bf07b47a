package membership_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
)

// A quote of an event processed before returns the outcome recorded for
// it, as Process does, even where the version now in force refuses the
// event: order o1, taken by version 1 with a "store" attribute that
// version 2 drops, is quoted again under version 2 (its time in UTC, its
// amount 100 for 100.00: the same event). Quote refused it with
// ErrInvalidEvent (attrs.store: unknown attribute), which Process does
// not; a new order with the attribute is refused by both. On memory,
// bolt and PostgreSQL.
func TestQuoteRetryAfterAVersionRefusesIt(t *testing.T) {
	ctx := context.Background()
	v1, v2 := versionsDroppingStore(t)
	order := func(id, amount string) event.Event {
		return event.Event{ID: id, Member: "m1", Type: "order", Time: t0,
			Attrs: event.Attrs{"amount": event.DecString(amount), "order_id": event.Str(id), "store": event.Str("s1")}}
	}
	onEveryStoreVersions(t, v1, nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		first := mustProcess(t, ps[0], order("o1", "100.00"))[0]
		p := open(v2)[0]
		retry := order("o1", "100")
		retry.Time = t0.UTC()
		q, err := p.Quote(ctx, retry)
		if err != nil || !q.Duplicate {
			t.Fatalf("quote of o1 under version 2: %v, %v; want its first outcome", q, err)
		}
		again, err := p.Process(ctx, retry)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(again, q); diff != "" {
			t.Errorf("quote against Process (-process +quote):\n%s", diff)
		}
		q.Duplicate = false
		if diff := cmp.Diff(first, q); diff != "" {
			t.Errorf("quote against the first outcome (-first +quote):\n%s", diff)
		}
		if _, err := p.Quote(ctx, order("o2", "100")); !errors.Is(err, membership.ErrInvalidEvent) || !errors.Is(err, event.ErrUnknownAttribute) {
			t.Errorf("quote of a new order with a store under version 2: %v; want ErrInvalidEvent, ErrUnknownAttribute", err)
		}
	})
}
