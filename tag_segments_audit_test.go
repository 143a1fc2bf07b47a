package membership_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/tag"
)

// A segment listed in pages while members are tagged and untagged between
// the pages (SPEC "Tags and profile": segments listable in pages): the
// cursor is a member ID and each page reads the tags as they stand, so a
// member who stays in the segment throughout is listed exactly once,
// whichever tag drives the pages; one who joins ahead of the cursor is
// listed, one who leaves ahead of it is not, and a change behind it lists
// no one again. On memory, bolt and PostgreSQL, the pages read from one
// Program and the changes made through the other.
//
// "vip and not staff", pages of 2. vip: m01..m08, staff: m02, m07; the
// segment is m01 m03 m04 m05 m06 m08.
//
//   - Page 1: m01 m03 (cursor m03). Then m01 loses vip (behind), m04
//     gains staff (ahead: leaves), m07 loses staff (ahead: joins), m09
//     gains vip (ahead: joins), m02 loses staff (behind: joins, not
//     listed).
//   - Page 2 after m03: m04 fails, m05 m06 (cursor m06, m07 matching
//     after it). Then m08 gains staff (ahead: leaves), m05 loses vip
//     (behind).
//   - Page 3 after m06: m07, m08 fails, m09: the last page.
//
// Listed m01 m03 m05 m06 m07 m09: each once; m03 and m06, in the segment
// throughout, among them.
//
// "staff or (vip and not staff)" (vip or staff, its pages read the union
// of the two tags' members), pages of 3. vip: m02 m03 m04 m06 m07 m08
// m09; staff: m04 m08; members of either: m02 m03 m04 m06 m07 m08 m09.
//
//   - Page 1: m02 m03 m04 (cursor m04). Then m10 gains staff (ahead,
//     joins), m06 loses vip (ahead, leaves), m03 gains staff (behind: in
//     both tags now, not listed again).
//   - Page 2 after m04: m07 m08 m09 (cursor m09: m10 matches after).
//   - Page 3: m10, the last.
//
// "not vip" (every known member without vip), pages of 2, known members
// m01..m10: m01 m05 m06 m10 lack vip. Page 1: m01 m05 (cursor m05). Then
// m00 becomes known by an event (behind: not listed), m11 (ahead, joins)
// and m06 gains vip (ahead, leaves). Page 2: m10 m11, and nothing after.
func TestTagSegmentPagesWhileMembersChange(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "visit"}},
		Tags:   &tag.Definition{Manual: []tag.Manual{{Name: "vip"}, {Name: "staff"}}},
	}
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, shanghai)
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		n := 0
		set := func(member, name string, add bool) {
			t.Helper()
			n++
			r := tag.ManualRequest{RequestID: fmt.Sprint("r", n), Member: member, Operator: "ops", At: at, Tag: name}
			call := ps[1].Tags().Remove
			if add {
				call = ps[1].Tags().Add
			}
			if _, err := call(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i <= 8; i++ {
			set(fmt.Sprintf("m%02d", i), "vip", true)
		}
		set("m02", "staff", true)
		set("m07", "staff", true)
		pages := func(expr string, limit int, between []func()) []string {
			t.Helper()
			var all []string
			q := tag.SegmentQuery{Expr: tag.MustParse(expr), Limit: limit}
			for i := 0; ; i++ {
				page, err := ps[0].Tags().Segment(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, page.Members...)
				if page.Next == "" {
					return all
				}
				if i < len(between) {
					between[i]()
				}
				q.After = page.Next
			}
		}
		got := pages("vip and not staff", 2, []func(){
			func() {
				set("m01", "vip", false)
				set("m04", "staff", true)
				set("m07", "staff", false)
				set("m09", "vip", true)
				set("m02", "staff", false)
			},
			func() {
				set("m08", "staff", true)
				set("m05", "vip", false)
			},
		})
		if diff := cmp.Diff([]string{"m01", "m03", "m05", "m06", "m07", "m09"}, got); diff != "" {
			t.Errorf("vip and not staff (-want +got):\n%s", diff)
		}
		got = pages("staff or (vip and not staff)", 3, []func(){
			func() {
				set("m10", "staff", true)
				set("m06", "vip", false)
				set("m03", "staff", true)
			},
		})
		if diff := cmp.Diff([]string{"m02", "m03", "m04", "m07", "m08", "m09", "m10"}, got); diff != "" {
			t.Errorf("staff or (vip and not staff) (-want +got):\n%s", diff)
		}
		got = pages("not vip", 2, []func(){
			func() {
				mustProcess(t, ps[1], event.Event{ID: "v0", Member: "m00", Type: "visit", Time: at})
				mustProcess(t, ps[1], event.Event{ID: "v11", Member: "m11", Type: "visit", Time: at})
				set("m06", "vip", true)
			},
		})
		if diff := cmp.Diff([]string{"m01", "m05", "m10", "m11"}, got); diff != "" {
			t.Errorf("not vip (-want +got):\n%s", diff)
		}
		// Once still, the counts are the segments' sizes: vip m02 m03
		// m04 m06 m07 m08 m09, staff m03 m04 m08 m10.
		counts, err := ps[0].Tags().Counts(ctx)
		if err != nil || counts["vip"] != 7 || counts["staff"] != 4 {
			t.Errorf("Counts = %v, %v; want vip 7, staff 4", counts, err)
		}
	})
}

