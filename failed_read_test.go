package membership_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// failedReads is a store whose reads of bucket, once it is set, fail with
// an error wrapping store.ErrFailed, as store/postgres's do when the
// connection is lost: the store failed, the data is not damaged.
type failedReads struct {
	store.Store
	bucket string
}

type failedReadsTx struct {
	store.Tx
	bucket string
}

func (t failedReadsTx) Get(bucket string, key []byte) ([]byte, error) {
	if bucket == t.bucket {
		return nil, fmt.Errorf("test store: %s %q: %w", bucket, key, store.ErrFailed)
	}
	return t.Tx.Get(bucket, key)
}

func (f *failedReads) View(ctx context.Context, fn func(store.Tx) error) error {
	return f.Store.View(ctx, func(tx store.Tx) error { return fn(failedReadsTx{tx, f.bucket}) })
}

func (f *failedReads) Update(ctx context.Context, fn func(store.Tx) error) error {
	return f.Store.Update(ctx, func(tx store.Tx) error { return fn(failedReadsTx{tx, f.bucket}) })
}

// TestFailedReadIsNotDamage: a read that fails because the store failed
// (store.ErrFailed) is told apart from damaged data (README: a store's own
// failure is told apart by the sentinel it wraps). Audit by member reads
// each entry under its time key, Erase reads the entries it redacts, and a
// retry reads its first outcome's changes from the feed: each returned
// the store's failure wrapped in ErrCorrupt, so that a lost connection
// read as damage. They now wrap ErrFailed alone, and the erasure changes
// nothing.
func TestFailedReadIsNotDamage(t *testing.T) {
	ctx := context.Background()
	st := &failedReads{Store: memory.New()}
	p, err := membership.Open(st, erasableDef(t))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, p.Location())
	adjust := points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "n", At: at, Program: "mall", Amount: decimal.NewFromInt(50)}
	if _, err := p.Points().Adjust(ctx, adjust); err != nil {
		t.Fatal(err)
	}
	// A refusal of m1's, which the erasure reads to redact.
	over := adjust
	over.RequestID, over.Program = "adj-2", "nosuch"
	if _, err := p.Points().Adjust(ctx, over); !errors.Is(err, points.ErrUnknownProgram) {
		t.Fatalf("adjusting an unknown program: %v", err)
	}
	failed := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrFailed) || errors.Is(err, membership.ErrCorrupt) {
			t.Errorf("%s: %v; want store.ErrFailed, not ErrCorrupt", name, err)
		}
	}
	st.bucket = "audit.time"
	_, err = p.Audit(ctx, membership.AuditQuery{Member: "m1"})
	failed("Audit by member", err)
	_, err = p.Erase(ctx, membership.EraseRequest{RequestID: "e1", Member: "m1", Operator: "op.dpo", At: at.Add(time.Hour)})
	failed("Erase", err)
	st.bucket = "feed"
	_, err = p.Points().Adjust(ctx, adjust)
	failed("a retry of adj-1", err)
	st.bucket = ""
	if _, erased, err := p.Erased(ctx, "m1"); err != nil || erased {
		t.Errorf("after the failed erasure: erased %v (%v), want not", erased, err)
	}
	if out, err := p.Points().Adjust(ctx, adjust); err != nil || !out.Outcome.Duplicate {
		t.Errorf("a retry of adj-1 once the store reads again: %v, %v; want its first outcome", out, err)
	}
}
