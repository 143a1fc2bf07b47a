package due_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// putCounter counts the writes a transaction makes.
type putCounter struct {
	store.Tx
	puts int
}

func (c *putCounter) Put(bucket string, key, value []byte) error {
	c.puts++
	return c.Tx.Put(bucket, key, value)
}

// Ensure writes an item once, replaces one that carries a payload, and
// makes an item Next returns with an empty payload.
func TestEnsure(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	err := st.Update(ctx, func(tx store.Tx) error {
		c := &putCounter{Tx: tx}
		for range 3 {
			if err := due.Ensure(c, nil, at, "k", []byte("a")); err != nil {
				return err
			}
		}
		if c.puts != 1 {
			t.Errorf("3 Ensures wrote %d times, want 1", c.puts)
		}
		if err := due.Schedule(c, due.Item{At: at, Kind: "k", ID: "b", Payload: []byte("x")}); err != nil {
			return err
		}
		if err := due.Ensure(c, make([]byte, 0, 4), at, "k", []byte("b")); err != nil {
			return err
		}
		if c.puts != 3 {
			t.Errorf("Ensure over an item with a payload: %d writes in all, want 3", c.puts)
		}
		if err := due.Ensure(c, nil, time.Time{}, "k", []byte("c")); err == nil {
			t.Error("Ensure at the zero time: no error")
		}
		items, err := due.Next(tx, at, 10)
		if err != nil {
			return err
		}
		if len(items) != 2 || items[0].ID != "a" || len(items[0].Payload) != 0 || items[1].ID != "b" || len(items[1].Payload) != 0 {
			t.Errorf("Next = %+v", items)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// peekTx is a transaction with store.Peeker whose "recent writes" are the
// writes made through it: what was written to the transaction beneath it
// stands for what only the file holds. It counts its reads and writes.
type peekTx struct {
	store.Tx
	recent     map[string]bool
	gets, puts int
}

func (p *peekTx) Get(bucket string, key []byte) ([]byte, error) {
	p.gets++
	return p.Tx.Get(bucket, key)
}

func (p *peekTx) Put(bucket string, key, value []byte) error {
	p.puts++
	p.recent[bucket+"/"+string(key)] = true
	return p.Tx.Put(bucket, key, value)
}

func (p *peekTx) Peek(bucket string, key []byte) ([]byte, bool) {
	if !p.recent[bucket+"/"+string(key)] {
		return nil, false
	}
	v, err := p.Tx.Get(bucket, key)
	return v, err == nil
}

// On a store.Peeker, Ensure never reads: it writes an item its recent
// writes do not hold (again, unchanged, when only the file holds it) or
// hold with a payload, and skips one they hold.
func TestEnsurePeeker(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	err := st.Update(context.Background(), func(tx store.Tx) error {
		// "old" is in the file only; "b" carries a payload.
		if err := due.Ensure(tx, nil, at, "k", []byte("old")); err != nil {
			return err
		}
		p := &peekTx{Tx: tx, recent: map[string]bool{}}
		for range 3 {
			if err := due.Ensure(p, nil, at, "k", []byte("a")); err != nil {
				return err
			}
		}
		if err := due.Ensure(p, nil, at, "k", []byte("old")); err != nil {
			return err
		}
		if err := due.Schedule(p, due.Item{At: at, Kind: "k", ID: "b", Payload: []byte("x")}); err != nil {
			return err
		}
		if err := due.Ensure(p, nil, at, "k", []byte("b")); err != nil {
			return err
		}
		if p.gets != 0 || p.puts != 4 {
			t.Errorf("%d reads and %d writes, want 0 and 4 (a once, old again, b's payload and b)", p.gets, p.puts)
		}
		items, err := due.Next(tx, at, 10)
		if err != nil {
			return err
		}
		if len(items) != 3 || items[0].ID != "a" || items[1].ID != "b" || items[2].ID != "old" {
			t.Fatalf("Next = %+v", items)
		}
		for _, it := range items {
			if len(it.Payload) != 0 {
				t.Errorf("item %s has payload %q", it.ID, it.Payload)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A damaged item (a value without its version byte, a key too short to
// hold a time) is an error wrapping store.ErrCorrupt from Next and Range,
// never a panic; so is a payload that does not decode, from Item.Decode.
func TestDamagedItem(t *testing.T) {
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		short  bool // damage: a short key, else the item's value emptied
		ranged bool // Range reads the damage too (a short key is before its range)
	}{
		{name: "empty value", ranged: true},
		{name: "short key", short: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := memory.New()
			t.Cleanup(func() { st.Close() })
			err := st.Update(ctx, func(tx store.Tx) error {
				if err := due.Schedule(tx, due.Item{At: at, Kind: "k", ID: "i", Payload: []byte("{}")}); err != nil {
					return err
				}
				if c.short {
					return tx.Put("due", []byte("\x00\x01"), []byte("\x01"))
				}
				var k []byte
				err := tx.Scan("due", nil, nil, false, func(key, _ []byte) error {
					k = append([]byte(nil), key...)
					return nil
				})
				if err != nil {
					return err
				}
				return tx.Put("due", k, nil)
			})
			if err != nil {
				t.Fatal(err)
			}
			err = st.View(ctx, func(tx store.Tx) error {
				if _, err := due.Next(tx, at, 10); !errors.Is(err, store.ErrCorrupt) {
					t.Errorf("Next = %v; want an error wrapping store.ErrCorrupt", err)
				}
				err := due.Range(tx, at, at.Add(time.Second), func(due.Item) error { return nil })
				if c.ranged && !errors.Is(err, store.ErrCorrupt) {
					t.Errorf("Range = %v; want an error wrapping store.ErrCorrupt", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	var v struct{ N int }
	if err := (due.Item{Kind: "k", ID: "i", Payload: []byte("{")}).Decode(&v); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Decode of a damaged payload = %v; want an error wrapping store.ErrCorrupt", err)
	}
	if err := (due.Item{Kind: "k", ID: "i", Payload: []byte(`{"N":2}`)}).Decode(&v); err != nil || v.N != 2 {
		t.Errorf("Decode = %+v, %v; want N 2", v, err)
	}
}
