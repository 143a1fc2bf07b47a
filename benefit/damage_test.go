package benefit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/benefit"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
)

// A grant that decodes but cannot be the one recorded under its key is
// damage: Achievements fails with store.ErrCorrupt rather than list it.
// m was granted explorer by alice; its record then names first-order
// (listed as first-order, so the member showed first-order twice once
// an operator granted it, and explorer never), no time (granted in the
// year 1) or no one (an operator's grant names them, a task's or a
// level's names it). The record as written reads back.
func TestAchievementGrantDamaged(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, zone)
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"another achievement", `{"achievement":"first-order","at":"2026-03-02T02:00:00Z","source":"operator","by":"alice","event":"g1"}`, false},
		{"no time", `{"achievement":"explorer","source":"operator","by":"alice","event":"g1"}`, false},
		{"no one", `{"achievement":"explorer","at":"2026-03-02T02:00:00Z","source":"task","event":"g1"}`, false},
		{"as written", `{"achievement":"explorer","at":"2026-03-02T02:00:00Z","source":"operator","by":"alice","event":"g1"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			p, err := membership.Open(st, progDef())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Benefits().GrantAchievement(ctx, benefit.GrantRequest{RequestID: "g1", Member: "m", Operator: "alice", At: at, Achievement: "explorer"}); err != nil {
				t.Fatal(err)
			}
			testkit.Overwrite(t, st, "benefit.achievements", []byte(tc.value))
			gs, err := p.Benefits().Achievements(ctx, "m")
			if !tc.ok {
				if !errors.Is(err, store.ErrCorrupt) {
					t.Errorf("Achievements = %+v, %v; want store.ErrCorrupt", gs, err)
				}
				return
			}
			want := []benefit.Grant{{Achievement: "explorer", At: at, Source: "operator", By: "alice", Event: "g1"}}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, gs); diff != "" {
				t.Errorf("achievements (-want +got):\n%s", diff)
			}
		})
	}
}
