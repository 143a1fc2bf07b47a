package tag

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/store/memory"
)

// These tests read the part's due items and edge records, which only the
// package sees, on an engine of their own (as points' due tests do).

// openWindow returns an engine whose "recent" tag holds for 90 days after
// an order and "week" for 7, its handle and its store. A member's window
// edge is the next midnight at which one of their order days leaves a
// window: an order moves it only when it brings it closer, the order's
// day leaving the week before every earlier day leaves the quarter.
// It is on store/bolt, where the edges are stamped (engine.Unit.StampDue),
// or on store/memory, where they are keyed by member.
func openWindow(t *testing.T, stamped bool) (*engine.Engine, *Handle, store.Store) {
	t.Helper()
	var st store.Store = memory.New()
	if stamped {
		var err error
		if st, err = bolt.Open(filepath.Join(t.TempDir(), "tag.db"), &bolt.Options{NoSync: true}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { st.Close() })
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(st, loc, engine.Options{})
	h := New(e, &Definition{Orders: &Orders{Event: "order", Amount: "amount"}, Rules: []Rule{
		{Tag: "recent", All: []Cond{{Fact: FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(1)}}},
		{Tag: "week", All: []Cond{{Fact: FactOrderCount, Days: 7, Op: event.Gte, Value: event.Int(1)}}},
	}})
	return e, h, st
}

func order(t *testing.T, e *engine.Engine, id, member string, at time.Time) {
	t.Helper()
	_, err := e.Process(context.Background(), event.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString("10")}})
	if err != nil {
		t.Fatal(err)
	}
}

func advance(t *testing.T, e *engine.Engine, to time.Time) {
	t.Helper()
	if _, err := e.Advance(context.Background(), to); err != nil {
		t.Fatal(err)
	}
}

