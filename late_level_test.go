package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// lateLevelDef is a ladder of Silver (the entry level) and Gold (100
// growth, a term of one month after, kept with 100 earned in the month
// before its end), growth from
// orders (the amount), and one rule of each other domain that reads the
// level: points on orders (1 for Silver, 10 for Gold), a coupon only
// Gold members may claim, a task of one check-in for Gold members, a tag
// of the Gold members and a lounge benefit of Gold.
func lateLevelDef() membership.Definition {
	gold := []string{"Gold"}
	fixed := func(n string) rule.Formula { return rule.Formula{Kind: rule.Fixed, Fixed: testkit.Dec(n)} }
	year := rule.Validity{Kind: rule.DaysAfter, N: 365}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "check_in"},
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Silver", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Gold", Upgrade: testkit.Dec("100"), Retention: testkit.Dec("100"), Window: 1,
					Validity: rule.Validity{Kind: rule.MonthsAfter, N: 1}, Downgrade: level.NextLower},
			},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{
				{ID: "silver", Program: "mall", Event: "order", Levels: []string{"Silver"}, Formula: fixed("1"), Validity: year},
				{ID: "gold", Program: "mall", Event: "order", Levels: gold, Formula: fixed("10"), Validity: year},
			},
		},
		Coupons: &coupon.Definition{Templates: []coupon.Template{{Name: "gold-only", Type: coupon.Cash, Amount: testkit.Dec("5"),
			Claim: coupon.ClaimRule{Levels: gold}, Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}}}},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "gold-check-in", Kind: task.One, Steps: []task.Step{{Event: "check_in"}},
			Target: task.Target{Levels: gold}, Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: testkit.Dec("100")}}}}},
		Tags:     &tag.Definition{Rules: []tag.Rule{{Tag: "gold", All: []tag.Cond{{Fact: tag.FactLevel, Op: event.Eq, Value: event.Str("Gold")}}}}},
		Benefits: &benefit.Definition{Benefits: []benefit.Benefit{{Name: "lounge", Type: benefit.TypeService, Levels: gold}}},
	}
}

// lateLevel drives a program of lateLevelDef for one member: events,
// claims and reads at times of 2026 in Shanghai ("03-01 10:00").
type lateLevel struct {
	t      *testing.T
	p      *membership.Program
	member string
}

func (l lateLevel) at(s string) time.Time {
	l.t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", "2026-"+s, testkit.Shanghai)
	if err != nil {
		l.t.Fatal(err)
	}
	return v
}

func (l lateLevel) order(id, when, amount string) {
	l.t.Helper()
	testkit.MustProcess(l.t, l.p, event.Event{ID: id, Member: l.member, Type: "order", Time: l.at(when),
		Attrs: event.Attrs{"amount": event.Dec(testkit.Dec(amount))}})
}

func (l lateLevel) checkIn(id, when string) {
	l.t.Helper()
	testkit.MustProcess(l.t, l.p, event.Event{ID: id, Member: l.member, Type: "check_in", Time: l.at(when)})
}

// points checks the member's points, counted a day after the last event
// (none expires within the year).
func (l lateLevel) points(want string) {
	l.t.Helper()
	b, err := l.p.Points().Balance(context.Background(), points.BalanceQuery{Program: "mall", Member: l.member, At: l.at("05-01 00:00")})
	if err != nil {
		l.t.Fatal(err)
	}
	if !b.Available.Equal(testkit.Dec(want)) {
		l.t.Errorf("%s has %s points, want %s", l.member, b.Available, want)
	}
}

// claim claims the gold-only coupon at when and returns the error.
func (l lateLevel) claim(id, when string) error {
	_, err := l.p.Coupons().Claim(context.Background(), coupon.ClaimRequest{RequestID: id, Member: l.member, At: l.at(when), Template: "gold-only"})
	return err
}

// lounge reports whether the member has the lounge at when.
func (l lateLevel) lounge(when string) bool {
	l.t.Helper()
	bs, err := l.p.Benefits().Of(context.Background(), l.member, l.at(when))
	if err != nil {
		l.t.Fatal(err)
	}
	return len(bs) == 1 && bs[0].Name == "lounge"
}

