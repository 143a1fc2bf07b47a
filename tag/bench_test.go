package tag_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/tag"
)

// BenchmarkTagSegmentPage lists one page of 100 members of segments over
// 100,000 tagged members: M (10%), staff (50%), complained (33%).
func BenchmarkTagSegmentPage(b *testing.B) {
	const n = 100_000
	p := testkit.OpenMemory(b, membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "share"}},
		Tags:   &tag.Definition{Manual: []tag.Manual{{Name: "M"}, {Name: "staff"}, {Name: "complained"}}},
	})
	h := p.Tags()
	ctx := context.Background()
	for i := range n {
		m := fmt.Sprintf("m%06d", i)
		for _, name := range []string{"M", "staff", "complained"} {
			if !map[string]bool{"M": i%10 == 0, "staff": i%2 == 0, "complained": i%3 == 0}[name] {
				continue
			}
			if _, err := h.Add(ctx, tag.ManualRequest{RequestID: m + "/" + name, Member: m, Operator: "bench", At: shanghaiAt, Tag: name}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, expr := range []string{"M", "M and not complained", "M and staff", "M or complained"} {
		b.Run(expr, func(b *testing.B) {
			q := tag.SegmentQuery{Expr: tag.MustParse(expr), Limit: 100}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				page, err := h.Segment(ctx, q)
				if err != nil || len(page.Members) == 0 {
					b.Fatalf("page %d members after %q, %v", len(page.Members), q.After, err)
				}
				q.After = page.Next
			}
		})
	}
}
