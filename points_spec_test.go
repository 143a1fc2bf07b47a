package membership_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// The tests below check SPEC's "Points" rules on risk control,
// redemption, exchange and reconciliation through the public API, on
// every store, with what each call gives worked out by hand from SPEC.

// specPointsDef is a program in zone with an order event (amount,
// order_id), a visit event and the points definition pd; refunds of
// orders are declared when a rule of pd records orders.
func specPointsDef(zone string, pd *points.Definition) membership.Definition {
	for _, r := range pd.Rules {
		if r.Order != "" {
			pd.Refunds = []points.Refund{{Event: "refund", Order: "order_id", Amount: "amount"}}
		}
	}
	return membership.Definition{
		Zone: zone,
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String}}},
			{Name: "refund", Attributes: []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "visit"},
		},
		Points: pd,
	}
}

var specBuy = points.Rule{ID: "buy", Program: "shop", Event: "order", Order: "order_id",
	Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}}

func specOrder(id, member, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString(amount), "order_id": event.Str("o-" + id)}}
}

func specRefund(id, member, order, amount string, at time.Time) event.Event {
	return event.Event{ID: id, Member: member, Type: "refund", Time: at, Attrs: event.Attrs{"order_id": event.Str(order), "amount": event.DecString(amount)}}
}

// specBalance fails t unless member's balance of program at at is
// available, pending and frozen.
func specBalance(t *testing.T, p *membership.Program, program, member string, at time.Time, available, pending, frozen string) {
	t.Helper()
	b, err := p.Points().Balance(context.Background(), points.BalanceQuery{Program: program, Member: member, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Available.Equal(testkit.Dec(available)) || !b.Pending.Equal(testkit.Dec(pending)) || !b.Frozen.Equal(testkit.Dec(frozen)) {
		t.Errorf("%s's %s at %s: %+v, want available %s, pending %s, frozen %s", member, program, at, b, available, pending, frozen)
	}
}

// specReconciled fails t unless program's reconciliation over from..to
// holds and has the totals want lists (earned, redeemed, reversed,
// expired, voided, adjusted, exchanged, change).
func specReconciled(t *testing.T, p *membership.Program, program, from, to string, want [8]string) {
	t.Helper()
	r, err := p.Points().Reconciliation(context.Background(), points.ReconciliationQuery{Program: program, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	got := [8]decimal.Decimal{r.Earned, r.Redeemed, r.Reversed, r.Expired, r.Voided, r.Adjusted, r.Exchanged, r.Change}
	for i, w := range want {
		if !got[i].Equal(testkit.Dec(w)) {
			t.Errorf("%s reconciliation %s..%s: %v, want %v", program, from, to, got, want)
			break
		}
	}
	if !r.Holds() {
		t.Errorf("%s reconciliation %s..%s does not hold: %+v", program, from, to, r)
	}
}

func specChange(t *testing.T, out *change.Outcome, kind string) points.Change {
	t.Helper()
	cs := out.ChangesOf(kind)
	if len(cs) != 1 {
		t.Fatalf("%s has %d %s changes, want 1: %+v", out.Event, len(cs), kind, out.Changes)
	}
	var c points.Change
	if err := cs[0].Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSpecRiskStopDayInZone: the daily threshold's day is the calendar
// day in the program's zone, 24:00 being the next day's 00:00, across a
// daylight-saving change. In New York (clocks from 02:00 to 03:00 on
// Sunday 8 March 2026), a threshold of 100 under Stop:
//   - 23:30 on the 7th (04:30 UTC on the 8th): 80, the 7th's;
//   - 00:00 on the 8th: 80 (in UTC, the same day as the one before, 60
//     would be blocked);
//   - 23:59:59 on the 8th (03:59:59 UTC on the 9th): 30 wanted, 20
//     earned, 10 blocked;
//   - 24:00 of the 8th: 50, the 9th's, none blocked; the event before
//     processed again changes nothing.
//
// Balance 230. The reconciliation of the 8th counts 100 earned (80 + 20).
func TestSpecRiskStopDayInZone(t *testing.T) {
	ny := testkit.Zone("America/New_York")
	def := specPointsDef("America/New_York", &points.Definition{
		Programs: []points.Program{{Name: "shop", Risk: &points.Risk{Daily: testkit.Dec("100"), Policy: points.Stop}}},
		Rules:    []points.Rule{specBuy},
	})
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		testkit.MustProcess(t, p, specOrder("1", "m", "80", time.Date(2026, 3, 7, 23, 30, 0, 0, ny)))
		out := testkit.MustProcess(t, p, specOrder("2", "m", "80", time.Date(2026, 3, 8, 0, 0, 0, 0, ny)))[0]
		if n := len(out.ChangesOf(points.ChangeBlocked)); n != 0 {
			t.Errorf("the 8th's first order blocked: %+v", out.Changes)
		}
		late := specOrder("3", "m", "30", time.Date(2026, 3, 8, 23, 59, 59, 0, ny))
		out = testkit.MustProcess(t, p, late)[0]
		if c := specChange(t, out, points.ChangeBlocked); !c.Amount.Equal(testkit.Dec("10")) || !c.Wanted.Equal(testkit.Dec("30")) || c.Date != "2026-03-08" {
			t.Errorf("blocked %+v, want 10 of 30 on 2026-03-08", c)
		}
		if c := specChange(t, out, points.ChangeEarned); !c.Amount.Equal(testkit.Dec("20")) {
			t.Errorf("earned %s, want 20", c.Amount)
		}
		out = testkit.MustProcess(t, p, specOrder("4", "m", "50", time.Date(2026, 3, 8, 24, 0, 0, 0, ny)))[0]
		if n := len(out.ChangesOf(points.ChangeBlocked)); n != 0 {
			t.Errorf("24:00 of the 8th blocked: %+v", out.Changes)
		}
		if out := testkit.MustProcess(t, ps[1], late)[0]; !out.Duplicate {
			t.Errorf("the same event again: %+v", out)
		}
		for date, want := range map[string][2]string{"2026-03-07": {"80", "0"}, "2026-03-08": {"100", "10"}, "2026-03-09": {"50", "0"}} {
			d, err := p.Points().Day(ctx, points.DayQuery{Program: "shop", Member: "m", Date: date})
			if err != nil {
				t.Fatal(err)
			}
			if !d.Earned.Equal(testkit.Dec(want[0])) || !d.Blocked.Equal(testkit.Dec(want[1])) || d.Frozen {
				t.Errorf("day %s: %+v, want earned %s, blocked %s", date, d, want[0], want[1])
			}
		}
		specBalance(t, ps[1], "shop", "m", time.Date(2026, 3, 9, 1, 0, 0, 0, ny), "230", "0", "0")
		specReconciled(t, p, "shop", "2026-03-08", "2026-03-08", [8]string{"100", "0", "0", "0", "0", "0", "0", "100"})
		specReconciled(t, p, "shop", "", "", [8]string{"230", "0", "0", "0", "0", "0", "0", "230"})
	})
}

// TestSpecRiskFreezeRefundThenReview: a refund of a frozen day's order
// takes its share from the order's lot where it is, the frozen account,
// and the review then decides what is left. In Shanghai, a threshold of
// 100 under Freeze: orders of 60 at 09:00 and 10:00 on 1 March freeze
// 120; 30 of the second order's 60 refunded at 11:00 take 30 of its lot:
// 90 frozen, 0 available. Then:
//   - alice restores the day: 90 restored, available; the rest of the
//     order refunded takes the lot's last 30: 60 left. Earned 120,
//     reversed −60.
//   - bob voids the day: 90 voided; the rest refunded takes nothing, its
//     30 lapsed, no shortfall: 0 left. Earned 120, reversed −30, voided 90.
func TestSpecRiskFreezeRefundThenReview(t *testing.T) {
	sh := testkit.Shanghai
	def := specPointsDef("Asia/Shanghai", &points.Definition{
		Programs: []points.Program{{Name: "shop", Risk: &points.Risk{Daily: testkit.Dec("100"), Policy: points.Freeze}}},
		Rules:    []points.Rule{specBuy},
	})
	for _, decision := range []string{"restore", "void"} {
		t.Run(decision, func(t *testing.T) {
			onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
				ctx := context.Background()
				p := ps[0]
				testkit.MustProcess(t, p,
					specOrder("1", "m", "60", time.Date(2026, 3, 1, 9, 0, 0, 0, sh)),
					specOrder("2", "m", "60", time.Date(2026, 3, 1, 10, 0, 0, 0, sh)),
					specRefund("r1", "m", "o-2", "30", time.Date(2026, 3, 1, 11, 0, 0, 0, sh)))
				specBalance(t, p, "shop", "m", time.Date(2026, 3, 1, 12, 0, 0, 0, sh), "0", "0", "90")
				req := points.ReviewRequest{RequestID: "rev", Program: "shop", Member: "m", Date: "2026-03-01", At: time.Date(2026, 3, 2, 10, 0, 0, 0, sh)}
				var out *change.Outcome
				var err error
				if decision == "restore" {
					req.Operator = "alice"
					out, err = ps[1].Points().Restore(ctx, req)
				} else {
					req.Operator = "bob"
					out, err = ps[1].Points().Void(ctx, req)
				}
				if err != nil {
					t.Fatal(err)
				}
				kind, state := points.ChangeRestored, points.ReviewRestored
				if decision == "void" {
					kind, state = points.ChangeVoided, points.ReviewVoided
				}
				if c := specChange(t, out, kind); !c.Amount.Equal(testkit.Dec("90")) || c.Operator != req.Operator {
					t.Errorf("%s: %+v, want 90 by %s", kind, c, req.Operator)
				}
				rv, err := p.Points().Review(ctx, points.DayQuery{Program: "shop", Member: "m", Date: "2026-03-01"})
				if err != nil || rv.State != state || rv.Operator != req.Operator {
					t.Errorf("review %+v, %v; want %s by %s", rv, err, state, req.Operator)
				}
				out = testkit.MustProcess(t, p, specRefund("r2", "m", "o-2", "30", time.Date(2026, 3, 2, 11, 0, 0, 0, sh)))[0]
				c := specChange(t, out, points.ChangeReversed)
				at := time.Date(2026, 3, 2, 12, 0, 0, 0, sh)
				if decision == "restore" {
					if !c.Lapsed.IsZero() || !c.Shortfall.IsZero() {
						t.Errorf("refund after the restore: %+v, want 30 taken", c)
					}
					specBalance(t, p, "shop", "m", at, "60", "0", "0")
					specReconciled(t, p, "shop", "", "", [8]string{"120", "0", "-60", "0", "0", "0", "0", "60"})
				} else {
					if !c.Lapsed.Equal(testkit.Dec("30")) || !c.Shortfall.IsZero() {
						t.Errorf("refund after the void: %+v, want 30 lapsed, no shortfall", c)
					}
					specBalance(t, p, "shop", "m", at, "0", "0", "0")
					specReconciled(t, p, "shop", "", "", [8]string{"120", "0", "-30", "0", "90", "0", "0", "0"})
				}
			})
		})
	}
}

// TestSpecRedeemSplitAndReversalIntoExpiredLots: lots are spent by
// earliest expiry, then earliest grant; a points + cash split rounds the
// money paid in points down to cents and charges the fewest points worth
// it; a reversal after the lots expired returns the points to them and
// they expire again at once. In Shanghai, a shop with whole points, 0.07
// yuan a point and at most 33% of an order in points:
//   - a visit on 1 March at 08:00 gives a permanent lot B of 50; orders
//     of 30 (09:00) and 20 (5 March) give lots A and C to 24:00 of 31
//     March.
//   - the split of 10.01 yuan: 3.3033 rounded down to 3.30 in points, 48
//     points (47.14… rounded up), 6.71 in cash.
//   - a redemption of that order capped at 40 points: 40 × 0.07 = 2.80
//     in points, 7.21 in cash, taken from A (30) then C (10), B left.
//   - at 23:59:59 on 31 March 60 are available; at 24:00, 50 (C's 10
//     past its expiry), and 51 cannot be redeemed.
//   - Advance to 24:00 expires C's 10; the reversal on 2 April returns
//     30 to A and 10 to C, which expire again at once: 50 left. Earned
//     100, redeemed 40, reversed 40, expired 50.
func TestSpecRedeemSplitAndReversalIntoExpiredLots(t *testing.T) {
	sh := testkit.Shanghai
	buy := specBuy
	buy.Validity = rule.Validity{Kind: rule.MonthEnds}
	def := specPointsDef("Asia/Shanghai", &points.Definition{
		Programs: []points.Program{{Name: "shop", Payment: &points.Payment{Rate: testkit.Dec("0.07"), MaxShare: testkit.Dec("0.33")}}},
		Rules: []points.Rule{buy, {ID: "visit", Program: "shop", Event: "visit",
			Formula: rule.Formula{Kind: rule.Fixed, Fixed: testkit.Dec("50")}}},
	})
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		outs := testkit.MustProcess(t, p,
			event.Event{ID: "v", Member: "m", Type: "visit", Time: time.Date(2026, 3, 1, 8, 0, 0, 0, sh)},
			specOrder("1", "m", "30", time.Date(2026, 3, 1, 9, 0, 0, 0, sh)),
			specOrder("2", "m", "20", time.Date(2026, 3, 5, 9, 0, 0, 0, sh)))
		a, c := specChange(t, outs[1], points.ChangeEarned).Lot, specChange(t, outs[2], points.ChangeEarned).Lot
		sp, err := p.Points().Split(ctx, points.SplitQuery{Program: "shop", Member: "m", Order: testkit.Dec("10.01"), At: time.Date(2026, 3, 10, 0, 0, 0, 0, sh)})
		if err != nil {
			t.Fatal(err)
		}
		if want := (points.Split{Order: testkit.Dec("10.01"), Points: testkit.Dec("48"), PointsMoney: testkit.Dec("3.30"), Cash: testkit.Dec("6.71")}); !specSplitEqual(sp, want) {
			t.Errorf("split %+v, want %+v", sp, want)
		}
		res, err := ps[1].Points().Redeem(ctx, points.RedeemRequest{RequestID: "rd", Member: "m", Program: "shop", Ref: "item", Order: testkit.Dec("10.01"), Amount: testkit.Dec("40"), At: time.Date(2026, 3, 10, 0, 0, 0, 0, sh)})
		if err != nil {
			t.Fatal(err)
		}
		if want := (points.Split{Order: testkit.Dec("10.01"), Points: testkit.Dec("40"), PointsMoney: testkit.Dec("2.80"), Cash: testkit.Dec("7.21")}); res.Split == nil || !specSplitEqual(*res.Split, want) || !res.Points.Equal(testkit.Dec("40")) {
			t.Errorf("redemption %s, split %+v, want %+v", res.Points, res.Split, want)
		}
		if got := fmt.Sprint(res.Lots); len(res.Lots) != 2 || res.Lots[0].Lot != a || !res.Lots[0].Amount.Equal(testkit.Dec("30")) ||
			res.Lots[1].Lot != c || !res.Lots[1].Amount.Equal(testkit.Dec("10")) {
			t.Errorf("lots spent %s, want %s 30 then %s 10", got, a, c)
		}
		specBalance(t, p, "shop", "m", time.Date(2026, 3, 31, 23, 59, 59, 0, sh), "60", "0", "0")
		end := time.Date(2026, 4, 1, 0, 0, 0, 0, sh)
		specBalance(t, p, "shop", "m", end, "50", "0", "0")
		if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "rd2", Member: "m", Program: "shop", Ref: "item2", Amount: testkit.Dec("51"), At: end}); !errors.Is(err, ledger.ErrInsufficientBalance) {
			t.Errorf("51 of 50 at 24:00: %v, want ErrInsufficientBalance", err)
		}
		if _, err := p.Advance(ctx, end); err != nil {
			t.Fatal(err)
		}
		rev := points.ReverseRequest{RequestID: "rv", Operator: "ops", Program: "shop", Ref: "item", At: time.Date(2026, 4, 2, 10, 0, 0, 0, sh)}
		out, err := p.Points().Reverse(ctx, rev)
		if err != nil {
			t.Fatal(err)
		}
		expired := map[string]decimal.Decimal{}
		for _, ch := range out.ChangesOf(points.ChangeExpired) {
			var pc points.Change
			if err := ch.Decode(&pc); err != nil {
				t.Fatal(err)
			}
			expired[pc.Lot] = expired[pc.Lot].Add(pc.Amount)
		}
		if len(expired) != 2 || !expired[a].Equal(testkit.Dec("30")) || !expired[c].Equal(testkit.Dec("10")) {
			t.Errorf("expired again %v, want %s 30 and %s 10", expired, a, c)
		}
		if out, err := ps[1].Points().Reverse(ctx, rev); err != nil || !out.Duplicate {
			t.Errorf("the same reversal again: %+v, %v", out, err)
		}
		rev.RequestID = "rv2"
		if _, err := p.Points().Reverse(ctx, rev); !errors.Is(err, points.ErrOverReversal) {
			t.Errorf("a second reversal: %v, want ErrOverReversal", err)
		}
		specBalance(t, p, "shop", "m", rev.At, "50", "0", "0")
		specReconciled(t, p, "shop", "", "", [8]string{"100", "40", "40", "50", "0", "0", "0", "50"})
		specReconciled(t, p, "shop", "2026-04-01", "2026-04-02", [8]string{"0", "0", "40", "50", "0", "0", "0", "-10"})
	})
}

