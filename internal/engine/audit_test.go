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

// redactQuoted replaces what each quoted string says, as %q writes it.
func TestRedactQuoted(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"ledger: insufficient balance", "ledger: insufficient balance"},
		{`tag: unknown tag "13800001111": declared by no rule`, `tag: unknown tag "…": declared by no rule`},
		{`request "r1": member "m1": member erased`, `request "…": member "…": member erased`},
		{`code "a\"b\\" taken`, `code "…" taken`},
		{`["x" "y"]`, `["…" "…"]`},
		{`note "cut off`, `note "…`},
		{`ends with a backslash "\`, `ends with a backslash "…`},
	} {
		if got := redactQuoted(tt.in); got != tt.want {
			t.Errorf("redactQuoted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// eraseAuditQuotes redacts the errors of the member's refused entries,
// under each key that holds a copy (an earlier release's entry has one
// under the member's and the operator's keys), and leaves the member's
// accepted entries and another member's refused one as they were.
func TestEraseAuditQuotes(t *testing.T) {
	ctx := context.Background()
	e := New(memory.New(), time.UTC, Options{})
	at := func(h int) time.Time { return time.Date(2026, 3, 1, h, 0, 0, 0, time.UTC) }
	old := AuditEntry{Time: at(1), Operator: "op", Action: "tag.remove", Member: "m1", Request: "r1", Result: AuditRefused,
		Error: `tag: unknown tag "PII-1": declared by no rule`}
	tailOf := func(a AuditEntry) []byte { return keys.New().Time(a.Time).Str(a.Request).Str(a.Result) }
	oldKeys := []struct {
		bucket string
		key    []byte
	}{{bAuditTime, tailOf(old)}, {bAuditMember, append(keys.New().Str("m1"), tailOf(old)...)}, {bAuditOperator, append(keys.New().Str("op"), tailOf(old)...)}}
	err := e.Store().Update(ctx, func(tx store.Tx) error {
		for _, kv := range oldKeys { // as an earlier release wrote it
			if err := tx.Put(kv.bucket, kv.key, old.AppendJSON(nil)); err != nil {
				return err
			}
		}
		for _, c := range []struct {
			id, member string
			why        error
		}{{"r2", "m1", errors.New(`points: unknown point program "PII-2"`)}, {"r3", "m1", nil}, {"r4", "m2", errors.New(`tag: unknown tag "PII-4"`)}} {
			if err := e.audit(tx, Request{ID: c.id, At: at(2), Operator: "op", Action: "x"}, c.member, c.why); err != nil {
				return err
			}
		}
		return eraseAuditQuotes(tx, "m1")
	})
	if err != nil {
		t.Fatal(err)
	}
	redacted := old
	redacted.Error = `tag: unknown tag "…": declared by no rule`
	err = e.Store().View(ctx, func(tx store.Tx) error {
		for _, kv := range oldKeys {
			v, err := tx.Get(kv.bucket, kv.key)
			if err != nil {
				return err
			}
			if want := redacted.AppendJSON(nil); !bytes.Equal(v, want) {
				t.Errorf("%s: %s, want %s", kv.bucket, v, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pg, err := e.Audit(ctx, AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := []AuditEntry{redacted,
		{Time: at(2), Operator: "op", Action: "x", Member: "m1", Request: "r2", Result: AuditRefused, Error: `points: unknown point program "…"`},
		{Time: at(2), Operator: "op", Action: "x", Member: "m1", Request: "r3", Result: AuditAccepted},
		{Time: at(2), Operator: "op", Action: "x", Member: "m2", Request: "r4", Result: AuditRefused, Error: `tag: unknown tag "PII-4"`}}
	if diff := cmp.Diff(want, pg.Entries); diff != "" {
		t.Errorf("the trail (-want +got):\n%s", diff)
	}
}
