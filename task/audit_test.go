package task_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberkit/membership/coupon"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/testkit"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/task"
)

// An event counts once per task: the event that completes a task does
// not also count towards the next round, whichever the task type, even
// when it fits more than one step (SPEC: progress restarts after each
// completion). Each task listens to share alone; the third share starts
// a new round of every task but the one-action one.
func TestTaskCompletingEventDoesNotCountAgain(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	tests := []struct {
		task task.Task
		// want: the task.* changes of each of three shares.
		want [][]string
		// done: the units done after them.
		done int
	}{
		{task.Task{Kind: task.One, Steps: engSteps("share")},
			[][]string{{"task.completed"}, {"task.completed"}, {"task.completed"}}, 0},
		{task.Task{Kind: task.Repeat, Times: 2, Steps: engSteps("share")},
			[][]string{{"task.progressed"}, {"task.completed"}, {"task.progressed"}}, 1},
		{task.Task{Kind: task.All, Steps: engSteps("share", "share")},
			[][]string{{"task.progressed"}, {"task.completed"}, {"task.progressed"}}, 1},
		{task.Task{Kind: task.Sequence, Steps: engSteps("share", "share")},
			[][]string{{"task.progressed"}, {"task.completed"}, {"task.progressed"}}, 1},
	}
	for _, tc := range tests {
		t.Run(string(tc.task.Kind), func(t *testing.T) {
			tc.task.Name, tc.task.Rewards = "t", engPts10
			p := engOpen(t, tc.task)
			var got [][]string
			for _, out := range mustProcess(t, p,
				engEvent("s1", "m", "share", at, nil),
				engEvent("s2", "m", "share", at.Add(time.Minute), nil),
				engEvent("s3", "m", "share", at.Add(2*time.Minute), nil)) {
				got = append(got, engKinds(out, "task."))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("task changes per share (-want +got):\n%s", diff)
			}
			st, err := p.Tasks().Progress(context.Background(), "m")
			if err != nil || st[0].Done != tc.done {
				t.Errorf("progress = %+v, %v; want %d done", st, err, tc.done)
			}
		})
	}
}

// The same event processed twice counts once towards a task, takes
// nothing more from its limit and grants nothing more: the retry returns
// the first outcome, marked Duplicate. With a limit of one a day, a
// retry of the completing event is a duplicate, not a limit reached, and
// a new event that day is.
func TestTaskRetriedEventCountsOnce(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t, task.Task{Name: "pair", Kind: task.Repeat, Times: 2, Steps: engSteps("checkin"), Rewards: engPts10,
		Limits: rule.Caps{{Period: rule.Day, Limit: dec("1")}}})
	c1, c2 := engEvent("c1", "m", "checkin", at, nil), engEvent("c2", "m", "checkin", at.Add(time.Minute), nil)
	first := mustProcess(t, p, c1, c2)
	for i, ev := range []event.Event{c1, c2, c1} {
		out, err := p.Process(ctx, ev)
		if err != nil || !out.Duplicate {
			t.Fatalf("retry %d of %s: %+v, %v; want the first outcome, a duplicate", i, ev.ID, out, err)
		}
		if diff := cmp.Diff(engKinds(first[ev.ID[1]-'1'], ""), engKinds(out, "")); diff != "" {
			t.Errorf("retry of %s: changes (-first +retry):\n%s", ev.ID, diff)
		}
	}
	n, err := p.Tasks().Completions(ctx, task.CompletionsQuery{Member: "m", Task: "pair", Period: rule.Day, At: at})
	if err != nil || n != 1 {
		t.Errorf("completions on the day = %d, %v; want 1", n, err)
	}
	if bal := pointsOf(t, p, "m"); !bal.Equal(dec("10")) {
		t.Errorf("points = %s, want one reward of 10", bal)
	}
	out := mustProcess(t, p, engEvent("c3", "m", "checkin", at.Add(2*time.Minute), nil))[0]
	if diff := cmp.Diff([]string{task.ChangeLimitReached}, engKinds(out, "task.")); diff != "" {
		t.Errorf("a new check-in that day (-want +got):\n%s", diff)
	}
}

