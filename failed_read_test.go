package membership_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
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

// TestRetryOfRequestWhoseEntriesAreGone: an event's or a request's record
// names the ledger entries it posted, and the ledger keeps every entry for
// ever, so a retry that finds one of them gone finds damage: the retry
// wraps ErrCorrupt (it returned the store's ErrNotFound, which reads as "no
// such thing", not as damage) and writes no refusal in the audit trail.
func TestRetryOfRequestWhoseEntriesAreGone(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, erasableDef(t))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, p.Location())
	adjust := points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "n", At: at, Program: "mall", Amount: decimal.NewFromInt(50)}
	if _, err := p.Points().Adjust(ctx, adjust); err != nil {
		t.Fatal(err)
	}
	order := event.Event{ID: "o1", Member: "m2", Type: "order", Time: at,
		Attrs: event.Attrs{"amount": event.DecString("200"), "order_id": event.Str("o1")}}
	if _, err := p.Process(ctx, order); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = st.Update(ctx, func(tx store.Tx) error {
		var ks [][]byte
		if err := tx.Scan("ledger.entry", nil, nil, false, func(k, _ []byte) error {
			ks = append(ks, bytes.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range ks {
			if err := tx.Delete("ledger.entry", k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("deleting the ledger entries: %d, %v", n, err)
	}
	_, err = p.Points().Adjust(ctx, adjust)
	if !errors.Is(err, membership.ErrCorrupt) {
		t.Errorf("a retry of adj-1 with its entries gone: %v, want ErrCorrupt", err)
	}
	if _, err = p.Process(ctx, order); !errors.Is(err, membership.ErrCorrupt) {
		t.Errorf("a retry of o1 with its entries gone: %v, want ErrCorrupt", err)
	}
	pg, err := p.Audit(ctx, membership.AuditQuery{})
	if err != nil || len(pg.Entries) != 1 || pg.Entries[0].Result != membership.AuditAccepted {
		t.Errorf("audit trail: %+v (%v), want adj-1's acceptance alone", pg.Entries, err)
	}
}
