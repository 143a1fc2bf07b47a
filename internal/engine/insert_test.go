package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// insertingStore is a striped memory store whose transactions insert
// (store.Inserter), as store/postgres's do, counting the records inserted
// by bucket.
type insertingStore struct {
	stripedStore
	inserted map[string]int
}

func (s insertingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.stripedStore.Update(ctx, func(tx store.Tx) error { return fn(insertingTx{tx, s.inserted}) })
}

type insertingTx struct {
	store.Tx
	inserted map[string]int
}

func (insertingTx) Fresh(string, []byte) bool { return true }

func (t insertingTx) Insert(bucket string, key, value []byte) error {
	if _, err := t.Get(bucket, key); err == nil {
		return fmt.Errorf("insert of %q in %q, which exists", key, bucket)
	}
	t.inserted[bucket]++
	return t.Put(bucket, key, value)
}

// On a store that inserts, an event's pending feed records (one a member
// it changed) are inserted with its record, not Put: their keys are new.
func TestPendingRecordsInserted(t *testing.T) {
	st := insertingStore{stripedStore{memory.New()}, map[string]int{}}
	e := New(st, time.UTC, Options{})
	e.Add(fanPart{})
	if _, err := e.Process(context.Background(), fan("e1", "b", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), "b", "a", "c")); err != nil {
		t.Fatal(err)
	}
	// And the member's "not erased" record (see bErased).
	want := map[string]int{bEvents: 1, bPending: 3, bErased: 1}
	if diff := cmp.Diff(want, st.inserted); diff != "" {
		t.Errorf("records inserted, by bucket (-want +got):\n%s", diff)
	}
	changes, err := e.Feed(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 3 {
		t.Errorf("the feed has %d changes; want 3", len(changes))
	}
}

// On a store that runs Updates concurrently, a member's first event (or
// request) writes its empty erasure record ("not erased"), and its later
// ones none; an erasure replaces it with the erasure's time, after which
// the member's events are refused. Erased reports the member erased only
// then. A store that runs Updates one at a time gets no such record.
func TestErasedMarks(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		st    store.Store
		marks int // records in bErased before the erasure: b's and c's
	}{
		{"striped", stripedStore{memory.New()}, 2},
		{"serial", memory.New(), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			e := New(c.st, time.UTC, Options{})
			e.Add(fanPart{})
			for i, id := range []string{"e1", "e2", "e3"} {
				if _, err := e.Process(ctx, fan(id, "b", at.Add(time.Duration(i)*time.Minute), "b")); err != nil {
					t.Fatal(err)
				}
			}
			// A request for c, a member with no event yet, and one more.
			for _, id := range []string{"r0", "r00"} {
				_, err := e.Apply(ctx, Request{ID: id, Body: id, At: at, Member: "c", Action: "test", Operator: "op"},
					func(u *Unit) error { return nil })
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := count(t, e, bErased); n != c.marks {
				t.Fatalf("%d erasure records after b's events and c's requests; want %d", n, c.marks)
			}
			if _, ok, err := e.Erased(ctx, "b"); err != nil || ok {
				t.Fatalf("Erased(b) before the erasure = %v, %v; want not erased", ok, err)
			}
			when := at.Add(time.Hour)
			_, err := e.Apply(ctx, Request{ID: "r1", Body: "erase b", At: when, Member: "b", Action: "member.erase", Operator: "op"},
				func(u *Unit) error { return u.Erase("b") })
			if err != nil {
				t.Fatal(err)
			}
			if got, ok, err := e.Erased(ctx, "b"); err != nil || !ok || !got.Equal(when) {
				t.Errorf("Erased(b) = %v, %v, %v; want %v", got, ok, err, when)
			}
			if n := count(t, e, bErased); n != max(c.marks, 1) {
				t.Errorf("%d erasure records after the erasure; want %d", n, max(c.marks, 1))
			}
			if _, err := e.Process(ctx, fan("e4", "b", at.Add(2*time.Hour), "b")); !errors.Is(err, ErrErased) {
				t.Errorf("an event of b after the erasure: %v; want ErrErased", err)
			}
		})
	}
}
