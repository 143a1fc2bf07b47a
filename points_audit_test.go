package membership_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
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
				auditRedeem(t, ps[1], "120", time.Date(2026, 3, 2, 10, 0, 0, 0, sh))
				refunds := time.Date(2026, 3, 3, 11, 0, 0, 0, sh)
				reverse := func() {
					t.Helper()
					out := auditReverse(t, ps[1], "", tc.reversal)
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
		specBuy, bonus, auditVisit("30")}})
	eachReversalOrder(t, def, func(t *testing.T, ps [2]*membership.Program, reversalFirst bool) {
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
		auditRedeem(t, ps[1], "110", time.Date(2026, 3, 2, 10, 0, 0, 0, sh))
		specBalance(t, p, "shop", "m", time.Date(2026, 3, 2, 10, 0, 0, 0, sh), "20", "50", "0")
		if reversalFirst {
			auditReverse(t, ps[1], "", time.Date(2026, 3, 2, 11, 0, 0, 0, sh))
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
			auditReverse(t, ps[1], "", time.Date(2026, 3, 10, 10, 0, 0, 0, sh))
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
}

// TestAuditCapRoomBackToTheGrantsWeek: a refund gives its reversed share
// back to the caps of the periods of the grant it reverses, not of the
// refund's. In Shanghai, "buy" (1 a yuan) capped at 100 a week (from
// Monday) and 150 in total:
//   - Sunday 8 March, o-1 of 120: 100 (week of 2 March full; total 100);
//   - Monday 9 March, o-2 of 80: 50 (the new week has 100, the total 50
//     left; week of 9 March 50, total 150);
//   - the refund of all o-1 on Monday reverses its 100, back to the week
//     of 2 March (0) and the total (50), not to the week of 9 March;
//   - o-3 of 80 on Monday: 50 (the week's 50 left, the total 100 left:
//     cut by the week, used 50); had the refund freed the week of 9
//     March, 80;
//   - a refund of 40 of o-2's 80 reverses 50 × 40 / 80 = 25, back to the
//     week of 9 March (75) and the total (75);
//   - o-4 of 30: 25 (cut by the week, used 75).
//
// Balance 0 + 25 + 50 + 25 = 100; earned 100 + 50 + 50 + 25 = 225,
// reversed −125.
func TestAuditCapRoomBackToTheGrantsWeek(t *testing.T) {
	sh := testkit.Shanghai
	buy := specBuy
	buy.Caps = rule.Caps{{Period: rule.Week, Limit: testkit.Dec("100")}, {Period: rule.Total, Limit: testkit.Dec("150")}}
	def := specPointsDef("Asia/Shanghai", &points.Definition{Programs: []points.Program{{Name: "shop"}}, Rules: []points.Rule{buy}})
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		p := ps[0]
		// earned processes ev and checks its grant and the cap that cut
		// it (period and used before, "" for none).
		earned := func(ev event.Event, granted string, period rule.Period, used string) {
			t.Helper()
			out := testkit.MustProcess(t, p, ev)[0]
			cs := out.ChangesOf(points.ChangeEarned)
			if len(cs) != 1 {
				t.Fatalf("%s: %d earned changes", ev.ID, len(cs))
			}
			var pc points.Change
			if err := cs[0].Decode(&pc); err != nil {
				t.Fatal(err)
			}
			cut := cs[0].Reason.Cut
			switch {
			case !pc.Amount.Equal(testkit.Dec(granted)):
				t.Errorf("%s earned %s, want %s", ev.ID, pc.Amount, granted)
			case period == "" && cut != nil:
				t.Errorf("%s cut %+v, want none", ev.ID, cut)
			case period != "" && (cut == nil || cut.Period != period || !cut.Used.Equal(testkit.Dec(used))):
				t.Errorf("%s cut %+v, want by the %s cap, used %s", ev.ID, cut, period, used)
			}
		}
		earned(specOrder("1", "m", "120", time.Date(2026, 3, 8, 10, 0, 0, 0, sh)), "100", rule.Week, "0")
		earned(specOrder("2", "m", "80", time.Date(2026, 3, 9, 10, 0, 0, 0, sh)), "50", rule.Total, "100")
		testkit.MustProcess(t, p, specRefund("r1", "m", "o-1", "120", time.Date(2026, 3, 9, 11, 0, 0, 0, sh)))
		earned(specOrder("3", "m", "80", time.Date(2026, 3, 9, 12, 0, 0, 0, sh)), "50", rule.Week, "50")
		testkit.MustProcess(t, p, specRefund("r2", "m", "o-2", "40", time.Date(2026, 3, 9, 13, 0, 0, 0, sh)))
		earned(specOrder("4", "m", "30", time.Date(2026, 3, 9, 14, 0, 0, 0, sh)), "25", rule.Week, "75")
		specBalance(t, ps[1], "shop", "m", time.Date(2026, 3, 9, 15, 0, 0, 0, sh), "100", "0", "0")
		specReconciled(t, p, "shop", "", "", [8]string{"225", "0", "-125", "0", "0", "0", "0", "100"})
	})
}

