package engine

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/shopspring/decimal"
)

func TestEventRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 2, 28, 23, 59, 59, 123456789, time.UTC)
	rec := eventRecord{
		Event: event.Event{ID: "e1", Member: "m1", Type: "order", Time: at, Attrs: event.Attrs{
			"amount": event.Dec(decimal.RequireFromString("12345678901234567890.125")),
			"small":  event.Dec(decimal.RequireFromString("-0.5")),
			"store":  event.Str("s\x00\"1"),
			"n":      event.Int(-42),
			"vip":    event.Flag(true),
			"no":     event.Flag(false),
			"at":     event.At(at),
			"tags":   event.List("a", "", "c"),
			"empty":  event.List(),
		}},
		Entries: [][]byte{[]byte("k1\x00"), []byte("k2")},
		Feed:    [][]byte{[]byte("m1\x00\x00\x00\x00\x00\x00\x00\x00\x07"), []byte("m2\x00\x00\x00\x00\x00\x00\x00\x01\x00")},
	}
	got, err := decodeRecord(rec.appendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Event.Same(rec.Event) {
		t.Errorf("event changed: %+v", got.Event)
	}
	if diff := cmp.Diff(rec.Entries, got.Entries); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(rec.Feed, got.Feed); diff != "" {
		t.Errorf("feed keys (-want +got):\n%s", diff)
	}
	// No attributes, no entries, no changes.
	bare := eventRecord{Event: event.Event{ID: "e2", Member: "m", Type: "visit", Time: at}}
	if got, err := decodeRecord(bare.appendTo(nil)); err != nil || !got.Event.Same(bare.Event) || got.Entries != nil || got.Feed != nil {
		t.Errorf("bare record: %+v, %v", got, err)
	}
}

func TestEventRecordCorrupt(t *testing.T) {
	b := eventRecord{Event: event.Event{ID: "e1", Member: "m1", Type: "order", Time: time.Unix(1, 0)}}.appendTo(nil)
	for _, bad := range [][]byte{nil, {9}, b[:len(b)-1], b[:5]} {
		if _, err := decodeRecord(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeRecord(%x) = %v, want ErrCorrupt", bad, err)
		}
	}
}

// A damaged count of attributes is an error, and nothing is allocated for
// it: an event record (and a journal's, which holds one) used to make a
// map of the count it read, a million attributes for the record below, and
// a count a bit larger ran the process out of memory.
func TestEventRecordDamagedCount(t *testing.T) {
	w := codec.Writer{B: []byte{eventRecordV2}}
	w.String("e1")
	w.String("m1")
	w.String("order")
	w.Time(time.Unix(1, 0))
	w.Uint(1 << 20) // attributes; none follows
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decodeRecord(w.B)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("decodeRecord = %v, want ErrCorrupt", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<16 {
		t.Errorf("decodeRecord allocated %d bytes for a record of %d", n, len(w.B))
	}
}

// An event record whose bytes do not all belong to it is damaged, not
// read as some other event: bytes after the record, an attribute of a
// kind no event holds (whose value would be skipped, the rest read out of
// step), a flag other than 0 or 1 (read as false), or a name twice (the
// second value replacing the first).
func TestEventRecordMisreadRefused(t *testing.T) {
	head := func(attrs uint64) codec.Writer {
		w := codec.Writer{B: []byte{eventRecordV2}}
		w.String("e1")
		w.String("m1")
		w.String("order")
		w.Time(time.Unix(1, 0))
		w.Uint(attrs)
		return w
	}
	trailing := head(0)
	trailing.Uint(0) // entries
	trailing.Uint(0) // feed keys
	trailing.B = append(trailing.B, 0)
	unknown := head(1)
	unknown.String("a")
	unknown.String("money") // a kind no value has, read as no value
	unknown.Uint(0)
	unknown.Uint(0)
	flag := head(1)
	flag.String("vip")
	flag.String(string(event.Bool))
	flag.Uint(2)
	flag.Uint(0)
	flag.Uint(0)
	twice := head(2)
	for _, s := range []string{"1", "2"} {
		twice.String("a")
		twice.String(string(event.String))
		twice.String(s)
	}
	twice.Uint(0)
	twice.Uint(0)
	for name, b := range map[string][]byte{"trailing": trailing.B, "unknown kind": unknown.B, "flag 2": flag.B, "name twice": twice.B} {
		if rec, err := decodeRecord(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decodeRecord(%x) = %+v, %v; want ErrCorrupt", name, b, rec.Event, err)
		}
	}
}
