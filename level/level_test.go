package level_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

func shanghai(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func wall(t testing.TB, s string) time.Time {
	t.Helper()
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", time.DateOnly} {
		if v, err := time.ParseInLocation(layout, s, shanghai(t)); err == nil {
			return v
		}
	}
	t.Fatalf("bad wall time %q", s)
	return time.Time{}
}

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var monthEnd1 = rule.Validity{Kind: rule.MonthEnds, N: 1}

// ladder is the test ladder: Entry 0, Bronze 20 (the article's example),
// Silver 100, Gold 500, Platinum 1000.
func ladder(mode level.DowngradeMode) level.Definition {
	lv := func(name, up, ret string) level.Level {
		return level.Level{Name: name, Upgrade: d(up), Retention: d(ret), Validity: rule.Validity{Kind: rule.MonthsAfter, N: 12}, Window: 12, Downgrade: mode}
	}
	def := level.Definition{Ladder: []level.Level{
		{Name: "Entry", Upgrade: decimal.Zero, Validity: rule.Validity{Kind: rule.Permanent}},
		lv("Bronze", "20", "10"), lv("Silver", "100", "60"), lv("Gold", "500", "300"), lv("Platinum", "1000", "800"),
	}}
	return def
}

func TestLevelUpgrade(t *testing.T) {
	def := ladder("")
	tests := []struct {
		name   string
		cur    int
		growth string
		want   []int
	}{
		{"19 stays at entry", 0, "19", nil},
		{"20 growth reaches Bronze", 0, "20", []int{1}},
		{"several levels at once", 0, "600", []int{1, 2, 3}},
		{"from Bronze to the top", 1, "5000", []int{2, 3, 4}},
		{"never lowers", 3, "10", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, def.Upgrade(tc.cur, d(tc.growth))); diff != "" {
				t.Errorf("Upgrade(%d, %s) (-want +got):\n%s", tc.cur, tc.growth, diff)
			}
		})
	}
}

func TestLevelTermEnd(t *testing.T) {
	loc := shanghai(t)
	tests := []struct {
		name  string
		v     rule.Validity
		start string
		want  string
	}{
		{"1 month-end: 24:00 of next month's last day", monthEnd1, "2026-03-15 10:30", "2026-05-01"},
		{"1 month-end from January 31", monthEnd1, "2026-01-31 23:59", "2026-03-01"},
		{"1 month after: 24:00 of the same day next month", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2026-03-15 10:30", "2026-04-16"},
		{"1 month after from January 31: February's last day", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2026-01-31 08:00", "2026-03-01"},
		{"annual date", rule.Validity{Kind: rule.AnnualDate, Month: time.December, Day: 31}, "2026-03-15", "2027-01-01"},
		{"permanent has no end", rule.Validity{Kind: rule.Permanent}, "2026-03-15", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := level.Level{Validity: tc.v}.TermEnd(wall(t, tc.start), loc)
			var want time.Time
			if tc.want != "" {
				want = wall(t, tc.want)
			}
			if !got.Equal(want) {
				t.Errorf("TermEnd = %v, want %v", got.In(loc), want)
			}
		})
	}
}

func TestLevelWindowStart(t *testing.T) {
	loc := shanghai(t)
	tests := []struct {
		end    string
		months int
		want   string
	}{
		{"2027-03-16", 12, "2026-03-16"}, // 12-month window from the term end
		{"2026-05-01", 1, "2026-04-01"},
		{"2026-03-31", 1, "2026-02-28"},
	}
	for _, tc := range tests {
		t.Run(tc.end, func(t *testing.T) {
			if got := level.WindowStart(wall(t, tc.end), tc.months, loc); !got.Equal(wall(t, tc.want)) {
				t.Errorf("WindowStart(%s, %d) = %v, want %s", tc.end, tc.months, got.In(loc), tc.want)
			}
		})
	}
}

func TestLevelRetain(t *testing.T) {
	// One history — a Platinum member who earned 150 in the window — under
	// each downgrade mode.
	tests := []struct {
		mode     level.DowngradeMode
		cur      int
		window   string
		wantTo   int
		wantKept bool
	}{
		{level.NextLower, 4, "150", 3, false},
		{level.Matching, 4, "150", 2, false},
		{level.Lowest, 4, "150", 0, false},
		{"", 4, "150", 3, false}, // the default is next lower
		{level.Matching, 4, "800", 4, true},
		{level.Matching, 2, "10", 0, false},
		{level.Lowest, 0, "0", 0, true}, // the entry level is always kept
		{level.Matching, 3, "299.99", 2, false},
		// A window whose refunds took more than it earned: below every
		// threshold, the entry level (the matching mode gave -1, no level).
		{level.Matching, 2, "-70", 0, false},
		{level.NextLower, 2, "-70", 1, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d/%s", tc.mode, tc.cur, tc.window), func(t *testing.T) {
			to, kept := ladder(tc.mode).Retain(tc.cur, d(tc.window))
			if to != tc.wantTo || kept != tc.wantKept {
				t.Errorf("Retain = (%d, %v), want (%d, %v)", to, kept, tc.wantTo, tc.wantKept)
			}
		})
	}
}

