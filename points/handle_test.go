package points_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/store"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

var dec = testkit.Dec

var mustProcess = testkit.MustProcess

// ptsAt is a wall time in Shanghai.
func ptsAt(s string) time.Time {
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", time.DateOnly} {
		if v, err := time.ParseInLocation(layout, s, testkit.Shanghai); err == nil {
			return v
		}
	}
	panic("bad time " + s)
}

func ptsDecp(s string) *decimal.Decimal { v := dec(s); return &v }

// ptsDef is a program with two point programs (mall: whole points; park:
// one decimal) and the given rules; mod adjusts it.
func ptsDef(mod func(d *points.Definition)) membership.Definition {
	pd := &points.Definition{
		Programs: []points.Program{
			{Name: "mall", ApprovalAbove: ptsDecp("500"), Payment: &points.Payment{Rate: dec("0.01"), MaxShare: dec("0.5")}},
			{Name: "park", Rounding: rule.Rounding{Scale: 1}},
		},
		Exchanges: []points.Exchange{{From: "mall", To: "park", Rate: dec("0.3")}, {From: "park", To: "mall", Rate: dec("3")}},
		Refunds:   []points.Refund{{Event: "refund", Order: "order_id", Amount: "amount"}},
	}
	if mod != nil {
		mod(pd)
	}
	// Refund rules need a rule that records its orders; the tests of
	// rules that record none have no refunds.
	if !slices.ContainsFunc(pd.Rules, func(r points.Rule) bool { return r.Order != "" }) {
		pd.Refunds = nil
	}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{
				{Name: "amount", Kind: event.Decimal, Required: true},
				{Name: "order_id", Kind: event.String},
				{Name: "store", Kind: event.String},
				{Name: "items", Kind: event.Integer},
			}},
			{Name: "refund", Attributes: []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "visit"},
		},
		Points: pd,
	}
}

// ptsBuy is the rule "1 mall point per yuan, order tracked".
var ptsBuy = points.Rule{ID: "buy", Program: "mall", Event: "order", Order: "order_id",
	Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}

func ptsOrder(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString(amount), "order_id": event.Str("o-" + id)}}
}

func ptsVisit(id, member string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "visit", Time: at}
}

func ptsRefund(id, member, order, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "refund", Time: at, Attrs: event.Attrs{"order_id": event.Str(order), "amount": event.DecString(amount)}}
}

func ptsBalance(t testing.TB, p *membership.Program, program, member string, at time.Time) points.Balance {
	t.Helper()
	b, err := p.Points().Balance(context.Background(), points.BalanceQuery{Program: program, Member: member, At: at})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptsWantAvailable(t testing.TB, p *membership.Program, program, member string, at time.Time, want string) {
	t.Helper()
	if b := ptsBalance(t, p, program, member, at); !b.Available.Equal(dec(want)) {
		t.Errorf("%s available at %s = %s, want %s (%+v)", member, at.Format(time.DateTime), b.Available, want, b)
	}
}

// ptsCheckBooks checks ledger Verify and the reconciliation identity of
// every program.
func ptsCheckBooks(t testing.TB, p *membership.Program) {
	t.Helper()
	ctx := context.Background()
	if err := p.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, prog := range p.Definition().Points.Programs {
		r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: prog.Name})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Holds() {
			t.Fatalf("%s: reconciliation identity fails: %+v (outstanding %s)", prog.Name, r, r.Outstanding)
		}
	}
}

func ptsChange(t testing.TB, out *change.Outcome, kind string) (points.Change, *rule.Reason) {
	t.Helper()
	cs := out.ChangesOf(kind)
	if len(cs) != 1 {
		t.Fatalf("outcome %s has %d %s changes, want 1: %+v", out.Event, len(cs), kind, out.Changes)
	}
	var pc points.Change
	if err := cs[0].Decode(&pc); err != nil {
		t.Fatal(err)
	}
	return pc, cs[0].Reason
}

func TestEarnFormulas(t *testing.T) {
	at := ptsAt("2026-03-01 10:00")
	for _, tc := range []struct {
		name    string
		r       points.Rule
		ev      event.Event
		want    string
		formula string
		inputs  map[string]string
	}{
		{"multiplier", points.Rule{ID: "r", Program: "mall", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1.5")}},
			ptsOrder("e", "m", "99.99", at), "149", "amount × 1.5", map[string]string{"amount": "99.99"}},
		{"fixed", points.Rule{ID: "r", Program: "mall", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("5")}},
			ptsVisit("e", "m", at), "5", "5", nil},
		{"multiplier plus fixed", points.Rule{ID: "r", Program: "park", Event: "order", Formula: rule.Formula{Kind: rule.MultiplierFixed, Base: "amount", Rate: dec("0.5"), Fixed: dec("10")}},
			ptsOrder("e", "m", "12.34", at), "16.1", "amount × 0.5 + 10", map[string]string{"amount": "12.34"}},
		{"count", points.Rule{ID: "r", Program: "mall", Event: "visit", Formula: rule.Formula{Kind: rule.Count}},
			ptsVisit("e", "m", at), "1", "1", nil},
		{"conditions not met earns nothing", points.Rule{ID: "r", Program: "mall", Event: "order", Conditions: []event.Condition{{Attr: "store", Op: event.Eq, Value: event.Str("s1")}},
			Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("5")}}, ptsOrder("e", "m", "1", at), "0", "", nil},
		{"outside window earns nothing", points.Rule{ID: "r", Program: "mall", Event: "visit", Window: rule.Window{From: ptsAt("2026-03-01 10:00:01")},
			Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("5")}}, ptsVisit("e", "m", at), "0", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{tc.r} }))
			out := mustProcess(t, p, tc.ev)[0]
			got := ptsBalance(t, p, tc.r.Program, "m", at).Available
			if !got.Equal(dec(tc.want)) {
				t.Fatalf("balance = %s, want %s", got, tc.want)
			}
			if tc.want == "0" {
				if len(out.ChangesOf(points.ChangeEarned)) != 0 {
					t.Fatalf("changes %+v, want none", out.Changes)
				}
				return
			}
			pc, why := ptsChange(t, out, points.ChangeEarned)
			if !pc.Amount.Equal(dec(tc.want)) || why.Rule != "r" || why.Formula != tc.formula || !cmp.Equal(why.Inputs, tc.inputs) {
				t.Errorf("change %+v reason %+v, want %s by %q with %v", pc, why, tc.want, tc.formula, tc.inputs)
			}
			ptsCheckBooks(t, p)
		})
	}
}

func TestLevelsAndGifts(t *testing.T) {
	def := ptsDef(func(d *points.Definition) {
		d.Rules = []points.Rule{
			{ID: "base", Program: "mall", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}},
			{ID: "gold", Program: "mall", Event: "order", Levels: []string{"gold"}, Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("0.5")}},
		}
	})
	def.Levels = &level.Definition{
		Ladder: []level.Level{
			{Name: "silver", Upgrade: dec("0"), Validity: rule.Validity{Kind: rule.Permanent}},
			{Name: "gold", Upgrade: dec("100"), Validity: rule.Validity{Kind: rule.Permanent},
				Gifts: []rule.Reward{{Kind: rule.RewardPoints, Program: "park", Amount: dec("12.34")}}},
		},
		Growth: []level.GrowthRule{{ID: "g", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
	}
	p := testkit.OpenMemory(t, def)
	at := ptsAt("2026-03-01 10:00")
	mustProcess(t, p, ptsOrder("1", "m", "50", at))
	ptsWantAvailable(t, p, "mall", "m", at, "50") // silver: base only
	out := mustProcess(t, p, ptsOrder("2", "m", "60", at.Add(time.Hour)))[0]
	// The order lifts the member to gold before the points part runs, so
	// the gold rule counts; the gold gift grants park points through the
	// points part, rounded to park's scale.
	ptsWantAvailable(t, p, "mall", "m", at.Add(time.Hour), "140")
	ptsWantAvailable(t, p, "park", "m", at.Add(time.Hour), "12.3")
	if n := len(out.ChangesOf(points.ChangeEarned)); n != 3 {
		t.Errorf("%d points.earned changes, want 3 (base, gold, gift): %+v", n, out.Changes)
	}
	ptsCheckBooks(t, p)

	bad := ptsDef(func(d *points.Definition) {
		d.Rules = []points.Rule{{ID: "x", Program: "mall", Event: "order", Levels: []string{"platinum"}, Formula: rule.Formula{Kind: rule.Count}}}
	})
	bad.Levels = def.Levels
	if err := bad.Validate(); err == nil || !errContains(err, `points.rules[0].levels[0]: unknown level "platinum"`) {
		t.Errorf("Validate: %v", err)
	}
}

func errContains(err error, s string) bool {
	return err != nil && len(s) > 0 && contains(err.Error(), s)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestCapsAtPeriodBoundaries(t *testing.T) {
	// Each visit earns 10; a cap of 15 per period lets one and a half
	// visits through per period. The boundaries are Shanghai's.
	for _, tc := range []struct {
		period  rule.Period
		last    string // the last instant of a period
		first   string // the first instant of the next
		sameDay string // another instant in the first period
	}{
		{rule.Day, "2026-03-01 23:59:59", "2026-03-02 00:00:00", "2026-03-01 00:00:00"},
		{rule.Week, "2026-03-08 23:59:59", "2026-03-09 00:00:00", "2026-03-02 00:00:00"}, // Sunday → Monday
		{rule.Month, "2026-02-28 23:59:59", "2026-03-01 00:00:00", "2026-02-01 00:00:00"},
		{rule.Year, "2026-12-31 23:59:59", "2027-01-01 00:00:00", "2026-01-01 00:00:00"},
	} {
		t.Run(string(tc.period), func(t *testing.T) {
			p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
				d.Rules = []points.Rule{{ID: "v", Program: "mall", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("10")},
					Caps: rule.Caps{{Period: tc.period, Limit: dec("15")}}}}
			}))
			mustProcess(t, p, ptsVisit("a", "m", ptsAt(tc.sameDay)))
			out := mustProcess(t, p, ptsVisit("b", "m", ptsAt(tc.last)))[0]
			pc, why := ptsChange(t, out, points.ChangeEarned)
			wantCut := &rule.Cut{Period: tc.period, Limit: dec("15"), Used: dec("10"), Wanted: dec("10"), Granted: dec("5")}
			if !pc.Amount.Equal(dec("5")) || !cmp.Equal(why.Cut, wantCut, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })) {
				t.Errorf("cut grant %s, reason cut %+v; want 5 and %+v", pc.Amount, why.Cut, wantCut)
			}
			out = mustProcess(t, p, ptsVisit("c", "m", ptsAt(tc.last).Add(-time.Second)))[0]
			if pc, why := ptsChange(t, out, points.ChangeEarned); !pc.Amount.IsZero() || why.Cut == nil {
				t.Errorf("grant past the cap: %s %+v", pc.Amount, why)
			}
			out = mustProcess(t, p, ptsVisit("d", "m", ptsAt(tc.first)))[0]
			if pc, why := ptsChange(t, out, points.ChangeEarned); !pc.Amount.Equal(dec("10")) || why.Cut != nil {
				t.Errorf("first grant of the next period: %s %+v", pc.Amount, why)
			}
			ptsWantAvailable(t, p, "mall", "m", ptsAt(tc.first), "25")
		})
	}
	t.Run("total", func(t *testing.T) {
		p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
			d.Rules = []points.Rule{{ID: "v", Program: "mall", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("10")},
				Caps: rule.Caps{{Period: rule.Total, Limit: dec("25")}, {Period: rule.Day, Limit: dec("100")}}}}
		}))
		for i, s := range []string{"2020-01-01", "2024-06-01", "2030-01-01", "2031-01-01"} {
			mustProcess(t, p, ptsVisit(fmt.Sprint(i), "m", ptsAt(s)))
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2031-01-02"), "25")
	})
}

