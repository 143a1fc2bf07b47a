package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// The stored-record decoders of the engine, on arbitrary bytes: each
// returns an error wrapping ErrCorrupt or a value whose encoding decodes
// to it again and is no longer than the bytes read (no field read from
// nothing), and but for a change (whose payload runs to its end) the
// bytes followed by one more do not decode (none is ignored); never
// panics. The encoding may be shorter: a varint written
// longer than needed (0x80 0x00 for 0) reads as its value. CI runs the
// seeds and testdata/fuzz; go test -fuzz=FuzzEventRecord (and the others)
// looks further.

// reencoded fails t when again, the encoding of what b decoded to, is
// longer than b.
func reencoded(t *testing.T, what string, b, again []byte) {
	t.Helper()
	if len(again) > len(b) {
		t.Fatalf("%s(%x) encodes back as %x, longer", what, b, again)
	}
}

func fuzzEvent() event.Event {
	at := time.Date(2026, 2, 28, 23, 59, 59, 123456789, time.UTC)
	return event.Event{ID: "e1", Member: "m1", Type: "order", Time: at, Attrs: event.Attrs{
		"amount": event.Dec(decimal.RequireFromString("12345678901234567890.125")),
		"store":  event.Str("s1"),
		"n":      event.Int(-42),
		"vip":    event.Flag(true),
		"at":     event.At(at),
		"tags":   event.List("a", "", "c"),
	}}
}

func FuzzEventRecord(f *testing.F) {
	f.Add(eventRecord{Event: fuzzEvent(), Entries: [][]byte{[]byte("k1")}, Feed: [][]byte{[]byte("m1\x00\x07")}}.appendTo(nil))
	f.Add(eventRecord{Event: event.Event{ID: "e", Member: "m", Type: "t", Time: time.Unix(1, 0)}}.appendTo(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeRecord(%x) = %v; want ErrCorrupt", b, err)
			}
			return
		}
		if _, err := decodeRecord(append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("decodeRecord(%x) decodes with a byte more", b)
		}
		again := rec.appendTo(nil)
		reencoded(t, "decodeRecord", b, again)
		got, err := decodeRecord(again)
		if err != nil || !got.Event.Same(rec.Event) || !cmp.Equal(got.Entries, rec.Entries) || !cmp.Equal(got.Feed, rec.Feed) {
			t.Fatalf("decodeRecord(%x) = %+v; its encoding decodes as %+v, %v", b, rec, got, err)
		}
	})
}

func FuzzChangeRecord(f *testing.F) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []change.Change{
		{Seq: 1, Kind: "points.earned", Time: at},
		{Seq: 3, Kind: "points.earned", Member: "m1", Event: "e1", Time: at, Data: []byte(`{"a":"1"}`), Reason: &rule.Reason{
			Rule: "buy", Formula: "amount", Inputs: map[string]string{"amount": "200.00"}, Raw: decimal.RequireFromString("2.5"), Note: "n",
			Cut: &rule.Cut{Period: rule.Day, Limit: decimal.RequireFromString("100"), Used: decimal.RequireFromString("90"),
				Wanted: decimal.RequireFromString("-20.5"), Granted: decimal.RequireFromString("10")}}},
	} {
		rec, _, _, err := appendChange(nil, &c, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeChange(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeChange(%x) = %v; want ErrCorrupt", b, err)
			}
			return
		}
		again, _, _, err := appendChange(nil, &c, nil)
		if err != nil {
			t.Fatal(err)
		}
		reencoded(t, "decodeChange", b, again)
		got, err := decodeChange(again)
		if err != nil || !cmp.Equal(got, c) {
			t.Fatalf("decodeChange(%x) = %+v; its encoding decodes as %+v, %v", b, c, got, err)
		}
		for name, fn := range map[string]func([]byte) (any, error){
			"member": func(b []byte) (any, error) { return changeMember(b) },
			"time":   func(b []byte) (any, error) { return changeTime(b) },
		} {
			if _, err := fn(b); err != nil {
				t.Fatalf("change%s(%x) = %v; decodeChange read it", name, b, err)
			}
		}
	})
}

func FuzzJournalInput(f *testing.F) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, in := range []Input{
		{Kind: InputEvent, Version: 1, At: at, Event: fuzzEvent(), Rand: []byte{1, 2}},
		{Kind: InputRequest, Version: 2, At: at, Action: "points.adjust", Body: []byte(`{"member":"m1"}`)},
		{Kind: InputAdvance, Version: 2, At: at, Items: 7},
	} {
		f.Add(in.appendTo(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decodeInput(9, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeInput(%x) = %v; want ErrCorrupt", b, err)
			}
			return
		}
		if _, err := decodeInput(9, append(b[:len(b):len(b)], 0)); err == nil {
			t.Fatalf("decodeInput(%x) decodes with a byte more", b)
		}
		again := in.appendTo(nil)
		if in.Digested {
			reencoded(t, "decodeInput", b, again)
		} else {
			// A record of an earlier version without a digest (a page of
			// version 1, another input of 1 or 2) is written as version 3,
			// the only one written, with a digest of 0: a byte more.
			reencoded(t, "decodeInput", append(b[:len(b):len(b)], 0), again)
		}
		got, err := decodeInput(9, again)
		if err != nil || !got.Event.Same(in.Event) || got.Kind != in.Kind || got.Version != in.Version || !got.At.Equal(in.At) ||
			got.Action != in.Action || !bytes.Equal(got.Body, in.Body) || got.Items != in.Items || !bytes.Equal(got.Rand, in.Rand) ||
			got.Digest != in.Digest || in.Digested && !got.Digested {
			t.Fatalf("decodeInput(%x) = %+v; its encoding decodes as %+v, %v", b, in, got, err)
		}
	})
}

func FuzzFeedRecord(f *testing.F) {
	f.Add([]byte{2, 'a', 'b', 0, 1, 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := decodeFeed(b, func(raw []byte) error { n += len(raw); return nil })
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeFeed(%x) = %v; want ErrCorrupt", b, err)
		}
		if n > len(b) {
			t.Fatalf("decodeFeed(%x) read %d bytes of changes", b, n)
		}
	})
}

func FuzzOpRecord(f *testing.F) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := &change.Outcome{Event: "e1", Member: "m1", Time: at,
		Changes: []change.Change{{Kind: "points.earned", Member: "m1", Time: at, Event: "e1", Data: []byte(`{"n":1}`)}}}
	sum := sha256.Sum256([]byte(`{"member":"m1"}`))
	f.Add(appendOpRecord(nil, sum[:], out, nil))
	f.Add(appendOpRecord(nil, sum[:], out, [][]byte{[]byte("m1\x00\x00\x00\x00\x00\x00\x00\x00\x07")}))
	v2, err := appendOpRecordV2(nil, []byte(`{"member":"m1"}`), out)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v2)
	f.Add([]byte(`{"request":"e30=","outcome":{"event":"e1","member":"m1","time":"2026-01-01T00:00:00Z"}}`))
	st := memory.New()
	decode := func(b []byte) error {
		return st.View(context.Background(), func(tx store.Tx) error {
			_, _, _, err := decodeOpRecord(tx, time.UTC, b)
			return err
		})
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := decode(b)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeOpRecord(%x) = %v; want ErrCorrupt", b, err)
		}
		if err == nil && decode(append(b[:len(b):len(b)], 0)) == nil {
			t.Fatalf("decodeOpRecord(%x) decodes with a byte more", b)
		}
		if _, err := opRecordTime(b); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("opRecordTime(%x) = %v; want ErrCorrupt", b, err)
		}
	})
}