func TestLevelFreezeLongTermAfterTwoDowngrades(t *testing.T) {
	loc := shanghai(t)
	def := ladder(level.NextLower)
	def.Ladder[3].Freeze = &level.Freeze{Kind: level.LongTerm, Unfreeze: d("200")}
	t1, t2 := wall(t, "2027-01-01"), wall(t, "2028-01-01")

	frozen, f := def.Freeze(nil, 3, t1, loc) // Gold → Silver
	if f == nil || !f.Deadline.IsZero() {
		t.Fatalf("Freeze = %+v, want a long-term freeze", f)
	}
	frozen = level.Earn(frozen, d("50"), wall(t, "2027-06-01"))
	frozen, f = def.Freeze(frozen, 2, t2, loc) // Silver → Bronze: Silver has no strategy
	if f != nil {
		t.Fatalf("Silver froze: %+v", f)
	}
	if _, ok := def.Unfreeze(frozen, 1, wall(t, "2028-02-01")); ok {
		t.Fatal("unfroze with 50 of 200")
	}
	frozen = level.Earn(frozen, d("150"), wall(t, "2030-02-01"))
	to, ok := def.Unfreeze(frozen, 1, wall(t, "2030-02-01"))
	if !ok || to != 3 {
		t.Fatalf("Unfreeze = (%d, %v), want Gold", to, ok)
	}
	kept, released := def.Thaw(frozen, to)
	if len(kept) != 0 || len(released) != 1 || released[0].Level != "Gold" {
		t.Errorf("Thaw = %+v, %+v", kept, released)
	}
}

func TestLevelFreezeFixedRunsOut(t *testing.T) {
	loc := shanghai(t)
	def := ladder(level.NextLower)
	def.Ladder[3].Freeze = &level.Freeze{Kind: level.FixedDuration, Duration: rule.Validity{Kind: rule.DaysAfter, N: 30}, Unfreeze: d("100")}
	frozen, f := def.Freeze(nil, 3, wall(t, "2027-01-01"), loc)
	if f == nil || !f.Deadline.Equal(wall(t, "2027-01-31")) {
		t.Fatalf("Freeze = %+v, want deadline 2027-01-31 00:00", f)
	}
	tests := []struct {
		at     string
		earned string
		wantOK bool
	}{
		{"2027-01-30 23:59", "100", true},
		{"2027-01-31 00:00", "100", false}, // ran out
		{"2027-01-15", "99", false},
	}
	for _, tc := range tests {
		t.Run(tc.at+"/"+tc.earned, func(t *testing.T) {
			at := wall(t, tc.at)
			fr := level.Earn(frozen, d(tc.earned), at)
			if _, ok := def.Unfreeze(fr, 2, at); ok != tc.wantOK {
				t.Errorf("Unfreeze ok = %v, want %v", ok, tc.wantOK)
			}
		})
	}
	// The count is net, not floored at zero: the same movements in either
	// order count the same (floored, -60 then 50 counted 50, and 50 then
	// -60 counted 0).
	if got := level.Earn(frozen, d("-5"), wall(t, "2027-01-02"))[0].Earned; !got.Equal(d("-5")) {
		t.Errorf("Earn below zero = %s, want -5", got)
	}
	for _, amounts := range [][]string{{"-60", "50"}, {"50", "-60"}} {
		fr := frozen
		for _, a := range amounts {
			fr = level.Earn(fr, d(a), wall(t, "2027-01-02"))
		}
		if got := fr[0].Earned; !got.Equal(d("-10")) {
			t.Errorf("Earn of %v = %s, want -10", amounts, got)
		}
		if _, ok := def.Unfreeze(level.Earn(fr, d("100"), wall(t, "2027-01-03")), 2, wall(t, "2027-01-03")); ok {
			t.Errorf("Earn of %v then 100 unfroze: 90 of 100", amounts)
		}
		if _, ok := def.Unfreeze(level.Earn(fr, d("110"), wall(t, "2027-01-03")), 2, wall(t, "2027-01-03")); !ok {
			t.Errorf("Earn of %v then 110 did not unfreeze: 100 of 100", amounts)
		}
	}
	// Growth dated before the downgrade (a late event) is not earned since.
	fr := level.Earn(frozen, d("100"), wall(t, "2027-01-02"))
	for _, at := range []string{"2026-12-31 23:59", "2026-06-01"} {
		if got := level.Earn(fr, d("-40"), wall(t, at))[0].Earned; !got.Equal(d("100")) {
			t.Errorf("Earn of -40 at %s = %s, want 100 (before the downgrade)", at, got)
		}
		if got := level.Earn(frozen, d("100"), wall(t, at))[0].Earned; !got.IsZero() {
			t.Errorf("Earn of 100 at %s = %s, want 0 (before the downgrade)", at, got)
		}
	}
	if got := level.Earn(frozen, d("100"), wall(t, "2027-01-01"))[0].Earned; !got.Equal(d("100")) {
		t.Errorf("Earn at the downgrade's instant = %s, want 100", got)
	}
}

