package membership_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
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
	v1, v2 := versionsDroppingStore(t)
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

// The retry of an event its rules would now refuse returns its first
// outcome: m1 recharges 100 and pays 80 (p1) and 15, and p1 sent again,
// alone and in a batch, would spend 80 of the 5 left. On PostgreSQL,
// whose first run of an event takes its record as absent (store.Inserter:
// inserted unread), the pay's refusal was returned (ledger: insufficient
// balance) before the record was read, which a host reads as an event
// never applied; other content under p1's ID (a pay of 90) was refused so
// too, not ErrEventConflict. A new pay of 80 is still refused for the
// balance, and nothing is written.
func TestRetryItsRulesNowRefuse(t *testing.T) {
	ctx := context.Background()
	at := func(h int) time.Time {
		return time.Date(2025, 3, 1, 10, 0, 0, 0, testkit.Shanghai).Add(time.Duration(h) * time.Hour)
	}
	ev := func(id, typ, amount string, h int) event.Event {
		return event.Event{ID: id, Member: "m1", Type: typ, Time: at(h), Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			p, err := membership.Open(st, loweredDef(t, 1, 2, 2))
			if err != nil {
				t.Fatal(err)
			}
			var first *change.Outcome
			for _, e := range []event.Event{ev("r1", "recharge", "100", 1), ev("p1", "pay", "80", 2), ev("p2", "pay", "15", 3)} {
				out, err := p.Process(ctx, e)
				if err != nil {
					t.Fatal(err)
				}
				if e.ID == "p1" {
					first = out
				}
			}
			before := testkit.Dump(t, st, everyBucket...)
			retry := ev("p1", "pay", "80", 2)
			again, err := p.Process(ctx, retry)
			if err != nil || !again.Duplicate {
				t.Fatalf("retry of p1: %v, %v; want its first outcome", again, err)
			}
			again.Duplicate = false
			if diff := cmp.Diff(first, again); diff != "" {
				t.Errorf("retry's outcome (-first +again):\n%s", diff)
			}
			outs, err := p.ProcessBatch(ctx, []event.Event{ev("p2", "pay", "15", 3), retry})
			if err != nil || len(outs) != 2 || !outs[0].Duplicate || !outs[1].Duplicate {
				t.Fatalf("retries of p2 and p1 in a batch: %v, %v; want their first outcomes", outs, err)
			}
			other := ev("p1", "pay", "90", 2)
			if _, err := p.Process(ctx, other); !errors.Is(err, membership.ErrEventConflict) {
				t.Errorf("a pay of 90 under p1's ID: %v; want ErrEventConflict", err)
			}
			if _, err := p.ProcessBatch(ctx, []event.Event{retry, other}); !errors.Is(err, membership.ErrEventConflict) {
				t.Errorf("a pay of 90 under p1's ID in a batch: %v; want ErrEventConflict", err)
			}
			if _, err := p.Process(ctx, ev("p3", "pay", "80", 4)); !errors.Is(err, ledger.ErrInsufficientBalance) {
				t.Errorf("a new pay of 80 with 5 left: %v; want ErrInsufficientBalance", err)
			}
			if diff := cmp.Diff(before, testkit.Dump(t, st, everyBucket...)); diff != "" {
				t.Errorf("the retries wrote (-before +after):\n%s", diff)
			}
		})
	}
}

// A store's error looking up the record of an event the definition
// refuses is returned, by ProcessBatch as by Process, not the refusal: o1
// taken under version 1, its record damaged, is sent again under version
// 2, which drops the "store" attribute. ProcessBatch returned
// ErrInvalidEvent (attrs.store: unknown attribute) before, which a host
// reads as an event never applied, though it was.
func TestRetryLookupErrorInABatch(t *testing.T) {
	ctx := context.Background()
	v1 := damageableDef(t)
	v2 := damageableDef(t)
	v2.Version = v1.Version + 1
	for i, et := range v2.Events {
		if et.Name == "order" {
			v2.Events[i].Attributes = slices.DeleteFunc(slices.Clone(et.Attributes), func(a event.Attr) bool { return a.Name == "store" })
		}
	}
	o1 := event.Event{ID: "o1", Member: "m1", Type: "order", Time: t0,
		Attrs: event.Attrs{"amount": event.Dec(dec("100")), "order_id": event.Str("o1"), "store": event.Str("s1")}}
	st := memory.New()
	p, err := membership.Open(st, v1)
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, o1)
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.Put("events", []byte("o1"), []byte{0xff}) }); err != nil {
		t.Fatal(err)
	}
	if p, err = membership.Open(st, v2); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process(ctx, o1); !errors.Is(err, store.ErrCorrupt) || errors.Is(err, membership.ErrInvalidEvent) {
		t.Errorf("Process of o1 with its record damaged: %v; want store.ErrCorrupt alone", err)
	}
	if _, err := p.ProcessBatch(ctx, []event.Event{o1}); !errors.Is(err, store.ErrCorrupt) || errors.Is(err, membership.ErrInvalidEvent) {
		t.Errorf("ProcessBatch of o1 with its record damaged: %v; want store.ErrCorrupt alone", err)
	}
}

// versionsDroppingStore returns damageableDef as version 1 and its next
// version, whose order type no longer declares the "store" attribute: a
// version that refuses orders version 1 took.
func versionsDroppingStore(t *testing.T) (v1, v2 membership.Definition) {
	v1, v2 = damageableDef(t), damageableDef(t)
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
	return v1, v2
}
