package record_test

import (
	"context"
	"errors"
	"fmt"
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
		// A malformed record is damage: store.ErrCorrupt, from Get and
		// from Rewrite alike.
		if _, err := record.Get(tx, "b", []byte("bad"), &d); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Get of a malformed record = %v; want an error wrapping store.ErrCorrupt", err)
		}
		if _, err := record.Rewrite(tx, "b", nil, nil, func(*day) bool { return false }); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Rewrite over a malformed record = %v; want an error wrapping store.ErrCorrupt", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// own is a record that writes its own JSON; its encoder names the field
// otherwise than json.Marshal would, so that a test sees which one ran.
type own struct {
	N    int
	Skip bool // AppendJSON declines: json.Marshal encodes
}

func (o own) AppendJSON(b []byte) ([]byte, bool) {
	if o.Skip {
		return nil, false
	}
	return fmt.Appendf(b, `{"mine":%d}`, o.N), true
}

// Put encodes an Appender with its AppendJSON, and with json.Marshal when
// it declines.
func TestPutAppender(t *testing.T) {
	st := memory.New()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, c := range []struct {
			v    own
			want string
		}{
			{own{N: 7}, `{"mine":7}`},
			{own{N: 7, Skip: true}, `{"N":7,"Skip":true}`},
		} {
			if err := record.Put(tx, "b", []byte("k"), c.v); err != nil {
				return err
			}
			if got, err := tx.Get("b", []byte("k")); err != nil || string(got) != c.want {
				t.Errorf("Put(%+v) stored %s, %v; want %s", c.v, got, err, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
