package report_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
)

// TestWeeklyAndYearly checks the week and year grains on the hand-worked
// history (smallHistory), worked by hand. 1 March 2025 is a Saturday:
// the first week is cut to Saturday and Sunday (ISO week 9, from Monday
// 24 February); the weeks then run Monday to Sunday, the last cut to
// Friday 4 April (week 14, from Monday 31 March).
//
//   - 1–2 March: a and b join, a reaches Gold; 300 + 800 + the task's 50
//     points issued; two welcome coupons issued, b's used, a's expired;
//     200 recharged, 80 spent; the task completed once.
//   - 3–9 March: a redeems 100 (5 March): 1,050 held.
//   - 10–30 March: nothing.
//   - 31 March–4 April: 1,000 points expire (1 April), a drops to Silver
//     (3 April): 50 held.
//
// A yearly report from 1 December 2024 has 2024 (cut to December,
// nothing) and 2025 (all of it).
func TestWeeklyAndYearly(t *testing.T) {
	p := smallHistory(t)
	type fig struct {
		Name, From, To                         string
		Silver, Gold, Joins, Up, Down          int64
		Issued, Redeemed, Expired, Held, Float string
		CIssued, CUsed, CExpired, Completions  int64
	}
	figures := func(r *report.Report) []fig {
		var out []fig
		for _, pd := range r.Periods {
			lv, pt, cp := pd.Levels, pd.Points[0], pd.Coupons[0]
			out = append(out, fig{pd.Name, pd.From.String(), pd.To.String(), lv.Members[0].Members, lv.Members[1].Members, lv.Joins, lv.Upgrades, lv.Downgrades,
				pt.Issued.String(), pt.Redeemed.String(), pt.Expired.String(), pt.Outstanding.String(), pd.Value.Float.String(),
				cp.Issued, cp.Used, cp.Expired, pd.Tasks[0].Completions})
		}
		return out
	}
	quiet := func(name, from, to string) fig {
		return fig{Name: name, From: from, To: to, Silver: 1, Gold: 1, Issued: "0", Redeemed: "0", Expired: "0", Held: "1050", Float: "120"}
	}
	r, err := report.Build(context.Background(), p, report.Query{From: date(3, 1), To: date(4, 4), Grain: report.Week})
	if err != nil {
		t.Fatal(err)
	}
	want := []fig{
		{"2025-W09", "2025-03-01", "2025-03-02", 1, 1, 2, 1, 0, "1150", "0", "0", "1150", "120", 2, 1, 1, 1},
		{"2025-W10", "2025-03-03", "2025-03-09", 1, 1, 0, 0, 0, "0", "100", "0", "1050", "120", 0, 0, 0, 0},
		quiet("2025-W11", "2025-03-10", "2025-03-16"),
		quiet("2025-W12", "2025-03-17", "2025-03-23"),
		quiet("2025-W13", "2025-03-24", "2025-03-30"),
		{"2025-W14", "2025-03-31", "2025-04-04", 2, 0, 0, 0, 1, "0", "0", "1000", "50", "120", 0, 0, 0, 0},
	}
	if diff := cmp.Diff(want, figures(r)); diff != "" {
		t.Errorf("weekly (-want +got):\n%s", diff)
	}

	r, err = report.Build(context.Background(), p, report.Query{From: rule.Date{Year: 2024, Month: 12, Day: 1}, To: date(12, 31), Grain: report.Year})
	if err != nil {
		t.Fatal(err)
	}
	want = []fig{
		{"2024", "2024-12-01", "2024-12-31", 0, 0, 0, 0, 0, "0", "0", "0", "0", "0", 0, 0, 0, 0},
		{"2025", "2025-01-01", "2025-12-31", 2, 0, 2, 1, 1, "1150", "100", "1000", "50", "120", 2, 1, 1, 1},
	}
	if diff := cmp.Diff(want, figures(r)); diff != "" {
		t.Errorf("yearly (-want +got):\n%s", diff)
	}
}

// TestWeekAcrossTheYear checks the names of weeks around a new year: the
// week from Monday 30 December 2024 is ISO week 1 of 2025.
func TestWeekAcrossTheYear(t *testing.T) {
	r, err := report.Build(context.Background(), smallHistory(t), report.Query{
		From: rule.Date{Year: 2024, Month: 12, Day: 28}, To: rule.Date{Year: 2025, Month: 1, Day: 6}, Grain: report.Week})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, pd := range r.Periods {
		got = append(got, pd.Name+" "+pd.From.String()+".."+pd.To.String())
	}
	want := []string{"2024-W52 2024-12-28..2024-12-29", "2025-W01 2024-12-30..2025-01-05", "2025-W02 2025-01-06..2025-01-06"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("weeks (-want +got):\n%s", diff)
	}
}
