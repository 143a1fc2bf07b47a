package level_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// SPEC "Levels and growth": "whenever growth increases, the member moves
// to the highest level whose U ≤ growth" — a growth gift is an increase
// too. On LadderDef, an order of 470 crosses Bronze (20) and Silver (100):
// 470. Silver's gift of 30 makes 470 + 30 = 500 = Gold's U, so the member
// moves on to Gold, whose gift of 50 makes 550 (below Platinum's 1000).
// Gold is 12 months after 15 March 2026 10:00: 24:00 of 15 March 2027,
// that is 2027-03-16 00:00. The history shows the two steps. (Gold's
// ChangeGift comes before Silver's in the outcome: each is published
// after the changes of its grant, and Gold's upgrade is one of those of
// Silver's; the test does not pin that order.)
func TestLevelGrowthGiftUpgradesAgain(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), lvlDef(""))
			if err != nil {
				t.Fatal(err)
			}
			out := mustProcess(t, p, lvlOrder("o1", "zoe", "470", "", lvlAt("2026-03-15 10:00")))[0]
			lvlWant(t, p, "zoe", "Gold", "550", "2027-03-16")
			var gifts []string
			for _, c := range out.ChangesOf(level.ChangeGift) {
				var g level.Gift
				if err := c.Decode(&g); err != nil {
					t.Fatal(err)
				}
				gifts = append(gifts, g.Level+" "+g.Reward.Amount.String())
			}
			slices.Sort(gifts)
			if diff := cmp.Diff([]string{"Gold 50", "Silver 30"}, gifts); diff != "" {
				t.Errorf("gifts (-want +got):\n%s", diff)
			}
			want := []string{"join →Entry", "event Entry→Silver", "event Silver→Gold"}
			if diff := cmp.Diff(want, lvlCauses(lvlHistory(t, p, "zoe"))); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			if err := p.Verify(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// SPEC "Levels and growth": amounts are "rounded to the program's growth
// scale (default: whole units, rounded down)". LadderDef sets no scale;
// its order rule is amount × 1: 19.99 → 19 (not 20, which half-up would
// give and which would reach Bronze at 20), then 0.99 → 0 (no growth
// change at all), then 1.5 → 1: 19 + 0 + 1 = 20, Bronze.
func TestLevelGrowthDefaultScaleRoundsDown(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), lvlDef(""))
			if err != nil {
				t.Fatal(err)
			}
			at := lvlAt("2026-03-15 10:00")
			mustProcess(t, p, lvlOrder("o1", "ray", "19.99", "", at))
			lvlWant(t, p, "ray", "Entry", "19", "")
			out := mustProcess(t, p, lvlOrder("o2", "ray", "0.99", "", at.Add(1)))[0]
			if n := len(out.ChangesOf(level.ChangeGrowth)); n != 0 {
				t.Errorf("an order of 0.99 published %d growth changes, want 0", n)
			}
			mustProcess(t, p, lvlOrder("o3", "ray", "1.5", "", at.Add(2)))
			// Bronze: 1 month-end from 15 March → 24:00 of 30 April.
			lvlWant(t, p, "ray", "Bronze", "20", "2026-05-01")
		})
	}
}

// SPEC "Levels and growth": growth caps are "as for points": per member,
// per week in the program's zone, weeks starting on Monday. A weekly cap
// of 20 on orders: sam's 15 on Sunday 15 March 2026 at 23:00 (Shanghai)
// and 15 on Monday 16 March at 00:30 (Sunday 16:30 UTC) fall in two
// weeks: 15 + 15 = 30. Within one week the second is cut: sam's 15 more
// on Tuesday gives 20 − 15 = 5, 35 in all. tom's own 15 on that Tuesday
// is not cut by sam's: the count is per member.
func TestLevelGrowthWeeklyCapPerMemberFromMonday(t *testing.T) {
	def := lvlDef("")
	def.Levels.Growth[2].Caps = rule.Caps{{Period: rule.Week, Limit: d("20")}}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p,
				lvlOrder("o1", "sam", "15", "", lvlAt("2026-03-15 23:00")),
				lvlOrder("o2", "sam", "15", "", lvlAt("2026-03-16 00:30")),
			)
			lvlWant(t, p, "sam", "Bronze", "30", "2026-05-01")
			mustProcess(t, p,
				lvlOrder("o3", "sam", "15", "", lvlAt("2026-03-17 10:00")),
				lvlOrder("o4", "tom", "15", "", lvlAt("2026-03-17 10:00")),
			)
			lvlWant(t, p, "sam", "Bronze", "35", "2026-05-01")
			lvlWant(t, p, "tom", "Entry", "15", "")
		})
	}
}

