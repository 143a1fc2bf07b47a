package membership_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// openAudited opens the retail example's program, with manual points
// adjustments above 100 waiting for a second operator's approval, on a
// memory store with the journal on.
func openAudited(t *testing.T) (*membership.Program, *memory.Store) {
	t.Helper()
	raw, err := os.ReadFile("examples/retail/program.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["points"].(map[string]any)["programs"].([]any)[0].(map[string]any)["approval_above"] = "100"
	m["tags"].(map[string]any)["attributes"] = []any{map[string]any{"name": "city", "type": "string"}}
	if raw, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	p, err := membership.Open(st, def, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	return p, st
}

// TestAuditTrail makes each kind of operator call, a retry, refusals and
// a bulk issue, and checks the trail entry by entry, then queries by
// operator, by member, by period and both, in pages, and the CSV export.
// Every expected entry is written out by hand from the calls below.
func TestAuditTrail(t *testing.T) {
	ctx := context.Background()
	p, _ := openAudited(t)
	loc := p.Location()
	at := func(h int) time.Time { return time.Date(2025, 3, 1, 10+h, 0, 0, 0, loc) }
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	refused := func(_ any, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("got %v, want %v", err, want)
		}
	}
	pts, dec := p.Points(), decimal.RequireFromString
	must(pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "goodwill", At: at(0), Program: "mall", Amount: dec("50")}))
	must(pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-2", Member: "m2", Operator: "op.li", Note: "lost order", At: at(1), Program: "mall", Amount: dec("500")}))
	_, err := pts.Approve(ctx, points.DecideRequest{RequestID: "dec-1", Operator: "op.li", At: at(2), Adjustment: "adj-2"})
	refused(nil, err, points.ErrSelfApproval)
	approve := points.DecideRequest{RequestID: "dec-2", Operator: "op.wang", At: at(3), Adjustment: "adj-2"}
	must(pts.Approve(ctx, approve))
	out, err := pts.Approve(ctx, approve) // a retry: answered from the first, not recorded again
	if err != nil || !out.Duplicate {
		t.Fatalf("retry: %v, duplicate %v", err, out != nil && out.Duplicate)
	}
	must(pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-3", Member: "m2", Operator: "op.wang", Note: "typo", At: at(4), Program: "mall", Amount: dec("300")}))
	must(pts.Reject(ctx, points.DecideRequest{RequestID: "dec-3", Operator: "op.li", At: at(5), Adjustment: "adj-3"}))
	must(p.Levels().Set(ctx, level.SetRequest{RequestID: "lvl-1", Member: "m1", Operator: "op.zhao", Note: "VIP complaint", At: at(6), Level: "Gold"}))
	must(p.Tags().Add(ctx, tag.ManualRequest{RequestID: "tag-1", Member: "m3", Operator: "op.li", Note: "employee", At: at(7), Tag: "staff"}))
	issued, err := p.Coupons().Issue(ctx, coupon.IssueRequest{RequestID: "camp-1", Operator: "op.wang", At: at(8), Members: []string{"m1", "m2"}, Template: "winback-30"})
	if err != nil || len(issued.Issued["m1"]) != 1 {
		t.Fatalf("issue: %v %+v", err, issued)
	}
	c1 := issued.Issued["m1"][0].ID
	must(p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rev-1", Operator: "op.zhao", At: at(9), Coupon: c1}))
	revokeAgain := coupon.RevokeRequest{RequestID: "rev-2", Operator: "op.zhao", At: at(10), Coupon: c1}
	_, err = p.Coupons().Revoke(ctx, revokeAgain)
	refused(nil, err, coupon.ErrState)
	_, err = p.Coupons().Revoke(ctx, revokeAgain) // refused again: the entry is replaced, not doubled
	refused(nil, err, coupon.ErrState)
	_, err = pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-4", Member: "m1", Operator: "op.li", Note: "clawback", At: at(11), Program: "mall", Amount: dec("-80")})
	refused(nil, err, ledger.ErrInsufficientBalance)
	// A malformed call never reaches the engine: no entry.
	_, err = pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-5", Member: "m1", Note: "no operator", At: at(12), Program: "mall", Amount: dec("1")})
	refused(nil, err, points.ErrNoOperator)

	ok := func(h int, op, action, member, req string) membership.AuditEntry {
		return membership.AuditEntry{Time: at(h), Operator: op, Action: action, Member: member, Request: req, Result: membership.AuditAccepted}
	}
	no := func(h int, op, action, member, req string) membership.AuditEntry {
		e := ok(h, op, action, member, req)
		e.Result = membership.AuditRefused
		return e
	}
	var (
		a1  = ok(0, "op.li", "points.adjust", "m1", "adj-1")
		a2  = ok(1, "op.li", "points.adjust", "m2", "adj-2")
		d1  = no(2, "op.li", "points.approve", "m2", "dec-1")
		d2  = ok(3, "op.wang", "points.approve", "m2", "dec-2")
		a3  = ok(4, "op.wang", "points.adjust", "m2", "adj-3")
		d3  = ok(5, "op.li", "points.reject", "m2", "dec-3")
		l1  = ok(6, "op.zhao", "level.set", "m1", "lvl-1")
		t1  = ok(7, "op.li", "tag.add", "m3", "tag-1")
		i1  = ok(8, "op.wang", "coupon.issue", "m1", "camp-1/m1")
		i2  = ok(8, "op.wang", "coupon.issue", "m2", "camp-1/m2")
		r1  = ok(9, "op.zhao", "coupon.revoke", "m1", "rev-1")
		r2  = no(10, "op.zhao", "coupon.revoke", "m1", "rev-2")
		a4  = no(11, "op.li", "points.adjust", "m1", "adj-4")
		all = []membership.AuditEntry{a1, a2, d1, d2, a3, d3, l1, t1, i1, i2, r1, r2, a4}
	)
	// A profile change records its operator when it names one.
	must(p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "prof-1", Operator: "op.zhao", Member: "m3", At: at(13), Attributes: map[string]event.Value{"city": event.Str("Hangzhou")}}))
	p1 := ok(13, "op.zhao", "tag.set_profile", "m3", "prof-1")
	all = append(all, p1)
	// The errors are the refusals' own; checked apart, then left out.
	noErr := cmp.Transformer("noError", func(e membership.AuditEntry) membership.AuditEntry {
		e.Error = ""
		return e
	})
	for _, tc := range []struct {
		name  string
		q     membership.AuditQuery
		pages [][]membership.AuditEntry
	}{
		{"all", membership.AuditQuery{}, [][]membership.AuditEntry{all}},
		{"operator op.li, pages of 4", membership.AuditQuery{Operator: "op.li", Limit: 4},
			[][]membership.AuditEntry{{a1, a2, d1, d3}, {t1, a4}}},
		{"member m1", membership.AuditQuery{Member: "m1"}, [][]membership.AuditEntry{{a1, l1, i1, r1, r2, a4}}},
		{"member m2, pages of 3", membership.AuditQuery{Member: "m2", Limit: 3},
			[][]membership.AuditEntry{{a2, d1, d2}, {a3, d3, i2}}},
		{"operator op.li about m2", membership.AuditQuery{Operator: "op.li", Member: "m2"}, [][]membership.AuditEntry{{a2, d1, d3}}},
		{"operator op.li about m2, pages of 1", membership.AuditQuery{Operator: "op.li", Member: "m2", Limit: 1},
			[][]membership.AuditEntry{{a2}, {d1}, {d3}}},
		{"period [3h, 8h), pages of 2", membership.AuditQuery{From: at(3), To: at(8), Limit: 2},
			[][]membership.AuditEntry{{d2, a3}, {d3, l1}, {t1}}},
		{"operator op.wang from 8h", membership.AuditQuery{Operator: "op.wang", From: at(8)}, [][]membership.AuditEntry{{i1, i2}}},
		{"operator op.zhao", membership.AuditQuery{Operator: "op.zhao"}, [][]membership.AuditEntry{{l1, r1, r2, p1}}},
		{"member m3", membership.AuditQuery{Member: "m3"}, [][]membership.AuditEntry{{t1, p1}}},
		{"nobody", membership.AuditQuery{Operator: "op.nobody"}, [][]membership.AuditEntry{nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			for i, want := range tc.pages {
				pg, err := p.Audit(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range pg.Entries {
					if (e.Error != "") != (e.Result == membership.AuditRefused) {
						t.Errorf("entry %s: result %s with error %q", e.Request, e.Result, e.Error)
					}
				}
				if d := cmp.Diff(want, pg.Entries, noErr); d != "" {
					t.Errorf("page %d (-want +got):\n%s", i, d)
				}
				if last := i == len(tc.pages)-1; last != (pg.Next == "") {
					t.Fatalf("page %d: next %q", i, pg.Next)
				}
				q.After = pg.Next
			}
		})
	}
	pg, err := p.Audit(ctx, membership.AuditQuery{Member: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if e := pg.Entries[5]; !strings.Contains(e.Error, "insufficient") {
		t.Errorf("refused adjustment's error: %q", e.Error)
	}
	if got := pg.Entries[0].Time.Location(); got != loc {
		t.Errorf("entry time in %v, want the program's zone %v", got, loc)
	}
	// A cursor of another query is refused.
	opPage, _ := p.Audit(ctx, membership.AuditQuery{Operator: "op.li", Limit: 1})
	if _, err := p.Audit(ctx, membership.AuditQuery{Member: "m1", After: opPage.Next}); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("foreign cursor: got %v, want ErrInvalidArgument", err)
	}
	if _, err := p.Audit(ctx, membership.AuditQuery{After: "zz"}); !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("bad cursor: got %v, want ErrInvalidArgument", err)
	}

	// The CSV export of op.zhao's calls, by hand (Shanghai is UTC+8).
	var buf bytes.Buffer
	n, err := p.ExportAudit(ctx, &buf, membership.AuditQuery{Operator: "op.zhao", Limit: 1})
	if err != nil || n != 4 {
		t.Fatalf("export: %d rows, %v", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		"time,operator,action,member,request,result,error",
		"2025-03-01T16:00:00+08:00,op.zhao,level.set,m1,lvl-1,accepted,",
		"2025-03-01T19:00:00+08:00,op.zhao,coupon.revoke,m1,rev-1,accepted,",
	}
	if d := cmp.Diff(want, lines[:3]); d != "" {
		t.Errorf("export (-want +got):\n%s", d)
	}
	if !strings.HasPrefix(lines[3], "2025-03-01T20:00:00+08:00,op.zhao,coupon.revoke,m1,rev-2,refused,") || len(lines) != 5 ||
		lines[4] != "2025-03-01T23:00:00+08:00,op.zhao,tag.set_profile,m3,prof-1,accepted," {
		t.Errorf("export's last rows: %q", lines[3:])
	}
}

// TestAuditReplayOfOperatorCalls replays the journal of operator calls,
// a retry and a refusal among them, into an empty store: the same
// balances, levels, tags, coupons and audit trail, but for the refusal,
// which the journal does not keep (see WithJournal).
func TestAuditReplayOfOperatorCalls(t *testing.T) {
	ctx := context.Background()
	src, from := openAudited(t)
	loc := src.Location()
	at := func(h int) time.Time { return time.Date(2025, 3, 1, 10+h, 0, 0, 0, loc) }
	pts, dec := src.Points(), decimal.RequireFromString
	calls := []func() error{
		func() error {
			_, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "n", At: at(0), Program: "mall", Amount: dec("50")})
			return err
		},
		func() error { // a retry of adj-1: answered, not recorded again
			_, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "n", At: at(0), Program: "mall", Amount: dec("50")})
			return err
		},
		func() error {
			_, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-2", Member: "m2", Operator: "op.li", Note: "n", At: at(1), Program: "mall", Amount: dec("500")})
			return err
		},
		func() error {
			_, err := pts.Approve(ctx, points.DecideRequest{RequestID: "dec-1", Operator: "op.wang", At: at(2), Adjustment: "adj-2"})
			return err
		},
		func() error {
			_, err := src.Levels().Set(ctx, level.SetRequest{RequestID: "lvl-1", Member: "m1", Operator: "op.zhao", Note: "n", At: at(3), Level: "Platinum"})
			return err
		},
		func() error {
			_, err := src.Tags().Add(ctx, tag.ManualRequest{RequestID: "tag-1", Member: "m3", Operator: "op.li", At: at(4), Tag: "staff"})
			return err
		},
		func() error {
			_, err := src.Coupons().Issue(ctx, coupon.IssueRequest{RequestID: "camp-1", Operator: "op.wang", At: at(5), Members: []string{"m1", "m2"}, Template: "winback-30"})
			return err
		},
		func() error {
			_, err := src.Advance(ctx, at(24*40)) // the coupons expire, the adjustments stay
			return err
		},
	}
	for i, c := range calls {
		if err := c(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := pts.Redeem(ctx, points.RedeemRequest{RequestID: "red-1", Member: "m1", Operator: "op.li", At: at(24 * 40),
		Program: "mall", Ref: "r", Amount: dec("5000")}); !errors.Is(err, membership.ErrInsufficientBalance) {
		t.Fatalf("redeeming more than m1 holds: %v", err)
	}
	dst, _ := openAudited(t)
	if _, err := dst.Replay(ctx, from, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"m1", "m2", "m3"} {
		a, _ := src.Member(ctx, m, at(24*40))
		b, _ := dst.Member(ctx, m, at(24*40))
		if d := cmp.Diff(a, b); d != "" {
			t.Errorf("member %s (-source +replay):\n%s", m, d)
		}
		ca, _ := src.Coupons().List(ctx, m)
		cb, _ := dst.Coupons().List(ctx, m)
		if d := cmp.Diff(ca, cb); d != "" {
			t.Errorf("coupons of %s (-source +replay):\n%s", m, d)
		}
	}
	wa, _ := src.Audit(ctx, membership.AuditQuery{})
	wb, _ := dst.Audit(ctx, membership.AuditQuery{})
	if n := len(wa.Entries); n != 8 || wa.Entries[n-1].Request != "red-1" || wa.Entries[n-1].Result != "refused" {
		t.Fatalf("the source's audit trail: %+v; want 8 entries, the refusal last", wa.Entries)
	}
	wa.Entries = wa.Entries[:7]
	if d := cmp.Diff(wa, wb); d != "" {
		t.Errorf("audit trail (-source without the refusal +replay):\n%s", d)
	}
}

// ExportAudit's text cells (operator, member, request, error) are user
// text: each start of one a spreadsheet would read a formula from gets a
// ', as in package export; the time stays as it is. The cells used to be
// written as they were.
func TestExportAuditProtectsTextCells(t *testing.T) {
	ctx := context.Background()
	p, _ := openAudited(t)
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, p.Location())
	pts, dec := p.Points(), decimal.RequireFromString
	if _, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "a;=b", Member: "＝1+1", Operator: `=HYPERLINK("http://x","y")`,
		Note: "n", At: at, Program: "mall", Amount: dec("50")}); err != nil {
		t.Fatal(err)
	}
	_, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "-1", Member: " @x;-1", Operator: "op;+1",
		Note: "n", At: at.Add(time.Hour), Program: "mall", Amount: dec("-10")})
	if !errors.Is(err, ledger.ErrInsufficientBalance) {
		t.Fatalf("debit beyond the balance: %v", err)
	}
	var buf bytes.Buffer
	if _, err := p.ExportAudit(ctx, &buf, membership.AuditQuery{}); err != nil {
		t.Fatal(err)
	}
	want := "time,operator,action,member,request,result,error\n" +
		`2025-03-01T10:00:00+08:00,"'=HYPERLINK(""http://x"",""y"")",points.adjust,'＝1+1,a;'=b,accepted,` + "\n" +
		`2025-03-01T11:00:00+08:00,op;'+1,points.adjust,' @x;'-1,'-1,refused,` +
		`"ledger: insufficient balance: member/ @x;'-1/points:mall may spend 0 at 2025-03-01T11:00:00+08:00, debit 10"` + "\n"
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("export (-want +got):\n%s", d)
	}
}
