package insight_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/examples/internal/insight"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// twoMonths is a hand-made monthly report: two levels, a point program
// valued at 0.01, two coupon templates.
func twoMonths() *report.Report {
	return &report.Report{Grain: report.Month, Periods: []report.Period{
		{
			Name:   "2025-01",
			Levels: &report.Levels{Members: []level.Count{{Name: "Silver", Members: 90}, {Name: "Gold", Members: 10}}},
			Points: []report.Points{{Program: "mall", Opening: d("0"), Issued: d("12000"), Redeemed: d("2000"), Expired: d("0"),
				Other: d("0"), Outstanding: d("10000"), Rate: d("0.01"), Liability: d("100"), HasRate: true}},
			Coupons: []report.Coupons{
				{Template: "welcome", Stat: coupon.Stat{Issued: 100, Used: 30, Expired: 0, AmountOff: d("300")}},
				{Template: "gold-gift", Stat: coupon.Stat{Issued: 10, Used: 1, AmountOff: d("30")}},
			},
		},
		{
			Name:   "2025-02",
			Levels: &report.Levels{Members: []level.Count{{Name: "Silver", Members: 1180}, {Name: "Gold", Members: 20}}},
			Points: []report.Points{{Program: "mall", Opening: d("10000"), Issued: d("4000"), Redeemed: d("1000"), Expired: d("1600"),
				Other: d("0"), Outstanding: d("11400"), Rate: d("0.01"), Liability: d("114"), HasRate: true}},
			Coupons: []report.Coupons{
				{Template: "welcome", Stat: coupon.Stat{Issued: 50, Used: 15, Expired: 40, AmountOff: d("150")}},
				{Template: "gold-gift", Stat: coupon.Stat{Issued: 10, Used: 4, AmountOff: d("120.5")}},
			},
		},
	}}
}

