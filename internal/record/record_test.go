package record_test

import (
	"context"
	"encoding/json"
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

// TestPutVersion: a record of version 2 or more is that byte, then its
// JSON; version 1 is the JSON alone. GetVersion reads the versions up to
// its max, Get version 1 only: a later version is damage, as it is for
// the earlier release, whose decoder was json.Unmarshal alone (which
// refuses the version byte, where it would read the JSON and drop the
// fields it does not know). A version outside 1 to MaxVersion is refused
// and writes nothing.
func TestPutVersion(t *testing.T) {
	type day struct{ Earned int }
	st := memory.New()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, c := range []struct {
			version byte
			want    string
		}{
			{1, `{"Earned":5}`},
			{2, "\x02" + `{"Earned":5}`},
			{record.MaxVersion, "\x08" + `{"Earned":5}`},
		} {
			if err := record.PutVersion(tx, "b", []byte("k"), day{Earned: 5}, c.version); err != nil {
				return err
			}
			raw, err := tx.Get("b", []byte("k"))
			if err != nil || string(raw) != c.want {
				t.Errorf("version %d written as %q, %v; want %q", c.version, raw, err, c.want)
			}
			var d day
			if found, err := record.GetVersion(tx, "b", []byte("k"), &d, record.MaxVersion); !found || err != nil || d.Earned != 5 {
				t.Errorf("GetVersion of version %d = %+v, %v, %v", c.version, d, found, err)
			}
			_, err = record.GetVersion(tx, "b", []byte("k"), &d, 2)
			if refused := errors.Is(err, store.ErrCorrupt); refused != (c.version > 2) {
				t.Errorf("GetVersion up to 2 of version %d: %v", c.version, err)
			}
			_, err = record.Get(tx, "b", []byte("k"), &d)
			if refused := errors.Is(err, store.ErrCorrupt); refused != (c.version > 1) {
				t.Errorf("Get of version %d: %v", c.version, err)
			}
			if err := json.Unmarshal(raw, &d); (err != nil) != (c.version > 1) {
				t.Errorf("the earlier release's decoder on version %d: %v", c.version, err)
			}
		}
		for _, v := range []byte{0, record.MaxVersion + 1} {
			if err := record.PutVersion(tx, "b", []byte("bad"), day{}, v); err == nil {
				t.Errorf("PutVersion of version %d: no error", v)
			}
			if _, err := tx.Get("b", []byte("bad")); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("PutVersion of version %d wrote the record: %v", v, err)
			}
		}
		// An Appender's JSON follows the byte too.
		if err := record.PutVersion(tx, "b", []byte("own"), own{N: 7}, 2); err != nil {
			return err
		}
		if raw, err := tx.Get("b", []byte("own")); err != nil || string(raw) != "\x02"+`{"mine":7}` {
			t.Errorf("an Appender of version 2 written as %q, %v", raw, err)
		}
		// Bytes below the tab other than 2 to max are no version.
		for _, raw := range []string{"\x00{}", "\x01{}"} {
			var d day
			if err := record.DecodeVersion("b", []byte("k"), []byte(raw), &d, record.MaxVersion); !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("DecodeVersion of %q: %v; want store.ErrCorrupt", raw, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