// windowItems returns the due items of the tag part as "date kind member",
// in the index's order.
func windowItems(t *testing.T, st store.Store, loc *time.Location) []string {
	t.Helper()
	var out []string
	err := st.View(context.Background(), func(tx store.Tx) error {
		items, err := due.Next(tx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 1000)
		for _, it := range items {
			id := it.ID
			switch it.Kind {
			case dueWindowAt:
				var ok bool
				if id, ok = due.Unstamp(it.ID); !ok {
					t.Errorf("item %q of kind %s not stamped", it.ID, it.Kind)
				}
			case dueWindow:
			default:
				continue
			}
			out = append(out, it.At.In(loc).Format(time.DateOnly)+" "+it.Kind+" "+id)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantItems fails the test unless the tag part's due items are want, in
// that order (see windowItems).
func wantItems(t *testing.T, st store.Store, loc *time.Location, when string, want ...string) {
	t.Helper()
	if got := windowItems(t, st, loc); !slices.Equal(got, want) {
		t.Fatalf("%s: items %q, want %q", when, got, want)
	}
}

// tagsOf returns the member's tags, joined by commas.
func tagsOf(t *testing.T, h *Handle, member string) string {
	t.Helper()
	as, err := h.Of(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range as {
		got = append(got, a.Tag)
	}
	slices.Sort(got)
	return strings.Join(got, ",")
}

// A member's window edge is one stamped due item. The edges of one
// instant come in the order they were scheduled (m9's before m10's, whose
// ID sorts first), or by ID when scheduled at the same time; an order
// that moves the edge moves the item; each item falls due.
func TestWindowEdgeStamped(t *testing.T) {
	e, h, st := openWindow(t, true)
	sh := e.Location()
	day := time.Date(2026, 1, 5, 9, 0, 0, 0, sh)
	order(t, e, "a", "m9", day)
	order(t, e, "b", "m10", day.Add(time.Hour))
	order(t, e, "c", "m9", day.Add(2*time.Hour)) // same day: the edge stays
	// 5 January leaves the week at 00:00 on 12 January.
	wantItems(t, st, sh, "after the orders of 5 January", "2026-01-12 tag.at m9", "2026-01-12 tag.at m10")
	// Both fall due at 00:00 on 12 January and schedule their next edge,
	// stamped with that instant: 5 January leaves the quarter on 5 April.
	advance(t, e, time.Date(2026, 1, 12, 0, 0, 0, 0, sh))
	wantItems(t, st, sh, "after 12 January", "2026-04-05 tag.at m10", "2026-04-05 tag.at m9")
	// m9's order of 20 January leaves the week on 27 January, before 5 April.
	order(t, e, "d", "m9", time.Date(2026, 1, 20, 9, 0, 0, 0, sh))
	wantItems(t, st, sh, "after m9's order of 20 January", "2026-01-27 tag.at m9", "2026-04-05 tag.at m10")
	advance(t, e, time.Date(2026, 4, 5, 0, 0, 0, 0, sh))
	// 20 January is in m9's quarter; m10 has no order in it.
	if got := tagsOf(t, h, "m9") + "|" + tagsOf(t, h, "m10"); got != "recent|" {
		t.Errorf("tags of m9|m10 on 5 April: %q, want recent|", got)
	}
	// m9's 20 January leaves the quarter on 20 April; m10 has no order left.
	wantItems(t, st, sh, "after 5 April", "2026-04-20 tag.at m9")
}

// A store written before stamps holds an edge record of the time alone and
// an unstamped item keyed by the member, and the statistics in a record of
// their own (statsV1): an order that moves the edge cancels that item, one
// left alone still falls due, and each member's state replaces the older
// records when it is written back.
func TestWindowEdgeUnstamped(t *testing.T) {
	e, h, st := openWindow(t, true)
	sh := e.Location()
	day := time.Date(2026, 1, 5, 9, 0, 0, 0, sh)
	order(t, e, "a", "m1", day)
	order(t, e, "b", "m2", day)
	advance(t, e, time.Date(2026, 1, 12, 0, 0, 0, 0, sh))
	ctx := context.Background()
	edgeAt := time.Date(2026, 4, 5, 0, 0, 0, 0, sh)
	// Rewrite both members' records of 5 April as the earlier code wrote
	// them.
	var bad error
	err := st.Update(ctx, func(tx store.Tx) error {
		for _, m := range []string{"m1", "m2"} {
			s, err := loadState(tx, m)
			if err != nil {
				return err
			}
			if old := s.edge; s.legacy || !old.At.Equal(edgeAt) || old.Scheduled.IsZero() {
				bad = fmt.Errorf("%s's state %+v, want one with an edge of 5 April, stamped", m, s)
				return nil
			}
			kind, id := s.edge.item(m)
			if err := due.Cancel(tx, s.edge.At, kind, id); err != nil {
				return err
			}
			if err := due.Schedule(tx, due.Item{At: edgeAt, Kind: dueWindow, ID: m}); err != nil {
				return err
			}
			if err := tx.Put(bEdge, []byte(m), []byte(`"2026-04-05T00:00:00+08:00"`)); err != nil {
				return err
			}
			if err := tx.Put(bStats, []byte(m), appendStatsV1(nil, &s.stats)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || bad != nil {
		t.Fatal(err, bad)
	}
	wantItems(t, st, sh, "with the records rewritten", "2026-04-05 tag.window m1", "2026-04-05 tag.window m2")
	order(t, e, "c", "m1", time.Date(2026, 1, 20, 9, 0, 0, 0, sh))
	wantItems(t, st, sh, "after m1's order", "2026-01-27 tag.at m1", "2026-04-05 tag.window m2")
	wantEdgeRecords(t, st, "after m1's order", "m2")
	advance(t, e, edgeAt)
	// m2's unstamped edge fell due: no order in its quarter.
	if got := tagsOf(t, h, "m1") + "|" + tagsOf(t, h, "m2"); got != "recent|" {
		t.Errorf("tags of m1|m2 on 5 April: %q, want recent|", got)
	}
	wantItems(t, st, sh, "after 5 April", "2026-04-20 tag.at m1")
	wantEdgeRecords(t, st, "after 5 April")
}

// wantEdgeRecords fails the test unless the members with an edge record
// (which versions before states wrote) are want.
func wantEdgeRecords(t *testing.T, st store.Store, when string, want ...string) {
	t.Helper()
	var got []string
	err := st.View(context.Background(), func(tx store.Tx) error {
		return tx.Scan(bEdge, nil, nil, false, func(k, _ []byte) error {
			got = append(got, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: edge records of %q, want %q", when, got, want)
	}
}

// On store/memory the edges are keyed by member: the item moves with the
// edge and falls due as the stamped one does.
func TestWindowEdgeByMember(t *testing.T) {
	e, h, st := openWindow(t, false)
	sh := e.Location()
	order(t, e, "a", "m9", time.Date(2026, 1, 5, 9, 0, 0, 0, sh))
	order(t, e, "b", "m10", time.Date(2026, 1, 5, 10, 0, 0, 0, sh))
	wantItems(t, st, sh, "after the orders of 5 January", "2026-01-12 tag.window m10", "2026-01-12 tag.window m9")
	advance(t, e, time.Date(2026, 1, 12, 0, 0, 0, 0, sh))
	order(t, e, "c", "m9", time.Date(2026, 1, 20, 9, 0, 0, 0, sh))
	wantItems(t, st, sh, "after m9's order of 20 January", "2026-01-27 tag.window m9", "2026-04-05 tag.window m10")
	advance(t, e, time.Date(2026, 4, 5, 0, 0, 0, 0, sh))
	if got := tagsOf(t, h, "m9") + "|" + tagsOf(t, h, "m10"); got != "recent|" {
		t.Errorf("tags of m9|m10 on 5 April: %q, want recent|", got)
	}
	wantItems(t, st, sh, "after 5 April", "2026-04-20 tag.window m9")
}

// A window item whose ID carries no stamp (damaged data: the part
// schedules them stamped) fails Advance with an error wrapping
// store.ErrCorrupt, as a damaged payload does, not a bare error.
func TestDueWindowItemUnstamped(t *testing.T) {
	e, _, st := openWindow(t, false)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	err := st.Update(context.Background(), func(tx store.Tx) error {
		return due.Schedule(tx, due.Item{At: at, Kind: dueWindowAt, ID: "m1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Advance(context.Background(), at.Add(time.Hour)); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Advance over an unstamped window item = %v, want an error wrapping store.ErrCorrupt", err)
	}
}
