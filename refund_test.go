package membership_test

import (
	"context"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/ledger"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// One refund event reverses, in proportion, both the points and the growth
// its order earned (the return policy), and the books still reconcile.
func TestRefundReversesPointsAndGrowthTogether(t *testing.T) {
	ctx := context.Background()
	def := lvlDef(level.NextLower)
	def.Events = append(def.Events, event.Type{Name: "refund", Attributes: []event.Attr{
		{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true}}})
	def.Levels.Refunds = append(def.Levels.Refunds, level.RefundRule{ID: "refund", Event: "refund", Order: "order_id", Amount: "amount"})
	def.Points = &points.Definition{
		Programs: []points.Program{{Name: "mall"}},
		Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Order: "order_id",
			Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("2")}}},
		Refunds: []points.Refund{{Event: "refund", Order: "order_id", Amount: "amount"}},
	}
	for _, tc := range []struct {
		name string
		open func(testing.TB, membership.Definition) *membership.Program
	}{{"memory", openMemory}, {"bolt", openBolt}} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.open(t, def)
			mustProcess(t, p, lvlOrder("o1", "alice", "200", "ord-1", t0))
			mustProcess(t, p, event.Event{ID: "r1", Member: "alice", Type: "refund", Time: t0.Add(1e9),
				Attrs: event.Attrs{"order_id": event.Str("ord-1"), "amount": event.Dec(dec("50"))}})
			st, err := p.LevelStatus(ctx, "alice")
			// 200 from the order + 30 Silver gift − 50 reversed (the gift
			// stays: it was earned by reaching the level, not by the order).
			if err != nil || !st.Growth.Equal(dec("180")) {
				t.Errorf("growth after refunding a quarter = %s, %v; want 180", st.Growth, err)
			}
			bal, err := p.PointsBalance(ctx, "mall", "alice", t0.Add(2e9))
			if err != nil || !bal.Available.Equal(dec("300")) {
				t.Errorf("points after refunding a quarter = %s, %v; want 300", bal.Available, err)
			}
			rec, err := p.PointsReconciliation(ctx, "mall", "", "")
			if err != nil || !rec.Holds() {
				t.Errorf("reconciliation %+v, %v", rec, err)
			}
			totals, err := p.Totals(ctx, ledger.Growth, "", "")
			if err != nil || totals["reversed"].String() != "-50" {
				t.Errorf("growth totals = %v, %v", totals, err)
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}
