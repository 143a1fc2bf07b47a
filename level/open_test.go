package level_test

import (
	"context"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
)

// TestLevelOpeningGrowthDays opens Gold members (retention 300 over 12
// months) whose term ends at 2026-01-11 00:00, so that the window is
// [2025-01-11, 2026-01-11), on 2025-12-01 with and without the days
// their growth was earned on, and performs the term end.
func TestLevelOpeningGrowthDays(t *testing.T) {
	ctx := context.Background()
	p, err := membership.Open(memory.New(), lvlDef(level.NextLower))
	if err != nil {
		t.Fatal(err)
	}
	day := func(s, growth string) migrate.GrowthDay {
		v, err := rule.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return migrate.GrowthDay{Day: v, Growth: d(growth)}
	}
	for _, m := range []migrate.Member{
		// 680 before the window, 310 in it: kept, re-based to 310.
		{Member: "inside", Growth: d("990"), GrowthDays: []migrate.GrowthDay{day("2025-06-15", "310"), day("2025-01-10", "680")}},
		// 680 before the window, 100 in it: down to Silver, re-based to 100.
		{Member: "outside", Growth: d("780"), GrowthDays: []migrate.GrowthDay{day("2025-01-10", "680"), day("2025-06-15", "100")}},
		// 400 before the window, 350 − 60 = 290 in it: down to Silver.
		{Member: "net", Growth: d("690"), GrowthDays: []migrate.GrowthDay{day("2025-01-05", "400"), day("2025-05-01", "350"), day("2025-05-02", "-60")}},
		// A day of zero: none of the 300 is in the window: Silver, 0.
		{Member: "none", Growth: d("300"), GrowthDays: []migrate.GrowthDay{day("2025-12-01", "0")}},
		// No days (a file from before them): all 780 counts as earned on
		// the row's day, in the window: kept, 780.
		{Member: "old", Growth: d("780")},
	} {
		m.RequestID, m.Operator, m.At = "open-"+m.Member, "op", lvlAt("2025-12-01")
		m.Level, m.TermEnd = "Gold", lvlAt("2026-01-11")
		if _, err := p.OpenMember(ctx, m); err != nil {
			t.Fatalf("%s: %v", m.Member, err)
		}
	}
	// Before the term end, the forecast reads the same windows.
	fc, err := p.Levels().Forecast(ctx, lvlAt("2026-01-10"), 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	window := map[string]string{}
	for _, it := range fc {
		window[it.Member] = it.Window.String()
	}
	want := map[string]string{"inside": "310", "outside": "100", "net": "290", "none": "0", "old": "780"}
	for m, w := range want {
		if window[m] != w {
			t.Errorf("forecast window of %s: %q, want %s", m, window[m], w)
		}
	}

	lvlAdvance(t, p, lvlAt("2026-01-12"))
	// Gold kept from 2026-01-11: 12 months, to 24:00 of 2027-01-11;
	// Silver from then: a month, to 24:00 of 2026-02-11.
	lvlWant(t, p, "inside", "Gold", "310", "2027-01-12")
	lvlWant(t, p, "outside", "Silver", "100", "2026-02-12")
	lvlWant(t, p, "net", "Silver", "290", "2026-02-12")
	lvlWant(t, p, "none", "Silver", "0", "2026-02-12")
	lvlWant(t, p, "old", "Gold", "780", "2027-01-12")
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
