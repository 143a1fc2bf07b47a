package membership_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// TestExportAuditBadQueryWritesNothing pins "bad input changes nothing"
// for ExportAudit: a query Audit refuses (To before From, a negative
// Limit, a cursor that is not one, a time out of range) wraps
// ErrInvalidArgument and writes nothing to w, not even the header row
// (the CSV writer flushes it with the first page read). A valid query of
// an empty trail writes the header alone.
func TestExportAuditBadQueryWritesNothing(t *testing.T) {
	ctx := context.Background()
	p, _ := openAudited(t)
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, p.Location())
	for _, c := range []struct {
		name string
		q    membership.AuditQuery
	}{
		{"to before from", membership.AuditQuery{From: at, To: at.Add(-time.Hour)}},
		{"negative limit", membership.AuditQuery{Limit: -1}},
		{"bad cursor", membership.AuditQuery{After: "zz"}},
		{"time out of range", membership.AuditQuery{From: time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		var buf bytes.Buffer
		n, err := p.ExportAudit(ctx, &buf, c.q)
		if !errors.Is(err, membership.ErrInvalidArgument) || n != 0 || buf.Len() != 0 {
			t.Errorf("%s: ExportAudit = %d, %v, wrote %q; want 0, ErrInvalidArgument, nothing", c.name, n, err, buf.String())
		}
	}
	var buf bytes.Buffer
	if n, err := p.ExportAudit(ctx, &buf, membership.AuditQuery{}); err != nil || n != 0 ||
		buf.String() != "time,operator,action,member,request,result,error\n" {
		t.Errorf("an empty trail: ExportAudit = %d, %v, wrote %q; want the header alone", n, err, buf.String())
	}
}

// TestAuditOfCallsTheDefinitionRefuses pins which refusals naming what the
// definition does not declare the trail keeps (Audit's "Not recorded"):
// Tags().Add of an unknown tag and Levels().Set of an unknown level are
// refused by the calls' checks before the unit of work and leave no entry;
// Tags().Remove of an undeclared tag m1 does not hold and an adjustment
// in an undeclared point program are the calls' refusals, recorded.
func TestAuditOfCallsTheDefinitionRefuses(t *testing.T) {
	ctx := context.Background()
	p, _ := openAudited(t)
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, p.Location())
	if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "t-add", Member: "m1", Operator: "op", At: at, Tag: "nosuch"}); !errors.Is(err, tag.ErrUnknownTag) {
		t.Errorf("adding an unknown tag: %v, want tag.ErrUnknownTag", err)
	}
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "l-set", Member: "m1", Operator: "op", Note: "n", At: at, Level: "Nosuch"}); !errors.Is(err, level.ErrUnknownLevel) {
		t.Errorf("setting an unknown level: %v, want level.ErrUnknownLevel", err)
	}
	if _, err := p.Tags().Remove(ctx, tag.ManualRequest{RequestID: "t-rm", Member: "m1", Operator: "op", At: at, Tag: "nosuch"}); !errors.Is(err, tag.ErrUnknownTag) {
		t.Errorf("removing an unknown tag: %v, want tag.ErrUnknownTag", err)
	}
	if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "p-adj", Member: "m1", Operator: "op", Note: "n", At: at,
		Program: "nosuch", Amount: decimal.NewFromInt(5)}); !errors.Is(err, points.ErrUnknownProgram) {
		t.Errorf("adjusting an unknown program: %v, want points.ErrUnknownProgram", err)
	}
	pg, err := p.Audit(ctx, membership.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range pg.Entries {
		got = append(got, e.Action+" "+e.Request+" "+e.Result)
	}
	// At one time, in request ID order.
	want := []string{"points.adjust p-adj refused", "tag.remove t-rm refused"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("audit trail (-want +got):\n%s", d)
	}
}

// TestAuditSurvivesRetentionAndErasure: the trail is no record that only
// idempotency or the feed needs (Retention), so a retention pass keeps
// it, and Erase keeps its entries but for the quotes of the member's
// refusals. By hand: m1's adjustment (op.li), a refused adjustment in an
// unknown program quoting "13800001111", and the erasure (op.dpo) on 1
// March; Advance to 1 June, with a window of 30 days, prunes the records
// of March's requests (a retry of the adjustment is then ErrTooOld) and
// leaves the three entries, the refusal's quote now "…".
func TestAuditSurvivesRetentionAndErasure(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	p, err := membership.Open(memory.New(), erasableDef(t), membership.WithRetention(membership.Retention{Window: 30 * day, Feed: 30 * day}))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, p.Location())
	adjust := points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "n", At: at, Program: "mall", Amount: decimal.NewFromInt(50)}
	if _, err := p.Points().Adjust(ctx, adjust); err != nil {
		t.Fatal(err)
	}
	bad := adjust
	bad.RequestID, bad.Program = "adj-2", "13800001111"
	if _, err := p.Points().Adjust(ctx, bad); !errors.Is(err, points.ErrUnknownProgram) {
		t.Fatalf("an unknown program: %v", err)
	}
	if _, err := p.Erase(ctx, membership.EraseRequest{RequestID: "e1", Member: "m1", Operator: "op.dpo", At: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, time.Date(2025, 6, 1, 0, 0, 0, 0, p.Location())); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Points().Adjust(ctx, adjust); !errors.Is(err, membership.ErrTooOld) {
		t.Fatalf("a retry of adj-1 after the retention pass: %v, want ErrTooOld (its record pruned)", err)
	}
	pg, err := p.Audit(ctx, membership.AuditQuery{Member: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range pg.Entries {
		got = append(got, e.Time.Format("15:04")+" "+e.Operator+" "+e.Action+" "+e.Request+" "+e.Result+" "+e.Error)
	}
	want := []string{
		`10:00 op.li points.adjust adj-1 accepted `,
		`10:00 op.li points.adjust adj-2 refused unknown point program "…"`,
		`11:00 op.dpo member.erase e1 accepted `,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("m1's trail after the retention pass (-want +got):\n%s", d)
	}
}
