package membership_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
	"github.com/shopspring/decimal"
)

// retailWith returns the retail example's definition changed by edit (its
// JSON as a map).
func retailWith(t testing.TB, edit func(m map[string]any)) membership.Definition {
	t.Helper()
	raw, err := os.ReadFile("examples/retail/program.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if raw, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	def, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// erasableDef is the retail program with profile attributes, an
// achievement operators grant, and manual adjustments above 100 waiting
// for a second operator.
func erasableDef(t testing.TB) membership.Definition {
	return retailWith(t, func(m map[string]any) {
		m["points"].(map[string]any)["programs"].([]any)[0].(map[string]any)["approval_above"] = "100"
		m["tags"].(map[string]any)["attributes"] = []any{
			map[string]any{"name": "phone", "type": "string"},
			map[string]any{"name": "city", "type": "string"},
		}
		m["benefits"].(map[string]any)["achievements"] = []any{map[string]any{"name": "helper"}}
	})
}

// TestErase gives member m1 profile attributes, operator notes in every
// domain that keeps one, points, growth and stored value, erases m1, and
// checks that the personal data is gone, the amounts are kept, Verify
// passes, m2 is untouched, later events and calls for m1 are refused with
// ErrErased, a retry of the erasure is a duplicate, and the audit trail
// and the feed show it.
func TestErase(t *testing.T) {
	ctx := context.Background()
	src := memory.New() // replayed at the end
	p, err := membership.Open(src, erasableDef(t), membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	loc := p.Location()
	at := func(h int) time.Time { return time.Date(2025, 3, 1, 10+h, 0, 0, 0, loc) }
	dec := decimal.RequireFromString
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
	pts := p.Points()

	must(p.Process(ctx, order("o1", "m1", "200", 0)))
	must(p.Process(ctx, event.Event{ID: "r1", Member: "m1", Type: "recharge", Time: at(0), Attrs: event.Attrs{"amount": event.DecString("300")}}))
	must(pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "goodwill, called from 13800001111", At: at(1), Program: "mall", Amount: dec("50")}))
	must(pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-2", Member: "m1", Operator: "op.li", Note: "lost order of Mrs Zhang", At: at(1), Program: "mall", Amount: dec("500")}))
	must(pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-3", Member: "m2", Operator: "op.li", Note: "m2 goodwill", At: at(1), Program: "mall", Amount: dec("20")}))
	must(p.Levels().Set(ctx, level.SetRequest{RequestID: "lvl-1", Member: "m1", Operator: "op.zhao", Note: "wife of the owner", At: at(2), Level: "Gold"}))
	must(p.Tags().Add(ctx, tag.ManualRequest{RequestID: "tag-1", Member: "m1", Operator: "op.li", Note: "employee, badge 123", At: at(2), Tag: "staff"}))
	must(p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "prof-1", Member: "m1", At: at(2),
		Attributes: map[string]event.Value{"phone": event.Str("13800001111"), "city": event.Str("Hangzhou")}}))
	must(p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "ach-1", Member: "m1", Operator: "op.li", Note: "helped at the Xihu store", At: at(2), Achievement: "helper"}))
	issued, err := p.Coupons().Issue(ctx, coupon.IssueRequest{RequestID: "camp-1", Operator: "op.wang", At: at(3), Members: []string{"m1", "m2"}, Template: "winback-30"})
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := issued.Issued["m1"][0].ID, issued.Issued["m2"][0].ID
	must(p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rev-1", Operator: "op.zhao", Note: "Mr Zhang complained", At: at(3), Coupon: c1}))
	must(p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rev-2", Operator: "op.zhao", Note: "m2 note", At: at(3), Coupon: c2}))
	// A coupon of m1 still available, to be refused after the erasure.
	issued, err = p.Coupons().Issue(ctx, coupon.IssueRequest{RequestID: "camp-2", Operator: "op.wang", At: at(3), Members: []string{"m1"}, Template: "winback-30"})
	if err != nil {
		t.Fatal(err)
	}
	c3 := issued.Issued["m1"][0].ID

	// m1 by hand: points 200 (the order, Silver rate 1) + 50 (adj-1; adj-2
	// waits for approval) = 250; growth 200; stored value 300.
	mall := ledger.MemberAccount("m1", ledger.Points("mall"), "")
	want := map[ledger.Account]string{mall: "250", ledger.MemberAccount("m1", ledger.Growth, ""): "200", ledger.MemberAccount("m1", ledger.Value, ""): "300"}
	checkBalances := func(when string) {
		t.Helper()
		for a, w := range want {
			got, err := p.Balance(ctx, a)
			if err != nil || !got.Equal(dec(w)) {
				t.Errorf("%s: %s = %s (%v), want %s", when, a, got, err, w)
			}
		}
	}
	checkBalances("before")
	notes := func(a ledger.Account) int {
		t.Helper()
		pg, err := p.Statement(ctx, ledger.Query{Account: a, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range pg.Entries {
			if e.Ref.Note != "" {
				n++
			}
		}
		return n
	}
	if notes(mall) == 0 {
		t.Fatal("before: no ledger note to erase: the test does not test")
	}

	erase := membership.EraseRequest{RequestID: "erase-1", Member: "m1", Operator: "op.dpo", Note: "ticket 42", At: at(5)}
	out, err := p.Erase(ctx, erase)
	if err != nil {
		t.Fatal(err)
	}
	// adj-2, waiting for approval, is rejected by the erasure, which no
	// decision could close after it (TestEraseClosesWhatWaitsOnAnOperator).
	if len(out.Changes) != 2 || out.Changes[0].Kind != points.ChangeAdjustmentRejected || out.Changes[1].Kind != membership.ChangeErased ||
		out.Changes[0].Member != "m1" || out.Changes[1].Member != "m1" {
		t.Errorf("erase outcome changes: %+v", out.Changes)
	}

	// The personal data is gone.
	prof, err := p.Tags().Profile(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if len(prof.Attributes) != 0 {
		t.Errorf("profile attributes after erasure: %v", prof.Attributes)
	}
	// m1 has "recent" by rule (the order) and "staff" by hand.
	if len(prof.Tags) != 2 || prof.Tags[1].Tag != "staff" || prof.Tags[1].Note != "" || prof.Tags[1].By != "op.li" {
		t.Errorf("tags after erasure: %+v (the tag and its operator kept, the note gone)", prof.Tags)
	}
	hist, err := p.Levels().History(ctx, "m1", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	manual := 0
	for _, r := range hist {
		if r.Note != "" {
			t.Errorf("level history note kept: %+v", r)
		}
		if r.Cause == level.CauseManual && r.To == "Gold" && r.Operator == "op.zhao" {
			manual++
		}
	}
	if manual != 1 {
		t.Errorf("the manual level set's record: %d, want 1 (%+v)", manual, hist)
	}
	for _, id := range []string{"adj-1", "adj-2"} {
		a, err := pts.Adjustment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Reason != "" || a.Note != "" || a.Requester != "op.li" {
			t.Errorf("adjustment %s after erasure: %+v", id, a)
		}
	}
	ach, err := p.Benefits().Achievements(ctx, "m1")
	if err != nil || len(ach) != 1 || ach[0].Note != "" || ach[0].Achievement != "helper" {
		t.Errorf("achievements after erasure: %+v %v", ach, err)
	}
	cs, err := p.Coupons().List(ctx, "m1")
	if err != nil || len(cs) != 2 {
		t.Fatalf("coupons after erasure: %+v %v", cs, err)
	}
	for _, c := range cs {
		if c.Note != "" {
			t.Errorf("coupon note kept: %+v", c)
		}
	}
	if n := notes(mall); n != 0 {
		t.Errorf("%d ledger entries of m1 keep a note", n)
	}
	// Amounts, balances and the ledger's invariants are as before.
	checkBalances("after")
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	when, erased, err := p.Erased(ctx, "m1")
	if err != nil || !erased || !when.Equal(at(5)) {
		t.Errorf("Erased(m1) = %v %v %v, want %v true", when, erased, err, at(5))
	}
	if _, erased, _ := p.Erased(ctx, "m2"); erased {
		t.Error("m2 erased")
	}

	// m2 keeps its notes.
	if a, _ := pts.Adjustment(ctx, "adj-3"); a.Reason != "m2 goodwill" {
		t.Errorf("m2's adjustment: %+v", a)
	}
	if cs, _ := p.Coupons().List(ctx, "m2"); len(cs) != 1 || cs[0].Note != "m2 note" {
		t.Errorf("m2's coupon: %+v", cs)
	}
	if n := notes(ledger.MemberAccount("m2", ledger.Points("mall"), "")); n != 1 {
		t.Errorf("m2's ledger notes: %d, want 1", n)
	}

	// Later events and calls for m1 are refused, and change nothing.
	refused := func(what string, err error, also error) {
		t.Helper()
		if !errors.Is(err, membership.ErrErased) || !errors.Is(err, also) {
			t.Errorf("%s: %v, want ErrErased and %v", what, err, also)
		}
	}
	_, err = p.Process(ctx, order("o2", "m1", "100", 6))
	refused("a new event", err, membership.ErrInvalidEvent)
	_, err = p.Process(ctx, order("o1", "m1", "200", 0))
	refused("a retry of an event from before", err, membership.ErrInvalidEvent)
	_, err = pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-4", Member: "m1", Operator: "op.li", Note: "x", At: at(6), Program: "mall", Amount: dec("5")})
	refused("an adjustment", err, membership.ErrInvalidArgument)
	// A retry of a request from before is refused too: its first outcome
	// would hand out the reason the erasure removed.
	_, err = pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-1", Member: "m1", Operator: "op.li", Note: "goodwill, called from 13800001111", At: at(1), Program: "mall", Amount: dec("50")})
	refused("a retry of an adjustment from before", err, membership.ErrInvalidArgument)
	_, err = p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rev-1", Operator: "op.zhao", Note: "Mr Zhang complained", At: at(3), Coupon: c1})
	refused("a retry of a revocation from before, which finds m1 by the coupon", err, membership.ErrInvalidArgument)
	_, err = pts.Approve(ctx, points.DecideRequest{RequestID: "dec-1", Operator: "op.wang", At: at(6), Adjustment: "adj-2"})
	refused("approving m1's adjustment the erasure rejected", err, membership.ErrInvalidArgument)
	_, err = p.Coupons().Revoke(ctx, coupon.RevokeRequest{RequestID: "rev-3", Operator: "op.zhao", At: at(6), Coupon: c3})
	refused("revoking m1's coupon by its ID", err, membership.ErrInvalidArgument)
	_, err = p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "prof-2", Member: "m1", At: at(6), Attributes: map[string]event.Value{"city": event.Str("Ningbo")}})
	refused("a profile", err, membership.ErrInvalidArgument)
	checkBalances("after the refusals")
	if cs, _ := p.Coupons().Live(ctx, "m1"); len(cs) != 1 || cs[0].ID != c3 {
		t.Errorf("m1's live coupons after a refused revoke: %+v", cs)
	}
	// Other members go on.
	must(p.Process(ctx, order("o3", "m2", "100", 6)))

	// A retry of the erasure is a duplicate; a new erasure is refused.
	out, err = p.Erase(ctx, erase)
	if err != nil || !out.Duplicate {
		t.Errorf("erase retry: %v, duplicate %v", err, out != nil && out.Duplicate)
	}
	again := erase
	again.RequestID, again.At = "erase-2", at(7)
	_, err = p.Erase(ctx, again)
	refused("a second erasure", err, membership.ErrInvalidArgument)
	_, err = p.Erase(ctx, membership.EraseRequest{RequestID: "erase-3", Member: "m2", At: at(7)})
	if !errors.Is(err, membership.ErrInvalidArgument) {
		t.Errorf("erase without an operator: %v", err)
	}

	// The audit trail shows the erasure and the refusals.
	pg, err := p.Audit(ctx, membership.AuditQuery{Member: "m1", From: at(5)})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ action, req, result string }
	var got []row
	for _, e := range pg.Entries {
		got = append(got, row{e.Action, e.Request, e.Result})
	}
	wantRows := []row{
		{"member.erase", "erase-1", membership.AuditAccepted},
		// at(6), in request ID order
		{"points.adjust", "adj-4", membership.AuditRefused},
		{"points.approve", "dec-1", membership.AuditRefused},
		{"tag.set_profile", "prof-2", membership.AuditRefused},
		{"coupon.revoke", "rev-3", membership.AuditRefused},
		{"member.erase", "erase-2", membership.AuditRefused},
	}
	if len(got) != len(wantRows) {
		t.Fatalf("audit of m1 from the erasure: %+v, want %+v", got, wantRows)
	}
	for i := range wantRows {
		if got[i] != wantRows[i] {
			t.Errorf("audit[%d] = %+v, want %+v", i, got[i], wantRows[i])
		}
	}
	if pg.Entries[0].Operator != "op.dpo" {
		t.Errorf("erasure's operator: %q", pg.Entries[0].Operator)
	}

	// The feed carries the erasure, for the systems downstream.
	feed, err := p.Feed(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range feed {
		if c.Kind == membership.ChangeErased && c.Member == "m1" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d %s changes in the feed, want 1", n, membership.ChangeErased)
	}

	// A replay of the journal erases m1 on the target too.
	dst, err := membership.Open(memory.New(), erasableDef(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Replay(ctx, src, nil); err != nil {
		t.Fatal(err)
	}
	if _, erased, err := dst.Erased(ctx, "m1"); err != nil || !erased {
		t.Errorf("replayed: m1 erased %v (%v)", erased, err)
	}
	if prof, _ := dst.Tags().Profile(ctx, "m1"); len(prof.Attributes) != 0 {
		t.Errorf("replayed: profile %v", prof.Attributes)
	}
}

// Neither Erase nor a retention pass removes a coupon or the index of the
// coupons used for an order (coupon.used): they are kept together, so an
// order m1 used a coupon for, m1 erased and the order's records pruned,
// still takes no coupon of another member (coupon.ErrState, from the
// index entry and the coupon it names; a coupon removed without its entry
// would be coupon.ErrNotFound, both removed would let m2's coupon in).
func TestEraseAndRetentionKeepTheCouponsUsedForAnOrder(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{Zone: "Asia/Shanghai", Coupons: &coupon.Definition{Templates: []coupon.Template{
		{Name: "five", Type: coupon.Cash, Amount: decimal.NewFromInt(5), Group: "g", Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.Permanent}}},
	}}}
	day := 24 * time.Hour
	p, err := membership.Open(memory.New(), def, membership.WithRetention(membership.Retention{Window: 30 * day, Feed: 30 * day}))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, p.Location())
	codes := map[string]string{}
	for _, m := range []string{"m1", "m2"} {
		res, err := p.Coupons().Claim(ctx, coupon.ClaimRequest{RequestID: "claim-" + m, Member: m, Template: "five", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		codes[m] = res.Coupons[0].Code
	}
	o := coupon.Order{ID: "o1", Store: "s1", Time: t0.Add(time.Hour), Lines: []coupon.Line{{Product: "tea", Amount: decimal.NewFromInt(50)}}}
	if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r1", Code: codes["m1"], Order: o}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Erase(ctx, membership.EraseRequest{RequestID: "e1", Member: "m1", Operator: "op", At: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Advance(ctx, t0.Add(60*day)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r1", Code: codes["m1"], Order: o}); !errors.Is(err, membership.ErrTooOld) {
		t.Fatalf("a retry of m1's redemption after the retention pass: %v, want ErrTooOld (its record pruned)", err)
	}
	o.Time = t0.Add(60 * day)
	if _, err := p.Coupons().Redeem(ctx, coupon.RedeemRequest{RequestID: "r2", Code: codes["m2"], Order: o}); !errors.Is(err, coupon.ErrState) {
		t.Errorf("m2's coupon for o1, which m1 used a coupon for: %v, want coupon.ErrState", err)
	}
}

// TestErasedMembersDueWorkGoesOn pins Erase's "due work for the member
// goes on: points and coupons still expire and terms still end, so the
// ledger keeps balancing". By hand, on the retail program: m1 registers on
// 1 March 2026 (the newcomer pack: welcome-10 and welcome-fresh, valid 30
// days) and orders 1,500 on 2 March, which reaches Gold (upgrade 1,500):
// 1,500 × 1.2 = 1,800 points and Gold's gift of 200, 2,000 in all valid to
// 24:00 of 31 December 2026, and the gold-gift coupon (60 days); Gold's
// term is 12 months, to 24:00 of 2 March 2027. m1 is erased on 5 March.
// Advance to 1 June expires the three coupons, to 1 January 2027 the 2,000
// points, and to 4 March 2027 ends the term: the window of 12 months
// before it starts on 3 March 2026, after the order, so no growth counts
// and m1 goes down to Silver (downgrade "matching").
func TestErasedMembersDueWorkGoesOn(t *testing.T) {
	ctx := context.Background()
	p, err := membership.Open(memory.New(), retailWith(t, func(map[string]any) {}))
	if err != nil {
		t.Fatal(err)
	}
	loc := p.Location()
	date := func(y, m, d, h int) time.Time { return time.Date(y, time.Month(m), d, h, 0, 0, 0, loc) }
	if _, err := p.Process(ctx, event.Event{ID: "reg", Member: "m1", Type: "register", Time: date(2026, 3, 1, 10)}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process(ctx, event.Event{ID: "o1", Member: "m1", Type: "order", Time: date(2026, 3, 2, 10),
		Attrs: event.Attrs{"amount": event.DecString("1500"), "order_id": event.Str("o1")}}); err != nil {
		t.Fatal(err)
	}
	mall := ledger.MemberAccount("m1", ledger.Points("mall"), "")
	check := func(when string, points string, coupons coupon.State, lvl string, termEnd time.Time) {
		t.Helper()
		if b, err := p.Balance(ctx, mall); err != nil || !b.Equal(decimal.RequireFromString(points)) {
			t.Errorf("%s: points %s (%v), want %s", when, b, err, points)
		}
		cs, err := p.Coupons().List(ctx, "m1")
		if err != nil || len(cs) != 3 {
			t.Fatalf("%s: coupons %+v (%v), want 3", when, cs, err)
		}
		for _, c := range cs {
			if c.State != coupons {
				t.Errorf("%s: coupon %s is %s, want %s", when, c.Template, c.State, coupons)
			}
		}
		st, err := p.Levels().Status(ctx, "m1")
		if err != nil || st.Level != lvl || !st.TermEnd.Equal(termEnd) {
			t.Errorf("%s: level %s to %v (%v), want %s to %v", when, st.Level, st.TermEnd, err, lvl, termEnd)
		}
		if err := p.Verify(ctx); err != nil {
			t.Errorf("%s: Verify: %v", when, err)
		}
	}
	goldEnd := date(2027, 3, 3, 0)
	check("before the erasure", "2000", coupon.Available, "Gold", goldEnd)
	if _, err := p.Erase(ctx, membership.EraseRequest{RequestID: "erase-1", Member: "m1", Operator: "dpo", At: date(2026, 3, 5, 10)}); err != nil {
		t.Fatal(err)
	}
	check("erased", "2000", coupon.Available, "Gold", goldEnd)
	for _, step := range []struct {
		at      time.Time
		points  string
		coupons coupon.State
		lvl     string
		termEnd time.Time
	}{
		{date(2026, 6, 1, 0), "2000", coupon.Expired, "Gold", goldEnd},
		{date(2027, 1, 1, 1), "0", coupon.Expired, "Gold", goldEnd},
		{date(2027, 3, 4, 0), "0", coupon.Expired, "Silver", time.Time{}}, // Silver is permanent
	} {
		if _, err := p.Advance(ctx, step.at); err != nil {
			t.Fatalf("Advance to %v: %v", step.at, err)
		}
		check("advanced to "+step.at.Format(time.DateTime), step.points, step.coupons, step.lvl, step.termEnd)
	}
}
