package storetest

import (
	"context"
	"testing"

	"github.com/memberkit/membership/store"
)

// testViewOnce checks View's promises on its function: it runs once and
// its error comes back as is, also while Updates commit (a store that
// ran a View again, after a conflict say, would call it twice).
func testViewOnce(t *testing.T, s store.Store) {
	put(t, s, "b", "k", "1")
	calls := 0
	err := s.View(t.Context(), func(tx store.Tx) error {
		calls++
		wantValue(t, tx, "b", "k", "1", false)
		// Commit an Update while the View is open, as ViewSnapshot does.
		done := make(chan error, 1)
		go func() {
			done <- s.Update(context.Background(), func(tx store.Tx) error { return tx.Put("b", bs("k"), bs("2")) })
		}()
		if err := <-done; err != nil {
			t.Errorf("Update during View: %v", err)
		}
		wantValue(t, tx, "b", "k", "1", false)
		return errBoom
	})
	if err != errBoom {
		t.Errorf("View = %v; want the function's error %v as is", err, errBoom)
	}
	if calls != 1 {
		t.Errorf("View called its function %d times; want 1", calls)
	}
	view(t, s, func(tx store.Tx) error {
		wantValue(t, tx, "b", "k", "2", false)
		return nil
	})
}
