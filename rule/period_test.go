package rule_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/rule"
)

type bucket struct{ Start, End, Key string }

func bucketOf(p rule.Period, at time.Time, loc *time.Location, layout string) bucket {
	f := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format(layout)
	}
	return bucket{f(p.Start(at, loc)), f(p.End(at, loc)), p.Key(at, loc)}
}

func TestPeriod(t *testing.T) {
	tests := []struct {
		name string
		p    rule.Period
		at   string // wall time in the zone
		want bucket // wall times in the zone
	}{
		{"day", rule.Day, "2026-11-24 15:04", bucket{"2026-11-24 00:00", "2026-11-25 00:00", "d2026-11-24"}},
		{"day at 23:59:59 of 31 Dec", rule.Day, "2026-12-31 23:59:59", bucket{"2026-12-31 00:00", "2027-01-01 00:00", "d2026-12-31"}},
		{"day at 00:00 of 1 Jan", rule.Day, "2027-01-01 00:00", bucket{"2027-01-01 00:00", "2027-01-02 00:00", "d2027-01-01"}},
		{"week on Tuesday", rule.Week, "2026-11-24 15:04", bucket{"2026-11-23 00:00", "2026-11-30 00:00", "w2026-11-23"}},
		{"week at Sunday 23:59:59", rule.Week, "2026-11-29 23:59:59", bucket{"2026-11-23 00:00", "2026-11-30 00:00", "w2026-11-23"}},
		{"week at Monday 00:00", rule.Week, "2026-11-30 00:00", bucket{"2026-11-30 00:00", "2026-12-07 00:00", "w2026-11-30"}},
		{"week spanning a year end", rule.Week, "2027-01-01 12:00", bucket{"2026-12-28 00:00", "2027-01-04 00:00", "w2026-12-28"}},
		{"month", rule.Month, "2026-11-24 15:04", bucket{"2026-11-01 00:00", "2026-12-01 00:00", "m2026-11"}},
		{"month at 23:59:59 of 31 Dec", rule.Month, "2026-12-31 23:59:59", bucket{"2026-12-01 00:00", "2027-01-01 00:00", "m2026-12"}},
		{"month at 00:00 of 1 Jan", rule.Month, "2027-01-01 00:00", bucket{"2027-01-01 00:00", "2027-02-01 00:00", "m2027-01"}},
		{"year at 23:59:59 of 31 Dec", rule.Year, "2026-12-31 23:59:59", bucket{"2026-01-01 00:00", "2027-01-01 00:00", "y2026"}},
		{"year at 00:00 of 1 Jan", rule.Year, "2027-01-01 00:00", bucket{"2027-01-01 00:00", "2028-01-01 00:00", "y2027"}},
		{"total", rule.Total, "2026-11-24 15:04", bucket{"", "", "total"}},
		{"unknown", "fortnight", "2026-11-24 15:04", bucket{"", "", ""}},
	}
	for _, zoneName := range zones {
		loc := loadZone(t, zoneName)
		for _, tt := range tests {
			t.Run(zoneName+"/"+tt.name, func(t *testing.T) {
				got := bucketOf(tt.p, wall(t, tt.at, loc), loc, "2006-01-02 15:04")
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("bucket (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestPeriodDST(t *testing.T) {
	loc := loadZone(t, "Europe/Berlin")
	tests := []struct {
		name string
		p    rule.Period
		at   string
		want bucket // RFC 3339
	}{
		{"day summer time starts", rule.Day, "2026-03-29 12:00", bucket{"2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "d2026-03-29"}},
		{"day summer time ends", rule.Day, "2026-10-25 12:00", bucket{"2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "d2026-10-25"}},
		{"week summer time starts", rule.Week, "2026-03-29 23:59:59", bucket{"2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "w2026-03-23"}},
		{"month summer time ends", rule.Month, "2026-10-31 23:59:59", bucket{"2026-10-01T00:00:00+02:00", "2026-11-01T00:00:00+01:00", "m2026-10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bucketOf(tt.p, wall(t, tt.at, loc), loc, time.RFC3339)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("bucket (-want +got):\n%s", diff)
			}
		})
	}
}

// Where the clocks go back across midnight (Asia/Gaza, 2021-10-29: 01:00
// back to 00:00), the day starts at the first 00:00: an instant in the
// hour between the two midnights is in the day, and after its start.
func TestPeriodMidnightTwice(t *testing.T) {
	loc := loadZone(t, "Asia/Gaza")
	at := time.Date(2021, 10, 28, 21, 30, 0, 0, time.UTC) // 00:30 +03:00, before the second midnight
	tests := []struct {
		p    rule.Period
		want bucket
	}{
		{rule.Day, bucket{"2021-10-29T00:00:00+03:00", "2021-10-30T00:00:00+02:00", "d2021-10-29"}},
		{rule.Week, bucket{"2021-10-25T00:00:00+03:00", "2021-11-01T00:00:00+02:00", "w2021-10-25"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.p), func(t *testing.T) {
			got := bucketOf(tt.p, at, loc, time.RFC3339)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("bucket (-want +got):\n%s", diff)
			}
			if start := tt.p.Start(at, loc); start.After(at) {
				t.Errorf("Start %v is after %v, an instant of its period", start, at)
			}
		})
	}
}

func TestPeriodValid(t *testing.T) {
	got := map[rule.Period]bool{}
	for _, p := range []rule.Period{rule.Day, rule.Week, rule.Month, rule.Year, rule.Total, "", "Day"} {
		got[p] = p.Valid()
	}
	want := map[rule.Period]bool{"day": true, "week": true, "month": true, "year": true, "total": true, "": false, "Day": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Valid (-want +got):\n%s", diff)
	}
}
