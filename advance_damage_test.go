package membership_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/keys"
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
