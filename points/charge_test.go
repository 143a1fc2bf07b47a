package points_test

import (
	"context"
	"encoding/json"
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

// TestRefundChargeGivenBack: a refund takes the spent share of an order's
// points from the member's other points (a charge); a reversal that
// later returns the spent points to the order's lot gives the charge
// back, so a refund and a reversal end the same whichever comes first,
// down to the lots. Before, the charge stayed: where the returned points
// lapsed (the lot expired, or its day voided by review, or voided after)
// the member lost them twice, and where they stayed in the lot the
// member kept the order's points in place of their own.
//
// o-1 earns 60 (L1, expiring at 24:00 on 31 March unless said), 40 of
// them are redeemed against x, o-9 earns 50 for good (L9): the refund of
// all of o-1 and the reversal of x come in either order.
func TestRefundChargeGivenBack(t *testing.T) {
	ctx := context.Background()
	type want struct {
		available string
		lots      []string // order:sub:amount of what remains, "" sub for spendable
		lapsed    string   // o-1's
		recon     [5]string
	}
	for _, tc := range []struct {
		name string
		// setup earns and redeems; at is when the refund and the reversal
		// come (an hour apart), then after runs.
		setup func(t *testing.T, p *membership.Program, lot func(id, store, amount, at string))
		at    string
		after func(t *testing.T, p *membership.Program)
		want  want
	}{{
		// Refund first: L1's 20 lapsed, the 40 spent are taken from L9;
		// the reversal's 40, voided again, give them back to L9.
		// Reversal first: voided again; the refund finds all 60 lapsed.
		name: "returned to a day voided by review",
		setup: func(t *testing.T, p *membership.Program, lot func(id, store, amount, at string)) {
			lot("1", "short", "60", "2026-03-10 09:00")
			settleRedeem("40", "2026-03-10 09:30")(t, p)
			mustProcess(t, p, refundBuy("2", "short", "60", "2026-03-10 10:00"))
			if _, err := p.Points().Void(ctx, points.ReviewRequest{RequestID: "void", Program: "mall", Member: "m", Date: "2026-03-10", Operator: "bob", At: ptsAt("2026-03-10 12:00")}); err != nil {
				t.Fatal(err)
			}
			lot("9", "forever", "50", "2026-03-11 08:00")
		},
		at:   "2026-03-11 09:00",
		want: want{available: "50", lots: []string{"9::50"}, lapsed: "60", recon: [5]string{"170", "40", "40", "0", "120"}},
	}, {
		// As above with L1 expired on 1 April, before Advance: the 40
		// returned expire again; L1's 20 stay in it until Advance.
		name: "returned to an expired lot",
		setup: func(t *testing.T, p *membership.Program, lot func(id, store, amount, at string)) {
			lot("1", "short", "60", "2026-03-10 09:00")
			settleRedeem("40", "2026-03-10 09:30")(t, p)
			lot("9", "forever", "50", "2026-04-02 08:00")
		},
		at:   "2026-04-02 09:00",
		want: want{available: "50", lots: []string{"1::20", "9::50"}, lapsed: "60", recon: [5]string{"110", "40", "40", "40", "0"}},
	}, {
		// L9 is earned the day before (L1 is spent first, expiring
		// first). Refund first: L1's 20 and 40 of L9 are taken; the
		// reversal's 40 to L1 are taken from it and go back to L9.
		// Reversal first: L1 holds 60 again, which the refund takes.
		name: "returned spendable",
		setup: func(t *testing.T, p *membership.Program, lot func(id, store, amount, at string)) {
			lot("9", "forever", "50", "2026-03-09 10:00")
			lot("1", "short", "60", "2026-03-10 09:00")
			settleRedeem("40", "2026-03-10 09:30")(t, p)
		},
		at:   "2026-03-11 09:00",
		want: want{available: "50", lots: []string{"9::50"}, lapsed: "0", recon: [5]string{"110", "40", "-20", "0", "0"}},
	}, {
		// L9 is earned the day before. On 10 March the day freezes L1's 20
		// and L2's 60, and its review waits. Refund first: L1's 20 are
		// taken from frozen, 40 from L9; the reversal's 40, back in frozen
		// L1, are taken from it and go back to L9. Reversal first: frozen
		// L1 holds 60, which the refund takes. The void then takes L2's
		// 60 either way.
		name: "returned into a day awaiting review, voided after",
		setup: func(t *testing.T, p *membership.Program, lot func(id, store, amount, at string)) {
			lot("9", "forever", "50", "2026-03-09 10:00")
			lot("1", "short", "60", "2026-03-10 09:00")
			settleRedeem("40", "2026-03-10 09:30")(t, p)
			mustProcess(t, p, refundBuy("2", "short", "60", "2026-03-10 10:00"))
		},
		at: "2026-03-11 09:00",
		after: func(t *testing.T, p *membership.Program) {
			if _, err := p.Points().Void(ctx, points.ReviewRequest{RequestID: "void", Program: "mall", Member: "m", Date: "2026-03-10", Operator: "bob", At: ptsAt("2026-03-11 12:00")}); err != nil {
				t.Fatal(err)
			}
		},
		want: want{available: "50", lots: []string{"9::50"}, lapsed: "0", recon: [5]string{"170", "40", "-20", "0", "60"}},
	}} {
		for _, order := range []string{"refund first", "reversal first"} {
			t.Run(tc.name+", "+order, func(t *testing.T) {
				p := testkit.OpenMemory(t, refundDef(func(d *points.Definition) {
					d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
				}))
				names := map[string]string{} // lot ID → order
				lot := func(id, store, amount, at string) {
					t.Helper()
					out := mustProcess(t, p, refundBuy(id, store, amount, at))[0]
					pc, _ := ptsChange(t, out, points.ChangeEarned)
					names[pc.Lot] = id
				}
				tc.setup(t, p, lot)
				at := ptsAt(tc.at)
				later := at.Add(59 * 60e9).Format("2006-01-02 15:04")
				steps := []settleStep{settleRefund("rf", "o-1", "60", tc.at), settleReverse("v", "", later)}
				if order == "reversal first" {
					steps = []settleStep{settleReverse("v", "", tc.at), settleRefund("rf", "o-1", "60", later)}
				}
				var outs []*change.Outcome
				for _, s := range steps {
					outs = append(outs, s(t, p))
				}
				if order == "refund first" {
					// The reversal's outcome gives L9 its 40 back.
					fx, err := points.EffectsOf(outs[1])
					if err != nil {
						t.Fatal(err)
					}
					var back []string
					for _, e := range fx.Changes {
						for _, l := range e.GivenBack {
							back = append(back, e.Ref+" "+names[l.Lot]+":"+l.Amount.String())
						}
					}
					if diff := cmp.Diff([]string{"o-1 9:40"}, back); diff != "" {
						t.Errorf("given back (-want +got):\n%s", diff)
					}
					if len(fx.GivenBack) != 1 || !fx.GivenBack[0].Amount.Equal(dec("40")) {
						t.Errorf("Effects.GivenBack %+v, want 40", fx.GivenBack)
					}
				}
				if tc.after != nil {
					tc.after(t, p)
				}
				got := want{available: ptsBalance(t, p, "mall", "m", at.Add(2*60*60e9)).Available.String(), lapsed: settleOrderOf(t, p, "o-1").Lapsed}
				lots, err := p.Points().Lots(ctx, points.LotsQuery{Program: "mall", Member: "m"})
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range lots {
					got.lots = append(got.lots, fmt.Sprintf("%s:%s:%s", names[l.ID], l.Sub, l.Amount))
				}
				r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
				if err != nil {
					t.Fatal(err)
				}
				got.recon = [5]string{r.Earned.String(), r.Redeemed.String(), r.Reversed.String(), r.Expired.String(), r.Voided.String()}
				if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
					t.Errorf("available, lots, o-1 lapsed, earned/redeemed/reversed/expired/voided (-want +got):\n%s", diff)
				}
				ptsCheckBooks(t, p)
			})
		}
	}
}

