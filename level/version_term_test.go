package level_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// A version that gives a permanent level a validity: "members keep their
// level, and its new rules apply from their next event or term end"
// (package doc, A new version of the definition). A member of a level
// reached while it was permanent has no term end, so the new validity
// applies from their next event: a term starts at that event's time.
//
// Version 1: lvlFreezeDef (no gifts, one-month terms and windows) with
// Gold permanent; Entry is permanent in both versions of lvlDef. Version
// 2 gives Gold back its one-month term (months-after 1, window 1,
// retention 300) and Entry an upgrade period (month-ends 1, window 1).
//
//   - ann reaches Gold with an order of 500 on 10 January 09:00 (version
//     1: no term end). Under version 2 she keeps Gold with no term end
//     until her check-in on 5 March 10:00 (+12: 512), which starts her
//     term there: months-after 1 ends it at 24:00 of 5 April, 6 April
//     00:00. Its window [6 March, 6 April) holds nothing (the check-in
//     is before it): 0 < 300, Gold → Silver, growth re-based to 0, and
//     Silver's term from 6 April ends at 24:00 of 6 May (7 May 00:00).
//   - bob has 15 at Entry (order of 15 on 10 December 2025, version 1).
//     His order of 1 on 5 March (16, below Bronze's 20) starts an Entry
//     term: month-ends 1 ends it at 24:00 of 30 April, 1 May 00:00; its
//     window [1 April, 1 May) holds nothing: Entry kept, growth re-based
//     to 0, the next term to 24:00 of 30 June (1 July 00:00).
//   - carol reaches Gold with 600 on 20 January and has no event under
//     version 2: Advance to 1 June leaves her Gold with no term end.
//   - dan checks in on 10 February (12) and reaches Gold with an order of
//     500 on 20 February (512). A late check-in dated 15 February, made at
//     Entry (+12: 524), is processed under version 2: dated before his
//     Gold started, it starts no term (a term starting then would end
//     before Gold did). His order of 1 on 10 March 10:00 (525) starts it:
//     24:00 of 10 April, 11 April 00:00. Like ann's, its window [11
//     March, 11 April) starts the day after the event that started the
//     term: 0 < 300, Silver at 0 with a term to 24:00 of 11 May (12 May
//     00:00).
//
// Before, version 2 left all four with no term end for good (ann Gold 512,
// bob Entry 16 after the Advances): their next event started no term,
// and only a level change did.
func TestLevelVersionGivesAPermanentLevelATerm(t *testing.T) {
	v1 := lvlFreezeDef(nil)
	v1.Version = 1
	v1.Levels.Ladder[3].Validity, v1.Levels.Ladder[3].Window = rule.Validity{Kind: rule.Permanent}, 0
	v2 := lvlFreezeDef(nil)
	v2.Version = 2
	v2.Levels.Ladder[0].Validity, v2.Levels.Ladder[0].Window = rule.Validity{Kind: rule.MonthEnds, N: 1}, 1
	ctx := context.Background()
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			p, err := membership.Open(st, v1)
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p,
				lvlOrder("o1", "bob", "15", "", lvlAt("2025-12-10 10:00")),
				lvlEvent("c1", "dan", "check_in", lvlAt("2026-02-10 10:00"), nil),
				lvlOrder("o2", "ann", "500", "", lvlAt("2026-01-10 09:00")),
				lvlOrder("o3", "carol", "600", "", lvlAt("2026-01-20 09:00")),
				lvlOrder("o4", "dan", "500", "", lvlAt("2026-02-20 09:00")),
			)
			lvlWant(t, p, "ann", "Gold", "500", "")
			lvlWant(t, p, "dan", "Gold", "512", "")
			if p, err = membership.Open(st, v2); err != nil {
				t.Fatal(err)
			}
			// No event yet: the terms stay open, and nothing is due.
			lvlWant(t, p, "bob", "Entry", "15", "")
			if n := lvlAdvance(t, p, lvlAt("2026-03-01")); n != 0 {
				t.Errorf("Advance performed %d items; want none", n)
			}
			mustProcess(t, p,
				lvlEvent("c2", "ann", "check_in", lvlAt("2026-03-05 10:00"), nil),
				lvlOrder("o5", "bob", "1", "", lvlAt("2026-03-05 11:00")),
				lvlEvent("c3", "dan", "check_in", lvlAt("2026-02-15 10:00"), nil),
			)
			s := lvlWant(t, p, "ann", "Gold", "512", "2026-04-06")
			if !s.Since.Equal(lvlAt("2026-03-05 10:00")) {
				t.Errorf("ann's term starts %v; want 5 March 10:00", s.Since)
			}
			lvlWant(t, p, "bob", "Entry", "16", "2026-05-01")
			lvlWant(t, p, "dan", "Gold", "524", "")
			mustProcess(t, p, lvlOrder("o6", "dan", "1", "", lvlAt("2026-03-10 10:00")))
			lvlWant(t, p, "dan", "Gold", "525", "2026-04-11")

			fs, err := p.Levels().Forecast(ctx, lvlAt("2026-04-01"), 11, 0) // [1 April, 12 April)
			if err != nil {
				t.Fatal(err)
			}
			want := []level.ForecastItem{
				{Member: "ann", Level: "Gold", TermEnd: lvlAt("2026-04-06"), Window: d("0"), Retention: d("300"), Needed: d("300"), Next: "Silver"},
				{Member: "dan", Level: "Gold", TermEnd: lvlAt("2026-04-11"), Window: d("0"), Retention: d("300"), Needed: d("300"), Next: "Silver"},
			}
			if diff := cmp.Diff(want, fs, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("forecast (-want +got):\n%s", diff)
			}

			lvlAdvance(t, p, lvlAt("2026-04-06"))
			lvlWant(t, p, "ann", "Silver", "0", "2026-05-07")
			if diff := cmp.Diff([]string{"join →Entry", "event Entry→Gold", "term_end Gold→Silver"}, lvlCauses(lvlHistory(t, p, "ann"))); diff != "" {
				t.Errorf("ann's history (-want +got):\n%s", diff)
			}
			lvlAdvance(t, p, lvlAt("2026-05-01"))
			lvlWant(t, p, "bob", "Entry", "0", "2026-07-01")
			lvlWant(t, p, "dan", "Silver", "0", "2026-05-12")
			lvlAdvance(t, p, lvlAt("2026-06-01"))
			lvlWant(t, p, "carol", "Gold", "600", "")
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
