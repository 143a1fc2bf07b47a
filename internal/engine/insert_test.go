package engine

import (
	"context"
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
	want := map[string]int{bEvents: 1, bPending: 3}
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
