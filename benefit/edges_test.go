package benefit_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// A member's benefits and member price follow the level and the plans
// to the instant: gold set on 2 March 10:00 for a term of one month
// (months after, N = 1) ends at 24:00 of 2 April, the instant 3 April
// 00:00, where a window without growth takes the member down to silver,
// whether or not Advance has performed the term end; a monthly plan
// bought on 2 March 10:00 and again on 10 March runs until 2 May 10:00
// (the second purchase extends from the first's expiry).
func TestBenefitsAtTheirEdges(t *testing.T) {
	ctx := context.Background()
	def := progDef()
	gold := &def.Levels.Ladder[2]
	gold.Validity, gold.Retention, gold.Window = rule.Validity{Kind: rule.MonthsAfter, N: 1}, dec("500"), 1
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, zone)
	termEnd := time.Date(2026, 4, 3, 0, 0, 0, 0, zone)
	planEnd := time.Date(2026, 5, 2, 10, 0, 0, 0, zone)
	p := testkit.OpenMemory(t, def)
	if _, err := p.Levels().Set(ctx, level.SetRequest{RequestID: "lv", Member: "m", Operator: "bob", Note: "test", At: at, Level: "gold"}); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, progEvent("b1", "m", "buy_plan", at, event.Attrs{"plan": event.Str("plus")}),
		progEvent("b2", "m", "buy_plan", at.AddDate(0, 0, 8), event.Attrs{"plan": event.Str("plus")}))
	check := func(when time.Time, wantBenefits []string, wantPrice string) {
		t.Helper()
		bs, err := p.Benefits().Of(ctx, "m", when)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantBenefits, names(bs)); diff != "" {
			t.Errorf("benefits at %v (-want +got):\n%s", when, diff)
		}
		price, err := p.Benefits().MemberPrice(ctx, "m", dec("100"), when)
		if err != nil || !price.Amount.Equal(dec(wantPrice)) {
			t.Errorf("member price of 100 at %v = %+v, %v; want %s", when, price, err, wantPrice)
		}
	}
	for _, advanced := range []bool{false, true} {
		// plus (0.85) is below gold (0.88) and silver (0.95) while it runs.
		if !advanced { // after the term end, no past is kept (Of's doc)
			check(termEnd.Add(-time.Nanosecond), []string{"gold-discount", "birthday-care", "plus-discount", "plus-delivery"}, "85")
		}
		check(termEnd, []string{"silver-discount", "birthday-care", "plus-discount", "plus-delivery"}, "85")
		check(planEnd.Add(-time.Nanosecond), []string{"silver-discount", "birthday-care", "plus-discount", "plus-delivery"}, "85")
		check(planEnd, []string{"silver-discount", "birthday-care"}, "95")
		if !advanced {
			if _, err := p.Advance(ctx, termEnd); err != nil {
				t.Fatal(err)
			}
			if lvl, err := p.Levels().Status(ctx, "m"); err != nil || lvl.Level != "silver" {
				t.Fatalf("after Advance to the term end: %+v, %v; want silver", lvl, err)
			}
		}
	}
}
