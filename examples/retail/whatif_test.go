package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/task"
	"github.com/memberkit/membership/whatif"
	"github.com/shopspring/decimal"
)

// changedRetail is the retail program with Gold from 1,000 of growth
// instead of 1,500 (kept with 800 instead of 1,200), and double points in March 2025: each spending rule
// has a twin that grants as much again within March.
func changedRetail(tb testing.TB) membership.Definition {
	tb.Helper()
	def, err := membership.ParseDefinition(programJSON)
	if err != nil {
		tb.Fatal(err)
	}
	def.Levels.Ladder[1].Upgrade = decimal.NewFromInt(1000)
	def.Levels.Ladder[1].Retention = decimal.NewFromInt(800)
	loc, _ := time.LoadLocation(def.Zone)
	march := rule.Window{From: time.Date(2025, 3, 1, 0, 0, 0, 0, loc), To: time.Date(2025, 4, 1, 0, 0, 0, 0, loc)}
	var twins []points.Rule
	for _, r := range def.Points.Rules {
		if r.Event == "order" {
			r.ID += "-march-double"
			r.Window = march
			twins = append(twins, r)
		}
	}
	def.Points.Rules = append(def.Points.Rules, twins...)
	if err := def.Validate(); err != nil {
		tb.Fatal(err)
	}
	return def
}

