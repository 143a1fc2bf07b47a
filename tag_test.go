package membership_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/tag"
)

func engTags(t *testing.T, p *membership.Program, member string) []string {
	t.Helper()
	as, err := p.MemberTags(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Tag)
	}
	return out
}

func TestTagRulesFollowEventsAndProfile(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t)
	out := mustProcess(t, p, engOrder("o1", "m", "600", at, "toys"))[0]
	if diff := cmp.Diff([]string{"recent"}, engTags(t, p, "m")); diff != "" {
		t.Errorf("after one order (-want +got):\n%s", diff)
	}
	added := out.ChangesOf(membership.ChangeTagAdded)
	if len(added) != 1 || added[0].Reason == nil || added[0].Reason.Inputs["order_count/90d"] != "1" {
		t.Errorf("tag.added changes %+v, want one with the window count as input", added)
	}
	mustProcess(t, p, engOrder("o2", "m", "300", at.Add(time.Hour), "formula-12-36m"), engOrder("o3", "m", "300", at.Add(2*time.Hour), "formula-12-36m"))
	if diff := cmp.Diff([]string{"M", "big-spender", "frequent", "recent"}, engTags(t, p, "m")); diff != "" {
		t.Errorf("after three orders (-want +got):\n%s", diff)
	}
	// The level rule follows a level change made by an operator at once,
	// in the same transaction.
	if _, err := p.SetLevel(ctx, "lv", membership.SetLevelRequest{Member: "m", Level: "gold", Operator: "bob", Reason: "vip", At: at}); err != nil {
		t.Fatal(err)
	}
	if got := engTags(t, p, "m"); !cmp.Equal(got, []string{"M", "big-spender", "frequent", "gold-member", "recent"}) {
		t.Errorf("after the level change: %v", got)
	}
	counts, err := p.TagCounts(ctx)
	if err != nil || counts["gold-member"] != 1 || counts["M"] != 1 || counts["women"] != 0 {
		t.Errorf("TagCounts = %v, %v", counts, err)
	}
	// Profile attributes re-evaluate the rules at once.
	out, err = p.SetProfile(ctx, "pf1", "m", map[string]event.Value{"gender": event.Str("f"), "source": event.Str("mini-program")}, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ChangesOf(membership.ChangeTagAdded)) != 1 || !engHas(engTags(t, p, "m"), "women") {
		t.Errorf("SetProfile added %v; tags %v", engKinds(out, "tag."), engTags(t, p, "m"))
	}
	out, err = p.SetProfile(ctx, "pf2", "m", map[string]event.Value{"gender": {}}, at)
	if err != nil || len(out.ChangesOf(membership.ChangeTagRemoved)) != 1 || engHas(engTags(t, p, "m"), "women") {
		t.Errorf("removing gender: %v, %v; tags %v", err, engKinds(out, "tag."), engTags(t, p, "m"))
	}
	if _, err := p.SetProfile(ctx, "pf3", "m", map[string]event.Value{"shoe": event.Str("42")}, at); !errors.Is(err, tag.ErrUnknownAttribute) {
		t.Errorf("undeclared attribute: %v", err)
	}
	if _, err := p.SetProfile(ctx, "pf4", "m", map[string]event.Value{"gender": event.Int(1)}, at); !errors.Is(err, tag.ErrAttributeType) {
		t.Errorf("mistyped attribute: %v", err)
	}
	// "top category" follows the preference: toys overtake formula.
	mustProcess(t, p, engOrder("o4", "m", "10", at.Add(4*time.Hour), "toys"), engOrder("o5", "m", "10", at.Add(5*time.Hour), "toys"))
	if engHas(engTags(t, p, "m"), "M") {
		t.Errorf("M kept after toys became the top category: %v", engTags(t, p, "m"))
	}
}