// Manual tags (SPEC "Tags and profile": added or removed by an operator,
// with who and when), on memory, bolt and PostgreSQL: added twice under two
// request IDs by two operators, the member keeps the first addition's who,
// when and note, and the second changes nothing (no change, one member in
// the count and the segment) though both calls are in the audit trail
// with their operators; removed when absent, nothing changes; removed and
// added again, the tag has the new operator's who and when. Times are
// given in UTC and read in the program's zone.
func TestTagManualAddedTwiceKeepsTheFirst(t *testing.T) {
	ctx := context.Background()
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "visit"}},
		Tags:   &tag.Definition{Manual: []tag.Manual{{Name: "vip"}}},
	}
	at := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		req := func(id, op string, h int, note string) tag.ManualRequest {
			return tag.ManualRequest{RequestID: id, Member: "ann", Operator: op, At: at.Add(time.Duration(h) * time.Hour), Tag: "vip", Note: note}
		}
		first := []tag.Assigned{{Tag: "vip", Manual: true, By: "alice", At: at.In(shanghai), Event: "a1", Note: "first"}}
		check := func(when string, want []tag.Assigned) {
			t.Helper()
			for _, p := range ps {
				as, err := p.Tags().Of(ctx, "ann")
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, as, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Location().String() == b.Location().String() })); diff != "" {
					t.Errorf("%s: ann's tags (-want +got):\n%s", when, diff)
				}
				counts, err := p.Tags().Counts(ctx)
				page, serr := p.Tags().Segment(ctx, tag.SegmentQuery{Expr: tag.MustParse("vip")})
				if err != nil || serr != nil || counts["vip"] != int64(len(want)) || len(page.Members) != len(want) {
					t.Errorf("%s: count %v, %v; segment %v, %v; want %d", when, counts, err, page.Members, serr, len(want))
				}
			}
		}
		out, err := ps[0].Tags().Add(ctx, req("a1", "alice", 0, "first"))
		if err != nil || len(out.ChangesOf(tag.ChangeAdded)) != 1 {
			t.Fatalf("first Add: %v, %v", out, err)
		}
		check("after alice's Add", first)
		out, err = ps[1].Tags().Add(ctx, req("a2", "bob", 1, "second"))
		if err != nil || out.Duplicate || len(out.Changes) != 0 {
			t.Errorf("bob's Add of a tag ann has: %+v, %v; want no change, not a duplicate", out, err)
		}
		check("after bob's Add", first)
		out, err = ps[0].Tags().Remove(ctx, req("r1", "carol", 2, "done"))
		if err != nil || len(out.ChangesOf(tag.ChangeRemoved)) != 1 {
			t.Errorf("carol's Remove: %+v, %v", out, err)
		}
		check("after carol's Remove", nil)
		out, err = ps[1].Tags().Remove(ctx, req("r2", "carol", 3, "again"))
		if err != nil || len(out.Changes) != 0 {
			t.Errorf("Remove of a tag ann lacks: %+v, %v; want no change", out, err)
		}
		check("after a second Remove", nil)
		if _, err := ps[0].Tags().Add(ctx, req("a3", "dave", 4, "back")); err != nil {
			t.Fatal(err)
		}
		check("after dave's Add", []tag.Assigned{{Tag: "vip", Manual: true, By: "dave", At: at.Add(4 * time.Hour).In(shanghai), Event: "a3", Note: "back"}})
		page, err := ps[1].Audit(ctx, membership.AuditQuery{Member: "ann"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range page.Entries {
			got = append(got, e.Request+" "+e.Action+" "+e.Operator+" "+e.Result+" "+e.Time.Format("15:04"))
		}
		want := []string{
			"a1 tag.add alice accepted 10:00", "a2 tag.add bob accepted 11:00", "r1 tag.remove carol accepted 12:00",
			"r2 tag.remove carol accepted 13:00", "a3 tag.add dave accepted 14:00",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("audit trail (-want +got):\n%s", diff)
		}
	})
}
