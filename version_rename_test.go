package membership_test

import (
	"context"
	"errors"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// renameDef is a program whose order event type is named orderType: a
// growth rule and a points rule earn its amount and record its orders,
// and a return refunds them (both domains).
func renameDef(version uint64, orderType string) membership.Definition {
	attrs := []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}, {Name: "order_id", Kind: event.String, Required: true}}
	per := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}
	return membership.Definition{Version: version, Zone: "Asia/Shanghai",
		Events: []event.Type{{Name: orderType, Attributes: attrs}, {Name: "return", Attributes: attrs}},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "Member", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Gold", Upgrade: dec("100"), Validity: rule.Validity{Kind: rule.Permanent}}},
			Growth:  []level.GrowthRule{{ID: "spend", Event: orderType, Formula: per, Order: &level.OrderRef{ID: "order_id", Amount: "amount"}}},
			Refunds: []level.RefundRule{{ID: "return", Event: "return", Order: "order_id", Amount: "amount"}},
		},
		Points: &points.Definition{Programs: []points.Program{{Name: "mall"}},
			Rules:   []points.Rule{{ID: "spend", Program: "mall", Event: orderType, Formula: per, Order: "order_id"}},
			Refunds: []points.Refund{{Event: "return", Order: "order_id", Amount: "amount"}},
		},
	}
}

// A version that renames an event type (order → purchase) still used by
// the events and orders the store holds: the retry of an order event
// processed under version 1 answers its first outcome (Duplicate), a new
// event of the old type is refused (ErrUnknownEventType) and writes
// nothing, and a return under version 2 reverses what the order of the
// old type earned, in both domains, as the order records are kept by
// order ID, not by event type. No code change: this pins it.
//
// ann's order o1 of 150 under version 1 earns 150 growth (Gold at 100)
// and 150 points. Under version 2 her return of 60 of o1 reverses 60 of
// each (150 × 60 ÷ 150): 90 and 90, still Gold (a permanent level). A
// purchase of 10 (o2) earns 10: 100 and 100.
func TestVersionRenamedEventTypeKeepsItsOrders(t *testing.T) {
	ctx := context.Background()
	order := func(id, typ, ord, amount string) event.Event {
		return event.Event{ID: id, Member: "ann", Type: typ, Time: t0,
			Attrs: event.Attrs{"amount": event.Dec(dec(amount)), "order_id": event.Str(ord)}}
	}
	for name, open := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			p, err := membership.Open(st, renameDef(1, "order"))
			if err != nil {
				t.Fatal(err)
			}
			first := mustProcess(t, p, order("e1", "order", "o1", "150"))[0]
			if p, err = membership.Open(st, renameDef(2, "purchase")); err != nil {
				t.Fatal(err)
			}
			again, err := p.Process(ctx, order("e1", "order", "o1", "150"))
			if err != nil || !again.Duplicate || len(again.Changes) != len(first.Changes) || len(again.Changes) == 0 || again.Changes[0].Seq != first.Changes[0].Seq {
				t.Errorf("retry of e1 under version 2 = %+v, %v; want the first outcome, Duplicate", again, err)
			}
			if _, err := p.Process(ctx, order("e9", "order", "o9", "5")); !errors.Is(err, membership.ErrUnknownEventType) {
				t.Errorf("a new event of the old type: %v; want ErrUnknownEventType", err)
			}
			want := func(growth, pts string) {
				t.Helper()
				s, err := p.Levels().Status(ctx, "ann")
				if err != nil {
					t.Fatal(err)
				}
				b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "ann", At: t0})
				if err != nil {
					t.Fatal(err)
				}
				if s.Level != "Gold" || !s.Growth.Equal(dec(growth)) || !b.Main.Equal(dec(pts)) {
					t.Errorf("ann: %s, growth %s, points %s; want Gold, %s, %s", s.Level, s.Growth, b.Main, growth, pts)
				}
			}
			want("150", "150")
			mustProcess(t, p, order("e2", "return", "o1", "60"))
			want("90", "90")
			mustProcess(t, p, order("e3", "purchase", "o2", "10"))
			want("100", "100")
			if err := p.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
