package rule_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/rule"
)

func TestValidityExpiry(t *testing.T) {
	tests := []struct {
		name  string
		start string // wall time in the zone
		v     rule.Validity
		want  string // the expiry, as a date whose 00:00 it is; "" for none
	}{
		{"article month ends", "2026-11-24 15:04", rule.Validity{Kind: rule.MonthEnds, N: 1}, "2027-01-01"},
		{"article months after", "2026-11-24 15:04", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2026-12-25"},
		{"permanent", "2026-11-24 15:04", rule.Validity{Kind: rule.Permanent}, ""},
		// The examples of the kinds' docs.
		{"doc month ends", "2026-11-24 10:00", rule.Validity{Kind: rule.MonthEnds, N: 1}, "2027-01-01"},
		{"doc months after", "2026-03-01 10:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2026-04-02"},
		{"doc days after", "2026-03-01 10:00", rule.Validity{Kind: rule.DaysAfter, N: 30}, "2026-03-31"},
		{"31 Jan + 1 month, non-leap", "2027-01-31 10:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2027-03-01"},
		{"31 Jan + 1 month, leap", "2028-01-31 10:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2028-03-01"},
		{"31 Jan + 13 months into leap Feb", "2027-01-31 10:00", rule.Validity{Kind: rule.MonthsAfter, N: 13}, "2028-03-01"},
		{"31 Mar + 1 month", "2026-03-31 08:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2026-05-01"},
		{"15 Dec + 2 months across year end", "2026-12-15 08:00", rule.Validity{Kind: rule.MonthsAfter, N: 2}, "2027-02-16"},
		{"annual 29 Feb, leap year start", "2028-01-10 09:00", rule.Validity{Kind: rule.AnnualDate, Month: time.February, Day: 29}, "2028-03-01"},
		{"annual 29 Feb, non-leap start", "2027-01-10 09:00", rule.Validity{Kind: rule.AnnualDate, Month: time.February, Day: 29}, "2027-03-01"},
		{"annual 29 Feb, start after it", "2027-03-05 09:00", rule.Validity{Kind: rule.AnnualDate, Month: time.February, Day: 29}, "2028-03-01"},
		{"annual 29 Feb, start after it in leap year", "2028-03-01 00:00", rule.Validity{Kind: rule.AnnualDate, Month: time.February, Day: 29}, "2029-03-01"},
		{"annual 29 Feb, start on the fallback day", "2027-02-28 23:59:59", rule.Validity{Kind: rule.AnnualDate, Month: time.February, Day: 29}, "2027-03-01"},
		{"annual date equal to start day", "2026-11-24 15:04", rule.Validity{Kind: rule.AnnualDate, Month: time.November, Day: 24}, "2026-11-25"},
		{"annual 31 Dec on 31 Dec", "2026-12-31 23:59:59", rule.Validity{Kind: rule.AnnualDate, Month: time.December, Day: 31}, "2027-01-01"},
		{"annual date passed", "2026-11-25 00:00", rule.Validity{Kind: rule.AnnualDate, Month: time.November, Day: 24}, "2027-11-25"},
		{"month ends 0", "2026-12-15 08:00", rule.Validity{Kind: rule.MonthEnds}, "2027-01-01"},
		{"month ends 0 on the last day", "2026-12-31 23:59:59", rule.Validity{Kind: rule.MonthEnds}, "2027-01-01"},
		{"month ends 12 across a year end", "2026-12-15 08:00", rule.Validity{Kind: rule.MonthEnds, N: 12}, "2028-01-01"},
		{"month ends 12 from January", "2026-01-31 08:00", rule.Validity{Kind: rule.MonthEnds, N: 12}, "2027-02-01"},
		{"days after 1 at 23:59:59", "2026-11-24 23:59:59", rule.Validity{Kind: rule.DaysAfter, N: 1}, "2026-11-25"},
		{"days after 1 at 00:00", "2026-11-24 00:00", rule.Validity{Kind: rule.DaysAfter, N: 1}, "2026-11-25"},
		{"days after 7 at 23:59:59", "2026-11-24 23:59:59", rule.Validity{Kind: rule.DaysAfter, N: 7}, "2026-12-01"},
		{"days after 7 at 00:00", "2026-11-24 00:00", rule.Validity{Kind: rule.DaysAfter, N: 7}, "2026-12-01"},
		{"days after across a year end", "2026-12-30 12:00", rule.Validity{Kind: rule.DaysAfter, N: 3}, "2027-01-02"},
		{"fixed range", "2026-11-24 15:04", rule.Validity{Kind: rule.FixedRange, From: rule.Date{2026, 11, 1}, To: rule.Date{2026, 11, 30}}, "2026-12-01"},
		{"invalid: no expiry", "2026-11-24 15:04", rule.Validity{Kind: rule.MonthsAfter}, ""},
	}
	for _, zoneName := range zones {
		loc := loadZone(t, zoneName)
		for _, tt := range tests {
			t.Run(zoneName+"/"+tt.name, func(t *testing.T) {
				got, ok := tt.v.Expiry(wall(t, tt.start, loc), loc)
				if tt.want == "" {
					if ok || !got.IsZero() {
						t.Fatalf("Expiry = %v, %v; want none", got, ok)
					}
					return
				}
				want := wall(t, tt.want, loc)
				if !ok || !got.Equal(want) {
					t.Fatalf("Expiry = %v, %v; want %v", got, ok, want)
				}
				if h, m, s := got.In(loc).Clock(); h+m+s != 0 {
					t.Errorf("Expiry %v is not local midnight", got.In(loc))
				}
			})
		}
	}
}

func TestValidityExpiryInstant(t *testing.T) {
	// One instant, two zones: the date that counts is the zone's.
	at := time.Date(2026, 11, 24, 17, 0, 0, 0, time.UTC) // 25 Nov 01:00 in Shanghai, 24 Nov 18:00 in Berlin
	v := rule.Validity{Kind: rule.DaysAfter, N: 1}
	got := map[string]string{}
	for _, zoneName := range zones {
		loc := loadZone(t, zoneName)
		end, _ := v.Expiry(at, loc)
		got[zoneName] = end.In(loc).Format(time.RFC3339)
	}
	want := map[string]string{
		"Asia/Shanghai": "2026-11-26T00:00:00+08:00",
		"Europe/Berlin": "2026-11-25T00:00:00+01:00",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Expiry (-want +got):\n%s", diff)
	}
}

func TestValidityExpiryDST(t *testing.T) {
	tests := []struct {
		zone  string
		start string
		v     rule.Validity
		want  string // RFC 3339 in the zone
	}{
		{"Europe/Berlin", "2026-03-29 10:00", rule.Validity{Kind: rule.DaysAfter, N: 1}, "2026-03-30T00:00:00+02:00"},
		{"Europe/Berlin", "2026-03-28 10:00", rule.Validity{Kind: rule.DaysAfter, N: 1}, "2026-03-29T00:00:00+01:00"},
		{"Europe/Berlin", "2026-03-10 10:00", rule.Validity{Kind: rule.MonthEnds}, "2026-04-01T00:00:00+02:00"},
		{"Europe/Berlin", "2026-02-28 10:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2026-03-29T00:00:00+01:00"},
		{"Europe/Berlin", "2026-02-28 10:00", rule.Validity{Kind: rule.AnnualDate, Month: time.March, Day: 29}, "2026-03-30T00:00:00+02:00"},
		{"Europe/Berlin", "2026-10-25 12:00", rule.Validity{Kind: rule.DaysAfter, N: 1}, "2026-10-26T00:00:00+01:00"},
		{"Europe/Berlin", "2026-10-05 12:00", rule.Validity{Kind: rule.MonthEnds}, "2026-11-01T00:00:00+01:00"},
		{"Europe/Berlin", "2026-09-25 12:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2026-10-26T00:00:00+01:00"},
		{"Europe/Berlin", "2026-10-24 12:00", rule.Validity{Kind: rule.DaysAfter, N: 1}, "2026-10-25T00:00:00+02:00"},
		// Santiago skips midnight when summer time starts: the day begins at 01:00.
		{"America/Santiago", "2026-09-05 12:00", rule.Validity{Kind: rule.DaysAfter, N: 1}, "2026-09-06T01:00:00-03:00"},
		// Gaza put the clocks back from 01:00 to 00:00 on 2021-10-29, so that
		// midnight came twice: 24:00 of the 28th is the first of them.
		{"Asia/Gaza", "2021-10-28 12:00", rule.Validity{Kind: rule.DaysAfter, N: 1}, "2021-10-29T00:00:00+03:00"},
		{"Asia/Gaza", "2021-09-10 12:00", rule.Validity{Kind: rule.MonthsAfter, N: 1}, "2021-10-11T00:00:00+03:00"},
	}
	for _, tt := range tests {
		t.Run(tt.zone+"/"+tt.start+"/"+string(tt.v.Kind), func(t *testing.T) {
			loc := loadZone(t, tt.zone)
			got, ok := tt.v.Expiry(wall(t, tt.start, loc), loc)
			if !ok {
				t.Fatal("Expiry: no expiry")
			}
			if g := got.In(loc).Format(time.RFC3339); g != tt.want {
				t.Errorf("Expiry = %s, want %s", g, tt.want)
			}
		})
	}
}

func TestValidityBegins(t *testing.T) {
	loc := loadZone(t, "Europe/Berlin")
	v := rule.Validity{Kind: rule.FixedRange, From: rule.Date{2026, 3, 29}, To: rule.Date{2026, 4, 5}}
	got, ok := v.Begins(loc)
	if want := "2026-03-29T00:00:00+01:00"; !ok || got.In(loc).Format(time.RFC3339) != want {
		t.Errorf("Begins = %v, %v; want %s", got, ok, want)
	}
	if _, ok := (rule.Validity{Kind: rule.DaysAfter, N: 1}).Begins(loc); ok {
		t.Error("Begins of days_after: ok")
	}
}

func TestValidityCheck(t *testing.T) {
	tests := []struct {
		name string
		v    rule.Validity
		want []string
	}{
		{"permanent", rule.Validity{Kind: rule.Permanent}, nil},
		{"annual", rule.Validity{Kind: rule.AnnualDate, Month: 2, Day: 29}, nil},
		{"annual 30 Feb", rule.Validity{Kind: rule.AnnualDate, Month: 2, Day: 30}, []string{"day: 30 February does not exist"}},
		{"annual day 0", rule.Validity{Kind: rule.AnnualDate, Month: 4, Day: 0}, []string{"day: 0 April does not exist"}},
		{"annual month 13", rule.Validity{Kind: rule.AnnualDate, Month: 13, Day: 1}, []string{"month: must be 1 to 12, got 13"}},
		{"month ends 0", rule.Validity{Kind: rule.MonthEnds}, nil},
		{"month ends -1", rule.Validity{Kind: rule.MonthEnds, N: -1}, []string{"n: must be 0 to 1200 for month_ends, got -1"}},
		{"months after 0", rule.Validity{Kind: rule.MonthsAfter}, []string{"n: must be >= 1 for months_after"}},
		{"months after too many", rule.Validity{Kind: rule.MonthsAfter, N: 1201}, []string{"n: must be <= 1200 for months_after"}},
		{"days after 0", rule.Validity{Kind: rule.DaysAfter}, []string{"n: must be >= 1 for days_after"}},
		{"days after 1", rule.Validity{Kind: rule.DaysAfter, N: 1}, nil},
		{"fixed range one day", rule.Validity{Kind: rule.FixedRange, From: rule.Date{2026, 1, 1}, To: rule.Date{2026, 1, 1}}, nil},
		{"fixed range reversed", rule.Validity{Kind: rule.FixedRange, From: rule.Date{2026, 1, 2}, To: rule.Date{2026, 1, 1}}, []string{"to: 2026-01-01 is before from 2026-01-02"}},
		{"fixed range missing", rule.Validity{Kind: rule.FixedRange, To: rule.Date{2026, 2, 30}}, []string{"from: required", "to: 2026-02-30 does not exist"}},
		{"unknown kind", rule.Validity{Kind: "weekly"}, []string{`kind: unknown validity kind "weekly" (want permanent, annual_date, month_ends, months_after, days_after or fixed_range)`}},
		{"empty kind", rule.Validity{}, []string{`kind: unknown validity kind "" (want permanent, annual_date, month_ends, months_after, days_after or fixed_range)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, problems(t, tt.v.Check())); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}
