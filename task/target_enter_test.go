package task_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/tag"
	"github.com/memberkit/membership/task"
)

// A member who enters a task's target between two of its events counts
// from then on: what they did before does not count, late as it may be
// in the task. Two tasks of browse and cart target staff: "seq", ordered
// and for the segment "staff and not complained"; "all", in any order,
// for the tag staff. m browses without the tag (nothing counts), is
// tagged staff, carts (all: 1 of 2; seq: cart is not its first step, so
// nothing), browses (seq: 1 of 2; all: complete), then is tagged
// complained, which takes m out of seq's segment alone, and carts (seq:
// nothing, its browse kept; all: 1 of 2 again).
func TestTaskTargetEnteredBetweenEvents(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	minute := func(n int) time.Time { return at.Add(time.Duration(n) * time.Minute) }
	def := engDef(
		task.Task{Name: "seq", Kind: task.Sequence, Steps: engSteps("browse", "cart"), Rewards: engPts10, Target: task.Target{Segment: "staff and not complained"}},
		task.Task{Name: "all", Kind: task.All, Steps: engSteps("browse", "cart"), Rewards: engPts10, Target: task.Target{Tags: []string{"staff"}}},
	)
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			p, err := membership.Open(open(), def)
			if err != nil {
				t.Fatal(err)
			}
			tagged := func(id, name string, at time.Time) {
				t.Helper()
				if _, err := p.Tags().Add(ctx, tag.ManualRequest{RequestID: id, Member: "m", Operator: "alice", At: at, Tag: name}); err != nil {
					t.Fatal(err)
				}
			}
			var got [][]string
			process := func(id, typ string, at time.Time) {
				t.Helper()
				fx, err := task.EffectsOf(mustProcess(t, p, engEvent(id, "m", typ, at, nil))[0])
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, d := range fx.Progressed {
					names = append(names, d.Task+" progressed")
				}
				for _, d := range fx.Completed {
					names = append(names, d.Task+" completed")
				}
				got = append(got, names)
			}
			process("b1", "browse", minute(1))
			tagged("r1", "staff", minute(2))
			process("c1", "cart", minute(3))
			process("b2", "browse", minute(4))
			tagged("r2", "complained", minute(5))
			process("c2", "cart", minute(6))
			want := [][]string{nil, {"all progressed"}, {"seq progressed", "all completed"}, {"all progressed"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("task effects per event (-want +got):\n%s", diff)
			}
			st, err := p.Tasks().Progress(ctx, "m")
			if err != nil {
				t.Fatal(err)
			}
			type standing struct {
				Task              string
				Steps             []int
				Done, Completions int64
			}
			var stand []standing
			for _, s := range st {
				stand = append(stand, standing{s.Task, s.Progress.Steps, int64(s.Done), s.Completions})
			}
			wantStand := []standing{{"seq", []int{1, 0}, 1, 0}, {"all", []int{0, 1}, 1, 1}}
			if diff := cmp.Diff(wantStand, stand); diff != "" {
				t.Errorf("standing (-want +got):\n%s", diff)
			}
		})
	}
}
