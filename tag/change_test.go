package tag_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// TestTagNoLongerDeclared: a version that drops a rule's tag
// (big-spender) and a manual tag (complained) that members hold leaves
// them with the members, who are listed with them by Of and counted by
// Counts, and an operator clears them: Remove takes one from a member
// who holds it, Recompute from every member of its pages, each removal
// audited and in the feed, the counts and the index kept. Before, Remove
// and Recompute refused both as unknown, so nobody could clear them, and
// Counts left them out.
func TestTagNoLongerDeclared(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			v1def := tagDef()
			v1def.Version = 1
			v1, err := membership.Open(st, v1def)
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, v1,
				newOrder("o1", "m1", "1200", at), // big-spender, recent
				newOrder("o2", "m2", "1500", at), // big-spender, recent
				newOrder("o3", "m3", "50", at),   // recent
			)
			for _, m := range []string{"m1", "m3"} {
				if _, err := v1.Tags().Add(ctx, tag.ManualRequest{RequestID: "c-" + m, Member: m, Operator: "ann", At: at, Tag: "complained"}); err != nil {
					t.Fatal(err)
				}
			}

			v2def := tagDef()
			v2def.Version = 2
			v2def.Tags.Manual = slices.DeleteFunc(v2def.Tags.Manual, func(m tag.Manual) bool { return m.Name == "complained" })
			v2def.Tags.Rules = slices.DeleteFunc(v2def.Tags.Rules, func(r tag.Rule) bool { return r.Tag == "big-spender" })
			v2, err := membership.Open(st, v2def)
			if err != nil {
				t.Fatal(err)
			}
			tags := v2.Tags()
			if diff := cmp.Diff([]string{"big-spender", "complained", "recent"}, tagsOf(t, v2, "m1")); diff != "" {
				t.Errorf("m1's tags under v2 (-want +got):\n%s", diff)
			}
			wantCounts := func(bigSpender, complained int64) map[string]int64 {
				c := map[string]int64{"M": 0, "recent": 3, "frequent": 0, "gold-member": 0, "women": 0, "staff": 0}
				if bigSpender > 0 {
					c["big-spender"] = bigSpender
				}
				if complained > 0 {
					c["complained"] = complained
				}
				return c
			}
			checkCounts := func(when string, want map[string]int64) {
				t.Helper()
				got, err := tags.Counts(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("counts %s (-want +got):\n%s", when, diff)
				}
			}
			checkCounts("under v2", wantCounts(2, 2))

			// Adding it stays refused; removing it from a member who does
			// not hold it is refused as unknown too.
			if _, err := tags.Add(ctx, tag.ManualRequest{RequestID: "a1", Member: "m2", Operator: "bob", At: at, Tag: "complained"}); !errors.Is(err, tag.ErrUnknownTag) {
				t.Errorf("Add of a tag no longer declared: %v, want ErrUnknownTag", err)
			}
			if _, err := tags.Remove(ctx, tag.ManualRequest{RequestID: "r0", Member: "m2", Operator: "bob", At: at, Tag: "complained"}); !errors.Is(err, tag.ErrUnknownTag) {
				t.Errorf("Remove of a tag no longer declared from a member without it: %v, want ErrUnknownTag", err)
			}

			later := at.Add(time.Hour)
			out, err := tags.Remove(ctx, tag.ManualRequest{RequestID: "r1", Member: "m1", Operator: "bob", At: later, Tag: "complained", Note: "resolved"})
			if err != nil {
				t.Fatal(err)
			}
			fx, err := tag.EffectsOf(out)
			if err != nil {
				t.Fatal(err)
			}
			want := tag.Effects{Removed: []tag.Effect{{Member: "m1", Change: tag.Change{Tag: "complained", Manual: true, By: "bob", Note: "resolved"}}}}
			if diff := cmp.Diff(want, fx); diff != "" {
				t.Errorf("Remove's effects (-want +got):\n%s", diff)
			}
			checkCounts("after m1's complained is removed", wantCounts(2, 1))

			// Recompute of big-spender, no rule's any more, in pages of 2
			// of the members seen (m1, m2 | m3).
			req := tag.RecomputeRequest{Operator: "bob", At: later, Tag: "big-spender", Limit: 2}
			var removed []string
			for pages := 1; ; pages++ {
				res, err := tags.Recompute(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				fx, err := tag.EffectsOf(res.Outcome)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range fx.Removed {
					removed = append(removed, e.Member+" "+e.Tag+" "+e.By)
				}
				if res.Removed != len(fx.Removed) || res.Added != 0 || len(fx.Added) != 0 {
					t.Errorf("page %d: %+v, effects %+v", pages, res, fx)
				}
				if res.Next == "" {
					if pages != 2 {
						t.Errorf("%d pages, want 2", pages)
					}
					break
				}
				req.After = res.Next
			}
			if diff := cmp.Diff([]string{"m1 big-spender rule", "m2 big-spender rule"}, removed); diff != "" {
				t.Errorf("recompute's removals (-want +got):\n%s", diff)
			}
			checkCounts("after big-spender is recomputed", wantCounts(0, 1))
			res, err := tags.Recompute(ctx, tag.RecomputeRequest{At: later, Tag: "complained"})
			if err != nil || res.Examined != 3 || res.Removed != 1 || res.Next != "" {
				t.Errorf("recompute of complained: %+v, %v; want 3 examined, 1 removed", res, err)
			}
			checkCounts("after complained is recomputed", wantCounts(0, 0))
			for _, m := range []string{"m1", "m2", "m3"} {
				if diff := cmp.Diff([]string{"recent"}, tagsOf(t, v2, m)); diff != "" {
					t.Errorf("%s's tags at the end (-want +got):\n%s", m, diff)
				}
			}
			if diff := cmp.Diff([]string{"m1", "m2", "m3"}, segmentOf(t, v2, "recent")); diff != "" {
				t.Errorf("segment recent at the end (-want +got):\n%s", diff)
			}
			// A tag no member holds any more, and one never declared, are
			// unknown again.
			for _, name := range []string{"complained", "nope"} {
				if _, err := tags.Recompute(ctx, tag.RecomputeRequest{At: later, Tag: name}); !errors.Is(err, tag.ErrUnknownTag) {
					t.Errorf("recompute of %s: %v, want ErrUnknownTag", name, err)
				}
			}

			// Every removal is in the feed, and the operator's in the
			// audit trail.
			feed, err := v2.Feed(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var feedRemoved []string
			for _, c := range feed {
				if c.Kind == tag.ChangeRemoved {
					var d tag.Change
					if err := c.Decode(&d); err != nil {
						t.Fatal(err)
					}
					feedRemoved = append(feedRemoved, c.Member+" "+d.Tag)
				}
			}
			if diff := cmp.Diff([]string{"m1 complained", "m1 big-spender", "m2 big-spender", "m3 complained"}, feedRemoved); diff != "" {
				t.Errorf("removals in the feed (-want +got):\n%s", diff)
			}
			page, err := v2.Audit(ctx, membership.AuditQuery{Operator: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range page.Entries {
				actions = append(actions, e.Action+" "+e.Result)
			}
			if !slices.Contains(actions, "tag.remove "+membership.AuditAccepted) || !slices.Contains(actions, "tag.recompute "+membership.AuditAccepted) {
				t.Errorf("bob's audit entries: %v, want an accepted tag.remove and tag.recompute", actions)
			}
		})
	}
}