// TestFromReport checks the page's arrangement: the mix per month, each
// program's series and sums, each template's funnel summed over months.
func TestFromReport(t *testing.T) {
	pg, err := insight.FromReport("Shop", "a test", "yuan", twoMonths(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &insight.Page{
		Title: "Shop", Span: "a test", Currency: "yuan",
		Months:   []string{"2025-01", "2025-02"},
		Ladder:   []string{"Silver", "Gold"},
		LevelMix: [][]int64{{90, 10}, {1180, 20}},
		Points: []insight.Points{{Program: "mall", Rate: d("0.01"), HasRate: true,
			Outstanding: []decimal.Decimal{d("10000"), d("11400")}, Liability: []decimal.Decimal{d("100"), d("114")},
			Issued: d("16000"), Redeemed: d("3000"), Expired: d("1600"), Other: d("0")}},
		Coupons: []insight.Funnel{
			{Template: "welcome", Issued: 150, Used: 45, Expired: 40, AmountOff: d("450")},
			{Template: "gold-gift", Issued: 20, Used: 5, AmountOff: d("150.5")},
		},
	}
	if diff := cmp.Diff(want, pg, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("FromReport (-want +got):\n%s", diff)
	}
}

// TestHeadlines checks the plain-words figures, worked out by hand from
// twoMonths: breakage 1600 ÷ 16000 = 10.0%, use rate 50 ÷ 170 = 29.4%,
// liability 11,400 points × 0.01 = 114.00.
func TestHeadlines(t *testing.T) {
	pg, err := insight.FromReport("Shop", "a test", "yuan", twoMonths(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, h := range pg.Headlines() {
		got[h.Label] = h.Value
		for _, jargon := range []string{"_", "term_end", "any_invalid"} {
			if strings.Contains(h.Label, jargon) {
				t.Errorf("label %q has %q: not an operator's word", h.Label, jargon)
			}
		}
	}
	for label, want := range map[string]string{
		"Members holding a level at the end":         "1,200",
		"Points given to members":                    "16,000",
		"Points spent by members":                    "3,000",
		"Points that expired unused":                 "1,600",
		"Points breakage":                            "10.0%",
		"Points still held by members":               "11,400",
		"What members' points are worth (liability)": "114.00 yuan",
		"Coupons given out":                          "170",
		"Coupon use rate":                            "29.4%",
		"Coupons that expired unused":                "40",
		"Discount given by coupons":                  "600.50 yuan",
	} {
		if got[label] != want {
			t.Errorf("%s: %q; want %q", label, got[label], want)
		}
	}
	if _, ok := got["Points moved otherwise"]; ok {
		t.Error("a headline for points moved otherwise, though none were")
	}
}

// TestFromReportRefuses checks the reports a page cannot be made of.
func TestFromReportRefuses(t *testing.T) {
	daily := twoMonths()
	daily.Grain = report.Day
	noLevels := twoMonths()
	noLevels.Periods[1].Levels = nil
	reordered := twoMonths()
	reordered.Periods[1].Levels.Members[0].Name = "Gold"
	for name, r := range map[string]*report.Report{
		"nil": nil, "daily": daily, "no months": {Grain: report.Month}, "no levels": noLevels, "levels reordered": reordered,
	} {
		if _, err := insight.FromReport("x", "", "yuan", r, nil); !errors.Is(err, insight.ErrNoFigures) {
			t.Errorf("%s: %v; want ErrNoFigures", name, err)
		}
	}
}

// TestNoCouponsIssued checks the use rate and breakage of a program that
// gave nothing: said in words, not a division by zero.
func TestNoCouponsIssued(t *testing.T) {
	r := twoMonths()
	for i := range r.Periods {
		r.Periods[i].Coupons = nil
		r.Periods[i].Points[0].Issued, r.Periods[i].Points[0].Expired = d("0"), d("0")
	}
	pg, err := insight.FromReport("x", "", "yuan", r, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range pg.Headlines() {
		if (h.Label == "Coupon use rate" || h.Label == "Points breakage") && h.Value != "none given" {
			t.Errorf("%s: %q; want none given", h.Label, h.Value)
		}
	}
}

// TestWriteHTML checks the page holds its charts and their figures, and
// loads nothing from elsewhere.
func TestWriteHTML(t *testing.T) {
	pg, err := insight.FromReport("Shop", "a test", "yuan", twoMonths(), map[string]bool{"mall": true})
	if err != nil {
		t.Fatal(err)
	}
	pg.WhatIf = &insight.WhatIf{Change: "Gold from 1,000", Months: pg.Months,
		Actual: [][]int64{{90, 10}, {1180, 20}}, Changed: [][]int64{{80, 20}, {1150, 50}}, Differing: 30, Refused: 2}
	var b bytes.Buffer
	if err := pg.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<tr data-month="2025-02" data-outstanding="11400" data-liability="114">`,
		`<tr data-template="gold-gift" data-issued="20" data-used="5" data-expired="0" data-amount-off="150.5">`,
		`<td class="n" data-level="Gold">20</td>`,
		`<td class="n" data-level="Gold" data-side="changed">50</td>`,
		`30 members would hold another level at the end of 2025-02`,
		`the example&#39;s valuation`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if n := strings.Count(page, "<svg "); n != 5 {
		t.Errorf("%d <svg> elements; want 5 (the fonts and four charts)", n)
	}
	if n := strings.Count(page, "@font-face"); n < 1 || n > 3 {
		t.Errorf("%d @font-face rules; want each font once", n)
	}
	for _, remote := range []string{"http://", "https://", "//cdn"} {
		for _, l := range strings.Split(page, "\n") {
			if strings.Contains(l, remote) && !strings.Contains(l, "xmlns") {
				t.Errorf("the page refers to %s: %.120s", remote, l)
				break
			}
		}
	}
}

// TestAsOf: a page whose figures were taken at a time that is not the end
// of its last month (an example's run ends at midnight after its last
// day, which the report takes in as a month of one day) says so, in the
// headlines, the what-if's note and the page. It said "at the end of" the
// last month: "at the end of 2025-04" for a run that ended on 1 April
// 00:00.
func TestAsOf(t *testing.T) {
	pg, err := insight.FromReport("Shop", "a test", "yuan", twoMonths(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pg.AsOf = "2025-02-01 00:00"
	pg.WhatIf = &insight.WhatIf{Change: "Gold from 1,000", Months: pg.Months,
		Actual: [][]int64{{90, 10}, {1180, 20}}, Changed: [][]int64{{80, 20}, {1150, 50}}, Differing: 30}
	notes := map[string]string{}
	for _, h := range pg.Headlines() {
		notes[h.Label] = h.Note
	}
	if got, want := notes["Points still held by members"], "as of 2025-02-01 00:00"; got != want {
		t.Errorf("points held: note %q; want %q", got, want)
	}
	if got, want := notes["What-if"], "if Gold from 1,000: as of 2025-02-01 00:00, Silver 1,180 → 1,150, Gold 20 → 50"; got != want {
		t.Errorf("what-if: note %q; want %q", got, want)
	}
	var b bytes.Buffer
	if err := pg.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"30 members would hold another level as of 2025-02-01 00:00;", "members per level as of 2025-02-01 00:00"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "at the end of 2025-02") {
		t.Errorf("the page says \"at the end of 2025-02\"")
	}
}

// TestWriteText checks the printed headlines are aligned lines under "At
// a glance".
func TestWriteText(t *testing.T) {
	pg, err := insight.FromReport("Shop", "", "yuan", twoMonths(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	pg.WriteText(&b)
	if !strings.Contains(b.String(), "\nAt a glance\n  Members holding a level at the end          1,200  (Silver 1,180, Gold 20)\n") {
		t.Errorf("text:\n%s", b.String())
	}
}

// The headlines of a month of a small shop, as the examples print them.
func ExamplePage_WriteText() {
	r := &report.Report{Grain: report.Month, Periods: []report.Period{{
		Name:   "2025-01",
		Levels: &report.Levels{Members: []level.Count{{Name: "Silver", Members: 40}, {Name: "Gold", Members: 2}}},
		Points: []report.Points{{Program: "mall", Issued: d("5000"), Redeemed: d("1000"), Expired: d("250"), Other: d("0"),
			Outstanding: d("3750"), Rate: d("0.01"), Liability: d("37.5"), HasRate: true}},
		Coupons: []report.Coupons{{Template: "welcome", Stat: coupon.Stat{Issued: 42, Used: 21, Expired: 3, AmountOff: d("210")}}},
	}}}
	pg, err := insight.FromReport("Corner shop", "January", "yuan", r, nil)
	if err != nil {
		panic(err)
	}
	pg.WriteText(os.Stdout)
	// Output:
	// At a glance
	//   Members holding a level at the end          42  (Silver 40, Gold 2)
	//   Points given to members                     5,000
	//   Points spent by members                     1,000
	//   Points that expired unused                  250
	//   Points breakage                             5.0%  (points that expired unused, as a share of the points given)
	//   Points still held by members                3,750  (at the end of 2025-01)
	//   What members' points are worth (liability)  37.50 yuan  (the points still held, at 0.01 yuan a point)
	//   Coupons given out                           42
	//   Coupon use rate                             50.0%  (21 of the 42 coupons given out were used)
	//   Coupons that expired unused                 3
	//   Discount given by coupons                   210.00 yuan
}

// TestWithThreshold checks the what-if's change: the level's thresholds
// are lowered on a copy (the program's definition keeps its own), and an
// unknown level is refused.
func TestWithThreshold(t *testing.T) {
	def, err := membership.ParseDefinition([]byte(`{"zone": "UTC",
	  "events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
	  "levels": {
	    "ladder": [{"name": "Silver", "upgrade": "0", "validity": {"kind": "permanent"}},
	               {"name": "Gold", "upgrade": "1500", "retention": "1200", "validity": {"kind": "months_after", "n": 12}, "window": 12, "downgrade": "matching"}],
	    "growth": [{"id": "spend", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	changed, change, err := insight.WithThreshold(def, "Gold", d("1000"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Gold from 1,000 of growth instead of 1,500 (kept with 1,000 instead of 1,200)"; change != want {
		t.Errorf("change %q; want %q", change, want)
	}
	g := changed.Levels.Ladder[1]
	if !g.Upgrade.Equal(d("1000")) || !g.Retention.Equal(d("1000")) {
		t.Errorf("changed Gold: upgrade %s, retention %s; want 1000, 1000", g.Upgrade, g.Retention)
	}
	if o := def.Levels.Ladder[1]; !o.Upgrade.Equal(d("1500")) || !o.Retention.Equal(d("1200")) {
		t.Errorf("the original was changed: upgrade %s, retention %s", o.Upgrade, o.Retention)
	}
	if _, err := membership.Open(memory.New(), changed); err != nil {
		t.Errorf("the changed definition does not open: %v", err)
	}
	if _, _, err := insight.WithThreshold(def, "Platinum", d("1")); !errors.Is(err, insight.ErrNoLevel) {
		t.Errorf("an unknown level: %v; want ErrNoLevel", err)
	}
}
