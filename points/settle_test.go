package points_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// settleStep is one step of a settling scenario on refundDef's program.
type settleStep func(t *testing.T, p *membership.Program) *change.Outcome

func settleRedeem(amount, at string) settleStep {
	return func(t *testing.T, p *membership.Program) *change.Outcome {
		t.Helper()
		res, err := p.Points().Redeem(context.Background(), points.RedeemRequest{RequestID: "redeem", Program: "mall", Member: "m", Ref: "x", Amount: dec(amount), At: ptsAt(at)})
		if err != nil {
			t.Fatal(err)
		}
		return res.Outcome
	}
}

// settleReverse reverses amount of redemption x ("" for what remains).
func settleReverse(id, amount, at string) settleStep {
	return func(t *testing.T, p *membership.Program) *change.Outcome {
		t.Helper()
		req := points.ReverseRequest{RequestID: id, Program: "mall", Ref: "x", Operator: "olga", At: ptsAt(at)}
		if amount != "" {
			req.Amount = dec(amount)
		}
		out, err := p.Points().Reverse(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func settleRefund(id, order, amount, at string) settleStep {
	return func(t *testing.T, p *membership.Program) *change.Outcome {
		t.Helper()
		return mustProcess(t, p, ptsRefund(id, "m", order, amount, ptsAt(at)))[0]
	}
}

// settleOrder is what an order's record says of its shortfall: the
// order's, and its first grant's (one grant per order here).
type settleOrder struct {
	Shortfall, GrantShortfall, Lapsed string
}

func settleOrderOf(t *testing.T, p *membership.Program, id string) settleOrder {
	t.Helper()
	o, found, err := p.Points().Order(context.Background(), id)
	if err != nil || !found {
		t.Fatalf("order %s: %v %v", id, found, err)
	}
	return settleOrder{Shortfall: o.Shortfall.String(), GrantShortfall: o.Grants[0].Shortfall.String(), Lapsed: o.Lapsed.String()}
}

// TestReversalSettlesShortfall: a redemption's reversal returning points
// to a lot whose order a refund left short takes them back at once, up to
// the shortfall, so a refund and a reversal end the same whichever comes
// first.
func TestReversalSettlesShortfall(t *testing.T) {
	buy := func(id, store, amount, at string) settleStep {
		return func(t *testing.T, p *membership.Program) *change.Outcome {
			t.Helper()
			return mustProcess(t, p, refundBuy(id, store, amount, at))[0]
		}
	}
	for _, tc := range []struct {
		name   string
		before []settleStep // earning and redeeming
		// Then the refunds first, or the reversals first.
		refundFirst, reversalFirst []settleStep
		at                         string // when the balance is read
		balance                    string
		orders                     map[string]settleOrder
		// earned, redeemed, reversed (net), expired of the reconciliation.
		recon [4]string
	}{
		{
			// The audit's case. o-1 earns 100 permanent (lot L), all
			// redeemed. Refund first: L holds 0 and the member nothing,
			// so 100 are short; the reversal returns 100 to L, which
			// settle the 100 short: balance 0. Reversal first: L holds
			// 100 again, which the refund takes: balance 0, nothing short.
			// Reversed net: +100 returned − 100 taken back = 0.
			name:          "full refund, full reversal",
			before:        []settleStep{buy("1", "forever", "100", "2026-03-10 10:00"), settleRedeem("100", "2026-03-10 11:00")},
			refundFirst:   []settleStep{settleRefund("rf", "o-1", "100", "2026-03-10 12:00"), settleReverse("v", "", "2026-03-10 13:00")},
			reversalFirst: []settleStep{settleReverse("v", "", "2026-03-10 12:00"), settleRefund("rf", "o-1", "100", "2026-03-10 13:00")},
			at:            "2026-03-10 14:00",
			balance:       "0",
			orders:        map[string]settleOrder{"o-1": {"0", "0", "0"}},
			recon:         [4]string{"100", "100", "0", "0"},
		},
		{
			// A refund of 30.00 of the 100.00 order after all 100 points
			// were redeemed. Refund first: 30 short (balance 0); the
			// reversal returns 100 to L and settles the 30: balance 70.
			// Reversal first: L holds 100, the refund takes 30 of it:
			// balance 70. Reversed net: 100 − 30 = 70.
			name:          "30% refund after redeeming all",
			before:        []settleStep{buy("1", "forever", "100.00", "2026-03-10 10:00"), settleRedeem("100", "2026-03-10 11:00")},
			refundFirst:   []settleStep{settleRefund("rf", "o-1", "30.00", "2026-03-10 12:00"), settleReverse("v", "", "2026-03-10 13:00")},
			reversalFirst: []settleStep{settleReverse("v", "", "2026-03-10 12:00"), settleRefund("rf", "o-1", "30.00", "2026-03-10 13:00")},
			at:            "2026-03-10 14:00",
			balance:       "70",
			orders:        map[string]settleOrder{"o-1": {"0", "0", "0"}},
			recon:         [4]string{"100", "100", "70", "0"},
		},
		{
			// As above, then the rest of the order (70.00) refunded: L
			// holds 70 either way, all taken: balance 0, nothing short.
			name:   "30% refund, reversal, then the rest refunded",
			before: []settleStep{buy("1", "forever", "100.00", "2026-03-10 10:00"), settleRedeem("100", "2026-03-10 11:00")},
			refundFirst: []settleStep{settleRefund("rf", "o-1", "30.00", "2026-03-10 12:00"), settleReverse("v", "", "2026-03-10 13:00"),
				settleRefund("rf2", "o-1", "70.00", "2026-03-10 13:30")},
			reversalFirst: []settleStep{settleReverse("v", "", "2026-03-10 12:00"), settleRefund("rf", "o-1", "30.00", "2026-03-10 13:00"),
				settleRefund("rf2", "o-1", "70.00", "2026-03-10 13:30")},
			at:      "2026-03-10 14:00",
			balance: "0",
			orders:  map[string]settleOrder{"o-1": {"0", "0", "0"}},
			recon:   [4]string{"100", "100", "0", "0"},
		},
		{
			// The reversal in two parts around the 30% refund. Refund
			// first: 30 short; reversing 20 returns 20 to L, all taken
			// back (balance 0, 10 still short); reversing the other 80
			// settles the 10: balance 70. Reversal of 20 first: L holds
			// 20, the refund takes them and 10 are short (balance 0); the
			// other 80 settle the 10: balance 70.
			name:   "partial reversals around a partial refund",
			before: []settleStep{buy("1", "forever", "100.00", "2026-03-10 10:00"), settleRedeem("100", "2026-03-10 11:00")},
			refundFirst: []settleStep{settleRefund("rf", "o-1", "30.00", "2026-03-10 12:00"), settleReverse("v1", "20", "2026-03-10 13:00"),
				settleReverse("v2", "", "2026-03-10 13:30")},
			reversalFirst: []settleStep{settleReverse("v1", "20", "2026-03-10 12:00"), settleRefund("rf", "o-1", "30.00", "2026-03-10 13:00"),
				settleReverse("v2", "", "2026-03-10 13:30")},
			at:      "2026-03-10 14:00",
			balance: "70",
			orders:  map[string]settleOrder{"o-1": {"0", "0", "0"}},
			recon:   [4]string{"100", "100", "70", "0"},
		},
		{
			// Several lots: o-1 earns 100 expiring at the end of March
			// (L1), o-2 50 permanent (L2), o-3 40 permanent (L3); 190
			// redeemed (L1 first, earliest expiry, then L2, L3 by grant).
			// o-1 refunded in full, o-2 30.00 of 50.00. Refunds first: 100
			// and 30 short (balance 0); the reversal refills L3 40 (its
			// order is not short: kept), L2 50 (30 settled: 20 kept), L1
			// 100 (all settled): balance 60. Reversal first: 190 back; the
			// refunds take 100 of L1 and 30 of L2: balance 60. Reversed
			// net: 190 − 130 = 60.
			name: "several lots",
			before: []settleStep{buy("1", "short", "100", "2026-03-10 10:00"), buy("2", "forever", "50.00", "2026-03-10 11:00"),
				buy("3", "forever", "40", "2026-03-10 12:00"), settleRedeem("190", "2026-03-11 10:00")},
			refundFirst: []settleStep{settleRefund("rf1", "o-1", "100", "2026-03-12 10:00"), settleRefund("rf2", "o-2", "30.00", "2026-03-12 11:00"),
				settleReverse("v", "", "2026-03-13 10:00")},
			reversalFirst: []settleStep{settleReverse("v", "", "2026-03-12 10:00"), settleRefund("rf1", "o-1", "100", "2026-03-13 10:00"),
				settleRefund("rf2", "o-2", "30.00", "2026-03-13 11:00")},
			at:      "2026-03-14 10:00",
			balance: "60",
			orders:  map[string]settleOrder{"o-1": {"0", "0", "0"}, "o-2": {"0", "0", "0"}, "o-3": {"0", "0", "0"}},
			recon:   [4]string{"190", "190", "60", "0"},
		},
		{
			// A partial reversal refilling another order's lot. o-1 earns
			// 100 permanent (L1), o-2 50 expiring at the end of March
			// (L2); 150 redeemed (L2 first, earliest expiry, then L1).
			// o-2 refunded in full. Refund first: 50 short (balance 0);
			// reversing 40 refills L1, whose order is not short, and those
			// 40 spendable points settle 40 of o-2's 50: balance 0, 10
			// short. Reversal first: L1 holds 40, which the refund takes
			// from the member's other points: balance 0, 10 short.
			// Reversed net: 40 − 40 = 0.
			name: "partial reversal refilling another order's lot",
			before: []settleStep{buy("1", "forever", "100", "2026-03-10 10:00"), buy("2", "short", "50", "2026-03-10 11:00"),
				settleRedeem("150", "2026-03-10 12:00")},
			refundFirst:   []settleStep{settleRefund("rf", "o-2", "50", "2026-03-11 10:00"), settleReverse("v", "40", "2026-03-11 11:00")},
			reversalFirst: []settleStep{settleReverse("v", "40", "2026-03-11 10:00"), settleRefund("rf", "o-2", "50", "2026-03-11 11:00")},
			at:            "2026-03-11 12:00",
			balance:       "0",
			orders:        map[string]settleOrder{"o-1": {"0", "0", "0"}, "o-2": {"10", "10", "0"}},
			recon:         [4]string{"150", "150", "0", "0"},
		},
		{
			// As above, then the other 110 reversed: 60 to L1, 50 to L2,
			// o-2's own lot, which settle its last 10 (the rest kept):
			// balance 100 either way. Reversed net: 150 − 50 = 100.
			name: "partial reversal refilling another order's lot, then the rest",
			before: []settleStep{buy("1", "forever", "100", "2026-03-10 10:00"), buy("2", "short", "50", "2026-03-10 11:00"),
				settleRedeem("150", "2026-03-10 12:00")},
			refundFirst: []settleStep{settleRefund("rf", "o-2", "50", "2026-03-11 10:00"), settleReverse("v", "40", "2026-03-11 11:00"),
				settleReverse("v2", "", "2026-03-11 11:30")},
			reversalFirst: []settleStep{settleReverse("v", "40", "2026-03-11 10:00"), settleRefund("rf", "o-2", "50", "2026-03-11 11:00"),
				settleReverse("v2", "", "2026-03-11 11:30")},
			at:      "2026-03-11 12:00",
			balance: "100",
			orders:  map[string]settleOrder{"o-1": {"0", "0", "0"}, "o-2": {"0", "0", "0"}},
			recon:   [4]string{"150", "150", "100", "0"},
		},
		{
			// Points returned to another order's expired lot settle
			// nothing: they are not the member's to spend. o-1 earns 100
			// (L1) on 10 March, o-2 50 (L2) on 11 March, both expiring at
			// 24:00 on 31 March; 150 redeemed (L1, then L2 by grant); o-1
			// refunded in full: 100 short. On 1 April reversing 50 refills
			// L2, where they expire again at once. Reversal first: the
			// same 50 expire; the refund finds L1 spent, not expired, and
			// the member with nothing: 100 short either way.
			name: "reversal into another order's expired lot",
			before: []settleStep{buy("1", "short", "100", "2026-03-10 10:00"), buy("2", "short", "50", "2026-03-11 10:00"),
				settleRedeem("150", "2026-03-12 10:00")},
			refundFirst:   []settleStep{settleRefund("rf", "o-1", "100", "2026-03-13 10:00"), settleReverse("v", "50", "2026-04-01 10:00")},
			reversalFirst: []settleStep{settleReverse("v", "50", "2026-04-01 10:00"), settleRefund("rf", "o-1", "100", "2026-04-01 10:30")},
			at:            "2026-04-01 11:00",
			balance:       "0",
			orders:        map[string]settleOrder{"o-1": {"100", "100", "0"}, "o-2": {"0", "0", "0"}},
			recon:         [4]string{"150", "150", "50", "50"},
		},
		{
			// Points returned to an expired lot. o-1 earns 100 expiring at
			// 24:00 on 31 March, all redeemed. Refund first (31 March):
			// 100 short; at 1 April the reversal returns 100 to the
			// expired lot, where they expire again at once: the 100 short
			// are lapsed instead (balance 0). Reversal first: the 100
			// expire again at once, and the refund finds them lapsed.
			// Either way: reversed 100, expired 100.
			name:          "returned to an expired lot",
			before:        []settleStep{buy("1", "short", "100", "2026-03-31 10:00"), settleRedeem("100", "2026-03-31 11:00")},
			refundFirst:   []settleStep{settleRefund("rf", "o-1", "100", "2026-03-31 12:00"), settleReverse("v", "", "2026-04-01 10:00")},
			reversalFirst: []settleStep{settleReverse("v", "", "2026-04-01 10:00"), settleRefund("rf", "o-1", "100", "2026-04-01 10:30")},
			at:            "2026-04-01 11:00",
			balance:       "0",
			orders:        map[string]settleOrder{"o-1": {"0", "0", "100"}},
			recon:         [4]string{"100", "100", "100", "100"},
		},
	} {
		for _, order := range []string{"refund first", "reversal first"} {
			t.Run(tc.name+"/"+order, func(t *testing.T) {
				p := testkit.OpenMemory(t, refundDef(nil))
				steps := append(append([]settleStep(nil), tc.before...), tc.refundFirst...)
				if order == "reversal first" {
					steps = append(append([]settleStep(nil), tc.before...), tc.reversalFirst...)
				}
				for _, s := range steps {
					s(t, p)
				}
				if b := ptsBalance(t, p, "mall", "m", ptsAt(tc.at)); !b.Total().Equal(dec(tc.balance)) {
					t.Errorf("balance %s, want %s (%+v)", b.Total(), tc.balance, b)
				}
				for id, want := range tc.orders {
					if diff := cmp.Diff(want, settleOrderOf(t, p, id)); diff != "" {
						t.Errorf("order %s (-want +got):\n%s", id, diff)
					}
				}
				r, err := p.Points().Reconciliation(context.Background(), points.ReconciliationQuery{Program: "mall"})
				if err != nil {
					t.Fatal(err)
				}
				got := [4]string{r.Earned.String(), r.Redeemed.String(), r.Reversed.String(), r.Expired.String()}
				if diff := cmp.Diff(tc.recon, got); diff != "" {
					t.Errorf("earned, redeemed, reversed, expired (-want +got):\n%s", diff)
				}
				ptsCheckBooks(t, p)
			})
		}
	}
}

// TestSettleIntoFrozen: a reversal returning points to the lot of a
// short order whose day awaits review returns them to the frozen account,
// and the shortfall is taken back from there. Risk control freezes a day
// at 100 earned. On 10 March o-1 earns 60 (lot L1), all redeemed, then
// o-2 earns 50 (L2): the day reaches 110 and freezes L2's 50 (L1 holds
// nothing). Refund first: o-1 refunded in full, L1 holds nothing and the
// member nothing spendable: 60 short; the reversal returns 60 to L1 in
// the frozen account, the day's, and takes them back from there at once,
// settling the 60. Reversal first: L1 holds 60 frozen, which the refund
// takes. Either way 50 stay frozen (L2's), nothing is short, and
// restoring the day gives back L2's 50 alone.
func TestSettleIntoFrozen(t *testing.T) {
	ctx := context.Background()
	for _, order := range []string{"refund first", "reversal first"} {
		t.Run(order, func(t *testing.T) {
			p := testkit.OpenMemory(t, refundDef(func(d *points.Definition) {
				d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
			}))
			out := mustProcess(t, p, refundBuy("1", "forever", "60", "2026-03-10 09:00"))[0]
			pc, _ := ptsChange(t, out, points.ChangeEarned)
			settleRedeem("60", "2026-03-10 09:30")(t, p)
			mustProcess(t, p, refundBuy("2", "forever", "50", "2026-03-10 10:00"))
			if order == "refund first" {
				settleRefund("rf", "o-1", "60", "2026-03-10 11:00")(t, p)
				out = settleReverse("v", "", "2026-03-10 12:00")(t, p)
				fx, err := points.EffectsOf(out)
				if err != nil {
					t.Fatal(err)
				}
				var settled []string
				for _, c := range fx.Changes {
					if c.Kind == points.ChangeReversed && c.Ref == "o-1" {
						settled = append(settled, c.Amount.String(), c.Settled.String())
						for _, l := range c.Lots {
							settled = append(settled, l.Lot+":"+l.Amount.String())
						}
					}
				}
				if diff := cmp.Diff([]string{"-60", "60", pc.Lot + ":60"}, settled); diff != "" {
					t.Errorf("settling of o-1: amount, settled, lots (-want +got):\n%s", diff)
				}
				page, err := p.Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Sub: points.SubFrozen, Kinds: []ledger.Kind{points.KindReversed}})
				if err != nil {
					t.Fatal(err)
				}
				var entries []string
				for _, e := range page.Entries {
					entries = append(entries, e.Amount.String()+" "+e.Lot+" "+e.Ref.Order)
				}
				if diff := cmp.Diff([]string{"60 " + pc.Lot + " x", "-60 " + pc.Lot + " o-1"}, entries); diff != "" {
					t.Errorf("frozen account's reversed entries (-want +got):\n%s", diff)
				}
			} else {
				settleReverse("v", "", "2026-03-10 11:00")(t, p)
				settleRefund("rf", "o-1", "60", "2026-03-10 12:00")(t, p)
			}
			if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-10 13:00")); !b.Frozen.Equal(dec("50")) || !b.Total().Equal(dec("50")) {
				t.Errorf("balance %+v, want 50 frozen, nothing else", b)
			}
			if diff := cmp.Diff(settleOrder{"0", "0", "0"}, settleOrderOf(t, p, "o-1")); diff != "" {
				t.Errorf("order o-1 (-want +got):\n%s", diff)
			}
			out, err := p.Points().Restore(ctx, points.ReviewRequest{RequestID: "restore", Program: "mall", Member: "m", Date: "2026-03-10", Operator: "bob", At: ptsAt("2026-03-11 10:00")})
			if err != nil {
				t.Fatal(err)
			}
			if rc, _ := ptsChange(t, out, points.ChangeRestored); !rc.Amount.Equal(dec("50")) {
				t.Errorf("restored %s, want 50", rc.Amount)
			}
			ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-11 10:00"), "50")
			// Reversed net: 60 returned − 60 taken back.
			r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
			if err != nil || !r.Earned.Equal(dec("110")) || !r.Redeemed.Equal(dec("60")) || !r.Reversed.IsZero() {
				t.Errorf("reconciliation %+v %v, want earned 110, redeemed 60, reversed 0", r, err)
			}
			ptsCheckBooks(t, p)
		})
	}
}

