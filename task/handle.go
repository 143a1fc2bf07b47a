package task

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/memberkit/membership/event"
	"github.com/memberkit/membership/internal/engine"
	"github.com/memberkit/membership/rule"
	"github.com/memberkit/membership/store"
)

// ErrNotDefined is wrapped by the calls of a Handle whose program defines
// no tasks, but Progress, which lists the member's standing on no task.
var ErrNotDefined = errors.New("the program defines no tasks")

// ErrNotCounted is wrapped by Completions for a day, week, month or year
// the task does not limit: completions are counted per member only for
// the periods of the task's limits.
var ErrNotCounted = errors.New("completions not counted for the period")

// Handle is a program's task domain: what members have done towards each
// task. Tasks progress and complete as events arrive (Program.Process);
// there is no operator call. Get it from the program (Program.Tasks); it
// is safe for concurrent use.
type Handle struct {
	e *engine.Engine
	p *part // nil when the program defines no tasks
}

// New registers the task part of def with e and returns its handle. With
// a nil def it registers nothing: Progress returns an empty list and
// Completions an error wrapping ErrNotDefined. The part reads members' levels and tags
// through the engine and grants rewards through the parts that grant them
// (engine.Unit.Reward), so it is added after those parts and before the
// tag part: a task target reads the tags as they stood before the event.
//
// A host never calls New (its engine is internal): membership's Open does,
// and [github.com/memberkit/membership.Program.Tasks] returns the handle.
func New(e *engine.Engine, def *Definition) *Handle {
	h := &Handle{e: e}
	if def == nil {
		return h
	}
	h.p = newPart(*def)
	e.Add(h.p)
	e.OnInstall(h.p.installed)
	return h
}

// Status is a member's standing on one task.
type Status struct {
	Task string `json:"task"`
	Kind Kind   `json:"kind"`
	// Progress since the last completion (its times in the program's
	// zone); Done of Need units.
	Progress Progress `json:"progress"`
	Done     int      `json:"done"`
	Need     int      `json:"need"`
	// Completions is the number of completions ever.
	Completions int64 `json:"completions"`
}

// CompletionsQuery asks how often a member completed a task in a period.
type CompletionsQuery struct {
	Member string
	Task   string
	// Period is the period counted (rule.Total: ever), the one containing
	// At.
	Period rule.Period
	At     time.Time
}

// Progress returns a member's standing on every task of the program, in
// definition order: progress since the last completion and the number of
// completions. A program without tasks gives an empty list, as every
// handle's list of a member's items does when the program leaves its
// domain out. A member that is not an ID (empty, too long, not valid
// UTF-8 or with a NUL) wraps event.ErrInvalidArgument, with or without
// tasks; else the error is the store's.
func (h *Handle) Progress(ctx context.Context, member string) ([]Status, error) {
	if err := event.CheckMember(member); err != nil {
		return nil, fmt.Errorf("task: progress: %w", err)
	}
	if h.p == nil {
		return nil, nil
	}
	loc := h.e.Location()
	var out []Status
	err := h.e.Store().View(ctx, func(tx store.Tx) error {
		out = out[:0] // a store may run the function again
		for _, tk := range h.p.def.Tasks {
			k := key(member, tk.Name)
			prog, err := h.p.progress(tx, tk, k)
			if err != nil {
				return err
			}
			if len(prog.Steps) != len(tk.Steps) {
				prog.Steps = make([]int, len(tk.Steps))
			}
			if !prog.Started.IsZero() {
				prog.Started, prog.Updated = prog.Started.In(loc), prog.Updated.In(loc)
			}
			st := Status{Task: tk.Name, Kind: tk.Kind, Progress: prog, Done: prog.Done(), Need: tk.Need()}
			if st.Completions, err = completions(tx, k); err != nil {
				return err
			}
			out = append(out, st)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("task: progress of %q: %w", member, err)
	}
	return out, nil
}

// Completions returns how many times q.Member completed q.Task in the
// period q.Period containing q.At, as counted for the task's limits.
// rule.Total gives the completions ever, with or without a total limit,
// as Progress and the task.completed changes do (a total limit a version
// added counts the completions before it too). A day, week, month or
// year limit a version added counts the completions its period had
// before it, for the period of the member's latest completion (see the
// package doc). A day, week, month or year the task does not limit is not counted:
// the error wraps ErrNotCounted (before, it was 0 with no error). The
// error wraps ErrNotDefined, ErrUnknownTask or event.ErrInvalidArgument
// (a member that is not an ID, an unknown period, no time or one outside
// the years 1900 to 2099), or store.ErrCorrupt for a damaged count (not
// a whole number an int64 holds, or negative).
func (h *Handle) Completions(ctx context.Context, q CompletionsQuery) (int64, error) {
	fail := func(err error) (int64, error) {
		return 0, fmt.Errorf("task: completions of %q by %q: %w", q.Task, q.Member, err)
	}
	if err := event.CheckQuery(q.Member, q.At); err != nil {
		return fail(err)
	}
	switch {
	case h.p == nil:
		return fail(ErrNotDefined)
	case !q.Period.Valid():
		return fail(fmt.Errorf("%w: unknown period %q", event.ErrInvalidArgument, q.Period))
	case q.At.IsZero():
		return fail(fmt.Errorf("%w: at: zero time", event.ErrInvalidArgument))
	}
	tk, ok := h.p.def.Task(q.Task)
	if !ok {
		return fail(ErrUnknownTask)
	}
	limited := slices.ContainsFunc(tk.Limits, func(c rule.Cap) bool { return c.Period == q.Period })
	if !limited && q.Period != rule.Total {
		return fail(fmt.Errorf("%w: the task has no %s limit", ErrNotCounted, q.Period))
	}
	var n int64
	err := h.e.Store().View(ctx, func(tx store.Tx) error {
		var err error
		n, _, err = limitUsed(tx, key(q.Member, q.Task), scope(q.Member, q.Task), q.Period, q.At, h.e.Location())
		return err
	})
	if err != nil {
		return fail(err)
	}
	return n, nil
}
