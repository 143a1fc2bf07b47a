package membership_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
)

// TestRetentionDurations runs each setting of Retention on every store:
// four recharges of 1, one change each, on 1, 11, 21 and 31 June at 10:00
// (t0 … t30, feed positions 1 … 4), the consumers' cursors set, then one
// Advance. Worked by hand: the horizon is now − Window; an event before
// it is refused with ErrTooOld and one at or after it is a duplicate
// returning its first outcome; a feed record goes when every cursor has
// passed it and its change is before now − max(Feed, Window), and Feed
// after a position below the last one pruned wraps ErrFeedPruned.
func TestRetentionDurations(t *testing.T) {
	const day = 24 * time.Hour
	start := time.Date(2026, 6, 1, 10, 0, 0, 0, testkit.Shanghai)
	at := func(d int) time.Time { return start.Add(time.Duration(d) * day) }
	cases := []struct {
		name    string
		r       membership.Retention
		cursors map[string]uint64
		now     time.Time
		pruned  uint64 // the position Feed reads after again
		tooOld  int    // the first events refused: e0 … e(tooOld−1)
	}{
		// Horizon t25 (e0, e1, e2 refused); the feed's cut t15 (positions
		// 1 and 2 old), and bi has passed 2.
		{name: "feed longer than the window", r: membership.Retention{Window: 15 * day, Feed: 25 * day},
			cursors: map[string]uint64{"crm": 3, "bi": 2}, now: at(40), pruned: 2, tooOld: 3},
		// A Feed shorter than Window counts as Window: the cut is t25, not
		// t39, so position 4 (e3 at t30, whose retry is inside the window)
		// stays though both cursors passed it.
		{name: "feed shorter than the window", r: membership.Retention{Window: 15 * day, Feed: day},
			cursors: map[string]uint64{"crm": 4, "bi": 4}, now: at(40), pruned: 3, tooOld: 3},
		// The least cursor holds the feed: bi has passed position 1 only.
		{name: "the least cursor", r: membership.Retention{Window: 15 * day, Feed: day},
			cursors: map[string]uint64{"crm": 4, "bi": 1}, now: at(40), pruned: 1, tooOld: 3},
		// No cursor: nobody is waited for.
		{name: "no cursor", r: membership.Retention{Window: 15 * day, Feed: 25 * day},
			now: at(40), pruned: 2, tooOld: 3},
		// A negative Window keeps every record, and the feed with them.
		{name: "window kept for ever", r: membership.Retention{Window: -1, Feed: day},
			now: at(40), pruned: 0, tooOld: 0},
		// A negative Feed keeps the feed; event records still go.
		{name: "feed kept for ever", r: membership.Retention{Window: 15 * day, Feed: -1},
			now: at(40), pruned: 0, tooOld: 3},
		// Defaults, 35 days each: horizon and cut t5.
		{name: "defaults", now: at(40), pruned: 1, tooOld: 1},
		// The horizon falls on e2's instant (t30 − 10 days = t20): e2's
		// record and its feed record stay.
		{name: "horizon at an event's instant", r: membership.Retention{Window: 10 * day, Feed: 10 * day},
			now: at(30), pruned: 2, tooOld: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			onEveryStoreWith(t, testkit.ValueDef(), []membership.Option{membership.WithRetention(c.r)}, func(t *testing.T, ps [2]*membership.Program) {
				ctx := context.Background()
				recharge := func(i int, when time.Time) event.Event {
					return event.Event{ID: fmt.Sprint("e", i), Member: fmt.Sprint("m", i%2), Type: "recharge", Time: when,
						Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1"))}}
				}
				var first []*change.Outcome
				for i := range 4 {
					out, err := ps[i%2].Process(ctx, recharge(i, at(10*i)))
					if err != nil {
						t.Fatal(err)
					}
					first = append(first, out)
					// Sequenced before the next: positions in commit order
					// on PostgreSQL too.
					if _, err := ps[(i+1)%2].Feed(ctx, 0, 1); err != nil {
						t.Fatal(err)
					}
				}
				all, err := ps[0].Feed(ctx, 0, 0)
				if err != nil || len(all) != 4 {
					t.Fatalf("feed before the pass: %d changes, %v; want 4", len(all), err)
				}
				for i, c := range all {
					if c.Seq != uint64(i+1) || c.Event != fmt.Sprint("e", i) {
						t.Fatalf("change %d: position %d of %s; want %d of e%d", i, c.Seq, c.Event, i+1, i)
					}
				}
				for name, seq := range c.cursors {
					if err := ps[0].SetCursor(ctx, name, seq); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := ps[1].Advance(ctx, c.now); err != nil {
					t.Fatal(err)
				}
				for i := range 4 {
					out, err := ps[i%2].Process(ctx, recharge(i, at(10*i)))
					if i < c.tooOld {
						if !errors.Is(err, membership.ErrTooOld) || !errors.Is(err, membership.ErrInvalidEvent) {
							t.Errorf("retry of e%d: %v; want ErrTooOld and ErrInvalidEvent", i, err)
						}
						continue
					}
					if err != nil || !out.Duplicate {
						t.Errorf("retry of e%d: %+v, %v; want a duplicate", i, out, err)
						continue
					}
					out.Duplicate = false
					if diff := cmp.Diff(first[i], out); diff != "" {
						t.Errorf("retry of e%d (-first +retry):\n%s", i, diff)
					}
				}
				// The horizon's own instant is inside the window, a
				// nanosecond before is not.
				h := c.now.Add(-c.r.Window)
				if c.r.Window == 0 {
					h = c.now.Add(-35 * day)
				}
				if c.r.Window >= 0 {
					if _, err := ps[0].Process(ctx, event.Event{ID: "before", Member: "m0", Type: "recharge", Time: h.Add(-time.Nanosecond),
						Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1"))}}); !errors.Is(err, membership.ErrTooOld) {
						t.Errorf("a new event a nanosecond before the horizon: %v; want ErrTooOld", err)
					}
				}
				for _, p := range ps {
					if c.pruned > 0 {
						if _, err := p.Feed(ctx, c.pruned-1, 0); !errors.Is(err, membership.ErrFeedPruned) {
							t.Errorf("Feed(%d): %v; want ErrFeedPruned", c.pruned-1, err)
						}
					}
					got, err := p.Feed(ctx, c.pruned, 0)
					if err != nil {
						t.Fatalf("Feed(%d): %v", c.pruned, err)
					}
					if diff := cmp.Diff(all[c.pruned:], got); diff != "" {
						t.Errorf("Feed(%d) after the pass (-want +got):\n%s", c.pruned, diff)
					}
				}
			})
		})
	}
}

// A cursor inside a record (an event's three changes, positions 1 to 3)
// holds the whole record: retention prunes it only once the cursor has
// passed its last change. A cursor moved back is taken (a consumer reads
// again from there), and one moved back behind what was pruned gets
// ErrFeedPruned from Feed, never the changes after the gap alone.
func TestRetentionCursorInsideARecord(t *testing.T) {
	const day = 24 * time.Hour
	opts := []membership.Option{membership.WithRetention(membership.Retention{Window: 10 * day, Feed: 10 * day})}
	onEveryStoreWith(t, benchDef(), opts, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		// A member's first order publishes three changes (join, growth,
		// points): positions 1-3 for e0, 4-6 for e1.
		for i := range 2 {
			if _, err := ps[i].Process(ctx, benchEvent(int64(i))); err != nil {
				t.Fatal(err)
			}
			if _, err := ps[0].Feed(ctx, 0, 1); err != nil {
				t.Fatal(err)
			}
		}
		all, err := ps[1].Feed(ctx, 0, 0)
		if err != nil || len(all) != 6 || all[2].Event != "e0" || all[3].Event != "e1" {
			t.Fatalf("feed: %+v, %v; want e0's three changes, then e1's", all, err)
		}
		feedFrom := func(after uint64, want []change.Change) {
			t.Helper()
			for _, p := range ps {
				got, err := p.Feed(ctx, after, 0)
				if err != nil {
					t.Fatalf("Feed(%d): %v", after, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Feed(%d) (-want +got):\n%s", after, diff)
				}
			}
		}
		pruned := func(after uint64) {
			t.Helper()
			for _, p := range ps {
				if _, err := p.Feed(ctx, after, 0); !errors.Is(err, membership.ErrFeedPruned) {
					t.Errorf("Feed(%d): %v; want ErrFeedPruned", after, err)
				}
			}
		}
		if err := ps[0].SetCursor(ctx, "crm", 2); err != nil {
			t.Fatal(err)
		}
		// 30 days on, both records are old, and crm is inside the first.
		if _, err := ps[1].Advance(ctx, t0.Add(30*day)); err != nil {
			t.Fatal(err)
		}
		feedFrom(0, all)
		if err := ps[1].SetCursor(ctx, "crm", 3); err != nil {
			t.Fatal(err)
		}
		if _, err := ps[0].Advance(ctx, t0.Add(31*day)); err != nil {
			t.Fatal(err)
		}
		pruned(2)
		feedFrom(3, all[3:])
		// Back to 1: taken, and Feed says what is gone.
		if err := ps[0].SetCursor(ctx, "crm", 1); err != nil {
			t.Fatalf("SetCursor back to 1: %v", err)
		}
		if n, err := ps[1].Cursor(ctx, "crm"); err != nil || n != 1 {
			t.Errorf("Cursor = %d, %v; want 1", n, err)
		}
		pruned(1)
		// crm, at 1, now holds e1's record.
		if _, err := ps[1].Advance(ctx, t0.Add(32*day)); err != nil {
			t.Fatal(err)
		}
		feedFrom(3, all[3:])
	})
}
