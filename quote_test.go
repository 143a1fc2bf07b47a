package membership_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/value"
)

// retailDef is the retail example's program (testkit.RetailDef).
func retailDef(t testing.TB) membership.Definition {
	return testkit.RetailDef(t, "examples/retail/program.json")
}

func retailEvents() []event.Event { return testkit.RetailEvents() }

// TestQuoteEqualsProcess quotes each event of a rich history and then
// processes it: the quote is the Process outcome, whole (entries, changes,
// reasons, coupon codes drawn from the same random bytes), on each store.
// An event a rule refuses (a card payment beyond the balance) is refused
// by the quote with the same error.
func TestQuoteEqualsProcess(t *testing.T) {
	ctx := context.Background()
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			rr := &testkit.RewindRand{}
			p, err := membership.Open(open(), retailDef(t), membership.WithRand(rr))
			if err != nil {
				t.Fatal(err)
			}
			kinds := testkit.QuoteThenProcess(t, p, rr, retailEvents()...)
			// The history is meant to cover these effects; the comparison
			// above proves nothing about one it never reached.
			for _, k := range []string{coupon.ChangePackIssued, coupon.ChangeIssued, points.ChangeEarned, level.ChangeGrowth,
				level.ChangeLevel, level.ChangeGift, task.ChangeProgressed, task.ChangeCompleted, value.ChangeRecharged, value.ChangeSpent} {
				if !kinds[k] {
					t.Errorf("the history published no %s change", k)
				}
			}
			// A year on, without Advance: alice's order catches up her Gold
			// term end (12 months after 6 March 2025) inside the event.
			later := event.Event{ID: "o6", Member: "alice", Type: "order", Time: time.Date(2026, 4, 1, 10, 0, 0, 0, testkit.Shanghai),
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("10")), "order_id": event.Str("o6")}}
			testkit.QuoteThenProcess(t, p, rr, later)
			q, err := p.Quote(ctx, later) // now a Duplicate: the recorded outcome
			if err != nil {
				t.Fatal(err)
			}
			ef, err := level.EffectsOf(q)
			if err != nil {
				t.Fatal(err)
			}
			if len(ef.Levels) == 0 || ef.Levels[0].Cause != level.CauseTermEnd {
				t.Errorf("the order a year on shows no term end caught up: %+v", ef.Levels)
			}
			over := event.Event{ID: "pay2", Member: "alice", Type: "value_pay", Time: time.Date(2025, 3, 9, 0, 0, 0, 0, testkit.Shanghai),
				Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("450.01"))}}
			_, qerr := p.Quote(ctx, over)
			_, perr := p.Process(ctx, over)
			if !errors.Is(qerr, membership.ErrInsufficientBalance) || !errors.Is(perr, membership.ErrInsufficientBalance) {
				t.Errorf("a payment beyond the balance: Quote = %v, Process = %v; want both ErrInsufficientBalance", qerr, perr)
			}
		})
	}
}

// TestQuoteAlice checks one quote against figures worked out by hand.
// Before it alice has 100 growth and 100 points (her order of 100 at
// Silver, 1 per yuan), and one order this month. Her order of 1,450 adds
// 1,450 growth (1 per yuan): 1,550, past Gold's 1,500, so she moves up and
// gets Gold's gifts, 200 points (balance 300) and a gold-gift coupon; the
// points rule then runs at her new level, Gold, 1.2 per yuan: 1,740
// points (balance 2,040). It is her second order of March: the task
// progresses, and completes nothing.
func TestQuoteAlice(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, retailDef(t))
	evs := retailEvents()
	testkit.MustProcess(t, p, evs[:6]...) // up to bob's first order
	q, err := p.Quote(ctx, evs[6])        // alice's order of 1,450
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range q.Entries {
		if e.Account.Member == "alice" {
			got = append(got, fmt.Sprintf("%s %s -> %s", e.Account.Asset, e.Amount, e.Balance))
		}
	}
	want := []string{"growth 1450 -> 1550", "points:mall 200 -> 300", "points:mall 1740 -> 2040"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alice's entries (-want +got):\n%s", diff)
	}
	var lc level.LevelChange
	if cs := q.ChangesOf(level.ChangeLevel); len(cs) != 1 {
		t.Fatalf("level changes = %d; want 1", len(cs))
	} else if err := cs[0].Decode(&lc); err != nil {
		t.Fatal(err)
	}
	if lc.From != "Silver" || lc.To != "Gold" {
		t.Errorf("level change %s -> %s; want Silver -> Gold", lc.From, lc.To)
	}
	var issued []string
	for _, c := range q.ChangesOf(coupon.ChangeIssued) {
		var cp coupon.Coupon
		if err := c.Decode(&cp); err != nil {
			t.Fatal(err)
		}
		issued = append(issued, cp.Template)
	}
	if diff := cmp.Diff([]string{"gold-gift"}, issued); diff != "" {
		t.Errorf("coupons issued (-want +got):\n%s", diff)
	}
	if n := len(q.ChangesOf(task.ChangeCompleted)); n != 0 {
		t.Errorf("task completions = %d; want 0 (second order of the month)", n)
	}
	if n := len(q.ChangesOf(task.ChangeProgressed)); n != 1 {
		t.Errorf("task progress changes = %d; want 1", n)
	}
}

