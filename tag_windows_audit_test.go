package membership_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/tag"
)

// tagNamesOf returns the names of a member's tags, in name order.
func tagNamesOf(t *testing.T, p *membership.Program, member string) []string {
	t.Helper()
	as, err := p.Tags().Of(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, a := range as {
		out = append(out, a.Tag)
	}
	return out
}

// Windowed tag rules (SPEC "Tags and profile": "order count ≥ 3 in the last
// 90 days", RFM segments) over a late order, several windows in one rule,
// a tag gained and tags lost with no further event, and a window edge
// across the end of daylight saving, on memory, bolt and PostgreSQL.
//
// The program runs in America/New_York (EDT, UTC-4, until 1 November
// 2026; EST, UTC-5, after). Rules:
//
//   - frequent: order_count over 90 days ≥ 3;
//   - champion (recency, frequency, money): an order in the last 30
//     days, 4 or more in 365 days, 1,000 or more in 365 days;
//   - dormant: an order ever, none in the last 60 days.
//
// ann's orders, at noon, by day of the year (2026: 1 August is day 213):
// o1 1 August (213) 100, o2 10 September (253) 100, o3 20 October (293)
// 500, then o0 of 20 August (232) 400, late (before o3). A window of N
// days counts [today-N+1, today], and an order of day D leaves it at
// 00:00 of day D+N.
//
//   - After o3: 90 days [204, 293] hold o1, o2, o3: frequent. 30 days
//     [264, 293] hold o3; 365 days 3 orders: no champion.
//   - o0, late, is evaluated as at the last order (20 October): 365 days
//     hold 4 orders of 1,100, 30 days o3: champion (one tag.added).
//   - Edges ahead: 90 days o1 303 (30 October, 04:00 UTC, still EDT),
//     o0 322 (18 November), o2 343, o3 383; 60 days o2 313 (9 November),
//     o3 353 (19 December); 30 days o3 323 (19 November). From 9 November
//     on midnight is 05:00 UTC.
//   - 30 October: 90 days [214, 303] hold o0, o2, o3: still frequent.
//   - 18 November 00:00 EST (05:00 UTC): [233, 322] hold o2, o3: frequent
//     lost. 90×24 hours after o0's day began (20 August 00:00 EDT, 04:00
//     UTC) is 04:00 UTC, an hour early: ann still has it then.
//   - 19 November 00:00 EST: 30 days [294, 323] hold nothing: champion
//     lost.
//   - 9 December: nothing changes (frequent already lost).
//   - 19 December 00:00 EST: 60 days [294, 353] hold nothing, 4 orders
//     ever: dormant gained, with no event.
//
// Each edge is one due item of ann's.
func TestTagWindowsOfALateOrderAndAnRFMRule(t *testing.T) {
	ctx := context.Background()
	ny := testkit.Zone("America/New_York")
	def := membership.Definition{
		Zone: "America/New_York",
		Events: []event.Type{{Name: "order", Attributes: []event.Attr{
			{Name: "amount", Kind: event.Decimal, Required: true}}}},
		Tags: &tag.Definition{
			Orders: &tag.Orders{Event: "order", Amount: "amount"},
			Rules: []tag.Rule{
				{Tag: "frequent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(3)}}},
				{Tag: "champion", All: []tag.Cond{
					{Fact: tag.FactOrderCount, Days: 30, Op: event.Gte, Value: event.Int(1)},
					{Fact: tag.FactOrderCount, Days: 365, Op: event.Gte, Value: event.Int(4)},
					{Fact: tag.FactOrderAmount, Days: 365, Op: event.Gte, Value: event.DecString("1000")},
				}},
				{Tag: "dormant", All: []tag.Cond{
					{Fact: tag.FactOrderCount, Op: event.Gte, Value: event.Int(1)},
					{Fact: tag.FactOrderCount, Days: 60, Op: event.Lt, Value: event.Int(1)},
				}},
			},
		},
	}
	order := func(id, amount string, m time.Month, d int) event.Event {
		return event.Event{ID: id, Member: "ann", Type: "order", Time: time.Date(2026, m, d, 12, 0, 0, 0, ny),
			Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	utc := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, time.UTC) }
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		if err := ps[0].SetCursor(ctx, "audit", 0); err != nil {
			t.Fatal(err)
		}
		mustProcess(t, ps[0], order("o1", "100", time.August, 1), order("o2", "100", time.September, 10), order("o3", "500", time.October, 20))
		if got := tagNamesOf(t, ps[1], "ann"); !cmp.Equal(got, []string{"frequent"}) {
			t.Fatalf("after o3: %v, want [frequent]", got)
		}
		late := mustProcess(t, ps[1], order("o0", "400", time.August, 20))[0]
		if got := late.ChangesOf(tag.ChangeAdded); len(got) != 1 || got[0].Reason == nil || got[0].Reason.Rule != "tags.rules[1]" ||
			got[0].Reason.Inputs["order_amount/365d"] != "1100" || got[0].Reason.Inputs["order_count/30d"] != "1" {
			t.Errorf("late o0: tag.added %+v; want champion's, 1100 in 365 days and 1 in 30", got)
		}
		if got := testkit.Kinds(late, "tag."); !cmp.Equal(got, []string{tag.ChangeAdded}) {
			t.Errorf("late o0: tag changes %v, want one tag.added", got)
		}
		for i, s := range []struct {
			to   time.Time
			n    int
			want []string
		}{
			{utc(time.October, 30, 4).Add(-time.Nanosecond), 0, []string{"champion", "frequent"}},
			{utc(time.October, 30, 4), 1, []string{"champion", "frequent"}},
			{utc(time.November, 9, 5), 1, []string{"champion", "frequent"}},
			{utc(time.November, 18, 4), 0, []string{"champion", "frequent"}},
			{utc(time.November, 18, 5).Add(-time.Nanosecond), 0, []string{"champion", "frequent"}},
			{utc(time.November, 18, 5), 1, []string{"champion"}},
			{utc(time.November, 19, 5).Add(-time.Nanosecond), 0, []string{"champion"}},
			{utc(time.November, 19, 5), 1, []string{}},
			{utc(time.December, 19, 5).Add(-time.Nanosecond), 1, []string{}},
			{utc(time.December, 19, 5), 1, []string{"dormant"}},
			{time.Date(2027, time.July, 1, 0, 0, 0, 0, time.UTC), 1, []string{"dormant"}},
		} {
			n, err := ps[i%2].Advance(ctx, s.to)
			if err != nil {
				t.Fatal(err)
			}
			got := tagNamesOf(t, ps[(i+1)%2], "ann")
			if n != s.n || !cmp.Equal(got, s.want) {
				t.Errorf("Advance to %v: %d performed, tags %v; want %d, %v", s.to, n, got, s.n, s.want)
			}
			for _, name := range []string{"frequent", "champion", "dormant"} {
				in, err := ps[i%2].Tags().InSegment(ctx, "ann", tag.MustParse(name))
				if err != nil || in != slices.Contains(s.want, name) {
					t.Errorf("Advance to %v: InSegment(%s) = %v, %v", s.to, name, in, err)
				}
			}
		}
		// The feed: each change at its edge's instant, with the
		// windows' values it read.
		feed, err := ps[0].Feed(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		type seen struct {
			Kind, Rule, Fact, Value string
			At                      time.Time
		}
		var got []seen
		for _, c := range feed {
			if c.Kind != tag.ChangeAdded && c.Kind != tag.ChangeRemoved || c.Event == "o3" || c.Event == "o0" {
				continue
			}
			var fact string
			switch c.Reason.Rule {
			case "tags.rules[0]":
				fact = "order_count/90d"
			case "tags.rules[1]":
				fact = "order_count/30d"
			default:
				fact = "order_count/60d"
			}
			got = append(got, seen{c.Kind, c.Reason.Rule, fact, c.Reason.Inputs[fact], c.Time.UTC()})
		}
		want := []seen{
			{tag.ChangeRemoved, "tags.rules[0]", "order_count/90d", "2", utc(time.November, 18, 5)},
			{tag.ChangeRemoved, "tags.rules[1]", "order_count/30d", "0", utc(time.November, 19, 5)},
			{tag.ChangeAdded, "tags.rules[2]", "order_count/60d", "0", utc(time.December, 19, 5)},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tag changes at the edges (-want +got):\n%s", diff)
		}
	})
}

// A version changes three tag rules and Recompute applies them in pages
// of two (SPEC "Tags and profile": "recomputable for all members when a
// rule changes"): members gain and lose tags, and after every page the
// counts, the segment and each member's tags agree; the windows' edges
// follow the new rules (a window shortened from 90 days to 10 takes the
// tag at its new edge, with no event), and a window lengthened to 365 days
// reads order days that had left the member's state. On memory, bolt and
// PostgreSQL, in Shanghai; day(n) is the n-th day of 2026 at 12:00.
//
// Version 1: recent (an order in 90 days), big (1,000 or more in all),
// loyal (2 orders in 60 days). Orders: a day 1 and day 2 (100 each), b
// days 150 and 151 (600 each), c day 160 (700), d days 100 and 155 (300
// each), e day 161 (50), f day 165 (1,500). Advance to day 170 12:00:
//
//   - recent, [81, 170]: b, c, d, e, f (a's ended at day 92).
//   - big: b (1,200) and f (1,500).
//   - loyal, [111, 170]: b (d had it from day 155 to day 160: 100 and
//     155; a from day 2 to 61).
//
// Version 2: recent in 10 days, big 500 or more and 2 orders or more,
// loyal 2 orders in 365 days. Recompute at day 170 12:00, the known
// members in member order a..f, pages [a b] [c d] [e f] [] (a full third
// page gives a cursor, the fourth is empty):
//
//   - recent, [161, 170]: b, c, d lose it; e, f keep it. Removed 1, 2, 0.
//   - big: d (600 in 2 orders) gains it, f (one order) loses it, b keeps
//     it. Pages: [b f], [b d f], [b d].
//   - loyal, [day 170 - 364, 170]: a (days 1 and 2, out of the state since
//     version 1's windows passed them) and d gain it. Pages: [a b],
//     [a b d], [a b d].
//
// Edges afterwards: e's order of day 161 leaves 10 days at 00:00 of day
// 171, f's of day 165 at 00:00 of day 175; the others' edges are past
// 2026 (365 days). Version 1 had scheduled e's at day 221 (60 days) and
// f's at day 225.
func TestTagRecomputeAfterAVersionInPages(t *testing.T) {
	ctx := context.Background()
	day := func(n int, h int) time.Time { return time.Date(2026, 1, n, h, 0, 0, 0, shanghai) }
	def := func(version uint64, recentDays int, bigMin string, bigCount int64, loyalDays int) membership.Definition {
		big := []tag.Cond{{Fact: tag.FactOrderAmount, Op: event.Gte, Value: event.DecString(bigMin)}}
		if bigCount > 0 {
			big = append(big, tag.Cond{Fact: tag.FactOrderCount, Op: event.Gte, Value: event.Int(bigCount)})
		}
		return membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
			Tags: &tag.Definition{
				Orders: &tag.Orders{Event: "order", Amount: "amount"},
				Rules: []tag.Rule{
					{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: recentDays, Op: event.Gte, Value: event.Int(1)}}},
					{Tag: "big", All: big},
					{Tag: "loyal", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: loyalDays, Op: event.Gte, Value: event.Int(2)}}},
				},
			},
		}
	}
	order := func(member, amount string, n int) event.Event {
		return event.Event{ID: member + "-" + time.Duration(n).String(), Member: member, Type: "order", Time: day(n, 12),
			Attrs: event.Attrs{"amount": event.DecString(amount)}}
	}
	onEveryStoreVersions(t, def(1, 90, "1000", 0, 60), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		mustProcess(t, ps[0], order("a", "100", 1), order("a", "100", 2), order("d", "300", 100), order("b", "600", 150), order("b", "600", 151),
			order("d", "300", 155), order("c", "700", 160), order("e", "50", 161), order("f", "1500", 165))
		if _, err := ps[1].Advance(ctx, day(170, 12)); err != nil {
			t.Fatal(err)
		}
		agree := func(p *membership.Program, when string, want map[string][]string) {
			t.Helper()
			counts, err := p.Tags().Counts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for name, members := range want {
				var seg []string
				q := tag.SegmentQuery{Expr: tag.MustParse(name), Limit: 2}
				for {
					page, err := p.Tags().Segment(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					seg = append(seg, page.Members...)
					if page.Next == "" {
						break
					}
					q.After = page.Next
				}
				var held []string
				for _, m := range []string{"a", "b", "c", "d", "e", "f"} {
					if slices.Contains(tagNamesOf(t, p, m), name) {
						held = append(held, m)
					}
				}
				if !cmp.Equal(seg, members) || !cmp.Equal(held, members) || counts[name] != int64(len(members)) {
					t.Errorf("%s: %s segment %v, held by %v, count %d; want %v", when, name, seg, held, counts[name], members)
				}
			}
		}
		agree(ps[0], "version 1 at day 170", map[string][]string{"recent": {"b", "c", "d", "e", "f"}, "big": {"b", "f"}, "loyal": {"b"}})
		ps = open(def(2, 10, "500", 2, 365))
		for _, c := range []struct {
			tag              string
			added, removed   [4]int
			after            [4][]string
			untouchedByOther map[string][]string
		}{
			{"recent", [4]int{}, [4]int{1, 2, 0, 0}, [4][]string{{"c", "d", "e", "f"}, {"e", "f"}, {"e", "f"}, {"e", "f"}},
				map[string][]string{"big": {"b", "f"}, "loyal": {"b"}}},
			{"big", [4]int{0, 1, 0, 0}, [4]int{0, 0, 1, 0}, [4][]string{{"b", "f"}, {"b", "d", "f"}, {"b", "d"}, {"b", "d"}},
				map[string][]string{"recent": {"e", "f"}, "loyal": {"b"}}},
			{"loyal", [4]int{1, 1, 0, 0}, [4]int{}, [4][]string{{"a", "b"}, {"a", "b", "d"}, {"a", "b", "d"}, {"a", "b", "d"}},
				map[string][]string{"recent": {"e", "f"}, "big": {"b", "d"}}},
		} {
			req := tag.RecomputeRequest{At: day(170, 12), Tag: c.tag, Limit: 2, Operator: "ops"}
			for i, next := range []string{"b", "d", "f", ""} {
				res, err := ps[i%2].Tags().Recompute(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				examined := 2
				if i == 3 {
					examined = 0
				}
				if res.Next != next || res.Examined != examined || res.Added != c.added[i] || res.Removed != c.removed[i] {
					t.Errorf("recompute %s page %d: %+v; want next %q, %d examined, %d added, %d removed", c.tag, i+1, res, next, examined, c.added[i], c.removed[i])
				}
				want := map[string][]string{c.tag: c.after[i]}
				for k, v := range c.untouchedByOther {
					want[k] = v
				}
				agree(ps[(i+1)%2], "recompute "+c.tag+" page "+string(rune('1'+i)), want)
				req.After = res.Next
			}
		}
		// The new windows' edges: e's at 00:00 of day 171, f's at 00:00
		// of day 175, one due item each.
		for i, s := range []struct {
			to     time.Time
			n      int
			recent []string
		}{
			{day(171, 0).Add(-time.Nanosecond), 0, []string{"e", "f"}},
			{day(171, 0), 1, []string{"f"}},
			{day(175, 0).Add(-time.Nanosecond), 0, []string{"f"}},
			{day(175, 0), 1, nil},
			{day(240, 0), 0, nil},
		} {
			n, err := ps[i%2].Advance(ctx, s.to)
			if err != nil {
				t.Fatal(err)
			}
			if n != s.n {
				t.Errorf("Advance to %v: %d performed, want %d", s.to, n, s.n)
			}
			agree(ps[(i+1)%2], "Advance to "+s.to.String(), map[string][]string{"recent": s.recent, "big": {"b", "d"}, "loyal": {"a", "b", "d"}})
		}
	})
}
