package membership_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// ptsAt is a wall time in Shanghai.
func ptsAt(s string) time.Time {
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", time.DateOnly} {
		if v, err := time.ParseInLocation(layout, s, shanghai); err == nil {
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

func ptsBalance(t testing.TB, p *membership.Program, program, member string, at time.Time) membership.PointsBalance {
	t.Helper()
	b, err := p.PointsBalance(context.Background(), program, member, at)
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
		r, err := p.PointsReconciliation(ctx, prog.Name, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if !r.Holds() {
			t.Fatalf("%s: reconciliation identity fails: %+v (outstanding %s)", prog.Name, r, r.Outstanding)
		}
	}
}

func ptsChange(t testing.TB, out *membership.Outcome, kind string) (membership.PointsChange, *rule.Reason) {
	t.Helper()
	cs := out.ChangesOf(kind)
	if len(cs) != 1 {
		t.Fatalf("outcome %s has %d %s changes, want 1: %+v", out.Event, len(cs), kind, out.Changes)
	}
	var pc membership.PointsChange
	if err := cs[0].Decode(&pc); err != nil {
		t.Fatal(err)
	}
	return pc, cs[0].Reason
}

func TestPointsEarnFormulas(t *testing.T) {
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
			p := openMemory(t, ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{tc.r} }))
			out := mustProcess(t, p, tc.ev)[0]
			got := ptsBalance(t, p, tc.r.Program, "m", at).Available
			if !got.Equal(dec(tc.want)) {
				t.Fatalf("balance = %s, want %s", got, tc.want)
			}
			if tc.want == "0" {
				if len(out.ChangesOf(membership.ChangePointsEarned)) != 0 {
					t.Fatalf("changes %+v, want none", out.Changes)
				}
				return
			}
			pc, why := ptsChange(t, out, membership.ChangePointsEarned)
			if !pc.Amount.Equal(dec(tc.want)) || why.Rule != "r" || why.Formula != tc.formula || !cmp.Equal(why.Inputs, tc.inputs) {
				t.Errorf("change %+v reason %+v, want %s by %q with %v", pc, why, tc.want, tc.formula, tc.inputs)
			}
			ptsCheckBooks(t, p)
		})
	}
}

func TestPointsLevelsAndGifts(t *testing.T) {
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
	p := openMemory(t, def)
	at := ptsAt("2026-03-01 10:00")
	mustProcess(t, p, ptsOrder("1", "m", "50", at))
	ptsWantAvailable(t, p, "mall", "m", at, "50") // silver: base only
	out := mustProcess(t, p, ptsOrder("2", "m", "60", at.Add(time.Hour)))[0]
	// The order lifts the member to gold before the points part runs, so
	// the gold rule counts; the gold gift grants park points through the
	// points part, rounded to park's scale.
	ptsWantAvailable(t, p, "mall", "m", at.Add(time.Hour), "140")
	ptsWantAvailable(t, p, "park", "m", at.Add(time.Hour), "12.3")
	if n := len(out.ChangesOf(membership.ChangePointsEarned)); n != 3 {
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

func TestPointsCapsAtPeriodBoundaries(t *testing.T) {
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
			p := openMemory(t, ptsDef(func(d *points.Definition) {
				d.Rules = []points.Rule{{ID: "v", Program: "mall", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("10")},
					Caps: rule.Caps{{Period: tc.period, Limit: dec("15")}}}}
			}))
			mustProcess(t, p, ptsVisit("a", "m", ptsAt(tc.sameDay)))
			out := mustProcess(t, p, ptsVisit("b", "m", ptsAt(tc.last)))[0]
			pc, why := ptsChange(t, out, membership.ChangePointsEarned)
			wantCut := &rule.Cut{Period: tc.period, Limit: dec("15"), Used: dec("10"), Wanted: dec("10"), Granted: dec("5")}
			if !pc.Amount.Equal(dec("5")) || !cmp.Equal(why.Cut, wantCut, cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })) {
				t.Errorf("cut grant %s, reason cut %+v; want 5 and %+v", pc.Amount, why.Cut, wantCut)
			}
			out = mustProcess(t, p, ptsVisit("c", "m", ptsAt(tc.last).Add(-time.Second)))[0]
			if pc, why := ptsChange(t, out, membership.ChangePointsEarned); !pc.Amount.IsZero() || why.Cut == nil {
				t.Errorf("grant past the cap: %s %+v", pc.Amount, why)
			}
			out = mustProcess(t, p, ptsVisit("d", "m", ptsAt(tc.first)))[0]
			if pc, why := ptsChange(t, out, membership.ChangePointsEarned); !pc.Amount.Equal(dec("10")) || why.Cut != nil {
				t.Errorf("first grant of the next period: %s %+v", pc.Amount, why)
			}
			ptsWantAvailable(t, p, "mall", "m", ptsAt(tc.first), "25")
		})
	}
	t.Run("total", func(t *testing.T) {
		p := openMemory(t, ptsDef(func(d *points.Definition) {
			d.Rules = []points.Rule{{ID: "v", Program: "mall", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("10")},
				Caps: rule.Caps{{Period: rule.Total, Limit: dec("25")}, {Period: rule.Day, Limit: dec("100")}}}}
		}))
		for i, s := range []string{"2020-01-01", "2024-06-01", "2030-01-01", "2031-01-01"} {
			mustProcess(t, p, ptsVisit(fmt.Sprint(i), "m", ptsAt(s)))
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2031-01-02"), "25")
	})
}