// TestCapAddedByANewVersion pins what a cap a new version adds counts:
// the grants from that version on. Version 1 of "buy" has no cap; under
// it a and b each earn 80 for an order of 80. Version 2 adds a total cap
// of 100, whose counter starts at 0: a's order of 150 earns 100 (used 0),
// and a's next order nothing. A refund gives back to the counter what it
// reverses, though the grant was made before the cap: a's full refund of
// the version-1 order takes the counter from 100 to 20, so an order of
// 150 earns 80 more. b earned 30 under version 2 when b's version-1 order
// is refunded: the counter stops at 0 (deleted), not -50, so b's next
// order of 150 earns the limit, 100, and no more.
func TestCapAddedByANewVersion(t *testing.T) {
	def := func(version uint64, caps rule.Caps) membership.Definition {
		buy := ptsBuy
		buy.Caps = caps
		d := ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{buy} })
		d.Version = version
		return d
	}
	st := memory.New()
	v1, err := membership.Open(st, def(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, v1, ptsOrder("a1", "a", "80", ptsAt("2026-03-02 10:00")), ptsOrder("b1", "b", "80", ptsAt("2026-03-02 10:00")))
	p, err := membership.Open(st, def(2, rule.Caps{{Period: rule.Total, Limit: dec("100")}}))
	if err != nil {
		t.Fatal(err)
	}
	// earned processes e and checks what it earned and the cut: none when
	// used is "", else the total cap's with used before it.
	earned := func(e event.Event, wanted, granted, used string) {
		t.Helper()
		pc, why := ptsChange(t, mustProcess(t, p, e)[0], points.ChangeEarned)
		var want *rule.Cut
		if used != "" {
			want = &rule.Cut{Period: rule.Total, Limit: dec("100"), Used: dec(used), Wanted: dec(wanted), Granted: dec(granted)}
		}
		if !pc.Amount.Equal(dec(granted)) || !cmp.Equal(why.Cut, want, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })) {
			t.Errorf("%s earned %s, cut %+v; want %s, cut %+v", e.ID, pc.Amount, why.Cut, granted, want)
		}
	}
	reversed := func(e event.Event, amount string) {
		t.Helper()
		if pc, _ := ptsChange(t, mustProcess(t, p, e)[0], points.ChangeReversed); !pc.Amount.Equal(dec("-" + amount)) {
			t.Errorf("%s reversed %s, want %s", e.ID, pc.Amount.Neg(), amount)
		}
	}
	earned(ptsOrder("a2", "a", "150", ptsAt("2026-03-03 10:00")), "150", "100", "0")
	earned(ptsOrder("a3", "a", "10", ptsAt("2026-03-03 11:00")), "10", "0", "100")
	reversed(ptsRefund("a4", "a", "o-a1", "80", ptsAt("2026-03-04 10:00")), "80")
	earned(ptsOrder("a5", "a", "150", ptsAt("2026-03-05 10:00")), "150", "80", "20")
	ptsWantAvailable(t, p, "mall", "a", ptsAt("2026-03-05 10:00"), "180") // 80 + 100 - 80 + 80

	earned(ptsOrder("b2", "b", "30", ptsAt("2026-03-03 10:00")), "30", "30", "")
	reversed(ptsRefund("b3", "b", "o-b1", "80", ptsAt("2026-03-04 10:00")), "80")
	earned(ptsOrder("b4", "b", "150", ptsAt("2026-03-05 10:00")), "150", "100", "0")
	earned(ptsOrder("b5", "b", "1", ptsAt("2026-03-05 11:00")), "1", "0", "100")
	ptsWantAvailable(t, p, "mall", "b", ptsAt("2026-03-05 11:00"), "130") // 80 + 30 - 80 + 100
	ptsCheckBooks(t, p)
}

func TestRiskStop(t *testing.T) {
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Stop}
		d.Rules = []points.Rule{ptsBuy}
	}))
	ctx := context.Background()
	mustProcess(t, p, ptsOrder("1", "m", "60", ptsAt("2026-03-01 09:00")))
	out := mustProcess(t, p, ptsOrder("2", "m", "60", ptsAt("2026-03-01 10:00")))[0]
	if pc, _ := ptsChange(t, out, points.ChangeBlocked); !pc.Amount.Equal(dec("20")) || !pc.Wanted.Equal(dec("60")) || pc.Date != "2026-03-01" {
		t.Errorf("blocked change %+v", pc)
	}
	if pc, _ := ptsChange(t, out, points.ChangeEarned); !pc.Amount.Equal(dec("40")) {
		t.Errorf("earned %s, want 40", pc.Amount)
	}
	out = mustProcess(t, p, ptsOrder("3", "m", "5", ptsAt("2026-03-01 23:59:59")))[0]
	if n := len(out.ChangesOf(points.ChangeEarned)); n != 0 {
		t.Errorf("earning after the threshold: %+v", out.Changes)
	}
	day, err := p.Points().Day(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-01"})
	if err != nil {
		t.Fatal(err)
	}
	if !day.Earned.Equal(dec("100")) || !day.Blocked.Equal(dec("25")) || day.Frozen {
		t.Errorf("day %+v, want earned 100 blocked 25", day)
	}
	mustProcess(t, p, ptsOrder("4", "m", "70", ptsAt("2026-03-02 00:00")))
	ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-02 01:00"), "170")
	// Another member is not affected.
	mustProcess(t, p, ptsOrder("5", "n", "90", ptsAt("2026-03-01 12:00")))
	ptsWantAvailable(t, p, "mall", "n", ptsAt("2026-03-02 01:00"), "90")
	// A refund takes the points back but not the day's earned total: k
	// earns 100, is refunded all of it, and the next order that day is
	// blocked whole.
	mustProcess(t, p, ptsOrder("6", "k", "100", ptsAt("2026-03-03 09:00")), ptsRefund("6r", "k", "o-6", "100", ptsAt("2026-03-03 10:00")))
	out = mustProcess(t, p, ptsOrder("7", "k", "10", ptsAt("2026-03-03 11:00")))[0]
	if pc, _ := ptsChange(t, out, points.ChangeBlocked); !pc.Amount.Equal(dec("10")) {
		t.Errorf("after a refund: blocked %+v, want 10", pc)
	}
	ptsWantAvailable(t, p, "mall", "k", ptsAt("2026-03-03 12:00"), "0")
	ptsCheckBooks(t, p)
}

