package membership_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// TestReplayLateEventThatDidOtherwiseDiverges checks what an event itself
// did in a replay. Alice orders on 1 December at 10:00 and gets the tag
// "recent" (an order in the last day), which she loses at 00:00 on the
// 2nd; Advance to the 3rd performs that edge (one item: the tag goes).
// Then her order of 1 December at 20:00 comes late: after her last order
// and before the edge, it is evaluated at its own time and gives the tag
// back. A per-member journal (a store.Striper's) merges by time: the late
// order (input 2) comes before the page (inputs 3 and 4), so in the
// replay alice still holds the tag and the order publishes nothing; the
// page then takes the tag as it did on the source (one item, the same
// digest), and the replay used to end with alice without the tag and no
// error. The order's own digest (the change it published) differs, and
// Replay returns ErrReplayDiverged naming input 2, the event and its
// member. The same inputs on store/memory (one journal, in the order they
// committed) replay without an error, alice holding the tag; under a
// changed definition (ReplayOptions.Changed) what inputs did is not
// compared; and records of version 2, written before events kept a
// digest, replay as before, without the check.
func TestReplayLateEventThatDidOtherwiseDiverges(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone:   "UTC",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount"},
			Rules:  []tag.Rule{{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 1, Op: event.Gte, Value: event.Int(1)}}}},
		},
	}
	at := func(day, hour int) time.Time { return time.Date(2026, 12, day, hour, 0, 0, 0, time.UTC) }
	ord := func(id string, when time.Time) event.Event {
		return event.Event{ID: id, Member: "alice", Type: "order", Time: when, Attrs: event.Attrs{"amount": event.DecString("10")}}
	}
	recent := func(p *membership.Program) bool {
		t.Helper()
		tags, err := p.Tags().Of(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return len(tags) == 1 && tags[0].Tag == "recent"
	}
	// source runs the story on st and returns it.
	source := func(st store.Store) store.Store {
		t.Helper()
		src, err := membership.Open(st, def, membership.WithJournal())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Process(ctx, ord("o1", at(1, 10))); err != nil {
			t.Fatal(err)
		}
		if n, err := src.Advance(ctx, at(3, 0)); n != 1 || err != nil {
			t.Fatalf("Advance = %d, %v; want the edge of 2 December performed", n, err)
		}
		if recent(src) {
			t.Fatal("alice holds recent after the edge")
		}
		if _, err := src.Process(ctx, ord("o2", at(1, 20))); err != nil {
			t.Fatal(err)
		}
		if !recent(src) {
			t.Fatal("the late order did not give recent back on the source")
		}
		return st
	}
	target := func() *membership.Program {
		t.Helper()
		p, err := membership.Open(memory.New(), def)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("one journal", func(t *testing.T) {
		st := source(memory.New())
		dst := target()
		if n, err := dst.Replay(ctx, st, nil); n != 4 || err != nil {
			t.Fatalf("Replay = %d, %v; want 4 inputs (o1, the page, the last page, o2)", n, err)
		}
		if !recent(dst) {
			t.Error("the replay: alice does not hold recent")
		}
	})

	st := source(&remoteStore{Store: memory.New()})
	t.Run("per member", func(t *testing.T) {
		dst := target()
		n, err := dst.Replay(ctx, st, nil)
		if !errors.Is(err, membership.ErrReplayDiverged) || !strings.Contains(err.Error(), `input 2 (event "o2" of member "alice")`) ||
			!strings.Contains(err.Error(), "published") {
			t.Fatalf("Replay = %d, %v (alice holds recent: %v); want ErrReplayDiverged naming input 2, event o2 of alice", n, err, recent(dst))
		}
		// o1 and o2, one batch, were committed: o2 did otherwise.
		if n != 2 {
			t.Errorf("Replay applied %d inputs; want 2 (o1 and o2)", n)
		}
	})

	// A recompute of the tag (an update) dated as the late order does
	// the same: it gives the tag back on the source and finds it held in
	// the replay, where it comes before the page (the inputs that name no
	// member go by their time).
	t.Run("update", func(t *testing.T) {
		st := &remoteStore{Store: memory.New()}
		src, err := membership.Open(st, def, membership.WithJournal())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Process(ctx, ord("o1", at(1, 10))); err != nil {
			t.Fatal(err)
		}
		if n, err := src.Advance(ctx, at(3, 0)); n != 1 || err != nil {
			t.Fatalf("Advance = %d, %v; want the edge of 2 December performed", n, err)
		}
		res, err := src.Tags().Recompute(ctx, tag.RecomputeRequest{At: at(1, 20), Tag: "recent"})
		if err != nil || res.Added != 1 {
			t.Fatalf("Recompute = %+v, %v; want recent given back to alice", res, err)
		}
		dst := target()
		n, err := dst.Replay(ctx, st, nil)
		if !errors.Is(err, membership.ErrReplayDiverged) || !strings.Contains(err.Error(), "input 2 (tag.recompute") {
			t.Fatalf("Replay = %d, %v (alice holds recent: %v); want ErrReplayDiverged naming input 2, the recompute", n, err, recent(dst))
		}
		if n != 2 {
			t.Errorf("Replay applied %d inputs; want 2 (o1 and the recompute, which did otherwise)", n)
		}
	})

	t.Run("changed", func(t *testing.T) {
		dst := target()
		res, err := dst.ReplayWith(ctx, st, membership.ReplayOptions{Changed: true})
		if err != nil || res.Applied != 4 || len(res.Refused) != 0 {
			t.Fatalf("ReplayWith Changed = %+v, %v; want 4 applied and no error", res, err)
		}
		// The merged order: the late order before the page, which takes the tag.
		if recent(dst) {
			t.Error("the changed replay: alice holds recent")
		}
	})

	t.Run("version 2", func(t *testing.T) {
		// The events' records rewritten as version 2 wrote them: no digest.
		if err := st.Update(ctx, func(tx store.Tx) error {
			evs := map[string][]byte{}
			err := tx.Scan("journal", nil, nil, false, func(k, v []byte) error {
				if v[1] == engine.InputEvent {
					evs[string(k)] = v
				}
				return nil
			})
			for k, v := range evs {
				r := codec.Reader{B: v[2:]}
				w := codec.Writer{B: []byte{2, engine.InputEvent}}
				w.Uint(r.Uint())     // version
				w.Time(r.Time())     // time
				w.String(r.String()) // the event
				r.Uint()             // the digest, left out
				w.String(r.String()) // random bytes
				if r.Err() != nil || len(r.B) != 0 {
					return fmt.Errorf("journal record %x: %v, %d bytes left", k, r.Err(), len(r.B))
				}
				err = errors.Join(err, tx.Put("journal", []byte(k), w.B))
			}
			if len(evs) != 2 {
				err = errors.Join(err, fmt.Errorf("%d events in the journal, want 2", len(evs)))
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		dst := target()
		if n, err := dst.Replay(ctx, st, nil); n != 4 || err != nil {
			t.Fatalf("Replay of version 2 events = %d, %v; want 4 inputs and no error", n, err)
		}
		if recent(dst) {
			t.Error("the replay of version 2 events: alice holds recent")
		}
	})
}
