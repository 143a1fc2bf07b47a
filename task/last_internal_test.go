package task

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// latest.add counts a completion in the day, week (from Monday), month
// and year of the member's latest completion, in the zone, restarting
// each count when the latest moves into a new period of its kind; a late
// completion counts only in the latest's periods that contain it.
func TestLatestAdd(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600) // Shanghai
	at := func(mo time.Month, d, h int) time.Time { return time.Date(2026, mo, d, h, 0, 0, 0, sh) }
	sunday := at(time.March, 2, 0).Add(-time.Nanosecond) // Sunday 1 March, last instant
	n := func(d, w, m, y int64) [4]int64 { return [4]int64{d, w, m, y} }
	tests := []struct {
		name   string
		from   latest
		t      time.Time
		want   latest
		inZone *time.Location
	}{
		{"the first", latest{}, at(time.February, 28, 10), latest{At: at(time.February, 28, 10), N: n(1, 1, 1, 1)}, sh},
		{"same day", latest{At: at(time.February, 28, 10), N: n(1, 1, 1, 1)}, at(time.February, 28, 11), latest{At: at(time.February, 28, 11), N: n(2, 2, 2, 2)}, sh},
		{"Sunday's last instant: a new month, the same week", latest{At: at(time.February, 28, 10), N: n(1, 1, 1, 1)}, sunday, latest{At: sunday, N: n(1, 2, 1, 2)}, sh},
		{"Monday 00:00: a new week", latest{At: sunday, N: n(1, 2, 1, 2)}, at(time.March, 2, 0), latest{At: at(time.March, 2, 0), N: n(1, 1, 2, 3)}, sh},
		{"a new year", latest{At: at(time.March, 2, 0), N: n(1, 1, 2, 3)}, time.Date(2027, 1, 1, 0, 0, 0, 0, sh), latest{At: time.Date(2027, 1, 1, 0, 0, 0, 0, sh), N: n(1, 1, 1, 1)}, sh},
		{"late, the same day", latest{At: at(time.March, 2, 10), N: n(1, 1, 2, 3)}, at(time.March, 2, 9), latest{At: at(time.March, 2, 10), N: n(2, 2, 3, 4)}, sh},
		{"late, the week before", latest{At: at(time.March, 2, 10), N: n(1, 1, 2, 3)}, sunday, latest{At: at(time.March, 2, 10), N: n(1, 1, 3, 4)}, sh},
		{"Monday 00:00 in Shanghai is Sunday in UTC", latest{At: sunday, N: n(1, 2, 1, 2)}, at(time.March, 2, 0), latest{At: at(time.March, 2, 0), N: n(2, 3, 2, 3)}, time.UTC},
	}
	for _, tc := range tests {
		got := tc.from.add(tc.t, tc.inZone)
		if !got.At.Equal(tc.want.At) || got.N != tc.want.N {
			t.Errorf("%s: %+v add %v = %+v; want %+v", tc.name, tc.from, tc.t, got, tc.want)
		}
	}
}

// A latest completion record, on arbitrary bytes: it reads as a latest
// completion whose record, as the part writes it, reads as it again, and
// the bytes followed by one more do not read; or it fails with an error
// wrapping store.ErrCorrupt; never panics. CI runs the seeds; go test
// -fuzz=FuzzLatestRecord looks further.
func FuzzLatestRecord(f *testing.F) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, l := range []latest{{At: at, N: [4]int64{1, 1, 1, 1}}, {At: at, N: [4]int64{2, 3, 4, 5}}, {At: at, N: [4]int64{0, 1, 1, 1}}} {
		f.Add(l.encode())
	}
	f.Add([]byte{})
	k := []byte("m1\x00checkin")
	read := func(t *testing.T, b []byte) (latest, error) {
		st := memory.New()
		defer st.Close()
		ctx := context.Background()
		if err := st.Update(ctx, func(tx store.Tx) error { return tx.Put(bLast, k, b) }); err != nil {
			t.Fatal(err)
		}
		var got latest
		err := st.View(ctx, func(tx store.Tx) error {
			var err error
			got, _, err = loadLatest(tx, k)
			return err
		})
		return got, err
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := read(t, b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("latest record %q: %v; want store.ErrCorrupt", b, err)
			}
			return
		}
		if _, err := read(t, append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("latest record %q reads with a byte more", b)
		}
		got, err := read(t, l.encode())
		if err != nil || !got.At.Equal(l.At) || got.N != l.N {
			t.Fatalf("latest record %q = %+v; its record reads as %+v, %v", b, l, got, err)
		}
	})
}