func TestRiskFreezeRestoreAndVoid(t *testing.T) {
	def := ptsDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
		r := ptsBuy
		r.Validity = rule.Validity{Kind: rule.MonthEnds, N: 0}
		d.Rules = []points.Rule{r}
	})
	ctx := context.Background()
	setup := func(t *testing.T) *membership.Program {
		p := testkit.OpenMemory(t, def)
		mustProcess(t, p, ptsOrder("1", "m", "60", ptsAt("2026-03-01 09:00")))
		if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r1", Program: "mall", Member: "m", Ref: "item", Amount: dec("10"), At: ptsAt("2026-03-01 09:30")}); err != nil {
			t.Fatal(err)
		}
		out := mustProcess(t, p, ptsOrder("2", "m", "60", ptsAt("2026-03-01 10:00")))[0]
		pc, _ := ptsChange(t, out, points.ChangeFrozen)
		if !pc.Amount.Equal(dec("110")) || len(pc.Lots) != 2 {
			t.Fatalf("frozen %+v, want 110 in 2 lots", pc)
		}
		// A later grant that day is frozen too.
		mustProcess(t, p, ptsOrder("3", "m", "5", ptsAt("2026-03-01 20:00")))
		b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-01 21:00"))
		if !b.Available.IsZero() || !b.Frozen.Equal(dec("115")) {
			t.Fatalf("balance %+v, want 0 available, 115 frozen", b)
		}
		if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r2", Program: "mall", Member: "m", Ref: "item2", Amount: dec("1"), At: ptsAt("2026-03-01 21:00")}); !errors.Is(err, ledger.ErrInsufficientBalance) {
			t.Fatalf("spending frozen points: %v", err)
		}
		revs, err := p.Points().Reviews(ctx, "mall", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(revs) != 1 || revs[0].Member != "m" || revs[0].Date != "2026-03-01" || revs[0].State != points.ReviewPending || len(revs[0].Lots) != 3 {
			t.Fatalf("review queue %+v", revs)
		}
		return p
	}
	t.Run("restore", func(t *testing.T) {
		p := setup(t)
		before, _ := p.Points().Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", From: ptsAt("2026-03-01 21:00"), Days: 60})
		req := points.ReviewRequest{RequestID: "rev", Program: "mall", Member: "m", Date: "2026-03-01", At: ptsAt("2026-03-02 10:00")}
		if _, err := p.Points().Restore(ctx, req); !errors.Is(err, points.ErrNoOperator) {
			t.Fatalf("restore without operator: %v", err)
		}
		req.Operator = "alice"
		out, err := p.Points().Restore(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, points.ChangeRestored); !pc.Amount.Equal(dec("115")) || pc.Operator != "alice" {
			t.Errorf("restored %+v", pc)
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-02 10:00"), "115")
		after, _ := p.Points().Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", From: ptsAt("2026-03-01 21:00"), Days: 60})
		for i := range before {
			before[i].Sub = ""
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("lots after restore (-frozen +restored):\n%s", diff)
		}
		if out, err := p.Points().Restore(ctx, req); err != nil || !out.Duplicate {
			t.Errorf("retry: %v %+v", err, out)
		}
		req.RequestID = "rev2"
		if _, err := p.Points().Void(ctx, req); !errors.Is(err, points.ErrNotPending) {
			t.Errorf("second decision: %v", err)
		}
		if revs, _ := p.Points().Reviews(ctx, "mall", 0); len(revs) != 0 {
			t.Errorf("queue after restore: %+v", revs)
		}
		rv, err := p.Points().Review(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-01"})
		if err != nil || rv.State != points.ReviewRestored || rv.Operator != "alice" {
			t.Errorf("review %+v %v", rv, err)
		}
		ptsCheckBooks(t, p)
	})
	t.Run("void", func(t *testing.T) {
		p := setup(t)
		// Every review names its operator: a void without one is refused
		// and leaves the day frozen.
		req := points.ReviewRequest{RequestID: "rev", Program: "mall", Member: "m", Date: "2026-03-01", At: ptsAt("2026-03-02 10:00")}
		if _, err := p.Points().Void(ctx, req); !errors.Is(err, points.ErrNoOperator) {
			t.Fatalf("void without operator: %v", err)
		}
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-02 10:00")); !b.Frozen.Equal(dec("115")) {
			t.Fatalf("balance after a refused void %+v, want 115 frozen", b)
		}
		req.Operator = "bob"
		out, err := p.Points().Void(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, points.ChangeVoided); !pc.Amount.Equal(dec("115")) || pc.Operator != "bob" {
			t.Errorf("voided %+v", pc)
		}
		if rv, err := p.Points().Review(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-01"}); err != nil || rv.State != points.ReviewVoided || rv.Operator != "bob" {
			t.Errorf("review %+v %v", rv, err)
		}
		b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-02 10:00"))
		if !b.Total().IsZero() {
			t.Errorf("balance after void %+v", b)
		}
		r, _ := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
		if !r.Voided.Equal(dec("115")) || !r.Earned.Equal(dec("125")) || !r.Redeemed.Equal(dec("10")) {
			t.Errorf("reconciliation %+v", r)
		}
		ptsCheckBooks(t, p)
	})
	t.Run("frozen lots still expire", func(t *testing.T) {
		p := setup(t)
		if _, err := p.Advance(ctx, ptsAt("2026-04-01 00:00")); err != nil {
			t.Fatal(err)
		}
		b := ptsBalance(t, p, "mall", "m", ptsAt("2026-04-01 00:00"))
		if !b.Total().IsZero() {
			t.Errorf("balance after expiry %+v", b)
		}
		out, err := p.Points().Restore(ctx, points.ReviewRequest{RequestID: "rev", Program: "mall", Member: "m", Date: "2026-03-01", Operator: "alice", At: ptsAt("2026-04-02 10:00")})
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, points.ChangeRestored); !pc.Amount.IsZero() {
			t.Errorf("restored expired points: %+v", pc)
		}
		ptsCheckBooks(t, p)
	})
}

// A frozen day's pending points are the day's points too: voiding the
// day voids them where they wait, so that they never become spendable;
// restoring it leaves them pending, to be released as usual.
func TestRiskFreezePendingPoints(t *testing.T) {
	def := ptsDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
		r := ptsBuy
		r.PendingDays = 7
		d.Rules = []points.Rule{r}
	})
	ctx := context.Background()
	// Two orders of 60 the same day, each pending for 7 days: the second
	// reaches the threshold of 100 and freezes the day, with nothing in
	// the spendable account to move.
	setup := func(t *testing.T) *membership.Program {
		p := testkit.OpenMemory(t, def)
		mustProcess(t, p, ptsOrder("1", "m", "60", ptsAt("2026-03-01 09:00")))
		mustProcess(t, p, ptsOrder("2", "m", "60", ptsAt("2026-03-01 10:00")))
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-01 11:00")); !b.Pending.Equal(dec("120")) || !b.Available.IsZero() {
			t.Fatalf("balance %+v, want 120 pending", b)
		}
		return p
	}
	review := points.ReviewRequest{RequestID: "rev", Program: "mall", Member: "m", Date: "2026-03-01", Operator: "bob", At: ptsAt("2026-03-02 10:00")}
	t.Run("void", func(t *testing.T) {
		p := setup(t)
		out, err := p.Points().Void(ctx, review)
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, points.ChangeVoided); !pc.Amount.Equal(dec("120")) || len(pc.Lots) != 2 {
			t.Errorf("voided %+v, want 120 in 2 lots", pc)
		}
		if _, err := p.Advance(ctx, ptsAt("2026-03-09")); err != nil {
			t.Fatal(err)
		}
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-09")); !b.Total().IsZero() {
			t.Errorf("balance after the releases %+v, want 0", b)
		}
		// A refund of a voided order takes nothing and is no shortfall.
		out = mustProcess(t, p, ptsRefund("rf", "m", "o-1", "60", ptsAt("2026-03-10 10:00")))[0]
		if pc, _ := ptsChange(t, out, points.ChangeReversed); !pc.Amount.IsZero() || !pc.Shortfall.IsZero() || !pc.Lapsed.Equal(dec("60")) {
			t.Errorf("refund of a voided order %+v, want 0 taken, 60 lapsed", pc)
		}
		r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
		if err != nil || !r.Earned.Equal(dec("120")) || !r.Voided.Equal(dec("120")) || !r.Reversed.IsZero() {
			t.Errorf("reconciliation %+v %v", r, err)
		}
		ptsCheckBooks(t, p)
	})
	t.Run("restore", func(t *testing.T) {
		p := setup(t)
		out, err := p.Points().Restore(ctx, review)
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, points.ChangeRestored); !pc.Amount.IsZero() {
			t.Errorf("restored %+v, want nothing (the points are pending)", pc)
		}
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-02 10:00")); !b.Pending.Equal(dec("120")) {
			t.Errorf("balance after restore %+v, want 120 pending", b)
		}
		if _, err := p.Advance(ctx, ptsAt("2026-03-09")); err != nil {
			t.Fatal(err)
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-09"), "120")
		ptsCheckBooks(t, p)
	})
	t.Run("a void after a restore takes only the later grant", func(t *testing.T) {
		p := setup(t)
		req := review
		req.At = ptsAt("2026-03-01 12:00")
		if _, err := p.Points().Restore(ctx, req); err != nil {
			t.Fatal(err)
		}
		// A pending grant later that day reopens the review for itself.
		mustProcess(t, p, ptsOrder("3", "m", "30", ptsAt("2026-03-01 20:00")))
		req.RequestID, req.At = "rev2", ptsAt("2026-03-02 10:00")
		out, err := p.Points().Void(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, points.ChangeVoided); !pc.Amount.Equal(dec("30")) || len(pc.Lots) != 1 {
			t.Errorf("voided %+v, want the later 30 only", pc)
		}
		if _, err := p.Advance(ctx, ptsAt("2026-03-09")); err != nil {
			t.Fatal(err)
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-09"), "120")
		ptsCheckBooks(t, p)
	})
}

