package points_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/migrate"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/shopspring/decimal"
)

// totalsOf returns a member's totals of mall over [from, to) as text,
// field by field, for cmp.Diff.
func totalsOf(t *testing.T, p *membership.Program, member string, from, to time.Time) map[string]string {
	t.Helper()
	tt, err := p.Points().Totals(context.Background(), points.TotalsQuery{Program: "mall", Member: member, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	return totalsText(tt)
}

func totalsText(tt points.Totals) map[string]string {
	return map[string]string{
		"opening": tt.Opening.String(), "earned": tt.Earned.String(), "redeemed": tt.Redeemed.String(),
		"reversed": tt.Reversed.String(), "expired": tt.Expired.String(), "voided": tt.Voided.String(),
		"adjusted": tt.Adjusted.String(), "exchanged": tt.Exchanged.String(), "released": tt.Released.String(),
		"frozen": tt.Frozen.String(), "restored": tt.Restored.String(), "change": tt.Change.String(),
	}
}

// totalsWant is a totals map with every field zero but those given
// ("earned", "120", ...).
func totalsWant(kv ...string) map[string]string {
	m := totalsText(points.Totals{})
	for i := 0; i < len(kv); i += 2 {
		if _, ok := m[kv[i]]; !ok {
			panic("no totals field " + kv[i])
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestTotalsVariedHistory: a member's totals per kind, over the whole
// history and over periods, worked out by hand, and the identity they
// satisfy against the balance. mall keeps whole points; orders earn a
// point a yuan, valid 10 days (DaysAfter 10: a grant on 1 March expires
// at 11 March 00:00), recorded for refunds; a visit earns 20 held pending
// 2 days, valid 30 days; risk control freezes a member's day once 300 are
// earned in it. Adjustments up to 500 need no approval; mall → park
// exchanges at 0.3 and park → mall at 3, crediting permanent lots.
//
// m's history (lot A: order 1's; P: the visit's; B: order 2's; C: order
// 3's; O the opening lot, permanent, so spent last):
//
//	02-28 10:00 opened with 40 (O)                    opening +40
//	03-01 10:00 order 1 of 100.00: A = 100             earned +100 (day: 100)
//	03-01 11:00 visit: P = 20 pending                  earned +20  (day: 120)
//	03-02 10:00 redeem 30: from A (earliest expiry)    redeemed 30, A = 70
//	03-02 12:00 reverse 10 of it: back to A            reversed +10, A = 80
//	03-03 09:00 refund 50.00 of order 1: 100 × 50/100
//	            = 50 taken from A, which holds 80      reversed −50, A = 30
//	03-03 12:00 Advance: P released (due 03-03 11:00)  released 20
//	03-04 10:00 adjust +15 (a permanent lot)           adjusted +15
//	03-04 11:00 adjust −5: from A                      adjusted −5, A = 25
//	03-05 10:00 exchange 10 to park (3.0): from A      exchanged −10, A = 15
//	03-05 11:00 exchange 1.0 park back: 1 × 3 = 3      exchanged +3
//	03-06 10:00 order 2 of 300.00: B = 300, the day
//	            reaches 300 and freezes B              earned +300, frozen 300
//	03-07 10:00 restore the day: B back to main        restored 300
//	03-08 10:00 order 3 of 400.00: C = 400, frozen     earned +400, frozen 400
//	03-09 10:00 void the day: C voided                 voided 400
//	03-12 00:00 Advance: A's 15 expire (at 03-11)      expired 15
//
// So, over the whole history: opening 40, earned 100 + 20 + 300 + 400 =
// 820, redeemed 30, reversed 10 − 50 = −40, expired 15, voided 400,
// adjusted 15 − 5 = 10, exchanged −10 + 3 = −7, released 20, frozen 300 +
// 400 = 700, restored 300, and change = 40 + 820 − 30 + (−40) − 15 − 400
// + 10 + (−7) = 378: the balance, main O 40 + P 20 + B 300 + the
// adjustment's 15 + the exchange's 3 = 378, nothing pending or frozen.
// n earns 50 on 03-01 (expiring 03-11): n's totals are apart from m's,
// and both add up to Reconciliation's.
func TestTotalsVariedHistory(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
		d.Programs[0].Risk = &points.Risk{Daily: dec("300"), Policy: points.Freeze}
		buy := ptsBuy
		buy.Validity = rule.Validity{Kind: rule.DaysAfter, N: 10}
		visit := points.Rule{ID: "visit", Program: "mall", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("20")},
			PendingDays: 2, Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}
		d.Rules = []points.Rule{buy, visit}
	}))
	h := p.Points()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := p.OpenMember(ctx, migrate.Member{RequestID: "open-m", Member: "m", Operator: "ops", At: ptsAt("2026-02-28 10:00"),
		Points: []migrate.Points{{Program: "mall", Lots: []migrate.Lot{{Amount: dec("40")}}}}})
	must("open m", err)
	mustProcess(t, p, ptsOrder("1", "m", "100.00", ptsAt("2026-03-01 10:00")))
	mustProcess(t, p, ptsOrder("n1", "n", "50.00", ptsAt("2026-03-01 10:30")))
	mustProcess(t, p, ptsVisit("v1", "m", ptsAt("2026-03-01 11:00")))
	_, err = h.Redeem(ctx, points.RedeemRequest{RequestID: "r1", Member: "m", At: ptsAt("2026-03-02 10:00"), Program: "mall", Ref: "gift", Amount: dec("30")})
	must("redeem", err)
	_, err = h.Reverse(ctx, points.ReverseRequest{RequestID: "rv1", At: ptsAt("2026-03-02 12:00"), Program: "mall", Ref: "gift", Amount: dec("10")})
	must("reverse", err)
	mustProcess(t, p, ptsRefund("rf1", "m", "o-1", "50.00", ptsAt("2026-03-03 09:00")))
	_, err = p.Advance(ctx, ptsAt("2026-03-03 12:00"))
	must("advance to the release", err)
	for i, amt := range []string{"15", "-5"} {
		_, err = h.Adjust(ctx, points.AdjustRequest{RequestID: fmt.Sprint("a", i), Member: "m", Operator: "ops", Note: "goodwill",
			At: ptsAt("2026-03-04 10:00").Add(time.Duration(i) * time.Hour), Program: "mall", Amount: dec(amt)})
		must("adjust "+amt, err)
	}
	_, err = h.Exchange(ctx, points.ExchangeRequest{RequestID: "x1", Member: "m", At: ptsAt("2026-03-05 10:00"), From: "mall", To: "park", Amount: dec("10")})
	must("exchange to park", err)
	_, err = h.Exchange(ctx, points.ExchangeRequest{RequestID: "x2", Member: "m", At: ptsAt("2026-03-05 11:00"), From: "park", To: "mall", Amount: dec("1")})
	must("exchange from park", err)
	mustProcess(t, p, ptsOrder("2", "m", "300.00", ptsAt("2026-03-06 10:00")))
	_, err = h.Restore(ctx, points.ReviewRequest{RequestID: "w1", Member: "m", Operator: "risk", At: ptsAt("2026-03-07 10:00"), Program: "mall", Date: "2026-03-06"})
	must("restore", err)
	mustProcess(t, p, ptsOrder("3", "m", "400.00", ptsAt("2026-03-08 10:00")))
	_, err = h.Void(ctx, points.ReviewRequest{RequestID: "w2", Member: "m", Operator: "risk", At: ptsAt("2026-03-09 10:00"), Program: "mall", Date: "2026-03-08"})
	must("void", err)
	end := ptsAt("2026-03-12 00:00")
	_, err = p.Advance(ctx, end)
	must("advance past A's expiry", err)

	whole := totalsWant("opening", "40", "earned", "820", "redeemed", "30", "reversed", "-40", "expired", "15", "voided", "400",
		"adjusted", "10", "exchanged", "-7", "released", "20", "frozen", "700", "restored", "300", "change", "378")
	if diff := cmp.Diff(whole, totalsOf(t, p, "m", time.Time{}, time.Time{})); diff != "" {
		t.Errorf("m's totals over the whole history (-want +got):\n%s", diff)
	}
	// The identity: Change is the balance (all of it in main), and the
	// kinds add up to it.
	b := ptsBalance(t, p, "mall", "m", end)
	if !b.Main.Equal(dec("378")) || !b.Pending.IsZero() || !b.Frozen.IsZero() {
		t.Errorf("m's balance %+v, want 378 in main, nothing pending or frozen", b)
	}
	tt, err := h.Totals(ctx, points.TotalsQuery{Program: "mall", Member: "m"})
	must("totals", err)
	sum := tt.Opening.Add(tt.Earned).Sub(tt.Redeemed).Add(tt.Reversed).Sub(tt.Expired).Sub(tt.Voided).Add(tt.Adjusted).Add(tt.Exchanged)
	if !sum.Equal(b.Total()) || !tt.Change.Equal(b.Total()) {
		t.Errorf("opening + earned − redeemed + reversed − expired − voided + adjusted + exchanged = %s, change %s; want both the balance %s", sum, tt.Change, b.Total())
	}
	if tt.Program != "mall" || tt.Member != "m" || !tt.From.IsZero() || !tt.To.IsZero() {
		t.Errorf("totals name %q %q from %v to %v, want mall, m and an open period", tt.Program, tt.Member, tt.From, tt.To)
	}

	// n: 50 earned on 03-01, expired at 03-11 00:00: change 0.
	nWant := totalsWant("earned", "50", "expired", "50")
	if diff := cmp.Diff(nWant, totalsOf(t, p, "n", time.Time{}, time.Time{})); diff != "" {
		t.Errorf("n's totals (-want +got):\n%s", diff)
	}
	// m's and n's add up to the program's: earned 820 + 50 = 870, expired
	// 15 + 50 = 65, the rest m's alone; outstanding 378 + 0.
	r, err := h.Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
	must("reconciliation", err)
	rWant := totalsWant("opening", "40", "earned", "870", "redeemed", "30", "reversed", "-40", "expired", "65", "voided", "400",
		"adjusted", "10", "exchanged", "-7", "change", "378")
	rGot := totalsText(points.Totals{Opening: r.Opening, Earned: r.Earned, Redeemed: r.Redeemed, Reversed: r.Reversed, Expired: r.Expired,
		Voided: r.Voided, Adjusted: r.Adjusted, Exchanged: r.Exchanged, Change: r.Change})
	if diff := cmp.Diff(rWant, rGot); diff != "" || r.Outstanding == nil || !r.Outstanding.Equal(dec("378")) {
		t.Errorf("reconciliation (-m's and n's totals +reconciliation):\n%s outstanding %v", diff, r.Outstanding)
	}

	// Over whole days too: 03-03 to 03-06 (inclusive) in the program's
	// zone are m's period 03-03 00:00 to 03-07 00:00 below (n has nothing
	// then): earned 300, reversed −50, adjusted 10, exchanged −7, change
	// 253 (the release and the freeze move points between m's accounts
	// and are no figure of the reconciliation).
	r, err = h.Reconciliation(ctx, points.ReconciliationQuery{Program: "mall", From: "2026-03-03", To: "2026-03-06"})
	must("reconciliation of 03-03 to 03-06", err)
	rWant = totalsWant("earned", "300", "reversed", "-50", "adjusted", "10", "exchanged", "-7", "change", "253")
	rGot = totalsText(points.Totals{Opening: r.Opening, Earned: r.Earned, Redeemed: r.Redeemed, Reversed: r.Reversed, Expired: r.Expired,
		Voided: r.Voided, Adjusted: r.Adjusted, Exchanged: r.Exchanged, Change: r.Change})
	if diff := cmp.Diff(rWant, rGot); diff != "" {
		t.Errorf("reconciliation of 03-03 to 03-06 (-m's totals +reconciliation):\n%s", diff)
	}

	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     map[string]string
	}{
		// 03-03 to 03-07: the refund's −50, the release, the
		// adjustments (+10), the exchanges (−7), order 2's 300 and its
		// freeze: change −50 + 10 − 7 + 300 = 253, the balance at 03-07
		// 00:00 (A 15 + P 20 + O 40 + 15 + 3 in main, B 300 frozen: 393)
		// less the one at 03-03 00:00 (A 80 + O 40 in main, P 20
		// pending: 140).
		{"03-03 to 03-07", ptsAt("2026-03-03"), ptsAt("2026-03-07"),
			totalsWant("earned", "300", "reversed", "-50", "adjusted", "10", "exchanged", "-7", "released", "20", "frozen", "300", "change", "253")},
		// From is in, To is out: order 2 at 03-06 10:00 and its freeze
		// are in, order 3 at 03-08 10:00 is not; the restore between.
		{"03-06 10:00 to 03-08 10:00", ptsAt("2026-03-06 10:00"), ptsAt("2026-03-08 10:00"),
			totalsWant("earned", "300", "frozen", "300", "restored", "300", "change", "300")},
		// From only: the void and A's expiry.
		{"from 03-09", ptsAt("2026-03-09"), time.Time{}, totalsWant("voided", "400", "expired", "15", "change", "-415")},
		// To only, at order 1's instant: the opening alone.
		{"to 03-01 10:00", time.Time{}, ptsAt("2026-03-01 10:00"), totalsWant("opening", "40", "change", "40")},
		// An empty period (To = From) and one after everything.
		{"empty", ptsAt("2026-03-06 10:00"), ptsAt("2026-03-06 10:00"), totalsWant()},
		{"after", ptsAt("2026-03-12"), time.Time{}, totalsWant()},
	} {
		if diff := cmp.Diff(tc.want, totalsOf(t, p, "m", tc.from, tc.to)); diff != "" {
			t.Errorf("m's totals %s (-want +got):\n%s", tc.name, diff)
		}
	}
	// The period comes back in the program's zone.
	tt, err = h.Totals(ctx, points.TotalsQuery{Program: "mall", Member: "m", From: ptsAt("2026-03-03").UTC()})
	must("totals from a UTC time", err)
	if tt.From.Location() != p.Location() || !tt.From.Equal(ptsAt("2026-03-03")) {
		t.Errorf("From came back as %v, want 2026-03-03 00:00 in %v", tt.From, p.Location())
	}
	ptsCheckBooks(t, p)
}