// Needed is the unfreeze threshold less the net growth earned since the
// downgrade, never below 0; a level the definition does not freeze has
// none.
func TestLevelFreezeNeeded(t *testing.T) {
	def := ladder(level.NextLower)
	def.Ladder[3].Freeze = &level.Freeze{Kind: level.LongTerm, Unfreeze: d("200")}
	tests := []struct {
		level, earned    string
		unfreeze, needed string
		ok               bool
	}{
		{"Gold", "0", "200", "200", true},
		{"Gold", "150", "200", "50", true},
		{"Gold", "-40", "200", "240", true}, // a refund took 40 more than was earned since
		{"Gold", "200", "200", "0", true},
		{"Gold", "230", "200", "0", true},  // a later definition lowered the threshold
		{"Silver", "50", "0", "0", false},  // no freeze strategy (removed by a new version)
		{"Diamond", "50", "0", "0", false}, // not in the ladder
	}
	for _, tc := range tests {
		t.Run(tc.level+"/"+tc.earned, func(t *testing.T) {
			unfreeze, needed, ok := def.Needed(level.Frozen{Level: tc.level, Earned: d(tc.earned)})
			if !unfreeze.Equal(d(tc.unfreeze)) || !needed.Equal(d(tc.needed)) || ok != tc.ok {
				t.Errorf("Needed = (%s, %s, %v), want (%s, %s, %v)", unfreeze, needed, ok, tc.unfreeze, tc.needed, tc.ok)
			}
		})
	}
}

func TestLevelGrowthRule(t *testing.T) {
	at := wall(t, "2026-03-15 10:00")
	checkIn := level.GrowthRule{ID: "check-in", Event: "check_in", Formula: rule.Formula{Kind: rule.Fixed, Fixed: d("12")}}
	realName := level.GrowthRule{ID: "real-name", Event: "verify", Formula: rule.Formula{Kind: rule.Fixed, Fixed: d("20")}}
	order := level.GrowthRule{
		ID: "order", Event: "order", Levels: []string{"Bronze"},
		Conditions: []event.Condition{{Attr: "channel", Op: event.In, Values: []event.Value{event.Str("app"), event.Str("store")}}},
		Effective:  rule.Window{From: wall(t, "2026-01-01"), To: wall(t, "2027-01-01")},
		Formula:    rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: d("0.1"), Fixed: d("1")},
	}
	tip := level.GrowthRule{ID: "tip", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "tip", Rate: d("2")}}
	penalty := level.GrowthRule{ID: "penalty", Event: "penalty", Formula: rule.Formula{Kind: rule.Fixed, Fixed: d("-50")}}
	visits := level.GrowthRule{ID: "visits", Event: "visit", Formula: rule.Formula{Kind: rule.Count}}
	ev := func(typ string, attrs event.Attrs, at time.Time) event.Event {
		return event.Event{ID: "e", Member: "m", Type: typ, Time: at, Attrs: attrs}
	}
	tenths := rule.Rounding{Scale: 1, Mode: rule.RoundHalfUp}
	tests := []struct {
		name      string
		rule      level.GrowthRule
		ev        event.Event
		level     string
		applies   bool
		rounding  rule.Rounding
		want, raw string
		base      string
		wantErr   error
	}{
		{"check-in gives 12", checkIn, ev("check_in", nil, at), "Entry", true, rule.Rounding{}, "12", "12", "0", nil},
		{"real-name verification gives 20", realName, ev("verify", nil, at), "Entry", true, rule.Rounding{}, "20", "20", "0", nil},
		{"other type", checkIn, ev("verify", nil, at), "Entry", false, rule.Rounding{}, "", "", "", nil},
		{"order rounds down to whole units", order, ev("order", event.Attrs{"amount": event.DecString("199.99"), "channel": event.Str("app")}, at), "Bronze", true, rule.Rounding{}, "20", "20.999", "199.99", nil},
		{"a growth scale of tenths, half up", order, ev("order", event.Attrs{"amount": event.DecString("199.99"), "channel": event.Str("app")}, at), "Bronze", true, tenths, "21", "20.999", "199.99", nil},
		{"level not applicable", order, ev("order", event.Attrs{"amount": event.DecString("100"), "channel": event.Str("app")}, at), "Silver", false, rule.Rounding{}, "", "", "", nil},
		{"condition fails", order, ev("order", event.Attrs{"amount": event.DecString("100"), "channel": event.Str("web")}, at), "Bronze", false, rule.Rounding{}, "", "", "", nil},
		{"outside the effective period", order, ev("order", event.Attrs{"amount": event.DecString("100"), "channel": event.Str("app")}, wall(t, "2027-01-01")), "Bronze", false, rule.Rounding{}, "", "", "", nil},
		{"an absent optional base earns nothing", tip, ev("order", event.Attrs{"amount": event.DecString("100")}, at), "Entry", true, rule.Rounding{}, "0", "0", "0", nil},
		{"a base of the wrong type is an error", tip, ev("order", event.Attrs{"tip": event.Str("much")}, at), "Entry", true, rule.Rounding{}, "", "", "", event.ErrAttributeType},
		{"an integer base", tip, ev("order", event.Attrs{"tip": event.Int(3)}, at), "Entry", true, rule.Rounding{}, "6", "6", "3", nil},
		{"a negative rule takes growth", penalty, ev("penalty", nil, at), "Gold", true, rule.Rounding{}, "-50", "-50", "0", nil},
		{"count gives 1", visits, ev("visit", nil, at), "Entry", true, rule.Rounding{}, "1", "1", "0", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rule.Applies(tc.ev, tc.level); got != tc.applies {
				t.Fatalf("Applies = %v, want %v", got, tc.applies)
			}
			if !tc.applies {
				return
			}
			got, err := tc.rule.Amount(tc.ev, tc.rounding)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Amount error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Amount.Equal(d(tc.want)) || !got.Raw.Equal(d(tc.raw)) || !got.Base.Equal(d(tc.base)) {
				t.Errorf("Amount = %+v, want %s (raw %s, base %s)", got, tc.want, tc.raw, tc.base)
			}
		})
	}
}

