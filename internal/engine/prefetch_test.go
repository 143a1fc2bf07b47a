package engine

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// prefetchStore is a memory store that records what Process tells it an
// event reads first (store.Prefetcher), and whose transactions record
// what the function then preloads (store.Preloader), as store/postgres's
// would read them.
type prefetchStore struct {
	store.Store
	told, preloaded [][]store.Read
}

func (s *prefetchStore) UpdatePrefetch(ctx context.Context, reads []store.Read, fn func(store.Tx) error) error {
	s.told = append(s.told, copyReads(reads))
	return s.Update(ctx, func(tx store.Tx) error { return fn(preloadTx{tx, s}) })
}

type preloadTx struct {
	store.Tx
	s *prefetchStore
}

// Fresh and Insert make it a store.Inserter, as store/postgres's
// transactions are: a new event's record is then not read.
func (preloadTx) Fresh(string, []byte) bool { return true }

func (t preloadTx) Insert(bucket string, key, value []byte) error { return t.Put(bucket, key, value) }

func (t preloadTx) Preload(reads ...store.Read) error {
	t.s.preloaded = append(t.s.preloaded, copyReads(reads))
	return nil
}

// copyReads copies reads, which are the caller's (store.Preloader).
func copyReads(reads []store.Read) []store.Read {
	out := make([]store.Read, len(reads))
	for i, r := range reads {
		out[i] = store.Read{Bucket: r.Bucket, Key: bytes.Clone(r.Key), Start: bytes.Clone(r.Start), End: bytes.Clone(r.End)}
	}
	return out
}

// hasRead reports whether reads hold the key of bucket.
func hasRead(reads []store.Read, bucket, key string) bool {
	for _, r := range reads {
		if r.Bucket == bucket && string(r.Key) == key {
			return true
		}
	}
	return false
}

// Process tells a store.Prefetcher exactly what the event's function
// preloads: a store that reads it early reads neither more nor less.
func TestProcessTellsItsReads(t *testing.T) {
	st := &prefetchStore{Store: memory.New()}
	e := New(st, time.UTC, Options{})
	e.Add(fanPart{})
	for i, member := range []string{"a", "b"} {
		ev := fan(fmt.Sprint("e", i), member, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), member)
		if _, err := e.Process(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.told) != 2 {
		t.Fatalf("the store was told the reads of %d events; want 2", len(st.told))
	}
	if diff := cmp.Diff(st.preloaded, st.told); diff != "" {
		t.Errorf("told the store (+) other reads than the functions preloaded (-):\n%s", diff)
	}
	// The member's own keys are among them.
	if !hasRead(st.told[1], bErased, "b") {
		t.Errorf("reads told for member b: %v; want its erased mark among them", st.told[1])
	}
}

// Apply preloads what a request for a member reads first and tells a
// store.Prefetcher the same, with the request's record among them.
func TestApplyTellsItsReads(t *testing.T) {
	st := &prefetchStore{Store: memory.New()}
	e := New(st, time.UTC, Options{})
	e.Add(fanPart{})
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	_, err := e.Apply(context.Background(), Request{ID: "r1", Body: "b", At: at, Member: "c", Action: "test", Operator: "op"},
		func(u *Unit) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(st.told) != 1 || len(st.preloaded) != 1 {
		t.Fatalf("told %d read sets, preloaded %d; want 1 and 1", len(st.told), len(st.preloaded))
	}
	if diff := cmp.Diff(st.preloaded, st.told); diff != "" {
		t.Errorf("told the store (+) other reads than the request preloaded (-):\n%s", diff)
	}
	if !hasRead(st.told[0], bOps, "r1") {
		t.Errorf("reads told: %v; want the request's record among them", st.told[0])
	}
}