// A redemption made before the day froze and reversed while the day
// awaits review returns its points into the frozen account, as the rest
// of the day's points: they were spendable only because they had been
// spent before the freeze.
func TestRiskFreezeReversal(t *testing.T) {
	ctx := context.Background()
	// 60 earned (lot 1), all 60 redeemed, 60 more earned (lot 2): the
	// day reaches 120 ≥ 100 and freezes lot 2's 60; lot 1 holds nothing.
	setup := func(t *testing.T) *membership.Program {
		p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
			d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
			d.Rules = []points.Rule{ptsBuy}
		}))
		mustProcess(t, p, ptsOrder("1", "m", "60", ptsAt("2026-03-01 09:00")))
		if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r", Program: "mall", Member: "m", Ref: "x", Amount: dec("60"), At: ptsAt("2026-03-01 09:30")}); err != nil {
			t.Fatal(err)
		}
		mustProcess(t, p, ptsOrder("2", "m", "60", ptsAt("2026-03-01 10:00")))
		out, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v", Program: "mall", Ref: "x", At: ptsAt("2026-03-01 11:00")})
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, points.ChangeReversed); !pc.Amount.Equal(dec("60")) {
			t.Errorf("reversed %+v", pc)
		}
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-01 12:00")); !b.Available.IsZero() || !b.Frozen.Equal(dec("120")) {
			t.Fatalf("balance after the reversal %+v, want 0 available, 120 frozen", b)
		}
		rv, err := p.Points().Review(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-01"})
		if err != nil || len(rv.Lots) != 2 {
			t.Fatalf("review %+v %v, want lots 2.0 (frozen) and 1.0 (returned)", rv, err)
		}
		return p
	}
	review := points.ReviewRequest{RequestID: "rev", Program: "mall", Member: "m", Date: "2026-03-01", Operator: "alice", At: ptsAt("2026-03-02 10:00")}
	t.Run("restore", func(t *testing.T) {
		p := setup(t)
		out, err := p.Points().Restore(ctx, review)
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, points.ChangeRestored); !pc.Amount.Equal(dec("120")) {
			t.Errorf("restored %+v, want 120", pc)
		}
		// Once the day is decided, a reversal returns to the spendable
		// account: 30 of lot 1 redeemed and given back leave 120.
		if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r2", Program: "mall", Member: "m", Ref: "y", Amount: dec("30"), At: ptsAt("2026-03-02 11:00")}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v2", Program: "mall", Ref: "y", At: ptsAt("2026-03-02 12:00")}); err != nil {
			t.Fatal(err)
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-02 12:00"), "120")
		ptsCheckBooks(t, p)
	})
	t.Run("void", func(t *testing.T) {
		p := setup(t)
		out, err := p.Points().Void(ctx, review)
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, points.ChangeVoided); !pc.Amount.Equal(dec("120")) {
			t.Errorf("voided %+v, want 120", pc)
		}
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-02 10:00")); !b.Total().IsZero() {
			t.Errorf("balance after the void %+v, want 0", b)
		}
		ptsCheckBooks(t, p)
	})
}

func TestPendingReleaseAndRefund(t *testing.T) {
	def := ptsDef(func(d *points.Definition) {
		r := ptsBuy
		r.PendingDays = 7
		d.Rules = []points.Rule{r}
	})
	ctx := context.Background()
	t.Run("release", func(t *testing.T) {
		p := testkit.OpenMemory(t, def)
		out := mustProcess(t, p, ptsOrder("1", "m", "200", ptsAt("2026-03-01 10:00")))[0]
		ptsChange(t, out, points.ChangePending)
		b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-02"))
		if !b.Available.IsZero() || !b.Pending.Equal(dec("200")) {
			t.Fatalf("balance %+v, want 200 pending", b)
		}
		if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r", Program: "mall", Member: "m", Ref: "x", Amount: dec("1"), At: ptsAt("2026-03-02")}); !errors.Is(err, ledger.ErrInsufficientBalance) {
			t.Fatalf("spending pending points: %v", err)
		}
		if n, err := p.Advance(ctx, ptsAt("2026-03-08 09:59:59")); err != nil || n != 0 {
			t.Fatalf("Advance before the release: %d %v", n, err)
		}
		if n, err := p.Advance(ctx, ptsAt("2026-03-08 10:00")); err != nil || n != 1 {
			t.Fatalf("Advance at the release: %d %v", n, err)
		}
		b = ptsBalance(t, p, "mall", "m", ptsAt("2026-03-08 10:00"))
		if !b.Available.Equal(dec("200")) || !b.Pending.IsZero() {
			t.Fatalf("balance after release %+v", b)
		}
		page, err := p.Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Sub: points.SubPending})
		if err != nil || len(page.Entries) != 2 || page.Entries[0].Kind != points.KindEarned || page.Entries[1].Kind != points.KindReleased {
			t.Errorf("pending statement %+v %v", page, err)
		}
		ptsCheckBooks(t, p)
	})
	t.Run("refund while pending", func(t *testing.T) {
		p := testkit.OpenMemory(t, def)
		mustProcess(t, p, ptsOrder("1", "m", "200", ptsAt("2026-03-01 10:00")))
		out := mustProcess(t, p, ptsRefund("rf", "m", "o-1", "50", ptsAt("2026-03-02 10:00")))[0]
		if pc, _ := ptsChange(t, out, points.ChangeReversed); !pc.Amount.Equal(dec("-50")) || !pc.Shortfall.IsZero() || pc.Ref != "o-1" {
			t.Errorf("reversed %+v", pc)
		}
		mustProcess(t, p, ptsRefund("rf2", "m", "o-1", "150", ptsAt("2026-03-03 10:00")))
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-03 10:00")); !b.Total().IsZero() {
			t.Errorf("balance after full refund %+v", b)
		}
		if n, err := p.Advance(ctx, ptsAt("2026-03-09")); err != nil || n != 1 {
			t.Fatalf("Advance: %d %v", n, err)
		}
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-09")); !b.Total().IsZero() {
			t.Errorf("balance after release of a refunded lot %+v", b)
		}
		ptsCheckBooks(t, p)
	})
	t.Run("refund after spending takes the balance to zero", func(t *testing.T) {
		p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{ptsBuy} }))
		mustProcess(t, p, ptsOrder("1", "m", "200", ptsAt("2026-03-01 10:00")))
		mustProcess(t, p, ptsOrder("2", "m", "30", ptsAt("2026-03-01 11:00")))
		if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r", Program: "mall", Member: "m", Ref: "x", Amount: dec("190"), At: ptsAt("2026-03-01 12:00")}); err != nil {
			t.Fatal(err)
		}
		// 40 left: 10 in order 1's lot, 30 in order 2's. Refunding 150 of
		// 200 reverses 150: 10 from the order's lot, 30 from the others,
		// 110 short.
		out := mustProcess(t, p, ptsRefund("rf", "m", "o-1", "150", ptsAt("2026-03-02 10:00")))[0]
		pc, why := ptsChange(t, out, points.ChangeReversed)
		if !pc.Amount.Equal(dec("-40")) || !pc.Shortfall.Equal(dec("110")) || why.Inputs["order_amount"] != "200" {
			t.Errorf("reversed %+v %+v", pc, why)
		}
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-02 10:00")); !b.Total().IsZero() {
			t.Errorf("balance %+v, want 0", b)
		}
		o, found, err := p.Points().Order(ctx, "o-1")
		if err != nil || !found || !o.Shortfall.Equal(dec("110")) || !o.Grants[0].Reversed.Equal(dec("150")) {
			t.Errorf("order %+v %v %v", o, found, err)
		}
		// Refunding the rest, 50, reverses the last 50, all short now.
		out = mustProcess(t, p, ptsRefund("rf2", "m", "o-1", "50", ptsAt("2026-03-02 11:00")))[0]
		if pc, _ := ptsChange(t, out, points.ChangeReversed); !pc.Amount.IsZero() || !pc.Shortfall.Equal(dec("50")) {
			t.Errorf("second refund %+v", pc)
		}
		// A refund of an unknown order or another member's order changes nothing.
		for _, ev := range []event.Event{ptsRefund("rf3", "m", "nope", "1", ptsAt("2026-03-02 12:00")), ptsRefund("rf4", "n", "o-2", "1", ptsAt("2026-03-02 12:00"))} {
			if out := mustProcess(t, p, ev)[0]; len(out.Changes) != 0 {
				t.Errorf("%s: %+v", ev.ID, out.Changes)
			}
		}
		ptsCheckBooks(t, p)
	})
	t.Run("refund gives back cap room", func(t *testing.T) {
		p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
			r := ptsBuy
			r.Caps = rule.Caps{{Period: rule.Day, Limit: dec("100")}}
			d.Rules = []points.Rule{r}
		}))
		mustProcess(t, p, ptsOrder("1", "m", "100", ptsAt("2026-03-01 10:00")))
		mustProcess(t, p, ptsRefund("rf", "m", "o-1", "40", ptsAt("2026-03-01 11:00")))
		mustProcess(t, p, ptsOrder("2", "m", "100", ptsAt("2026-03-01 12:00")))
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-01 12:00"), "100")
	})
}

