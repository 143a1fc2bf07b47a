package record_test

import (
	"context"
	"testing"

	"github.com/memberkit/membership/internal/record"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

func TestGetPut(t *testing.T) {
	st := memory.New()
	type day struct{ Earned int }
	err := st.Update(context.Background(), func(tx store.Tx) error {
		var d day
		if found, err := record.Get(tx, "b", []byte("k"), &d); found || err != nil {
			t.Errorf("absent record: %v, %v", found, err)
		}
		if err := record.Put(tx, "b", []byte("k"), day{Earned: 5}); err != nil {
			return err
		}
		if found, err := record.Get(tx, "b", []byte("k"), &d); !found || err != nil || d.Earned != 5 {
			t.Errorf("record = %+v, %v, %v", d, found, err)
		}
		if err := tx.Put("b", []byte("bad"), []byte("{")); err != nil {
			return err
		}
		if _, err := record.Get(tx, "b", []byte("bad"), &d); err == nil {
			t.Error("a malformed record decoded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
