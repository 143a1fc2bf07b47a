package level_test

import (
	"testing"

	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// TestUpgradePeriodIsAnEntryTerm: the source article asks that an upgrade
// count growth of a fixed period (升级也需要设定固定周期内), not of all time.
// A term on the entry level does it: the entry level is always kept, and
// its term end re-bases growth to the window's. Bronze needs 20 and a
// check-in gives 12. Joined with a check-in on 24 November, a member of
// a permanent entry level reaches Bronze with a second check-in on 2
// January (24); with an entry term of month ends N = 0 and a window of a
// month, the term end of 1 December re-bases to November's 12, that of 1
// January to December's 0, and the second check-in leaves 12, at Entry.
func TestUpgradePeriodIsAnEntryTerm(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		entry                  rule.Validity
		window                 int
		level, growth, termEnd string
	}{
		{"permanent entry", rule.Validity{Kind: rule.Permanent}, 0, "Bronze", "24", "2027-03-01"},
		{"entry term of a month", rule.Validity{Kind: rule.MonthEnds}, 1, "Entry", "12", "2027-02-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := lvlDef(level.NextLower)
			def.Levels.Ladder[0].Validity, def.Levels.Ladder[0].Window = tc.entry, tc.window
			p := testkit.OpenMemory(t, def)
			mustProcess(t, p, lvlEvent("c1", "m", "check_in", lvlAt("2026-11-24 10:00"), nil))
			lvlAdvance(t, p, lvlAt("2027-01-02"))
			mustProcess(t, p, lvlEvent("c2", "m", "check_in", lvlAt("2027-01-02 10:00"), nil))
			s := lvlWant(t, p, "m", tc.level, tc.growth, tc.termEnd)
			if !s.Lifetime.Equal(d("24")) {
				t.Errorf("lifetime growth %s, want 24", s.Lifetime)
			}
		})
	}
}
