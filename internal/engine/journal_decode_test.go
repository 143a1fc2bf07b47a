package engine

import (
	"errors"
	"hash/fnv"
	"math"
	"testing"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/ledger"
	"github.com/shopspring/decimal"
)

// A journal record is damaged, not misread, when bytes follow it (they
// were ignored) or when its page of due work counts more items than an
// int holds (read as a negative count).
func TestJournalInputMisreadRefused(t *testing.T) {
	at := time.Unix(1, 0)
	good := Input{Kind: InputRequest, Version: 1, At: at, Action: "points.adjust", Body: []byte(`{}`), Rand: []byte{7}}.appendTo(nil)
	if _, err := decodeInput(1, good); err != nil {
		t.Fatalf("decodeInput of a good record: %v", err)
	}
	trailing := append(good[:len(good):len(good)], 0)
	huge := codec.Writer{B: []byte{journalV1, InputAdvance}}
	huge.Uint(1)
	huge.Time(at)
	huge.Uint(math.MaxInt64 + 1)
	huge.String("")
	for name, b := range map[string][]byte{"trailing": trailing, "items beyond int": huge.B} {
		if in, err := decodeInput(1, b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decodeInput(%x) = %+v, %v; want ErrCorrupt", name, b, in, err)
		}
	}
}

// A page of due work records what it did (Digest) since journal records
// of version 2; a record of version 1, written before, decodes with its
// items and no digest, which a replay then does not compare.
func TestJournalAdvanceDigest(t *testing.T) {
	at := time.Unix(1, 0)
	page := Input{Kind: InputAdvance, Version: 3, At: at, Items: 2, Digest: 1<<63 + 5, Digested: true, Rand: []byte{7}}
	got, err := decodeInput(4, page.appendTo(nil))
	if err != nil || got.Items != 2 || !got.Digested || got.Digest != 1<<63+5 || got.Version != 3 || string(got.Rand) != "\x07" {
		t.Errorf("decodeInput of a page with a digest = %+v, %v", got, err)
	}
	old := codec.Writer{B: []byte{journalV1, InputAdvance}}
	old.Uint(3)
	old.Time(at)
	old.Uint(2)
	old.Bytes([]byte{7})
	got, err = decodeInput(4, old.B)
	if err != nil || got.Items != 2 || got.Digested || got.Digest != 0 || got.Version != 3 || string(got.Rand) != "\x07" {
		t.Errorf("decodeInput of a version 1 page = %+v, %v; want 2 items and no digest", got, err)
	}
	// A request of version 1 still decodes too.
	req := codec.Writer{B: []byte{journalV1, InputRequest}}
	req.Uint(3)
	req.Time(at)
	req.String("points.adjust")
	req.Bytes([]byte(`{}`))
	req.Bytes(nil)
	if got, err := decodeInput(4, req.B); err != nil || got.Action != "points.adjust" || got.Digested {
		t.Errorf("decodeInput of a version 1 request = %+v, %v", got, err)
	}
}

// An event, a request and an update record what they did (Digest) since
// journal records of version 3; one of version 2, written before, decodes
// with no digest, which a replay then does not compare.
func TestJournalInputDigest(t *testing.T) {
	at := time.Unix(1, 0)
	ev := event.Event{ID: "o1", Member: "alice", Type: "order", Time: at}
	for _, in := range []Input{
		{Kind: InputEvent, Version: 3, At: at, Event: ev, Digest: 1<<63 + 9, Rand: []byte{7}},
		{Kind: InputRequest, Version: 3, At: at, Action: "points.adjust", Body: []byte(`{}`), Digest: 1<<63 + 9, Rand: []byte{7}},
		{Kind: InputUpdate, Version: 3, At: at, Action: "tag.recompute", Body: []byte(`{}`), Digest: 1<<63 + 9, Rand: []byte{7}},
	} {
		b := in.appendTo(nil)
		got, err := decodeInput(4, b)
		if err != nil || !got.Digested || got.Digest != 1<<63+9 || got.Event.ID != in.Event.ID || got.Action != in.Action || string(got.Rand) != "\x07" {
			t.Errorf("decodeInput of a %c record with a digest = %+v, %v", in.Kind, got, err)
		}
		// Version 2: the same record without the digest.
		old := codec.Writer{B: []byte{journalV2, in.Kind}}
		old.Uint(3)
		old.Time(at)
		if in.Kind == InputEvent {
			old.Bytes(eventRecord{Event: ev}.appendTo(nil))
		} else {
			old.String(in.Action)
			old.Bytes(in.Body)
		}
		old.Bytes([]byte{7})
		got, err = decodeInput(4, old.B)
		if err != nil || got.Digested || got.Digest != 0 || got.Event.ID != in.Event.ID || got.Action != in.Action || string(got.Rand) != "\x07" {
			t.Errorf("decodeInput of a version 2 %c record = %+v, %v; want no digest", in.Kind, got, err)
		}
	}
}

