package tag_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

// tagDef is a program with a three-level ladder, coupons (one claimable
// by members tagged M) and tag rules: M (top category is 12–36 month
// infant formula), recent (an order in the last 90 days), frequent (3 in
// 90 days), big-spender (1,000 in total), gold-member, women (a profile
// attribute); and the manual tags staff and complained.
func tagDef() membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	days30 := coupon.UseRule{Validity: rule.Validity{Kind: rule.DaysAfter, N: 30}}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{
				{Name: "amount", Kind: event.Decimal, Required: true},
				{Name: "brand", Kind: event.String},
				{Name: "category", Kind: event.Strings},
				{Name: "product", Kind: event.Strings},
			}},
			{Name: "share"},
			{Name: "recharge", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{
				{Name: "bronze", Upgrade: testkit.Dec("0"), Validity: permanent},
				{Name: "silver", Upgrade: testkit.Dec("100"), Validity: permanent},
				{Name: "gold", Upgrade: testkit.Dec("500"), Validity: permanent},
			},
		},
		Coupons: &coupon.Definition{
			Templates: []coupon.Template{
				{Name: "formula-30", Type: coupon.Cash, Amount: testkit.Dec("30"), MinOrder: testkit.Dec("300"), Stock: 100,
					Claim: coupon.ClaimRule{Tags: []string{"M"}}, Use: days30},
			},
		},
		Tags: &tag.Definition{
			Orders:     &tag.Orders{Event: "order", Amount: "amount", Brand: "brand", Category: "category", Product: "product"},
			Recharge:   &tag.Recharge{Event: "recharge", Amount: "amount"},
			Top:        3,
			Attributes: []event.Attr{{Name: "gender", Kind: event.String}, {Name: "birthday", Kind: event.Time}, {Name: "source", Kind: event.String}},
			Manual:     []tag.Manual{{Name: "staff"}, {Name: "complained"}},
			Rules: []tag.Rule{
				{Tag: "M", Description: "prefers 12-36 month infant formula", All: []tag.Cond{{Fact: tag.FactTopCategory, Op: event.Eq, Value: event.Str("formula-12-36m")}}},
				{Tag: "recent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(1)}}},
				{Tag: "frequent", All: []tag.Cond{{Fact: tag.FactOrderCount, Days: 90, Op: event.Gte, Value: event.Int(3)}}},
				{Tag: "big-spender", All: []tag.Cond{{Fact: tag.FactOrderAmount, Op: event.Gte, Value: event.DecString("1000")}}},
				{Tag: "gold-member", All: []tag.Cond{{Fact: tag.FactLevel, Op: event.Eq, Value: event.Str("gold")}}},
				{Tag: "women", All: []tag.Cond{{Fact: tag.AttrFact("gender"), Op: event.Eq, Value: event.Str("f")}}},
			},
		},
	}
}

var shanghaiAt = time.Date(2026, 3, 2, 10, 0, 0, 0, testkit.Shanghai)

func openTags(t testing.TB) *membership.Program {
	t.Helper()
	return testkit.OpenMemory(t, tagDef())
}

func newEvent(id, member, typ string, at time.Time, attrs event.Attrs) event.Event {
	return event.Event{ID: id, Member: member, Type: typ, Time: at, Attrs: attrs}
}

func newOrder(id, member, amount string, at time.Time, categories ...string) event.Event {
	return newEvent(id, member, "order", at, event.Attrs{"amount": event.DecString(amount), "category": event.List(categories...)})
}

var mustProcess = testkit.MustProcess

var kinds = testkit.Kinds

// tagsOf returns the names of a member's tags.
func tagsOf(t *testing.T, p *membership.Program, member string) []string {
	t.Helper()
	as, err := p.Tags().Of(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Tag)
	}
	return out
}

// segmentOf lists a whole segment in pages of 2.
func segmentOf(t *testing.T, p *membership.Program, expr string) []string {
	t.Helper()
	var all []string
	q := tag.SegmentQuery{Expr: tag.MustParse(expr), Limit: 2}
	for {
		page, err := p.Tags().Segment(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Members...)
		if page.Next == "" {
			return all
		}
		q.After = page.Next
	}
}

func TestTagRulesFollowEventsAndProfile(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt
	p := openTags(t)
	out := mustProcess(t, p, newOrder("o1", "m", "600", at, "toys"))[0]
	if diff := cmp.Diff([]string{"recent"}, tagsOf(t, p, "m")); diff != "" {
		t.Errorf("after one order (-want +got):\n%s", diff)
	}
	added := out.ChangesOf(tag.ChangeAdded)
	if len(added) != 1 || added[0].Reason == nil || added[0].Reason.Inputs["order_count/90d"] != "1" {
		t.Errorf("tag.added changes %+v, want one with the window count as input", added)
	}
	mustProcess(t, p, newOrder("o2", "m", "300", at.Add(time.Hour), "formula-12-36m"), newOrder("o3", "m", "300", at.Add(2*time.Hour), "formula-12-36m"))
	if diff := cmp.Diff([]string{"M", "big-spender", "frequent", "recent"}, tagsOf(t, p, "m")); diff != "" {
		t.Errorf("after three orders (-want +got):\n%s", diff)
	}
	// The level rule follows a level change made by an operator at once,
	// in the same transaction.
	setLevel(t, p, "lv", "m", "gold", at)
	if got := tagsOf(t, p, "m"); !cmp.Equal(got, []string{"M", "big-spender", "frequent", "gold-member", "recent"}) {
		t.Errorf("after the level change: %v", got)
	}
	counts, err := p.Tags().Counts(ctx)
	if err != nil || counts["gold-member"] != 1 || counts["M"] != 1 || counts["women"] != 0 {
		t.Errorf("Counts = %v, %v", counts, err)
	}
	// Profile attributes re-evaluate the rules at once.
	out, err = p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf1", Member: "m", At: at,
		Attributes: map[string]event.Value{"gender": event.Str("f"), "source": event.Str("mini-program")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ChangesOf(tag.ChangeAdded)) != 1 || !slices.Contains(tagsOf(t, p, "m"), "women") {
		t.Errorf("SetProfile added %v; tags %v", kinds(out, "tag."), tagsOf(t, p, "m"))
	}
	out, err = p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf2", Member: "m", At: at, Attributes: map[string]event.Value{"gender": {}}})
	if err != nil || len(out.ChangesOf(tag.ChangeRemoved)) != 1 || slices.Contains(tagsOf(t, p, "m"), "women") {
		t.Errorf("removing gender: %v, %v; tags %v", err, kinds(out, "tag."), tagsOf(t, p, "m"))
	}
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf3", Member: "m", At: at, Attributes: map[string]event.Value{"shoe": event.Str("42")}}); !errors.Is(err, tag.ErrUnknownAttribute) {
		t.Errorf("undeclared attribute: %v", err)
	}
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf4", Member: "m", At: at, Attributes: map[string]event.Value{"gender": event.Int(1)}}); !errors.Is(err, tag.ErrAttributeType) {
		t.Errorf("mistyped attribute: %v", err)
	}
	// Each attribute at fault is named on a line of its own, in name
	// order, as an event's attributes are.
	_, err = p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf5", Member: "m", At: at,
		Attributes: map[string]event.Value{"shoe": event.Str("42"), "gender": event.Int(1), "age": event.Str("x")}})
	want := "tag: set profile of \"m\": attributes.age: unknown profile attribute\n" +
		"attributes.gender: profile attribute has the wrong type: got integer, want string\n" +
		"attributes.shoe: unknown profile attribute"
	if err == nil || err.Error() != want {
		t.Errorf("three attributes at fault: %v\nwant %s", err, want)
	}
	// "top category" follows the preference: toys overtake formula.
	mustProcess(t, p, newOrder("o4", "m", "10", at.Add(4*time.Hour), "toys"), newOrder("o5", "m", "10", at.Add(5*time.Hour), "toys"))
	if slices.Contains(tagsOf(t, p, "m"), "M") {
		t.Errorf("M kept after toys became the top category: %v", tagsOf(t, p, "m"))
	}
}

