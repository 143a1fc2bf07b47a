package whatif_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/whatif"
	"github.com/shopspring/decimal"
)

// programJSON: Silver, and Gold from 100 of growth (kept with 100 over the
// last month, for terms of a month, a coupon of 10 off as its gift); a
// point a yuan, and a second one at Gold; points expire at the end of the
// month they are earned in, at 0.01 a point; two orders complete a task
// worth 5 permanent points.
const programJSON = `{
  "zone": "Asia/Shanghai",
  "events": [{"name": "order", "attributes": [{"name": "amount", "type": "decimal", "required": true}]}],
  "levels": {
    "ladder": [
      {"name": "Silver", "upgrade": "0", "validity": {"kind": "permanent"}},
      {"name": "Gold", "upgrade": "100", "retention": "100", "validity": {"kind": "months_after", "n": 1}, "window": 1,
       "downgrade": "lowest", "gifts": [{"kind": "coupon", "template": "gold"}]}
    ],
    "growth": [{"id": "spend", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}}]
  },
  "points": {
    "programs": [{"name": "mall", "payment": {"rate": "0.01", "max_share": "0.5"}}],
    "rules": [
      {"id": "buy", "program": "mall", "event": "order", "formula": {"kind": "multiplier", "base": "amount", "rate": "1"},
       "validity": {"kind": "month_ends", "n": 0}},
      {"id": "gold-bonus", "program": "mall", "event": "order", "levels": ["Gold"],
       "formula": {"kind": "multiplier", "base": "amount", "rate": "1"}, "validity": {"kind": "month_ends", "n": 0}}
    ]
  },
  "coupons": {"templates": [{"name": "gold", "type": "cash", "amount": "10", "claim": {"methods": ["system"]},
    "use": {"validity": {"kind": "days_after", "n": 30}}}]},
  "tasks": {"tasks": [{"name": "two-orders", "kind": "repeat", "steps": [{"event": "order"}], "times": 2,
    "rewards": [{"kind": "points", "program": "mall", "amount": "5"}]}]}
}`

// definitions returns the program and the change asked about: Gold from
// 50 (kept with 50), and no Gold bonus.
func definitions(tb testing.TB) (actual, changed membership.Definition) {
	tb.Helper()
	var err error
	if actual, err = membership.ParseDefinition([]byte(programJSON)); err != nil {
		tb.Fatal(err)
	}
	if changed, err = membership.ParseDefinition([]byte(programJSON)); err != nil {
		tb.Fatal(err)
	}
	changed.Levels.Ladder[1].Upgrade = decimal.NewFromInt(50)
	changed.Levels.Ladder[1].Retention = decimal.NewFromInt(50)
	changed.Points.Rules = changed.Points.Rules[:1]
	return actual, changed
}