func TestLevelReversal(t *testing.T) {
	tests := []struct {
		name                                               string
		granted, order, refundedBefore, refund, revAlready string
		want                                               string
	}{
		{"half refunded", "100", "200", "0", "100", "0", "50"},
		{"second half", "100", "200", "100", "100", "50", "50"},
		{"rounds down the share", "10", "3", "0", "1", "0", "3"},
		{"then the rest", "10", "3", "1", "2", "3", "7"},
		{"over-refund caps at granted", "100", "200", "150", "100", "75", "25"},
		{"no order amount reverses the rest", "40", "0", "0", "5", "10", "30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := level.Reversal(d(tc.granted), d(tc.order), d(tc.refundedBefore), d(tc.refund), d(tc.revAlready), rule.Rounding{})
			if !got.Equal(d(tc.want)) {
				t.Errorf("Reversal = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestLevelPlanExtend(t *testing.T) {
	loc := shanghai(t)
	tests := []struct {
		plan level.Plan
		from string
		want string
	}{
		{level.Plan{Period: level.Monthly}, "2026-01-15 10:00", "2026-02-15 10:00"},
		{level.Plan{Period: level.Monthly}, "2026-01-31 10:00", "2026-02-28 10:00"},
		{level.Plan{Period: level.Quarterly}, "2026-11-30 00:00", "2027-02-28 00:00"},
		{level.Plan{Period: level.Yearly}, "2028-02-29 12:00", "2029-02-28 12:00"},
		{level.Plan{Period: level.Days, Days: 7}, "2026-12-28 09:00", "2027-01-04 09:00"},
	}
	for _, tc := range tests {
		t.Run(string(tc.plan.Period)+"/"+tc.from, func(t *testing.T) {
			if got := tc.plan.Extend(wall(t, tc.from), loc); !got.Equal(wall(t, tc.want)) {
				t.Errorf("Extend = %v, want %s", got.In(loc), tc.want)
			}
		})
	}
}

// A period ends at the same wall-clock time in the program's zone, or,
// where the clocks skip that time on the last day, at the end of the gap:
// in New York the clocks went from 02:00 EST to 03:00 EDT on 8 March 2026
// and back from 02:00 EDT to 01:00 EST on 1 November. Before, time.Date
// ended a period meant to end at 02:30 on 8 March at 01:30 EST, an hour
// early, and the renewals from there went on at 01:30.
func TestLevelPlanExtendAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation(time.DateTime, s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		plan level.Plan
		from time.Time
		want string // RFC 3339, with the offset the end has in New York
	}{
		{level.Plan{Period: level.Days, Days: 1}, at("2026-03-07 02:30:00"), "2026-03-08T03:00:00-04:00"},
		{level.Plan{Period: level.Days, Days: 1}, at("2026-03-07 01:30:00"), "2026-03-08T01:30:00-05:00"},
		{level.Plan{Period: level.Days, Days: 2}, at("2026-03-07 02:30:00"), "2026-03-09T02:30:00-04:00"},
		{level.Plan{Period: level.Days, Days: 1}, at("2026-03-07 23:00:00"), "2026-03-08T23:00:00-04:00"},
		{level.Plan{Period: level.Days, Days: 1}, at("2026-10-31 01:30:00"), "2026-11-01T01:30:00-04:00"},
		{level.Plan{Period: level.Days, Days: 1}, at("2026-10-31 12:00:00"), "2026-11-01T12:00:00-05:00"},
		{level.Plan{Period: level.Monthly}, at("2026-02-08 02:30:00"), "2026-03-08T03:00:00-04:00"},
		{level.Plan{Period: level.Monthly}, at("2026-03-08 03:30:00"), "2026-04-08T03:30:00-04:00"},
	}
	for _, tc := range tests {
		t.Run(string(tc.plan.Period)+"/"+tc.from.Format(time.RFC3339), func(t *testing.T) {
			if got := tc.plan.Extend(tc.from, ny).In(ny).Format(time.RFC3339); got != tc.want {
				t.Errorf("Extend = %s, want %s", got, tc.want)
			}
		})
	}
}

type env struct{ types []event.Type }

func (e env) EventType(name string) (event.Type, bool) {
	for _, t := range e.types {
		if t.Name == name {
			return t, true
		}
	}
	return event.Type{}, false
}

func (e env) CheckReward(r rule.Reward, _ rule.SourceKind) error {
	if err := r.Check(); err != nil {
		return err
	}
	if r.Kind == rule.RewardPoints && r.Program != "mall" {
		return fmt.Errorf("unknown point program %s", r.Program)
	}
	return nil
}

var testEnv = env{types: []event.Type{
	{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String}, {Name: "paid", Kind: event.Time}}},
	{Name: "refund", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String}}},
	{Name: "buy", Attributes: []event.Attr{{Name: "plan", Kind: event.String}}},
}}