// TestAuditFreezeAtTheDayEdge: under Freeze, the day that freezes is the
// zone's calendar day, and its review decides its lots alone, keeping
// their expiries. In Shanghai, a threshold of 100, "buy" valid to the end
// of the month after the grant's:
//   - o-1 of 60 at 23:00 on 31 March (L1, to 24:00 of 30 April), o-2 of
//     50 at 23:59:59 (L2, the same): 110 reach the threshold, the 31st
//     freezes with 110;
//   - o-3 of 70 at 24:00 (1 April 00:00) is the 1st's: 70 available (L3,
//     to 24:00 of 31 May);
//   - a refund of 25 of o-2's 50 at 10:00 on 1 April takes 25 of L2
//     where it is, frozen: 85 frozen.
//   - restore on 2 April: L1 60 and L2 25 spendable with their expiries,
//     155 available; the rest of o-2 refunded takes L2's 25: 130. Earned
//     180, reversed −50.
//   - void on 2 April: 85 voided, 70 available; the rest of o-2 refunded
//     takes nothing (25 lapsed, no shortfall). Earned 180, reversed −25,
//     voided 85: 70.
func TestAuditFreezeAtTheDayEdge(t *testing.T) {
	sh := testkit.Shanghai
	buy := specBuy
	buy.Validity = rule.Validity{Kind: rule.MonthEnds, N: 1}
	def := specPointsDef("Asia/Shanghai", &points.Definition{
		Programs: []points.Program{{Name: "shop", Risk: &points.Risk{Daily: testkit.Dec("100"), Policy: points.Freeze}}},
		Rules:    []points.Rule{buy},
	})
	for _, decision := range []string{"restore", "void"} {
		t.Run(decision, func(t *testing.T) {
			onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
				ctx := context.Background()
				p := ps[0]
				outs := testkit.MustProcess(t, p,
					specOrder("1", "m", "60", time.Date(2026, 3, 31, 23, 0, 0, 0, sh)),
					specOrder("2", "m", "50", time.Date(2026, 3, 31, 23, 59, 59, 0, sh)),
					specOrder("3", "m", "70", time.Date(2026, 3, 31, 24, 0, 0, 0, sh)))
				names := map[string]string{}
				for i, out := range outs {
					names[specChange(t, out, points.ChangeEarned).Lot] = fmt.Sprint("L", i+1)
				}
				if n := len(outs[2].ChangesOf(points.ChangeFrozen)); n != 0 {
					t.Errorf("the 1st's first order froze: %+v", outs[2].Changes)
				}
				for date, want := range map[string]string{"2026-03-31": "110 true", "2026-04-01": "70 false"} {
					d, err := p.Points().Day(ctx, points.DayQuery{Program: "shop", Member: "m", Date: date})
					if err != nil {
						t.Fatal(err)
					}
					if got := fmt.Sprint(d.Earned, " ", d.Frozen); got != want {
						t.Errorf("day %s: %s, want %s", date, got, want)
					}
				}
				testkit.MustProcess(t, p, specRefund("r1", "m", "o-2", "25", time.Date(2026, 4, 1, 10, 0, 0, 0, sh)))
				specBalance(t, p, "shop", "m", time.Date(2026, 4, 1, 11, 0, 0, 0, sh), "70", "0", "85")
				req := points.ReviewRequest{RequestID: "rev", Program: "shop", Member: "m", Date: "2026-03-31", Operator: "alice", At: time.Date(2026, 4, 2, 10, 0, 0, 0, sh)}
				decide, kind := ps[1].Points().Restore, points.ChangeRestored
				if decision == "void" {
					decide, kind = ps[1].Points().Void, points.ChangeVoided
				}
				out, err := decide(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if c := specChange(t, out, kind); !c.Amount.Equal(testkit.Dec("85")) || c.Operator != "alice" {
					t.Errorf("%s %+v, want 85 by alice", kind, c)
				}
				lots, err := p.Points().Lots(ctx, points.LotsQuery{Program: "shop", Member: "m"})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, l := range lots {
					got = append(got, fmt.Sprintf("%s:%s:%s:%s", names[l.ID], l.Sub, l.Amount, l.Expires.Format(time.DateTime)))
				}
				sort.Strings(got)
				want := []string{"L3::70:2026-06-01 00:00:00"}
				if decision == "restore" {
					want = []string{"L1::60:2026-05-01 00:00:00", "L2::25:2026-05-01 00:00:00", "L3::70:2026-06-01 00:00:00"}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("lots %v, want %v", got, want)
				}
				out = testkit.MustProcess(t, p, specRefund("r2", "m", "o-2", "25", time.Date(2026, 4, 2, 11, 0, 0, 0, sh)))[0]
				c := specChange(t, out, points.ChangeReversed)
				at := time.Date(2026, 4, 2, 12, 0, 0, 0, sh)
				if decision == "restore" {
					if !c.Amount.Equal(testkit.Dec("-25")) || !c.Lapsed.IsZero() || !c.Shortfall.IsZero() {
						t.Errorf("the rest refunded after the restore: %+v, want 25 taken", c)
					}
					specBalance(t, p, "shop", "m", at, "130", "0", "0")
					specReconciled(t, p, "shop", "", "", [8]string{"180", "0", "-50", "0", "0", "0", "0", "130"})
				} else {
					if !c.Amount.IsZero() || !c.Lapsed.Equal(testkit.Dec("25")) || !c.Shortfall.IsZero() {
						t.Errorf("the rest refunded after the void: %+v, want 25 lapsed", c)
					}
					specBalance(t, p, "shop", "m", at, "70", "0", "0")
					specReconciled(t, p, "shop", "", "", [8]string{"180", "0", "-25", "0", "85", "0", "0", "70"})
				}
			})
		})
	}
}

