package level_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
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
	date := func(s string) rule.Date {
		v, err := rule.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	day := func(s, growth string) migrate.GrowthDay { return migrate.GrowthDay{Day: date(s), Growth: d(growth)} }
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

	// The days read back as given, oldest first; a day of zero is none.
	for m, want := range map[string][]level.GrowthDay{
		"inside": {{Day: date("2025-01-10"), Growth: d("680")}, {Day: date("2025-06-15"), Growth: d("310")}},
		"net":    {{Day: date("2025-05-01"), Growth: d("350")}, {Day: date("2025-05-02"), Growth: d("-60")}},
		"none":   nil,
		"old":    {{Day: date("2025-12-01"), Growth: d("780")}},
	} {
		got, err := p.Levels().GrowthDays(ctx, m, date("2025-01-06"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("growth days of %s from 2025-01-06 (-want +got):\n%s", m, diff)
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

// GrowthDays refuses what it cannot read, and answers ErrNotDefined
// without levels.
func TestLevelGrowthDaysArguments(t *testing.T) {
	ctx := context.Background()
	p, err := membership.Open(memory.New(), lvlDef(level.NextLower))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		member string
		from   rule.Date
	}{
		"no member": {"", rule.Date{Year: 2025, Month: 1, Day: 1}},
		"zero from": {"m1", rule.Date{}},
		"bad from":  {"m1", rule.Date{Year: 2025, Month: 2, Day: 30}},
	} {
		if _, err := p.Levels().GrowthDays(ctx, c.member, c.from); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("%s: %v, want event.ErrInvalidArgument", name, err)
		}
	}
	if days, err := p.Levels().GrowthDays(ctx, "unknown", rule.Date{Year: 2025, Month: 1, Day: 1}); err != nil || days != nil {
		t.Errorf("a member never seen: %v, %v; want no day", days, err)
	}
	q, err := membership.Open(memory.New(), valueDef())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Levels().GrowthDays(ctx, "m1", rule.Date{Year: 2025, Month: 1, Day: 1}); !errors.Is(err, level.ErrNotDefined) {
		t.Errorf("without levels: %v, want ErrNotDefined", err)
	}
}

// FirstWindowDay is the start of the ladder's longest window (Gold's 12
// months here) ending at the day of at in the zone; a month's last day
// where the day does not exist; at's day without a ladder.
func TestFirstWindowDay(t *testing.T) {
	ladder := lvlDef(level.NextLower).Levels
	short := level.Definition{Ladder: []level.Level{{Name: "Entry"}, {Name: "Silver", Window: 1}}}
	for _, c := range []struct {
		def  *level.Definition
		at   time.Time
		want rule.Date
	}{
		{ladder, lvlAt("2025-12-01 12:00"), rule.Date{Year: 2024, Month: 12, Day: 1}},
		{ladder, time.Date(2025, 11, 30, 20, 0, 0, 0, time.UTC), rule.Date{Year: 2024, Month: 12, Day: 1}}, // 04:00 on 1 December in Shanghai
		{&short, lvlAt("2025-03-31 09:00"), rule.Date{Year: 2025, Month: 2, Day: 28}},
		{&level.Definition{}, lvlAt("2025-03-31 09:00"), rule.Date{Year: 2025, Month: 3, Day: 31}},
	} {
		if got := c.def.FirstWindowDay(c.at, zone); got != c.want {
			t.Errorf("FirstWindowDay(%s) = %s, want %s", c.at, got, c.want)
		}
	}
}

// Status.Gifted lists the levels whose gifts a member had, in ladder
// order: an opening's GiftedLevels exactly (given in any order), or
// without them the levels up to the member's that have gifts (Silver and
// Gold; Bronze and Platinum have none). A level the ladder no longer has
// is left out.
func TestStatusGifted(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	def := lvlDef(level.NextLower)
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []migrate.Member{
		{Member: "given", Growth: d("100"), GiftedLevels: []string{"Platinum", "Gold", "Silver"}},
		{Member: "none", Level: "Platinum", Growth: d("100"), GiftedLevels: []string{}},
		{Member: "older", Level: "Platinum", Growth: d("100")},
	} {
		m.RequestID, m.Operator, m.At = "open-"+m.Member, "op", lvlAt("2025-12-01")
		if _, err := p.OpenMember(ctx, m); err != nil {
			t.Fatalf("%s: %v", m.Member, err)
		}
	}
	want := map[string][]string{"given": {"Silver", "Gold", "Platinum"}, "none": nil, "older": {"Silver", "Gold"}}
	for m, w := range want {
		if d := cmp.Diff(w, lvlStatus(t, p, m).Gifted); d != "" {
			t.Errorf("%s: gifted (-want +got):\n%s", m, d)
		}
	}

	// A version without Platinum (given holds Silver; the others move to
	// Gold first).
	for _, m := range []string{"none", "older"} {
		if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "set-" + m, Member: m, Operator: "op", Note: "before v2",
			At: lvlAt("2025-12-02"), Level: "Gold"}); err != nil {
			t.Fatal(err)
		}
	}
	def.Version = 2
	def.Levels.Ladder = def.Levels.Ladder[:4]
	if p, err = membership.Open(st, def); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"Silver", "Gold"}, lvlStatus(t, p, "given").Gifted); d != "" {
		t.Errorf("given, under a ladder without Platinum: gifted (-want +got):\n%s", d)
	}
}