func TestRedeemAndSplit(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{ptsBuy} }))
	at := ptsAt("2026-03-01 10:00")
	mustProcess(t, p, ptsOrder("1", "m", "3000", at))
	s, err := p.Points().Split(ctx, points.SplitQuery{Program: "mall", Member: "m", Order: dec("99.99"), At: at})
	if err != nil || !s.Points.Equal(dec("3000")) || !s.PointsMoney.Equal(dec("30")) || !s.Cash.Equal(dec("69.99")) {
		t.Fatalf("split %+v %v", s, err)
	}
	res, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r1", Program: "mall", Member: "m", Ref: "order-9", Order: dec("40.01"), At: at})
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := ptsChange(t, res.Outcome, points.ChangeRedeemed)
	if !pc.Amount.Equal(dec("2000")) || pc.Split == nil || !pc.Split.Cash.Equal(dec("20.01")) {
		t.Errorf("redeemed %+v split %+v", pc, pc.Split)
	}
	// The typed result says the same: 40.01 × 0.5 = 20.005, down to 20.00
	// paid by 2,000 points at 0.01, 20.01 in cash.
	if !res.Points.Equal(dec("2000")) || res.Split == nil || !res.Split.PointsMoney.Equal(dec("20")) || !res.Split.Cash.Equal(dec("20.01")) || len(res.Lots) != 1 {
		t.Errorf("result %+v split %+v", res, res.Split)
	}
	ptsWantAvailable(t, p, "mall", "m", at, "1000")
	// A state error (of the member's points) wraps neither ErrInvalidAmount
	// nor event.ErrInvalidArgument: the request was well formed.
	state := []error{points.ErrInvalidAmount, event.ErrInvalidArgument}
	for _, tc := range []struct {
		name string
		req  points.RedeemRequest
		want error
		not  []error
	}{
		{"same ref", points.RedeemRequest{RequestID: "r2", Program: "mall", Member: "m", Ref: "order-9", Amount: dec("1"), At: at}, points.ErrRedemptionExists, state},
		{"too much", points.RedeemRequest{RequestID: "r3", Program: "mall", Member: "m", Ref: "a", Amount: dec("1001"), At: at}, ledger.ErrInsufficientBalance, state},
		{"fraction", points.RedeemRequest{RequestID: "r4", Program: "mall", Member: "m", Ref: "b", Amount: dec("0.5"), At: at}, points.ErrInvalidAmount, nil},
		{"unknown program", points.RedeemRequest{RequestID: "r5", Program: "zoo", Member: "m", Ref: "c", Amount: dec("1"), At: at}, points.ErrUnknownProgram, nil},
		{"no payment config", points.RedeemRequest{RequestID: "r6", Program: "park", Member: "m", Ref: "d", Order: dec("1"), At: at}, points.ErrNoPayment, nil},
		// 0.01 × 0.5 = 0.005 rounds down to 0.00: the order's share pays
		// nothing in points, whatever the member holds.
		{"split gives no points", points.RedeemRequest{RequestID: "r7", Program: "mall", Member: "m", Ref: "e", Order: dec("0.01"), At: at}, points.ErrInvalidAmount, nil},
		// A limit of half a point truncates to none: the request's fault too.
		{"split under a limit of a fraction", points.RedeemRequest{RequestID: "r8", Program: "mall", Member: "m", Ref: "h", Order: dec("40"), Amount: dec("0.5"), At: at}, points.ErrInvalidAmount, nil},
		// n holds no points: the order's share of 20.00 is payable, but
		// nothing pays it (before, ErrInvalidAmount: 0 is not positive).
		{"split with no points held", points.RedeemRequest{RequestID: "r9", Program: "mall", Member: "n", Ref: "i", Order: dec("40"), At: at}, ledger.ErrInsufficientBalance, state},
		{"no request id", points.RedeemRequest{Program: "mall", Member: "m", Ref: "f", Amount: dec("1"), At: at}, event.ErrInvalidArgument, nil},
		{"request id reused", points.RedeemRequest{RequestID: "r1", Program: "mall", Member: "m", Ref: "g", Amount: dec("1"), At: at}, event.ErrConflict, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Points().Redeem(ctx, tc.req)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			for _, not := range tc.not {
				if errors.Is(err, not) {
					t.Errorf("err = %v wraps %v: the request was well formed", err, not)
				}
			}
		})
	}
	ptsWantAvailable(t, p, "mall", "m", at, "1000")
	if again, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r1", Program: "mall", Member: "m", Ref: "order-9", Order: dec("40.01"), At: at}); err != nil || !again.Outcome.Duplicate || !again.Points.Equal(dec("2000")) || !again.Split.Cash.Equal(dec("20.01")) {
		t.Errorf("retry %v %+v", err, again)
	}
	ptsCheckBooks(t, p)
}

func TestLotOrderAndReversal(t *testing.T) {
	ctx := context.Background()
	def := ptsDef(func(d *points.Definition) {
		d.Rules = []points.Rule{
			{ID: "short", Program: "mall", Event: "order", Conditions: []event.Condition{{Attr: "store", Op: event.Eq, Value: event.Str("short")}},
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}, Validity: rule.Validity{Kind: rule.MonthEnds, N: 0}},
			{ID: "long", Program: "mall", Event: "order", Conditions: []event.Condition{{Attr: "store", Op: event.Eq, Value: event.Str("long")}},
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}, Validity: rule.Validity{Kind: rule.AnnualDate, Month: 12, Day: 31}},
			{ID: "forever", Program: "mall", Event: "order", Conditions: []event.Condition{{Attr: "store", Op: event.Eq, Value: event.Str("forever")}},
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}},
		}
	})
	buy := func(id, store, amount, at string) event.Event {
		ev := ptsOrder(id, "m", amount, ptsAt(at))
		ev.Attrs["store"] = event.Str(store)
		return ev
	}
	p := testkit.OpenMemory(t, def)
	mustProcess(t, p,
		buy("1", "forever", "100", "2026-01-05"),
		buy("2", "long", "100", "2026-01-06"),
		buy("3", "short", "100", "2026-01-07"),
		buy("4", "short", "100", "2026-01-08"),
	)
	res, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r", Program: "mall", Member: "m", Ref: "x", Amount: dec("250"), At: ptsAt("2026-01-10")})
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := ptsChange(t, res.Outcome, points.ChangeRedeemed)
	var got []string
	for _, l := range pc.Lots {
		got = append(got, l.Amount.String()+"@"+l.Expires.In(testkit.Shanghai).Format(time.DateOnly))
	}
	// Earliest expiry first, then earliest grant; permanent last.
	if diff := cmp.Diff([]string{"100@2026-02-01", "100@2026-02-01", "50@2027-01-01"}, got); diff != "" {
		t.Fatalf("spending order (-want +got):\n%s", diff)
	}
	if _, err := p.Advance(ctx, ptsAt("2026-02-01")); err != nil {
		t.Fatal(err)
	}
	// Partial reversal refills the last lot taken first (the long one).
	out, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v1", Program: "mall", Ref: "x", Amount: dec("80"), At: ptsAt("2026-02-02")})
	if err != nil {
		t.Fatal(err)
	}
	if pc, _ := ptsChange(t, out, points.ChangeReversed); !pc.Amount.Equal(dec("80")) || len(pc.Lots) != 2 {
		t.Errorf("partial reversal %+v", pc)
	}
	// 50 back to the long lot, 30 to a short lot that has expired: those
	// expire again at once.
	exp, _ := ptsChange(t, out, points.ChangeExpired)
	if !exp.Amount.Equal(dec("30")) {
		t.Errorf("expired again %+v", exp)
	}
	ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-02-02"), "200")
	if _, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v2", Program: "mall", Ref: "x", Amount: dec("171"), At: ptsAt("2026-02-02")}); !errors.Is(err, points.ErrOverReversal) {
		t.Errorf("over-reversal: %v", err)
	}
	out, err = p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v3", Program: "mall", Ref: "x", At: ptsAt("2026-02-03")})
	if err != nil {
		t.Fatal(err)
	}
	if pc, _ := ptsChange(t, out, points.ChangeReversed); !pc.Amount.Equal(dec("170")) {
		t.Errorf("rest reversed %+v", pc)
	}
	// The rest goes back to the short lots, which expire again at once.
	ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-02-03"), "200")
	// Nothing is left: the redemption's state, not a bad amount (before,
	// ErrInvalidAmount, as the whole of nothing is not positive).
	if _, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v4", Program: "mall", Ref: "x", At: ptsAt("2026-02-03")}); !errors.Is(err, points.ErrOverReversal) ||
		errors.Is(err, points.ErrInvalidAmount) || errors.Is(err, event.ErrInvalidArgument) {
		t.Errorf("reversal of nothing left: %v, want ErrOverReversal alone", err)
	}
	if _, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v5", Program: "mall", Ref: "nope", At: ptsAt("2026-02-03")}); !errors.Is(err, points.ErrUnknownRedemption) {
		t.Errorf("unknown ref: %v", err)
	}
	r, _ := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
	if !r.Earned.Equal(dec("400")) || !r.Redeemed.Equal(dec("250")) || !r.Reversed.Equal(dec("250")) || !r.Expired.Equal(dec("200")) {
		t.Errorf("reconciliation %+v", r)
	}
	// Totals of February only: the reversals and the expiries.
	feb, _ := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall", From: "2026-02-01", To: "2026-02-28"})
	if !feb.Earned.IsZero() || !feb.Reversed.Equal(dec("250")) || !feb.Expired.Equal(dec("200")) || !feb.Change.Equal(dec("50")) || !feb.Holds() {
		t.Errorf("february %+v", feb)
	}
	ptsCheckBooks(t, p)
}

