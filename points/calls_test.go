package points_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/keys"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

var decimalEqual = cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })

// callsDef is ptsDef with risk control (freeze at 100 a day) on mall,
// whose orders earn points valid to the end of the next month.
func callsDef() membership.Definition {
	return ptsDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
		r := ptsBuy
		r.Validity = rule.Validity{Kind: rule.MonthEnds, N: 1}
		d.Rules = []points.Rule{r}
	})
}

// callsSetup opens callsDef with: m holding 270 mall points (three days'
// orders of 90) and a redemption "ref-1" of 50; f's day 2026-03-01 frozen
// (an order of 150); two adjustments waiting for approval, "big" and
// "big2", requested by alice.
func callsSetup(t *testing.T) *membership.Program {
	t.Helper()
	return callsSetupOn(t, memory.New())
}

// callsSetupOn is callsSetup on the store st.
func callsSetupOn(t *testing.T, st store.Store) *membership.Program {
	t.Helper()
	ctx := context.Background()
	p, err := membership.Open(st, callsDef())
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p,
		ptsOrder("1", "m", "90", ptsAt("2026-03-01 10:00")),
		ptsOrder("2", "m", "90", ptsAt("2026-03-02 10:00")),
		ptsOrder("3", "m", "90", ptsAt("2026-03-03 10:00")),
		ptsOrder("4", "f", "150", ptsAt("2026-03-01 10:00")))
	at := ptsAt("2026-03-04 10:00")
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "setup-r", Member: "m", At: at, Program: "mall", Ref: "ref-1", Amount: dec("50")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"big", "big2"} {
		if _, err := p.Points().Adjust(ctx, points.AdjustRequest{RequestID: id, Member: "m", Operator: "alice", Note: "goodwill", At: at, Program: "mall", Amount: dec("600")}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestWritesAreIdempotent runs each write twice with one request ID (the
// retry returns the first outcome, Duplicate set, and changes nothing),
// then once more under that ID with other content (an error wrapping
// event.ErrConflict that changes nothing).
func TestWritesAreIdempotent(t *testing.T) {
	at := ptsAt("2026-03-05 10:00")
	type call func(ctx context.Context, h *points.Handle, id string, other bool) (*change.Outcome, error)
	pick := func(other bool, a, b string) string {
		if other {
			return b
		}
		return a
	}
	for _, tc := range []struct {
		name string
		call call
	}{
		{"redeem", func(ctx context.Context, h *points.Handle, id string, other bool) (*change.Outcome, error) {
			r, err := h.Redeem(ctx, points.RedeemRequest{RequestID: id, Member: "m", At: at, Program: "mall", Ref: "item", Amount: dec(pick(other, "10", "11"))})
			return r.Outcome, err
		}},
		{"reverse", func(ctx context.Context, h *points.Handle, id string, other bool) (*change.Outcome, error) {
			return h.Reverse(ctx, points.ReverseRequest{RequestID: id, At: at, Program: "mall", Ref: "ref-1", Amount: dec(pick(other, "20", "21"))})
		}},
		{"adjust", func(ctx context.Context, h *points.Handle, id string, other bool) (*change.Outcome, error) {
			r, err := h.Adjust(ctx, points.AdjustRequest{RequestID: id, Member: "m", Operator: "bob", Note: pick(other, "goodwill", "other"), At: at, Program: "mall", Amount: dec("-30")})
			return r.Outcome, err
		}},
		{"approve", func(ctx context.Context, h *points.Handle, id string, other bool) (*change.Outcome, error) {
			return h.Approve(ctx, points.DecideRequest{RequestID: id, Operator: "bob", At: at, Adjustment: pick(other, "big", "big2")})
		}},
		{"reject", func(ctx context.Context, h *points.Handle, id string, other bool) (*change.Outcome, error) {
			return h.Reject(ctx, points.DecideRequest{RequestID: id, Operator: "bob", Note: pick(other, "no", "never"), At: at, Adjustment: "big"})
		}},
		{"restore", func(ctx context.Context, h *points.Handle, id string, other bool) (*change.Outcome, error) {
			return h.Restore(ctx, points.ReviewRequest{RequestID: id, Member: "f", Operator: pick(other, "bob", "carol"), At: at, Program: "mall", Date: "2026-03-01"})
		}},
		{"void", func(ctx context.Context, h *points.Handle, id string, other bool) (*change.Outcome, error) {
			return h.Void(ctx, points.ReviewRequest{RequestID: id, Member: "f", Operator: "bob", Note: pick(other, "fraud", "abuse"), At: at, Program: "mall", Date: "2026-03-01"})
		}},
		{"exchange", func(ctx context.Context, h *points.Handle, id string, other bool) (*change.Outcome, error) {
			r, err := h.Exchange(ctx, points.ExchangeRequest{RequestID: id, Member: "m", At: at, From: "mall", To: "park", Amount: dec(pick(other, "10", "20"))})
			return r.Outcome, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p := callsSetup(t)
			h := p.Points()
			first, err := tc.call(ctx, h, "req", false)
			if err != nil {
				t.Fatal(err)
			}
			if first.Duplicate || len(first.Changes) == 0 {
				t.Fatalf("first outcome %+v", first)
			}
			state := func() (uint64, points.Balance, points.Balance) {
				t.Helper()
				feed, err := p.Feed(ctx, 0, 10000)
				if err != nil {
					t.Fatal(err)
				}
				m := ptsBalance(t, p, "mall", "m", at)
				f := ptsBalance(t, p, "mall", "f", at)
				return feed[len(feed)-1].Seq, m, f
			}
			seq, m, f := state()
			again, err := tc.call(ctx, h, "req", false)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if !again.Duplicate {
				t.Errorf("retry not marked Duplicate")
			}
			if diff := cmp.Diff(first, again, decimalEqual, cmpopts.IgnoreFields(change.Outcome{}, "Duplicate")); diff != "" {
				t.Errorf("retry's outcome (-first +retry):\n%s", diff)
			}
			if _, err := tc.call(ctx, h, "req", true); !errors.Is(err, event.ErrConflict) {
				t.Errorf("other content under the same ID: %v, want ErrConflict", err)
			}
			seq2, m2, f2 := state()
			if seq2 != seq || !cmp.Equal(m, m2, decimalEqual) || !cmp.Equal(f, f2, decimalEqual) {
				t.Errorf("retry or conflict changed state: feed %d → %d, m %+v → %+v, f %+v → %+v", seq, seq2, m, m2, f, f2)
			}
			ptsCheckBooks(t, p)
		})
	}
}

// TestWritesNeedATime: a zero At is an invalid argument, and nothing is
// written.
func TestWritesNeedATime(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	before, _ := p.Feed(ctx, 0, 10000)
	for name, call := range map[string]func() error{
		"redeem": func() error {
			_, err := h.Redeem(ctx, points.RedeemRequest{RequestID: "z1", Member: "m", Program: "mall", Ref: "z", Amount: dec("1")})
			return err
		},
		"reverse": func() error {
			_, err := h.Reverse(ctx, points.ReverseRequest{RequestID: "z2", Program: "mall", Ref: "ref-1"})
			return err
		},
		"adjust": func() error {
			_, err := h.Adjust(ctx, points.AdjustRequest{RequestID: "z3", Member: "m", Operator: "o", Note: "n", Program: "mall", Amount: dec("1")})
			return err
		},
		"approve": func() error {
			_, err := h.Approve(ctx, points.DecideRequest{RequestID: "z4", Operator: "bob", Adjustment: "big"})
			return err
		},
		"reject": func() error {
			_, err := h.Reject(ctx, points.DecideRequest{RequestID: "z5", Operator: "bob", Adjustment: "big"})
			return err
		},
		"restore": func() error {
			_, err := h.Restore(ctx, points.ReviewRequest{RequestID: "z6", Member: "f", Operator: "bob", Program: "mall", Date: "2026-03-01"})
			return err
		},
		"void": func() error {
			_, err := h.Void(ctx, points.ReviewRequest{RequestID: "z7", Member: "f", Operator: "bob", Program: "mall", Date: "2026-03-01"})
			return err
		},
		"exchange": func() error {
			_, err := h.Exchange(ctx, points.ExchangeRequest{RequestID: "z8", Member: "m", From: "mall", To: "park", Amount: dec("10")})
			return err
		},
	} {
		if err := call(); !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("%s without a time: %v, want ErrInvalidArgument", name, err)
		}
	}
	if after, _ := p.Feed(ctx, 0, 10000); len(after) != len(before) {
		t.Errorf("feed grew from %d to %d changes", len(before), len(after))
	}
}

// TestNotDefined: a program without points still hands out a handle, and
// every call on it returns ErrNotDefined.
func TestNotDefined(t *testing.T) {
	ctx := context.Background()
	def := ptsDef(nil)
	def.Points = nil
	h := testkit.OpenMemory(t, def).Points()
	if h == nil {
		t.Fatal("nil handle")
	}
	at := ptsAt("2026-03-01 10:00")
	errs := map[string]error{}
	_, errs["Redeem"] = h.Redeem(ctx, points.RedeemRequest{RequestID: "r", Member: "m", At: at, Program: "mall", Ref: "x", Amount: dec("1")})
	_, errs["Reverse"] = h.Reverse(ctx, points.ReverseRequest{RequestID: "r", At: at, Program: "mall", Ref: "x"})
	_, errs["Adjust"] = h.Adjust(ctx, points.AdjustRequest{RequestID: "r", Member: "m", Operator: "o", Note: "n", At: at, Program: "mall", Amount: dec("1")})
	_, errs["Approve"] = h.Approve(ctx, points.DecideRequest{RequestID: "r", Operator: "o", At: at, Adjustment: "a"})
	_, errs["Reject"] = h.Reject(ctx, points.DecideRequest{RequestID: "r", Operator: "o", At: at, Adjustment: "a"})
	_, errs["Restore"] = h.Restore(ctx, points.ReviewRequest{RequestID: "r", Member: "m", Operator: "o", At: at, Program: "mall", Date: "2026-03-01"})
	_, errs["Void"] = h.Void(ctx, points.ReviewRequest{RequestID: "r", Member: "m", Operator: "o", At: at, Program: "mall", Date: "2026-03-01"})
	_, errs["Exchange"] = h.Exchange(ctx, points.ExchangeRequest{RequestID: "r", Member: "m", At: at, From: "mall", To: "park", Amount: dec("1")})
	_, errs["Balance"] = h.Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at})
	_, errs["Statement"] = h.Statement(ctx, points.StatementQuery{Program: "mall", Member: "m"})
	_, errs["Reconciliation"] = h.Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
	_, errs["Totals"] = h.Totals(ctx, points.TotalsQuery{Program: "mall", Member: "m"})
	_, errs["Expiring"] = h.Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", From: at, Days: 30})
	_, errs["ExpiryForecast"] = h.ExpiryForecast(ctx, "mall", at, 3)
	_, errs["Reviews"] = h.Reviews(ctx, "mall", 0)
	_, errs["Review"] = h.Review(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-01"})
	_, errs["Day"] = h.Day(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-01"})
	_, errs["Adjustment"] = h.Adjustment(ctx, "a")
	_, errs["Redemption"] = h.Redemption(ctx, points.RedemptionQuery{Program: "mall", Ref: "x"})
	_, _, errs["Order"] = h.Order(ctx, "o")
	_, errs["Split"] = h.Split(ctx, points.SplitQuery{Program: "mall", Member: "m", Order: dec("10"), At: at})
	_, errs["Lots"] = h.Lots(ctx, points.LotsQuery{Program: "mall", Member: "m"})
	if len(errs) != 22 {
		t.Fatalf("%d calls checked, want every one of the handle's 22", len(errs))
	}
	for name, err := range errs {
		if !errors.Is(err, points.ErrNotDefined) {
			t.Errorf("%s: %v, want ErrNotDefined", name, err)
		}
	}
	// Without points, an event earns nothing and is not an error.
	if out := mustProcess(t, testkit.OpenMemory(t, def), ptsOrder("1", "m", "10", at))[0]; len(out.Changes) != 0 {
		t.Errorf("changes without points: %+v", out.Changes)
	}
}

// TestQueriesCheckTheProgram: a read of a point program the definition
// does not have is ErrUnknownProgram, not an empty answer.
func TestQueriesCheckTheProgram(t *testing.T) {
	ctx := context.Background()
	h := testkit.OpenMemory(t, ptsDef(nil)).Points()
	at := ptsAt("2026-03-01 10:00")
	errs := map[string]error{}
	_, errs["Balance"] = h.Balance(ctx, points.BalanceQuery{Program: "zoo", Member: "m", At: at})
	_, errs["Statement"] = h.Statement(ctx, points.StatementQuery{Program: "zoo", Member: "m"})
	_, errs["Reconciliation"] = h.Reconciliation(ctx, points.ReconciliationQuery{Program: "zoo"})
	_, errs["Totals"] = h.Totals(ctx, points.TotalsQuery{Program: "zoo", Member: "m"})
	_, errs["Expiring"] = h.Expiring(ctx, points.ExpiringQuery{Program: "zoo", Member: "m", From: at, Days: 30})
	_, errs["ExpiryForecast"] = h.ExpiryForecast(ctx, "zoo", at, 3)
	_, errs["Reviews"] = h.Reviews(ctx, "zoo", 0)
	_, errs["Review"] = h.Review(ctx, points.DayQuery{Program: "zoo", Member: "m", Date: "2026-03-01"})
	_, errs["Day"] = h.Day(ctx, points.DayQuery{Program: "zoo", Member: "m", Date: "2026-03-01"})
	_, errs["Redemption"] = h.Redemption(ctx, points.RedemptionQuery{Program: "zoo", Ref: "x"})
	_, errs["Split"] = h.Split(ctx, points.SplitQuery{Program: "zoo", Member: "m", Order: dec("10"), At: at})
	for name, err := range errs {
		if !errors.Is(err, points.ErrUnknownProgram) {
			t.Errorf("%s: %v, want ErrUnknownProgram", name, err)
		}
	}
}

// TestRefundInThirds is issue 16's case worked by hand: a 300.00 order
// earns 300 points; each refund of 100.00 reverses 300 × refunded so far
// / 300 less what was reversed: 100, then 100, then 100.
func TestRefundInThirds(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) { d.Rules = []points.Rule{ptsBuy} }))
	mustProcess(t, p, ptsOrder("1", "m", "300.00", ptsAt("2026-03-01 10:00")))
	ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-01 10:00"), "300")
	left := []string{"200", "100", "0"}
	for i, id := range []string{"rf1", "rf2", "rf3"} {
		out := mustProcess(t, p, ptsRefund(id, "m", "o-1", "100.00", ptsAt("2026-03-02 10:00").Add(time.Duration(i)*time.Hour)))[0]
		pc, why := ptsChange(t, out, points.ChangeReversed)
		if !pc.Amount.Equal(dec("-100")) || !pc.Shortfall.IsZero() {
			t.Errorf("refund %d reversed %s (shortfall %s), want 100: %s", i+1, pc.Amount.Neg(), pc.Shortfall, why.Note)
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-03"), left[i])
	}
	o, found, err := p.Points().Order(ctx, "o-1")
	if err != nil || !found || !o.Grants[0].Reversed.Equal(dec("300")) || !o.Refunded.Equal(dec("300")) || !o.Shortfall.IsZero() {
		t.Errorf("order %+v %v %v", o, found, err)
	}
	ptsCheckBooks(t, p)
}

