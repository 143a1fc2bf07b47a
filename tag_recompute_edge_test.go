package membership_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/tag"
)

// A Recompute of one rule, dated after a member's window edge that Advance
// has not performed yet, performs that edge at its own instant first, as
// Advance would (every rule evaluated there, under the definition in
// force), so the other rules' windows still change there. Before, the
// recompute evaluated its one rule and rescheduled the member's edge from
// its own time: the edge due was cancelled, and the tag the window was to
// take stayed for good (Advance found nothing to perform). On memory,
// bolt and PostgreSQL, in Shanghai; day(n) is the n-th day of 2026.
//
// Version 1: recent (an order in the last 90 days), big (an order amount
// of 100 or more). ann orders 50, bob 150, on day 1 at 12:00: both have
// recent, to 00:00 of day 91; bob has big. No Advance runs. Version 2
// lowers big to 40. Recompute of big at day 100 12:00, in pages of one:
//
//   - ann: her edge of day 91 is performed at 00:00 of day 91, under
//     version 2: recent taken (rule 0), big given (rule 1, 50 >= 40); the
//     evaluation at day 100 changes nothing more. She gained big: Added 1.
//   - bob: his edge is performed at 00:00 of day 91: recent taken; he
//     keeps big. Added 0, Removed 0.
//   - Advance to day 101 performs nothing: both edges are done. ann and
//     bob hold big alone; recent counts 0 members, big 2.
func TestTagRecomputePerformsAnEdgeDue(t *testing.T) {
	ctx := context.Background()
	day := func(n, h int) time.Time { return time.Date(2026, 1, n, h, 0, 0, 0, shanghai) }
	def := func(version uint64, bigMin string) membership.Definition {
		return membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
			Tags: &tag.Definition{
				Orders: &tag.Orders{Event: "order", Amount: "amount"},
				Rules: []tag.Rule{
					{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(1)}}},
					{Tag: "big", All: []tag.Cond{{Fact: tag.FactOrderAmount, Op: event.Gte, Value: event.DecString(bigMin)}}},
				},
			},
		}
	}
	type seen struct {
		Kind, Member, Tag string
		At                time.Time
	}
	changes := func(t *testing.T, res tag.RecomputeResult) []seen {
		t.Helper()
		var out []seen
		for _, c := range res.Outcome.Changes {
			var ch tag.Change
			if err := c.Decode(&ch); err != nil {
				t.Fatal(err)
			}
			out = append(out, seen{c.Kind, c.Member, ch.Tag, c.Time})
		}
		return out
	}
	onEveryStoreVersions(t, def(1, "100"), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		mustProcess(t, ps[0],
			event.Event{ID: "o1", Member: "ann", Type: "order", Time: day(1, 12), Attrs: event.Attrs{"amount": event.DecString("50")}},
			event.Event{ID: "o2", Member: "bob", Type: "order", Time: day(1, 12), Attrs: event.Attrs{"amount": event.DecString("150")}})
		ps = open(def(2, "40"))
		for i, page := range []struct {
			next    string
			added   int
			changes []seen
		}{
			{"ann", 1, []seen{{tag.ChangeRemoved, "ann", "recent", day(91, 0)}, {tag.ChangeAdded, "ann", "big", day(91, 0)}}},
			{"bob", 0, []seen{{tag.ChangeRemoved, "bob", "recent", day(91, 0)}}},
			{"", 0, nil},
		} {
			after := ""
			if i > 0 {
				after = []string{"ann", "bob"}[i-1]
			}
			res, err := ps[i%2].Tags().Recompute(ctx, tag.RecomputeRequest{At: day(100, 12), Tag: "big", Limit: 1, After: after})
			if err != nil {
				t.Fatal(err)
			}
			if res.Next != page.next || res.Examined != min(1, 2-i) || res.Added != page.added || res.Removed != 0 {
				t.Errorf("recompute of big, page %d: %+v; want next %q, %d added", i+1, res, page.next, page.added)
			}
			if diff := cmp.Diff(page.changes, changes(t, res)); diff != "" {
				t.Errorf("recompute of big, page %d (-want +got):\n%s", i+1, diff)
			}
		}
		if n, err := ps[0].Advance(ctx, day(101, 0)); err != nil || n != 0 {
			t.Errorf("Advance to day 101: %d, %v; want nothing left to perform", n, err)
		}
		for _, m := range []string{"ann", "bob"} {
			if got := tagNamesOf(t, ps[1], m); !cmp.Equal(got, []string{"big"}) {
				t.Errorf("%s's tags %v, want [big]", m, got)
			}
		}
		counts, err := ps[1].Tags().Counts(ctx)
		if err != nil || counts["recent"] != 0 || counts["big"] != 2 {
			t.Errorf("Counts = %v, %v; want recent 0, big 2", counts, err)
		}
	})
}
