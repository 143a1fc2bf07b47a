package membership_test

import (
	"context"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/tag"
)

// An erasure under a version without benefits and tags still erases what
// the member's achievements and tags hold of them: the notes of a grant
// and of a manual tag, and the profile attributes, which a later version
// declaring them again would otherwise read back.
func TestVersionEraseWithoutTheDomains(t *testing.T) {
	ctx := context.Background()
	def := func(version uint64, domains bool) membership.Definition {
		d := membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		}
		if domains {
			d.Benefits = &benefit.Definition{Achievements: []benefit.Achievement{{Name: "explorer"}}}
			d.Tags = &tag.Definition{Attributes: []event.Attr{{Name: "phone", Kind: event.String}}, Manual: []tag.Manual{{Name: "vip"}}}
		}
		return d
	}
	onEveryStoreVersions(t, def(1, true), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		at := midflightAt(1, 10)
		if _, err := ps[0].Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g1", Member: "ann", Operator: "ops", Note: "told us about her illness", At: at, Achievement: "explorer"}); err != nil {
			t.Fatal(err)
		}
		if _, err := ps[0].Tags().Add(ctx, tag.ManualRequest{RequestID: "t1", Member: "ann", Operator: "ops", Note: "lives at 5 Elm St", At: at, Tag: "vip"}); err != nil {
			t.Fatal(err)
		}
		if _, err := ps[0].Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "p1", Member: "ann", At: at, Attributes: map[string]event.Value{"phone": event.Str("13800000000")}}); err != nil {
			t.Fatal(err)
		}
		ps = open(def(2, false))
		if _, err := ps[1].Erase(ctx, membership.EraseRequest{RequestID: "e1", Member: "ann", Operator: "dpo", At: midflightAt(2, 10)}); err != nil {
			t.Fatal(err)
		}
		ps = open(def(3, true))
		gs, err := ps[0].Benefits().Achievements(ctx, "ann")
		if err != nil || len(gs) != 1 || gs[0].Note != "" {
			t.Errorf("ann's achievements after the erasure: %+v, %v; want explorer without its note", gs, err)
		}
		pr, err := ps[0].Tags().Profile(ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		if len(pr.Attributes) != 0 {
			t.Errorf("ann's profile attributes after the erasure: %v, want none", pr.Attributes)
		}
		if len(pr.Tags) != 1 || pr.Tags[0].Tag != "vip" || pr.Tags[0].Note != "" {
			t.Errorf("ann's tags after the erasure: %+v, want vip without its note", pr.Tags)
		}
	})
}