// TestTagKeywordNameHeldFromAnEarlierRelease: releases before took a tag
// named "NOT" (a keyword in another case, which no expression can name)
// in a definition; Check refuses it now, so a version that leaves it out
// is the only one Open takes, and an operator still clears it: Remove
// takes it from m1, Recompute from m2, with the counts kept. The store's
// records of a manual tag "xyz" are made those of "NOT" byte for byte
// (same length), as an earlier release would have written them.
func TestTagKeywordNameHeldFromAnEarlierRelease(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	v1def := tagDef()
	v1def.Version = 1
	v1def.Tags.Manual = append(v1def.Tags.Manual, tag.Manual{Name: "xyz"})
	v1, err := membership.Open(st, v1def)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"m1", "m2"} {
		if _, err := v1.Tags().Add(ctx, tag.ManualRequest{RequestID: "x-" + m, Member: m, Operator: "ann", At: shanghaiAt, Tag: "xyz"}); err != nil {
			t.Fatal(err)
		}
	}
	renameInStore(t, st, []string{"tag.assigned", "tag.index", "tag.count", "tag.stats"}, "xyz", "NOT")

	bad := tagDef()
	bad.Version = 2
	bad.Tags.Manual = append(bad.Tags.Manual, tag.Manual{Name: "NOT"})
	if _, err := membership.Open(st, bad); !errors.Is(err, rule.ErrInvalidDefinition) {
		t.Fatalf("Open declaring NOT: %v; want rule.ErrInvalidDefinition", err)
	}
	v2def := tagDef()
	v2def.Version = 2
	v2, err := membership.Open(st, v2def)
	if err != nil {
		t.Fatal(err)
	}
	if got := tagsOf(t, v2, "m1"); !slices.Equal(got, []string{"NOT"}) {
		t.Fatalf("m1's tags = %v; want NOT", got)
	}
	if _, err := v2.Tags().Remove(ctx, tag.ManualRequest{RequestID: "r1", Member: "m1", Operator: "ann", At: shanghaiAt, Tag: "NOT"}); err != nil {
		t.Errorf("Remove NOT from m1: %v", err)
	}
	res, err := v2.Tags().Recompute(ctx, tag.RecomputeRequest{At: shanghaiAt, Tag: "NOT"})
	if err != nil || res.Removed != 1 {
		t.Errorf("Recompute NOT = %+v, %v; want 1 removed", res, err)
	}
	counts, err := v2.Tags().Counts(ctx)
	if _, held := counts["NOT"]; err != nil || held {
		t.Errorf("Counts = %v, %v; want no NOT", counts, err)
	}
	for _, m := range []string{"m1", "m2"} {
		if got := tagsOf(t, v2, m); len(got) != 0 {
			t.Errorf("%s's tags = %v; want none", m, got)
		}
	}
}

// renameInStore rewrites every record of the buckets, replacing old in
// keys and values by new, of the same length.
func renameInStore(t *testing.T, st store.Store, buckets []string, old, new string) {
	t.Helper()
	type kv struct{ k, v []byte }
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for _, b := range buckets {
			var all []kv
			err := tx.Scan(b, nil, nil, false, func(k, v []byte) error {
				all = append(all, kv{bytes.Clone(k), bytes.Clone(v)})
				return nil
			})
			if err != nil {
				return err
			}
			for _, r := range all {
				if err := tx.Delete(b, r.k); err != nil {
					return err
				}
			}
			for _, r := range all {
				k := bytes.ReplaceAll(r.k, []byte(old), []byte(new))
				v := bytes.ReplaceAll(r.v, []byte(old), []byte(new))
				if err := tx.Put(b, k, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
