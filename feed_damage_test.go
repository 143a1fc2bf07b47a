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
	"github.com/memberkit/membership/migrate"
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

// A damaged retention horizon is an error wrapping ErrCorrupt for a call
// the definition refuses too: such a call looks up whether the same event
// or request was applied before (a retry under a newer version), and the
// lookup read the damage as "before the horizon, so never applied",
// returning the refusal although the event may have been processed.
func TestDamagedHorizonOnARefusedRetry(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(p *membership.Program) error{
		"event of a type not declared": func(p *membership.Program) error {
			_, err := p.Process(ctx, event.Event{ID: "x", Member: "m", Type: "nope", Time: t0})
			return err
		},
		"events of a batch, one not declared": func(p *membership.Program) error {
			_, err := p.ProcessBatch(ctx, []event.Event{{ID: "x", Member: "m", Type: "nope", Time: t0}})
			return err
		},
		"opening at a level not defined": func(p *membership.Program) error {
			_, err := p.OpenMember(ctx, migrate.Member{RequestID: "x", Member: "m", Operator: "op", At: t0, Level: "nope"})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			st := memory.New()
			p, err := membership.Open(st, testkit.OrderDef())
			if err != nil {
				t.Fatal(err)
			}
			if err := call(p); err == nil || errors.Is(err, membership.ErrCorrupt) {
				t.Fatalf("before the damage: %v; want a refusal", err)
			}
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.Put("meta", []byte("retain.horizon"), []byte{1}) }); err != nil {
				t.Fatal(err)
			}
			if err := call(p); !errors.Is(err, membership.ErrCorrupt) {
				t.Errorf("with the horizon damaged: %v; want an error wrapping ErrCorrupt", err)
			}
		})
	}
}
