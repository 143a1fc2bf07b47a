package membership_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/bolt"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// TestEraseOnBoltSurvivesReopenAndReplays erases m1 on a bolt file, with
// the erasure's time given in UTC across Shanghai's midnight (17:30 UTC on
// 1 March is 01:30 on 2 March there), closes the file and opens it again:
// the erasure holds (Erased at 01:30 on 2 March in the program's zone, the
// profile and the adjustment's reason gone, m1's next event refused with
// ErrErased, the erasure's retry a duplicate), the balances are as before
// and Verify passes; the audit trail names the erasure's operator at that
// time. The journal replayed into a second bolt file gives the same
// members, statements, erasure and trail. By hand: m1 orders 200 (200
// points at Silver's rate 1) and is adjusted 50, 250 points; m2 orders
// 100, 100 points.
func TestEraseOnBoltSurvivesReopenAndReplays(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	openBolt := func(name string, opts ...membership.Option) (*membership.Program, *bolt.DB) {
		t.Helper()
		st, err := bolt.Open(filepath.Join(dir, name), &bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		p, err := membership.Open(st, erasableDef(t), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return p, st
	}
	p, st := openBolt("src.db", membership.WithJournal())
	loc := p.Location()
	at := func(h int) time.Time { return time.Date(2025, 3, 1, 10+h, 0, 0, 0, loc) }
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	order := func(id, member, amount string, h int) event.Event {
		return event.Event{ID: id, Member: member, Type: "order", Time: at(h),
			Attrs: event.Attrs{"amount": event.DecString(amount), "order_id": event.Str(id)}}
	}
	must(p.Process(ctx, order("o1", "m1", "200", 0)))
	must(p.Process(ctx, order("o2", "m2", "100", 0)))
	must(p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "called from 13800001111",
		At: at(1), Program: "mall", Amount: decimal.NewFromInt(50)}))
	must(p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "prof-1", Member: "m1", At: at(2),
		Attributes: map[string]event.Value{"phone": event.Str("13800001111")}}))
	erasedAt := time.Date(2025, 3, 1, 17, 30, 0, 0, time.UTC)
	erase := membership.EraseRequest{RequestID: "erase-1", Member: "m1", Operator: "op.dpo", Note: "ticket 7", At: erasedAt}
	must(p.Erase(ctx, erase))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	p, st = openBolt("src.db", membership.WithJournal())
	defer st.Close()
	wantAt := time.Date(2025, 3, 2, 1, 30, 0, 0, loc)
	checkErased := func(name string, q *membership.Program) {
		t.Helper()
		when, erased, err := q.Erased(ctx, "m1")
		if err != nil || !erased || !when.Equal(wantAt) || when.Location().String() != loc.String() || when.Day() != 2 {
			t.Errorf("%s: Erased(m1) = %v, %v, %v; want %v in %s", name, when, erased, err, wantAt, loc)
		}
		prof, err := q.Tags().Profile(ctx, "m1")
		if err != nil || len(prof.Attributes) != 0 {
			t.Errorf("%s: m1's profile attributes %v (%v), want none", name, prof.Attributes, err)
		}
		if a, err := q.Points().Adjustment(ctx, "adj-1"); err != nil || a.Reason != "" || a.Note != "" {
			t.Errorf("%s: adj-1 after the erasure: %+v (%v), want no reason or note", name, a, err)
		}
		for m, want := range map[string]int64{"m1": 250, "m2": 100} {
			b, err := q.Balance(ctx, ledger.MemberAccount(m, ledger.Points("mall"), ""))
			if err != nil || !b.Equal(decimal.NewFromInt(want)) {
				t.Errorf("%s: %s's points %s (%v), want %d", name, m, b, err, want)
			}
		}
		if err := q.Verify(ctx); err != nil {
			t.Errorf("%s: Verify: %v", name, err)
		}
	}
	checkErased("reopened", p)
	if _, err := p.Process(ctx, order("o3", "m1", "100", 30)); !errors.Is(err, membership.ErrErased) || !errors.Is(err, membership.ErrInvalidEvent) {
		t.Errorf("m1's event after the reopen: %v, want ErrErased and ErrInvalidEvent", err)
	}
	if out, err := p.Erase(ctx, erase); err != nil || !out.Duplicate {
		t.Errorf("the erasure's retry after the reopen: %v, %v; want a duplicate", out, err)
	}
	pg, err := p.Audit(ctx, membership.AuditQuery{Member: "m1", From: wantAt})
	if err != nil || len(pg.Entries) != 1 {
		t.Fatalf("m1's audit from the erasure: %+v (%v), want the erasure alone", pg.Entries, err)
	}
	if e := pg.Entries[0]; e.Action != "member.erase" || e.Operator != "op.dpo" || e.Result != membership.AuditAccepted ||
		!e.Time.Equal(wantAt) || e.Time.Location().String() != loc.String() {
		t.Errorf("the erasure's audit entry: %+v", e)
	}

	dst, dstore := openBolt("dst.db")
	defer dstore.Close()
	if n, err := dst.Replay(ctx, st, nil); err != nil || n != 5 {
		t.Fatalf("Replay = %d, %v; want the 5 inputs (2 orders, adjustment, profile, erasure)", n, err)
	}
	checkErased("replayed", dst)
	for _, m := range []string{"m1", "m2"} {
		a, err := p.Member(ctx, m, at(30))
		if err != nil {
			t.Fatal(err)
		}
		b, err := dst.Member(ctx, m, at(30))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(a, b); d != "" {
			t.Errorf("member %s (-source +replay):\n%s", m, d)
		}
		acct := ledger.MemberAccount(m, ledger.Points("mall"), "")
		sa, err := p.Statement(ctx, ledger.Query{Account: acct})
		if err != nil {
			t.Fatal(err)
		}
		sb, err := dst.Statement(ctx, ledger.Query{Account: acct})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(sa, sb); d != "" {
			t.Errorf("statement of %s (-source +replay):\n%s", m, d)
		}
	}
	wa, _ := p.Audit(ctx, membership.AuditQuery{})
	wb, _ := dst.Audit(ctx, membership.AuditQuery{})
	if d := cmp.Diff(wa, wb); d != "" || len(wa.Entries) != 3 {
		t.Errorf("audit trail, 3 entries (-source +replay):\n%s", d)
	}
}
