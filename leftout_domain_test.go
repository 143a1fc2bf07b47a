package membership_test

import (
	"context"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/tag"
)

// An achievement or a tag a version leaves out stays the member's:
// Achievements lists it under a version that keeps other achievements,
// and under one without benefits at all; Tags().Of lists a tag under a
// version without tags. Before, the version without the domain listed
// none, as if the member had never had them.
func TestVersionLeftOutDomainStillRead(t *testing.T) {
	ctx := context.Background()
	def := func(version uint64, names ...string) membership.Definition {
		d := membership.Definition{
			Version: version,
			Zone:    "Asia/Shanghai",
			Events:  []event.Type{{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}}},
		}
		if len(names) > 0 {
			d.Tags = &tag.Definition{Manual: []tag.Manual{{Name: "vip"}}}
			d.Benefits = &benefit.Definition{}
			for _, n := range names {
				d.Benefits.Achievements = append(d.Benefits.Achievements, benefit.Achievement{Name: n})
			}
		}
		return d
	}
	onEveryStoreVersions(t, def(1, "explorer", "veteran"), nil, func(t *testing.T, ps [2]*membership.Program, open func(membership.Definition) [2]*membership.Program) {
		if _, err := ps[0].Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g1", Member: "ann", Operator: "ops", At: midflightAt(1, 10), Achievement: "explorer"}); err != nil {
			t.Fatal(err)
		}
		if _, err := ps[0].Tags().Add(ctx, tag.ManualRequest{RequestID: "t1", Member: "ann", Operator: "ops", At: midflightAt(1, 10), Tag: "vip"}); err != nil {
			t.Fatal(err)
		}
		names := func(p *membership.Program) ([]string, error) {
			gs, err := p.Benefits().Achievements(ctx, "ann")
			var ns []string
			for _, g := range gs {
				ns = append(ns, g.Achievement)
			}
			return ns, err
		}
		ps = open(def(2, "veteran"))
		if got, err := names(ps[1]); err != nil || len(got) != 1 || got[0] != "explorer" {
			t.Errorf("ann's achievements under a version without explorer: %v, %v; want [explorer]", got, err)
		}
		ps = open(def(3))
		if got, err := names(ps[1]); err != nil || len(got) != 1 || got[0] != "explorer" {
			t.Errorf("ann's achievements under a version without achievements: %v, %v; want [explorer]", got, err)
		}
		if as, err := ps[1].Tags().Of(ctx, "ann"); err != nil || len(as) != 1 || as[0].Tag != "vip" || !as[0].Manual {
			t.Errorf("ann's tags under a version without tags: %+v, %v; want vip", as, err)
		}
	})
}