func specSplitEqual(a, b points.Split) bool {
	return a.Order.Equal(b.Order) && a.Points.Equal(b.Points) && a.PointsMoney.Equal(b.PointsMoney) && a.Cash.Equal(b.Cash)
}

// TestSpecExchange: an exchange converts atomically, rounded down to the
// target's scale, the remainder kept nowhere. Shop (whole points) to park
// (one decimal) at 0.37, park to shop at 2; a member with 100 shop:
//   - 7 shop give 2.59, so 2.5 park; the same request from 8 callers at
//     once and again later is applied once and answers 2.5; the same ID
//     for 8 is ErrConflict.
//   - 0.4 park give 0.8, so 0 shop: ErrExchangeTooSmall, nothing moves.
//   - 94 shop of the 93 left: ErrInsufficientBalance, no park credited.
//   - 93 shop give 34.41, so 34.4: park 36.9, shop 0.
//   - 0.5 park give 1 shop: park 36.4, shop 1.
//
// Shop: earned 100, exchanged −99; park: exchanged 36.4.
func TestSpecExchange(t *testing.T) {
	sh := testkit.Shanghai
	def := specPointsDef("Asia/Shanghai", &points.Definition{
		Programs: []points.Program{{Name: "shop"}, {Name: "park", Rounding: rule.Rounding{Scale: 1}}},
		Exchanges: []points.Exchange{{From: "shop", To: "park", Rate: testkit.Dec("0.37")},
			{From: "park", To: "shop", Rate: testkit.Dec("2")}},
		Rules: []points.Rule{{ID: "visit", Program: "shop", Event: "visit", Formula: rule.Formula{Kind: rule.Fixed, Fixed: testkit.Dec("100")}}},
	})
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		at := time.Date(2026, 3, 1, 10, 0, 0, 0, sh)
		testkit.MustProcess(t, ps[0], event.Event{ID: "v", Member: "m", Type: "visit", Time: at.Add(-time.Hour)})
		x := points.ExchangeRequest{RequestID: "x1", Member: "m", At: at, From: "shop", To: "park", Amount: testkit.Dec("7")}
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied := 0
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := ps[g%2].Points().Exchange(ctx, x)
				if err != nil {
					t.Errorf("caller %d: %v", g, err)
					return
				}
				if !res.Got.Equal(testkit.Dec("2.5")) {
					t.Errorf("caller %d: got %s, want 2.5", g, res.Got)
				}
				if !res.Outcome.Duplicate {
					mu.Lock()
					applied++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if applied != 1 {
			t.Errorf("the same exchange applied %d times, want 1", applied)
		}
		if res, err := ps[1].Points().Exchange(ctx, x); err != nil || !res.Got.Equal(testkit.Dec("2.5")) || !res.Outcome.Duplicate {
			t.Errorf("the same exchange later: %+v, %v", res, err)
		}
		x.Amount = testkit.Dec("8")
		if _, err := ps[0].Points().Exchange(ctx, x); !errors.Is(err, event.ErrConflict) {
			t.Errorf("another amount under the same ID: %v, want ErrConflict", err)
		}
		specBalance(t, ps[0], "shop", "m", at, "93", "0", "0")
		specBalance(t, ps[0], "park", "m", at, "2.5", "0", "0")
		if _, err := ps[0].Points().Exchange(ctx, points.ExchangeRequest{RequestID: "x2", Member: "m", At: at, From: "park", To: "shop", Amount: testkit.Dec("0.4")}); !errors.Is(err, points.ErrExchangeTooSmall) {
			t.Errorf("0.4 park to shop: %v, want ErrExchangeTooSmall", err)
		}
		if _, err := ps[0].Points().Exchange(ctx, points.ExchangeRequest{RequestID: "x3", Member: "m", At: at, From: "shop", To: "park", Amount: testkit.Dec("94")}); !errors.Is(err, ledger.ErrInsufficientBalance) {
			t.Errorf("94 of 93 shop: %v, want ErrInsufficientBalance", err)
		}
		specBalance(t, ps[0], "shop", "m", at, "93", "0", "0")
		specBalance(t, ps[0], "park", "m", at, "2.5", "0", "0")
		if res, err := ps[0].Points().Exchange(ctx, points.ExchangeRequest{RequestID: "x4", Member: "m", At: at, From: "shop", To: "park", Amount: testkit.Dec("93")}); err != nil || !res.Got.Equal(testkit.Dec("34.4")) {
			t.Errorf("93 shop: %+v, %v, want 34.4 park", res, err)
		}
		if res, err := ps[1].Points().Exchange(ctx, points.ExchangeRequest{RequestID: "x5", Member: "m", At: at, From: "park", To: "shop", Amount: testkit.Dec("0.5")}); err != nil || !res.Got.Equal(testkit.Dec("1")) {
			t.Errorf("0.5 park: %+v, %v, want 1 shop", res, err)
		}
		specBalance(t, ps[0], "shop", "m", at, "1", "0", "0")
		specBalance(t, ps[0], "park", "m", at, "36.4", "0", "0")
		specReconciled(t, ps[0], "shop", "", "", [8]string{"100", "0", "0", "0", "0", "0", "-99", "1"})
		specReconciled(t, ps[0], "park", "", "", [8]string{"0", "0", "0", "0", "0", "0", "36.4", "36.4"})
	})
}

