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

// A request its Check refuses is refused with Check's error and not run,
// unless a request of its ID and Body was applied: then it gets the first
// outcome, Duplicate set, from Apply and from ApplyBatch, where a retry
// does not count as the refusal that stops the batch. Other content under
// the ID gets Check's error, not ErrConflict, as a request the definition
// refuses would have; so does a malformed request (Check's error comes
// first, as the handle's own checks did).
func TestApplyCheckedRetryGetsTheFirstOutcome(t *testing.T) {
	ctx := context.Background()
	e := New(memory.New(), time.UTC, Options{})
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	errDropped := errors.New("dropped by the definition")
	runs := 0
	req := func(id, amount string, check func() error) (Request, func(u *Unit) error) {
		return Request{ID: id, Body: map[string]string{"amount": amount}, At: at, Member: "m1", Check: check},
			func(u *Unit) error {
				runs++
				return u.Emit("test.adjusted", "m1", map[string]string{"amount": amount}, nil)
			}
	}
	apply := func(id, amount string, check func() error) (*change.Outcome, error) {
		r, fn := req(id, amount, check)
		return e.Apply(ctx, r, fn)
	}
	refuse := func() error { return errDropped }
	first, err := apply("r1", "5", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := *first
	want.Duplicate = true
	again, err := apply("r1", "5", refuse)
	if err != nil {
		t.Fatalf("retry Check refuses: %v; want the first outcome", err)
	}
	if diff := cmp.Diff(&want, again); diff != "" {
		t.Errorf("retry's outcome (-want +got):\n%s", diff)
	}
	for _, c := range []struct{ id, amount string }{{"r2", "5"}, {"r1", "6"}, {"", "5"}} {
		if out, err := apply(c.id, c.amount, refuse); !errors.Is(err, errDropped) {
			t.Errorf("request %q of %s Check refuses: %+v, %v; want its error", c.id, c.amount, out, err)
		}
	}
	for _, stop := range []bool{true, false} {
		r1, f1 := req("r1", "5", refuse)
		r3, f3 := req("r3", "5", refuse)
		r4, f4 := req("r4", "5", nil) // not run with stop, so applied without
		outs, errs, err := e.ApplyBatch(ctx, []Request{r1, r3, r4}, []func(u *Unit) error{f1, f3, f4}, stop)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&want, outs[0]); diff != "" || errs[0] != nil {
			t.Errorf("stop %v: r1's retry in a batch: %v (-want +got):\n%s", stop, errs[0], diff)
		}
		if outs[1] != nil || !errors.Is(errs[1], errDropped) {
			t.Errorf("stop %v: r3 in a batch: %+v, %v; want Check's error", stop, outs[1], errs[1])
		}
		if applied := outs[2] != nil && !outs[2].Duplicate && errs[2] == nil; applied == stop {
			t.Errorf("stop %v: r4 after r3's refusal: %+v, %v", stop, outs[2], errs[2])
		}
	}
	if runs != 2 { // r1 once, r4 in the batch without stop
		t.Errorf("%d runs, want 2", runs)
	}
}
