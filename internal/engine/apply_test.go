package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// feedRecords counts the feed records in e's store.
func feedRecords(t *testing.T, e *Engine) int {
	t.Helper()
	n := 0
	err := e.Store().View(context.Background(), func(tx store.Tx) error {
		// A record is pending until the feed is read, then sequenced.
		for _, b := range []string{bFeed, bPending} {
			if err := tx.Scan(b, nil, nil, false, func(_, _ []byte) error { n++; return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// An operator request is idempotent by its ID: the same Body again returns
// the first outcome, marked Duplicate, without running again; another Body
// under the same ID is a conflict that changes nothing; a request without
// an ID or a time is refused.
func TestApplyIsIdempotentByRequestID(t *testing.T) {
	ctx := context.Background()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	e := New(memory.New(), loc, Options{})
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, loc)
	type body struct {
		Member string `json:"member"`
		Amount string `json:"amount"`
	}
	runs := 0
	apply := func(id string, at time.Time, b body) (*change.Outcome, error) {
		req := Request{ID: id, Body: b, At: at, Member: b.Member}
		return e.Apply(ctx, req, func(u *Unit) error {
			runs++
			return u.Emit("test.adjusted", b.Member, map[string]string{"amount": b.Amount}, nil)
		})
	}

	first, err := apply("r1", at, body{"m1", "5"})
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || first.Event != "r1" || first.Member != "m1" || !first.Time.Equal(at) ||
		len(first.Changes) != 1 || first.Changes[0].Seq != 0 || first.Changes[0].Event != "r1" || string(first.Changes[0].Data) != `{"amount":"5"}` {
		t.Fatalf("first outcome = %+v", first)
	}

	again, err := apply("r1", at, body{"m1", "5"})
	if err != nil {
		t.Fatal(err)
	}
	want := *first
	want.Duplicate = true
	if diff := cmp.Diff(&want, again); diff != "" {
		t.Errorf("repeat outcome (-first +repeat):\n%s", diff)
	}
	if runs != 1 {
		t.Errorf("request ran %d times, want 1", runs)
	}
	if n := feedRecords(t, e); n != 1 {
		t.Errorf("%d feed records, want 1", n)
	}

	if out, err := apply("r1", at, body{"m1", "6"}); !errors.Is(err, event.ErrConflict) {
		t.Errorf("same ID, other body = %+v, %v; want ErrConflict", out, err)
	}
	if runs != 1 {
		t.Errorf("conflicting request ran (%d runs)", runs)
	}
	if n := feedRecords(t, e); n != 1 {
		t.Errorf("%d feed records after a conflict, want 1", n)
	}
	feed, err := e.Feed(ctx, 0, 10)
	if err != nil || len(feed) != 1 || string(feed[0].Data) != `{"amount":"5"}` {
		t.Errorf("feed after a conflict = %+v, %v", feed, err)
	}
	// The first outcome is still the one a retry gets.
	if again, err := apply("r1", at, body{"m1", "5"}); err != nil || !again.Duplicate || string(again.Changes[0].Data) != `{"amount":"5"}` {
		t.Errorf("retry after a conflict = %+v, %v", again, err)
	}

	for _, bad := range []struct {
		id string
		at time.Time
	}{{"", at}, {"r2", time.Time{}}} {
		if out, err := apply(bad.id, bad.at, body{"m1", "5"}); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("Apply(ID %q, At %v) = %+v, %v; want ErrInvalidArgument", bad.id, bad.at, out, err)
		}
	}
	if runs != 1 || feedRecords(t, e) != 1 {
		t.Errorf("invalid requests ran (%d runs) or wrote to the feed", runs)
	}
}