// SPEC "Levels and growth", long-term freeze: "no deadline, however many
// downgrades follow (the member returns to the highest frozen level)".
// Platinum (unfreeze 300) and Gold (unfreeze 200) both freeze for the long
// term; every level lasts one month after, with a one-month window.
// 1000 on 10 January reaches Platinum, term to 24:00 of 10 February.
// 11 February: nothing in the window → Gold, Platinum frozen; Gold's term
// to 24:00 of 11 March. 12 March: nothing → Silver, Gold frozen too;
// Silver's term to 24:00 of 12 April. An order of 250 on 20 March: 250
// earned since each downgrade, Gold's 200 reached, Platinum's 300 not →
// Gold (new term to 24:00 of 20 April), growth 250. 50 more on 21 March:
// 300 since Platinum's downgrade → Platinum, growth 300, its term to
// 24:00 of 21 April.
func TestLevelLongTermFreezeReturnsToTheHighestReached(t *testing.T) {
	def := lvlFreezeDef(&level.Freeze{Kind: level.LongTerm, Unfreeze: d("200")})
	def.Levels.Ladder[4].Freeze = &level.Freeze{Kind: level.LongTerm, Unfreeze: d("300")}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p, lvlOrder("o1", "una", "1000", "", lvlAt("2026-01-10 09:00")))
			lvlWant(t, p, "una", "Platinum", "1000", "2026-02-11")
			lvlAdvance(t, p, lvlAt("2026-02-11"))
			lvlWant(t, p, "una", "Gold", "0", "2026-03-12")
			lvlAdvance(t, p, lvlAt("2026-03-12"))
			s := lvlWant(t, p, "una", "Silver", "0", "2026-04-13")
			if len(s.Frozen) != 2 {
				t.Fatalf("frozen = %+v, want Platinum and Gold", s.Frozen)
			}
			mustProcess(t, p, lvlOrder("o2", "una", "250", "", lvlAt("2026-03-20 10:00")))
			lvlWant(t, p, "una", "Gold", "250", "2026-04-21")
			mustProcess(t, p, lvlOrder("o3", "una", "50", "", lvlAt("2026-03-21 10:00")))
			s = lvlWant(t, p, "una", "Platinum", "300", "2026-04-22")
			if len(s.Frozen) != 0 {
				t.Errorf("frozen after the return to Platinum = %+v", s.Frozen)
			}
			want := []string{"join →Entry", "event Entry→Platinum", "term_end Platinum→Gold", "term_end Gold→Silver",
				"unfreeze Silver→Gold", "unfreeze Gold→Platinum"}
			if diff := cmp.Diff(want, lvlCauses(lvlHistory(t, p, "una"))); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
		})
	}
}