func validDef() level.Definition {
	def := ladder(level.Matching)
	def.Ladder[1].Gifts = []rule.Reward{{Kind: rule.RewardGrowth, Amount: d("5")}, {Kind: rule.RewardPoints, Program: "mall", Amount: d("100")}}
	def.Ladder[3].Freeze = &level.Freeze{Kind: level.FixedDuration, Duration: rule.Validity{Kind: rule.MonthsAfter, N: 3}, Unfreeze: d("100")}
	def.Growth = []level.GrowthRule{{
		ID: "order", Event: "order", Levels: []string{"Bronze"}, Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("1")},
		Caps:  rule.Caps{{Period: rule.Day, Limit: d("500")}},
		Order: &level.OrderRef{ID: "order_id", Amount: "amount"},
	}}
	def.Refunds = []level.RefundRule{{ID: "refund", Event: "refund", Order: "order_id", Amount: "amount"}}
	def.Plans = []level.Plan{{Name: "Plus", Period: level.Monthly, Event: "buy", Attr: "plan"}}
	return def
}

func TestLevelCheck(t *testing.T) {
	if err := validDef().Check(testEnv); err != nil {
		t.Fatalf("valid definition: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*level.Definition)
		want   string
	}{
		{"entry not 0", func(d *level.Definition) { d.Ladder[0].Upgrade = decimal.NewFromInt(1) }, "ladder[0].upgrade: the entry level's threshold must be 0"},
		{"thresholds out of order", func(d *level.Definition) { d.Ladder[2].Upgrade = decimal.NewFromInt(20) }, "ladder[2].upgrade: must be greater than 20"},
		{"retention above upgrade", func(d *level.Definition) { d.Ladder[2].Retention = decimal.NewFromInt(101) }, "ladder[2].retention: must not exceed the upgrade threshold 100"},
		{"negative retention", func(d *level.Definition) { d.Ladder[2].Retention = decimal.NewFromInt(-1) }, "ladder[2].retention: must not be negative"},
		{"window 0 with a term", func(d *level.Definition) { d.Ladder[1].Window = 0 }, "ladder[1].window: must be 1 to 1200 months"},
		{"bad validity", func(d *level.Definition) { d.Ladder[1].Validity = rule.Validity{Kind: rule.MonthsAfter} }, "ladder[1].validity.n: must be >= 1"},
		{"coupon validity kind", func(d *level.Definition) { d.Ladder[1].Validity = rule.Validity{Kind: rule.DaysAfter, N: 3} }, "ladder[1].validity.kind: days_after is not a level validity"},
		{"duplicate name", func(d *level.Definition) { d.Ladder[2].Name = "Bronze" }, `ladder[2].name: duplicate level "Bronze"`},
		{"unknown mode", func(d *level.Definition) { d.Ladder[2].Downgrade = "sideways" }, `ladder[2].downgrade: unknown downgrade mode "sideways" (want next_lower, matching or lowest; empty is next_lower)`},
		{"unresolvable gift", func(d *level.Definition) { d.Ladder[1].Gifts[1].Program = "park" }, "ladder[1].gifts[1]: unknown point program park"},
		{"gift without amount", func(d *level.Definition) { d.Ladder[1].Gifts[0].Amount = decimal.Zero }, "ladder[1].gifts[0].amount: must be > 0 for growth"},
		{"freeze kind", func(d *level.Definition) { d.Ladder[3].Freeze.Kind = "forever" }, `ladder[3].freeze.kind: unknown freeze kind "forever" (want long_term or fixed)`},
		{"freeze duration", func(d *level.Definition) { d.Ladder[3].Freeze.Duration = rule.Validity{Kind: rule.Permanent} }, "ladder[3].freeze.duration.kind: must be days_after"},
		{"freeze threshold", func(d *level.Definition) { d.Ladder[3].Freeze.Unfreeze = decimal.Zero }, "ladder[3].freeze.unfreeze: must be > 0"},
		// A long-term freeze has no deadline: a duration would be ignored.
		{"long-term freeze with a duration", func(d *level.Definition) { d.Ladder[3].Freeze.Kind = level.LongTerm }, "ladder[3].freeze.duration: a long_term freeze has no duration"},
		// The entry level is joined, never upgraded to: its gifts were
		// accepted and never granted (the article's registration gift
		// is a coupon gift or a task).
		{"entry gifts", func(d *level.Definition) {
			d.Ladder[0].Gifts = []rule.Reward{{Kind: rule.RewardGrowth, Amount: decimal.NewFromInt(5)}}
		}, "ladder[0].gifts: the entry level is joined, never reached by an upgrade"},
		{"entry gifts every time", func(d *level.Definition) { d.Ladder[0].GiftEveryTime = true }, "ladder[0].gift_every_time: the entry level is joined"},
		{"entry freeze", func(d *level.Definition) {
			d.Ladder[0].Freeze = &level.Freeze{Kind: level.LongTerm, Unfreeze: decimal.NewFromInt(1)}
		}, "ladder[0].freeze: the entry level cannot be frozen"},
		{"unknown event type", func(d *level.Definition) { d.Growth[0].Event = "visit" }, `growth[0].event: unknown event type "visit"`},
		{"unknown base attribute", func(d *level.Definition) { d.Growth[0].Formula.Base = "total" }, `growth[0].formula.base: unknown attribute "total"`},
		{"condition on unknown attribute", func(d *level.Definition) {
			d.Growth[0].Conditions = []event.Condition{{Attr: "store", Op: event.Eq, Value: event.Str("x")}}
		}, `growth[0].conditions[0].attr: unknown attribute "store"`},
		{"unknown level", func(d *level.Definition) { d.Growth[0].Levels = []string{"Diamond"} }, `growth[0].levels[0]: unknown level "Diamond"`},
		{"negative cap", func(d *level.Definition) { d.Growth[0].Caps[0].Limit = decimal.NewFromInt(-1) }, "growth[0].caps[0].limit: must not be negative"},
		{"bad window", func(d *level.Definition) {
			d.Growth[0].Effective = rule.Window{From: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		}, "growth[0].effective.to:"},
		{"order attribute kind", func(d *level.Definition) { d.Growth[0].Order.ID = "amount" }, `growth[0].order.id: attribute has the wrong type: "amount" is decimal`},
		{"duplicate rule", func(d *level.Definition) { d.Growth = append(d.Growth, d.Growth[0]) }, `growth[1].id: duplicate rule "order"`},
		{"refund amount attribute", func(d *level.Definition) { d.Refunds[0].Amount = "refunded" }, `refunds[0].amount: unknown attribute "refunded"`},
		{"refund type", func(d *level.Definition) { d.Refunds[0].Event = "return" }, `refunds[0].event: unknown event type "return"`},
		// Each refund rule adds the event's amount to what was refunded
		// of the order: the same event, order and amount under two IDs
		// counted every refund twice (50 of 200 took 100 growth).
		{"refund rule twice", func(d *level.Definition) {
			d.Refunds = append(d.Refunds, level.RefundRule{ID: "refund-again", Event: "refund", Order: "order_id", Amount: "amount"})
		}, `refunds[1]: duplicate refund rule (event "refund", order "order_id", amount "amount")`},
		// A refund takes back what a rule recorded for the order: with
		// none recording orders, refunds would reverse nothing.
		{"refunds with no order recorded", func(d *level.Definition) { d.Growth[0].Order = nil }, "refunds: no growth rule records its orders (order)"},
		{"plan period", func(d *level.Definition) { d.Plans[0].Period = "weekly" }, `plans[0].period: unknown period "weekly" (want monthly, quarterly, yearly or days)`},
		{"plan days", func(d *level.Definition) { d.Plans[0].Period = level.Days }, "plans[0].days: must be 1 to 36600"},
		{"plan attr", func(d *level.Definition) { d.Plans[0].Attr = "" }, "plans[0].attr: required"},
		{"plan named like a level", func(d *level.Definition) { d.Plans[0].Name = "Gold" }, `plans[0].name: duplicate plan or level name "Gold"`},
		{"rounding scale", func(d *level.Definition) { d.Rounding.Scale = 9 }, "rounding.scale: must be 0 to 8"},
		{"growth without ladder", func(d *level.Definition) { d.Ladder = nil }, "growth: growth rules need a ladder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def := validDef()
			tc.mutate(&def)
			err := def.Check(testEnv)
			if !errors.Is(err, rule.ErrInvalidDefinition) {
				t.Fatalf("Check = %v, want an invalid definition", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v\nwant a problem containing %q", err, tc.want)
			}
		})
	}
}

// TestGrowthConditionProblemsNameTheField: a growth rule's condition is
// reported at the field at fault, as the JSON names it, so that a host
// can show it beside that field: an unknown attribute at attr, a value of
// another kind at value (values[i] for in), an unknown operator or one
// that does not fit the attribute at op. They were all reported at the
// condition (growth[0].conditions[0]: attr: unknown attribute …).
func TestGrowthConditionProblemsNameTheField(t *testing.T) {
	def := validDef()
	def.Growth[0].Conditions = []event.Condition{
		{Attr: "store", Op: event.Eq, Value: event.Str("s1")},
		{Attr: "amount", Op: event.Gte, Value: event.Str("100")},
		{Attr: "order_id", Op: "like", Value: event.Str("A%")},
		{Attr: "order_id", Op: event.In, Values: []event.Value{event.Str("A1"), event.Int(2)}},
		{Attr: "order_id", Op: event.Gt, Value: event.Str("A")},
	}
	err := def.Check(testEnv)
	var ps *rule.Problems
	if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check: %v, want *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		`growth[0].conditions[0].attr: unknown attribute "store" in type "order"`,
		"growth[0].conditions[1].value: attribute has the wrong type: got string, want decimal",
		`growth[0].conditions[2].op: unknown operator "like"`,
		"growth[0].conditions[3].values[1]: attribute has the wrong type: got integer, want string",
		`growth[0].conditions[4].op: "gt" does not apply to string`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !errors.Is(err, event.ErrUnknownAttribute) || !errors.Is(err, event.ErrAttributeType) {
		t.Errorf("Check: %v, want it to wrap event.ErrUnknownAttribute and event.ErrAttributeType", err)
	}
}

// TestGrowthCapsAtTheGrowthScale: a cap's limit is an amount of growth,
// so it keeps to the growth scale. A daily limit of 15.5 in whole units
// let a second order of 10 through as 5.5, so the member held 15.5
// growth, a fraction no growth rule, reward or refund gives. It is
// refused, naming the path, at scale 0 and a finer one at scale 1; the
// same figures pass at one and two places.
func TestGrowthCapsAtTheGrowthScale(t *testing.T) {
	def := validDef()
	def.Growth[0].Caps = rule.Caps{{Period: rule.Day, Limit: d("15")}, {Period: rule.Total, Limit: d("15.5")}}
	def.Growth = append(def.Growth, level.GrowthRule{ID: "paid", Event: "order", Formula: rule.Formula{Kind: rule.Fixed, Fixed: d("1")},
		Caps: rule.Caps{{Period: rule.Week, Limit: d("0.01")}, {Period: rule.Month, Limit: d("-1")}}})
	err := def.Check(testEnv)
	var ps *rule.Problems
	if !errors.As(err, &ps) || !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Check: %v, want *rule.Problems", err)
	}
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Path+": "+p.Err.Error())
	}
	want := []string{
		"growth[0].caps[1].limit: 15.5 has more decimal places than the growth scale (0)",
		// A negative limit is refused as such, not twice.
		"growth[1].caps[1].limit: must not be negative",
		"growth[1].caps[0].limit: 0.01 has more decimal places than the growth scale (0)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	def.Growth[1].Caps[1].Limit = d("1")
	def.Rounding.Scale = 1
	err = def.Check(testEnv)
	want = []string{"growth[1].caps[0].limit: 0.01 has more decimal places than the growth scale (1)"}
	if err == nil || !errors.As(err, &ps) || len(ps.List) != 1 || ps.List[0].Path+": "+ps.List[0].Err.Error() != want[0] {
		t.Errorf("at scale 1: Check = %v, want only %q", err, want[0])
	}
	def.Rounding = rule.Rounding{Scale: 2, Mode: rule.RoundUp}
	if err := def.Check(testEnv); err != nil {
		t.Errorf("limits at the scale: %v", err)
	}
}