func TestPointsRiskStop(t *testing.T) {
	p := openMemory(t, ptsDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Stop}
		d.Rules = []points.Rule{ptsBuy}
	}))
	ctx := context.Background()
	mustProcess(t, p, ptsOrder("1", "m", "60", ptsAt("2026-03-01 09:00")))
	out := mustProcess(t, p, ptsOrder("2", "m", "60", ptsAt("2026-03-01 10:00")))[0]
	if pc, _ := ptsChange(t, out, membership.ChangePointsBlocked); !pc.Amount.Equal(dec("20")) || !pc.Wanted.Equal(dec("60")) || pc.Date != "2026-03-01" {
		t.Errorf("blocked change %+v", pc)
	}
	if pc, _ := ptsChange(t, out, membership.ChangePointsEarned); !pc.Amount.Equal(dec("40")) {
		t.Errorf("earned %s, want 40", pc.Amount)
	}
	out = mustProcess(t, p, ptsOrder("3", "m", "5", ptsAt("2026-03-01 23:59:59")))[0]
	if n := len(out.ChangesOf(membership.ChangePointsEarned)); n != 0 {
		t.Errorf("earning after the threshold: %+v", out.Changes)
	}
	day, err := p.PointsDay(ctx, "mall", "m", "2026-03-01")
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
	ptsCheckBooks(t, p)
}

