package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// TestRefundWhileFrozen: a frozen level counts the net growth moved since
// the downgrade, as the retention window counts its own: a refund dated
// after it takes off what it took of the member's growth (growth's floor
// at 0 may cut it short), whether its order was earned before the
// downgrade or after, and the count is not floored at 0, so a refund can
// leave the member needing more than the unfreeze threshold, and the same
// movements return the member at the same point in either order.
//
// In Shanghai: gold (U 200, R 100, a month-ends term of 1, a window of 1
// month, a long-term freeze with an unfreeze threshold of 100). Each
// member buys o1 of 250 on 10 February (gold, to 24:00 of 31 March) and o2
// of 40 on 10 March: March's window of 40 is below R, so on 1 April they
// go down to basic, gold is frozen with 0 counted, and growth is re-based
// to 40. Then, from 10:00 on each day in April:
//   - al: o1 refunded whole on the 10th reverses 250 but takes the 40
//     there are (210 short): growth 0, counted −40 (before, 0), so 140
//     are needed. a3 of 100 on the 20th: growth 100, counted 60, still
//     basic (before, 100 returned al to gold); a4 of 40 on the 25th:
//     growth 140, counted 100, back to gold, whose new term ends at 24:00
//     of 31 May.
//   - bo, the same net movements in another order: b3 of 60 on the 5th
//     (growth 100, counted 60), 100 of o1's 250 refunded on the 10th,
//     taking 100: growth 0, counted −40 (before, 0); b4 of 100 on the
//     20th: growth 100, counted 60, basic (before, gold); b5 of 40 on the
//     25th: counted 100, gold.
//   - cy, a refund of an order earned after the downgrade: c3 of 80 on
//     the 5th (growth 120, counted 80), 30 of it refunded on the 10th:
//     growth 90, counted 50; c4 of 50 on the 20th: counted 100, gold.
func TestRefundWhileFrozen(t *testing.T) {
	ctx := context.Background()
	type step struct {
		ev      event.Event
		level   string // after the event
		growth  string
		counted string // gold's counted growth, "" once returned
	}
	ord := func(id, member, amount string, day int) event.Event {
		return orderEvent(id, "order", member, id, amount, refundAt(4, day, 10))
	}
	ref := func(id, member, order, amount string, day int) event.Event {
		return orderEvent(id, "refund", member, order, amount, refundAt(4, day, 10))
	}
	members := map[string][]step{
		"al": {
			{ref("al-r1", "al", "al-o1", "250", 10), "basic", "0", "-40"},
			{ord("al-a3", "al", "100", 20), "basic", "100", "60"},
			{ord("al-a4", "al", "40", 25), "gold", "140", ""},
		},
		"bo": {
			{ord("bo-b3", "bo", "60", 5), "basic", "100", "60"},
			{ref("bo-r1", "bo", "bo-o1", "100", 10), "basic", "0", "-40"},
			{ord("bo-b4", "bo", "100", 20), "basic", "100", "60"},
			{ord("bo-b5", "bo", "40", 25), "gold", "140", ""},
		},
		"cy": {
			{ord("cy-c3", "cy", "80", 5), "basic", "120", "80"},
			{ref("cy-r1", "cy", "cy-c3", "30", 10), "basic", "90", "50"},
			{ord("cy-c4", "cy", "50", 20), "gold", "140", ""},
		},
	}
	for name, newStore := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			order := []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true}}
			p, err := membership.Open(newStore(), membership.Definition{
				Zone:   "Asia/Shanghai",
				Events: []event.Type{{Name: "order", Attributes: order}, {Name: "refund", Attributes: order}},
				Levels: &level.Definition{
					Ladder: []level.Level{
						{Name: "basic", Validity: rule.Validity{Kind: rule.Permanent}},
						{Name: "gold", Upgrade: dec("200"), Retention: dec("100"), Validity: rule.Validity{Kind: rule.MonthEnds, N: 1},
							Window: 1, Downgrade: level.NextLower, Freeze: &level.Freeze{Kind: level.LongTerm, Unfreeze: dec("100")}},
					},
					Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")},
						Order: &level.OrderRef{ID: "order_id", Amount: "amount"}}},
					Refunds: []level.RefundRule{{ID: "refund", Event: "refund", Order: "order_id", Amount: "amount"}},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			for m := range members {
				mustProcess(t, p,
					orderEvent(m+"-o1", "order", m, m+"-o1", "250", refundAt(2, 10, 10)),
					orderEvent(m+"-o2", "order", m, m+"-o2", "40", refundAt(3, 10, 10)))
			}
			if _, err := p.Advance(ctx, refundAt(4, 1, 0)); err != nil {
				t.Fatal(err)
			}
			for m, steps := range members {
				wantLevel(t, p, m, "basic", "40", time.Time{})
				wantCounted(t, p, m, "0")
				for _, s := range steps {
					mustProcess(t, p, s.ev)
					termEnd := time.Time{}
					if s.level == "gold" {
						termEnd = refundAt(6, 1, 0)
					}
					wantLevel(t, p, m, s.level, s.growth, termEnd)
					wantCounted(t, p, m, s.counted)
				}
				h, err := p.Levels().History(ctx, m, 0, 0)
				if err != nil || len(h) == 0 {
					t.Fatalf("%s's history: %+v, %v", m, h, err)
				}
				last := steps[len(steps)-1].ev
				if r := h[len(h)-1]; r.Cause != level.CauseUnfreeze || r.From != "basic" || r.To != "gold" || !r.Time.Equal(last.Time) {
					t.Errorf("%s's last history record: %+v; want the return to gold at %v", m, r, last.Time)
				}
			}
			if err := p.Verify(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

// wantCounted checks the growth counted by the member's freeze of gold,
// or, given "", that the member has no frozen level.
func wantCounted(t *testing.T, p *membership.Program, m, counted string) {
	t.Helper()
	st, err := p.Levels().Status(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if counted == "" {
		if len(st.Frozen) != 0 {
			t.Errorf("%s's frozen levels: %+v; want none", m, st.Frozen)
		}
		return
	}
	if len(st.Frozen) != 1 || st.Frozen[0].Level != "gold" || !st.Frozen[0].Earned.Equal(dec(counted)) {
		t.Errorf("%s's frozen levels: %+v; want gold with %s counted", m, st.Frozen, counted)
	}
}
