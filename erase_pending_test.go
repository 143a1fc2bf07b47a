package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// erasePendingDef has what waits on an operator: adjustments above 100
// wait for approval, a day earning 500 points or more is frozen for
// review, Silver (growth 100) gives a coupon of which one is in stock,
// and a coupon of 5 may be locked for an order.
func erasePendingDef() membership.Definition {
	dec := decimal.RequireFromString
	hundred := dec("100")
	permanent := rule.Validity{Kind: rule.Permanent}
	month := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}
	perAmount := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}
	return membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Entry", Validity: permanent},
				{Name: "Silver", Upgrade: hundred, Validity: permanent, Gifts: []rule.Reward{{Kind: rule.RewardCoupon, Template: "silver-gift"}}},
			},
			Growth: []level.GrowthRule{{ID: "order", Event: "order", Formula: perAmount}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall", ApprovalAbove: &hundred, Risk: &points.Risk{Daily: dec("500"), Policy: points.Freeze}}},
			Rules:    []points.Rule{{ID: "order", Program: "mall", Event: "order", Formula: perAmount}},
		},
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "silver-gift", Type: coupon.Cash, Amount: dec("20"), Stock: 1, Use: month},
			{Name: "five", Type: coupon.Cash, Amount: dec("5"), Use: month},
		}},
	}
}

