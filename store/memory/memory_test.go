package memory_test

import (
	"errors"
	"testing"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	s := memory.New()
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

func TestWriteInsideScan(t *testing.T) {
	s := open(t)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Put("b", []byte("k"), []byte("v")); err != nil {
			return err
		}
		return tx.Scan("b", nil, nil, false, func(k, v []byte) error {
			if err := tx.Put("b", []byte("k2"), nil); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Put inside a Scan callback = %v; want an error wrapping ErrInvalid", err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
}