// TestRefundChargeGivenBackIntoFrozenDay: the lot a refund charged may
// have frozen with its day since; the charge given back goes where the
// lot's points went: into the review, or voided again once the review
// voided the day, never to the balance.
//
// o-1 earns 60 on 9 March (L1), 40 of them are redeemed against x. On 10
// March o-9 earns 50 for good (L9), the refund of all of o-1 takes L1's
// 20 and charges 40 to L9, then o-2 earns 60 (L2): the day reaches 110
// and freezes L9's 10 and L2's 60. The reversal on 11 March returns 40 to
// L1 (spendable), takes them back and gives L9 its 40, as the refund
// would have left L9 whole had the reversal come first (and the freeze
// would then have taken L9's 50).
func TestRefundChargeGivenBackIntoFrozenDay(t *testing.T) {
	ctx := context.Background()
	for _, voided := range []bool{true, false} {
		t.Run(fmt.Sprintf("voided before the reversal %v", voided), func(t *testing.T) {
			p := testkit.OpenMemory(t, refundDef(func(d *points.Definition) {
				d.Programs[0].Risk = &points.Risk{Daily: dec("100"), Policy: points.Freeze}
			}))
			mustProcess(t, p, refundBuy("1", "short", "60", "2026-03-09 09:00"))
			settleRedeem("40", "2026-03-09 09:30")(t, p)
			out := mustProcess(t, p, refundBuy("9", "forever", "50", "2026-03-10 08:00"))[0]
			pc, _ := ptsChange(t, out, points.ChangeEarned)
			l9 := pc.Lot
			settleRefund("rf", "o-1", "60", "2026-03-10 09:00")(t, p)
			mustProcess(t, p, refundBuy("2", "short", "60", "2026-03-10 10:00"))
			review := points.ReviewRequest{RequestID: "review", Program: "mall", Member: "m", Date: "2026-03-10", Operator: "bob", At: ptsAt("2026-03-10 12:00")}
			if voided {
				if _, err := p.Points().Void(ctx, review); err != nil {
					t.Fatal(err)
				}
			}
			out = settleReverse("v", "", "2026-03-11 10:00")(t, p)
			var back []string
			for _, c := range out.ChangesOf(points.ChangeReversed) {
				var pc points.Change
				if err := c.Decode(&pc); err != nil {
					t.Fatal(err)
				}
				if pc.Ref == "o-1" {
					back = append(back, "amount "+pc.Amount.String())
					for _, l := range pc.GivenBack {
						back = append(back, l.Lot+":"+l.Amount.String())
					}
				}
			}
			if diff := cmp.Diff([]string{"amount 0", l9 + ":40"}, back); diff != "" {
				t.Errorf("o-1's points.reversed: amount and lots given back (-want +got):\n%s", diff)
			}
			wantVoided, wantAvailable := "110", "0"
			if voided {
				if vc, _ := ptsChange(t, out, points.ChangeVoided); !vc.Amount.Equal(dec("40")) || vc.Date != "2026-03-10" {
					t.Errorf("voided again %s of %s, want 40 of 2026-03-10", vc.Amount, vc.Date)
				}
			} else {
				if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-11 11:00")); !b.Frozen.Equal(dec("110")) || !b.Available.IsZero() {
					t.Errorf("before the review: %+v, want L9's 50 and L2's 60 frozen", b)
				}
				review.At = ptsAt("2026-03-11 12:00")
				out, err := p.Points().Restore(ctx, review)
				if err != nil {
					t.Fatal(err)
				}
				if rc, _ := ptsChange(t, out, points.ChangeRestored); !rc.Amount.Equal(dec("110")) {
					t.Errorf("restored %s, want 110", rc.Amount)
				}
				wantVoided, wantAvailable = "0", "110"
			}
			if b := ptsBalance(t, p, "mall", "m", ptsAt("2026-03-11 13:00")); !b.Available.Equal(dec(wantAvailable)) || !b.Total().Equal(dec(wantAvailable)) {
				t.Errorf("balance %+v, want %s", b, wantAvailable)
			}
			r, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
			if err != nil {
				t.Fatal(err)
			}
			got := [4]string{r.Earned.String(), r.Redeemed.String(), r.Reversed.String(), r.Voided.String()}
			if diff := cmp.Diff([4]string{"170", "40", "-20", wantVoided}, got); diff != "" {
				t.Errorf("earned, redeemed, reversed, voided (-want +got):\n%s", diff)
			}
			ptsCheckBooks(t, p)
		})
	}
}

