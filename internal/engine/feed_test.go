package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// fanPart emits one change for each member an event lists in "to", in
// that order, numbered from 1 in its payload.
type fanPart struct{}

func (fanPart) DueKinds() []string    { return nil }
func (fanPart) Due(*Unit, Item) error { return nil }
func (fanPart) Process(u *Unit, ev event.Event) error {
	for i, m := range ev.Attrs["to"].Strings {
		if err := u.Emit("test.fan", m, map[string]int{"i": i + 1}, nil); err != nil {
			return err
		}
	}
	return nil
}

// stripedStore is a memory store that asks for shared keys split, as a
// store with concurrent writers does: the engine writes the feed per
// member there.
type stripedStore struct{ *memory.Store }

func (stripedStore) Stripes() int { return 8 }

// newFanEngine returns an engine with a fanPart on a memory store, split
// or not.
func newFanEngine(t *testing.T, split bool) *Engine {
	t.Helper()
	var st store.Store = memory.New()
	if split {
		st = stripedStore{memory.New()}
	}
	e := New(st, time.UTC, Options{})
	e.Add(fanPart{})
	return e
}

func fan(id, member string, at time.Time, to ...string) event.Event {
	return event.Event{ID: id, Member: member, Type: "fan", Time: at, Attrs: event.Attrs{"to": event.List(to...)}}
}

func count(t *testing.T, e *Engine, bucket string) int {
	t.Helper()
	n := 0
	err := e.Store().View(context.Background(), func(tx store.Tx) error {
		return tx.Scan(bucket, nil, nil, false, func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type seen struct {
	Seq    uint64
	Member string
	Data   string
}

func seenOf(cs []change.Change) []seen {
	var out []seen
	for _, c := range cs {
		out = append(out, seen{c.Seq, c.Member, string(c.Data)})
	}
	return out
}

// On a store that splits shared keys, a unit's changes are stored one
// pending record per member; the feed gives them positions when it is
// read, each member's records in order; a repeated event gets its first
// outcome back before and after that.
func TestFeedSplitsAUnitByMemberAndRepeatsItsOutcome(t *testing.T) {
	ctx := context.Background()
	e := newFanEngine(t, true)
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	ev := fan("e1", "b", at, "b", "a", "b", "c")
	first, err := e.Process(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	want := []seen{{0, "b", `{"i":1}`}, {0, "a", `{"i":2}`}, {0, "b", `{"i":3}`}, {0, "c", `{"i":4}`}}
	if diff := cmp.Diff(want, seenOf(first.Changes)); diff != "" {
		t.Fatalf("outcome (-want +got):\n%s", diff)
	}
	if n := count(t, e, bPending); n != 3 {
		t.Errorf("%d pending records, want 3 (members a, b and c)", n)
	}
	again, err := e.Process(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate {
		t.Error("repeat not marked Duplicate")
	}
	if diff := cmp.Diff(want, seenOf(again.Changes)); diff != "" {
		t.Errorf("repeat before the feed is read (-want +got):\n%s", diff)
	}
	// The sequencer takes pending records in key order: a's record, then
	// b's two changes, then c's.
	feed, err := e.Feed(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantFeed := []seen{{1, "a", `{"i":2}`}, {2, "b", `{"i":1}`}, {3, "b", `{"i":3}`}, {4, "c", `{"i":4}`}}
	if diff := cmp.Diff(wantFeed, seenOf(feed)); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
	if n := count(t, e, bPending); n != 0 {
		t.Errorf("%d records still pending after Feed", n)
	}
	again, err = e.Process(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, seenOf(again.Changes)); diff != "" {
		t.Errorf("repeat after the feed was read (-want +got):\n%s", diff)
	}
	// From a position inside b's record.
	feed, err = e.Feed(ctx, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantFeed[2:], seenOf(feed)); diff != "" {
		t.Errorf("feed after 2 (-want +got):\n%s", diff)
	}
}

// On a store that runs Updates one at a time, a unit's changes go to the
// feed's tail at once, in the order they were made.
func TestFeedAppendsOnASerialStore(t *testing.T) {
	ctx := context.Background()
	e := newFanEngine(t, false)
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	ev := fan("e1", "b", at, "b", "a", "b", "c")
	if _, err := e.Process(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Process(ctx, fan("e2", "a", at, "a")); err != nil {
		t.Fatal(err)
	}
	if n := count(t, e, bPending); n != 0 {
		t.Errorf("%d pending records on a serial store", n)
	}
	if n := count(t, e, bFeed); n != 2 {
		t.Errorf("%d feed records, want 2 (one a unit)", n)
	}
	again, err := e.Process(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	want := []seen{{0, "b", `{"i":1}`}, {0, "a", `{"i":2}`}, {0, "b", `{"i":3}`}, {0, "c", `{"i":4}`}}
	if diff := cmp.Diff(want, seenOf(again.Changes)); diff != "" {
		t.Errorf("repeat (-want +got):\n%s", diff)
	}
	feed, err := e.Feed(ctx, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantFeed := []seen{{2, "a", `{"i":2}`}, {3, "b", `{"i":3}`}, {4, "c", `{"i":4}`}, {5, "a", `{"i":1}`}}
	if diff := cmp.Diff(wantFeed, seenOf(feed)); diff != "" {
		t.Errorf("feed after 1 (-want +got):\n%s", diff)
	}
}

// Many events for a few members, read in pages from a cursor while more
// arrive (more than a sequencer page): every change once, at positions
// 1, 2, 3, …, and each member's in the order its events were processed,
// on a store that splits shared keys and on one that does not.
func TestFeedKeepsEachChangeOnceAndEachMembersOrder(t *testing.T) {
	for _, split := range []bool{true, false} {
		t.Run(fmt.Sprint("split=", split), func(t *testing.T) { testFeedOrder(t, split) })
	}
}

func testFeedOrder(t *testing.T, split bool) {
	ctx := context.Background()
	e := newFanEngine(t, split)
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	members := []string{"m3", "m1", "m2"}
	const events = 2600
	var cursor uint64
	last := map[string]int{}
	got := 0
	read := func() {
		for {
			page, err := e.Feed(ctx, cursor, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				return
			}
			for _, c := range page {
				if c.Seq != cursor+1 {
					t.Fatalf("position %d after %d", c.Seq, cursor)
				}
				cursor = c.Seq
				var n int
				if _, err := fmt.Sscanf(c.Event, "e%d", &n); err != nil {
					t.Fatal(err)
				}
				if n <= last[c.Member] {
					t.Fatalf("%s: event %d after %d", c.Member, n, last[c.Member])
				}
				last[c.Member] = n
				got++
			}
		}
	}
	for i := 1; i <= events; i++ {
		m := members[i%3]
		if _, err := e.Process(ctx, fan(fmt.Sprint("e", i), m, at, m)); err != nil {
			t.Fatal(err)
		}
		if i == 1500 {
			read()
		}
	}
	read()
	if got != events {
		t.Errorf("%d changes in the feed, want %d", got, events)
	}
	// Each member's last event: the largest i ≤ 2600 with members[i%3] it.
	if last["m1"] != 2599 || last["m2"] != 2600 || last["m3"] != 2598 {
		t.Errorf("last events per member %v, want m1 2599, m2 2600, m3 2598", last)
	}
}