// TestEffectsOf reads an order's and a refund's effects per program.
func TestEffectsOf(t *testing.T) {
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
		d.Rules = []points.Rule{ptsBuy,
			{ID: "park", Program: "park", Event: "order", Order: "order_id", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("0.25")},
				Validity: rule.Validity{Kind: rule.MonthEnds, N: 0}},
			{ID: "visit", Program: "mall", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("5")}, Caps: rule.Caps{{Period: rule.Day, Limit: dec("5")}}},
		}
	}))
	ctx := context.Background()
	at := ptsAt("2026-03-10 10:00")
	// 200.00 earns 200 mall points and 50.0 park points (expiring at
	// 24:00 on 31 March).
	fx, err := points.EffectsOf(mustProcess(t, p, ptsOrder("1", "m", "200.00", at))[0])
	if err != nil {
		t.Fatal(err)
	}
	want := []points.ProgramAmount{{Program: "mall", Amount: dec("200")}, {Program: "park", Amount: dec("50")}}
	if diff := cmp.Diff(want, fx.Earned, decimalEqual); diff != "" {
		t.Errorf("earned (-want +got):\n%s", diff)
	}
	if len(fx.Changes) != 2 || fx.Changes[1].Kind != points.ChangeEarned || fx.Changes[1].Member != "m" || fx.Changes[1].Reason.Rule != "park" ||
		!fx.Changes[1].Expires.Equal(ptsAt("2026-04-01")) || fx.Changes[1].Expires.Location().String() != "Asia/Shanghai" {
		t.Errorf("changes %+v", fx.Changes)
	}
	// A redemption spends 190 of the mall's 200; refunding half the order
	// reverses 100 mall points (10 from the lot, 90 short) and 25 park
	// points.
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r", Member: "m", At: at, Program: "mall", Ref: "x", Amount: dec("190")}); err != nil {
		t.Fatal(err)
	}
	fx, err = points.EffectsOf(mustProcess(t, p, ptsRefund("rf", "m", "o-1", "100", at.Add(time.Hour)))[0])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]points.ProgramAmount{{Program: "mall", Amount: dec("10")}, {Program: "park", Amount: dec("25")}}, fx.Reversed, decimalEqual); diff != "" {
		t.Errorf("reversed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]points.ProgramAmount{{Program: "mall", Amount: dec("90")}}, fx.Shortfall, decimalEqual); diff != "" {
		t.Errorf("shortfall (-want +got):\n%s", diff)
	}
	if len(fx.Earned) != 0 {
		t.Errorf("a refund earned %+v", fx.Earned)
	}
	// A grant a cap cuts to nothing is a change but earns nothing.
	mustProcess(t, p, ptsVisit("v1", "m", at))
	fx, _ = points.EffectsOf(mustProcess(t, p, ptsVisit("v2", "m", at))[0])
	if len(fx.Changes) != 1 || fx.Changes[0].Reason.Cut == nil || len(fx.Earned) != 0 {
		t.Errorf("capped grant's effects %+v", fx)
	}
	// Other domains' changes are skipped; a points change whose data is not
	// a Change is an error; no outcome has no effects.
	other := &change.Outcome{Event: "e", Changes: []change.Change{{Kind: "level.changed", Data: []byte(`{"program":7}`)}}}
	if fx, err := points.EffectsOf(other); err != nil || len(fx.Changes) != 0 {
		t.Errorf("other domain: %+v, %v", fx, err)
	}
	other.Changes[0].Kind = points.ChangeEarned
	if _, err := points.EffectsOf(other); err == nil {
		t.Error("malformed points change read without error")
	}
	if fx, err := points.EffectsOf(nil); err != nil || fx.Changes != nil {
		t.Errorf("nil outcome: %+v, %v", fx, err)
	}
}

