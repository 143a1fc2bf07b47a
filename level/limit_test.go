package level_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/value"
)

// limitDef is a ladder of two levels whose growth comes from recharges
// of stored value (ten times the amount, to the cent) and from orders
// (the amount, reversed by a return of the order).
func limitDef() membership.Definition {
	def := testkit.ValueDef()
	def.Events = append(def.Events, event.Type{Name: "return", Attributes: []event.Attr{
		{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String, Required: true}}})
	for i := range def.Events {
		if def.Events[i].Name == "order" {
			def.Events[i].Attributes = append(def.Events[i].Attributes, event.Attr{Name: "order_id", Kind: event.String})
		}
	}
	def.Levels = &level.Definition{
		Ladder: []level.Level{
			{Name: "Entry", Validity: rule.Validity{Kind: rule.Permanent}},
			{Name: "Gold", Upgrade: testkit.Dec("100"), Validity: rule.Validity{Kind: rule.Permanent}},
		},
		Rounding: rule.Rounding{Scale: 2},
		Growth: []level.GrowthRule{
			{ID: "recharge", Event: "recharge", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("10")}},
			{ID: "order", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")},
				Order: &level.OrderRef{ID: "order_id", Amount: "amount"}},
		},
		Refunds: []level.RefundRule{{ID: "return", Event: "return", Order: "order_id", Amount: "amount"}},
	}
	return def
}

// A member's growth, lifetime growth and growth of a day keep to the limit
// on decimals each amount keeps to (40 digits): an event that would take
// one past it is refused with event.ErrTooLarge, changes nothing (the
// recharge's stored value included) and leaves its ID free. A recharge of
// 9e38 earns 9e39 of growth, of 40 digits; a second one would make
// 1.8e40, of 41, though the cumulative recharge, 1.8e39, is within the
// limit (so stored value's own check, value.ErrInvalidAmount, does not
// refuse it). Growth is rounded to two places here, and 9e39 at two
// places (9000…000.00) is 40 digits as it reads, not 42. An order of 1e39
// then one of 0.01 would make 1e39 + 0.01, of 42 significant digits. For a day's growth: an order of 9e39 on 10 March
// earns 9e39; its return, dated 1 March (an event arriving late), takes
// it back there (growth and lifetime 0, 1 March at -9e39); a second order
// of 9e39 on 10 March keeps growth and lifetime at 9e39 but would make 10
// March's growth 1.8e40.
func TestGrowthKeepsToTheLimit(t *testing.T) {
	ctx := context.Background()
	e39 := func(lead string) string { return lead + strings.Repeat("0", 40-len(lead)) } // lead followed by zeros: 40 digits
	e38 := func(lead string) string { return lead + strings.Repeat("0", 39-len(lead)) }
	march := func(day, hour int) time.Time { return time.Date(2026, 3, day, hour, 0, 0, 0, zone) }
	recharge := func(id, amount string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "m", Type: "recharge", Time: at, Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	order := func(id, orderID, amount string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "m", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.DecString(amount), "order_id": event.Str(orderID)}}
	}
	ret := event.Event{ID: "ret", Member: "m", Type: "return", Time: march(1, 10), Attrs: event.Attrs{"amount": event.DecString(e39("9")), "order_id": event.Str("A")}}
	for _, tc := range []struct {
		name     string
		before   []event.Event
		refused  event.Event
		growth   string // growth and lifetime after the refusal
		lifetime string
		stored   string // stored-value balance after the refusal
		days     []level.GrowthDay
	}{
		{name: "growth", before: []event.Event{recharge("r1", e38("9"), march(10, 9))}, refused: recharge("x", e38("9"), march(10, 10)),
			growth: e39("9"), lifetime: e39("9"), stored: e38("9"),
			days: []level.GrowthDay{{Day: rule.Date{Year: 2026, Month: 3, Day: 10}, Growth: testkit.Dec(e39("9"))}}},
		{name: "growth's significant digits", before: []event.Event{order("o1", "A", e39("1"), march(10, 9))}, refused: order("x", "B", "0.01", march(10, 10)),
			growth: e39("1"), lifetime: e39("1"), stored: "0",
			days: []level.GrowthDay{{Day: rule.Date{Year: 2026, Month: 3, Day: 10}, Growth: testkit.Dec(e39("1"))}}},
		{name: "a day's growth", before: []event.Event{order("o1", "A", e39("9"), march(10, 9)), ret}, refused: order("x", "B", e39("9"), march(10, 11)),
			growth: "0", lifetime: "0", stored: "0",
			days: []level.GrowthDay{{Day: rule.Date{Year: 2026, Month: 3, Day: 1}, Growth: testkit.Dec("-" + e39("9"))}, {Day: rule.Date{Year: 2026, Month: 3, Day: 10}, Growth: testkit.Dec(e39("9"))}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testkit.OpenMemory(t, limitDef())
			mustProcess(t, p, tc.before...)
			feed, err := p.Feed(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Process(ctx, tc.refused)
			if !errors.Is(err, event.ErrTooLarge) || errors.Is(err, value.ErrInvalidAmount) {
				t.Fatalf("Process: %v; want event.ErrTooLarge from the growth, not value.ErrInvalidAmount", err)
			}
			s, err := p.Levels().Status(ctx, "m")
			if err != nil {
				t.Fatal(err)
			}
			if !s.Growth.Equal(testkit.Dec(tc.growth)) || !s.Lifetime.Equal(testkit.Dec(tc.lifetime)) {
				t.Errorf("after the refusal: growth %s, lifetime %s; want %s, %s", s.Growth, s.Lifetime, tc.growth, tc.lifetime)
			}
			days, err := p.Levels().GrowthDays(ctx, "m", rule.Date{Year: 2026, Month: 1, Day: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != len(tc.days) {
				t.Fatalf("growth days %+v, want %+v", days, tc.days)
			}
			for i := range days {
				if days[i].Day != tc.days[i].Day || !days[i].Growth.Equal(tc.days[i].Growth) {
					t.Errorf("growth day %d: %+v, want %+v", i, days[i], tc.days[i])
				}
			}
			va, err := p.Value().Account(ctx, "m")
			if err != nil || !va.Balance.Equal(testkit.Dec(tc.stored)) {
				t.Errorf("stored value after the refusal: %+v, %v; want a balance of %s", va, err, tc.stored)
			}
			if f, _ := p.Feed(ctx, 0, 100); len(f) != len(feed) {
				t.Errorf("feed has %d changes after the refusal, want %d", len(f), len(feed))
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
			// The ID is free: the same ID with an amount that fits.
			if _, err := p.Process(ctx, recharge("x", "1", march(10, 12))); err != nil {
				t.Errorf("a recharge of 1 under the refused event's ID: %v", err)
			}
		})
	}
	// Up to the limit: two recharges of 4.5e38 earn 9e39.
	p := testkit.OpenMemory(t, limitDef())
	mustProcess(t, p, recharge("r1", e38("45"), march(10, 9)), recharge("r2", e38("45"), march(10, 10)))
	if s, err := p.Levels().Status(ctx, "m"); err != nil || !s.Growth.Equal(testkit.Dec(e39("9"))) || !s.Lifetime.Equal(testkit.Dec(e39("9"))) {
		t.Errorf("two recharges of 4.5e38: %+v, %v; want growth and lifetime 9e39", s, err)
	}
}
