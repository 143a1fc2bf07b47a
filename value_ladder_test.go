package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/value"
	"github.com/shopspring/decimal"
)

// valueLadderDef is a stored-value membership (储值会员): ValueDef's
// stored value, recharges carrying a recharge_id, and a ladder whose
// growth comes from recharges (one per yuan, remembered per recharge), a
// recharge's refund taking it back: Card (entry, permanent), Silver Card
// at 500 (one month after, retention 300 over one month, next lower),
// Gold Card at 2,000 (permanent).
func valueLadderDef() membership.Definition {
	def := testkit.ValueDef()
	for i := range def.Events {
		if def.Events[i].Name == "recharge" {
			def.Events[i].Attributes = append(def.Events[i].Attributes, event.Attr{Name: "recharge_id", Kind: event.String, Required: true})
		}
	}
	def.Events = append(def.Events, event.Type{Name: "recharge_refund", Attributes: []event.Attr{
		{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "recharge_id", Kind: event.String, Required: true}}})
	def.Levels = &level.Definition{
		Ladder: []level.Level{
			{Name: "Card", Validity: rule.Validity{Kind: rule.Permanent}},
			{Name: "Silver Card", Upgrade: dec("500"), Retention: dec("300"), Window: 1, Downgrade: level.NextLower,
				Validity: rule.Validity{Kind: rule.MonthsAfter, N: 1}},
			{Name: "Gold Card", Upgrade: dec("2000"), Validity: rule.Validity{Kind: rule.Permanent}},
		},
		Growth: []level.GrowthRule{{ID: "recharge", Event: "recharge", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")},
			Order: &level.OrderRef{ID: "recharge_id", Amount: "amount"}}},
		Refunds: []level.RefundRule{{ID: "recharge-refund", Event: "recharge_refund", Order: "recharge_id", Amount: "amount"}},
	}
	return def
}

// kimRecharge is kim's recharge of amount under the recharge ID id.
func kimRecharge(id, amount string, when time.Time) event.Event {
	return event.Event{ID: id, Member: "kim", Type: "recharge", Time: when,
		Attrs: event.Attrs{"amount": event.Dec(dec(amount)), "recharge_id": event.Str(id)}}
}

// wantGrowthTakenBack checks that out, what, changed growth once, by
// amount down to 0 with shortfall left over, and not the level (before
// the term ends).
func wantGrowthTakenBack(t *testing.T, what string, out *change.Outcome, amount, shortfall string) {
	t.Helper()
	var g level.GrowthChange
	if cs := out.ChangesOf(level.ChangeGrowth); len(cs) != 1 || cs[0].Decode(&g) != nil ||
		!g.Amount.Equal(dec(amount)) || !g.Balance.IsZero() || !g.Shortfall.Equal(dec(shortfall)) {
		t.Errorf("%s: growth change %+v; want %s to 0, shortfall %s", what, g, amount, shortfall)
	}
	if n := len(out.ChangesOf(level.ChangeLevel)); n != 0 {
		t.Errorf("%s changed the level (%d changes) before the term end", what, n)
	}
}

