package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/memberkit/membership"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// 64 goroutines on four instances each redeem 3 points twice from one
// member who earned 100: 33 redemptions (99 points) go through, the other
// 95 of the 128 are refused, 1 point is left, and the ledger verifies.
func TestPointsSpentOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []mevent.Type{{Name: "order", Attributes: []mevent.Attr{{Name: "amount", Kind: mevent.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order",
				Formula:  rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")},
				Validity: rule.Validity{Kind: rule.DaysAfter, N: 365}}},
		},
	}
	programs, stores := openPrograms(t, 4, def)
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, programs[0].Location())
	order := mevent.Event{ID: "o1", Member: "bob", Type: "order", Time: at, Attrs: mevent.Attrs{"amount": mevent.DecString("100")}}
	if _, err := programs[0].Process(ctx, order); err != nil {
		t.Fatal(err)
	}
	ok, refused := spendAtOnce(t, programs, membership.ErrInsufficientBalance, func(p *membership.Program, id string) error {
		_, err := p.Points().Redeem(ctx, points.RedeemRequest{RequestID: id, Member: "bob", At: at.Add(time.Hour),
			Program: "mall", Ref: id, Amount: testkit.Dec("3")})
		return err
	})
	if ok != 33 || refused != 95 {
		t.Errorf("redeemed %d, refused %d; want 33 and 95", ok, refused)
	}
	for i, p := range programs {
		b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "bob", At: at.Add(2 * time.Hour)})
		if err != nil || !b.Available.Equal(testkit.Dec("1")) || !b.Main.Equal(testkit.Dec("1")) {
			t.Errorf("program %d: balance %+v, %v; want 1 available", i, b, err)
		}
	}
	if err := programs[1].Verify(ctx); err != nil {
		t.Error(err)
	}
	var retries int64
	for _, st := range stores {
		retries += st.Stats().Retries
	}
	t.Logf("128 redemptions on 4 programs: %d retries", retries)
}