func TestTagManual(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt
	p := openTags(t)
	add := tag.ManualRequest{RequestID: "a1", Member: "m", Operator: "alice", Note: "works at store 12", At: at, Tag: "staff"}
	out, err := p.Tags().Add(ctx, add)
	if err != nil || len(out.ChangesOf(tag.ChangeAdded)) != 1 {
		t.Fatalf("Add: %v %v", err, out)
	}
	again, err := p.Tags().Add(ctx, add)
	if err != nil || !again.Duplicate {
		t.Errorf("retry: %v", err)
	}
	if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "a1", Member: "m", Operator: "alice", At: at, Tag: "complained"}); !errors.Is(err, membership.ErrEventConflict) {
		t.Errorf("request ID reused: %v", err)
	}
	as, err := p.Tags().Of(ctx, "m")
	want := []tag.Assigned{{Tag: "staff", Manual: true, By: "alice", At: at.UTC(), Event: "a1", Note: "works at store 12"}}
	if diff := cmp.Diff(want, as); err != nil || diff != "" {
		t.Errorf("tags (-want +got):\n%s %v", diff, err)
	}
	if len(as) == 1 && as[0].At.Location() != p.Location() {
		t.Errorf("tag time in %v, want the program's zone", as[0].At.Location())
	}
	for _, tc := range []struct {
		name, tag, operator string
		want                error
	}{
		{"rule tag", "recent", "alice", tag.ErrNotManual},
		{"unknown", "ghost", "alice", tag.ErrUnknownTag},
		{"no operator", "staff", "", membership.ErrInvalidArgument},
	} {
		if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "x-" + tc.name, Member: "m", Operator: tc.operator, At: at, Tag: tc.tag}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	out, err = p.Tags().Remove(ctx, tag.ManualRequest{RequestID: "r1", Member: "m", Operator: "bob", Note: "left the company", At: at.Add(time.Hour), Tag: "staff"})
	if err != nil || len(out.ChangesOf(tag.ChangeRemoved)) != 1 || len(tagsOf(t, p, "m")) != 0 {
		t.Fatalf("Remove: %v; tags %v", err, tagsOf(t, p, "m"))
	}
	var ch tag.Change
	if err := out.Changes[0].Decode(&ch); err != nil || ch != (tag.Change{Tag: "staff", Manual: true, By: "bob", Note: "left the company"}) {
		t.Errorf("removal data %+v, %v", ch, err)
	}
	out, err = p.Tags().Remove(ctx, tag.ManualRequest{RequestID: "r2", Member: "m", Operator: "bob", At: at.Add(time.Hour), Tag: "staff"})
	if err != nil || len(out.Changes) != 0 {
		t.Errorf("removing an absent tag: %v, %v", err, out.Changes)
	}
}

// Every write retried with the same request returns the first outcome
// with Duplicate set; reused for another request it is a conflict that
// changes nothing.
func TestTagWritesRetryAndConflict(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt
	tests := []struct {
		name string
		// first is the write; other makes another request under its ID.
		first, other func(h *tag.Handle) (*change.Outcome, error)
	}{
		{"Add",
			func(h *tag.Handle) (*change.Outcome, error) {
				return h.Add(ctx, tag.ManualRequest{RequestID: "w", Member: "m", Operator: "alice", At: at, Tag: "complained"})
			},
			func(h *tag.Handle) (*change.Outcome, error) {
				return h.Add(ctx, tag.ManualRequest{RequestID: "w", Member: "m", Operator: "bob", At: at, Tag: "complained"})
			}},
		{"Remove",
			func(h *tag.Handle) (*change.Outcome, error) {
				return h.Remove(ctx, tag.ManualRequest{RequestID: "w", Member: "m", Operator: "alice", At: at, Tag: "staff"})
			},
			func(h *tag.Handle) (*change.Outcome, error) {
				// The same fields as an Add: another request.
				return h.Add(ctx, tag.ManualRequest{RequestID: "w", Member: "m", Operator: "alice", At: at, Tag: "staff"})
			}},
		{"SetProfile",
			func(h *tag.Handle) (*change.Outcome, error) {
				return h.SetProfile(ctx, tag.ProfileRequest{RequestID: "w", Member: "m", At: at, Attributes: map[string]event.Value{"gender": event.Str("f")}})
			},
			func(h *tag.Handle) (*change.Outcome, error) {
				return h.SetProfile(ctx, tag.ProfileRequest{RequestID: "w", Member: "m", At: at, Attributes: map[string]event.Value{"gender": event.Str("m")}})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := openTags(t)
			h := p.Tags()
			// The member has staff (from another request) so Remove has
			// something to take.
			if _, err := h.Add(ctx, tag.ManualRequest{RequestID: "setup", Member: "m", Operator: "alice", At: at, Tag: "staff"}); err != nil {
				t.Fatal(err)
			}
			first, err := tc.first(h)
			if err != nil || first.Duplicate || len(first.Changes) != 1 {
				t.Fatalf("first: %+v, %v; want one change", first, err)
			}
			state := func() (any, []change.Change) {
				pr, err := h.Profile(ctx, "m")
				if err != nil {
					t.Fatal(err)
				}
				feed, err := p.Feed(ctx, 0, 0)
				if err != nil {
					t.Fatal(err)
				}
				return pr, feed
			}
			prBefore, feedBefore := state()
			again, err := tc.first(h)
			if err != nil || !again.Duplicate {
				t.Fatalf("retry: %+v, %v; want the first outcome, Duplicate", again, err)
			}
			if diff := cmp.Diff(first.Changes, again.Changes); diff != "" {
				t.Errorf("retry's changes (-first +retry):\n%s", diff)
			}
			if _, err := tc.other(h); !errors.Is(err, membership.ErrEventConflict) {
				t.Errorf("other request under the ID: %v, want ErrEventConflict", err)
			}
			prAfter, feedAfter := state()
			if diff := cmp.Diff(prBefore, prAfter); diff != "" {
				t.Errorf("profile changed by the retry or the conflict (-before +after):\n%s", diff)
			}
			if len(feedAfter) != len(feedBefore) {
				t.Errorf("feed grew from %d to %d changes", len(feedBefore), len(feedAfter))
			}
		})
	}
}