// history runs the program with the journal on: alice orders 60 on 10
// January; bob 120 on the 20th and 30 on the 22nd, and spends 200 points
// on the 25th; Advance to 1 February; alice orders 10 half an hour later
// (still 31 January in UTC); bob uses his Gold coupon on 5 February;
// Advance to the 11th; dave orders 70 on the 15th; Advance to the 21st,
// bob's term end.
func history(tb testing.TB, def membership.Definition) *memory.Store {
	tb.Helper()
	ctx := context.Background()
	st := memory.New()
	tb.Cleanup(func() { st.Close() })
	p, err := membership.Open(st, def, membership.WithJournal())
	if err != nil {
		tb.Fatal(err)
	}
	loc := p.Location()
	at := func(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, loc) }
	order := func(id, member, amount string, t time.Time) {
		tb.Helper()
		if _, err := p.Process(ctx, event.Event{ID: id, Member: member, Type: "order", Time: t, Attrs: event.Attrs{"amount": event.DecString(amount)}}); err != nil {
			tb.Fatal(err)
		}
	}
	advance := func(t time.Time) {
		tb.Helper()
		if _, err := p.Advance(ctx, t); err != nil {
			tb.Fatal(err)
		}
	}
	order("a1", "alice", "60", at(1, 10, 10, 0))
	order("b1", "bob", "120", at(1, 20, 10, 0))
	order("b2", "bob", "30", at(1, 22, 10, 0))
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r1", Member: "bob", At: at(1, 25, 12, 0), Program: "mall", Ref: "mall-1", Amount: decimal.NewFromInt(200)}); err != nil {
		tb.Fatal(err)
	}
	advance(at(2, 1, 0, 0))
	order("a2", "alice", "10", at(2, 1, 0, 30))
	o := coupon.Order{ID: "x1", Member: "bob", Time: at(2, 5, 10, 0), Lines: []coupon.Line{{Product: "tea", Amount: decimal.NewFromInt(300)}}}
	if _, err := p.Coupons().Lock(ctx, coupon.LockRequest{RequestID: "lock-x1", Order: o, Coupons: []string{"c1.bob"}}); err != nil {
		tb.Fatal(err)
	}
	if _, err := p.Coupons().Use(ctx, coupon.OrderRequest{RequestID: "use-x1", At: o.Time, Order: "x1"}); err != nil {
		tb.Fatal(err)
	}
	advance(at(2, 11, 0, 0))
	order("d1", "dave", "70", at(2, 15, 10, 0))
	advance(at(2, 21, 0, 0))
	return st
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var opts = cmp.Options{cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })}

// TestRun checks a what-if of the whole history, worked by hand.
//
// Actual: alice stays Silver (60, then 70 of growth) and earns 60 points,
// then 10 and the task's 5 (her second order; permanent points); bob reaches Gold on 120 (gift: a coupon) and earns 240, then 60
// and the task's 5: 305; he spends 200 of his January points; on 1
// February alice's 60 and bob's other 100 January points expire; dave
// joins at Silver with 70 points; bob's term ends on 21 February with 30
// of growth over the month: back to Silver.
//
// Changed: alice reaches Gold on her 60 (a coupon) and earns only the 60
// points of the base rule (then 10 and the task's 5), bob 120 + 30 + 5 = 155, so his spending of 200
// is refused; 210 points expire on 1 February (alice's 60, bob's 150);
// alice's term ends on 11 February with 10 of growth: back to Silver;
// dave reaches Gold (a coupon); bob's term ends as in the actual. Dave is
// the one member whose level differs at the end.
func TestRun(t *testing.T) {
	actual, changed := definitions(t)
	src := history(t, actual)
	rep, err := whatif.Run(context.Background(), src, actual, changed, whatif.Options{})
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	jan, feb := time.Date(2026, 1, 1, 0, 0, 0, 0, loc), time.Date(2026, 2, 1, 0, 0, 0, 0, loc)
	gold := func(issued, used int64, off string) map[string]whatif.Coupons {
		return map[string]whatif.Coupons{"gold": {Issued: issued, Used: used, AmountOff: dec(off)}}
	}
	mall := func(issued, redeemed, expired, outstanding, liability string) map[string]whatif.Points {
		return map[string]whatif.Points{"mall": {Issued: dec(issued), Redeemed: dec(redeemed), Expired: dec(expired), Outstanding: dec(outstanding), Liability: dec(liability)}}
	}
	want := []whatif.Month{
		{
			Start: jan,
			Actual: whatif.Figures{Levels: map[string]int64{"Silver": 1, "Gold": 1}, Joins: 2, Upgrades: 1,
				Points: mall("365", "200", "0", "165", "1.65"), Coupons: gold(1, 0, "0"), Tasks: map[string]int64{"two-orders": 1}},
			Changed: whatif.Figures{Levels: map[string]int64{"Gold": 2}, Joins: 2, Upgrades: 2,
				Points: mall("215", "0", "0", "215", "2.15"), Coupons: gold(2, 0, "0"), Tasks: map[string]int64{"two-orders": 1}},
			Refused: 1,
		},
		{
			Start: feb,
			Actual: whatif.Figures{Levels: map[string]int64{"Silver": 3}, Joins: 1, Downgrades: 1,
				Points: mall("85", "0", "160", "90", "0.90"), Coupons: gold(0, 1, "10"), Tasks: map[string]int64{"two-orders": 1}},
			Changed: whatif.Figures{Levels: map[string]int64{"Silver": 2, "Gold": 1}, Joins: 1, Upgrades: 1, Downgrades: 2,
				Points: mall("85", "0", "210", "90", "0.90"), Coupons: gold(1, 1, "10"), Tasks: map[string]int64{"two-orders": 1}},
		},
	}
	if d := cmp.Diff(want, rep.Months, opts); d != "" {
		t.Errorf("months (-want +got):\n%s", d)
	}
	if len(rep.Refused) != 1 || rep.Refused[0].Action != "points.redeem" || rep.Refused[0].ID != "r1" || rep.Refused[0].Member != "bob" ||
		!errors.Is(rep.Refused[0].Err, membership.ErrInsufficientBalance) {
		t.Errorf("refused %+v, want bob's redemption r1 (insufficient balance)", rep.Refused)
	}
	if rep.Inputs-rep.Applied != 1 {
		t.Errorf("inputs %d, applied %d: want one refused", rep.Inputs, rep.Applied)
	}
	page, next := rep.Members("", 10)
	if d := cmp.Diff([]whatif.MemberDiff{{Member: "dave", Actual: "Silver", Changed: "Gold"}}, page); d != "" || next != "" {
		t.Errorf("members (-want +got):\n%s\nnext %q", d, next)
	}
}

