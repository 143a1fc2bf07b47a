package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// rerunStore is a memory store whose Updates, while rerun is set, run
// their function once in a transaction that is then rolled back, and
// again in one that commits: what store/postgres does after a
// serialization failure, or when a group's transaction fails.
type rerunStore struct {
	*memory.Store
	rerun bool
}

var errRerun = errors.New("rolled back to run again")

func (s *rerunStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.rerun {
		if err := s.Store.Update(ctx, func(tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return errRerun
		}); !errors.Is(err, errRerun) {
			return err
		}
	}
	return s.Store.Update(ctx, fn)
}

// A retention pass whose transactions run twice, as on PostgreSQL after a
// conflict, prunes the whole feed as one that runs them once: 1,100
// records, more than a transaction's page of 1,024, all old and no
// cursor. The feed's pass kept where its next page starts in the
// function, so the run that was rolled back had moved it on and the one
// that committed began at the second page: the first 1,024 stayed.
func TestPruneFeedRunTwice(t *testing.T) {
	ctx := context.Background()
	st := &rerunStore{Store: memory.New()}
	const day = 24 * time.Hour
	e := New(st, time.UTC, Options{Retention: Retention{Window: day, Feed: day}})
	e.Add(fanPart{})
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for i := range 1100 {
		if _, err := e.Process(ctx, fan(fmt.Sprint("e", i), "m", at, "m")); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, e, bFeed); n != 1100 {
		t.Fatalf("%d feed records, want 1100", n)
	}
	st.rerun = true
	if _, err := e.Advance(ctx, at.Add(10*day)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, e, bFeed); n != 0 {
		t.Errorf("%d feed records after the pass, want 0", n)
	}
	if _, err := e.Feed(ctx, 1099, 10); !errors.Is(err, ErrPruned) {
		t.Errorf("Feed(1099): %v; want ErrPruned", err)
	}
	if cs, err := e.Feed(ctx, 1100, 10); err != nil || len(cs) != 0 {
		t.Errorf("Feed(1100): %v, %v; want nothing", cs, err)
	}
}
