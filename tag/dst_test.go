package tag_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/tag"
)

// TestTagWindowOverDaylightSaving: "ordered in the last 7 days" counts
// days of the program's zone, whatever their length. In Berlin, an order
// at noon on 25 March 2026 counts through 31 March, across the 23-hour
// 29 March, and drops out at 00:00 on 1 April there (22:00 UTC on 31
// March, not 7×24 hours later at 23:00 UTC). In Havana the clocks go
// from 00:00 to 01:00 on 8 March 2026: an order at noon on 1 March
// counts through 7 March and drops out where 8 March starts, 01:00 CDT
// (05:00 UTC). A segment lists the member until Advance reaches the edge,
// not a nanosecond before.
func TestTagWindowOverDaylightSaving(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		zone      string
		order     time.Time
		edgeInUTC time.Time
	}{
		{"Europe/Berlin", time.Date(2026, 3, 25, 12, 0, 0, 0, testkit.Zone("Europe/Berlin")), time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)},
		{"America/Havana", time.Date(2026, 3, 1, 12, 0, 0, 0, testkit.Zone("America/Havana")), time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC)},
	} {
		t.Run(c.zone, func(t *testing.T) {
			def := tagDef()
			def.Zone = c.zone
			def.Tags.Rules = append(def.Tags.Rules, tag.Rule{Tag: "week", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 7, Op: event.Gte, Value: event.Int(1)}}})
			p := testkit.OpenMemory(t, def)
			mustProcess(t, p, newOrder("o1", "ann", "10", c.order))
			for _, s := range []struct {
				to   time.Time
				want bool
			}{
				{c.edgeInUTC.Add(-time.Hour), true},
				{c.edgeInUTC.Add(-time.Nanosecond), true},
				{c.edgeInUTC, false},
			} {
				if _, err := p.Advance(ctx, s.to); err != nil {
					t.Fatal(err)
				}
				if got := slices.Contains(tagsOf(t, p, "ann"), "week"); got != s.want {
					t.Errorf("Advance to %v: ann has week %v, want %v", s.to, got, s.want)
				}
				if got := segmentOf(t, p, "week"); (len(got) == 1) != s.want {
					t.Errorf("Advance to %v: segment week = %v, want ann %v", s.to, got, s.want)
				}
			}
		})
	}
}
