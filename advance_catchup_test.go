package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/points"
	"github.com/memberkit/membership/rule"
)

// TestAdvanceAfterAYearCatchesUpInOrder leaves a program a year without
// an Advance, on every store, then checks what the first one performs, in
// which order and at which instants, and what a late order and an
// Advance to an earlier time do after it.
//
// In Shanghai, m1's order of 1,000 on 24 November 2026 at 10:00 earns
// 1,000 points valid 30 days (to 24:00 of 23 December: 24 December
// 00:00) and makes m1 gold for 2 months (to 24:00 of 24 January 2027:
// 25 January 00:00), keeping gold on 1,000 of growth in the 2 months
// before the term end. An order of 100 on 10 January 2027 earns 100
// points to 24:00 of 8 February (9 February 00:00); it is the only growth
// in [25 November, 25 January), so the term end takes m1 down to member.
// Advance to 24 November 2027 performs the three items in time order: the
// first expiry, the term end, the second expiry, and returns 3.
//
// Then a late order of 50 dated 1 March 2027, before the watermark, earns
// 50 points that expired at 24:00 of 30 March (31 March 00:00): an
// Advance to 1 April 2027, before the watermark, performs that item (1)
// and leaves the watermark at 24 November; the same Advance again
// performs nothing.
func TestAdvanceAfterAYearCatchesUpInOrder(t *testing.T) {
	sh := testkit.Zone("Asia/Shanghai")
	spend := rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: testkit.Dec("1")}
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "member", Validity: rule.Validity{Kind: rule.Permanent}},
				{Name: "gold", Upgrade: testkit.Dec("1000"), Retention: testkit.Dec("1000"), Window: 2, Downgrade: level.Matching,
					Validity: rule.Validity{Kind: rule.MonthsAfter, N: 2}}},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: spend}},
		},
		Points: &points.Definition{
			Programs: []points.Program{{Name: "mall"}},
			Rules: []points.Rule{{ID: "buy", Program: "mall", Event: "order", Formula: spend,
				Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}},
		},
	}
	order := func(id, amount string, at time.Time) event.Event {
		return event.Event{ID: id, Member: "m1", Type: "order", Time: at, Attrs: event.Attrs{"amount": event.Dec(testkit.Dec(amount))}}
	}
	// Every record is kept: the late order is within the idempotency
	// window, and the feed shows what each Advance did.
	keep := []membership.Option{membership.WithRetention(membership.Retention{Window: -1})}
	onEveryStoreWith(t, def, keep, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		p := ps[0]
		testkit.MustProcess(t, p,
			order("o1", "1000", time.Date(2026, 11, 24, 10, 0, 0, 0, sh)),
			order("o2", "100", time.Date(2027, 1, 10, 10, 0, 0, 0, sh)))
		seen := feedAfter(t, p, 0)
		last := seen[len(seen)-1].Seq

		year := time.Date(2027, 11, 24, 0, 0, 0, 0, sh)
		n, err := p.Advance(ctx, year)
		if err != nil || n != 3 {
			t.Fatalf("Advance a year on = %d, %v; want 3, nil", n, err)
		}
		type item struct {
			kind, what string
			at         time.Time
		}
		var got []item
		for _, c := range feedAfter(t, p, last) {
			last = c.Seq
			switch c.Kind {
			case points.ChangeExpired:
				var pc points.Change
				if err := c.Decode(&pc); err != nil {
					t.Fatal(err)
				}
				got = append(got, item{c.Kind, pc.Amount.String(), c.Time})
			case level.ChangeLevel:
				var lc level.LevelChange
				if err := c.Decode(&lc); err != nil {
					t.Fatal(err)
				}
				got = append(got, item{c.Kind, lc.From + ">" + lc.To, c.Time})
			}
		}
		want := []item{
			{points.ChangeExpired, "1000", time.Date(2026, 12, 24, 0, 0, 0, 0, sh)},
			{level.ChangeLevel, "gold>member", time.Date(2027, 1, 25, 0, 0, 0, 0, sh)},
			{points.ChangeExpired, "100", time.Date(2027, 2, 9, 0, 0, 0, 0, sh)},
		}
		if len(got) != len(want) {
			t.Fatalf("Advance published %v; want %v", got, want)
		}
		for i := range want {
			if got[i].kind != want[i].kind || got[i].what != want[i].what || !got[i].at.Equal(want[i].at) {
				t.Errorf("change %d = %v; want %v", i, got[i], want[i])
			}
		}

		testkit.MustProcess(t, p, order("late", "50", time.Date(2027, 3, 1, 10, 0, 0, 0, sh)))
		seen = feedAfter(t, p, last)
		last = seen[len(seen)-1].Seq
		if n, err := p.Advance(ctx, time.Date(2027, 4, 1, 0, 0, 0, 0, sh)); err != nil || n != 1 {
			t.Fatalf("Advance before the watermark after a late order = %d, %v; want 1, nil", n, err)
		}
		var expired []string
		for _, c := range feedAfter(t, p, last) {
			if c.Kind == points.ChangeExpired {
				var pc points.Change
				if err := c.Decode(&pc); err != nil {
					t.Fatal(err)
				}
				expired = append(expired, pc.Amount.String()+"@"+c.Time.In(sh).Format(time.DateTime))
			}
		}
		if len(expired) != 1 || expired[0] != "50@2027-03-31 00:00:00" {
			t.Errorf("late order's expiry = %v; want [50@2027-03-31 00:00:00]", expired)
		}
		if w, err := p.Watermark(ctx); err != nil || !w.Equal(year) {
			t.Errorf("Watermark = %v, %v; want %v (an earlier Advance leaves it)", w, err, year)
		}
		if n, err := ps[1].Advance(ctx, year); err != nil || n != 0 {
			t.Errorf("Advance again = %d, %v; want 0, nil", n, err)
		}
		b, err := p.Points().Balance(ctx, points.BalanceQuery{Program: "mall", Member: "m1", At: year})
		if err != nil || !b.Total().IsZero() {
			t.Errorf("balance = %+v, %v; want none", b, err)
		}
		if err := p.Verify(ctx); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})
}

// feedAfter returns the feed's changes after seq, every page.
func feedAfter(t *testing.T, p *membership.Program, seq uint64) []change.Change {
	t.Helper()
	var out []change.Change
	for {
		page, err := p.Feed(context.Background(), seq, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		seq = page[len(page)-1].Seq
	}
}
