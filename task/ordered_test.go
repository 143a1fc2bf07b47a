package task_test

import (
	"context"
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

// Ordered actions follow the events' times: a step counts only for an
// event whose time is not before the previous step's event's. Before, a
// cart that happened at 09:00, processed after a browse of 10:00, counted
// as the step after the browse, and an order of 09:59 completed "browse,
// cart, then order": the member had not done the actions in that order.
func TestTaskOrderedStepsFollowEventTimes(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, shanghai) }
	p := engOpen(t, task.Task{Name: "funnel", Kind: task.Sequence, Steps: engSteps("browse", "cart", "order"), Rewards: engPts10})
	var got [][]string
	for _, out := range mustProcess(t, p,
		engEvent("b1", "m", "browse", at(10, 0), nil),
		engEvent("c1", "m", "cart", at(9, 0), nil),  // before the browse: does not count
		engEvent("c2", "m", "cart", at(10, 0), nil), // at the browse's time: counts
		engOrder("o1", "m", "10", at(9, 59)),        // before the cart
		engOrder("o2", "m", "10", at(10, 30)),
		// After the completion the order starts again: a cart before
		// this browse does not count, whatever came before.
		engEvent("b2", "m", "browse", at(11, 0), nil),
		engEvent("c3", "m", "cart", at(10, 59), nil),
	) {
		got = append(got, engKinds(out, "task."))
	}
	want := [][]string{
		{task.ChangeProgressed}, nil, {task.ChangeProgressed}, nil, {task.ChangeCompleted},
		{task.ChangeProgressed}, nil,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("task changes per event (-want +got):\n%s", diff)
	}
	st, err := p.Tasks().Progress(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	wantSt := task.Status{Task: "funnel", Kind: task.Sequence, Done: 1, Need: 3, Completions: 1,
		Progress: task.Progress{Steps: []int{1, 0, 0}, Started: at(11, 0), Updated: at(11, 0)}}
	if diff := cmp.Diff(wantSt, st[0]); diff != "" {
		t.Errorf("status at the end (-want +got):\n%s", diff)
	}
}

// An event before the previous step's publishes no task.limit_reached: it
// would not have counted. Version 1 allows two completions ever; m
// completes "browse, then cart" once and browses at 10:00; version 2
// allows one: a cart of 09:00 publishes nothing, one of 11:00
// task.limit_reached.
func TestTaskOrderedLimitReachedFollowsEventTimes(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 3, 2, h, 0, 0, 0, shanghai) }
	def := func(version uint64, limit string) membership.Definition {
		d := engDef(task.Task{Name: "funnel", Kind: task.Sequence, Steps: engSteps("browse", "cart"), Rewards: engPts10,
			Limits: rule.Caps{{Period: rule.Total, Limit: dec(limit)}}})
		d.Version = version
		return d
	}
	st := memory.New()
	v1, err := membership.Open(st, def(1, "2"))
	if err != nil {
		t.Fatal(err)
	}
	mustProcess(t, v1, engEvent("b1", "m", "browse", at(8), nil), engEvent("c1", "m", "cart", at(8), nil), engEvent("b2", "m", "browse", at(10), nil))
	v2, err := membership.Open(st, def(2, "1"))
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, out := range mustProcess(t, v2, engEvent("c2", "m", "cart", at(9), nil), engEvent("c3", "m", "cart", at(11), nil)) {
		got = append(got, engKinds(out, "task."))
	}
	if diff := cmp.Diff([][]string{nil, {task.ChangeLimitReached}}, got); diff != "" {
		t.Errorf("task changes per cart (-want +got):\n%s", diff)
	}
}

// Progress an earlier release recorded (no fingerprint) follows the same
// rule: its updated time is the time of the last step done. A record
// without one (as none the library writes) counts the next step at any
// time, as before.
func TestTaskOrderedLegacyProgressFollowsEventTimes(t *testing.T) {
	recharge := func(id string, at time.Time) event.Event {
		return engEvent(id, "m", "recharge", at, event.Attrs{"amount": event.DecString("50")})
	}
	for name, open := range testkit.Stores(t) {
		t.Run(name, func(t *testing.T) {
			st := legacyStore(t, open) // order-then-recharge: the order done at 2026-03-02 10:00 in Shanghai
			p, err := membership.Open(st, changeDef(1, nil))
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, out := range mustProcess(t, p,
				recharge("r1", time.Date(2026, 3, 2, 9, 59, 0, 0, shanghai)),
				recharge("r2", time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai))) {
				got = append(got, engKinds(out, "task."))
			}
			if diff := cmp.Diff([][]string{nil, {task.ChangeCompleted}}, got); diff != "" {
				t.Errorf("task changes per recharge (-want +got):\n%s", diff)
			}

			// A record without times, written by hand: the recharge of
			// 1990 counts.
			err = st.Update(context.Background(), func(tx store.Tx) error {
				return tx.Put("task.progress", []byte("m\x00order-then-recharge"), []byte(`{"steps":[1,0]}`))
			})
			if err != nil {
				t.Fatal(err)
			}
			out := mustProcess(t, p, recharge("r3", time.Date(1990, 1, 1, 0, 0, 0, 0, shanghai)))[0]
			if diff := cmp.Diff([]string{task.ChangeCompleted}, engKinds(out, "task.")); diff != "" {
				t.Errorf("recharge after a record without times: task changes (-want +got):\n%s", diff)
			}
		})
	}
}
