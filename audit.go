package membership

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/csvsafe"
	"github.com/memberkit/membership/internal/engine"
)

// Audit results (AuditEntry.Result).
const (
	// AuditAccepted is the result of a call that changed what it asked.
	AuditAccepted = engine.AuditAccepted
	// AuditRefused is the result of a call the domain refused; the entry's
	// Error says why.
	AuditRefused = engine.AuditRefused
)

// AuditEntry is one call in the audit trail.
type AuditEntry struct {
	// Time is the request's time (its At), in the program's zone.
	Time time.Time `json:"time"`
	// Operator asked for Action ("points.adjust", "coupon.revoke",
	// "level.set", …; "" for a member's or the host's own call) about
	// Member: the member the call names, or the member of the object it
	// names (a coupon's code or ID, an order's coupons, a redemption, an
	// adjustment); "" when it names neither, or an object that does not
	// exist.
	Operator string `json:"operator,omitempty"`
	Action   string `json:"action"`
	Member   string `json:"member,omitempty"`
	// Request is the request ID.
	Request string `json:"request"`
	// Result is AuditAccepted or AuditRefused; Error is the refusal.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// AuditQuery selects audit entries: those of Operator and those about
// Member when set (both: both), with From <= Time < To (zero: open), in
// time order (then by request ID), a page of Limit entries (0: 50; above
// 1,000: 1,000; negative: refused) after the cursor After (the previous
// page's Next). To before From is refused.
type AuditQuery struct {
	Operator string    `json:"operator,omitempty"`
	Member   string    `json:"member,omitempty"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	After    string    `json:"after,omitempty"`
	Limit    int       `json:"limit,omitempty"`
}

// AuditPage is a page of the audit trail; Next is the cursor of the next
// page, empty at the end.
type AuditPage struct {
	Entries []AuditEntry
	Next    string
}

// Audit returns a page of the audit trail (see AuditQuery). A cursor that
// is not one of the query's, a time out of range, a To before From or a
// negative Limit wraps ErrInvalidArgument and names the field.
//
// The audit trail records every call a handle makes through the engine's
// unit of work for a request (every write of Points, Coupons, Levels,
// Benefits and Tags: the operator calls — adjustments, approvals,
// rejections, reviews, manual tags, level sets and grants of the gifts
// owed, coupon revocations, each member of a bulk issue — and the
// member's and the host's own calls such as a claim or a checkout lock,
// with no operator), and each page of a tag recompute.
//
// What is recorded:
//
//   - An accepted call: its entry is written in the call's own
//     transaction, so it is there exactly when the call's effects are.
//   - A call the domain refuses (a business rejection: a debit beyond the
//     balance, a coupon already used, a request ID reused for another
//     request): an entry with Result AuditRefused and the error, written in
//     a transaction of its own after the refusal. The error may quote what
//     the caller sent (a tag no rule declares); Erase replaces each quoted
//     text of the member's refusals with "…". A call that names an
//     object rather than a member (Redeem by code for an order naming no
//     member, Use and Release of an order, Revoke, Reverse, Approve and
//     Reject) is filed under the object's member, read again for the
//     entry, even when the call was refused before it came to the member
//     (a reused request ID, a time before the coupons' lock, a coupon not
//     combinable with the order's), so Audit by member lists it and Erase
//     redacts it; before, such a refusal was filed under no member. One
//     naming an object that does not exist (an unknown adjustment, code
//     or redemption, an order with no coupon locked or used for it) stays
//     under no member. Retried at the same time
//     and refused again, the entry is replaced (the latest error is kept).
//   - A retry that returns the first outcome (Duplicate set) is not
//     recorded again.
//   - Not recorded: a call the handle refuses before it reaches the
//     engine (a malformed request: no request ID, no operator where one is
//     required), one its checks against the definition in force refuse
//     before the unit of work (a level, a tag to add, a template or an
//     achievement the definition does not declare, a manual call for a
//     tag a rule keeps: Tags().Add of an unknown tag leaves no entry,
//     while Remove of one the member does not hold, and a point program
//     the definition does not declare, are refusals of the call and
//     recorded), and failures that are not the call's answer (a closed
//     store, a cancelled context, a superseded definition, damaged data).
//
// Entries are keyed by time, by member and by operator, each key ending
// with the request ID (no counter every call would write), so the trail
// adds no key that all operator calls share.
func (p *Program) Audit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	if err := event.CheckRequest(q); err != nil {
		return AuditPage{}, fmt.Errorf("membership: audit: %w", err)
	}
	pg, err := p.eng.Audit(ctx, engine.AuditQuery(q))
	if err != nil {
		return AuditPage{}, fmt.Errorf("membership: audit: %w", err)
	}
	out := AuditPage{Next: pg.Next}
	for _, e := range pg.Entries {
		out.Entries = append(out.Entries, AuditEntry(e))
	}
	return out, nil
}

// auditHeader is the header row of ExportAudit.
var auditHeader = []string{"time", "operator", "action", "member", "request", "result", "error"}

// ExportAudit writes the entries q selects, from q.After to the end, to w
// as CSV (RFC 4180) with a header row: time (RFC 3339, in the program's
// zone), operator, action, member, request, result, error. The text cells
// (all but the time) are protected against spreadsheet formulas as package
// export's are (a ' before =, +, -, @ and the like, at the cell's start
// and after each ';'; see that package's documentation, "CSV"): an
// operator or member ID, a request ID or an error quoting one is never
// run where the file is opened. It reads a page at a time (q.Limit), so
// memory stays flat whatever the trail's size, and returns how many
// entries it wrote. Its errors are Audit's and w's; a nil w wraps
// ErrInvalidArgument, and nothing is read.
func (p *Program) ExportAudit(ctx context.Context, w io.Writer, q AuditQuery) (int, error) {
	if w == nil {
		return 0, fmt.Errorf("membership: export audit: %w: w: nil writer", ErrInvalidArgument)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(auditHeader); err != nil {
		return 0, fmt.Errorf("membership: export audit: %w", err)
	}
	n := 0
	for {
		pg, err := p.Audit(ctx, q)
		if err != nil {
			return n, err
		}
		for _, e := range pg.Entries {
			row := []string{e.Time.Format(time.RFC3339Nano), csvsafe.Text(e.Operator), csvsafe.Text(e.Action),
				csvsafe.Text(e.Member), csvsafe.Text(e.Request), csvsafe.Text(e.Result), csvsafe.Text(e.Error)}
			if err := cw.Write(row); err != nil {
				return n, fmt.Errorf("membership: export audit: %w", err)
			}
			n++
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, fmt.Errorf("membership: export audit: %w", err)
		}
		if pg.Next == "" {
			return n, nil
		}
		q.After = pg.Next
	}
}
