package tally_test

import (
	"slices"
	"testing"

	"github.com/memberkit/membership/change"
	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/examples/internal/tally"
)

// TestQueue checks the host's queue of later events: each day gives the
// events queued for it once, drops those of erased members, passes to
// sent only what is not a retry, and counts a retry answered Duplicate,
// and one answered otherwise as a failed check.
func TestQueue(t *testing.T) {
	q := tally.NewQueue()
	a := event.Event{ID: "a", Member: "m1"}
	b := event.Event{ID: "b", Member: "m2"}
	c := event.Event{ID: "c", Member: "gone"}
	q.SendLate(2, a)
	q.Send(2, c)
	q.Send(3, b)
	q.Again(3, a)
	q.Again(4, b)
	erased := func(m string) bool { return m == "gone" }
	var sent []string
	note := func(ev event.Event) { sent = append(sent, ev.ID) }
	ids := func(evs []event.Event) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return out
	}
	if got := ids(q.Due(1, erased, note)); len(got) != 0 {
		t.Errorf("day 1: %v, want none", got)
	}
	day2 := q.Due(2, erased, note)
	if got := ids(day2); !slices.Equal(got, []string{"a"}) {
		t.Errorf("day 2: %v, want [a] (c's member erased)", got)
	}
	if got := ids(q.Due(2, erased, note)); len(got) != 0 {
		t.Errorf("day 2 again: %v, want none: each day is given once", got)
	}
	day3 := q.Due(3, erased, note)
	if got := ids(day3); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("day 3: %v, want [b a]", got)
	}
	q.Answered(3, day3, []*change.Outcome{{}, {Duplicate: true}})
	day4 := q.Due(4, erased, note)
	q.Answered(4, day4, []*change.Outcome{{}}) // b's retry applied anew: not a duplicate
	if !slices.Equal(sent, []string{"a", "b"}) {
		t.Errorf("sent %v, want [a b]: retries are not sent anew", sent)
	}
	if q.Late != 1 || q.Retried != 2 || q.Duplicates != 1 || q.Dropped != 1 {
		t.Errorf("late %d, retried %d, duplicates %d, dropped %d; want 1, 2, 1, 1", q.Late, q.Retried, q.Duplicates, q.Dropped)
	}
	var checks tally.Checks
	q.Check(&checks)
	if checks.N != 1 || len(checks.Failures) != 1 {
		t.Errorf("checks %+v: want one, failed (a retry was not a duplicate)", checks)
	}
}