// TestTimesInProgramZone: what the queries and results return is in the
// program's zone, whatever zone the request's time was given in.
func TestTimesInProgramZone(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	at := ptsAt("2026-03-05 10:00").UTC()
	res, err := h.Redeem(ctx, points.RedeemRequest{RequestID: "z", Member: "m", At: at, Program: "mall", Ref: "zone", Amount: dec("1")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Restore(ctx, points.ReviewRequest{RequestID: "rv", Member: "f", Operator: "bob", At: at, Program: "mall", Date: "2026-03-01"}); err != nil {
		t.Fatal(err)
	}
	rd, err := h.Redemption(ctx, points.RedemptionQuery{Program: "mall", Ref: "zone"})
	if err != nil {
		t.Fatal(err)
	}
	rv, err := h.Review(ctx, points.DayQuery{Program: "mall", Member: "f", Date: "2026-03-01"})
	if err != nil {
		t.Fatal(err)
	}
	adj, err := h.Adjustment(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := h.Order(ctx, "o-1")
	if err != nil {
		t.Fatal(err)
	}
	page, err := h.Statement(ctx, points.StatementQuery{Program: "mall", Member: "m"})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := h.Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "f", From: at, Days: 3650})
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]time.Time{
		"outcome": res.Outcome.Time, "redemption": rd.Time, "review decided": rv.Decided,
		"adjustment requested": adj.Requested, "order grant": o.Grants[0].Time, "statement entry": page.Entries[0].Time,
		"lot granted": rv.Lots[0].Granted,
	}
	if len(ex) != 1 {
		t.Fatalf("f's expiring lots %+v, want one", ex)
	}
	ts["expiring lot"] = ex[0].Expires
	for name, tm := range ts {
		if tm.IsZero() || tm.Location().String() != "Asia/Shanghai" {
			t.Errorf("%s: %v, want a time in Asia/Shanghai", name, tm)
		}
	}
}

