package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/codec"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// A request record written as JSON, before the binary form, still
// answers a retry with its outcome, still conflicts with another request,
// and retention still reads its time; a binary record's time reads back.
func TestOpRecordJSONStillRead(t *testing.T) {
	ctx := context.Background()
	e := New(memory.New(), time.UTC, Options{})
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	body := map[string]string{"member": "m1"}
	fp, _ := json.Marshal(body)
	first := &change.Outcome{Event: "old", Member: "m1", Time: at,
		Changes: []change.Change{{Kind: "test.done", Member: "m1", Time: at, Event: "old", Data: json.RawMessage(`{"n":1}`)}}}
	raw, err := json.Marshal(opRecord{Request: fp, Outcome: first})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store().Update(ctx, func(tx store.Tx) error { return tx.Put(bOps, []byte("old"), raw) }); err != nil {
		t.Fatal(err)
	}
	ran := false
	got, err := e.Apply(ctx, Request{ID: "old", Body: body, At: at, Member: "m1"}, func(*Unit) error { ran = true; return nil })
	if err != nil || ran {
		t.Fatalf("retry of an old record: %v, ran %v", err, ran)
	}
	want := *first
	want.Duplicate = true
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	if _, err := e.Apply(ctx, Request{ID: "old", Body: map[string]string{"member": "m2"}, At: at, Member: "m2"}, func(*Unit) error { return nil }); err == nil {
		t.Error("another request under an old record's ID was applied")
	}
	if ts, err := opRecordTime(raw); err != nil || !ts.Equal(at) {
		t.Errorf("time of the JSON record: %v %v", ts, err)
	}
	v2, err := appendOpRecordV2(nil, fp, first)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(fp)
	v3 := appendOpRecord(nil, sum[:], first, nil)
	for _, bin := range [][]byte{v2, v3} {
		if ts, err := opRecordTime(bin); err != nil || !ts.Equal(at) {
			t.Errorf("time of the binary record %d: %v %v", bin[0], ts, err)
		}
	}
	short := appendOpRecord(nil, sum[:31], first, nil)
	for _, bad := range [][]byte{nil, {opRecordV2}, {opRecordV3}, {4}, append(v2[:len(v2):len(v2)], 0), append(v3[:len(v3):len(v3)], 0), short, {'{'}} {
		err := e.Store().View(ctx, func(tx store.Tx) error { _, _, _, err := decodeOpRecord(tx, time.UTC, bad); return err })
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeOpRecord(%q) = %v, want ErrCorrupt", bad, err)
		}
	}
}

// appendOpRecordV2 is how request records were written before version 3:
// the request's JSON and the changes themselves. Such records are still
// read.
func appendOpRecordV2(b []byte, fp []byte, out *change.Outcome) ([]byte, error) {
	w := codec.Writer{B: append(b, opRecordV2)}
	w.Time(out.Time)
	w.Bytes(fp)
	w.String(out.Event)
	w.String(out.Member)
	w.Uint(uint64(len(out.Changes)))
	var cb []byte
	for i := range out.Changes {
		var err error
		if cb, _, _, err = appendChange(cb[:0], &out.Changes[i], nil); err != nil {
			return b, err
		}
		w.Bytes(cb)
	}
	keys := ledger.RecordKeys(out.Entries)
	w.Uint(uint64(len(keys)))
	for _, k := range keys {
		w.Bytes(k)
	}
	return w.B, nil
}