// TestAuditReversalIntoAnExpiredLotBeforeAdvance: points a reversal
// returns to a lot past its expiry that Advance has not expired yet
// expire again at once, as their own entry, and Advance then expires the
// lot's remainder alone, not them twice. In Shanghai: a visit gives B 50
// (permanent) at 08:00 on 1 March, o-1 of 30 A 30 to 24:00 of 31 March;
// x redeems 20 on 10 March (A first, expiring first): A keeps 10. On 2
// April, not advanced, 50 are available (A's 10 past expiry); the
// reversal returns 20 to A, which expire at once (20); Advance then
// expires A's 10. Earned 80, redeemed 20, reversed 20, expired 30: 50.
func TestAuditReversalIntoAnExpiredLotBeforeAdvance(t *testing.T) {
	sh := testkit.Shanghai
	buy := specBuy
	buy.Validity = rule.Validity{Kind: rule.MonthEnds}
	def := specPointsDef("Asia/Shanghai", &points.Definition{Programs: []points.Program{{Name: "shop"}}, Rules: []points.Rule{buy,
		auditVisit("50")}})
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		testkit.MustProcess(t, p,
			event.Event{ID: "v", Member: "m", Type: "visit", Time: time.Date(2026, 3, 1, 8, 0, 0, 0, sh)},
			specOrder("1", "m", "30", time.Date(2026, 3, 1, 9, 0, 0, 0, sh)))
		auditRedeem(t, p, "20", time.Date(2026, 3, 10, 0, 0, 0, 0, sh))
		at := time.Date(2026, 4, 2, 10, 0, 0, 0, sh)
		specBalance(t, p, "shop", "m", at, "50", "0", "0")
		out := auditReverse(t, ps[1], "", at)
		if c := specChange(t, out, points.ChangeExpired); !c.Amount.Equal(testkit.Dec("20")) {
			t.Errorf("expired again %+v, want 20", c)
		}
		specBalance(t, p, "shop", "m", at, "50", "0", "0")
		if _, err := p.Advance(ctx, at); err != nil {
			t.Fatal(err)
		}
		specBalance(t, p, "shop", "m", at, "50", "0", "0")
		specReconciled(t, p, "shop", "", "", [8]string{"80", "20", "20", "30", "0", "0", "0", "50"})
		tot, err := p.Points().Totals(ctx, points.TotalsQuery{Program: "shop", Member: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if !tot.Expired.Equal(testkit.Dec("30")) || !tot.Change.Equal(testkit.Dec("50")) {
			t.Errorf("member totals %+v, want 30 expired, change 50", tot)
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAuditChargeGivenBackIntoAFrozenShortLot: a charge given back to a
// short order's lot whose day froze since goes to the frozen account,
// into the review, and settles that order from there. In Shanghai, a
// threshold of 100 under Freeze, whole permanent points:
//   - o-1 of 60 on 1 March (L1), o-2 of 50 on 2 March (L2);
//   - x redeems 80 on 3 March: L1's 60, then 20 of L2 (30 left);
//   - o-1 refunded whole: L1 empty, L2's 30 charged, 30 short; o-2
//     refunded whole: L2 empty, 50 short; balance 0;
//   - o-3 of 60 dated 2 March 20:00 comes late: the 2nd reaches 110 and
//     freezes L2 (empty) and L3 (60): 60 frozen;
//   - the reversal of x on 4 March: 20 to L2, frozen (its day awaits
//     review), taken back for o-2 (30 left short); 60 to L1, 30 for
//     o-1's shortfall, 30 for its charge, given back to L2, frozen,
//     which settle o-2's last 30 there.
//
// Reversal first: L1 60, L2 50 refunded whole; o-3 freezes L3's 60.
// Either way 60 frozen, nothing short, and the restore gives 60. Earned
// 170, redeemed 80, reversed −30 (+80 − 110 or +80 − 30 − 20 − 30 − 30).
func TestAuditChargeGivenBackIntoAFrozenShortLot(t *testing.T) {
	sh := testkit.Shanghai
	def := specPointsDef("Asia/Shanghai", &points.Definition{
		Programs: []points.Program{{Name: "shop", Risk: &points.Risk{Daily: testkit.Dec("100"), Policy: points.Freeze}}},
		Rules:    []points.Rule{specBuy},
	})
	eachReversalOrder(t, def, func(t *testing.T, ps [2]*membership.Program, reversalFirst bool) {
		ctx := context.Background()
		p := ps[0]
		testkit.MustProcess(t, p,
			specOrder("1", "m", "60", time.Date(2026, 3, 1, 9, 0, 0, 0, sh)),
			specOrder("2", "m", "50", time.Date(2026, 3, 2, 9, 0, 0, 0, sh)))
		auditRedeem(t, ps[1], "80", time.Date(2026, 3, 3, 9, 0, 0, 0, sh))
		if reversalFirst {
			auditReverse(t, ps[1], "", time.Date(2026, 3, 3, 10, 0, 0, 0, sh))
		}
		testkit.MustProcess(t, p,
			specRefund("r1", "m", "o-1", "60", time.Date(2026, 3, 3, 11, 0, 0, 0, sh)),
			specRefund("r2", "m", "o-2", "50", time.Date(2026, 3, 3, 11, 0, 0, 0, sh)),
			specOrder("3", "m", "60", time.Date(2026, 3, 2, 20, 0, 0, 0, sh)))
		if !reversalFirst {
			specBalance(t, p, "shop", "m", time.Date(2026, 3, 3, 12, 0, 0, 0, sh), "0", "0", "60")
			auditReverse(t, ps[1], "", time.Date(2026, 3, 4, 10, 0, 0, 0, sh))
		}
		at := time.Date(2026, 3, 4, 12, 0, 0, 0, sh)
		specBalance(t, p, "shop", "m", at, "0", "0", "60")
		for _, id := range []string{"o-1", "o-2"} {
			if o, _, err := p.Points().Order(ctx, id); err != nil || !o.Shortfall.IsZero() || !o.Lapsed.IsZero() {
				t.Errorf("order %s: %+v, %v; want nothing short or lapsed", id, o, err)
			}
		}
		out, err := p.Points().Restore(ctx, points.ReviewRequest{RequestID: "rev", Program: "shop", Member: "m", Date: "2026-03-02", Operator: "alice", At: at})
		if err != nil {
			t.Fatal(err)
		}
		if c := specChange(t, out, points.ChangeRestored); !c.Amount.Equal(testkit.Dec("60")) {
			t.Errorf("restored %+v, want 60", c)
		}
		specBalance(t, p, "shop", "m", at, "60", "0", "0")
		specReconciled(t, p, "shop", "", "", [8]string{"170", "80", "-30", "0", "0", "0", "0", "60"})
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAuditChargeGivenBackSettlesAnotherShortOrder: a charge a reversal
// gives back is the member's spendable points again, and settles the
// member's other short orders as the reversal's own spendable returns do
// (a refund takes a spent share from the member's other spendable points
// down to zero). In Shanghai, whole points:
//   - o-1 of 100 at 09:00 on 1 March (L1, permanent), o-4 of 50 at 10:00
//     (L4, to 24:00 of 31 March, by the rule "short"), a visit at 11:00
//     (V 30, permanent);
//   - x redeems 150 on 2 March: L4 first (expiring first), then L1 (the
//     earlier granted of the permanent ones): V 30 left;
//   - o-1 refunded whole: L1 empty, V's 30 charged, 70 short; o-4
//     refunded whole: L4 empty, nothing spendable: 50 short;
//   - 100 of x reversed on 4 March, all to L1 (taken last): 70 settle
//     o-1's shortfall, 30 its charge, given back to V; V's 30 then settle
//     30 of o-4's 50.
//
// Reversal of 100 first: L1 100, V 30; o-1's refund takes L1's 100, o-4's
// finds L4 empty, charges V's 30 and is 20 short. Either way the balance
// is 0 and o-4 20 short. Earned 180, redeemed 150, reversed −30 (+100 −
// 100 − 30; or −30 + 100 − 70 − 30).
func TestAuditChargeGivenBackSettlesAnotherShortOrder(t *testing.T) {
	sh := testkit.Shanghai
	long, short := auditLongAndShort()
	def := specPointsDef("Asia/Shanghai", &points.Definition{Programs: []points.Program{{Name: "shop"}}, Rules: []points.Rule{long, short,
		auditVisit("30")}})
	eachReversalOrder(t, def, func(t *testing.T, ps [2]*membership.Program, reversalFirst bool) {
		ctx := context.Background()
		p := ps[0]
		testkit.MustProcess(t, p,
			specOrder("1", "m", "100", time.Date(2026, 3, 1, 9, 0, 0, 0, sh)),
			specOrder("4", "m", "50", time.Date(2026, 3, 1, 10, 0, 0, 0, sh)),
			event.Event{ID: "v", Member: "m", Type: "visit", Time: time.Date(2026, 3, 1, 11, 0, 0, 0, sh)})
		auditRedeem(t, ps[1], "150", time.Date(2026, 3, 2, 10, 0, 0, 0, sh))
		if reversalFirst {
			auditReverse(t, ps[1], "100", time.Date(2026, 3, 2, 11, 0, 0, 0, sh))
		}
		testkit.MustProcess(t, p,
			specRefund("r1", "m", "o-1", "100", time.Date(2026, 3, 3, 10, 0, 0, 0, sh)),
			specRefund("r4", "m", "o-4", "50", time.Date(2026, 3, 3, 10, 0, 0, 0, sh)))
		if !reversalFirst {
			auditReverse(t, ps[1], "100", time.Date(2026, 3, 4, 10, 0, 0, 0, sh))
		}
		at := time.Date(2026, 3, 4, 12, 0, 0, 0, sh)
		specBalance(t, p, "shop", "m", at, "0", "0", "0")
		for id, want := range map[string]string{"o-1": "0", "o-4": "20"} {
			if o, _, err := p.Points().Order(ctx, id); err != nil || !o.Shortfall.Equal(testkit.Dec(want)) || !o.Lapsed.IsZero() {
				t.Errorf("order %s: %+v, %v; want %s short, nothing lapsed", id, o, err, want)
			}
		}
		specReconciled(t, p, "shop", "", "", [8]string{"180", "150", "-30", "0", "0", "0", "0", "0"})
		if err := p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAuditRefundsAndAFullReversalCommute: refunds of orders whose points
// were redeemed, and the redemption's full reversal, end the same in
// either order: the balance, what the orders are short and every lot's
// remainder (package points, Refunds: "whatever else the member holds
// ends as it would have"). Each seed earns 2 to 4 orders of 10 to 109
// points (1 a yuan; under 60 valid to the end of March, else permanent)
// and a visit's 30 at a random hour, redeems a random part of it all,
// then refunds each order whole, in two parts adding up to the whole,
// in one part, or not at all, in a random order, before or after the
// reversal of all the redemption (all before any lot expires). The
// ledger verifies and the reconciliation holds either way. Before a
// charge given back settled its lot's own short order (the settling
// rounds), 87 of the 300 memory seeds ended differently: a lot's
// remainder, or the balance and a shortfall.
//
// The same under Freeze (a threshold of 1,000): a late order of 1,000
// dated 1 March, processed after the redemption, freezes the day's lots
// (the visit is then the day before, spendable); the review is left
// pending, or restored or voided after the refunds and the reversal.
func TestAuditRefundsAndAFullReversalCommute(t *testing.T) {
	sh := testkit.Shanghai
	long, short := auditLongAndShort()
	for _, review := range []string{"", "pending", "restored", "voided"} {
		prog := points.Program{Name: "shop"}
		if review != "" {
			prog.Risk = &points.Risk{Daily: testkit.Dec("1000"), Policy: points.Freeze}
		}
		def := specPointsDef("Asia/Shanghai", &points.Definition{Programs: []points.Program{prog}, Rules: []points.Rule{long, short,
			auditVisit("30")}})
		for name, newStore := range testkit.Stores(t) {
			t.Run(fmt.Sprintf("%s, day frozen %q", name, review), func(t *testing.T) {
				seeds := uint64(300)
				if review != "" {
					seeds = 100
				}
				if name != "memory" {
					seeds /= 15
				}
				for seed := range seeds {
					r := rand.New(rand.NewPCG(seed, 1))
					var evs, refunds []event.Event
					total := 30
					for i := range 2 + r.IntN(3) {
						amount := 10 + r.IntN(100)
						total += amount
						evs = append(evs, specOrder(fmt.Sprint(i), "m", fmt.Sprint(amount), time.Date(2026, 3, 1, 9+i, 0, 0, 0, sh)))
						refund := func(part int) {
							refunds = append(refunds, specRefund(fmt.Sprint("r", len(refunds)), "m", fmt.Sprint("o-", i), fmt.Sprint(part), time.Date(2026, 3, 3, 10, 0, 0, 0, sh)))
						}
						switch part := 1 + r.IntN(amount); r.IntN(4) {
						case 0:
							refund(amount)
						case 1:
							refund(part)
						case 2:
							if part < amount {
								refund(amount - part)
							}
							refund(part)
						}
					}
					visit := time.Date(2026, 3, 1, 8+r.IntN(6), 30, 0, 0, sh)
					if review != "" {
						visit = visit.AddDate(0, 0, -1) // spendable, not frozen
					}
					evs = append(evs, event.Event{ID: "v", Member: "m", Type: "visit", Time: visit})
					r.Shuffle(len(refunds), func(a, b int) { refunds[a], refunds[b] = refunds[b], refunds[a] })
					redeem := fmt.Sprint(1 + r.IntN(total))
					end := func(reversalFirst bool) string {
						p, err := membership.Open(newStore(), def)
						if err != nil {
							t.Fatal(err)
						}
						ctx := context.Background()
						testkit.MustProcess(t, p, evs...)
						auditRedeem(t, p, redeem, time.Date(2026, 3, 2, 10, 0, 0, 0, sh))
						if review != "" {
							// A late order of 1 March reaches the threshold:
							// the day's lots, spent or not, freeze.
							testkit.MustProcess(t, p, specOrder("late", "m", "1000", time.Date(2026, 3, 1, 23, 0, 0, 0, sh)))
						}
						if reversalFirst {
							auditReverse(t, p, "", time.Date(2026, 3, 2, 11, 0, 0, 0, sh))
						}
						testkit.MustProcess(t, p, refunds...)
						if !reversalFirst {
							auditReverse(t, p, "", time.Date(2026, 3, 4, 10, 0, 0, 0, sh))
						}
						req := points.ReviewRequest{RequestID: "rev", Program: "shop", Member: "m", Date: "2026-03-01", Operator: "bob", At: time.Date(2026, 3, 4, 11, 0, 0, 0, sh)}
						switch review {
						case "restored":
							_, err = p.Points().Restore(ctx, req)
						case "voided":
							_, err = p.Points().Void(ctx, req)
						}
						if err != nil {
							t.Fatal(err)
						}
						b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "shop", Member: "m", At: time.Date(2026, 3, 5, 0, 0, 0, 0, sh)})
						if err != nil {
							t.Fatal(err)
						}
						got := fmt.Sprintf("balance %s", b.Total())
						for i := range len(evs) - 1 { // the orders, not the visit
							o, _, err := p.Points().Order(ctx, fmt.Sprint("o-", i))
							if err != nil {
								t.Fatal(err)
							}
							got += fmt.Sprintf(", o-%d short %s", i, o.Shortfall)
						}
						lots, err := p.Points().Lots(ctx, points.LotsQuery{Program: "shop", Member: "m"})
						if err != nil {
							t.Fatal(err)
						}
						for _, l := range lots {
							got += fmt.Sprintf(", lot %s %s %s", l.ID, l.Sub, l.Amount)
						}
						ptsAuditBooks(t, p)
						return got
					}
					if a, b := end(false), end(true); a != b {
						t.Errorf("seed %d, orders %d, redeemed %s, refunds %d:\n refund first:   %s\n reversal first: %s", seed, len(evs)-1, redeem, len(refunds), a, b)
					}
				}
			})
		}
	}
}

// ptsAuditBooks fails t unless the ledger verifies and the shop's
// reconciliation holds.
func ptsAuditBooks(t *testing.T, p *membership.Program) {
	t.Helper()
	ctx := context.Background()
	if err := p.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Holds() {
		t.Fatalf("reconciliation does not hold: %+v", r)
	}
}

// auditRedeem redeems amount of m's shop points at at for the ref x
// (request rd), failing t on error.
func auditRedeem(t *testing.T, p *membership.Program, amount string, at time.Time) {
	t.Helper()
	if _, err := p.Points().Redeem(context.Background(), points.RedeemRequest{RequestID: "rd", Member: "m", Program: "shop", Ref: "x", Amount: testkit.Dec(amount), At: at}); err != nil {
		t.Fatal(err)
	}
}

// auditReverse reverses amount ("" for all that is left) of the
// redemption x at at, by olga (request rv), failing t on error.
func auditReverse(t *testing.T, p *membership.Program, amount string, at time.Time) *change.Outcome {
	t.Helper()
	req := points.ReverseRequest{RequestID: "rv", Operator: "olga", Program: "shop", Ref: "x", At: at}
	if amount != "" {
		req.Amount = testkit.Dec(amount)
	}
	out, err := p.Points().Reverse(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// auditVisit is the rule giving fixed points of shop, permanent, for a
// visit.
func auditVisit(fixed string) points.Rule {
	return points.Rule{ID: "visit", Program: "shop", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: testkit.Dec(fixed)}}
}

// eachReversalOrder runs fn on def on every store twice: with the
// redemption's reversal after the refunds (reversalFirst false) and
// before them.
func eachReversalOrder(t *testing.T, def membership.Definition, fn func(t *testing.T, ps [2]*membership.Program, reversalFirst bool)) {
	for _, reversalFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("reversal first ", reversalFirst), func(t *testing.T) {
			onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) { fn(t, ps, reversalFirst) })
		})
	}
}

// auditLongAndShort returns specBuy split by the order's amount: long
// grants orders of 60 or more (permanent, as specBuy), short those under
// 60, valid to 24:00 of their month's last day.
func auditLongAndShort() (long, short points.Rule) {
	short = specBuy
	short.ID, short.Validity = "short", rule.Validity{Kind: rule.MonthEnds}
	short.Conditions = []event.Condition{{Attr: "amount", Op: event.Lt, Value: event.DecString("60")}}
	long = specBuy
	long.Conditions = []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("60")}}
	return long, short
}