// callsTrail returns how many changes the feed and entries the audit trail
// hold: a malformed request changes neither.
func callsTrail(t *testing.T, p *membership.Program) (feed, audit int) {
	t.Helper()
	ctx := context.Background()
	cs, err := p.Feed(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := p.Audit(ctx, membership.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs), len(pg.Entries)
}

// wantArgument fails t unless err wraps event.ErrInvalidArgument (and
// every one of also) and names field.
func wantArgument(t *testing.T, what string, err error, field string, also ...error) {
	t.Helper()
	if !errors.Is(err, event.ErrInvalidArgument) || !strings.Contains(err.Error(), field+": ") {
		t.Errorf("%s: %v, want ErrInvalidArgument naming %s", what, err, field)
		return
	}
	for _, target := range also {
		if !errors.Is(err, target) {
			t.Errorf("%s: %v, want one wrapping %v too", what, err, target)
		}
	}
}

// TestInvalidAmountIsInvalidArgument: an amount that is not positive or
// has more decimal places than the program's scale (ErrInvalidAmount) is
// a malformed argument too: every call refusing one, and SplitOrder and
// CheckAmount, return an error wrapping both ErrInvalidAmount and
// event.ErrInvalidArgument (it wrapped the first alone). mall keeps whole
// points and money to 2 places; nothing is spent.
func TestInvalidAmountIsInvalidArgument(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	at := ptsAt("2026-03-05 10:00")
	mall := p.Definition().Points.Programs[0]
	errs := map[string]error{}
	_, errs["redeem of a fraction"] = h.Redeem(ctx, points.RedeemRequest{RequestID: "a1", Member: "m", At: at, Program: "mall", Ref: "a", Amount: dec("0.5")})
	_, errs["redeem of a negative amount"] = h.Redeem(ctx, points.RedeemRequest{RequestID: "a2", Member: "m", At: at, Program: "mall", Ref: "b", Amount: dec("-5")})
	_, errs["redeem of an order of a tenth of a cent"] = h.Redeem(ctx, points.RedeemRequest{RequestID: "a3", Member: "m", At: at, Program: "mall", Ref: "c", Order: dec("10.001")})
	_, errs["reverse of a fraction"] = h.Reverse(ctx, points.ReverseRequest{RequestID: "a4", At: at, Program: "mall", Ref: "ref-1", Amount: dec("1.5")})
	_, errs["adjust of nothing"] = h.Adjust(ctx, points.AdjustRequest{RequestID: "a5", Member: "m", Operator: "bob", Note: "n", At: at, Program: "mall"})
	_, errs["exchange of a fraction"] = h.Exchange(ctx, points.ExchangeRequest{RequestID: "a6", Member: "m", At: at, From: "mall", To: "park", Amount: dec("2.5")})
	_, errs["split of an order of a tenth of a cent"] = h.Split(ctx, points.SplitQuery{Program: "mall", Member: "m", Order: dec("10.001"), At: at})
	_, errs["SplitOrder of a negative order"] = points.SplitOrder(mall, dec("-1"), dec("100"), decimal.Zero)
	errs["CheckAmount of zero"] = mall.CheckAmount(decimal.Zero)
	for name, err := range errs {
		if !errors.Is(err, points.ErrInvalidAmount) || !errors.Is(err, event.ErrInvalidArgument) {
			t.Errorf("%s: %v, want one wrapping ErrInvalidAmount and event.ErrInvalidArgument", name, err)
		}
	}
	ptsWantAvailable(t, p, "mall", "m", at, "220")
}

// TestAmountsBeyondTheDecimalLimit: an amount of 81 digits (1e80) or of
// 41 (1e40) was applied by Adjust (or left pending and later approved),
// after which Redeem and Exchange spent like amounts; every amount a call
// takes is refused past event.MaxDecimalDigits as the event path refuses
// such an attribute, and nothing is written. 1e39 (40 digits) is within
// the limit: the adjustment of park applies, and m's park balance is
// 1e39 (m held no park points).
func TestAmountsBeyondTheDecimalLimit(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	at := ptsAt("2026-03-05 10:00")
	feed, audit := callsTrail(t, p)
	for _, huge := range []decimal.Decimal{decimal.New(1, 80), decimal.New(1, 40), decimal.New(-1, 40), decimal.New(1, -41)} {
		calls := map[string]struct {
			field string
			err   error
		}{}
		call := func(name, field string, err error) {
			calls[name] = struct {
				field string
				err   error
			}{field, err}
		}
		_, err := h.Redeem(ctx, points.RedeemRequest{RequestID: "h1", Member: "m", At: at, Program: "mall", Ref: "h", Amount: huge})
		call("redeem", "amount", err)
		_, err = h.Redeem(ctx, points.RedeemRequest{RequestID: "h1", Member: "m", At: at, Program: "mall", Ref: "h", Order: huge})
		call("redeem order", "order", err)
		_, err = h.Reverse(ctx, points.ReverseRequest{RequestID: "h2", At: at, Program: "mall", Ref: "ref-1", Amount: huge})
		call("reverse", "amount", err)
		_, err = h.Adjust(ctx, points.AdjustRequest{RequestID: "h3", Member: "m", Operator: "bob", Note: "n", At: at, Program: "park", Amount: huge})
		call("adjust", "amount", err)
		_, err = h.Adjust(ctx, points.AdjustRequest{RequestID: "h4", Member: "m", Operator: "bob", Note: "n", At: at, Program: "mall", Amount: huge})
		call("adjust above approval", "amount", err)
		_, err = h.Exchange(ctx, points.ExchangeRequest{RequestID: "h5", Member: "m", At: at, From: "mall", To: "park", Amount: huge})
		call("exchange", "amount", err)
		_, err = h.Split(ctx, points.SplitQuery{Program: "mall", Member: "m", Order: huge, At: at})
		call("split", "order", err)
		for name, c := range calls {
			wantArgument(t, fmt.Sprintf("%s of %s", name, huge), c.err, c.field, event.ErrTooLarge)
		}
	}
	if f, a := callsTrail(t, p); f != feed || a != audit {
		t.Errorf("refusals wrote: feed %d → %d, audit %d → %d", feed, f, audit, a)
	}
	res, err := h.Adjust(ctx, points.AdjustRequest{RequestID: "h3", Member: "m", Operator: "bob", Note: "n", At: at, Program: "park", Amount: decimal.New(1, 39)})
	if err != nil || res.Outcome.Duplicate || res.Adjustment.State != points.AdjustmentApplied {
		t.Fatalf("adjustment of 1e39 under a refused request's ID: %+v, %v", res.Adjustment, err)
	}
	ptsWantAvailable(t, p, "park", "m", at, "1"+strings.Repeat("0", 39))
	ptsCheckBooks(t, p)
}

// TestExpiryForecastBounds: months 0, -1 and 5000 used to answer (and
// months = 1<<30 allocated its answer up front, exhausting memory), a zero
// or year-2200 from too; they are refused naming the argument. 1200 months
// from 2026-02-15 are 2026-02 to 2126-01 (1199 months after it: 99 years
// and 11 months).
func TestExpiryForecastBounds(t *testing.T) {
	ctx := context.Background()
	h := callsSetup(t).Points()
	from := ptsAt("2026-02-15")
	for _, months := range []int{0, -1, points.MaxForecastMonths + 1, 5000} {
		_, err := h.ExpiryForecast(ctx, "mall", from, months)
		wantArgument(t, fmt.Sprintf("ExpiryForecast of %d months", months), err, "months")
	}
	for _, bad := range []time.Time{{}, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)} {
		_, err := h.ExpiryForecast(ctx, "mall", bad, 3)
		wantArgument(t, fmt.Sprintf("ExpiryForecast from %v", bad), err, "from")
	}
	if _, err := h.ExpiryForecast(ctx, "zoo", from, 0); !errors.Is(err, points.ErrUnknownProgram) {
		t.Errorf("ExpiryForecast of an unknown program: %v, want ErrUnknownProgram", err)
	}
	fc, err := h.ExpiryForecast(ctx, "mall", from, points.MaxForecastMonths)
	if err != nil {
		t.Fatal(err)
	}
	if len(fc) != 1200 || fc[0].Month != "2026-02" || fc[1199].Month != "2126-01" {
		t.Errorf("forecast of 1200 months: %d months, %s to %s; want 1200, 2026-02 to 2126-01", len(fc), fc[0].Month, fc[len(fc)-1].Month)
	}
}