func TestPointsRiskFreezeRestoreAndVoid(t *testing.T) {
	def := ptsDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
		r := ptsBuy
		r.Validity = rule.Validity{Kind: rule.MonthEnds, N: 0}
		d.Rules = []points.Rule{r}
	})
	ctx := context.Background()
	setup := func(t *testing.T) *membership.Program {
		p := openMemory(t, def)
		mustProcess(t, p, ptsOrder("1", "m", "60", ptsAt("2026-03-01 09:00")))
		if _, err := p.RedeemPoints(ctx, membership.RedeemPointsRequest{ID: "r1", Program: "mall", Member: "m", Ref: "item", Amount: dec("10"), At: ptsAt("2026-03-01 09:30")}); err != nil {
			t.Fatal(err)
		}
		out := mustProcess(t, p, ptsOrder("2", "m", "60", ptsAt("2026-03-01 10:00")))[0]
		pc, _ := ptsChange(t, out, membership.ChangePointsFrozen)
		if !pc.Amount.Equal(dec("110")) || len(pc.Lots) != 2 {
			t.Fatalf("frozen %+v, want 110 in 2 lots", pc)
		}
		// A later grant that day is frozen too.
		mustProcess(t, p, ptsOrder("3", "m", "5", ptsAt("2026-03-01 20:00")))
		b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-01 21:00"))
		if !b.Available.IsZero() || !b.Frozen.Equal(dec("115")) {
			t.Fatalf("balance %+v, want 0 available, 115 frozen", b)
		}
		if _, err := p.RedeemPoints(ctx, membership.RedeemPointsRequest{ID: "r2", Program: "mall", Member: "m", Ref: "item2", Amount: dec("1"), At: ptsAt("2026-03-01 21:00")}); !errors.Is(err, membership.ErrInsufficientBalance) {
			t.Fatalf("spending frozen points: %v", err)
		}
		revs, err := p.PointsReviews(ctx, "mall", 0)
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
		before, _ := p.PointsExpiring(ctx, "mall", "m", ptsAt("2026-03-01 21:00"), 60)
		req := membership.ReviewPointsRequest{ID: "rev", Program: "mall", Member: "m", Date: "2026-03-01", At: ptsAt("2026-03-02 10:00")}
		if _, err := p.RestorePoints(ctx, req); !errors.Is(err, points.ErrNoOperator) {
			t.Fatalf("restore without operator: %v", err)
		}
		req.Operator = "alice"
		out, err := p.RestorePoints(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, membership.ChangePointsRestored); !pc.Amount.Equal(dec("115")) || pc.Operator != "alice" {
			t.Errorf("restored %+v", pc)
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-02 10:00"), "115")
		after, _ := p.PointsExpiring(ctx, "mall", "m", ptsAt("2026-03-01 21:00"), 60)
		for i := range before {
			before[i].Sub = ""
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("lots after restore (-frozen +restored):\n%s", diff)
		}
		if out, err := p.RestorePoints(ctx, req); err != nil || !out.Duplicate {
			t.Errorf("retry: %v %+v", err, out)
		}
		req.ID = "rev2"
		if _, err := p.VoidPoints(ctx, req); !errors.Is(err, points.ErrNotPending) {
			t.Errorf("second decision: %v", err)
		}
		if revs, _ := p.PointsReviews(ctx, "mall", 0); len(revs) != 0 {
			t.Errorf("queue after restore: %+v", revs)
		}
		rv, err := p.PointsReview(ctx, "mall", "m", "2026-03-01")
		if err != nil || rv.State != points.ReviewRestored || rv.Operator != "alice" {
			t.Errorf("review %+v %v", rv, err)
		}
		ptsCheckBooks(t, p)
	})
	t.Run("void", func(t *testing.T) {
		p := setup(t)
		out, err := p.VoidPoints(ctx, membership.ReviewPointsRequest{ID: "rev", Program: "mall", Member: "m", Date: "2026-03-01", Operator: "bob", At: ptsAt("2026-03-02 10:00")})
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, membership.ChangePointsVoided); !pc.Amount.Equal(dec("115")) {
			t.Errorf("voided %+v", pc)
		}
		b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-02 10:00"))
		if !b.Total().IsZero() {
			t.Errorf("balance after void %+v", b)
		}
		r, _ := p.PointsReconciliation(ctx, "mall", "", "")
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
		out, err := p.RestorePoints(ctx, membership.ReviewPointsRequest{ID: "rev", Program: "mall", Member: "m", Date: "2026-03-01", Operator: "alice", At: ptsAt("2026-04-02 10:00")})
		if err != nil {
			t.Fatal(err)
		}
		if pc, _ := ptsChange(t, out, membership.ChangePointsRestored); !pc.Amount.IsZero() {
			t.Errorf("restored expired points: %+v", pc)
		}
		ptsCheckBooks(t, p)
	})
}
