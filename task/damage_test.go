package task_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/store"
	"github.com/memberkit/membership/task"
)

// A progress record whose counts no event could have left is damage:
// Progress and the member's next event fail with store.ErrCorrupt rather
// than read it (a count of -2 check-ins asked 5 more of a task of 3; an
// ordered task's second step done without its first was completed by one
// event of the first). A count a Repeat task's lowered Times leaves at or
// above the new Times is not damage (the package doc says it completes at
// the next event).
func TestTaskProgressWithImpossibleCountsIsDamage(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	tasks := []task.Task{
		{Name: "repeat", Kind: task.Repeat, Times: 3, Steps: engSteps("checkin"), Rewards: engPts10},
		{Name: "all", Kind: task.All, Steps: engSteps("checkin", "share"), Rewards: engPts10},
		{Name: "sequence", Kind: task.Sequence, Steps: engSteps("checkin", "share"), Rewards: engPts10},
	}
	tests := []struct {
		task  string
		steps string // the damaged record's steps, as JSON
		fits  string // its fits, as JSON ("" for none)
		// ok: the record is read, and the next check-in's task changes.
		ok   bool
		next []string
	}{
		{task: "repeat", steps: "[-2]"},
		{task: "repeat", steps: "[5]", ok: true, next: []string{task.ChangeCompleted}},
		{task: "all", steps: "[-1,0]"},
		{task: "all", steps: "[2,0]"},
		{task: "all", steps: "[1,1]"},
		{task: "all", steps: "[0,1]", ok: true, next: []string{task.ChangeCompleted}},
		{task: "all", steps: "[1,0]", fits: "[[0,5],null]", ok: true, next: nil},
		{task: "sequence", steps: "[0,1]"},
		{task: "sequence", steps: "[1,1]"},
		{task: "sequence", steps: "[-1,0]"},
		{task: "sequence", steps: "[1,0]", ok: true, next: nil},
	}
	for _, tc := range tests {
		t.Run(tc.task+tc.steps+tc.fits, func(t *testing.T) {
			st := testkit.BoltStore(t)
			p, err := membership.Open(st, engDef(tasks...))
			if err != nil {
				t.Fatal(err)
			}
			// The checkin counts towards every task; its records are
			// then damaged.
			mustProcess(t, p, engEvent("c0", "m", "checkin", at, nil))
			raw := fmt.Sprintf(`{"steps":%s,"started":"2026-03-02T02:00:00Z","updated":"2026-03-02T02:00:00Z"`, tc.steps)
			if tc.fits != "" {
				raw += `,"fits":` + tc.fits
			}
			fp := fingerprintOf(t, st, "m\x00"+tc.task)
			raw += fmt.Sprintf(`,"fingerprint":%q}`, fp)
			if testkit.OverwritePrefix(t, st, "task.progress", []byte("m\x00"+tc.task), []byte(raw)) != 1 {
				t.Fatal("no progress record to damage")
			}
			_, perr := p.Tasks().Progress(ctx, "m")
			out, err := p.Process(ctx, engEvent("c1", "m", "checkin", at.Add(time.Minute), nil))
			if !tc.ok {
				if !errors.Is(perr, store.ErrCorrupt) || !errors.Is(err, store.ErrCorrupt) {
					t.Errorf("Progress: %v; Process: %v; want both store.ErrCorrupt", perr, err)
				}
				return
			}
			if perr != nil || err != nil {
				t.Fatalf("Progress: %v; Process: %v", perr, err)
			}
			fx, err := task.EffectsOf(out)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range fx.Completed {
				if c.Task == tc.task {
					got = append(got, task.ChangeCompleted)
				}
			}
			if diff := cmp.Diff(tc.next, got); diff != "" {
				t.Errorf("completions of %s by the next check-in (-want +got):\n%s", tc.task, diff)
			}
		})
	}
}

// fingerprintOf returns the fingerprint of the progress record under k.
func fingerprintOf(t *testing.T, st store.Store, k string) string {
	t.Helper()
	var rec struct {
		Fingerprint string `json:"fingerprint"`
	}
	err := st.View(context.Background(), func(tx store.Tx) error {
		raw, err := tx.Get("task.progress", []byte(k))
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &rec)
	})
	if err != nil || rec.Fingerprint == "" {
		t.Fatalf("fingerprint of %q: %q, %v", k, rec.Fingerprint, err)
	}
	return rec.Fingerprint
}
