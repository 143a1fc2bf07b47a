package migrate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// badRow is a bad row of a run as these tests check it: its line, member
// and field, and the most specific of the sentinels given that its error
// wraps (the last in their order).
type badRow struct {
	Line          int
	Member, Field string
	Sentinel      error
}

func badRows(res migrate.Result, sentinels ...error) []badRow {
	var out []badRow
	for _, e := range res.Errors {
		b := badRow{Line: e.Line, Member: e.Member, Field: e.Field}
		for _, s := range sentinels {
			if errors.Is(e.Err, s) {
				b.Sentinel = s
			}
		}
		out = append(out, b)
	}
	return out
}

var (
	sameError = cmp.Comparer(func(a, b error) bool { return a == b })
	sameTime  = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
)

// importCSV runs file, a CSV file named name, into p at at, and checks the
// run's progress and its bad rows, each with the most specific of
// sentinels that its error wraps (badRows).
func importCSV(t *testing.T, p *membership.Program, name, file string, progress migrate.Progress, bad []badRow, sentinels ...error) {
	t.Helper()
	res, err := migrate.Run(context.Background(), p, migrate.CSV(strings.NewReader(file), shanghai), migrate.Options{Name: name, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if res.Progress != progress {
		t.Errorf("progress %+v, want %+v", res.Progress, progress)
	}
	if d := cmp.Diff(bad, badRows(res, sentinels...), sameError); d != "" {
		t.Errorf("bad rows (-want +got):\n%s", d)
	}
}

// openedBy counts the changes of kind by member, failing t for each whose
// reason is not the opening's rule (migrate.Rule).
func openedBy(t *testing.T, changes []change.Change, kind string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, c := range changes {
		if c.Kind != kind {
			continue
		}
		got[c.Member]++
		if c.Reason == nil || c.Reason.Rule != migrate.Rule {
			t.Errorf("%s %s: reason %+v, want %s", c.Member, c.Kind, c.Reason, migrate.Rule)
		}
	}
	return got
}

// TestImportPlans imports members with the paid plans they hold (the
// retail program's Plus, yearly, bought by a fee event; at is 1 June 2025
// 00:00). m1 holds Plus from 31 May 12:00 to 31 May 2026 12:00, m2 from
// the row's time (no start given) to 24:00 of 30 June. Each has Plus's
// benefits (plus-price, free-delivery; Silver has none) and pays 95 for
// 100 while it holds it, from its start: m1 none at 31 May 11:00, both at
// 13:00. The history records each plan as a purchase at its start naming
// the row, the counts two members of Plus, and the feed plan.purchased
// with the opening's rule. m2's fee on 20 June renews Plus from its
// imported expiry (to 1 July 2026 00:00), as a purchase would. Advance to
// 1 June 2026 performs m1's expiry: no plan held, the history closing the
// run, so a query of 31 May 2026 11:00 still has the benefits and one of
// 12:00 not. An unknown plan, a plan twice, an expiry not after the row's
// time, a start after it and a cell that does not parse are bad rows
// naming their line and field, writing nothing.
func TestImportPlans(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	file := "member,plans\n" +
		"m1,Plus|2026-05-31T12:00:00+08:00|2025-05-31T12:00:00+08:00\n" +
		"m2,Plus|2025-06-30\n" +
		"m3,Nope|2026-01-01\n" +
		"m4,Plus|2026-01-01;Plus|2026-02-01\n" +
		"m5,Plus|2025-05-31\n" + // 24:00 of 31 May: the row's time
		"m6,Plus|2026-01-01|2025-06-02\n" +
		"m7,Plus|someday\n"
	importCSV(t, p, "plans.csv", file, migrate.Progress{Rows: 7, Applied: 2, Failed: 5}, []badRow{
		{4, "m3", "plans[0].plan", level.ErrUnknownPlan},
		{5, "m4", "plans[1].plan", event.ErrInvalidArgument},
		{6, "m5", "plans[0].expires", event.ErrInvalidArgument},
		{7, "m6", "plans[0].since", event.ErrInvalidArgument},
		{8, "m7", "plans[0].expires", migrate.ErrBadRow},
	}, migrate.ErrBadRow, event.ErrInvalidArgument, level.ErrUnknownPlan)
	for _, m := range []string{"m3", "m4", "m5", "m6", "m7"} {
		if s, err := p.Levels().Status(ctx, m); err != nil || s.Plans != nil {
			t.Errorf("%s refused: %+v %v, want no plan", m, s, err)
		}
	}

	sh := func(y int, mo time.Month, d, h int) time.Time { return time.Date(y, mo, d, h, 0, 0, 0, shanghai) }
	m1End := sh(2026, 5, 31, 12)
	held := map[string][]level.Held{
		"m1": {{Plan: "Plus", Since: sh(2025, 5, 31, 12), Expires: m1End}},
		"m2": {{Plan: "Plus", Since: at, Expires: sh(2025, 7, 1, 0)}},
	}
	for m, w := range held {
		s, err := p.Levels().Status(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(w, s.Plans, sameTime); d != "" {
			t.Errorf("%s: plans (-want +got):\n%s", m, d)
		}
	}
	plus := []string{"plus-price", "free-delivery"}
	checkBenefits := func(member string, when time.Time, names []string, price string) {
		t.Helper()
		bs, err := p.Benefits().Of(ctx, member, when)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range bs {
			got = append(got, b.Name)
		}
		pr, err := p.Benefits().MemberPrice(ctx, member, dec("100"), when)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, names) || !pr.Amount.Equal(dec(price)) {
			t.Errorf("%s at %s: benefits %v, price %s; want %v, %s", member, when, got, pr.Amount, names, price)
		}
	}
	checkBenefits("m1", sh(2025, 5, 31, 11), nil, "100")
	checkBenefits("m1", sh(2025, 5, 31, 13), plus, "95")
	checkBenefits("m1", at, plus, "95")
	checkBenefits("m2", at, plus, "95")
	checkBenefits("m2", at.Add(-time.Nanosecond), nil, "100")

	hist, err := p.Levels().History(ctx, "m1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantHist := []level.Record{
		{Seq: 1, Time: at, Cause: level.CauseOpening, To: "Silver", Event: "plans.csv:2"},
		{Seq: 2, Time: sh(2025, 5, 31, 12), Cause: level.CausePurchase, Event: "plans.csv:2", Plan: "Plus", Expires: m1End},
	}
	if d := cmp.Diff(wantHist, hist, sameTime); d != "" {
		t.Errorf("m1's history (-want +got):\n%s", d)
	}
	counts, err := p.Levels().Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(counts, func(c level.Count) bool { return c.Plan && c.Name == "Plus" }); i < 0 || counts[i].Members != 2 {
		t.Errorf("counts %+v, want 2 members of Plus", counts)
	}
	feed, err := p.Feed(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int{"m1": 1, "m2": 1}, openedBy(t, feed, level.ChangePlanPurchased)); d != "" {
		t.Errorf("plan.purchased changes (-want +got):\n%s", d)
	}

	// m2 renews: a year from the imported expiry, 1 July 2025 00:00.
	if _, err := p.Process(ctx, event.Event{ID: "fee-m2", Member: "m2", Type: "fee", Time: sh(2025, 6, 20, 10),
		Attrs: event.Attrs{"plan": event.Str("Plus"), "amount": event.DecString("199")}}); err != nil {
		t.Fatal(err)
	}
	if s, err := p.Levels().Status(ctx, "m2"); err != nil || len(s.Plans) != 1 || !s.Plans[0].Expires.Equal(sh(2026, 7, 1, 0)) || !s.Plans[0].Since.Equal(at) {
		t.Errorf("m2 renewed: %+v %v, want Plus from the row's time to 1 July 2026", s.Plans, err)
	}

	if _, err := p.Advance(ctx, sh(2026, 6, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if s, err := p.Levels().Status(ctx, "m1"); err != nil || s.Plans != nil {
		t.Errorf("m1 after its plan's expiry: %+v %v, want none", s.Plans, err)
	}
	checkBenefits("m1", m1End.Add(-time.Hour), plus, "95")
	checkBenefits("m1", m1End, nil, "100")
	checkBenefits("m2", sh(2026, 6, 1, 0), plus, "95")
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// Plans need a level domain, not a ladder: a program without levels
// refuses them (level.ErrNotDefined, naming plans), one of paid plans
// alone (LadderDef without its ladder: Plus, monthly) takes them; a
// program without benefits refuses achievements (benefit.ErrNotDefined,
// naming achievements). A refused row writes nothing, not even an audit
// entry.
func TestOpenPlansAndAchievementsWithoutTheirDomain(t *testing.T) {
	ctx := context.Background()
	exp := at.AddDate(0, 1, 0)
	for _, c := range []struct {
		name  string
		def   membership.Definition
		m     migrate.Member
		field string
		want  error
	}{
		{"plans without levels", testkit.ValueDef(), migrate.Member{Plans: []migrate.Plan{{Plan: "Plus", Expires: exp}}}, "plans", level.ErrNotDefined},
		{"achievements without benefits", testkit.ValueDef(), migrate.Member{Achievements: []migrate.Achievement{{Achievement: "vip-guest"}}}, "achievements", benefit.ErrNotDefined},
	} {
		p, err := membership.Open(memory.New(), c.def)
		if err != nil {
			t.Fatal(err)
		}
		c.m.RequestID, c.m.Member, c.m.Operator, c.m.At = "r1", "m1", "op", at
		_, err = p.OpenMember(ctx, c.m)
		var fe *migrate.FieldError
		if !errors.Is(err, c.want) || !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v; want %v in a FieldError of %s", c.name, err, c.want, c.field)
		}
		if pg, err := p.Audit(ctx, membership.AuditQuery{}); err != nil || len(pg.Entries) != 0 {
			t.Errorf("%s: audit after the refusal: %+v, %v; want no entry", c.name, pg.Entries, err)
		}
	}

	def := testkit.LadderDef(level.NextLower)
	def.Levels.Ladder, def.Levels.Growth, def.Levels.Refunds = nil, nil, nil
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.OpenMember(ctx, migrate.Member{RequestID: "r1", Member: "m1", Operator: "op", At: at, Plans: []migrate.Plan{{Plan: "Plus", Expires: exp}}}); err != nil {
		t.Fatal(err)
	}
	s, err := p.Levels().Status(ctx, "m1")
	if err != nil || s.Level != "" || len(s.Plans) != 1 || !s.Plans[0].Expires.Equal(exp) || !s.Plans[0].Since.Equal(at) {
		t.Errorf("plans alone: %+v %v, want Plus from the row's time to %s, no level", s, err, exp)
	}
}

// TestImportAchievements imports members with the achievements granted
// to them (the catalog: gold-club, which Gold's upgrade gift grants, and
// vip-guest). m1 (growth 1,000: Silver) holds gold-club as given (20 May
// 10:00, by the level Gold) and vip-guest, given by name alone: at the
// row's time, by the import's operator ("migrate"); m2 vip-guest on 1
// May, by the operator ops-li. Each grant's event is the row's request,
// and the feed has achievement.granted with the opening's rule. m1's
// order of 500 reaches Gold, whose gift grants gold-club: m1 has it
// already, so nothing is granted or published and the grant keeps its
// time; an operator's grant of vip-guest to m2 is ErrAlreadyGranted. An
// unknown achievement, one given twice, a time after the row's, a source
// that is none of a grant's, a source without whom it names and a name
// without its source, and a cell that does not parse are bad rows naming
// their line and field, writing nothing.
func TestImportAchievements(t *testing.T) {
	ctx := context.Background()
	def := retail(t)
	def.Benefits.Achievements = []benefit.Achievement{{Name: "gold-club"}, {Name: "vip-guest"}}
	if def.Levels.Ladder[1].Name != "Gold" {
		t.Fatalf("ladder[1] is %s, want Gold", def.Levels.Ladder[1].Name)
	}
	def.Levels.Ladder[1].Gifts = append(slices.Clone(def.Levels.Ladder[1].Gifts), rule.Reward{Kind: rule.RewardAchievement, Achievement: "gold-club"})
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		t.Fatal(err)
	}
	file := "member,growth,achievements\n" +
		"m1,1000,gold-club|2025-05-20T10:00:00+08:00|level|Gold;vip-guest\n" +
		"m2,,vip-guest|2025-05-01|operator|ops-li\n" +
		"m3,,nope\n" +
		"m4,,vip-guest;vip-guest\n" +
		"m5,,vip-guest|2025-06-02\n" +
		"m6,,vip-guest||robot|x\n" +
		"m7,,vip-guest||operator|\n" +
		"m8,,vip-guest|||ops\n" +
		"m9,,vip-guest|x\n"
	importCSV(t, p, "ach.csv", file, migrate.Progress{Rows: 9, Applied: 2, Failed: 7}, []badRow{
		{4, "m3", "achievements[0].achievement", benefit.ErrUnknownAchievement},
		{5, "m4", "achievements[1].achievement", event.ErrInvalidArgument},
		{6, "m5", "achievements[0].at", event.ErrInvalidArgument},
		{7, "m6", "achievements[0].source", event.ErrInvalidArgument},
		{8, "m7", "achievements[0].by", event.ErrInvalidArgument},
		{9, "m8", "achievements[0].source", event.ErrInvalidArgument},
		{10, "m9", "achievements[0].at", migrate.ErrBadRow},
	}, migrate.ErrBadRow, event.ErrInvalidArgument, benefit.ErrUnknownAchievement)
	for _, m := range []string{"m3", "m4", "m5", "m6", "m7", "m8", "m9"} {
		if gs, err := p.Benefits().Achievements(ctx, m); err != nil || len(gs) != 0 {
			t.Errorf("%s refused: %+v %v, want no achievement", m, gs, err)
		}
	}
	granted := map[string][]benefit.Grant{
		"m1": {{Achievement: "gold-club", At: time.Date(2025, 5, 20, 10, 0, 0, 0, shanghai), Source: "level", By: "Gold", Event: "ach.csv:2"},
			{Achievement: "vip-guest", At: at, Source: "operator", By: "migrate", Event: "ach.csv:2"}},
		"m2": {{Achievement: "vip-guest", At: time.Date(2025, 5, 1, 0, 0, 0, 0, shanghai), Source: "operator", By: "ops-li", Event: "ach.csv:3"}},
	}
	check := func(stage string) {
		t.Helper()
		for m, w := range granted {
			gs, err := p.Benefits().Achievements(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(w, gs, sameTime); d != "" {
				t.Errorf("%s: %s's achievements (-want +got):\n%s", stage, m, d)
			}
		}
	}
	check("imported")
	feed, err := p.Feed(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int{"m1": 2, "m2": 1}, openedBy(t, feed, benefit.ChangeAchievement)); d != "" {
		t.Errorf("achievement.granted changes (-want +got):\n%s", d)
	}

	out, err := p.Process(ctx, event.Event{ID: "o-m1", Member: "m1", Type: "order", Time: at.Add(10 * time.Hour),
		Attrs: event.Attrs{"amount": event.DecString("500"), "order_id": event.Str("o-m1")}})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := p.Levels().Status(ctx, "m1"); err != nil || s.Level != "Gold" {
		t.Errorf("m1 after the order: %+v %v, want Gold", s, err)
	}
	if got := openedBy(t, out.Changes, benefit.ChangeAchievement); len(got) != 0 {
		t.Errorf("m1's order published %v achievement grants, want none", got)
	}
	_, err = p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g-m2", Member: "m2", Operator: "ops", At: at.Add(time.Hour), Achievement: "vip-guest"})
	if !errors.Is(err, benefit.ErrAlreadyGranted) {
		t.Errorf("granting m2 vip-guest again: %v, want ErrAlreadyGranted", err)
	}
	check("after the order and the operator's grant")
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestImportValueRefunded imports the cumulative refund with the stored
// value: m1 spent 300 and was refunded 120, so 180 is refundable: a
// refund of 180.01 is refused (value.ErrRefundExceedsSpend) and one of
// 180 taken (balance 100 + 180 = 280, refunded 300). m2's refunds (20)
// are past its spend (10), as a store of an earlier release may hold
// them: taken, with nothing refundable (a refund of 0.01 refused). A
// negative refund, one finer than the stored-value scale (cents) and a
// cell that is not a decimal are bad rows naming their field.
func TestImportValueRefunded(t *testing.T) {
	ctx := context.Background()
	p := open(t, memory.New())
	file := "member,value_balance,value_spent,value_refunded\n" +
		"m1,100,300,120\n" +
		"m2,0,10,20\n" +
		"m3,0,0,-1\n" +
		"m4,0,0,0.001\n" +
		"m5,0,0,x\n"
	importCSV(t, p, "value.csv", file, migrate.Progress{Rows: 5, Applied: 2, Failed: 3}, []badRow{
		{4, "m3", "value.refunded", event.ErrInvalidArgument},
		{5, "m4", "value.refunded", event.ErrInvalidArgument},
		{6, "m5", "value_refunded", migrate.ErrBadRow},
	}, migrate.ErrBadRow, event.ErrInvalidArgument)
	if a, err := p.Value().Account(ctx, "m1"); err != nil || !a.Refunded.Equal(dec("120")) || !a.Spent.Equal(dec("300")) || !a.Balance.Equal(dec("100")) {
		t.Errorf("m1: %+v %v, want balance 100, spent 300, refunded 120", a, err)
	}
	refund := func(id, member, amount string) error {
		_, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: "value_refund", Time: at.Add(time.Hour),
			Attrs: event.Attrs{"amount": event.DecString(amount)}})
		return err
	}
	if err := refund("rf1", "m1", "180.01"); !errors.Is(err, value.ErrRefundExceedsSpend) {
		t.Errorf("m1's refund of 180.01: %v, want ErrRefundExceedsSpend", err)
	}
	if err := refund("rf2", "m1", "180"); err != nil {
		t.Errorf("m1's refund of 180: %v", err)
	}
	if a, err := p.Value().Account(ctx, "m1"); err != nil || !a.Refunded.Equal(dec("300")) || !a.Balance.Equal(dec("280")) {
		t.Errorf("m1 after the refund: %+v %v, want balance 280, refunded 300", a, err)
	}
	if err := refund("rf3", "m2", "0.01"); !errors.Is(err, value.ErrRefundExceedsSpend) {
		t.Errorf("m2's refund of 0.01: %v, want ErrRefundExceedsSpend", err)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestImportValueWithdrawn imports the cumulative withdrawal with the
// stored value. Where the tags count withdrawals off, the recharge total
// opens at the recharge less the withdrawal, never below 0: m1 recharged
// 800, spent 150 and withdrew 400 (balance 250), a total of 400, below
// the retail card-holder tag's 500; m2 withdrew 500 of 300 recharged (an
// opening balance withdrawn too, as the import does not check against
// the recharge), a total of 0. A withdrawal of 250 after the import
// takes m1's total to 150 and its withdrawn to 650. The retail program
// as it is (no withdrawal type, tags counting every recharge) keeps the
// withdrawn total in Account and the whole recharge as the tag total: m1
// has 800 and card-holder. A negative withdrawal, one finer than the
// stored-value scale (cents) and a cell that is not a decimal are bad
// rows naming their field.
func TestImportValueWithdrawn(t *testing.T) {
	ctx := context.Background()
	file := "member,value_balance,value_recharged,value_spent,value_withdrawn\n" +
		"m1,250,800,150,400\n" +
		"m2,0,300,0,500\n" +
		"m3,0,0,0,-1\n" +
		"m4,0,0,0,0.001\n" +
		"m5,0,0,0,x\n"
	// withdrawing is the retail definition with stored-value withdrawals
	// (event type value_withdraw) that the tags' recharge total counts off.
	withdrawing := testkit.WithWithdraw(retail(t), "value_withdraw")
	type figures = testkit.ValueFigures
	decimals := cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })
	imported := func(t *testing.T, p *membership.Program) {
		t.Helper()
		importCSV(t, p, "value.csv", file, migrate.Progress{Rows: 5, Applied: 2, Failed: 3}, []badRow{
			{4, "m3", "value.withdrawn", event.ErrInvalidArgument},
			{5, "m4", "value.withdrawn", event.ErrInvalidArgument},
			{6, "m5", "value_withdrawn", migrate.ErrBadRow},
		}, migrate.ErrBadRow, event.ErrInvalidArgument)
	}
	m1 := value.Account{Balance: dec("250"), Recharged: dec("800"), Spent: dec("150"), Withdrawn: dec("400")}
	m2 := value.Account{Recharged: dec("300"), Withdrawn: dec("500")}
	for _, c := range []struct {
		name   string
		def    membership.Definition
		m1, m2 figures
	}{
		{"withdrawals counted off", withdrawing, figures{Account: m1, Recharge: dec("400")}, figures{Account: m2, Recharge: decimal.Zero}},
		{"retail as it is", retail(t), figures{Account: m1, Recharge: dec("800"), Tags: []string{"card-holder"}}, figures{Account: m2, Recharge: dec("300")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := membership.Open(memory.New(), c.def)
			if err != nil {
				t.Fatal(err)
			}
			imported(t, p)
			for member, w := range map[string]figures{"m1": c.m1, "m2": c.m2} {
				if d := cmp.Diff(w, testkit.ValueFiguresOf(t, p, member), decimals); d != "" {
					t.Errorf("%s (-want +got):\n%s", member, d)
				}
			}
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}

	p, err := membership.Open(memory.New(), withdrawing)
	if err != nil {
		t.Fatal(err)
	}
	imported(t, p)
	if _, err := p.Process(ctx, event.Event{ID: "w1", Member: "m1", Type: "value_withdraw", Time: at.Add(time.Hour),
		Attrs: event.Attrs{"amount": event.DecString("250")}}); err != nil {
		t.Fatal(err)
	}
	want := figures{Account: value.Account{Recharged: dec("800"), Spent: dec("150"), Withdrawn: dec("650")}, Recharge: dec("150")}
	if d := cmp.Diff(want, testkit.ValueFiguresOf(t, p, "m1"), decimals); d != "" {
		t.Errorf("m1 after a withdrawal of 250 (-want +got):\n%s", d)
	}
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
