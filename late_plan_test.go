package membership_test

import (
	"context"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
)

// latePlanDef is a program in Shanghai with one permanent level, a
// monthly plan "plus" bought by a fee, and a lounge benefit of the plan.
func latePlanDef() membership.Definition {
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "fee", Attributes: []event.Attr{{Name: "plan", Kind: event.String, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "member", Validity: rule.Validity{Kind: rule.Permanent}}},
			Plans:  []level.Plan{{Name: "plus", Period: level.Monthly, Event: "fee", Attr: "plan"}},
		},
		Benefits: &benefit.Definition{Benefits: []benefit.Benefit{{Name: "lounge", Type: benefit.TypeService, Plans: []string{"plus"}}}},
	}
}

// The benefits of a time before the member's latest plan change follow
// the plans held then, read back from the level history, not those held
// now. ann buys plus at 10:00 on 1 March, to 1 April 10:00: at 09:00
// she has no lounge (before, she had: the plan she holds now had not run
// out by then). Advance to 10 April performs the expiry; the lounge is
// hers on 20 March and up to 1 April 09:59 (before, not: she held no
// plan any more), not from 10:00. She buys plus anew at 12:00 on 10
// April, to 10 May 12:00: on 5 April, between the two runs, no lounge
// (before, the new run's); on 20 March still the first run's; from 10
// April 12:00 the new run's, up to its expiry instant.
func TestLateBenefitsFollowThePlansHeldAtTheirTime(t *testing.T) {
	onEveryStore(t, latePlanDef(), func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		l := lateLevel{t: t, p: ps[0], member: "ann"}
		fee := func(id, when string) {
			t.Helper()
			testkit.MustProcess(t, l.p, event.Event{ID: id, Member: l.member, Type: "fee", Time: l.at(when), Attrs: event.Attrs{"plan": event.Str("plus")}})
		}
		lounge := func(when string, want bool) {
			t.Helper()
			if got := l.lounge(when); got != want {
				t.Errorf("lounge at %s: %v, want %v", when, got, want)
			}
		}
		fee("f1", "03-01 10:00")
		lounge("03-01 09:00", false)
		lounge("03-01 10:00", true)
		if _, err := l.p.Advance(ctx, l.at("04-10 00:00")); err != nil {
			t.Fatal(err)
		}
		lounge("03-20 12:00", true)
		lounge("04-01 09:59", true)
		lounge("04-01 10:00", false)
		fee("f2", "04-10 12:00")
		lounge("04-05 00:00", false)
		lounge("03-20 12:00", true)
		lounge("04-10 11:59", false)
		lounge("04-10 12:00", true)
		lounge("05-10 11:59", true)
		lounge("05-10 12:00", false)
		if err := l.p.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