// The same request at the same instant in another zone is the same
// request.
func TestTagRetryInAnotherZone(t *testing.T) {
	ctx := context.Background()
	p := openTags(t)
	r := tag.ManualRequest{RequestID: "a1", Member: "m", Operator: "alice", At: shanghaiAt, Tag: "staff"}
	if _, err := p.Tags().Add(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.At = r.At.UTC()
	if out, err := p.Tags().Add(ctx, r); err != nil || !out.Duplicate {
		t.Errorf("retry in UTC: %+v, %v; want a duplicate", out, err)
	}
}

func TestTagRequestErrors(t *testing.T) {
	ctx := context.Background()
	p := openTags(t)
	h := p.Tags()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"add without request ID", func() error {
			_, err := h.Add(ctx, tag.ManualRequest{Member: "m", Operator: "alice", At: shanghaiAt, Tag: "staff"})
			return err
		}},
		{"add without member", func() error {
			_, err := h.Add(ctx, tag.ManualRequest{RequestID: "r", Operator: "alice", At: shanghaiAt, Tag: "staff"})
			return err
		}},
		{"add without time", func() error {
			_, err := h.Add(ctx, tag.ManualRequest{RequestID: "r", Member: "m", Operator: "alice", Tag: "staff"})
			return err
		}},
		{"profile without time", func() error {
			_, err := h.SetProfile(ctx, tag.ProfileRequest{RequestID: "r", Member: "m"})
			return err
		}},
		{"profile of a member with a NUL", func() error {
			_, err := h.SetProfile(ctx, tag.ProfileRequest{RequestID: "r", Member: "m\x00", At: shanghaiAt})
			return err
		}},
		{"recompute without time", func() error {
			_, err := h.Recompute(ctx, tag.RecomputeRequest{Tag: "recent"})
			return err
		}},
	} {
		if err := tc.call(); !errors.Is(err, membership.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", tc.name, err)
		}
	}
}

// A profile request with no attributes asks no change, as an Add naming
// no tag: it is refused, naming attributes, and writes nothing — no audit
// entry, no change, no request record (its ID is then free for a request
// that sets something).
func TestSetProfileWithoutAttributes(t *testing.T) {
	ctx := context.Background()
	p := openTags(t)
	for name, attrs := range map[string]map[string]event.Value{"nil": nil, "empty": {}} {
		_, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf", Member: "m", At: shanghaiAt, Attributes: attrs})
		if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "attributes") {
			t.Errorf("SetProfile with %s attributes = %v; want ErrInvalidArgument naming attributes", name, err)
		}
	}
	if pg, err := p.Audit(ctx, membership.AuditQuery{}); err != nil || len(pg.Entries) != 0 {
		t.Errorf("audit after the refusals = %+v, %v; want no entry", pg.Entries, err)
	}
	if cs, err := p.Feed(ctx, 0, 0); err != nil || len(cs) != 0 {
		t.Errorf("feed after the refusals = %+v, %v; want no change", cs, err)
	}
	out, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf", Member: "m", At: shanghaiAt, Attributes: map[string]event.Value{"gender": event.Str("f")}})
	if err != nil || out.Duplicate || len(out.ChangesOf(tag.ChangeAdded)) != 1 {
		t.Errorf("SetProfile under the refused requests' ID = %+v, %v; want it applied, adding women", out, err)
	}
}