// TestDatesAreChecked: a day not of the form "2006-01-02" made Day answer
// zero, Reconciliation total no day, and Review, Restore and Void report
// ErrUnknownReview; each is refused naming the field, and nothing is
// written. Restore and Void of an unknown program are ErrUnknownProgram
// (they were ErrUnknownReview). The well-formed day still works: f's
// frozen 2026-03-01 is restored under the refused request's ID, and that
// day mall earned 90 (m) + 150 (f) = 240.
func TestDatesAreChecked(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	at := ptsAt("2026-03-05 10:00")
	feed, audit := callsTrail(t, p)
	for _, date := range []string{"junk", "2026-3-1", "2026-13-01", "2026-02-30", "2026-03-01T00:00:00Z"} {
		_, err := h.Day(ctx, points.DayQuery{Program: "mall", Member: "f", Date: date})
		wantArgument(t, "Day of "+date, err, "date")
		_, err = h.Review(ctx, points.DayQuery{Program: "mall", Member: "f", Date: date})
		wantArgument(t, "Review of "+date, err, "date")
		_, err = h.Restore(ctx, points.ReviewRequest{RequestID: "w1", Member: "f", Operator: "bob", At: at, Program: "mall", Date: date})
		wantArgument(t, "Restore of "+date, err, "date")
		_, err = h.Void(ctx, points.ReviewRequest{RequestID: "w2", Member: "f", Operator: "bob", At: at, Program: "mall", Date: date})
		wantArgument(t, "Void of "+date, err, "date")
		_, err = h.Reconciliation(ctx, points.ReconciliationQuery{Program: "mall", From: date})
		wantArgument(t, "Reconciliation from "+date, err, "from")
		_, err = h.Reconciliation(ctx, points.ReconciliationQuery{Program: "mall", From: "2026-03-01", To: date})
		wantArgument(t, "Reconciliation to "+date, err, "to")
	}
	_, err := h.Day(ctx, points.DayQuery{Program: "mall", Member: "f"})
	wantArgument(t, "Day without a date", err, "date")
	if f, a := callsTrail(t, p); f != feed || a != audit {
		t.Errorf("refusals wrote: feed %d → %d, audit %d → %d", feed, f, audit, a)
	}
	for name, call := range map[string]func(context.Context, points.ReviewRequest) (*change.Outcome, error){"Restore": h.Restore, "Void": h.Void} {
		_, err := call(ctx, points.ReviewRequest{RequestID: "w3", Member: "f", Operator: "bob", At: at, Program: "zoo", Date: "2026-03-01"})
		if !errors.Is(err, points.ErrUnknownProgram) {
			t.Errorf("%s of an unknown program: %v, want ErrUnknownProgram", name, err)
		}
	}
	if f, _ := callsTrail(t, p); f != feed {
		t.Errorf("refusals of an unknown program wrote: feed %d → %d", feed, f)
	}
	out, err := h.Restore(ctx, points.ReviewRequest{RequestID: "w1", Member: "f", Operator: "bob", At: at, Program: "mall", Date: "2026-03-01"})
	if err != nil || out.Duplicate {
		t.Fatalf("restore of 2026-03-01 under a refused request's ID: %v", err)
	}
	r, err := h.Reconciliation(ctx, points.ReconciliationQuery{Program: "mall", From: "2026-03-01", To: "2026-03-01"})
	if err != nil || !r.Earned.Equal(dec("240")) {
		t.Errorf("earned on 2026-03-01 = %s, %v; want 240", r.Earned, err)
	}
}

