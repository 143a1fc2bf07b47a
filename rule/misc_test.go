package rule_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

func TestRounding(t *testing.T) {
	tests := []struct {
		r    rule.Rounding
		in   string
		want string
	}{
		{rule.Rounding{}, "1.99", "1"},
		{rule.Rounding{}, "-1.99", "-1"},
		{rule.Rounding{Scale: 2, Mode: rule.RoundDown}, "1.999", "1.99"},
		{rule.Rounding{Scale: 2, Mode: rule.RoundDown}, "-1.999", "-1.99"},
		{rule.Rounding{Scale: 2, Mode: rule.RoundUp}, "1.991", "2"},
		{rule.Rounding{Scale: 2, Mode: rule.RoundUp}, "-1.991", "-2"},
		{rule.Rounding{Scale: 0, Mode: rule.RoundUp}, "3", "3"},
		{rule.Rounding{Scale: 1, Mode: rule.RoundHalfUp}, "1.25", "1.3"},
		{rule.Rounding{Scale: 1, Mode: rule.RoundHalfUp}, "-1.25", "-1.3"},
		{rule.Rounding{Scale: 1, Mode: rule.RoundHalfUp}, "1.249", "1.2"},
		{rule.Rounding{Scale: 1, Mode: rule.RoundHalfEven}, "1.25", "1.2"},
		{rule.Rounding{Scale: 1, Mode: rule.RoundHalfEven}, "1.35", "1.4"},
		{rule.Rounding{Scale: 0, Mode: rule.RoundHalfEven}, "-2.5", "-2"},
		{rule.Rounding{Scale: 0, Mode: rule.RoundHalfEven}, "-3.5", "-4"},
		{rule.Rounding{Scale: 0, Mode: rule.RoundHalfEven}, "-2.51", "-3"},
		{rule.Rounding{Scale: 99, Mode: "weird"}, "1.123456789", "1.12345678"},
	}
	for _, tt := range tests {
		t.Run(string(tt.r.Mode)+"/"+tt.in, func(t *testing.T) {
			got := tt.r.Round(decimal.RequireFromString(tt.in))
			if diff := cmp.Diff(tt.want, got.String()); diff != "" {
				t.Errorf("Round(%s) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestRoundingCheck(t *testing.T) {
	tests := []struct {
		r    rule.Rounding
		want []string
	}{
		{rule.Rounding{}, nil},
		{rule.Rounding{Scale: 8, Mode: rule.RoundHalfEven}, nil},
		{rule.Rounding{Scale: -1, Mode: "ceiling"}, []string{"scale: must be 0 to 8, got -1", `mode: unknown rounding mode "ceiling" (want down, up, half_up or half_even; empty is down)`}},
		{rule.Rounding{Scale: 9}, []string{"scale: must be 0 to 8, got 9"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, problems(t, tt.r.Check())); diff != "" {
			t.Errorf("%+v.Check (-want +got):\n%s", tt.r, diff)
		}
	}
}

func TestWindow(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		w    rule.Window
		at   time.Time
		want bool
	}{
		{"open", rule.Window{}, from, true},
		{"at from", rule.Window{From: from, To: to}, from, true},
		{"before from", rule.Window{From: from, To: to}, from.Add(-time.Nanosecond), false},
		{"just before to", rule.Window{From: from, To: to}, to.Add(-time.Nanosecond), true},
		{"at to", rule.Window{From: from, To: to}, to, false},
		{"open end", rule.Window{From: from}, to.AddDate(10, 0, 0), true},
		{"open start", rule.Window{To: to}, from.AddDate(-10, 0, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.w.Contains(tt.at); got != tt.want {
				t.Errorf("Contains(%v) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
	checks := []struct {
		w    rule.Window
		want []string
	}{
		{rule.Window{From: from, To: to}, nil},
		{rule.Window{To: to}, nil},
		{rule.Window{From: to, To: to}, []string{"to: 2026-12-01T00:00:00Z is not after from 2026-12-01T00:00:00Z"}},
	}
	for _, tt := range checks {
		if diff := cmp.Diff(tt.want, problems(t, tt.w.Check())); diff != "" {
			t.Errorf("%+v.Check (-want +got):\n%s", tt.w, diff)
		}
	}
}

func TestReward(t *testing.T) {
	ten := decimal.NewFromInt(10)
	tests := []struct {
		name    string
		r       rule.Reward
		target  string
		coupons int
		want    []string
	}{
		{"points", rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: ten}, "points:mall", 1, nil},
		{"points without program or amount", rule.Reward{Kind: rule.RewardPoints}, "points:", 1, []string{"program: required for points", "amount: must be > 0 for points"}},
		{"growth", rule.Reward{Kind: rule.RewardGrowth, Amount: ten}, "growth", 1, nil},
		{"negative growth", rule.Reward{Kind: rule.RewardGrowth, Amount: ten.Neg()}, "growth", 1, []string{"amount: must be > 0 for growth"}},
		{"coupons", rule.Reward{Kind: rule.RewardCoupon, Template: "welcome", Count: 3}, "coupon:welcome", 3, nil},
		{"coupon bad", rule.Reward{Kind: rule.RewardCoupon, Count: -1}, "coupon:", 1, []string{"template: required for coupon", "count: must not be negative"}},
		{"pack", rule.Reward{Kind: rule.RewardPack, Pack: "spring"}, "pack:spring", 1, nil},
		{"pack missing", rule.Reward{Kind: rule.RewardPack}, "pack:", 1, []string{"pack: required for pack"}},
		{"achievement", rule.Reward{Kind: rule.RewardAchievement, Achievement: "first-order"}, "achievement:first-order", 1, nil},
		{"achievement missing", rule.Reward{Kind: rule.RewardAchievement}, "achievement:", 1, []string{"achievement: required for achievement"}},
		{"unknown", rule.Reward{Kind: "cash"}, "cash", 1, []string{`kind: unknown reward kind "cash" (want points, growth, coupon, pack or achievement)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, problems(t, tt.r.Check())); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
			if got := tt.r.Target(); got != tt.target {
				t.Errorf("Target = %q, want %q", got, tt.target)
			}
			if got := tt.r.Coupons(); got != tt.coupons {
				t.Errorf("Coupons = %d, want %d", got, tt.coupons)
			}
		})
	}
}

func TestDate(t *testing.T) {
	loc := loadZone(t, "Asia/Shanghai")
	at := time.Date(2026, 11, 24, 16, 30, 0, 0, time.UTC)
	got := []any{
		rule.DateOf(at, loc), rule.DateOf(at, time.UTC), rule.DateOf(at, nil),
		rule.Date{2026, 11, 25}.Start(loc).Format(time.RFC3339),
		rule.Date{2026, 11, 25}.Start(nil).Format(time.RFC3339),
		rule.Date{2027, 1, 31}.AddMonths(1), rule.Date{2026, 12, 31}.AddDays(1),
		rule.Date{}.IsZero(), rule.Date{2026, 2, 29}.Valid(), rule.Date{2028, 2, 29}.Valid(),
		rule.Date{2026, 11, 24}.Compare(rule.Date{2026, 11, 25}),
		rule.Date{2026, 11, 24}.Weekday(),
	}
	want := []any{
		rule.Date{2026, 11, 25}, rule.Date{2026, 11, 24}, rule.Date{2026, 11, 24},
		"2026-11-25T00:00:00+08:00",
		"2026-11-25T00:00:00Z",
		rule.Date{2027, 2, 28}, rule.Date{2027, 1, 1},
		true, false, true,
		-1,
		time.Tuesday,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Date (-want +got):\n%s", diff)
	}
}

func TestDateJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    rule.Date
		wantErr bool
	}{
		{`"2026-11-24"`, rule.Date{2026, 11, 24}, false},
		{`""`, rule.Date{}, false},
		{`"2026-02-30"`, rule.Date{}, true},
		{`"24/11/2026"`, rule.Date{}, true},
		{`20261124`, rule.Date{}, true},
	}
	for _, tt := range tests {
		var got rule.Date
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("Unmarshal(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Unmarshal(%s) (-want +got):\n%s", tt.in, diff)
		}
	}
	if _, err := json.Marshal(rule.Date{2026, 2, 30}); err == nil {
		t.Error("Marshal of 2026-02-30: no error")
	}
	b, err := json.Marshal(rule.Validity{Kind: rule.FixedRange, From: rule.Date{2026, 1, 1}, To: rule.Date{2026, 1, 31}})
	if want := `{"kind":"fixed_range","from":"2026-01-01","to":"2026-01-31"}`; err != nil || string(b) != want {
		t.Errorf("Marshal = %s, %v; want %s", b, err, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	d := decimal.RequireFromString
	at := time.Date(2026, 11, 24, 15, 4, 5, 6, time.FixedZone("CST", 8*3600))
	cut := &rule.Cut{Period: rule.Day, Limit: d("10"), Used: d("6"), Wanted: d("6.5"), Granted: d("4")}
	values := []any{
		rule.Date{2026, 11, 24},
		rule.Validity{Kind: rule.Permanent},
		rule.Validity{Kind: rule.AnnualDate, Month: time.February, Day: 29},
		rule.Validity{Kind: rule.MonthEnds, N: 12},
		rule.Validity{Kind: rule.FixedRange, From: rule.Date{2026, 1, 1}, To: rule.Date{2026, 12, 31}},
		rule.Period(rule.Week),
		rule.Caps{{Period: rule.Day, Limit: d("10.5")}, {Period: rule.Total, Limit: d("0")}},
		*cut,
		rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: d("1.5"), Fixed: d("-10")},
		rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: d("0.010")},
		rule.Formula{Kind: rule.Multiplier, Base: "items", Rate: d("-2")},
		rule.Formula{Kind: rule.Fixed, Fixed: d("0.5")},
		rule.Formula{Kind: rule.Count},
		rule.Rounding{},
		rule.Rounding{Scale: 8, Mode: rule.RoundUp},
		rule.Rounding{Mode: rule.RoundHalfUp},
		rule.Rounding{Scale: 2, Mode: rule.RoundHalfEven},
		rule.Window{From: at, To: at.Add(time.Hour)},
		rule.Window{},
		rule.Reward{Kind: rule.RewardPoints, Program: "mall", Amount: d("100")},
		rule.Reward{Kind: rule.RewardCoupon, Template: "welcome", Count: 2},
		rule.Reason{Rule: "r1", Formula: "amount × 1.5", Inputs: map[string]string{"amount": "200.00"}, Raw: d("300.000"), Cut: cut, Note: "capped"},
		rule.Reason{},
	}
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("Marshal(%#v): %v", v, err)
			continue
		}
		p := reflect.New(reflect.TypeOf(v))
		if err := json.Unmarshal(b, p.Interface()); err != nil {
			t.Errorf("Unmarshal(%s): %v", b, err)
			continue
		}
		if diff := cmp.Diff(v, p.Elem().Interface()); diff != "" {
			t.Errorf("round trip of %s (-want +got):\n%s", b, diff)
		}
	}
}

// TestOddInputs feeds out-of-range values everywhere; nothing may panic.
func TestOddInputs(t *testing.T) {
	huge := rule.Date{Year: 1 << 40, Month: 99, Day: -5}
	var zero time.Time
	_ = huge.Start(nil)
	_ = huge.AddMonths(1 << 40)
	_, _ = huge.MarshalText()
	_ = rule.DateOf(zero, nil)
	for _, v := range []rule.Validity{
		{Kind: rule.MonthsAfter, N: 1 << 60},
		{Kind: rule.AnnualDate, Month: -3, Day: 1 << 40},
		{Kind: rule.FixedRange, From: huge, To: huge},
		{},
	} {
		if end, ok := v.Expiry(zero, nil); ok {
			t.Errorf("%+v.Expiry = %v, want none", v, end)
		}
		_, _ = v.Begins(nil)
	}
	for _, p := range []rule.Period{rule.Day, rule.Week, rule.Month, rule.Year, rule.Total, "x"} {
		_, _, _ = p.Start(zero, nil), p.End(zero, nil), p.Key(zero, nil)
	}
	_ = rule.Rounding{Scale: -1 << 30}.Round(decimal.Decimal{})
	_ = rule.Rounding{Scale: 1 << 30}.Round(decimal.New(1, -1<<20))
	_, _, _ = rule.Formula{}.Apply(event.Event{})
	_ = rule.Reward{}.Target()
}

// ParseDate refuses text not of the form YYYY-MM-DD with an error wrapping
// event.ErrInvalidArgument; a Date in a definition, read by UnmarshalText,
// with one wrapping ErrInvalidDefinition alone.
func TestParseDateRefusals(t *testing.T) {
	if d, err := rule.ParseDate("2024-02-29"); err != nil || d != (rule.Date{Year: 2024, Month: time.February, Day: 29}) {
		t.Errorf("ParseDate(2024-02-29) = %v, %v", d, err)
	}
	for _, s := range []string{"", "2025-3-1", "2025-02-29", "2025-13-01", "junk"} {
		if _, err := rule.ParseDate(s); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("ParseDate(%q) = %v, want an error wrapping ErrInvalidArgument", s, err)
		}
		var d rule.Date
		err := json.Unmarshal([]byte(`"`+s+`"`), &d)
		if s == "" {
			continue // the zero Date
		}
		if !errors.Is(err, rule.ErrInvalidDefinition) || errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("Date %q from JSON: %v, want an error wrapping ErrInvalidDefinition only", s, err)
		}
	}
}

// Date.At is the day's instant at a wall clock: the wall time itself,
// the first of the two where the clocks go back across it, and the end
// of the gap where the clocks skip it (New York, 8 March 2026: from 02:00
// EST to 03:00 EDT; 1 November 2026: from 02:00 EDT back to 01:00 EST).
// time.Date gives 01:30 EST for 02:30 on 8 March, an hour before any
// instant whose wall clock reads 02:30 or later.
func TestDateAt(t *testing.T) {
	ny := loadZone(t, "America/New_York")
	tests := []struct {
		name                 string
		d                    rule.Date
		hour, min, sec, nsec int
		loc                  *time.Location
		want                 string
	}{
		{"before the gap", rule.Date{2026, 3, 8}, 1, 30, 0, 0, ny, "2026-03-08T01:30:00-05:00"},
		{"in the gap", rule.Date{2026, 3, 8}, 2, 30, 0, 0, ny, "2026-03-08T03:00:00-04:00"},
		{"gap start", rule.Date{2026, 3, 8}, 2, 0, 0, 0, ny, "2026-03-08T03:00:00-04:00"},
		{"last nanosecond of the gap", rule.Date{2026, 3, 8}, 2, 59, 59, 999999999, ny, "2026-03-08T03:00:00-04:00"},
		{"gap end", rule.Date{2026, 3, 8}, 3, 0, 0, 0, ny, "2026-03-08T03:00:00-04:00"},
		{"after the gap", rule.Date{2026, 3, 8}, 3, 30, 0, 0, ny, "2026-03-08T03:30:00-04:00"},
		{"twice: the first", rule.Date{2026, 11, 1}, 1, 30, 0, 0, ny, "2026-11-01T01:30:00-04:00"},
		{"after the repeat", rule.Date{2026, 11, 1}, 2, 30, 0, 0, ny, "2026-11-01T02:30:00-05:00"},
		{"an ordinary day", rule.Date{2026, 3, 9}, 2, 30, 0, 0, ny, "2026-03-09T02:30:00-04:00"},
		{"nil is UTC", rule.Date{2026, 3, 8}, 2, 30, 0, 0, nil, "2026-03-08T02:30:00Z"},
		{"midnight skipped", rule.Date{2026, 9, 6}, 0, 0, 0, 0, loadZone(t, "America/Santiago"), "2026-09-06T01:00:00-03:00"},
		{"midnight twice", rule.Date{2021, 10, 29}, 0, 0, 0, 0, loadZone(t, "Asia/Gaza"), "2021-10-29T00:00:00+03:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.d.At(tt.hour, tt.min, tt.sec, tt.nsec, tt.loc)
			if s := got.Format(time.RFC3339Nano); s != tt.want {
				t.Errorf("%v.At(%02d:%02d:%02d.%09d) = %s, want %s", tt.d, tt.hour, tt.min, tt.sec, tt.nsec, s, tt.want)
			}
			if tt.hour == 0 && tt.min == 0 && !got.Equal(tt.d.Start(tt.loc)) {
				t.Errorf("At(00:00) = %v, Start = %v", got, tt.d.Start(tt.loc))
			}
		})
	}
}

// TestProblemsAddField: a condition's problem (an *event.FieldError) is
// recorded at the path joined with the field it names, alone or in a
// joined list, with its cause, which errors.Is still finds; another
// error stays at the path.
func TestProblemsAddField(t *testing.T) {
	c := event.Condition{Attr: "store", Op: event.In, Values: []event.Value{event.Int(1)}}
	typ := event.Type{Name: "order", Attributes: []event.Attr{{Name: "store", Kind: event.String}}}
	var ps rule.Problems
	ps.Add("rules[0].conditions[0]", event.Condition{Attr: "colour", Op: event.Eq}.Check(typ)[0])
	ps.Add("rules[0].conditions[1]", errors.Join(c.Check(typ)...))
	ps.Add("rules[0].conditions[2]", errors.Join(event.Condition{Attr: "store", Op: "like"}.Check(typ)...))
	ps.Add("rules[0]", errors.New("plain"))
	var got []string
	for _, p := range ps.List {
		got = append(got, p.Error())
	}
	want := []string{
		`rules[0].conditions[0].attr: unknown attribute "colour" in type "order"`,
		"rules[0].conditions[1].values[0]: attribute has the wrong type: got integer, want string",
		`rules[0].conditions[2].op: unknown operator "like"`,
		"rules[0]: plain",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if err := ps.Err(); !errors.Is(err, event.ErrUnknownAttribute) || !errors.Is(err, event.ErrAttributeType) {
		t.Errorf("%v: want it to wrap event.ErrUnknownAttribute and event.ErrAttributeType", err)
	}
}
