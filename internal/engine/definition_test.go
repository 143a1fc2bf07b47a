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

// A unit tells the definition it runs under: its version and the first 8
// bytes of the SHA-256 of its JSON, which tell two unversioned
// definitions apart.
func TestUnitDefinition(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	unit := func(e *Engine) (v, fp uint64) {
		t.Helper()
		if err := e.View(ctx, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), func(u *Unit) error {
			v, fp = u.Definition()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return v, fp
	}
	if v, fp := unit(New(st, time.UTC, Options{})); v != 0 || fp != 0 {
		t.Errorf("none installed: %d, %x; want 0, 0", v, fp)
	}
	for _, c := range []struct {
		version uint64
		json    string
		fp      uint64 // the first 8 bytes of sha256sum's of json
	}{
		{3, `{}`, 0x44136fa355b3678a},
		{0, `{"zone":"UTC"}`, 0x025a9d33d6270f81},
	} {
		e := New(memory.New(), time.UTC, Options{})
		if err := e.Install(ctx, c.version, []byte(c.json)); err != nil {
			t.Fatal(err)
		}
		if v, fp := unit(e); v != c.version || fp != c.fp {
			t.Errorf("%d %s: %d, %x; want %d, %x", c.version, c.json, v, fp, c.version, c.fp)
		}
	}
}
