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

// TestRefundClampedInTheRetentionWindow: a refund that growth's floor at
// 0 cuts short counts in the retention window for what it took, not for
// what it asked, and the window's net growth G, negative, is what
// retention compares with R; growth is re-based to 0, never below.
//
// In Shanghai: o1 of 150 on 10 February reaches silver (U 100), whose
// month-ends term of 1 ends at 24:00 of 31 March; o2 of 100 on 10 March
// makes 250. On 1 April March's 100 keeps silver (to 24:00 of 31 May) and
// growth is re-based to 100, earned before May's window. o1 refunded whole
// on 10 May reverses 150 but takes the 100 there are (50 short): growth
// 0; o3 of 30 on 20 May: growth 30. May's window is −100 + 30 = −70, so
// 120 more were needed to reach R = 50 (before, the forecast said 50 with
// a window of 0), and with R = 0 the level is lost too (before, the window
// was taken as 0 and kept it). Under the matching mode no level has U ≤
// −70: the entry level. Growth is re-based to 0 and counts from there.
func TestRefundClampedInTheRetentionWindow(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		retention string
		mode      level.DowngradeMode
		needed    string
	}{
		{"retention 50", "50", level.NextLower, "120"},
		{"retention 0", "0", level.NextLower, "70"},
		{"matching", "50", level.Matching, "120"},
	} {
		for name, newStore := range scaleStores(t) {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				order := []event.Attr{{Name: "order_id", Kind: event.String, Required: true}, {Name: "amount", Kind: event.Decimal, Required: true}}
				p, err := membership.Open(newStore(), membership.Definition{
					Zone:   "Asia/Shanghai",
					Events: []event.Type{{Name: "order", Attributes: order}, {Name: "refund", Attributes: order}},
					Levels: &level.Definition{
						Ladder: []level.Level{
							{Name: "basic", Validity: rule.Validity{Kind: rule.Permanent}},
							{Name: "silver", Upgrade: dec("100"), Retention: dec(tc.retention), Validity: rule.Validity{Kind: rule.MonthEnds, N: 1},
								Window: 1, Downgrade: tc.mode},
						},
						Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")},
							Order: &level.OrderRef{ID: "order_id", Amount: "amount"}}},
						Refunds: []level.RefundRule{{ID: "refund", Event: "refund", Order: "order_id", Amount: "amount"}},
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				mustProcess(t, p,
					orderEvent("o1", "order", "al", "o1", "150", refundAt(2, 10, 10)),
					orderEvent("o2", "order", "al", "o2", "100", refundAt(3, 10, 10)))
				wantLevel(t, p, "al", "silver", "250", refundAt(4, 1, 0))
				if _, err := p.Advance(ctx, refundAt(4, 1, 0)); err != nil {
					t.Fatal(err)
				}
				wantLevel(t, p, "al", "silver", "100", refundAt(6, 1, 0))
				mustProcess(t, p, orderEvent("r1", "refund", "al", "o1", "150", refundAt(5, 10, 10)))
				wantLevel(t, p, "al", "silver", "0", refundAt(6, 1, 0))
				mustProcess(t, p, orderEvent("o3", "order", "al", "o3", "30", refundAt(5, 20, 10)))
				wantLevel(t, p, "al", "silver", "30", refundAt(6, 1, 0))

				fs, err := p.Levels().Forecast(ctx, refundAt(5, 26, 0), 7, 0)
				if err != nil || len(fs) != 1 || !fs[0].Window.Equal(dec("-70")) || !fs[0].Needed.Equal(dec(tc.needed)) || fs[0].Next != "basic" {
					t.Errorf("forecast: %+v, %v; want a window of -70, %s needed, basic next", fs, err, tc.needed)
				}
				// The status at a time performs the term end as Advance does.
				st, err := p.Levels().StatusAt(ctx, "al", refundAt(6, 1, 0))
				if err != nil || st.Level != "basic" || !st.Growth.Equal(dec("0")) {
					t.Errorf("status on 1 June: %s, growth %s, %v; want basic, 0", st.Level, st.Growth, err)
				}
				if _, err := p.Advance(ctx, refundAt(6, 1, 0)); err != nil {
					t.Fatal(err)
				}
				wantLevel(t, p, "al", "basic", "0", time.Time{})
				h, err := p.Levels().History(ctx, "al", 0, 0)
				if err != nil || len(h) == 0 {
					t.Fatalf("history: %+v, %v", h, err)
				}
				if last := h[len(h)-1]; last.Cause != level.CauseTermEnd || last.From != "silver" || last.To != "basic" || last.Window == nil || !last.Window.Equal(dec("-70")) {
					t.Errorf("last history record: %+v; want the term end from silver to basic with a window of -70", last)
				}
				// Growth counts from 0: 80 more is 80, below silver's 100.
				mustProcess(t, p, orderEvent("o4", "order", "al", "o4", "80", refundAt(6, 2, 10)))
				wantLevel(t, p, "al", "basic", "80", time.Time{})
				if err := p.Verify(ctx); err != nil {
					t.Error(err)
				}
			})
		}
	}
}