// The journal writes version 3 only, so a record of an earlier version
// without a digest, read and written again, is a byte longer: the digest
// of 0 (a one-byte varint); the rest is the same bytes after the version
// byte. FuzzJournalInput, written before versions 2 and 3, took a version
// 1 request (the fuzzer's 016f30300130000130: version 48, 24 ns after
// 1970, action "0", no body, random "0") growing by that byte for damage;
// it now allows it. Its fields read back the same, the digest 0.
func TestJournalOldRecordWrittenAgain(t *testing.T) {
	at := time.Unix(1, 0)
	rec := func(version, kind byte, fields func(w *codec.Writer)) []byte {
		w := codec.Writer{B: []byte{version, kind}}
		w.Uint(3)
		w.Time(at)
		fields(&w)
		w.Bytes([]byte{7})
		return w.B
	}
	ev := event.Event{ID: "o1", Member: "alice", Type: "order", Time: at}
	for name, b := range map[string][]byte{
		"fuzzer's request": []byte("\x01\x6f\x30\x30\x01\x30\x00\x01\x30"),
		"page, version 1":  rec(journalV1, InputAdvance, func(w *codec.Writer) { w.Uint(2) }),
		"request, version 2": rec(journalV2, InputRequest, func(w *codec.Writer) {
			w.String("points.adjust")
			w.Bytes([]byte(`{}`))
		}),
		"event, version 2": rec(journalV2, InputEvent, func(w *codec.Writer) { w.Bytes(eventRecord{Event: ev}.appendTo(nil)) }),
	} {
		in, err := decodeInput(4, b)
		if err != nil || in.Digested {
			t.Fatalf("%s: decodeInput(%x) = %+v, %v; want no digest", name, b, in, err)
		}
		again := in.appendTo(nil)
		want := append([]byte{journalV3}, b[1:len(b)-2]...) // up to the random bytes
		want = append(want, 0)                              // the digest
		want = append(want, b[len(b)-2:]...)
		if string(again) != string(want) {
			t.Errorf("%s: %x written again as %x, want %x", name, b, again, want)
		}
		got, err := decodeInput(4, again)
		if err != nil || got.Digest != 0 || got.Kind != in.Kind || got.Version != in.Version || !got.At.Equal(in.At) || got.Items != in.Items ||
			got.Action != in.Action || string(got.Body) != string(in.Body) || got.Event.ID != in.Event.ID || string(got.Rand) != string(in.Rand) {
			t.Errorf("%s: written again, reads %+v, %v; want %+v", name, got, err, in)
		}
	}
}

// pageDigest hashes each entry's and change's fields, each followed by a
// NUL, with FNV-1a, and adds the hashes: the digests journal records keep
// since version 2 must stay the ones a replay computes.
func TestPageDigestIsFNV1a(t *testing.T) {
	out := &change.Outcome{
		Entries: []ledger.Entry{{Account: ledger.Account{Asset: "points:mall", Member: "alice", Sub: "frozen"}, Kind: "earned", Amount: decimal.RequireFromString("12.50")}},
		Changes: []change.Change{{Kind: "tag.added", Member: "alice"}},
	}
	sum := func(fields ...string) uint64 {
		h := fnv.New64a()
		for _, f := range fields {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
		return h.Sum64()
	}
	want := 7 + sum("entry", "points:mall", "alice", "frozen", "earned", "12.5") + sum("change", "tag.added", "alice")
	if got := pageDigest(7, out); got != want {
		t.Errorf("pageDigest = %016x, want %016x", got, want)
	}
}
