package membership_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
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
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, shanghai) }
	rc := func(id, amount string, when time.Time) event.Event {
		return event.Event{ID: id, Member: "kim", Type: "recharge", Time: when,
			Attrs: event.Attrs{"amount": event.Dec(dec(amount)), "recharge_id": event.Str(id)}}
	}
	refundOf := func(id, of, amount string, when time.Time) event.Event {
		return event.Event{ID: id, Member: "kim", Type: "recharge_refund", Time: when,
			Attrs: event.Attrs{"amount": event.Dec(dec(amount)), "recharge_id": event.Str(of)}}
	}
	onEveryStore(t, valueLadderDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		want := func(what, lvl, growth string, termEnd time.Time) {
			t.Helper()
			s, err := ps[1].Levels().Status(ctx, "kim")
			if err != nil {
				t.Fatal(err)
			}
			if s.Level != lvl || !s.Growth.Equal(dec(growth)) || !s.TermEnd.Equal(termEnd) {
				t.Errorf("%s: %s, growth %s, term to %v; want %s, %s, to %v", what, s.Level, s.Growth, s.TermEnd, lvl, growth, termEnd)
			}
		}
		out := mustProcess(t, ps[0], rc("r1", "600", at(3, 1, 10)))[0]
		if len(out.ChangesOf(level.ChangeLevel)) == 0 {
			t.Errorf("r1 changed no level: %v", testkit.Kinds(out, ""))
		}
		want("after r1", "Silver Card", "600", at(4, 2, 0))
		mustProcess(t, ps[1], rc("r2", "400", at(3, 20, 10)))
		want("after r2", "Silver Card", "1000", at(4, 2, 0))
		if va, err := ps[0].Value().Account(ctx, "kim"); err != nil || !va.Balance.Equal(dec("1000")) || !va.Recharged.Equal(dec("1000")) {
			t.Errorf("kim's stored value = %+v, %v; want 1,000 recharged and held", va, err)
		}
		if _, err := ps[0].Advance(ctx, at(4, 2, 0)); err != nil {
			t.Fatal(err)
		}
		want("after the first term end", "Silver Card", "400", at(5, 3, 0))
		if _, err := ps[0].Process(ctx, refundOf("x2", "r2", "700", at(4, 10, 9))); !errors.Is(err, membership.ErrRefundExceedsOrder) {
			t.Errorf("a refund of 700 of r2 (400): %v; want ErrRefundExceedsOrder", err)
		}
		want("after the refused refund", "Silver Card", "400", at(5, 3, 0))
		out = mustProcess(t, ps[1], refundOf("x1", "r1", "600", at(4, 10, 10)))[0]
		var g level.GrowthChange
		if cs := out.ChangesOf(level.ChangeGrowth); len(cs) != 1 || cs[0].Decode(&g) != nil ||
			!g.Amount.Equal(dec("-400")) || !g.Balance.IsZero() || !g.Shortfall.Equal(dec("200")) {
			t.Errorf("r1's refund: growth change %+v; want −400 to 0, shortfall 200", g)
		}
		if n := len(out.ChangesOf(level.ChangeLevel)); n != 0 {
			t.Errorf("r1's refund changed the level (%d changes) before the term end", n)
		}
		want("after r1's refund", "Silver Card", "0", at(5, 3, 0))
		if _, err := ps[0].Advance(ctx, at(5, 3, 0).Add(-time.Nanosecond)); err != nil {
			t.Fatal(err)
		}
		want("a nanosecond before the term end", "Silver Card", "0", at(5, 3, 0))
		if _, err := ps[0].Advance(ctx, at(5, 3, 0)); err != nil {
			t.Fatal(err)
		}
		want("at the term end", "Card", "0", time.Time{})
	})
}
