package tag

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The tag's stored records, on arbitrary bytes: a member's state (or the
// statistics an older version wrote) and an order day decode to a value
// whose record decodes to it again and is no longer than the bytes read
// (no field read from nothing), and the bytes followed by one more do not
// decode (none is ignored); or fail with an error wrapping errRecord;
// never panic. CI runs the seeds and testdata/fuzz; go test
// -fuzz=FuzzStateRecord looks further.

var recordOpts = []cmp.Option{cmp.AllowUnexported(state{}, edge{}), cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location().String() == b.Location().String() })}

func FuzzStateRecord(f *testing.F) {
	for _, s := range stateCases() {
		f.Add(appendState(nil, &s))
	}
	for _, s := range statsCases() {
		f.Add(appendStatsV1(nil, &s))
	}
	f.Add([]byte(`{"first_order":"2026-03-15T10:00:00+08:00","orders":3,"amount":"9.99","recharged":"0"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeState(b)
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("decodeState(%x) = %v; want errRecord", b, err)
			}
			return
		}
		if _, err := decodeState(append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("decodeState(%x) decodes with a byte more", b)
		}
		s.legacy = false // written again, a legacy state is a state
		again := appendState(nil, &s)
		if b[0] == statsV2 && len(again) > len(b) {
			t.Fatalf("decodeState(%x) = %+v, which encodes longer: %x", b, s, again)
		}
		got, err := decodeState(again)
		if err != nil || !cmp.Equal(got, s, recordOpts...) {
			t.Fatalf("decodeState(%x) = %+v; its record decodes as %+v, %v", b, s, got, err)
		}
	})
}

func FuzzDayRecord(f *testing.F) {
	f.Add(appendDay(nil, &Day{Date: date(2026, 1, 1), Orders: 2, Amount: dec("20.50")}))
	f.Add([]byte(`{"date":"2026-01-01","orders":2,"amount":"20.50"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeDay(b)
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("decodeDay(%x) = %v; want errRecord", b, err)
			}
			return
		}
		if _, err := decodeDay(append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("decodeDay(%x) decodes with a byte more", b)
		}
		again := appendDay(nil, &d)
		if b[0] == dayV1 && len(again) > len(b) {
			t.Fatalf("decodeDay(%x) = %+v, which encodes longer: %x", b, d, again)
		}
		got, err := decodeDay(again)
		if err != nil || !cmp.Equal(got, d) {
			t.Fatalf("decodeDay(%x) = %+v; its record decodes as %+v, %v", b, d, got, err)
		}
	})
}
