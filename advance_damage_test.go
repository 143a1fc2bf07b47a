package membership_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// TestDamagedDueItem damages the due index of the retail program on
// store/memory in ways a decoder can miss: an item of a kind no part
// performs, an item whose value has another version byte than 1, and an
// item whose key holds a part after its ID. Each is damage: Advance past
// it fails with an error wrapping ErrCorrupt, and leaves the item for an
// operator to see, rather than drop it with a log line (the first), read a
// value it does not know (the second) or perform it and delete another key
// (the third, which it then read again on every page for ever). The
// Advance runs on a store that cancels its context at the 50th Update, so
// that a loop ends in context.Canceled rather than hang the test.
func TestDamagedDueItem(t *testing.T) {
	ctx := context.Background()
	later := t0.AddDate(3, 0, 0) // past every expiry of setup's points and plan
	// first returns the key and value of the first due item of kind.
	first := func(t *testing.T, tx store.Tx, kind string) (k, v []byte) {
		t.Helper()
		err := tx.Scan("due", nil, nil, false, func(key, val []byte) error {
			if len(key) > 8 && bytes.HasPrefix(key[8:], append([]byte(kind), keys.Sep)) {
				k, v = bytes.Clone(key), bytes.Clone(val)
				return store.StopScan
			}
			return nil
		})
		if err != nil || k == nil {
			t.Fatalf("no due item of kind %s: %v", kind, err)
		}
		return k, v
	}
	cases := []struct {
		name string
		// damage writes the damaged item.
		damage func(t *testing.T, tx store.Tx) error
	}{
		{"unknown kind", func(t *testing.T, tx store.Tx) error {
			return tx.Put("due", keys.New().Time(t0.AddDate(0, 1, 0)).Str("points.gone").Str("x"), []byte{1})
		}},
		{"version byte 2", func(t *testing.T, tx store.Tx) error {
			k, v := first(t, tx, "points.expire")
			v[0] = 2
			return tx.Put("due", k, v)
		}},
		{"a part after the id", func(t *testing.T, tx store.Tx) error {
			k, v := first(t, tx, "points.expire")
			return tx.Put("due", append(k, "junk\x00"...), v)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.New()
			st := &cancelAt{Store: mem}
			p, err := membership.Open(st, damageableDef(t))
			if err != nil {
				t.Fatal(err)
			}
			_ = setupDamageable(t, p)
			if err := mem.Update(ctx, func(tx store.Tx) error { return c.damage(t, tx) }); err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			st.at, st.cancel = st.n+50, cancel
			if _, err := p.Advance(cctx, later); !errors.Is(err, membership.ErrCorrupt) {
				t.Fatalf("Advance over a damaged due item = %v; want an error wrapping ErrCorrupt", err)
			}
			if w, err := p.Watermark(ctx); err != nil || !w.IsZero() {
				t.Errorf("Watermark after the failed Advance = %v, %v; want the zero time", w, err)
			}
		})
	}
}

// deleteFails is a store whose Updates, once failAt is set, fail the
// transaction's failAt-th Delete from the due index with errInjected: a
// store that fails in the middle of a page of Advance, after it performed
// some of the page's items.
type deleteFails struct {
	store.Store
	failAt, deletes int
}

var errInjected = errors.New("injected store failure")

func (s *deleteFails) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		s.deletes = 0
		return fn(&deleteFailsTx{Tx: tx, s: s})
	})
}

type deleteFailsTx struct {
	store.Tx
	s *deleteFails
}

func (tx *deleteFailsTx) Delete(bucket string, key []byte) error {
	if bucket == "due" && tx.s.failAt > 0 {
		if tx.s.deletes++; tx.s.deletes == tx.s.failAt {
			return errInjected
		}
	}
	return tx.Tx.Delete(bucket, key)
}

// TestAdvanceFailsInsideAPage fails the store as Advance removes the
// 100th item of its first page, on memory and bolt: 300 members' lots
// expire, one item each. The Advance returns the failure and 0 items;
// nothing of the page is left (no expiry on the feed, every member still
// holds their point, the watermark is not set, the ledger verifies), and
// the next Advance performs all 300.
func TestAdvanceFailsInsideAPage(t *testing.T) {
	ctx := context.Background()
	for name, newStore := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := &deleteFails{Store: newStore()}
			p, err := membership.Open(st, testkit.OrderDef())
			if err != nil {
				t.Fatal(err)
			}
			const members = 300
			evs := make([]event.Event, members)
			for i := range evs {
				evs[i] = event.Event{ID: fmt.Sprint("o", i), Member: fmt.Sprint("m", i), Type: "order", Time: t0,
					Attrs: event.Attrs{"amount": event.Dec(dec("1"))}}
			}
			testkit.MustProcess(t, p, evs...)
			feed, err := p.Feed(ctx, 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			later := t0.AddDate(2, 0, 0) // the points are valid 365 days
			st.failAt = 100
			if n, err := p.Advance(ctx, later); n != 0 || !errors.Is(err, errInjected) {
				t.Fatalf("Advance failing inside its first page = %d, %v; want 0 and the store's error", n, err)
			}
			st.failAt = 0
			after, err := p.Feed(ctx, 0, 10000)
			if err != nil || len(after) != len(feed) {
				t.Errorf("feed after the failed Advance holds %d changes, %v; want the %d before", len(after), err, len(feed))
			}
			for _, m := range []string{"m0", "m99", "m299"} {
				b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: m, At: t0})
				if err != nil || !b.Main.Equal(dec("1")) {
					t.Errorf("%s's balance after the failed Advance = %+v, %v; want 1 in main", m, b, err)
				}
			}
			if w, err := p.Watermark(ctx); err != nil || !w.IsZero() {
				t.Errorf("Watermark after the failed Advance = %v, %v; want the zero time", w, err)
			}
			if err := p.Verify(ctx); err != nil {
				t.Errorf("Verify after the failed Advance: %v", err)
			}
			if n, err := p.Advance(ctx, later); n != members || err != nil {
				t.Errorf("Advance after the failed one = %d, %v; want %d, nil", n, err, members)
			}
			if err := p.Verify(ctx); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}