// TestSpecReviewAfterTheLotsExpired: a review decided after some of the
// frozen lots expired restores or voids only the points still valid;
// those that expired stay expired, as an expiry of their own, whether
// Advance expired them before the decision or only after it. In
// Shanghai, a threshold of 100 under Freeze, on 30 March: a visit gives a
// permanent 10, orders of 60 at 09:00 and 10:00 lots to 24:00 of 31
// March; the second reaches 130 and freezes all three. On 2 April:
//   - alice restores: 10 restored, 120 expired, 10 available.
//   - bob voids: 10 voided, 120 expired, 0 left.
func TestSpecReviewAfterTheLotsExpired(t *testing.T) {
	sh := testkit.Shanghai
	buy := specBuy
	buy.Validity = rule.Validity{Kind: rule.MonthEnds}
	def := specPointsDef("Asia/Shanghai", &points.Definition{
		Programs: []points.Program{{Name: "shop", Risk: &points.Risk{Daily: testkit.Dec("100"), Policy: points.Freeze}}},
		Rules: []points.Rule{buy, {ID: "visit", Program: "shop", Event: "visit",
			Formula: rule.Formula{Kind: rule.Fixed, Fixed: testkit.Dec("10")}}},
	})
	for _, decision := range []string{"restore", "void"} {
		for _, advanceFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/advance first %v", decision, advanceFirst), func(t *testing.T) {
				onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
					ctx := context.Background()
					p := ps[0]
					testkit.MustProcess(t, p,
						event.Event{ID: "v", Member: "m", Type: "visit", Time: time.Date(2026, 3, 30, 8, 0, 0, 0, sh)},
						specOrder("1", "m", "60", time.Date(2026, 3, 30, 9, 0, 0, 0, sh)),
						specOrder("2", "m", "60", time.Date(2026, 3, 30, 10, 0, 0, 0, sh)))
					specBalance(t, p, "shop", "m", time.Date(2026, 3, 30, 11, 0, 0, 0, sh), "0", "0", "130")
					at := time.Date(2026, 4, 2, 10, 0, 0, 0, sh)
					if advanceFirst {
						if _, err := p.Advance(ctx, at); err != nil {
							t.Fatal(err)
						}
					}
					req := points.ReviewRequest{RequestID: "rev", Program: "shop", Member: "m", Date: "2026-03-30", Operator: "alice", At: at}
					decide, kind := p.Points().Restore, points.ChangeRestored
					if decision == "void" {
						req.Operator, decide, kind = "bob", p.Points().Void, points.ChangeVoided
					}
					out, err := decide(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					if c := specChange(t, out, kind); !c.Amount.Equal(testkit.Dec("10")) || len(c.Lots) != 1 || c.Operator != req.Operator {
						t.Errorf("%s: %+v, want the permanent 10 by %s", kind, c, req.Operator)
					}
					if _, err := p.Advance(ctx, at); err != nil {
						t.Fatal(err)
					}
					if decision == "restore" {
						specBalance(t, p, "shop", "m", at, "10", "0", "0")
						specReconciled(t, p, "shop", "", "", [8]string{"130", "0", "0", "120", "0", "0", "0", "10"})
					} else {
						specBalance(t, p, "shop", "m", at, "0", "0", "0")
						specReconciled(t, p, "shop", "", "", [8]string{"130", "0", "0", "120", "10", "0", "0", "0"})
					}
				})
			})
		}
	}
}

