package due_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/due"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

func TestRange(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	err := st.Update(ctx, func(tx store.Tx) error {
		for i, id := range []string{"a", "b", "c", "d"} {
			if err := due.Schedule(tx, due.Item{At: base.AddDate(0, 0, i), Kind: "k", ID: id, Payload: []byte(id)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		from, to time.Time
		stop     int
		want     []string
	}{
		{"inclusive from, exclusive to", base.AddDate(0, 0, 1), base.AddDate(0, 0, 3), 0, []string{"b", "c"}},
		{"everything", base, base.AddDate(1, 0, 0), 0, []string{"a", "b", "c", "d"}},
		{"empty", base.AddDate(0, 0, 10), base.AddDate(0, 0, 20), 0, nil},
		{"stopped early", base, base.AddDate(1, 0, 0), 2, []string{"a", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := st.View(ctx, func(tx store.Tx) error {
				return due.Range(tx, tc.from, tc.to, func(it due.Item) error {
					if tc.stop > 0 && len(got) == tc.stop {
						return store.StopScan
					}
					if string(it.Payload) != it.ID || it.Kind != "k" {
						t.Errorf("item %+v", it)
					}
					got = append(got, it.ID)
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Range (-want +got):\n%s", diff)
			}
		})
	}
}
