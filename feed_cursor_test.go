package membership_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
)

// Feed from a position past the feed's head, which no Feed gave out, is
// refused with ErrInvalidArgument naming "after", the largest position
// too (it read the whole feed to answer an empty page); the head itself
// gives an empty page, before retention and after it pruned the whole
// feed, where a position behind it is ErrFeedPruned. Two events of new
// members publish three changes each: the head is 6.
func TestFeedPastTheHead(t *testing.T) {
	const day = 24 * time.Hour
	opts := []membership.Option{membership.WithRetention(membership.Retention{Window: 10 * day, Feed: 10 * day})}
	onEveryStoreWith(t, benchDef(), opts, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		for i := range 2 {
			if _, err := ps[i].Process(ctx, benchEvent(int64(i))); err != nil {
				t.Fatal(err)
			}
		}
		check := func() {
			t.Helper()
			for _, p := range ps {
				if got, err := p.Feed(ctx, 6, 0); err != nil || len(got) != 0 {
					t.Errorf("Feed(6) = %d changes, %v; want none, nil", len(got), err)
				}
				for _, after := range []uint64{7, math.MaxUint64} {
					got, err := p.Feed(ctx, after, 0)
					if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "after") || got != nil {
						t.Errorf("Feed(%d) = %v, %v; want ErrInvalidArgument naming after", after, got, err)
					}
				}
			}
		}
		check()
		if err := ps[0].SetCursor(ctx, "crm", 6); err != nil {
			t.Fatal(err)
		}
		// 30 days on, both records are old and crm has passed them.
		if _, err := ps[1].Advance(ctx, t0.Add(30*day)); err != nil {
			t.Fatal(err)
		}
		check()
		for _, p := range ps {
			if _, err := p.Feed(ctx, 5, 0); !errors.Is(err, membership.ErrFeedPruned) {
				t.Errorf("Feed(5) after the pass: %v; want ErrFeedPruned", err)
			}
		}
	})
}

// A retired consumer's cursor held the feed for ever: DeleteCursor
// removes it, and the next retention pass prunes past it. Two events of
// new members publish positions 1-3 and 4-6; crm has read them all, old
// stopped at 2, inside the first record, which it holds (and the second
// after it) until its cursor is deleted.
func TestDeleteCursorLetsRetentionPrune(t *testing.T) {
	const day = 24 * time.Hour
	opts := []membership.Option{membership.WithRetention(membership.Retention{Window: 10 * day, Feed: 10 * day})}
	onEveryStoreWith(t, benchDef(), opts, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		for i := range 2 {
			if _, err := ps[i].Process(ctx, benchEvent(int64(i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := ps[0].SetCursor(ctx, "crm", 6); err != nil {
			t.Fatal(err)
		}
		if err := ps[1].SetCursor(ctx, "old", 2); err != nil {
			t.Fatal(err)
		}
		if _, err := ps[1].Advance(ctx, t0.Add(30*day)); err != nil {
			t.Fatal(err)
		}
		if got, err := ps[0].Feed(ctx, 0, 0); err != nil || len(got) != 6 {
			t.Fatalf("Feed(0) with old at 2 = %d changes, %v; want all 6 kept", len(got), err)
		}
		if err := ps[0].DeleteCursor(ctx, "old"); err != nil {
			t.Fatal(err)
		}
		if err := ps[1].DeleteCursor(ctx, "never-set"); err != nil {
			t.Errorf("DeleteCursor of a consumer without a cursor: %v; want nil", err)
		}
		if err := ps[1].DeleteCursor(ctx, ""); !errors.Is(err, membership.ErrInvalidArgument) {
			t.Errorf("DeleteCursor(\"\"): %v; want ErrInvalidArgument", err)
		}
		for _, p := range ps {
			if n, err := p.Cursor(ctx, "old"); err != nil || n != 0 {
				t.Errorf("Cursor(old) after DeleteCursor = %d, %v; want 0", n, err)
			}
			if n, err := p.Cursor(ctx, "crm"); err != nil || n != 6 {
				t.Errorf("Cursor(crm) = %d, %v; want 6, untouched", n, err)
			}
		}
		// A day on, the next pass waits for crm alone, at the head.
		if _, err := ps[0].Advance(ctx, t0.Add(31*day)); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if _, err := p.Feed(ctx, 5, 0); !errors.Is(err, membership.ErrFeedPruned) {
				t.Errorf("Feed(5) after the pass: %v; want ErrFeedPruned", err)
			}
			if got, err := p.Feed(ctx, 6, 0); err != nil || len(got) != 0 {
				t.Errorf("Feed(6) = %d changes, %v; want none, nil", len(got), err)
			}
		}
	})
}
