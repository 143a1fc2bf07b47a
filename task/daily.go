package task

import (
	"bytes"
	"context"
	"fmt"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/internal/total"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// bDaily keeps the completions of each task per day, of all members:
// (date \0 task, stripe) → completions, an engine total (Unit.AddTotal),
// striped so that members' events do not share a key.
const bDaily = "task.daily"

// countDay adds member's completion of task to the day of u.At().
func countDay(u *engine.Unit, member, task string) error {
	day := rule.DateOf(u.At(), u.Location()).String()
	k := append(append(append(make([]byte, 0, len(day)+1+len(task)), day...), 0), task...)
	return u.AddTotal(bDaily, k, member, one)
}

// DayCompletions is the number of completions of one task on one day.
type DayCompletions struct {
	Day         rule.Date `json:"day"`
	Task        string    `json:"task"`
	Completions int64     `json:"completions"`
}

// MaxDays is the longest period Daily answers: 100 years, as
// level.MaxDays. Daily's answer is not paged, and holds a row for each
// (day, task) with a completion, so the period bounds it.
const MaxDays = 36600

// Daily returns the completions of each task on each day from..to
// (inclusive, in the program's zone) that had any, by day and then task
// name. Its cost is the number of (day, task) counters in the period,
// whatever the number of members; completions are counted per day from the
// version of the library that added the count (earlier days show none).
// Errors wrap ErrNotDefined, event.ErrInvalidArgument naming the field (a
// from or to that is not a date; to before from, or a period of more than
// MaxDays days, naming "to"), store.ErrCorrupt for a damaged count (its
// stripes sum to no whole number an int64 holds), or are the store's.
func (h *Handle) Daily(ctx context.Context, from, to rule.Date) ([]DayCompletions, error) {
	fail := func(err error) ([]DayCompletions, error) {
		return nil, fmt.Errorf("task: completions %s..%s: %w", from, to, err)
	}
	switch {
	case h.p == nil:
		return fail(ErrNotDefined)
	case !from.Valid():
		return fail(fmt.Errorf("%w: from: not a date", event.ErrInvalidArgument))
	case !to.Valid():
		return fail(fmt.Errorf("%w: to: not a date", event.ErrInvalidArgument))
	case to.Compare(from) < 0:
		return fail(fmt.Errorf("%w: to: before from", event.ErrInvalidArgument))
	case from.AddDays(MaxDays).Compare(to) <= 0:
		return fail(fmt.Errorf("%w: to: a period of more than %d days", event.ErrInvalidArgument, MaxDays))
	}
	var out []DayCompletions
	err := h.e.Store().View(ctx, func(tx store.Tx) error {
		out = out[:0]
		return total.Counts(tx, bDaily, []byte(from.String()), []byte(to.AddDays(1).String()), func(k []byte, n int64) error {
			day, name, found := bytes.Cut(k, []byte{0})
			d, err := rule.ParseDate(string(day))
			if !found || err != nil {
				return fmt.Errorf("%w: task day key %q", engine.ErrCorrupt, k)
			}
			out = append(out, DayCompletions{Day: d, Task: string(name), Completions: n})
			return nil
		})
	})
	if err != nil {
		return fail(err)
	}
	return out, nil
}
