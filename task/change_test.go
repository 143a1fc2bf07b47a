package task_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/store/memory"
	"github.com/memberkit/membership/task"
)

// changeTasks are the tasks of version 1 (nil edit) or of a version
// edit changes: "order-then-recharge" (an order, then a recharge), "big"
// (three orders of 100 or more), "checkins" (three check-ins) and
// "browse" (two browses, at most three completions ever).
func changeTasks(edit func(ts []task.Task)) []task.Task {
	big := []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("100")}}
	ts := []task.Task{
		{Name: "order-then-recharge", Kind: task.Sequence, Steps: engSteps("order", "recharge"), Rewards: engPts10},
		{Name: "big", Kind: task.Repeat, Times: 3, Steps: []task.Step{{Event: "order", Conditions: big}}, Rewards: engPts10},
		{Name: "checkins", Kind: task.Repeat, Times: 3, Steps: engSteps("checkin"), Rewards: engPts10},
		{Name: "browse", Kind: task.Repeat, Times: 2, Steps: engSteps("browse"), Rewards: engPts10,
			Limits: rule.Caps{{Period: rule.Total, Limit: dec("3")}}},
	}
	if edit != nil {
		edit(ts)
	}
	return ts
}

// changeV2 edits version 1's tasks: the steps of order-then-recharge
// swapped, big's condition raised to 500 (each keeps its number of
// steps), checkins needing four, browse limited to one completion ever.
func changeV2(ts []task.Task) {
	ts[0].Steps = engSteps("recharge", "order")
	ts[1].Steps[0].Conditions = []event.Condition{{Attr: "amount", Op: event.Gte, Value: event.DecString("500")}}
	ts[2].Times = 4
	ts[3].Limits = rule.Caps{{Period: rule.Total, Limit: dec("1")}}
}

func changeDef(version uint64, edit func(ts []task.Task)) membership.Definition {
	d := engDef(changeTasks(edit)...)
	d.Version = version
	return d
}

// progressOf returns the member's Done of each task, by name, and the
// completions of each.
func progressOf(t *testing.T, p *membership.Program, member string) (done, completions map[string]int64) {
	t.Helper()
	st, err := p.Tasks().Progress(context.Background(), member)
	if err != nil {
		t.Fatal(err)
	}
	done, completions = map[string]int64{}, map[string]int64{}
	for _, s := range st {
		done[s.Task] = int64(s.Done)
		if s.Done != 0 && s.Done != s.Progress.Done() {
			t.Errorf("%s: Done %d, its progress %d", s.Task, s.Done, s.Progress.Done())
		}
		completions[s.Task] = s.Completions
	}
	return done, completions
}

// TestTaskStepsChangedRestartProgress: a new definition version that
// edits a task's steps but keeps their number restarts the members'
// progress on it, as a change of their number does. Before, the stored
// progress was read against the new steps: m's order, the first step of
// "order, then recharge", was read as the recharge now first, and one
// order completed the task; two orders of 150 were read as two of the
// three orders of 500 now asked. A task whose steps are kept keeps its
// progress, whatever else changed (checkins now needs four: two of four
// done); completions already counted stay when a limit is lowered
// (browse: two, above the new limit of one, so a browse no longer
// counts).
func TestTaskStepsChangedRestartProgress(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := open()
			v1, err := membership.Open(st, changeDef(1, nil))
			if err != nil {
				t.Fatal(err)
			}
			mustProcess(t, v1,
				engOrder("e1", "m", "150", at), // order-then-recharge 1/2, big 1/3
				engOrder("e2", "m", "150", at), // big 2/3 (not the recharge order-then-recharge waits for)
				engEvent("e3", "m", "checkin", at, nil), engEvent("e4", "m", "checkin", at, nil),
				engEvent("e5", "m", "browse", at, nil), engEvent("e6", "m", "browse", at, nil), // browse completed once
				engEvent("e7", "m", "browse", at, nil), engEvent("e8", "m", "browse", at, nil), // and twice
			)
			done, comp := progressOf(t, v1, "m")
			if diff := cmp.Diff(map[string]int64{"order-then-recharge": 1, "big": 2, "checkins": 2, "browse": 0}, done); diff != "" {
				t.Fatalf("v1 progress (-want +got):\n%s", diff)
			}

			v2, err := membership.Open(st, changeDef(2, changeV2))
			if err != nil {
				t.Fatal(err)
			}
			done, comp = progressOf(t, v2, "m")
			if diff := cmp.Diff(map[string]int64{"order-then-recharge": 0, "big": 0, "checkins": 2, "browse": 0}, done); diff != "" {
				t.Errorf("v2 progress before any event (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int64{"order-then-recharge": 0, "big": 0, "checkins": 0, "browse": 2}, comp); diff != "" {
				t.Errorf("v2 completions (-want +got):\n%s", diff)
			}
			later := at.Add(time.Hour)
			for _, c := range []struct {
				ev   event.Event
				want []string
			}{
				// Not the recharge order-then-recharge now starts with;
				// big 1/3.
				{engOrder("f1", "m", "500", later), []string{task.ChangeProgressed}},
				{engEvent("f2", "m", "checkin", later, nil), []string{task.ChangeProgressed}},  // 3/4
				{engEvent("f3", "m", "browse", later, nil), []string{task.ChangeLimitReached}}, // 2 of 1 ever
				{engEvent("f4", "m", "recharge", later, event.Attrs{"amount": event.DecString("50")}), []string{task.ChangeProgressed}},
				// order-then-recharge done (recharge, then order); big 2/3.
				{engOrder("f5", "m", "500", later), []string{task.ChangeCompleted, task.ChangeProgressed}},
			} {
				out := mustProcess(t, v2, c.ev)[0]
				if diff := cmp.Diff(c.want, engKinds(out, "task.")); diff != "" {
					t.Errorf("%s: task changes (-want +got):\n%s", c.ev.ID, diff)
				}
			}
			done, comp = progressOf(t, v2, "m")
			if diff := cmp.Diff(map[string]int64{"order-then-recharge": 0, "big": 2, "checkins": 3, "browse": 0}, done); diff != "" {
				t.Errorf("v2 progress at the end (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int64{"order-then-recharge": 1, "big": 0, "checkins": 0, "browse": 2}, comp); diff != "" {
				t.Errorf("v2 completions at the end (-want +got):\n%s", diff)
			}
			n, err := v2.Tasks().Completions(ctx, task.CompletionsQuery{Member: "m", Task: "browse", Period: rule.Total, At: later})
			if err != nil || n != 2 {
				t.Errorf("browse completions ever = %d, %v; want 2", n, err)
			}
			// 10 points for order-then-recharge, 20 for browse under v1.
			if bal := pointsOf(t, v2, "m"); !bal.Equal(dec("30")) {
				t.Errorf("points = %s, want 30", bal)
			}
		})
	}
}