// TestQueriesNeedAMember: a query with an empty member answered zeros (or,
// for Statement, a ledger error about a pool); each is refused naming the
// member, as a query that takes a member checks it as an ID.
func TestQueriesNeedAMember(t *testing.T) {
	ctx := context.Background()
	h := callsSetup(t).Points()
	at := ptsAt("2026-03-05 10:00")
	errs := map[string]error{}
	_, errs["Balance"] = h.Balance(ctx, points.BalanceQuery{Program: "mall", At: at})
	_, errs["Statement"] = h.Statement(ctx, points.StatementQuery{Program: "mall"})
	_, errs["Totals"] = h.Totals(ctx, points.TotalsQuery{Program: "mall"})
	_, errs["Expiring"] = h.Expiring(ctx, points.ExpiringQuery{Program: "mall", From: at, Days: 30})
	_, errs["Review"] = h.Review(ctx, points.DayQuery{Program: "mall", Date: "2026-03-01"})
	_, errs["Day"] = h.Day(ctx, points.DayQuery{Program: "mall", Date: "2026-03-01"})
	_, errs["Split"] = h.Split(ctx, points.SplitQuery{Program: "mall", Order: dec("10"), At: at})
	_, errs["Lots"] = h.Lots(ctx, points.LotsQuery{Program: "mall"})
	for name, err := range errs {
		wantArgument(t, name+" without a member", err, "member")
	}
	if _, err := h.Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Cursor: "%%"}); !errors.Is(err, event.ErrInvalidArgument) || !errors.Is(err, ledger.ErrInvalid) {
		t.Errorf("Statement with a bad cursor: %v, want ErrInvalidArgument and ledger.ErrInvalid", err)
	}
	if b, err := h.Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at}); err != nil || !b.Available.Equal(dec("220")) {
		t.Errorf("m's balance = %+v, %v; want 220 available (270 earned − 50 redeemed)", b, err)
	}
}

// TestEmptyIDs: an empty adjustment ID (Approve, Reject, Adjustment) or
// order ID (Order) reached the store, whose own error came back; each is
// refused naming the field, before anything is read or written, and the
// request's ID stays free.
func TestEmptyIDs(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	at := ptsAt("2026-03-05 10:00")
	feed, audit := callsTrail(t, p)
	_, err := h.Approve(ctx, points.DecideRequest{RequestID: "d1", Operator: "bob", At: at})
	wantArgument(t, "Approve of no adjustment", err, "adjustment")
	_, err = h.Reject(ctx, points.DecideRequest{RequestID: "d1", Operator: "bob", At: at})
	wantArgument(t, "Reject of no adjustment", err, "adjustment")
	_, err = h.Adjustment(ctx, "")
	wantArgument(t, "Adjustment(\"\")", err, "adjustment")
	_, _, err = h.Order(ctx, "")
	wantArgument(t, "Order(\"\")", err, "order")
	if f, a := callsTrail(t, p); f != feed || a != audit {
		t.Errorf("refusals wrote: feed %d → %d, audit %d → %d", feed, f, audit, a)
	}
	if out, err := h.Approve(ctx, points.DecideRequest{RequestID: "d1", Operator: "bob", At: at, Adjustment: "big"}); err != nil || out.Duplicate {
		t.Fatalf("approval under a refused request's ID: %v", err)
	}
	if a, err := h.Adjustment(ctx, "big"); err != nil || a.State != points.AdjustmentApplied {
		t.Errorf("adjustment big = %+v, %v; want applied", a, err)
	}
	if _, found, err := h.Order(ctx, "o-1"); err != nil || !found {
		t.Errorf("Order(o-1): found %v, %v; want found", found, err)
	}
}

// TestQueryLimitsAndRanges: a negative limit (Reviews, Statement) used to
// mean the default, a To before From an empty page or zero totals, an
// Expiring window with a zero From, no days or a negative or huge number
// of them an empty or unbounded list, and a Redemption of no Ref an
// unknown redemption that named no field. Each is refused naming the
// field, and nothing is written; limits above the maximum are clamped
// (event.PageSize), so f's one frozen day is listed whatever the limit.
func TestQueryLimitsAndRanges(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	at := ptsAt("2026-03-05 10:00")
	feed, audit := callsTrail(t, p)
	_, err := h.Reviews(ctx, "mall", -1)
	wantArgument(t, "Reviews limit -1", err, "limit")
	for _, limit := range []int{0, 1, 1000, 1 << 40} {
		if rs, err := h.Reviews(ctx, "mall", limit); err != nil || len(rs) != 1 {
			t.Errorf("Reviews limit %d: %d, %v; want f's one frozen day", limit, len(rs), err)
		}
	}
	_, err = h.Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Limit: -1})
	wantArgument(t, "Statement limit -1", err, "limit", ledger.ErrInvalid)
	_, err = h.Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", From: at, To: at.Add(-time.Hour)})
	wantArgument(t, "Statement to before from", err, "to", ledger.ErrInvalid)
	if pg, err := h.Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Limit: 1 << 40}); err != nil || len(pg.Entries) != 4 {
		t.Errorf("Statement limit 2^40: %d entries, %v; want m's 4 (3 earned, 1 redeemed)", len(pg.Entries), err)
	}
	_, err = h.Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", Days: 30})
	wantArgument(t, "Expiring from a zero time", err, "from")
	for _, days := range []int{-5, 0, points.MaxExpiringDays + 1, 1 << 40} {
		_, err = h.Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", From: at, Days: days})
		wantArgument(t, fmt.Sprintf("Expiring of %d days", days), err, "days")
	}
	if lots, err := h.Expiring(ctx, points.ExpiringQuery{Program: "mall", Member: "m", From: at, Days: points.MaxExpiringDays}); err != nil || len(lots) != 3 {
		t.Errorf("Expiring of MaxExpiringDays: %d lots, %v; want m's 3", len(lots), err)
	}
	_, err = h.Reconciliation(ctx, points.ReconciliationQuery{Program: "mall", From: "2026-03-02", To: "2026-03-01"})
	wantArgument(t, "Reconciliation to before from", err, "to")
	_, err = h.Redemption(ctx, points.RedemptionQuery{Program: "mall"})
	wantArgument(t, "Redemption of no ref", err, "ref")
	if f, a := callsTrail(t, p); f != feed || a != audit {
		t.Errorf("refusals wrote: feed %d → %d, audit %d → %d", feed, f, audit, a)
	}
}