// SPEC "Levels and growth": the downgrade mode decides the level at a term
// end, and growth is re-based to G; the upgrade rule moves the member up
// "whenever growth increases". level's doc reads the re-base as no such
// increase: re-based growth above the level's threshold waits for the
// member's next growth increase. Two ways to get there, on LadderDef:
//
// Lowest: cat reaches Platinum with 1000 on 10 January 2026 (Silver's
// gift 30, Gold's 50: 1080) and earns 150 on 1 June; Platinum's term
// ends at 24:00 of 10 January 2027 with 150 < 800 in the window: Entry,
// growth 150 — above Silver's 100, still Entry. A check-in on 12 January
// 2027 adds 12: 162 crosses Bronze and Silver (no gift: Silver's is
// once per member, already given), Silver's term one month after: 24:00
// of 12 February 2027.
//
// A window longer than the term: dan's 90 on 5 January 2026 reaches
// Bronze (term to 24:00 of 28 February), 20 on 20 January makes 110:
// Silver, whose gift makes 140; Silver's term ends at 24:00 of 20
// February with nothing in its one-month window: Bronze, growth 0, term
// to 24:00 of 31 March. Then Bronze's 12-month window [1 April 2025,
// 1 April 2026) holds 90 + 20 + 30 = 140 ≥ 10: kept, growth re-based to
// 140, still Bronze (term to 24:00 of 31 May). A check-in on 2 April:
// 152, Silver (no gift again), term to 24:00 of 2 May.
func TestLevelRebaseAboveTheLevelWaitsForTheNextIncrease(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name+"/lowest", func(t *testing.T) {
			p, err := membership.Open(open(), lvlDef(level.Lowest))
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p,
				lvlOrder("o1", "cat", "1000", "", lvlAt("2026-01-10 09:00")),
				lvlOrder("o2", "cat", "150", "", lvlAt("2026-06-01 12:00")),
			)
			lvlWant(t, p, "cat", "Platinum", "1230", "2027-01-11")
			lvlAdvance(t, p, lvlAt("2027-01-11"))
			lvlWant(t, p, "cat", "Entry", "150", "")
			out := mustProcess(t, p, lvlEvent("c1", "cat", "check_in", lvlAt("2027-01-12 08:00"), nil))[0]
			lvlWant(t, p, "cat", "Silver", "162", "2027-02-13")
			if n := len(out.ChangesOf(level.ChangeGift)); n != 0 {
				t.Errorf("the return to Silver granted %d gifts, want 0", n)
			}
		})
		t.Run(name+"/longer window", func(t *testing.T) {
			p, err := membership.Open(open(), lvlDef(level.NextLower))
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p, lvlOrder("o1", "dan", "90", "", lvlAt("2026-01-05 10:00")))
			lvlWant(t, p, "dan", "Bronze", "90", "2026-03-01")
			mustProcess(t, p, lvlOrder("o2", "dan", "20", "", lvlAt("2026-01-20 10:00")))
			lvlWant(t, p, "dan", "Silver", "140", "2026-02-21")
			lvlAdvance(t, p, lvlAt("2026-02-21"))
			lvlWant(t, p, "dan", "Bronze", "0", "2026-04-01")
			lvlAdvance(t, p, lvlAt("2026-04-01"))
			lvlWant(t, p, "dan", "Bronze", "140", "2026-06-01")
			mustProcess(t, p, lvlEvent("c1", "dan", "check_in", lvlAt("2026-04-02 10:00"), nil))
			lvlWant(t, p, "dan", "Silver", "152", "2026-05-03")
			want := []string{"join →Entry", "event Entry→Bronze", "event Bronze→Silver", "term_end Silver→Bronze",
				"term_end Bronze→Bronze", "event Bronze→Silver"}
			if diff := cmp.Diff(want, lvlCauses(lvlHistory(t, p, "dan"))); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
		})
	}
}

// SPEC "Validity" applied to a level's term, through the public API: an
// annual date of 29 February expires at 24:00 of its first occurrence on
// or after the start date, in the program's zone, 28 February in other
// years. Bronze here has that validity (retention 10 over 12 months).
//   - amy reaches Bronze on 10 January 2027 (no 29 February in 2027): 24:00
//     of 28 February 2027, 2027-03-01 00:00 in Shanghai.
//   - bea's order at 20:00 UTC on 28 February 2027 is 04:00 on 1 March in
//     Shanghai: the first 29 February on or after 1 March 2027 is in
//     2028, so 2028-03-01 (a date read in UTC would give 2027-03-01).
//   - amy's term ends with her 30 in the window: kept, and the next term
//     starts at 2027-03-01 00:00: again to 24:00 of 29 February 2028.
func TestLevelAnnualDateTermInTheZone(t *testing.T) {
	def := lvlDef(level.NextLower)
	def.Levels.Ladder[1].Validity = rule.Validity{Kind: rule.AnnualDate, Month: time.February, Day: 29}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p,
				lvlOrder("o1", "amy", "30", "", lvlAt("2027-01-10 10:00")),
				lvlOrder("o2", "bea", "30", "", time.Date(2027, 2, 28, 20, 0, 0, 0, time.UTC)),
			)
			lvlWant(t, p, "amy", "Bronze", "30", "2027-03-01")
			lvlWant(t, p, "bea", "Bronze", "30", "2028-03-01")
			if n := lvlAdvance(t, p, lvlAt("2027-02-28 23:59:59")); n != 0 {
				t.Errorf("Advance before 24:00 performed %d items", n)
			}
			lvlAdvance(t, p, lvlAt("2027-03-01"))
			lvlWant(t, p, "amy", "Bronze", "30", "2028-03-01")
		})
	}
}