// TestSpecReviewOfALateFreeze: a decision cannot precede the points it
// decides, also when a late event froze the day: in Shanghai, a threshold
// of 100 under Freeze, an order of 60 at 10:00 on 1 March, then one of 60
// dated 09:00 arriving after it, which reaches 120 and freezes the day
// with both lots. The review decides the 10:00 lot, so a decision at
// 09:30 is refused (event.ErrInvalidArgument), changing nothing; at 10:00
// it takes 120: a restore of both lots, or, when the rule holds its points
// pending for 7 days, a void of both pending lots.
func TestSpecReviewOfALateFreeze(t *testing.T) {
	sh := testkit.Shanghai
	for _, pendingDays := range []int{0, 7} {
		t.Run(fmt.Sprint("pending days ", pendingDays), func(t *testing.T) {
			buy := specBuy
			buy.PendingDays = pendingDays
			def := specPointsDef("Asia/Shanghai", &points.Definition{
				Programs: []points.Program{{Name: "shop", Risk: &points.Risk{Daily: testkit.Dec("100"), Policy: points.Freeze}}},
				Rules:    []points.Rule{buy},
			})
			onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
				ctx := context.Background()
				p := ps[0]
				testkit.MustProcess(t, p,
					specOrder("1", "m", "60", time.Date(2026, 3, 1, 10, 0, 0, 0, sh)),
					specOrder("0", "m", "60", time.Date(2026, 3, 1, 9, 0, 0, 0, sh)))
				at := time.Date(2026, 3, 1, 11, 0, 0, 0, sh)
				frozen, pending := "120", "0"
				decide, kind := p.Points().Restore, points.ChangeRestored
				if pendingDays > 0 {
					frozen, pending = "0", "120"
					decide, kind = p.Points().Void, points.ChangeVoided
				}
				specBalance(t, p, "shop", "m", at, "0", pending, frozen)
				req := points.ReviewRequest{RequestID: "rev", Program: "shop", Member: "m", Date: "2026-03-01", Operator: "alice", At: time.Date(2026, 3, 1, 9, 30, 0, 0, sh)}
				if _, err := decide(ctx, req); !errors.Is(err, event.ErrInvalidArgument) {
					t.Errorf("a decision at 09:30 of a lot granted at 10:00: %v, want ErrInvalidArgument", err)
				}
				specBalance(t, p, "shop", "m", at, "0", pending, frozen)
				req.RequestID, req.At = "rev2", time.Date(2026, 3, 1, 10, 0, 0, 0, sh)
				out, err := decide(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if c := specChange(t, out, kind); !c.Amount.Equal(testkit.Dec("120")) {
					t.Errorf("%s %+v, want 120", kind, c)
				}
				if pendingDays > 0 {
					specReconciled(t, p, "shop", "", "", [8]string{"120", "0", "0", "0", "120", "0", "0", "0"})
				} else {
					specReconciled(t, p, "shop", "", "", [8]string{"120", "0", "0", "0", "0", "0", "0", "120"})
				}
			})
		})
	}
}