// Removing an attribute the definition does not declare (a misspelt
// "gendr") is refused as setting one is, naming it, and writes nothing:
// the member's gender stays, and the request ID stays free. Removing a
// declared one removes it.
func TestSetProfileRemovesOnlyDeclaredAttributes(t *testing.T) {
	ctx := context.Background()
	p := openTags(t)
	h := p.Tags()
	if _, err := h.SetProfile(ctx, tag.ProfileRequest{RequestID: "set", Member: "m", At: shanghaiAt,
		Attributes: map[string]event.Value{"gender": event.Str("f")}}); err != nil {
		t.Fatal(err)
	}
	before, err := p.Feed(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.SetProfile(ctx, tag.ProfileRequest{RequestID: "del", Member: "m", At: shanghaiAt.Add(time.Hour),
		Attributes: map[string]event.Value{"gendr": {}, "source": {}}})
	if !errors.Is(err, tag.ErrUnknownAttribute) || !strings.Contains(err.Error(), "attributes.gendr") || strings.Contains(err.Error(), "attributes.source") {
		t.Fatalf("removing gendr and source = %v; want ErrUnknownAttribute naming attributes.gendr alone", err)
	}
	if after, err := p.Feed(ctx, 0, 0); err != nil || len(after) != len(before) {
		t.Errorf("feed after the refusal: %d changes (%v), want %d", len(after), err, len(before))
	}
	pr, err := h.Profile(ctx, "m")
	if err != nil || !pr.Attributes["gender"].Equal(event.Str("f")) {
		t.Errorf("profile after the refusal = %+v, %v; want gender f", pr.Attributes, err)
	}
	out, err := h.SetProfile(ctx, tag.ProfileRequest{RequestID: "del", Member: "m", At: shanghaiAt.Add(time.Hour),
		Attributes: map[string]event.Value{"gender": {}}})
	if err != nil || out.Duplicate {
		t.Fatalf("removing gender under the refused request's ID = %+v, %v", out, err)
	}
	if pr, err := h.Profile(ctx, "m"); err != nil || pr.Attributes != nil {
		t.Errorf("profile after removing gender = %+v, %v; want no attribute", pr.Attributes, err)
	}
}

// Without tags in the definition, every call of the handle says so, but
// the list of a member's tags, which is empty.
func TestTagNotDefined(t *testing.T) {
	ctx := context.Background()
	p := testkit.OpenMemory(t, membership.Definition{Zone: "Asia/Shanghai", Events: []event.Type{{Name: "share"}}})
	h := p.Tags()
	errs := map[string]error{}
	_, errs["Add"] = h.Add(ctx, tag.ManualRequest{RequestID: "r", Member: "m", Operator: "a", At: shanghaiAt, Tag: "x"})
	_, errs["Remove"] = h.Remove(ctx, tag.ManualRequest{RequestID: "r", Member: "m", Operator: "a", At: shanghaiAt, Tag: "x"})
	_, errs["SetProfile"] = h.SetProfile(ctx, tag.ProfileRequest{RequestID: "r", Member: "m", At: shanghaiAt})
	_, errs["Recompute"] = h.Recompute(ctx, tag.RecomputeRequest{At: shanghaiAt, Tag: "x"})
	_, errs["Profile"] = h.Profile(ctx, "m")
	_, errs["Segment"] = h.Segment(ctx, tag.SegmentQuery{Expr: tag.MustParse("x")})
	_, errs["InSegment"] = h.InSegment(ctx, "m", tag.MustParse("x"))
	_, errs["Counts"] = h.Counts(ctx)
	for name, err := range errs {
		if !errors.Is(err, tag.ErrNotDefined) {
			t.Errorf("%s: %v, want ErrNotDefined", name, err)
		}
	}
	if as, err := h.Of(ctx, "m"); err != nil || len(as) != 0 {
		t.Errorf("Of: %v, %v; want an empty list", as, err)
	}
	// Events of such a program tag nobody.
	if out := mustProcess(t, p, newEvent("s1", "m", "share", shanghaiAt, nil))[0]; len(out.Changes) != 0 {
		t.Errorf("changes %v", kinds(out, ""))
	}
}

// EffectsOf reads the tags an outcome gave and took.
func TestTagEffectsOf(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt
	p := openTags(t)
	out := mustProcess(t, p, newOrder("o1", "m", "1200", at, "formula-12-36m"))[0]
	fx, err := tag.EffectsOf(out)
	if err != nil {
		t.Fatal(err)
	}
	byRule := func(member, name string) tag.Effect {
		return tag.Effect{Member: member, Change: tag.Change{Tag: name, By: "rule"}}
	}
	want := tag.Effects{Added: []tag.Effect{byRule("m", "M"), byRule("m", "recent"), byRule("m", "big-spender")}}
	if diff := cmp.Diff(want, fx); diff != "" {
		t.Errorf("effects of the order (-want +got):\n%s", diff)
	}
	out, err = p.Tags().Remove(ctx, tag.ManualRequest{RequestID: "r", Member: "m", Operator: "bob", At: at, Tag: "staff"})
	if err != nil {
		t.Fatal(err)
	}
	if fx, err := tag.EffectsOf(out); err != nil || len(fx.Added)+len(fx.Removed) != 0 {
		t.Errorf("removing an absent tag: %+v, %v", fx, err)
	}
	out, err = p.Tags().Add(ctx, tag.ManualRequest{RequestID: "a", Member: "m", Operator: "bob", Note: "n", At: at, Tag: "staff"})
	if err != nil {
		t.Fatal(err)
	}
	fx, err = tag.EffectsOf(out)
	want = tag.Effects{Added: []tag.Effect{{Member: "m", Change: tag.Change{Tag: "staff", Manual: true, By: "bob", Note: "n"}}}}
	if diff := cmp.Diff(want, fx); err != nil || diff != "" {
		t.Errorf("effects of Add (-want +got):\n%s %v", diff, err)
	}
	if fx, err := tag.EffectsOf(nil); err != nil || fx.Added != nil || fx.Removed != nil {
		t.Errorf("EffectsOf(nil) = %+v, %v", fx, err)
	}
	bad := &change.Outcome{Changes: []change.Change{{Kind: tag.ChangeRemoved, Data: []byte("{")}}}
	if _, err := tag.EffectsOf(bad); err == nil {
		t.Error("EffectsOf of a malformed change: no error")
	}
}

// "Ordered in the last 90 days": an order on day 1 keeps the tag through
// day 90 and loses it at 00:00 of day 91, when Advance passes that edge;
// Advance performs one due item per member at an edge, not a scan.
func TestTagWindowDropsOnDay91ViaAdvance(t *testing.T) {
	for backend, open := range map[string]func(testing.TB, membership.Definition, ...membership.Option) *membership.Program{
		"memory": testkit.OpenMemory, "bolt": testkit.OpenBolt,
	} {
		t.Run(backend, func(t *testing.T) { testTagWindowDropsOnDay91(t, open(t, tagDef())) })
	}
}

func testTagWindowDropsOnDay91(t *testing.T, p *membership.Program) {
	ctx := context.Background()
	day := func(n int, h, m int) time.Time { return time.Date(2026, 1, n, h, m, 0, 0, testkit.Shanghai) } // day(91) = 1 April
	// A consumer that has read nothing keeps the whole feed from retention.
	if err := p.SetCursor(ctx, "test", 0); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p, newOrder("o1", "once", "10", day(1, 10, 0)))
	mustProcess(t, p, newOrder("o2", "twice", "10", day(1, 11, 0)), newOrder("o3", "twice", "10", day(50, 9, 0)))
	for i := range 50 {
		mustProcess(t, p, newEvent(fmt.Sprintf("s%d", i), fmt.Sprintf("idle%02d", i), "share", day(1, 12, 0), nil))
	}
	n, err := p.Advance(ctx, day(90, 23, 59))
	if err != nil || n != 0 {
		t.Fatalf("Advance to day 90 performed %d, %v; want 0", n, err)
	}
	if !slices.Contains(tagsOf(t, p, "once"), "recent") {
		t.Fatalf("day 90: tags %v, want recent", tagsOf(t, p, "once"))
	}
	n, err = p.Advance(ctx, day(91, 0, 0))
	if err != nil || n != 2 {
		t.Fatalf("Advance to day 91 performed %d, %v; want 2 (the two members with day-1 orders)", n, err)
	}
	if got := tagsOf(t, p, "once"); slices.Contains(got, "recent") {
		t.Errorf("day 91: tags %v, want recent gone", got)
	}
	if got := tagsOf(t, p, "twice"); !slices.Contains(got, "recent") {
		t.Errorf("day 91: member with a day-50 order lost recent: %v", got)
	}
	feed, err := p.Feed(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var removed []string
	for _, c := range feed {
		if c.Kind == tag.ChangeRemoved {
			removed = append(removed, c.Member+"@"+c.Time.In(testkit.Shanghai).Format("2006-01-02 15:04"))
		}
	}
	if diff := cmp.Diff([]string{"once@2026-04-01 00:00"}, removed); diff != "" {
		t.Errorf("tag.removed in the feed (-want +got):\n%s", diff)
	}
	// The second member's edge moved to day 140 (day 50 + 90).
	if n, err := p.Advance(ctx, day(139, 23, 0)); err != nil || n != 0 {
		t.Errorf("Advance to day 139: %d, %v", n, err)
	}
	if n, err := p.Advance(ctx, day(140, 0, 0)); err != nil || n != 1 || slices.Contains(tagsOf(t, p, "twice"), "recent") {
		t.Errorf("Advance to day 140: %d, %v, tags %v", n, err, tagsOf(t, p, "twice"))
	}
}

// A rule changed after members were tagged is recomputed for every member
// in pages, resumable from the returned cursor.
func TestTagRecomputeInPages(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	p1, err := membership.Open(st, tagDef())
	if err != nil {
		t.Fatal(err)
	}
	amounts := []string{"50", "150", "900", "1200", "80"}
	for i, a := range amounts {
		mustProcess(t, p1, newOrder(fmt.Sprintf("o%d", i), fmt.Sprintf("m%d", i), a, at))
	}
	if got := segmentOf(t, p1, "big-spender"); !cmp.Equal(got, []string{"m3"}) {
		t.Fatalf("big spenders before the change: %v", got)
	}
	def := tagDef()
	def.Tags.Rules[3].All[0].Value = event.DecString("100")
	p2, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	req := tag.RecomputeRequest{At: at.Add(time.Hour), Tag: "big-spender", Limit: 2}
	pages, added := 0, 0
	var fx tag.Effects
	for {
		res, err := p2.Tags().Recompute(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		added += res.Added
		page, err := tag.EffectsOf(res.Outcome)
		if err != nil {
			t.Fatal(err)
		}
		fx.Added = append(fx.Added, page.Added...)
		if res.Next == "" {
			break
		}
		req.After = res.Next
	}
	if pages != 3 || added != 2 {
		t.Errorf("recompute took %d pages and added %d, want 3 and 2", pages, added)
	}
	if got := segmentOf(t, p2, "big-spender"); !cmp.Equal(got, []string{"m1", "m2", "m3"}) {
		t.Errorf("big spenders after the change: %v", got)
	}
	var members []string
	for _, e := range fx.Added {
		members = append(members, e.Member+" "+e.Tag)
	}
	if diff := cmp.Diff([]string{"m1 big-spender", "m2 big-spender"}, members); diff != "" {
		t.Errorf("the pages' outcomes (-want +got):\n%s", diff)
	}
	// A page run again changes nothing.
	res, err := p2.Tags().Recompute(ctx, tag.RecomputeRequest{At: at.Add(time.Hour), Tag: "big-spender"})
	if err != nil || res.Examined != 5 || res.Added+res.Removed != 0 || len(res.Outcome.Changes) != 0 || res.Next != "" {
		t.Errorf("recompute again: %+v, %v", res, err)
	}
	if _, err := p2.Tags().Recompute(ctx, tag.RecomputeRequest{At: at, Tag: "staff", Limit: 10}); !errors.Is(err, tag.ErrUnknownTag) {
		t.Errorf("recompute of a manual tag: %v", err)
	}
}

// The article's example: a new 12–36 month infant formula. Members whose
// top category is that formula are tagged M, and a coupon is issued to the
// segment M; the template's claim condition (tag M) refuses anyone else.
func TestTagArticleSegmentMGetsCoupon(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt
	p := openTags(t)
	mustProcess(t, p,
		newOrder("o1", "ann", "320", at, "formula-12-36m"),
		newOrder("o2", "ann", "40", at, "diapers"),
		newOrder("o3", "bo", "20", at, "toys"),
		newOrder("o4", "cy", "300", at, "formula-12-36m", "diapers"),
		newOrder("o5", "cy", "300", at, "formula-12-36m"),
		newOrder("o6", "di", "30", at, "diapers"),
		newOrder("o7", "di", "30", at, "diapers"),
		newOrder("o8", "di", "300", at, "formula-12-36m"),
	)
	seg := segmentOf(t, p, "M")
	if diff := cmp.Diff([]string{"ann", "cy"}, seg); diff != "" {
		t.Fatalf("segment M (-want +got):\n%s", diff)
	}
	if issued, refused := issueToMembers(t, p, "formula-launch", seg, "formula-30", at); issued != 2 || refused != 0 {
		t.Fatalf("issued %d, refused %d; want 2 and 0", issued, refused)
	}
	for _, m := range seg {
		if got := liveCoupons(t, p, m); !cmp.Equal(got, []string{"formula-30"}) {
			t.Errorf("%s coupons = %v", m, got)
		}
	}
	if err := claim(p, "c-di", "di", "formula-30", at); !errors.Is(err, errNotEligible) {
		t.Errorf("claim by a member outside M: %v, want coupon.ErrNotEligible", err)
	}
	if ok, err := p.Tags().InSegment(ctx, "cy", tag.MustParse("M and not staff")); err != nil || !ok {
		t.Errorf("InSegment(cy) = %v, %v", ok, err)
	}
	if ok, err := p.Tags().InSegment(ctx, "di", tag.MustParse("M and not staff")); err != nil || ok {
		t.Errorf("InSegment(di) = %v, %v", ok, err)
	}
}

func TestTagSegmentErrors(t *testing.T) {
	p := openTags(t)
	ctx := context.Background()
	if _, err := tag.Parse("M and ("); !errors.Is(err, tag.ErrSyntax) {
		t.Errorf("malformed: %v", err)
	}
	if _, err := p.Tags().Segment(ctx, tag.SegmentQuery{Expr: tag.MustParse("M or ghost"), Limit: 10}); !errors.Is(err, tag.ErrUnknownTag) {
		t.Errorf("unknown tag: %v", err)
	}
	if _, err := p.Tags().Segment(ctx, tag.SegmentQuery{Limit: 10}); !errors.Is(err, tag.ErrSyntax) {
		t.Errorf("zero expression: %v", err)
	}
	if _, err := p.Tags().InSegment(ctx, "m", tag.MustParse("ghost")); !errors.Is(err, tag.ErrUnknownTag) {
		t.Errorf("InSegment with an unknown tag: %v", err)
	}
}

// The cursor of a page of members (After, a member ID: the Next of the
// page before) is checked as an ID, and Recompute's other fields against
// the limits: a cursor that is not valid UTF-8, holds a NUL or is longer
// than an ID used to be taken (a NUL byte then went into the audit key of
// the page), and the call is refused now, naming the field, with nothing
// written.
func TestTagCursorsAreMemberIDs(t *testing.T) {
	ctx := context.Background()
	p := openTags(t)
	for i := range 3 {
		mustProcess(t, p, newOrder(fmt.Sprintf("o%d", i), fmt.Sprintf("m%d", i), "50", shanghaiAt))
	}
	feed := func() int {
		t.Helper()
		cs, err := p.Feed(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	before := feed()
	recent := tag.MustParse("recent")
	for name, c := range map[string]struct {
		r     tag.RecomputeRequest
		field string
	}{
		"cursor not UTF-8":      {tag.RecomputeRequest{At: shanghaiAt, Tag: "recent", After: "\x00\xff"}, "after"},
		"cursor with a NUL":     {tag.RecomputeRequest{At: shanghaiAt, Tag: "recent", After: "m0\x00"}, "after"},
		"cursor of 257 bytes":   {tag.RecomputeRequest{At: shanghaiAt, Tag: "recent", After: strings.Repeat("m", 257)}, "after"},
		"operator with a NUL":   {tag.RecomputeRequest{At: shanghaiAt, Tag: "recent", Operator: "op\x00"}, "operator"},
		"time in the year 2200": {tag.RecomputeRequest{At: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), Tag: "recent"}, "at"},
	} {
		_, err := p.Tags().Recompute(ctx, c.r)
		if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("Recompute, %s: %v; want ErrInvalidArgument naming %q", name, err, c.field)
		}
	}
	for name, after := range map[string]string{
		"not UTF-8":    "\x00\xff",
		"with a NUL":   "m0\x00",
		"of 257 bytes": strings.Repeat("m", 257),
	} {
		_, err := p.Tags().Segment(ctx, tag.SegmentQuery{Expr: recent, After: after})
		if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "after") {
			t.Errorf("Segment, cursor %s: %v; want ErrInvalidArgument naming \"after\"", name, err)
		}
	}
	if after := feed(); after != before {
		t.Errorf("the refused calls changed the feed: %d changes, were %d", after, before)
	}
	// A cursor of 256 bytes is an ID: "aaa…" sorts before m0, m1 and m2,
	// and "zzz…" after them.
	page, err := p.Tags().Segment(ctx, tag.SegmentQuery{Expr: recent, After: strings.Repeat("a", 256)})
	if err != nil || !cmp.Equal(page.Members, []string{"m0", "m1", "m2"}) {
		t.Errorf("Segment after 256 a's = %v, %v; want m0, m1, m2", page.Members, err)
	}
	res, err := p.Tags().Recompute(ctx, tag.RecomputeRequest{At: shanghaiAt, Tag: "recent", After: strings.Repeat("z", 256)})
	if err != nil || res.Examined != 0 {
		t.Errorf("Recompute after 256 z's = %+v, %v; want no member examined", res, err)
	}
}

// Segment and Recompute page by the library's one rule (event.PageSize):
// a negative limit used to mean the default and is refused now, naming
// "limit", with nothing written; a limit above 1,000 used to be taken as
// it came (a page of 2^40 members asked for a batch of that size) and is
// clamped to 1,000, so the three members come back in one page.
func TestTagPageLimits(t *testing.T) {
	ctx := context.Background()
	p := openTags(t)
	for i := range 3 {
		mustProcess(t, p, newOrder(fmt.Sprintf("o%d", i), fmt.Sprintf("m%d", i), "50", shanghaiAt))
	}
	before, err := p.Feed(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	recent := tag.MustParse("recent")
	_, err = p.Tags().Recompute(ctx, tag.RecomputeRequest{At: shanghaiAt, Tag: "recent", Limit: -5})
	if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Recompute, limit -5: %v; want ErrInvalidArgument naming \"limit\"", err)
	}
	_, err = p.Tags().Segment(ctx, tag.SegmentQuery{Expr: recent, Limit: -1})
	if !errors.Is(err, membership.ErrInvalidArgument) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Segment, limit -1: %v; want ErrInvalidArgument naming \"limit\"", err)
	}
	if after, _ := p.Feed(ctx, 0, 0); len(after) != len(before) {
		t.Errorf("the refused calls changed the feed: %d changes, were %d", len(after), len(before))
	}
	page, err := p.Tags().Segment(ctx, tag.SegmentQuery{Expr: recent, Limit: 1 << 40})
	if err != nil || !cmp.Equal(page.Members, []string{"m0", "m1", "m2"}) || page.Next != "" {
		t.Errorf("Segment, limit 2^40 = %+v, %v; want m0, m1, m2 and no next page", page, err)
	}
	res, err := p.Tags().Recompute(ctx, tag.RecomputeRequest{At: shanghaiAt, Tag: "recent", Limit: 1 << 40})
	if err != nil || res.Examined != 3 || res.Next != "" {
		t.Errorf("Recompute, limit 2^40 = %+v, %v; want 3 members examined, no next page", res, err)
	}
}