// wantSilverCardEnds advances ps[0] to a nanosecond before end, kim's
// Silver Card term end with growth 0, and then to end: Silver Card is
// kept until then, and Card (no term) from then on, the window having
// earned less than the retention.
func wantSilverCardEnds(t *testing.T, ps [2]*membership.Program, end time.Time) {
	t.Helper()
	ctx := context.Background()
	if _, err := ps[0].Advance(ctx, end.Add(-time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	wantLevel(t, ps[1], "kim", "Silver Card", "0", end)
	if _, err := ps[0].Advance(ctx, end); err != nil {
		t.Fatal(err)
	}
	wantLevel(t, ps[1], "kim", "Card", "0", time.Time{})
}

// SPEC "Levels and growth" on a stored-value ladder ("Stored value": the
// cumulative recharge kept for levels): a recharge upgrades, its refund
// takes the growth back, never below 0, and never downgrades before the
// term ends. On memory, bolt and PostgreSQL, worked by hand (Shanghai):
//
//   - 1 March 10:00, recharge r1 of 600: balance 600, growth 600, Silver
//     Card in the same event, its term to 24:00 of 1 April (2 April 00:00).
//   - 20 March 10:00, recharge r2 of 400: balance 1,000, growth 1,000.
//   - 2 April 00:00 (Advance): the window [2 March, 2 April) earned 400 ≥
//     300, Silver Card kept, growth re-based to 400, the next term from 2
//     April's day to 24:00 of 2 May (3 May 00:00).
//   - 10 April, a refund of 700 of r2 (400): ErrRefundExceedsOrder,
//     nothing changes.
//   - 10 April 10:00, a refund of all of r1 (600): growth takes the 400
//     there is, 0 left, shortfall 200; still Silver Card to 3 May.
//   - 3 May 00:00 less a nanosecond: still Silver Card; at 3 May 00:00 the
//     window [3 April, 3 May) nets −400 < 300: Card, growth 0.
func TestStoredValueLadderRechargeAndItsRefund(t *testing.T) {
	at := refundAt // 2026, Shanghai
	refundOf := func(id, of, amount string, when time.Time) event.Event {
		return event.Event{ID: id, Member: "kim", Type: "recharge_refund", Time: when,
			Attrs: event.Attrs{"amount": event.Dec(dec(amount)), "recharge_id": event.Str(of)}}
	}
	onEveryStore(t, valueLadderDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		out := mustProcess(t, ps[0], kimRecharge("r1", "600", at(3, 1, 10)))[0]
		if len(out.ChangesOf(level.ChangeLevel)) == 0 {
			t.Errorf("r1 changed no level: %v", testkit.Kinds(out, ""))
		}
		wantLevel(t, ps[1], "kim", "Silver Card", "600", at(4, 2, 0))
		mustProcess(t, ps[1], kimRecharge("r2", "400", at(3, 20, 10)))
		wantLevel(t, ps[1], "kim", "Silver Card", "1000", at(4, 2, 0))
		if va, err := ps[0].Value().Account(ctx, "kim"); err != nil || !va.Balance.Equal(dec("1000")) || !va.Recharged.Equal(dec("1000")) {
			t.Errorf("kim's stored value = %+v, %v; want 1,000 recharged and held", va, err)
		}
		if _, err := ps[0].Advance(ctx, at(4, 2, 0)); err != nil {
			t.Fatal(err)
		}
		wantLevel(t, ps[1], "kim", "Silver Card", "400", at(5, 3, 0))
		if _, err := ps[0].Process(ctx, refundOf("x2", "r2", "700", at(4, 10, 9))); !errors.Is(err, membership.ErrRefundExceedsOrder) {
			t.Errorf("a refund of 700 of r2 (400): %v; want ErrRefundExceedsOrder", err)
		}
		wantLevel(t, ps[1], "kim", "Silver Card", "400", at(5, 3, 0))
		out = mustProcess(t, ps[1], refundOf("x1", "r1", "600", at(4, 10, 10)))[0]
		wantGrowthTakenBack(t, "r1's refund", out, "-400", "200")
		wantLevel(t, ps[1], "kim", "Silver Card", "0", at(5, 3, 0))
		wantSilverCardEnds(t, ps, at(5, 3, 0))
	})
}

// withdrawLadderDef is valueLadderDef at version v with a depositor tag
// (a recharge total of 500 or more) and, with withdrawals, a withdrawal
// type "withdraw" (储值退款) named by stored value (when stored is set), by
// the tags' recharge total, and by a growth rule taking back one growth
// per yuan withdrawn (the recharge rule's rate negated).
func withdrawLadderDef(v uint64, withdrawals, stored bool) membership.Definition {
	def := valueLadderDef()
	def.Version = v
	def.Events = append(def.Events, event.Type{Name: "withdraw", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}})
	def.Tags = &tag.Definition{
		Recharge: &tag.Recharge{Event: "recharge", Amount: "amount"},
		Rules:    []tag.Rule{{Tag: "depositor", All: []tag.Cond{{Fact: tag.FactRechargeTotal, Op: event.Gte, Value: event.DecString("500")}}}},
	}
	if withdrawals {
		if stored {
			sv := *def.StoredValue
			sv.Withdraw = "withdraw"
			def.StoredValue = &sv
		}
		def.Tags.Recharge.Withdraw = "withdraw"
		def.Levels.Growth = append(def.Levels.Growth, level.GrowthRule{ID: "withdraw", Event: "withdraw",
			Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("-1")}})
	}
	return def
}

