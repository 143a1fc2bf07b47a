package membership_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/level"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
)

// badgeDef grants the achievement "badge" three ways: the task
// share-once (a share), the task order-once (an order), and silver's
// upgrade gift (100 growth, one per yuan of an order).
func badgeDef() membership.Definition {
	permanent := rule.Validity{Kind: rule.Permanent}
	badge := []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "badge"}}
	return membership.Definition{
		Zone: "Asia/Shanghai",
		Events: []event.Type{
			{Name: "order", Attributes: []event.Attr{{Name: "amount", Kind: event.Decimal, Required: true}}},
			{Name: "share"},
		},
		Levels: &level.Definition{
			Ladder: []level.Level{{Name: "member", Validity: permanent},
				{Name: "silver", Upgrade: dec("100"), Validity: permanent, Gifts: badge}},
			Growth: []level.GrowthRule{{ID: "spend", Event: "order", Formula: rule.Formula{Kind: rule.Multiplier, Base: "amount", Rate: dec("1")}}},
		},
		Benefits: &benefit.Definition{Achievements: []benefit.Achievement{{Name: "badge", Type: "milestone", Icon: "badge.png", Link: "/badge"}}},
		Tasks: &task.Definition{Tasks: []task.Task{
			{Name: "share-once", Kind: task.One, Steps: []task.Step{{Event: "share"}}, Rewards: badge},
			{Name: "order-once", Kind: task.One, Steps: []task.Step{{Event: "order"}}, Rewards: badge},
		}},
	}
}

// SPEC "Benefits and achievements": an achievement is "granted once per
// member, by a task or an operator", in either order, and by two rules
// of one event. On memory, bolt and PostgreSQL, 10 March (Shanghai):
//
//   - a shares at 10:00 (the task grants), then an operator grants at
//     11:00: ErrAlreadyGranted, nothing written but the refusal's audit
//     record; its retry is refused the same way (a refusal is not
//     recorded as an outcome). a's grant: the task's, at 10:00.
//   - b is granted by an operator at 10:00, then shares at 11:00: the
//     share is taken and grants nothing. b's grant: the operator's.
//   - c is granted at 12:00, then a share dated 09:00 arrives: it grants
//     nothing either, c's grant stays the operator's at 12:00.
//   - d orders 100 at 10:00: silver's gift and the task order-once both
//     grant "badge" in one event; one grant is published and kept.
//
// Each member has one benefit.achievement in the feed.
func TestAchievementOnceWhicheverGrantsFirst(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 3, 10, h, 0, 0, 0, shanghai) }
	for name, open := range scaleStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open()
			p, err := membership.Open(st, badgeDef())
			if err != nil {
				t.Fatal(err)
			}
			grant := func(id, member string, when time.Time) (*eventOutcome, error) {
				out, err := p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: id, Member: member, Operator: "ops", Note: "by hand", At: when, Achievement: "badge"})
				if err != nil {
					return nil, err
				}
				return &eventOutcome{dup: out.Duplicate, granted: len(out.ChangesOf(benefit.ChangeAchievement))}, nil
			}
			share := func(id, member string, when time.Time) eventOutcome {
				out := mustProcess(t, p, event.Event{ID: id, Member: member, Type: "share", Time: when})[0]
				return eventOutcome{dup: out.Duplicate, granted: len(out.ChangesOf(benefit.ChangeAchievement))}
			}

			if got := share("s-a", "a", at(10)); got.granted != 1 {
				t.Errorf("a's share granted %d, want 1", got.granted)
			}
			notAudit := slices.DeleteFunc(slices.Clone(everyBucket), func(b string) bool { return strings.HasPrefix(b, "audit.") })
			before := testkit.Dump(t, st, notAudit...)
			for range 2 {
				if _, err := grant("g-a", "a", at(11)); !errors.Is(err, benefit.ErrAlreadyGranted) {
					t.Errorf("the operator's grant to a after the task's: %v, want ErrAlreadyGranted", err)
				}
			}
			if diff := cmp.Diff(before, testkit.Dump(t, st, notAudit...)); diff != "" {
				t.Errorf("the refused grant wrote (-before +after):\n%s", diff)
			}

			if got, err := grant("g-b", "b", at(10)); err != nil || got.granted != 1 {
				t.Errorf("the operator's grant to b: %+v, %v; want 1 granted", got, err)
			}
			if got := share("s-b", "b", at(11)); got.granted != 0 || got.dup {
				t.Errorf("b's share after the operator's grant: %+v; want taken, nothing granted", got)
			}

			if got, err := grant("g-c", "c", at(12)); err != nil || got.granted != 1 {
				t.Errorf("the operator's grant to c: %+v, %v; want 1 granted", got, err)
			}
			if got := share("s-c", "c", at(9)); got.granted != 0 || got.dup {
				t.Errorf("c's late share: %+v; want taken, nothing granted", got)
			}

			out := mustProcess(t, p, event.Event{ID: "o-d", Member: "d", Type: "order", Time: at(10), Attrs: event.Attrs{"amount": event.Dec(dec("100"))}})[0]
			if n := len(out.ChangesOf(benefit.ChangeAchievement)); n != 1 {
				t.Errorf("d's order published %d grants, want 1 (gift and task in one event)", n)
			}

			want := map[string]benefit.Grant{
				"a": {Achievement: "badge", At: at(10), Source: "task", By: "share-once", Event: "s-a", Note: "task share-once"},
				"b": {Achievement: "badge", At: at(10), Source: "operator", By: "ops", Event: "g-b", Note: "by hand"},
				"c": {Achievement: "badge", At: at(12), Source: "operator", By: "ops", Event: "g-c", Note: "by hand"},
			}
			for m, w := range want {
				gs, err := p.Benefits().Achievements(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]benefit.Grant{w}, gs); diff != "" {
					t.Errorf("%s's achievements (-want +got):\n%s", m, diff)
				}
			}
			gs, err := p.Benefits().Achievements(ctx, "d")
			if err != nil || len(gs) != 1 || gs[0].Event != "o-d" || !gs[0].At.Equal(at(10)) ||
				!(gs[0].Source == "level" && gs[0].By == "silver" || gs[0].Source == "task" && gs[0].By == "order-once") {
				t.Errorf("d's achievements = %+v, %v; want one, by silver's gift or order-once, of o-d", gs, err)
			}
			feed, err := p.Feed(ctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n := countKinds(feed, benefit.ChangeAchievement); !cmp.Equal(n, map[string]int{"a": 1, "b": 1, "c": 1, "d": 1}) {
				t.Errorf("grants in the feed by member: %v, want one each", n)
			}
		})
	}
}

// eventOutcome is what an achievement test reads of an outcome.
type eventOutcome struct {
	dup     bool
	granted int
}
