package membership_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
)

// The retry of an event returns its first outcome, Duplicate set, after
// the program restarts on a version that refuses the event: version 2
// drops the order's "store" attribute, and order o1, taken with one by
// version 1, is sent again (its time in UTC, its amount 100 for 100.00:
// the same event). Before, Process and ProcessBatch refused it with
// ErrInvalidEvent (attrs.store: unknown attribute), which a host reads as
// an event never applied. A new event with the attribute, and other
// content under o1's ID, are refused as before, and nothing is written.
// On bolt the file is closed and opened again.
func TestRetryAfterAVersionRefusesIt(t *testing.T) {
	ctx := context.Background()
	v1 := damageableDef(t)
	v2 := damageableDef(t)
	v2.Version = v1.Version + 1
	for i, et := range v2.Events {
		if et.Name != "order" {
			continue
		}
		var attrs []event.Attr
		for _, a := range et.Attributes {
			if a.Name != "store" {
				attrs = append(attrs, a)
			}
		}
		v2.Events[i].Attributes = attrs
	}
	order := func(id, amount string) event.Event {
		return event.Event{ID: id, Member: "m1", Type: "order", Time: t0,
			Attrs: event.Attrs{"amount": event.Dec(dec(amount)), "order_id": event.Str(id), "store": event.Str("s1")}}
	}
	path := filepath.Join(t.TempDir(), "m.db")
	stores := scaleStores(t)
	stores["bolt"] = func() store.Store {
		st, err := bolt.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			p, err := membership.Open(st, v1)
			if err != nil {
				t.Fatal(err)
			}
			first := mustProcess(t, p, order("o1", "100.00"))[0]
			if name == "bolt" {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
				st = newStore()
			}
			t.Cleanup(func() { st.Close() })
			if p, err = membership.Open(st, v2); err != nil {
				t.Fatal(err)
			}
			before := testkit.Dump(t, st, everyBucket...)
			retry := order("o1", "100")
			retry.Time = t0.UTC()
			again, err := p.Process(ctx, retry)
			if err != nil || !again.Duplicate {
				t.Fatalf("retry of o1 under version 2: %v, %v; want its first outcome", again, err)
			}
			again.Duplicate = false
			if diff := cmp.Diff(first, again); diff != "" {
				t.Errorf("retry's outcome (-first +again):\n%s", diff)
			}
			outs, err := p.ProcessBatch(ctx, []event.Event{retry})
			if err != nil || len(outs) != 1 || !outs[0].Duplicate {
				t.Fatalf("retry of o1 in a batch under version 2: %v, %v; want its first outcome", outs, err)
			}
			for _, ev := range []event.Event{order("o2", "100"), order("o1", "99")} {
				if _, err := p.Process(ctx, ev); !errors.Is(err, membership.ErrInvalidEvent) || !errors.Is(err, event.ErrUnknownAttribute) {
					t.Errorf("%s with a store under version 2: %v; want ErrInvalidEvent, ErrUnknownAttribute", ev.ID, err)
				}
				if _, err := p.ProcessBatch(ctx, []event.Event{retry, ev}); !errors.Is(err, event.ErrUnknownAttribute) {
					t.Errorf("%s with a store in a batch under version 2: %v; want ErrUnknownAttribute", ev.ID, err)
				}
			}
			if diff := cmp.Diff(before, testkit.Dump(t, st, everyBucket...)); diff != "" {
				t.Errorf("the retries wrote (-before +after):\n%s", diff)
			}
		})
	}
}
