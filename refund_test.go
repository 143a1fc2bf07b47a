package membership_test

import (
	"context"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// One refund event reverses, in proportion, both the points and the growth
// its order earned (the return policy), and the books still reconcile.
func TestRefundReversesPointsAndGrowthTogether(t *testing.T) {
	ctx := context.Background()
	permanent := rule.Validity{Kind: rule.Permanent}
	def := membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "refund", Attributes: []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "Member", Validity: permanent}, {Name: "Silver", Upgrade: dec("100"), Validity: permanent}},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")},
				Order: &level.OrderRef{ID: "order_id", Amount: "amount"}}},
			Refunds: []level.RefundRule{{ID: "refund", Event: "refund", Order: "order_id", Amount: "amount"}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Order: "order_id",
				Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("2")}}},
			Refunds: []points.Refund{{Event: "refund", Order: "order_id", Amount: "amount"}},
		},
	}
	attrs := func(amount string) event.Attrs {
		return event.Attrs{"order_id": event.Str("ord-1"), "amount": event.DecString(amount)}
	}
	for name, open := range map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{
		"memory": testkit.OpenMemory, "bolt": testkit.OpenBolt,
	} {
		t.Run(name, func(t *testing.T) {
			p := open(t, def)
			mustProcess(t, p,
				event.Event{ID: "o1", Member: "alice", Type: "order", Time: t0, Attrs: attrs("200")},
				event.Event{ID: "r1", Member: "alice", Type: "refund", Time: t0.Add(1e9), Attrs: attrs("50")})
			// A quarter of the order refunded: 200 growth − 50, 400 points − 100.
			st, err := p.Levels().Status(ctx, "alice")
			if err != nil || !st.Growth.Equal(dec("150")) {
				t.Errorf("growth after refunding a quarter = %s, %v; want 150", st.Growth, err)
			}
			bal, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "alice", At: t0.Add(2e9)})
			if err != nil || !bal.Available.Equal(dec("300")) {
				t.Errorf("points after refunding a quarter = %s, %v; want 300", bal.Available, err)
			}
			rec, err := p.Points().Reconciliation(ctx, points.ReconciliationQuery{Program: "mall"})
			if err != nil || !rec.Holds() {
				t.Errorf("reconciliation %+v, %v", rec, err)
			}
			totals, err := p.Totals(ctx, ledger.Growth, "", "")
			if err != nil || totals[level.KindReversed].String() != "-50" {
				t.Errorf("growth totals = %v, %v", totals, err)
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}
