package membership_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership"
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
