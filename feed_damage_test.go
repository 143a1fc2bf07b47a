package membership_test

import (
	"bytes"
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

// TestDamagedFeed damages the feed's records and counters on store/memory
// (which keeps no checksum): three recharges, one change each at
// positions 1, 2 and 3, each the record under its position. A read of
// the feed that meets the damage fails with an error wrapping ErrCorrupt;
// it neither panics nor returns changes at positions they do not have.
func TestDamagedFeed(t *testing.T) {
	ctx := context.Background()
	pos := func(n uint64, extra ...byte) []byte {
		return append([]byte{0, 0, 0, 0, 0, 0, 0, byte(n)}, extra...)
	}
	get := func(tx store.Tx, k []byte) []byte {
		v, err := tx.Get("feed", k)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Clone(v)
	}
	cases := []struct {
		name   string
		damage func(tx store.Tx) error
		read   func(p *membership.Program) error
	}{
		// Position 1's record under a key of 9 bytes: read as position 1
		// before.
		{name: "key of nine bytes", damage: func(tx store.Tx) error {
			v := get(tx, pos(1))
			if err := tx.Delete("feed", pos(1)); err != nil {
				return err
			}
			return tx.Put("feed", pos(1, 9), v)
		}},
		// Two changes under position 1, which has room for one: the first
		// was given position 0 and skipped before.
		{name: "more changes than positions", damage: func(tx store.Tx) error {
			v := append(get(tx, pos(1)), get(tx, pos(2))...)
			if err := tx.Delete("feed", pos(2)); err != nil {
				return err
			}
			return tx.Put("feed", pos(1), v)
		}},
		// Position 2's record holding two changes, positions 1 and 2,
		// while position 1's is there too: position 1 was returned twice
		// before.
		{name: "records overlapping", damage: func(tx store.Tx) error {
			return tx.Put("feed", pos(2), append(get(tx, pos(1)), get(tx, pos(2))...))
		}},
		{name: "record", damage: func(tx store.Tx) error { return tx.Put("feed", pos(2), []byte("{")) }},
		{name: "pruned position", damage: func(tx store.Tx) error { return tx.Put("meta", []byte("feed.pruned"), []byte{1}) }},
		{name: "head", damage: func(tx store.Tx) error { return tx.Put("meta", []byte("feed"), []byte{1}) },
			read: func(p *membership.Program) error { return p.SetCursor(ctx, "crm", 1) }},
		{name: "cursor", damage: func(tx store.Tx) error { return tx.Put("meta", []byte("cursor.crm"), []byte{1}) },
			read: func(p *membership.Program) error { _, err := p.Cursor(ctx, "crm"); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := memory.New()
			p, err := membership.Open(st, testkit.ValueDef())
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				testkit.MustProcess(t, p, event.Event{ID: fmt.Sprint("r", i), Member: "m", Type: "recharge", Time: t0,
					Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("1"))}})
			}
			if err := st.Update(ctx, c.damage); err != nil {
				t.Fatal(err)
			}
			read := c.read
			if read == nil {
				read = func(p *membership.Program) error {
					cs, err := p.Feed(ctx, 0, 0)
					if err == nil {
						err = fmt.Errorf("read %d changes", len(cs))
					}
					return err
				}
			}
			if err := read(p); !errors.Is(err, membership.ErrCorrupt) {
				t.Errorf("read with the feed damaged: %v; want an error wrapping ErrCorrupt", err)
			}
		})
	}
}
