package engine

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// An entry is stored once, under its time key; the member's and the
// operator's keys hold nothing and lead to it. Entries written before,
// with a copy under each key, are still read, beside new ones.
func TestAuditIndexesLeadToTheEntry(t *testing.T) {
	ctx := context.Background()
	e := New(memory.New(), time.UTC, Options{})
	at := func(h int) time.Time { return time.Date(2026, 3, 1, h, 0, 0, 0, time.UTC) }
	old := AuditEntry{Time: at(1), Operator: "op", Action: "points.adjust", Member: "m1", Request: "r1", Result: AuditAccepted}
	now := AuditEntry{Time: at(2), Operator: "op", Action: "points.adjust", Member: "m1", Request: "r2", Result: AuditAccepted}
	err := e.Store().Update(ctx, func(tx store.Tx) error {
		// r1 as an earlier release wrote it: a copy under every key.
		v := old.AppendJSON(nil)
		tail := keys.New().Time(old.Time).Str(old.Request).Str(old.Result)
		for _, kv := range []struct {
			bucket string
			key    []byte
		}{{bAuditTime, tail}, {bAuditMember, append(keys.New().Str("m1"), tail...)}, {bAuditOperator, append(keys.New().Str("op"), tail...)}} {
			if err := tx.Put(kv.bucket, kv.key, v); err != nil {
				return err
			}
		}
		return e.audit(tx, Request{ID: now.Request, At: now.Time, Operator: now.Operator, Action: now.Action}, now.Member, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Store().View(ctx, func(tx store.Tx) error {
		for _, b := range []string{bAuditMember, bAuditOperator} {
			err := tx.Scan(b, nil, nil, false, func(k, v []byte) error {
				if bytes.Contains(k, []byte("r2")) && len(v) > 0 {
					t.Errorf("%s key %q holds %q, want nothing", b, k, v)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []AuditQuery{{}, {Member: "m1"}, {Operator: "op"}, {Member: "m1", Operator: "op"}} {
		pg, err := e.Audit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]AuditEntry{old, now}, pg.Entries); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", q, diff)
		}
	}
	// A member's key whose entry is missing is damage.
	err = e.Store().Update(ctx, func(tx store.Tx) error {
		return tx.Delete(bAuditTime, keys.New().Time(now.Time).Str(now.Request).Str(now.Result))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Audit(ctx, AuditQuery{Member: "m1"}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("an index key without its entry: %v, want ErrCorrupt", err)
	}
}