// A member who leaves a task's target mid-progress keeps what they did:
// their events do not count while they are outside it (no progress, no
// task.limit_reached), and count again, from where they were, once they
// are back. An operator moves a silver member to bronze after two of
// three check-ins of a silver-only task, then back to silver.
func TestTaskMemberLeavesTheTargetMidProgress(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	p := engOpen(t, task.Task{Name: "silver-3", Kind: task.Repeat, Times: 3, Steps: engSteps("checkin"), Rewards: engPts10,
		Target: task.Target{Levels: []string{"silver"}}})
	setLevel(t, p, "l1", "m", "silver", at)
	check := func(id string, at time.Time, want []string) {
		t.Helper()
		out := mustProcess(t, p, engEvent(id, "m", "checkin", at, nil))[0]
		if diff := cmp.Diff(want, engKinds(out, "task.")); diff != "" {
			t.Errorf("%s: task changes (-want +got):\n%s", id, diff)
		}
	}
	check("c1", at.Add(time.Hour), []string{task.ChangeProgressed})
	check("c2", at.Add(2*time.Hour), []string{task.ChangeProgressed})
	setLevel(t, p, "l2", "m", "bronze", at.Add(3*time.Hour))
	check("c3", at.Add(4*time.Hour), nil)
	st, err := p.Tasks().Progress(ctx, "m")
	if err != nil || st[0].Done != 2 || st[0].Completions != 0 {
		t.Errorf("progress outside the target = %+v, %v; want 2 of 3 kept", st, err)
	}
	setLevel(t, p, "l3", "m", "silver", at.Add(5*time.Hour))
	check("c4", at.Add(6*time.Hour), []string{task.ChangeCompleted})
	if bal := pointsOf(t, p, "m"); !bal.Equal(dec("10")) {
		t.Errorf("points = %s, want the reward of 10", bal)
	}
}

// A coupon pack a task rewards with, once out of stock, is refused as a
// coupon is: coupon.claim_refused naming the pack, with the task's
// reason, and the completion and the other rewards stand.
func TestTaskCompletionWithRefusedPack(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	def := engDef(task.Task{Name: "share", Kind: task.One, Steps: engSteps("share"), Rewards: []rule.Reward{
		{Kind: rule.RewardPack, Pack: "starter"},
		{Kind: rule.RewardPoints, Program: "mall", Amount: dec("10")},
	}})
	def.Coupons.Packs[0].Stock = 1
	p := testkit.OpenMemory(t, def)
	outs := mustProcess(t, p, engEvent("s1", "m", "share", at, nil), engEvent("s2", "m", "share", at.Add(time.Minute), nil))
	got := [][]string{engKinds(outs[0], "task."), engKinds(outs[1], "")}
	want := [][]string{{"task.completed"}, {"task.completed", coupon.ChangeClaimRefused, "points.earned"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	var r coupon.Refusal
	refused := outs[1].ChangesOf(coupon.ChangeClaimRefused)
	if len(refused) != 1 || refused[0].Decode(&r) != nil || r.Pack != "starter" || r.Cause != "out_of_stock" || refused[0].Reason.Rule != "task.share" {
		t.Errorf("refusal = %+v, %+v; want the starter pack out of stock, by task.share", r, refused)
	}
	if cs := couponsOf(t, p, "m"); len(cs) != 2 {
		t.Errorf("coupons = %d, want the one pack's 2", len(cs))
	}
	if bal := pointsOf(t, p, "m"); !bal.Equal(dec("20")) {
		t.Errorf("points = %s, want 2 rewards of 10", bal)
	}
}

// A level target reads the level the member holds at the event's time,
// a term end due by then counting though Advance has not performed it:
// gold set on 2 March 10:00 for a month (months after, N = 1) with no
// growth to keep it ends at 24:00 of 2 April, so a share at 23:59:59 of
// 2 April counts for the gold-only task and one at 3 April 00:00 for the
// silver-only task instead.
func TestTaskLevelTargetAtATermEndDue(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	def := engDef(
		task.Task{Name: "gold-share", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10, Target: task.Target{Levels: []string{"gold"}}},
		task.Task{Name: "silver-share", Kind: task.One, Steps: engSteps("share"), Rewards: engPts10, Target: task.Target{Levels: []string{"silver"}}},
	)
	gold := &def.Levels.Ladder[2]
	gold.Validity, gold.Retention, gold.Window = rule.Validity{Kind: rule.MonthsAfter, N: 1}, dec("500"), 1
	for _, name := range []string{"before", "at"} {
		t.Run(name, func(t *testing.T) {
			p := testkit.OpenMemory(t, def)
			setLevel(t, p, "l1", "m", "gold", at)
			when, want := time.Date(2026, 4, 2, 23, 59, 59, 0, shanghai), []string{"gold-share"}
			if name == "at" {
				when, want = time.Date(2026, 4, 3, 0, 0, 0, 0, shanghai), []string{"silver-share"}
			}
			fx, err := task.EffectsOf(mustProcess(t, p, engEvent("s1", "m", "share", when, nil))[0])
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range fx.Completed {
				got = append(got, c.Task)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("completed (-want +got):\n%s", diff)
			}
		})
	}
}