// A version 2 request record (the request's JSON and the changes
// themselves) still answers a retry with its outcome, its entries read
// from the ledger, and still conflicts with another request.
func TestOpRecordV2StillRead(t *testing.T) {
	ctx := context.Background()
	e := New(memory.New(), time.UTC, Options{})
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	body := map[string]string{"member": "m1"}
	first, err := e.Apply(ctx, Request{ID: "r1", Body: body, At: at, Member: "m1"}, func(u *Unit) error {
		if _, err := u.Post(valueTxn("m1", "5")); err != nil {
			return err
		}
		return u.Emit("test.done", "m1", map[string]int{"n": 1}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The record rewritten in version 2, as an earlier release wrote it.
	fp, _ := json.Marshal(body)
	v2, err := appendOpRecordV2(nil, fp, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store().Update(ctx, func(tx store.Tx) error { return tx.Put(bOps, []byte("r1"), v2) }); err != nil {
		t.Fatal(err)
	}
	got, err := e.Apply(ctx, Request{ID: "r1", Body: body, At: at, Member: "m1"}, func(*Unit) error {
		t.Error("a request with a version 2 record ran again")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := *first
	want.Duplicate = true
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("outcome (-want +got):\n%s", diff)
	}
	if _, err := e.Apply(ctx, Request{ID: "r1", Body: map[string]string{"member": "m2"}, At: at, Member: "m2"}, func(*Unit) error { return nil }); !errors.Is(err, event.ErrConflict) {
		t.Errorf("another request under a version 2 record's ID: %v, want ErrConflict", err)
	}
}

// valueTxn moves amount of stored value from a pool to member.
func valueTxn(member, amount string) ledger.Transaction {
	amt := decimal.RequireFromString(amount)
	return ledger.Transaction{Kind: "test", Legs: []ledger.Leg{
		{Account: ledger.MemberAccount(member, ledger.Value, ""), Amount: amt},
		{Account: ledger.Pool(ledger.Value, "test"), Amount: amt.Neg()},
	}}
}

// A request's record (version 3) keeps the SHA-256 of the request and the
// keys of its feed records and ledger entries, not the changes: a retry
// rebuilds the first outcome from the feed and the ledger, on a store that
// splits the feed per member (before and after the sequencer moves the
// records) and on one that appends it; another request under the ID is a
// conflict.
func TestOpRecordNamesFeedRecords(t *testing.T) {
	for _, split := range []bool{true, false} {
		t.Run(fmt.Sprint("split=", split), func(t *testing.T) {
			ctx := context.Background()
			e := newFanEngine(t, split)
			at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			body := map[string]string{"member": "b", "note": "fan out"}
			runs := 0
			apply := func(body map[string]string) (*change.Outcome, error) {
				return e.Apply(ctx, Request{ID: "r1", Body: body, At: at, Member: "b"}, func(u *Unit) error {
					runs++
					if _, err := u.Post(valueTxn("b", "7.5")); err != nil {
						return err
					}
					for i, m := range []string{"b", "a", "b"} {
						if err := u.Emit("test.fan", m, map[string]int{"i": i + 1}, &rule.Reason{Rule: "r", Inputs: map[string]string{"k": "v"}}); err != nil {
							return err
						}
					}
					return nil
				})
			}
			first, err := apply(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(first.Changes) != 3 || len(first.Entries) != 2 {
				t.Fatalf("first outcome %+v", first)
			}
			want := *first
			want.Duplicate = true
			check := func(when string) {
				t.Helper()
				got, err := apply(body)
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if diff := cmp.Diff(&want, got); diff != "" {
					t.Errorf("repeat %s (-first +repeat):\n%s", when, diff)
				}
			}
			check("before the feed is read")
			if _, err := e.Feed(ctx, 0, 10); err != nil {
				t.Fatal(err)
			}
			check("after the feed was read")
			if runs != 1 {
				t.Errorf("request ran %d times, want 1", runs)
			}
			if _, err := apply(map[string]string{"member": "b"}); !errors.Is(err, event.ErrConflict) {
				t.Errorf("another request under the ID: %v, want ErrConflict", err)
			}
			err = e.Store().View(ctx, func(tx store.Tx) error {
				v, err := tx.Get(bOps, []byte("r1"))
				if err != nil {
					return err
				}
				fp, _ := json.Marshal(body)
				sum := sha256.Sum256(fp)
				if v[0] != opRecordV3 || !bytes.Contains(v, sum[:]) || bytes.Contains(v, fp) || bytes.Contains(v, []byte(`{"i":1}`)) {
					t.Errorf("request record %q: want version 3 with the request's SHA-256, without the request or the changes", v)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
