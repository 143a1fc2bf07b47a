package level_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// openEach runs f on a program of def over each store.
func openEach(t *testing.T, def membership.Definition, f func(t *testing.T, p *membership.Program)) {
	t.Helper()
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			f(t, p)
		})
	}
}

// A growth rule's levels are "the member's level at the event"
// (GrowthRule.Levels): a late event, dated before the member's current
// level started, is judged on the level held at its time, as the points
// rules, the tasks' targets and the coupon claims judge it. Before, the
// growth rules alone read the level held when the event was processed.
// One-month terms (lvlFreezeDef, no gifts); check-ins (12, once a day)
// earn at Entry only, the real-name verification (20, once ever) at
// Silver only. kim checks in on 1 March at Entry (12) and reaches Silver
// with an order of 120 on 10 March 09:00 (132; term to 24:00 of 10
// April). A check-in on 11 March, at Silver, earns nothing: 132. A
// check-in dated 5 March, processed now, was made at Entry: 12, 144. A
// verification dated 6 March was made at Entry: nothing, and the total
// cap keeps its 20 for the one of 12 March, at Silver: 164. Before:
// 132, 132 (judged at Silver), 152 (the late verification earned 20),
// 152 (the cap used up).
func TestLevelLateEventGrowthRulesJudgedOnTheLevelHeldThen(t *testing.T) {
	def := lvlFreezeDef(nil)
	def.Levels.Growth[0].Levels = []string{"Entry"}  // check-in
	def.Levels.Growth[1].Levels = []string{"Silver"} // verify
	openEach(t, def, func(t *testing.T, p *membership.Program) {
		mustProcess(t, p,
			lvlEvent("c1", "kim", "check_in", lvlAt("2026-03-01 09:00"), nil),
			lvlOrder("o1", "kim", "120", "", lvlAt("2026-03-10 09:00")),
		)
		lvlWant(t, p, "kim", "Silver", "132", "2026-04-11")
		for _, tc := range []struct {
			ev     event.Event
			growth string
		}{
			{lvlEvent("c2", "kim", "check_in", lvlAt("2026-03-11 09:00"), nil), "132"},
			{lvlEvent("c3", "kim", "check_in", lvlAt("2026-03-05 09:00"), nil), "144"},
			{lvlEvent("v1", "kim", "verify", lvlAt("2026-03-06 09:00"), nil), "144"},
			{lvlEvent("v2", "kim", "verify", lvlAt("2026-03-12 09:00"), nil), "164"},
		} {
			mustProcess(t, p, tc.ev)
			if s := lvlStatus(t, p, "kim"); s.Level != "Silver" || !s.Growth.Equal(d(tc.growth)) {
				t.Errorf("after %s dated %s: %s with %s, want Silver with %s", tc.ev.ID, tc.ev.Time.Format("01-02 15:04"), s.Level, s.Growth, tc.growth)
			}
		}
		want := []string{"join →Entry", "event Entry→Silver"}
		if diff := cmp.Diff(want, lvlCauses(lvlHistory(t, p, "kim"))); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
		if err := p.Verify(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// An upgrade period on the entry level (see TestUpgradePeriodIsAnEntryTerm)
// is always kept, so Forecast asks no growth to keep it, even when a
// refund left its window negative. Before, it said 15 were needed (the
// retention threshold 0 less the window's −15). The entry level's term
// is month ends N = 0, window a month. m joins on 24 November with an
// order of 15 (below Bronze's 20): term to 24:00 of 30 November; kept at
// 1 December with 15 in November, re-based to 15, term to 24:00 of 31
// December. The order is refunded whole on 5 December: growth 0,
// December's window −15. The forecast of 20 December lists m's term end
// of 1 January: window −15, retention 0, 0 needed, still Entry. Advance
// keeps Entry and re-bases to 0 (never below), term to 1 February; the
// record of the term end gives the window as −15.
func TestLevelForecastEntryTermNeedsNothing(t *testing.T) {
	def := lvlDef(level.NextLower)
	def.Levels.Ladder[0].Validity, def.Levels.Ladder[0].Window = rule.Validity{Kind: rule.MonthEnds}, 1
	openEach(t, def, func(t *testing.T, p *membership.Program) {
		ctx := context.Background()
		mustProcess(t, p, lvlOrder("o1", "m", "15", "A", lvlAt("2026-11-24 10:00")))
		lvlWant(t, p, "m", "Entry", "15", "2026-12-01")
		lvlAdvance(t, p, lvlAt("2026-12-01"))
		lvlWant(t, p, "m", "Entry", "15", "2027-01-01")
		mustProcess(t, p, lvlEvent("r1", "m", "return", lvlAt("2026-12-05 10:00"), event.Attrs{"amount": event.Dec(d("15")), "order_id": event.Str("A")}))
		lvlWant(t, p, "m", "Entry", "0", "2027-01-01")
		got, err := p.Levels().Forecast(ctx, lvlAt("2026-12-20"), 20, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Member != "m" || got[0].Level != "Entry" || !got[0].TermEnd.Equal(lvlAt("2027-01-01")) ||
			!got[0].Window.Equal(d("-15")) || !got[0].Retention.IsZero() || !got[0].Needed.IsZero() || got[0].Next != "Entry" {
			t.Errorf("forecast = %+v; want m at Entry to 2027-01-01, window -15, retention 0, needed 0, next Entry", got)
		}
		lvlAdvance(t, p, lvlAt("2027-01-01"))
		s := lvlWant(t, p, "m", "Entry", "0", "2027-02-01")
		if !s.Lifetime.IsZero() {
			t.Errorf("lifetime %s, want 0 (15 earned, 15 refunded)", s.Lifetime)
		}
		h := lvlHistory(t, p, "m")
		if last := h[len(h)-1]; last.Cause != level.CauseTermEnd || last.To != "Entry" || last.Window == nil || !last.Window.Equal(d("-15")) {
			t.Errorf("term end record = %+v, want Entry kept with a window of -15", last)
		}
	})
}

// SPEC "Levels and growth", fixed-duration freeze: "only within D of the
// downgrade; after D the frozen level is released". The deadline is an
// instant: growth reaching the unfreeze threshold a nanosecond before it
// returns the member, growth at it does not (the deadline is performed
// first, as a term end is before an event at its instant), nor does a
// late event dated before it that arrives after Advance performed it.
// One-month terms, Gold frozen for 30 days with a threshold of 200
// (lvlFreezeDef). a, b and c reach Gold with 500 on 10 January; the term
// ends at 24:00 of 10 February with nothing in the window: Silver, growth
// 0, Gold frozen to 24:00 of 12 March (30 days, 11 February the first),
// Silver's term to 24:00 of 11 March. 60 each on 20 February (60 counted)
// keeps Silver at 12 March 00:00 (window [12 February, 12 March) holds
// 60 ≥ 60): growth re-based to 60, term to 24:00 of 12 April. Then 140
// makes 200 counted: a's at 23:59:59.999999999 of 12 March returns her
// to Gold, term one month from then (24:00 of 12 April); b's at 13 March
// 00:00 finds the freeze released: Silver with 200 (Gold needs 500). c's
// is dated like a's but sent after Advance to 13 March released the
// freeze: Silver with 200, as package doc's late events say for the
// freeze (a freeze counts what its own time saw).
func TestLevelFixedFreezeDeadlineInstant(t *testing.T) {
	def := lvlFreezeDef(&level.Freeze{Kind: level.FixedDuration, Duration: rule.Validity{Kind: rule.DaysAfter, N: 30}, Unfreeze: d("200")})
	openEach(t, def, func(t *testing.T, p *membership.Program) {
		members := []string{"a", "b", "c"}
		for _, m := range members {
			mustProcess(t, p, lvlOrder("o1"+m, m, "500", "", lvlAt("2026-01-10 09:00")))
		}
		lvlAdvance(t, p, lvlAt("2026-02-11"))
		for _, m := range members {
			mustProcess(t, p, lvlOrder("o2"+m, m, "60", "", lvlAt("2026-02-20 09:00")))
		}
		if n := lvlAdvance(t, p, lvlAt("2026-03-12")); n != 3 {
			t.Fatalf("Advance to 12 March performed %d items, want the 3 Silver term ends", n)
		}
		deadline := lvlAt("2026-03-13")
		for _, m := range members {
			s := lvlWant(t, p, m, "Silver", "60", "2026-04-13")
			if len(s.Frozen) != 1 || !s.Frozen[0].Deadline.Equal(deadline) || !s.Frozen[0].Earned.Equal(d("60")) {
				t.Fatalf("%s: frozen = %+v, want Gold to 13 March with 60 counted", m, s.Frozen)
			}
		}
		if n := lvlAdvance(t, p, deadline.Add(-1)); n != 0 {
			t.Errorf("Advance to a nanosecond before the deadline performed %d items", n)
		}
		mustProcess(t, p, lvlOrder("o3a", "a", "140", "", deadline.Add(-1)))
		if s := lvlWant(t, p, "a", "Gold", "200", "2026-04-13"); len(s.Frozen) != 0 {
			t.Errorf("a: frozen after the return = %+v", s.Frozen)
		}
		mustProcess(t, p, lvlOrder("o3b", "b", "140", "", deadline))
		if s := lvlWant(t, p, "b", "Silver", "200", "2026-04-13"); len(s.Frozen) != 0 {
			t.Errorf("b: frozen at the deadline = %+v", s.Frozen)
		}
		// a's freeze ended with her return, b's with his event: c's alone.
		if n := lvlAdvance(t, p, deadline); n != 1 {
			t.Errorf("Advance to the deadline performed %d items, want c's release", n)
		}
		mustProcess(t, p, lvlOrder("o3c", "c", "140", "", deadline.Add(-1)))
		if s := lvlWant(t, p, "c", "Silver", "200", "2026-04-13"); len(s.Frozen) != 0 {
			t.Errorf("c: frozen = %+v", s.Frozen)
		}
		wantA := []string{"join →Entry", "event Entry→Gold", "term_end Gold→Silver", "term_end Silver→Silver", "unfreeze Silver→Gold"}
		if diff := cmp.Diff(wantA, lvlCauses(lvlHistory(t, p, "a"))); diff != "" {
			t.Errorf("a's history (-want +got):\n%s", diff)
		}
		for _, m := range []string{"b", "c"} {
			if diff := cmp.Diff(wantA[:4], lvlCauses(lvlHistory(t, p, m))); diff != "" {
				t.Errorf("%s's history (-want +got):\n%s", m, diff)
			}
		}
	})
}

// SPEC "Levels and growth", retention: G is the net growth of
// [T − W months, T), compared with R as "G ≥ R". A window reaching back
// before the member joined counts what there is; a refund inside it
// counts for what it took; G exactly R keeps the level. Bronze (LadderDef:
// U 20, R 10, one month end, a 12-month window). amy and bob join on 5
// January 2026 with an order of 30 (Bronze, term to 24:00 of 28
// February); the window of that term end is [1 March 2025, 1 March 2026),
// ten months of it before they joined. amy returns 20 of it on 10
// February (30 × 20 ÷ 30 = 20 taken): G = 30 − 20 = 10 = R, kept, growth
// re-based to 10, term to 24:00 of 30 April. bob returns 21: G = 9 < 10,
// down to the next lower level, Entry (permanent: no term end), growth 9.
// Lifetime growth is what each has net: 10 and 9.
func TestLevelRetentionWindowBeforeJoinWithRefund(t *testing.T) {
	openEach(t, lvlDef(level.NextLower), func(t *testing.T, p *membership.Program) {
		for _, tc := range []struct{ member, refund, growth string }{{"amy", "20", "10"}, {"bob", "21", "9"}} {
			mustProcess(t, p,
				lvlOrder("o-"+tc.member, tc.member, "30", "A", lvlAt("2026-01-05 10:00")),
				lvlEvent("r-"+tc.member, tc.member, "return", lvlAt("2026-02-10 10:00"), event.Attrs{"amount": event.Dec(d(tc.refund)), "order_id": event.Str("A")}),
			)
			// A decrease never downgrades before the term ends.
			lvlWant(t, p, tc.member, "Bronze", tc.growth, "2026-03-01")
		}
		lvlAdvance(t, p, lvlAt("2026-03-01"))
		for _, tc := range []struct {
			member, level, growth, termEnd string
		}{
			{"amy", "Bronze", "10", "2026-05-01"},
			{"bob", "Entry", "9", ""},
		} {
			s := lvlWant(t, p, tc.member, tc.level, tc.growth, tc.termEnd)
			if !s.Lifetime.Equal(d(tc.growth)) || !s.Since.Equal(lvlAt("2026-03-01")) {
				t.Errorf("%s: lifetime %s, since %v; want %s, 2026-03-01", tc.member, s.Lifetime, s.Since.In(zone), tc.growth)
			}
			h := lvlHistory(t, p, tc.member)
			if last := h[len(h)-1]; last.Cause != level.CauseTermEnd || last.From != "Bronze" || last.To != tc.level || last.Window == nil || !last.Window.Equal(d(tc.growth)) {
				t.Errorf("%s: term end record = %+v, want Bronze→%s with a window of %s", tc.member, last, tc.level, tc.growth)
			}
		}
	})
}

// The package doc's choice for a late event: it earns its growth, and
// the upgrade it brings takes effect when the current level started. A
// late event dated inside the window of a term end Advance has already
// performed does not reopen that retention; here it ends in the same
// state as in time order. One-month terms and windows (lvlFreezeDef:
// Silver U 100, R 60). kim and ann reach Silver with 100 on 10 January
// (term to 24:00 of 10 February) and earn 50 on 20 January. ann's 60
// dated 1 February is processed in time: G = 110 ≥ 60 at 11 February,
// Silver kept, growth 110, term to 24:00 of 11 March. kim's is processed
// after Advance: G = 50 < 60, Bronze, growth 50; then the late 60 makes
// 110 ≥ 100: Silver again, from Bronze's start (11 February 00:00), not
// from 1 February: term to 24:00 of 11 March as ann's, growth 110. Only
// the history differs.
func TestLevelLateEventBeforeThePerformedTermEnd(t *testing.T) {
	openEach(t, lvlFreezeDef(nil), func(t *testing.T, p *membership.Program) {
		for _, m := range []string{"kim", "ann"} {
			mustProcess(t, p,
				lvlOrder("o1"+m, m, "100", "", lvlAt("2026-01-10 09:00")),
				lvlOrder("o2"+m, m, "50", "", lvlAt("2026-01-20 09:00")),
			)
		}
		mustProcess(t, p, lvlOrder("o3ann", "ann", "60", "", lvlAt("2026-02-01 09:00")))
		lvlAdvance(t, p, lvlAt("2026-02-11"))
		lvlWant(t, p, "kim", "Bronze", "50", "2026-03-12")
		mustProcess(t, p, lvlOrder("o3kim", "kim", "60", "", lvlAt("2026-02-01 09:00")))
		for _, m := range []string{"kim", "ann"} {
			if s := lvlWant(t, p, m, "Silver", "110", "2026-03-12"); !s.Since.Equal(lvlAt("2026-02-11")) || !s.Lifetime.Equal(d("210")) {
				t.Errorf("%s: since %v, lifetime %s; want 2026-02-11, 210", m, s.Since.In(zone), s.Lifetime)
			}
		}
		want := map[string][]string{
			"ann": {"join →Entry", "event Entry→Silver", "term_end Silver→Silver"},
			"kim": {"join →Entry", "event Entry→Silver", "term_end Silver→Bronze", "event Bronze→Silver"},
		}
		for m, w := range want {
			h := lvlHistory(t, p, m)
			if diff := cmp.Diff(w, lvlCauses(h)); diff != "" {
				t.Errorf("%s's history (-want +got):\n%s", m, diff)
			}
			if last := h[len(h)-1]; !last.Time.Equal(lvlAt("2026-02-11")) {
				t.Errorf("%s: last record at %v, want 2026-02-11 00:00", m, last.Time.In(zone))
			}
		}
	})
}

// SPEC "Levels and growth": an upgrade moves to "the highest level whose
// U ≤ growth"; a freeze returns the member to the frozen level. When
// growth since the downgrade reaches the frozen level's unfreeze
// threshold and the growth itself a level above it, the member goes to
// the higher level, as an upgrade (cause event), and the freeze ends
// (not a return). hal reaches Gold with 500 on 10 January (lvlFreezeDef,
// long-term freeze, threshold 200); 11 February: nothing in the window,
// Silver, growth 0, Gold frozen. An order of 1000 on 20 February: 1000
// reaches Platinum (U 1000) and counts 1000 ≥ 200 for Gold: Platinum,
// term one month after: 24:00 of 20 March.
func TestLevelUnfreezeBelowTheLevelReached(t *testing.T) {
	openEach(t, lvlFreezeDef(&level.Freeze{Kind: level.LongTerm, Unfreeze: d("200")}), func(t *testing.T, p *membership.Program) {
		mustProcess(t, p, lvlOrder("o1", "hal", "500", "", lvlAt("2026-01-10 09:00")))
		lvlAdvance(t, p, lvlAt("2026-02-11"))
		lvlWant(t, p, "hal", "Silver", "0", "2026-03-12")
		out := mustProcess(t, p, lvlOrder("o2", "hal", "1000", "", lvlAt("2026-02-20 10:00")))[0]
		if s := lvlWant(t, p, "hal", "Platinum", "1000", "2026-03-21"); len(s.Frozen) != 0 {
			t.Errorf("frozen = %+v", s.Frozen)
		}
		var fc level.FreezeChange
		if cs := out.ChangesOf(level.ChangeUnfrozen); len(cs) != 1 || cs[0].Decode(&fc) != nil || fc.Level != "Gold" || fc.Returned {
			t.Errorf("unfrozen = %+v (%+v), want Gold's freeze ended, not a return", cs, fc)
		}
		want := []string{"join →Entry", "event Entry→Gold", "term_end Gold→Silver", "event Silver→Platinum"}
		if diff := cmp.Diff(want, lvlCauses(lvlHistory(t, p, "hal"))); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	})
}

// SPEC "Levels and growth", matching mode: "the highest level whose U ≤
// G", at the threshold itself; and the upgrade gifts after a term end's
// downgrade: once per member per level unless the level grants them on
// every upgrade. LadderDef under the matching mode: Silver's gift is 30
// once, Gold's 50 every time. cat and dan reach Platinum with 1000 on 10
// January 2026, crossing Bronze, Silver and Gold (1000 + 30 + 50 = 1080;
// term 12 months after: 24:00 of 10 January 2027), then earn 100 and 99
// on 1 June. Platinum's window [11 January 2026, 11 January 2027) holds
// 100 and 99 (the 10 January growth is before it), below 800: cat goes to
// Silver (U 100 ≤ 100), term to 24:00 of 11 February 2027; dan to Bronze
// (20 ≤ 99 < 100), one month end: 24:00 of 28 February 2027. On 20
// January 2027, cat's 400 makes 500: Gold again, its gift again (550),
// term to 24:00 of 20 January 2028; dan's 1 makes 100: Silver again, no
// gift (had it), term to 24:00 of 20 February 2027.
func TestLevelMatchingAtAThresholdThenGiftsAgain(t *testing.T) {
	openEach(t, lvlDef(level.Matching), func(t *testing.T, p *membership.Program) {
		for _, tc := range []struct{ member, amount, growth string }{{"cat", "100", "1180"}, {"dan", "99", "1179"}} {
			mustProcess(t, p,
				lvlOrder("o1"+tc.member, tc.member, "1000", "", lvlAt("2026-01-10 09:00")),
				lvlOrder("o2"+tc.member, tc.member, tc.amount, "", lvlAt("2026-06-01 12:00")),
			)
			lvlWant(t, p, tc.member, "Platinum", tc.growth, "2027-01-11")
		}
		lvlAdvance(t, p, lvlAt("2027-01-11"))
		lvlWant(t, p, "cat", "Silver", "100", "2027-02-12")
		lvlWant(t, p, "dan", "Bronze", "99", "2027-03-01")
		for _, tc := range []struct {
			member, amount, level, growth, termEnd string
			gifts                                  []string
		}{
			{"cat", "400", "Gold", "550", "2028-01-21", []string{"Gold"}},
			{"dan", "1", "Silver", "100", "2027-02-21", nil},
		} {
			out := mustProcess(t, p, lvlOrder("o3"+tc.member, tc.member, tc.amount, "", lvlAt("2027-01-20 10:00")))[0]
			e, err := level.EffectsOf(out)
			if err != nil {
				t.Fatal(err)
			}
			var gifts []string
			for _, g := range e.Gifts {
				gifts = append(gifts, g.Level)
			}
			if diff := cmp.Diff(tc.gifts, gifts); diff != "" {
				t.Errorf("%s: gifts (-want +got):\n%s", tc.member, diff)
			}
			lvlWant(t, p, tc.member, tc.level, tc.growth, tc.termEnd)
		}
		if err := p.Verify(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// SPEC "Levels and growth": "permanent levels have no end"; package doc:
// a version may change a level's validity, and its new rules apply from
// the member's next event or term end. A term end due for a level that a
// version has since made permanent ends nothing: the member keeps the
// level with no term end, growth is not re-based, and Forecast does not
// list it. Before, retention ran at it over a window of a month (the
// level has none): Gold was lost for nothing earned in that month, and
// the entry level's growth was re-based.
//
// Version 1 (lvlFreezeDef: one-month terms and windows) gives the entry
// level a term of one month end and a window of a month (an upgrade
// period). bob joins with an order of 15 on 10 December 2025 (Entry,
// term to 24:00 of 31 January); ann reaches Gold with 500 on 10 January
// 2026 (term to 24:00 of 10 February). Version 2 makes Entry and Gold
// permanent. The forecast of 25 January for 20 days lists neither (under
// version 1 it would: bob's January window 0, ann's 0 of Gold's 300).
// Advance to 11 February: ann Gold, 500; bob Entry, 15 (not re-based to
// January's 0), both with no term end and no new history record. bob's
// check-in on 12 February makes 27 ≥ 20: Bronze, one month after: 24:00
// of 12 March.
func TestLevelTermEndOfALevelMadePermanent(t *testing.T) {
	v1 := lvlFreezeDef(nil)
	v1.Version = 1
	v1.Levels.Ladder[0].Validity, v1.Levels.Ladder[0].Window = rule.Validity{Kind: rule.MonthEnds, N: 1}, 1
	v2 := lvlFreezeDef(nil)
	v2.Version = 2
	v2.Levels.Ladder[3].Validity, v2.Levels.Ladder[3].Window = rule.Validity{Kind: rule.Permanent}, 0
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
				lvlOrder("o2", "ann", "500", "", lvlAt("2026-01-10 09:00")),
			)
			lvlWant(t, p, "bob", "Entry", "15", "2026-02-01")
			lvlWant(t, p, "ann", "Gold", "500", "2026-02-11")
			if p, err = membership.Open(st, v2); err != nil {
				t.Fatal(err)
			}
			fs, err := p.Levels().Forecast(ctx, lvlAt("2026-01-25"), 20, 0)
			if err != nil || len(fs) != 0 {
				t.Errorf("forecast = %+v, %v; want none", fs, err)
			}
			lvlAdvance(t, p, lvlAt("2026-02-11"))
			lvlWant(t, p, "ann", "Gold", "500", "")
			lvlWant(t, p, "bob", "Entry", "15", "")
			if diff := cmp.Diff([]string{"join →Entry", "event Entry→Gold"}, lvlCauses(lvlHistory(t, p, "ann"))); diff != "" {
				t.Errorf("ann's history (-want +got):\n%s", diff)
			}
			mustProcess(t, p, lvlEvent("c1", "bob", "check_in", lvlAt("2026-02-12 10:00"), nil))
			lvlWant(t, p, "bob", "Bronze", "27", "2026-03-13")
			if diff := cmp.Diff([]string{"join →Entry", "event Entry→Bronze"}, lvlCauses(lvlHistory(t, p, "bob"))); diff != "" {
				t.Errorf("bob's history (-want +got):\n%s", diff)
			}
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
