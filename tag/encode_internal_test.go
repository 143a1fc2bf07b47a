package tag

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// statsCases are statistics as orders and recharges leave them: none, one
// order (first and last equal), orders in two zones with tallies, and a
// recharge alone.
func statsCases() []Stats {
	sh := time.FixedZone("CST", 8*3600)
	ny := time.FixedZone("EST", -5*3600)
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, sh)
	return []Stats{
		{},
		{FirstOrder: first, LastOrder: first, Orders: 1, Amount: dec("10"), Recharged: decimal.Zero},
		{FirstOrder: first, LastOrder: time.Date(2025, 6, 30, 23, 59, 59, 123456789, ny), Orders: 3,
			Amount: dec("1234.50"), Recharged: dec("200.00"),
			Brands:     map[string]Tally{"acme": {Orders: 2, Amount: dec("1000")}, "zeta": {Orders: 1, Amount: dec("234.50")}},
			Categories: map[string]Tally{"shoes": {Orders: 3, Amount: dec("1234.50")}},
			Products:   map[string]Tally{"p1": {Orders: 1, Amount: dec("12345678901234567890.5")}}},
		{Amount: decimal.Zero, Recharged: dec("50")},
		{FirstOrder: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), LastOrder: time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC), Orders: 2, Amount: dec("-1.5")},
		// Not what orders leave, but what a record may hold: a last
		// order alone, one before the first, and two further apart
		// than a time.Duration reaches.
		{LastOrder: first, Orders: 1, Amount: dec("1")},
		{FirstOrder: first, LastOrder: first.Add(-time.Hour), Orders: 2, Amount: dec("1")},
		{FirstOrder: time.Date(1678, 1, 2, 0, 0, 0, 0, time.UTC), LastOrder: time.Date(2261, 12, 30, 0, 0, 0, 0, ny), Orders: 2, Amount: dec("1")},
	}
}

// appendStatsV1 appends s's record as statsV1, which versions before
// states (statsV2) wrote.
func appendStatsV1(b []byte, s *Stats) []byte {
	w := codec.Writer{B: append(b, statsV1)}
	appendStatsBody(&w, s)
	return w.B
}

// appendEdgeV1 appends e's record as edgeV1, which versions before states
// wrote in tag.edge.
func appendEdgeV1(b []byte, e edge) []byte {
	return keys.Builder(append(b, edgeV1)).Time(e.At).Time(e.Scheduled)
}

// A statistics record reads back as written, and as its JSON (what older
// versions stored) reads: the same values, the same instants at the same
// zone offsets (they show in reasons), the tallies by name.
func TestStatsRecord(t *testing.T) {
	for _, s := range statsCases() {
		raw := appendStatsV1(nil, &s)
		got, err := decodeStats(raw)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		old, err := decodeStats(js)
		if err != nil {
			t.Fatalf("JSON record %s: %v", js, err)
		}
		if diff := cmp.Diff(old, got); diff != "" {
			t.Errorf("binary and JSON records differ (-json +binary):\n%s", diff)
		}
		for _, p := range [][2]time.Time{{old.FirstOrder, got.FirstOrder}, {old.LastOrder, got.LastOrder}} {
			if a, b := p[0].Format(time.RFC3339Nano), p[1].Format(time.RFC3339Nano); a != b {
				t.Errorf("time read as %s from JSON, %s from the binary record", a, b)
			}
		}
		// Equal statistics make equal records, whatever the maps' order.
		if again := appendStatsV1(nil, &got); string(again) != string(raw) {
			t.Errorf("record of %+v changed when written again", s)
		}
	}
	// A member with one order: the binary record is under a quarter of
	// the JSON (the last order is the first's time again: a byte).
	one := statsCases()[1]
	js, _ := json.Marshal(one)
	if raw := appendStatsV1(nil, &one); len(raw)*4 > len(js) {
		t.Errorf("statistics of one order take %d bytes; JSON took %d", len(raw), len(js))
	}
}

