package points_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// refundDef is the mall program with two tracked earning rules, one point
// per yuan: store "short" grants points expiring at 24:00 on the month's
// last day, store "forever" permanent points. mod adjusts it.
func refundDef(mod func(d *points.Definition)) membership.Definition {
	return ptsDef(func(d *points.Definition) {
		d.Rules = []points.Rule{
			{ID: "short", Program: "mall", Event: "order", Order: "order_id", Conditions: []event.Condition{{Attr: "store", Op: event.Eq, Value: event.Str("short")}},
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}, Validity: rule.Validity{Kind: rule.MonthEnds, N: 0}},
			{ID: "forever", Program: "mall", Event: "order", Order: "order_id", Conditions: []event.Condition{{Attr: "store", Op: event.Eq, Value: event.Str("forever")}},
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}},
		}
		if mod != nil {
			mod(d)
		}
	})
}

// refundBuy is order o-<id> of member m at a store of refundDef.
func refundBuy(id, store, amount, at string) event.Event {
	ev := ptsOrder(id, "m", amount, ptsAt(at))
	ev.Attrs["store"] = event.Str(store)
	return ev
}

// refundWant is what one refund's points.reversed change says.
type refundWant struct {
	taken, shortfall, lapsed string
}

// refundCheck processes a refund of order o-1 and checks its change and
// the member's balance (main + pending + frozen) after it.
func refundCheck(t *testing.T, p *membership.Program, id, amount, at string, want refundWant, balance string) {
	t.Helper()
	out := mustProcess(t, p, ptsRefund(id, "m", "o-1", amount, ptsAt(at)))[0]
	pc, why := ptsChange(t, out, points.ChangeReversed)
	if !pc.Amount.Equal(dec(want.taken).Neg()) || !pc.Shortfall.Equal(dec(want.shortfall)) || !pc.Lapsed.Equal(dec(want.lapsed)) {
		t.Errorf("%s: taken %s, shortfall %s, lapsed %s; want %s, %s, %s (%s)", id, pc.Amount.Neg(), pc.Shortfall, pc.Lapsed,
			want.taken, want.shortfall, want.lapsed, why.Note)
	}
	if b := ptsBalance(t, p, "mall", "m", ptsAt(at)); !b.Total().Equal(dec(balance)) {
		t.Errorf("%s: balance %s, want %s (%+v)", id, b.Total(), balance, b)
	}
}

// refundOrder checks what order o-1's record says refunds did.
func refundOrder(t *testing.T, p *membership.Program, reversed, shortfall, lapsed string) {
	t.Helper()
	o, found, err := p.Points().Order(context.Background(), "o-1")
	if err != nil || !found {
		t.Fatalf("order o-1: %v %v", found, err)
	}
	g := o.Grants[0]
	if !g.Reversed.Equal(dec(reversed)) || !o.Shortfall.Equal(dec(shortfall)) || !g.Shortfall.Equal(dec(shortfall)) || !o.Lapsed.Equal(dec(lapsed)) || !g.Lapsed.Equal(dec(lapsed)) {
		t.Errorf("order o-1: reversed %s, shortfall %s (grant %s), lapsed %s (grant %s); want %s, %s, %s",
			g.Reversed, o.Shortfall, g.Shortfall, o.Lapsed, g.Lapsed, reversed, shortfall, lapsed)
	}
}