func TestAdjustmentApproval(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsDef(nil))
	at := ptsAt("2026-03-01 10:00")
	res, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a1", Program: "mall", Member: "m", Amount: dec("500"), Note: "goodwill", Operator: "alice", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if pc, _ := ptsChange(t, res.Outcome, points.ChangeAdjusted); pc.Adjustment.State != points.AdjustmentApplied || pc.Adjustment.Decider != "alice" {
		t.Errorf("small adjustment %+v", pc.Adjustment)
	}
	if res.Adjustment.State != points.AdjustmentApplied || res.Adjustment.Reason != "goodwill" || !res.Adjustment.Requested.Equal(at) || res.Adjustment.Requested.Location().String() != "Asia/Shanghai" {
		t.Errorf("small adjustment's result %+v", res.Adjustment)
	}
	res, err = p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a2", Program: "mall", Member: "m", Amount: dec("501"), Note: "compensation", Operator: "alice", At: at})
	if err != nil {
		t.Fatal(err)
	}
	ptsChange(t, res.Outcome, points.ChangeAdjustmentRequested)
	if res.Adjustment.State != points.AdjustmentPending || res.Adjustment.ID != "a2" {
		t.Errorf("large adjustment's result %+v", res.Adjustment)
	}
	ptsWantAvailable(t, p, "mall", "m", at, "500")
	dreq := points.DecideRequest{RequestID: "d1", Adjustment: "a2", Operator: "alice", At: at.Add(time.Hour)}
	if _, err := p.Points().Approve(ctx, dreq); !errors.Is(err, points.ErrSelfApproval) {
		t.Fatalf("self-approval: %v", err)
	}
	dreq.RequestID, dreq.Operator = "d2", "bob"
	out, err := p.Points().Approve(ctx, dreq)
	if err != nil {
		t.Fatal(err)
	}
	if pc, _ := ptsChange(t, out, points.ChangeAdjusted); pc.Operator != "bob" || pc.Adjustment.Requester != "alice" || pc.Adjustment.Decider != "bob" {
		t.Errorf("approved %+v", pc.Adjustment)
	}
	ptsWantAvailable(t, p, "mall", "m", at.Add(time.Hour), "1001")
	dreq.RequestID = "d3"
	if _, err := p.Points().Approve(ctx, dreq); !errors.Is(err, points.ErrNotPending) {
		t.Errorf("second approval: %v", err)
	}
	// A large debit, rejected.
	if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a3", Program: "mall", Member: "m", Amount: dec("-900"), Note: "fraud", Operator: "carol", At: at}); err != nil {
		t.Fatal(err)
	}
	out, err = p.Points().Reject(ctx, points.DecideRequest{RequestID: "d4", Adjustment: "a3", Operator: "dave", Note: "no evidence", At: at})
	if err != nil {
		t.Fatal(err)
	}
	ptsChange(t, out, points.ChangeAdjustmentRejected)
	adj, err := p.Points().Adjustment(ctx, "a3")
	if err != nil || adj.State != points.AdjustmentRejected || adj.Decider != "dave" {
		t.Errorf("rejected %+v %v", adj, err)
	}
	// A debit of 900 above the 500 threshold waited, and its rejection
	// applied nothing: 500 + 501 = 1001 still.
	ptsWantAvailable(t, p, "mall", "m", at.Add(time.Hour), "1001")
	// A debit beyond the balance is refused at approval and stays pending.
	if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: "a4", Program: "mall", Member: "m", Amount: dec("-2000"), Note: "x", Operator: "carol", At: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Points().Approve(ctx, points.DecideRequest{RequestID: "d5", Adjustment: "a4", Operator: "dave", At: at}); !errors.Is(err, ledger.ErrInsufficientBalance) {
		t.Errorf("approving an uncovered debit: %v", err)
	}
	if adj, _ := p.Points().Adjustment(ctx, "a4"); adj.State != points.AdjustmentPending {
		t.Errorf("after a refused approval: %+v", adj)
	}
	for _, tc := range []struct {
		name string
		req  points.AdjustRequest
		want error
	}{
		{"no operator", points.AdjustRequest{RequestID: "x1", Program: "mall", Member: "m", Amount: dec("1"), Note: "r", At: at}, points.ErrNoOperator},
		{"no reason", points.AdjustRequest{RequestID: "x2", Program: "mall", Member: "m", Amount: dec("1"), Operator: "o", At: at}, event.ErrInvalidArgument},
		{"zero", points.AdjustRequest{RequestID: "x3", Program: "mall", Member: "m", Note: "r", Operator: "o", At: at}, points.ErrInvalidAmount},
		{"small debit beyond balance", points.AdjustRequest{RequestID: "x4", Program: "park", Member: "m", Amount: dec("-1"), Note: "r", Operator: "o", At: at}, ledger.ErrInsufficientBalance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Points().Adjust(ctx, tc.req); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := p.Points().Approve(ctx, points.DecideRequest{RequestID: "d6", Adjustment: "nope", Operator: "bob", At: at}); !errors.Is(err, points.ErrUnknownAdjustment) {
		t.Errorf("unknown adjustment: %v", err)
	}
	r, _ := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
	if !r.Adjusted.Equal(dec("1001")) {
		t.Errorf("reconciliation %+v", r)
	}
	ptsCheckBooks(t, p)
}

func TestExchange(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{ptsBuy} }))
	at := ptsAt("2026-03-01 10:00")
	mustProcess(t, p, ptsOrder("1", "m", "100", at))
	for _, tc := range []struct {
		name, from, to, amount string
		want                   string
		err                    error
	}{
		{"rounds down to park's scale", "mall", "park", "15", "4.5", nil},
		{"rounds down", "mall", "park", "7", "2.1", nil},
		{"back at 3", "park", "mall", "0.5", "1", nil},
		{"too small", "park", "mall", "0.1", "", points.ErrExchangeTooSmall},
		{"more than held", "mall", "park", "80", "", ledger.ErrInsufficientBalance},
		{"fraction of a whole-point program", "mall", "park", "1.5", "", points.ErrInvalidAmount},
		{"no rate", "mall", "mall", "1", "", points.ErrNoExchange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ptsBalance(t, p, tc.to, "m", at).Available
			res, err := p.Points().Exchange(ctx, points.ExchangeRequest{RequestID: tc.name, Member: "m", From: tc.from, To: tc.to, Amount: dec(tc.amount), At: at})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pc, _ := ptsChange(t, res.Outcome, points.ChangeExchanged)
			if !pc.ToAmount.Equal(dec(tc.want)) || !res.Got.Equal(dec(tc.want)) || res.Lot != pc.Lot {
				t.Errorf("got %s (result %s), want %s", pc.ToAmount, res.Got, tc.want)
			}
			if after := ptsBalance(t, p, tc.to, "m", at).Available; !after.Sub(before).Equal(dec(tc.want)) {
				t.Errorf("target balance %s → %s", before, after)
			}
		})
	}
	ptsWantAvailable(t, p, "mall", "m", at, "79")
	ptsWantAvailable(t, p, "park", "m", at, "6.1")
	ptsCheckBooks(t, p)
}

func TestStatementAndForecast(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
		r := ptsBuy
		r.Validity = rule.Validity{Kind: rule.MonthEnds, N: 1}
		d.Rules = []points.Rule{r}
	}))
	for i, s := range []string{"2026-01-10", "2026-01-20", "2026-02-05"} {
		mustProcess(t, p, ptsOrder(fmt.Sprint(i), "m", "100", ptsAt(s)))
	}
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r", Program: "mall", Member: "m", Ref: "x", Amount: dec("150"), At: ptsAt("2026-02-10")}); err != nil {
		t.Fatal(err)
	}
	fc, err := p.Points().ExpiryForecast(ctx, "mall", ptsAt("2026-02-15"), 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []points.MonthTotal{{Month: "2026-02", Amount: dec("50")}, {Month: "2026-03", Amount: dec("100")}, {Month: "2026-04", Amount: dec("0")}, {Month: "2026-05", Amount: dec("0")}}
	if diff := cmp.Diff(want, fc, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("forecast (-want +got):\n%s", diff)
	}
	exp, err := p.Points().Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", From: ptsAt("2026-02-15"), Days: 14})
	if err != nil || len(exp) != 1 || !exp[0].Amount.Equal(dec("50")) || !exp[0].Expires.Equal(ptsAt("2026-03-01")) {
		t.Errorf("expiring in 14 days: %+v %v", exp, err)
	}
	if _, err := p.Advance(ctx, ptsAt("2026-03-01")); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, ptsOrder("3", "m", "100", ptsAt("2026-03-31 23:59")))
	fc, _ = p.Points().ExpiryForecast(ctx, "mall", ptsAt("2026-02-15"), 3)
	if !fc[0].Amount.IsZero() || !fc[1].Amount.Equal(dec("100")) || !fc[2].Amount.Equal(dec("100")) {
		t.Errorf("forecast after expiry and a new lot %+v", fc)
	}
	q := points.StatementQuery{Program: "mall", Member: "m", Limit: 2}
	var all []ledger.Entry
	for {
		page, err := p.Points().Statement(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Entries...)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	var kinds []string
	for _, e := range all {
		kinds = append(kinds, string(e.Kind)+" "+e.Amount.String()+" → "+e.Balance.String())
	}
	wantKinds := []string{"earned 100 → 100", "earned 100 → 200", "earned 100 → 300", "redeemed -150 → 150", "expired -50 → 100", "earned 100 → 200"}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("statement (-want +got):\n%s", diff)
	}
	page, err := p.Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Kinds: []ledger.Kind{points.KindExpired, points.KindRedeemed},
		From: ptsAt("2026-02-01"), To: ptsAt("2026-03-02")})
	if err != nil || len(page.Entries) != 2 || page.Entries[1].Kind != points.KindExpired {
		t.Errorf("filtered statement %+v %v", page, err)
	}
	ptsCheckBooks(t, p)
}