// TestTotalsReadEveryPage: 1,001 visits of 1 point each are 1,001 entries,
// more than the 1,000 a statement page holds; then a redemption of 7:
// earned 1,001, redeemed 7, change 994, the balance. Reading one page
// would have given 1,000 and missed the redemption.
func TestTotalsReadEveryPage(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, ptsDef(func(d *points.Definition) {
		d.Rules = []points.Rule{{ID: "visit", Program: "mall", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: dec("1")}}}
	}))
	at := ptsAt("2026-03-01 00:00")
	evs := make([]event.Event, 1001)
	for i := range evs {
		evs[i] = ptsVisit(fmt.Sprint("v", i), "m", at.Add(time.Duration(i)*time.Minute))
	}
	if _, err := p.ProcessBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	last := at.Add(1001 * time.Minute)
	if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r", Member: "m", At: last, Program: "mall", Ref: "x", Amount: dec("7")}); err != nil {
		t.Fatal(err)
	}
	want := totalsWant("earned", "1001", "redeemed", "7", "change", "994")
	if diff := cmp.Diff(want, totalsOf(t, p, "m", time.Time{}, time.Time{})); diff != "" {
		t.Errorf("totals (-want +got):\n%s", diff)
	}
	if b := ptsBalance(t, p, "mall", "m", last); !b.Total().Equal(dec("994")) {
		t.Errorf("balance %s, want 994", b.Total())
	}
}