// trackingStore is a memory store that counts its Updates and remembers
// every bucket written, so that a test can dump all of its data.
type trackingStore struct {
	*memory.Store
	mu      sync.Mutex
	updates int
	buckets map[string]bool
}

func (s *trackingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	s.mu.Lock()
	s.updates++
	s.mu.Unlock()
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(trackingTx{tx, s}) })
}

type trackingTx struct {
	store.Tx
	s *trackingStore
}

func (t trackingTx) Put(bucket string, key, value []byte) error {
	t.s.mu.Lock()
	t.s.buckets[bucket] = true
	t.s.mu.Unlock()
	return t.Tx.Put(bucket, key, value)
}

// dump returns every key and value of the store, bucket by bucket.
func (s *trackingStore) dump(t *testing.T) []string {
	t.Helper()
	s.mu.Lock()
	var names []string
	for b := range s.buckets {
		names = append(names, b)
	}
	s.mu.Unlock()
	slices.Sort(names)
	return testkit.Dump(t, s.Store, names...)
}

// TestQuoteWritesNothing quotes every event of the history, new ones and
// processed ones, on a store that has processed half of it: the store's
// data is byte for byte what it was, no Update ran, the feed and the
// ledger's balances are unchanged and still verify, and the events quoted
// are then processed as new.
func TestQuoteWritesNothing(t *testing.T) {
	ctx := context.Background()
	st := &trackingStore{Store: memory.New(), buckets: map[string]bool{}}
	p, err := membership.Open(st, retailDef(t))
	if err != nil {
		t.Fatal(err)
	}
	evs := retailEvents()
	testkit.MustProcess(t, p, evs[:5]...)
	feed, err := p.Feed(ctx, 0, 0) // Feed writes: it sequences what is pending
	if err != nil {
		t.Fatal(err)
	}
	before, updates := st.dump(t), st.updates
	for range 2 {
		for _, ev := range evs {
			if _, err := p.Quote(ctx, ev); err != nil {
				t.Fatalf("Quote(%s): %v", ev.ID, err)
			}
		}
	}
	if st.updates != updates {
		t.Errorf("quotes ran %d Updates; want none", st.updates-updates)
	}
	if diff := cmp.Diff(before, st.dump(t)); diff != "" {
		t.Errorf("quotes changed the store (-before +after):\n%s", diff)
	}
	if len(before) < 50 {
		t.Errorf("the dump has %d keys; the tracking misses buckets", len(before))
	}
	feed2, err := p.Feed(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(feed, feed2); diff != "" {
		t.Errorf("quotes changed the feed (-before +after):\n%s", diff)
	}
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
	for _, out := range testkit.MustProcess(t, p, evs[5:]...) {
		if out.Duplicate {
			t.Errorf("Process(%s) after its quote is a Duplicate", out.Event)
		}
	}
}

// TestQuoteProcessedEvent: an event already processed is quoted as
// Process answers its repeat, the recorded outcome with Duplicate set; the
// same ID with other content is ErrEventConflict; an invalid event is
// ErrInvalidEvent.
func TestQuoteProcessedEvent(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, retailDef(t))
	evs := retailEvents()
	first := testkit.MustProcess(t, p, evs[:3]...)[2]
	q, err := p.Quote(ctx, evs[2])
	if err != nil {
		t.Fatal(err)
	}
	if !q.Duplicate {
		t.Error("quote of a processed event: Duplicate not set")
	}
	want := *first
	want.Duplicate = true
	if diff := cmp.Diff(&want, q); diff != "" {
		t.Errorf("quote of a processed event is not its first outcome (-want +got):\n%s", diff)
	}
	again, err := p.Process(ctx, evs[2])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(again, q); diff != "" {
		t.Errorf("quote of a processed event differs from Process's repeat (-process +quote):\n%s", diff)
	}
	other := evs[2]
	other.Attrs = event.Attrs{"amount": event.Dec(testkit.Dec("1")), "order_id": event.Str("o1")}
	if _, err := p.Quote(ctx, other); !errors.Is(err, membership.ErrEventConflict) {
		t.Errorf("Quote of a processed ID with other content = %v; want ErrEventConflict", err)
	}
	bad := event.Event{ID: "x", Member: "alice", Type: "order", Time: evs[0].Time}
	if _, err := p.Quote(ctx, bad); !errors.Is(err, membership.ErrInvalidEvent) {
		t.Errorf("Quote of an order without amount = %v; want ErrInvalidEvent", err)
	}
}