// TestSettleRecord: what the audit's case records. o-1 earns 100 (lot
// L), all redeemed against x, o-1 refunded in full (100 short). The
// reversal of x has two points.reversed changes: x's 100 returned to L,
// then the 100 taken back for o-1 (Amount −100, Settled 100, Ref o-1);
// its ledger entries are the return (+100 to L, ref x) and a reversed
// entry of −100 from L referring to o-1, by the reversal's operator.
func TestSettleRecord(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, refundDef(nil))
	earned := mustProcess(t, p, refundBuy("1", "forever", "100", "2026-03-10 10:00"))[0]
	pc, _ := ptsChange(t, earned, points.ChangeEarned)
	lot := pc.Lot
	settleRedeem("100", "2026-03-10 11:00")(t, p)
	settleRefund("rf", "o-1", "100", "2026-03-10 12:00")(t, p)
	out := settleReverse("v", "", "2026-03-10 13:00")(t, p)

	fx, err := points.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	type rev struct {
		Amount, Settled, Shortfall, Lapsed, Ref, Operator string
		Lots                                              []string
	}
	var got []rev
	for _, c := range fx.Changes {
		if c.Kind != points.ChangeReversed {
			continue
		}
		r := rev{Amount: c.Amount.String(), Settled: c.Settled.String(), Shortfall: c.Shortfall.String(), Lapsed: c.Lapsed.String(), Ref: c.Ref, Operator: c.Operator}
		for _, l := range c.Lots {
			r.Lots = append(r.Lots, l.Lot+":"+l.Amount.String())
		}
		got = append(got, r)
	}
	want := []rev{
		{Amount: "100", Settled: "0", Shortfall: "0", Lapsed: "0", Ref: "x", Operator: "olga", Lots: []string{lot + ":100"}},
		{Amount: "-100", Settled: "100", Shortfall: "0", Lapsed: "0", Ref: "o-1", Operator: "olga", Lots: []string{lot + ":100"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("points.reversed changes (-want +got):\n%s", diff)
	}
	mall := func(s string) []points.ProgramAmount {
		return []points.ProgramAmount{{Program: "mall", Amount: dec(s)}}
	}
	if diff := cmp.Diff(mall("100"), fx.Reversed, decimalEqual); diff != "" {
		t.Errorf("effects: reversed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(mall("100"), fx.Settled, decimalEqual); diff != "" {
		t.Errorf("effects: settled (-want +got):\n%s", diff)
	}

	page, err := p.Points().Statement(ctx, points.StatementQuery{Program: "mall", Member: "m", Kinds: []ledger.Kind{points.KindReversed}})
	if err != nil {
		t.Fatal(err)
	}
	type entry struct{ Amount, Balance, Lot, Order, Operator string }
	var entries []entry
	for _, e := range page.Entries {
		entries = append(entries, entry{e.Amount.String(), e.Balance.String(), e.Lot, e.Ref.Order, e.Ref.Operator})
	}
	wantEntries := []entry{{"100", "100", lot, "x", "olga"}, {"-100", "0", lot, "o-1", "olga"}}
	if diff := cmp.Diff(wantEntries, entries); diff != "" {
		t.Errorf("reversed entries (-want +got):\n%s", diff)
	}
	if len(page.Entries) == 2 && page.Entries[1].Ref.Note == "" {
		t.Error("the settling entry has no note")
	}
	ptsCheckBooks(t, p)
}

// TestSettleDamagedRecord: a shortfall record naming an order that does
// not exist is reported as ledger.ErrCorrupt, and the reversal changes
// nothing.
func TestSettleDamagedRecord(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, refundDef(nil))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, refundBuy("1", "forever", "100", "2026-03-10 10:00"))
	settleRedeem("100", "2026-03-10 11:00")(t, p)
	settleRefund("rf", "o-1", "100", "2026-03-10 12:00")(t, p)
	err = st.Update(ctx, func(tx store.Tx) error {
		var ks [][]byte
		err := tx.Scan("points.short", nil, nil, false, func(k, _ []byte) error {
			ks = append(ks, append([]byte(nil), k...))
			return nil
		})
		if len(ks) != 1 {
			return fmt.Errorf("%d shortfall records, want 1 (%v)", len(ks), err)
		}
		return tx.Put("points.short", ks[0], []byte("o-nowhere"))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v", Program: "mall", Ref: "x", At: ptsAt("2026-03-10 13:00")})
	if !errors.Is(err, ledger.ErrCorrupt) {
		t.Fatalf("reverse: %v, want ledger.ErrCorrupt", err)
	}
	ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-10 13:00"), "0")
	if rd, err := p.Points().Redemption(ctx, points.RedemptionQuery{Program: "mall", Ref: "x"}); err != nil || !rd.Reversed.IsZero() {
		t.Errorf("redemption after the refused reversal: %+v, %v", rd, err)
	}
}

// TestSettleDamagedOtherRecord: a reversal whose points stay spendable
// reads the member's other shortfall records; one naming no order of the
// member's, or under a key that is no lot's, is reported as
// ledger.ErrCorrupt, and the reversal changes nothing. o-1 earns 100
// permanent (L1), o-2 50 expiring at the end of March (L2), 150 are
// redeemed, o-2 is refunded in full (50 short); reversing 40 refills L1,
// whose order is not short, so only the other-shortfall path reads o-2's
// record.
func TestSettleDamagedOtherRecord(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// damage rewrites the one shortfall record (key k, value v).
		damage func(tx store.Tx, k, v []byte) error
	}{
		{"no such order", func(tx store.Tx, k, _ []byte) error { return tx.Put("points.short", k, []byte("o-nowhere")) }},
		{"empty order", func(tx store.Tx, k, _ []byte) error { return tx.Put("points.short", k, []byte{}) }},
		{"key of no lot", func(tx store.Tx, k, v []byte) error {
			// The lot part followed by one more part: two separators.
			return tx.Put("points.short", append(append([]byte(nil), k...), "x\x00"...), v)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			p, err := membership.Open(st, refundDef(nil))
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, p, refundBuy("1", "forever", "100", "2026-03-10 10:00"), refundBuy("2", "short", "50", "2026-03-10 11:00"))
			settleRedeem("150", "2026-03-10 12:00")(t, p)
			settleRefund("rf", "o-2", "50", "2026-03-11 10:00")(t, p)
			err = st.Update(ctx, func(tx store.Tx) error {
				var ks, vs [][]byte
				err := tx.Scan("points.short", nil, nil, false, func(k, v []byte) error {
					ks, vs = append(ks, append([]byte(nil), k...)), append(vs, append([]byte(nil), v...))
					return nil
				})
				if len(ks) != 1 {
					return fmt.Errorf("%d shortfall records, want 1 (%v)", len(ks), err)
				}
				return tc.damage(tx, ks[0], vs[0])
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v", Program: "mall", Ref: "x", Amount: dec("40"), At: ptsAt("2026-03-11 11:00")})
			if !errors.Is(err, ledger.ErrCorrupt) {
				t.Fatalf("reverse: %v, want ledger.ErrCorrupt", err)
			}
			ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-11 11:00"), "0")
			if rd, err := p.Points().Redemption(ctx, points.RedemptionQuery{Program: "mall", Ref: "x"}); err != nil || !rd.Reversed.IsZero() {
				t.Errorf("redemption after the refused reversal: %+v, %v", rd, err)
			}
		})
	}
}
