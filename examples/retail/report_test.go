package main

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/examples/internal/cli"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/report"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// TestReportOverTimeMatchesLedger runs the retail stream (80 members,
// 18 months: every level is reached, points expire, coupons are used and
// expire) and builds its monthly report: summed over the months, its
// figures are the ledger's totals over the whole run, its last month's
// outstanding points and float are the members' balances as the ledger
// sums them, its last month's members per level are today's counts, and
// its coupons, task completions and level moves are what the change feed
// told the host, counted apart (the sim's tally).
func TestReportOverTimeMatchesLedger(t *testing.T) {
	ctx := context.Background()
	cfg := cli.Config{Members: 80, Months: 18, Seed: 3}
	p, _, closeAll, err := cli.Open("retail", cfg, programJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	s := newSim(cfg, p)
	if err := s.run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.feed.Consume(ctx, p); err != nil {
		t.Fatal(err)
	}
	from := rule.DateOf(s.start, p.Location())
	to := rule.DateOf(s.day(s.days), p.Location())
	r, err := report.Build(ctx, p, report.Query{From: from, To: to, Grain: report.Month})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Periods) != 19 { // January 2025 to the day after the run, in July 2026
		t.Fatalf("%d months; want 19", len(r.Periods))
	}
	last := r.Periods[len(r.Periods)-1]

	// Points: every kind, summed over the months, is the ledger's total
	// over the run; the outstanding points are the members' balance.
	totals, err := p.Totals(ctx, ledger.Points("mall"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	sum := func(f func(report.Points) decimal.Decimal) decimal.Decimal {
		s := decimal.Zero
		for _, pd := range r.Periods {
			s = s.Add(f(pd.Points[0]))
		}
		return s
	}
	held := decimal.Zero
	other := decimal.Zero
	for k, v := range totals {
		held = held.Add(v)
		if k != "earned" && k != "redeemed" && k != "expired" {
			other = other.Add(v)
		}
	}
	checkDec(t, "points issued", sum(func(p report.Points) decimal.Decimal { return p.Issued }), totals["earned"])
	checkDec(t, "points redeemed", sum(func(p report.Points) decimal.Decimal { return p.Redeemed }), totals["redeemed"].Neg())
	checkDec(t, "points expired", sum(func(p report.Points) decimal.Decimal { return p.Expired }), totals["expired"].Neg())
	checkDec(t, "points other", sum(func(p report.Points) decimal.Decimal { return p.Other }), other)
	checkDec(t, "points outstanding", last.Points[0].Outstanding, held)
	checkDec(t, "liability", last.Points[0].Liability, held.Mul(decimal.RequireFromString("0.01")))
	for _, x := range []decimal.Decimal{totals["earned"], totals["redeemed"], totals["expired"]} {
		if x.IsZero() {
			t.Errorf("the stream left a points kind at zero (%v): the check proves little", totals)
		}
	}
	for i := 1; i < len(r.Periods); i++ {
		checkDec(t, r.Periods[i].Name+" opening = the month before's outstanding", r.Periods[i].Points[0].Opening, r.Periods[i-1].Points[0].Outstanding)
	}

	// Stored value.
	vt, err := p.Totals(ctx, ledger.Value, "", "")
	if err != nil {
		t.Fatal(err)
	}
	float := decimal.Zero
	for _, v := range vt {
		float = float.Add(v)
	}
	checkDec(t, "float", last.Value.Float, float)
	recharged := decimal.Zero
	for _, pd := range r.Periods {
		recharged = recharged.Add(pd.Value.Recharged)
	}
	checkDec(t, "recharged", recharged, vt["recharge"])

	// Levels: the last month's end is today; the moves are the feed's.
	counts, err := p.Levels().Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ladder []level.Count
	for _, c := range counts {
		if !c.Plan {
			ladder = append(ladder, c)
		}
	}
	if diff := cmp.Diff(ladder, last.Levels.Members); diff != "" {
		t.Errorf("members per level at the end (-counts +report):\n%s", diff)
	}
	var joins, ups, downs, fed int64
	for _, pd := range r.Periods {
		joins, ups, downs = joins+pd.Levels.Joins, ups+pd.Levels.Upgrades, downs+pd.Levels.Downgrades
	}
	for _, c := range ladder {
		fed += c.Members // no one leaves the ladder: each joined once
	}
	var fedUp, fedDown int64
	for move, n := range s.feed.LevelMoves { // "cause From→To"; joins are not moves
		_, fromTo, _ := strings.Cut(move, " ")
		f, to, _ := strings.Cut(fromTo, "→")
		d := p.Definition().Levels
		switch {
		case d.Index(to) > d.Index(f):
			fedUp += n
		case d.Index(to) < d.Index(f):
			fedDown += n
		}
	}
	if joins != fed || ups != fedUp || downs != fedDown || downs == 0 {
		t.Errorf("level moves: report joins %d, ups %d, downs %d; members %d, feed ups %d, downs %d (and some downgrades)", joins, ups, downs, fed, fedUp, fedDown)
	}

	// Coupons and tasks, against the feed.
	stats, err := p.Coupons().Stats(ctx, coupon.StatsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for j, tpl := range p.Definition().Coupons.Templates {
		var st coupon.Stat
		for _, pd := range r.Periods {
			c := pd.Coupons[j]
			st.Issued, st.Used, st.Expired, st.Revoked = st.Issued+c.Issued, st.Used+c.Used, st.Expired+c.Expired, st.Revoked+c.Revoked
			st.AmountOff = st.AmountOff.Add(c.AmountOff)
		}
		all := stats.ByTemplate[tpl.Name]
		if st.Issued != s.feed.Issued[tpl.Name] || st.Issued != all.Issued || st.Used != all.Used || st.Expired != all.Expired || !st.AmountOff.Equal(all.AmountOff) {
			t.Errorf("coupons %s: report %+v; all time %+v; feed issued %d", tpl.Name, st, all, s.feed.Issued[tpl.Name])
		}
	}
	for j, tk := range p.Definition().Tasks.Tasks {
		var n int64
		for _, pd := range r.Periods {
			n += pd.Tasks[j].Completions
		}
		if n != s.feed.Tasks[tk.Name] || n == 0 {
			t.Errorf("task %s: report %d completions, feed %d", tk.Name, n, s.feed.Tasks[tk.Name])
		}
	}
}

func checkDec(t *testing.T, what string, got, want decimal.Decimal) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: report %s, ledger %s", what, got, want)
	}
}
