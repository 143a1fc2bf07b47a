package engine

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
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
	bin, err := appendOpRecord(nil, fp, first)
	if err != nil {
		t.Fatal(err)
	}
	if ts, err := opRecordTime(bin); err != nil || !ts.Equal(at) {
		t.Errorf("time of the binary record: %v %v", ts, err)
	}
	for _, bad := range [][]byte{nil, {opRecordV2}, append(bin[:len(bin):len(bin)], 0), {'{'}} {
		err := e.Store().View(ctx, func(tx store.Tx) error { _, _, err := decodeOpRecord(tx, time.UTC, bad); return err })
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeOpRecord(%q) = %v, want ErrCorrupt", bad, err)
		}
	}
}