// TestReverseNotBeforeTheRedemption: a reversal at a time before the
// redemption it reverses (ref-1, 2026-03-04 10:00) was applied; it is
// refused naming "at", m keeps 220 points and the feed is unchanged. At
// the redemption's own time it is applied: 220 + 50 = 270.
func TestReverseNotBeforeTheRedemption(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	feed, _ := callsTrail(t, p)
	_, err := h.Reverse(ctx, points.ReverseRequest{RequestID: "v1", At: ptsAt("2026-03-04 09:59"), Program: "mall", Ref: "ref-1"})
	wantArgument(t, "Reverse before the redemption", err, "at")
	if f, _ := callsTrail(t, p); f != feed {
		t.Errorf("the refusal wrote: feed %d → %d", feed, f)
	}
	at := ptsAt("2026-03-04 10:00")
	if b, _ := h.Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at}); !b.Available.Equal(dec("220")) {
		t.Errorf("m's balance after the refusal = %s, want 220", b.Available)
	}
	if _, err := h.Reverse(ctx, points.ReverseRequest{RequestID: "v2", At: at, Program: "mall", Ref: "ref-1"}); err != nil {
		t.Fatalf("Reverse at the redemption's time: %v", err)
	}
	if b, _ := h.Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at}); !b.Available.Equal(dec("270")) {
		t.Errorf("m's balance after the reversal = %s, want 270", b.Available)
	}
}

// TestDecisionNotBeforeTheRequest: an approval or a rejection at a time
// before the adjustment's request ("big", 600 points asked by alice at
// 2026-03-04 10:00) was applied, so the statement showed a credit on a
// day before anyone asked for it. Both are refused naming "at", the
// adjustment stays pending, m keeps 220 points and the feed is unchanged.
// Approved at the request's own time, m has 220 + 600 = 820.
func TestDecisionNotBeforeTheRequest(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	feed, _ := callsTrail(t, p)
	early := ptsAt("2026-03-04 09:59")
	_, err := h.Approve(ctx, points.DecideRequest{RequestID: "d1", Operator: "bob", At: early, Adjustment: "big"})
	wantArgument(t, "Approve before the request", err, "at")
	_, err = h.Reject(ctx, points.DecideRequest{RequestID: "d2", Operator: "bob", At: early, Adjustment: "big"})
	wantArgument(t, "Reject before the request", err, "at")
	if f, _ := callsTrail(t, p); f != feed {
		t.Errorf("the refusals wrote: feed %d → %d", feed, f)
	}
	if adj, err := h.Adjustment(ctx, "big"); err != nil || adj.State != points.AdjustmentPending {
		t.Errorf("adjustment after the refusals: %+v %v", adj, err)
	}
	at := ptsAt("2026-03-04 10:00")
	if _, err := h.Approve(ctx, points.DecideRequest{RequestID: "d3", Operator: "bob", At: at, Adjustment: "big"}); err != nil {
		t.Fatalf("Approve at the request's time: %v", err)
	}
	if b, _ := h.Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: at}); !b.Available.Equal(dec("820")) {
		t.Errorf("m's balance after the approval = %s, want 820", b.Available)
	}
}

// TestStatementOfNoAccountOrKind: a statement of a sub-account the points
// have not ("Frozen", "bogus") or of a kind they never post ("expire")
// came back empty, as if nothing had happened; it is refused naming the
// field. The accounts and kinds that exist are read as before: m has 3
// earned and 1 redeemed entries in the main account, none frozen.
func TestStatementOfNoAccountOrKind(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	for _, sub := range []string{"Frozen", "bogus", "pending "} {
		_, err := h.Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Sub: sub})
		wantArgument(t, fmt.Sprintf("Statement of sub %q", sub), err, "sub")
	}
	_, err := h.Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Kinds: []ledger.Kind{points.KindEarned, "expire"}})
	wantArgument(t, `Statement of kind "expire"`, err, "kinds")
	for _, tc := range []struct {
		sub   string
		kinds []ledger.Kind
		want  int
	}{
		{"", nil, 4},
		{"", []ledger.Kind{points.KindEarned}, 3},
		{"", []ledger.Kind{points.KindRedeemed, points.KindExpired}, 1},
		{points.SubFrozen, nil, 0},
		{points.SubPending, []ledger.Kind{points.KindReleased, points.KindOpening}, 0},
	} {
		pg, err := h.Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Sub: tc.sub, Kinds: tc.kinds})
		if err != nil || len(pg.Entries) != tc.want {
			t.Errorf("Statement of sub %q kinds %v: %d entries, %v; want %d", tc.sub, tc.kinds, len(pg.Entries), err, tc.want)
		}
	}
}

// TestBalanceAndSplitNeedATime: a Balance or Split with a zero At counted
// every lot as available, expired or not: m's 220 points (270 earned in
// March, 50 redeemed) expire at 24:00 of 30 April (month ends, N = 1), yet
// a zero At gave 220 available, and a split of 10.00 paid 2.20 of it with
// all 220 (at 0.01 a point, below the half of 10.00). Both are refused
// naming "at"; at 1 May nothing is available, and the split pays nothing
// in points.
func TestBalanceAndSplitNeedATime(t *testing.T) {
	ctx := context.Background()
	p := callsSetup(t)
	h := p.Points()
	_, err := h.Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m"})
	wantArgument(t, "Balance at a zero time", err, "at")
	_, err = h.Split(ctx, points.SplitQuery{Program: "mall", Member: "m", Order: dec("10.00")})
	wantArgument(t, "Split at a zero time", err, "at")
	may := ptsAt("2026-05-01")
	if b, err := h.Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m", At: may}); err != nil || !b.Available.IsZero() || !b.Main.Equal(dec("220")) {
		t.Errorf("balance on 1 May: %+v, %v; want 0 available of 220", b, err)
	}
	if s, err := h.Split(ctx, points.SplitQuery{Program: "mall", Member: "m", Order: dec("10.00"), At: may}); err != nil || !s.Points.IsZero() || !s.Cash.Equal(dec("10")) {
		t.Errorf("split on 1 May: %+v, %v; want 10.00 in cash", s, err)
	}
}

