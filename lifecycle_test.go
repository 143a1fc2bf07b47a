package membership_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// cancelAt is a store that cancels a context as its Update number at
// begins (counting from 1), before the Update sees it.
type cancelAt struct {
	store.Store
	n, at  int
	cancel context.CancelFunc
}

func (c *cancelAt) Update(ctx context.Context, fn func(store.Tx) error) error {
	if c.n++; c.n == c.at {
		c.cancel()
	}
	return c.Store.Update(ctx, fn)
}

// TestAdvanceCancelledBetweenPages cancels an Advance as its second page
// begins: it returns the items of the first page (256 of the 600 lots
// that expire) with an error wrapping context.Canceled, leaves the
// watermark where it was and the ledger whole, and the next Advance
// performs the other 344.
func TestAdvanceCancelledBetweenPages(t *testing.T) {
	ctx := context.Background()
	st := &cancelAt{Store: memory.New()}
	p, err := membership.Open(st, testkit.OrderDef())
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]event.Event, 600)
	for i := range evs {
		evs[i] = event.Event{ID: fmt.Sprint("o", i), Member: fmt.Sprint("m", i), Type: "order", Time: t0,
			Attrs: event.Attrs{"amount": event.Dec(dec("1"))}}
	}
	testkit.MustProcess(t, p, evs...)
	later := t0.AddDate(2, 0, 0) // the points are valid 365 days
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st.at, st.cancel = st.n+2, cancel
	n, err := p.Advance(cctx, later)
	if n != 256 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Advance cancelled at its second page = %d, %v; want 256 and an error wrapping context.Canceled", n, err)
	}
	if w, err := p.Watermark(ctx); err != nil || !w.IsZero() {
		t.Errorf("Watermark after the cancelled Advance = %v, %v; want the zero time", w, err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Errorf("Verify after the cancelled Advance: %v", err)
	}
	if n, err := p.Advance(ctx, later); n != 344 || err != nil {
		t.Errorf("Advance after the cancelled one = %d, %v; want 344, nil", n, err)
	}
	if w, err := p.Watermark(ctx); err != nil || !w.Equal(later) {
		t.Errorf("Watermark = %v, %v; want %v", w, err, later)
	}
	if err := p.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}
}
