package memory

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/memberkit/membership/store"
)

// A failed Update drops the buckets it created, which would otherwise
// stay as empty trees.
func TestRollbackDropsNewBuckets(t *testing.T) {
	s := New()
	if err := s.Update(t.Context(), func(tx store.Tx) error { return tx.Put("kept", []byte("k"), nil) }); err != nil {
		t.Fatal(err)
	}
	errRefused := errors.New("refused")
	err := s.Update(t.Context(), func(tx store.Tx) error {
		for _, b := range []string{"kept", "new1", "new2"} {
			if err := tx.Put(b, []byte("k2"), []byte("v")); err != nil {
				return err
			}
		}
		return errRefused
	})
	if err != errRefused {
		t.Fatalf("Update = %v; want %v", err, errRefused)
	}
	if got := slices.Sorted(maps.Keys(s.buckets)); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("buckets after a failed Update: %q; want only kept", got)
	}
}
