package engine

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// sameAsMarshal checks MemberJSON against json.Marshal on m: byte for
// byte when it writes, and a decline only for what it leaves to
// json.Marshal.
func sameAsMarshal(t *testing.T, m migrate.Member, wantOK bool) {
	t.Helper()
	std, err := json.Marshal(m)
	got, ok := MemberJSON(&m)
	if ok != wantOK {
		t.Fatalf("MemberJSON(%+v) ok = %v, want %v", m, ok, wantOK)
	}
	if ok && (err != nil || string(got) != string(std)) {
		t.Errorf("MemberJSON:\n got %s\nwant %s (%v)", got, std, err)
	}
}

// MemberJSON writes a member's opening state byte for byte as
// json.Marshal does (it is the request's fingerprint), every optional
// field set and unset, and declines the text and times json.Marshal
// writes otherwise or refuses.
func TestMemberJSONMatchesMarshal(t *testing.T) {
	sh := time.FixedZone("CST", 8*3600)
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	d := decimal.RequireFromString
	full := migrate.Member{RequestID: "members.csv:2", Member: "m1", Operator: "op.migrate", At: at,
		Profile: map[string]string{"phone": "13800000000", "city": "Hangzhou", "a": ""}, Tags: []string{"staff", "vip"},
		Level: "Gold", TermEnd: time.Date(2026, 6, 1, 0, 0, 0, 5, sh), Growth: d("1200.50"), Lifetime: d("3000"),
		GrowthDays:   []migrate.GrowthDay{{Day: rule.Date{Year: 2025, Month: 5, Day: 31}, Growth: d("-20.50")}, {Day: rule.Date{Year: 2025, Month: 1, Day: 2}, Growth: d("0")}},
		GiftedLevels: []string{"Silver", "Gold"},
		OwedGifts:    []migrate.OwedGift{{Level: "Silver", Reward: "coupon:silver-cash", Place: 2}, {Level: "Gold", Reward: "pack:gold"}},
		Plans:        []migrate.Plan{{Plan: "Plus", Expires: time.Date(2026, 3, 10, 12, 0, 0, 0, sh), Since: at.Add(-time.Hour)}, {Plan: "Max"}},
		Points: []migrate.Points{
			{Program: "mall", Lots: []migrate.Lot{{Amount: d("100"), Expires: time.Date(2026, 1, 1, 0, 0, 0, 0, sh), Release: at}, {Amount: d("0.5")}},
				Pending: []migrate.Lot{{Amount: d("7"), Release: at.Add(time.Hour), Expires: at.AddDate(1, 0, 0)}}},
			{Program: "air"},
		},
		Value:   &migrate.Value{Balance: d("12.34"), Recharged: d("100"), Spent: d("87.66"), Refunded: d("0.50"), Withdrawn: d("0.50")},
		Coupons: []migrate.Coupon{{Template: "winback-30", Expires: at.AddDate(0, 1, 0), Code: "OLD-1"}, {Template: "t"}},
		Achievements: []migrate.Achievement{{Achievement: "gold-club", At: at.Add(-time.Minute), Source: "level", By: "Gold"},
			{Achievement: "first-order"}},
	}
	// full sets every field, nested ones too: a field added to the
	// member fails here until it is set, and then until MemberJSON
	// writes it.
	if path := zeroField(reflect.ValueOf(full), "Member"); path != "" {
		t.Fatalf("full leaves %s unset", path)
	}
	for _, m := range []migrate.Member{
		{Member: "m1", At: at},
		{},
		{Member: "m1", At: at, Growth: d("0.00"), Lifetime: d("-0"), Value: &migrate.Value{}},
		{Member: "m1", At: at, GiftedLevels: []string{}}, // none gifted: "[]", not left out
		{Member: "m1", At: at, OwedGifts: []migrate.OwedGift{{Level: "Silver", Reward: "pack:p", Place: -1}, {Level: "Silver", Reward: "pack:p"}}},
		{Member: "m1", At: at, Growth: d("1e-3"), Lifetime: d("12345678901234567890.123")},
		{Member: "m1", At: time.Date(2025, 6, 1, 8, 30, 0, 120000000, time.FixedZone("", -(3*3600+30*60)))},
		full,
	} {
		sameAsMarshal(t, m, true)
	}
	for _, m := range []migrate.Member{
		{Member: "m<1>", At: at},
		{Member: "m1", Operator: "李", At: at},
		{Member: "m1", At: at, Profile: map[string]string{"city": "a&b"}},
		{Member: "m1", At: at, Profile: map[string]string{"c\"ity": "x"}},
		{Member: "m1", At: at, Tags: []string{"a\\b"}},
		{Member: "m1", At: at, Coupons: []migrate.Coupon{{Template: "t", Code: "a\nb"}}},
		{Member: "m1", At: at, OwedGifts: []migrate.OwedGift{{Level: "金", Reward: "coupon:t"}}},
		{Member: "m1", At: at, GiftedLevels: []string{"Gold", "金"}},
		{Member: "m1", At: at, Plans: []migrate.Plan{{Plan: "Plus", Expires: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		{Member: "m1", At: at, Achievements: []migrate.Achievement{{Achievement: "a", By: "王"}}},
		{Member: "m1", At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Member: "m1", At: time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("", 30))},
		{Member: "m1", At: at, GrowthDays: []migrate.GrowthDay{{Growth: d("5")}}},
		{Member: "m1", At: at, GrowthDays: []migrate.GrowthDay{{Day: rule.Date{Year: 2025, Month: 2, Day: 30}, Growth: d("5")}}},
	} {
		sameAsMarshal(t, m, false)
	}
}

// zeroField returns the path of a zero field of v (through structs,
// pointers and the first element of slices), or "".
func zeroField(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return path
		}
		return zeroField(v.Elem(), path)
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return path
		}
		if v.Kind() == reflect.Slice {
			return zeroField(v.Index(0), path+"[0]")
		}
		return ""
	case reflect.Struct:
		if v.Type().PkgPath() != "github.com/memberkit/membership/migrate" {
			if v.IsZero() {
				return path
			}
			return "" // a time or a decimal
		}
		for i := range v.NumField() {
			if p := zeroField(v.Field(i), path+"."+v.Type().Field(i).Name); p != "" {
				return p
			}
		}
		return ""
	}
	if v.IsZero() {
		return path
	}
	return ""
}

// FuzzMemberJSON: whatever MemberJSON writes, json.Marshal writes too.
func FuzzMemberJSON(f *testing.F) {
	f.Add("m1", "op", "city", "Hangzhou", "staff", "12.50", "3", int64(1748736000), int64(0), 8*3600)
	f.Fuzz(func(t *testing.T, member, op, attr, val, tag, amt, growth string, sec, nsec int64, off int) {
		a, err1 := decimal.NewFromString(amt)
		g, err2 := decimal.NewFromString(growth)
		if err1 != nil || err2 != nil {
			return
		}
		at := time.Unix(sec, nsec).In(time.FixedZone("", off%(30*3600)))
		m := migrate.Member{Member: member, Operator: op, At: at, Profile: map[string]string{attr: val, "z": val}, Tags: []string{tag},
			Growth: g, Points: []migrate.Points{{Program: tag, Lots: []migrate.Lot{{Amount: a, Expires: at}}}}, Value: &migrate.Value{Balance: a, Spent: g}}
		std, err := json.Marshal(m)
		if got, ok := MemberJSON(&m); ok && (err != nil || string(got) != string(std)) {
			t.Errorf("MemberJSON:\n got %s\nwant %s (%v)", got, std, err)
		}
	})
}