// A stored-value withdrawal (value.Definition.Withdraw) on a stored-value
// ladder: a returned recharge is not a recharge, so the growth it gave is
// taken back (a negative growth rule: down to 0, never downgrading before
// the term ends), the tags' recharge total drops by it, and no refund can
// credit it back. A version adds withdrawals to a running program, and a
// later one removes the type from stored value while a member has
// withdrawn money: the total stays in Account. On memory, bolt and
// PostgreSQL, worked by hand (Shanghai):
//
//   - version 1, no withdrawals. 1 March 10:00, recharge r1 of 600:
//     growth 600, Silver Card to 2 April 00:00, recharge total 600,
//     depositor. 20 March, r2 of 400: growth 1,000, balance 1,000.
//   - 2 April 00:00 (Advance): the window [2 March, 2 April) earned 400 ≥
//     300: Silver Card kept, growth 400, term to 3 May 00:00.
//   - version 2 adds withdrawals. 10 April 09:00, a withdrawal of 1,000.01:
//     ErrInsufficientBalance (1,000 held), nothing changes.
//   - 10 April 10:00, w1 of 700: balance 300, growth takes the 400 there
//     is (0, shortfall 300), still Silver Card to 3 May; recharge total
//     1,000 − 700 = 300 < 500, depositor removed; stored value: 1,000
//     recharged, 700 withdrawn, 0 spent.
//   - a refund of 0.01: ErrRefundExceedsSpend (nothing spent: the
//     withdrawal is no spend).
//   - 3 May 00:00 less a nanosecond: Silver Card; at 3 May 00:00 the
//     window [3 April, 3 May) nets −400 < 300: Card, growth 0.
//   - version 3 removes Withdraw from stored value (the type stays
//     declared, the tags and the growth rule still read it): kim's
//     account keeps its 700 withdrawn; a withdraw event of 100 then moves
//     no money (balance 300) though the tags take it off (200) and growth
//     stays 0.
func TestStoredValueLadderWithdrawal(t *testing.T) {
	at := refundAt // 2026, Shanghai
	onEveryStoreVersions(t, withdrawLadderDef(1, false, false), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		ctx := context.Background()
		wantTags := func(what, total string, depositor bool) {
			t.Helper()
			pr, err := ps[0].Tags().Profile(ctx, "kim")
			if err != nil {
				t.Fatal(err)
			}
			if !pr.Stats.Recharged.Equal(dec(total)) {
				t.Errorf("%s: recharge total %s, want %s", what, pr.Stats.Recharged, total)
			}
			in, err := ps[0].Tags().InSegment(ctx, "kim", tag.MustParse("depositor"))
			if err != nil {
				t.Fatal(err)
			}
			if in != depositor {
				t.Errorf("%s: depositor %v, want %v", what, in, depositor)
			}
		}
		wantValue := func(what string, want value.Account) {
			t.Helper()
			va, err := ps[1].Value().Account(ctx, "kim")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, va, cmp.Comparer(decimal.Decimal.Equal)); diff != "" {
				t.Errorf("%s: stored value (-want +got):\n%s", what, diff)
			}
		}
		mustProcess(t, ps[0], kimRecharge("r1", "600", at(3, 1, 10)))
		wantTags("after r1", "600", true)
		mustProcess(t, ps[1], kimRecharge("r2", "400", at(3, 20, 10)))
		wantLevel(t, ps[1], "kim", "Silver Card", "1000", at(4, 2, 0))
		if _, err := ps[0].Advance(ctx, at(4, 2, 0)); err != nil {
			t.Fatal(err)
		}
		wantLevel(t, ps[1], "kim", "Silver Card", "400", at(5, 3, 0))

		ps = open(withdrawLadderDef(2, true, true))
		if _, err := ps[0].Process(ctx, moneyEvent("w0", "withdraw", "kim", "1000.01", at(4, 10, 9))); !errors.Is(err, membership.ErrInsufficientBalance) {
			t.Errorf("a withdrawal of 1,000.01 of 1,000: %v; want ErrInsufficientBalance", err)
		}
		wantLevel(t, ps[1], "kim", "Silver Card", "400", at(5, 3, 0))
		wantTags("after the refused withdrawal", "1000", true)
		wantValue("after the refused withdrawal", value.Account{Balance: dec("1000"), Recharged: dec("1000")})

		out := mustProcess(t, ps[1], moneyEvent("w1", "withdraw", "kim", "700", at(4, 10, 10)))[0]
		wantGrowthTakenBack(t, "w1", out, "-400", "300")
		if ef, err := value.EffectsOf(out); err != nil || !ef.Withdrawn.Equal(dec("700")) || !ef.Balance.Equal(dec("300")) {
			t.Errorf("w1's stored-value effects: %+v, %v; want 700 withdrawn, 300 held", ef, err)
		}
		wantLevel(t, ps[1], "kim", "Silver Card", "0", at(5, 3, 0))
		wantTags("after w1", "300", false)
		wantValue("after w1", value.Account{Balance: dec("300"), Recharged: dec("1000"), Withdrawn: dec("700")})
		if _, err := ps[0].Process(ctx, moneyEvent("f1", "refund", "kim", "0.01", at(4, 10, 11))); !errors.Is(err, value.ErrRefundExceedsSpend) {
			t.Errorf("a refund after the withdrawal, nothing spent: %v; want ErrRefundExceedsSpend", err)
		}

		wantSilverCardEnds(t, ps, at(5, 3, 0))

		ps = open(withdrawLadderDef(3, true, false))
		wantValue("under version 3", value.Account{Balance: dec("300"), Recharged: dec("1000"), Withdrawn: dec("700")})
		out = mustProcess(t, ps[0], moneyEvent("w2", "withdraw", "kim", "100", at(5, 4, 10)))[0]
		if ef, err := value.EffectsOf(out); err != nil || ef.Changed {
			t.Errorf("w2 under version 3: stored-value effects %+v, %v; want none", ef, err)
		}
		wantValue("after w2", value.Account{Balance: dec("300"), Recharged: dec("1000"), Withdrawn: dec("700")})
		wantTags("after w2", "200", false)
		wantLevel(t, ps[1], "kim", "Card", "0", time.Time{})
		if err := ps[1].Verify(ctx); err != nil {
			t.Error(err)
		}
	})
}
