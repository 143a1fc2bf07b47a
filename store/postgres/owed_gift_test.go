package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	mevent "github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store/postgres"
)

// An upgrade gift's coupon refused (out of stock) is owed; after a
// restock, 16 events and operator requests of the owed member at once,
// through four instances, grant it exactly once: the first transaction to
// commit takes it out of the member's level record, and the others,
// conflicting on that record, run again and find nothing owed.
func TestOwedGiftOnSeveralInstances(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	schema := newSchema(t, pool)
	open := func(def membership.Definition) *membership.Program {
		t.Helper()
		st, err := postgres.New(ctx, pool, &postgres.Options{Schema: schema, MaxAttempts: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		p, err := membership.Open(st, def)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	def := testkit.LadderDef("")
	def.Levels.Ladder[2].Gifts = append(def.Levels.Ladder[2].Gifts, rule.Reward{Kind: rule.RewardCoupon, Template: "silver-cash"})
	def.Coupons = &coupon.Definition{Templates: []coupon.Template{{Name: "silver-cash", Type: coupon.Cash, Amount: testkit.Dec("20"), Stock: 1,
		Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}}}}
	at := time.Date(2026, 1, 15, 10, 0, 0, 0, testkit.Shanghai)
	order := func(id, member, amount string, at time.Time) mevent.Event {
		return mevent.Event{ID: id, Member: member, Type: "order", Time: at, Attrs: mevent.Attrs{"amount": mevent.Dec(testkit.Dec(amount))}}
	}
	p := open(def)
	testkit.MustProcess(t, p, order("o1", "ann", "100", at), order("o2", "bob", "100", at.Add(time.Hour)))
	if s, err := p.Levels().Status(ctx, "bob"); err != nil || len(s.Owed) != 1 {
		t.Fatalf("bob's status: %+v, %v; want the coupon owed", s, err)
	}

	def.Version = 2
	def.Coupons.Templates[0].Stock = 2
	var programs []*membership.Program
	for range 4 {
		programs = append(programs, open(def))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, when := programs[i%4], at.AddDate(0, 0, 10).Add(time.Duration(i)*time.Minute)
			var out *change.Outcome
			var err error
			if i%4 == 3 {
				var res level.GrantOwedResult
				res, err = p.Levels().GrantOwed(ctx, level.GrantOwedRequest{RequestID: fmt.Sprint("g", i), Member: "bob", Operator: "op.li", At: when})
				out = res.Outcome
			} else {
				out, err = p.Process(ctx, order(fmt.Sprint("c", i), "bob", "1", when))
			}
			if err != nil {
				t.Error(err)
				return
			}
			e, err := level.EffectsOf(out)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			granted += len(e.Gifts)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if granted != 1 {
		t.Errorf("%d gifts granted, want the coupon once", granted)
	}
	s, err := programs[1].Levels().Status(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	// 100 + Silver's 30 + 12 orders of 1.
	if len(s.Owed) != 0 || !s.Growth.Equal(testkit.Dec("142")) {
		t.Errorf("bob: owed %+v, growth %s; want nothing owed, 142", s.Owed, s.Growth)
	}
	cs, err := programs[2].Coupons().List(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Errorf("bob holds %d coupons, want 1", len(cs))
	}
	if err := programs[0].Verify(ctx); err != nil {
		t.Fatal(err)
	}
}