// A late event (an earlier time than the member's last order) does not
// evaluate the windows as they stood in the past.
func TestTagLateEventKeepsCurrentWindows(t *testing.T) {
	at := shanghaiAt
	p := openTags(t)
	mustProcess(t, p,
		newOrder("o1", "m", "10", at),
		newOrder("o2", "m", "10", at.Add(100*24*time.Hour)),
		newOrder("o3", "m", "10", at.Add(101*24*time.Hour)),
		newOrder("o4", "m", "10", at.Add(102*24*time.Hour)))
	late := mustProcess(t, p, newEvent("s1", "m", "share", at.Add(time.Hour), nil))[0]
	if got := kinds(late, "tag."); len(got) != 0 || !slices.Contains(tagsOf(t, p, "m"), "frequent") {
		t.Errorf("late event changed tags %v; tags %v", got, tagsOf(t, p, "m"))
	}
}

var levelDef = testkit.LadderDef

// A level lost at a term end, performed by Advance, takes the level tag
// with it in the same transaction.
func TestTagFollowsLevelChangedByAdvance(t *testing.T) {
	def := levelDef(level.Lowest)
	def.Tags = &tag.Definition{Rules: []tag.Rule{{Tag: "bronze-member", All: []tag.Cond{{Fact: tag.FactLevel, Op: event.Eq, Value: event.Str("Bronze")}}}}}
	p := testkit.OpenMemory(t, def)
	day := time.Date(2026, 3, 15, 10, 30, 0, 0, testkit.Shanghai)
	mustProcess(t, p, newEvent("v1", "ann", "verify", day, nil), newEvent("c1", "ann", "check_in", day, nil))
	if got := tagsOf(t, p, "ann"); !cmp.Equal(got, []string{"bronze-member"}) {
		t.Fatalf("after reaching Bronze: %v", got)
	}
	// A penalty takes the window's net growth below the retention of 10.
	mustProcess(t, p, newEvent("x1", "ann", "penalty", day.Add(time.Hour), nil))
	n, err := p.Advance(context.Background(), time.Date(2026, 5, 2, 0, 0, 0, 0, testkit.Shanghai))
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no term end performed")
	}
	if lvl, growth, end := levelOf(t, p, "ann"); lvl != "Entry" || !growth.IsZero() || !end.IsZero() {
		t.Errorf("ann: level %s, growth %s, term end %v; want Entry, 0, none", lvl, growth, end)
	}
	if got := tagsOf(t, p, "ann"); len(got) != 0 {
		t.Errorf("after the downgrade: %v, want no tags", got)
	}
}