// TestRunFrom checks a what-if whose change takes effect on 1 February:
// January is the actual program's on both sides (bob's spending goes
// through), and only February is reported. From then on alice's order of
// 10 (and the task's 5 points) takes her to 70 of growth, Gold under the
// change (a coupon), and dave reaches Gold; bob's term ends as in the actual. The points are the
// actual ones: the Gold bonus, gone, would have paid bob in January only.
func TestRunFrom(t *testing.T) {
	actual, changed := definitions(t)
	actual.Version, changed.Version = 3, 3 // Run gives the change the next version in its store
	src := history(t, actual)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, loc)
	rep, err := whatif.Run(context.Background(), src, actual, changed, whatif.Options{From: feb})
	if err != nil {
		t.Fatal(err)
	}
	want := []whatif.Month{{
		Start: feb,
		Actual: whatif.Figures{Levels: map[string]int64{"Silver": 3}, Joins: 1, Downgrades: 1,
			Points:  map[string]whatif.Points{"mall": {Issued: dec("85"), Redeemed: dec("0"), Expired: dec("160"), Outstanding: dec("90"), Liability: dec("0.90")}},
			Coupons: map[string]whatif.Coupons{"gold": {Used: 1, AmountOff: dec("10")}}, Tasks: map[string]int64{"two-orders": 1}},
		Changed: whatif.Figures{Levels: map[string]int64{"Silver": 1, "Gold": 2}, Joins: 1, Upgrades: 2, Downgrades: 1,
			Points:  map[string]whatif.Points{"mall": {Issued: dec("85"), Redeemed: dec("0"), Expired: dec("160"), Outstanding: dec("90"), Liability: dec("0.90")}},
			Coupons: map[string]whatif.Coupons{"gold": {Issued: 2, Used: 1, AmountOff: dec("10")}}, Tasks: map[string]int64{"two-orders": 1}},
	}}
	if d := cmp.Diff(want, rep.Months, opts); d != "" {
		t.Errorf("months (-want +got):\n%s", d)
	}
	if len(rep.Refused) != 0 || rep.Inputs != rep.Applied {
		t.Errorf("refused %+v (inputs %d, applied %d), want none", rep.Refused, rep.Inputs, rep.Applied)
	}
	page, _ := rep.Members("", 0)
	if d := cmp.Diff([]whatif.MemberDiff{{"alice", "Silver", "Gold"}, {"dave", "Silver", "Gold"}}, page); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	// Paging: one member a page.
	p1, next := rep.Members("", 1)
	p2, last := rep.Members(next, 1)
	if len(p1) != 1 || p1[0].Member != "alice" || next != "alice" || len(p2) != 1 || p2[0].Member != "dave" || last != "" {
		t.Errorf("pages of one: %v next %q, %v next %q", p1, next, p2, last)
	}
	// A huge limit after a member used to overflow (i+limit) and panic;
	// it is clamped to 1,000. A negative one reads as the default.
	if p, next := rep.Members("alice", math.MaxInt); len(p) != 1 || p[0].Member != "dave" || next != "" {
		t.Errorf("after alice, limit MaxInt: %v next %q; want dave", p, next)
	}
	if p, _ := rep.Members("", -1); len(p) != 2 {
		t.Errorf("limit -1: %v; want both members", p)
	}
}