func (l lateLevel) level(want string) {
	l.t.Helper()
	s, err := l.p.Levels().Status(context.Background(), l.member)
	if err != nil {
		l.t.Fatal(err)
	}
	if s.Level != want {
		l.t.Errorf("%s is %s, want %s", l.member, s.Level, want)
	}
}

func (l lateLevel) tagged(want bool) {
	l.t.Helper()
	as, err := l.p.Tags().Of(context.Background(), l.member)
	if err != nil {
		l.t.Fatal(err)
	}
	if got := len(as) == 1 && as[0].Tag == "gold"; got != want || len(as) > 1 {
		l.t.Errorf("%s's tags %+v, want gold: %v", l.member, as, want)
	}
}

func (l lateLevel) completions(want int64) {
	l.t.Helper()
	n, err := l.p.Tasks().Completions(context.Background(), task.CompletionsQuery{Member: l.member, Task: "gold-check-in", Period: rule.Total, At: l.at("05-01 00:00")})
	if err != nil {
		l.t.Fatal(err)
	}
	if n != want {
		l.t.Errorf("%s completed gold-check-in %d times, want %d", l.member, n, want)
	}
}

// An event dated before the member's latest level change, processed
// after it, is judged on the level the member held at its time, not the
// level they hold when it is processed. alice joins Silver with a
// check-in at 08:00 on 1 March and reaches Gold with an order of 100 at
// 10:00 (10 points: the Gold rule). Then come, late, an order of 1 dated
// 09:00 (1 point, by the Silver rule: before, 10 by the Gold rule), a
// check-in dated 09:30 (not counted by the Gold-only task: before, it
// completed it and gave 100 points) and a claim of the Gold-only coupon
// dated 09:45 (refused, coupon.ErrNotEligible: before, issued). The
// lounge is not hers at 09:00 (before, it was). Events and claims dated
// from 10:00 on see Gold: an order at 11:00 (10 points), a check-in at
// 11:30 (the task's completion, 100 points), a claim at 12:00. In all,
// 10 + 1 + 10 + 100 = 121 points. Her tag, which says what she is (not
// how an event is judged), stays: the late events leave her tagged Gold.
func TestLateEventJudgedOnTheLevelHeldAtItsTime(t *testing.T) {
	onEveryStore(t, lateLevelDef(), func(t *testing.T, ps [2]*membership.Program) {
		l := lateLevel{t: t, p: ps[0], member: "alice"}
		l.checkIn("c1", "03-01 08:00")
		l.order("o1", "03-01 10:00", "100")
		l.level("Gold")
		l.points("10")
		l.tagged(true)

		l.order("late-order", "03-01 09:00", "1")
		l.points("11")
		l.checkIn("late-check-in", "03-01 09:30")
		l.completions(0)
		l.points("11")
		if err := l.claim("late-claim", "03-01 09:45"); !errors.Is(err, coupon.ErrNotEligible) {
			t.Errorf("claim dated 09:45, before Gold: %v, want coupon.ErrNotEligible", err)
		}
		if l.lounge("03-01 09:00") {
			t.Error("the lounge at 09:00, before Gold")
		}
		l.level("Gold")
		l.tagged(true)

		l.order("o2", "03-01 11:00", "1")
		l.points("21")
		l.checkIn("c2", "03-01 11:30")
		l.completions(1)
		l.points("121")
		if err := l.claim("claim", "03-01 12:00"); err != nil {
			t.Errorf("claim dated 12:00, at Gold: %v", err)
		}
		if !l.lounge("03-01 10:00") {
			t.Error("no lounge at 10:00, at Gold")
		}
		if err := l.p.Verify(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// A late event dated before a downgrade is judged on the higher level
// the member held then. bob joins Silver at 08:00 on 1 March and reaches
// Gold at 10:00 with an order of 100 (10 points): a term of one month
// after, to 24:00 of 1 April. The term's window, from 2 March, earns
// nothing (100 would keep Gold), so Advance to 10 April downgrades him
// to Silver at 2 April 00:00, and his tag goes. Then, late, an order of 1
// dated 20 March is judged on Gold (10 points: before, 1 by the Silver
// rule), as are a check-in of that day (the task's completion, 100
// points: before, nothing), a claim of the Gold-only coupon and the
// lounge on that day; his tag does not come back. An order of 1 dated
// 10 April is judged on Silver (1 point), and a claim then is refused.
// In all 10 + 10 + 100 + 1 = 121 points; the growth of 2 leaves him
// Silver.
func TestLateEventBeforeADowngradeJudgedOnTheHigherLevel(t *testing.T) {
	onEveryStore(t, lateLevelDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		l := lateLevel{t: t, p: ps[0], member: "bob"}
		l.checkIn("c1", "03-01 08:00")
		l.order("o1", "03-01 10:00", "100")
		l.points("10")
		if _, err := l.p.Advance(ctx, l.at("04-10 00:00")); err != nil {
			t.Fatal(err)
		}
		l.level("Silver")
		l.tagged(false)

		l.order("late-order", "03-20 12:00", "1")
		l.points("20")
		l.checkIn("late-check-in", "03-20 12:30")
		l.completions(1)
		l.points("120")
		if err := l.claim("late-claim", "03-20 13:00"); err != nil {
			t.Errorf("claim dated 20 March, at Gold: %v", err)
		}
		if !l.lounge("03-20 13:00") {
			t.Error("no lounge on 20 March, at Gold")
		}
		l.level("Silver")
		l.tagged(false)

		l.order("o2", "04-10 12:00", "1")
		l.points("121")
		if err := l.claim("claim", "04-10 13:00"); !errors.Is(err, coupon.ErrNotEligible) {
			t.Errorf("claim dated 10 April, at Silver: %v, want coupon.ErrNotEligible", err)
		}
		if l.lounge("04-10 13:00") {
			t.Error("the lounge on 10 April, at Silver")
		}
		l.level("Silver")
		if err := l.p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// historyScans counts the scans of the level history its transactions
// make.
type historyScans struct {
	store.Store
	n int
}

type historyScansTx struct {
	store.Tx
	s *historyScans
}

func (s *historyScans) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(historyScansTx{tx, s}) })
}

func (s *historyScans) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.View(ctx, func(tx store.Tx) error { return fn(historyScansTx{tx, s}) })
}

func (t historyScansTx) Scan(bucket string, start, end []byte, reverse bool, fn func(k, v []byte) error) error {
	if bucket == "level.history" {
		t.s.n++
	}
	return t.Tx.Scan(bucket, start, end, reverse, fn)
}

// A late event reads the member's level history once, however many of
// its domains ask for its level: in lateLevelDef with a second task, of
// one order, for Gold members, an order dated 09:00, after an upgrade at
// 10:00, is judged by the points rules and by the tasks' targets
// (before, the points part and the task part each read the history:
// twice). An event dated from 10:00 on reads none of it, as before.
func TestLateEventReadsTheHistoryOnce(t *testing.T) {
	def := lateLevelDef()
	def.Tasks.Tasks = append(def.Tasks.Tasks, task.Task{Name: "gold-order", Kind: task.One, Steps: []task.Step{{Event: "order"}},
		Target: task.Target{Levels: []string{"Gold"}}, Rewards: []rule.Reward{{Kind: rule.RewardPoints, Program: "mall", Amount: testkit.Dec("1000")}}})
	for name, newStore := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := &historyScans{Store: newStore()}
			p, err := membership.Open(st, def)
			if err != nil {
				t.Fatal(err)
			}
			l := lateLevel{t: t, p: p, member: "alice"}
			l.checkIn("c1", "03-01 08:00")
			l.order("o1", "03-01 10:00", "100")
			for _, c := range []struct {
				what string
				do   func()
				want int
			}{
				{"an order dated 11:00", func() { l.order("o2", "03-01 11:00", "1") }, 0},
				{"a late order dated 09:00", func() { l.order("late-order", "03-01 09:00", "1") }, 1},
				{"a late check-in dated 09:30", func() { l.checkIn("late-check-in", "03-01 09:30") }, 1},
			} {
				st.n = 0
				c.do()
				if st.n != c.want {
					t.Errorf("%s: %d scans of the level history, want %d", c.what, st.n, c.want)
				}
			}
		})
	}
}
