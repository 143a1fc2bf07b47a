package points_test

import (
	"context"
	"fmt"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/memory"
	"github.com/shopspring/decimal"
)

// A refund event takes back, in proportion, the points its order earned:
// a third of a 300.00 order refunded reverses a third of its 300 points.
func ExampleEffectsOf_refund() {
	ctx := context.Background()
	attrs := []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true}}
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: attrs}, {Name: "refund", Attributes: attrs}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Order: "order_id",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)}}},
			Refunds: []points.Refund{{Event: "refund", Order: "order_id", Amount: "amount"}},
		},
	}
	p, err := membership.Open(memory.New(), def)
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, p.Location())
	ev := func(id, typ, amount string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "alice", Type: typ, Time: at,
			Attrs: event.Attrs{"order_id": event.Str("A-1"), "amount": event.DecString(amount)}}
	}
	for _, e := range []event.Event{ev("o1", "order", "300.00", at), ev("r1", "refund", "100.00", at.Add(time.Hour))} {
		out, err := p.Process(ctx, e)
		if err != nil {
			panic(err)
		}
		fx, err := points.EffectsOf(out)
		if err != nil {
			panic(err)
		}
		for _, a := range fx.Earned {
			fmt.Println(e.ID, "earned", a.Amount)
		}
		for _, a := range fx.Reversed {
			fmt.Println(e.ID, "reversed", a.Amount)
		}
	}
	bal, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: at.Add(2 * time.Hour)})
	if err != nil {
		panic(err)
	}
	fmt.Println("available", bal.Available)
	// Output:
	// o1 earned 300
	// r1 reversed 100
	// available 200
}
