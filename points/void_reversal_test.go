package points_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
)

// TestReversalIntoVoidedDay: points spent before their day froze, whose
// redemption is reversed after an operator voided the day, are voided
// again at once, as points returned to an expired lot expire again: the
// void took the day's points, and these were out of its reach only
// because they had been spent. They never reach the balance.
//
// Risk control freezes a day at 100 earned. On 10 March o-1 earns 60
// (lot L1, expiring at 24:00 on 31 March), 40 of them are redeemed
// against x, then o-2 earns 60 (L2): the day reaches 120 and freezes L1's
// 20 and L2's 60, which bob voids (80).
func TestReversalIntoVoidedDay(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*membership.Program, string) {
		t.Helper()
		p := testkit.OpenMemory(t, refundDef(func(d *points.Definition) {
			d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
		}))
		out := mustProcess(t, p, refundBuy("1", "short", "60", "2026-03-10 09:00"))[0]
		pc, _ := ptsChange(t, out, points.ChangeEarned)
		settleRedeem("40", "2026-03-10 09:30")(t, p)
		mustProcess(t, p, refundBuy("2", "short", "60", "2026-03-10 10:00"))
		out, err := p.Points().Void(ctx, points.ReviewRequest{RequestID: "void", Program: "mall", Member: "m", Date: "2026-03-10", Operator: "bob", At: ptsAt("2026-03-10 12:00")})
		if err != nil {
			t.Fatal(err)
		}
		if vc, _ := ptsChange(t, out, points.ChangeVoided); !vc.Amount.Equal(dec("80")) {
			t.Fatalf("voided %s, want 80", vc.Amount)
		}
		return p, pc.Lot
	}
	// recon checks the program's earned, redeemed, reversed (net),
	// expired and voided totals, and the books.
	recon := func(t *testing.T, p *membership.Program, want [5]string) {
		t.Helper()
		r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
		if err != nil {
			t.Fatal(err)
		}
		got := [5]string{r.Earned.String(), r.Redeemed.String(), r.Reversed.String(), r.Expired.String(), r.Voided.String()}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("earned, redeemed, reversed, expired, voided (-want +got):\n%s", diff)
		}
		ptsCheckBooks(t, p)
	}
	wantBalance := func(t *testing.T, p *membership.Program, at, available, total string) {
		t.Helper()
		if b := ptsBalance(t, p, "mall", "m", ptsAt(at)); !b.Available.Equal(dec(available)) || !b.Total().Equal(dec(total)) {
			t.Errorf("balance at %s %+v, want %s available, %s in all", at, b, available, total)
		}
	}
	// voidedAgain returns what out's points.voided change says, or
	// fails when it has none.
	voidedAgain := func(t *testing.T, out *change.Outcome) (amount, date, operator string, lots []string) {
		t.Helper()
		vc, _ := ptsChange(t, out, points.ChangeVoided)
		for _, l := range vc.Lots {
			lots = append(lots, l.Lot+":"+l.Amount.String())
		}
		return vc.Amount.String(), vc.Date, vc.Operator, lots
	}

	t.Run("reversal after the void", func(t *testing.T) {
		// The 40 go back to L1 and are voided at once: balance 0;
		// reversed 40, voided 80 + 40 = 120 of the 120 earned.
		p, l1 := setup(t)
		out := settleReverse("v", "", "2026-03-11 10:00")(t, p)
		if pc, _ := ptsChange(t, out, points.ChangeReversed); !pc.Amount.Equal(dec("40")) {
			t.Errorf("reversed %s, want 40", pc.Amount)
		}
		amount, date, operator, lots := voidedAgain(t, out)
		if diff := cmp.Diff([]string{"40", "2026-03-10", "olga", l1 + ":40"}, append([]string{amount, date, operator}, lots...)); diff != "" {
			t.Errorf("points.voided: amount, date, operator, lots (-want +got):\n%s", diff)
		}
		wantBalance(t, p, "2026-03-11 10:00", "0", "0")
		recon(t, p, [5]string{"120", "40", "40", "0", "120"})
	})

	t.Run("the rest reversed after the lot expired", func(t *testing.T) {
		// 10 reversed on 11 March are voided again; the other 30,
		// reversed on 1 April, go back to L1, which expired at 24:00 on
		// 31 March: they expire again at once, and are not voided.
		p, _ := setup(t)
		settleReverse("v1", "10", "2026-03-11 10:00")(t, p)
		out := settleReverse("v2", "", "2026-04-01 10:00")(t, p)
		if ec, _ := ptsChange(t, out, points.ChangeExpired); !ec.Amount.Equal(dec("30")) {
			t.Errorf("expired again %s, want 30", ec.Amount)
		}
		if n := len(out.ChangesOf(points.ChangeVoided)); n != 0 {
			t.Errorf("%d points.voided changes for points returned to an expired lot, want 0", n)
		}
		wantBalance(t, p, "2026-04-01 10:00", "0", "0")
		recon(t, p, [5]string{"120", "40", "40", "30", "90"})
	})

	t.Run("a grant later that day reopens the review for itself only", func(t *testing.T) {
		// o-3 earns 5 at 20:00 the same day: frozen, in the reopened
		// review. The reversal at 21:00 voids its 40 at once, outside
		// that review; restoring the review gives back the 5 alone.
		p, _ := setup(t)
		out := mustProcess(t, p, refundBuy("3", "short", "5", "2026-03-10 20:00"))[0]
		if fc, _ := ptsChange(t, out, points.ChangeFrozen); !fc.Amount.Equal(dec("5")) {
			t.Fatalf("frozen %s, want 5", fc.Amount)
		}
		out = settleReverse("v", "", "2026-03-10 21:00")(t, p)
		if amount, _, _, _ := voidedAgain(t, out); amount != "40" {
			t.Errorf("voided again %s, want 40", amount)
		}
		rv, err := p.Points().Review(ctx, points.DayQuery{Program: "mall", Member: "m", Date: "2026-03-10"})
		if err != nil || len(rv.Lots) != 1 || !rv.Lots[0].Amount.Equal(dec("5")) {
			t.Errorf("reopened review %+v %v, want o-3's 5 alone", rv, err)
		}
		out, err = p.Points().Restore(ctx, points.ReviewRequest{RequestID: "restore", Program: "mall", Member: "m", Date: "2026-03-10", Operator: "bob", At: ptsAt("2026-03-11 10:00")})
		if err != nil {
			t.Fatal(err)
		}
		if rc, _ := ptsChange(t, out, points.ChangeRestored); !rc.Amount.Equal(dec("5")) {
			t.Errorf("restored %s, want 5", rc.Amount)
		}
		wantBalance(t, p, "2026-03-11 10:00", "5", "5")
		recon(t, p, [5]string{"125", "40", "40", "0", "120"})
	})

	// A refund of o-1 and the reversal end the same in either order.
	// Refund first: L1 holds nothing, its 20 were voided, so of the 60
	// reversed 40 were spent and are short (the member has nothing
	// else); the reversal's 40, voided again, settle them as lapsed.
	// Reversal first: its 40 are voided again; the refund finds 20 + 40 =
	// 60 voided, all lapsed, nothing short. Either way: o-1 60 lapsed,
	// nothing short, balance 0, the reversal's 40 voided.
	for _, order := range []string{"refund first", "reversal first"} {
		t.Run("refund of o-1, "+order, func(t *testing.T) {
			p, _ := setup(t)
			steps := []settleStep{settleRefund("rf", "o-1", "60", "2026-03-11 09:00"), settleReverse("v", "", "2026-03-11 10:00")}
			if order == "reversal first" {
				steps = []settleStep{settleReverse("v", "", "2026-03-11 09:00"), settleRefund("rf", "o-1", "60", "2026-03-11 10:00")}
			}
			for _, s := range steps {
				s(t, p)
			}
			if diff := cmp.Diff(settleOrder{Shortfall: "0", GrantShortfall: "0", Lapsed: "60"}, settleOrderOf(t, p, "o-1")); diff != "" {
				t.Errorf("order o-1 (-want +got):\n%s", diff)
			}
			wantBalance(t, p, "2026-03-11 10:00", "0", "0")
			recon(t, p, [5]string{"120", "40", "40", "0", "120"})
		})
	}
}