func engHas(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestTagManual(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t)
	out, err := p.AddTag(ctx, "a1", "m", "staff", "alice", "works at store 12", at)
	if err != nil || len(out.ChangesOf(membership.ChangeTagAdded)) != 1 {
		t.Fatalf("AddTag: %v %v", err, out)
	}
	again, err := p.AddTag(ctx, "a1", "m", "staff", "alice", "works at store 12", at)
	if err != nil || !again.Duplicate {
		t.Errorf("retry: %v", err)
	}
	if _, err := p.AddTag(ctx, "a1", "m", "complained", "alice", "", at); !errors.Is(err, membership.ErrEventConflict) {
		t.Errorf("request ID reused: %v", err)
	}
	as, err := p.MemberTags(ctx, "m")
	want := []tag.Assigned{{Tag: "staff", Manual: true, By: "alice", At: at.UTC(), Event: "a1", Note: "works at store 12"}}
	if diff := cmp.Diff(want, as); err != nil || diff != "" {
		t.Errorf("tags (-want +got):\n%s %v", diff, err)
	}
	for _, tc := range []struct {
		name, tag, operator string
		want                error
	}{
		{"rule tag", "recent", "alice", tag.ErrNotManual},
		{"unknown", "ghost", "alice", tag.ErrUnknownTag},
		{"no operator", "staff", "", membership.ErrInvalidArgument},
	} {
		if _, err := p.AddTag(ctx, "x-"+tc.name, "m", tc.tag, tc.operator, "", at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	out, err = p.RemoveTag(ctx, "r1", "m", "staff", "bob", "left the company", at.Add(time.Hour))
	if err != nil || len(out.ChangesOf(membership.ChangeTagRemoved)) != 1 || len(engTags(t, p, "m")) != 0 {
		t.Fatalf("RemoveTag: %v; tags %v", err, engTags(t, p, "m"))
	}
	var ch membership.TagChange
	if err := out.Changes[0].Decode(&ch); err != nil || ch != (membership.TagChange{Tag: "staff", Manual: true, By: "bob", Note: "left the company"}) {
		t.Errorf("removal data %+v, %v", ch, err)
	}
	out, err = p.RemoveTag(ctx, "r2", "m", "staff", "bob", "", at.Add(time.Hour))
	if err != nil || len(out.Changes) != 0 {
		t.Errorf("removing an absent tag: %v, %v", err, out.Changes)
	}
}

// "Ordered in the last 90 days": an order on day 1 keeps the tag through
// day 90 and loses it at 00:00 of day 91, when Advance passes that edge;
// Advance performs one due item per member at an edge, not a scan.
func TestTagWindowDropsOnDay91ViaAdvance(t *testing.T) {
	for _, backend := range []string{"memory", "bolt"} {
		t.Run(backend, func(t *testing.T) {
			p := openMemory(t, engDef())
			if backend == "bolt" {
				p = openBolt(t, engDef())
			}
			testTagWindowDropsOnDay91(t, p)
		})
	}
}

func testTagWindowDropsOnDay91(t *testing.T, p *membership.Program) {
	ctx := context.Background()
	day := func(n int, h, m int) time.Time { return time.Date(2026, 1, n, h, m, 0, 0, shanghai) } // day(91) = 1 April
	mustProcess(t, p, engOrder("o1", "once", "10", day(1, 10, 0)))
	mustProcess(t, p, engOrder("o2", "twice", "10", day(1, 11, 0)), engOrder("o3", "twice", "10", day(50, 9, 0)))
	for i := range 50 {
		mustProcess(t, p, engEvent(fmt.Sprintf("s%d", i), fmt.Sprintf("idle%02d", i), "share", day(1, 12, 0), nil))
	}
	n, err := p.Advance(ctx, day(90, 23, 59))
	if err != nil || n != 0 {
		t.Fatalf("Advance to day 90 performed %d, %v; want 0", n, err)
	}
	if !engHas(engTags(t, p, "once"), "recent") {
		t.Fatalf("day 90: tags %v, want recent", engTags(t, p, "once"))
	}
	n, err = p.Advance(ctx, day(91, 0, 0))
	if err != nil || n != 2 {
		t.Fatalf("Advance to day 91 performed %d, %v; want 2 (the two members with day-1 orders)", n, err)
	}
	if got := engTags(t, p, "once"); engHas(got, "recent") {
		t.Errorf("day 91: tags %v, want recent gone", got)
	}
	if got := engTags(t, p, "twice"); !engHas(got, "recent") {
		t.Errorf("day 91: member with a day-50 order lost recent: %v", got)
	}
	feed, err := p.Feed(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var removed []string
	for _, c := range feed {
		if c.Kind == membership.ChangeTagRemoved {
			removed = append(removed, c.Member+"@"+c.Time.In(shanghai).Format("2006-01-02 15:04"))
		}
	}
	if diff := cmp.Diff([]string{"once@2026-04-01 00:00"}, removed); diff != "" {
		t.Errorf("tag.removed in the feed (-want +got):\n%s", diff)
	}
	// The second member's edge moved to day 140 (day 50 + 90).
	if n, err := p.Advance(ctx, day(139, 23, 0)); err != nil || n != 0 {
		t.Errorf("Advance to day 139: %d, %v", n, err)
	}
	if n, err := p.Advance(ctx, day(140, 0, 0)); err != nil || n != 1 || engHas(engTags(t, p, "twice"), "recent") {
		t.Errorf("Advance to day 140: %d, %v, tags %v", n, err, engTags(t, p, "twice"))
	}
}

// A rule changed after members were tagged is recomputed for every member
// in pages, resumable from the returned cursor.
func TestTagRecomputeInPages(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	p1, err := membership.Open(st, engDef())
	if err != nil {
		t.Fatal(err)
	}
	amounts := []string{"50", "150", "900", "1200", "80"}
	for i, a := range amounts {
		mustProcess(t, p1, engOrder(fmt.Sprintf("o%d", i), fmt.Sprintf("m%d", i), a, at))
	}
	if got := engMembers(t, p1, "big-spender"); !cmp.Equal(got, []string{"m3"}) {
		t.Fatalf("big spenders before the change: %v", got)
	}
	def := engDef()
	def.Tags.Rules[3].All[0].Value = event.DecString("100")
	p2, err := membership.Open(st, def)
	if err != nil {
		t.Fatal(err)
	}
	cursor, pages, added := "", 0, 0
	for {
		res, err := p2.RecomputeTag(ctx, "big-spender", cursor, 2, at.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		added += res.Added
		if res.Next == "" {
			break
		}
		cursor = res.Next
	}
	if pages != 3 || added != 2 {
		t.Errorf("recompute took %d pages and added %d, want 3 and 2", pages, added)
	}
	if got := engMembers(t, p2, "big-spender"); !cmp.Equal(got, []string{"m1", "m2", "m3"}) {
		t.Errorf("big spenders after the change: %v", got)
	}
	if _, err := p2.RecomputeTag(ctx, "staff", "", 10, at); !errors.Is(err, tag.ErrUnknownTag) {
		t.Errorf("recompute of a manual tag: %v", err)
	}
}

func engMembers(t *testing.T, p *membership.Program, expr string) []string {
	t.Helper()
	var all []string
	cursor := ""
	for {
		page, next, err := p.Segment(context.Background(), expr, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// The article's example: a new 12–36 month infant formula. Members whose
// top category is that formula are tagged M, and a coupon is issued to the
// segment M; the template's claim condition (tag M) refuses anyone else.
func TestTagArticleSegmentMGetsCoupon(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t)
	mustProcess(t, p,
		engOrder("o1", "ann", "320", at, "formula-12-36m"),
		engOrder("o2", "ann", "40", at, "diapers"),
		engOrder("o3", "bo", "20", at, "toys"),
		engOrder("o4", "cy", "300", at, "formula-12-36m", "diapers"),
		engOrder("o5", "cy", "300", at, "formula-12-36m"),
		engOrder("o6", "di", "30", at, "diapers"),
		engOrder("o7", "di", "30", at, "diapers"),
		engOrder("o8", "di", "300", at, "formula-12-36m"),
	)
	seg := engMembers(t, p, "M")
	if diff := cmp.Diff([]string{"ann", "cy"}, seg); diff != "" {
		t.Fatalf("segment M (-want +got):\n%s", diff)
	}
	res, err := p.IssueToMembers(ctx, membership.BulkIssueRequest{RequestID: "formula-launch", Members: seg, Template: "formula-30", Time: at})
	if err != nil || len(res.Issued) != 2 || len(res.Refused) != 0 {
		t.Fatalf("IssueToMembers = %+v, %v", res, err)
	}
	for _, m := range seg {
		cs, err := p.Coupons(ctx, m, true)
		if err != nil || len(cs) != 1 || cs[0].Template != "formula-30" {
			t.Errorf("%s coupons = %+v, %v", m, cs, err)
		}
	}
	if _, _, err := p.Claim(ctx, membership.ClaimRequest{RequestID: "c-di", Member: "di", Template: "formula-30", Time: at}); !errors.Is(err, coupon.ErrNotEligible) {
		t.Errorf("claim by a member outside M: %v, want coupon.ErrNotEligible", err)
	}
	if ok, err := p.InSegment(ctx, "cy", "M and not staff"); err != nil || !ok {
		t.Errorf("InSegment(cy) = %v, %v", ok, err)
	}
}

func TestTagSegmentErrors(t *testing.T) {
	p := engOpen(t)
	ctx := context.Background()
	if _, _, err := p.Segment(ctx, "M and (", "", 10); !errors.Is(err, tag.ErrSyntax) {
		t.Errorf("malformed: %v", err)
	}
	if _, _, err := p.Segment(ctx, "M or ghost", "", 10); !errors.Is(err, tag.ErrUnknownTag) {
		t.Errorf("unknown tag: %v", err)
	}
}

// A late event (an earlier time than the member's last order) does not
// evaluate the windows as they stood in the past.
func TestTagLateEventKeepsCurrentWindows(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t)
	mustProcess(t, p,
		engOrder("o1", "m", "10", at),
		engOrder("o2", "m", "10", at.Add(100*24*time.Hour)),
		engOrder("o3", "m", "10", at.Add(101*24*time.Hour)),
		engOrder("o4", "m", "10", at.Add(102*24*time.Hour)))
	late := mustProcess(t, p, engEvent("s1", "m", "share", at.Add(time.Hour), nil))[0]
	if got := engKinds(late, "tag."); len(got) != 0 || !engHas(engTags(t, p, "m"), "frequent") {
		t.Errorf("late event changed tags %v; tags %v", got, engTags(t, p, "m"))
	}
}

// A level lost at a term end, performed by Advance, takes the level tag
// with it in the same transaction.
func TestTagFollowsLevelChangedByAdvance(t *testing.T) {
	def := lvlDef(level.Lowest)
	def.Tags = &tag.Definition{Rules: []tag.Rule{{Tag: "bronze-member", All: []tag.Cond{{Fact: tag.FactLevel, Op: event.Eq, Value: event.Str("Bronze")}}}}}
	p := openMemory(t, def)
	day := lvlAt("2026-03-15 10:30")
	mustProcess(t, p, lvlEvent("v1", "ann", "verify", day, nil), lvlEvent("c1", "ann", "check_in", day, nil))
	if got := engTags(t, p, "ann"); !cmp.Equal(got, []string{"bronze-member"}) {
		t.Fatalf("after reaching Bronze: %v", got)
	}
	// A penalty takes the window's net growth below the retention of 10.
	mustProcess(t, p, lvlEvent("x1", "ann", "penalty", day.Add(time.Hour), nil))
	if n := lvlAdvance(t, p, lvlAt("2026-05-02 00:00")); n == 0 {
		t.Fatal("no term end performed")
	}
	lvlWant(t, p, "ann", "Entry", "0", "")
	if got := engTags(t, p, "ann"); len(got) != 0 {
		t.Errorf("after the downgrade: %v, want no tags", got)
	}
}
