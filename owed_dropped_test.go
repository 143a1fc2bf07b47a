package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/shopspring/decimal"
)

// owedDroppedDef: Silver (growth 100) gives two coupons, silver-gift and
// silver-tea, one of each in stock. Version 2 takes silver-gift from
// Silver's gifts and has four silver-tea in stock.
func owedDroppedDef(version uint64) membership.Definition {
	month := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}
	gifts := []rule.Reward{{Kind: rule.RewardCoupon, Template: "silver-gift"}, {Kind: rule.RewardCoupon, Template: "silver-tea"}}
	tea := int64(1)
	if version == 2 {
		gifts, tea = gifts[1:], 4
	}
	return membership.Definition{
		Version: version,
		Zone:    "Asia/Shanghai",
		Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "Entry", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "Silver", Upgrade: decimal.NewFromInt(100), Validity: rule.Validity{Kind: rule.Permanent}, Gifts: gifts},
			},
			Growth: []level.GrowthRule{{ID: "order", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: decimal.NewFromInt(1)}}},
		},
		Coupons: &coupon.Definition{Templates: []coupon.Template{
			{Name: "silver-gift", Type: coupon.Cash, Amount: decimal.NewFromInt(20), Stock: 1, Use: month},
			{Name: "silver-tea", Type: coupon.Cash, Amount: decimal.NewFromInt(5), Stock: tea, Use: month},
		}},
	}
}

// TestOwedGiftNoLongerGivenIsPublished: a reward owed that a later
// version no longer gives is dropped by the member's next event or
// GrantOwed, and published as level.gift_dropped so that a host keeping
// what is owed from level.gift_owed can close it; before, it went without
// a word (and so at an erasure). By hand, on 2 March 2026 (Shanghai): dan
// orders 100 at 09:00 (Silver, both coupons: the stock of each); ann, bob
// and cy order 100 at 10:00, 10:30 and 11:00 (Silver, both refused: owed,
// each published as level.gift_owed). Version 2 is in force on 3 March at
// 10:00: ann's order of 10 drops silver-gift and grants silver-tea (late),
// op.li's GrantOwed for bob does the same, and cy's erasure drops both.
func TestOwedGiftNoLongerGivenIsPublished(t *testing.T) {
	ctx := context.Background()
	gift := level.Gift{Level: "Silver", Reward: rule.Reward{Kind: rule.RewardCoupon, Template: "silver-gift"}}
	tea := level.Gift{Level: "Silver", Reward: rule.Reward{Kind: rule.RewardCoupon, Template: "silver-tea"}}
	const noLonger = "owed gift dropped: the definition in force no longer gives it"
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore()
			p, err := membership.Open(st, owedDroppedDef(1))
			if err != nil {
				t.Fatal(err)
			}
			loc := p.Location()
			at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, loc) }
			order := func(id, member, amount string, t0 time.Time) event.Event {
				return event.Event{ID: id, Member: member, Type: "order", Time: t0, Attrs: event.Attrs{"amount": event.DecString(amount)}}
			}
			process := func(p *membership.Program, ev event.Event) *change.Outcome {
				t.Helper()
				out, err := p.Process(ctx, ev)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			effects := func(what string, out *change.Outcome) level.Effects {
				t.Helper()
				e, err := level.EffectsOf(out)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				return e
			}
			// dropped checks the outcome's gift_dropped changes: their
			// gifts and reasons' notes.
			dropped := func(what string, out *change.Outcome, want []level.Gift, note string) {
				t.Helper()
				if diff := cmp.Diff(want, effects(what, out).Dropped); diff != "" {
					t.Errorf("%s: gifts dropped (-want +got):\n%s", what, diff)
				}
				for _, c := range out.ChangesOf(level.ChangeGiftDropped) {
					if c.Reason == nil || c.Reason.Rule != "level.Silver.gift" || c.Reason.Note != note {
						t.Errorf("%s: reason of the drop %+v, want level.Silver.gift, %q", what, c.Reason, note)
					}
				}
			}
			owed := func(p *membership.Program, member string, want ...level.Gift) {
				t.Helper()
				s, err := p.Levels().Status(ctx, member)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, s.Owed); diff != "" {
					t.Errorf("%s owed (-want +got):\n%s", member, diff)
				}
			}

			process(p, order("d1", "dan", "100", at(2, 9, 0)))
			for i, m := range []string{"ann", "bob", "cy"} {
				out := process(p, order(m[:1]+"1", m, "100", at(2, 10, 30*i)))
				if diff := cmp.Diff([]level.Gift{gift, tea}, effects(m, out).Owed); diff != "" {
					t.Fatalf("%s's reach: owed (-want +got):\n%s", m, diff)
				}
			}

			p2, err := membership.Open(st, owedDroppedDef(2))
			if err != nil {
				t.Fatal(err)
			}
			owed(p2, "ann", tea) // silver-gift is no longer listed

			out := process(p2, order("a2", "ann", "10", at(3, 10, 0)))
			dropped("ann's order", out, []level.Gift{gift}, noLonger)
			if diff := cmp.Diff([]level.Gift{tea}, effects("ann's order", out).Gifts); diff != "" {
				t.Errorf("ann's order: gifts granted (-want +got):\n%s", diff)
			}
			owed(p2, "ann")

			res, err := p2.Levels().GrantOwed(ctx, level.GrantOwedRequest{RequestID: "owed-bob", Member: "bob", Operator: "op.li", At: at(3, 10, 0)})
			if err != nil {
				t.Fatal(err)
			}
			dropped("bob's grant", res.Outcome, []level.Gift{gift}, noLonger)
			if !cmp.Equal([]level.Gift{tea}, res.Granted) || !cmp.Equal([]level.Gift{gift}, res.Dropped) || len(res.Owed) != 0 {
				t.Errorf("bob's grant: granted %+v, dropped %+v, owed %+v; want silver-tea granted, silver-gift dropped", res.Granted, res.Dropped, res.Owed)
			}
			owed(p2, "bob")

			erased, err := p2.Erase(ctx, membership.EraseRequest{RequestID: "erase-cy", Member: "cy", Operator: "dpo", At: at(3, 10, 0)})
			if err != nil {
				t.Fatal(err)
			}
			dropped("cy's erasure", erased, []level.Gift{gift, tea}, "owed gift dropped by the member's erasure")

			for _, m := range []string{"ann", "bob"} {
				cs, err := p2.Coupons().List(ctx, m)
				if err != nil || len(cs) != 1 || cs[0].Template != "silver-tea" {
					t.Errorf("%s's coupons: %+v (%v), want silver-tea alone", m, cs, err)
				}
			}
			if err := p2.Verify(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