func TestDefinitionThroughOpen(t *testing.T) {
	def := ptsDef(func(d *points.Definition) {
		d.Rules = []points.Rule{{ID: "x", Program: "zoo", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "store", Rate: dec("1")}}}
	})
	def.Levels = nil
	_, err := membership.Open(memoryStore(), def)
	if !errors.Is(err, rule.ErrInvalidDefinition) || !errContains(err, `points.rules[0].program: unknown point program "zoo"`) || !errContains(err, "points.rules[0].formula.base") {
		t.Errorf("Open: %v", err)
	}
	raw, err := jsonMarshal(ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{ptsBuy} }))
	if err != nil {
		t.Fatal(err)
	}
	back, err := membership.ParseDefinition(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{ptsBuy} }).Points, back.Points, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func memoryStore() *memory.Store { return memory.New() }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func TestConcurrentEarnAndRedeem(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(testing.TB, membership.Definition, ...membership.Option) *membership.Program
	}{{"memory", testkit.OpenMemory}, {"bolt", testkit.OpenBolt}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p := tc.open(t, ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{ptsBuy} }))
			at := ptsAt("2026-03-01 10:00")
			var wg sync.WaitGroup
			var mu sync.Mutex
			earned, redeemed := decimal.Zero, decimal.Zero
			entries := 0
			for g := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 8 {
						id := fmt.Sprintf("g%d-%d", g, i)
						if (g+i)%2 == 0 {
							amt := fmt.Sprint(1 + (g*7+i)%5)
							if _, err := p.Process(ctx, ptsOrder(id, "m", amt, at.Add(time.Duration(i)*time.Second))); err != nil {
								t.Error(err)
								return
							}
							mu.Lock()
							earned, entries = earned.Add(dec(amt)), entries+1
							mu.Unlock()
							continue
						}
						amt := dec(fmt.Sprint(1 + (g+i)%4))
						_, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: id, Program: "mall", Member: "m", Ref: id, Amount: amt, At: at.Add(time.Minute)})
						switch {
						case err == nil:
							mu.Lock()
							redeemed, entries = redeemed.Add(amt), entries+1
							mu.Unlock()
						case !errors.Is(err, ledger.ErrInsufficientBalance):
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b := ptsBalance(t, p, "mall", "m", at.Add(time.Hour))
			if !b.Main.Equal(earned.Sub(redeemed)) || b.Main.IsNegative() {
				t.Errorf("balance %s, want earned %s − redeemed %s", b.Main, earned, redeemed)
			}
			if redeemed.IsZero() {
				t.Error("no redemption went through")
			}
			page, err := p.Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Entries) != entries {
				t.Errorf("%d entries, want %d", len(page.Entries), entries)
			}
			seqs := append([]ledger.Entry(nil), page.Entries...)
			sort.Slice(seqs, func(i, j int) bool { return seqs[i].Seq < seqs[j].Seq })
			for _, e := range seqs {
				if e.Balance.IsNegative() {
					t.Errorf("negative running balance: %+v", e)
				}
			}
			r, _ := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
			if !r.Earned.Equal(earned) || !r.Redeemed.Equal(redeemed) {
				t.Errorf("reconciliation %+v, want earned %s redeemed %s", r, earned, redeemed)
			}
			ptsCheckBooks(t, p)
		})
	}
}

// TestPointsProperty runs seeded random sequences of earn, redeem,
// reverse, expire (Advance) and adjust with a fake clock and checks after
// every step that what the member may spend is the sum of their open,
// unexpired lots, that the ledger verifies and the identity holds.
func TestProperty(t *testing.T) {
	seeds := []int64{1, 2, 3, 4}
	steps := 120
	if testing.Short() {
		seeds, steps = seeds[:1], 40
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ctx := context.Background()
			p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
				r := ptsBuy
				r.Validity = rule.Validity{Kind: rule.DaysAfter, N: 5}
				r2 := ptsBuy
				r2.ID, r2.Conditions, r2.Validity = "big", []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("40")}}, rule.Validity{Kind: rule.MonthEnds, N: 0}
				d.Rules = []points.Rule{r, r2}
				// Adjustment credits expire too, so every lot is listed
				// by PointsExpiring.
				d.Programs[0].Validity = rule.Validity{Kind: rule.DaysAfter, N: 30}
			}))
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			now := ptsAt("2026-01-01 09:00")
			var refs []string
			for step := range steps {
				now = now.Add(time.Duration(rng.IntN(36*60)) * time.Minute)
				id := fmt.Sprintf("s%d", step)
				var err error
				var op string
				switch rng.IntN(5) {
				case 0:
					op = "earn"
					_, err = p.Process(ctx, ptsOrder(id, "m", fmt.Sprint(1+rng.IntN(60)), now))
				case 1:
					op = "redeem"
					_, err = p.Points().Redeem(ctx, points.RedeemRequest{RequestID: id, Program: "mall", Member: "m", Ref: id, Amount: dec(fmt.Sprint(1 + rng.IntN(40))), At: now})
					if err == nil {
						refs = append(refs, id)
					}
				case 2:
					op = "reverse"
					if len(refs) == 0 {
						continue
					}
					ref := refs[rng.IntN(len(refs))]
					rd, _ := p.Points().Redemption(ctx, points.RedemptionQuery{Program: "mall", Ref: ref})
					if !rd.Remaining().IsPositive() {
						continue
					}
					amt := decimal.NewFromInt(1 + rng.Int64N(rd.Remaining().IntPart()))
					_, err = p.Points().Reverse(ctx, points.ReverseRequest{RequestID: id, Program: "mall", Ref: ref, Amount: amt, At: now})
				case 3:
					op = "expire"
					now = now.Add(time.Duration(rng.IntN(4*24)) * time.Hour)
					_, err = p.Advance(ctx, now)
				case 4:
					op = "adjust"
					amt := dec(fmt.Sprint(rng.IntN(60) - 30))
					if amt.IsZero() {
						continue
					}
					_, err = p.Points().Adjust(ctx, points.AdjustRequest{RequestID: id, Program: "mall", Member: "m", Amount: amt, Note: "property", Operator: "op", At: now})
				}
				if err != nil && !errors.Is(err, ledger.ErrInsufficientBalance) {
					t.Fatalf("step %d %s: %v", step, op, err)
				}
				b := ptsBalance(t, p, "mall", "m", now)
				lots, err := p.Points().Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", From: now, Days: 100000})
				if err != nil {
					t.Fatal(err)
				}
				sum := decimal.Zero
				for _, l := range lots {
					if l.Sub == "" {
						sum = sum.Add(l.Amount)
					}
				}
				if !sum.Equal(b.Available) || b.Main.IsNegative() || b.Available.GreaterThan(b.Main) {
					t.Fatalf("step %d %s: available %s, open lots %s, main %s", step, op, b.Available, sum, b.Main)
				}
				ptsCheckBooks(t, p)
			}
		})
	}
}