// TestDamagedState: a review or an adjustment is in one of its states; a
// record in another ("approved") or in none is damage, store.ErrCorrupt,
// for every call that reads it, not a review or adjustment taken as
// decided (which Restore and Approve would refuse as not pending).
func TestDamagedState(t *testing.T) {
	ctx := context.Background()
	at := ptsAt("2026-03-05 10:00")
	for _, state := range []any{"approved", nil} {
		st := memory.New()
		p := callsSetupOn(t, st)
		h := p.Points()
		for _, bucket := range []string{"points.review", "points.adjust"} {
			setState(t, st, bucket, state)
		}
		for name, call := range map[string]func() error{
			"Review": func() error {
				_, err := h.Review(ctx, points.DayQuery{Program: "mall", Member: "f", Date: "2026-03-01"})
				return err
			},
			"Reviews": func() error { _, err := h.Reviews(ctx, "mall", 0); return err },
			"Restore": func() error {
				_, err := h.Restore(ctx, points.ReviewRequest{RequestID: "rv", Member: "f", Operator: "bob", At: at, Program: "mall", Date: "2026-03-01"})
				return err
			},
			"Adjustment": func() error { _, err := h.Adjustment(ctx, "big"); return err },
			"Approve": func() error {
				_, err := h.Approve(ctx, points.DecideRequest{RequestID: "ap", Operator: "bob", At: at, Adjustment: "big"})
				return err
			},
		} {
			if err := call(); !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("%s with state %v: %v; want store.ErrCorrupt", name, state, err)
			}
		}
	}
	// The index of open reviews names f's day: without its review, that
	// is damage too, not a review of nothing.
	st := memory.New()
	h := callsSetupOn(t, st).Points()
	err := st.Update(ctx, func(tx store.Tx) error {
		return tx.Delete("points.review", keys.New().Str("mall").Str("2026-03-01").Str("f"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if rvs, err := h.Reviews(ctx, "mall", 0); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Reviews of an open review not there = %+v, %v; want store.ErrCorrupt", rvs, err)
	}
}

// setState sets the "state" of every JSON record of bucket in st (nil:
// removes it).
// recordVersion splits a day, order or review record into its version
// byte (none for version 1, plain JSON) and its JSON.
func recordVersion(raw []byte) (version, js []byte) {
	if len(raw) > 0 && raw[0] < '\t' {
		return []byte{raw[0]}, raw[1:]
	}
	return nil, raw
}

func setState(t *testing.T, st store.Store, bucket string, state any) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		recs := map[string]map[string]any{}
		versions := map[string][]byte{} // a record's version byte, if any
		err := tx.Scan(bucket, nil, nil, false, func(k, v []byte) error {
			var m map[string]any
			versions[string(k)], v = recordVersion(v)
			err := json.Unmarshal(v, &m)
			recs[string(k)] = m
			return err
		})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			t.Fatalf("no record in %s", bucket)
		}
		for k, m := range recs {
			delete(m, "state")
			if state != nil {
				m["state"] = state
			}
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := tx.Put(bucket, []byte(k), append(versions[k], b...)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReviewNotBeforeTheFreeze: a restore or a void of a frozen day dated
// before the review took its points was applied, so the statement showed
// points restored before they were earned (a restore of 1 March's day
// dated 20 February). A decision cannot precede the last time its review
// took points: the freeze, a later grant of the day, a release into it.
// Each is refused naming "at", the review stays pending with its points
// frozen and the feed is unchanged; at that very time it is taken.
func TestReviewNotBeforeTheFreeze(t *testing.T) {
	ctx := context.Background()
	buy := ptsBuy
	held := points.Rule{ID: "held", Program: "park", Event: "order", PendingDays: 1,
		Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
		d.Programs[1].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
		d.Rules = []points.Rule{buy, held}
	}))
	h := p.Points()
	// mall: 120 at 10:00 freezes the day, 5 at 20:00 joins the review.
	// park: 120 pending at 10:00 freezes the day; released into the
	// review on 2 March at 10:00 (the 5 of 20:00 wait until 20:00).
	mustProcess(t, p, ptsOrder("1", "m", "120", ptsAt("2026-03-01 10:00")), ptsOrder("2", "m", "5", ptsAt("2026-03-01 20:00")))
	if _, err := p.Advance(ctx, ptsAt("2026-03-02 10:00")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		program, frozen string
		early           []string
		last            string
	}{
		{"mall", "125", []string{"2026-02-20 10:00", "2026-03-01 09:59", "2026-03-01 19:59:59"}, "2026-03-01 20:00"},
		{"park", "120", []string{"2026-03-01 10:00", "2026-03-02 09:59:59"}, "2026-03-02 10:00"},
	} {
		for i, at := range tc.early {
			feed, _ := callsTrail(t, p)
			req := points.ReviewRequest{RequestID: fmt.Sprintf("%s-%d", tc.program, i), Member: "m", Operator: "alice", At: ptsAt(at), Program: tc.program, Date: "2026-03-01"}
			_, err := h.Restore(ctx, req)
			wantArgument(t, tc.program+" Restore at "+at, err, "at")
			req.RequestID += "v"
			_, err = h.Void(ctx, req)
			wantArgument(t, tc.program+" Void at "+at, err, "at")
			if f, _ := callsTrail(t, p); f != feed {
				t.Errorf("%s: the refusals at %s wrote: feed %d → %d", tc.program, at, feed, f)
			}
		}
		if rv, err := h.Review(ctx, points.DayQuery{Program: tc.program, Member: "m", Date: "2026-03-01"}); err != nil || rv.State != points.ReviewPending {
			t.Errorf("%s review after the refusals: %+v %v", tc.program, rv, err)
		}
		if b := ptsBalance(t, p, tc.program, "m", ptsAt("2026-03-02 10:00")); !b.Frozen.Equal(dec(tc.frozen)) || !b.Available.IsZero() {
			t.Errorf("%s balance after the refusals %+v, want %s frozen", tc.program, b, tc.frozen)
		}
		at := ptsAt(tc.last)
		if _, err := h.Restore(ctx, points.ReviewRequest{RequestID: tc.program + "-ok", Member: "m", Operator: "alice", At: at, Program: tc.program, Date: "2026-03-01"}); err != nil {
			t.Fatalf("%s Restore at %s: %v", tc.program, tc.last, err)
		}
		ptsWantAvailable(t, p, tc.program, "m", ptsAt("2026-03-02 10:00"), tc.frozen)
	}
	ptsCheckBooks(t, p)
}

// TestReviewOfAnEarlierReleaseNotBeforeItsDay: a review an earlier
// release recorded has no Frozen time; a decision on it cannot precede
// the day's start in the program's zone (1 March 00:00 in Shanghai), nor
// the grant of a lot it decides (TestSpecReviewOfALateFreeze), here at
// that start too.
func TestReviewOfAnEarlierReleaseNotBeforeItsDay(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, ptsDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
		d.Rules = []points.Rule{ptsBuy}
	}))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, ptsOrder("1", "m", "120", ptsAt("2026-03-01 00:00")))
	testkit.Overwrite(t, st, "points.review", []byte(`{"program":"mall","member":"m","date":"2026-03-01","earned":"120","lots":[{"lot":"1.0","amount":"120","granted":"2026-02-28T16:00:00Z"}],"state":"pending"}`))
	req := points.ReviewRequest{RequestID: "early", Member: "m", Operator: "alice", At: ptsAt("2026-02-28 23:59:59"), Program: "mall", Date: "2026-03-01"}
	_, err = p.Points().Restore(ctx, req)
	wantArgument(t, "Restore the day before", err, "at")
	req.RequestID, req.At = "day", ptsAt("2026-03-01 00:00")
	if _, err := p.Points().Restore(ctx, req); err != nil {
		t.Fatalf("Restore at the day's start: %v", err)
	}
	ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-01 10:00"), "120")
}