// readOnly is a store that refuses every write.
type readOnly struct{ store.Store }

func (readOnly) Update(context.Context, func(store.Tx) error) error {
	return errors.New("the what-if wrote to its source")
}

// TestRunReadsOnly runs the what-if on a source that refuses every write:
// it gives the same report as on the source itself.
func TestRunReadsOnly(t *testing.T) {
	actual, changed := definitions(t)
	src := history(t, actual)
	want, err := whatif.Run(context.Background(), src, actual, changed, whatif.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := whatif.Run(context.Background(), readOnly{src}, actual, changed, whatif.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want.Months, got.Months, opts); d != "" {
		t.Errorf("months (-on the source +read only):\n%s", d)
	}
}

// TestRunLiveSource runs a what-if while the live program goes on: an
// order it processes during the run is not in the report.
func TestRunLiveSource(t *testing.T) {
	ctx := context.Background()
	actual, changed := definitions(t)
	src := history(t, actual)
	want, err := whatif.Run(ctx, src, actual, changed, whatif.Options{})
	if err != nil {
		t.Fatal(err)
	}
	live, err := membership.Open(src, actual, membership.WithJournal())
	if err != nil {
		t.Fatal(err)
	}
	late := event.Event{ID: "late", Member: "erin", Type: "order", Time: time.Date(2026, 2, 25, 10, 0, 0, 0, live.Location()),
		Attrs: event.Attrs{"amount": event.DecString("500")}}
	got, err := whatif.Run(ctx, src, actual, changed, whatif.Options{Progress: func(done, total uint64) {
		if late.ID != "" {
			if _, err := live.Process(ctx, late); err != nil {
				t.Error(err)
			}
			late.ID = ""
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want.Months, got.Months, opts); d != "" || got.Inputs != want.Inputs {
		t.Errorf("inputs %d, want %d; months (-before +during):\n%s", got.Inputs, want.Inputs, d)
	}
	if late.ID != "" {
		t.Error("the live program processed nothing during the run")
	}
}

// TestRunUntil checks that Until ends the replay: up to 1 February only
// January is reported, the same as in the whole run.
func TestRunUntil(t *testing.T) {
	actual, changed := definitions(t)
	src := history(t, actual)
	loc, _ := time.LoadLocation("Asia/Shanghai")
	rep, err := whatif.Run(context.Background(), src, actual, changed, whatif.Options{Until: time.Date(2026, 2, 1, 0, 0, 0, 0, loc)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Months) != 1 || rep.Months[0].Changed.Levels["Gold"] != 2 || rep.Months[0].Refused != 1 {
		t.Fatalf("months %+v: want January only, two Gold members on the changed side, one refusal", rep.Months)
	}
	// At 1 February both alice and bob are Gold on the changed side, only
	// bob on the actual one.
	if page, _ := rep.Members("", 0); len(page) != 1 || page[0] != (whatif.MemberDiff{"alice", "Silver", "Gold"}) {
		t.Errorf("members %v, want alice Silver → Gold", page)
	}
}

// TestRunRefuses checks the errors: a nil source, a period that ends
// before it starts, a definition the journal did not run under, a source
// without a journal, a context cancelled; the source is never written.
func TestRunRefuses(t *testing.T) {
	ctx := context.Background()
	actual, changed := definitions(t)
	src := history(t, actual)
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	if _, err := whatif.Run(ctx, nil, actual, changed, whatif.Options{}); !errors.Is(err, whatif.ErrInvalidArgument) {
		t.Errorf("nil source: %v", err)
	}
	// A period that ends where or before it starts is named at its end,
	// as every period's end is (the error named no field before).
	for name, until := range map[string]time.Time{"empty period": feb, "until before from": feb.AddDate(0, 0, -1)} {
		if _, err := whatif.Run(ctx, src, actual, changed, whatif.Options{From: feb, Until: until}); !errors.Is(err, whatif.ErrInvalidArgument) || !strings.Contains(err.Error(), "until: ") {
			t.Errorf("%s: %v; want ErrInvalidArgument naming until", name, err)
		}
	}
	// A From or Until outside the years 1900 to 2099 used to reach the
	// replay (and come back as a definition conflict); it is refused,
	// named, before anything is read.
	for name, o := range map[string]whatif.Options{
		"from":  {From: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)},
		"until": {Until: time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := whatif.Run(ctx, src, actual, changed, o); !errors.Is(err, whatif.ErrInvalidArgument) || !errors.Is(err, event.ErrTimeRange) || !strings.Contains(err.Error(), name+": ") {
			t.Errorf("%s out of range: %v; want ErrInvalidArgument and event.ErrTimeRange naming %s", name, err, name)
		}
	}
	if _, err := whatif.Run(ctx, src, changed, actual, whatif.Options{}); !errors.Is(err, membership.ErrDefinitionConflict) {
		t.Errorf("the changed definition as the actual one: %v", err)
	}
	// A store whose program ran without the journal used to give a report
	// of nothing.
	bare := memory.New()
	t.Cleanup(func() { bare.Close() })
	bp, err := membership.Open(bare, actual)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bp.Process(ctx, event.Event{ID: "o1", Member: "alice", Type: "order", Time: feb, Attrs: event.Attrs{"amount": event.DecString("60")}}); err != nil {
		t.Fatal(err)
	}
	if rep, err := whatif.Run(ctx, bare, actual, changed, whatif.Options{}); !errors.Is(err, whatif.ErrInvalidArgument) || !strings.Contains(err.Error(), "WithJournal") {
		t.Errorf("a source without a journal: %+v, %v; want ErrInvalidArgument naming WithJournal", rep, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	n := 0
	_, err = whatif.Run(cctx, src, actual, changed, whatif.Options{Progress: func(done, total uint64) {
		if n++; n == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// The source still replays into an empty store as it did.
	p, err := membership.Open(memory.New(), actual)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Replay(ctx, src, nil); err != nil {
		t.Errorf("the source after the runs: %v", err)
	}
}

// TestRunConcurrent runs the same what-if from two goroutines on one
// source (run it with -race): each gives the report of a run alone.
func TestRunConcurrent(t *testing.T) {
	actual, changed := definitions(t)
	src := history(t, actual)
	want, err := whatif.Run(context.Background(), src, actual, changed, whatif.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]*whatif.Report, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i], errs[i] = whatif.Run(context.Background(), src, actual, changed, whatif.Options{}) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		if d := cmp.Diff(want.Months, got[i].Months, opts); d != "" || got[i].Inputs != want.Inputs || got[i].Applied != want.Applied {
			t.Errorf("run %d: inputs %d/%d, want %d/%d; months (-alone +concurrent):\n%s", i, got[i].Inputs, got[i].Applied, want.Inputs, want.Applied, d)
		}
	}
}