// legacyStore returns a store as a release before step fingerprints left
// it, running version 1 of changeTasks: m's progress on order-then-recharge
// (the order done), big (two orders) and checkins (two), in records
// without a fingerprint, and no record of the steps they count.
func legacyStore(t *testing.T, open func() store.Store) store.Store {
	t.Helper()
	st := open()
	if _, err := membership.Open(st, changeDef(1, nil)); err != nil {
		t.Fatal(err)
	}
	at := `"started":"2026-03-02T02:00:00Z","updated":"2026-03-02T02:00:00Z"`
	err := st.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Delete("task.steps", []byte("legacy")); err != nil {
			return err
		}
		for k, v := range map[string]string{
			"m\x00order-then-recharge": `{"steps":[1,0],` + at + `}`,
			"m\x00big":                 `{"steps":[2],` + at + `}`,
			"m\x00checkins":            `{"steps":[2],` + at + `}`,
		} {
			if err := tx.Put("task.progress", []byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestTaskLegacyProgress: progress an earlier release recorded, without
// the fingerprint of its steps, counts the steps of the definition in
// force when this release first opens the store with that very
// definition (it records them then): it is kept for tasks whose steps a
// later version keeps, and restarts for the others. When this release's
// first open installs a new definition, the steps it counted are not
// known, and all of it restarts.
func TestTaskLegacyProgress(t *testing.T) {
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := legacyStore(t, open)
			v1, err := membership.Open(st, changeDef(1, nil))
			if err != nil {
				t.Fatal(err)
			}
			done, _ := progressOf(t, v1, "m")
			if diff := cmp.Diff(map[string]int64{"order-then-recharge": 1, "big": 2, "checkins": 2, "browse": 0}, done); diff != "" {
				t.Errorf("v1 reopened (-want +got):\n%s", diff)
			}
			v2, err := membership.Open(st, changeDef(2, changeV2))
			if err != nil {
				t.Fatal(err)
			}
			done, _ = progressOf(t, v2, "m")
			if diff := cmp.Diff(map[string]int64{"order-then-recharge": 0, "big": 0, "checkins": 2, "browse": 0}, done); diff != "" {
				t.Errorf("v2 (-want +got):\n%s", diff)
			}
			// The first order under v2 is not read as order-then-recharge's
			// recharge: no completion.
			out := mustProcess(t, v2, engOrder("f1", "m", "500", time.Date(2026, 3, 3, 10, 0, 0, 0, shanghai)))[0]
			if diff := cmp.Diff([]string{task.ChangeProgressed}, engKinds(out, "task.")); diff != "" {
				t.Errorf("order under v2: task changes (-want +got):\n%s", diff)
			}
		})
		t.Run(name+"/first open changes the definition", func(t *testing.T) {
			st := legacyStore(t, open)
			v2, err := membership.Open(st, changeDef(2, changeV2))
			if err != nil {
				t.Fatal(err)
			}
			done, _ := progressOf(t, v2, "m")
			if diff := cmp.Diff(map[string]int64{"order-then-recharge": 0, "big": 0, "checkins": 0, "browse": 0}, done); diff != "" {
				t.Errorf("v2 (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTaskProgressOfOtherLengthIsDamage: a progress record whose
// fingerprint is its task's steps, but which counts another number of
// steps, was not written by the library: Progress and the member's
// events fail with store.ErrCorrupt instead of restarting it silently.
func TestTaskProgressOfOtherLengthIsDamage(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := membership.Open(st, changeDef(1, nil))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	mustProcess(t, p, engOrder("e1", "m", "150", at))
	k := []byte("m\x00order-then-recharge")
	err = st.Update(ctx, func(tx store.Tx) error {
		raw, err := tx.Get("task.progress", k)
		if err != nil {
			return err
		}
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		rec["steps"] = []int{1, 0, 0}
		raw, err = json.Marshal(rec)
		if err != nil {
			return err
		}
		return tx.Put("task.progress", k, raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tasks().Progress(ctx, "m"); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Progress: %v, want store.ErrCorrupt", err)
	}
	if _, err := p.Process(ctx, engEvent("e2", "m", "recharge", at, event.Attrs{"amount": event.DecString("5")})); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Process: %v, want store.ErrCorrupt", err)
	}
}
