package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/examples/internal/cli"
	"github.com/memberkit/membership/examples/internal/insight"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// TestPageMatchesLedger runs the retail stream (80 members over 18
// months: every level is reached, points expire, coupons are used and
// expire), renders the operator's page and its headlines, and reads the
// figures back from the rendered HTML and text: the liability curve's
// points are the points the ledger holds in member accounts at each
// month's end (the sum of its totals per kind up to that day) times the
// definition's 0.01 a point; the coupon funnel is the coupon statistics
// of the whole run; each month's level mix adds up to the members the
// simulation had registered by then, and the last month's is today's
// counts; the headline use rate, breakage and liability are worked out
// here from the ledger's and the coupon statistics' figures.
func TestPageMatchesLedger(t *testing.T) {
	ctx := context.Background()
	cfg := cli.Config{Members: 80, Months: 18, Seed: 3}
	p, db, closeAll, err := cli.Open("retail", cfg, programJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	s := newSim(cfg, p)
	if err := s.run(ctx); err != nil {
		t.Fatal(err)
	}
	pg, err := s.page(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wr, err := s.whatIf(ctx, db, pg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var html, text bytes.Buffer
	if err := pg.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	pg.WriteText(&text)
	page := html.String()
	if n := strings.Count(page, "<svg "); n != 5 { // four charts and the fonts' holder
		t.Errorf("the page has %d <svg> elements; want 5 (the fonts, levels, points, coupons, what-if)", n)
	}

	// The liability curve: a row per month from January 2025 to the day
	// after the run (July 2026), each month's end no later than that day.
	rate := decimal.RequireFromString("0.01") // program.json's points + cash rate
	last := s.day(s.days)
	rows := regexp.MustCompile(`<tr data-month="(\d{4}-\d\d)" data-outstanding="([^"]*)" data-liability="([^"]*)">`).FindAllStringSubmatch(page, -1)
	if len(rows) != 19 {
		t.Fatalf("the liability table has %d months; want 19", len(rows))
	}
	nonZero := 0
	for i, r := range rows {
		month := s.start.AddDate(0, i, 0)
		if want := month.Format("2006-01"); r[1] != want {
			t.Errorf("row %d is month %s; want %s", i, r[1], want)
		}
		end := month.AddDate(0, 1, -1)
		if end.After(last) {
			end = last
		}
		totals, err := p.Totals(ctx, ledger.Points("mall"), "", end.Format(time.DateOnly))
		if err != nil {
			t.Fatal(err)
		}
		held := decimal.Zero
		for _, v := range totals {
			held = held.Add(v)
		}
		if !held.IsZero() {
			nonZero++
		}
		if got := mustDec(t, r[2]); !got.Equal(held) {
			t.Errorf("%s: the page shows %s points held; the ledger %s", r[1], got, held)
		}
		if got := mustDec(t, r[3]); !got.Equal(held.Mul(rate)) {
			t.Errorf("%s: the page shows a liability of %s; the ledger's points × 0.01 is %s", r[1], got, held.Mul(rate))
		}
	}
	if nonZero < 18 {
		t.Errorf("only %d months hold points: the check proves little", nonZero)
	}

	// The coupon funnel: every template with coupons, as the statistics.
	stats, err := p.Coupons().Stats(ctx, coupon.StatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	funnel := regexp.MustCompile(`<tr data-template="([^"]+)" data-issued="(\d+)" data-used="(\d+)" data-expired="(\d+)" data-amount-off="([^"]*)">`).FindAllStringSubmatch(page, -1)
	seen := map[string]bool{}
	for _, f := range funnel {
		st := stats.ByTemplate[f[1]]
		seen[f[1]] = true
		got := fmt.Sprintf("issued %s used %s expired %s off %s", f[2], f[3], f[4], mustDec(t, f[5]))
		want := fmt.Sprintf("issued %d used %d expired %d off %s", st.Issued, st.Used, st.Expired, st.AmountOff)
		if got != want {
			t.Errorf("coupon funnel %s: page %s; statistics %s", f[1], got, want)
		}
	}
	for name, st := range stats.ByTemplate {
		if st.Issued > 0 && !seen[name] {
			t.Errorf("template %s issued %d coupons and is not in the funnel", name, st.Issued)
		}
	}
	if stats.Total.Used == 0 || stats.Total.Expired == 0 {
		t.Errorf("no coupon was used or none expired (%+v): the check proves little", stats.Total)
	}

	// The level mix: each month's members are those registered by its
	// end (everyone joins the ladder, no one leaves it); the last month's
	// are today's counts.
	mix := regexp.MustCompile(`<tr data-month="(\d{4}-\d\d)"><td>[^<]*</td>((?:<td class="n" data-level="[^"]+">\d+</td>)+)</tr>`).FindAllStringSubmatch(page, -1)
	if len(mix) != 19 {
		t.Fatalf("the level mix has %d months; want 19", len(mix))
	}
	cell := regexp.MustCompile(`data-level="([^"]+)">(\d+)<`)
	for i, m := range mix {
		end := s.start.AddDate(0, i+1, 0) // the next month's first day
		var joined, sum int64
		for _, mb := range s.members {
			if s.day(mb.join).Before(end) && mb.join <= s.days {
				joined++
			}
		}
		cells := cell.FindAllStringSubmatch(m[2], -1)
		for _, c := range cells {
			n, _ := strconv.ParseInt(c[2], 10, 64)
			sum += n
		}
		if sum != joined {
			t.Errorf("%s: the level mix adds up to %d members; %d had registered", m[1], sum, joined)
		}
		if i == len(mix)-1 {
			counts, err := p.Levels().Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, c := range cells {
				got[c[1]] = c[2]
			}
			for _, c := range counts {
				if !c.Plan && got[c.Name] != fmt.Sprint(c.Members) {
					t.Errorf("%s at the end: page %s, counts %d", c.Name, got[c.Name], c.Members)
				}
			}
		}
	}

	// The what-if: its side "as it ran" is the level mix the report gave
	// for the same month; its side "with the change" ends as a replay of
	// the journal under the changed definition, done here, counts it.
	mixOf := map[string]map[string]string{}
	for _, m := range mix {
		mixOf[m[1]] = map[string]string{}
		for _, c := range cell.FindAllStringSubmatch(m[2], -1) {
			mixOf[m[1]][c[1]] = c[2]
		}
	}
	side := regexp.MustCompile(`<td class="n" data-level="([^"]+)" data-side="(actual|changed)">(\d+)</td>`)
	whatIfRows := regexp.MustCompile(`<tr data-month="(\d{4}-\d\d)"><td>[^<]*</td>((?:<td class="n" data-level="[^"]+" data-side="[a-z]+">\d+</td>)+)</tr>`).FindAllStringSubmatch(page, -1)
	if len(whatIfRows) < 18 {
		t.Fatalf("the what-if table has %d months; want at least the 18 simulated", len(whatIfRows))
	}
	changedEnd := map[string]string{}
	for _, r := range whatIfRows {
		for _, c := range side.FindAllStringSubmatch(r[2], -1) {
			if c[2] == "actual" && mixOf[r[1]][c[1]] != c[3] {
				t.Errorf("what-if %s %s as it ran: %s; the report's level mix %s", r[1], c[1], c[3], mixOf[r[1]][c[1]])
			}
			if c[2] == "changed" {
				changedEnd[c[1]] = c[3]
			}
		}
	}
	changedDef, _, err := insight.WithThreshold(p.Definition(), whatIfLevel, decimal.RequireFromString(whatIfThreshold))
	if err != nil {
		t.Fatal(err)
	}
	alt, err := membership.Open(memory.New(), changedDef)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alt.ReplayWith(ctx, db, membership.ReplayOptions{Changed: true}); err != nil {
		t.Fatal(err)
	}
	altCounts, err := alt.Levels().Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range altCounts {
		if !c.Plan && changedEnd[c.Name] != fmt.Sprint(c.Members) {
			t.Errorf("what-if with the change, %s at the end: page %s, a replay under the changed definition %d", c.Name, changedEnd[c.Name], c.Members)
		}
	}
	if wr.Differing() == 0 || !strings.Contains(page, fmt.Sprintf("%d members would hold another level", wr.Differing())) {
		t.Errorf("the what-if found %d members on another level; the page should say so", wr.Differing())
	}

	// The headlines, worked out here from the ledger and the statistics.
	totals, err := p.Totals(ctx, ledger.Points("mall"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	held := decimal.Zero
	for _, v := range totals {
		held = held.Add(v)
	}
	issued, expired := totals[points.KindEarned], totals[points.KindExpired].Neg()
	// Percentages to one decimal, half away from zero, in integers.
	pct := func(part, whole int64) string {
		tenths := (part*1000 + whole/2) / whole
		return fmt.Sprintf("%d.%d%%", tenths/10, tenths%10)
	}
	hundredths := func(d decimal.Decimal) int64 { return d.Mul(decimal.NewFromInt(100)).IntPart() }
	for label, want := range map[string]string{
		"Coupon use rate":                            pct(stats.Total.Used, stats.Total.Issued),
		"Points breakage":                            pct(hundredths(expired), hundredths(issued)),
		"Coupons given out":                          fmt.Sprint(stats.Total.Issued),
		"What members' points are worth (liability)": held.Mul(rate).StringFixed(2) + " yuan",
		"Points still held by members":               held.String(),
		"Discount given by coupons":                  stats.Total.AmountOff.StringFixed(2) + " yuan",
	} {
		got := headline(t, text.String(), label)
		if strings.ReplaceAll(got, ",", "") != want {
			t.Errorf("headline %q: %q; want %s", label, got, want)
		}
		if !strings.Contains(page, ">"+got+"<") {
			t.Errorf("the page lacks the headline %q = %q", label, got)
		}
	}
	// 18 months from 1 January 2025 end with the Advance at 1 July 2026
	// 00:00: the figures are as of then, not at the end of July.
	for _, want := range []string{"Points still held by members", "(as of 2026-07-01 00:00)"} {
		if !strings.Contains(text.String(), want) || !strings.Contains(page, ">"+strings.Trim(want, "()")+"<") {
			t.Errorf("the text or the page lacks %q:\n%s", want, text.String())
		}
	}
}

// headline returns the value the text's "At a glance" gives label.
func headline(t *testing.T, text, label string) string {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), label+"  ")
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(strings.TrimSpace(rest), "  (")
		return v
	}
	t.Fatalf("no headline %q in:\n%s", label, text)
	return ""
}

func mustDec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("%q is not a decimal: %v", s, err)
	}
	return d
}
