package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/tag"
)

// TestAdvanceAtASkippedMidnight runs a points expiry and a tag window's
// edge through Advance in America/Santiago, where on 6 September 2026 the
// clocks went from 00:00 (UTC−4) to 01:00 (UTC−3): the day starts at
// 01:00, the instant 04:00 UTC, and 24:00 of 5 September is that instant.
// An order of 10 at 12:00 on 5 September earns 10 points valid 1 day (to
// 24:00 of 5 September) and the tag "recent" (an order in the last day,
// today included), which the member loses as 6 September starts. Advance
// to 03:59:59 UTC (23:59:59 of the 5th, UTC−4) performs nothing, on every
// store; Advance to 04:00 UTC performs both (2): the 10 points expire and
// the tag goes.
func TestAdvanceAtASkippedMidnight(t *testing.T) {
	def := membership.Definition{
		Zone:   "America/Santiago",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order",
				Formula:  rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")},
				Validity: rule.Validity{Kind: rule.DaysAfter, N: 1}}},
		},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount"},
			Rules:  []tag.Rule{{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 1, Op: event.Gte, Value: event.Int(1)}}}},
		},
	}
	santiago := testkit.Zone("America/Santiago")
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		testkit.MustProcess(t, p, event.Event{ID: "o1", Member: "m1", Type: "order", Time: time.Date(2026, 9, 5, 12, 0, 0, 0, santiago),
			Attrs: event.Attrs{"amount": event.Dec(testkit.Dec("10"))}})
		state := func(when string, wantPoints string, wantTag bool) {
			t.Helper()
			b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m1", At: time.Date(2026, 9, 5, 12, 0, 0, 0, santiago)})
			if err != nil || !b.Main.Equal(testkit.Dec(wantPoints)) {
				t.Errorf("%s: main balance %+v, %v; want %s", when, b, err, wantPoints)
			}
			tags, err := p.Tags().Of(ctx, "m1")
			if err != nil || (len(tags) == 1 && tags[0].Tag == "recent") != wantTag {
				t.Errorf("%s: tags %+v, %v; want recent %v", when, tags, err, wantTag)
			}
		}
		state("after the order", "10", true)
		before := time.Date(2026, 9, 6, 3, 59, 59, 0, time.UTC)
		if n, err := p.Advance(ctx, before); n != 0 || err != nil {
			t.Errorf("Advance to a second before the day starts = %d, %v; want 0, nil", n, err)
		}
		state("a second before", "10", true)
		start := time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC)
		if got := time.Date(2026, 9, 6, 1, 0, 0, 0, santiago); !got.Equal(start) {
			t.Fatalf("the tz database puts 01:00 of 6 September in Santiago at %v, not %v", got.UTC(), start)
		}
		if n, err := p.Advance(ctx, start); n != 2 || err != nil {
			t.Errorf("Advance to the day's start = %d, %v; want 2, nil", n, err)
		}
		state("as the day starts", "0", false)
	})
}
