package tag_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/tag"
)

// "Ordered today" (a window of one day) is a day of the program's zone:
// an order at 16:30 UTC on 1 January is one of 2 January in Shanghai,
// so its member holds the tag until 00:00 on 3 January there, and one
// at 15:59:59 UTC (23:59:59 on 1 January in Shanghai) until 00:00 on 2
// January there (16:00 UTC on 1 January).
func TestTagWindowIsADayOfTheZone(t *testing.T) {
	ctx := context.Background()
	def := tagDef()
	def.Tags.Rules = append(def.Tags.Rules, tag.Rule{Tag: "today", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 1, Op: event.Gte, Value: event.Int(1)}}})
	p := testkit.OpenMemory(t, def)
	mustProcess(t, p,
		newOrder("o1", "ann", "10", time.Date(2026, 1, 1, 16, 30, 0, 0, time.UTC)),
		newOrder("o2", "bob", "10", time.Date(2026, 1, 1, 15, 59, 59, 0, time.UTC)))
	steps := []struct {
		to       time.Time
		ann, bob bool
	}{
		{time.Date(2026, 1, 2, 0, 0, 0, 0, testkit.Shanghai).Add(-time.Nanosecond), true, true},
		{time.Date(2026, 1, 2, 0, 0, 0, 0, testkit.Shanghai), true, false},
		{time.Date(2026, 1, 3, 0, 0, 0, 0, testkit.Shanghai).Add(-time.Nanosecond), true, false},
		{time.Date(2026, 1, 3, 0, 0, 0, 0, testkit.Shanghai), false, false},
	}
	for _, s := range steps {
		if _, err := p.Advance(ctx, s.to); err != nil {
			t.Fatal(err)
		}
		for m, want := range map[string]bool{"ann": s.ann, "bob": s.bob} {
			if got := slices.Contains(tagsOf(t, p, m), "today"); got != want {
				t.Errorf("Advance to %v: %s has today %v, want %v", s.to, m, got, want)
			}
		}
	}
}

// Segments combine tags with and, or and not, and list the same members
// whatever the page size: a bare negation lists every member the program
// has seen without the tag, one known only by an event among them.
func TestTagSegmentsInPages(t *testing.T) {
	ctx := context.Background()
	p := openTags(t)
	at := shanghaiAt
	for i, mt := range []struct{ member, tag string }{
		{"a", "staff"}, {"b", "staff"}, {"b", "complained"}, {"c", "complained"}, {"e", "staff"},
	} {
		if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: fmt.Sprint("add", i), Member: mt.member, Operator: "ops", At: at, Tag: mt.tag}); err != nil {
			t.Fatal(err)
		}
	}
	mustProcess(t, p, newEvent("s1", "d", "share", at, nil))
	tests := map[string][]string{
		"staff":                     {"a", "b", "e"},
		"staff and not complained":  {"a", "e"},
		"staff or complained":       {"a", "b", "c", "e"},
		"complained and not staff":  {"c"},
		"not staff":                 {"c", "d"},
		"not (staff or complained)": {"d"},
		"not staff or complained":   {"b", "c", "d"},
		"(staff or complained) and not (staff and complained)": {"a", "c", "e"},
	}
	for expr, want := range tests {
		for _, limit := range []int{1, 2, 3, 100} {
			var got []string
			q := tag.SegmentQuery{Expr: tag.MustParse(expr), Limit: limit}
			for range 10 {
				page, err := p.Tags().Segment(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Members) > limit {
					t.Errorf("%q limit %d: a page of %d", expr, limit, len(page.Members))
				}
				got = append(got, page.Members...)
				if page.Next == "" {
					break
				}
				q.After = page.Next
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%q in pages of %d (-want +got):\n%s", expr, limit, diff)
			}
		}
		for _, m := range []string{"a", "b", "c", "d", "e"} {
			in, err := p.Tags().InSegment(ctx, m, tag.MustParse(expr))
			if err != nil || in != slices.Contains(want, m) {
				t.Errorf("InSegment(%s, %q) = %v, %v; want %v", m, expr, in, err, slices.Contains(want, m))
			}
		}
	}
}

// The statistics take orders in any order of arrival: a late order
// earlier than the first moves the first order time and not the last;
// the average is half-up to the cent (0.01 over 2 orders is 0.005, 0.01).
func TestTagStatsOfLateOrders(t *testing.T) {
	ctx := context.Background()
	p := openTags(t)
	at := shanghaiAt
	mustProcess(t, p, newOrder("o1", "ann", "0.01", at), newOrder("o0", "ann", "0", at.Add(-2*time.Hour)))
	pr, err := p.Tags().Profile(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	s := pr.Stats
	if !s.FirstOrder.Equal(at.Add(-2*time.Hour)) || !s.LastOrder.Equal(at) || s.Orders != 2 || !s.Amount.Equal(testkit.Dec("0.01")) || !s.AverageOrder.Equal(testkit.Dec("0.01")) {
		t.Errorf("stats %+v; want first order 08:00, last 10:00, 2 orders of 0.01 in all, average 0.01", s)
	}
}

// A late event dated after the member's last order but before a window
// edge Advance has performed is evaluated at its own time, as every late
// event is (Program.Advance): "recent" (an order on 1 January, edge at
// 00:00 on 1 April) comes back for a share of 30 March that arrives after
// Advance to 2 April, and the next Advance takes it again at the edge it
// scheduled in the past.
func TestTagLateEventBeforePerformedEdge(t *testing.T) {
	ctx := context.Background()
	p := openTags(t)
	day := func(n int) time.Time { return time.Date(2026, 1, n, 12, 0, 0, 0, testkit.Shanghai) } // day(91) = 1 April
	mustProcess(t, p, newOrder("o1", "ann", "10", day(1)))
	if _, err := p.Advance(ctx, day(92)); err != nil || slices.Contains(tagsOf(t, p, "ann"), "recent") {
		t.Fatalf("Advance to 2 April: %v, tags %v; want recent gone", err, tagsOf(t, p, "ann"))
	}
	late := mustProcess(t, p, newEvent("s1", "ann", "share", day(89), nil))[0]
	if got := kinds(late, "tag."); !cmp.Equal(got, []string{tag.ChangeAdded}) || !slices.Contains(tagsOf(t, p, "ann"), "recent") {
		t.Errorf("late share of 30 March: changes %v, tags %v; want recent added", got, tagsOf(t, p, "ann"))
	}
	if n, err := p.Advance(ctx, day(93)); err != nil || n != 1 || slices.Contains(tagsOf(t, p, "ann"), "recent") {
		t.Errorf("next Advance: %d, %v, tags %v; want the edge of 1 April performed, recent gone", n, err, tagsOf(t, p, "ann"))
	}
}
