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
