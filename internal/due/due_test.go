package due_test

import (
	"context"
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