// A member's profile: attributes, tags and the statistics kept from
// orders and recharges, with every time in the program's zone.
func TestTagProfile(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt
	p := openTags(t)
	birthday := time.Date(1990, 5, 1, 0, 0, 0, 0, time.UTC)
	if _, err := p.Tags().SetProfile(ctx, tag.ProfileRequest{RequestID: "pf", Member: "ann", At: at,
		Attributes: map[string]event.Value{"gender": event.Str("f"), "birthday": event.At(birthday)}}); err != nil {
		t.Fatal(err)
	}
	mustProcess(t, p,
		newEvent("o1", "ann", "order", at, event.Attrs{"amount": event.DecString("100"), "brand": event.Str("acme"), "category": event.List("toys", "books")}),
		newEvent("o2", "ann", "order", at.Add(time.Hour), event.Attrs{"amount": event.DecString("50"), "brand": event.Str("acme"), "category": event.List("books")}),
		newEvent("o3", "ann", "order", at.Add(2*time.Hour), event.Attrs{"amount": event.DecString("25.55"), "brand": event.Str("zeta")}),
		newEvent("r1", "ann", "recharge", at.Add(3*time.Hour), event.Attrs{"amount": event.DecString("200")}),
		newEvent("r2", "ann", "recharge", at.Add(4*time.Hour), event.Attrs{"amount": event.DecString("50.5")}),
	)
	pr, err := p.Tags().Profile(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	dec := testkit.Dec
	// 175.55 / 3 = 58.5166… → 58.52 (half-up to the cent).
	want := tag.Profile{
		Member:     "ann",
		Attributes: map[string]event.Value{"gender": event.Str("f"), "birthday": event.At(birthday)},
		Tags: []tag.Assigned{
			{Tag: "frequent", By: "rule", At: at.Add(2 * time.Hour), Event: "o3"},
			{Tag: "recent", By: "rule", At: at, Event: "o1"},
			{Tag: "women", By: "rule", At: at, Event: "pf"},
		},
		Stats: tag.Summary{
			FirstOrder: at, LastOrder: at.Add(2 * time.Hour), Orders: 3, Amount: dec("175.55"), AverageOrder: dec("58.52"), Recharged: dec("250.5"),
			TopBrands:     []tag.Ranked{{Name: "acme", Orders: 2, Amount: dec("150")}, {Name: "zeta", Orders: 1, Amount: dec("25.55")}},
			TopCategories: []tag.Ranked{{Name: "books", Orders: 2, Amount: dec("150")}, {Name: "toys", Orders: 1, Amount: dec("100")}},
		},
	}
	if diff := cmp.Diff(want, pr, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("profile (-want +got):\n%s", diff)
	}
	loc := p.Location()
	for name, tm := range map[string]time.Time{"first order": pr.Stats.FirstOrder, "last order": pr.Stats.LastOrder, "birthday": pr.Attributes["birthday"].Time, "tag": pr.Tags[0].At} {
		if tm.Location() != loc {
			t.Errorf("%s in %v, want the program's zone", name, tm.Location())
		}
	}
	empty, err := p.Tags().Profile(ctx, "nobody")
	if err != nil || !cmp.Equal(empty, tag.Profile{Member: "nobody"}, cmpopts.EquateEmpty()) {
		t.Errorf("profile of an unknown member: %+v, %v", empty, err)
	}
}

// A store an older version wrote holds a member's statistics and order
// days as JSON: they are read, added to and rewritten, and the windows
// count the old days.
func TestTagReadsJSONRecordsOfOlderStores(t *testing.T) {
	ctx := context.Background()
	at := shanghaiAt
	st := memory.New()
	old := map[string]map[string]string{
		"tag.stats": {"ann": `{"first_order":"2026-02-20T09:00:00+08:00","last_order":"2026-02-25T09:00:00+08:00","orders":2,"amount":"900","recharged":"0","categories":{"toys":{"orders":2,"amount":"900"}}}`},
		"tag.days": {
			"ann\x002026-02-20": `{"date":"2026-02-20","orders":1,"amount":"400"}`,
			"ann\x002026-02-25": `{"date":"2026-02-25","orders":1,"amount":"500"}`,
		},
		"tag.members": {"ann": ""},
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		for bucket, recs := range old {
			for k, v := range recs {
				if err := tx.Put(bucket, []byte(k), []byte(v)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := membership.Open(st, tagDef())
	if err != nil {
		t.Fatal(err)
	}
	// A third order in 90 days makes ann frequent, and 900 + 150 a big
	// spender.
	mustProcess(t, p, newOrder("o1", "ann", "150", at, "books"))
	if got, want := tagsOf(t, p, "ann"), []string{"big-spender", "frequent", "recent"}; !cmp.Equal(got, want) {
		t.Errorf("tags %v, want %v", got, want)
	}
	pr, err := p.Tags().Profile(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	dec := testkit.Dec
	want := tag.Summary{
		FirstOrder: time.Date(2026, 2, 20, 9, 0, 0, 0, testkit.Shanghai), LastOrder: at, Orders: 3,
		Amount: dec("1050"), AverageOrder: dec("350"), Recharged: dec("0"),
		TopCategories: []tag.Ranked{{Name: "toys", Orders: 2, Amount: dec("900")}, {Name: "books", Orders: 1, Amount: dec("150")}},
	}
	if diff := cmp.Diff(want, pr.Stats, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("statistics (-want +got):\n%s", diff)
	}
	// The statistics are rewritten in the current form, and the new day
	// is written in it.
	err = st.View(ctx, func(tx store.Tx) error {
		for bucket, k := range map[string]string{"tag.stats": "ann", "tag.days": "ann\x002026-03-02"} {
			v, err := tx.Get(bucket, []byte(k))
			if err != nil {
				return err
			}
			if v[0] == '{' {
				t.Errorf("%s %q still JSON: %s", bucket, k, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTagCountsDamaged: a tag's member count is a total whose stripes are
// summed; Counts lists them all, and a sum that is not a whole number an
// int64 holds (a fraction, 2^63, which an int64 wraps to -2^63, 24e24),
// or a negative one (-1: fewer than no member), is damage, reported as
// store.ErrCorrupt rather than cut to a count or listed. A count of 3
// written the same way reads as 3.
func TestTagCountsDamaged(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, tagDef())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: "t1", Member: "m1", Operator: "op", At: shanghaiAt, Tag: "staff"}); err != nil {
		t.Fatal(err)
	}
	testkit.Overwrite(t, st, "tag.count", []byte("3"))
	if counts, err := p.Tags().Counts(ctx); err != nil || counts["staff"] != 3 {
		t.Fatalf("Counts with a count of 3 = %v, %v; want staff 3", counts, err)
	}
	for _, v := range []string{"1.5", "9223372036854775808", "24e24", "-1"} {
		testkit.Overwrite(t, st, "tag.count", []byte(v))
		if counts, err := p.Tags().Counts(ctx); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Counts with a count of %s = %v, %v; want store.ErrCorrupt", v, counts, err)
		}
		// A segment reads the count to choose the tag driving its pages.
		if page, err := p.Tags().Segment(ctx, tag.SegmentQuery{Expr: tag.MustParse("staff and not complained")}); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Segment with a count of %s = %v, %v; want store.ErrCorrupt", v, page, err)
		}
	}
}

// TestTagRechargeTotalKeepsToTheLimit: each recharge amount keeps to the
// limit on decimals (40 digits), a member's recharge total does too: a
// recharge that would take it past is refused with event.ErrTooLarge,
// changes nothing (profile and feed as before) and leaves its ID free.
// 9e39 has 40 digits, 1.8e40 41; 1e39 + 0.01 has 42 significant digits.
// Two recharges of 4.5e39 make 9e39, accepted.
func TestTagRechargeTotalKeepsToTheLimit(t *testing.T) {
	ctx := context.Background()
	big := "9" + strings.Repeat("0", 39) // 9e39
	recharge := func(id, amount string) event.Event {
		return newEvent(id, "ann", "recharge", shanghaiAt, event.Attrs{"amount": event.DecString(amount)})
	}
	for _, tc := range []struct {
		name            string
		before, refused string
	}{
		{"total past 40 digits", big, big},
		{"total of 42 significant digits", "1e39", "0.01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openTags(t)
			mustProcess(t, p, recharge("r1", tc.before))
			feed, err := p.Feed(ctx, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Process(ctx, recharge("x", tc.refused)); !errors.Is(err, event.ErrTooLarge) {
				t.Fatalf("Process: %v; want event.ErrTooLarge", err)
			}
			pr, err := p.Tags().Profile(ctx, "ann")
			if err != nil {
				t.Fatal(err)
			}
			if !pr.Stats.Recharged.Equal(testkit.Dec(tc.before)) {
				t.Errorf("recharge total after the refusal = %s, want %s", pr.Stats.Recharged, tc.before)
			}
			if f, _ := p.Feed(ctx, 0, 100); len(f) != len(feed) {
				t.Errorf("feed has %d changes after the refusal, want %d", len(f), len(feed))
			}
			if _, err := p.Process(ctx, recharge("x", "1")); err != nil {
				t.Errorf("a recharge of 1 under the refused event's ID: %v", err)
			}
		})
	}
	p := openTags(t)
	half := "45" + strings.Repeat("0", 38) // 4.5e39
	mustProcess(t, p, recharge("r1", half), recharge("r2", half))
	if pr, err := p.Tags().Profile(ctx, "ann"); err != nil || !pr.Stats.Recharged.Equal(testkit.Dec(big)) {
		t.Errorf("two recharges of 4.5e39: %+v, %v; want a recharge total of 9e39", pr.Stats, err)
	}
	// An amount written with trailing zeros counts as it reads: 9e39 and
	// a recharge of 1.00 make 9000…001, 40 digits (9e39 + 1 written with
	// two places, 42, was refused).
	p = openTags(t)
	mustProcess(t, p, recharge("r1", big), recharge("r2", "1.00"))
	if pr, err := p.Tags().Profile(ctx, "ann"); err != nil || !pr.Stats.Recharged.Equal(testkit.Dec("9"+strings.Repeat("0", 38)+"1")) {
		t.Errorf("9e39 and 1.00 recharged: %+v, %v; want a recharge total of 9e39 + 1", pr.Stats, err)
	}
}
