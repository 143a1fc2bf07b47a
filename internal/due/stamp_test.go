package due_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// Stamped items of one instant come out in the order they were scheduled,
// not in the order of their IDs, and give their IDs back.
func TestStampOrder(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	// m9 first, m10 (which sorts before m9 as an ID) last; m3 and m5 in the
	// same second, by ID.
	scheduled := []struct {
		at time.Time
		id string
	}{{t0, "m9"}, {t0.Add(time.Second + time.Millisecond), "m5"}, {t0.Add(time.Second), "m3"}, {t0.Add(time.Minute), "m1"}, {t0.Add(time.Hour), "m10"}}
	ctx := context.Background()
	err := st.Update(ctx, func(tx store.Tx) error {
		for i := len(scheduled) - 1; i >= 0; i-- { // scheduled in any order
			s := scheduled[i]
			if err := due.Schedule(tx, due.Item{At: at, Kind: "k", ID: due.Stamp(s.at, s.id)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = st.View(ctx, func(tx store.Tx) error {
		items, err := due.Next(tx, at, 10)
		for _, it := range items {
			id, ok := due.Unstamp(it.ID)
			if !ok {
				t.Errorf("Unstamp(%q) failed", it.ID)
			}
			got = append(got, id)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "m9 m3 m5 m1 m10" {
		t.Errorf("items in order %v, want m9 m3 m5 m1 m10", got)
	}
	// 2026-02-01T09:00Z is 1,769,936,400 s after 1970; plus 2^35,
	// 36,129,674,768 = 33·64^5 + 41·64^4 + 31·64^3 + 49·64^2 + 24·64 + 16:
	// the digits W d U l N F.
	if id := due.Stamp(t0, "m1"); id != "WdUlNFm1" {
		t.Errorf("Stamp(%v, m1) = %q, want WdUlNFm1", t0, id)
	}
	// Beyond the years a stamp holds: the first and the last stamp.
	if id := due.Stamp(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "x"); id != "------x" {
		t.Errorf("Stamp of year 1 = %q", id)
	}
	if id := due.Stamp(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "x"); id != "zzzzzzx" {
		t.Errorf("Stamp of year 9999 = %q", id)
	}
	for _, id := range []string{"", "m1", "WdUlN", "WdU!NFm1", "WdU NF"} {
		if _, ok := due.Unstamp(id); ok {
			t.Errorf("Unstamp(%q) = ok", id)
		}
	}
	if id, ok := due.Unstamp("WdUlNF"); !ok || id != "" {
		t.Errorf("Unstamp of a bare stamp = %q, %v", id, ok)
	}
}