// TestEraseClosesWhatWaitsOnAnOperator: once a member is erased, no call
// can decide what of theirs waits on an operator (Approve, Reject,
// Restore, Void, Use, Release and GrantOwed are refused with ErrErased),
// so Erase closes it in its unit of work, giving nothing no operator
// approved. By hand, on 2 March 2026 (Shanghai): bob orders 100 at 09:00
// (Silver, its gift coupon: the one in stock) and 450 at 09:30 (550
// points that day: frozen); ann orders 200 at 10:00 (Silver, the gift
// refused: owed) and 400 at 11:00 (600 that day: both lots frozen),
// claims a coupon of 5 at 12:00 and locks it for order shop-9 at 12:30
// (no hold); op.li asks +300 for ann, +200 for bob and +150 for cy at
// 13:00 (above 100: pending). Erasing ann on 3 March at 10:00 (operator
// dpo) drops the owed gift, rejects her adjustment, voids her frozen day
// (600 to the voided pool: 0 left in every account) and releases her
// coupon, each published in the erasure's outcome before member.erased;
// bob's adjustment and review stay pending, and are decided as before.
// An erasure dated before what it would close (cy's adjustment) is
// refused and changes nothing.
func TestEraseClosesWhatWaitsOnAnOperator(t *testing.T) {
	ctx := context.Background()
	dec := decimal.RequireFromString
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(newStore(), erasePendingDef())
			if err != nil {
				t.Fatal(err)
			}
			loc := p.Location()
			at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, loc) }
			order := func(id, member, amount string, t0 time.Time) event.Event {
				return event.Event{ID: id, Member: member, Type: "order", Time: t0, Attrs: event.Attrs{"amount": event.DecString(amount)}}
			}
			must := func(_ any, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			pts, cps := p.Points(), p.Coupons()
			for _, ev := range []event.Event{
				order("b1", "bob", "100", at(2, 9, 0)), order("b2", "bob", "450", at(2, 9, 30)),
				order("a1", "ann", "200", at(2, 10, 0)), order("a2", "ann", "400", at(2, 11, 0)),
			} {
				must(p.Process(ctx, ev))
			}
			claimed, err := cps.Claim(ctx, coupon.ClaimRequest{RequestID: "claim-ann", Member: "ann", Template: "five", At: at(2, 12, 0)})
			if err != nil {
				t.Fatal(err)
			}
			code := claimed.Coupons[0].Code
			must(cps.Lock(ctx, coupon.LockRequest{RequestID: "lock-ann", Coupons: []string{claimed.Coupons[0].ID},
				Order: coupon.Order{ID: "shop-9", Member: "ann", Store: "s1", Time: at(2, 12, 30), Lines: []coupon.Line{{Product: "tea", Amount: dec("50")}}}}))
			for _, m := range []struct{ member, amount string }{{"ann", "300"}, {"bob", "200"}, {"cy", "150"}} {
				res, err := pts.Adjust(ctx, points.AdjustRequest{RequestID: "adj-" + m.member, Member: m.member, Operator: "op.li", Note: "goodwill",
					At: at(2, 13, 0), Program: "mall", Amount: dec(m.amount)})
				if err != nil || res.Adjustment.State != points.AdjustmentPending {
					t.Fatalf("adjustment of %s: %+v, %v; want pending", m.member, res.Adjustment, err)
				}
			}
			reviews := func(want ...string) {
				t.Helper()
				rs, err := pts.Reviews(ctx, "mall", 0)
				if err != nil {
					t.Fatal(err)
				}
				got := []string{}
				for _, r := range rs {
					got = append(got, r.Member+" "+r.Date+" "+r.Earned.String())
				}
				if want == nil {
					want = []string{}
				}
				if len(got) != len(want) || (len(want) > 0 && got[0] != want[0]) || (len(want) > 1 && got[1] != want[1]) {
					t.Errorf("reviews waiting: %q, want %q", got, want)
				}
			}
			balance := func(member, main, frozen string) {
				t.Helper()
				b, err := pts.Balance(ctx, points.BalanceQuery{Program: "mall", Member: member, At: at(3, 11, 0)})
				if err != nil || !b.Main.Equal(dec(main)) || !b.Frozen.Equal(dec(frozen)) || !b.Pending.IsZero() {
					t.Errorf("%s's points: %+v (%v), want main %s, frozen %s, none pending", member, b, err, main, frozen)
				}
			}
			owed := func(member string, want int) {
				t.Helper()
				if s, err := p.Levels().Status(ctx, member); err != nil || s.Level != "Silver" || len(s.Owed) != want {
					t.Errorf("%s's level: %+v (%v), want Silver with %d gift owed", member, s, err, want)
				}
			}
			// Before: what waits on an operator.
			reviews("ann 2026-03-02 600", "bob 2026-03-02 550")
			balance("ann", "0", "600")
			owed("ann", 1)
			if c, err := cps.ByCode(ctx, code); err != nil || c.State != coupon.Locked || c.Order != "shop-9" {
				t.Errorf("ann's coupon before: %+v (%v), want locked for shop-9", c, err)
			}

			// An erasure dated before cy's adjustment was asked is refused.
			_, err = p.Erase(ctx, membership.EraseRequest{RequestID: "erase-cy", Member: "cy", Operator: "dpo", At: at(2, 12, 59)})
			if !errors.Is(err, membership.ErrInvalidArgument) {
				t.Errorf("cy erased before the adjustment it would reject: %v, want ErrInvalidArgument", err)
			}
			if _, erased, err := p.Erased(ctx, "cy"); err != nil || erased {
				t.Errorf("cy erased: %v (%v), want not", erased, err)
			}
			if a, err := pts.Adjustment(ctx, "adj-cy"); err != nil || a.State != points.AdjustmentPending || a.Reason != "goodwill" {
				t.Errorf("cy's adjustment after the refused erasure: %+v (%v), want pending, its reason kept", a, err)
			}

			erasedAt := at(3, 10, 0)
			erase := membership.EraseRequest{RequestID: "erase-ann", Member: "ann", Operator: "dpo", At: erasedAt}
			out, err := p.Erase(ctx, erase)
			if err != nil {
				t.Fatal(err)
			}
			wantKinds := []string{level.ChangeGiftDropped, points.ChangeAdjustmentRejected, points.ChangeVoided, coupon.ChangeReleased, membership.ChangeErased}
			if len(out.Changes) != len(wantKinds) {
				t.Fatalf("erasure's changes: %+v, want %q", out.Changes, wantKinds)
			}
			for i, c := range out.Changes {
				if c.Kind != wantKinds[i] || c.Member != "ann" {
					t.Errorf("erasure's change %d: %s of %s, want %s of ann", i, c.Kind, c.Member, wantKinds[i])
				}
			}
			le, err := level.EffectsOf(out)
			if err != nil || len(le.Dropped) != 1 || le.Dropped[0].Level != "Silver" || le.Dropped[0].Reward.Template != "silver-gift" {
				t.Errorf("level effects of the erasure: %+v (%v), want Silver's silver-gift dropped", le, err)
			}
			pe, err := points.EffectsOf(out)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(pe.Changes); n != 2 {
				t.Fatalf("points effects of the erasure: %+v, want the rejection and the void", pe.Changes)
			}
			if r := pe.Changes[0]; r.Adjustment == nil || r.Adjustment.ID != "adj-ann" || r.Adjustment.Reason != "" || r.Operator != "dpo" ||
				r.Reason == nil || r.Reason.Note != "closed by the member's erasure" {
				t.Errorf("the rejection: %+v (%+v), want adj-ann, no reason given, by dpo, noting the erasure", r, r.Reason)
			}
			if v := pe.Changes[1]; !v.Amount.Equal(dec("600")) || v.Date != "2026-03-02" || v.Operator != "dpo" ||
				v.Reason == nil || v.Reason.Note != "review of 2026-03-02 by dpo: closed by the member's erasure" {
				t.Errorf("the void: %+v (%+v), want 600 of 2026-03-02 by dpo, noting the erasure", v, v.Reason)
			}
			ce, err := coupon.EffectsOf(out)
			if err != nil || len(ce.Released) != 1 || ce.Released[0].Code != code || ce.Released[0].State != coupon.Available {
				t.Errorf("coupon effects of the erasure: %+v (%v), want ann's coupon released available", ce, err)
			}

			// After: nothing of ann's waits, and nothing was given her.
			reviews("bob 2026-03-02 550")
			if rv, err := pts.Review(ctx, points.DayQuery{Program: "mall", Member: "ann", Date: "2026-03-02"}); err != nil ||
				rv.State != points.ReviewVoided || rv.Operator != "dpo" || !rv.Decided.Equal(erasedAt) {
				t.Errorf("ann's review: %+v (%v), want voided by dpo at %v", rv, err, erasedAt)
			}
			balance("ann", "0", "0")
			pg, err := p.Statement(ctx, ledger.Query{Account: ledger.MemberAccount("ann", ledger.Points("mall"), points.SubFrozen), Limit: 10})
			// An entry per lot: a1's 200 and a2's 400 frozen, then voided.
			if err != nil || len(pg.Entries) != 4 {
				t.Fatalf("ann's frozen points: %+v (%v), want two lots frozen, then voided", pg.Entries, err)
			}
			for i, amount := range []string{"-200", "-400"} {
				if v := pg.Entries[2+i]; v.Kind != points.KindVoided || !v.Amount.Equal(dec(amount)) || v.Ref.Event != "erase-ann" || v.Ref.Operator != "dpo" {
					t.Errorf("the void's entry %d: %+v, want %s voided by erase-ann, dpo", i, v, amount)
				}
			}
			if a, err := pts.Adjustment(ctx, "adj-ann"); err != nil || a.State != points.AdjustmentRejected || a.Decider != "dpo" ||
				!a.Decided.Equal(erasedAt) || a.Requester != "op.li" || !a.Amount.Equal(dec("300")) || a.Reason != "" {
				t.Errorf("ann's adjustment: %+v (%v), want +300 of op.li rejected by dpo at %v, no reason", a, err, erasedAt)
			}
			if c, err := cps.ByCode(ctx, code); err != nil || c.State != coupon.Available || c.Order != "" || !c.Changed.Equal(erasedAt) {
				t.Errorf("ann's coupon: %+v (%v), want available since %v", c, err, erasedAt)
			}
			owed("ann", 0)
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}

			// The calls that would have closed them are refused.
			refused := func(what string, err error, want error) {
				t.Helper()
				if !errors.Is(err, want) {
					t.Errorf("%s: %v, want %v", what, err, want)
				}
			}
			_, err = pts.Approve(ctx, points.DecideRequest{RequestID: "approve-ann", Operator: "op.wang", At: at(3, 11, 0), Adjustment: "adj-ann"})
			refused("approving ann's adjustment", err, membership.ErrErased)
			_, err = pts.Restore(ctx, points.ReviewRequest{RequestID: "restore-ann", Member: "ann", Operator: "op.wang", At: at(3, 11, 0), Program: "mall", Date: "2026-03-02"})
			refused("restoring ann's day", err, membership.ErrErased)
			_, err = p.Levels().GrantOwed(ctx, level.GrantOwedRequest{RequestID: "owed-ann", Member: "ann", Operator: "op.wang", At: at(3, 11, 0)})
			refused("granting ann's owed gifts", err, membership.ErrErased)
			_, err = cps.Use(ctx, coupon.OrderRequest{RequestID: "use-9", Order: "shop-9", At: at(3, 11, 0)})
			refused("using shop-9's coupons", err, coupon.ErrNotFound) // none is locked for it

			// bob's wait as they did, and are decided as before.
			if a, err := pts.Adjustment(ctx, "adj-bob"); err != nil || a.State != points.AdjustmentPending || a.Reason != "goodwill" {
				t.Errorf("bob's adjustment: %+v (%v), want pending", a, err)
			}
			must(pts.Approve(ctx, points.DecideRequest{RequestID: "approve-bob", Operator: "op.wang", At: at(3, 11, 0), Adjustment: "adj-bob"}))
			must(pts.Restore(ctx, points.ReviewRequest{RequestID: "restore-bob", Member: "bob", Operator: "op.wang", At: at(3, 11, 0), Program: "mall", Date: "2026-03-02"}))
			reviews()
			balance("bob", "750", "0") // 100 + 450 restored + 200 approved

			// The erasure's retry returns its outcome; ann's coupon expires
			// in due course.
			again, err := p.Erase(ctx, erase)
			if err != nil || !again.Duplicate || len(again.Changes) != len(wantKinds) {
				t.Errorf("the erasure again: %+v (%v), want its first outcome", again, err)
			}
			must(p.Advance(ctx, at(2, 12, 0).AddDate(0, 0, 40)))
			if c, err := cps.ByCode(ctx, code); err != nil || c.State != coupon.Expired {
				t.Errorf("ann's coupon 40 days on: %+v (%v), want expired", c, err)
			}
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
