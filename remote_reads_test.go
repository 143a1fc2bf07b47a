package membership_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/memberkit/membership"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// remoteStore plays a store whose reads are round trips to a server (as
// store/postgres): its transactions are Preloaders, Adders and Ensurers, and it
// counts a round trip for each Preload and for each Get or Scan that no
// Preload covered.
type remoteStore struct {
	store.Store
	trips  int
	missed []string
}

type remoteTx struct {
	store.Tx
	s     *remoteStore
	keys  map[string]bool
	spans []store.Read
}

func (s *remoteStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(&remoteTx{Tx: tx, s: s, keys: map[string]bool{}}) })
}

func (s *remoteStore) Stripes() int { return 64 }

func (t *remoteTx) Preload(reads ...store.Read) error {
	t.s.trips++
	for _, r := range reads {
		if r.Key != nil {
			t.keys[r.Bucket+"\xff"+string(r.Key)] = true
		} else {
			t.spans = append(t.spans, r)
		}
	}
	return nil
}

// Add adds as store/postgres does: without a round trip.
func (t *remoteTx) Add(bucket string, key []byte, d decimal.Decimal) error {
	v, err := t.Tx.Get(bucket, key)
	cur := decimal.Zero
	if err == nil {
		if cur, err = total.Parse(v); err != nil {
			return err
		}
	}
	return t.Tx.Put(bucket, key, []byte(cur.Add(d).String()))
}

// Ensure ensures as store/postgres does: without a round trip.
func (t *remoteTx) Ensure(bucket string, key, value []byte) error {
	if _, err := t.Tx.Get(bucket, key); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return t.Tx.Put(bucket, key, value)
}

func (t *remoteTx) covered(bucket string, start, end []byte) bool {
	for _, r := range t.spans {
		if r.Bucket == bucket && bytes.Compare(start, r.Start) >= 0 && (r.End == nil || (end != nil && bytes.Compare(end, r.End) <= 0)) {
			return true
		}
	}
	return false
}

func (t *remoteTx) Get(bucket string, key []byte) ([]byte, error) {
	if !t.keys[bucket+"\xff"+string(key)] && !t.covered(bucket, key, append(bytes.Clone(key), 0)) {
		t.s.trips++
		t.s.missed = append(t.s.missed, fmt.Sprintf("get %s %q", bucket, key))
		t.keys[bucket+"\xff"+string(key)] = true
	}
	return t.Tx.Get(bucket, key)
}

func (t *remoteTx) Scan(bucket string, start, end []byte, reverse bool, fn func(k, v []byte) error) error {
	if !t.covered(bucket, start, end) {
		t.s.trips++
		t.s.missed = append(t.s.missed, fmt.Sprintf("scan %s %q..%q", bucket, start, end))
	}
	return t.Tx.Scan(bucket, start, end, reverse, fn)
}

// On a store whose reads are round trips (store/postgres), an order
// reads everything in one round trip before the parts run: its record,
// the definition, the member's counters, balances and level; totals are
// added to without reading. The commit is the second round trip.
func TestAnOrderReadsInOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	def := testkit.OrderDef()
	st := &remoteStore{Store: memory.New()}
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, p.Location())
	for i, c := range []struct{ id, member, amount string }{
		{"a", "m1", "10"},   // a new member joins
		{"b", "m1", "10"},   // a member with a balance
		{"c", "m1", "1000"}, // an upgrade to gold
		{"d", "m2", "5"},    // another member
	} {
		st.trips, st.missed = 0, nil
		ev := mevent.Event{ID: c.id, Member: c.member, Type: "order", Time: at.Add(time.Duration(i) * time.Minute), Attrs: mevent.Attrs{"amount": mevent.DecString(c.amount)}}
		if _, err := p.Process(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if st.trips != 1 {
			t.Errorf("order %s: %d round trips to read, want 1; not preloaded: %q", c.id, st.trips, st.missed)
		}
	}
	if err := p.Verify(ctx); err != nil {
		t.Error(err)
	}
}