// TestLots lists a member's lots: a permanent spendable one, a pending one
// with its release (7 days after the order, at the same wall-clock time)
// and its expiry (30 days after the order: 24:00 of 3 April); after the
// release the same lot is spendable and has no release.
func TestLots(t *testing.T) {
	pending := ptsBuy
	pending.ID, pending.Event, pending.Order = "visit", "visit", ""
	pending.Formula = rule.Formula{Kind: rule.Fixed, Fixed: dec("5")}
	pending.PendingDays = 7
	pending.Validity = rule.Validity{Kind: rule.DaysAfter, N: 30}
	def := ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{ptsBuy, pending} })
	ctx := context.Background()
	p := testkit.OpenMemory(t, def)
	mustProcess(t, p, ptsOrder("1", "m", "120", ptsAt("2026-03-01 10:00")))
	mustProcess(t, p, ptsVisit("2", "m", ptsAt("2026-03-05 09:30")))
	lots, err := p.Points().Lots(ctx, points.LotsQuery{Program: "mall", Member: "m"})
	if err != nil {
		t.Fatal(err)
	}
	type lot struct {
		Sub                       string
		Amount                    string
		Granted, Expires, Release time.Time
	}
	view := func(ls []points.Lot) []lot {
		var out []lot
		for _, l := range ls {
			out = append(out, lot{l.Sub, l.Amount.String(), l.Granted, l.Expires, l.Release})
		}
		return out
	}
	want := []lot{
		{"", "120", ptsAt("2026-03-01 10:00"), time.Time{}, time.Time{}},
		{points.SubPending, "5", ptsAt("2026-03-05 09:30"), ptsAt("2026-04-04"), ptsAt("2026-03-12 09:30")},
	}
	if d := cmp.Diff(want, view(lots)); d != "" {
		t.Errorf("lots (-want +got):\n%s", d)
	}
	if _, err := p.Advance(ctx, ptsAt("2026-03-12 09:30")); err != nil {
		t.Fatal(err)
	}
	lots, err = p.Points().Lots(ctx, points.LotsQuery{Program: "mall", Member: "m"})
	if err != nil {
		t.Fatal(err)
	}
	// Spending order: the lot that expires first comes first.
	want = []lot{
		{"", "5", ptsAt("2026-03-05 09:30"), ptsAt("2026-04-04"), time.Time{}},
		{"", "120", ptsAt("2026-03-01 10:00"), time.Time{}, time.Time{}},
	}
	if d := cmp.Diff(want, view(lots)); d != "" {
		t.Errorf("lots after the release (-want +got):\n%s", d)
	}
	if _, err := p.Points().Lots(ctx, points.LotsQuery{Program: "nope", Member: "m"}); !errors.Is(err, points.ErrUnknownProgram) {
		t.Errorf("unknown program: %v", err)
	}
	none := testkit.OpenMemory(t, membership.Definition{Events: []event.Type{{Name: "visit"}}})
	if _, err := none.Points().Lots(ctx, points.LotsQuery{Program: "mall", Member: "m"}); !errors.Is(err, points.ErrNotDefined) {
		t.Errorf("no points: %v", err)
	}
}

// A pending lot granted before release times were recorded (no record in
// points.release) lists with a zero Release, not an error, and its due
// item still releases it.
func TestLotsWithoutReleaseRecord(t *testing.T) {
	pending := ptsBuy
	pending.ID, pending.Event, pending.Order = "visit", "visit", ""
	pending.Formula = rule.Formula{Kind: rule.Fixed, Fixed: dec("5")}
	pending.PendingDays = 7
	def := ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{pending} })
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, ptsVisit("1", "m", ptsAt("2026-03-05 09:30")))
	// As an older version left it: no release record.
	err = st.Update(ctx, func(tx store.Tx) error {
		var ks [][]byte
		err := tx.Scan("points.release", nil, nil, false, func(k, _ []byte) error {
			ks = append(ks, append([]byte(nil), k...))
			return nil
		})
		for _, k := range ks {
			if err := tx.Delete("points.release", k); err != nil {
				return err
			}
		}
		if len(ks) != 1 {
			return fmt.Errorf("%d release records, want 1", len(ks))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	lots, err := p.Points().Lots(ctx, points.LotsQuery{Program: "mall", Member: "m"})
	if err != nil || len(lots) != 1 || lots[0].Sub != points.SubPending || !lots[0].Release.IsZero() {
		t.Fatalf("lots = %+v, %v; want one pending lot with no release time", lots, err)
	}
	if _, err := p.Advance(ctx, ptsAt("2026-03-12 09:30")); err != nil {
		t.Fatal(err)
	}
	lots, err = p.Points().Lots(ctx, points.LotsQuery{Program: "mall", Member: "m"})
	if err != nil || len(lots) != 1 || lots[0].Sub != "" || !lots[0].Amount.Equal(dec("5")) {
		t.Fatalf("lots after the release = %+v, %v; want 5 spendable", lots, err)
	}
}

// Expiring's Days are days of the program's zone, whatever the zone of
// From, as level.Forecast's are: from 23:30 on 28 March in Berlin, one
// day later is 23:30 on the 29th, summer time (21:30 UTC), so a lot
// expiring at 24:00 of the 29th (22:00 UTC) is not in the window; in
// UTC, one day later would have been 22:30 UTC.
func TestExpiringDaysInProgramZone(t *testing.T) {
	ctx := context.Background()
	def := ptsDef(func(d *points.Definition) {
		r := ptsBuy
		r.Validity = rule.Validity{Kind: rule.DaysAfter, N: 1}
		d.Rules = []points.Rule{r}
	})
	def.Zone = "Europe/Berlin"
	p := testkit.OpenMemory(t, def)
	berlin := testkit.Zone("Europe/Berlin")
	mustProcess(t, p, ptsOrder("1", "m", "10", time.Date(2026, 3, 29, 10, 0, 0, 0, berlin)))
	from := time.Date(2026, 3, 28, 22, 30, 0, 0, time.UTC) // 23:30 in Berlin
	for days, want := range map[int]int{1: 0, 2: 1} {
		for _, f := range []time.Time{from, from.In(berlin)} {
			lots, err := p.Points().Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", From: f, Days: days})
			if err != nil || len(lots) != want {
				t.Errorf("Expiring from %v, %d days = %+v, %v; want %d lots", f, days, lots, err, want)
			}
		}
	}
}

// TestStatementOfLateEntries holds Statement to its doc: entries in time
// order with the balance each had once posted. m earns 100 at 10:00, 50
// at 13:00, then a late order of 11:00 earns 7: posted third, its balance
// is 157, and the page reads 100 → 100, 7 → 157, 50 → 150. A reader who
// read the first two entries and goes on with the page's cursor gets the
// 13:00 entry, not a later one dated 10:30 (3 points, balance 160).
func TestStatementOfLateEntries(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{ptsBuy} }))
	mustProcess(t, p,
		ptsOrder("1", "m", "100", ptsAt("2026-03-01 10:00")),
		ptsOrder("2", "m", "50", ptsAt("2026-03-01 13:00")),
		ptsOrder("3", "m", "7", ptsAt("2026-03-01 11:00")))
	read := func(q points.StatementQuery) ([]string, string) {
		t.Helper()
		page, err := p.Points().Statement(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range page.Entries {
			got = append(got, fmt.Sprintf("%s %s → %s", e.Time.Format("15:04"), e.Amount, e.Balance))
		}
		return got, page.Next
	}
	got, _ := read(points.StatementQuery{Program: "mall", Member: "m"})
	if diff := cmp.Diff([]string{"10:00 100 → 100", "11:00 7 → 157", "13:00 50 → 150"}, got); diff != "" {
		t.Errorf("statement (-want +got):\n%s", diff)
	}
	first, next := read(points.StatementQuery{Program: "mall", Member: "m", Limit: 2})
	mustProcess(t, p, ptsOrder("4", "m", "3", ptsAt("2026-03-01 10:30")))
	rest, _ := read(points.StatementQuery{Program: "mall", Member: "m", Limit: 2, Cursor: next})
	if diff := cmp.Diff([]string{"10:00 100 → 100", "11:00 7 → 157", "13:00 50 → 150"}, append(first, rest...)); diff != "" {
		t.Errorf("paged statement (-want +got):\n%s", diff)
	}
	ptsCheckBooks(t, p)
}

// A pending lot is released the given number of days later at the same
// wall-clock time in the program's zone; where the clocks skip that time
// on the release day, at the end of the gap. In New York the clocks went
// from 02:00 EST to 03:00 EDT on 8 March 2026: points of 02:30 on the
// 7th held for a day are released at 03:00 on the 8th, not at 01:30 EST
// (time.Date's pick, an hour before 02:30 could be read on a clock).
func TestPendingReleaseAcrossDST(t *testing.T) {
	pending := ptsBuy
	pending.ID, pending.Event, pending.Order = "visit", "visit", ""
	pending.Formula = rule.Formula{Kind: rule.Fixed, Fixed: dec("5")}
	pending.PendingDays = 1
	def := ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{pending} })
	def.Zone = "America/New_York"
	ny := testkit.Zone("America/New_York")
	ctx := context.Background()
	p := testkit.OpenMemory(t, def)
	mustProcess(t, p, ptsVisit("1", "m", time.Date(2026, 3, 7, 2, 30, 0, 0, ny)))
	want := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC) // 03:00 EDT
	lots, err := p.Points().Lots(ctx, points.LotsQuery{Program: "mall", Member: "m"})
	if err != nil || len(lots) != 1 || !lots[0].Release.Equal(want) {
		t.Fatalf("lots = %+v, %v; want one pending lot released at %v", lots, err, want.In(ny))
	}
	if _, err := p.Advance(ctx, want.Add(-time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	if b := ptsBalance(t, p, "mall", "m", want); !b.Available.IsZero() || !b.Pending.Equal(dec("5")) {
		t.Errorf("before 03:00 EDT: %+v, want 5 pending", b)
	}
	if _, err := p.Advance(ctx, want); err != nil {
		t.Fatal(err)
	}
	if b := ptsBalance(t, p, "mall", "m", want); !b.Available.Equal(dec("5")) || !b.Pending.IsZero() {
		t.Errorf("at 03:00 EDT: %+v, want 5 available", b)
	}
}
