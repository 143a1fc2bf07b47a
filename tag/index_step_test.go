package tag_test

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

// TestTagIndexInStepOnEveryPath: after each way a tag is given or taken
// (a rule on an event, a profile change, a level set by an operator,
// manual Add and Remove, an erasure (which takes a rule's tag its
// attribute gave), a window lapsing at Advance, a
// Recompute after a new version changed a rule, and one clearing a tag
// the new version left out), the members of each tag listed by Segment in
// pages of 2, the members whose Of lists it, and Counts are the same,
// on every store. The members and tags each step leaves are worked out
// in the comments.
func TestTagIndexInStepOnEveryPath(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt // 2026-03-02 10:00 Shanghai
	members := []string{"m1", "m2", "m3", "m4"}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			v1def := tagDef()
			v1def.Version = 1
			p, err := membership.Open(st, v1def)
			if err != nil {
				t.Fatal(err)
			}
			check := func(step string, want map[string][]string) {
				t.Helper()
				byOf := map[string][]string{}
				for _, m := range members {
					for _, tg := range tagsOf(t, p, m) {
						byOf[tg] = append(byOf[tg], m)
					}
				}
				if diff := cmp.Diff(want, byOf); diff != "" {
					t.Errorf("%s: members by Of (-want +got):\n%s", step, diff)
				}
				counts, err := p.Tags().Counts(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for tg, n := range counts {
					if n != int64(len(want[tg])) {
						t.Errorf("%s: Counts[%s] = %d; want %d", step, tg, n, len(want[tg]))
					}
				}
				for tg, ms := range want {
					if _, ok := counts[tg]; !ok {
						t.Errorf("%s: Counts has no %s; want %d", step, tg, len(ms))
					}
				}
				for _, tg := range slices.Sorted(func(yield func(string) bool) {
					for k := range counts {
						if !yield(k) {
							return
						}
					}
				}) {
					if _, declared := counts[tg]; !declared || !declaredIn(p, tg) {
						continue
					}
					if diff := cmp.Diff(want[tg], segmentOf(t, p, tg)); diff != "" {
						t.Errorf("%s: Segment(%s) (-want +got):\n%s", step, tg, diff)
					}
				}
			}
			manual := func(add bool, id, m, tg string) {
				t.Helper()
				r := tag.ManualRequest{RequestID: id, Member: m, Operator: "ann", At: at, Tag: tg}
				var err error
				if add {
					_, err = p.Tags().Add(ctx, r)
				} else {
					_, err = p.Tags().Remove(ctx, r)
				}
				if err != nil {
					t.Fatal(err)
				}
			}

			// m1: 600 of toys: recent. m2: three orders of 400 of
			// formula: M, big-spender (1,200), frequent, recent.
			mustProcess(t, p, newOrder("o1", "m1", "600", at, "toys"),
				newOrder("o2", "m2", "400", at, "formula-12-36m"),
				newOrder("o3", "m2", "400", at.Add(time.Minute), "formula-12-36m"),
				newOrder("o4", "m2", "400", at.Add(2*time.Minute), "formula-12-36m"))
			// m3: gender f: women. m4: gold: gold-member.
			if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf3", Member: "m3", At: at,
				Attributes: map[string]event.Value{"gender": event.Str("f")}}); err != nil {
				t.Fatal(err)
			}
			setLevel(t, p, "lv4", "m4", "gold", at)
			// staff to m1 and m4, then taken from m1; complained to m2.
			manual(true, "s1", "m1", "staff")
			manual(true, "s4", "m4", "staff")
			manual(false, "s1r", "m1", "staff")
			manual(true, "c2", "m2", "complained")
			check("after events, profile, level and manual tags", map[string][]string{
				"M": {"m2"}, "big-spender": {"m2"}, "frequent": {"m2"}, "recent": {"m1", "m2"},
				"women": {"m3"}, "gold-member": {"m4"}, "staff": {"m4"}, "complained": {"m2"},
			})

			// The erasure removes m3's gender; the rules, evaluated after
			// it as after any change, no longer give women, which the
			// erasure's outcome takes (tag.removed).
			out, err := p.Erase(ctx, membership.EraseRequest{RequestID: "e3", Member: "m3", Operator: "ann", At: at})
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(out, "tag."); !slices.Equal(got, []string{"tag.removed"}) {
				t.Errorf("the erasure's tag changes = %v; want tag.removed (women)", got)
			}
			erased := map[string][]string{
				"M": {"m2"}, "big-spender": {"m2"}, "frequent": {"m2"}, "recent": {"m1", "m2"},
				"gold-member": {"m4"}, "staff": {"m4"}, "complained": {"m2"},
			}
			check("after the erasure", erased)

			// The orders of 2 March count through 30 May (90 days) and
			// drop out at 00:00 on 31 May, Shanghai: Advance exactly to
			// that instant takes recent and frequent.
			edge := time.Date(2026, 5, 31, 0, 0, 0, 0, testkit.Shanghai)
			if _, err := p.Advance(ctx, edge.Add(-time.Nanosecond)); err != nil {
				t.Fatal(err)
			}
			check("a nanosecond before the edge", erased)
			if _, err := p.Advance(ctx, edge); err != nil {
				t.Fatal(err)
			}
			lapsed := map[string][]string{}
			for k, v := range erased {
				if k != "recent" && k != "frequent" {
					lapsed[k] = v
				}
			}
			check("at the edge", lapsed)

			// v2: big-spender from 500, and no complained.
			v2def := tagDef()
			v2def.Version = 2
			v2def.Tags.Manual = slices.DeleteFunc(v2def.Tags.Manual, func(m tag.Manual) bool { return m.Name == "complained" })
			for i, r := range v2def.Tags.Rules {
				if r.Tag == "big-spender" {
					v2def.Tags.Rules[i].All[0].Value = event.DecString("500")
				}
			}
			if p, err = membership.Open(st, v2def); err != nil {
				t.Fatal(err)
			}
			for _, tg := range []string{"big-spender", "complained"} {
				r := tag.RecomputeRequest{At: edge, Tag: tg, Limit: 1}
				for {
					res, err := p.Tags().Recompute(ctx, r)
					if err != nil {
						t.Fatal(err)
					}
					if res.Next == "" {
						break
					}
					r.After = res.Next
				}
			}
			// m1's 600 makes a big-spender at 500; complained is gone.
			lapsed["big-spender"] = []string{"m1", "m2"}
			delete(lapsed, "complained")
			check("after the recomputes", lapsed)
		})
	}
}

// declaredIn reports whether the program's definition declares the tag,
// so that Segment may name it.
func declaredIn(p *membership.Program, tg string) bool {
	_, err := p.Tags().InSegment(context.Background(), "nobody", tag.Tag(tg))
	return err == nil
}