// TestRefundOfExpiredPoints: points an order earned that expired were not
// spent, so a refund does not take them again from the member's other
// points, nor count them short; what was spent is taken from the other
// points as before (held first, then spent, lapsed last).
func TestRefundOfExpiredPoints(t *testing.T) {
	ctx := context.Background()
	apr := "2026-04-01"
	advance := func(t *testing.T, p *membership.Program) {
		t.Helper()
		if _, err := p.Advance(ctx, ptsAt(apr)); err != nil {
			t.Fatal(err)
		}
	}
	redeem := func(t *testing.T, p *membership.Program, amount string) {
		t.Helper()
		if _, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: "r", Program: "mall", Member: "m", Ref: "x", Amount: dec(amount), At: ptsAt("2026-03-31 12:00")}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("full refund after full expiry", func(t *testing.T) {
		// The audit's case: o-1 earns 100 expiring at 24:00 on 31 March,
		// o-2 50 permanent; at 1 April o-1's 100 expire (balance 50).
		// Refunding o-1 in full reverses 100: its lot holds 0, 100 lapsed,
		// spent 100 − 0 held − 100 lapsed − 0 reversed = 0, so nothing is
		// taken, nothing is short, and 100 are lapsed: the balance stays
		// 50 (it was 0 before: 50 taken from o-2, 50 short).
		p := testkit.OpenMemory(t, refundDef(nil))
		mustProcess(t, p, refundBuy("1", "short", "100", "2026-03-31 10:00"), refundBuy("2", "forever", "50", "2026-03-31 11:00"))
		advance(t, p)
		ptsWantAvailable(t, p, "mall", "m", ptsAt(apr), "50")
		out := mustProcess(t, p, ptsRefund("rf", "m", "o-1", "100", ptsAt("2026-04-01 01:00")))[0]
		fx, err := points.EffectsOf(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(fx.Reversed) != 0 || len(fx.Shortfall) != 0 {
			t.Errorf("reversed %+v, shortfall %+v; want none", fx.Reversed, fx.Shortfall)
		}
		if diff := cmp.Diff([]points.ProgramAmount{{Program: "mall", Amount: dec("100")}}, fx.Lapsed, decimalEqual); diff != "" {
			t.Errorf("lapsed (-want +got):\n%s", diff)
		}
		if len(out.Entries) != 0 {
			t.Errorf("a refund that takes nothing posted %+v", out.Entries)
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-04-01 01:00"), "50")
		refundOrder(t, p, "100", "0", "100")
		// Reconciliation: earned 150 − expired 100 + reversed 0 = 50.
		r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
		if err != nil || !r.Earned.Equal(dec("150")) || !r.Expired.Equal(dec("100")) || !r.Reversed.IsZero() || !r.Change.Equal(dec("50")) {
			t.Errorf("reconciliation %+v %v", r, err)
		}
		// Refunding it again is refused: nothing is left of the order.
		if _, err := p.Process(ctx, ptsRefund("rf2", "m", "o-1", "10", ptsAt("2026-04-01 02:00"))); !errors.Is(err, event.ErrRefundExceedsOrder) {
			t.Errorf("refund past the order's amount: %v; want ErrRefundExceedsOrder", err)
		}
		ptsCheckBooks(t, p)
	})

	t.Run("full refund after partial spend and partial expiry", func(t *testing.T) {
		// o-1 earns 100 expiring, o-2 200 permanent. Redeeming 60 takes
		// them from o-1's lot (earliest expiry), which keeps 40; those
		// expire at 1 April (balance 200). The full refund reverses 100:
		// held 0; spent 100 − 0 − 40 lapsed − 0 = 60, taken from o-2's
		// points (200 available); the 40 lapsed are not taken: balance
		// 200 − 60 = 140 (it was 100 before).
		p := testkit.OpenMemory(t, refundDef(nil))
		mustProcess(t, p, refundBuy("1", "short", "100", "2026-03-31 10:00"), refundBuy("2", "forever", "200", "2026-03-31 11:00"))
		redeem(t, p, "60")
		advance(t, p)
		refundCheck(t, p, "rf", "100", "2026-04-01 01:00", refundWant{taken: "60", shortfall: "0", lapsed: "40"}, "140")
		refundOrder(t, p, "100", "0", "40")
		ptsCheckBooks(t, p)
	})

	t.Run("spent beyond the other points is short, lapsed is not", func(t *testing.T) {
		// As above with o-2 earning 50: of the 60 spent, the 50 the member
		// has are taken and 10 are short (balance 0); the 40 lapsed are
		// neither (before: 50 taken, 50 short).
		p := testkit.OpenMemory(t, refundDef(nil))
		mustProcess(t, p, refundBuy("1", "short", "100", "2026-03-31 10:00"), refundBuy("2", "forever", "50", "2026-03-31 11:00"))
		redeem(t, p, "60")
		advance(t, p)
		refundCheck(t, p, "rf", "100", "2026-04-01 01:00", refundWant{taken: "50", shortfall: "10", lapsed: "40"}, "0")
		refundOrder(t, p, "100", "10", "40")
		ptsCheckBooks(t, p)
	})

	t.Run("partial refunds charge the spent part first", func(t *testing.T) {
		// o-1 earns 100 expiring, o-2 200 permanent; 60 of o-1's lot are
		// spent, its 40 left expire at 1 April (balance 200). Refunds of
		// 30.00, 50.00 and 20.00 of the 100.00 order:
		//   - 30 in all → 30 to reverse: held 0; spent 100 − 0 − 40 − 0 =
		//     60, so 30 spent, taken (balance 170);
		//   - 80 in all → 50 more: spent 100 − 0 − 40 − (30 − 0) = 30, so
		//     30 taken (balance 140), and 20 of the lapsed 40 let go;
		//   - 100 in all → 20 more: spent 100 − 0 − 40 − (80 − 20) = 0,
		//     so the last 20 lapsed are let go (balance 140).
		// The member loses the 60 spent, no more.
		p := testkit.OpenMemory(t, refundDef(nil))
		mustProcess(t, p, refundBuy("1", "short", "100.00", "2026-03-31 10:00"), refundBuy("2", "forever", "200", "2026-03-31 11:00"))
		redeem(t, p, "60")
		advance(t, p)
		refundCheck(t, p, "rf1", "30.00", "2026-04-01 01:00", refundWant{taken: "30", shortfall: "0", lapsed: "0"}, "170")
		refundCheck(t, p, "rf2", "50.00", "2026-04-01 02:00", refundWant{taken: "30", shortfall: "0", lapsed: "20"}, "140")
		refundCheck(t, p, "rf3", "20.00", "2026-04-01 03:00", refundWant{taken: "0", shortfall: "0", lapsed: "20"}, "140")
		refundOrder(t, p, "100", "0", "40")
		ptsCheckBooks(t, p)
	})

	t.Run("partial refund before the expiry, the rest after", func(t *testing.T) {
		// o-1 earns 100 expiring, o-2 200 permanent; 60 of o-1's lot are
		// spent (it keeps 40). A refund of 20.00 on 31 March reverses 20,
		// all from the lot (it keeps 20; balance 220). At 1 April those
		// 20 expire (balance 200). Refunding the other 80.00 reverses 80:
		// held 0; spent 100 − 0 − 20 lapsed − (20 − 0) = 60, taken from
		// o-2's points; the 20 lapsed are let go: balance 140, the 60
		// spent and nothing else.
		p := testkit.OpenMemory(t, refundDef(nil))
		mustProcess(t, p, refundBuy("1", "short", "100.00", "2026-03-31 10:00"), refundBuy("2", "forever", "200", "2026-03-31 11:00"))
		redeem(t, p, "60")
		refundCheck(t, p, "rf1", "20.00", "2026-03-31 13:00", refundWant{taken: "20", shortfall: "0", lapsed: "0"}, "220")
		advance(t, p)
		ptsWantAvailable(t, p, "mall", "m", ptsAt(apr), "200")
		refundCheck(t, p, "rf2", "80.00", "2026-04-01 01:00", refundWant{taken: "60", shortfall: "0", lapsed: "20"}, "140")
		refundOrder(t, p, "100", "0", "20")
		ptsCheckBooks(t, p)
	})

	t.Run("points returned to the expired lot expire again and stay lapsed", func(t *testing.T) {
		// o-1 earns 100 expiring, o-2 200 permanent; 60 of o-1's lot are
		// spent, its 40 left expire at 1 April. Reversing the redemption
		// returns the 60 to o-1's lot, which has expired: they expire
		// again at once, so all 100 lapsed (balance 200). The full refund
		// reverses 100: held 0, spent 100 − 0 − 100 − 0 = 0: nothing is
		// taken (balance 200).
		p := testkit.OpenMemory(t, refundDef(nil))
		mustProcess(t, p, refundBuy("1", "short", "100", "2026-03-31 10:00"), refundBuy("2", "forever", "200", "2026-03-31 11:00"))
		redeem(t, p, "60")
		advance(t, p)
		if _, err := p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v", Program: "mall", Ref: "x", At: ptsAt("2026-04-01 00:30")}); err != nil {
			t.Fatal(err)
		}
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-04-01 00:30"), "200")
		refundCheck(t, p, "rf", "100", "2026-04-01 01:00", refundWant{taken: "0", shortfall: "0", lapsed: "100"}, "200")
		refundOrder(t, p, "100", "0", "100")
		ptsCheckBooks(t, p)
	})

	t.Run("a lot past its expiry has lapsed before Advance expires it", func(t *testing.T) {
		// o-1 earns 100 expiring, o-2 70 permanent; 60 of o-1's lot are
		// spent (it keeps 40). The refund comes at 01:00 on 1 April,
		// before Advance: the lot's 40 are past their expiry, so they
		// count as lapsed, as if Advance had run. The refund reverses
		// 100: held 0, 40 lapsed, spent 100 − 0 − 40 − 0 = 60, taken from
		// o-2's 70 (available 10; the ledger balance 50 still holds the
		// 40 due to expire). Advance then expires the 40: balance 10, as
		// when Advance runs first.
		p := testkit.OpenMemory(t, refundDef(nil))
		mustProcess(t, p, refundBuy("1", "short", "100", "2026-03-31 10:00"), refundBuy("2", "forever", "70", "2026-03-31 11:00"))
		redeem(t, p, "60")
		refundCheck(t, p, "rf", "100", "2026-04-01 01:00", refundWant{taken: "60", shortfall: "0", lapsed: "40"}, "50")
		ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-04-01 01:00"), "10")
		if _, err := p.Advance(ctx, ptsAt("2026-04-01 02:00")); err != nil {
			t.Fatal(err)
		}
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-04-01 02:00")); !b.Total().Equal(dec("10")) {
			t.Errorf("balance after Advance %+v, want 10", b)
		}
		refundOrder(t, p, "100", "0", "40")
		ptsCheckBooks(t, p)
	})

	t.Run("voided points are not taken again", func(t *testing.T) {
		// Risk control freezes a day at 100 earned. o-2 earns 50 permanent
		// on 30 March; o-1 earns 150 permanent on 31 March, which freezes
		// them; an operator voids them. Refunding o-1 in full reverses
		// 150: held 0, 150 voided, spent 150 − 0 − 150 − 0 = 0: nothing is
		// taken from o-2's 50 (balance 50), nothing is short.
		p := testkit.OpenMemory(t, refundDef(func(d *points.Definition) {
			d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
		}))
		mustProcess(t, p, refundBuy("2", "forever", "50", "2026-03-30 10:00"), refundBuy("1", "forever", "150", "2026-03-31 10:00"))
		if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-31 10:00")); !b.Frozen.Equal(dec("150")) {
			t.Fatalf("balance %+v, want 150 frozen", b)
		}
		if _, err := p.Points().Void(ctx, points.ReviewRequest{RequestID: "void", Program: "mall", Member: "m", Date: "2026-03-31", Operator: "alice", At: ptsAt("2026-03-31 12:00")}); err != nil {
			t.Fatal(err)
		}
		refundCheck(t, p, "rf", "150", "2026-04-02 10:00", refundWant{taken: "0", shortfall: "0", lapsed: "150"}, "50")
		refundOrder(t, p, "150", "0", "150")
		ptsCheckBooks(t, p)
	})
}

// TestRefundOfExpiredPendingPoints: pending points that expire before
// their release lapse like spendable ones. o-1 earns 100 held pending for
// 7 days and expiring at 24:00 on 31 March; at 5 April they have expired
// (pending). The full refund reverses 100: held 0, 100 lapsed, nothing
// taken from the 30 of o-2.
func TestRefundOfExpiredPendingPoints(t *testing.T) {
	p := testkit.OpenMemory(t, refundDef(func(d *points.Definition) {
		d.Rules[0].PendingDays = 7
	}))
	mustProcess(t, p, refundBuy("1", "short", "100", "2026-03-28 10:00"), refundBuy("2", "forever", "30", "2026-03-28 11:00"))
	if _, err := p.Advance(context.Background(), ptsAt("2026-04-05")); err != nil {
		t.Fatal(err)
	}
	refundCheck(t, p, "rf", "100", "2026-04-05 10:00", refundWant{taken: "0", shortfall: "0", lapsed: "100"}, "30")
	refundOrder(t, p, "100", "0", "100")
	ptsCheckBooks(t, p)
}
