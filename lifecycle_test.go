package membership_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
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

// failing is a store whose Updates, once fail is set, return it without
// running their function: a store that gave up after conflicts, or found
// itself damaged.
type failing struct {
	store.Store
	fail error
}

func (f *failing) Update(ctx context.Context, fn func(store.Tx) error) error {
	if f.fail != nil {
		return f.fail
	}
	return f.Store.Update(ctx, fn)
}

// TestReplayChangedStopsOnStoreFailure replays alice's history under the
// changed program into a store that fails every Update after the first
// input (her registration): the failure is the store's, not a refusal of
// the changed program, so ReplayWith returns it, having applied one input
// and refused none, whatever sentinel the store's error wraps.
func TestReplayChangedStopsOnStoreFailure(t *testing.T) {
	ctx := context.Background()
	actual, changed := changedDefs(t)
	_, from := changedSource(t, actual)
	for _, sentinel := range []error{store.ErrConflict, store.ErrCorrupt, store.ErrClosed, store.ErrFailed} {
		t.Run(sentinel.Error(), func(t *testing.T) {
			st := &failing{Store: memory.New()}
			p, err := membership.Open(st, changed)
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.ReplayWith(ctx, from, membership.ReplayOptions{Changed: true, Progress: func(done, _ uint64) {
				if done == 1 {
					st.fail = fmt.Errorf("test store: %w", sentinel)
				}
			}})
			if !errors.Is(err, sentinel) {
				t.Errorf("ReplayWith into a failing store = %v; want an error wrapping %v", err, sentinel)
			}
			if res.Applied != 1 || res.Last != 1 || len(res.Refused) != 0 {
				t.Errorf("applied %d, last %d, refused %+v; want 1, 1, none", res.Applied, res.Last, res.Refused)
			}
		})
	}
}

// damagedTx fails every Get of bucket with an error wrapping
// store.ErrCorrupt, as store/bolt does for a record whose checksum fails.
type damagedTx struct {
	store.Tx
	bucket string
}

func (d damagedTx) Get(bucket string, key []byte) ([]byte, error) {
	if bucket == d.bucket {
		return nil, fmt.Errorf("test store: %s %q: %w", bucket, key, store.ErrCorrupt)
	}
	return d.Tx.Get(bucket, key)
}

// damaged is a store whose Updates, once bucket is set, read that bucket
// as damaged.
type damaged struct {
	store.Store
	bucket string
}

func (d *damaged) Update(ctx context.Context, fn func(store.Tx) error) error {
	if d.bucket == "" {
		return d.Store.Update(ctx, fn)
	}
	return d.Store.Update(ctx, func(tx store.Tx) error { return fn(damagedTx{tx, d.bucket}) })
}

// TestAuditKeepsNoStoreFailure redeems points while the store finds the
// member's balance damaged: the call fails with an error wrapping
// store.ErrCorrupt, which is the store's failure, not the call's refusal,
// so the audit trail records nothing of it (it records an overspend).
func TestAuditKeepsNoStoreFailure(t *testing.T) {
	ctx := context.Background()
	st := &damaged{Store: memory.New()}
	p, err := membership.Open(st, testkit.OrderDef())
	if err != nil {
		t.Fatal(err)
	}
	testkit.MustProcess(t, p, event.Event{ID: "o1", Member: "m", Type: "order", Time: t0, Attrs: event.Attrs{"amount": event.Dec(dec("10"))}})
	redeem := func(id, amount string) error {
		_, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: id, Member: "m", Operator: "op", At: t0.Add(time.Hour),
			Program: "mall", Ref: id, Amount: dec(amount)})
		return err
	}
	if err := redeem("over", "11"); !errors.Is(err, membership.ErrInsufficientBalance) {
		t.Fatalf("Redeem of 11 of 10 points = %v; want ErrInsufficientBalance", err)
	}
	st.bucket = "ledger.bal"
	if err := redeem("damaged", "5"); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Redeem with the balance damaged = %v; want an error wrapping store.ErrCorrupt", err)
	}
	st.bucket = ""
	page, err := p.Audit(ctx, membership.AuditQuery{Member: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Entries {
		got = append(got, e.Request+" "+e.Result)
	}
	if want := []string{"over " + membership.AuditRefused}; !slices.Equal(got, want) {
		t.Errorf("audit of m = %q; want %q", got, want)
	}
}

// gate is a store whose next Update, once armed, waits for release after
// closing entered.
type gate struct {
	store.Store
	entered, release chan struct{}
}

func (g *gate) Update(ctx context.Context, fn func(store.Tx) error) error {
	if g.entered != nil {
		close(g.entered)
		g.entered = nil
		<-g.release
	}
	return g.Store.Update(ctx, fn)
}

// TestSchedulerStopWaitsForRun stops a scheduler while the Advance that
// Run (a catch-up at start) began is held in the store: Stop's context is
// not done until that Advance has returned, so that a host closing the
// store once it is done does not close it under the Advance.
func TestSchedulerStopWaitsForRun(t *testing.T) {
	st := &gate{Store: memory.New()}
	p, err := membership.Open(st, testkit.OrderDef(), membership.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Schedule(context.Background(), "0 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	st.entered, st.release = entered, release
	ran := make(chan struct{})
	go func() {
		s.Run()
		close(ran)
	}()
	<-entered
	stopped := s.Stop()
	// Stop's context must stay open while the Advance is held: give its
	// goroutines every chance to (wrongly) end it.
	for range 10000 {
		if stopped.Err() != nil {
			t.Fatal("Stop's context is done while the Advance Run began is still running")
		}
		runtime.Gosched()
	}
	close(release)
	<-ran
	<-stopped.Done()
	if w, err := p.Watermark(context.Background()); err != nil || !w.Equal(t0) {
		t.Errorf("Watermark after the run = %v, %v; want %v", w, err, t0)
	}
}
