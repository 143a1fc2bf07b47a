package membership_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// auditLots returns a member's lots of program as "order:sub:amount"
// (order named through names, lot ID → order; sub "" for spendable),
// sorted.
func auditLots(t *testing.T, p *membership.Program, program, member string, names map[string]string) []string {
	t.Helper()
	lots, err := p.Points().Lots(context.Background(), points.LotsQuery{Program: program, Member: member})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lots {
		got = append(got, fmt.Sprintf("%s:%s:%s", names[l.ID], l.Sub, l.Amount))
	}
	sort.Strings(got)
	return got
}

// TestAuditChargeGivenBackToAShortOrder: a refund that charges the spent
// share of one order to another order's lot, whose own refund then finds
// it empty and is left short, ends as if the redemption's reversal had
// come first. In Shanghai, whole points, 1 a yuan:
//   - o-1 earns 100 (L1, 1 March 09:00), o-2 earns 50 (L2, 10:00);
//   - x redeems 120 on 2 March: L1's 100 (earliest granted), then 20 of
//     L2; L2 keeps 30.
//   - refund of all o-1 on 3 March: L1 holds 0, 100 spent: L2's 30 are
//     taken (charged to L2), 70 short.
//   - refund of all o-2 on 3 March: L2 holds 0, 50 spent (nothing took
//     them but o-1's charge): the balance is 0, 50 short.
//   - reversal of all x on 4 March: the lots taken last first, 20 to L2,
//     taken back for o-2's shortfall (30 left short); 100 to L1, 70
//     taken back for o-1's shortfall, 30 for its charge, given back to
//     L2; L2's 30 then settle o-2's last 30 of shortfall.
//
// Reversal first (2 March 11:00): L1 100, L2 50, refunded whole. Either
// way nothing is left, nothing short. Earned 150, redeemed 120, reversed
// net −30 (+120 − 30 charged − 20 − 70 − 30 settled; or +120 − 150).
//
// With lots valid to 24:00 of 31 March and the reversal on 2 April (not
// advanced), what it returns expires again at once, 120, and so does
// the charge given back to L2, 30: o-1's 100 and o-2's 50 lapse, nothing
// is taken back, nothing is short. Reversed +120 − 30 + 30 given back =
// 120, expired 150, balance 0.
func TestAuditChargeGivenBackToAShortOrder(t *testing.T) {
	sh := testkit.Shanghai
	for _, tc := range []struct {
		name             string
		validity         rule.Validity
		reversal         time.Time
		recon            [8]string
		lapsed1, lapsed2 string
	}{
		{"refund first", rule.Validity{}, time.Date(2026, 3, 4, 10, 0, 0, 0, sh), [8]string{"150", "120", "-30", "0", "0", "0", "0", "0"}, "0", "0"},
		{"reversal first", rule.Validity{}, time.Date(2026, 3, 2, 11, 0, 0, 0, sh), [8]string{"150", "120", "-30", "0", "0", "0", "0", "0"}, "0", "0"},
		{"refund first, reversal after the lots expired", rule.Validity{Kind: rule.MonthEnds}, time.Date(2026, 4, 2, 10, 0, 0, 0, sh), [8]string{"150", "120", "120", "150", "0", "0", "0", "0"}, "100", "50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buy := specBuy
			buy.Validity = tc.validity
			def := specPointsDef("Asia/Shanghai", &points.Definition{Programs: []points.Program{{Name: "shop"}}, Rules: []points.Rule{buy}})
			onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
				ctx := context.Background()
				p := ps[0]
				outs := testkit.MustProcess(t, p,
					specOrder("1", "m", "100", time.Date(2026, 3, 1, 9, 0, 0, 0, sh)),
					specOrder("2", "m", "50", time.Date(2026, 3, 1, 10, 0, 0, 0, sh)))
				names := map[string]string{specChange(t, outs[0], points.ChangeEarned).Lot: "o-1", specChange(t, outs[1], points.ChangeEarned).Lot: "o-2"}
				if _, err := ps[1].Points().Redeem(ctx, points.RedeemRequest{RequestID: "rd", Member: "m", Program: "shop", Ref: "x", Amount: testkit.Dec("120"), At: time.Date(2026, 3, 2, 10, 0, 0, 0, sh)}); err != nil {
					t.Fatal(err)
				}
				refunds := time.Date(2026, 3, 3, 11, 0, 0, 0, sh)
				reverse := func() {
					t.Helper()
					out, err := ps[1].Points().Reverse(ctx, points.ReverseRequest{RequestID: "rv", Operator: "olga", Program: "shop", Ref: "x", At: tc.reversal})
					if err != nil {
						t.Fatal(err)
					}
					// One change per order settled, in all its rounds:
					// Amount what was given back less what was taken.
					got := map[string]string{}
					for _, c := range out.ChangesOf(points.ChangeReversed) {
						var pc points.Change
						if err := c.Decode(&pc); err != nil {
							t.Fatal(err)
						}
						got[pc.Ref] += fmt.Sprintf("%s settled %s lapsed %s given back %v;", pc.Amount, pc.Settled, pc.Lapsed, len(pc.GivenBack))
					}
					want := map[string]string{"x": "120 settled 0 lapsed 0 given back 0;"}
					switch {
					case tc.reversal.Before(refunds):
					case tc.validity.Kind != rule.MonthEnds:
						want["o-1"] = "-70 settled 70 lapsed 0 given back 1;" // 30 given back − 100 taken
						want["o-2"] = "-50 settled 50 lapsed 0 given back 0;" // 20 in the first round, 30 in the second
					default:
						want["o-1"] = "30 settled 70 lapsed 100 given back 1;" // 30 given back, 0 taken
						want["o-2"] = "0 settled 50 lapsed 50 given back 0;"
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("reversal's changes %v, want %v", got, want)
					}
				}
				if tc.reversal.Before(refunds) {
					reverse()
				}
				testkit.MustProcess(t, p, specRefund("r1", "m", "o-1", "100", refunds), specRefund("r2", "m", "o-2", "50", refunds))
				if !tc.reversal.Before(refunds) {
					specBalance(t, p, "shop", "m", refunds, "0", "0", "0")
					for id, want := range map[string]string{"o-1": "70", "o-2": "50"} {
						if o, _, err := p.Points().Order(ctx, id); err != nil || !o.Shortfall.Equal(testkit.Dec(want)) {
							t.Errorf("order %s after its refund: %+v, %v; want %s short", id, o, err, want)
						}
					}
					reverse()
				}
				specBalance(t, p, "shop", "m", tc.reversal.Add(time.Hour), "0", "0", "0")
				if got := auditLots(t, p, "shop", "m", names); len(got) != 0 {
					t.Errorf("lots left %v, want none", got)
				}
				for id, lapsed := range map[string]string{"o-1": tc.lapsed1, "o-2": tc.lapsed2} {
					o, found, err := p.Points().Order(ctx, id)
					if err != nil || !found || !o.Shortfall.IsZero() || !o.Lapsed.Equal(testkit.Dec(lapsed)) {
						t.Errorf("order %s: %+v, %v, %v; want no shortfall, %s lapsed", id, o, found, err, lapsed)
					}
				}
				if _, err := p.Advance(ctx, tc.reversal.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				specReconciled(t, p, "shop", "", "", tc.recon)
				if err := p.Verify(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestAuditRefundOfPendingReleasedAndSpentPoints: one order earns two
// grants, one spendable and one pending; refunds in two parts, the first
// while a grant is pending, the second after its release and after the
// other grant was partly spent, reverse each grant in proportion, take
// what was spent from the member's other points down to zero and record
// the rest as shortfall; a reversal of the redemption afterwards ends as
// if it had come first, down to the lots. In Shanghai, whole points:
//   - a visit on 1 March 09:00 earns V 30 (permanent);
//   - o-1 of 100 at 10:00 earns A 100 by "buy" (1 a yuan, permanent)
//     and P 50 by "bonus" (0.5 a yuan, pending 7 days, to 8 March
//     10:00, valid to 24:00 of 31 March);
//   - x redeems 110 on 2 March: V 30 and A 80 (both permanent: earliest
//     granted first); A keeps 20.
//   - refund r1 of 40 on 3 March: buy 100×40/100 = 40: A's 20, then 20
//     spent, of which no other spendable point is left: 20 short; bonus
//     50×40/100 = 20 from P, pending: 30 pending left.
//   - Advance to 8 March 10:00 releases P's 30.
//   - refund r2 of the other 60 on 9 March: buy 100 − 40 = 60, all
//     spent (A empty): P's 30 are taken (charged to P), 30 short; bonus
//     50 − 20 = 30, P now empty and nothing else spendable: 30 short
//     (taken 0). Balance 0, o-1 short 20 + 30 + 30 = 80.
//   - reversal of x on 10 March: 80 to A, then 30 to V (taken last
//     first). A's 80 settle buy's 50 short and its 30 charge, given back
//     to P; P's 30 settle bonus's 30 short; V keeps its 30.
//
// Reversal first (2 March 11:00): V 30, A 100; r1 takes 40 of A and 20 of
// P; r2 takes A's 60 and P's 30 (released): V 30 left. Either way V 30
// and nothing else, Advance to April expires nothing, and the books are
// earned 180, redeemed 110, reversed −40 (+110 − 60 − 90; refund first
// −40 − 30 + 110 − 80), balance 30.
func TestAuditRefundOfPendingReleasedAndSpentPoints(t *testing.T) {
	sh := testkit.Shanghai
	bonus := specBuy
	bonus.ID, bonus.PendingDays, bonus.Validity = "bonus", 7, rule.Validity{Kind: rule.MonthEnds}
	bonus.Formula.Rate = testkit.Dec("0.5")
	def := specPointsDef("Asia/Shanghai", &points.Definition{Programs: []points.Program{{Name: "shop"}}, Rules: []points.Rule{
		specBuy, bonus, {ID: "visit", Program: "shop", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: testkit.Dec("30")}}}})
	for _, reversalFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("reversal first ", reversalFirst), func(t *testing.T) {
			onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
				ctx := context.Background()
				p := ps[0]
				outs := testkit.MustProcess(t, p,
					event.Event{ID: "v", Member: "m", Type: "visit", Time: time.Date(2026, 3, 1, 9, 0, 0, 0, sh)},
					specOrder("1", "m", "100", time.Date(2026, 3, 1, 10, 0, 0, 0, sh)))
				names := map[string]string{
					specChange(t, outs[0], points.ChangeEarned).Lot:  "V",
					specChange(t, outs[1], points.ChangeEarned).Lot:  "A",
					specChange(t, outs[1], points.ChangePending).Lot: "P",
				}
				if _, err := ps[1].Points().Redeem(ctx, points.RedeemRequest{RequestID: "rd", Member: "m", Program: "shop", Ref: "x", Amount: testkit.Dec("110"), At: time.Date(2026, 3, 2, 10, 0, 0, 0, sh)}); err != nil {
					t.Fatal(err)
				}
				specBalance(t, p, "shop", "m", time.Date(2026, 3, 2, 10, 0, 0, 0, sh), "20", "50", "0")
				reverse := func(at time.Time) {
					t.Helper()
					if _, err := ps[1].Points().Reverse(ctx, points.ReverseRequest{RequestID: "rv", Operator: "olga", Program: "shop", Ref: "x", At: at}); err != nil {
						t.Fatal(err)
					}
				}
				if reversalFirst {
					reverse(time.Date(2026, 3, 2, 11, 0, 0, 0, sh))
				}
				// reversed checks a refund's points.reversed changes, by
				// rule: amount taken (negative) and shortfall.
				reversed := func(ev event.Event, want map[string][2]string) {
					t.Helper()
					out := testkit.MustProcess(t, p, ev)[0]
					got := map[string][2]string{}
					for _, c := range out.ChangesOf(points.ChangeReversed) {
						var pc points.Change
						if err := c.Decode(&pc); err != nil {
							t.Fatal(err)
						}
						got[c.Reason.Rule] = [2]string{pc.Amount.String(), pc.Shortfall.String()}
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s reversed %v, want %v", ev.ID, got, want)
					}
				}
				r1 := map[string][2]string{"buy": {"-20", "20"}, "bonus": {"-20", "0"}}
				r2 := map[string][2]string{"buy": {"-30", "30"}, "bonus": {"0", "30"}}
				if reversalFirst {
					r1 = map[string][2]string{"buy": {"-40", "0"}, "bonus": {"-20", "0"}}
					r2 = map[string][2]string{"buy": {"-60", "0"}, "bonus": {"-30", "0"}}
				}
				reversed(specRefund("r1", "m", "o-1", "40", time.Date(2026, 3, 3, 10, 0, 0, 0, sh)), r1)
				if reversalFirst {
					specBalance(t, p, "shop", "m", time.Date(2026, 3, 3, 10, 0, 0, 0, sh), "90", "30", "0")
				} else {
					specBalance(t, p, "shop", "m", time.Date(2026, 3, 3, 10, 0, 0, 0, sh), "0", "30", "0")
				}
				if _, err := p.Advance(ctx, time.Date(2026, 3, 8, 10, 0, 0, 0, sh)); err != nil {
					t.Fatal(err)
				}
				reversed(specRefund("r2", "m", "o-1", "60", time.Date(2026, 3, 9, 10, 0, 0, 0, sh)), r2)
				if !reversalFirst {
					specBalance(t, p, "shop", "m", time.Date(2026, 3, 9, 10, 0, 0, 0, sh), "0", "0", "0")
					if o, _, err := p.Points().Order(ctx, "o-1"); err != nil || !o.Shortfall.Equal(testkit.Dec("80")) {
						t.Errorf("o-1 after r2: %+v, %v; want 80 short", o, err)
					}
					reverse(time.Date(2026, 3, 10, 10, 0, 0, 0, sh))
				}
				at := time.Date(2026, 3, 10, 12, 0, 0, 0, sh)
				specBalance(t, p, "shop", "m", at, "30", "0", "0")
				if got := auditLots(t, p, "shop", "m", names); fmt.Sprint(got) != "[V::30]" {
					t.Errorf("lots %v, want V's 30 alone", got)
				}
				if o, _, err := p.Points().Order(ctx, "o-1"); err != nil || !o.Shortfall.IsZero() || !o.Lapsed.IsZero() || !o.Refunded.Equal(testkit.Dec("100")) {
					t.Errorf("o-1: %+v, %v; want refunded whole, nothing short or lapsed", o, err)
				}
				end := time.Date(2026, 4, 2, 0, 0, 0, 0, sh)
				if _, err := p.Advance(ctx, end); err != nil {
					t.Fatal(err)
				}
				specBalance(t, p, "shop", "m", end, "30", "0", "0")
				specReconciled(t, p, "shop", "", "", [8]string{"180", "110", "-40", "0", "0", "0", "0", "30"})
				if err := p.Verify(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
