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