func TestLevelDefinitionJSON(t *testing.T) {
	def := validDef()
	raw, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	var back level.Definition
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(def, back, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func ExampleDefinition_Retain() {
	def := ladder(level.Matching)
	to, kept := def.Retain(4, decimal.NewFromInt(150))
	fmt.Println(def.Ladder[to].Name, kept)
	// Output: Silver false
}

func ExampleLevel_TermEnd() {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	gold := level.Level{Name: "Gold", Validity: rule.Validity{Kind: rule.MonthEnds, N: 1}}
	end := gold.TermEnd(time.Date(2026, 3, 15, 10, 30, 0, 0, loc), loc)
	fmt.Println(end.In(loc).Format(time.DateTime))
	// Output: 2026-05-01 00:00:00
}

// A level's gift repeated in every field is granted twice on reaching the
// level, which one gift says (a coupon's count, a sum of amounts):
// refused at the repeat, naming the first. Gifts that differ in any field,
// the same gift on two levels, and a repeated pack or achievement (no one
// gift gives two) are accepted.
func TestLevelCheckRepeatedGift(t *testing.T) {
	coupon := rule.Reward{Kind: rule.RewardCoupon, Template: "T"}
	pack := rule.Reward{Kind: rule.RewardPack, Pack: "P"}
	badge := rule.Reward{Kind: rule.RewardAchievement, Achievement: "A"}
	hundred, twoHundred := d("100.0"), d("200") // the closures' d is the definition
	const one = "1 problem(s):\n\tladder[1]."
	tests := []struct {
		name   string
		mutate func(*level.Definition) // validDef's ladder[1] gives growth 5 and points mall 100
		want   string                  // "": accepted
	}{
		{"coupon twice", func(d *level.Definition) { d.Ladder[1].Gifts = append(d.Ladder[1].Gifts, coupon, coupon) },
			one + "gifts[3]: the same gift as gifts[2] (use count)"},
		{"points twice, 100 and 100.0", func(d *level.Definition) {
			d.Ladder[1].Gifts = append(d.Ladder[1].Gifts, rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: hundred})
		}, one + "gifts[2]: the same gift as gifts[1] (add the amounts)"},
		{"growth twice", func(d *level.Definition) { d.Ladder[1].Gifts = append(d.Ladder[1].Gifts, d.Ladder[1].Gifts[0]) },
			one + "gifts[2]: the same gift as gifts[0] (add the amounts)"},
		{"coupon, another count", func(d *level.Definition) {
			d.Ladder[1].Gifts = append(d.Ladder[1].Gifts, coupon, rule.Reward{Kind: rule.RewardCoupon, Template: "T", Count: 2})
		}, ""},
		{"coupon, another template", func(d *level.Definition) {
			d.Ladder[1].Gifts = append(d.Ladder[1].Gifts, coupon, rule.Reward{Kind: rule.RewardCoupon, Template: "U"})
		}, ""},
		{"points, another amount", func(d *level.Definition) {
			d.Ladder[1].Gifts = append(d.Ladder[1].Gifts, rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: twoHundred})
		}, ""},
		{"the same gift on two levels", func(d *level.Definition) { d.Ladder[2].Gifts = d.Ladder[1].Gifts }, ""},
		{"pack twice", func(d *level.Definition) { d.Ladder[1].Gifts = append(d.Ladder[1].Gifts, pack, pack) }, ""},
		{"achievement twice", func(d *level.Definition) { d.Ladder[1].Gifts = append(d.Ladder[1].Gifts, badge, badge) }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def := validDef()
			tc.mutate(&def)
			err := def.Check(testEnv)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, rule.ErrInvalidDefinition) {
				t.Fatalf("Check = %v, want an invalid definition", err)
			}
			if err.Error() != tc.want {
				t.Errorf("Check =\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}