// A damaged record (cut short anywhere, of an unknown version, with
// bytes after it or an impossible zone offset) is an error, never a
// panic nor other statistics.
func TestStatsRecordDamaged(t *testing.T) {
	s := statsCases()[2]
	raw := appendStatsV1(nil, &s)
	for n := range len(raw) {
		if _, err := decodeStats(raw[:n]); !errors.Is(err, errRecord) {
			t.Errorf("record cut to %d of %d bytes: %v", n, len(raw), err)
		}
	}
	// A first order at an offset of off seconds, the rest zero.
	offset := func(off int64) []byte {
		w := codec.Writer{B: []byte{statsV1}}
		w.Time(time.Unix(0, 1))
		w.B = binary.AppendVarint(w.B, off)
		w.Time(time.Time{})
		w.B = binary.AppendVarint(w.B, 0)
		w.Decimal(decimal.Zero)
		w.Decimal(decimal.Zero)
		w.Uint(0)
		w.Uint(0)
		w.Uint(0)
		return w.B
	}
	if got, err := decodeStats(offset(-14 * 3600)); err != nil || got.FirstOrder.Format(time.RFC3339Nano) != "1969-12-31T10:00:00.000000001-14:00" {
		t.Errorf("offset of -14 hours: %v, %v", got.FirstOrder, err)
	}
	for name, b := range map[string][]byte{
		"version":  append([]byte{9}, raw[1:]...),
		"trailing": append(append([]byte(nil), raw...), 0),
		"json":     []byte(`{"orders":`),
		"offset":   offset(25 * 3600),
		"last":     append(offset(0)[:3], 3), // a form of last order there is not
	} {
		if _, err := decodeStats(b); !errors.Is(err, errRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The last order is written as the difference from the first when that
// is no longer than the time itself, else as the time: near 1970 a time
// is a short varint, and a difference written there made a record that
// the fuzzer found longer than the one it read (FuzzStateRecord, last
// order 24 ns after 1970 read as the time, 3 bytes, written as a
// difference of 50 ms, 6). Worked out by hand (codec.TestSizes): one
// order a day after one in 2025: the difference, 86,400e9 ns (47 bits,
// 7 bytes), is shorter than the time (9): form 1. First at -1000 ns,
// last at 1 ns: the difference of 1,001 ns takes 2 bytes, the time (zigzag
// 2) 1: form 2, the time, 0x02, then offset 0. First at 1 ns, last at
// 2 ns: a byte each, and the tie goes to the difference: form 1, 0x01.
// The offsets: 0 is 0x00; +08:00, 28,800 s, zigzag 57,600, is 0x80 0xc2
// 0x03 (0 | 66<<7 | 3<<14).
// Each record reads back as the same statistics.
func TestStatsRecordLastShorterForm(t *testing.T) {
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	for _, tt := range []struct {
		name        string
		first, last time.Time
		want        []byte // the last order's bytes: form, difference or time, offset
	}{
		{"a day later", first, first.AddDate(0, 0, 1), append(binary.AppendUvarint([]byte{lastAfter}, uint64(24*time.Hour)), 0x80, 0xc2, 0x03)},
		{"near 1970", time.Unix(0, -1000).UTC(), time.Unix(0, 1).UTC(), []byte{lastTime, 0x02, 0x00}},
		{"a tie", time.Unix(0, 1).UTC(), time.Unix(0, 2).UTC(), []byte{lastAfter, 0x01, 0x00}},
	} {
		s := Stats{FirstOrder: tt.first, LastOrder: tt.last, Orders: 2, Amount: dec("1")}
		raw := appendStatsV1(nil, &s)
		var w codec.Writer
		w.ZonedTime(tt.first)
		at := 1 + len(w.B) // after the version and the first order
		if got := raw[at : at+len(tt.want)]; string(got) != string(tt.want) {
			t.Errorf("%s: last order written as %x, want %x", tt.name, got, tt.want)
		}
		got, err := decodeStats(raw)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", tt.name, diff)
		}
	}
	// The fuzzer's record, which reads first 1969-12-31T23:59:59.949347628
	// and last 24 ns after 1970, both at +00:00:24: written back, it is
	// no longer (as long: the same fields in the same forms).
	b := []byte("\x02\xa7\x93\xa700\x02000\x0000\x0000\x00\x00\x00\x0000\x00")
	st, err := decodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if again := appendState(nil, &st); len(again) > len(b) {
		t.Errorf("decodeState(%x) written back as %x, longer", b, again)
	}
}

// An order day reads back as written and as its JSON reads; a damaged one
// is an error.
func TestDayRecord(t *testing.T) {
	for _, d := range []Day{
		{Date: rule.Date{Year: 2025, Month: 1, Day: 1}, Orders: 1, Amount: dec("10")},
		{Date: rule.Date{Year: 2026, Month: 12, Day: 31}, Orders: 42, Amount: dec("12345.67")},
	} {
		raw := appendDay(nil, &d)
		got, err := decodeDay(raw)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		js, _ := json.Marshal(d)
		old, err := decodeDay(js)
		if err != nil || !cmp.Equal(old, got) {
			t.Errorf("JSON record %s: %+v, %v", js, old, err)
		}
		if len(raw)*4 > len(js) {
			t.Errorf("order day takes %d bytes; JSON took %d", len(raw), len(js))
		}
		for n := range len(raw) {
			if _, err := decodeDay(raw[:n]); !errors.Is(err, errRecord) {
				t.Errorf("record cut to %d of %d bytes: %v", n, len(raw), err)
			}
		}
	}
	for name, b := range map[string][]byte{
		"version": {2, 0xd2, 0x1f, 1, 1, 2, 0, 0x14, 0},
		"month":   {dayV1, 0xd2, 0x1f, 13, 1, 2, 0, 0x14, 0},
		"day":     {dayV1, 0xd2, 0x1f, 1, 0, 2, 0, 0x14, 0},
		"year":    {dayV1, 0, 1, 1, 2, 0, 0x14, 0},
		"json":    []byte(`{"date":"2025-13-01"}`),
	} {
		if _, err := decodeDay(b); !errors.Is(err, errRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A window edge's record (as versions before states wrote it) reads back
// as written; a record written before
// stamps (the edge's time in JSON) reads as an unstamped edge; anything
// else is refused as damaged.
func TestEdgeRecord(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, e := range []edge{
			{At: time.Date(2026, 3, 15, 10, 0, 0, 123, cst), Scheduled: time.Date(2025, 12, 15, 9, 30, 1, 5, cst)},
			{At: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), Scheduled: time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)},
		} {
			if err := tx.Put(bEdge, []byte("m1"), appendEdgeV1(nil, e)); err != nil {
				return err
			}
			back, err := loadEdge(tx, "m1")
			if err != nil || !back.At.Equal(e.At) || !back.Scheduled.Equal(e.Scheduled) {
				t.Errorf("edge %v read back as %v, %v", e, back, err)
			}
		}
		if err := tx.Put(bEdge, []byte("m2"), []byte(`"2026-04-05T00:00:00+08:00"`)); err != nil {
			return err
		}
		back, err := loadEdge(tx, "m2")
		if err != nil || !back.At.Equal(time.Date(2026, 4, 5, 0, 0, 0, 0, cst)) || !back.Scheduled.IsZero() {
			t.Errorf("an edge of the time alone read as %v, %v", back, err)
		}
		if kind, id := back.item("m2"); kind != dueWindow || id != "m2" {
			t.Errorf("its item %s %s, want %s m2", kind, id, dueWindow)
		}
		for _, raw := range []string{"", `"2026-13-05"`, "\x01short", "\x02" + strings.Repeat("x", 16), `{"at":1}`} {
			if err := tx.Put(bEdge, []byte("m3"), []byte(raw)); err != nil {
				return err
			}
			if _, err := loadEdge(tx, "m3"); !errors.Is(err, errRecord) {
				t.Errorf("edge record %q: %v, want damaged", raw, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An order day written as JSON without a date (or with the zero date) is
// damaged: it read as a day of no date, which addDay then wrote back as
// a record that no longer read.
func TestDayRecordJSONWithoutDate(t *testing.T) {
	for _, js := range []string{`{}`, `{"orders":2,"amount":"10"}`, `{"date":null,"orders":1}`} {
		if d, err := decodeDay([]byte(js)); !errors.Is(err, errRecord) {
			t.Errorf("decodeDay(%s) = %+v, %v; want errRecord", js, d, err)
		}
	}
}
