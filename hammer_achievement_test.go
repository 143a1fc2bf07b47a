package membership_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
)

// An achievement is granted once per member, whoever grants it: for each
// of 8 members at once, on both programs, 4 operators grant "explorer"
// (each request sent twice) and 4 shares complete a task whose reward is
// "explorer" (each event sent twice). Exactly one of them grants it: one
// benefit.achievement per member in the outcomes and in the feed, the
// member's one Grant naming who won; the operators who lost get
// ErrAlreadyGranted, the shares succeed and grant nothing more; on
// memory, bolt and PostgreSQL.
func TestHammerAchievementOnce(t *testing.T) {
	def := membership.Definition{
		Zone:   "Asia/Shanghai",
		Events: []event.Type{{Name: "share"}},
		Benefits: &benefit.Definition{
			Achievements: []benefit.Achievement{{Name: "explorer", Type: "milestone"}},
		},
		Tasks: &task.Definition{Tasks: []task.Task{{Name: "share-once", Kind: task.One, Steps: []task.Step{{Event: "share"}},
			Rewards: []rule.Reward{{Kind: rule.RewardAchievement, Achievement: "explorer"}}}}},
	}
	onEveryStore(t, def, func(t *testing.T, ps [2]*membership.Program) {
		ctx := context.Background()
		const members, operators, shares = 8, 4, 4
		const per = 2 * (operators + shares) // each call twice
		granted := make([][]string, members*per)
		atOnce(members*per, func(g int) {
			p := ps[g%2]
			m, k := fmt.Sprint("m", g%members), (g/members)/2 // calls k sent twice
			var out *change.Outcome
			var err error
			if k < operators {
				out, err = p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: fmt.Sprintf("g%d-%s", k, m), Member: m,
					Operator: fmt.Sprint("op", k), At: hammerAt, Achievement: "explorer"})
				if errors.Is(err, benefit.ErrAlreadyGranted) {
					return
				}
			} else {
				out, err = p.Process(ctx, event.Event{ID: fmt.Sprintf("s%d-%s", k, m), Member: m, Type: "share", Time: hammerAt})
			}
			if err != nil {
				t.Errorf("%s call %d: %v", m, k, err)
				return
			}
			if out.Duplicate {
				return
			}
			for _, c := range out.ChangesOf(benefit.ChangeAchievement) {
				granted[g] = append(granted[g], c.Member)
			}
		})
		byMember := map[string]int{}
		for _, ms := range granted {
			for _, m := range ms {
				byMember[m]++
			}
		}
		feed := checkLedgerAndFeed(t, ps)
		inFeed := countKinds(feed, benefit.ChangeAchievement)
		for i := range members {
			m := fmt.Sprint("m", i)
			if byMember[m] != 1 || inFeed[m] != 1 {
				t.Errorf("%s: %d grants in the outcomes, %d in the feed; want 1 each", m, byMember[m], inFeed[m])
			}
			gs, err := ps[i%2].Benefits().Achievements(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if len(gs) != 1 || gs[0].Achievement != "explorer" || (gs[0].Source != "operator" && gs[0].Source != "task") {
				t.Errorf("%s: achievements %+v, want explorer once", m, gs)
			}
		}
	})
}