// TestTotalsBadInput: each malformed query is refused naming its field,
// wrapping the sentinels a Statement's refusal of the same wraps (an
// unknown program, a program without points and an empty member are
// checked with the other queries': TestQueriesCheckTheProgram,
// TestNotDefined, TestQueriesNeedAMember). The good query still answers.
func TestTotalsBadInput(t *testing.T) {
	ctx := context.Background()
	h := callsSetup(t).Points()
	at := ptsAt("2026-03-05 10:00")
	for _, tc := range []struct {
		name  string
		q     points.TotalsQuery
		field string
		also  []error
	}{
		{"no member", points.TotalsQuery{Program: "mall"}, "member", nil},
		{"a member too long", points.TotalsQuery{Program: "mall", Member: string(make([]byte, event.MaxIDBytes+1))}, "member", nil},
		{"to before from", points.TotalsQuery{Program: "mall", Member: "m", From: at, To: at.Add(-time.Nanosecond)}, "to", []error{ledger.ErrInvalid}},
		{"from in 1899", points.TotalsQuery{Program: "mall", Member: "m", From: time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)}, "from", []error{event.ErrTimeRange}},
		{"to in 2100", points.TotalsQuery{Program: "mall", Member: "m", To: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}, "to", []error{event.ErrTimeRange}},
	} {
		_, err := h.Totals(ctx, tc.q)
		wantArgument(t, "Totals with "+tc.name, err, tc.field, tc.also...)
	}
	// callsSetup's m earned 90 + 100 + 80 = 270 and redeemed 50.
	tt, err := h.Totals(ctx, points.TotalsQuery{Program: "mall", Member: "m", From: at.AddDate(0, 0, -30), To: at})
	if err != nil || !tt.Change.Equal(decimal.NewFromInt(220)) {
		t.Errorf("m's totals %+v, %v; want a change of 220", tt, err)
	}
}

// TestTotalsOfAForeignKind: an entry of a points account of a kind no
// points entry has (posted here straight to the ledger, as damage or a
// later release might leave it) is reported as ledger.ErrCorrupt naming
// the kind, not left out of every figure but Change.
func TestTotalsOfAForeignKind(t *testing.T) {
	ctx := context.Background()
	st := memoryStore()
	p, err := membership.Open(st, ptsDef(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		_, err := ledger.New(tx, p.Location()).Post(ledger.Transaction{Time: ptsAt("2026-03-01 10:00"), Kind: "bonus", Legs: []ledger.Leg{
			{Account: ledger.MemberAccount("m", ledger.Points("mall"), ""), Amount: dec("5")},
			{Account: ledger.Pool(ledger.Points("mall"), "bonus"), Amount: dec("-5")},
		}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Points().Totals(ctx, points.TotalsQuery{Program: "mall", Member: "m"})
	if !errors.Is(err, ledger.ErrCorrupt) || !strings.Contains(err.Error(), `kind "bonus"`) {
		t.Errorf("totals over a bonus entry: %v, want ledger.ErrCorrupt naming the kind", err)
	}
}