// TestQuoteConcurrent runs quotes and processes of many members at once
// (under -race): every quote of an event not yet processed by anyone
// else matches what its own member's Process then returns, and the ledger
// verifies.
func TestQuoteConcurrent(t *testing.T) {
	ctx := context.Background()
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), retailDef(t))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					m := fmt.Sprintf("m%d", g)
					for i := range 20 {
						ev := event.Event{ID: fmt.Sprintf("%s-o%d", m, i), Member: m, Type: "order",
							Time:  time.Date(2025, 3, 1+i, 10, 0, 0, 0, testkit.Shanghai),
							Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("99")), "order_id": event.Str("x")}}
						q, err := p.Quote(ctx, ev)
						if err != nil {
							t.Error(err)
							return
						}
						out, err := p.Process(ctx, ev)
						if err != nil {
							t.Error(err)
							return
						}
						// Coupon codes are drawn at random; the rest must match.
						if diff := cmp.Diff(withoutCodes(t, out), withoutCodes(t, q)); diff != "" {
							t.Errorf("%s: quote differs from Process (-process +quote):\n%s", ev.ID, diff)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

// withoutCodes returns the outcome's changes with coupon codes blanked.
func withoutCodes(t *testing.T, out *change.Outcome) *change.Outcome {
	t.Helper()
	c := *out
	c.Changes = slices.Clone(out.Changes)
	for i, ch := range c.Changes {
		if ch.Kind != coupon.ChangeIssued {
			continue
		}
		var cp coupon.Coupon
		if err := ch.Decode(&cp); err != nil {
			t.Fatal(err)
		}
		cp.Code = ""
		c.Changes[i].Data = mustJSON(t, cp)
	}
	return &c
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestQuoteLeavesTheJournal quotes every event before processing it on a
// program that keeps the input journal, with a deterministic random
// source (coupon codes): the journal holds the processed inputs only, and
// a replay of it into an empty store reproduces the coupons, codes
// included, and the balances.
func TestQuoteLeavesTheJournal(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, retailDef(t), membership.WithJournal(), membership.WithRand(&testkit.RewindRand{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range retailEvents() {
		if _, err := p.Quote(ctx, ev); err != nil {
			t.Fatal(err)
		}
		testkit.MustProcess(t, p, ev)
	}
	q, err := membership.Open(memory.New(), retailDef(t), membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	n, err := q.Replay(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(retailEvents())) {
		t.Errorf("the journal holds %d inputs; want the %d events processed", n, len(retailEvents()))
	}
	for _, m := range []string{"alice", "bob"} {
		want, err := p.Coupons().List(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := q.Coupons().List(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" || len(want) == 0 {
			t.Errorf("%s's coupons after the replay (-quoted and processed +replayed):\n%s", m, diff)
		}
		a := ledger.MemberAccount(m, ledger.Points("mall"), "")
		wb, err1 := p.Balance(ctx, a)
		gb, err2 := q.Balance(ctx, a)
		if err1 != nil || err2 != nil || !wb.Equal(gb) {
			t.Errorf("%s's points: %s, replayed %s (%v, %v)", m, wb, gb, err1, err2)
		}
	}
}