// TestRetailWhatIf runs the retail stream, asks what Gold at 1,000 and
// double points in March would have done, and checks every figure of the
// report against figures read with the existing queries: the actual side
// from the program that ran the stream, the changed side from the journal
// replayed into another memory store under the changed definition
// (ReplayWith, Changed), each month's points from the ledger's daily
// totals, levels from each member's level history and status, coupons
// from each member's coupons, tasks from the completion counters.
func TestRetailWhatIf(t *testing.T) {
	members, months := 80, 13 // through January 2026: the points of 2025 expire
	if testing.Short() {
		members, months = 80, 4
	}
	src, from, s := runRetail(t, members, months)
	actual := src.Definition()
	changed := changedRetail(t)
	ctx := context.Background()

	var calls, last, total uint64
	rep, err := whatif.Run(ctx, from, actual, changed, whatif.Options{Progress: func(done, all uint64) {
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		calls, last, total = calls+1, done, all
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last != total || total == 0 {
		t.Errorf("progress: %d calls, last %d of %d", calls, last, total)
	}

	// The changed side, replayed independently.
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	chg, err := membership.Open(st, changed)
	if err != nil {
		t.Fatal(err)
	}
	res, err := chg.ReplayWith(ctx, from, membership.ReplayOptions{Changed: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied != res.Applied || rep.Inputs != res.Applied+uint64(len(res.Refused)) {
		t.Errorf("report: %d inputs, %d applied; independent replay: %d applied, %d refused", rep.Inputs, rep.Applied, res.Applied, len(res.Refused))
	}
	type refusal struct {
		Seq                    uint64
		Action, ID, Member, Is string
	}
	refusals := func(rs []membership.ReplayRefusal) []refusal {
		var out []refusal
		for _, r := range rs {
			out = append(out, refusal{r.Seq, r.Action, r.ID, r.Member, r.Err.Error()})
		}
		return out
	}
	if d := cmp.Diff(refusals(res.Refused), refusals(rep.Refused)); d != "" {
		t.Errorf("refused inputs (-independent +report):\n%s", d)
	}

	// Every month's figures.
	loc := src.Location()
	var want []whatif.Month
	for m := range months + 1 { // the last Advance runs at the start of the month after
		start := time.Date(2025, time.Month(1+m), 1, 0, 0, 0, 0, loc)
		w := whatif.Month{Start: start, Actual: queried(t, src, s, start), Changed: queried(t, chg, s, start)}
		for _, r := range res.Refused {
			if !r.At.Before(start) && r.At.Before(start.AddDate(0, 1, 0)) {
				w.Refused++
			}
		}
		want = append(want, w)
	}
	opts := cmp.Options{cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) }), cmp.Transformer("nonzero", nonzero)}
	if len(rep.Months) != len(want) {
		t.Fatalf("report has %d months, want %d", len(rep.Months), len(want))
	}
	for i := range want {
		if !rep.Months[i].Start.Equal(want[i].Start) {
			t.Errorf("month %d starts %s, want %s", i, rep.Months[i].Start, want[i].Start)
		}
		rep.Months[i].Start = want[i].Start
		if d := cmp.Diff(want[i], rep.Months[i], opts); d != "" {
			t.Errorf("%s (-queried +report):\n%s", want[i].Start.Format("2006-01"), d)
		}
	}

	// The members whose level differs at the end, in pages of 7.
	var wantDiff, gotDiff []whatif.MemberDiff
	for _, m := range s.members {
		a, err := src.Levels().Status(ctx, m.id)
		if err != nil {
			t.Fatal(err)
		}
		c, err := chg.Levels().Status(ctx, m.id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Level != c.Level {
			wantDiff = append(wantDiff, whatif.MemberDiff{Member: m.id, Actual: a.Level, Changed: c.Level})
		}
	}
	for after := ""; ; {
		page, next := rep.Members(after, 7)
		if len(page) > 7 {
			t.Fatalf("page of %d members, limit 7", len(page))
		}
		gotDiff = append(gotDiff, page...)
		if next == "" {
			break
		}
		after = next
	}
	if d := cmp.Diff(wantDiff, gotDiff); d != "" {
		t.Errorf("members whose level differs (-queried +report):\n%s", d)
	}
	if rep.Differing() != len(wantDiff) {
		t.Errorf("Differing() = %d, want %d", rep.Differing(), len(wantDiff))
	}

	// The change did what it says: more members reach Gold, and March's
	// orders earn twice (March's points issued on the changed side are
	// above the actual ones by at least what the orders earned).
	if len(wantDiff) == 0 {
		t.Error("a lower Gold threshold changed no member's level: too thin a test")
	}
	for _, d := range wantDiff {
		if d.Actual != "Silver" || d.Changed != "Gold" {
			t.Errorf("member %s: %s → %s, want Silver → Gold only", d.Member, d.Actual, d.Changed)
		}
	}
	mar := rep.Months[2]
	if a, c := mar.Actual.Points["mall"].Issued, mar.Changed.Points["mall"].Issued; !c.GreaterThan(a.Mul(decimal.NewFromFloat(1.5))) {
		t.Errorf("March points issued: actual %s, changed %s: not about twice", a, c)
	}
	if months > 12 && rep.Months[12].Actual.Points["mall"].Expired.IsZero() {
		t.Error("no points expired on 1 January 2026: too thin a test")
	}
	if a, c := rep.Months[1].Actual.Points["mall"].Issued, rep.Months[1].Changed.Points["mall"].Issued; a.GreaterThan(c) {
		t.Errorf("February points issued: actual %s above changed %s", a, c)
	}
}

// queried returns a month's figures read with the program's queries.
func queried(tb testing.TB, p *membership.Program, s *sim, start time.Time) whatif.Figures {
	tb.Helper()
	ctx := context.Background()
	end := start.AddDate(0, 1, 0)
	in := func(t time.Time) bool { return !t.Before(start) && t.Before(end) }
	f := whatif.Figures{Levels: map[string]int64{}, Points: map[string]whatif.Points{}, Coupons: map[string]whatif.Coupons{}, Tasks: map[string]int64{}}
	def := p.Definition()
	for _, m := range s.members {
		recs, err := p.Levels().History(ctx, m.id, 0, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		held := ""
		for _, r := range recs {
			if r.Plan != "" || !r.Time.Before(end) {
				continue
			}
			held = r.To
			if !in(r.Time) {
				continue
			}
			switch {
			case r.Cause == level.CauseJoin:
				f.Joins++
			case def.Levels.Index(r.To) > def.Levels.Index(r.From):
				f.Upgrades++
			case def.Levels.Index(r.To) < def.Levels.Index(r.From):
				f.Downgrades++
			}
		}
		if held != "" {
			f.Levels[held]++
		}
		cs, err := p.Coupons().List(ctx, m.id)
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range cs {
			fc := f.Coupons[c.Template]
			if in(c.IssuedAt) {
				fc.Issued++
			}
			if c.State == coupon.Used && in(c.Changed) {
				fc.Used++
				fc.AmountOff = fc.AmountOff.Add(c.AmountOff)
			}
			f.Coupons[c.Template] = fc
		}
		n, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: m.id, Task: "three-orders-a-month", Period: rule.Month, At: start})
		if err != nil {
			tb.Fatal(err)
		}
		f.Tasks["three-orders-a-month"] += n
	}
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	asset := ledger.Points("mall")
	month, err := p.Totals(ctx, asset, day(start), day(end.AddDate(0, 0, -1)))
	if err != nil {
		tb.Fatal(err)
	}
	upTo, err := p.Totals(ctx, asset, "", day(end.AddDate(0, 0, -1)))
	if err != nil {
		tb.Fatal(err)
	}
	out := decimal.Zero
	for _, v := range upTo {
		out = out.Add(v)
	}
	f.Points["mall"] = whatif.Points{
		Issued:      month[points.KindEarned],
		Redeemed:    month[points.KindRedeemed].Neg(),
		Expired:     month[points.KindExpired].Neg(),
		Outstanding: out,
		Liability:   out.Mul(decimal.RequireFromString("0.01")),
	}
	return f
}

// nonzero drops the zero entries of a month's maps, which one side keeps
// (a template with no coupon this month) and the other leaves out.
func nonzero(f whatif.Figures) string {
	var s string
	for _, k := range sortedKeys(f.Levels) {
		if f.Levels[k] != 0 {
			s += fmt.Sprintf("level %s: %d\n", k, f.Levels[k])
		}
	}
	s += fmt.Sprintf("joins %d, upgrades %d, downgrades %d\n", f.Joins, f.Upgrades, f.Downgrades)
	for _, k := range sortedKeys(f.Points) {
		p := f.Points[k]
		if p != (whatif.Points{}) && !(p.Issued.IsZero() && p.Redeemed.IsZero() && p.Expired.IsZero() && p.Outstanding.IsZero()) {
			s += fmt.Sprintf("points %s: issued %s, redeemed %s, expired %s, outstanding %s, liability %s\n", k, p.Issued, p.Redeemed, p.Expired, p.Outstanding, p.Liability.StringFixed(2))
		}
	}
	for _, k := range sortedKeys(f.Coupons) {
		if c := f.Coupons[k]; c.Issued != 0 || c.Used != 0 {
			s += fmt.Sprintf("coupon %s: issued %d, used %d, off %s\n", k, c.Issued, c.Used, c.AmountOff.StringFixed(2))
		}
	}
	for _, k := range sortedKeys(f.Tasks) {
		if f.Tasks[k] != 0 {
			s += fmt.Sprintf("task %s: %d\n", k, f.Tasks[k])
		}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// BenchmarkWhatIf measures a what-if over the journal of the retail
// stream (120 members, 3 months, as BenchmarkReplay): both replays, the
// actual and the changed one (Gold at 1,000, double points in March),
// and the report. inputs/s counts the journal's inputs once per what-if.
func BenchmarkWhatIf(b *testing.B) {
	src, from, _ := runRetail(b, 120, 3)
	actual, changed := src.Definition(), changedRetail(b)
	var rep *whatif.Report
	b.ResetTimer()
	for range b.N {
		var err error
		if rep, err = whatif.Run(context.Background(), from, actual, changed, whatif.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rep.Inputs)*float64(b.N)/b.Elapsed().Seconds(), "inputs/s")
	b.ReportMetric(float64(rep.Inputs), "inputs")
	b.ReportMetric(float64(len(rep.Refused)), "refused")
}
