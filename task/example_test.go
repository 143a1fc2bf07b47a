package task_test

import (
	"fmt"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/task"
)

// ExampleTask_Step_sequence shows that an out-of-order visit does not advance an ordered task and the right order completes it.
func ExampleTask_Step_sequence() {
	tk := task.Task{
		Name:  "tour",
		Kind:  task.Sequence,
		Steps: []task.Step{{Event: "visit_a"}, {Event: "visit_b"}, {Event: "visit_c"}},
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var p task.Progress
	for i, typ := range []string{"visit_a", "visit_c", "visit_b", "visit_c"} {
		ev := event.Event{ID: fmt.Sprint("e", i), Member: "m1", Type: typ, Time: at}
		next, step, done := tk.Step(p, ev)
		p = next
		fmt.Printf("%s: step %d, %d/%d done, complete %v\n", typ, step, p.Done(), tk.Need(), done)
	}
	// Output:
	// visit_a: step 0, 1/3 done, complete false
	// visit_c: step -1, 1/3 done, complete false
	// visit_b: step 1, 2/3 done, complete false
	// visit_c: step 2, 3/3 done, complete true
}

// ExampleTask_Step_repeat counts qualifying check-ins of a repeated-action task; other events do not count.
func ExampleTask_Step_repeat() {
	tk := task.Task{Name: "checkin-3", Kind: task.Repeat, Times: 3, Steps: []task.Step{{Event: "checkin"}}}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var p task.Progress
	for i, typ := range []string{"checkin", "order", "checkin", "checkin"} {
		ev := event.Event{ID: fmt.Sprint("e", i), Member: "m1", Type: typ, Time: at.Add(time.Duration(i) * time.Hour)}
		next, step, done := tk.Step(p, ev)
		p = next
		fmt.Printf("%s: step %d, %d/%d done, complete %v\n", typ, step, p.Done(), tk.Need(), done)
	}
	// Output:
	// checkin: step 0, 1/3 done, complete false
	// order: step -1, 1/3 done, complete false
	// checkin: step 0, 2/3 done, complete false
	// checkin: step 0, 3/3 done, complete true
}
