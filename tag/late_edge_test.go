package tag_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
)

// A claim dated after a member's window edge, made before Advance
// performed it, reads the tags the member holds at the claim's time, as
// it would after Advance, on store/memory and on store/bolt (whose edges
// are stamped): "recent" (an order in the last 90 days) from an
// order on 1 January ends at 00:00 on 1 April.
func TestClaimAfterUnperformedEdgeReadsTagsAtItsTime(t *testing.T) {
	def := tagDef()
	def.Coupons.Templates = append(def.Coupons.Templates, coupon.Template{Name: "recent-5", Type: coupon.Cash, Amount: testkit.Dec("5"), Stock: 10,
		Claim: coupon.ClaimRule{Tags: []string{"recent"}}, Use: coupon.UseRule{Validity: rule.Validity{Kind: rule.Permanent}}})
	day := func(n int) time.Time { return time.Date(2026, 1, n, 12, 0, 0, 0, testkit.Shanghai) } // day(91) = 1 April
	for i, advanced := range []bool{true, false, false} {
		p := testkit.OpenMemory(t, def)
		if i == 2 { // stamped edges (tag.at)
			p = testkit.OpenBolt(t, def)
		}
		mustProcess(t, p, newOrder("o1", "ann", "10", day(1)))
		if err := claim(p, "c1", "ann", "recent-5", day(90)); err != nil {
			t.Fatalf("advanced %v: claim on day 90: %v", advanced, err)
		}
		if advanced {
			if _, err := p.Advance(context.Background(), day(91)); err != nil {
				t.Fatal(err)
			}
		}
		if err := claim(p, "c2", "ann", "recent-5", day(91)); !errors.Is(err, errNotEligible) {
			t.Errorf("advanced %v: claim on day 91 = %v, want coupon.ErrNotEligible (recent ended at 00:00)", advanced, err)
		}
		if !advanced {
			// The refused claim wrote nothing: the edge is still Advance's.
			if n, err := p.Advance(context.Background(), day(91)); err != nil || n != 1 {
				t.Errorf("Advance to day 91 after the refused claim: %d, %v; want the edge", n, err)
			}
		}
		if got := tagsOf(t, p, "ann"); len(got) != 0 {
			t.Errorf("advanced %v: tags on day 91 %v, want none", advanced, got)
		}
	}
}