// A charge record (points.charged) that names no order of the member's
// with a grant of the lot, or an order whose grant charges a lot nothing
// or less, is damage: the reversal that reads it fails with
// ledger.ErrCorrupt and changes nothing.
func TestSettleDamagedChargeRecord(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// damage rewrites the one charge record (key k) or o-1's order.
		damage func(tx store.Tx, k []byte) error
	}{
		{"no such order", func(tx store.Tx, k []byte) error { return tx.Put("points.charged", k, []byte("o-nowhere")) }},
		{"empty order", func(tx store.Tx, k []byte) error { return tx.Put("points.charged", k, []byte{}) }},
		{"an order with no grant of the lot", func(tx store.Tx, k []byte) error { return tx.Put("points.charged", k, []byte("o-9")) }},
		{"a charge not positive", func(tx store.Tx, _ []byte) error {
			raw, err := tx.Get("points.order", []byte("o-1"))
			if err != nil {
				return err
			}
			// A grant charging a lot makes the order version 2.
			v, js := recordVersion(raw)
			if string(v) != "\x02" {
				return fmt.Errorf("o-1 of version %x, want 2", v)
			}
			var o points.Order
			if err := json.Unmarshal(js, &o); err != nil {
				return err
			}
			if len(o.Grants) != 1 || len(o.Grants[0].Charged) != 1 {
				return fmt.Errorf("o-1: %+v, want one grant charging one lot", o)
			}
			o.Grants[0].Charged[0].Amount = dec("-5")
			if raw, err = json.Marshal(o); err != nil {
				return err
			}
			return tx.Put("points.order", []byte("o-1"), append(v, raw...))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			p, err := membership.Open(st, refundDef(nil))
			if err != nil {
				t.Fatal(err)
			}
			// o-1's L1 is spent first (it expires); the refund charges
			// 40 to L9.
			mustProcess(t, p, refundBuy("9", "forever", "50", "2026-03-09 10:00"), refundBuy("1", "short", "60", "2026-03-10 09:00"))
			settleRedeem("40", "2026-03-10 09:30")(t, p)
			settleRefund("rf", "o-1", "60", "2026-03-11 09:00")(t, p)
			err = st.Update(ctx, func(tx store.Tx) error {
				var ks [][]byte
				err := tx.Scan("points.charged", nil, nil, false, func(k, _ []byte) error {
					ks = append(ks, append([]byte(nil), k...))
					return nil
				})
				if len(ks) != 1 {
					return fmt.Errorf("%d charge records, want 1 (%v)", len(ks), err)
				}
				return tc.damage(tx, ks[0])
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Points().Reverse(ctx, points.ReverseRequest{RequestID: "v", Program: "mall", Ref: "x", At: ptsAt("2026-03-11 10:00")})
			if !errors.Is(err, ledger.ErrCorrupt) {
				t.Fatalf("reverse: %v, want ledger.ErrCorrupt", err)
			}
			ptsWantAvailable(t, p, "mall", "m", ptsAt("2026-03-11 11:00"), "10")
			if rd, err := p.Points().Redemption(ctx, points.RedemptionQuery{Program: "mall", Ref: "x"}); err != nil || !rd.Reversed.IsZero() {
				t.Errorf("redemption after the refused reversal: %+v, %v", rd, err)
			}
		})
	}
}
