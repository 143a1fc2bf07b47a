package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// A new store records the layout and opens again; a store of layout 1 (a
// definition record and no layout) or of a layout to come is refused, and
// left as it was.
func TestInstallChecksTheLayout(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	if err := New(st, time.UTC, Options{}).Install(ctx, 1, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := New(st, time.UTC, Options{}).Install(ctx, 1, []byte(`{}`)); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	old := memory.New()
	_ = old.Update(ctx, func(tx store.Tx) error { return tx.Put(bMeta, defKey, make([]byte, 40)) })
	next := memory.New()
	_ = next.Update(ctx, func(tx store.Tx) error {
		return tx.Put(bMeta, layoutKey, binary.BigEndian.AppendUint64(nil, layout+1))
	})
	events := memory.New()
	_ = events.Update(ctx, func(tx store.Tx) error { return tx.Put(bEvents, []byte("e1"), []byte{1}) })
	for name, st := range map[string]store.Store{"layout 1": old, "layout 3": next, "layout 1, events only": events} {
		err := New(st, time.UTC, Options{}).Install(ctx, 1, []byte(`{}`))
		if !errors.Is(err, ErrLayout) {
			t.Errorf("%s: Install = %v, want ErrLayout", name, err)
		}
		_ = st.View(ctx, func(tx store.Tx) error {
			if v, err := tx.Get(bMeta, layoutKey); name != "layout 3" && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: layout %x recorded on a refused store", name, v)
			}
			return nil
		})
	}
}