// TestSpecSpendingOrderOfALateGrant: of two lots with the same expiry,
// the earlier granted is spent first, also when its event came late: in
// Shanghai, an order of 20 on 5 March, then one of 30 dated 1 March, both
// to 24:00 of 31 March; a redemption of 40 takes the 1 March lot's 30,
// then 10 of the 5 March lot.
func TestSpecSpendingOrderOfALateGrant(t *testing.T) {
	sh := testkit.Shanghai
	buy := specBuy
	buy.Validity = rule.Validity{Kind: rule.MonthEnds}
	def := specPointsDef("Asia/Shanghai", &points.Definition{Programs: []points.Program{{Name: "shop"}}, Rules: []points.Rule{buy}})
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		outs := testkit.MustProcess(t, ps[0],
			specOrder("5", "m", "20", time.Date(2026, 3, 5, 9, 0, 0, 0, sh)),
			specOrder("1", "m", "30", time.Date(2026, 3, 1, 9, 0, 0, 0, sh)))
		later, earlier := specChange(t, outs[0], points.ChangeEarned).Lot, specChange(t, outs[1], points.ChangeEarned).Lot
		res, err := ps[1].Points().Redeem(context.Background(), points.RedeemRequest{RequestID: "rd", Member: "m", Program: "shop", Ref: "item", Amount: testkit.Dec("40"), At: time.Date(2026, 3, 10, 0, 0, 0, 0, sh)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Lots) != 2 || res.Lots[0].Lot != earlier || !res.Lots[0].Amount.Equal(testkit.Dec("30")) || res.Lots[1].Lot != later || !res.Lots[1].Amount.Equal(testkit.Dec("10")) {
			t.Errorf("lots spent %v, want %s 30 then %s 10", res.Lots, earlier, later)
		}
	})
}

// TestSpecVoidAfterThePendingLotsExpired: a void takes the frozen day's
// pending lots only while they are valid. In Shanghai, a threshold of 100
// under Freeze, points pending for 7 days and valid for 3 (to 24:00 of 3
// March): orders of 60 at 09:00 and 10:00 on 1 March freeze the day with
// 120 pending. Bob voids it on 5 March, whether or not Advance expired
// them first: nothing voided, 120 expired.
func TestSpecVoidAfterThePendingLotsExpired(t *testing.T) {
	sh := testkit.Shanghai
	buy := specBuy
	buy.PendingDays, buy.Validity = 7, rule.Validity{Kind: rule.DaysAfter, N: 3}
	def := specPointsDef("Asia/Shanghai", &points.Definition{
		Programs: []points.Program{{Name: "shop", Risk: &points.Risk{Daily: testkit.Dec("100"), Policy: points.Freeze}}},
		Rules:    []points.Rule{buy},
	})
	for _, advanceFirst := range []bool{true, false} {
		t.Run(fmt.Sprint("advance first ", advanceFirst), func(t *testing.T) {
			onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
				ctx := context.Background()
				p := ps[0]
				testkit.MustProcess(t, p,
					specOrder("1", "m", "60", time.Date(2026, 3, 1, 9, 0, 0, 0, sh)),
					specOrder("2", "m", "60", time.Date(2026, 3, 1, 10, 0, 0, 0, sh)))
				at := time.Date(2026, 3, 5, 10, 0, 0, 0, sh)
				if advanceFirst {
					if _, err := p.Advance(ctx, at); err != nil {
						t.Fatal(err)
					}
				}
				out, err := p.Points().Void(ctx, points.ReviewRequest{RequestID: "rev", Program: "shop", Member: "m", Date: "2026-03-01", Operator: "bob", At: at})
				if err != nil {
					t.Fatal(err)
				}
				if c := specChange(t, out, points.ChangeVoided); !c.Amount.IsZero() || len(c.Lots) != 0 || c.Operator != "bob" {
					t.Errorf("voided %+v, want nothing, by bob", c)
				}
				if _, err := p.Advance(ctx, time.Date(2026, 3, 9, 0, 0, 0, 0, sh)); err != nil {
					t.Fatal(err)
				}
				specBalance(t, p, "shop", "m", time.Date(2026, 3, 9, 0, 0, 0, 0, sh), "0", "0", "0")
				specReconciled(t, p, "shop", "", "", [8]string{"120", "0", "0", "120", "0", "0", "0", "0"})
			})
		})
	}
}
